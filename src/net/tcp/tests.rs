//! The TCP client under a deterministic clock: every case runs without a
//! network, in microseconds, with time given per step (smoltcp's style).
//! The fixtures and the handshake are here; closing, data and loss, and
//! the windows have a file each.

use super::*;

const ISN: Seq = Seq(0xffff_fff0); // close to wrap-around on purpose
const IRS: Seq = Seq(1_000_000);
const MSS: u16 = 1460;

fn t0() -> Instant {
    // One fixed base per test; only differences matter.
    thread_local!(static BASE: Instant = Instant::now());
    BASE.with(|b| *b)
}

fn at(ms: u64) -> Instant {
    t0() + Duration::from_millis(ms)
}

fn client() -> Tcp {
    let mut tcp = Tcp::new(TcpParams::new(ISN, MSS));
    tcp.connect();
    tcp
}

/// Everything the client wants to send at `now`.
fn sent(tcp: &mut Tcp, now: Instant) -> Vec<Segment> {
    let mut out = Vec::new();
    for _ in 0..100 {
        match tcp.poll_transmit(now) {
            Some(seg) => out.push(seg),
            None => return out,
        }
    }
    panic!("poll_transmit never ran dry");
}

fn syn_ack() -> Segment {
    Segment {
        seq: IRS,
        ack: ISN + 1,
        flags: Flags::SYN | Flags::ACK,
        window: 64240,
        mss: Some(1460),
        payload: vec![],
        ..Segment::default()
    }
}

/// A server segment at our current position.
fn server(seq_off: u32, ack: Seq, flags: Flags, payload: &[u8]) -> Segment {
    Segment {
        seq: IRS + 1 + seq_off,
        ack,
        flags,
        window: 64240,
        mss: None,
        payload: payload.to_vec(),
        ..Segment::default()
    }
}

fn established() -> Tcp {
    let mut tcp = client();
    let syn = sent(&mut tcp, at(0));
    assert_eq!(syn.len(), 1);
    tcp.on_segment(&syn_ack(), at(1)).unwrap();
    let ack = sent(&mut tcp, at(1));
    assert_eq!(ack.len(), 1);
    tcp
}

#[test]
fn syn_carries_mss_and_window() {
    let mut tcp = client();
    let segs = sent(&mut tcp, at(0));
    assert_eq!(segs.len(), 1);
    let syn = &segs[0];
    assert_eq!(syn.flags, Flags::SYN);
    assert_eq!(syn.seq, ISN);
    assert_eq!(syn.mss, Some(MSS));
    assert_eq!(syn.window, u16::MAX);
    assert_eq!(tcp.state(), TcpState::SynSent);
}

#[test]
fn handshake_acks_server_isn_plus_one() {
    let mut tcp = client();
    sent(&mut tcp, at(0));
    tcp.on_segment(&syn_ack(), at(3)).unwrap();
    assert_eq!(tcp.state(), TcpState::Established);
    assert_eq!(tcp.handshake_time(), Some(Duration::from_millis(3)));
    assert_eq!(tcp.peer_mss(), 1460);
    let segs = sent(&mut tcp, at(3));
    assert_eq!(segs.len(), 1);
    assert_eq!(segs[0].flags, Flags::ACK);
    assert_eq!(segs[0].seq, ISN + 1);
    assert_eq!(segs[0].ack, IRS + 1);
}

#[test]
fn rst_to_syn_means_port_closed() {
    let mut tcp = client();
    sent(&mut tcp, at(0));
    let rst = Segment {
        seq: Seq(0),
        ack: ISN + 1,
        flags: Flags::RST | Flags::ACK,
        ..Segment::default()
    };
    tcp.on_segment(&rst, at(1)).unwrap();
    assert_eq!(tcp.state(), TcpState::Reset);
    assert!(tcp.is_finished());
    assert!(sent(&mut tcp, at(1)).is_empty());
    assert_eq!(tcp.poll_at(), None);
}

#[test]
fn rst_without_our_ack_is_ignored_and_a_foreign_syn_ack_reset_in_syn_sent() {
    let mut tcp = client();
    sent(&mut tcp, at(0));
    let bad_rst = Segment {
        ack: ISN + 7,
        flags: Flags::RST | Flags::ACK,
        ..Segment::default()
    };
    assert_eq!(tcp.on_segment(&bad_rst, at(1)), Err(Ignored::NotSynAck));
    let bare_rst = Segment {
        flags: Flags::RST,
        ..Segment::default()
    };
    assert_eq!(tcp.on_segment(&bare_rst, at(1)), Err(Ignored::NotSynAck));
    // A SYN/ACK for someone else's SYN is not a connection: it gets the
    // RFC's RST at its ack number and we stay in SYN-SENT.
    let mut wrong = syn_ack();
    wrong.ack = ISN;
    assert_eq!(tcp.on_segment(&wrong, at(1)), Ok(()));
    assert_eq!(tcp.state(), TcpState::SynSent);
    let out = sent(&mut tcp, at(1));
    assert_eq!(out[0].flags, Flags::RST);
    assert_eq!(out[0].seq, ISN);
    let mut plain_syn = syn_ack();
    plain_syn.flags = Flags::SYN;
    assert_eq!(tcp.on_segment(&plain_syn, at(1)), Err(Ignored::NotSynAck));
    assert_eq!(tcp.state(), TcpState::SynSent);
}

