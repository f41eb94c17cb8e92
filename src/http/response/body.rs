//! The body of a response, framed as RFC 9112 section 6.3 says: by
//! Content-Length, chunked (size lines, data, CRLF, trailers), or until
//! the peer closes.

use super::head::strip_line_ending;
use super::{
    Advance, Body, BodyStep, Chunk, Framing, Head, Line, ParseState, Response, ResponseParser,
    MAX_CHUNK_LINE_BYTES, MAX_TRAILER_BYTES,
};
use crate::http::error::HttpError;
use crate::http::request::trim_ows;
use crate::text::{quoted, quoted_bytes};

impl ResponseParser {
    pub(super) fn step_body(&mut self, mut body: Body) -> Result<Advance, HttpError> {
        let flow = match &mut body.framing {
            Framing::Length { remaining, .. } => {
                *remaining -= self.take_into(&mut body.data, *remaining);
                if *remaining == 0 {
                    BodyStep::Done
                } else {
                    BodyStep::NeedMore
                }
            }
            Framing::Close => {
                self.take_into(&mut body.data, u64::MAX);
                BodyStep::NeedMore
            }
            Framing::Chunked(chunk) => self.step_chunk(chunk, &mut body.data)?,
        };
        match flow {
            BodyStep::Done => self.complete(body.head, body.data).map(Advance::Complete),
            BodyStep::Continue => {
                self.state = ParseState::Body(body);
                Ok(Advance::Continue)
            }
            BodyStep::NeedMore => {
                self.state = ParseState::Body(body);
                Ok(Advance::NeedMore)
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

    fn step_chunk(&mut self, chunk: &mut Chunk, data: &mut Vec<u8>) -> Result<BodyStep, HttpError> {
        let (next, flow) = match *chunk {
            Chunk::SizeLine { scanned } => self.chunk_size_line(scanned)?,
            Chunk::Data { remaining } => self.chunk_data(remaining, data),
            Chunk::DataEnd { seen_cr } => self.chunk_data_end(seen_cr)?,
            Chunk::Trailers { bytes, scanned } => self.trailer_line(bytes, scanned)?,
        };
        *chunk = next;
        Ok(flow)
    }

    fn chunk_size_line(&mut self, scanned: usize) -> Result<(Chunk, BodyStep), HttpError> {
        let len = match self.scan_line(MAX_CHUNK_LINE_BYTES, scanned) {
            Line::Complete(len) => len,
            Line::Partial(scanned) => return Ok((Chunk::SizeLine { scanned }, BodyStep::NeedMore)),
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
            return Ok((trailers, BodyStep::Continue));
        }
        // Refuse a chunk that cannot fit now, rather than after buffering it.
        self.ensure_room(size, None)?;
        Ok((Chunk::Data { remaining: size }, BodyStep::Continue))
    }

    fn chunk_data(&mut self, remaining: u64, data: &mut Vec<u8>) -> (Chunk, BodyStep) {
        let remaining = remaining - self.take_into(data, remaining);
        if remaining == 0 {
            (Chunk::DataEnd { seen_cr: false }, BodyStep::Continue)
        } else {
            (Chunk::Data { remaining }, BodyStep::NeedMore)
        }
    }

    /// The CRLF (or LF) after chunk data; anything else means the chunk
    /// size was wrong, and the rest of the body cannot be trusted.
    fn chunk_data_end(&mut self, seen_cr: bool) -> Result<(Chunk, BodyStep), HttpError> {
        let Some(&byte) = self.unconsumed().first() else {
            return Ok((Chunk::DataEnd { seen_cr }, BodyStep::NeedMore));
        };
        let next = match (byte, seen_cr) {
            (b'\r', false) => Chunk::DataEnd { seen_cr: true },
            (b'\n', _) => Chunk::SizeLine { scanned: 0 },
            _ => return Err(HttpError::MissingChunkCrlf { found: byte }),
        };
        self.pos += 1;
        Ok((next, BodyStep::Continue))
    }

    /// One line of the trailer section; a blank line ends the body. Trailer
    /// fields are skipped: nothing checks them.
    fn trailer_line(
        &mut self,
        bytes: usize,
        scanned: usize,
    ) -> Result<(Chunk, BodyStep), HttpError> {
        let limit = MAX_TRAILER_BYTES.saturating_sub(bytes);
        let len = match self.scan_line(limit, scanned) {
            Line::Complete(len) => len,
            Line::Partial(scanned) => {
                return Ok((Chunk::Trailers { bytes, scanned }, BodyStep::NeedMore))
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
        Ok((
            next,
            if blank {
                BodyStep::Done
            } else {
                BodyStep::Continue
            },
        ))
    }

    pub(super) fn closed_in_body(&mut self, body: Body) -> Result<Response, HttpError> {
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

/// How the body of a final response is framed; `None` if it has none.
pub(super) fn framing(head_request: bool, head: &Head) -> Result<Option<Framing>, HttpError> {
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
