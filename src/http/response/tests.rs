//! Unit tests of `http::response`.
use super::*;

const MAX: usize = DEFAULT_MAX_BYTES;

/// Feeds the pieces in order and, if the response is still incomplete,
/// reports the peer's close: what a caller gets when the server closes
/// after the last piece.
fn run(head_request: bool, max: usize, pieces: &[&[u8]]) -> Result<Response, HttpError> {
    let mut parser = ResponseParser::new(head_request, max);
    for piece in pieces {
        if let Progress::Complete(response) = parser.feed(piece)? {
            return Ok(response);
        }
    }
    parser.eof()
}

/// Parses `input` whole, split in two at every byte boundary, and one
/// byte at a time; asserts the results are identical and returns it.
fn every_split(head_request: bool, max: usize, input: &[u8]) -> Result<Response, HttpError> {
    let whole = run(head_request, max, &[input]);
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        assert_eq!(run(head_request, max, &[a, b]), whole, "split at {at}");
    }
    assert_eq!(
        bytewise(head_request, max, input),
        whole,
        "one byte at a time"
    );
    whole
}

/// For inputs too long to split everywhere: a few split points, a few
/// piece sizes, and one byte at a time.
fn some_splits(max: usize, input: &[u8]) -> Result<Response, HttpError> {
    let whole = run(false, max, &[input]);
    for at in [1, 2, input.len() / 2, input.len().saturating_sub(1)] {
        let (a, b) = input.split_at(at.min(input.len()));
        assert_eq!(run(false, max, &[a, b]), whole, "split at {at}");
    }
    for size in [7, 1000, 4096] {
        let pieces: Vec<&[u8]> = input.chunks(size).collect();
        assert_eq!(run(false, max, &pieces), whole, "pieces of {size}");
    }
    assert_eq!(bytewise(false, max, input), whole, "one byte at a time");
    whole
}

fn bytewise(head_request: bool, max: usize, input: &[u8]) -> Result<Response, HttpError> {
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    run(head_request, max, &bytes)
}

fn ok(input: &[u8]) -> Response {
    every_split(false, MAX, input).expect("a valid response")
}

