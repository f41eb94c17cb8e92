//! Exit protocols: decided once from what was typed, and kept by every
//! usage error.

use super::*;

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
            Ok(Command::Overview(p) | Command::OwnVersion(p)) => p,
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
