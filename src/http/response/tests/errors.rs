//! Malformed heads, chunked errors, the peer closing early, the parser's
//! life cycle and its messages.
use super::*;

// ---- malformed heads ----

#[test]
fn malformed_heads() {
    let cases: [(&[u8], &str); 9] = [
        (b"HTTP/1.1 2x0 OK\r\n\r\n", "malformed HTTP response head: invalid status code in \"HTTP/1.1 2x0 OK\""),
        (b"HTTP/1.1 20 OK\r\n\r\n", "malformed HTTP response head: invalid status code in \"HTTP/1.1 20 OK\""),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "malformed HTTP response head: invalid status code in \"HTTP/1.1 2000 OK\""),
        (b"HTTP/1.1 200 O\x01K\r\n\r\n", "malformed HTTP response head: invalid reason phrase in \"HTTP/1.1 200 O\\u{1}K\""),
        (b"HTTP/1.1 999 Odd\r\n\r\n", "malformed HTTP response head: status code 999 is outside 100-599"),
        (b"HTTP/1.1 099 Odd\r\n\r\n", "malformed HTTP response head: status code 99 is outside 100-599"),
        (b"HTTP/2 200 OK\r\n\r\n", "malformed HTTP response head: unsupported HTTP version (expected HTTP/1.0 or HTTP/1.1) in \"HTTP/2 200 OK\""),
        (b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n", "malformed HTTP response head: invalid header name after \"HTTP/1.1 200 OK\""),
        (b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", "malformed HTTP response head: invalid header value after \"HTTP/1.1 200 OK\""),
    ];
    for (input, message) in cases {
        assert_eq!(err(input), message, "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn short_non_http_banner_fails_without_waiting_for_more() {
    let mut parser = ResponseParser::new(false, 1024);
    assert_eq!(
        parser.feed(b"SSH-2.0-x\r\n").unwrap_err().to_string(),
        "response does not start with \"HTTP/\" (got \"SSH-2.0-x\\r\\n\")"
    );
    // A partial but so far valid start waits for more.
    let mut parser = ResponseParser::new(false, 1024);
    assert_eq!(parser.feed(b"HTTP/1.1 2"), Ok(Progress::NeedMore));
}

#[test]
fn not_http() {
    assert_eq!(
        err(b"hello world\r\n\r\n"),
        "response does not start with \"HTTP/\" (got \"hello world\\r\\n\")"
    );
    assert_eq!(
        err(b"200 OK\r\nContent-Length: 0\r\n\r\n"),
        "response does not start with \"HTTP/\" (got \"200 OK\\r\\n\")"
    );
    assert_eq!(
        err(b"http/1.1 200 OK\r\n\r\n"),
        "response does not start with \"HTTP/\" (got \"http/1.1 200 OK\\r\")"
    );
    // A TLS alert, then the close.
    assert_eq!(
        err(b"\x15\x03\x01\x00\x02\x02\x50"),
        "response does not start with \"HTTP/\" (got \"\\u{15}\\u{3}\\u{1}\\u{0}\\u{2}\\u{2}P\")"
    );
}

#[test]
fn not_http_is_noticed_before_the_close() {
    let mut parser = ResponseParser::new(false, MAX);
    assert_eq!(
        parser
            .feed(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3\r\n")
            .map_err(|e| e.to_string()),
        Err("response does not start with \"HTTP/\" (got \"SSH-2.0-OpenSSH_\")".to_string())
    );
    assert_eq!(parser.phase(), Phase::AwaitingHead);
}

// ---- chunked errors ----

fn chunked(body: &[u8]) -> Vec<u8> {
    [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
        body,
    ]
    .concat()
}

#[test]
fn bad_chunk_sizes() {
    let cases: [(&[u8], &str); 8] = [
        (b"zz\r\n", "bad chunk size line \"zz\""),
        (b"\r\n", "bad chunk size line \"\""),
        (b"0x10\r\nabc", "bad chunk size line \"0x10\""),
        (b"-1\r\n", "bad chunk size line \"-1\""),
        (b" ; ext\r\n", "bad chunk size line \" ; ext\""),
        (b"5 5\r\nhello\r\n", "bad chunk size line \"5 5\""),
        (
            b"ffffffffffffffffff\r\n",
            "chunk size overflows 64 bits in line \"ffffffffffffffffff\"",
        ),
        (
            b"10000000000000000;x\r\n",
            "chunk size overflows 64 bits in line \"10000000000000000;x\"",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(
            err(&chunked(body)),
            message,
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn missing_crlf_after_chunk_data() {
    assert_eq!(
        err(&chunked(b"3\r\nabcd\r\n0\r\n\r\n")),
        "missing CRLF after chunk data (got byte 0x64)"
    );
    assert_eq!(
        err(&chunked(b"3\r\nabc\rX\r\n0\r\n\r\n")),
        "missing CRLF after chunk data (got byte 0x58)"
    );
    assert_eq!(
        err(&chunked(b"3\r\nabc\r\r\n0\r\n\r\n")),
        "missing CRLF after chunk data (got byte 0x0d)"
    );
}

#[test]
fn chunk_line_and_trailer_limits() {
    let fits = chunked(
        &[
            &b"2;"[..],
            &[b'e'; MAX_CHUNK_LINE_BYTES - 4],
            b"\r\nok\r\n0\r\n\r\n",
        ]
        .concat(),
    );
    assert_eq!(some_splits(MAX, &fits).map(|r| r.body), Ok(b"ok".to_vec()));
    let long = chunked(
        &[
            &b"2;"[..],
            &[b'e'; MAX_CHUNK_LINE_BYTES - 3],
            b"\r\nok\r\n0\r\n\r\n",
        ]
        .concat(),
    );
    assert_eq!(
        some_splits(MAX, &long).map_err(|e| e.to_string()),
        Err("chunk size line longer than 4096 bytes".to_string())
    );

    let mut trailers = b"0\r\n".to_vec();
    for _ in 0..700 {
        trailers.extend_from_slice(&[b't'; 98]);
        trailers.extend_from_slice(b"\r\n");
    }
    trailers.extend_from_slice(b"\r\n");
    assert_eq!(
        some_splits(MAX, &chunked(&trailers)).map_err(|e| e.to_string()),
        Err("chunked trailer section exceeds 65536 bytes".to_string())
    );
}

// ---- the peer closing early ----

#[test]
fn eof_before_the_end() {
    let cases: [(&[u8], &str); 6] = [
        (b"", "connection closed before any response"),
        (
            b"HTTP/1.1 200 OK\r\nContent-",
            "connection closed before the end of the response head (25 bytes of it received)",
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\n",
            "connection closed before the end of the response head (0 bytes of it received)",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe",
            "connection closed after 2 of 5 body bytes",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nab",
            "connection closed in the chunked body before its last chunk (7 body bytes received)",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n",
            "connection closed in the chunked body before its last chunk (0 body bytes received)",
        ),
    ];
    for (input, message) in cases {
        assert_eq!(err(input), message, "{:?}", String::from_utf8_lossy(input));
    }
}

// ---- parser life cycle ----

#[test]
fn parser_is_finished_after_complete_or_error() {
    let mut parser = ResponseParser::new(false, MAX);
    assert!(matches!(
        parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        Ok(Progress::Complete(_))
    ));
    assert_eq!(parser.feed(b"more"), Err(HttpError::AlreadyComplete));
    assert_eq!(parser.eof(), Err(HttpError::AlreadyComplete));

    let mut parser = ResponseParser::new(false, MAX);
    let first = parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n");
    assert!(matches!(first, Err(HttpError::InvalidContentLength { .. })));
    assert_eq!(parser.feed(b"HTTP/1.1 200 OK\r\n\r\n"), first);
    assert_eq!(parser.eof().map(|_| Progress::NeedMore), first);
}

#[test]
fn phases() {
    let mut parser = ResponseParser::new(false, MAX);
    assert_eq!(parser.phase(), Phase::AwaitingHead);
    assert_eq!(parser.feed(b"HTTP/1.1 200 OK\r\n"), Ok(Progress::NeedMore));
    assert_eq!(parser.phase(), Phase::AwaitingHead);
    assert_eq!(
        parser.feed(b"Content-Length: 4\r\n\r\nab"),
        Ok(Progress::NeedMore)
    );
    assert_eq!(parser.phase(), Phase::ReadingBody);
    assert!(parser.eof().is_err());
    assert_eq!(
        parser.phase(),
        Phase::ReadingBody,
        "a failed parser keeps its phase"
    );
}

#[test]
fn error_messages() {
    let cases = [
        (
            HttpError::AlreadyComplete,
            "response parser used again after the response was complete",
        ),
        (
            HttpError::TooManyHeaders { limit: 100 },
            "response head has more than 100 header fields",
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
    }
}
