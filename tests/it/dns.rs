//! check_raw_dns end to end: a real authoritative server (NSD) on the real
//! servers, queried through the VIP from `lb`. rs1 holds the VIP and runs
//! NSD on it (and on its own address); rs2 runs NSD on its own address
//! only (no VIP: the BACKUP role's target); rs3 holds the VIP with nothing
//! on port 53 (ICMP port unreachable). Every case also proves the answer
//! came from the real server asked (the `whoami` TXT record names it).

use std::net::UdpSocket;
use std::thread;
use std::time::Duration;

use crate::harness::dns::{big_text, BIG_RECORDS, MX, SOA_SERIAL, TXT, WWW_A, WWW_AAAA, ZONE};
use crate::harness::*;
use check_raw::dns::{DomainName, Query, RecordType};

const OK: &str = "RAW_DNS OK - ";
const CRITICAL: &str = "RAW_DNS CRITICAL - ";
const UNKNOWN: &str = "RAW_DNS UNKNOWN - ";
const USAGE: &str = "check_raw_dns: ";

/// The testbed with NSD on rs1 (VIP and own address, both families) and
/// on rs2 (own addresses only).
struct DnsBed {
    // Dropped first: the servers before their namespaces.
    _servers: Vec<Nsd>,
    tb: Testbed,
}

impl std::ops::Deref for DnsBed {
    type Target = Testbed;
    fn deref(&self) -> &Testbed {
        &self.tb
    }
}

fn with_nsd(tb: Testbed) -> DnsBed {
    let servers = vec![
        tb.nsd("rs1", &[RS1, VIP, RS1_6, VIP6]),
        tb.nsd("rs2", &[RS2, RS2_6]),
    ];
    DnsBed {
        _servers: servers,
        tb,
    }
}

fn bed() -> DnsBed {
    with_nsd(Testbed::without_servers())
}

fn name(label: &str) -> String {
    format!("{label}.{ZONE}")
}

/// `check_raw_dns OPTS eth0 RS VIP 53 NAME` in `lb`.
fn dns(tb: &Testbed, opts: &[&str], rs: &str, vip: &str, qname: &str) -> RunResult {
    let mut args: Vec<&str> = opts.to_vec();
    args.extend([IFACE, rs, vip, "53", qname]);
    tb.run("lb", &check_raw_bin("check_raw_dns"), &args)
}

#[test]
fn rs1_answers_each_type_through_the_vip() {
    require!(Need::Testbed, NSD);
    let tb = bed();
    let www = name("www");
    let cases: Vec<(Vec<&str>, String, Vec<&str>)> = vec![
        (
            vec![
                "--expect",
                WWW_A[0],
                "--expect",
                WWW_A[1],
                "--expect-count",
                "2",
            ],
            www.clone(),
            vec!["NOERROR, 2 records", RS1],
        ),
        (
            vec!["-T", "AAAA", "-a", WWW_AAAA],
            www.clone(),
            vec!["1 record"],
        ),
        (vec!["-T", "MX", "-a", MX], ZONE.into(), vec!["MX"]),
        (vec!["-T", "TXT", "-a", TXT], ZONE.into(), vec!["TXT"]),
        (vec!["-T", "TXT", "-a", "rs1"], name("whoami"), vec!["TXT"]),
        (
            vec!["-T", "SOA", "-a", &"2024010101", "-a", "ns1.example.test."],
            ZONE.into(),
            vec!["SOA"],
        ),
        (
            vec!["-T", "NS", "-a", "ns1.example.test"],
            ZONE.into(),
            vec!["NS"],
        ),
        (
            vec!["-T", "CNAME", "-a", "www.example.test", "--authoritative"],
            name("alias"),
            vec!["CNAME"],
        ),
    ];
    assert_eq!(SOA_SERIAL, 2024010101);
    for (opts, qname, needles) in cases {
        let r = dns(&tb, &opts, RS1, VIP, &qname);
        assert_verdict(&r, 0, OK, &needles);
        assert!(r.stdout.contains("time="), "{r}");
        assert!(r.stdout.contains("answers="), "{r}");
    }
}

#[test]
fn verbose_prints_the_answer_in_zone_file_form() {
    require!(Need::Testbed, NSD);
    let tb = bed();
    let r = dns(&tb, &["-v"], RS1, VIP, &name("www"));
    assert_verdict(&r, 0, OK, &[]);
    assert!(r.stdout.contains(";; ANSWER SECTION:"), "{r}");
    assert!(
        r.stdout
            .contains(&format!("www.example.test.\t300\tIN\tA\t{}", WWW_A[0])),
        "{r}"
    );
}

