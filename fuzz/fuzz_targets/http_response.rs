//! Any server reply, split anywhere: the response parser never panics,
//! gives the same verdict however the bytes are split, and the
//! expectations can be checked against whatever it accepts.
#![no_main]

use check_raw::http::{ResponseChecks, Progress, ResponseParser, StatusSet};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 64 * 1024;

fn parse_in_pieces(data: &[u8], head: bool, piece: usize) -> Result<check_raw::http::Response, check_raw::http::HttpError> {
    let mut parser = ResponseParser::new(head, LIMIT);
    for chunk in data.chunks(piece.max(1)) {
        if let Progress::Complete(response) = parser.feed(chunk)? {
            return Ok(response);
        }
    }
    parser.eof()
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, body)) = data.split_first() else {
        return;
    };
    let head = control & 1 == 1;
    let whole = parse_in_pieces(body, head, body.len());
    let split = parse_in_pieces(body, head, usize::from(control >> 1) + 1);
    assert_eq!(whole.is_ok(), split.is_ok(), "split changed the verdict");
    if let (Ok(a), Ok(b)) = (&whole, &split) {
        assert_eq!(a, b);
        let expect = ResponseChecks {
            status: Some(StatusSet::success()),
            contains: Some("ok".into()),
            ..ResponseChecks::default()
        };
        let _ = expect.verify(a);
        let _ = a.body_md5_hex();
    }
});
