//! The exchange without a socket: frames in, frames out, time passed in.

use std::time::{Duration, Instant};

use super::*;
use crate::net::tcp::Flags;
use crate::net::wire::icmp_error_frame;
use crate::net::wire::testing::{
    data_frame_from_server, flow, frame_from_server, link, quoted_syn, rs_link, ROUTER,
};

const ISN: Seq = Seq(1000);
const SERVER_ISN: Seq = Seq(5000);

fn handshake(now: Instant, timeout: Duration) -> Exchange {
    with_request(now, timeout, b"")
}

fn with_request(now: Instant, timeout: Duration, request: &[u8]) -> Exchange {
    Exchange::new(
        (link(), flow()),
        TcpParams::new(ISN, 1460),
        (1, now + timeout),
        request.to_vec(),
    )
}

/// A segment of the server's with `payload`, at `seq`, acking `ack`.
fn data_from_server(seq: Seq, ack: Seq, flags: Flags, payload: &[u8]) -> Parsed {
    wire::parse(&data_frame_from_server(seq, ack, flags, payload), false).unwrap()
}

fn from_server(seq: Seq, ack: Seq, flags: Flags) -> Parsed {
    wire::parse(&frame_from_server(seq, ack, flags), false).unwrap()
}

fn sent(hs: &mut Exchange, now: Instant) -> Vec<Segment> {
    let mut frames = Vec::new();
    hs.transmit(now, |f| frames.push(f.to_vec()));
    frames
        .iter()
        .map(|f| match wire::parse(f, false) {
            Ok(Parsed::Tcp(t)) => {
                assert_eq!(t.flow, flow());
                assert_eq!(t.link, link());
                t.segment
            }
            other => panic!("not a TCP frame of ours: {other:?}"),
        })
        .collect()
}

#[test]
fn a_syn_ack_is_answered_with_rst_alone() {
    let t0 = Instant::now();
    let mut hs = handshake(t0, Duration::from_millis(500));
    let syn = sent(&mut hs, t0);
    assert_eq!(syn.len(), 1);
    assert_eq!((syn[0].flags, syn[0].seq), (Flags::SYN, ISN));
    let t1 = t0 + Duration::from_micros(300);
    let syn_ack = from_server(SERVER_ISN, ISN + 1, Flags::SYN | Flags::ACK);
    assert!(hs.receive(&syn_ack, t1));
    assert!(hs.heard());
    assert!(matches!(hs.end(), Some(Ok(rtt)) if *rtt == Duration::from_micros(300)));
    let rst = sent(&mut hs, t1);
    // No ACK: the server's application never sees the connection.
    assert_eq!(rst.len(), 1, "{rst:?}");
    assert!(rst[0].flags.has(Flags::RST));
    assert_eq!(rst[0].seq, ISN + 1);
    assert!(sent(&mut hs, t1).is_empty(), "the RST goes once");
    assert_eq!(hs.poll_at(), None);
}

#[test]
fn a_rst_is_a_refusal_and_needs_no_answer() {
    let t0 = Instant::now();
    let mut hs = handshake(t0, Duration::from_millis(500));
    sent(&mut hs, t0);
    let rst = from_server(Seq(0), ISN + 1, Flags::RST | Flags::ACK);
    assert!(hs.receive(&rst, t0));
    assert!(matches!(hs.end(), Some(Err(Failure::Refused))));
    assert!(sent(&mut hs, t0).is_empty());
}

#[test]
fn the_syn_is_retransmitted_then_the_deadline_resets() {
    let t0 = Instant::now();
    let mut hs = handshake(t0, Duration::from_millis(500));
    sent(&mut hs, t0);
    let rto = hs.poll_at().unwrap();
    assert_eq!(rto, t0 + Duration::from_millis(200));
    assert!(sent(&mut hs, rto - Duration::from_millis(1)).is_empty());
    let again = sent(&mut hs, rto);
    assert_eq!((again.len(), again[0].flags), (1, Flags::SYN));
    assert_eq!(hs.retransmissions(), 1);
    // The next timer is the deadline, before the doubled RTO.
    let deadline = hs.poll_at().unwrap();
    assert_eq!(deadline, t0 + Duration::from_millis(500));
    let rst = sent(&mut hs, deadline);
    assert!(matches!(
        hs.end(),
        Some(Err(Failure::Timeout(Step::SynAck)))
    ));
    assert!(!hs.heard());
    // The server may have answered a SYN we gave up on: its SYN-RECV
    // entry is cleared.
    assert_eq!(
        (rst.len(), rst[0].flags, rst[0].seq),
        (1, Flags::RST, ISN + 1)
    );
}

