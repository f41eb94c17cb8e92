//! The listener's request parser: the bytes a client sent so far in, a
//! [`WebRequest`] (or "not yet", or a [`Rejection`] with its status) out. Pure:
//! no socket, no clock, so unit tests and the fuzz target
//! (`fuzz/fuzz_targets/web_request.rs`) drive it directly.
//!
//! What it accepts is small on purpose: HTTP/1.0 and 1.1, `GET` and
//! `HEAD` (anything else 405), an origin-form target (`/path?query`), a
//! head of at most [`MAX_HEAD`] bytes and [`MAX_HEADERS`] fields (431
//! beyond), a query whose `%XX` escapes decode to UTF-8 (400 otherwise).
//! The head is split by `httparse` (already the response parser's), which
//! checks the request line and every field's syntax. A body is never read:
//! every answer closes the connection.

use std::time::Duration;

use crate::serve::board::wants_openmetrics;
use crate::serve::probe::scrape_timeout as scrape_timeout_of;

/// The most a request head may take, request line included.
pub const MAX_HEAD: usize = 8 * 1024;
/// The most header fields a request may carry (a scraper sends ~6).
pub const MAX_HEADERS: usize = 64;
/// The most `name=value` pairs read from a query (ours take three).
pub const MAX_PARAMS: usize = 32;

/// GET or HEAD: HEAD answers the same head without its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Head,
}

/// A request the listener will answer.
#[derive(Debug, Clone, PartialEq)]
pub struct WebRequest {
    pub method: Verb,
    /// The target's path, as sent (not decoded: our paths are plain).
    pub path: String,
    /// The query's pairs in order, each name and value percent-decoded
    /// (`+` is a space, as in a form), at most [`MAX_PARAMS`].
    pub query: Vec<(String, String)>,
    /// The client prefers OpenMetrics 1.0 (`Accept`, as the board reads
    /// it: `board::wants_openmetrics`).
    pub openmetrics: bool,
    /// `X-Prometheus-Scrape-Timeout-Seconds`, when sent and valid
    /// (`probe::scrape_timeout`; anything else is as if not sent).
    pub scrape_timeout: Option<Duration>,
}

impl WebRequest {
    /// The first value of `name` in the query.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request is refused: its status and one line for the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub reason: &'static str,
}

const fn refuse(status: u16, reason: &'static str) -> Rejection {
    Rejection { status, reason }
}

