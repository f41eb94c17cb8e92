//! End-to-end tests of `check_raw_http_get` and `check_raw_http` against a
//! real nginx on a real (namespaced) LVS-DR network, over IPv4 and IPv6.
//!
//! Interfaces under test:
//! - `check_raw_http_get [-c] [-m N] [-r FILE|auto] [-t MS] [-v...]
//!   SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT HOST PATH MD5`: OK when the
//!   status is 2xx and the MD5 of the (decoded) body is MD5 (`RAW_HTTP_GET`);
//! - `check_raw_http [options] SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT HOST
//!   PATH` with `-M`, `-H`, and the expectations `-S`, `-R`, `-A`, `-B`,
//!   `-s`, `--regex`, `--invert-regex` (at least one) (`RAW_HTTP`).
//!
//! Exit 0 OK, 2 CRITICAL, 3 UNKNOWN; one status line on stdout.
//!
//! Each test builds its own testbed (see `harness::testbed` for the map).
//! nginx tests use `Testbed::without_servers()` and run nginx on rs1:80 (and
//! rs2:80); MASTER checks run in `lb` (raw frames to the real server's MAC,
//! destination the VIP). Tests skip, with a message, when not run as root.
//!
//! IPv6: the same testbed with 2001:db8::/64 addresses and the VIP
//! 2001:db8:1::10/128 on the real servers' `lo`, the MAC from NDP instead
//! of ARP; there a server of the harness's own answers on [::]:80, and each
//! case runs the TCP check alongside the two HTTP checks (the TCP check's
//! own IPv6 cases are in `tcp.rs`).
//!
//! Elsewhere: the servers that answer in awkward ways in `http_wire.rs`,
//! the roles (BACKUP, `-r auto`) in `roles.rs`, usage errors and `--help`
//! in `cli.rs`.

use std::time::Duration;

use crate::harness::http::*;
use crate::harness::*;

// ---- nginx -----------------------------------------------------------------

#[test]
fn nginx_health_md5_is_ok() {
    require!(Need::Testbed, NGINX);
    // The oracle agrees with md5sum.
    assert_eq!(md5_hex(HEALTH_BODY), HEALTH_MD5);
    let bed = NginxBed::new();
    let r = http_get(&bed.tb, "lb", &[], RS1, PORT, "/health", HEALTH_MD5);
    assert_verdict(
        &r,
        0,
        GET_OK,
        &["HTTP/1.1 200 OK", "3 bytes", &via("MASTER", RS1, PORT)],
    );
    assert_perfdata(&r, 3);
    // nginx saw the request from lb, addressed to the VIP.
    let line = format!("{LB_IP} -> {VIP}:{PORT} \"GET /health HTTP/1.1\" 200 3");
    let log = bed.rs1.wait_access_log(&line, SETTLE);
    assert!(
        log.contains(&line),
        "nginx access log lacks {line:?}:\n{log}\n{r}"
    );
    assert_nothing_left_open(&bed.tb, "rs1", PORT, &r);
}

#[test]
fn nginx_big_body_md5_is_ok() {
    require!(Need::Testbed, NGINX);
    let bed = NginxBed::new();
    let md5 = md5_hex(&big_body());
    let r = http_get(&bed.tb, "lb", &[], RS1, PORT, "/big", &md5);
    assert_verdict(&r, 0, GET_OK, &["HTTP/1.1 200 OK", "65536 bytes", RS1]);
    assert_perfdata(&r, BIG_LEN);
    assert_nothing_left_open(&bed.tb, "rs1", PORT, &r);
}

#[test]
fn nginx_big_body_status_200_is_ok() {
    require!(Need::Testbed, NGINX);
    let bed = NginxBed::new();
    let r = http(&bed.tb, "lb", &["-S", "200"], RS1, PORT, "/big");
    assert_verdict(&r, 0, OK, &["HTTP/1.1 200 OK", "65536 bytes", RS1]);
    assert_perfdata(&r, BIG_LEN);
    assert_nothing_left_open(&bed.tb, "rs1", PORT, &r);
}

