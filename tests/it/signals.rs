//! `check_raw_tcp` interrupted by SIGTERM or SIGINT mid-check (what a
//! monitoring daemon sends when its own timeout runs out): while resolving
//! ARP, while waiting for a SYN/ACK, and while connected (then a RST
//! reaches the server). It must exit CRITICAL within 300 ms of the signal,
//! saying so, never die by it.
//!
//! Apart from `faults.rs` because a signal is no fault on the wire. No
//! CPU-heavy test runs beside it, which its latency bound needs: those run
//! alone (`harness::alone()`), with no other test's testbed up. Each test
//! builds its own testbed; tests skip, with a message, unless root.

use std::thread;
use std::time::Duration;

use crate::harness::*;

const CRITICAL: &str = "RAW_TCP CRITICAL - ";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn args<'a>(opts: &[&'a str], real_server: &'a str) -> Vec<String> {
    let mut v: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
    v.extend([IFACE, real_server, VIP].map(str::to_owned));
    v.push(PORT.to_string());
    v
}

/// Exit code, status-line prefix, and text the status line must contain.
/// `context` (the relay's log, say) is added to the failure message.
fn assert_nothing_left_open_ctx(tb: &Testbed, host: &str, context: &str) {
    assert_nothing_left_open(tb, host, PORT, &context);
}

/// Runs a check with `-t 5000`, sends `sig` after 300 ms, and returns the
/// result and the time from the signal to the exit.
fn signalled_check(
    tb: &Testbed,
    opts: &[&str],
    rs: &str,
    sig: libc::c_int,
) -> (RunResult, Duration) {
    // Held until the check ends: the symlink's directory goes with it.
    let bin = check_raw_bin("check_raw_tcp");
    let child = tb.spawn("lb", &bin, &args(opts, rs));
    thread::sleep(ms(300));
    // `ip netns exec` execs the program itself, so the pid is the check's.
    let exe = std::fs::read_link(format!("/proc/{}/exe", child.pid()));
    if !exe.as_ref().is_ok_and(|p| p.ends_with("check_raw")) {
        let pid = child.pid();
        panic!(
            "pid {pid} is not a running check ({exe:?})\n{}",
            child.wait(HARD_LIMIT)
        );
    }
    let sent = child.signal(sig);
    let started = child.started();
    let r = child.wait(HARD_LIMIT);
    let latency = (started + r.elapsed).saturating_duration_since(sent);
    (r, latency)
}

fn assert_interrupted(r: &RunResult, latency: Duration, name: &str) {
    println!("{name}: exit {:?} {latency:?} after the signal", r.code);
    assert_eq!(
        r.code,
        Some(2),
        "must exit CRITICAL, not die by the signal\n{r}"
    );
    assert!(
        r.status_line().starts_with(CRITICAL)
            && r.status_line().contains(&format!("interrupted by {name}")),
        "status line should say interrupted by {name}\n{r}"
    );
    // The goal is 100 ms; 300 keeps a loaded machine from flaking.
    assert!(latency < ms(300), "took {latency:?} after {name}\n{r}");
}

/// Interrupted while resolving ARP (nobody answers) and while waiting for
/// a SYN/ACK (rs2 never answers): exit CRITICAL at once.
fn signal_before_connect(sig: libc::c_int, name: &str) {
    let tb = Testbed::new();
    for rs in [NOBODY, RS2] {
        let (r, latency) = signalled_check(&tb, &["-t", "5000"], rs, sig);
        assert_interrupted(&r, latency, name);
    }
}

/// Interrupted while connected (a `-c` close the server never completes:
/// it holds the connection without closing): a RST reaches the server, and
/// the check exits CRITICAL at once, not OK.
fn signal_while_connected(sig: libc::c_int, name: &str) {
    let tb = Testbed::new();
    let server = tb.serve("rs1", PORT, Behaviour::Silent);
    let (r, latency) = signalled_check(&tb, &["-c", "-vvv", "-t", "5000"], RS1, sig);
    let last_sent = r
        .stdout
        .lines()
        .rfind(|l| l.contains(" ms > "))
        .unwrap_or("");
    assert!(
        last_sent.contains("Flags [R"),
        "the last frame sent should be a RST\n{r}"
    );
    // The server sees the RST: its connection ends in an error (ECONNRESET,
    // or EPIPE in CLOSE-WAIT), not by its own hold time running out.
    let ends = server.wait_ends(1, SETTLE);
    assert!(
        matches!(ends.as_slice(), [ConnEnd::Reset | ConnEnd::Error(_)]),
        "rs1 should see the RST ({server:?})\n{r}"
    );
    assert_nothing_left_open_ctx(&tb, "rs1", "");
    assert_interrupted(&r, latency, name);
}

#[test]
fn sigterm_before_connect_exits_critical_at_once() {
    require!(Need::Testbed);
    signal_before_connect(libc::SIGTERM, "SIGTERM");
}

#[test]
fn sigint_before_connect_exits_critical_at_once() {
    require!(Need::Testbed);
    signal_before_connect(libc::SIGINT, "SIGINT");
}

#[test]
fn sigterm_while_connected_resets_and_exits_critical() {
    require!(Need::Testbed);
    signal_while_connected(libc::SIGTERM, "SIGTERM");
}

#[test]
fn sigint_while_connected_resets_and_exits_critical() {
    require!(Need::Testbed);
    signal_while_connected(libc::SIGINT, "SIGINT");
}
