//! check_raw_serve as Prometheus sees it (issue 22): the shipped files of
//! `packaging/prometheus/` checked by promtool, and Debian's Prometheus
//! (2.42) scraping a real check_raw_serve in a testbed namespace.
//!
//! - `promtool check config`, `check rules` and `test rules` on the
//!   shipped files, and every alert of the rules covered by a unit test
//!   that fires and one that does not (no daemon, no root);
//! - the Grafana dashboard is JSON with a data source variable, and every
//!   `expr` parses as PromQL (`promtool check rules` on them as recording
//!   rules);
//! - Prometheus, on a configuration made from the shipped prometheus.yml
//!   (1 s scrapes, the daemon's address), scrapes `/metrics` and, through
//!   the blackbox relabelling, `/probe` for rs1 and rs2:
//!   `check_raw_up{check="web-rs2"}` and `probe_success` of rs2 go 1 -> 0
//!   when rs2 loses its VIP and back to 1 when it regains it; every
//!   dashboard expression evaluates without error (and with data where
//!   the test's checks give some); the shipped rules load healthy;
//!   `promtool check metrics` finds nothing in the daemon's `/metrics`.
//!
//! The network tests skip, with a message, when not root or without
//! Debian's `prometheus` (tests/deps.sh test installs it).

use std::path::Path;
use std::time::Duration;

use crate::harness::prometheus::*;
use crate::harness::serve::*;
use crate::harness::serve_cases::*;
use crate::harness::web_bed::*;
use crate::harness::*;

/// Every alert of the shipped rules, as `promtool test rules` must cover
/// them (a new alert fails `every_alert_has_a_unit_test...` until added
/// there and here).
const ALERTS: [&str; 6] = [
    "CheckRawRealServerDown",
    "CheckRawPoolDegraded",
    "CheckRawCertificateExpiringSoon",
    "CheckRawCheckStalled",
    "CheckRawExporterDown",
    "CheckRawReloadFailed",
];

/// Grafana's variables of the dashboard, as the test sets them: every job,
/// balancer and probe job (the "All" of Grafana is a regex too).
const GRAFANA_VARS: [(&str, &str); 3] = [
    ("job", "check_raw"),
    ("instance", ".+"),
    ("probe_job", "check_raw_probe"),
];
/// `$__rate_interval` with 1 s scrapes: four of them, as Grafana computes
/// it (4 x the scrape interval at least).
const RATE_INTERVAL: &str = "4s";

fn assert_ran(r: &RunResult, what: &str) {
    assert!(r.code == Some(0) && !r.killed, "{what} failed:\n{r}");
}

/// `promtool check config` on the shipped prometheus.yml (which names the
/// rules beside it), `check rules` and `test rules` on the shipped rules:
/// every unit test passes.
#[test]
fn promtool_checks_the_shipped_config_and_rules_and_their_unit_tests_pass() {
    require!(PROMTOOL);
    let dir = shipped("");
    let r = promtool(&["check", "config", "prometheus.yml"], &dir);
    assert_ran(&r, "promtool check config");
    assert!(r.stdout.contains("SUCCESS"), "{r}");
    let r = promtool(&["check", "rules", "check_raw.rules.yml"], &dir);
    assert_ran(&r, "promtool check rules");
    assert!(
        r.stdout
            .contains(&format!("SUCCESS: {} rules found", ALERTS.len())),
        "{r}"
    );
    let r = promtool(&["test", "rules", "check_raw.rules.test.yml"], &dir);
    assert_ran(&r, "promtool test rules");
    assert!(r.stdout.contains("SUCCESS"), "{r}");
    println!("{}", r.stdout.trim_end());
}

/// The rules define exactly `ALERTS`, and the unit tests hold, for each,
/// an evaluation that expects it to fire and one that expects nothing: a
/// rule whose test only ever expects silence would pass while broken.
#[test]
fn every_alert_has_a_unit_test_that_fires_and_one_that_does_not() {
    let rules = shipped_text("check_raw.rules.yml");
    let mut defined: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert:"))
        .map(str::trim)
        .collect();
    defined.sort_unstable();
    let mut want = ALERTS.to_vec();
    want.sort_unstable();
    assert_eq!(defined, want, "the alerts of check_raw.rules.yml");

    let tests = shipped_text("check_raw.rules.test.yml");
    let lines: Vec<&str> = tests
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for alert in ALERTS {
        let (mut fires, mut silent) = (0, 0);
        for (i, line) in lines.iter().enumerate() {
            if *line != format!("alertname: {alert}") {
                continue;
            }
            match lines.get(i + 1).copied() {
                Some("exp_alerts: []") => silent += 1,
                Some("exp_alerts:")
                    if lines
                        .get(i + 2)
                        .is_some_and(|l| l.starts_with("- exp_labels:")) =>
                {
                    fires += 1
                }
                other => panic!("{alert}: alertname not followed by exp_alerts: {other:?}"),
            }
        }
        assert!(
            fires > 0 && silent > 0,
            "{alert}: {fires} evaluation(s) expecting it to fire, {silent} expecting none; \
             check_raw.rules.test.yml needs both"
        );
    }
}

