//! check_raw_serve's own TCP and HTTP flows (`serve::direct`, issue 21):
//! runs carried by the main loop frame by frame, worded as the plugin
//! words them, and retransmitted through loss on the loop's own timers.
//! The listener's helpers (`/metrics`, a free port) are `serve_web`'s.
//! Tests skip, with a message, when not root (under CI=true they fail).

use std::thread;
use std::time::Duration;

use super::serve_web::{free_port, get, launch_on_port, runs, Answer};
use crate::harness::serve::*;
use crate::harness::serve_cases::*;
use crate::harness::*;

/// TCP and HTTP checks carried by the daemon's main loop (`serve::direct`)
/// once the real servers' MACs are in the neighbour cache, in both
/// families, with the plugin's own words: `check_raw_direct_runs_total`
/// counts them, and every status line of a check reads as the plugin's
/// run of the same command reads (times masked): OK, a refused port, an
/// HTTP status or a body MD5 not the one expected.
#[test]
fn tcp_and_http_checks_ride_the_main_loop_with_the_plugins_words() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let port = free_port(&tb);
    let http6 = format!(
        "check_raw_http -S 200 -s ok -t {T} {IFACE} {RS1_6} {VIP6} {HTTP_PORT} {VHOST} /health"
    );
    let http_404 =
        format!("check_raw_http -S 404 -t {T} {IFACE} {RS1} {VIP} {HTTP_PORT} {VHOST} /health");
    let md5 = "0".repeat(32);
    let http_get_md5 =
        format!("check_raw_http_get -t {T} {IFACE} {RS1} {VIP} {HTTP_PORT} {VHOST} /health {md5}");
    let checks = [
        Check::new("tcp-rs1", tcp(RS1, VIP, PORT)),
        Check::new("tcp-rs1-v6", tcp(RS1_6, VIP6, PORT)),
        // Nothing listens on 81: refused (RST) every time.
        Check::new("tcp-rs3-closed", tcp(RS3, VIP, 81)),
        Check::new("http-rs1", http_health(RS1, HTTP_PORT)),
        Check::new("http-rs1-v6", http6),
        Check::new("http-rs1-404", http_404),
        Check::new("http-get-rs1-md5", http_get_md5),
        Check::new("http-rs3-closed", http_health(RS3, 81)),
    ];
    let mut d = launch_on_port((&bed, &tb), port, &["-v"], TIMING, &checks);
    wait_up(
        &bed,
        &d,
        &["tcp-rs1", "tcp-rs1-v6", "http-rs1", "http-rs1-v6"],
        up_limit(TIMING),
        "up",
    );
    // A few more rounds, carried directly now that the MACs are cached.
    thread::sleep(TIMING.interval * 5);
    let m = get(&tb, port, "/metrics");
    assert_eq!(m.status, 200, "{}", m.text);
    let direct = direct_runs(&m);
    let all_runs: f64 = checks.iter().map(|c| runs(m.body(), &c.name)).sum();
    println!("direct runs {direct} of {all_runs} runs");
    // The first runs of each real server's checks ask ARP/NDP on a worker
    // (the checks of one tick start together, before any answer); a run
    // may be in flight between the two counters.
    let n = checks.len() as f64;
    assert!(
        direct >= all_runs - 2.0 * n && direct <= all_runs + n && direct >= 4.0 * n,
        "direct {direct}, runs {all_runs}\n{}",
        d.diag()
    );
    for name in [
        "tcp-rs3-closed",
        "http-rs1-404",
        "http-get-rs1-md5",
        "http-rs3-closed",
    ] {
        assert_eq!(bed.state(name).as_deref(), Some("0\n"), "{name}");
    }
    for check in &checks {
        // The plugin's own run of the command, in the same namespace.
        let argv: Vec<&str> = check.command.split_whitespace().collect();
        let plugin = tb.run("lb", &check_raw_bin(argv[0]), &argv[1..]);
        let want = masked(plugin.stdout.lines().next().unwrap_or_default());
        // Each run's line (`-v`), not the change lines (`NAME: UP ...`).
        let lines = d.lines_starting(&format!("{}: RAW_", check.name));
        assert!(lines.len() >= 5, "{}: {lines:?}", check.name);
        for l in &lines {
            let status = masked(&l[check.name.len() + 2..]);
            assert_eq!(status, want, "{l}\nthe plugin: {}", plugin.stdout);
        }
    }
    assert_stops(&mut d);
}

