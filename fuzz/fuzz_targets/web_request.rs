//! Any bytes a client may send the listener, fed as they would arrive (in
//! pieces, the head parsed again after each): the request parser gives a
//! request, "not yet" or a refusal with a 4xx/5xx status, never a panic;
//! a prefix of a request that parses is never refused, and gives the
//! same request once complete; routing what parses never panics. The
//! query decoder (module and target of /probe) gets the bytes too.
#![no_main]

use check_raw::serve::web::request::{self, WebRequest, MAX_HEAD};
use check_raw::serve::web::{self, Pages, Route};
use libfuzzer_sys::fuzz_target;

struct Blank;

impl Pages for Blank {
    fn metrics(&self, _: bool) -> (&'static str, String) {
        ("text/plain", String::new())
    }
    fn status_json(&self) -> String {
        String::new()
    }
    fn status_html(&self) -> String {
        String::new()
    }
}

fn check(req: &WebRequest) {
    match web::route(req, &Blank) {
        Route::Now(reply) => assert!((200..600).contains(&reply.status)),
        Route::Probe(q) => assert!(!q.module.is_empty() && !q.target.is_empty()),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, bytes)) = data.split_first() else {
        return;
    };
    let bytes = &bytes[..bytes.len().min(MAX_HEAD + 64)];
    let whole = request::parse(bytes);
    if let Err(r) = &whole {
        assert!((400..600).contains(&r.status), "{r:?}");
    }
    if let Ok(Some(req)) = &whole {
        check(req);
    }
    // As the server reads: growing prefixes, `piece` bytes more each time.
    let piece = usize::from(control) + 1;
    let mut end = 0;
    while end < bytes.len() {
        end = (end + piece).min(bytes.len());
        match (request::parse(&bytes[..end]), &whole) {
            (Ok(None), _) => {}
            (Ok(Some(part)), Ok(Some(full))) => {
                assert_eq!(&part, full, "a complete head parsed differently");
                break;
            }
            (Err(_), Ok(Some(_))) => panic!("a prefix of a good request refused"),
            _ => break,
        }
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(pairs) = request::parse_query(text) {
            assert!(pairs.len() <= request::MAX_PARAMS);
        }
    }
});
