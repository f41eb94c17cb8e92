//! End-to-end tests of `check_raw_vip` on a namespaced LVS-DR network.
//!
//! Interface under test:
//! `check_raw_vip [--port PORT] [--arp-leak warning|critical] [--segment]
//! [-r FILE|auto] [-t MS] [-v...] SOURCE_IFACE REAL_SERVER VIRTUAL_IP`,
//! exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, one status line
//! (`RAW_VIP <STATE> - ...`, perfdata `time=` after `|`).
//!
//! The testbed (`harness::testbed`) has rs1 and rs3 holding the VIP on lo
//! with `arp_ignore=1`, rs2 without it, lb (MASTER) with the VIP on lo and
//! the default ARP settings, lbb (BACKUP) without it. `harness::vip` adds
//! the misconfigurations. Silence is what probes 2 and 3 wait for, so an
//! OK check takes its whole `-t`: the tests use short ones.

use std::time::Duration;

use crate::harness::*;

const OK: &str = "RAW_VIP OK - ";
const WARNING: &str = "RAW_VIP WARNING - ";
const CRITICAL: &str = "RAW_VIP CRITICAL - ";
const UNKNOWN: &str = "RAW_VIP UNKNOWN - ";

/// `check_raw_vip OPTS... eth0 REAL_SERVER VIP`, run in `host`.
fn check(tb: &Testbed, host: &str, opts: &[&str], real_server: &str, vip: &str) -> RunResult {
    let mut args = opts.to_vec();
    args.extend([IFACE, real_server, vip]);
    tb.run(host, &check_raw_bin("check_raw_vip"), &args)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---- probe 1 and 2: the real server ---------------------------------------

#[test]
fn rs1_holds_the_vip_and_keeps_quiet() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = check(&tb, "lb", &["-t", "500"], RS1, VIP);
    let rs1 = format!("{RS1} ({})", tb.mac("rs1"));
    assert_verdict(
        &r,
        0,
        OK,
        &[
            &rs1,
            &format!("holds {VIP} (echo reply in "),
            "and does not answer ARP for it|time=",
        ],
    );
    // Silence is the answer probe 2 waits for: the whole -t, not more.
    assert_elapsed(&r, 500, 1500);
}

#[test]
fn verbose_shows_each_probe_and_its_frames() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = check(&tb, "lb", &["-vvv", "-t", "400"], RS1, VIP);
    assert_verdict(&r, 0, OK, &[RS1]);
    for needle in [
        "probe 1, the VIP is held",
        "probe 2, quiet about the VIP",
        "> echo request",
        "ICMP echo reply",
        "> ARP request who-has 203.0.113.10",
    ] {
        assert!(r.stdout.contains(needle), "{needle:?} missing\n{r}");
    }
}

#[test]
fn rs2_without_vip_is_critical_by_echo_and_by_syn() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = check(&tb, "lb", &["-t", "400"], RS2, VIP);
    assert_verdict(&r, 2, CRITICAL, &["may lack the VIP", "echo request"]);
    assert_elapsed(&r, 400, 1500);
    let r = check(&tb, "lb", &["-t", "400", "--port", "80"], RS2, VIP);
    assert_verdict(
        &r,
        2,
        CRITICAL,
        &["may lack the VIP", "a SYN to 203.0.113.10:80"],
    );
}

#[test]
fn rs3_rst_proves_the_vip() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = check(&tb, "lb", &["-t", "400", "--port", "80"], RS3, VIP);
    assert_verdict(&r, 0, OK, &[&format!("holds {VIP} (RST in ")]);
}

#[test]
fn syn_ack_is_reset_and_leaves_nothing_open() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = check(&tb, "lb", &["-t", "400", "--port", "80"], RS1, VIP);
    assert_verdict(&r, 0, OK, &[&format!("holds {VIP} (SYN/ACK in ")]);
    assert_nothing_left_open(&tb, "rs1", PORT, &r);
}

