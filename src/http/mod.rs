//! HTTP/1.x client logic for the HTTP checks, without I/O.
//!
//! The C original read the response as a single TCP segment and split it on
//! the first blank line, so responses spread over several segments failed and
//! LF-only responses crashed it. This module is the replacement: it builds the
//! request bytes, parses the response incrementally from pieces of any size
//! (as the TCP layer hands them over), and checks the response against what
//! the operator asked for. It opens no socket, reads no clock and prints
//! nothing, so every framing and every failure is tested in microseconds.
//!
//! - [`request`]: the request line and headers, and the validation of the
//!   HOST, PATH and `-H` arguments that go into them.
//! - [`response`]: [`ResponseParser`], an incremental parser with bounded
//!   memory (`--max-bytes`), and the parsed [`Response`].
//! - [`expect`]: [`ResponseChecks`] (status, headers, MD5, body, substring,
//!   regex) and the one-line [`Mismatch`] that says why a check failed.
//! - [`error`]: [`HttpError`], why a response could not be read at all.

pub mod error;
pub mod expect;
pub mod request;
pub mod response;

pub use error::HttpError;
pub use expect::{BodyMd5, HeaderMatch, Mismatch, ResponseChecks, StatusSet};
pub use request::{
    parse_request_header, validate_host, validate_path, Method, Request, USER_AGENT,
};
pub use response::{Phase, Progress, Response, ResponseParser, DEFAULT_MAX_BYTES};
