//! `check_raw_tcp` under network faults: lost frames, random loss, delay, a
//! UDP flood, many checks at once, the interface going down mid-check, and
//! frames larger than the MTU. SIGTERM/SIGINT mid-check are in
//! `signals.rs`.
//!
//! Loss and delay come from the harness's relay (`harness::relay`): netem is
//! not available on the kernels we test on, so a thread of this process
//! forwards every frame between `lb` and the switch and drops or holds back
//! the ones a `FaultPlan` names. Frame numbers are per direction and per
//! kind, so "the first TCP frame towards the real server" is the SYN
//! whatever ARP came before it.
//!
//! After every case no connection from the LB may be left ESTABLISHED on
//! the real server. Each test builds its own testbed; the two that load the
//! CPU (flood, 50 checks at once) run alone (`harness::alone()`: no other
//! test of the binary has a testbed up meanwhile) so their load cannot
//! bend the timing assertions of the others. Tests skip, with a message, unless root.

use std::thread;
use std::time::{Duration, Instant};

use crate::harness::*;

const OK: &str = "RAW_TCP OK - ";
const CRITICAL: &str = "RAW_TCP CRITICAL - ";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---- helpers ---------------------------------------------------------------

/// `check_raw_tcp OPTS... eth0 REAL_SERVER VIP 80`, run in `lb`.
fn check(tb: &Testbed, opts: &[&str], real_server: &str) -> RunResult {
    let argv = args(opts, real_server);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    tb.run("lb", &check_raw_bin("check_raw_tcp"), &argv)
}

fn args<'a>(opts: &[&'a str], real_server: &'a str) -> Vec<String> {
    let mut v: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
    v.extend([IFACE, real_server, VIP].map(str::to_owned));
    v.push(PORT.to_string());
    v
}

/// Exit code, status-line prefix, and text the status line must contain.
/// `context` (the relay's log, say) is added to the failure message.
pub(super) fn assert_nothing_left_open_ctx(tb: &Testbed, host: &str, context: &str) {
    assert_nothing_left_open(tb, host, PORT, &context);
}

/// The SYNs the check sent, as `-vvv` lists them (`> ... Flags [S], ...`).
fn syns_sent(r: &RunResult) -> usize {
    r.stdout
        .lines()
        .filter(|l| l.contains(" ms > ") && l.contains("Flags [S],"))
        .count()
}

pub(super) fn relay_context(tb: &RelayBed) -> String {
    format!("{:?}\n{}", tb.relay().stats(), tb.relay().log())
}

// ---- single lost frames ------------------------------------------------------

#[test]
fn lost_syn_is_retransmitted() {
    require!(Need::Testbed);
    let tb = Testbed::with_relay(FaultPlan::none().toward_rs(Faults::new().drop_nth_tcp([1])));
    let r = check(&tb, &["-vvv", "-t", "1000"], RS1);
    let ctx = relay_context(&tb);
    assert_verdict_with(&r, 0, OK, &[RS1], &ctx);
    assert_eq!(syns_sent(&r), 2, "-vvv should list 2 SYNs\n{r}\n{ctx}");
    assert_eq!(tb.relay().stats().to_rs.dropped_tcp, 1, "{ctx}");
    assert_nothing_left_open_ctx(&tb, "rs1", &ctx);
}

#[test]
fn lost_syn_ack_is_recovered() {
    require!(Need::Testbed);
    let tb = Testbed::with_relay(FaultPlan::none().toward_lb(Faults::new().drop_nth_tcp([1])));
    let r = check(&tb, &["-vvv", "-t", "1000"], RS1);
    let ctx = relay_context(&tb);
    assert_verdict_with(&r, 0, OK, &[RS1], &ctx);
    // Our retransmitted SYN makes the server repeat its SYN/ACK.
    let syn_acks = syn_acks_to_lb(tb.relay());
    assert!(syn_acks >= 2, "a second SYN/ACK should come\n{r}\n{ctx}");
    assert_nothing_left_open_ctx(&tb, "rs1", &ctx);
}

