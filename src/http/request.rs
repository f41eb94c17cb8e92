//! The request the HTTP checks send, and validation of what goes into it.
//!
//! The C original copied HOST, PATH and `-H` values into fixed buffers
//! without a length check (a long PATH crashed it) and sent `Name:(null)`
//! for a `-H` without a colon. Here every piece is validated once, when the
//! arguments are parsed, with a one-line reason; after that the request is
//! trusted and [`Request::to_bytes`] cannot fail.

use std::fmt;

use crate::text::quoted;

/// Sent as `User-Agent` unless the operator gives their own with `-H`.
pub const USER_AGENT: &str = concat!("check_raw/", env!("CARGO_PKG_VERSION"));
/// Longest accepted PATH (request target), in bytes.
pub const MAX_PATH_BYTES: usize = 2048;
/// Longest accepted HOST, in bytes (the longest DNS name is 253).
pub const MAX_HOST_BYTES: usize = 255;
/// Most extra request headers (`-H`), as in the C original.
pub const MAX_REQUEST_HEADERS: usize = 32;
/// Longest accepted `Name: value` argument (`-H`, `-R`), in bytes.
pub const MAX_FIELD_BYTES: usize = 8192;

/// Header names the checker writes itself; a second copy from `-H` would
/// make the request ambiguous (two Host headers earn a 400) or make the
/// server wait for a body that never comes (Content-Length,
/// Transfer-Encoding).
const RESERVED_REQUEST_HEADERS: [&str; 4] =
    ["Host", "Connection", "Content-Length", "Transfer-Encoding"];

/// The request method. Only methods without a request body are offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
}

impl Method {
    /// Parses `GET` or `HEAD`, case-sensitively as the C original does
    /// (methods are case-sensitive in HTTP).
    pub fn parse(s: &str) -> Result<Method, String> {
        match s {
            "GET" => Ok(Method::Get),
            "HEAD" => Ok(Method::Head),
            _ => Err(format!("method must be GET or HEAD, got {}", quoted(s))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An HTTP/1.1 request without a body.
///
/// The fields are public for the caller's traces; build it with
/// [`Request::new`], which validates them, because [`Request::to_bytes`]
/// writes them as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub host: String,
    pub path: String,
    /// Extra headers, sent in this order after the checker's own.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// A request after checking HOST, PATH and each header as
    /// [`validate_host`], [`validate_path`] and [`parse_request_header`] do,
    /// and that there are at most [`MAX_REQUEST_HEADERS`] headers.
    pub fn new(
        method: Method,
        host: &str,
        path: &str,
        headers: Vec<(String, String)>,
    ) -> Result<Request, String> {
        validate_host(host)?;
        validate_path(path)?;
        if headers.len() > MAX_REQUEST_HEADERS {
            return Err(format!(
                "too many request headers ({}, at most {MAX_REQUEST_HEADERS})",
                headers.len()
            ));
        }
        for (name, value) in &headers {
            validate_request_field(name, value)?;
        }
        Ok(Request {
            method,
            host: host.to_string(),
            path: path.to_string(),
            headers,
        })
    }

    /// The request as sent: request line, `Host`, `User-Agent`,
    /// `Connection: close` (so that a close-delimited body ends and the
    /// server closes first), the extra headers in order, the blank line.
    ///
    /// If the extra headers include a `User-Agent`, it replaces the default
    /// one instead of being sent twice.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\n",
            self.method, self.path, self.host
        );
        let own_agent = self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("User-Agent"));
        if !own_agent {
            out.push_str(&format!("User-Agent: {USER_AGENT}\r\n"));
        }
        out.push_str("Connection: close\r\n");
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

/// Parses a `-H "Name: value"` argument into a name and a value (value
/// trimmed of spaces and tabs; it may be empty).
///
/// Rejected: no colon, a name that is not an HTTP token, CR, LF or another
/// control character anywhere (header injection), more than
/// [`MAX_FIELD_BYTES`], and the headers the checker sets itself (`Host`,
/// `Connection`, `Content-Length`, `Transfer-Encoding`).
pub fn parse_request_header(arg: &str) -> Result<(String, String), String> {
    let (name, value) = split_field(arg, "request header")?;
    validate_request_field(&name, &value)?;
    Ok((name, value))
}

/// Checks a PATH: `/...` or `*`, at most [`MAX_PATH_BYTES`], no space or
/// control character (they would end or split the request line). Non-ASCII
/// characters are sent as UTF-8; most servers accept that, the strict form
/// is to percent-encode them.
pub fn validate_path(path: &str) -> Result<(), String> {
    if path.len() > MAX_PATH_BYTES {
        return Err(format!(
            "path is {} bytes long, at most {MAX_PATH_BYTES}",
            path.len()
        ));
    }
    if !path.starts_with('/') && path != "*" {
        return Err(format!(
            "path must start with \"/\" (or be \"*\"), got {}",
            quoted(path)
        ));
    }
    match path.bytes().position(|b| b == b' ' || b.is_ascii_control()) {
        Some(at) if path.as_bytes().get(at) == Some(&b' ') => Err(format!(
            "path contains a space at byte {at} (write it as %20)"
        )),
        Some(at) => Err(format!(
            "path contains a control character at byte {at} (percent-encode it)"
        )),
        None => Ok(()),
    }
}

/// Checks a HOST (the `Host` header value): not empty (an empty HOST
/// argument is almost always a configuration slip), at most
/// [`MAX_HOST_BYTES`], no whitespace or control character.
pub fn validate_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("host is empty".to_string());
    }
    if host.len() > MAX_HOST_BYTES {
        return Err(format!(
            "host is {} bytes long, at most {MAX_HOST_BYTES}",
            host.len()
        ));
    }
    match host
        .chars()
        .position(|c| c.is_whitespace() || c.is_control())
    {
        Some(at) => Err(format!(
            "host {} contains whitespace or a control character (character {at})",
            quoted(host)
        )),
        None => Ok(()),
    }
}