/// Found by the fault tests: a source port reused while the server still
/// held the previous check's connection (its last ACK lost, the server in
/// LAST-ACK). The server answers our SYN with that connection's ACK.
#[test]
fn old_connection_on_the_same_port_is_reset_then_syn_repeated() {
    let mut tcp = client();
    sent(&mut tcp, at(0));
    let old = Segment {
        seq: Seq(77),
        ack: Seq(0x1234_5678),
        flags: Flags::ACK,
        window: 500,
        ..Segment::default()
    };
    tcp.on_segment(&old, at(1)).unwrap();
    let out = sent(&mut tcp, at(1));
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0].flags, Flags::RST);
    assert_eq!(out[0].seq, Seq(0x1234_5678), "RST at SEG.ACK, RFC 9293");
    assert_eq!(out[1].flags, Flags::SYN, "SYN again at once");
    assert_eq!(out[1].seq, ISN);
    // The next stale ACK gets its RST, but the SYN waits for the timer.
    tcp.on_segment(&old, at(2)).unwrap();
    let out = sent(&mut tcp, at(2));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].flags, Flags::RST);
    tcp.on_segment(&syn_ack(), at(3)).unwrap();
    assert_eq!(tcp.state(), TcpState::Established);
}

#[test]
fn syn_is_retransmitted_with_exponential_backoff() {
    let mut tcp = client();
    sent(&mut tcp, at(0));
    assert_eq!(tcp.poll_at(), Some(at(200)));
    assert!(sent(&mut tcp, at(199)).is_empty());
    let again = sent(&mut tcp, at(200));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].flags, Flags::SYN);
    assert_eq!(again[0].seq, ISN);
    assert_eq!(tcp.poll_at(), Some(at(600)));
    assert_eq!(sent(&mut tcp, at(600)).len(), 1);
    assert_eq!(tcp.poll_at(), Some(at(1400)));
    assert_eq!(tcp.retransmissions(), 2);
    // Handshake time counts from the first SYN, as the operator sees it.
    tcp.on_segment(&syn_ack(), at(1401)).unwrap();
    assert_eq!(tcp.handshake_time(), Some(Duration::from_millis(1401)));
}

#[test]
fn no_syn_ack_means_nothing_but_syn_retries() {
    let mut tcp = client();
    let mut syns = 0;
    let mut now = 0;
    for _ in 0..10 {
        syns += sent(&mut tcp, at(now)).len();
        now = tcp.poll_at().unwrap().duration_since(t0()).as_millis() as u64;
    }
    assert_eq!(syns, 10);
    assert_eq!(tcp.state(), TcpState::SynSent);
    // Backoff is capped.
    assert!(tcp.poll_at().unwrap() - at(now) <= Duration::from_secs(2));
}

#[test]
fn retransmitted_syn_ack_is_answered_with_ack() {
    let mut tcp = established();
    tcp.on_segment(&syn_ack(), at(5)).unwrap();
    let segs = sent(&mut tcp, at(5));
    assert_eq!(segs.len(), 1);
    assert_eq!(segs[0].flags, Flags::ACK);
    assert_eq!(segs[0].ack, IRS + 1);
}

#[test]
fn states_print_their_rfc_names() {
    assert_eq!(TcpState::SynSent.to_string(), "SYN-SENT");
    assert_eq!(TcpState::FinWait2.to_string(), "FIN-WAIT-2");
    assert_eq!(TcpState::CloseWait.to_string(), "CLOSE-WAIT");
    assert_eq!(TcpState::TimeWait.to_string(), "TIME-WAIT");
}

#[test]
fn flags_print_like_tcpdump() {
    assert_eq!((Flags::SYN | Flags::ACK).to_string(), "[S.]");
    assert_eq!((Flags::RST | Flags::ACK).to_string(), "[R.]");
    assert_eq!((Flags::FIN | Flags::PSH | Flags::ACK).to_string(), "[FP.]");
    assert_eq!(Flags(0).to_string(), "[none]");
}

mod close;
mod data;
mod loss_signals;
mod window;
