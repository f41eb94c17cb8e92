//! Argument parsing: every form the C original accepted, and every bad
//! value rejected with a message naming the argument.

use super::*;
use crate::http::Method;

fn argv(line: &str) -> Vec<OsString> {
    line.split_whitespace().map(OsString::from).collect()
}

fn tcp(line: &str) -> TcpConfig {
    match parse_with(argv(line), &|n, _| fake_resolver(n)) {
        Ok(Command::Check(Config::Tcp(cfg))) => *cfg,
        other => panic!("{line}: {other:?}"),
    }
}

fn usage_error(line: &str) -> String {
    full_usage_error(line).message
}

fn full_usage_error(line: &str) -> UsageError {
    match parse_with(argv(line), &|n, _| fake_resolver(n)) {
        Err(e) => e,
        Ok(other) => panic!("{line}: expected a usage error, got {other:?}"),
    }
}

/// Names used in tests resolve without DNS.
fn fake_resolver(name: &str) -> std::io::Result<Vec<IpAddr>> {
    match name {
        "localhost" => Ok(vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()]),
        "rs1.example" => Ok(vec![
            "2001:db8::11".parse().unwrap(),
            "198.51.100.11".parse().unwrap(),
        ]),
        _ => Err(std::io::Error::other("no such name")),
    }
}

fn http(line: &str) -> HttpConfig {
    match parse_with(argv(line), &|n, _| fake_resolver(n)) {
        Ok(Command::Check(Config::Http(_, cfg))) => *cfg,
        other => panic!("{line}: {other:?}"),
    }
}

const GOOD: &str = "eth0 198.51.100.11 203.0.113.10 80";