fn syn_acks_to_lb(relay: &Relay) -> usize {
    relay
        .events()
        .iter()
        .filter(|e| e.dir == Dir::ToLb && e.tcp.is_some_and(|t| t.is_syn_ack()))
        .count()
}

/// With `-c` the ACK of the SYN/ACK rides on our FIN. Losing it and the
/// next two FIN retransmissions leaves the server in SYN-RECV until it
/// repeats its SYN/ACK (after 1 s); the check must acknowledge that and
/// still close cleanly.
#[test]
fn lost_ack_server_repeats_syn_ack() {
    require!(Need::Testbed);
    let tb =
        Testbed::with_relay(FaultPlan::none().toward_rs(Faults::new().drop_nth_tcp([2, 3, 4])));
    let server = tb.server("rs1", PORT);
    let r = check(&tb, &["-c", "-vvv", "-t", "3000"], RS1);
    let ctx = relay_context(&tb);
    assert_verdict_with(&r, 0, OK, &[RS1, "closed cleanly"], &ctx);
    assert!(
        syn_acks_to_lb(tb.relay()) >= 2,
        "the server should have repeated its SYN/ACK\n{r}\n{ctx}"
    );
    let ends = server.wait_ends(1, SETTLE);
    assert_eq!(ends, vec![ConnEnd::Eof], "rs1 should see a FIN\n{r}\n{ctx}");
    assert_nothing_left_open_ctx(&tb, "rs1", &ctx);
}

/// A source port comes back while the server still holds the previous
/// check's connection on it: our last ACK of a clean close was lost, so the
/// server sits in LAST-ACK and answers the next SYN with that connection's
/// ACK. The check must reset the old connection (RFC 9293: RST at the ACK's
/// number) and connect, not time out. Found by the 10 % loss test, when
/// the kernel happened to hand out the same port again.
#[test]
fn stale_connection_on_a_reused_port_is_reset() {
    require!(Need::Testbed);
    // Toward rs, a clean close sends SYN, FIN/ACK, then the last ACK (3rd).
    let tb = Testbed::with_relay(FaultPlan::none().toward_rs(Faults::new().drop_nth_tcp([3])));
    let port = ["--source-port", "41234"];
    let first = check(&tb, &[&port[..], &["-c", "-t", "2000"]].concat(), RS1);
    let ctx = relay_context(&tb);
    assert_verdict_with(&first, 0, OK, &["closed cleanly"], &ctx);
    assert_eq!(
        tb.relay().stats().to_rs.dropped_tcp,
        1,
        "last ACK dropped\n{ctx}"
    );
    tb.relay().reset(FaultPlan::none());
    let second = check(&tb, &[&port[..], &["-vvv", "-t", "2000"]].concat(), RS1);
    let ctx = relay_context(&tb);
    assert_verdict_with(&second, 0, OK, &[RS1], &ctx);
    assert!(
        second.stdout.contains("Flags [R], seq"),
        "a RST for the old connection should have gone out\n{second}\n{ctx}"
    );
    assert_nothing_left_open_ctx(&tb, "rs1", &ctx);
}

/// Without `-c` the SYN/ACK is answered by a RST alone. If that RST is lost
/// the server keeps only a SYN-RECV entry, never an established connection.
#[test]
fn lost_rst_leaves_nothing_established() {
    require!(Need::Testbed);
    let tb = Testbed::with_relay(FaultPlan::none().toward_rs(Faults::new().drop_nth_tcp([2])));
    let r = check(&tb, &["-vvv", "-t", "1000"], RS1);
    let ctx = relay_context(&tb);
    assert_verdict_with(&r, 0, OK, &[RS1], &ctx);
    assert_eq!(tb.relay().stats().to_rs.dropped_tcp, 1, "{ctx}");
    assert_nothing_left_open_ctx(&tb, "rs1", &ctx);
}