#[test]
fn other_flows_and_icmp_errors_about_other_packets_are_not_ours() {
    let t0 = Instant::now();
    let mut hs = handshake(t0, Duration::from_millis(500));
    sent(&mut hs, t0);
    let mut other = flow().reversed();
    other.dst_port += 1;
    let seg = Segment {
        seq: SERVER_ISN,
        ack: ISN + 1,
        flags: Flags::SYN | Flags::ACK,
        window: 65535,
        ..Segment::default()
    };
    let stray = wire::parse(&wire::tcp_frame(rs_link(), other, 7, &seg), false).unwrap();
    assert!(!hs.receive(&stray, t0));
    // An ICMP error quoting a SYN with another sequence number: a guess.
    let guessed = icmp(IcmpErrorKind::AdminProhibited, ISN + 7);
    assert!(!hs.receive(&guessed, t0));
    assert!(hs.end().is_none() && !hs.heard());
}

#[test]
fn an_icmp_error_about_the_syn_ends_it_but_packet_too_big_does_not() {
    let t0 = Instant::now();
    let mut hs = handshake(t0, Duration::from_millis(500));
    sent(&mut hs, t0);
    assert!(hs.receive(&icmp(IcmpErrorKind::MtuExceeded { mtu: 1280 }, ISN), t0));
    assert!(hs.end().is_none());
    assert!(hs.receive(&icmp(IcmpErrorKind::PortUnreachable, ISN), t0));
    assert!(matches!(
        hs.end(),
        Some(Err(Failure::Icmp {
            kind: IcmpErrorKind::PortUnreachable,
            ..
        }))
    ));
    let rst = sent(&mut hs, t0);
    assert_eq!(rst.len(), 1);
}

#[test]
fn giving_up_resets_once() {
    let t0 = Instant::now();
    let mut hs = handshake(t0, Duration::from_millis(500));
    sent(&mut hs, t0);
    hs.give_up(Failure::Local("stopping".into()));
    assert_eq!(sent(&mut hs, t0).len(), 1);
    assert!(sent(&mut hs, t0).is_empty());
    assert!(matches!(hs.end(), Some(Err(Failure::Local(_)))));
}

/// An ICMP error from a router, quoting our SYN with sequence `seq`.
fn icmp(kind: IcmpErrorKind, seq: Seq) -> Parsed {
    let frame = icmp_error_frame(
        rs_link(),
        ROUTER.into(),
        flow().src_ip,
        kind,
        &quoted_syn(seq),
    );
    wire::parse(&frame, false).unwrap()
}

#[test]
fn isns_differ_per_flow_and_per_run() {
    let mut isns = IsnSource::default();
    let (a, _) = isns.next(&flow());
    let (b, _) = isns.next(&flow());
    let mut other = flow();
    other.src_port += 1;
    let (c, _) = isns.next(&other);
    assert!(a != b && b != c && a != c, "{a:?} {b:?} {c:?}");
    // Another source (another process) gives other numbers.
    let (d, _) = IsnSource::default().next(&flow());
    assert_ne!(a, d);
}

const REQUEST: &[u8] = b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n";

/// An exchange with a request, connected at `t0 + 300 us`: the SYN/ACK
/// answered with the request (its ACK on it).
fn connected_with_request(t0: Instant) -> Exchange {
    let mut ex = with_request(t0, Duration::from_millis(500), REQUEST);
    sent(&mut ex, t0);
    let t1 = t0 + Duration::from_micros(300);
    let syn_ack = from_server(SERVER_ISN, ISN + 1, Flags::SYN | Flags::ACK);
    assert!(ex.receive(&syn_ack, t1));
    assert!(ex.end().is_none(), "a request to send: not over at connect");
    let out = sent(&mut ex, t1);
    let data: Vec<u8> = out.iter().flat_map(|s| s.payload.clone()).collect();
    assert_eq!(data, REQUEST);
    assert!(out
        .iter()
        .all(|s| s.flags.has(Flags::ACK) && s.ack == SERVER_ISN + 1));
    assert!(out.iter().all(|s| !s.flags.has(Flags::RST)));
    ex
}

