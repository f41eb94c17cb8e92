//! End-to-end tests of `--ssl`: HTTPS and bare TLS through the VIP (MASTER,
//! our userspace TCP to VIP:PORT via the real server's MAC) and to the real
//! server's own address (BACKUP, the kernel's TCP), against nginx serving
//! TLS with certificates made at test time (`harness::tls`).
//!
//! Interfaces under test: `check_raw_http`, `check_raw_http_get` and
//! `check_raw_tcp` with `--ssl[=1.2|1.3[+]]`, `--sni`, `--no-sni`,
//! `--verify`, `--ca-file`, `--certificate-days`, `--fingerprint`; exit 0
//! OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; one status line naming the TLS
//! version; a failed handshake CRITICAL with its reason in that line.
//! The certificate (`--verify`, `--certificate-days`, `--fingerprint`) is
//! in `tls_certificates.rs`; the bed and the check runners are
//! `harness::tls_bed`.
//!
//! rs1 runs nginx with the VIP (plain on 80, TLS on 443 and the other
//! `TlsPort`s), rs2 runs it without the VIP, rs3 has the VIP and nothing
//! listening. After every case no connection is left ESTABLISHED on the
//! real server. Tests skip, with a message, unless root with nginx.

use std::time::Duration;

use crate::harness::tls_bed::*;
use crate::harness::*;

#[test]
fn health_and_big_bodies_pass_in_both_roles() {
    require!(Need::Testbed, NGINX);
    let bed = TlsBed::new();
    let roles_ = Roles::new();
    for (role, name) in roles(&roles_) {
        let r = http_get(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl"]),
            RS1,
            "/health",
            HEALTH_MD5,
        );
        assert_verdict(
            &r,
            0,
            GET_OK,
            &["HTTP/1.1 200 OK over TLSv1.3, 3 bytes", &via(name, HTTPS)],
        );
        assert!(r.status_line().contains("cert_days=364;;"), "{r}");
        assert_nothing_left_open(&bed.tb, "rs1", HTTPS, &r);

        let md5 = md5_hex(&big_body());
        let r = http_get(&bed.tb, "lb", &with(&role, &["--ssl"]), RS1, "/big", &md5);
        assert_verdict(&r, 0, GET_OK, &["over TLSv1.3, 65536 bytes"]);
        assert_nothing_left_open(&bed.tb, "rs1", HTTPS, &r);

        let md5 = md5_hex(&big1m_body());
        let opts = with(&role, &["--ssl", "-t", "5000", "-A", &md5]);
        let r = http(&bed.tb, "lb", &opts, RS1, HTTPS, "/big1m");
        assert_verdict(&r, 0, OK, &["over TLSv1.3, 1048576 bytes"]);
        assert_nothing_left_open(&bed.tb, "rs1", HTTPS, &r);
    }
    // nginx saw the MASTER's request addressed to the VIP.
    let line = format!("{LB_IP} -> {VIP}:{HTTPS} \"GET /health HTTP/1.1\" 200 3");
    let log = bed.rs1.wait_access_log(&line, SETTLE);
    assert!(
        log.contains(&line),
        "nginx access log lacks {line:?}:\n{log}"
    );
}

#[test]
fn clean_close_sends_close_notify_then_fin() {
    require!(Need::Testbed, NGINX);
    let bed = TlsBed::new();
    let roles_ = Roles::new();
    for (role, _) in roles(&roles_) {
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl", "-c", "-S", "200"]),
            RS1,
            HTTPS,
            "/health",
        );
        assert_verdict(&r, 0, OK, &["over TLSv1.3", "closed cleanly"]);
        assert_nothing_left_open(&bed.tb, "rs1", HTTPS, &r);
    }
}

#[test]
fn real_server_without_the_vip_or_port_fails() {
    require!(Need::Testbed, NGINX);
    let bed = TlsBed::new();
    let r = http(
        &bed.tb,
        "lb",
        &["--ssl", "-t", "500", "-S", "200"],
        RS2,
        HTTPS,
        "/health",
    );
    assert_verdict(&r, 2, CRITICAL, &["no SYN/ACK", "lack the VIP"]);
    assert_elapsed(&r, 500, 2500);
    let r = http(
        &bed.tb,
        "lb",
        &["--ssl", "-t", "3000", "-S", "200"],
        RS3,
        HTTPS,
        "/health",
    );
    assert_verdict(&r, 2, CRITICAL, &["refused the connection (RST)"]);
    assert!(
        r.elapsed < Duration::from_millis(1000),
        "should fail on the RST\n{r}"
    );
    let roles_ = Roles::new();
    let r = http(
        &bed.tb,
        "lb",
        &with(&roles_.backup(), &["--ssl", "-S", "200"]),
        RS3,
        HTTPS,
        "/health",
    );
    assert_verdict(&r, 2, CRITICAL, &["Connection refused", "BACKUP role"]);
}

