//! What the check_raw_serve cases (`tests/it/serve.rs`, the contract;
//! `tests/it/serve_network.rs`, the network under it) share: the timing and
//! command lines of their checks, the healthy testbed, starting the
//! daemon on a config, and the assertions on its state files and change
//! lines. Not re-exported by `harness` (`tcp`, `T` are short names).

use std::fs;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use super::serve::*;
use super::servers::{Behaviour, ConnEnd};
use super::testbed::Testbed;
use super::*;

/// Every check's `-t`, in ms.
pub const T: u64 = 300;
pub const TIMING: Timing = Timing {
    interval: Duration::from_millis(400),
    rise: 2,
    fall: 2,
};
/// What the loaded machine may add to a change's expected time.
pub const SLACK: Duration = Duration::from_secs(4);
/// A SIGTERM or SIGINT must end the daemon within this (the contract).
pub const STOP_WITHIN: Duration = Duration::from_secs(1);

pub fn timeout() -> Duration {
    Duration::from_millis(T)
}

/// Longest the first UP may take: rise runs, one more for the schedule's
/// spread, one run's `-t`, slack.
pub fn up_limit(timing: Timing) -> Duration {
    timing.limit(timing.rise + 1, timeout(), SLACK)
}

/// Longest a later UP may take.
pub fn rise_limit(timing: Timing) -> Duration {
    timing.limit(timing.rise, timeout(), SLACK)
}

/// Longest a DOWN may take.
pub fn fall_limit(timing: Timing) -> Duration {
    timing.limit(timing.fall, timeout(), SLACK)
}

pub fn tcp(real_server: &str, vip: &str, port: u16) -> String {
    format!("check_raw_tcp -t {T} {IFACE} {real_server} {vip} {port}")
}

pub fn http_health(real_server: &str, port: u16) -> String {
    format!("check_raw_http -S 200 -s ok -t {T} {IFACE} {real_server} {VIP} {port} {VHOST} /health")
}

/// rs1, rs2 and rs3 all healthy LVS-DR real servers: the canned HTTP reply
/// on ports 80 and `HTTP_PORT`, the VIPs (IPv4 and IPv6) on `lo` of all
/// three (the testbed leaves rs2 without them).
pub fn healthy_testbed() -> Testbed {
    let tb = Testbed::without_servers();
    for host in ["rs1", "rs2", "rs3"] {
        for port in [PORT, HTTP_PORT] {
            tb.serve(host, port, Behaviour::Respond(HTTP_REPLY.to_vec()));
        }
    }
    put_vips_back(&tb, "rs2");
    tb
}

/// The VIPs (IPv4 and IPv6) on `host`'s `lo` again, after `remove_vip`.
pub fn put_vips_back(tb: &Testbed, host: &str) {
    tb.add_vip(host);
    tb.add_addrs(host, "lo", &[&format!("{VIP6}/128")]);
}

/// A new bed, the binary checked to answer to check_raw_serve.
pub fn serve_bed() -> ServeBed {
    let bed = ServeBed::new();
    assert_built(&bed);
    bed
}

/// `healthy_testbed` and a `serve_bed` (declared in this order, the bed
/// drops first).
pub fn healthy_bed() -> (Testbed, ServeBed) {
    (healthy_testbed(), serve_bed())
}

/// The checks' names.
pub fn names(checks: &[Check]) -> Vec<&str> {
    checks.iter().map(|c| c.name.as_str()).collect()
}

/// Writes serve.toml with `checks` and `timing`, starts the daemon in
/// `host` with `args` and waits for its `started:` line.
pub fn launch(
    bed: &ServeBed,
    tb: &Testbed,
    host: &str,
    args: &[&str],
    timing: Timing,
    checks: &[Check],
) -> ServeProc {
    bed.write_config(&bed.toml(timing, checks));
    let d = bed.start(tb, host, args);
    wait_started(bed, &d, checks.len());
    d
}

/// Every name's file holds `content` within `limit`; prints and returns
/// how long it took.
pub fn wait_all(
    bed: &ServeBed,
    d: &ServeProc,
    names: &[&str],
    content: &str,
    limit: Duration,
    what: &str,
) -> Duration {
    let want: Vec<(&str, Option<&str>)> = names.iter().map(|n| (*n, Some(content))).collect();
    let took = bed.wait_states(&want, limit, d, what);
    println!("{what}: {took:?}");
    took
}

/// `wait_all` at `1`.
pub fn wait_up(bed: &ServeBed, d: &ServeProc, names: &[&str], limit: Duration, what: &str) {
    wait_all(bed, d, names, "1\n", limit, what);
}

/// `wait_all` at `0`.
pub fn wait_down(bed: &ServeBed, d: &ServeProc, names: &[&str], limit: Duration, what: &str) {
    wait_all(bed, d, names, "0\n", limit, what);
}

/// The `started:` line, which the contract words exactly.
pub fn wait_started(bed: &ServeBed, d: &ServeProc, n: usize) {
    let line = format!(
        "started: {n} check{} from {}, state files in {}",
        if n == 1 { "" } else { "s" },
        bed.config.display(),
        bed.state_dir.display()
    );
    d.wait_line(0, &line, &[], SLACK);
}

/// SIGHUP, then a log line after the log's present end that starts with
/// `start` and holds `needles`; returns where the log ended before.
pub fn reload(d: &ServeProc, start: &str, needles: &[&str]) -> usize {
    let skip = d.line_count();
    d.signal(libc::SIGHUP);
    d.wait_line(skip, start, needles, SLACK);
    skip
}

