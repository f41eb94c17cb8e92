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

#[macro_use]
mod harness;

use std::path::Path;
use std::time::Duration;

use harness::prometheus::*;
use harness::*;

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

/// The address the test daemon listens on, in the `lb` namespace (its own
/// loopback); the shipped configuration's is the same.
const LISTEN: &str = "127.0.0.1:9917";

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
    assert!(
        r.code == Some(0) && !r.killed,
        "{what} failed:\n{r}"
    );
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
        r.stdout.contains(&format!("SUCCESS: {} rules found", ALERTS.len())),
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
                Some("exp_alerts:") if lines.get(i + 2).is_some_and(|l| l.starts_with("- exp_labels:")) => {
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
    let vars = dash["templating"]["list"].as_array().expect("templating.list");
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
        ("scrape_interval: 15s", "scrape_interval: 1s\n  scrape_timeout: 900ms"),
        ("evaluation_interval: 15s", "evaluation_interval: 1s"),
        ("  - check_raw.rules.yml", &format!("  - {rules}")),
        ("127.0.0.1:9917", listen),
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

mod live {
    //! Prometheus against a stand-in for the daemon's listener.
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::harness::prometheus::*;
    use super::harness::*;
    use super::*;

    fn exposition(rs2_up: bool) -> String {
        let up = u8::from(rs2_up);
        format!(
            "# HELP check_raw_up Whether the check is up.\n# TYPE check_raw_up gauge\n\
             check_raw_up{{check=\"web-rs1\",kind=\"http\",interface=\"eth0\",real_server=\"{RS1}\",vip=\"{VIP}\",port=\"8080\"}} 1\n\
             check_raw_up{{check=\"web-rs2\",kind=\"http\",interface=\"eth0\",real_server=\"{RS2}\",vip=\"{VIP}\",port=\"8080\"}} {up}\n"
        )
    }

    fn stub(tb: &Testbed, rs2: Arc<AtomicBool>) {
        let port: u16 = LISTEN.rsplit(':').next().unwrap().parse().unwrap();
        tb.serve(
            "lb",
            port,
            Behaviour::custom(move |mut s| {
                use std::io::Write;
                let req = read_request(&mut s).unwrap_or_default();
                let req = String::from_utf8_lossy(&req);
                let target = req.split(' ').nth(1).unwrap_or("");
                let up = rs2.load(Ordering::SeqCst);
                let body = if target.starts_with("/metrics") {
                    exposition(up)
                } else if target.starts_with("/probe") {
                    let ok = !target.contains(&format!("target={RS2}")) || up;
                    format!("# TYPE probe_success gauge\nprobe_success {}\n", u8::from(ok))
                } else {
                    String::new()
                };
                let _ = write!(
                    s,
                    "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            }),
        );
    }

    #[test]
    fn prometheus_follows_a_stub() {
        require!(Need::Testbed, PROMETHEUS);
        let tb = Testbed::without_servers();
        let rs2 = Arc::new(AtomicBool::new(true));
        stub(&tb, Arc::clone(&rs2));
        let config = test_config(LISTEN, &shipped("check_raw.rules.yml"));
        let prom = Prometheus::start(&tb, "lb", &config);
        let limit = Duration::from_secs(20);
        let up = r#"check_raw_up{job="check_raw",check="web-rs2"}"#;
        let probe = format!(r#"probe_success{{job="check_raw_probe",instance="{RS2}"}}"#);
        let t = prom.wait_value(up, 1.0, limit, "");
        println!("up: {t:?}");
        prom.wait_value(&probe, 1.0, limit, "");
        rs2.store(false, Ordering::SeqCst);
        let t = prom.wait_value(up, 0.0, limit, "");
        println!("down: {t:?}");
        prom.wait_value(&probe, 0.0, limit, "");
        rs2.store(true, Ordering::SeqCst);
        prom.wait_value(up, 1.0, limit, "");
        prom.wait_value(&probe, 1.0, limit, "");
        println!("{}", prom.diag());
        let _ = Duration::ZERO;
    }
}