#[test]
fn ssl_against_the_plain_http_port_fails_cleanly_and_fast() {
    require!(Need::Testbed, NGINX);
    let bed = TlsBed::new();
    let roles_ = Roles::new();
    for (role, _) in roles(&roles_) {
        let opts = with(&role, &["--ssl", "-t", "3000", "-S", "200"]);
        let r = http(&bed.tb, "lb", &opts, RS1, PORT, "/health");
        assert_verdict(
            &r,
            2,
            CRITICAL,
            &[
                "TLS with",
                "failed: plain-text answer on a TLS port",
                "HTTP/1.1 400",
            ],
        );
        assert!(
            r.elapsed < Duration::from_millis(1000),
            "should not wait\n{r}"
        );
        assert_nothing_left_open(&bed.tb, "rs1", PORT, &r);
        let r = tcp(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl", "-t", "3000"]),
            RS1,
            PORT,
        );
        assert_verdict(&r, 2, TCP_CRITICAL, &["plain-text answer"]);
    }
}

#[test]
fn versions_offered_and_refused() {
    require!(Need::Testbed, NGINX);
    let bed = TlsBed::new();
    let only12 = TlsPort::Only12.port();
    let roles_ = Roles::new();
    for (role, _) in roles(&roles_) {
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl=1.3", "-S", "200"]),
            RS1,
            only12,
            "/health",
        );
        assert_verdict(
            &r,
            2,
            CRITICAL,
            &["no common protocol version", "TLSv1.3 only"],
        );
        assert_nothing_left_open(&bed.tb, "rs1", only12, &r);
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl", "-S", "200"]),
            RS1,
            only12,
            "/health",
        );
        assert_verdict(&r, 0, OK, &["over TLSv1.2"]);
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl=1.2", "-S", "200"]),
            RS1,
            HTTPS,
            "/health",
        );
        assert_verdict(&r, 0, OK, &["over TLSv1.2"]);
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl=1.3+", "-S", "200"]),
            RS1,
            HTTPS,
            "/health",
        );
        assert_verdict(&r, 0, OK, &["over TLSv1.3"]);
    }
}

#[test]
fn tcp_check_with_a_tls_handshake() {
    require!(Need::Testbed, NGINX);
    let bed = TlsBed::new();
    let r = tcp(&bed.tb, "lb", &["--ssl"], RS1, HTTPS);
    assert_verdict(
        &r,
        0,
        TCP_OK,
        &[
            &format!("{VIP}:{HTTPS} answers TLS via {RS1}"),
            "(TLSv1.3, TLS_",
        ],
    );
    assert_nothing_left_open(&bed.tb, "rs1", HTTPS, &r);
    let r = tcp(&bed.tb, "lb", &["--ssl", "-c"], RS1, HTTPS);
    assert_verdict(&r, 0, TCP_OK, &["closed cleanly", "TLSv1.3"]);
    let roles_ = Roles::new();
    let r = tcp(
        &bed.tb,
        "lb",
        &with(&roles_.backup(), &["--ssl"]),
        RS1,
        HTTPS,
    );
    assert_verdict(
        &r,
        0,
        TCP_OK,
        &["accepts TLS connections (BACKUP role", "TLSv1.3"],
    );
    let r = tcp(&bed.tb, "lb", &["--ssl", "-t", "500"], RS2, HTTPS);
    assert_verdict(&r, 2, TCP_CRITICAL, &["lack the VIP"]);
    let r = tcp(
        &bed.tb,
        "lb",
        &["--ssl", "--certificate-days", "30,7"],
        RS1,
        TlsPort::Expired.port(),
    );
    assert_verdict(&r, 2, TCP_CRITICAL, &["expired on"]);
    assert_nothing_left_open(&bed.tb, "rs1", TlsPort::Expired.port(), &r);
}