#[test]
fn a_request_goes_out_once_connected_and_the_answer_comes_back() {
    let t0 = Instant::now();
    let mut ex = connected_with_request(t0);
    let req_end = ISN + 1 + REQUEST.len() as u32;
    let answer = data_from_server(
        SERVER_ISN + 1,
        req_end,
        Flags::ACK | Flags::PSH,
        b"HTTP/1.1 2",
    );
    assert!(ex.receive(&answer, t0));
    assert_eq!(ex.take_received(), b"HTTP/1.1 2");
    let more = data_from_server(SERVER_ISN + 11, req_end, Flags::ACK | Flags::FIN, b"00");
    assert!(ex.receive(&more, t0));
    assert_eq!(ex.take_received(), b"00");
    assert!(ex.peer_closed());
    assert!(
        ex.end().is_none(),
        "the caller decides when the answer is whole"
    );
    ex.complete(Ok(()));
    assert!(matches!(ex.end(), Some(Ok(rtt)) if *rtt == Duration::from_micros(300)));
    // Data was exchanged: the RST at the sequence number the server
    // expects (and ACKing what it sent), nothing more after it.
    let rst = sent(&mut ex, t0);
    assert!(!rst.is_empty() && rst.iter().all(|s| s.flags.has(Flags::RST)));
    assert!(rst.iter().any(|s| s.seq == req_end));
    assert!(sent(&mut ex, t0).is_empty());
    assert_eq!(ex.poll_at(), None);
}

#[test]
fn after_connect_a_reset_or_the_deadline_names_what_was_awaited() {
    let t0 = Instant::now();
    let mut ex = connected_with_request(t0);
    ex.awaiting(Step::ResponseEnd);
    let req_end = ISN + 1 + REQUEST.len() as u32;
    let rst = data_from_server(SERVER_ISN + 1, req_end, Flags::RST | Flags::ACK, b"");
    assert!(ex.receive(&rst, t0));
    assert!(matches!(
        ex.end(),
        Some(Err(Failure::Reset(Step::ResponseEnd)))
    ));

    let mut ex = connected_with_request(t0);
    let deadline = t0 + Duration::from_millis(500);
    let rst = sent(&mut ex, deadline);
    assert!(matches!(
        ex.end(),
        Some(Err(Failure::Timeout(Step::ResponseStart)))
    ));
    assert!(rst.iter().all(|s| s.flags.has(Flags::RST)) && !rst.is_empty());
}

#[test]
fn a_refusal_or_the_callers_failure_end_an_exchange_with_a_request() {
    let t0 = Instant::now();
    let mut ex = with_request(t0, Duration::from_millis(500), REQUEST);
    sent(&mut ex, t0);
    let rst = from_server(Seq(0), ISN + 1, Flags::RST | Flags::ACK);
    assert!(ex.receive(&rst, t0));
    assert!(matches!(ex.end(), Some(Err(Failure::Refused))));

    let mut ex = connected_with_request(t0);
    ex.complete(Err(Failure::Invalid("not HTTP".into())));
    assert!(matches!(ex.end(), Some(Err(Failure::Invalid(_)))));
    ex.complete(Ok(()));
    assert!(
        matches!(ex.end(), Some(Err(Failure::Invalid(_)))),
        "the first verdict stands"
    );
}

#[test]
fn an_answer_that_arrived_after_the_deadline_is_too_late() {
    let t0 = Instant::now();
    let mut hs = handshake(t0, Duration::from_millis(500));
    sent(&mut hs, t0);
    let syn_ack = from_server(SERVER_ISN, ISN + 1, Flags::SYN | Flags::ACK);
    let late = t0 + Duration::from_millis(500);
    assert!(!hs.receive(&syn_ack, late));
    assert!(matches!(
        hs.end(),
        Some(Err(Failure::Timeout(Step::SynAck)))
    ));
    let rst = sent(&mut hs, late);
    assert_eq!((rst.len(), rst[0].flags), (1, Flags::RST));
}
