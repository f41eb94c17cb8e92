//! Why an HTTP response could not be read.
//!
//! One variant per cause, each rendered as a single specific line for the
//! operator (the check prints it as its failure reason). Values taken from
//! the wire are stored already quoted and sanitised (see `text`), so a
//! message never spans lines whatever the server sent.

use std::fmt;

/// A response that could not be parsed, was cut short or was too large.
///
/// This is distinct from [`crate::http::Mismatch`]: an `HttpError` means no
/// usable response was received, a `Mismatch` means one was received and
/// was not the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The first bytes are not `HTTP/`: probably not an HTTP server (an SSH
    /// banner, a TLS alert). `start` is a quoted excerpt.
    NotHttp { start: String },
    /// The head ended but httparse (or our range check) rejected it.
    MalformedHead { detail: String },
    /// More header fields than the parser keeps.
    TooManyHeaders { limit: usize },
    /// The head grew past the limit without ending.
    HeadTooLarge { limit: usize },
    /// A 101 answer to a request that asked for no upgrade.
    UnexpectedSwitchingProtocols,
    /// A Content-Length that is not a decimal number.
    InvalidContentLength { value: String },
    /// Two different Content-Length values: the framing is ambiguous (the
    /// classic request-smuggling confusion), so the response is refused.
    ConflictingContentLength { first: String, second: String },
    /// A chunk-size line whose size is not hexadecimal.
    BadChunkSize { line: String },
    /// A chunk size that does not fit in 64 bits.
    ChunkSizeOverflow { line: String },
    /// A chunk-size line (with extensions) longer than the limit.
    ChunkLineTooLong { limit: usize },
    /// Chunk data not followed by CRLF (or LF): the size was wrong.
    MissingChunkCrlf { found: u8 },
    /// The trailer section after the last chunk grew past the limit.
    TrailersTooLarge { limit: usize },
    /// The response (head and body, as sent) needs more than `limit` bytes.
    /// `content_length` is set when the head announced it.
    TooLarge {
        limit: usize,
        content_length: Option<u64>,
    },
    /// The peer closed before sending anything.
    ClosedBeforeResponse,
    /// The peer closed before the end of the head.
    ClosedInHead { received: usize },
    /// The peer closed before the end of a Content-Length body.
    ClosedInBody { received: u64, expected: u64 },
    /// The peer closed before the last chunk of a chunked body.
    ClosedInChunkedBody { received: usize },
    /// `feed` or `eof` called again after the response was complete.
    AlreadyComplete,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotHttp { start } => {
                write!(f, "response does not start with \"HTTP/\" (got {start})")
            }
            Self::MalformedHead { detail } => write!(f, "malformed HTTP response head: {detail}"),
            Self::TooManyHeaders { limit } => {
                write!(f, "response head has more than {limit} header fields")
            }
            Self::HeadTooLarge { limit } => write!(f, "response head exceeds {limit} bytes"),
            Self::UnexpectedSwitchingProtocols => {
                f.write_str("unexpected 101 Switching Protocols (no upgrade was requested)")
            }
            Self::InvalidContentLength { value } => write!(f, "invalid Content-Length {value}"),
            Self::ConflictingContentLength { first, second } => {
                write!(f, "conflicting Content-Length values {first} and {second}")
            }
            Self::BadChunkSize { line } => write!(f, "bad chunk size line {line}"),
            Self::ChunkSizeOverflow { line } => {
                write!(f, "chunk size overflows 64 bits in line {line}")
            }
            Self::ChunkLineTooLong { limit } => {
                write!(f, "chunk size line longer than {limit} bytes")
            }
            Self::MissingChunkCrlf { found } => {
                write!(f, "missing CRLF after chunk data (got byte 0x{found:02x})")
            }
            Self::TrailersTooLarge { limit } => {
                write!(f, "chunked trailer section exceeds {limit} bytes")
            }
            Self::TooLarge {
                limit,
                content_length,
            } => {
                write!(f, "response exceeds --max-bytes ({limit} bytes)")?;
                match content_length {
                    Some(length) => write!(f, ": Content-Length is {length}"),
                    None => Ok(()),
                }
            }
            Self::ClosedBeforeResponse => f.write_str("connection closed before any response"),
            Self::ClosedInHead { received } => write!(
                f,
                "connection closed before the end of the response head ({received} bytes of it received)"
            ),
            Self::ClosedInBody { received, expected } => write!(
                f,
                "connection closed after {received} of {expected} body bytes"
            ),
            Self::ClosedInChunkedBody { received } => write!(
                f,
                "connection closed in the chunked body before its last chunk ({received} body bytes received)"
            ),
            Self::AlreadyComplete => {
                f.write_str("response parser used again after the response was complete")
            }
        }
    }
}

impl std::error::Error for HttpError {}