#[test]
fn nginx_head_has_no_body() {
    require!(Need::Testbed, NGINX);
    let bed = NginxBed::new();
    // nginx answers HEAD with the Content-Length of the GET and no body:
    // the check must not wait for 65536 bytes that never come.
    let r = http(
        &bed.tb,
        "lb",
        &["-M", "HEAD", "-S", "200"],
        RS1,
        PORT,
        "/big",
    );
    assert_verdict(&r, 0, OK, &["HTTP/1.1 200 OK", "0 bytes"]);
    assert_perfdata(&r, 0);
    let line = format!("{LB_IP} -> {VIP}:{PORT} \"HEAD /big HTTP/1.1\" 200 0");
    let log = bed.rs1.wait_access_log(&line, SETTLE);
    assert!(
        log.contains(&line),
        "nginx access log lacks {line:?}:\n{log}\n{r}"
    );
    assert_nothing_left_open(&bed.tb, "rs1", PORT, &r);
}

#[test]
fn nginx_response_headers_present_and_missing() {
    require!(Need::Testbed, NGINX);
    let bed = NginxBed::new();
    let tb = &bed.tb;
    for present in [
        "Content-Length: 3",
        "content-length:   3  ",
        "CONTENT-LENGTH:",
        "Server: nginx",
    ] {
        let r = http(tb, "lb", &["-R", present], RS1, PORT, "/health");
        assert_verdict(&r, 0, OK, &["HTTP/1.1 200 OK", "3 bytes"]);
    }
    let r = http(tb, "lb", &["-R", "X-Missing: 1"], RS1, PORT, "/health");
    assert_verdict(&r, 2, CRITICAL, &["missing response header", "X-Missing"]);
    // A header that is there with another value names what it got.
    let r = http(tb, "lb", &["-R", "Content-Length: 4"], RS1, PORT, "/health");
    assert_verdict(&r, 2, CRITICAL, &["Content-Length: 4", "Content-Length: 3"]);
    // Every -R must hold, not just one.
    let r = http(
        tb,
        "lb",
        &["-R", "Server: nginx", "-R", "X-Missing:"],
        RS1,
        PORT,
        "/health",
    );
    assert_verdict(&r, 2, CRITICAL, &["X-Missing"]);
}

#[test]
fn nginx_wrong_md5_is_critical_naming_both() {
    require!(Need::Testbed, NGINX);
    let bed = NginxBed::new();
    let r = http_get(&bed.tb, "lb", &[], RS1, PORT, "/health", WRONG_MD5);
    assert_verdict(&r, 2, GET_CRITICAL, &[WRONG_MD5, HEALTH_MD5]);
    // Upper-case hex is the same MD5.
    let upper = HEALTH_MD5.to_ascii_uppercase();
    let r = http_get(&bed.tb, "lb", &[], RS1, PORT, "/health", &upper);
    assert_verdict(&r, 0, GET_OK, &["3 bytes"]);
    let r = http(&bed.tb, "lb", &["-A", WRONG_MD5], RS1, PORT, "/health");
    assert_verdict(&r, 2, CRITICAL, &[WRONG_MD5, HEALTH_MD5]);
    let r = http(&bed.tb, "lb", &["-A", HEALTH_MD5], RS1, PORT, "/health");
    assert_verdict(&r, 0, OK, &["3 bytes"]);
    assert_nothing_left_open(&bed.tb, "rs1", PORT, &r);
}

#[test]
fn nginx_status_codes() {
    require!(Need::Testbed, NGINX);
    let bed = NginxBed::new();
    let tb = &bed.tb;
    let r = http(tb, "lb", &["-S", "200"], RS1, PORT, "/no-such-page");
    assert_verdict(&r, 2, CRITICAL, &["404", "expected status 200, got 404"]);
    // http_get wants a 2xx: a 404 fails whatever the MD5.
    let r = http_get(tb, "lb", &[], RS1, PORT, "/no-such-page", WRONG_MD5);
    assert_verdict(&r, 2, GET_CRITICAL, &["404"]);
    let r = http(tb, "lb", &["-S", "200-299,404"], RS1, PORT, "/no-such-page");
    assert_verdict(&r, 0, OK, &["HTTP/1.1 404 Not Found"]);
    let r = http(tb, "lb", &["-S", "200-299,301"], RS1, PORT, "/health");
    assert_verdict(&r, 0, OK, &["HTTP/1.1 200 OK"]);
    let r = http(tb, "lb", &["-S", "301"], RS1, PORT, "/health");
    assert_verdict(&r, 2, CRITICAL, &["got 200"]);
    assert_nothing_left_open(tb, "rs1", PORT, &r);
}

