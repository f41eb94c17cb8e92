use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use super::page::escape;
use super::*;
use crate::serve::config::ServeConfig;

/// Specs from (name, command) pairs, through the daemon's own parser.
fn specs(checks: &[(&str, &str)]) -> Vec<CheckSpec> {
    let mut toml = String::from("state_dir = \"/tmp\"\n");
    for (name, command) in checks {
        toml.push_str(&format!(
            "[[check]]\nname = \"{name}\"\ncommand = '{command}'\n"
        ));
    }
    let lookup = |_: &str, _| Err(std::io::Error::other("no lookups"));
    ServeConfig::parse(Path::new("s.toml"), &toml, &lookup)
        .unwrap()
        .checks
}

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_000_000 + secs)
}

fn board_of(checks: &[(&str, &str)]) -> Board {
    let board = Board::new();
    board.set_checks(checks_of(checks));
    board
}

fn checks_of(checks: &[(&str, &str)]) -> Vec<BoardCheck> {
    let now = Instant::now();
    specs(checks)
        .iter()
        .map(|s| {
            let m = RiseFall::new(&s.name, s.rise, s.fall, None, now);
            BoardCheck::of(s, &m, at(0))
        })
        .collect()
}

fn run(name: &str, state: State, line: &str, health: Health, streak: u32) -> BoardRun {
    BoardRun {
        name: name.to_string(),
        state,
        status_line: line.to_string(),
        duration: Duration::from_micros(840),
        ended: SystemTime::now(),
        health,
        streak,
        changed: false,
        facts: RunFacts::default(),
    }
}

const POOL: [(&str, &str); 4] = [
    (
        "web-rs1",
        "check_raw_http -S 200 eth0 198.51.100.11 203.0.113.10 80 www.example.com /",
    ),
    (
        "dns-rs1",
        "check_raw_dns eth0 198.51.100.21 203.0.113.53 53 www.example.com",
    ),
    (
        "web-rs2",
        "check_raw_tcp eth0 198.51.100.12 203.0.113.10 80",
    ),
    ("vip-rs3", "check_raw_vip eth0 198.51.100.13 203.0.113.10"),
];

#[test]
fn labels_come_from_the_plugin_command() {
    let checks = checks_of(&POOL);
    let l: Vec<_> = checks.iter().map(|c| &c.labels).collect();
    assert_eq!(
        *l[0],
        CheckLabels {
            check: "web-rs1".into(),
            kind: "http",
            interface: "eth0".into(),
            real_server: "198.51.100.11".into(),
            vip: "203.0.113.10".into(),
            port: "80".into(),
        }
    );
    assert_eq!(l[1].kind, "dns");
    assert_eq!(l[2].kind, "tcp");
    assert_eq!((l[3].kind, l[3].port.as_str()), ("vip", ""));
    assert_eq!(checks[0].health, Health::Down);
    assert_eq!((checks[0].rise, checks[0].fall), (2, 3));
}

#[test]
fn a_run_moves_counters_histogram_and_progress() {
    let board = board_of(&POOL);
    board.record(&run(
        "web-rs1",
        State::Ok,
        "RAW_HTTP OK - 200",
        Health::Down,
        1,
    ));
    let mut second = run("web-rs1", State::Ok, "RAW_HTTP OK - 200", Health::Up, 0);
    second.changed = true;
    second.ended = at(12);
    board.record(&second);
    board.record(&run(
        "web-rs1",
        State::Critical,
        "RAW_HTTP CRITICAL - x",
        Health::Up,
        1,
    ));
    board.skipped("web-rs1", 2);
    board.skipped("nobody", 5);
    board.record(&run("nobody", State::Ok, "x", Health::Up, 0));
    let s = board.snapshot();
    let r = &s.records[0];
    assert_eq!(r.runs, [2, 0, 1, 0]);
    assert_eq!((r.changes, r.skipped), (1, 2));
    assert_eq!(r.check.since, at(12));
    assert_eq!(r.progress(), "1/3 fails");
    assert_eq!(r.shown_state(), "falling");
    assert_eq!(r.durations.count, 3);
    assert_eq!(r.durations.buckets[1], 3, "0.84 ms is in the 1 ms bucket");
    assert_eq!(s.records[2].shown_state(), "down");
}