/// True if `s` is an HTTP token (RFC 9110 section 5.6.2), the syntax of a
/// header name.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Splits a `Name: value` argument (of `-H` or `-R`, named `what` in
/// messages) at the first colon, checks the name is a token and the whole
/// argument has no control character other than tab, and trims the value.
pub(super) fn split_field(arg: &str, what: &str) -> Result<(String, String), String> {
    if arg.len() > MAX_FIELD_BYTES {
        return Err(format!(
            "{what} is {} bytes long, at most {MAX_FIELD_BYTES}",
            arg.len()
        ));
    }
    if arg.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "{what} {} contains CR, LF or another control character",
            quoted(arg)
        ));
    }
    let Some((name, value)) = arg.split_once(':') else {
        return Err(format!(
            "{what} {} has no colon (expected \"Name: value\")",
            quoted(arg)
        ));
    };
    if !is_token(name) {
        return Err(format!(
            "{what} name {} is not a valid token (letters, digits and !#$%&'*+-.^_`|~, no spaces)",
            quoted(name)
        ));
    }
    Ok((name.to_string(), trim_ows(value).to_string()))
}

/// Checks a name and value given directly (not as one argument) the way
/// [`parse_request_header`] checks an argument.
fn validate_request_field(name: &str, value: &str) -> Result<(), String> {
    if !is_token(name) {
        return Err(format!(
            "request header name {} is not a valid token",
            quoted(name)
        ));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "request header {name} value contains CR, LF or another control character"
        ));
    }
    if let Some(reserved) = RESERVED_REQUEST_HEADERS
        .iter()
        .find(|reserved| name.eq_ignore_ascii_case(reserved))
    {
        return Err(format!(
            "request header {reserved} cannot be given: the checker sets it itself"
        ));
    }
    Ok(())
}

