//! Incremental parsing of one HTTP/1.x response, with bounded memory.
//!
//! TCP delivers the response in pieces of any size, and the C original's
//! assumption that it fits in one segment was its main defect. The
//! [`ResponseParser`] takes the pieces as they come ([`ResponseParser::feed`]),
//! and is told when the peer closed ([`ResponseParser::eof`]). It never reads
//! a socket or a clock, so the caller decides what a timeout means, using
//! [`ResponseParser::phase`] to say which step timed out.
//!
//! Framing follows RFC 9112 section 6.3: no body for HEAD, 1xx, 204 and 304;
//! otherwise chunked if Transfer-Encoding ends in `chunked` (it wins over
//! Content-Length); otherwise Content-Length; otherwise until the peer
//! closes. Interim 1xx responses (100 Continue, 103 Early Hints) are skipped.
//! Lenient where that cannot change the framing (LF-only line endings,
//! blank lines before the status line, obsolete line folding, a reason
//! phrase that is not UTF-8), strict where it could (duplicate differing
//! Content-Length, malformed chunk sizes).
//!
//! Memory: the parser accepts at most `max_bytes + 1` bytes of a response
//! (a response that needs more is an error) and, between calls, holds only
//! unconsumed bytes and the decoded body, together never more than that. A
//! head, a chunk-size line or a trailer section that never ends is an
//! error once it passes its own limit, long before `max_bytes`. Bytes after
//! a complete response are ignored.
//!
//! Results do not depend on how the input was split: every check that fires
//! on incomplete input (head limit, "not HTTP", line limits) fires on the
//! same condition as on the complete input, which the tests verify by
//! feeding responses split at every byte boundary.
//!
//! The parser is split along its two halves: [`head`] finds and parses the
//! head (status line, header fields, interim responses), [`body`] frames
//! the body (Content-Length, chunked, close-delimited). This file holds
//! the parser's state and the loop that drives both.

mod body;
mod head;

use md5::{Digest, Md5};

use super::error::HttpError;

/// Default `--max-bytes`: 16 MiB.
pub const DEFAULT_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Largest head (status line, header fields and blank line), in bytes.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header fields in one head.
pub const MAX_HEADERS: usize = 100;
/// Longest chunk-size line (with extensions and line ending), in bytes.
pub const MAX_CHUNK_LINE_BYTES: usize = 4096;
/// Largest trailer section after the last chunk, in bytes.
pub const MAX_TRAILER_BYTES: usize = 64 * 1024;

/// How many first bytes of a head are compared with `HTTP/` to tell a
/// non-HTTP server early, and quoted in the error.
const SNIFF_BYTES: usize = 16;
const HTTP_PREFIX: &[u8] = b"HTTP/";

/// A complete response, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// Status code, 100..=599 (never 1xx: interim responses are skipped).
    pub code: u16,
    /// Reason phrase, lossy UTF-8, trimmed; may be empty.
    pub reason: String,
    /// Header fields in order: name as sent, value as lossy UTF-8 trimmed of
    /// spaces and tabs (obsolete line folds replaced by spaces).
    pub headers: Vec<(String, String)>,
    /// The body after chunked decoding (content codings such as gzip are
    /// not removed). Empty for HEAD, 204 and 304.
    pub body: Vec<u8>,
    /// Bytes this exchange took on the wire, from the first byte to the end
    /// of the final response: any interim 1xx responses, the head, and the
    /// body as framed (chunk sizes and trailers included).
    pub wire_bytes: usize,
}

impl Response {
    /// The value of the first header field named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The values of all header fields named `name` (case-insensitive), in
    /// order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status line without its line ending, e.g. `HTTP/1.1 200 OK`
    /// (`HTTP/1.1 204` when the reason phrase is empty).
    pub fn status_line(&self) -> String {
        let line = format!("HTTP/1.{} {} {}", self.version, self.code, self.reason);
        line.trim_end().to_string()
    }