/// `Ok(None)`: the head is not complete yet (wait for more bytes).
pub fn parse(buf: &[u8]) -> Result<Option<WebRequest>, Rejection> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut fields);
    let status = match req.parse(buf) {
        Ok(status) => status,
        Err(httparse::Error::TooManyHeaders) => return Err(refuse(431, "too many header fields")),
        Err(httparse::Error::Version) => {
            return Err(refuse(505, "only HTTP/1.0 and HTTP/1.1 are spoken here"))
        }
        Err(_) => return Err(refuse(400, "malformed request")),
    };
    let end = match status {
        httparse::Status::Complete(end) => end,
        httparse::Status::Partial if buf.len() >= MAX_HEAD => {
            return Err(refuse(431, "request head larger than 8 KiB"))
        }
        httparse::Status::Partial => return Ok(None),
    };
    if end > MAX_HEAD {
        return Err(refuse(431, "request head larger than 8 KiB"));
    }
    let method = match req.method {
        Some("GET") => Verb::Get,
        Some("HEAD") => Verb::Head,
        _ => return Err(refuse(405, "only GET and HEAD are allowed")),
    };
    let target = req.path.unwrap_or_default();
    if !target.starts_with('/') {
        return Err(refuse(400, "the target must be a path (/metrics)"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = parse_query(query)?;
    let mut openmetrics = false;
    let mut scrape_timeout = None;
    for field in req.headers.iter() {
        // Not UTF-8: as if not sent.
        let value = std::str::from_utf8(field.value).unwrap_or_default();
        if field.name.eq_ignore_ascii_case("accept") {
            openmetrics |= wants_openmetrics(value);
        } else if field
            .name
            .eq_ignore_ascii_case("x-prometheus-scrape-timeout-seconds")
        {
            scrape_timeout = scrape_timeout_of(value);
        }
    }
    Ok(Some(WebRequest {
        method,
        path: path.to_string(),
        query,
        openmetrics,
        scrape_timeout,
    }))
}

/// `a=1&b=%2F`: the pairs, decoded. An empty piece (`a=1&&b=2`) is
/// skipped; a piece without `=` is a name with an empty value.
pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, Rejection> {
    let mut pairs = Vec::new();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        if pairs.len() == MAX_PARAMS {
            return Err(refuse(400, "too many query parameters"));
        }
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        pairs.push((decode(name)?, decode(value)?));
    }
    Ok(pairs)
}

/// Percent-decoding, `+` as a space; the result must be UTF-8.
pub fn decode(s: &str) -> Result<String, Rejection> {
    const BAD: Rejection = refuse(400, "bad percent-encoding in the query");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(BAD)?;
                let high = hex_value(hex[0]).ok_or(BAD)?;
                let low = hex_value(hex[1]).ok_or(BAD)?;
                out.push(high << 4 | low);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| refuse(400, "the query is not UTF-8 once decoded"))
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> WebRequest {
        parse(text.as_bytes()).unwrap().expect("complete")
    }

    fn status(text: &[u8]) -> u16 {
        parse(text).unwrap_err().status
    }

    #[test]
    fn a_scrape_is_read_whole() {
        let r = ok("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n");
        assert_eq!(r.method, Verb::Get);
        assert_eq!(r.path, "/metrics");
        assert!(r.openmetrics);
        assert_eq!(r.scrape_timeout, Some(Duration::from_secs(10)));
        let r = ok("HEAD / HTTP/1.0\n\n");
        assert_eq!(r.method, Verb::Head);
        assert!(!r.openmetrics);
        assert_eq!(r.scrape_timeout, None);
    }

    #[test]
    fn the_query_is_decoded() {
        let r =
            ok("GET /probe?module=http_vip&target=2001%3Adb8%3A%3A1&debug=true&x HTTP/1.1\r\n\r\n");
        assert_eq!(r.path, "/probe");
        assert_eq!(r.param("module"), Some("http_vip"));
        assert_eq!(r.param("target"), Some("2001:db8::1"));
        assert_eq!(r.param("debug"), Some("true"));
        assert_eq!(r.param("x"), Some(""));
        assert_eq!(r.param("y"), None);
        assert_eq!(decode("a+b%20c%C3%A9").unwrap(), "a b cé");
        assert_eq!(parse_query("&&a=1&a=2").unwrap().len(), 2);
    }

    #[test]
    fn an_unfinished_head_waits() {
        assert_eq!(parse(b"").unwrap(), None);
        assert_eq!(
            parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").unwrap(),
            None
        );
    }

    #[test]
    fn bad_requests_get_their_status() {
        assert_eq!(status(b"POST /metrics HTTP/1.1\r\n\r\n"), 405);
        assert_eq!(status(b"DELETE / HTTP/1.1\r\n\r\n"), 405);
        assert_eq!(status(b"\x00\x01garbage\r\n\r\n"), 400);
        assert_eq!(status(b"GET http://x/metrics HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status(b"GET * HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status(b"GET /probe?target=%zz HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status(b"GET /probe?target=%4 HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status(b"GET /probe?target=%ff HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/2.0\r\n\r\n"), 505);
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_HEAD, b'a');
        assert_eq!(status(&big), 431);
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X{i}: 1\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(status(&many), 431);
        let query: String = (0..=MAX_PARAMS).map(|i| format!("a{i}=1&")).collect();
        assert_eq!(
            status(format!("GET /?{query} HTTP/1.1\r\n\r\n").as_bytes()),
            400
        );
    }

    #[test]
    fn a_bad_scrape_timeout_is_ignored() {
        for value in ["-1", "0", "NaN", "inf", "1e9", "ten"] {
            let r = ok(&format!(
                "GET / HTTP/1.1\r\nX-Prometheus-Scrape-Timeout-Seconds: {value}\r\n\r\n"
            ));
            assert_eq!(r.scrape_timeout, None, "{value}");
        }
        let r = ok("GET / HTTP/1.1\r\nX-Prometheus-Scrape-Timeout-Seconds: 2.5\r\n\r\n");
        assert_eq!(r.scrape_timeout, Some(Duration::from_millis(2500)));
    }
}