/// `s` without leading and trailing spaces and tabs (HTTP's optional
/// whitespace; Unicode spaces are part of the value).
pub(super) fn trim_ows(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, headers: &[(&str, &str)]) -> Request {
        let headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        Request::new(Method::Get, "www.example.com", path, headers).expect("valid request")
    }

    #[test]
    fn request_bytes_without_extra_headers() {
        let expected = format!(
            "GET /health HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: check_raw/{}\r\nConnection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(get("/health", &[]).to_bytes(), expected.into_bytes());
    }

    #[test]
    fn request_bytes_with_extra_headers_in_order() {
        let request = Request::new(
            Method::Head,
            "10.0.0.1:8080",
            "*",
            vec![
                ("X-B".to_string(), "2".to_string()),
                ("X-A".to_string(), String::new()),
            ],
        )
        .expect("valid request");
        let expected = format!(
            "HEAD * HTTP/1.1\r\nHost: 10.0.0.1:8080\r\nUser-Agent: {USER_AGENT}\r\nConnection: close\r\nX-B: 2\r\nX-A: \r\n\r\n"
        );
        assert_eq!(request.to_bytes(), expected.into_bytes());
    }

    #[test]
    fn own_user_agent_replaces_the_default() {
        let bytes = get("/", &[("user-agent", "probe/2")]).to_bytes();
        let expected = "GET / HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\nuser-agent: probe/2\r\n\r\n";
        assert_eq!(String::from_utf8_lossy(&bytes), expected);
    }

    #[test]
    fn method_parse() {
        assert_eq!(Method::parse("GET"), Ok(Method::Get));
        assert_eq!(Method::parse("HEAD"), Ok(Method::Head));
        assert_eq!(
            Method::parse("get"),
            Err("method must be GET or HEAD, got \"get\"".to_string())
        );
    }

    #[test]
    fn request_header_accepted() {
        assert_eq!(
            parse_request_header("X-Token:  abc def \t"),
            Ok(("X-Token".to_string(), "abc def".to_string()))
        );
        assert_eq!(
            parse_request_header("Accept:"),
            Ok(("Accept".to_string(), String::new()))
        );
        assert_eq!(
            parse_request_header("X-Url: http://a:b/c"),
            Ok(("X-Url".to_string(), "http://a:b/c".to_string()))
        );
    }

    #[test]
    fn request_header_rejected() {
        let cases = [
            ("X-Token", "request header \"X-Token\" has no colon (expected \"Name: value\")"),
            (": v", "request header name \"\" is not a valid token (letters, digits and !#$%&'*+-.^_`|~, no spaces)"),
            ("X A: v", "request header name \"X A\" is not a valid token (letters, digits and !#$%&'*+-.^_`|~, no spaces)"),
            ("X-A : v", "request header name \"X-A \" is not a valid token (letters, digits and !#$%&'*+-.^_`|~, no spaces)"),
            ("X-A: v\r\nX-B: w", "request header \"X-A: v\\r\\nX-B: w\" contains CR, LF or another control character"),
            ("X-A: v\n", "request header \"X-A: v\\n\" contains CR, LF or another control character"),
            ("X-A: \0", "request header \"X-A: \\u{0}\" contains CR, LF or another control character"),
            ("host: a", "request header Host cannot be given: the checker sets it itself"),
            ("Connection: keep-alive", "request header Connection cannot be given: the checker sets it itself"),
            ("Content-Length: 0", "request header Content-Length cannot be given: the checker sets it itself"),
            ("Transfer-Encoding: chunked", "request header Transfer-Encoding cannot be given: the checker sets it itself"),
        ];
        for (arg, message) in cases {
            assert_eq!(
                parse_request_header(arg),
                Err(message.to_string()),
                "{arg:?}"
            );
        }
        let long = format!("X-A: {}", "v".repeat(MAX_FIELD_BYTES));
        assert_eq!(
            parse_request_header(&long),
            Err("request header is 8197 bytes long, at most 8192".to_string())
        );
    }

    #[test]
    fn request_new_rejects_bad_parts() {
        let header = |n: &str, v: &str| vec![(n.to_string(), v.to_string())];
        assert_eq!(
            Request::new(Method::Get, "h", "/", header("X A", "v")),
            Err("request header name \"X A\" is not a valid token".to_string())
        );
        assert_eq!(
            Request::new(Method::Get, "h", "/", header("X", "a\r\nb")),
            Err("request header X value contains CR, LF or another control character".to_string())
        );
        let many = (0..33).map(|i| (format!("X-{i}"), String::new())).collect();
        assert_eq!(
            Request::new(Method::Get, "h", "/", many),
            Err("too many request headers (33, at most 32)".to_string())
        );
        assert!(Request::new(Method::Get, "", "/", Vec::new()).is_err());
        assert!(Request::new(Method::Get, "h", "x", Vec::new()).is_err());
    }

    #[test]
    fn path_validation() {
        assert_eq!(validate_path("/"), Ok(()));
        assert_eq!(validate_path("*"), Ok(()));
        assert_eq!(validate_path("/a?b=c&d=%20#x"), Ok(()));
        assert_eq!(validate_path("/é"), Ok(()));
        assert_eq!(validate_path(&format!("/{}", "a".repeat(2047))), Ok(()));
        let cases = [
            ("", "path must start with \"/\" (or be \"*\"), got \"\""),
            (
                "index.html",
                "path must start with \"/\" (or be \"*\"), got \"index.html\"",
            ),
            ("**", "path must start with \"/\" (or be \"*\"), got \"**\""),
            ("/a b", "path contains a space at byte 2 (write it as %20)"),
            (
                "/a\r\nHost: x",
                "path contains a control character at byte 2 (percent-encode it)",
            ),
            (
                "/\t",
                "path contains a control character at byte 1 (percent-encode it)",
            ),
            (
                "/\x7f",
                "path contains a control character at byte 1 (percent-encode it)",
            ),
        ];
        for (path, message) in cases {
            assert_eq!(validate_path(path), Err(message.to_string()), "{path:?}");
        }
        assert_eq!(
            validate_path(&format!("/{}", "a".repeat(2048))),
            Err("path is 2049 bytes long, at most 2048".to_string())
        );
    }

    #[test]
    fn host_validation() {
        assert_eq!(validate_host("www.example.com"), Ok(()));
        assert_eq!(validate_host("[::1]:8080"), Ok(()));
        assert_eq!(validate_host(&"a".repeat(255)), Ok(()));
        let cases = [
            ("", "host is empty"),
            (
                "a b",
                "host \"a b\" contains whitespace or a control character (character 1)",
            ),
            (
                "a\r\nX: y",
                "host \"a\\r\\nX: y\" contains whitespace or a control character (character 1)",
            ),
            (
                "a\u{a0}",
                "host \"a\u{a0}\" contains whitespace or a control character (character 1)",
            ),
        ];
        for (host, message) in cases {
            assert_eq!(validate_host(host), Err(message.to_string()), "{host:?}");
        }
        assert_eq!(
            validate_host(&"a".repeat(256)),
            Err("host is 256 bytes long, at most 255".to_string())
        );
    }

    #[test]
    fn token_syntax() {
        assert!(is_token("X-Health_1.a~!"));
        assert!(!is_token(""));
        assert!(!is_token("a:b"));
        assert!(!is_token("a\"b"));
        assert!(!is_token("é"));
    }
}
