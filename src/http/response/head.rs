//! The head of a response: finding its end in the bytes received, the
//! early "is this HTTP at all" sniff, parsing it with httparse, skipping
//! interim 1xx responses, and the values read from it.

use super::body::framing;
use super::{
    Advance, Body, Framing, Head, HeadScan, ParseState, Phase, ResponseParser, HTTP_PREFIX,
    MAX_HEADERS, MAX_HEAD_BYTES, SNIFF_BYTES,
};
use crate::http::error::HttpError;
use crate::http::request::trim_ows;
use crate::text::quoted_bytes;

impl ResponseParser {
    pub(super) fn step_head(&mut self, mut scan: HeadScan) -> Result<Advance, HttpError> {
        if scan.scanned == 0 {
            // Blank lines before the status line are tolerated (as httparse
            // does) but consumed here, so that they are never rescanned.
            let blank = self
                .unconsumed()
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            self.pos += blank;
            scan.skipped += blank;
        }
        let region = self.unconsumed();
        let end = find_head_end(region, scan.scanned);
        // Judged as soon as the sniffed start is complete, so a short
        // non-HTTP banner ("SSH-2.0-x\r\n") fails at once, not at the deadline.
        let sniff = sniff_len(region);
        if end.is_some() || region.len() >= sniff {
            check_http_prefix(&region[..region.len().min(sniff)])?;
        }
        // Without its end, a head of MAX_HEAD_BYTES is bound to exceed them:
        // failing at `>=` there and at `>` below gives the same verdict
        // however the head was split.
        let too_large = match end {
            Some(end) => scan.skipped + end > MAX_HEAD_BYTES,
            None => scan.skipped + region.len() >= MAX_HEAD_BYTES,
        };
        if too_large {
            return Err(HttpError::HeadTooLarge {
                limit: MAX_HEAD_BYTES,
            });
        }
        let Some(end) = end else {
            scan.scanned = region.len();
            self.state = ParseState::Head(scan);
            return Ok(Advance::NeedMore);
        };
        match parse_head(region.get(..end).unwrap_or(region))? {
            Some((len, head)) => {
                self.pos += len;
                self.start_after_head(head)
            }
            None => {
                // Not the end after all; search on after this blank line.
                scan.scanned = end;
                self.state = ParseState::Head(scan);
                Ok(Advance::Continue)
            }
        }
    }

    /// Skips an interim response, or decides how the body is framed.
    fn start_after_head(&mut self, head: Head) -> Result<Advance, HttpError> {
        if head.code == 101 {
            return Err(HttpError::UnexpectedSwitchingProtocols);
        }
        if head.code < 200 {
            self.state = ParseState::Head(HeadScan::default());
            return Ok(Advance::Continue);
        }
        let framing = match framing(self.head_request, &head)? {
            None | Some(Framing::Length { total: 0, .. }) => {
                return self.complete(head, Vec::new()).map(Advance::Complete)
            }
            Some(framing) => framing,
        };
        if let Framing::Length { total, .. } = framing {
            self.ensure_room(total, Some(total))?;
        }
        self.phase = Phase::ReadingBody;
        self.state = ParseState::Body(Body {
            head,
            framing,
            data: Vec::new(),
        });
        Ok(Advance::Continue)
    }

    pub(super) fn closed_in_head(&self, scan: HeadScan) -> HttpError {
        if self.received == 0 {
            return HttpError::ClosedBeforeResponse;
        }
        let region = self.unconsumed();
        if let Err(error) = check_http_prefix(&region[..region.len().min(sniff_len(region))]) {
            return error;
        }
        HttpError::ClosedInHead {
            received: scan.skipped + region.len(),
        }
    }
}

/// The index just past the first blank line that ends at or after `from`
/// (LF LF, or LF CR LF: httparse accepts LF-only and mixed endings).
fn find_head_end(region: &[u8], from: usize) -> Option<usize> {
    let rest = region.get(from..)?;
    rest.iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'\n')
        .map(|(at, _)| from + at)
        .find(|&at| {
            region
                .get(..at)
                .is_some_and(|before| before.ends_with(b"\n") || before.ends_with(b"\n\r"))
        })
        .map(|at| at + 1)
}

/// How much of a head's start is compared with `HTTP/` (and quoted if it
/// differs): its first line, at most `SNIFF_BYTES`. It depends only on the
/// bytes, never on how they were split, so the verdict does not either.
fn sniff_len(region: &[u8]) -> usize {
    region
        .iter()
        .take(SNIFF_BYTES)
        .position(|&b| b == b'\n')
        .map_or(SNIFF_BYTES, |newline| newline + 1)
}