/// The dashboard: JSON Grafana imports (a title, a uid, panels, a data
/// source variable every panel uses) whose every `expr`, its variables
/// replaced, parses as PromQL: promtool checks them as recording rules.
#[test]
fn the_dashboard_is_importable_and_its_promql_parses() {
    require!(PROMTOOL);
    let dash: serde_json::Value = serde_json::from_str(&shipped_text("grafana-dashboard.json"))
        .expect("grafana-dashboard.json is JSON");
    for key in ["title", "uid"] {
        assert!(dash[key].is_string(), "the dashboard has a {key}");
    }
    let vars = dash["templating"]["list"]
        .as_array()
        .expect("templating.list");
    assert!(
        vars.iter()
            .any(|v| v["type"] == "datasource" && v["query"] == "prometheus"),
        "a Prometheus data source variable, so that it imports anywhere"
    );
    let panels = dash["panels"].as_array().expect("panels");
    for p in panels.iter().filter(|p| p["type"] != "row") {
        assert_eq!(
            p["datasource"]["uid"], "${datasource}",
            "panel {} uses the data source variable",
            p["title"]
        );
    }
    let exprs = dashboard_exprs(&dash);
    assert!(exprs.len() >= 10, "the dashboard's queries: {exprs:?}");
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        let e = expand_grafana(e, RATE_INTERVAL, &GRAFANA_VARS);
        rules.push_str(&format!(
            "      - record: dashboard:expr_{i}\n        expr: |\n          {}\n",
            e.replace('\n', "\n          ")
        ));
    }
    let tmp = TempDir::new();
    tmp.write("dashboard.rules.yml", rules.as_bytes());
    let r = promtool(&["check", "rules", "dashboard.rules.yml"], tmp.path());
    assert_ran(&r, "promtool check rules on the dashboard's expressions");
    println!("{} dashboard expressions parse", exprs.len());
}

/// The test's prometheus.yml: the shipped one with 1 s scrapes and
/// evaluations, the daemon at `listen`, the shipped rules by their path.
/// Each replaced text must be there: a change to the shipped file that
/// this misses fails here, not silently.
fn test_config(listen: &str, rules: &Path) -> String {
    let mut text = shipped_text("prometheus.yml");
    let rules = rules.display().to_string();
    for (from, to) in [
        (
            "scrape_interval: 15s",
            "scrape_interval: 1s\n  scrape_timeout: 900ms",
        ),
        ("evaluation_interval: 15s", "evaluation_interval: 1s"),
        ("  - check_raw.rules.yml", &format!("  - {rules}")),
        ("127.0.0.1:10117", listen),
        // The shipped targets are the testbed's real servers already
        // (documentation addresses); kept as they are.
        (&format!("- {RS1}\n"), &format!("- {RS1}\n")),
        (&format!("- {RS2}\n"), &format!("- {RS2}\n")),
    ] {
        assert!(
            text.contains(from),
            "packaging/prometheus/prometheus.yml has no {from:?}"
        );
        text = text.replace(from, to);
    }
    text
}

#[test]
fn the_test_config_is_valid() {
    require!(PROMTOOL);
    let tmp = TempDir::new();
    let config = test_config(LISTEN, &shipped("check_raw.rules.yml"));
    tmp.write("prometheus.yml", config.as_bytes());
    let r = promtool(&["check", "config", "prometheus.yml"], tmp.path());
    assert_ran(&r, "promtool check config on the test's configuration");
}

/// Series the test's daemon must give the dashboard (an empty answer to
/// an expression over them fails); the others (TLS, DNS: no such check
/// here) may be empty.
const MUST_HAVE_DATA: [&str; 10] = [
    "check_raw_up",
    "check_raw_probe_success",
    "check_raw_checks_total",
    "check_raw_probe_duration_seconds",
    "check_raw_last_check_timestamp_seconds",
    "check_raw_build_info",
    "check_raw_config_last_reload_successful",
    "check_raw_frames_sent_total",
    "probe_success",
    "probe_duration_seconds",
];

/// How long a change may take to show in Prometheus: the daemon's fall
/// (or rise) runs, a run's timeout, slack, and two 1 s scrapes.
fn follow_limit() -> Duration {
    fall_limit(TIMING).max(rise_limit(TIMING)) + Duration::from_secs(2)
}

