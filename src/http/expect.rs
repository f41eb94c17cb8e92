//! What an HTTP check verifies in a response, and why a response failed.
//!
//! The C original compared the `-R` header case- and whitespace-sensitively
//! as raw text, compared MD5s case-sensitively without validating them, and
//! crashed on a `-R` without a colon. Here each expectation is parsed and
//! validated once from its argument (errors are one line naming the
//! problem), then [`Expectations::verify`] checks a [`Response`] in a fixed
//! order (status, headers in order, MD5, exact body, substring, regex) and
//! stops at the first [`Mismatch`], which says expected versus got in one
//! line.

use std::fmt;

use regex::Regex;

use super::request::split_field;
use super::response::Response;
use crate::text::{excerpt, quoted, EXCERPT_CHARS};

/// Most items (codes or ranges) in a status list.
pub const MAX_STATUS_ITEMS: usize = 32;
/// Most differing header fields quoted in a header mismatch.
const MAX_QUOTED_FIELDS: usize = 3;

/// The accepted status codes: a comma-separated list of codes and
/// inclusive ranges, e.g. `200`, `200-299,301`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet {
    /// The argument as given (trimmed), for messages.
    text: String,
    ranges: Vec<(u16, u16)>,
}

impl StatusSet {
    /// Parses a list of at most [`MAX_STATUS_ITEMS`] items, each a
    /// three-digit code in 100..=599 or a range `low-high` with
    /// `low <= high`; spaces around items are allowed.
    pub fn parse(arg: &str) -> Result<StatusSet, String> {
        let text = arg.trim();
        if text.is_empty() {
            return Err("status code list is empty".to_string());
        }
        let items: Vec<&str> = text.split(',').collect();
        if items.len() > MAX_STATUS_ITEMS {
            return Err(format!(
                "too many items in status code list ({}, at most {MAX_STATUS_ITEMS})",
                items.len()
            ));
        }
        let ranges = items
            .iter()
            .map(|item| parse_status_item(item.trim(), text))
            .collect::<Result<_, _>>()?;
        Ok(StatusSet {
            text: text.to_string(),
            ranges,
        })
    }

    /// Any 2xx status, the usual default when no status is given.
    pub fn success() -> StatusSet {
        StatusSet {
            text: "200-299".to_string(),
            ranges: vec![(200, 299)],
        }
    }

    pub fn contains(&self, code: u16) -> bool {
        self.ranges
            .iter()
            .any(|&(low, high)| (low..=high).contains(&code))
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&excerpt(&self.text, EXCERPT_CHARS))
    }
}

fn parse_status_item(item: &str, list: &str) -> Result<(u16, u16), String> {
    if item.is_empty() {
        return Err(format!("empty item in status code list {}", quoted(list)));
    }
    let Some((low, high)) = item.split_once('-') else {
        let code = parse_status_code(item)?;
        return Ok((code, code));
    };
    let (low, high) = (
        parse_status_code(low.trim())?,
        parse_status_code(high.trim())?,
    );
    if low > high {
        return Err(format!(
            "status range {} is reversed (write the lower code first)",
            quoted(item)
        ));
    }
    Ok((low, high))
}

fn parse_status_code(text: &str) -> Result<u16, String> {
    let not_a_code = || {
        format!(
            "{} is not a status code (three digits, 100-599)",
            quoted(text)
        )
    };
    if text.len() != 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_a_code());
    }
    let code: u16 = text.parse().map_err(|_| not_a_code())?;
    if !(100..=599).contains(&code) {
        return Err(format!("status code {code} is outside 100-599"));
    }
    Ok(code)
}

/// A response header that must be present (`-R "Name: value"`).
///
/// The name is compared case-insensitively (as HTTP defines it), the value
/// exactly, after trimming spaces and tabs on both sides. Any field with
/// that name may match. An empty value (`"Name:"`) means the field must be
/// present with any value, empty included: checking for an empty value is
/// rarely wanted, checking that a header exists often is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMatch {
    name: String,
    value: String,
}

