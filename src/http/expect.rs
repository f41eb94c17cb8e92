//! What an HTTP check verifies in a response, and why a response failed.
//!
//! The C original compared the `-R` header case- and whitespace-sensitively
//! as raw text, compared MD5s case-sensitively without validating them, and
//! crashed on a `-R` without a colon. Here each expectation is parsed and
//! validated once from its argument (errors are one line naming the
//! problem), then [`ResponseChecks::verify`] checks a [`Response`] in a fixed
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
pub struct BodyMd5(String);

impl BodyMd5 {
    pub fn parse(arg: &str) -> Result<BodyMd5, String> {
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
        Ok(BodyMd5(arg.to_ascii_lowercase()))
    }

    /// The 32 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BodyMd5 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Everything a check verifies. `None` (or empty, or `false`) means "not
/// checked"; in particular `status: None` checks no status at all, and
/// applying a 2xx default ([`StatusSet::success`]) is the caller's choice.
#[derive(Debug, Clone, Default)]
pub struct ResponseChecks {
    pub status: Option<StatusSet>,
    /// Checked in this order.
    pub headers: Vec<HeaderMatch>,
    pub md5: Option<BodyMd5>,
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

impl ResponseChecks {
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
        let got = response.body_md5_hex();
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
        expected: BodyMd5,
        got: String,
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
mod tests;