/// Prometheus on the shipped configuration (1 s scrapes) scrapes a real
/// check_raw_serve in `lb`: `/metrics`, and `/probe` of rs1 and rs2
/// through the blackbox relabelling. rs2 loses its VIP: its check's
/// `check_raw_up` and its `probe_success` go to 0 (rs1's stay 1); the VIP
/// back, both return to 1. Then every dashboard expression evaluates
/// without error, the shipped rules are loaded and healthy, and `promtool
/// check metrics` finds nothing in the daemon's `/metrics`.
#[test]
fn prometheus_follows_rs2_losing_and_regaining_its_vip() {
    require!(Need::Testbed, PROMETHEUS, PROMTOOL);
    let (tb, bed) = healthy_bed();
    if !listener_built(&bed, &tb) {
        return;
    }
    let checks = web_checks();
    let d = launch_listening(&bed, &tb, &[], &checks);
    let config = test_config(LISTEN, &shipped("check_raw.rules.yml"));
    let prom = Prometheus::start(&tb, "lb", &config);
    let limit = follow_limit();
    let up = |check: &str| format!(r#"check_raw_up{{job="check_raw",check="{check}"}}"#);
    let probe = |rs: &str| format!(r#"probe_success{{job="check_raw_probe",instance="{rs}"}}"#);
    let wait = |expr: &str, want: f64, what: &str| {
        let took = prom.wait_value(expr, want, limit, &d.diag());
        println!("{what}: {expr} = {want} after {took:?}");
    };

    wait(&up("web-rs2"), 1.0, "all healthy");
    wait(&up("web-rs1"), 1.0, "all healthy");
    wait(&probe(RS2), 1.0, "all healthy");
    wait(&probe(RS1), 1.0, "all healthy");

    tb.remove_vip("rs2");
    wait(&up("web-rs2"), 0.0, "rs2 without its VIP");
    wait(&probe(RS2), 0.0, "rs2 without its VIP");
    wait(&up("vip-rs2"), 0.0, "rs2 without its VIP");
    for (expr, what) in [(up("web-rs1"), "web-rs1"), (probe(RS1), "rs1's probe")] {
        assert_eq!(
            prom.value(&expr),
            Some(1.0),
            "{what} stays up while rs2 lacks the VIP\n{}",
            prom.diag()
        );
    }

    put_vips_back(&tb, "rs2");
    wait(&up("web-rs2"), 1.0, "rs2 with its VIP back");
    wait(&probe(RS2), 1.0, "rs2 with its VIP back");

    dashboard_queries_evaluate(&prom, &d);
    shipped_rules_are_healthy(&prom, &d);
    exposition_passes_promtool(&tb, &d);
}

/// Every `expr` of the dashboard, Grafana's variables replaced, answers
/// without error; those over `MUST_HAVE_DATA` series with data.
fn dashboard_queries_evaluate(prom: &Prometheus, d: &ServeProc) {
    let dash: serde_json::Value =
        serde_json::from_str(&shipped_text("grafana-dashboard.json")).expect("JSON");
    let mut empty = Vec::new();
    let exprs = dashboard_exprs(&dash);
    for e in &exprs {
        let q = expand_grafana(e, RATE_INTERVAL, &GRAFANA_VARS);
        match prom.query(&q) {
            QueryResult::Error(err) => panic!("dashboard expression {q}: {err}\n{}", d.diag()),
            QueryResult::Vector(v) if v.is_empty() => {
                let needed = MUST_HAVE_DATA
                    .iter()
                    .any(|m| q.contains(&format!("{m}{{")) || q.contains(&format!("{m}_bucket{{")));
                assert!(
                    !needed,
                    "dashboard expression {q}: no data\n{}",
                    prom.diag()
                );
                empty.push(q);
            }
            QueryResult::Vector(_) => {}
        }
    }
    println!(
        "{} dashboard expressions evaluated without error; empty here (no TLS or DNS check): {empty:?}",
        exprs.len()
    );
}

/// The shipped rules, loaded by the test's Prometheus, evaluate without
/// error (health `ok` once evaluated).
fn shipped_rules_are_healthy(prom: &Prometheus, d: &ServeProc) {
    let start = std::time::Instant::now();
    let rules = loop {
        let rules = prom.rules();
        if rules.len() == ALERTS.len() && rules.iter().all(|(_, h, _)| h == "ok") {
            break rules;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the shipped rules not all healthy: {rules:?}\n{}\n{}",
            prom.diag(),
            d.diag()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let names: Vec<&str> = rules.iter().map(|(n, _, _)| n.as_str()).collect();
    println!("rules loaded and healthy: {names:?}");
}

/// `promtool check metrics` on the daemon's `/metrics` (the text format, as
/// a scraper that does not ask for OpenMetrics gets it): nothing to say.
fn exposition_passes_promtool(tb: &Testbed, d: &ServeProc) {
    let r = http_get(tb.ns("lb"), LISTEN, "/metrics", &[]).expect("GET /metrics");
    assert_eq!(r.status, 200, "{r:?}");
    let tmp = TempDir::new();
    let lint = promtool_check_metrics(&r.body, tmp.path());
    assert!(
        lint.code == Some(0) && lint.stdout.trim().is_empty() && lint.stderr.trim().is_empty(),
        "promtool check metrics:\n{lint}\n--- /metrics ---\n{}\n{}",
        r.body,
        d.diag()
    );
    println!(
        "promtool check metrics: nothing on {} lines of /metrics ({})",
        r.body.lines().count(),
        r.header("content-type").unwrap_or("")
    );
}