    /// MD5 of the body as 32 lowercase hex digits. Pure Rust (`md-5`), not
    /// OpenSSL's: a plain HTTP check then never initialises OpenSSL
    /// (openssl.cnf, providers), which cost ~1.9 MiB of peak RSS and ~1 ms
    /// of CPU per check, and cannot be refused MD5 in FIPS mode.
    pub fn body_md5_hex(&self) -> String {
        Md5::digest(&self.body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Where the parser is; the caller names a timeout after it ("response
/// start" while `AwaitingHead`, "response end" while `ReadingBody`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The final head has not been received yet (interim 1xx responses may
    /// have been).
    AwaitingHead,
    /// The head is in, the body is not complete.
    ReadingBody,
    /// The response was returned. (A parser that failed keeps the phase
    /// it failed in.)
    Complete,
}

/// What [`ResponseParser::feed`] made of the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The response is not complete; feed more, or call `eof` if the peer
    /// closed.
    NeedMore,
    /// The response is complete; any further data is not part of it.
    Complete(Response),
}

/// Parses one response from pieces of any size. See the module doc.
#[derive(Debug)]
pub struct ResponseParser {
    head_request: bool,
    max_bytes: usize,
    /// Accepted bytes not yet consumed start at `buf[pos]`; consumed bytes
    /// before `pos` are dropped after each `feed`.
    buf: Vec<u8>,
    pos: usize,
    /// Bytes dropped from the front of `buf` so far: `drained + pos` bytes
    /// of the connection have been consumed.
    drained: usize,
    /// Bytes accepted so far; never more than `max_bytes + 1`, the first
    /// byte that proves a response too large.
    received: usize,
    state: ParseState,
    phase: Phase,
    /// Set once parsing failed; returned again by any later call.
    failure: Option<HttpError>,
}

#[derive(Debug)]
enum ParseState {
    Head(HeadScan),
    Body(Body),
    /// Complete, failed, or in the middle of a step (see `step`).
    Done,
}

/// Progress through a head that has not ended yet.
#[derive(Debug, Clone, Copy, Default)]
struct HeadScan {
    /// Blank-line bytes consumed before the status line.
    skipped: usize,
    /// Unconsumed bytes already searched for the end of the head.
    scanned: usize,
}

/// The final head, kept while its body arrives.
#[derive(Debug)]
struct Head {
    version: u8,
    code: u16,
    reason: String,
    headers: Vec<(String, String)>,
}

#[derive(Debug)]
struct Body {
    head: Head,
    framing: Framing,
    data: Vec<u8>,
}

/// How the end of the body is found (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length { remaining: u64, total: u64 },
    Chunked(Chunk),
    Close,
}

/// Where a chunked body is; `scanned` fields count unconsumed bytes already
/// searched for the end of the line, so that a line fed one byte at a time
/// is not searched again from its start each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    SizeLine { scanned: usize },
    Data { remaining: u64 },
    DataEnd { seen_cr: bool },
    Trailers { bytes: usize, scanned: usize },
}

/// Result of one processing step.
enum Advance {
    /// Bytes were consumed or scanned; step again.
    Continue,
    NeedMore,
    Complete(Response),
}

/// Result of one step inside a body.
enum BodyStep {
    Continue,
    NeedMore,
    Done,
}

/// Result of looking for the end of a line.
enum Line {
    /// A line of this many bytes, line feed included.
    Complete(usize),
    /// No line feed yet in this many unconsumed bytes.
    Partial(usize),
    TooLong,
}

