//! End-to-end tests of `check_raw_http_get` and `check_raw_http` on a real
//! (namespaced) LVS-DR network, against a real nginx and against servers of
//! the harness's own that answer in awkward ways.
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
//! rs2:80); the harness's own servers listen on rs1 at ports 8081 and up,
//! which then are the VIP port too. MASTER checks run in `lb` (raw frames to
//! the real server's MAC, destination the VIP); BACKUP checks use a role file
//! `0` (or `-r auto` in `lbb`) and connect through the kernel to the real
//! server's own address. Tests skip, with a message, when not run as root.

#[macro_use]
mod harness;

use std::io::{self, Read, Write};
use std::net::TcpStream;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use harness::*;

const OK: &str = "RAW_HTTP OK - ";
const CRITICAL: &str = "RAW_HTTP CRITICAL - ";
const UNKNOWN: &str = "RAW_HTTP UNKNOWN - ";
const GET_OK: &str = "RAW_HTTP_GET OK - ";
const GET_CRITICAL: &str = "RAW_HTTP_GET CRITICAL - ";
const GET_UNKNOWN: &str = "RAW_HTTP_GET UNKNOWN - ";
/// Usage errors are worded as monitoring-plugins word them.
const USAGE: &str = "check_raw_http: ";
const GET_USAGE: &str = "check_raw_http_get: ";

/// The Host header every check sends.
const HOST: &str = "www.example.test";
/// An MD5 no body here has.
const WRONG_MD5: &str = "0123456789abcdef0123456789abcdef";

/// Bound on every wait inside a custom server.
const SERVER_LIMIT: Duration = Duration::from_secs(5);

// ---- running the checks ----------------------------------------------------

/// `check_raw_http_get OPTS... eth0 REAL_SERVER VIP PORT HOST PATH MD5` in `from`.
fn http_get(
    tb: &Testbed,
    from: &str,
    opts: &[&str],
    real_server: &str,
    port: u16,
    path: &str,
    md5: &str,
) -> RunResult {
    let port = port.to_string();
    let mut args = opts.to_vec();
    args.extend([IFACE, real_server, VIP, &port, HOST, path, md5]);
    tb.run(from, &check_raw_bin("check_raw_http_get"), &args)
}

/// `check_raw_http OPTS... eth0 REAL_SERVER VIP PORT HOST PATH` in `from`.
fn http(
    tb: &Testbed,
    from: &str,
    opts: &[&str],
    real_server: &str,
    port: u16,
    path: &str,
) -> RunResult {
    let port = port.to_string();
    let mut args = opts.to_vec();
    args.extend([IFACE, real_server, VIP, &port, HOST, path]);
    tb.run(from, &check_raw_bin("check_raw_http"), &args)
}

/// Exit code, status-line prefix, and text the status line must contain.
/// Without `-v` the status line is the only line on stdout.
/// Perfdata `|time=<s>s;;;0.000000 size=<n>B;;;0`.
fn assert_perfdata(r: &RunResult, size: usize) {
    let perf = r.status_line().split_once('|').map(|(_, p)| p.trim());
    let size = format!("size={size}B;;;0");
    let ok = perf.is_some_and(|p| {
        p.starts_with("time=") && p.contains("s;;;0.000000") && p.split(' ').any(|f| f == size)
    });
    assert!(ok, "perfdata `time=...s;;;0.000000 {size}` expected\n{r}");
}

/// What names the path taken in an OK line: the real server alone for
/// MASTER, `RS:PORT (BACKUP role)` for BACKUP.
fn via(role: &str, real_server: &str, port: u16) -> String {
    if role == "BACKUP" {
        format!("via {real_server}:{port} (BACKUP role)")
    } else {
        format!("via {real_server} ")
    }
}

// ---- nginx -----------------------------------------------------------------

/// A testbed whose real servers rs1 and rs2 run nginx on :80 (rs3 still has
/// nothing there). Fields drop in order: nginx first, then the network.
struct NginxBed {
    rs1: Nginx,
    rs2: Nginx,
    tb: Testbed,
}

impl NginxBed {
    fn new() -> NginxBed {
        let tb = Testbed::without_servers();
        NginxBed {
            rs1: tb.nginx("rs1", PORT),
            rs2: tb.nginx("rs2", PORT),
            tb,
        }
    }
}

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