#[test]
fn plain_tcp_check_with_defaults() {
    let cfg = tcp(&format!("/usr/lib/check_raw/check_raw_tcp {GOOD}"));
    assert_eq!(cfg.common.target.iface, IfaceArg::Named("eth0".into()));
    assert_eq!(cfg.common.protocol, Protocol::Nagios);
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
        Ok(Command::Help(Mode::Tcp, Protocol::Nagios))
    ));
    assert!(matches!(
        parse(argv("check_raw_tcp -h eth0")),
        Ok(Command::Help(Mode::Tcp, Protocol::Nagios))
    ));
    assert!(matches!(
        parse(argv("check_raw tcp -V")),
        Ok(Command::Version(Mode::Tcp, Protocol::Nagios))
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
    assert!(
        e.message.contains("tcp, http_get, http, dns or vip"),
        "{}",
        e.message
    );
    assert_eq!(Mode::from_name("check_raw_dns"), Some(Mode::Dns));
    assert_eq!(Mode::from_name("check_raw_vip"), Some(Mode::Vip));
    let e = parse(argv("check_raw bogus")).unwrap_err();
    assert!(e.message.contains("'bogus'"), "{}", e.message);
    assert_eq!(Mode::from_name("check_raw_http_get"), Some(Mode::HttpGet));
    assert_eq!(Mode::from_name("http"), Some(Mode::Http));
    assert_eq!(Mode::from_name("check_raw_vip"), Some(Mode::Vip));
    assert_eq!(Mode::from_name("vip"), Some(Mode::Vip));
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

#[test]
fn names_resolve_in_the_family_of_the_literal_beside_them() {
    let cfg = tcp("check_raw_tcp eth0 rs1.example 203.0.113.10 80");
    assert_eq!(
        cfg.common.target.real_server,
        "198.51.100.11".parse::<IpAddr>().unwrap()
    );
    let cfg = tcp("check_raw_tcp eth0 rs1.example 2001:db8:1::10 80");
    assert_eq!(
        cfg.common.target.real_server,
        "2001:db8::11".parse::<IpAddr>().unwrap()
    );
    let cfg = tcp("check_raw_tcp -6 eth0 rs1.example rs1.example 80");
    assert!(cfg.common.target.vip.is_ipv6());
    let msg = usage_error("check_raw_tcp eth0 nosuch.example 203.0.113.10 80");
    assert!(msg.contains("cannot resolve"), "{msg}");
}

#[test]
fn exit_protocols_and_weight() {
    let cfg = tcp(&format!("check_raw_tcp --protocol keepalived {GOOD}"));
    assert_eq!(cfg.common.protocol, Protocol::Keepalived);
    let cfg = tcp(&format!(
        "check_raw_tcp --protocol=keepalived-dynamic --weight 100 {GOOD}"
    ));
    assert_eq!(
        cfg.common.protocol,
        Protocol::KeepalivedDynamic { weight: 100 }
    );
    let e = full_usage_error(&format!(
        "check_raw_tcp --protocol keepalived-dynamic {GOOD}"
    ));
    assert!(e.message.contains("--weight"), "{}", e.message);
    let e = full_usage_error(&format!("check_raw_tcp --weight 5 {GOOD}"));
    assert!(e.message.contains("keepalived-dynamic"), "{}", e.message);
    let e = full_usage_error(&format!(
        "check_raw_tcp --protocol keepalived-dynamic --weight 254 {GOOD}"
    ));
    assert!(e.message.contains("0-253"), "{}", e.message);
}

#[test]
fn usage_errors_exit_per_protocol() {
    // Nagios: 3; the daemons: 1, also for a protocol we do not know.
    let e = full_usage_error("check_raw_tcp eth0 198.51.100.11 203.0.113.10 0");
    assert_eq!(e.protocol.exit_code(crate::outcome::State::Unknown), 3);
    let e =
        full_usage_error("check_raw_tcp --protocol keepalived eth0 198.51.100.11 203.0.113.10 0");
    assert_eq!(e.protocol.exit_code(crate::outcome::State::Unknown), 1);
    let e = full_usage_error("check_raw_tcp --protocol=ldirectord --bogus");
    assert_eq!(e.protocol.exit_code(crate::outcome::State::Unknown), 1);
    let e = full_usage_error(&format!(
        "check_raw_tcp --protocol keepalived-dynamc {GOOD}"
    ));
    assert!(e.message.contains("unknown --protocol"), "{}", e.message);
    assert_eq!(e.protocol.exit_code(crate::outcome::State::Unknown), 1);
    // The ldirectord form defaults to the ldirectord protocol, errors too.
    let e = full_usage_error("check_raw_tcp 203.0.113.10 80 300.1.1.1 80");
    assert_eq!(e.protocol, Protocol::Ldirectord);
    assert!(matches!(
        parse(argv("check_raw_tcp --protocol ldirectord --help")),
        Ok(Command::Help(Mode::Tcp, Protocol::Ldirectord))
    ));
}

#[test]
fn thresholds() {
    let cfg = tcp(&format!(
        "check_raw_tcp --warning 0.5 --critical=@1:2 {GOOD}"
    ));
    assert_eq!(cfg.common.thresholds.warning.unwrap().to_string(), "0.5");
    assert!(cfg.common.thresholds.critical.unwrap().alerts(1.5));
    let msg = usage_error(&format!("check_raw_tcp --warning 2:1 {GOOD}"));
    assert!(msg.contains("--warning"), "{msg}");
}

#[test]
fn ldirectord_form_tcp() {
    let cfg = tcp("check_raw_tcp 203.0.113.10 80 198.51.100.11 8080");
    let t = &cfg.common.target;
    assert_eq!(t.iface, IfaceArg::ByRoute);
    assert_eq!(t.vip, "203.0.113.10".parse::<IpAddr>().unwrap());
    assert_eq!(t.real_server, "198.51.100.11".parse::<IpAddr>().unwrap());
    assert_eq!(t.port, 8080);
    assert_eq!(cfg.common.protocol, Protocol::Ldirectord);
    // RPORT 0: VPORT; brackets around IPv6; --interface; --protocol wins.
    let cfg = tcp(
        "check_raw_tcp --interface eth1 --protocol nagios [2001:db8:1::10] 443 [2001:db8::11] 0",
    );
    assert_eq!(cfg.common.target.port, 443);
    assert_eq!(cfg.common.target.iface, IfaceArg::Named("eth1".into()));
    assert!(cfg.common.target.vip.is_ipv6());
    assert_eq!(cfg.common.protocol, Protocol::Nagios);
    // A fwmark service needs --vip.
    let msg = usage_error("check_raw_tcp 7 0 198.51.100.11 80");
    assert!(msg.contains("--vip"), "{msg}");
    let cfg = tcp("check_raw_tcp --vip 203.0.113.10 7 0 198.51.100.11 80");
    assert_eq!(
        cfg.common.target.vip,
        "203.0.113.10".parse::<IpAddr>().unwrap()
    );
    assert!(usage_error("check_raw_tcp 203.0.113.10 0 198.51.100.11 0").contains("both 0"));
    assert!(usage_error("check_raw_tcp --url / 203.0.113.10 80 198.51.100.11 80").contains("HTTP"));
    assert!(
        usage_error(&format!("check_raw_tcp --vip 203.0.113.10 {GOOD}"))
            .contains("ldirectord form")
    );
}

#[test]
fn ldirectord_form_http() {
    let cfg = http("check_raw_http -S 200 --url /health 203.0.113.10 80 198.51.100.11 80");
    assert_eq!(cfg.request.path, "/health");
    assert_eq!(cfg.request.host, "203.0.113.10");
    let cfg = http("check_raw_http -S 200 [2001:db8:1::10] 80 [2001:db8::11] 80");
    assert_eq!(cfg.request.host, "[2001:db8:1::10]");
    assert_eq!(cfg.request.path, "/");
    let cfg = http("check_raw_http_get --host www --md5 0CC175B9C0F1B6A831C399E269772661 203.0.113.10 80 198.51.100.11 80");
    assert_eq!(
        cfg.expect.md5.unwrap().as_str(),
        "0cc175b9c0f1b6a831c399e269772661"
    );
    let cfg = http("check_raw_http_get 203.0.113.10 80 198.51.100.11 80");
    assert!(cfg.expect.md5.is_none());
    assert!(cfg.expect.status.is_some());
    assert!(
        usage_error("check_raw_http 203.0.113.10 80 198.51.100.11 80")
            .contains("nothing to verify")
    );
}

#[test]
fn http_checks_from_the_command_line() {
    let cfg = http(&format!(
        "check_raw_http -M HEAD -H 'X-A:b' -S 200-299,301 -R Server: -c {GOOD} www /health"
    ));
    assert_eq!(cfg.request.method, Method::Head);
    assert!(cfg.clean_close);
    assert_eq!(cfg.expect.headers.len(), 1);
    let cfg = http(&format!(
        "check_raw_http_get {GOOD} www / 0cc175b9c0f1b6a831c399e269772661"
    ));
    assert!(cfg.expect.status.unwrap().contains(204));
    for (args, needle) in [
        (format!("check_raw_http {GOOD} www /"), "nothing to verify"),
        (
            format!("check_raw_http -S 200 -M POST {GOOD} www /"),
            "--method",
        ),
        (
            format!("check_raw_http -S 200 {GOOD} www /{}", "a".repeat(3000)),
            "PATH",
        ),
        (format!("check_raw_http -S 200 {GOOD} www health"), "PATH"),
        (
            format!("check_raw_http -S 200 -H NoColon {GOOD} www /"),
            "-H",
        ),
        (format!("check_raw_http_get {GOOD} www / 1234"), "MD5"),
        (
            format!("check_raw_http -S 99 {GOOD} www /"),
            "--status-code",
        ),
        (format!("check_raw_http --regex ( {GOOD} www /"), "--regex"),
        (
            format!("check_raw_http --invert-regex -S 200 {GOOD} www /"),
            "--invert-regex",
        ),
        (
            format!("check_raw_http -S 200 -m 0 {GOOD} www /"),
            "--max-bytes",
        ),
        (format!("check_raw_http_get {GOOD} www /"), "missing MD5"),
    ] {
        let msg = usage_error(&args);
        assert!(msg.contains(needle), "{args}: {msg}");
    }
}

/// Found by the cli_args fuzzer: an unknown option with newlines in it
/// made a usage message of several lines.
#[test]
fn messages_stay_on_one_line_whatever_the_arguments() {
    let args = vec![
        OsString::from("check_raw_tcp"),
        OsString::from("-c\n\n\nv"),
        OsString::from("eth0"),
    ];
    let e = parse_with(args, &|n, _| fake_resolver(n)).unwrap_err();
    assert!(!e.message.contains('\n'), "{}", e.message);
    assert!(e.message.contains("\\n"), "{}", e.message);
    let args = [
        "check_raw_tcp",
        "eth\r0",
        "198.51.100.11",
        "203.0.113.10",
        "80",
    ];
    let e = parse_with(args.iter().map(OsString::from).collect(), &|n, _| {
        fake_resolver(n)
    })
    .unwrap_err();
    assert!(!e.message.contains('\r'), "{}", e.message);
}

#[test]
fn source_port() {
    let cfg = tcp(&format!("check_raw_tcp --source-port 41234 {GOOD}"));
    assert_eq!(cfg.common.target.source_port, Some(41234));
    let msg = usage_error(&format!("check_raw_tcp --source-port 0 {GOOD}"));
    assert!(msg.contains("--source-port"), "{msg}");
}

/// Found in review: usage errors that a daemon would misread.
#[test]
fn usage_error_protocols_found_in_review() {
    use crate::outcome::State::Unknown;
    // --weight with a misspelt or missing --protocol: exit 1, not 3 (which
    // misc_dynamic reads as "up, weight 1").
    let e = full_usage_error(&format!(
        "check_raw_tcp --protocl keepalived-dynamic --weight 100 {GOOD}"
    ));
    assert_eq!(e.protocol.exit_code(Unknown), 1, "{}", e.message);
    let e = full_usage_error(&format!("check_raw_tcp --weight 5 {GOOD}"));
    assert_eq!(e.protocol.exit_code(Unknown), 1, "{}", e.message);
    // After `--` nothing is an option, --protocol neither.
    let e = full_usage_error(
        "check_raw_tcp eth0 198.51.100.11 203.0.113.10 0 -- --protocol=keepalived",
    );
    assert_eq!(e.protocol, Protocol::Nagios, "{}", e.message);
    // An error before the ldirectord form is recognised still exits as
    // ldirectord expects.
    let e = full_usage_error("check_raw_tcp --bogus 203.0.113.10 80 198.51.100.11 80");
    assert_eq!(e.protocol, Protocol::Ldirectord, "{}", e.message);
    assert_eq!(
        exit_protocol(&argv(
            "check_raw_tcp --bogus 203.0.113.10 80 198.51.100.11 80"
        )),
        Protocol::Ldirectord
    );
    // A bad HOST is named as HOST.
    let msg = usage_error(&format!("check_raw_http -S 200 {GOOD} bad\u{7}host /"));
    assert!(msg.starts_with("invalid HOST"), "{msg}");
}

/// The exit protocol is decided once: whatever `parse_with` returns, a
/// config's protocol, a usage error's, and what `exit_protocol` tells
/// `main` for its panic path are the same decision.
#[test]
fn exit_protocol_is_one_decision() {
    let lines = [
        format!("check_raw_tcp {GOOD}"),
        format!("check_raw_tcp --protocol keepalived {GOOD}"),
        format!("check_raw_tcp --protocol=keepalived-dynamic --weight 9 {GOOD}"),
        "check_raw_tcp 203.0.113.10 80 198.51.100.11 80".into(),
        // Options after the ldirectord positionals do not hide the form.
        "check_raw_tcp 203.0.113.10 80 198.51.100.11 80 -t 2000".into(),
        "check_raw_tcp 203.0.113.10 80 198.51.100.11 80 -t".into(),
        "check_raw_tcp 203.0.113.10 80 198.51.100.11 80 -t bogus".into(),
        "check_raw_tcp --protocol nagios 203.0.113.10 80 300.1.1.1 80".into(),
        format!("check_raw_tcp --weight 5 {GOOD}"),
        format!("check_raw_tcp --protocol bogus {GOOD}"),
        format!("check_raw_tcp -t 0 {GOOD}"),
        format!("check_raw tcp --protocol ldirectord -t {GOOD}"),
        "check_raw bogus --protocol ldirectord".into(),
        "check_raw_x --protocol=keepalived".into(),
        format!("check_raw_tcp {GOOD} --protocol"),
        format!("check_raw_tcp {GOOD} --weight"),
        "check_raw_tcp --bogus x 203.0.113.10 80 198.51.100.11 80".into(),
        "check_raw_tcp -m 100 203.0.113.10 80 198.51.100.11 80".into(),
        "check_raw_http --bogus eth0 198.51.100.11 203.0.113.10 80 h /".into(),
    ];
    for line in &lines {
        let args = argv(line);
        let decided = exit_protocol(&args);
        let got = match parse_with(args, &|n, _| fake_resolver(n)) {
            Ok(Command::Check(config)) => config.protocol(),
            Ok(Command::Help(_, p) | Command::Version(_, p)) => p,
            Err(e) => e.protocol,
        };
        assert_eq!(got, decided, "{line}");
    }
    let ldirectord = |line: &str| exit_protocol(&argv(line));
    assert_eq!(
        ldirectord("check_raw_tcp 203.0.113.10 80 198.51.100.11 80 -t"),
        Protocol::Ldirectord
    );
    assert_eq!(
        ldirectord("check_raw bogus --protocol ldirectord"),
        Protocol::Ldirectord
    );
    assert_eq!(
        ldirectord(&format!("check_raw_tcp --protocol bogus {GOOD}")),
        Protocol::Keepalived
    );
    // A protocol option whose value is missing: keepalived's "down", never
    // a Nagios 3 that misc_dynamic reads as "up".
    for line in [
        format!("check_raw_tcp {GOOD} --protocol"),
        format!("check_raw_tcp {GOOD} --weight"),
        format!("check_raw_tcp --protocol -- {GOOD}"),
    ] {
        assert_eq!(ldirectord(&line), Protocol::Keepalived, "{line}");
    }
    // An unknown option's value among the positionals, or an option of
    // another check: still ldirectord's form.
    for line in [
        "check_raw_tcp --bogus x 203.0.113.10 80 198.51.100.11 80",
        "check_raw_tcp -m 100 203.0.113.10 80 198.51.100.11 80",
    ] {
        assert_eq!(ldirectord(line), Protocol::Ldirectord, "{line}");
    }
    // The classic HTTP form's tail is no ldirectord form.
    let line = "check_raw_http --bogus eth0 198.51.100.11 203.0.113.10 80 www.example.test /";
    assert_eq!(ldirectord(line), Protocol::Nagios, "{line}");
}

fn dns(line: &str) -> DnsConfig {
    match parse_with(argv(line), &|n, _| fake_resolver(n)) {
        Ok(Command::Check(Config::Dns(cfg))) => *cfg,
        other => panic!("{line}: {other:?}"),
    }
}

#[test]
fn dns_check_options_and_both_forms() {
    use crate::dns::RecordType;
    let cfg = dns("check_raw_dns eth0 198.51.100.11 203.0.113.10 53 www.example.test");
    assert_eq!(cfg.query.rtype, RecordType::A);
    assert!(!cfg.query.recurse && !cfg.query.dnssec && !cfg.tcp);
    assert_eq!(cfg.expect.rcodes, vec![0]);
    assert_eq!(cfg.common.target.port, 53);
    let cfg = dns(
        "check_raw dns -T mx --recurse --dnssec --tcp --rcode NOERROR,NXDOMAIN -a mx.test \
         --expect-count 1 --authoritative eth0 198.51.100.11 203.0.113.10 53 example.test.",
    );
    assert_eq!(cfg.query.rtype, RecordType::Mx);
    assert!(cfg.query.recurse && cfg.query.dnssec && cfg.tcp);
    assert_eq!(cfg.expect.rcodes, vec![0, 3]);
    assert_eq!(cfg.expect.count, Some(1));
    assert!(cfg.expect.authoritative);
    assert_eq!(cfg.expect.values.len(), 1);
    // ldirectord: VIP VPORT RIP RPORT with --query.
    let cfg = dns("check_raw_dns --query www.example.test 203.0.113.10 53 198.51.100.11 53");
    assert_eq!(cfg.common.protocol, Protocol::Ldirectord);
    assert_eq!(cfg.common.target.iface, IfaceArg::ByRoute);
    assert_eq!(cfg.query.name.to_string(), "www.example.test.");
}

#[test]
fn dns_check_bad_input_is_a_usage_error() {
    let base = "eth0 198.51.100.11 203.0.113.10 53";
    for (line, needle) in [
        (base.to_string(), "missing NAME"),
        (format!("-T AXFR {base} x.test"), "invalid --type 'AXFR'"),
        (format!("--rcode BOGUS {base} x.test"), "invalid --rcode"),
        (format!("-a 2001:db8::1 {base} x.test"), "invalid --expect"),
        (format!("--expect-count -1 {base} x.test"), "--expect-count"),
        (
            format!("--query x.test {base} x.test"),
            "only for the ldirectord form",
        ),
        (format!("-c {base} x.test"), "-c is for"),
        (format!("{base} {}.test", "a".repeat(64)), "invalid NAME"),
        (
            "203.0.113.10 53 198.51.100.11 53".to_string(),
            "needs --query NAME",
        ),
    ] {
        let message = usage_error(&format!("check_raw_dns {line}"));
        assert!(message.contains(needle), "{line}: {message}");
    }
    let message = usage_error("check_raw_tcp --query x.test 203.0.113.10 80 198.51.100.11 80");
    assert!(message.contains("only for check_raw_dns"), "{message}");
}

// ---- check_raw_vip ------------------------------------------------------

fn vip(line: &str) -> VipConfig {
    match parse_with(argv(line), &|n, _| fake_resolver(n)) {
        Ok(Command::Check(Config::Vip(cfg))) => *cfg,
        other => panic!("{line}: {other:?}"),
    }
}

const VIP3: &str = "eth0 198.51.100.11 203.0.113.10";

#[test]
fn vip_check_defaults_and_options() {
    let cfg = vip(&format!("check_raw_vip {VIP3}"));
    assert_eq!(cfg.port, None);
    assert_eq!(cfg.arp_leak, State::Warning);
    assert!(!cfg.segment);
    assert_eq!(cfg.common.target.port, 0);
    assert_eq!(cfg.common.protocol, Protocol::Nagios);
    let cfg = vip(&format!(
        "check_raw vip --port 80 --arp-leak critical --segment -r auto {VIP3}"
    ));
    assert_eq!(cfg.port, Some(80));
    assert_eq!(cfg.common.target.port, 80);
    assert_eq!(cfg.arp_leak, State::Critical);
    assert!(cfg.segment);
    assert_eq!(cfg.common.role, RoleSource::Auto);
    let cfg = vip("check_raw_vip -p 443 -6 eth0 2001:db8::11 2001:db8:1::10");
    assert_eq!(cfg.port, Some(443));
    assert!(cfg.common.target.vip.is_ipv6());
}

#[test]
fn vip_check_refuses_what_does_not_apply() {
    for (line, needle) in [
        (format!("check_raw_vip {VIP3} 80"), "too many arguments"),
        (
            "check_raw_vip eth0 198.51.100.11".to_string(),
            "missing VIRTUAL_IP",
        ),
        (format!("check_raw_vip --port 0 {VIP3}"), "--port"),
        (format!("check_raw_vip --port x {VIP3}"), "--port"),
        (
            format!("check_raw_vip --arp-leak loud {VIP3}"),
            "--arp-leak",
        ),
        (format!("check_raw_vip -c {VIP3}"), "-c is for"),
        (
            format!("check_raw_vip --source-port 4000 {VIP3}"),
            "--source-port needs --port",
        ),
        (format!("check_raw_vip -S 200 {VIP3}"), "unknown option"),
        (format!("check_raw_tcp --segment {GOOD}"), "unknown option"),
        (format!("check_raw_tcp --port 80 {GOOD}"), "unknown option"),
        (
            "check_raw_vip eth0 198.51.100.11 2001:db8::10".to_string(),
            "different address families",
        ),
    ] {
        let msg = usage_error(&line);
        assert!(msg.contains(needle), "{line}: {msg}");
        assert!(!msg.contains('\n'), "{line}: {msg}");
    }
}

#[test]
fn vip_check_has_no_ldirectord_form() {
    // ldirectord's four arguments are recognised (so the exit code is
    // ldirectord's), and refused with a reason.
    let e = full_usage_error("check_raw_vip 203.0.113.10 80 198.51.100.11 80");
    assert!(e.message.contains("no ldirectord form"), "{}", e.message);
    assert_eq!(e.protocol, Protocol::Ldirectord);
    assert_eq!(e.mode, Some(Mode::Vip));
    let e = full_usage_error(&format!("check_raw_vip --vip 203.0.113.10 {VIP3}"));
    assert!(
        e.message.contains("only for the ldirectord form"),
        "{}",
        e.message
    );
}

#[test]
fn vip_help_describes_the_probes() {
    let text = help(Mode::Vip);
    for needle in [
        "check_raw_vip",
        "--segment",
        "--arp-leak",
        "--port",
        "arp_ignore",
        "SOURCE_IFACE REAL_SERVER VIRTUAL_IP",
    ] {
        assert!(text.contains(needle), "{needle} missing from --help");
    }
    assert!(
        !text.contains("VIP VPORT RIP RPORT"),
        "no ldirectord form in check_raw_vip --help"
    );
    assert_eq!(
        usage(Mode::Vip),
        "Usage: check_raw_vip [options] SOURCE_IFACE REAL_SERVER VIRTUAL_IP"
    );
}

#[test]
fn tls_options() {
    use crate::transport::tls::{TlsVersion, Trust};
    let cfg = tcp(&format!("check_raw_tcp --ssl {GOOD}"));
    let tls = cfg.tls.unwrap();
    assert_eq!(tls.versions.min, TlsVersion::V1_2);
    assert!(tls.versions.or_newer);
    // The VIP names the server, but an address is never sent as SNI.
    assert_eq!(tls.server_name, "203.0.113.10");
    assert!(!tls.sni);
    assert_eq!(tls.verify, None);
    assert!(tcp(&format!("check_raw_tcp {GOOD}")).tls.is_none());

    let get = |opts: &str| {
        http(&format!(
            "check_raw_http {opts} -S 200 {GOOD} Www.Example.test:443 /health"
        ))
        .tls
        .unwrap()
    };
    let tls = get("--ssl=1.3");
    assert_eq!(
        (tls.versions.min, tls.versions.or_newer),
        (TlsVersion::V1_3, false)
    );
    assert_eq!(tls.server_name, "www.example.test");
    assert!(tls.sni);
    let tls = get("--ssl --sni other.example.test --verify");
    assert_eq!(tls.server_name, "other.example.test");
    assert_eq!(tls.verify, Some(Trust::System));
    let tls = get("--ssl --no-sni --certificate-days 30,7");
    assert!(!tls.sni);
    assert_eq!(tls.days.unwrap().crit, Some(7));
    let fp = vec!["AB"; 32].join(":");
    let tls = get(&format!("--ssl=1.2+ --fingerprint {fp}"));
    assert_eq!(tls.fingerprint.unwrap().0, [0xab; 32]);
    // -S stays the status code; --ssl is long only.
    let cfg = http(&format!("check_raw_http -S 200 --ssl {GOOD} h /"));
    assert!(cfg.tls.is_some() && cfg.expect.status.is_some());
    // The GET check and the ldirectord form take it too.
    let get_cfg = http(&format!(
        "check_raw_http_get --ssl {GOOD} h / eff5bc1ef8ec9d03e640fc4370f5eacd"
    ));
    assert!(get_cfg.tls.is_some());
    let ld = http("check_raw_http --ssl -S 200 203.0.113.10 443 198.51.100.11 443");
    assert_eq!(ld.tls.unwrap().server_name, "203.0.113.10");
}

#[test]
fn bad_tls_options_are_one_line_usage_errors() {
    let fp = "ab".repeat(32);
    for (opts, needle) in [
        ("--ssl=1.1", "invalid --ssl=1.1"),
        ("--ssl=", "invalid --ssl="),
        ("--ssl=tls", "invalid --ssl=tls"),
        ("--ssl 1.3", "--ssl=1.3"),
        ("--verify", "--verify needs --ssl"),
        ("--sni x.example", "--sni needs --ssl"),
        (
            &format!("--fingerprint {fp}") as &str,
            "--fingerprint needs --ssl",
        ),
        ("--ssl --fingerprint abc", "invalid --fingerprint 'abc'"),
        ("--ssl --fingerprint zz", "hex digits"),
        (
            "--ssl --certificate-days x",
            "invalid --certificate-days 'x'",
        ),
        ("--ssl --certificate-days 7,30", "CRIT"),
        ("--ssl --certificate-days -1", "invalid --certificate-days"),
        (
            "--ssl --ca-file /nonexistent/ca.pem",
            "cannot use --ca-file '/nonexistent/ca.pem'",
        ),
        ("--ssl --ca-file /etc/hostname", "cannot use --ca-file"),
        ("--ssl --sni a --no-sni", "exclude each other"),
        ("--ssl --sni bad/name", "invalid --sni"),
    ] {
        let message = usage_error(&format!("check_raw_tcp {opts} {GOOD}"));
        assert!(message.contains(needle), "{opts}: {message}");
        assert!(!message.contains('\n'), "{opts}: {message}");
    }
}