#[test]
fn lost_arp_request_is_retransmitted() {
    require!(Need::Testbed);
    let tb = Testbed::with_relay(FaultPlan::none().toward_rs(Faults::new().drop_nth_arp([1])));
    let r = check(&tb, &["-t", "1000"], RS1);
    let ctx = relay_context(&tb);
    assert_verdict_with(&r, 0, OK, &[RS1], &ctx);
    assert_one_arp_dropped(tb.relay(), Dir::ToRs, 1, &ctx);
    assert_nothing_left_open_ctx(&tb, "rs1", &ctx);
}

#[test]
fn lost_arp_reply_is_recovered() {
    require!(Need::Testbed);
    let tb = Testbed::with_relay(FaultPlan::none().toward_lb(Faults::new().drop_nth_arp([1])));
    let r = check(&tb, &["-t", "1000"], RS1);
    let ctx = relay_context(&tb);
    assert_verdict_with(&r, 0, OK, &[RS1], &ctx);
    assert_one_arp_dropped(tb.relay(), Dir::ToLb, 2, &ctx);
    assert_nothing_left_open_ctx(&tb, "rs1", &ctx);
}

/// Exactly one frame was dropped: an ARP `op` (1 request, 2 reply) in `dir`.
fn assert_one_arp_dropped(relay: &Relay, dir: Dir, op: u16, ctx: &str) {
    let dropped: Vec<Event> = relay.events().into_iter().filter(|e| e.dropped).collect();
    assert!(
        dropped.len() == 1 && dropped[0].dir == dir && dropped[0].arp_op == Some(op),
        "expected one dropped ARP (op {op}) {dir:?}\n{ctx}"
    );
}

// ---- random loss -------------------------------------------------------------

/// 10 % of the ARP and TCP frames lost each way; every seed gives a fixed
/// pattern, so a failure here replays.
#[test]
fn ten_percent_random_loss_both_ways_passes() {
    require!(Need::Testbed);
    let tb = Testbed::with_relay(FaultPlan::none());
    let mut failures = Vec::new();
    let mut dropped_total = 0;
    for seed in 1..=20u64 {
        for opts in [&["-t", "3000"][..], &["-c", "-t", "3000"][..]] {
            tb.relay()
                .reset(FaultPlan::both(Faults::new().random_loss(10, seed)));
            let r = check(&tb, opts, RS1);
            let open = tb.wait_none_established("rs1", PORT, SETTLE);
            let stats = tb.relay().stats();
            let dropped = stats.to_rs.dropped + stats.to_lb.dropped;
            dropped_total += dropped;
            println!(
                "seed {seed} {opts:?}: exit {:?} in {:?}, {dropped} frame(s) dropped",
                r.code, r.elapsed
            );
            if r.code != Some(0) || !r.status_line().starts_with(OK) || open != 0 {
                failures.push(format!(
                    "seed {seed}, {open} left ESTABLISHED\n{r}\n{}",
                    relay_context(&tb)
                ));
            }
        }
    }
    assert_all_ok(&failures);
    // Forty checks of 5+ frames at 10 %: some loss must have happened, or
    // this test tested nothing.
    assert!(dropped_total > 0, "no frame was dropped at all");
}

// ---- delay -------------------------------------------------------------------

#[test]
fn delay_below_deadline_passes() {
    require!(Need::Testbed);
    let tb = Testbed::with_relay(FaultPlan::both(Faults::new().delay(ms(100))));
    let r = check(&tb, &["-t", "1000"], RS1);
    let ctx = relay_context(&tb);
    assert_verdict_with(&r, 0, OK, &[RS1], &ctx);
    // ARP and SYN each take a 200 ms round trip: the delay was real.
    assert!(r.elapsed >= ms(400), "the delay did not apply\n{r}\n{ctx}");
    assert_nothing_left_open_ctx(&tb, "rs1", &ctx);
}