// ---- BACKUP role against nginx -------------------------------------------------

/// BACKUP connects through the kernel to the real server's own address, so
/// by design rs2 (no VIP) passes; rs3 (closed port) is refused.
fn assert_backup_verdicts(bed: &NginxBed, from: &str, role_opts: &[&str]) {
    let tb = &bed.tb;
    let r = http_get(tb, from, role_opts, RS1, PORT, "/health", HEALTH_MD5);
    assert_verdict(&r, 0, GET_OK, &["3 bytes", &via("BACKUP", RS1, PORT)]);
    assert_nothing_left_open(tb, "rs1", PORT, &r);
    let from_ip = if from == "lb" { LB_IP } else { LBB_IP };
    let line = format!("{from_ip} -> {RS1}:{PORT} \"GET /health HTTP/1.1\" 200 3");
    let log = bed.rs1.wait_access_log(&line, SETTLE);
    assert!(
        log.contains(&line),
        "nginx access log lacks {line:?}:\n{log}\n{r}"
    );

    let md5 = md5_hex(&big_body());
    let r = http_get(tb, from, role_opts, RS1, PORT, "/big", &md5);
    assert_verdict(&r, 0, GET_OK, &["65536 bytes", &via("BACKUP", RS1, PORT)]);
    assert_perfdata(&r, BIG_LEN);

    let r = http_get(tb, from, role_opts, RS2, PORT, "/health", HEALTH_MD5);
    assert_verdict(&r, 0, GET_OK, &["3 bytes", &via("BACKUP", RS2, PORT)]);
    assert_nothing_left_open(tb, "rs2", PORT, &r);

    let r = http_get(tb, from, role_opts, RS3, PORT, "/health", HEALTH_MD5);
    let refused = format!("cannot connect to {RS3}:{PORT} (BACKUP role): Connection refused");
    assert_verdict(&r, 2, GET_CRITICAL, &[&refused]);

    let r = http_get(tb, from, role_opts, RS1, PORT, "/health", WRONG_MD5);
    assert_verdict(&r, 2, GET_CRITICAL, &[WRONG_MD5, HEALTH_MD5, "BACKUP role"]);

    let mut opts = role_opts.to_vec();
    opts.extend(["-S", "200", "-R", "Content-Length: 3", "-s", "ok"]);
    let r = http(tb, from, &opts, RS1, PORT, "/health");
    assert_verdict(&r, 0, OK, &["3 bytes", &via("BACKUP", RS1, PORT)]);
    let mut opts = role_opts.to_vec();
    opts.extend(["-S", "200"]);
    let r = http(tb, from, &opts, RS1, PORT, "/no-such-page");
    assert_verdict(&r, 2, CRITICAL, &["got 404", "BACKUP role"]);
}

#[test]
fn backup_role_file_on_master_lb() {
    require!(Need::Testbed, NGINX);
    let bed = NginxBed::new();
    let roles = Roles::new();
    assert_backup_verdicts(&bed, "lb", &roles.backup());
}

#[test]
fn backup_role_file_on_backup_lb() {
    require!(Need::Testbed, NGINX);
    let bed = NginxBed::new();
    let roles = Roles::new();
    assert_backup_verdicts(&bed, "lbb", &roles.backup());
}

#[test]
fn backup_role_auto_on_lb_without_vip() {
    require!(Need::Testbed, NGINX);
    let bed = NginxBed::new();
    assert_backup_verdicts(&bed, "lbb", &["-r", "auto"]);
}

#[test]
fn role_auto_on_lb_holding_the_vip_is_master() {
    require!(Need::Testbed, NGINX);
    let bed = NginxBed::new();
    let r = http_get(
        &bed.tb,
        "lb",
        &["-r", "auto"],
        RS1,
        PORT,
        "/health",
        HEALTH_MD5,
    );
    assert_verdict(&r, 0, GET_OK, &[&via("MASTER", RS1, PORT)]);
    assert!(!r.status_line().contains("BACKUP"), "MASTER expected\n{r}");
    let r = http_get(
        &bed.tb,
        "lb",
        &["-r", "auto", "-t", "500"],
        RS2,
        PORT,
        "/health",
        HEALTH_MD5,
    );
    assert_verdict(&r, 2, GET_CRITICAL, &["lack the VIP"]);
}