#[test]
fn rs2_without_the_vip_is_critical_at_the_deadline() {
    require!(Need::Testbed, NSD);
    let tb = bed();
    let r = dns(&tb, &["-t", "700"], RS2, VIP, &name("www"));
    assert_verdict(&r, 2, CRITICAL, &["within 700 ms", "may lack the VIP"]);
    assert_elapsed(&r, 700, 1000);
}

#[test]
fn rs3_with_the_vip_and_nothing_on_53_is_critical_at_once() {
    require!(Need::Testbed, NSD);
    let tb = bed();
    let r = dns(&tb, &["-t", "3000"], RS3, VIP, &name("www"));
    assert_verdict(&r, 2, CRITICAL, &["port unreachable", "port closed"]);
    assert_elapsed(&r, 0, 1000);
}

#[test]
fn nxdomain_is_critical_unless_accepted() {
    require!(Need::Testbed, NSD);
    let tb = bed();
    let missing = name("nosuchname");
    let r = dns(&tb, &[], RS1, VIP, &missing);
    assert_verdict(&r, 2, CRITICAL, &["expected rcode NOERROR, got NXDOMAIN"]);
    let r = dns(&tb, &["--rcode", "NXDOMAIN"], RS1, VIP, &missing);
    assert_verdict(&r, 0, OK, &["NXDOMAIN, 0 records"]);
}

#[test]
fn a_wrong_expectation_says_expected_and_got() {
    require!(Need::Testbed, NSD);
    let tb = bed();
    let r = dns(&tb, &["--expect", "198.51.100.99"], RS1, VIP, &name("www"));
    assert_verdict(
        &r,
        2,
        CRITICAL,
        &["expected A 198.51.100.99, got 198.51.100.50, 198.51.100.51"],
    );
    let r = dns(&tb, &["--expect-count", "3"], RS1, VIP, &name("www"));
    assert_verdict(&r, 2, CRITICAL, &["expected 3 answer records, got 2"]);
}

#[test]
fn a_large_answer_comes_whole_over_tcp() {
    require!(Need::Testbed, NSD);
    let tb = bed();
    let big = name("big");
    let count = BIG_RECORDS.to_string();
    let opts = ["-v", "-T", "TXT", "--expect-count", &count];
    let expect_last = big_text(BIG_RECORDS - 1);
    // UDP first: TC, then TCP on the same deadline.
    let mut with_expect = opts.to_vec();
    with_expect.extend(["-a", &expect_last]);
    let r = dns(&tb, &with_expect, RS1, VIP, &big);
    assert_verdict(&r, 0, OK, &["over TCP after a truncated UDP answer"]);
    assert!(r.stdout.contains("answer truncated (TC"), "{r}");
    // --tcp: TCP from the start.
    let mut tcp = opts.to_vec();
    tcp.push("--tcp");
    let r = dns(&tb, &tcp, RS1, VIP, &big);
    assert_verdict(
        &r,
        0,
        OK,
        &[", over TCP", &format!("{BIG_RECORDS} records")],
    );
    assert!(!r.stdout.contains("truncated"), "{r}");
    // --tcp to rs3 (VIP, nothing on 53): refused by RST at once.
    let r = dns(&tb, &["--tcp"], RS3, VIP, &big);
    assert_verdict(&r, 2, CRITICAL, &["port closed"]);
}

#[test]
fn ipv6_through_the_vip() {
    require!(Need::Testbed, NSD);
    let tb = bed();
    let r = dns(
        &tb,
        &["-T", "AAAA", "-a", WWW_AAAA],
        RS1_6,
        VIP6,
        &name("www"),
    );
    assert_verdict(&r, 0, OK, &[RS1_6]);
    let r = dns(
        &tb,
        &["-T", "TXT", "-a", "rs1"],
        RS1_6,
        VIP6,
        &name("whoami"),
    );
    assert_verdict(&r, 0, OK, &[]);
    let r = dns(&tb, &["-T", "TXT"], RS1_6, VIP6, &name("big"));
    assert_verdict(&r, 0, OK, &["after a truncated UDP answer"]);
    let r = dns(&tb, &["-t", "3000"], RS3_6, VIP6, &name("www"));
    assert_verdict(&r, 2, CRITICAL, &["port unreachable", "port closed"]);
    // Linux answers a datagram for an IPv6 address it does not hold with
    // ICMPv6 unreachable (IPv4 drops it): CRITICAL before the deadline.
    let r = dns(&tb, &["-t", "600"], RS2_6, VIP6, &name("www"));
    assert_verdict(&r, 2, CRITICAL, &["may lack the VIP"]);
}

