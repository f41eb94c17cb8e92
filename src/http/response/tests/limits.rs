//! Limits: max_bytes, the head's size and field count, bounded memory.
use super::*;

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
