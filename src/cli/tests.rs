//! Argument parsing: every form the C original accepted, and every bad
//! value rejected with a message naming the argument.

use super::*;

fn argv(line: &str) -> Vec<OsString> {
    line.split_whitespace().map(OsString::from).collect()
}

fn tcp(line: &str) -> TcpConfig {
    match parse(argv(line)) {
        Ok(Command::Check(Config::Tcp(cfg))) => cfg,
        other => panic!("{line}: {other:?}"),
    }
}

fn usage_error(line: &str) -> String {
    match parse(argv(line)) {
        Err(e) => e.message,
        Ok(other) => panic!("{line}: expected a usage error, got {other:?}"),
    }
}

const GOOD: &str = "eth0 198.51.100.11 203.0.113.10 80";

#[test]
fn plain_tcp_check_with_defaults() {
    let cfg = tcp(&format!("/usr/lib/check_raw/check_raw_tcp {GOOD}"));
    assert_eq!(cfg.common.target.iface, "eth0");
    assert_eq!(
        cfg.common.target.real_server,
        "198.51.100.11".parse::<IpAddr>().unwrap()
    );
    assert_eq!(
        cfg.common.target.vip,
        "203.0.113.10".parse::<IpAddr>().unwrap()
    );
    assert_eq!(cfg.common.target.port, 80);
    assert_eq!(cfg.common.timeout, Duration::from_millis(1000));
    assert_eq!(cfg.common.role, RoleSource::Default);
    assert_eq!(cfg.common.verbosity, 0);
    assert!(!cfg.clean_close);
}

#[test]
fn subcommand_form() {
    let cfg = tcp(&format!("check_raw tcp -c {GOOD}"));
    assert!(cfg.clean_close);
}

#[test]
fn gnu_style_option_forms() {
    for line in [
        format!("check_raw_tcp -t500 {GOOD}"),
        format!("check_raw_tcp -t 500 {GOOD}"),
        format!("check_raw_tcp --timeout=500 {GOOD}"),
        format!("check_raw_tcp --timeout 500 {GOOD}"),
        "check_raw_tcp eth0 198.51.100.11 -t 500 203.0.113.10 80".to_string(),
        format!("check_raw_tcp {GOOD} -t500"),
    ] {
        assert_eq!(
            tcp(&line).common.timeout,
            Duration::from_millis(500),
            "{line}"
        );
    }
}

#[test]
fn verbosity_counts_and_combines() {
    assert_eq!(
        tcp(&format!("check_raw_tcp -vvv {GOOD}")).common.verbosity,
        3
    );
    assert_eq!(
        tcp(&format!("check_raw_tcp -v -v {GOOD}")).common.verbosity,
        2
    );
    assert_eq!(
        tcp(&format!("check_raw_tcp --verbose -v {GOOD}"))
            .common
            .verbosity,
        2
    );
    let cfg = tcp(&format!("check_raw_tcp -cv {GOOD}"));
    assert!(cfg.clean_close);
    assert_eq!(cfg.common.verbosity, 1);
}

#[test]
fn role_file_and_auto() {
    let cfg = tcp(&format!("check_raw_tcp -r /run/lb.role {GOOD}"));
    assert_eq!(cfg.common.role, RoleSource::File("/run/lb.role".into()));
    let cfg = tcp(&format!("check_raw_tcp --role-file=auto {GOOD}"));
    assert_eq!(cfg.common.role, RoleSource::Auto);
}

#[test]
fn double_dash_ends_options() {
    let cfg = tcp(&format!("check_raw_tcp -c -- {GOOD}"));
    assert!(cfg.clean_close);
    assert_eq!(cfg.common.target.port, 80);
}

#[test]
fn help_and_version() {
    assert!(matches!(
        parse(argv("check_raw_tcp --help")),
        Ok(Command::Help(Mode::Tcp))
    ));
    assert!(matches!(
        parse(argv("check_raw_tcp -h eth0")),
        Ok(Command::Help(Mode::Tcp))
    ));
    assert!(matches!(
        parse(argv("check_raw tcp -V")),
        Ok(Command::Version(Mode::Tcp))
    ));
    assert!(help(Mode::Tcp).contains("SOURCE_IFACE"));
    assert!(help(Mode::Tcp).contains("WHOLE check"));
    assert!(version(Mode::Tcp).starts_with("check_raw_tcp v"));
}

#[test]
fn bad_ports() {
    for (port, why) in [
        ("0", "1-65535"),
        ("70000", "1-65535"),
        ("http", "not a number"),
        ("-1", "unknown option"),
        ("80x", "not a number"),
        ("99999999999999999999", "1-65535"),
    ] {
        let msg = usage_error(&format!(
            "check_raw_tcp eth0 198.51.100.11 203.0.113.10 {port}"
        ));
        assert!(msg.contains(why), "{port}: {msg}");
    }
}

#[test]
fn bad_interfaces() {
    let msg = usage_error("check_raw_tcp averyveryverylongname 198.51.100.11 203.0.113.10 80");
    assert!(
        msg.contains("SOURCE_IFACE") && msg.contains("15 bytes"),
        "{msg}"
    );
    let msg = usage_error("check_raw_tcp a/b 198.51.100.11 203.0.113.10 80");
    assert!(msg.contains("SOURCE_IFACE"), "{msg}");
    let long = "x".repeat(300);
    let msg = usage_error(&format!(
        "check_raw_tcp {long} 198.51.100.11 203.0.113.10 80"
    ));
    assert!(msg.contains("SOURCE_IFACE") && msg.len() < 200, "{msg}");
}