fn err(input: &[u8]) -> String {
    every_split(false, MAX, input)
        .expect_err("an invalid response")
        .to_string()
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

// ---- framings ----

#[test]
fn content_length_body() {
    let input = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
    let expected = Response {
        version: 1,
        code: 200,
        reason: "OK".to_string(),
        headers: fields(&[("Content-Type", "text/plain"), ("Content-Length", "5")]),
        body: b"hello".to_vec(),
        wire_bytes: input.len(),
    };
    assert_eq!(ok(input), expected);
}

#[test]
fn complete_without_waiting_for_close() {
    let mut parser = ResponseParser::new(false, MAX);
    let progress = parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assert!(matches!(progress, Ok(Progress::Complete(ref r)) if r.body == b"ok"));
    assert_eq!(parser.phase(), Phase::Complete);
}

#[test]
fn data_after_the_response_is_ignored() {
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let input = [&response[..], b"HTTP/1.1 500 Oops\r\n\r\n"].concat();
    let parsed = ok(&input);
    assert_eq!(parsed.body, b"ok");
    assert_eq!(parsed.wire_bytes, response.len());
}

#[test]
fn chunked_with_extensions_trailers_and_hex_case() {
    let response: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;name=value\r\nhello\r\n\
        A ; ext=\"q;x\"\r\n0123456789\r\n\
        1a\r\nabcdefghijklmnopqrstuvwxyz\r\n\
        1A\r\nABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n\
        0000;last\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n";
    let input = [response, b"junk"].concat();
    let parsed = ok(&input);
    let body = "hello0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    assert_eq!(String::from_utf8_lossy(&parsed.body), body);
    assert_eq!(parsed.wire_bytes, response.len());
    assert_eq!(parsed.header("X-Trailer"), None, "trailers are skipped");
}

#[test]
fn chunked_with_lf_only_lines() {
    let parsed = ok(b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\nhello\n0\n\n");
    assert_eq!(parsed.body, b"hello");
}

#[test]
fn chunked_with_leading_zeros_and_empty_trailer_section() {
    let parsed = ok(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n000000000000000000000002\r\nok\r\n0\r\n\r\n");
    assert_eq!(parsed.body, b"ok");
}

#[test]
fn close_delimited_body() {
    let input = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nread until close";
    let parsed = ok(input);
    assert_eq!(parsed.version, 0);
    assert_eq!(parsed.body, b"read until close");
    assert_eq!(parsed.wire_bytes, input.len());

    let mut parser = ResponseParser::new(false, MAX);
    assert_eq!(parser.feed(input), Ok(Progress::NeedMore));
    assert_eq!(parser.phase(), Phase::ReadingBody);
    assert_eq!(
        parser.eof().map(|r| r.body),
        Ok(b"read until close".to_vec())
    );
    assert_eq!(parser.phase(), Phase::Complete);
}

#[test]
fn close_delimited_http11_and_empty() {
    assert_eq!(ok(b"HTTP/1.1 200 OK\r\n\r\nabc").body, b"abc");
    assert_eq!(ok(b"HTTP/1.1 200 OK\r\n\r\n").body, b"");
}

#[test]
fn head_response_has_no_body() {
    let input = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
    let parsed = every_split(true, MAX, input).expect("valid");
    assert_eq!(parsed.body, b"");
    assert_eq!(parsed.wire_bytes, input.len());
    let mut parser = ResponseParser::new(true, MAX);
    assert!(matches!(parser.feed(input), Ok(Progress::Complete(_))));

    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(
        every_split(true, MAX, chunked).map(|r| r.body),
        Ok(Vec::new())
    );
}

#[test]
fn no_body_for_204_and_304() {
    for head in [
        &b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"[..],
        b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        let parsed = ok(&[head, b"0123456789"].concat());
        assert_eq!(parsed.body, b"");
        assert_eq!(parsed.wire_bytes, head.len());
    }
    assert_eq!(
        ok(b"HTTP/1.1 204 No Content\r\n\r\n").status_line(),
        "HTTP/1.1 204 No Content"
    );
}

#[test]
fn interim_responses_are_skipped() {
    let input: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
        HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
        HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let parsed = ok(input);
    assert_eq!(parsed.code, 200);
    assert_eq!(parsed.headers, fields(&[("Content-Length", "2")]));
    assert_eq!(parsed.body, b"ok");
    assert_eq!(parsed.wire_bytes, input.len(), "interim heads count");

    let mut parser = ResponseParser::new(false, MAX);
    assert_eq!(
        parser.feed(b"HTTP/1.1 100 Continue\r\n\r\n"),
        Ok(Progress::NeedMore)
    );
    assert_eq!(parser.phase(), Phase::AwaitingHead);
}

#[test]
fn switching_protocols_is_refused() {
    assert_eq!(
        err(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"),
        "unexpected 101 Switching Protocols (no upgrade was requested)"
    );
}

#[test]
fn http10_with_content_length() {
    let parsed = ok(b"HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\n\r\nnopextra");
    assert_eq!((parsed.version, parsed.code), (0, 404));
    assert_eq!(parsed.body, b"nop");
    assert_eq!(parsed.status_line(), "HTTP/1.0 404 Not Found");
}

#[test]
fn lf_only_and_mixed_line_endings() {
    let parsed = ok(b"HTTP/1.1 200 OK\nContent-Length: 5\nX-A: b\n\nhello");
    assert_eq!(
        parsed.headers,
        fields(&[("Content-Length", "5"), ("X-A", "b")])
    );
    assert_eq!(parsed.body, b"hello");
    let mixed = ok(b"HTTP/1.1 200 OK\r\nContent-Length: 5\nX-A: b\r\n\nhello");
    assert_eq!(mixed.body, b"hello");
    let mixed_end = ok(b"HTTP/1.1 200 OK\nContent-Length: 5\n\r\nhello");
    assert_eq!(mixed_end.body, b"hello");
}

#[test]
fn blank_lines_before_the_status_line_are_tolerated() {
    let input = b"\r\n\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    let parsed = ok(input);
    assert_eq!(parsed.code, 200);
    assert_eq!(parsed.wire_bytes, input.len());
}

#[test]
fn chunked_wins_over_content_length() {
    let parsed = ok(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
    assert_eq!(parsed.body, b"ok");
}

#[test]
fn transfer_codings() {
    let gzip_chunked =
        ok(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n2\r\nzz\r\n0\r\n\r\n");
    assert_eq!(
        gzip_chunked.body, b"zz",
        "codings other than chunked are kept"
    );
    let two_fields = ok(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nzz\r\n0\r\n\r\n");
    assert_eq!(two_fields.body, b"zz");
    let not_chunked =
        ok(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\nuntil close");
    assert_eq!(not_chunked.body, b"until close");
}

#[test]
fn repeated_content_length() {
    assert_eq!(
        ok(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok").body,
        b"ok"
    );
    assert_eq!(
        ok(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 02\r\n\r\nok").body,
        b"ok"
    );
    assert_eq!(
        err(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"),
        "conflicting Content-Length values \"2\" and \"3\""
    );
    assert_eq!(
        err(b"HTTP/1.1 200 OK\r\nContent-Length: 2,3\r\n\r\nok"),
        "conflicting Content-Length values \"2\" and \"3\""
    );
}

#[test]
fn invalid_content_length() {
    for (value, shown) in [
        ("abc", "\"abc\""),
        ("-1", "\"-1\""),
        ("+5", "\"+5\""),
        ("", "\"\""),
        ("5,", "\"\""),
        ("0x10", "\"0x10\""),
        ("99999999999999999999999", "\"99999999999999999999999\""),
    ] {
        let input = format!("HTTP/1.1 200 OK\r\nContent-Length: {value}\r\n\r\n");
        assert_eq!(
            err(input.as_bytes()),
            format!("invalid Content-Length {shown}"),
            "{value:?}"
        );
    }
}

#[test]
fn zero_content_length_completes_at_once() {
    let mut parser = ResponseParser::new(false, MAX);
    let progress = parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert!(matches!(progress, Ok(Progress::Complete(ref r)) if r.body.is_empty()));
}

// ---- head contents ----

#[test]
fn header_values_and_reason() {
    let parsed = ok(b"HTTP/1.1  200  All  good \r\nX-Pad:   a b \t\r\nX-Latin: caf\xe9\r\nX-Fold: one\r\n  two\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(parsed.reason, "All  good");
    assert_eq!(parsed.status_line(), "HTTP/1.1 200 All  good");
    assert_eq!(parsed.header("x-pad"), Some("a b"));
    assert_eq!(parsed.header("X-LATIN"), Some("caf\u{fffd}"));
    assert_eq!(parsed.header("X-Fold"), Some("one    two"));
    assert_eq!(parsed.header("X-Empty"), Some(""));
    assert_eq!(parsed.header("X-Missing"), None);
}

#[test]
fn reason_is_lossy_and_may_be_missing() {
    assert_eq!(
        ok(b"HTTP/1.1 200 Tr\xe8s bien\r\n\r\n").reason,
        "Tr\u{fffd}s bien"
    );
    let bare = ok(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(bare.reason, "");
    assert_eq!(bare.status_line(), "HTTP/1.1 200");
}

#[test]
fn headers_named_and_md5() {
    let parsed = ok(
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: 5\r\n\r\nhello",
    );
    let cookies: Vec<&str> = parsed.headers_named("SET-COOKIE").collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(parsed.body_md5_hex(), "5d41402abc4b2a76b9719d911017c592");
    let empty = ok(b"HTTP/1.1 204 No Content\r\n\r\n");
    assert_eq!(empty.body_md5_hex(), "d41d8cd98f00b204e9800998ecf8427e");
}

// ---- limits ----

#[test]
fn content_length_beyond_max_bytes() {
    let input = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc";
    assert_eq!(
        every_split(false, 100, input).map_err(|e| e.to_string()),
        Err("response exceeds --max-bytes (100 bytes): Content-Length is 1000".to_string())
    );
    let mut parser = ResponseParser::new(false, 100);
    assert!(parser
        .feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        .is_err());
}

#[test]
fn chunked_body_growing_past_max_bytes() {
    let mut input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20 {
        input.extend_from_slice(b"a\r\n0123456789\r\n");
    }
    input.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(
        every_split(false, 200, &input).map_err(|e| e.to_string()),
        Err("response exceeds --max-bytes (200 bytes)".to_string())
    );
}

#[test]
fn huge_chunk_size_fails_at_once() {
    let mut parser = ResponseParser::new(false, MAX);
    let result =
        parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n");
    assert_eq!(
        result.map_err(|e| e.to_string()),
        Err("response exceeds --max-bytes (16777216 bytes)".to_string())
    );
}

#[test]
fn close_delimited_body_past_max_bytes() {
    let input = [&b"HTTP/1.1 200 OK\r\n\r\n"[..], &[b'x'; 100]].concat();
    assert_eq!(
        every_split(false, 50, &input).map_err(|e| e.to_string()),
        Err("response exceeds --max-bytes (50 bytes)".to_string())
    );
}

#[test]
fn response_of_exactly_max_bytes_passes() {
    let samples: [&[u8]; 3] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nhello",
    ];
    for input in samples {
        let fits = every_split(false, input.len(), input);
        assert_eq!(fits.map(|r| r.body), Ok(b"hello".to_vec()));
        let over = every_split(false, input.len() - 1, input);
        assert!(matches!(over, Err(HttpError::TooLarge { .. })), "{over:?}");
    }
}

#[test]
fn memory_stays_bounded() {
    let mut parser = ResponseParser::new(false, 1000);
    assert_eq!(
        parser.feed(b"HTTP/1.1 200 OK\r\n\r\n"),
        Ok(Progress::NeedMore)
    );
    let flood = vec![b'x'; 1 << 20];
    assert!(parser.feed(&flood).is_err());
    assert!(parser.bytes_received() <= 1001);
    assert!(parser.buf.capacity() <= 1001);
}

#[test]
fn extreme_max_bytes() {
    let input = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    assert_eq!(
        every_split(false, usize::MAX, input).map(|r| r.body),
        Ok(b"ok".to_vec())
    );
    assert_eq!(
        every_split(false, 0, input),
        Err(HttpError::TooLarge {
            limit: 0,
            content_length: None
        })
    );
    assert_eq!(run(false, 0, &[]), Err(HttpError::ClosedBeforeResponse));
}

fn head_of_size(size: usize) -> Vec<u8> {
    let start = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: ";
    let end = b"\r\n\r\n";
    let pad = vec![b'p'; size - start.len() - end.len()];
    [&start[..], &pad, end].concat()
}

#[test]
fn head_at_the_limit_passes_and_one_more_byte_fails() {
    let fits = head_of_size(MAX_HEAD_BYTES);
    assert_eq!(
        some_splits(MAX, &fits).map(|r| r.wire_bytes),
        Ok(MAX_HEAD_BYTES)
    );
    let over = head_of_size(MAX_HEAD_BYTES + 1);
    assert_eq!(
        some_splits(MAX, &over).map_err(|e| e.to_string()),
        Err("response head exceeds 65536 bytes".to_string())
    );
}

#[test]
fn head_that_never_ends_fails_at_the_limit() {
    let mut parser = ResponseParser::new(false, MAX);
    assert_eq!(
        parser.feed(b"HTTP/1.1 200 OK\r\nX-Endless: "),
        Ok(Progress::NeedMore)
    );
    let piece = [b'e'; 1000];
    let mut result = Ok(Progress::NeedMore);
    for _ in 0..100 {
        result = parser.feed(&piece);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(
        result,
        Err(HttpError::HeadTooLarge {
            limit: MAX_HEAD_BYTES
        })
    );
    assert!(parser.bytes_received() <= MAX_HEAD_BYTES + 1000);
}

#[test]
fn endless_blank_lines_fail_at_the_head_limit() {
    let input = vec![b'\n'; MAX_HEAD_BYTES + 10];
    assert_eq!(
        some_splits(MAX, &input),
        Err(HttpError::HeadTooLarge {
            limit: MAX_HEAD_BYTES
        })
    );
}

#[test]
fn header_count_limit() {
    let head = |count: usize| {
        let mut text = "HTTP/1.1 200 OK\r\n".to_string();
        for i in 1..count {
            text.push_str(&format!("X-{i}: v\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        text.into_bytes()
    };
    assert_eq!(
        some_splits(MAX, &head(MAX_HEADERS)).map(|r| r.headers.len()),
        Ok(100)
    );
    assert_eq!(
        some_splits(MAX, &head(MAX_HEADERS + 1)).map_err(|e| e.to_string()),
        Err("response head has more than 100 header fields".to_string())
    );
}

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

// ---- property-style checks ----

/// xorshift64*: deterministic, so a failure is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Pieces that make random input look like HTTP often enough to reach
/// deep states.
const FRAGMENTS: [&[u8]; 28] = [
    b"\r\n\r\n",
    b"\n\n",
    b"Content-Length: 5\r\n",
    b"\r\n0\r\n\r\n",
    b"HTTP/1.1 ",
    b"HTTP/1.0 ",
    b"200 OK",
    b"100 Continue",
    b"204",
    b"304",
    b"101",
    b"\r\n",
    b"\n",
    b"\r",
    b"Content-Length: ",
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: gzip",
    b"0",
    b"5",
    b"a",
    b"ffffffffffffffffff",
    b";ext=1",
    b": ",
    b"X-A",
    b"hello",
    b" ",
    b"\x00",
    b"\xff",
];

fn random_input(rng: &mut Rng) -> Vec<u8> {
    let mut input = match rng.below(4) {
        0 => Vec::new(),
        1 => b"HTTP/1.1 ".to_vec(),
        _ => b"HTTP/1.1 200 OK\r\n".to_vec(),
    };
    for _ in 0..rng.below(40) {
        if rng.below(4) == 0 {
            input.push(rng.next() as u8);
        } else {
            input.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len())]);
        }
    }
    input
}

fn random_pieces<'a>(rng: &mut Rng, input: &'a [u8]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let (piece, tail) = rest.split_at(1 + rng.below(rest.len().min(16)));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

fn check_random_splits(rng: &mut Rng, input: &[u8]) {
    let head_request = rng.below(4) == 0;
    let max = [8, 64, 200, MAX, MAX, MAX][rng.below(6)];
    let whole = run(head_request, max, &[input]);
    let pieces = random_pieces(rng, input);
    assert_eq!(
        run(head_request, max, &pieces),
        whole,
        "input {:?} pieces {pieces:?}",
        String::from_utf8_lossy(input)
    );
    if let Err(error) = whole {
        assert!(!error.to_string().contains('\n'), "one line: {error}");
    }
}

#[test]
fn random_input_never_panics_and_ignores_splitting() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let input = random_input(&mut rng);
        check_random_splits(&mut rng, &input);
    }
}

#[test]
fn mutated_responses_never_panic_and_ignore_splitting() {
    let samples: [&[u8]; 5] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: 1\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nclose",
        b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
        b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n",
    ];
    let mut rng = Rng(42);
    for round in 0..3000 {
        let mut input = samples[round % samples.len()].to_vec();
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut input);
        }
        check_random_splits(&mut rng, &input);
    }
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    let at = rng.below(input.len() + 1);
    match rng.below(4) {
        0 if at < input.len() => input[at] = rng.next() as u8,
        1 => {
            let fragment = FRAGMENTS[rng.below(FRAGMENTS.len())];
            input.splice(at..at, fragment.iter().copied());
        }
        2 => {
            let end = (at + rng.below(8)).min(input.len());
            input.drain(at..end);
        }
        _ => input.truncate(at),
    }
}

#[test]
fn random_bytes_one_at_a_time() {
    let mut rng = Rng(7);
    for _ in 0..500 {
        let input: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
        let whole = run(false, MAX, &[&input]);
        assert_eq!(bytewise(false, MAX, &input), whole);
    }
}
