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
    // The bare ldirectord form keeps Nagios' codes (ldirectord reads any
    // non-zero as down), errors too.
    let e = full_usage_error("check_raw_tcp 203.0.113.10 80 300.1.1.1 80");
    assert_eq!(e.protocol, Protocol::Nagios);
    assert_eq!(e.protocol.exit_code(crate::outcome::State::Unknown), 3);
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
    // An error in a wrapper's options still exits as ldirectord expects:
    // the wrapper says --protocol ldirectord.
    let line = "check_raw_tcp --protocol ldirectord --bogus 203.0.113.10 80 198.51.100.11 80";
    let e = full_usage_error(line);
    assert_eq!(e.protocol, Protocol::Ldirectord, "{}", e.message);
    assert_eq!(exit_protocol(&argv(line)), Protocol::Ldirectord);
    // Without it, non-zero all the same, and never below Nagios' UNKNOWN.
    let e = full_usage_error("check_raw_tcp --bogus 203.0.113.10 80 198.51.100.11 80");
    assert_eq!(e.protocol, Protocol::Nagios, "{}", e.message);
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
    // ldirectord's four with an option after them: no longer bare, so
    // Nagios' codes (a CRITICAL never leaves as 1).
    assert_eq!(
        ldirectord("check_raw_tcp 203.0.113.10 80 198.51.100.11 80 -t"),
        Protocol::Nagios
    );
    assert_eq!(
        ldirectord("check_raw_tcp --protocol ldirectord 203.0.113.10 80 198.51.100.11 80 -t"),
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
    // another check: ldirectord's codes when the wrapper says so, else
    // Nagios' (non-zero, down to ldirectord all the same).
    for line in [
        "check_raw_tcp --bogus x 203.0.113.10 80 198.51.100.11 80",
        "check_raw_tcp -m 100 203.0.113.10 80 198.51.100.11 80",
    ] {
        assert_eq!(ldirectord(line), Protocol::Nagios, "{line}");
        let explicit = line.replace("check_raw_tcp", "check_raw_tcp --protocol ldirectord");
        assert_eq!(ldirectord(&explicit), Protocol::Ldirectord, "{explicit}");
    }
    // The classic HTTP form's tail is no ldirectord form.
    let line = "check_raw_http --bogus eth0 198.51.100.11 203.0.113.10 80 www.example.test /";
    assert_eq!(ldirectord(line), Protocol::Nagios, "{line}");
}

/// A Nagios command with its arguments out of order looks like ldirectord's
/// `VIP VPORT RIP RPORT`. It was taken for that form silently, with
/// ldirectord's exit codes: a CRITICAL exited 1, which Nagios shows as
/// WARNING. The form is now taken only bare (as ldirectord passes it) or
/// with `--protocol ldirectord`; anything else is a usage error, UNKNOWN.
#[test]
fn the_ldirectord_form_is_taken_only_when_unambiguous() {
    use crate::outcome::State::{Critical, Unknown};
    let e = full_usage_error("check_raw_tcp -v 203.0.113.10 80 198.51.100.12 80");
    assert_eq!(e.protocol, Protocol::Nagios, "{}", e.message);
    assert_eq!(e.protocol.exit_code(Unknown), 3);
    assert!(
        e.message.contains("--protocol ldirectord")
            && e.message
                .contains("SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT"),
        "{}",
        e.message
    );
    // Bare, as ldirectord runs it: the form, and a CRITICAL exits 2.
    let cfg = tcp("check_raw_tcp 203.0.113.10 80 198.51.100.12 80");
    assert_eq!(cfg.common.target.iface, IfaceArg::ByRoute);
    assert_eq!(cfg.common.protocol.exit_code(Critical), 2);
    // A wrapper's options with --protocol ldirectord: the form, 0/1.
    let cfg =
        tcp("check_raw_tcp -v -t 2000 --protocol ldirectord 203.0.113.10 80 198.51.100.12 80");
    assert_eq!(cfg.common.target.iface, IfaceArg::ByRoute);
    assert_eq!(cfg.common.protocol.exit_code(Critical), 1);
    assert!(timeout_line(&cfg.common)
        .contains("\nldirectord form (VIP VPORT RIP RPORT, by --protocol ldirectord)"));
    // The director form says nothing of it.
    assert!(!timeout_line(&tcp(&format!("check_raw_tcp -v {GOOD}")).common).contains("ldirectord"));
}
