//! Any bytes off the wire: the frame parser returns Ok or a FrameError,
//! never panics, and what it accepts re-encodes to a frame it accepts again.
#![no_main]

use check_raw::net::frame::{self, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let verified = flags & 1 == 1;
    if let Ok(Parsed::Tcp(f)) = frame::parse(bytes, verified) {
        let again = frame::tcp_frame(f.link, f.flow, 0, &f.segment);
        match frame::parse(&again, false) {
            Ok(Parsed::Tcp(g)) => assert_eq!(g.segment, f.segment),
            other => panic!("re-encoded frame did not parse: {other:?}"),
        }
    }
});