#[test]
fn bad_addresses_name_the_argument() {
    let msg = usage_error("check_raw_tcp eth0 300.1.1.1 203.0.113.10 80");
    assert!(msg.contains("REAL_SERVER '300.1.1.1'"), "{msg}");
    let msg = usage_error("check_raw_tcp eth0 198.51.100.11 1.2.3 80");
    assert!(msg.contains("VIRTUAL_IP '1.2.3'"), "{msg}");
    let msg = usage_error("check_raw_tcp eth0 bad!name 203.0.113.10 80");
    assert!(msg.contains("REAL_SERVER"), "{msg}");
    let long = "a".repeat(3000);
    let msg = usage_error(&format!("check_raw_tcp eth0 {long} 203.0.113.10 80"));
    assert!(msg.contains("REAL_SERVER") && msg.len() < 300, "{msg}");
}

#[test]
fn localhost_name_resolves() {
    let cfg = tcp("check_raw_tcp lo localhost 203.0.113.10 80");
    assert!(cfg.common.target.real_server.is_loopback());
}

#[test]
fn bad_counts_and_options() {
    assert!(usage_error("check_raw_tcp eth0 198.51.100.11 203.0.113.10").contains("missing PORT"));
    assert!(usage_error("check_raw_tcp").contains("missing SOURCE_IFACE"));
    assert!(usage_error(&format!("check_raw_tcp {GOOD} extra")).contains("too many"));
    assert!(
        usage_error(&format!("check_raw_tcp --bogus {GOOD}")).contains("unknown option '--bogus'")
    );
    assert!(usage_error(&format!("check_raw_tcp -x {GOOD}")).contains("unknown option"));
    assert!(usage_error(&format!("check_raw_tcp {GOOD} -t")).contains("needs a value"));
}

#[test]
fn bad_timeouts() {
    for t in ["abc", "0", "-5", "600001", "1.5"] {
        let msg = usage_error(&format!("check_raw_tcp -t {t} {GOOD}"));
        assert!(
            msg.contains("timeout") || msg.contains("unknown option"),
            "{t}: {msg}"
        );
    }
    assert_eq!(
        tcp(&format!("check_raw_tcp -t 600000 {GOOD}"))
            .common
            .timeout,
        Duration::from_secs(600)
    );
}

#[test]
fn program_names() {
    let e = parse(argv(&format!("check_raw_foo {GOOD}"))).unwrap_err();
    assert_eq!(e.mode, None);
    assert!(e.message.contains("check_raw_tcp"), "{}", e.message);
    let e = parse(argv("check_raw")).unwrap_err();
    assert!(e.message.contains("tcp, http_get or http"), "{}", e.message);
    let e = parse(argv("check_raw bogus")).unwrap_err();
    assert!(e.message.contains("'bogus'"), "{}", e.message);
    assert_eq!(Mode::from_name("check_raw_http_get"), Some(Mode::HttpGet));
    assert_eq!(Mode::from_name("http"), Some(Mode::Http));
}

#[test]
fn huge_arguments_are_refused_early() {
    let huge = "9".repeat(10_000);
    let msg = usage_error(&format!(
        "check_raw_tcp eth0 198.51.100.11 203.0.113.10 {huge}"
    ));
    assert!(msg.contains("too long"), "{msg}");
}

#[test]
fn role_file_name_limits() {
    let msg = usage_error(&format!("check_raw_tcp -r {} {GOOD}", "r".repeat(5000)));
    assert!(msg.contains("role file"), "{msg}");
}

#[test]
fn ipv6_targets_and_families() {
    let cfg = tcp("check_raw_tcp eth0 2001:db8::11 2001:db8:1::10 443");
    assert!(cfg.common.target.real_server.is_ipv6());
    assert!(cfg.common.target.vip.is_ipv6());
    let msg = usage_error("check_raw_tcp eth0 2001:db8::11 203.0.113.10 80");
    assert!(msg.contains("different address families"), "{msg}");
    let msg = usage_error("check_raw_tcp -4 eth0 2001:db8::11 2001:db8:1::10 80");
    assert!(msg.contains("REAL_SERVER") && msg.contains("-4"), "{msg}");
    let msg = usage_error("check_raw_tcp -4 -6 eth0 2001:db8::11 2001:db8:1::10 80");
    assert!(msg.contains("exclude"), "{msg}");
    // A name takes the family of the literal beside it.
    let cfg = tcp("check_raw_tcp lo localhost 127.0.0.2 80");
    assert!(cfg.common.target.real_server.is_ipv4());
}

#[test]
fn source_override() {
    let cfg = tcp(&format!("check_raw_tcp --source 198.51.100.7 {GOOD}"));
    assert_eq!(
        cfg.common.target.source,
        Some("198.51.100.7".parse().unwrap())
    );
    let msg = usage_error(&format!("check_raw_tcp --source 2001:db8::7 {GOOD}"));
    assert!(msg.contains("--source"), "{msg}");
    let msg = usage_error(&format!("check_raw_tcp --source nonsense {GOOD}"));
    assert!(msg.contains("--source"), "{msg}");
}
