//! Unit tests of `http::response`: the helpers that feed a response in
//! every split, and one module per concern.
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

mod errors;
mod framing;
mod limits;
mod properties;
