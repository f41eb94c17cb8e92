//! Unit tests of `/probe`: the request's validation (nothing is sent for
//! a refused one), blackbox's timeout arithmetic, and the exposition. No
//! root, no network: names resolve by a fake, no run is made.

use super::*;
use crate::outcome::Facts;
use crate::serve::config::ServeConfig;
use std::path::Path;

fn fake(name: &str, _: Duration) -> std::io::Result<Vec<IpAddr>> {
    match name {
        "vip.example" => Ok(vec!["203.0.113.10".parse().unwrap()]),
        _ => Err(std::io::Error::other("no such name")),
    }
}

const FILE: &str = r#"
[[module]]
name = "http_vip"
command = "check_raw_http -S 200 -t 900 eth0 {target} 203.0.113.10 80 www.example.com /health"

[[module]]
name = "dns6"
command = "check_raw_dns eth0 {target} 2001:db8::53 53 www.example.com"

[[check]]
name = "c"
command = "check_raw_tcp eth0 198.51.100.11 203.0.113.10 80"
"#;

fn modules() -> Modules {
    ServeConfig::parse(Path::new("/s.toml"), FILE, &fake)
        .unwrap()
        .modules
}

fn request<'a>(module: &'a str, target: &'a str) -> ProbeRequest<'a> {
    ProbeRequest {
        module,
        target,
        debug: false,
        scrape_timeout: None,
    }
}

/// The one line a request is refused with.
fn refusal(module: &str, target: &str) -> String {
    let waiter = Waiter::install().unwrap();
    let modules = modules();
    match prepare(&request(module, target), &modules, Instant::now(), &waiter) {
        Ok((m, _, t)) => panic!("{} {t} accepted", m.name),
        Err(line) => {
            assert!(!line.contains('\n'), "{line:?}");
            line
        }
    }
}

#[test]
fn a_good_request_gets_the_command_with_its_target() {
    let waiter = Waiter::install().unwrap();
    let modules = modules();
    let (module, config, target) = prepare(
        &request("http_vip", "198.51.100.12"),
        &modules,
        Instant::now(),
        &waiter,
    )
    .unwrap();
    assert_eq!(module.name, "http_vip");
    assert_eq!(target, "198.51.100.12".parse::<IpAddr>().unwrap());
    assert_eq!(config.common().target.real_server, target);
    assert_eq!(config.common().timeout, Duration::from_millis(900));
    let (_, config, _) = prepare(
        &request("dns6", "2001:db8::11"),
        &modules,
        Instant::now(),
        &waiter,
    )
    .unwrap();
    assert!(matches!(config, Config::Dns(_)));
}

#[test]
fn unknown_modules_and_missing_parameters_are_refused() {
    assert_eq!(
        refusal("nope", "198.51.100.12"),
        "unknown module \"nope\" (modules: dns6, http_vip)"
    );
    assert_eq!(
        refusal("", "198.51.100.12"),
        "the module parameter is missing (module=NAME)"
    );
    assert_eq!(
        refusal("http_vip", ""),
        "the target parameter is missing (target=REAL_SERVER)"
    );
    let long = "x".repeat(10_000);
    assert!(refusal(&long, "198.51.100.12").len() < 300);
}

#[test]
fn a_target_is_an_address_of_the_modules_family_and_nothing_else() {
    for bad in [
        "198.51.100.12:80",
        "198.51.100.12 ",
        " 198.51.100.12",
        "198.51.100.012",
        "rs.example",
        "http://198.51.100.12/",
        "[2001:db8::11]",
        "198.51.100.12\n",
        "198.51.100.12;reboot",
    ] {
        let line = refusal("http_vip", bad);
        assert!(
            line.starts_with("target \"") && line.contains("is not an IPv4 address"),
            "{bad:?}: {line}"
        );
    }
    assert_eq!(
        refusal("http_vip", "2001:db8::11"),
        "target 2001:db8::11 is not an IPv4 address: module http_vip's command needs one"
    );
    assert_eq!(
        refusal("dns6", "198.51.100.12"),
        "target 198.51.100.12 is not an IPv6 address: module dns6's command needs one"
    );
    let line = refusal("dns6", "fe80::1%eth0");
    assert!(line.contains("is not an IPv6 address"), "{line}");
}