// ---- servers of our own ----------------------------------------------------

/// Sends `parts`, each as its own segment (TCP_NODELAY, `pause` between).
fn send_parts(stream: &mut TcpStream, parts: &[&[u8]], pause: Duration) -> io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(SERVER_LIMIT))?;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 && !pause.is_zero() {
            thread::sleep(pause);
        }
        stream.write_all(part)?;
        stream.flush()?;
    }
    Ok(())
}

/// Reads and discards until the client closes (or `SERVER_LIMIT`), so the
/// server never closes first: the client must know by itself where the
/// response ends.
fn await_close(stream: &mut TcpStream) {
    let _ = stream.set_read_timeout(Some(SERVER_LIMIT));
    let mut buf = [0u8; 1024];
    for _ in 0..1000 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Reads the request, sends `parts` as separate segments `pause` apart,
/// then waits for the client to close.
fn reply_in_parts(parts: Vec<Vec<u8>>, pause: Duration) -> Behaviour {
    Behaviour::custom(move |mut stream| {
        if read_request(&mut stream).is_err() {
            return;
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        if send_parts(&mut stream, &refs, pause).is_ok() {
            await_close(&mut stream);
        }
    })
}

/// `reply` one byte per segment.
fn reply_byte_by_byte(reply: &[u8]) -> Behaviour {
    let parts = reply.iter().map(|b| vec![*b]).collect();
    reply_in_parts(parts, Duration::from_millis(1))
}

const CHUNKED_DECODED: &[u8] = b"hello, world!";

/// `CHUNKED_DECODED` in chunks with extensions, then a trailer.
fn chunked_parts() -> Vec<Vec<u8>> {
    [
        &b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
        b"5;ext=1\r\nhello\r\n",
        b"7;name=\"quoted value\"\r\n, world\r\n",
        b"1\r\n!\r\n",
        b"0\r\nX-Trailer: yes\r\n\r\n",
    ]
    .iter()
    .map(|p| p.to_vec())
    .collect()
}

const LF_ONLY: &[u8] = b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok";

#[test]
fn lf_only_reply_is_ok() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let port = 8081;
    tb.serve(
        "rs1",
        port,
        reply_in_parts(vec![LF_ONLY.to_vec()], Duration::ZERO),
    );
    let roles = Roles::new();
    for (role, opts) in roles.both() {
        let mut opts = opts.clone();
        opts.extend(["-B", "ok"]);
        let r = http(&tb, "lb", &opts, RS1, port, "/");
        assert_verdict(&r, 0, OK, &["200 OK", "2 bytes", &via(role, RS1, port)]);
        assert_nothing_left_open(&tb, "rs1", port, &r);
    }
}

#[test]
fn chunked_reply_in_segments_is_decoded() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let port = 8082;
    tb.serve(
        "rs1",
        port,
        reply_in_parts(chunked_parts(), Duration::from_millis(5)),
    );
    let md5 = md5_hex(CHUNKED_DECODED);
    let roles = Roles::new();
    for (role, opts) in roles.both() {
        let r = http_get(&tb, "lb", &opts, RS1, port, "/", &md5);
        assert_verdict(&r, 0, GET_OK, &["13 bytes", &via(role, RS1, port)]);
        assert_perfdata(&r, CHUNKED_DECODED.len());
        let mut opts = opts.clone();
        opts.extend(["-B", "hello, world!"]);
        let r = http(&tb, "lb", &opts, RS1, port, "/");
        assert_verdict(&r, 0, OK, &["13 bytes"]);
        assert_nothing_left_open(&tb, "rs1", port, &r);
    }
}

#[test]
fn reply_one_byte_per_segment_is_ok() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let (plain, chunked) = (8083, 8084);
    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nX-Pad: one byte per segment\r\n\r\nhello, world!";
    tb.serve("rs1", plain, reply_byte_by_byte(reply));
    tb.serve(
        "rs1",
        chunked,
        reply_byte_by_byte(&chunked_parts().concat()),
    );
    let md5 = md5_hex(CHUNKED_DECODED);
    let roles = Roles::new();
    for (role, opts) in roles.both() {
        let mut opts = opts.clone();
        opts.extend(["-t", "5000"]);
        for port in [plain, chunked] {
            let r = http_get(&tb, "lb", &opts, RS1, port, "/", &md5);
            assert_verdict(&r, 0, GET_OK, &["13 bytes", &via(role, RS1, port)]);
            assert_nothing_left_open(&tb, "rs1", port, &r);
        }
    }
}