impl HeaderMatch {
    /// Parses `Name: value`: a colon is required, the name must be an HTTP
    /// token, and control characters other than tab are refused (no
    /// response value could contain them).
    pub fn parse(arg: &str) -> Result<HeaderMatch, String> {
        let (name, value) = split_field(arg, "response header")?;
        Ok(HeaderMatch { name, value })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The required value; `None` when any value will do.
    pub fn value(&self) -> Option<&str> {
        (!self.value.is_empty()).then_some(self.value.as_str())
    }

    pub fn matches(&self, response: &Response) -> bool {
        self.fields_named(response)
            .any(|(_, value)| self.value.is_empty() || *value == self.value)
    }

    fn fields_named<'a>(
        &'a self,
        response: &'a Response,
    ) -> impl Iterator<Item = &'a (String, String)> + 'a {
        response
            .headers
            .iter()
            .filter(move |(name, _)| name.eq_ignore_ascii_case(&self.name))
    }
}

impl fmt::Display for HeaderMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value() {
            Some(value) => write!(f, "{}: {}", self.name, excerpt(value, EXCERPT_CHARS)),
            None => f.write_str(&self.name),
        }
    }
}

/// An expected body MD5: 32 hex digits, kept in lowercase (the C original
/// compared case-sensitively, so an upper-case hash never matched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Md5(String);

impl Md5 {
    pub fn parse(arg: &str) -> Result<Md5, String> {
        let length = arg.chars().count();
        if length != 32 {
            return Err(format!(
                "MD5 must be 32 hex digits, got {length} characters"
            ));
        }
        if let Some(bad) = arg.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(format!(
                "MD5 {} contains a non-hex character {}",
                quoted(arg),
                quoted(&bad.to_string())
            ));
        }
        Ok(Md5(arg.to_ascii_lowercase()))
    }

    /// The 32 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Md5 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything a check verifies. `None` (or empty, or `false`) means "not
/// checked"; in particular `status: None` checks no status at all, and
/// applying a 2xx default ([`StatusSet::success`]) is the caller's choice.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    pub status: Option<StatusSet>,
    /// Checked in this order.
    pub headers: Vec<HeaderMatch>,
    pub md5: Option<Md5>,
    /// The whole body, byte for byte.
    pub body: Option<Vec<u8>>,
    /// A substring of the body (compared as UTF-8 bytes).
    pub contains: Option<String>,
    /// Matched against the body as lossy UTF-8 (invalid sequences become
    /// U+FFFD).
    pub regex: Option<Regex>,
    /// The regex must not match (ignored without a regex).
    pub invert_regex: bool,
}

impl Expectations {
    /// Checks status, each header in order, MD5, exact body, substring,
    /// regex; the first failure is returned.
    pub fn verify(&self, response: &Response) -> Result<(), Mismatch> {
        self.check_status(response)?;
        self.check_headers(response)?;
        self.check_md5(response)?;
        self.check_body(response)?;
        self.check_contains(response)?;
        self.check_regex(response)
    }

    /// True if nothing at all would be checked.
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.headers.is_empty()
            && self.md5.is_none()
            && self.body.is_none()
            && self.contains.is_none()
            && self.regex.is_none()
    }

    fn check_status(&self, response: &Response) -> Result<(), Mismatch> {
        match &self.status {
            Some(status) if !status.contains(response.code) => Err(Mismatch::Status {
                expected: status.clone(),
                got: response.code,
            }),
            _ => Ok(()),
        }
    }

    fn check_headers(&self, response: &Response) -> Result<(), Mismatch> {
        match self.headers.iter().find(|header| !header.matches(response)) {
            Some(header) => Err(Mismatch::Header {
                expected: header.clone(),
                got: header.fields_named(response).cloned().collect(),
            }),
            None => Ok(()),
        }
    }

    fn check_md5(&self, response: &Response) -> Result<(), Mismatch> {
        let Some(expected) = &self.md5 else {
            return Ok(());
        };
        let got = response
            .body_md5_hex()
            .map_err(|error| Mismatch::Md5Unavailable {
                reason: error.to_string(),
            })?;
        if got != expected.as_str() {
            return Err(Mismatch::Md5 {
                expected: expected.clone(),
                got,
            });
        }
        Ok(())
    }

    fn check_body(&self, response: &Response) -> Result<(), Mismatch> {
        match &self.body {
            Some(expected) if *expected != response.body => Err(Mismatch::Body {
                expected_len: expected.len(),
                got_len: response.body.len(),
                first_difference: first_difference(expected, &response.body),
            }),
            _ => Ok(()),
        }
    }

    fn check_contains(&self, response: &Response) -> Result<(), Mismatch> {
        match &self.contains {
            Some(needle) if !contains_bytes(&response.body, needle) => Err(Mismatch::Contains {
                needle: needle.clone(),
            }),
            _ => Ok(()),
        }
    }

    fn check_regex(&self, response: &Response) -> Result<(), Mismatch> {
        let Some(regex) = &self.regex else {
            return Ok(());
        };
        let matched = regex.is_match(&String::from_utf8_lossy(&response.body));
        let pattern = regex.as_str().to_string();
        match (matched, self.invert_regex) {
            (false, false) => Err(Mismatch::Regex { pattern }),
            (true, true) => Err(Mismatch::InvertedRegex { pattern }),
            _ => Ok(()),
        }
    }
}

