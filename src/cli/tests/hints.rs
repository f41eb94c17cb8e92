//! Nagios habits (`-w 1 -c 2`, `-t 10` in seconds) get a hint, and a host
//! name that does not resolve is a status line, not a usage error.

use super::*;
use crate::cli::given::threshold_hint;

#[test]
fn nagios_thresholds_get_a_hint() {
    let msg = usage_error(&format!("check_raw_tcp -c 2 {GOOD}"));
    assert_eq!(
        msg,
        "-c is --clean-close here (a flag); for a critical response-time threshold use --critical 2 (seconds)"
    );
    let msg = usage_error(&format!("check_raw_tcp -w 1 -c 2 {GOOD}"));
    assert!(msg.contains("use --warning 1 --critical 2"), "{msg}");
    let msg = usage_error(&format!("check_raw_http -w 0.5 {GOOD} h /"));
    assert!(msg.contains("use --warning 0.5"), "{msg}");
    let msg = usage_error(&format!("check_raw_tcp -w {GOOD}"));
    assert!(msg.contains("--warning and --critical"), "{msg}");
    // A range after -c: the hint even where the shifted positionals would
    // have sent REAL_SERVER 'eth0' to the resolver.
    let e = full_usage_error("check_raw_tcp -c 2 eth0 198.51.100.11 203.0.113.10");
    assert!(!e.lookup_failed);
    assert!(e.message.contains("--critical 2"), "{}", e.message);
}

#[test]
fn clean_close_is_still_a_flag() {
    // -c before a positional, and before a fwmark that parses: no hint.
    assert!(tcp(&format!("check_raw_tcp -c {GOOD}")).clean_close);
    let cfg = tcp("check_raw_tcp --protocol ldirectord -c --vip 203.0.113.10 5 0 198.51.100.11 80");
    assert!(cfg.clean_close);
    // Where -c is not followed by a range, errors stay what they were.
    let msg = usage_error(&format!("check_raw_tcp -c {GOOD} extra"));
    assert!(msg.contains("too many"), "{msg}");
    assert!(threshold_hint(&argv("-c eth0")).is_none());
    assert!(threshold_hint(&argv("-c 203.0.113.10")).is_none());
    assert!(threshold_hint(&argv("-c 10:20")).is_some());
}

#[test]
fn timeouts_under_50_ms_are_refused_with_the_unit() {
    for t in [1, 10, 49] {
        let msg = usage_error(&format!("check_raw_tcp -t {t} {GOOD}"));
        assert_eq!(
            msg,
            format!(
                "-t is in milliseconds: -t {t} is {t} ms; did you mean -t {}?",
                t * 1000
            )
        );
    }
    assert_eq!(
        tcp(&format!("check_raw_tcp -t 50 {GOOD}")).common.timeout,
        Duration::from_millis(MIN_TIMEOUT_MS)
    );
    let msg = usage_error(&format!("check_raw_tcp -t 0 {GOOD}"));
    assert!(msg.contains("must be 50-600000 ms"), "{msg}");
}

#[test]
fn verbose_output_says_the_timeout_unit() {
    let cfg = tcp(&format!("check_raw_tcp -t 1500 {GOOD}"));
    assert_eq!(
        timeout_line(&cfg.common),
        "timeout 1500 ms (-t counts milliseconds)"
    );
}

#[test]
fn a_name_that_does_not_resolve_is_no_usage_error() {
    let e = full_usage_error("check_raw_tcp eth0 nosuch.example 203.0.113.10 80");
    assert!(e.lookup_failed);
    assert_eq!(e.mode, Some(Mode::Tcp));
    assert_eq!(
        e.message,
        "cannot resolve REAL_SERVER 'nosuch.example': no such name"
    );
    assert!(!e.message.contains('\n'));
    assert_eq!(UNRESOLVED_STATE, State::Critical);
    // ldirectord form and protocol: still a lookup failure, exit 1 there.
    let e =
        full_usage_error("check_raw_tcp --protocol ldirectord nosuch.example 80 198.51.100.11 80");
    assert!(e.lookup_failed);
    assert_eq!(e.protocol, Protocol::Ldirectord);
    assert_eq!(e.protocol.exit_code(UNRESOLVED_STATE), 1);
    // A mistyped address is the command line's fault: a usage error.
    let e = full_usage_error("check_raw_tcp eth0 198.51.100.300 203.0.113.10 80");
    assert!(!e.lookup_failed, "{}", e.message);
}