#[test]
fn close_delimited_http10_reply_is_ok() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let port = 8085;
    // `Respond` closes its write side after the reply: the FIN ends the body.
    let reply = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody ended by close\n";
    tb.serve("rs1", port, Behaviour::Respond(reply.to_vec()));
    let md5 = md5_hex(b"body ended by close\n");
    let roles = Roles::new();
    for (role, opts) in roles.both() {
        let r = http_get(&tb, "lb", &opts, RS1, port, "/", &md5);
        assert_verdict(
            &r,
            0,
            GET_OK,
            &["HTTP/1.0 200 OK", "20 bytes", &via(role, RS1, port)],
        );
        assert_nothing_left_open(&tb, "rs1", port, &r);
    }
}

#[test]
fn server_that_never_answers_times_out_on_response_start() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let port = 8086;
    tb.serve("rs1", port, Behaviour::Silent);
    let roles = Roles::new();
    for (_, opts) in roles.both() {
        let mut opts = opts.clone();
        opts.extend(["-t", "500"]);
        let r = http_get(&tb, "lb", &opts, RS1, port, "/", HEALTH_MD5);
        assert_verdict(
            &r,
            2,
            GET_CRITICAL,
            &["timeout waiting for the response start", "after 500 ms"],
        );
        assert_elapsed(&r, 500, 1500);
        // Giving up closes the connection: the server is not left holding it.
        assert_nothing_left_open(&tb, "rs1", port, &r);
    }
}

#[test]
fn server_that_stalls_in_the_body_times_out_on_response_end() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let port = 8087;
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec();
    let half = vec![b'x'; 50];
    tb.serve(
        "rs1",
        port,
        reply_in_parts(vec![head, half], Duration::from_millis(5)),
    );
    let roles = Roles::new();
    for (_, opts) in roles.both() {
        let mut opts = opts.clone();
        opts.extend(["-t", "500", "-S", "200"]);
        let r = http(&tb, "lb", &opts, RS1, port, "/");
        assert_verdict(
            &r,
            2,
            CRITICAL,
            &["timeout waiting for the response end", "after 500 ms"],
        );
        assert_elapsed(&r, 500, 1500);
        assert_nothing_left_open(&tb, "rs1", port, &r);
    }
}

#[test]
fn not_found_reply_is_critical() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let port = 8088;
    let reply = b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found".to_vec();
    tb.serve("rs1", port, reply_in_parts(vec![reply], Duration::ZERO));
    let r = http(&tb, "lb", &["-S", "200"], RS1, port, "/");
    assert_verdict(
        &r,
        2,
        CRITICAL,
        &["HTTP/1.1 404 Not Found", "expected status 200, got 404"],
    );
    let r = http_get(&tb, "lb", &[], RS1, port, "/", &md5_hex(b"not found"));
    assert_verdict(&r, 2, GET_CRITICAL, &["404"]);
    assert_nothing_left_open(&tb, "rs1", port, &r);
}

#[test]
fn reply_over_max_bytes_is_critical() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let (sized, chunked) = (8089, 8090);
    let body = vec![b'x'; 2000];
    let mut reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n".to_vec();
    reply.extend_from_slice(&body);
    tb.serve("rs1", sized, reply_in_parts(vec![reply], Duration::ZERO));
    let mut parts = vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()];
    for _ in 0..4 {
        parts.push(format!("1f4\r\n{}\r\n", "x".repeat(500)).into_bytes());
    }
    parts.push(b"0\r\n\r\n".to_vec());
    tb.serve(
        "rs1",
        chunked,
        reply_in_parts(parts, Duration::from_millis(2)),
    );
    let md5 = md5_hex(&body);
    for port in [sized, chunked] {
        let r = http_get(&tb, "lb", &["-m", "1000"], RS1, port, "/", &md5);
        assert_verdict(&r, 2, GET_CRITICAL, &["max-bytes", "1000"]);
        assert_nothing_left_open(&tb, "rs1", port, &r);
        // The same reply passes with the default limit.
        let r = http_get(&tb, "lb", &[], RS1, port, "/", &md5);
        assert_verdict(&r, 0, GET_OK, &["2000 bytes"]);
        let r = http(&tb, "lb", &["-m", "1000", "-S", "200"], RS1, port, "/");
        assert_verdict(&r, 2, CRITICAL, &["max-bytes", "1000"]);
    }
}

