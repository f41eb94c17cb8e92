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

use openssl::hash::{hash, MessageDigest};

use super::error::HttpError;
use super::request::trim_ows;
use crate::text::{excerpt, quoted, quoted_bytes};

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

    /// MD5 of the body as 32 lowercase hex digits. Fails only if OpenSSL
    /// refuses MD5 (FIPS mode).
    pub fn body_md5_hex(&self) -> Result<String, HttpError> {
        let digest =
            hash(MessageDigest::md5(), &self.body).map_err(|e| HttpError::Md5Unavailable {
                reason: excerpt(&e.to_string(), 200),
            })?;
        Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
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
    state: State,
    phase: Phase,
    /// Set once parsing failed; returned again by any later call.
    failure: Option<HttpError>,
}

#[derive(Debug)]
enum State {
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
enum Step {
    /// Bytes were consumed or scanned; step again.
    Continue,
    NeedMore,
    Complete(Response),
}

/// Result of one step inside a body.
enum Flow {
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
            state: State::Head(HeadScan::default()),
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
        let result = match std::mem::replace(&mut self.state, State::Done) {
            State::Head(scan) => Err(self.closed_in_head(scan)),
            State::Body(body) => self.closed_in_body(body),
            State::Done => Err(HttpError::AlreadyComplete),
        };
        result.map_err(|error| self.fail(error))
    }

    fn check_usable(&self) -> Result<(), HttpError> {
        match (&self.failure, &self.state) {
            (Some(error), _) => Err(error.clone()),
            (None, State::Done) => Err(HttpError::AlreadyComplete),
            (None, _) => Ok(()),
        }
    }

