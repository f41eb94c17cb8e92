//! The options of each check: HTTP, DNS, VIP and TLS.

use super::*;

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
    let cfg = dns("check_raw_dns --protocol ldirectord --query www.example.test 203.0.113.10 53 198.51.100.11 53");
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
        (format!("--expect-count +5 {base} x.test"), "--expect-count"),
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
    let message = usage_error(
        "check_raw_tcp --protocol ldirectord --query x.test 203.0.113.10 80 198.51.100.11 80",
    );
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
    // ldirectord's four arguments are recognised, and refused with a
    // reason (bare: Nagios' exit code; with --protocol: ldirectord's).
    let e = full_usage_error("check_raw_vip 203.0.113.10 80 198.51.100.11 80");
    assert!(e.message.contains("no ldirectord form"), "{}", e.message);
    assert_eq!(e.protocol, Protocol::Nagios);
    let e =
        full_usage_error("check_raw_vip --protocol ldirectord 203.0.113.10 80 198.51.100.11 80");
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
    let ld = http(
        "check_raw_http --protocol ldirectord --ssl -S 200 203.0.113.10 443 198.51.100.11 443",
    );
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

/// `--ca-file` naming a FIFO with no writer: refused at once, well within
/// `-t`, where a blocking open would wait for a writer for ever.
#[test]
fn a_ca_file_fifo_is_refused_within_the_timeout() {
    let path = std::env::temp_dir().join(format!("check_raw_ca_fifo_{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let line = format!(
        "check_raw_tcp -t 2000 --ssl --ca-file {} {GOOD}",
        path.display()
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(usage_error(&line)));
    let result = rx.recv_timeout(std::time::Duration::from_millis(2000));
    let _ = std::fs::remove_file(&path);
    let message = result.expect("--ca-file on a FIFO still waiting after -t (2000 ms)");
    assert!(message.contains("a FIFO, not a regular file"), "{message}");
    // A directory is no CA file either.
    let message = usage_error(&format!("check_raw_tcp --ssl --ca-file /tmp {GOOD}"));
    assert!(
        message.contains("a directory, not a regular file"),
        "{message}"
    );
}
