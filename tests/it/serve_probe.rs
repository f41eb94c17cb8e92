//! `/probe` through `check_raw_serve --probe MODULE TARGET`, which prints
//! what `GET /probe?module=MODULE&target=TARGET` answers, against the
//! namespace testbed (root): rs1 holds the VIP (probe_success 1), rs2 does
//! not (0), over IPv4 and IPv6, the answer accepted by `promtool check
//! metrics`; a refused request (unknown module, a target that is not an
//! address of the module's family) is one line on stderr, exit 2, and
//! sends nothing.
//!
//! Interface under test: `check_raw_serve --probe MODULE TARGET
//! [--config FILE] [-v]`: exit 0 and the Prometheus text format on
//! stdout (`-v`: blackbox's debug text); exit 2 and `check_raw_serve:
//! LINE` on stderr for a refused request; exit 1 for a bad file.

use std::fs;
use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::harness::dns::{NSD, WWW_A, ZONE};
use crate::harness::tls_bed::{TlsBed, HTTPS};
use crate::harness::*;

const SERVE: &str = "check_raw_serve";
const PROMTOOL: Need = Need::Program("promtool", "prometheus");

/// serve.toml with one check (a file needs one) and the modules.
fn config(dir: &TempDir) -> String {
    let text = format!(
        r#"state_dir = "{state}"

[[module]]
name = "http_vip"
command = "check_raw_http -S 200 -t 800 {IFACE} {{target}} {VIP} {PORT} www.example.com /health"

[[module]]
name = "http_vip6"
command = "check_raw_http -S 200 -t 800 {IFACE} {{target}} {VIP6} {PORT} www.example.com /health"

[[check]]
name = "rs1"
command = "check_raw_tcp -t 500 {IFACE} {RS1} {VIP} {PORT}"
"#,
        state = dir.path().display()
    );
    let path = dir.write("serve.toml", text.as_bytes());
    path.to_str().unwrap().to_string()
}

/// The file with an HTTPS module and a DNS module, beside the other.
fn tls_dns_config(dir: &TempDir) -> String {
    let text = format!(
        r#"state_dir = "{state}"

[[module]]
name = "https_vip"
command = "check_raw_http -S 200 --ssl -t 2000 {IFACE} {{target}} {VIP} {HTTPS} {TLS_HOST} /health"

[[module]]
name = "dns_vip"
command = "check_raw_dns -t 2000 {IFACE} {{target}} {VIP} 53 www.{ZONE}"

[[check]]
name = "rs1"
command = "check_raw_tcp -t 500 {IFACE} {RS1} {VIP} {PORT}"
"#,
        state = dir.path().display()
    );
    let path = dir.write("tls_dns.toml", text.as_bytes());
    path.to_str().unwrap().to_string()
}

/// Unix seconds of the notAfter of the (one) certificate in `pem`.
fn not_after(pem: &std::path::Path) -> i64 {
    let cert = openssl::x509::X509::from_pem(&fs::read(pem).unwrap()).unwrap();
    let epoch = openssl::asn1::Asn1Time::from_unix(0).unwrap();
    let diff = epoch.diff(cert.not_after()).unwrap();
    i64::from(diff.days) * 86_400 + i64::from(diff.secs)
}

/// The value of the sample `name` (no labels) in `text`.
fn sample(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .map(str::to_string)
}

/// `promtool check metrics` on `text`: its complaints, empty if none.
fn promtool(text: &str) -> String {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        said
    } else {
        format!("promtool failed ({}): {said}", out.status)
    }
}

