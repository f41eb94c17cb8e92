//! Any bytes off the wire: the frame parser returns Ok or a FrameError,
//! never panics, and what it accepts re-encodes to a frame it accepts again
//! (TCP, UDP, echo), equal to what it parsed.
#![no_main]

use check_raw::net::wire::{self, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let verified = flags & 1 == 1;
    let Ok(parsed) = wire::parse(bytes, verified) else {
        return;
    };
    // The trace line of anything parsed must not panic either.
    let _ = parsed.to_string();
    match parsed {
        Parsed::Tcp(f) => {
            let again = wire::tcp_frame(f.link, f.flow, 0, &f.segment);
            match wire::parse(&again, false) {
                Ok(Parsed::Tcp(g)) => assert_eq!(g.segment, f.segment),
                other => panic!("re-encoded TCP frame did not parse: {other:?}"),
            }
        }
        Parsed::Udp(f) => {
            let again = wire::udp_frame(f.link, f.flow, 0, &f.payload);
            match wire::parse(&again, false) {
                Ok(Parsed::Udp(g)) => assert_eq!(g, f),
                other => panic!("re-encoded UDP frame did not parse: {other:?}"),
            }
        }
        Parsed::Echo(e) => {
            let build = if e.is_reply {
                wire::echo_reply
            } else {
                wire::echo_request
            };
            let again = build(e.link, e.src_ip, e.dst_ip, 0, e.ident, e.seq, &e.payload);
            match wire::parse(&again, false) {
                Ok(Parsed::Echo(g)) => assert_eq!(g, e),
                other => panic!("re-encoded echo did not parse: {other:?}"),
            }
        }
        _ => {}
    }
});