/// 600 ms each way on TCP only (ARP at once): the SYN/ACK would come after
/// 1.2 s, past `-t 1000`. The check must give up at the deadline, naming
/// the SYN/ACK step. The bound here is loose; bench/ measures the tight one.
#[test]
fn delay_beyond_deadline_fails_on_syn_ack_at_deadline() {
    require!(Need::Testbed);
    let tb = Testbed::with_relay(FaultPlan::both(Faults::new().delay_tcp(ms(600))));
    let r = check(&tb, &["-t", "1000"], RS1);
    let ctx = relay_context(&tb);
    assert_verdict_with(&r, 2, CRITICAL, &["no SYN/ACK", "1000 ms"], &ctx);
    assert_at_deadline(&r, ms(1000), &ctx);
    assert_nothing_left_open_ctx(&tb, "rs1", &ctx);
}

/// The same with every frame delayed: now ARP is the step that times out.
#[test]
fn delay_beyond_deadline_fails_on_arp_at_deadline() {
    require!(Need::Testbed);
    let tb = Testbed::with_relay(FaultPlan::both(Faults::new().delay(ms(600))));
    let r = check(&tb, &["-t", "1000"], RS1);
    let ctx = relay_context(&tb);
    assert_verdict_with(&r, 2, CRITICAL, &["no ARP reply", "1000 ms"], &ctx);
    assert_at_deadline(&r, ms(1000), &ctx);
}

/// Ended at the deadline: not before, and within 300 ms after (process
/// start and `ip netns exec` included).
fn assert_at_deadline(r: &RunResult, deadline: Duration, ctx: &str) {
    println!("deadline {deadline:?}: ended after {:?}", r.elapsed);
    assert!(
        r.elapsed >= deadline && r.elapsed < deadline + ms(300),
        "should end at the {deadline:?} deadline\n{r}\n{ctx}"
    );
}

#[test]
fn rs2_through_relay_lacks_the_vip() {
    require!(Need::Testbed);
    let tb = Testbed::with_relay(FaultPlan::none());
    let r = check(&tb, &["-t", "500"], RS2);
    let ctx = relay_context(&tb);
    assert_verdict_with(&r, 2, CRITICAL, &["lack the VIP"], &ctx);
    assert!(
        tb.relay().stats().to_rs.tcp >= 1,
        "no SYN went through\n{ctx}"
    );
}

// ---- flood -------------------------------------------------------------------

/// A UDP flood at lb's interface (iperf3, 64-byte datagrams, no rate limit)
/// changes neither the verdict nor the deadline: the check's kernel filter
/// drops unrelated frames before they reach it.
#[test]
fn udp_flood_changes_neither_verdict_nor_deadline() {
    require!(Need::Testbed, IPERF3);
    let _alone = alone();
    let tb = Testbed::new();
    let flood = Flood::start(&tb, 30);
    let (rx0, t0) = (lb_rx_packets(&tb), Instant::now());

    let ok = check(&tb, &["-t", "2000"], RS1);
    // -vvv: the trace's timestamps are the check's own clock, without the
    // process start that `elapsed` includes.
    let critical = check(&tb, &["-vvv", "-t", "500"], RS2);
    // What starting a process alone costs under this load.
    let start = tb.run("lb", &check_raw_bin("check_raw_tcp"), &["--version"]);

    let rate = (lb_rx_packets(&tb) - rx0) as f64 / t0.elapsed().as_secs_f64();
    drop(flood);
    let last_frame = critical.stdout.lines().rfind(|l| l.contains(" ms > "));
    println!("flood rate at lb: {rate:.0} packets/s");
    println!(
        "under flood: rs1 OK in {:?}, rs2 CRITICAL in {:?} (last frame sent: {last_frame:?}), \
         a bare process start {:?}",
        ok.elapsed, critical.elapsed, start.elapsed
    );
    assert_verdict(&ok, 0, OK, &[RS1]);
    assert_verdict(&critical, 2, CRITICAL, &["lack the VIP"]);
    // The check's own clock: its last frame (the RST at the deadline) is
    // sent at 500 ms, not stretched by the flood. The process as a whole
    // also pays for starting under load, so its bound is looser.
    let last_ms: Option<f64> = last_frame
        .and_then(|l| l.split_whitespace().next())
        .and_then(|t| t.parse().ok());
    assert!(
        last_ms.is_some_and(|t| (500.0..600.0).contains(&t)),
        "-t 500 under flood: the last frame should leave at 500-600 ms, got {last_ms:?}\n{critical}"
    );
    assert!(
        critical.elapsed >= ms(500) && critical.elapsed < ms(1500),
        "-t 500 under flood should end in [500, 1500) ms\n{critical}"
    );
    // A flood too thin to matter would make this test pass vacuously.
    assert!(rate > 50_000.0, "flood too weak: {rate:.0} packets/s");
    assert_nothing_left_open_ctx(&tb, "rs1", "");
}