/// Fails unless `start` (the first bytes of a head) agrees with `HTTP/`.
fn check_http_prefix(start: &[u8]) -> Result<(), HttpError> {
    if start.iter().zip(HTTP_PREFIX).all(|(got, want)| got == want) {
        Ok(())
    } else {
        Err(HttpError::NotHttp {
            start: quoted_bytes(start),
        })
    }
}

fn parser_config() -> httparse::ParserConfig {
    // Lenient only where a sloppy server cannot change the framing.
    let mut config = httparse::ParserConfig::default();
    config
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true);
    config
}

/// Parses a complete head (`bytes` ends with its blank line). `None` if
/// httparse wants more, which cannot happen once leading blank lines are
/// skipped but is handled anyway.
fn parse_head(bytes: &[u8]) -> Result<Option<(usize, Head)>, HttpError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut fields);
    let len = match parser_config().parse_response(&mut parsed, bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(head_error(error, bytes)),
    };
    let (Some(version), Some(code)) = (parsed.version, parsed.code) else {
        return Err(malformed(format!(
            "no version or status code in {}",
            status_line_excerpt(bytes)
        )));
    };
    if !(100..=599).contains(&code) {
        return Err(malformed(format!("status code {code} is outside 100-599")));
    }
    let headers = parsed
        .headers
        .iter()
        .map(|field| (field.name.to_string(), header_value(field.value)))
        .collect();
    let head = Head {
        version,
        code,
        reason: reason_phrase(bytes),
        headers,
    };
    Ok(Some((len, head)))
}

fn malformed(detail: String) -> HttpError {
    HttpError::MalformedHead { detail }
}

fn head_error(error: httparse::Error, head: &[u8]) -> HttpError {
    let what = match error {
        httparse::Error::TooManyHeaders => return HttpError::TooManyHeaders { limit: MAX_HEADERS },
        httparse::Error::Version => "unsupported HTTP version (expected HTTP/1.0 or HTTP/1.1) in",
        httparse::Error::Status if has_status_code(head) => "invalid reason phrase in",
        httparse::Error::Status => "invalid status code in",
        httparse::Error::HeaderName => "invalid header name after",
        httparse::Error::HeaderValue => "invalid header value after",
        httparse::Error::NewLine => "invalid line ending after",
        httparse::Error::Token => "invalid token after",
    };
    malformed(format!("{what} {}", status_line_excerpt(head)))
}

/// The status line (the first line), quoted for a message.
fn status_line_excerpt(head: &[u8]) -> String {
    quoted_bytes(status_line(head))
}

fn status_line(head: &[u8]) -> &[u8] {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    strip_line_ending(line)
}

/// The status line's code field and what follows it, if it has three
/// digits followed by a space or the end of the line.
fn after_version(head: &[u8]) -> &[u8] {
    let rest = status_line(head)
        .get(HTTP_VERSION_LEN..)
        .unwrap_or_default();
    trim_start_spaces(rest)
}

/// Length of `HTTP/1.x`.
const HTTP_VERSION_LEN: usize = 8;

/// Whether the status line has a well-formed code, so that httparse's
/// status error is about the reason phrase.
fn has_status_code(head: &[u8]) -> bool {
    let rest = after_version(head);
    let digits = rest
        .get(..3)
        .is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    digits && matches!(rest.get(3), None | Some(b' ') | Some(b'\t'))
}

/// The reason phrase from the raw status line, as lossy UTF-8 (httparse
/// returns an empty reason when it has non-ASCII bytes).
fn reason_phrase(head: &[u8]) -> String {
    let reason = after_version(head).get(3..).unwrap_or_default();
    trim_ows(&String::from_utf8_lossy(reason)).to_string()
}

fn trim_start_spaces(bytes: &[u8]) -> &[u8] {
    let spaces = bytes.iter().take_while(|&&b| b == b' ').count();
    bytes.get(spaces..).unwrap_or_default()
}

/// A header value as text: lossy UTF-8, obsolete line folds turned into
/// spaces, trimmed of spaces and tabs.
fn header_value(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw).replace(['\r', '\n'], " ");
    trim_ows(&text).to_string()
}

/// `line` without its LF or CRLF.
pub(super) fn strip_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}