#[test]
fn a_refusal_is_a_400_with_one_line() {
    let a = ProbeAnswer::refused("bad\r\nthing");
    assert_eq!(a.status, 400);
    assert_eq!(a.content_type, TEXT_TYPE);
    assert_eq!(a.body.lines().count(), 1, "{:?}", a.body);
    assert!(a.body.ends_with('\n'));
}

#[test]
fn the_timeout_is_the_smaller_of_t_and_the_scrape_timeout_less_half_a_second() {
    let ms = Duration::from_millis;
    assert_eq!(timeout(ms(900), None), ms(900));
    assert_eq!(timeout(ms(900), Some(ms(10_000))), ms(900));
    assert_eq!(timeout(ms(5_000), Some(ms(1_000))), ms(500));
    assert_eq!(timeout(ms(5_000), Some(ms(1_400))), ms(900));
    // At or below the offset: -t, as blackbox; just above: the least -t.
    assert_eq!(timeout(ms(5_000), Some(ms(500))), ms(5_000));
    assert_eq!(timeout(ms(5_000), Some(ms(300))), ms(5_000));
    assert_eq!(timeout(ms(5_000), Some(ms(510))), ms(50));
}

#[test]
fn the_scrape_timeout_header_is_a_plain_positive_number_of_seconds() {
    assert_eq!(scrape_timeout("10"), Some(Duration::from_secs(10)));
    assert_eq!(scrape_timeout(" 9.5 "), Some(Duration::from_millis(9_500)));
    assert_eq!(scrape_timeout("0.25"), Some(Duration::from_millis(250)));
    for bad in [
        "", "0", "0.0", "-1", "+1", "inf", "NaN", "1e3", "1.2.3", ".", "86401", "10s",
    ] {
        assert_eq!(scrape_timeout(bad), None, "{bad:?}");
    }
    assert_eq!(scrape_timeout(&"9".repeat(1000)), None);
}

fn config(command: &str) -> Config {
    parse_command(command, &fake).unwrap()
}

const RS: &str = "198.51.100.11";

