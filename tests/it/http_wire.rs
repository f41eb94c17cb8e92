//! The HTTP checks (`check_raw_http`, `check_raw_http_get`) against servers
//! of the harness's own that answer in awkward ways nginx never would: a
//! reply split over many segments or sent one byte per segment, LF-only
//! line ends, chunked bodies with extensions and trailers, HTTP/1.0
//! replies that end at the close, a server that never answers or stalls in
//! the body, a 404, a reply over `-m`, a non-HTTP banner, an interim
//! `100 Continue`; and the request itself as the server reads it (method,
//! path, Host, `-H` headers).
//!
//! Each test builds its own testbed without the usual listeners; its
//! server listens on rs1 at a port of 8081 and up, which then is the VIP
//! port too. MASTER runs in `lb`, BACKUP with a role file `0`. Tests skip,
//! with a message, when not run as root. The checks against nginx are in
//! `http.rs`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::harness::http::*;
use crate::harness::*;

/// Bound on every wait inside a custom server.
const SERVER_LIMIT: Duration = Duration::from_secs(5);

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