#[test]
fn nginx_body_string_and_regex() {
    require!(Need::Testbed, NGINX);
    let bed = NginxBed::new();
    let tb = &bed.tb;
    let cases: [(&[&str], i32, &str, &str); 7] = [
        (&["-s", "ok"], 0, OK, "3 bytes"),
        (&["-s", "nope"], 2, CRITICAL, "nope"),
        (&["-B", "ok\n"], 0, OK, "3 bytes"),
        (&["-B", "ok"], 2, CRITICAL, "differs"),
        (&["--regex", "^ok"], 0, OK, "3 bytes"),
        (&["--regex", "^ok", "--invert-regex"], 2, CRITICAL, "^ok"),
        (&["--regex", "^no", "--invert-regex"], 0, OK, "3 bytes"),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(opts, code, prefix, needle)| {
            let r = http(tb, "lb", opts, RS1, PORT, "/health");
            verdict(&r, *code, prefix, &[needle]).err()
        })
        .collect();
    assert_all_ok(&failures);
}

#[test]
fn nginx_clean_close_leaves_nothing_open() {
    require!(Need::Testbed, NGINX);
    let bed = NginxBed::new();
    let r = http_get(&bed.tb, "lb", &["-c"], RS1, PORT, "/health", HEALTH_MD5);
    assert_verdict(&r, 0, GET_OK, &["3 bytes", RS1]);
    assert_nothing_left_open(&bed.tb, "rs1", PORT, &r);
    let r = http(&bed.tb, "lb", &["-c", "-S", "200"], RS1, PORT, "/big");
    assert_verdict(&r, 0, OK, &["65536 bytes", RS1]);
    assert_nothing_left_open(&bed.tb, "rs1", PORT, &r);
}

#[test]
fn nginx_chunked_body_is_decoded() {
    require!(Need::Testbed, NGINX);
    let bed = NginxBed::new();
    let md5 = md5_hex(CHUNKED_BODY);
    let r = http_get(&bed.tb, "lb", &[], RS1, PORT, "/chunked", &md5);
    let size = format!("{} bytes", CHUNKED_BODY.len());
    assert_verdict(&r, 0, GET_OK, &["HTTP/1.1 200 OK", &size]);
    assert_perfdata(&r, CHUNKED_BODY.len());
    // nginx really sent it chunked.
    let r = http(
        &bed.tb,
        "lb",
        &["-R", "Transfer-Encoding: chunked", "-A", &md5],
        RS1,
        PORT,
        "/chunked",
    );
    assert_verdict(&r, 0, OK, &[&size]);
    assert_nothing_left_open(&bed.tb, "rs1", PORT, &r);
}

#[test]
fn nginx_on_rs2_without_vip_times_out() {
    require!(Need::Testbed, NGINX);
    let bed = NginxBed::new();
    let r = http_get(
        &bed.tb,
        "lb",
        &["-t", "500"],
        RS2,
        PORT,
        "/health",
        HEALTH_MD5,
    );
    assert_verdict(&r, 2, GET_CRITICAL, &["lack the VIP"]);
    assert_elapsed(&r, 500, 2500);
    let r = http(
        &bed.tb,
        "lb",
        &["-t", "500", "-S", "200"],
        RS2,
        PORT,
        "/health",
    );
    assert_verdict(&r, 2, CRITICAL, &["lack the VIP"]);
    // nginx on rs2 never saw a request.
    let log = bed.rs2.access_log();
    assert!(
        !log.contains(&format!("{LB_IP} -> ")),
        "rs2 should see nothing from lb:\n{log}"
    );
}