impl ResponseParser {
    /// A parser for the response to a HEAD request (`head_request`: no body
    /// whatever the headers say) or to a GET request, refusing a response
    /// that needs more than `max_bytes` bytes on the wire.
    pub fn new(head_request: bool, max_bytes: usize) -> ResponseParser {
        ResponseParser {
            head_request,
            max_bytes,
            buf: Vec::new(),
            pos: 0,
            drained: 0,
            received: 0,
            state: ParseState::Head(HeadScan::default()),
            phase: Phase::AwaitingHead,
            failure: None,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Bytes accepted so far (at most `max_bytes + 1`), for traces.
    pub fn bytes_received(&self) -> usize {
        self.received
    }

    /// Takes the next piece of the connection's data.
    ///
    /// Returns `Complete` as soon as the response is complete; the rest of
    /// `data` is ignored. After `Complete` or an error the parser is
    /// finished: later calls return the same error, or
    /// [`HttpError::AlreadyComplete`].
    pub fn feed(&mut self, data: &[u8]) -> Result<Progress, HttpError> {
        self.check_usable()?;
        self.accept(data);
        let result = self.process();
        self.compact();
        result.map_err(|error| self.fail(error))
    }

    /// The peer closed the connection: this ends a body delimited by the
    /// close, and is an error anywhere else before the end of the response.
    pub fn eof(&mut self) -> Result<Response, HttpError> {
        self.check_usable()?;
        let result = match std::mem::replace(&mut self.state, ParseState::Done) {
            ParseState::Head(scan) => Err(self.closed_in_head(scan)),
            ParseState::Body(body) => self.closed_in_body(body),
            ParseState::Done => Err(HttpError::AlreadyComplete),
        };
        result.map_err(|error| self.fail(error))
    }

    fn check_usable(&self) -> Result<(), HttpError> {
        match (&self.failure, &self.state) {
            (Some(error), _) => Err(error.clone()),
            (None, ParseState::Done) => Err(HttpError::AlreadyComplete),
            (None, _) => Ok(()),
        }
    }

    fn fail(&mut self, error: HttpError) -> HttpError {
        self.failure = Some(error.clone());
        self.state = ParseState::Done;
        self.buf = Vec::new();
        error
    }

    /// Appends what may still belong to the response: up to one byte past
    /// `max_bytes`, so that memory stays bounded however much is fed.
    fn accept(&mut self, data: &[u8]) {
        let room = self
            .max_bytes
            .saturating_add(1)
            .saturating_sub(self.received);
        let taken = data.get(..room).unwrap_or(data);
        self.buf.extend_from_slice(taken);
        self.received += taken.len();
    }

    /// Drops consumed bytes (all of them once the response is complete).
    fn compact(&mut self) {
        if matches!(self.state, ParseState::Done) {
            self.buf = Vec::new();
        } else if self.pos > 0 {
            self.buf.drain(..self.pos.min(self.buf.len()));
        }
        self.drained += self.pos;
        self.pos = 0;
    }

    fn unconsumed(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Bytes of the connection consumed so far.
    fn consumed(&self) -> usize {
        self.drained + self.pos
    }

    fn process(&mut self) -> Result<Progress, HttpError> {
        // Every `Continue` consumes or scans at least one byte, so the loop
        // ends well before this bound; the bound only makes that evident.
        let budget = self.unconsumed().len().saturating_mul(2).saturating_add(8);
        for _ in 0..budget {
            match self.step()? {
                Advance::Continue => {}
                Advance::NeedMore => break,
                Advance::Complete(response) => return Ok(Progress::Complete(response)),
            }
        }
        if self.received > self.max_bytes {
            // Incomplete although more than `max_bytes` arrived.
            return Err(self.too_large(None));
        }
        Ok(Progress::NeedMore)
    }

    /// One step of the state machine. The state is moved out while the
    /// step runs; each step puts back the state it leaves the parser in
    /// (on error the caller records the failure instead).
    fn step(&mut self) -> Result<Advance, HttpError> {
        match std::mem::replace(&mut self.state, ParseState::Done) {
            ParseState::Head(scan) => self.step_head(scan),
            ParseState::Body(body) => self.step_body(body),
            ParseState::Done => Ok(Advance::NeedMore),
        }
    }

    fn too_large(&self, content_length: Option<u64>) -> HttpError {
        HttpError::TooLarge {
            limit: self.max_bytes,
            content_length,
        }
    }

    /// Fails early when `more` bytes announced by the server cannot fit.
    fn ensure_room(&self, more: u64, content_length: Option<u64>) -> Result<(), HttpError> {
        let consumed = u64::try_from(self.consumed()).unwrap_or(u64::MAX);
        let limit = u64::try_from(self.max_bytes).unwrap_or(u64::MAX);
        if consumed.saturating_add(more) > limit {
            return Err(self.too_large(content_length));
        }
        Ok(())
    }

    /// Looks for the end of the line starting at the first unconsumed byte,
    /// searching from `scanned`; a line (with its LF) may have `limit`
    /// bytes. Without an LF, `limit` bytes already make it too long, which
    /// keeps the verdict independent of how the line was split.
    fn scan_line(&self, limit: usize, scanned: usize) -> Line {
        let region = self.unconsumed();
        let rest = region.get(scanned..).unwrap_or_default();
        match rest.iter().position(|&b| b == b'\n') {
            Some(at) if scanned + at + 1 > limit => Line::TooLong,
            Some(at) => Line::Complete(scanned + at + 1),
            None if region.len() >= limit => Line::TooLong,
            None => Line::Partial(region.len()),
        }
    }

    fn complete(&mut self, head: Head, body: Vec<u8>) -> Result<Response, HttpError> {
        let wire_bytes = self.consumed();
        if wire_bytes > self.max_bytes {
            return Err(self.too_large(None));
        }
        self.state = ParseState::Done;
        self.phase = Phase::Complete;
        Ok(Response {
            version: head.version,
            code: head.code,
            reason: head.reason,
            headers: head.headers,
            body,
            wire_bytes,
        })
    }
}

#[cfg(test)]
mod tests;