#[test]
fn probe_answers_with_blackboxs_metrics_and_refuses_bad_requests() {
    require!(Need::Testbed, PROMTOOL);
    let tb = Testbed::without_servers();
    tb.serve("rs1", PORT, Behaviour::Respond(health_reply()));
    tb.serve("rs2", PORT, Behaviour::Respond(health_reply()));
    let dir = TempDir::new();
    let file = config(&dir);
    let bin = check_raw_bin(SERVE);
    let probe = |module: &str, target: &str, extra: &[&str]| {
        let args = [&["--probe", module, target, "--config", &file], extra].concat();
        tb.run("lb", &bin, &args)
    };

    // rs1 holds the VIP: the HTTP gauges of its answer.
    let r = probe("http_vip", RS1, &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stderr.is_empty(), "{r}");
    let m = &r.stdout;
    assert_eq!(sample(m, "probe_success").as_deref(), Some("1"), "{r}");
    assert_eq!(
        sample(m, "probe_http_status_code").as_deref(),
        Some("200"),
        "{r}"
    );
    let body_len = HEALTH_BODY.len().to_string();
    assert_eq!(
        sample(m, "probe_http_content_length"),
        Some(body_len),
        "{r}"
    );
    assert_eq!(
        sample(m, "probe_http_version").as_deref(),
        Some("1.1"),
        "{r}"
    );
    assert_eq!(sample(m, "probe_ip_protocol").as_deref(), Some("4"), "{r}");
    assert_eq!(
        sample(m, "check_raw_probe_state").as_deref(),
        Some("0"),
        "{r}"
    );
    let took: f64 = sample(m, "probe_duration_seconds")
        .unwrap()
        .parse()
        .unwrap();
    assert!(took > 0.0 && took < 0.8, "{r}");
    assert!(
        m.contains("\n# check_raw_probe_status_line RAW_HTTP OK - HTTP/1.1 200 OK"),
        "{r}"
    );
    assert_eq!(promtool(m), "", "{r}");
    assert_nothing_left_open(&tb, "rs1", PORT, &r);

    // rs2 lacks it: the probe ran and failed.
    let r = probe("http_vip", RS2, &[]);
    assert_eq!(r.code, Some(0), "{r}");
    assert_eq!(
        sample(&r.stdout, "probe_success").as_deref(),
        Some("0"),
        "{r}"
    );
    assert_eq!(
        sample(&r.stdout, "probe_http_status_code").as_deref(),
        Some("0"),
        "{r}"
    );
    assert_eq!(
        sample(&r.stdout, "check_raw_probe_state").as_deref(),
        Some("2"),
        "{r}"
    );
    assert!(r.stdout.contains("may lack the VIP"), "{r}");
    assert_eq!(promtool(&r.stdout), "", "{r}");

    // IPv6, and -v: blackbox's debug text with the check's -v lines.
    let r = probe("http_vip6", RS1_6, &["-v"]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.starts_with("Logs for the probe:\nmodule=http_vip6 target=2001:db8::11 timeout_seconds=0.800\nRAW_HTTP OK - "), "{r}");
    assert!(r.stdout.contains("\n> GET /health HTTP/1.1\n"), "{r}");
    assert!(
        r.stdout
            .contains("\nMetrics that would have been returned:\n"),
        "{r}"
    );
    assert!(r.stdout.contains("\nprobe_success 1\n"), "{r}");
    assert!(r.stdout.contains("\nprobe_ip_protocol 6\n"), "{r}");
    assert!(
        r.stdout
            .contains("\nModule configuration:\n[[module]]\nname = \"http_vip6\"\n"),
        "{r}"
    );

    // Refused: one line, exit 2, nothing sent.
    for (module, target, says) in [
        (
            "nope",
            RS1,
            "unknown module \"nope\" (modules: http_vip, http_vip6)",
        ),
        ("http_vip", "198.51.100.11:80", "is not an IPv4 address"),
        (
            "http_vip",
            RS1_6,
            "is not an IPv4 address: module http_vip's command needs one",
        ),
        ("http_vip6", RS1, "is not an IPv6 address"),
        ("http_vip", "rs1.example", "is not an IPv4 address"),
    ] {
        let r = probe(module, target, &[]);
        assert_eq!(r.code, Some(2), "{r}");
        assert!(r.stdout.is_empty(), "{r}");
        assert_eq!(r.stderr.lines().count(), 1, "{r}");
        assert!(r.stderr.starts_with("check_raw_serve: "), "{r}");
        assert!(r.stderr.contains(says), "{r}");
    }

    // A bad module is refused with the file first, as --check refuses it.
    let bad = dir.write(
        "bad.toml",
        format!(
            "[[module]]\nname = \"m\"\ncommand = \"check_raw_tcp {IFACE} {RS1} {VIP} {PORT}\"\n\
             [[check]]\nname = \"c\"\ncommand = \"check_raw_tcp {IFACE} {RS1} {VIP} {PORT}\"\n"
        )
        .as_bytes(),
    );
    let bad = bad.to_str().unwrap();
    let r = tb.run("lb", &bin, &["--probe", "m", RS1, "--config", bad]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(
        r.stderr.starts_with(&format!(
            "check_raw_serve: {bad}:3: module.m.command: must hold {{target}} exactly once"
        )),
        "{r}"
    );
    let r = tb.run("lb", &bin, &["--check", "--config", bad]);
    assert_eq!(r.code, Some(1), "{r}");
    let _ = fs::remove_file(bad);
}

#[test]
fn probe_gives_the_tls_and_dns_facts_of_a_run() {
    require!(Need::Testbed, NGINX, NSD, PROMTOOL);
    let bed = TlsBed::new();
    let _nsd = bed.tb.nsd("rs1", &[RS1, VIP]);
    let dir = TempDir::new();
    let file = tls_dns_config(&dir);
    let bin = check_raw_bin(SERVE);
    let probe = |module: &str, target: &str| {
        bed.tb
            .run("lb", &bin, &["--probe", module, target, "--config", &file])
    };

    let r = probe("https_vip", RS1);
    assert_eq!(r.code, Some(0), "{r}");
    let m = &r.stdout;
    assert_eq!(sample(m, "probe_success").as_deref(), Some("1"), "{r}");
    assert_eq!(sample(m, "probe_http_ssl").as_deref(), Some("1"), "{r}");
    assert_eq!(
        sample(m, "probe_http_status_code").as_deref(),
        Some("200"),
        "{r}"
    );
    let expiry = not_after(&bed.pki.good.cert).to_string();
    assert_eq!(
        sample(m, "probe_ssl_earliest_cert_expiry"),
        Some(expiry),
        "{r}"
    );
    assert!(
        m.contains("\nprobe_tls_version_info{version=\"TLS 1.3\"} 1\n"),
        "{r}"
    );
    assert_eq!(promtool(m), "", "{r}");

    // rs2 lacks the VIP: no handshake, so no TLS gauges.
    let r = probe("https_vip", RS2);
    assert_eq!(r.code, Some(0), "{r}");
    assert_eq!(
        sample(&r.stdout, "probe_success").as_deref(),
        Some("0"),
        "{r}"
    );
    assert!(!r.stdout.contains("probe_tls_version_info"), "{r}");

    let r = probe("dns_vip", RS1);
    assert_eq!(r.code, Some(0), "{r}");
    let m = &r.stdout;
    assert_eq!(sample(m, "probe_success").as_deref(), Some("1"), "{r}");
    let answers = WWW_A.len().to_string();
    assert_eq!(sample(m, "probe_dns_answer_rrs"), Some(answers), "{r}");
    assert_eq!(
        sample(m, "check_raw_probe_dns_rcode").as_deref(),
        Some("0"),
        "{r}"
    );
    for name in ["probe_dns_authority_rrs", "probe_dns_additional_rrs"] {
        let n = sample(m, name).unwrap_or_else(|| panic!("no {name}: {r}"));
        assert!(n.parse::<u32>().is_ok(), "{r}");
    }
    assert_eq!(promtool(m), "", "{r}");
}