#[test]
fn a_reload_keeps_kept_checks_and_drops_gone_ones() {
    let board = board_of(&POOL);
    board.record(&run("web-rs1", State::Ok, "ok", Health::Down, 1));
    board.record(&run("web-rs2", State::Ok, "ok", Health::Down, 1));
    // web-rs1 kept as it was, web-rs2 moved to another real server,
    // dns-rs1 and vip-rs3 gone, web-rs4 added.
    board.set_checks(checks_of(&[
        (POOL[0].0, POOL[0].1),
        (
            "web-rs2",
            "check_raw_tcp eth0 198.51.100.14 203.0.113.10 80",
        ),
        (
            "web-rs4",
            "check_raw_tcp eth0 198.51.100.15 203.0.113.10 80",
        ),
    ]));
    let s = board.snapshot();
    let names: Vec<_> = s.records.iter().map(|r| r.name()).collect();
    assert_eq!(names, ["web-rs1", "web-rs2", "web-rs4"]);
    assert_eq!(s.records[0].runs[0], 1);
    assert_eq!(s.records[1].runs[0], 0, "new labels, new series");
    let (_, body) = board.metrics(false);
    assert!(!body.contains("dns-rs1") && !body.contains("vip-rs3"));
    assert!(body.contains("web-rs4"));
}