#[test]
fn rs3_closed_port_fails_at_once_on_rst() {
    require!(Need::Testbed, NGINX);
    let bed = NginxBed::new();
    let r = http_get(
        &bed.tb,
        "lb",
        &["-t", "3000"],
        RS3,
        PORT,
        "/health",
        HEALTH_MD5,
    );
    assert_verdict(&r, 2, GET_CRITICAL, &["RST"]);
    assert!(
        r.elapsed < Duration::from_millis(400),
        "should fail on the RST, not wait\n{r}"
    );
    let r = http(
        &bed.tb,
        "lb",
        &["-t", "3000", "-S", "200"],
        RS3,
        PORT,
        "/health",
    );
    assert_verdict(&r, 2, CRITICAL, &["refused the connection (RST)"]);
}

// ---- IPv6 ------------------------------------------------------------------

/// A testbed whose rs1 and rs2 answer HTTP on [::]:80 (IPv4 too).
fn http_testbed() -> Testbed {
    let tb = Testbed::without_servers();
    tb.serve("rs1", PORT, Behaviour::Respond(health_reply()));
    tb.serve("rs2", PORT, Behaviour::Respond(health_reply()));
    tb
}

/// The three checks against `real_server` over IPv6, with extra options.
fn checks(real_server: &str, opts: &[&str]) -> Vec<(&'static str, Vec<String>)> {
    let port = PORT.to_string();
    let common: Vec<String> = opts
        .iter()
        .map(|s| s.to_string())
        .chain([IFACE, real_server, VIP6, &port].map(String::from))
        .collect();
    let with = |extra: &[&str]| -> Vec<String> {
        common
            .iter()
            .cloned()
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    vec![
        ("check_raw_tcp", with(&[])),
        ("check_raw_http_get", with(&["www", "/health", HEALTH_MD5])),
        ("check_raw_http", with(&["-S", "200", "www", "/health"])),
    ]
}

/// Run every check from `host`; each must exit `code` with `needle` in its
/// status line. All failures are collected before asserting.
fn expect_all(tb: &Testbed, host: &str, real_server: &str, opts: &[&str], code: i32, needle: &str) {
    let mut failures = Vec::new();
    for (name, args) in checks(real_server, opts) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = tb.run(host, &check_raw_bin(name), &args);
        if r.code != Some(code) || !r.status_line().contains(needle) {
            failures.push(format!("{name}: expected exit {code} and {needle:?}\n{r}"));
        }
    }
    assert_all_ok(&failures);
}

#[test]
fn master_rs1_passes_every_check_over_ipv6() {
    require!(Need::Testbed);
    let tb = http_testbed();
    expect_all(&tb, "lb", RS1_6, &[], 0, &format!("via {RS1_6} ("));
    let port = PORT.to_string();
    let r = tb.run(
        "lb",
        &check_raw_bin("check_raw_tcp"),
        &[IFACE, RS1_6, VIP6, &port],
    );
    assert!(
        r.status_line()
            .contains(&format!("[{VIP6}]:{PORT} answers")),
        "{r}"
    );
    assert_eq!(
        tb.wait_none_established("rs1", PORT, std::time::Duration::from_secs(1)),
        0
    );
}

#[test]
fn master_rs2_without_the_vip_fails_every_check() {
    require!(Need::Testbed);
    let tb = http_testbed();
    expect_all(&tb, "lb", RS2_6, &["-t", "300"], 2, "lack the VIP");
}

#[test]
fn master_rs3_with_nothing_listening_fails_at_once() {
    require!(Need::Testbed);
    let tb = http_testbed();
    expect_all(&tb, "lb", RS3_6, &[], 2, "refused the connection (RST)");
}

#[test]
fn backup_role_uses_the_kernel_over_ipv6() {
    require!(Need::Testbed);
    let tb = http_testbed();
    let role = RoleFile::backup();
    let backup = role.path();
    for host in ["lb", "lbb"] {
        // rs2 passes by design: the kernel connects to its own address.
        expect_all(&tb, host, RS1_6, &["-r", backup], 0, "(BACKUP role");
        expect_all(&tb, host, RS2_6, &["-r", backup], 0, "(BACKUP role");
        expect_all(&tb, host, RS3_6, &["-r", backup], 2, "Connection refused");
    }
    // -r auto on the BACKUP LB (no VIP) takes the kernel path as well.
    expect_all(&tb, "lbb", RS2_6, &["-r", "auto"], 0, "(BACKUP role");
}