#[test]
fn backup_role_asks_the_real_servers_own_address() {
    require!(Need::Testbed, NSD);
    let tb = bed();
    let check = check_raw_bin("check_raw_dns");
    let www = name("www");
    // lbb lacks the VIP: -r auto makes it BACKUP. rs2 answers on its own
    // address (the kernel's UDP), even without the VIP, by design.
    let whoami = name("whoami");
    let r = tb.run(
        "lbb",
        &check,
        &[
            "-r", "auto", "-T", "TXT", "-a", "rs2", IFACE, RS2, VIP, "53", &whoami,
        ],
    );
    assert_verdict(&r, 0, OK, &["(BACKUP role)", RS2]);
    // A role file saying BACKUP, on the MASTER.
    let role = RoleFile::backup();
    let mut args = role.opts().to_vec();
    args.extend([IFACE, RS1, VIP, "53", &www]);
    let r = tb.run("lb", &check, &args);
    assert_verdict(&r, 0, OK, &["(BACKUP role)", RS1]);
    // TC in the BACKUP role: the kernel's TCP.
    let big = name("big");
    let r = tb.run(
        "lbb",
        &check,
        &["-r", "auto", "-T", "TXT", IFACE, RS2, VIP, "53", &big],
    );
    assert_verdict(
        &r,
        0,
        OK,
        &["after a truncated UDP answer", "(BACKUP role)"],
    );
    // Nothing on 53 at rs3's own address: port unreachable.
    let r = tb.run("lbb", &check, &["-r", "auto", IFACE, RS3, VIP, "53", &www]);
    assert_verdict(&r, 2, CRITICAL, &["port unreachable"]);
}

#[test]
fn ldirectord_form_takes_the_name_from_query() {
    require!(Need::Testbed, NSD);
    let tb = bed();
    let check = check_raw_bin("check_raw_dns");
    let www = name("www");
    // Options in the ldirectord form come with --protocol ldirectord.
    let ld = ["--protocol", "ldirectord"];
    let r = tb.run(
        "lb",
        &check,
        &[&ld[..], &["--query", &www, VIP, "53", RS1, "53"]].concat(),
    );
    assert_verdict(&r, 0, OK, &[]);
    let r = tb.run(
        "lb",
        &check,
        &[
            &ld[..],
            &["-t", "500", "--query", &www, VIP, "53", RS2, "53"],
        ]
        .concat(),
    );
    assert_verdict(&r, 1, CRITICAL, &["may lack the VIP"]);
    // Bare, as ldirectord passes it: Nagios' codes, UNKNOWN 3.
    let r = tb.run("lb", &check, &[VIP, "53", RS1, "53"]);
    assert_verdict(&r, 3, USAGE, &["needs --query NAME"]);
    // Without --protocol ldirectord, --query makes it no ldirectord form.
    let r = tb.run("lb", &check, &["--query", &www, VIP, "53", RS1, "53"]);
    assert_verdict(&r, 3, USAGE, &["--protocol ldirectord"]);
}

#[test]
fn a_lost_query_and_a_lost_answer_are_recovered() {
    require!(Need::Testbed, NSD);
    for plan in [
        FaultPlan::none().toward_rs(Faults::new().drop_nth_udp([1])),
        FaultPlan::none().toward_lb(Faults::new().drop_nth_udp([1])),
    ] {
        let DnsBed { _servers, tb } = with_nsd(Testbed::without_servers());
        let bed = RelayBed::new(tb, plan.clone());
        let r = dns(&bed, &["-t", "2000", "-vvv"], RS1, VIP, &name("www"));
        assert_verdict_with(&r, 0, OK, &[], &format!("{plan:?}"));
        // The first resend, 200 ms after the first query, got through.
        assert_eq!(r.stdout.matches("> UDP").count(), 2, "{plan:?}\n{r}");
        drop(_servers);
        drop(bed);
    }
}

#[test]
fn under_a_udp_flood_the_verdicts_stand() {
    require!(Need::Testbed, NSD, IPERF3);
    // The flood loads the CPU: no other test's testbed is up meanwhile.
    let _alone = alone();
    let tb = bed();
    let flood = Flood::start(&tb, 20);
    let ok = dns(&tb, &["-t", "2000"], RS1, VIP, &name("www"));
    let critical = dns(&tb, &["-t", "500"], RS2, VIP, &name("www"));
    let closed = dns(&tb, &["-t", "2000"], RS3, VIP, &name("www"));
    drop(flood);
    assert_verdict(&ok, 0, OK, &[]);
    assert_verdict(&critical, 2, CRITICAL, &["may lack the VIP"]);
    assert_elapsed(&critical, 500, 1500);
    assert_verdict(&closed, 2, CRITICAL, &["port closed"]);
}