#[test]
fn escaping_covers_html_specials() {
    assert_eq!(
        escape(r#"<a href="x">'&'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
    let board = board_of(&POOL[..1]);
    board.record(&run(
        "web-rs1",
        State::Critical,
        "RAW_HTTP CRITICAL - body <script>alert(1)</script> & \"x\"",
        Health::Down,
        0,
    ));
    let html = board.status_html();
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"));
    let mut web = run("web-rs1", State::Ok, "ok", Health::Up, 0);
    web.facts.http_status = Some(200);
    web.facts.ssl_earliest_cert_expiry = Some(1_800_000_000);
    board.record(&web);
    assert!(board.status_html().contains(
        "<td class=\"line\" title=\"HTTP 200; certificate until 2027-01-15 08:00 UTC\">ok</td>"
    ));
    // The page shows the words, not the perfdata (status.json keeps it).
    let line = "RAW_HTTP OK - 200 in 0.84 ms|time=0.000840s;;;0.000000;0.800000";
    board.record(&run("web-rs1", State::Ok, line, Health::Up, 0));
    let html = board.status_html();
    assert!(
        html.contains(">RAW_HTTP OK - 200 in 0.84 ms</td>"),
        "{html}"
    );
    assert!(!html.contains("time=0.000840s"), "{html}");
    assert!(board.status_json().contains("time=0.000840s"));
}

#[test]
fn the_page_groups_by_vip_and_port_and_marks_states() {
    let board = board_of(&POOL);
    board.record(&run("web-rs1", State::Ok, "ok", Health::Up, 0));
    board.record(&run("web-rs2", State::Critical, "c", Health::Up, 2));
    let html = board.status_html();
    if let Ok(path) = std::env::var("BOARD_PAGE") {
        std::fs::write(path, &html).unwrap();
    }
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
    assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("@import"));
    let pos = |needle: &str| {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing"))
    };
    let web = pos("data-vip=\"203.0.113.10\" data-port=\"80\"");
    let dns = pos("data-vip=\"203.0.113.53\" data-port=\"53\"");
    let vip = pos("data-vip=\"203.0.113.10\" data-port=\"\"");
    assert!(
        web < dns && dns < vip,
        "groups in the order of their first check"
    );
    // Both web servers are in the first group, before the DNS one.
    assert!(pos("data-check=\"web-rs2\"") < dns);
    assert!(html.contains(
        "<tr class=\"check up\" id=\"check-web-rs1\" data-check=\"web-rs1\" data-state=\"up\""
    ));
    assert!(html.contains("data-check=\"web-rs2\" data-state=\"falling\""));
    assert!(html.contains("<td class=\"progress\">2/3 fails</td>"));
    assert!(html.contains("data-check=\"dns-rs1\" data-state=\"down\""));
    assert!(html.contains("data-up=\"2\" data-total=\"2\""));
    assert!(html.contains("<section class=\"pool all-up\" id=\"pool-203.0.113.10-80\""));
    assert!(html.contains("<section class=\"pool none-up\" id=\"pool-203.0.113.53-53\""));
    assert!(html.contains("<td class=\"num\" data-total=\"checks\">4</td>"));
    assert!(html.contains("<td class=\"num latency\">0.84 ms</td>"));
    // A check whose last run is long past is marked stale.
    let mut old = run("dns-rs1", State::Ok, "ok", Health::Down, 1);
    old.ended = at(10);
    board.record(&old);
    assert!(board
        .status_html()
        .contains("<tr class=\"check rising stale\" id=\"check-dns-rs1\""));
}

#[test]
fn the_json_parses_and_says_what_the_page_says() {
    let board = board_of(&POOL);
    let mut r = run(
        "web-rs1",
        State::Ok,
        "RAW_HTTP OK - \"q\" \\ \u{1}",
        Health::Up,
        0,
    );
    r.facts.http_status = Some(200);
    board.record(&r);
    let v: serde_json::Value = serde_json::from_str(&board.status_json()).unwrap();
    assert_eq!(v["totals"]["checks"], 4);
    assert_eq!(v["totals"]["up"], 1);
    assert_eq!(v["pools"][0]["checks"][1], "web-rs2");
    assert_eq!(v["pools"].as_array().unwrap().len(), 3);
    let c = &v["checks"][0];
    assert_eq!(c["state"], "up");
    assert_eq!(c["last"]["status_line"], "RAW_HTTP OK - \"q\" \\ \u{1}");
    assert_eq!(c["last"]["duration_seconds"], 0.00084);
    assert_eq!(c["facts"]["http_status_code"], 200);
    assert_eq!(c["runs"]["ok"], 1);
    assert!(v["checks"][1]["last"].is_null());
    assert_eq!(v["checks"][3]["port"], "");
    let empty: serde_json::Value = serde_json::from_str(&Board::new().status_json()).unwrap();
    assert_eq!(empty["checks"].as_array().map(Vec::len), Some(0));
}

#[test]
fn metrics_have_the_contract_names_and_labels() {
    let board = board_of(&POOL);
    let mut r = run("web-rs1", State::Ok, "ok", Health::Up, 0);
    r.ended = at(10);
    r.facts.http_status = Some(200);
    r.facts.ssl_earliest_cert_expiry = Some(1_800_000_000);
    board.record(&r);
    board.reloaded(false, at(20));
    let (ct, text) = board.metrics(false);
    assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
    let labels = "check=\"web-rs1\",kind=\"http\",interface=\"eth0\",\
                  real_server=\"198.51.100.11\",vip=\"203.0.113.10\",port=\"80\"";
    for line in [
        format!("check_raw_up{{{labels}}} 1"),
        format!("check_raw_probe_success{{{labels}}} 1"),
        format!("check_raw_checks_total{{{labels},result=\"ok\"}} 1"),
        format!("check_raw_checks_total{{{labels},result=\"unknown\"}} 0"),
        format!("check_raw_probe_duration_seconds_bucket{{{labels},le=\"0.001\"}} 1"),
        format!("check_raw_probe_duration_seconds_count{{{labels}}} 1"),
        format!("check_raw_state_changes_total{{{labels}}} 0"),
        format!("check_raw_skipped_runs_total{{{labels}}} 0"),
        format!("check_raw_last_check_timestamp_seconds{{{labels}}} 1764000010.0"),
        format!("check_raw_http_status_code{{{labels}}} 200"),
        format!("check_raw_ssl_earliest_cert_expiry{{{labels}}} 1800000000"),
        "check_raw_config_last_reload_successful 0".to_string(),
        "check_raw_frames_sent_total 0".to_string(),
        "check_raw_direct_runs_total 0".to_string(),
        "check_raw_flows_in_flight 0".to_string(),
        format!("check_raw_build_info{{version=\"{VERSION}\"}} 1"),
        "# TYPE check_raw_checks_total counter".to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
    // No run yet: no success or timestamp sample; no DNS facts at all.
    assert!(!text.contains("check_raw_probe_success{check=\"web-rs2\""));
    assert!(!text.contains("check_raw_dns_rcode"));
    let (ct, om) = board.metrics(true);
    assert!(ct.starts_with("application/openmetrics-text; version=1.0.0"));
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE check_raw_build info"));
}

/// promtool's `check metrics` on both formats, when Debian's prometheus
/// package is installed (tests/deps.sh installs it).
#[test]
fn promtool_finds_nothing() {
    let board = full_board();
    let (_, body) = board.metrics(false);
    if let Ok(dir) = std::env::var("BOARD_METRICS") {
        // For a look by hand, or a real Prometheus.
        std::fs::write(format!("{dir}/metrics.txt"), &body).unwrap();
        std::fs::write(format!("{dir}/metrics.om"), board.metrics(true).1).unwrap();
    }
    let Some(out) = promtool(&body) else {
        eprintln!("skipping promtool_finds_nothing: no promtool (apt-get install prometheus)");
        return;
    };
    assert_eq!(out, "", "{body}");
    // No check at all (an empty file, or all removed by a reload): the
    // process's families only.
    let (_, empty) = Board::new().metrics(false);
    assert!(!empty.contains("check=\""));
    assert_eq!(promtool(&empty).as_deref(), Some(""), "{empty}");
}

/// promtool 2.42's `check metrics` reads the 0.0.4 text format only (on
/// OpenMetrics it stops at the `info` type, then at every counter family,
/// named without `_total` there): the OpenMetrics body goes through the
/// strict OpenMetrics parser of the Python client (Debian's
/// python3-prometheus-client), when installed.
#[test]
fn the_openmetrics_body_parses_as_openmetrics() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let board = full_board();
    let (_, body) = board.metrics(true);
    let script = "import sys\n\
        try:\n from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
        except ImportError:\n sys.exit(77)\n\
        n = sum(len(f.samples) for f in text_string_to_metric_families(sys.stdin.read()))\n\
        print(n)\n";
    let child = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("skipping the_openmetrics_body_parses_as_openmetrics: no /usr/bin/python3");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.code() == Some(77) {
        eprintln!(
            "skipping the_openmetrics_body_parses_as_openmetrics: \
             no python3-prometheus-client"
        );
        return;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}\n{body}");
    let samples: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let lines = body.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(samples, lines);
}

/// A board with every family: runs of each kind, facts, a skip, a
/// refused reload.
fn full_board() -> Board {
    let board = board_of(&POOL);
    let mut web = run("web-rs1", State::Ok, "ok", Health::Up, 0);
    web.facts.http_status = Some(200);
    web.facts.ssl_earliest_cert_expiry = Some(1_800_000_000);
    web.changed = true;
    board.record(&web);
    let mut dns = run("dns-rs1", State::Critical, "c", Health::Down, 0);
    dns.facts.dns_rcode = Some(3);
    dns.facts.dns_answer_rrs = Some(0);
    dns.duration = Duration::from_secs(30);
    board.record(&dns);
    board.skipped("web-rs2", 1);
    board.reloaded(false, SystemTime::now());
    board.set_engine(crate::net::shared::Stats {
        frames_sent: 10,
        frames_received: 9,
        flows_in_flight: 2,
        ..Default::default()
    });
    board
}

/// promtool check metrics' output (stdout and stderr), None without it.
fn promtool(body: &str) -> Option<String> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(body.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() && text.is_empty() {
        text = format!("promtool exited {}", out.status);
    }
    Some(text)
}

#[test]
fn two_thousand_checks_render_quickly_and_hold_the_lock_briefly() {
    let mut pool = Vec::new();
    for i in 0..2000u32 {
        pool.push((
            format!("rs{i}"),
            format!(
                "check_raw_http -S 200 eth0 198.51.{}.{} 203.0.113.{} 80 www.example.com /",
                100 + i / 250,
                i % 250 + 1,
                i % 20
            ),
        ));
    }
    let refs: Vec<(&str, &str)> = pool.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let board = board_of(&refs);
    for (name, _) in &refs {
        board.record(&run(name, State::Ok, "RAW_HTTP OK - 200 OK", Health::Up, 0));
    }
    let t = Instant::now();
    let snap = board.snapshot();
    let copy = t.elapsed();
    drop(snap);
    let t = Instant::now();
    let (_, text) = board.metrics(false);
    let metrics = t.elapsed();
    let t = Instant::now();
    let html = board.status_html();
    let page = t.elapsed();
    let t = Instant::now();
    let json = board.status_json();
    let js = t.elapsed();
    eprintln!(
        "2000 checks: snapshot (under the lock) {copy:?}; /metrics {metrics:?} ({} bytes), \
         page {page:?} ({} bytes), json {js:?} ({} bytes)",
        text.len(),
        html.len(),
        json.len()
    );
    assert!(copy < Duration::from_millis(5), "{copy:?}");
    // Generous for a debug build on a loaded 2-core host.
    assert!(metrics < Duration::from_secs(2), "{metrics:?}");
}

#[test]
fn wall_time_maps_the_process_clock() {
    let now = Instant::now();
    let wall = wall_time(now - Duration::from_secs(30));
    let ago = SystemTime::now().duration_since(wall).unwrap();
    assert!(ago >= Duration::from_secs(30) && ago < Duration::from_secs(31));
}

#[test]
fn openmetrics_only_when_the_scraper_prefers_it() {
    let prometheus = "application/openmetrics-text;version=1.0.0,\
        application/openmetrics-text;version=0.0.1;q=0.75,\
        text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert!(wants_openmetrics(prometheus));
    assert!(wants_openmetrics("application/openmetrics-text"));
    assert!(wants_openmetrics(
        "Application/OpenMetrics-Text; Version=1.0.0; q=0.9"
    ));
    for accept in [
        "",
        "*/*",
        "text/plain;version=0.0.4",
        "application/openmetrics-text;version=0.0.1",
        "application/openmetrics-text;q=0",
        "application/openmetrics-text;q=0.4,text/plain;q=0.5",
        "application/openmetrics-text;q=nan",
        ";;;,,,=",
    ] {
        assert!(!wants_openmetrics(accept), "{accept}");
    }
}

#[test]
fn a_run_is_read_from_the_outcome_and_the_machine() {
    let spec = &specs(&POOL[..1])[0];
    let t0 = Instant::now();
    let mut machine = RiseFall::new(&spec.name, 2, 3, None, t0);
    let mut outcome = Outcome::new("RAW_HTTP", State::Ok, "HTTP/1.1 200 OK");
    outcome.facts.http_status = Some(200);
    outcome.facts.ssl_earliest_cert_expiry = Some(1_800_000_000);
    outcome.facts.dns_rcode = None;
    let change = machine.observe(outcome.state, &outcome.status_line(), t0);
    let ended = wall_time(t0);
    let run = BoardRun::of(
        &spec.name,
        (&outcome, outcome.status_line()),
        Duration::from_millis(3),
        ended,
        &machine,
        change.is_some(),
    );
    assert_eq!(run.status_line, "RAW_HTTP OK - HTTP/1.1 200 OK");
    assert_eq!(
        (run.health, run.streak, run.changed),
        (Health::Down, 1, false)
    );
    assert_eq!(run.facts.http_status, Some(200));
    assert_eq!(run.facts.ssl_earliest_cert_expiry, Some(1_800_000_000));
    let board = Board::new();
    board.set_checks(vec![BoardCheck::of(
        spec,
        &machine,
        wall_time(machine.since()),
    )]);
    board.record(&run);
    // A later run that learned nothing (a refused connect) keeps the
    // facts: the certificate did not go away.
    let refused = Outcome::new("RAW_HTTP", State::Critical, "refused");
    board.record(&BoardRun::of(
        &spec.name,
        (&refused, refused.status_line()),
        Duration::ZERO,
        ended,
        &machine,
        false,
    ));
    let (_, text) = board.metrics(false);
    assert!(text.contains("check_raw_http_status_code{check=\"web-rs1\""));
    assert!(text.contains("} 1800000000\n"));
}