    fn fail(&mut self, error: HttpError) -> HttpError {
        self.failure = Some(error.clone());
        self.state = State::Done;
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
        if matches!(self.state, State::Done) {
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
                Step::Continue => {}
                Step::NeedMore => break,
                Step::Complete(response) => return Ok(Progress::Complete(response)),
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
    fn step(&mut self) -> Result<Step, HttpError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Head(scan) => self.step_head(scan),
            State::Body(body) => self.step_body(body),
            State::Done => Ok(Step::NeedMore),
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

    fn step_head(&mut self, mut scan: HeadScan) -> Result<Step, HttpError> {
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
            self.state = State::Head(scan);
            return Ok(Step::NeedMore);
        };
        match parse_head(region.get(..end).unwrap_or(region))? {
            Some((len, head)) => {
                self.pos += len;
                self.start_after_head(head)
            }
            None => {
                // Not the end after all; search on after this blank line.
                scan.scanned = end;
                self.state = State::Head(scan);
                Ok(Step::Continue)
            }
        }
    }

    /// Skips an interim response, or decides how the body is framed.
    fn start_after_head(&mut self, head: Head) -> Result<Step, HttpError> {
        if head.code == 101 {
            return Err(HttpError::UnexpectedSwitchingProtocols);
        }
        if head.code < 200 {
            self.state = State::Head(HeadScan::default());
            return Ok(Step::Continue);
        }
        let framing = match framing(self.head_request, &head)? {
            None | Some(Framing::Length { total: 0, .. }) => {
                return self.complete(head, Vec::new()).map(Step::Complete)
            }
            Some(framing) => framing,
        };
        if let Framing::Length { total, .. } = framing {
            self.ensure_room(total, Some(total))?;
        }
        self.phase = Phase::ReadingBody;
        self.state = State::Body(Body {
            head,
            framing,
            data: Vec::new(),
        });
        Ok(Step::Continue)
    }

    fn step_body(&mut self, mut body: Body) -> Result<Step, HttpError> {
        let flow = match &mut body.framing {
            Framing::Length { remaining, .. } => {
                *remaining -= self.take_into(&mut body.data, *remaining);
                if *remaining == 0 {
                    Flow::Done
                } else {
                    Flow::NeedMore
                }
            }
            Framing::Close => {
                self.take_into(&mut body.data, u64::MAX);
                Flow::NeedMore
            }
            Framing::Chunked(chunk) => self.step_chunk(chunk, &mut body.data)?,
        };
        match flow {
            Flow::Done => self.complete(body.head, body.data).map(Step::Complete),
            Flow::Continue => {
                self.state = State::Body(body);
                Ok(Step::Continue)
            }
            Flow::NeedMore => {
                self.state = State::Body(body);
                Ok(Step::NeedMore)
            }
        }
    }

    /// Moves up to `limit` unconsumed bytes into `out`; returns how many.
    fn take_into(&mut self, out: &mut Vec<u8>, limit: u64) -> u64 {
        let available = self.unconsumed();
        let count = usize::try_from(limit).map_or(available.len(), |l| l.min(available.len()));
        out.extend_from_slice(available.get(..count).unwrap_or_default());
        self.pos += count;
        count as u64
    }

    fn step_chunk(&mut self, chunk: &mut Chunk, data: &mut Vec<u8>) -> Result<Flow, HttpError> {
        let (next, flow) = match *chunk {
            Chunk::SizeLine { scanned } => self.chunk_size_line(scanned)?,
            Chunk::Data { remaining } => self.chunk_data(remaining, data),
            Chunk::DataEnd { seen_cr } => self.chunk_data_end(seen_cr)?,
            Chunk::Trailers { bytes, scanned } => self.trailer_line(bytes, scanned)?,
        };
        *chunk = next;
        Ok(flow)
    }

    fn chunk_size_line(&mut self, scanned: usize) -> Result<(Chunk, Flow), HttpError> {
        let len = match self.scan_line(MAX_CHUNK_LINE_BYTES, scanned) {
            Line::Complete(len) => len,
            Line::Partial(scanned) => return Ok((Chunk::SizeLine { scanned }, Flow::NeedMore)),
            Line::TooLong => {
                return Err(HttpError::ChunkLineTooLong {
                    limit: MAX_CHUNK_LINE_BYTES,
                })
            }
        };
        let size = parse_chunk_size(self.unconsumed().get(..len).unwrap_or_default())?;
        self.pos += len;
        if size == 0 {
            let trailers = Chunk::Trailers {
                bytes: 0,
                scanned: 0,
            };
            return Ok((trailers, Flow::Continue));
        }
        // Refuse a chunk that cannot fit now, rather than after buffering it.
        self.ensure_room(size, None)?;
        Ok((Chunk::Data { remaining: size }, Flow::Continue))
    }

    fn chunk_data(&mut self, remaining: u64, data: &mut Vec<u8>) -> (Chunk, Flow) {
        let remaining = remaining - self.take_into(data, remaining);
        if remaining == 0 {
            (Chunk::DataEnd { seen_cr: false }, Flow::Continue)
        } else {
            (Chunk::Data { remaining }, Flow::NeedMore)
        }
    }

    /// The CRLF (or LF) after chunk data; anything else means the chunk
    /// size was wrong, and the rest of the body cannot be trusted.
    fn chunk_data_end(&mut self, seen_cr: bool) -> Result<(Chunk, Flow), HttpError> {
        let Some(&byte) = self.unconsumed().first() else {
            return Ok((Chunk::DataEnd { seen_cr }, Flow::NeedMore));
        };
        let next = match (byte, seen_cr) {
            (b'\r', false) => Chunk::DataEnd { seen_cr: true },
            (b'\n', _) => Chunk::SizeLine { scanned: 0 },
            _ => return Err(HttpError::MissingChunkCrlf { found: byte }),
        };
        self.pos += 1;
        Ok((next, Flow::Continue))
    }

    /// One line of the trailer section; a blank line ends the body. Trailer
    /// fields are skipped: nothing checks them.
    fn trailer_line(&mut self, bytes: usize, scanned: usize) -> Result<(Chunk, Flow), HttpError> {
        let limit = MAX_TRAILER_BYTES.saturating_sub(bytes);
        let len = match self.scan_line(limit, scanned) {
            Line::Complete(len) => len,
            Line::Partial(scanned) => {
                return Ok((Chunk::Trailers { bytes, scanned }, Flow::NeedMore))
            }
            Line::TooLong => {
                return Err(HttpError::TrailersTooLarge {
                    limit: MAX_TRAILER_BYTES,
                })
            }
        };
        let line = self.unconsumed().get(..len).unwrap_or_default();
        let blank = strip_line_ending(line).is_empty();
        self.pos += len;
        let next = Chunk::Trailers {
            bytes: bytes + len,
            scanned: 0,
        };
        Ok((next, if blank { Flow::Done } else { Flow::Continue }))
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
        self.state = State::Done;
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

    fn closed_in_head(&self, scan: HeadScan) -> HttpError {
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

    fn closed_in_body(&mut self, body: Body) -> Result<Response, HttpError> {
        match body.framing {
            Framing::Close => self.complete(body.head, body.data),
            Framing::Length { remaining, total } => Err(HttpError::ClosedInBody {
                received: total - remaining,
                expected: total,
            }),
            Framing::Chunked(_) => Err(HttpError::ClosedInChunkedBody {
                received: body.data.len(),
            }),
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
fn strip_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// How the body of a final response is framed; `None` if it has none.
fn framing(head_request: bool, head: &Head) -> Result<Option<Framing>, HttpError> {
    if head_request || head.code < 200 || head.code == 204 || head.code == 304 {
        return Ok(None);
    }
    let codings: Vec<&str> = values_of(head, "Transfer-Encoding")
        .flat_map(|value| value.split(','))
        .map(trim_ows)
        .filter(|coding| !coding.is_empty())
        .collect();
    if let Some(last) = codings.last() {
        // Transfer-Encoding wins over Content-Length; a response whose
        // last coding is not chunked ends when the server closes.
        return Ok(Some(if last.eq_ignore_ascii_case("chunked") {
            Framing::Chunked(Chunk::SizeLine { scanned: 0 })
        } else {
            Framing::Close
        }));
    }
    Ok(Some(match content_length(head)? {
        Some(total) => Framing::Length {
            remaining: total,
            total,
        },
        None => Framing::Close,
    }))
}

fn values_of<'a>(head: &'a Head, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    head.headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The Content-Length, if any. Repeated values (in several fields or as a
/// list) are accepted when identical and refused when they differ, since
/// the end of the body would then be a guess.
fn content_length(head: &Head) -> Result<Option<u64>, HttpError> {
    let mut found: Option<(u64, &str)> = None;
    for text in values_of(head, "Content-Length").flat_map(|value| value.split(',')) {
        let text = trim_ows(text);
        let length = parse_decimal(text).ok_or_else(|| HttpError::InvalidContentLength {
            value: quoted(text),
        })?;
        match found {
            Some((first, first_text)) if first != length => {
                return Err(HttpError::ConflictingContentLength {
                    first: quoted(first_text),
                    second: quoted(text),
                })
            }
            Some(_) => {}
            None => found = Some((length, text)),
        }
    }
    Ok(found.map(|(length, _)| length))
}

fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.bytes().try_fold(0u64, |acc, d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// The size from a chunk-size line: hex digits (either case), then
/// optional whitespace and `;extensions`, which are ignored.
fn parse_chunk_size(line: &[u8]) -> Result<u64, HttpError> {
    let content = strip_line_ending(line);
    let size_field = content.split(|&b| b == b';').next().unwrap_or_default();
    let digits = trim_ows_bytes(size_field);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(HttpError::BadChunkSize {
            line: quoted_bytes(content),
        });
    }
    digits
        .iter()
        .try_fold(0u64, |acc, &d| {
            let value = char::from(d).to_digit(16)?;
            acc.checked_mul(16)?.checked_add(u64::from(value))
        })
        .ok_or_else(|| HttpError::ChunkSizeOverflow {
            line: quoted_bytes(content),
        })
}

fn trim_ows_bytes(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().take_while(|b| is_ows(b)).count();
    let rest = bytes.get(start..).unwrap_or_default();
    let end = rest.len() - rest.iter().rev().take_while(|b| is_ows(b)).count();
    rest.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
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
        let input =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
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
        let not_chunked = ok(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\nuntil close",
        );
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
        let parsed = ok(b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Length: 5\r\n\r\nhello");
        let cookies: Vec<&str> = parsed.headers_named("SET-COOKIE").collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(
            parsed.body_md5_hex(),
            Ok("5d41402abc4b2a76b9719d911017c592".to_string())
        );
        let empty = ok(b"HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(
            empty.body_md5_hex(),
            Ok("d41d8cd98f00b204e9800998ecf8427e".to_string())
        );
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
        let result = parser
            .feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n");
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
            (b"HTTP/1.1 200 OK\r\nContent-", "connection closed before the end of the response head (25 bytes of it received)"),
            (b"HTTP/1.1 100 Continue\r\n\r\n", "connection closed before the end of the response head (0 bytes of it received)"),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe", "connection closed after 2 of 5 body bytes"),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nab", "connection closed in the chunked body before its last chunk (7 body bytes received)"),
            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n", "connection closed in the chunked body before its last chunk (0 body bytes received)"),
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
                HttpError::Md5Unavailable {
                    reason: "disabled for FIPS".to_string(),
                },
                "cannot compute MD5: disabled for FIPS",
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
}