/// Index of the first byte where `a` and `b` differ (the shorter length if
/// one is a prefix of the other).
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

/// Substring search in linear time (bodies reach `--max-bytes`, a naive
/// search is quadratic on adversarial input): the regex engine turns an
/// escaped literal into a memchr-based search.
fn contains_bytes(haystack: &[u8], needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    match regex::bytes::Regex::new(&regex::escape(needle)) {
        Ok(searcher) => searcher.is_match(haystack),
        // Too big to compile: fall back to the plain search.
        Err(_) => haystack
            .windows(needle.len())
            .any(|window| window == needle.as_bytes()),
    }
}

/// Why a response did not pass: expected versus got, in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    Status {
        expected: StatusSet,
        got: u16,
    },
    /// `got` holds the fields with the expected name (none if absent).
    Header {
        expected: HeaderMatch,
        got: Vec<(String, String)>,
    },
    Md5 {
        expected: Md5,
        got: String,
    },
    /// OpenSSL refused MD5 (FIPS mode): the check cannot pass.
    Md5Unavailable {
        reason: String,
    },
    Body {
        expected_len: usize,
        got_len: usize,
        first_difference: usize,
    },
    Contains {
        needle: String,
    },
    Regex {
        pattern: String,
    },
    InvertedRegex {
        pattern: String,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status { expected, got } => write!(f, "expected status {expected}, got {got}"),
            Self::Header { expected, got } => {
                write!(f, "missing response header '{expected}' ")?;
                write_fields(f, got)
            }
            Self::Md5 { expected, got } => write!(f, "body MD5 is {got}, expected {expected}"),
            Self::Md5Unavailable { reason } => {
                write!(f, "cannot check the body MD5: {}", excerpt(reason, 200))
            }
            Self::Body {
                expected_len,
                got_len,
                first_difference,
            } => write!(
                f,
                "body ({got_len} bytes) differs from the expected {expected_len} bytes (first difference at byte {first_difference})"
            ),
            Self::Contains { needle } => write!(f, "body does not contain {}", quoted(needle)),
            Self::Regex { pattern } => write!(f, "body does not match regex {}", quoted(pattern)),
            Self::InvertedRegex { pattern } => {
                write!(f, "body matches regex {} (--invert-regex)", quoted(pattern))
            }
        }
    }
}

impl std::error::Error for Mismatch {}