#[test]
fn ipv6_through_the_vip_and_backup() {
    require!(Need::Testbed, NGINX);
    let bed = TlsBed::new();
    let port = HTTPS.to_string();
    let target = [IFACE, RS1_6, VIP6, &port, TLS_HOST, "/health", HEALTH_MD5];
    let r = run(
        &bed.tb,
        "lb",
        "check_raw_http_get",
        &["--ssl", "--ca-file", &bed.ca()],
        &target,
    );
    assert_verdict(
        &r,
        0,
        GET_OK,
        &["over TLSv1.3, 3 bytes", &format!("via {RS1_6} (")],
    );
    assert_nothing_left_open(&bed.tb, "rs1", HTTPS, &r);
    let roles_ = Roles::new();
    let r = run(
        &bed.tb,
        "lb",
        "check_raw_http_get",
        &with(&roles_.backup(), &["--ssl"]),
        &target,
    );
    assert_verdict(&r, 0, GET_OK, &["over TLSv1.3", "BACKUP role"]);
    let r = run(
        &bed.tb,
        "lb",
        "check_raw_tcp",
        &["--ssl"],
        &[IFACE, RS1_6, VIP6, &port],
    );
    assert_verdict(&r, 0, TCP_OK, &["answers TLS"]);
}

#[test]
fn bad_input_is_unknown_and_sends_nothing() {
    require!(Need::Testbed, NGINX);
    let bed = TlsBed::new();
    let unreadable = bed.pki.dir().join("no-such-ca.pem").display().to_string();
    let not_pem = bed.pki.good.key.display().to_string();
    let cases: [(&[&str], &str); 8] = [
        (&["--ssl=1.1"], "invalid --ssl=1.1"),
        (&["--ssl=tls13"], "invalid --ssl=tls13"),
        (&["--ssl", "1.3"], "--ssl=1.3"),
        (&["--ssl", "--fingerprint", "abcd"], "invalid --fingerprint"),
        (
            &["--ssl", "--certificate-days", "soon"],
            "invalid --certificate-days",
        ),
        (&["--ssl", "--ca-file", &unreadable], "cannot use --ca-file"),
        (&["--ssl", "--ca-file", &not_pem], "cannot use --ca-file"),
        (&["--verify"], "--verify needs --ssl"),
    ];
    let mut failures = Vec::new();
    for (opts, needle) in cases {
        for program in ["check_raw_http", "check_raw_tcp"] {
            let mut all = opts.to_vec();
            let port = HTTPS.to_string();
            let mut target = vec![IFACE, RS1, VIP, port.as_str()];
            if program == "check_raw_http" {
                all.extend(["-S", "200"]);
                target.extend([TLS_HOST, "/health"]);
            }
            let r = run(&bed.tb, "lb", program, &all, &target);
            let line = r.status_line();
            if r.code != Some(3)
                || !line.starts_with(&format!("{program}: "))
                || !line.contains(needle)
            {
                failures.push(format!("{opts:?}: exit 3 naming {needle:?} expected\n{r}"));
            }
        }
    }
    assert_all_ok(&failures);
    let log: String = bed
        .rs1
        .access_log()
        .lines()
        .filter(|l| l.starts_with(LB_IP))
        .collect();
    assert!(
        log.is_empty(),
        "a rejected command line must send nothing:\n{log}"
    );
    assert_eq!(bed.tb.established_on("rs1", HTTPS), 0);
}