/// The direct flows under 10 % loss both ways (the harness's relay
/// between lb and the switch): TCP and HTTP checks of rs1 retransmit what
/// was lost on the loop's own timers and every run passes; most runs are
/// the loop's; stopped, nothing is left established on rs1.
///
/// Every tenth TCP frame each way is lost, not a random tenth: six
/// checks' frames interleave as the timing falls, so no seed fixes which
/// flow loses what, and random loss may take one step of one run three
/// times running, which fails a 1.5 s run as it should. Loss spread
/// evenly never does, so a failure here is the code's. (One was: a
/// response's data lost and its FIN arriving alone, unacknowledged.)
#[test]
fn direct_flows_retransmit_through_ten_percent_loss() {
    require!(Need::Testbed);
    let every_tenth = |from: usize| Faults::new().drop_nth_tcp((from..5_000).step_by(10));
    let plan = FaultPlan::none()
        .toward_rs(every_tenth(7))
        .toward_lb(every_tenth(4));
    let tb = RelayBed::new(healthy_testbed(), plan);
    let bed = serve_bed();
    let port = free_port(&tb);
    let checks: Vec<Check> = (0..3)
        .flat_map(|i| {
            [
                Check::new(
                    &format!("tcp-{i}"),
                    format!("check_raw_tcp -t 1500 {IFACE} {RS1} {VIP} {PORT}"),
                ),
                Check::new(
                    &format!("http-{i}"),
                    format!(
                        "check_raw_http -S 200 -s ok -t 1500 {IFACE} {RS1} {VIP} {HTTP_PORT} {VHOST} /health"
                    ),
                ),
            ]
        })
        .collect();
    let timing = Timing {
        interval: Duration::from_secs(2),
        rise: 1,
        fall: 3,
    };
    let mut d = launch_on_port((&bed, &tb), port, &["-v"], timing, &checks);
    thread::sleep(timing.interval * 6);
    let m = get(&tb, port, "/metrics");
    assert_eq!(m.status, 200, "{}", m.text);
    let direct = direct_runs(&m);
    let all_runs: f64 = checks.iter().map(|c| runs(m.body(), &c.name)).sum();
    let stats = tb.relay().stats();
    let dropped = stats.to_rs.dropped + stats.to_lb.dropped;
    println!("direct runs {direct} of {all_runs}; {dropped} frames dropped: {stats:?}");
    assert_stops(&mut d);
    let relay = tb.relay().log();
    for check in &checks {
        let lines = d.lines_starting(&format!("{}: RAW_", check.name));
        assert!(lines.len() >= 4, "{}: {lines:?}", check.name);
        for l in &lines {
            assert!(
                l.contains(" OK - "),
                "{l}\n{stats:?}\n{}\nrelay:\n{relay}",
                d.diag()
            );
        }
    }
    assert!(dropped > 0, "no frame was dropped: this tested nothing");
    let n = checks.len() as f64;
    assert!(
        direct >= all_runs - 2.0 * n && direct >= 3.0 * n,
        "direct {direct}, runs {all_runs}\n{}",
        d.diag()
    );
    assert_none_open(&tb, "rs1", PORT, &d);
    assert_none_open(&tb, "rs1", HTTP_PORT, &d);
}

/// `check_raw_direct_runs_total` in a /metrics answer.
fn direct_runs(m: &Answer) -> f64 {
    m.body()
        .lines()
        .find_map(|l| l.strip_prefix("check_raw_direct_runs_total "))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no check_raw_direct_runs_total\n{}", m.text))
}

/// A status line without what varies between two runs: perfdata, and
/// every number followed by " ms".
fn masked(line: &str) -> String {
    let words = line.split('|').next().unwrap_or_default();
    let mut out = Vec::new();
    let tokens: Vec<&str> = words.split(' ').collect();
    for (i, t) in tokens.iter().enumerate() {
        let timed = tokens.get(i + 1).is_some_and(|n| n.starts_with("ms"));
        let number = !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.');
        out.push(if timed && number { "T" } else { t });
    }
    out.join(" ")
}
