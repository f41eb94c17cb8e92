//! The common options and the two positional forms (classic and
//! ldirectord): every form the C original accepted, and every bad value
//! rejected with a message naming the argument.

use super::*;

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
fn source_is_never_the_vip() {
    // The VIP as source: frames the real server answers to itself.
    for line in [
        "check_raw_tcp --source 203.0.113.10 eth0 198.51.100.11 203.0.113.10 80",
        "check_raw_tcp --source 2001:db8:1::100 eth0 2001:db8:1::11 2001:db8:1::100 80",
        "check_raw_tcp --protocol ldirectord --source 203.0.113.10 203.0.113.10 80 198.51.100.11 80",
    ] {
        let msg = usage_error(line);
        assert!(
            msg.contains("--source") && msg.contains("is the VIRTUAL_IP"),
            "{line}: {msg}"
        );
        assert!(!msg.contains('\n'), "one line: {msg}");
    }
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
    // Taken bare, as ldirectord passes it: Nagios' codes, which ldirectord
    // reads alike (0 up, non-zero down); -v says which form and why.
    assert_eq!(cfg.common.protocol, Protocol::Nagios);
    let form = cfg.common.form.as_deref().unwrap_or_default();
    assert!(
        form.starts_with(
            "ldirectord form (VIP VPORT RIP RPORT, by exactly four arguments and no option"
        ),
        "{form}"
    );
    // RPORT 0: VPORT; brackets around IPv6; --interface; options need
    // --protocol ldirectord, which also gives its exit codes.
    let cfg = tcp(
        "check_raw_tcp --interface eth1 --protocol ldirectord [2001:db8:1::10] 443 [2001:db8::11] 0",
    );
    assert_eq!(cfg.common.target.port, 443);
    assert_eq!(cfg.common.target.iface, IfaceArg::Named("eth1".into()));
    assert!(cfg.common.target.vip.is_ipv6());
    assert_eq!(cfg.common.protocol, Protocol::Ldirectord);
    let form = cfg.common.form.as_deref().unwrap_or_default();
    assert!(form.contains("by --protocol ldirectord"), "{form}");
    assert!(form.contains("exit 0 up, 1 down"), "{form}");
    // A fwmark service needs --vip.
    let msg = usage_error("check_raw_tcp 7 0 198.51.100.11 80");
    assert!(msg.contains("--vip"), "{msg}");
    let cfg = tcp("check_raw_tcp --protocol ldirectord --vip 203.0.113.10 7 0 198.51.100.11 80");
    assert_eq!(
        cfg.common.target.vip,
        "203.0.113.10".parse::<IpAddr>().unwrap()
    );
    assert!(usage_error("check_raw_tcp 203.0.113.10 0 198.51.100.11 0").contains("both 0"));
    assert!(usage_error(
        "check_raw_tcp --protocol ldirectord --url / 203.0.113.10 80 198.51.100.11 80"
    )
    .contains("HTTP"));
    assert!(
        usage_error(&format!("check_raw_tcp --vip 203.0.113.10 {GOOD}"))
            .contains("ldirectord form")
    );
}

#[test]
fn ldirectord_form_http() {
    let cfg = http("check_raw_http --protocol ldirectord -S 200 --url /health 203.0.113.10 80 198.51.100.11 80");
    assert_eq!(cfg.request.path, "/health");
    assert_eq!(cfg.request.host, "203.0.113.10");
    let cfg =
        http("check_raw_http --protocol ldirectord -S 200 [2001:db8:1::10] 80 [2001:db8::11] 80");
    assert_eq!(cfg.request.host, "[2001:db8:1::10]");
    assert_eq!(cfg.request.path, "/");
    let cfg = http("check_raw_http_get --protocol ldirectord --host www --md5 0CC175B9C0F1B6A831C399E269772661 203.0.113.10 80 198.51.100.11 80");
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