#[test]
fn an_https_run_is_blackboxs_http_and_tls_gauges() {
    let cfg =
        config("check_raw_http -S 200 --ssl eth0 198.51.100.11 203.0.113.10 443 www.example.com /");
    let mut outcome = Outcome::new("RAW_HTTP", State::Ok, "HTTP/1.1 200 OK over TLSv1.3");
    outcome.facts = Facts {
        http_status: Some(200),
        http_content_length: Some(1234),
        http_version: Some("HTTP/1.1".into()),
        ssl_earliest_cert_expiry: Some(1_900_000_000),
        tls_version: Some("TLS 1.3".into()),
        ..Facts::default()
    };
    let text = exposition(
        &cfg,
        &outcome,
        Duration::from_millis(12),
        RS.parse().unwrap(),
    );
    assert_eq!(
        text,
        "# HELP check_raw_probe_state The check's Nagios state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
# TYPE check_raw_probe_state gauge
check_raw_probe_state 0
# HELP probe_duration_seconds Returns how long the probe took to complete in seconds
# TYPE probe_duration_seconds gauge
probe_duration_seconds 0.012
# HELP probe_http_content_length Length of http content response
# TYPE probe_http_content_length gauge
probe_http_content_length 1234
# HELP probe_http_ssl Indicates if SSL was used for the final redirect
# TYPE probe_http_ssl gauge
probe_http_ssl 1
# HELP probe_http_status_code Response HTTP status code
# TYPE probe_http_status_code gauge
probe_http_status_code 200
# HELP probe_http_version Returns the version of HTTP of the probe response
# TYPE probe_http_version gauge
probe_http_version 1.1
# HELP probe_ip_protocol Specifies whether probe ip protocol is IP4 or IP6
# TYPE probe_ip_protocol gauge
probe_ip_protocol 4
# HELP probe_ssl_earliest_cert_expiry Returns earliest SSL cert expiry in unixtime
# TYPE probe_ssl_earliest_cert_expiry gauge
probe_ssl_earliest_cert_expiry 1900000000
# HELP probe_success Displays whether or not the probe was a success
# TYPE probe_success gauge
probe_success 1
# HELP probe_tls_version_info Returns the TLS version used or NaN when unknown
# TYPE probe_tls_version_info gauge
probe_tls_version_info{version=\"TLS 1.3\"} 1
# check_raw_probe_status_line RAW_HTTP OK - HTTP/1.1 200 OK over TLSv1.3
"
    );
}

#[test]
fn a_failed_http_run_still_has_its_http_gauges_at_zero() {
    let cfg = config("check_raw_http -S 200 eth0 198.51.100.11 203.0.113.10 80 www.example.com /");
    let outcome = Outcome::new("RAW_HTTP", State::Critical, "no SYN/ACK");
    let text = exposition(
        &cfg,
        &outcome,
        Duration::from_millis(900),
        RS.parse().unwrap(),
    );
    for line in [
        "probe_success 0\n",
        "probe_http_status_code 0\n",
        "probe_http_version 0\n",
        "probe_http_ssl 0\n",
        "check_raw_probe_state 2\n",
        "probe_duration_seconds 0.9\n",
    ] {
        assert!(text.contains(line), "{line}{text}");
    }
    assert!(!text.contains("probe_tls_version_info"), "{text}");
    assert!(!text.contains("probe_ssl_earliest_cert_expiry"), "{text}");
}

#[test]
fn a_dns_run_counts_its_sections_and_a_tcp_run_has_only_the_common_gauges() {
    let cfg = config("check_raw_dns eth0 2001:db8::11 2001:db8::53 53 www.example.com");
    let mut outcome = Outcome::new("RAW_DNS", State::Warning, "slow");
    outcome.facts = Facts {
        dns_rcode: Some(3),
        dns_answer_rrs: Some(0),
        dns_authority_rrs: Some(1),
        dns_additional_rrs: Some(2),
        ..Facts::default()
    };
    let text = exposition(
        &cfg,
        &outcome,
        Duration::ZERO,
        "2001:db8::11".parse().unwrap(),
    );
    for line in [
        "probe_success 1\n",
        "check_raw_probe_state 1\n",
        "probe_ip_protocol 6\n",
        "probe_dns_answer_rrs 0\n",
        "probe_dns_authority_rrs 1\n",
        "probe_dns_additional_rrs 2\n",
        "check_raw_probe_dns_rcode 3\n",
    ] {
        assert!(text.contains(line), "{line}{text}");
    }
    let cfg = config("check_raw_tcp eth0 198.51.100.11 203.0.113.10 80");
    let outcome = Outcome::new("RAW_TCP", State::Unknown, "a\nb");
    let text = exposition(&cfg, &outcome, Duration::ZERO, RS.parse().unwrap());
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .collect();
    assert_eq!(
        names,
        [
            "check_raw_probe_state gauge",
            "probe_duration_seconds gauge",
            "probe_ip_protocol gauge",
            "probe_success gauge"
        ]
    );
    assert!(
        text.ends_with("# check_raw_probe_status_line RAW_TCP UNKNOWN - a b\n"),
        "{text}"
    );
}

#[test]
fn label_values_are_escaped() {
    assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    assert_eq!(http_version(Some("HTTP/1.0")), "1.0");
    assert_eq!(http_version(Some("HTTP/x")), "0");
    assert_eq!(http_version(None), "0");
}

#[test]
fn debug_text_is_blackboxs_log_metrics_and_module() {
    let modules = modules();
    let module = modules.get("http_vip").unwrap();
    let outcome = Outcome::new("RAW_HTTP", State::Ok, "fine")
        .with_details(vec!["> GET /health HTTP/1.1".into()]);
    let text = debug_text(
        module,
        RS.parse().unwrap(),
        Duration::from_millis(900),
        &outcome,
        "probe_success 1\n",
    );
    assert!(text.starts_with("Logs for the probe:\nmodule=http_vip target=198.51.100.11 timeout_seconds=0.900\nRAW_HTTP OK - fine\n> GET /health HTTP/1.1\n"), "{text}");
    assert!(
        text.contains("\n\n\nMetrics that would have been returned:\nprobe_success 1\n"),
        "{text}"
    );
    assert!(text.ends_with("\n\n\nModule configuration:\n[[module]]\nname = \"http_vip\"\ncommand = \"check_raw_http -S 200 -t 900 eth0 {target} 203.0.113.10 80 www.example.com /health\"\n"), "{text}");
}