/// A server that speaks first with `banner` and never says HTTP.
fn banner_server(banner: &'static [u8]) -> Behaviour {
    Behaviour::custom(move |mut stream| {
        if send_parts(&mut stream, &[banner], Duration::ZERO).is_ok() {
            await_close(&mut stream);
        }
    })
}

#[test]
fn garbage_reply_is_invalid() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    // A real OpenSSH banner, and a short one: the answer is not HTTP as soon
    // as its first bytes are not `HTTP/`, whatever its length.
    let (long, short) = (8091, 8094);
    tb.serve(
        "rs1",
        long,
        banner_server(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
    );
    tb.serve("rs1", short, banner_server(b"SSH-2.0-x\r\n"));
    let roles = Roles::new();
    let mut failures = Vec::new();
    for port in [long, short] {
        for (_, opts) in roles.both() {
            let mut opts = opts.clone();
            opts.extend(["-t", "1000"]);
            let r = http_get(&tb, "lb", &opts, RS1, port, "/", HEALTH_MD5);
            let judged = verdict(&r, 2, GET_CRITICAL, &["invalid response", "SSH-2.0"]);
            if let Err(e) = judged {
                failures.push(e);
            } else if r.elapsed >= Duration::from_millis(500) {
                failures.push(format!("should fail at once, not wait\n{r}"));
            }
            assert_nothing_left_open(&tb, "rs1", port, &r);
        }
    }
    assert_all_ok(&failures);
}

#[test]
fn interim_100_continue_is_skipped() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let port = 8092;
    let parts = vec![
        b"HTTP/1.1 100 Continue\r\n\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
    ];
    tb.serve("rs1", port, reply_in_parts(parts, Duration::from_millis(5)));
    let r = http(&tb, "lb", &["-S", "200", "-B", "ok"], RS1, port, "/");
    assert_verdict(&r, 0, OK, &["HTTP/1.1 200 OK", "2 bytes"]);
    // Only the final response counts: 100 is not what -S sees.
    let r = http(&tb, "lb", &["-S", "100"], RS1, port, "/");
    assert_verdict(&r, 2, CRITICAL, &["got 200"]);
}

#[test]
fn request_carries_method_path_host_and_headers() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let port = 8093;
    let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let seen2 = Arc::clone(&seen);
    tb.serve(
        "rs1",
        port,
        Behaviour::custom(move |mut stream| {
            let Ok(req) = read_request(&mut stream) else {
                return;
            };
            seen2.lock().unwrap_or_else(|e| e.into_inner()).push(req);
            let reply: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            if send_parts(&mut stream, &[reply], Duration::ZERO).is_ok() {
                await_close(&mut stream);
            }
        }),
    );
    let path = "/some/path?q=1&r=%20";
    let r = http(
        &tb,
        "lb",
        &["-H", "X-Test: one", "-H", "Accept: text/plain", "-S", "200"],
        RS1,
        port,
        path,
    );
    assert_verdict(&r, 0, OK, &["2 bytes"]);
    let r2 = http(&tb, "lb", &["-M", "HEAD", "-S", "200"], RS1, port, "/");
    // HEAD: the 2 bytes after the head are not a body.
    assert_verdict(&r2, 0, OK, &["0 bytes"]);
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(seen.len(), 2, "two requests expected\n{r}\n{r2}");
    let get = String::from_utf8_lossy(&seen[0]);
    let head = String::from_utf8_lossy(&seen[1]);
    for needle in [
        format!("GET {path} HTTP/1.1\r\n"),
        format!("\r\nHost: {HOST}\r\n"),
        "\r\nX-Test: one\r\n".to_owned(),
        "\r\nAccept: text/plain\r\n".to_owned(),
    ] {
        assert!(get.contains(&needle), "request lacks {needle:?}:\n{get}");
    }
    assert!(get.starts_with("GET "), "request line first:\n{get}");
    assert!(get.ends_with("\r\n\r\n"), "CRLF head end:\n{get}");
    assert!(
        head.starts_with("HEAD / HTTP/1.1\r\n"),
        "HEAD request:\n{head}"
    );
}