/// Awkward servers: garbage, a close in the middle of the handshake, a
/// chain larger than --max-bytes, silence. Each a clear CRITICAL in time.
#[test]
fn awkward_servers_fail_clearly_and_in_time() {
    require!(Need::Testbed, NGINX);
    let bed = TlsBed::new();
    let tb = &bed.tb;
    tb.serve(
        "rs1",
        8081,
        Behaviour::custom(|mut s| {
            use std::io::{Read, Write};
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(&[22, 3, 3, 0, 9, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5]);
            let _ = s.read(&mut buf);
        }),
    );
    tb.serve(
        "rs1",
        8082,
        Behaviour::custom(|mut s| {
            use std::io::{Read, Write};
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(&[22, 3, 3, 0x10, 0]);
        }),
    );
    tb.serve("rs1", 8083, Behaviour::Silent);
    let roles_ = Roles::new();
    for (role, _) in roles(&roles_) {
        let opts = with(&role, &["--ssl", "-t", "2000", "-S", "200"]);
        let r = http(tb, "lb", &opts, RS1, 8081, "/");
        assert_verdict(&r, 2, CRITICAL, &["TLS with"]);
        assert!(r.elapsed < Duration::from_millis(1500), "{r}");
        let r = http(tb, "lb", &opts, RS1, 8082, "/");
        assert_verdict(
            &r,
            2,
            CRITICAL,
            &["closed the connection during the handshake"],
        );
        let opts = with(&role, &["--ssl", "-t", "500", "-S", "200"]);
        let r = http(tb, "lb", &opts, RS1, 8083, "/");
        assert_verdict(&r, 2, CRITICAL, &["TLS handshake", "500 ms"]);
        assert_elapsed(&r, 500, 2000);
        let opts = with(&role, &["--ssl", "-m", "300", "-S", "200"]);
        let r = http(tb, "lb", &opts, RS1, HTTPS, "/health");
        assert_verdict(&r, 2, CRITICAL, &["more than 300 bytes (--max-bytes)"]);
        assert_nothing_left_open(tb, "rs1", HTTPS, &r);
    }
}

/// 10 % of the frames lost each way, a fixed pattern per seed: the TLS
/// check over our TCP client still passes (retransmissions in the raw
/// engine, openssl never noticing).
#[test]
fn random_loss_through_the_relay_passes() {
    require!(Need::Testbed, NGINX);
    let pki = Pki::new();
    let tb = RelayBed::new(Testbed::without_servers(), FaultPlan::none());
    let rs1 = tb.nginx_tls("rs1", &pki);
    let md5 = md5_hex(&big_body());
    let mut failures = Vec::new();
    let mut dropped = 0;
    for seed in 1..=8u64 {
        tb.relay()
            .reset(FaultPlan::both(Faults::new().random_loss(10, seed)));
        let r = http_get(&tb, "lb", &["--ssl", "-t", "5000"], RS1, "/big", &md5);
        let stats = tb.relay().stats();
        dropped += stats.to_rs.dropped + stats.to_lb.dropped;
        let open = tb.wait_none_established("rs1", HTTPS, SETTLE);
        if verdict(&r, 0, GET_OK, &["over TLSv1.3, 65536 bytes"]).is_err() || open != 0 {
            failures.push(format!(
                "seed {seed}: {open} left open\n{r}\n{}",
                rs1.error_log()
            ));
        }
    }
    assert_all_ok(&failures);
    assert!(dropped > 0, "no frame was dropped at all");
}

/// GRO super-frames towards the LB and segmentation offload on the real
/// server: the 1 MiB body over TLS arrives in frames above the MTU.
#[test]
fn offloads_on_with_a_1_mib_body() {
    require!(Need::Testbed, NGINX);
    let bed = TlsBed::new();
    let tb = &bed.tb;
    let on = |host: &str, dev: &str, features: &[&str]| {
        let mut cmd = vec!["ethtool", "-K", dev];
        cmd.extend(features);
        let r = tb.run_in(host, &cmd);
        assert_eq!(r.code, Some(0), "{r}");
    };
    let all = [
        "rx", "on", "tx", "on", "tso", "on", "gso", "on", "gro", "on",
    ];
    on("rs1", IFACE, &["tx", "on", "tso", "on", "gso", "on"]);
    on("sw", "prs1", &all);
    on("sw", "plb", &all);
    on("lb", IFACE, &["rx", "on", "gro", "on"]);
    let md5 = md5_hex(&big1m_body());
    let r = http(
        tb,
        "lb",
        &["--ssl", "-t", "5000", "-vvv", "-A", &md5],
        RS1,
        HTTPS,
        "/big1m",
    );
    assert_verdict(&r, 0, OK, &["over TLSv1.3, 1048576 bytes"]);
    let largest = r
        .stdout
        .lines()
        .filter(|l| l.contains(" ms < "))
        .filter_map(|l| l.rsplit("length ").next()?.trim().parse::<usize>().ok())
        .max()
        .unwrap_or(0);
    assert!(
        largest > 1500,
        "no frame above the MTU arrived\n{}",
        r.status_line()
    );
    assert_nothing_left_open(tb, "rs1", HTTPS, &r.status_line());
}