#[test]
fn arp_ignore_0_is_a_warning_or_critical() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    tb.arp_leak("rs1");
    let mac = tb.mac("rs1");
    let r = check(&tb, "lb", &["-t", "500"], RS1, VIP);
    assert_verdict(
        &r,
        1,
        WARNING,
        &[
            &format!("answers ARP for {VIP} (is-at {mac})"),
            "arp_ignore=1",
            "arp_announce=2",
        ],
    );
    // The leak is an answer: no need to wait out the deadline for it.
    assert!(r.elapsed < ms(400), "should end on the ARP reply\n{r}");
    let r = check(
        &tb,
        "lb",
        &["-t", "500", "--arp-leak", "critical"],
        RS1,
        VIP,
    );
    assert_verdict(&r, 2, CRITICAL, &["answers ARP"]);
}

#[test]
fn echo_dropped_is_critical_unless_port() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    tb.drop_echo("rs1");
    let r = check(&tb, "lb", &["-t", "400"], RS1, VIP);
    assert_verdict(&r, 2, CRITICAL, &["may lack the VIP", "try --port"]);
    let r = check(&tb, "lb", &["-t", "400", "--port", "80"], RS1, VIP);
    assert_verdict(&r, 0, OK, &["SYN/ACK"]);
}

#[test]
fn no_arp_reply_from_the_real_server_is_unreachable() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = check(&tb, "lb", &["-t", "300"], NOBODY, VIP);
    assert_verdict(&r, 2, CRITICAL, &["unreachable", "ARP"]);
    assert_elapsed(&r, 300, 1500);
}

#[test]
fn echo_time_meets_the_thresholds() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = check(&tb, "lb", &["-t", "300", "--warning", "0"], RS1, VIP);
    assert_verdict(&r, 1, WARNING, &["alerts against --warning 0", "|time="]);
}

// ---- probe 3: the segment ---------------------------------------------------

#[test]
fn segment_on_the_master() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    // lb holds the VIP: the -r auto rule makes it MASTER.
    let r = check(&tb, "lb", &["-t", "600", "--segment"], RS1, VIP);
    assert_verdict(&r, 0, OK, &["no other host on eth0 claims"]);
    // lbb claims the VIP too (on lo, default ARP settings).
    tb.add_vip("lbb");
    let r = check(&tb, "lb", &["-t", "600", "--segment", "-v"], RS1, VIP);
    assert_verdict(
        &r,
        2,
        CRITICAL,
        &[&format!(
            "{} on eth0 claims {VIP}, which this MASTER holds",
            tb.mac("lbb")
        )],
    );
    assert!(r.stdout.contains("role for --segment: -r auto"), "{r}");
}

#[test]
fn segment_on_a_backup() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let backup = RoleFile::backup();
    let opts = |extra: &[&'static str]| {
        let mut o = vec!["-t", "600", "--segment"];
        o.extend(backup.opts());
        o.extend(extra);
        o
    };
    // lb (MASTER) answers for its VIP: one answer.
    let r = check(&tb, "lbb", &opts(&[]), RS1, VIP);
    assert_verdict(
        &r,
        0,
        OK,
        &[&format!(
            "{} holds {VIP} on eth0 (the MASTER)",
            tb.mac("lb")
        )],
    );
    // rs1 leaks as well: two claimants, each named.
    tb.arp_leak("rs1");
    let r = check(&tb, "lbb", &opts(&["--arp-leak", "warning"]), RS1, VIP);
    assert_verdict(
        &r,
        2,
        CRITICAL,
        &[
            "2 hosts on eth0 claim",
            &tb.mac("lb"),
            &format!("{} (the real server {RS1})", tb.mac("rs1")),
            "split brain",
        ],
    );
    // Nobody holds the VIP.
    let tb = Testbed::new();
    tb.remove_vip("lb");
    let r = check(&tb, "lbb", &opts(&[]), RS1, VIP);
    assert_verdict(&r, 1, WARNING, &["no balancer holds the VIP"]);
}