// ---- usage errors ----------------------------------------------------------

/// Every rejected argument gives exit 3 and a first line
/// `check_raw_http[_get]: ...` naming it (any of the given words,
/// case-insensitive), before anything is sent: the listener on rs1:80 never
/// sees a connection. Run in `lb`, so a binary that wrongly accepted an
/// argument could not send frames on the host.
#[test]
fn bad_arguments_are_unknown_and_send_nothing() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let server = tb.server("rs1", PORT);
    let long_path = format!("/{}", "a".repeat(2999));
    let port = PORT.to_string();
    let target = [IFACE, RS1, VIP, port.as_str(), HOST];
    let http_args = |opts: &[&str], path: &str| -> Vec<String> {
        opts.iter()
            .chain(target.iter())
            .chain([&path])
            .map(|s| s.to_string())
            .collect()
    };
    let get_args = |opts: &[&str], path: &str, md5: &str| -> Vec<String> {
        let mut a = http_args(opts, path);
        a.push(md5.to_owned());
        a
    };
    let cases: Vec<(&str, &str, Vec<String>, &[&str])> = vec![
        (
            "no expectation",
            "check_raw_http",
            http_args(&[], "/health"),
            &["nothing to verify", "expectation"],
        ),
        (
            "-M POST",
            "check_raw_http",
            http_args(&["-M", "POST", "-S", "200"], "/health"),
            &["POST"],
        ),
        (
            "3000-byte PATH",
            "check_raw_http",
            http_args(&["-S", "200"], &long_path),
            &["PATH", "too large", "long"],
        ),
        (
            "3000-byte PATH (http_get)",
            "check_raw_http_get",
            get_args(&[], &long_path, HEALTH_MD5),
            &["PATH", "too large", "long"],
        ),
        (
            "PATH without a leading slash",
            "check_raw_http",
            http_args(&["-S", "200"], "health"),
            &["PATH"],
        ),
        (
            "PATH without a leading slash (http_get)",
            "check_raw_http_get",
            get_args(&[], "health", HEALTH_MD5),
            &["PATH"],
        ),
        (
            "-H without a colon",
            "check_raw_http",
            http_args(&["-H", "NoColon", "-S", "200"], "/health"),
            &["NoColon"],
        ),
        (
            "MD5 too short",
            "check_raw_http_get",
            get_args(&[], "/health", "abc123"),
            &["MD5"],
        ),
        (
            "MD5 not hex",
            "check_raw_http_get",
            get_args(&[], "/health", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"),
            &["MD5"],
        ),
        (
            "-A not an MD5",
            "check_raw_http",
            http_args(&["-A", "abc"], "/health"),
            &["hash", "MD5"],
        ),
        (
            "-S 99",
            "check_raw_http",
            http_args(&["-S", "99"], "/health"),
            &["99"],
        ),
        (
            "bad regex",
            "check_raw_http",
            http_args(&["--regex", "("], "/health"),
            &["regex"],
        ),
        (
            "--invert-regex alone",
            "check_raw_http",
            http_args(&["-S", "200", "--invert-regex"], "/health"),
            &["invert-regex"],
        ),
        (
            "http_get: missing MD5",
            "check_raw_http_get",
            http_args(&[], "/health"),
            &["MD5", "argument", "usage", "missing"],
        ),
    ];
    let mut failures = Vec::new();
    for (what, program, args, names) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = tb.run("lb", &check_raw_bin(program), &args);
        let prefix = if *program == "check_raw_http" {
            USAGE
        } else {
            GET_USAGE
        };
        let line = r.status_line().to_lowercase();
        let named = names.iter().any(|n| line.contains(&n.to_lowercase()));
        if r.code != Some(3) || !r.status_line().starts_with(prefix) || !named {
            // The 3000-byte path would fill the screen, twice.
            let shown = format!("{r}").replace(&long_path, "/aaa...(3000 bytes)");
            failures.push(format!(
                "[{what}] expected exit 3, {prefix:?} naming one of {names:?}\n{shown}"
            ));
        }
    }
    assert_eq!(
        server.accepted(),
        0,
        "a rejected command line must send nothing ({server:?})"
    );
    assert_all_ok(&failures);
}