/// A responder bound to the VIP on rs1 that answers each query first with
/// a wrong ID, then with the wrong question, then garbage, then rightly:
/// the check ignores the first three and takes the fourth.
#[test]
fn spoofed_and_malformed_answers_are_ignored() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let ns = tb.ns("rs1").to_string();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let server = thread::spawn(move || {
        crate::harness::netns::enter(&ns).unwrap();
        let socket = UdpSocket::bind((VIP, 5353)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        ready_tx.send(()).unwrap();
        let mut buf = [0u8; 512];
        let (n, from) = socket.recv_from(&mut buf).unwrap();
        let query = &buf[..n];
        let id = u16::from_be_bytes([query[0], query[1]]);
        let answer = |id: u16, qname: &str| {
            let q = Query {
                name: DomainName::parse(qname).unwrap(),
                rtype: RecordType::A,
                recurse: false,
                dnssec: false,
            };
            let mut m = q.to_bytes(id);
            m[2] |= 0x84; // QR, AA
            m
        };
        socket
            .send_to(&answer(id ^ 0x5555, "www.example.test"), from)
            .unwrap();
        socket
            .send_to(&answer(id, "evil.example.test"), from)
            .unwrap();
        let mut garbage = answer(id, "www.example.test");
        garbage[7] = 0x40; // 64 answers that are not there
        socket.send_to(&garbage, from).unwrap();
        garbage
    });
    ready_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let check = check_raw_bin("check_raw_dns");
    let r = tb.run(
        "lb",
        &check,
        &[
            "-vvv",
            "-t",
            "1000",
            IFACE,
            RS1,
            VIP,
            "5353",
            "www.example.test",
        ],
    );
    server.join().unwrap();
    // The spoofed two are ignored (the wait went on), the third is ours
    // and malformed: CRITICAL with a clear message, at once.
    assert_verdict(&r, 2, CRITICAL, &["malformed DNS answer"]);
    assert!(r.stdout.contains("ignored: ID"), "{r}");
    assert!(r.stdout.contains("ignored: not our question"), "{r}");
    assert_elapsed(&r, 0, 900);
}

#[test]
fn bad_input_is_unknown_and_sends_nothing() {
    // No testbed: nothing may be sent, so none is needed. A check that
    // got past parsing would fail on the missing interface instead.
    let check = check_raw_bin("check_raw_dns");
    let long_label = format!("{}.test", "a".repeat(64));
    let label = "b".repeat(63);
    let too_long = [label.as_str(); 4].join(".");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![&long_label], "label of 64 bytes"),
        (vec![&too_long], "257 bytes"),
        (vec!["a..b"], "empty label"),
        (vec!["-T", "AXFR", "x.test"], "unknown type"),
        (vec!["--rcode", "NOPE", "x.test"], "unknown rcode"),
        (vec!["-a", "not-an-ip", "x.test"], "not an IPv4 address"),
        (
            vec!["-T", "AAAA", "-a", "198.51.100.1", "x.test"],
            "not an IPv6",
        ),
        (vec!["-T", "MX", "-a", "a..b", "x.test"], "invalid --expect"),
        (vec!["--expect-count", "x", "x.test"], "--expect-count"),
        (vec!["-S", "200", "x.test"], "unknown option"),
    ];
    for (opts, needle) in cases {
        let (qname, opts) = opts.split_last().unwrap();
        let mut args = opts.to_vec();
        args.extend(["nosuchif0", RS1, VIP, "53", qname]);
        let r = run_local(&check, &args);
        assert_verdict(&r, 3, USAGE, &[needle]);
        assert!(!r.stdout.contains(UNKNOWN), "{r}");
    }
    let r = run_local(&check, &["--help"]);
    assert_eq!(r.code, Some(3), "{r}");
    assert!(r.stdout.contains("--expect VALUE"), "{r}");
    assert!(
        r.stdout
            .contains("SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT NAME"),
        "{r}"
    );
    let r = run_local(Path::new(CHECK_RAW), &["dns", "--version"]);
    assert!(r.stdout.starts_with("check_raw_dns v"), "{r}");
}

use std::path::Path;