#[test]
fn segment_backup_by_auto_rule() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    // lbb does not hold the VIP: -r auto (and the default) make it BACKUP.
    let r = check(&tb, "lbb", &["-t", "600", "--segment", "-v"], RS1, VIP);
    assert_verdict(&r, 0, OK, &["(the MASTER)"]);
    assert!(r.stdout.contains("is not local: BACKUP"), "{r}");
}

// ---- IPv6 ------------------------------------------------------------------

#[test]
fn ipv6_rs1_holds_the_vip_and_keeps_quiet() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    // The VIP on lo is never advertised: Linux answers a Neighbor
    // Solicitation only for addresses on the interface it arrived on,
    // although rs1's arp_ignore has nothing to do with it.
    let r = check(&tb, "lb", &["-t", "500"], RS1_6, VIP6);
    assert_verdict(
        &r,
        0,
        OK,
        &[
            &format!("holds {VIP6} (echo reply in "),
            "does not answer Neighbor Solicitations",
        ],
    );
    let r = check(&tb, "lb", &["-t", "500", "--port", "80"], RS3_6, VIP6);
    assert_verdict(&r, 0, OK, &["(RST in "]);
}

#[test]
fn ipv6_rs2_without_vip_is_critical() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = check(&tb, "lb", &["-t", "400"], RS2_6, VIP6);
    assert_verdict(&r, 2, CRITICAL, &["may lack the VIP"]);
    let r = check(&tb, "lb", &["-t", "400", "--port", "80"], RS2_6, VIP6);
    assert_verdict(&r, 2, CRITICAL, &["may lack the VIP"]);
}

#[test]
fn ipv6_vip_on_eth0_is_advertised_despite_arp_ignore() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    // rs1 keeps arp_ignore=1 and arp_announce=2: NDP ignores both.
    tb.vip6_on_eth0("rs1");
    let r = check(&tb, "lb", &["-t", "500"], RS1_6, VIP6);
    assert_verdict(
        &r,
        1,
        WARNING,
        &[
            &format!(
                "answers a Neighbor Solicitation for {VIP6} (is-at {})",
                tb.mac("rs1")
            ),
            "dev lo",
        ],
    );
    let r = check(
        &tb,
        "lb",
        &["-t", "500", "--arp-leak", "critical"],
        RS1_6,
        VIP6,
    );
    assert_verdict(&r, 2, CRITICAL, &["Neighbor Solicitation"]);
}

#[test]
fn ipv6_echo_dropped_is_critical_unless_port() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    tb.drop_echo("rs1");
    let r = check(&tb, "lb", &["-t", "400"], RS1_6, VIP6);
    assert_verdict(&r, 2, CRITICAL, &["may lack the VIP"]);
    let r = check(&tb, "lb", &["-t", "400", "--port", "80"], RS1_6, VIP6);
    assert_verdict(&r, 0, OK, &["SYN/ACK"]);
}

#[test]
fn ipv6_segment_on_master_and_backup() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    // lb's VIP6 is on lo (never advertised), rs1/rs3's too: nobody answers.
    let r = check(&tb, "lb", &["-t", "600", "--segment"], RS1_6, VIP6);
    assert_verdict(&r, 0, OK, &["no other host on eth0 claims"]);
    // A BACKUP sees no MASTER then: a real director holds an IPv6 VIP on
    // its interface, which this testbed's lb does not.
    let r = check(&tb, "lbb", &["-t", "600", "--segment"], RS1_6, VIP6);
    assert_verdict(&r, 1, WARNING, &["no balancer holds the VIP"]);
    tb.vip6_on_eth0("lb");
    let r = check(&tb, "lbb", &["-t", "600", "--segment"], RS1_6, VIP6);
    assert_verdict(
        &r,
        0,
        OK,
        &[&format!(
            "{} holds {VIP6} on eth0 (the MASTER)",
            tb.mac("lb")
        )],
    );
    // lbb claims it too, seen from lb (the MASTER by role file now: its
    // VIP is on eth0, still local).
    tb.vip6_on_eth0("lbb");
    let r = check(&tb, "lb", &["-t", "600", "--segment"], RS1_6, VIP6);
    assert_verdict(
        &r,
        2,
        CRITICAL,
        &[&tb.mac("lbb"), "which this MASTER holds"],
    );
}