/// A problem found at run time, not in the arguments, is a status line.
#[test]
fn missing_role_file_is_unknown() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let dir = TempDir::new();
    let missing = dir.path().join("no-such-role-file");
    let opts = ["-r", path_str(&missing)];
    let r = http_get(&tb, "lb", &opts, RS1, PORT, "/health", HEALTH_MD5);
    assert_verdict(&r, 3, GET_UNKNOWN, &[path_str(&missing), "No such file"]);
    let opts = ["-r", path_str(&missing), "-S", "200"];
    let r = http(&tb, "lb", &opts, RS1, PORT, "/health");
    assert_verdict(&r, 3, UNKNOWN, &[path_str(&missing), "No such file"]);
    assert_eq!(tb.server("rs1", PORT).accepted(), 0, "nothing may be sent");
}

// ---- help: no network, no root needed --------------------------------------

#[test]
fn help_shows_usage() {
    for (program, needle) in [
        ("check_raw_http", "--status-code"),
        ("check_raw_http_get", "MD5"),
    ] {
        let r = run_local(&check_raw_bin(program), &["--help"]);
        assert!(matches!(r.code, Some(0 | 3)), "{r}");
        assert!(
            r.stdout.contains("SOURCE_IFACE") && r.stdout.contains(needle),
            "usage expected on stdout\n{r}"
        );
    }
}

// ---- regressions -------------------------------------------------------------

/// How the BACKUP role ended each connection, as the server saw it.
fn backup_ends(
    tb: &Testbed,
    server: &ServerHandle,
    opts: &[&str],
    port: u16,
) -> (RunResult, Vec<ConnEnd>) {
    let before = server.ends().len();
    let r = http(tb, "lb", opts, RS1, port, "/");
    let ends = server.wait_ends(before + 1, SETTLE);
    (r, ends[before.min(ends.len())..].to_vec())
}

/// In the BACKUP role a failed check ends the server's connection with
/// RST, as the raw path does, never with a FIN handshake the server has to
/// finish: against a server that answers garbage and one that never
/// answers (`-t 500`).
#[test]
fn backup_role_failures_end_the_connection_with_rst() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let (garbage, mute) = (8095, 8096);
    let garbage_server = tb.serve(
        "rs1",
        garbage,
        Behaviour::Respond(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".to_vec()),
    );
    // Reads the request, never answers, and reports how the client closed.
    let mute_server = tb.serve("rs1", mute, Behaviour::ReadUntilEofThenClose);
    let roles = Roles::new();
    let mut failures = Vec::new();
    for (what, server, port, code, needle) in [
        (
            "garbage reply",
            &garbage_server,
            garbage,
            2,
            "invalid response",
        ),
        (
            "no reply",
            &mute_server,
            mute,
            2,
            "timeout waiting for the response start",
        ),
    ] {
        let mut opts = roles.backup().to_vec();
        opts.extend(["-t", "500", "-S", "200"]);
        let (r, ends) = backup_ends(&tb, server, &opts, port);
        if let Err(e) = verdict(&r, code, CRITICAL, &[needle, "BACKUP role"]) {
            failures.push(format!("[{what}] {e}"));
        }
        if ends != [ConnEnd::Reset] {
            failures.push(format!(
                "[{what}] the server should see one RST, saw {ends:?} ({server:?})\n{r}"
            ));
        }
    }
    assert_all_ok(&failures);
}

/// Guard for the test above: a BACKUP check that passes, without `-c`,
/// ends with RST too.
#[test]
fn backup_role_success_without_clean_close_ends_with_rst() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let port = 8097;
    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec();
    let server = tb.serve("rs1", port, Behaviour::Respond(reply));
    let roles = Roles::new();
    let mut opts = roles.backup().to_vec();
    opts.extend(["-S", "200"]);
    let (r, ends) = backup_ends(&tb, &server, &opts, port);
    assert_verdict(&r, 0, OK, &[&via("BACKUP", RS1, port)]);
    assert_eq!(
        ends,
        [ConnEnd::Reset],
        "the server should see one RST ({server:?})\n{r}"
    );
}