// ---- many checks at once -----------------------------------------------------

const CONCURRENT: usize = 50;

/// Starts `CONCURRENT` checks against `real_server` at once (each its own
/// `ip netns exec lb ...`) and returns their results.
fn concurrent_checks(tb: &Testbed, real_server: &str) -> Vec<RunResult> {
    let bin = check_raw_bin("check_raw_tcp");
    let argv = args(&["-t", "5000"], real_server);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    thread::scope(|s| {
        let handles: Vec<_> = (0..CONCURRENT)
            .map(|_| s.spawn(|| tb.run("lb", &bin, &argv)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("check thread panicked"))
            .collect()
    })
}

/// 50 checks against the same real server at once all get the right answer:
/// each uses its own source port and ISN, so no two flows mix.
#[test]
fn fifty_concurrent_checks_are_independent() {
    require!(Need::Testbed);
    let _alone = alone();
    // TCP held back 150 ms each way: every check stays open 300 ms or more,
    // about as long as it takes to start them all, so they really overlap.
    let plan = || FaultPlan::both(Faults::new().delay_tcp(ms(150)));
    let tb = Testbed::with_relay(plan());

    let results = concurrent_checks(&tb, RS1);
    let bad: Vec<String> = results
        .iter()
        .filter(|r| r.code != Some(0) || !r.status_line().starts_with(OK))
        .map(|r| r.to_string())
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {CONCURRENT} not OK:\n{}",
        bad.len(),
        bad.join("\n")
    );
    let peak = assert_flows_distinct(tb.relay());
    println!("rs1: {CONCURRENT} OK, at most {peak} connections open at once");
    assert!(peak > CONCURRENT / 2, "only {peak} checks overlapped");
    assert_nothing_left_open_ctx(&tb, "rs1", "");

    tb.relay().reset(plan());
    let results = concurrent_checks(&tb, RS3);
    let bad: Vec<String> = results
        .iter()
        .filter(|r| {
            r.code != Some(2)
                || !r.status_line().starts_with(CRITICAL)
                || !r.status_line().contains("RST")
        })
        .map(|r| r.to_string())
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {CONCURRENT} not CRITICAL RST:\n{}",
        bad.len(),
        bad.join("\n")
    );
    let peak = assert_flows_distinct(tb.relay());
    println!("rs3: {CONCURRENT} RST, at most {peak} SYNs in flight at once");
    assert!(peak > CONCURRENT / 2, "only {peak} checks overlapped");
    assert_nothing_left_open_ctx(&tb, "rs3", "");
}

