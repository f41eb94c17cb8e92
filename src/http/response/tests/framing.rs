//! Framings (length, chunked, close, none) and what the head carries.
use super::*;

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
