//! Arbitrary segment sequences from the server, interleaved with time steps
//! and client calls: the state machine never panics, never loops in
//! poll_transmit, and never buffers more than its bounds.
#![no_main]

use std::time::{Duration, Instant};

use check_raw::net::tcp::{Flags, Segment, Seq, Tcp, TcpParams};
use libfuzzer_sys::fuzz_target;

const ISN: Seq = Seq(0xffff_ff00);
const IRS: Seq = Seq(0x7fff_fff0);

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut now = start;
    let mut tcp = Tcp::new(TcpParams::new(ISN, 1460));
    tcp.connect();
    let mut received = 0usize;
    // Records of 8 bytes: op, flags, seq offset (2), ack offset, window
    // (2), payload length; bounded by the input size.
    for record in data.chunks_exact(8) {
        let op = record[0];
        now += Duration::from_millis(u64::from(op >> 4) * 50);
        match op & 0x0f {
            0 => tcp.close(),
            1 => {
                let _ = tcp.send(&record[1..]);
            }
            2 => {
                let _ = tcp.abort();
            }
            3 => received += tcp.take_received().len(),
            _ => {
                let seq_off = u32::from(u16::from_be_bytes([record[2], record[3]]));
                let big = record[1] & 0x80 != 0;
                let seg = Segment {
                    seq: if big { IRS + seq_off * 65_536 } else { IRS + seq_off },
                    ack: ISN + u32::from(record[4]),
                    flags: Flags(record[1] & 0x3f),
                    window: u16::from_be_bytes([record[5], record[6]]),
                    mss: (record[7] & 1 == 1).then_some(u16::from(record[7])),
                    sack_permitted: record[7] & 2 == 2,
                    payload: vec![0x55; usize::from(record[7]) * 8],
                    ..Segment::default()
                };
                let _ = tcp.on_segment(&seg, now);
            }
        }
        let mut sent = 0;
        while tcp.poll_transmit(now).is_some() {
            sent += 1;
            assert!(sent < 2_000, "poll_transmit does not run dry");
        }
        if let Some(at) = tcp.poll_at() {
            assert!(at >= start);
        }
    }
    received += tcp.take_received().len();
    assert!(received <= data.len() * 2048);
});