/// One ISN per check, all distinct, and no source port in use by two checks
/// at once. A port may come back once its check has ended (a RST went
/// either way): the kernel reservation lasts only the check's lifetime.
/// Returns how many checks were live at once at the peak.
fn assert_flows_distinct(relay: &Relay) -> usize {
    let log = relay.log();
    let events = relay.events();
    let segments = || events.iter().filter_map(|e| Some((e.dir, e.tcp?)));
    // A retransmitted SYN repeats its ISN, so distinct ISNs count checks.
    let mut isns: Vec<u32> = segments()
        .filter(|(d, t)| *d == Dir::ToRs && t.is_syn())
        .map(|(_, t)| t.seq)
        .collect();
    isns.sort_unstable();
    isns.dedup();
    assert_eq!(
        isns.len(),
        CONCURRENT,
        "one ISN per check, none shared\n{log}"
    );
    // Our source port -> ISN of the check using it now.
    let mut live = std::collections::HashMap::new();
    let mut peak = 0;
    for (dir, t) in segments() {
        match dir {
            Dir::ToRs if t.is_syn() => {
                let other = live.insert(t.sport, t.seq);
                if let Some(other) = other.filter(|isn| *isn != t.seq) {
                    panic!(
                        "port {} used by two checks at once (ISNs {other}, {})\n{log}",
                        t.sport, t.seq
                    );
                }
            }
            Dir::ToRs if t.is_rst() => {
                live.remove(&t.sport);
            }
            Dir::ToLb if t.is_rst() => {
                live.remove(&t.dport);
            }
            _ => {}
        }
        peak = peak.max(live.len());
    }
    peak
}

// ---- the interface goes down ---------------------------------------------------

/// `lb`'s interface goes down while the check waits for a SYN/ACK that
/// never comes (rs2 lacks the VIP): the path to the real server is gone,
/// which is CRITICAL naming the interface, not UNKNOWN (a local error).
#[test]
fn interface_going_down_mid_check_is_critical() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let bin = check_raw_bin("check_raw_tcp");
    let check = tb.spawn("lb", &bin, &args(&["-t", "3000"], RS2));
    thread::sleep(ms(300));
    let down = tb.run_in("lb", &["ip", "link", "set", IFACE, "down"]);
    let r = check.wait(HARD_LIMIT);
    assert_eq!(down.code, Some(0), "{down}");
    assert_verdict(&r, 2, CRITICAL, &[IFACE, "down"]);
}

// ---- frames larger than the MTU ----------------------------------------------

/// With segmentation offload on the real server's side and GRO on the LB's,
/// the LB's socket sees TCP frames far larger than the 1500-byte MTU, their
/// checksums not filled in yet (the kernel says so in PACKET_AUXDATA). A
/// 200 KB response must still be reassembled byte for byte.
#[test]
fn frames_larger_than_the_mtu_are_handled() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let body: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut reply =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    reply.extend_from_slice(&body);
    tb.serve("rs1", PORT, Behaviour::Respond(reply));
    let on = |host: &str, dev: &str, features: &[&str]| {
        let mut cmd = vec!["ethtool", "-K", dev];
        cmd.extend(features);
        let r = tb.run_in(host, &cmd);
        assert_eq!(r.code, Some(0), "{r}");
    };
    on("rs1", IFACE, &["tx", "on", "tso", "on", "gso", "on"]);
    on(
        "sw",
        "prs1",
        &[
            "rx", "on", "tx", "on", "tso", "on", "gso", "on", "gro", "on",
        ],
    );
    on(
        "sw",
        "plb",
        &[
            "rx", "on", "tx", "on", "tso", "on", "gso", "on", "gro", "on",
        ],
    );
    on("lb", IFACE, &["rx", "on", "gro", "on"]);

    let md5 = md5_hex(&body);
    let port = PORT.to_string();
    let r = tb.run(
        "lb",
        &check_raw_bin("check_raw_http_get"),
        &[
            "-vvv", "-t", "3000", IFACE, RS1, VIP, &port, "www", "/big", &md5,
        ],
    );
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.status_line().contains("200000 bytes"), "{r}");
    let largest = r
        .stdout
        .lines()
        .filter(|l| l.contains(" ms < "))
        .filter_map(|l| l.rsplit("length ").next()?.trim().parse::<usize>().ok())
        .max()
        .unwrap_or(0);
    println!("largest TCP payload received in one frame: {largest} bytes");
    assert!(
        largest > 1500,
        "no frame above the MTU arrived: the offloads did not engage\n{r}"
    );
    assert_nothing_left_open_ctx(&tb, "rs1", "");
}