/// `(header absent)` or `(got 'Name: value', ...)`, at most
/// [`MAX_QUOTED_FIELDS`] fields.
fn write_fields(f: &mut fmt::Formatter<'_>, fields: &[(String, String)]) -> fmt::Result {
    if fields.is_empty() {
        return f.write_str("(header absent)");
    }
    f.write_str("(got ")?;
    for (index, (name, value)) in fields.iter().take(MAX_QUOTED_FIELDS).enumerate() {
        if index > 0 {
            f.write_str(", ")?;
        }
        write!(f, "'{}: {}'", name, excerpt(value, EXCERPT_CHARS))?;
    }
    if fields.len() > MAX_QUOTED_FIELDS {
        write!(f, " and {} more", fields.len() - MAX_QUOTED_FIELDS)?;
    }
    f.write_str(")")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(code: u16, headers: &[(&str, &str)], body: &[u8]) -> Response {
        Response {
            version: 1,
            code,
            reason: "OK".to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
            wire_bytes: 0,
        }
    }

    fn hello() -> Response {
        response(
            200,
            &[("Content-Type", "text/plain"), ("X-Health", "ok")],
            b"hello",
        )
    }

    fn mismatch(expectations: &Expectations, response: &Response) -> String {
        expectations
            .verify(response)
            .expect_err("a mismatch")
            .to_string()
    }

    fn status(arg: &str) -> StatusSet {
        StatusSet::parse(arg).expect("valid status list")
    }

    fn header(arg: &str) -> HeaderMatch {
        HeaderMatch::parse(arg).expect("valid header")
    }

    // ---- argument parsers ----

    #[test]
    fn status_set_parse_and_contains() {
        let single = status("200");
        assert!(single.contains(200) && !single.contains(201));
        let list = status("200-299,301");
        assert_eq!(list.to_string(), "200-299,301");
        assert!(list.contains(200) && list.contains(299) && list.contains(301));
        assert!(!list.contains(300) && !list.contains(199) && !list.contains(302));
        assert_eq!(status(" 200 , 301 - 302 ").as_str(), "200 , 301 - 302");
        assert!(status(" 200 , 301 - 302 ").contains(302));
        assert!(status("100-599").contains(599));
        assert_eq!(StatusSet::success(), status("200-299"));
        let many = vec!["200"; 32].join(",");
        assert!(StatusSet::parse(&many).is_ok());
    }

    #[test]
    fn status_set_errors() {
        let cases = [
            ("", "status code list is empty"),
            ("  ", "status code list is empty"),
            (
                "abc",
                "\"abc\" is not a status code (three digits, 100-599)",
            ),
            ("20", "\"20\" is not a status code (three digits, 100-599)"),
            (
                "2000",
                "\"2000\" is not a status code (three digits, 100-599)",
            ),
            (
                "+200",
                "\"+200\" is not a status code (three digits, 100-599)",
            ),
            (
                "2xx",
                "\"2xx\" is not a status code (three digits, 100-599)",
            ),
            ("600", "status code 600 is outside 100-599"),
            ("099", "status code 99 is outside 100-599"),
            ("200-", "\"\" is not a status code (three digits, 100-599)"),
            ("-200", "\"\" is not a status code (three digits, 100-599)"),
            (
                "200-300-400",
                "\"300-400\" is not a status code (three digits, 100-599)",
            ),
            (
                "299-200",
                "status range \"299-200\" is reversed (write the lower code first)",
            ),
            ("200,,301", "empty item in status code list \"200,,301\""),
            ("200,", "empty item in status code list \"200,\""),
        ];
        for (arg, message) in cases {
            assert_eq!(StatusSet::parse(arg), Err(message.to_string()), "{arg:?}");
        }
        let many = vec!["200"; 33].join(",");
        assert_eq!(
            StatusSet::parse(&many),
            Err("too many items in status code list (33, at most 32)".to_string())
        );
    }

    #[test]
    fn header_match_parse() {
        let exact = header("X-Health:  ok ");
        assert_eq!((exact.name(), exact.value()), ("X-Health", Some("ok")));
        assert_eq!(exact.to_string(), "X-Health: ok");
        let any = header("X-Health:");
        assert_eq!((any.name(), any.value()), ("X-Health", None));
        assert_eq!(any.to_string(), "X-Health");
        assert_eq!(header("X-Time: 12:30").value(), Some("12:30"));
        let cases = [
            ("X-Health", "response header \"X-Health\" has no colon (expected \"Name: value\")"),
            (": ok", "response header name \"\" is not a valid token (letters, digits and !#$%&'*+-.^_`|~, no spaces)"),
            ("X Health: ok", "response header name \"X Health\" is not a valid token (letters, digits and !#$%&'*+-.^_`|~, no spaces)"),
            ("X-Health: o\nk", "response header \"X-Health: o\\nk\" contains CR, LF or another control character"),
        ];
        for (arg, message) in cases {
            assert_eq!(HeaderMatch::parse(arg), Err(message.to_string()), "{arg:?}");
        }
    }

    #[test]
    fn md5_parse() {
        let upper = Md5::parse("5D41402ABC4B2A76B9719D911017C592").expect("valid");
        assert_eq!(upper.as_str(), "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(upper.to_string(), "5d41402abc4b2a76b9719d911017c592");
        let cases = [
            ("", "MD5 must be 32 hex digits, got 0 characters"),
            (
                "5d41402abc4b2a76b9719d911017c59",
                "MD5 must be 32 hex digits, got 31 characters",
            ),
            (
                "5d41402abc4b2a76b9719d911017c5921",
                "MD5 must be 32 hex digits, got 33 characters",
            ),
            (
                "5d41402abc4b2a76b9719d911017c59g",
                "MD5 \"5d41402abc4b2a76b9719d911017c59g\" contains a non-hex character \"g\"",
            ),
            (
                "5d41402abc4b2a76b9719d911017c59é",
                "MD5 \"5d41402abc4b2a76b9719d911017c59é\" contains a non-hex character \"é\"",
            ),
        ];
        for (arg, message) in cases {
            assert_eq!(Md5::parse(arg), Err(message.to_string()), "{arg:?}");
        }
    }

    // ---- verify ----

    #[test]
    fn nothing_to_check_passes() {
        let none = Expectations::default();
        assert!(none.is_empty());
        assert_eq!(none.verify(&response(500, &[], b"")), Ok(()));
        let invert_only = Expectations {
            invert_regex: true,
            ..Expectations::default()
        };
        assert!(invert_only.is_empty());
    }

    #[test]
    fn status_expectation() {
        let expect = Expectations {
            status: Some(status("200-299,301")),
            ..Expectations::default()
        };
        assert!(!expect.is_empty());
        assert_eq!(expect.verify(&response(301, &[], b"")), Ok(()));
        assert_eq!(
            mismatch(&expect, &response(404, &[], b"")),
            "expected status 200-299,301, got 404"
        );
    }

    #[test]
    fn header_expectations() {
        let pass = Expectations {
            headers: vec![header("x-health: ok"), header("Content-Type:")],
            ..Expectations::default()
        };
        assert_eq!(pass.verify(&hello()), Ok(()));

        let wrong_value = Expectations {
            headers: vec![header("Content-Type:"), header("X-Health: OK")],
            ..Expectations::default()
        };
        assert_eq!(
            mismatch(&wrong_value, &hello()),
            "missing response header 'X-Health: OK' (got 'X-Health: ok')"
        );
        let absent = Expectations {
            headers: vec![header("X-Missing: ok")],
            ..Expectations::default()
        };
        assert_eq!(
            mismatch(&absent, &hello()),
            "missing response header 'X-Missing: ok' (header absent)"
        );
        let absent_any = Expectations {
            headers: vec![header("X-Missing:")],
            ..Expectations::default()
        };
        assert_eq!(
            mismatch(&absent_any, &hello()),
            "missing response header 'X-Missing' (header absent)"
        );
    }

    #[test]
    fn header_expectation_with_repeated_fields() {
        let fields = [("V", "1"), ("v", "2"), ("V", "3"), ("V", "4"), ("V", "5")];
        let expect = Expectations {
            headers: vec![header("V: 9")],
            ..Expectations::default()
        };
        assert_eq!(
            mismatch(&expect, &response(200, &fields, b"")),
            "missing response header 'V: 9' (got 'V: 1', 'v: 2', 'V: 3' and 2 more)"
        );
        let any_match = Expectations {
            headers: vec![header("V: 4")],
            ..Expectations::default()
        };
        assert_eq!(any_match.verify(&response(200, &fields, b"")), Ok(()));
    }

    #[test]
    fn md5_expectation() {
        let pass = Expectations {
            md5: Some(Md5::parse("5D41402ABC4B2A76B9719D911017C592").expect("valid")),
            ..Expectations::default()
        };
        assert_eq!(pass.verify(&hello()), Ok(()));
        let fail = Expectations {
            md5: Some(Md5::parse("0cc175b9c0f1b6a831c399e269772661").expect("valid")),
            ..Expectations::default()
        };
        assert_eq!(
            mismatch(&fail, &hello()),
            "body MD5 is 5d41402abc4b2a76b9719d911017c592, expected 0cc175b9c0f1b6a831c399e269772661"
        );
    }

    #[test]
    fn body_expectation() {
        let expect = |body: &[u8]| Expectations {
            body: Some(body.to_vec()),
            ..Expectations::default()
        };
        assert_eq!(expect(b"hello").verify(&hello()), Ok(()));
        assert_eq!(
            mismatch(&expect(b"hello\n"), &hello()),
            "body (5 bytes) differs from the expected 6 bytes (first difference at byte 5)"
        );
        assert_eq!(
            mismatch(&expect(b"hex"), &hello()),
            "body (5 bytes) differs from the expected 3 bytes (first difference at byte 2)"
        );
        assert_eq!(
            mismatch(&expect(b"abc"), &response(200, &[], b"")),
            "body (0 bytes) differs from the expected 3 bytes (first difference at byte 0)"
        );
    }

    #[test]
    fn contains_expectation() {
        let expect = |needle: &str| Expectations {
            contains: Some(needle.to_string()),
            ..Expectations::default()
        };
        assert_eq!(expect("ell").verify(&hello()), Ok(()));
        assert_eq!(expect("").verify(&hello()), Ok(()));
        assert_eq!(expect("a.c").verify(&response(200, &[], b"xa.cx")), Ok(()));
        assert!(expect("a.c").verify(&response(200, &[], b"abc")).is_err());
        assert_eq!(
            expect("é").verify(&response(200, &[], b"\xffcaf\xc3\xa9")),
            Ok(())
        );
        assert_eq!(
            mismatch(&expect("ok"), &hello()),
            "body does not contain \"ok\""
        );
        assert_eq!(
            mismatch(&expect("a\r\nb"), &hello()),
            "body does not contain \"a\\r\\nb\""
        );
    }

    #[test]
    fn regex_expectation() {
        let expect = |pattern: &str, invert_regex: bool| Expectations {
            regex: Some(Regex::new(pattern).expect("valid regex")),
            invert_regex,
            ..Expectations::default()
        };
        assert_eq!(expect("^h.l+o$", false).verify(&hello()), Ok(()));
        assert_eq!(expect("down", true).verify(&hello()), Ok(()));
        assert_eq!(
            mismatch(&expect("^up", false), &hello()),
            "body does not match regex \"^up\""
        );
        assert_eq!(
            mismatch(&expect("l+", true), &hello()),
            "body matches regex \"l+\" (--invert-regex)"
        );
        assert_eq!(
            mismatch(&expect(r"^\d+$", false), &hello()),
            "body does not match regex \"^\\d+$\""
        );
        let binary = response(200, &[], b"up\xff\xfe");
        assert_eq!(expect("^up\u{fffd}+$", false).verify(&binary), Ok(()));
    }

    #[test]
    fn checks_stop_at_the_first_failure_in_order() {
        let all_wrong = Expectations {
            status: Some(status("500")),
            headers: vec![header("X-Health: bad")],
            md5: Some(Md5::parse("0cc175b9c0f1b6a831c399e269772661").expect("valid")),
            body: Some(b"nope".to_vec()),
            contains: Some("nope".to_string()),
            regex: Some(Regex::new("nope").expect("valid regex")),
            invert_regex: false,
        };
        let mut expect = all_wrong.clone();
        let expected_kinds = ["status", "header", "md5", "body", "contains", "regex"];
        for kind in expected_kinds {
            let found = expect.verify(&hello()).expect_err("mismatch");
            let found_kind = match found {
                Mismatch::Status { .. } => "status",
                Mismatch::Header { .. } => "header",
                Mismatch::Md5 { .. } | Mismatch::Md5Unavailable { .. } => "md5",
                Mismatch::Body { .. } => "body",
                Mismatch::Contains { .. } => "contains",
                Mismatch::Regex { .. } | Mismatch::InvertedRegex { .. } => "regex",
            };
            assert_eq!(found_kind, kind);
            match kind {
                "status" => expect.status = None,
                "header" => expect.headers.clear(),
                "md5" => expect.md5 = None,
                "body" => expect.body = None,
                "contains" => expect.contains = None,
                _ => expect.regex = None,
            }
        }
        assert_eq!(expect.verify(&hello()), Ok(()));
    }

    #[test]
    fn md5_unavailable_message() {
        let mismatch = Mismatch::Md5Unavailable {
            reason: "cannot compute MD5: unsupported".to_string(),
        };
        assert_eq!(
            mismatch.to_string(),
            "cannot check the body MD5: cannot compute MD5: unsupported"
        );
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(500);
        let expect = Expectations {
            contains: Some(long.clone()),
            ..Expectations::default()
        };
        let message = mismatch(&expect, &hello());
        assert_eq!(
            message,
            format!("body does not contain \"{}...\"", "x".repeat(64))
        );
    }

    #[test]
    fn random_arguments_never_panic() {
        let mut state: u64 = 0x1234_5678_9abc_def1;
        let alphabet: Vec<char> = "0123456789abcdefABCDEF-,: \t\r\n\0é\u{fffd}xX"
            .chars()
            .collect();
        for _ in 0..5000 {
            let len = (state % 40) as usize;
            let mut arg = String::new();
            for _ in 0..len {
                // xorshift64
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                arg.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let results = [
                StatusSet::parse(&arg).err(),
                HeaderMatch::parse(&arg).err(),
                Md5::parse(&arg).err(),
                crate::http::parse_request_header(&arg).err(),
                crate::http::validate_path(&arg).err(),
                crate::http::validate_host(&arg).err(),
            ];
            for message in results.into_iter().flatten() {
                assert!(
                    !message.contains('\n') && !message.contains('\r'),
                    "{message:?}"
                );
            }
        }
    }
}