// ---- arguments -----------------------------------------------------------------

#[test]
fn bad_arguments_are_unknown() {
    let bin = check_raw_bin("check_raw_vip");
    for (args, needle) in [
        (vec![IFACE, RS1], "missing VIRTUAL_IP"),
        (vec![IFACE, RS1, VIP, "80"], "too many arguments"),
        (vec!["--arp-leak", "maybe", IFACE, RS1, VIP], "--arp-leak"),
        (vec![VIP, "80", RS1, "80"], "no ldirectord form"),
    ] {
        let r = run_local(&bin, &args);
        // The bare ldirectord form keeps Nagios' codes: UNKNOWN 3 for all.
        assert_verdict(&r, 3, "check_raw_vip: ", &[needle]);
        assert!(r.stdout.contains("Usage: check_raw_vip"), "{r}");
    }
    // As a subcommand of check_raw too.
    let r = run_local(std::path::Path::new(CHECK_RAW), &["vip", "--help"]);
    assert_eq!(r.code, Some(3), "{r}");
    assert!(r.stdout.contains("--segment"), "{r}");
}

#[test]
fn no_such_interface_is_unknown() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = tb.run("lb", &check_raw_bin("check_raw_vip"), &["eth9", RS1, VIP]);
    assert_verdict(&r, 3, UNKNOWN, &["eth9"]);
}

// ---- under load ------------------------------------------------------------

/// A UDP flood at lb changes no verdict: the kernel filter keeps it away.
#[test]
fn verdicts_stand_under_a_udp_flood() {
    require!(Need::Testbed, IPERF3);
    // No other test's check competes for the two cores while it measures
    // (and none meets the flood's load): no other testbed is up meanwhile.
    let _alone = alone();
    let tb = Testbed::new();
    tb.arp_leak("rs3");
    let flood = Flood::start(&tb, 30);
    let rx0 = lb_rx_packets(&tb);
    let t0 = std::time::Instant::now();
    let ok = check(&tb, "lb", &["-t", "500"], RS1, VIP);
    // rs3 leaks: the MASTER's segment probe sees it among the flood.
    let segment = check(&tb, "lb", &["-t", "600", "--segment"], RS1, VIP);
    let critical = check(&tb, "lb", &["-t", "400"], RS2, VIP);
    let leak = check(&tb, "lb", &["-t", "600"], RS3, VIP);
    let rate = (lb_rx_packets(&tb) - rx0) as f64 / t0.elapsed().as_secs_f64();
    drop(flood);
    println!(
        "flood {rate:.0} packets/s: OK in {:?}, segment CRITICAL in {:?}, rs2 CRITICAL in {:?}, leak WARNING in {:?}",
        ok.elapsed, segment.elapsed, critical.elapsed, leak.elapsed
    );
    assert_verdict(&ok, 0, OK, &["does not answer ARP"]);
    assert_verdict(
        &segment,
        2,
        CRITICAL,
        &[&tb.mac("rs3"), "which this MASTER holds"],
    );
    assert_verdict(&critical, 2, CRITICAL, &["may lack the VIP"]);
    assert_verdict(&leak, 1, WARNING, &["answers ARP"]);
    assert!(ok.elapsed < ms(1500), "-t 500 under flood\n{ok}");
    assert!(
        critical.elapsed < ms(1500),
        "-t 400 under flood\n{critical}"
    );
    assert!(rate > 50_000.0, "flood too weak: {rate:.0} packets/s");
}