/// Exactly one change line for each name among the lines after `skip`:
/// `NAME: UP after 2 up results (was DOWN for ...): <status line>` (or
/// DOWN/failures), the status line containing `needle`.
pub fn assert_one_change_each(d: &ServeProc, skip: usize, names: &[&str], up: bool, needle: &str) {
    let n = if up { TIMING.rise } else { TIMING.fall };
    assert_one_change_after(d, skip, names, up, n, needle);
}

/// `assert_one_change_each` after `n` results (`rise` or `fall`).
pub fn assert_one_change_after(
    d: &ServeProc,
    skip: usize,
    names: &[&str],
    up: bool,
    n: u32,
    needle: &str,
) {
    let lines: Vec<String> = d.lines().into_iter().skip(skip).collect();
    let (health, was) = if up { ("UP", "DOWN") } else { ("DOWN", "UP") };
    let words = match (up, n) {
        (true, 1) => "up result",
        (true, _) => "up results",
        (false, 1) => "failure",
        (false, _) => "failures",
    };
    for name in names {
        let start = format!("{name}: {health} after {n} {words} (was {was} for ");
        let found: Vec<&String> = lines.iter().filter(|l| l.starts_with(&start)).collect();
        assert!(
            found.len() == 1 && found[0].contains("s): ") && found[0].contains(needle),
            "expected one line {start:?}...\"s): ...{needle}...\", found {found:?}\n{}",
            d.diag()
        );
    }
}

/// No change line at all for these names among the lines after `skip`.
pub fn assert_no_change(d: &ServeProc, skip: usize, names: &[&str]) {
    let changes: Vec<String> = d
        .lines()
        .into_iter()
        .skip(skip)
        .filter(|l| {
            names.iter().any(|n| {
                l.starts_with(&format!("{n}: UP after"))
                    || l.starts_with(&format!("{n}: DOWN after"))
            })
        })
        .collect();
    assert!(
        changes.is_empty(),
        "no state change expected for {names:?}, got {changes:?}\n{}",
        d.diag()
    );
}

/// `name`'s file holds `content`, and no change line names it: a check
/// that stays where it started.
pub fn assert_stayed(bed: &ServeBed, d: &ServeProc, name: &str, content: &str) {
    assert_eq!(bed.state(name).as_deref(), Some(content), "{}", d.diag());
    assert_no_change(d, 0, &[name]);
}

/// SIGTERM: exit 0 within `STOP_WITHIN`, saying so, every line prefixed.
pub fn assert_stops_on(d: &mut ServeProc, sig: libc::c_int, name: &str) {
    let sent = d.signal(sig);
    let Some((status, at)) = d.wait_exit(SLACK) else {
        panic!(
            "check_raw_serve still running {SLACK:?} after {name}\n{}",
            d.diag()
        );
    };
    let latency = at.saturating_duration_since(sent);
    println!(
        "{name}: {} {latency:?} after the signal",
        show_status(&status)
    );
    assert_eq!(status.code(), Some(0), "exit 0 on {name}\n{}", d.diag());
    assert!(
        latency < STOP_WITHIN,
        "took {latency:?} after {name}\n{}",
        d.diag()
    );
    assert!(
        d.lines()
            .iter()
            .any(|l| l == &format!("stopping on {name}")),
        "the log should say `stopping on {name}`\n{}",
        d.diag()
    );
    d.assert_log_prefixed();
}

/// `assert_stops_on` SIGTERM.
pub fn assert_stops(d: &mut ServeProc) {
    assert_stops_on(d, libc::SIGTERM, "SIGTERM");
}

/// Nothing left established on `host`:`port` (after `SETTLE`).
pub fn assert_none_open(tb: &Testbed, host: &str, port: u16, d: &ServeProc) {
    assert_nothing_left_open(tb, host, port, &d.diag());
}

/// Waits (at most `limit`, the daemon running) until `n` flows are
/// established on `host`:`port`.
pub fn wait_flows(tb: &Testbed, host: &str, port: u16, n: usize, limit: Duration, d: &ServeProc) {
    let start = Instant::now();
    // Bounded: `limit`, polled every `POLL`.
    while tb.established_on(host, port) < n {
        assert!(
            start.elapsed() < limit,
            "not {n} flow(s) open on {host}:{port} within {limit:?}\n{}",
            d.diag()
        );
        d.assert_running_for("waiting for the flows");
        thread::sleep(POLL);
    }
}

/// True if every end is a RST (or an error the RST caused).
pub fn all_reset(ends: &[ConnEnd]) -> bool {
    ends.iter()
        .all(|e| matches!(e, ConnEnd::Reset | ConnEnd::Error(_)))
}

/// Replaces the role file atomically (the check may read it at any time).
pub fn set_role(role: &RoleFile, value: &str) {
    let path = Path::new(role.path());
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, value).expect("write the role file");
    fs::rename(&tmp, path).expect("rename the role file");
}

/// `ip ARGS` in `host`, which must succeed.
pub fn ip(tb: &Testbed, host: &str, args: &[&str]) {
    let mut cmd = vec!["ip"];
    cmd.extend(args);
    let r = tb.run_in(host, &cmd);
    assert_eq!(r.code, Some(0), "{r}");
}
