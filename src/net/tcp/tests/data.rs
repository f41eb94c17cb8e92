//! Request and response: piggybacked and separate ACKs, segmentation at
//! the peer's MSS, reordering, duplicates, segments outside our window,
//! and the retransmission of lost data.

use super::*;

#[test]
fn request_response_with_piggybacked_ack_then_server_fin() {
    let mut tcp = established();
    assert_eq!(tcp.send(b"GET / HTTP/1.1\r\n\r\n"), 18);
    let req = sent(&mut tcp, at(2));
    assert_eq!(req.len(), 1);
    assert_eq!(req[0].flags, Flags::PSH | Flags::ACK);
    assert_eq!(req[0].payload, b"GET / HTTP/1.1\r\n\r\n");
    // The response acknowledges the request itself (no separate ACK).
    let resp = server(0, ISN + 19, Flags::PSH | Flags::ACK, b"HTTP/1.1 200 OK\r\n");
    tcp.on_segment(&resp, at(3)).unwrap();
    assert!(tcp.all_sent_acked());
    assert_eq!(tcp.take_received(), b"HTTP/1.1 200 OK\r\n");
    let fin = server(17, ISN + 19, Flags::FIN | Flags::ACK, b"");
    tcp.on_segment(&fin, at(3)).unwrap();
    assert!(tcp.peer_closed());
    assert_eq!(tcp.state(), TcpState::CloseWait);
    let acks = sent(&mut tcp, at(3));
    assert_eq!(acks.last().unwrap().ack, IRS + 1 + 17 + 1);
    // Our clean close from CLOSE-WAIT goes through LAST-ACK.
    tcp.close();
    let fin = sent(&mut tcp, at(4));
    assert!(fin[0].flags.has(Flags::FIN));
    assert_eq!(tcp.state(), TcpState::LastAck);
    tcp.on_segment(&server(18, ISN + 20, Flags::ACK, b""), at(5))
        .unwrap();
    assert_eq!(tcp.state(), TcpState::TimeWait);
}

#[test]
fn separate_ack_then_response_also_works() {
    let mut tcp = established();
    tcp.send(b"abc");
    sent(&mut tcp, at(2));
    tcp.on_segment(&server(0, ISN + 4, Flags::ACK, b""), at(3))
        .unwrap();
    assert!(tcp.all_sent_acked());
    assert_eq!(tcp.poll_at(), None, "nothing in flight, no timer");
    tcp.on_segment(&server(0, ISN + 4, Flags::PSH | Flags::ACK, b"xyz"), at(4))
        .unwrap();
    assert_eq!(tcp.take_received(), b"xyz");
}

#[test]
fn request_is_split_at_the_peer_mss() {
    let mut tcp = client();
    sent(&mut tcp, at(0));
    let mut sa = syn_ack();
    sa.mss = Some(100);
    tcp.on_segment(&sa, at(1)).unwrap();
    tcp.send(&[b'x'; 250]);
    let segs = sent(&mut tcp, at(1));
    let sizes: Vec<usize> = segs.iter().map(|s| s.payload.len()).collect();
    assert_eq!(sizes, vec![100, 100, 50]);
    assert_eq!(segs[1].seq, ISN + 101);
}

#[test]
fn out_of_order_segments_are_reassembled() {
    let mut tcp = established();
    let ack = ISN + 1;
    tcp.on_segment(&server(5, ack, Flags::ACK, b"world"), at(2))
        .unwrap();
    assert!(tcp.take_received().is_empty());
    // A duplicate ACK for the hole goes out at once.
    let dup = sent(&mut tcp, at(2));
    assert_eq!(dup[0].ack, IRS + 1);
    tcp.on_segment(&server(10, ack, Flags::ACK, b"!"), at(2))
        .unwrap();
    tcp.on_segment(&server(0, ack, Flags::ACK, b"hello"), at(3))
        .unwrap();
    assert_eq!(tcp.take_received(), b"helloworld!");
    assert_eq!(sent(&mut tcp, at(3)).last().unwrap().ack, IRS + 12);
}

#[test]
fn duplicates_and_overlaps_are_delivered_once() {
    let mut tcp = established();
    let ack = ISN + 1;
    tcp.on_segment(&server(0, ack, Flags::ACK, b"abcd"), at(2))
        .unwrap();
    tcp.on_segment(&server(0, ack, Flags::ACK, b"abcd"), at(2))
        .unwrap();
    tcp.on_segment(&server(2, ack, Flags::ACK, b"cdef"), at(2))
        .unwrap();
    assert_eq!(tcp.take_received(), b"abcdef");
}

#[test]
fn fin_ahead_of_missing_data_waits_for_it() {
    let mut tcp = established();
    let ack = ISN + 1;
    tcp.on_segment(&server(3, ack, Flags::FIN | Flags::ACK, b"def"), at(2))
        .unwrap();
    assert!(!tcp.peer_closed());
    tcp.on_segment(&server(0, ack, Flags::ACK, b"abc"), at(3))
        .unwrap();
    assert!(tcp.peer_closed());
    assert_eq!(tcp.take_received(), b"abcdef");
}

#[test]
fn old_data_resent_is_acked_again() {
    let mut tcp = established();
    tcp.on_segment(&server(0, ISN + 1, Flags::ACK, b"abc"), at(2))
        .unwrap();
    sent(&mut tcp, at(2));
    tcp.on_segment(&server(0, ISN + 1, Flags::ACK, b"abc"), at(3))
        .unwrap();
    let again = sent(&mut tcp, at(3));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].ack, IRS + 4);
    assert_eq!(tcp.take_received(), b"abc");
}

#[test]
fn out_of_window_and_foreign_segments_are_ignored() {
    let mut tcp = established();
    // Far beyond the window.
    let far = server(200_000, ISN + 1, Flags::ACK, b"zz");
    assert_eq!(tcp.on_segment(&far, at(2)), Err(Ignored::OutOfWindow));
    // Acknowledges bytes we never sent.
    let future_ack = server(0, ISN + 500, Flags::ACK, b"zz");
    assert_eq!(
        tcp.on_segment(&future_ack, at(2)),
        Err(Ignored::AckOutOfRange)
    );
    // Spoofed RST outside the window.
    let rst = server(100_000, Seq(0), Flags::RST, b"");
    assert_eq!(tcp.on_segment(&rst, at(2)), Err(Ignored::RstOutOfWindow));
    let old_rst = Segment {
        seq: IRS,
        flags: Flags::RST,
        ..Segment::default()
    };
    assert_eq!(
        tcp.on_segment(&old_rst, at(2)),
        Err(Ignored::RstOutOfWindow)
    );
    // No ACK flag.
    let no_ack = server(0, ISN + 1, Flags::PSH, b"zz");
    assert_eq!(tcp.on_segment(&no_ack, at(2)), Err(Ignored::NoAck));
    // A different SYN.
    let mut other_syn = syn_ack();
    other_syn.seq = IRS + 9;
    assert_eq!(
        tcp.on_segment(&other_syn, at(2)),
        Err(Ignored::UnexpectedSyn)
    );
    assert_eq!(tcp.state(), TcpState::Established);
    assert!(tcp.take_received().is_empty());
}

/// Through the old cyclic `PartialOrd`, an ACK exactly 2^31 from ours
/// (nothing in flight) was neither beyond `snd_nxt` nor too old: it passed
/// validation, and its window and data were taken. It is outside what we
/// sent, whether or not data is in flight.
#[test]
fn ack_half_the_sequence_space_away_is_out_of_range() {
    let mut tcp = established();
    let far = server(0, ISN + 1 + (1 << 31), Flags::ACK, b"spoofed");
    assert_eq!(tcp.on_segment(&far, at(2)), Err(Ignored::AckOutOfRange));
    assert!(tcp.take_received().is_empty());
    tcp.send(b"abc");
    sent(&mut tcp, at(2));
    for ack in [ISN + 1 + (1 << 31), ISN + 4 + (1 << 31)] {
        let far = server(0, ack, Flags::ACK, b"spoofed");
        assert_eq!(tcp.on_segment(&far, at(3)), Err(Ignored::AckOutOfRange));
    }
    assert!(tcp.take_received().is_empty());
    // The edges of the acceptable range still hold.
    let newest = server(0, ISN + 4, Flags::ACK, b"");
    assert_eq!(tcp.on_segment(&newest, at(3)), Ok(()));
    let oldest = server(0, ISN + 4 - u32::from(u16::MAX), Flags::ACK, b"");
    assert_eq!(tcp.on_segment(&oldest, at(3)), Ok(()));
    let too_old = server(0, ISN + 3 - u32::from(u16::MAX), Flags::ACK, b"");
    assert_eq!(tcp.on_segment(&too_old, at(3)), Err(Ignored::AckOutOfRange));
}

#[test]
fn lost_request_is_retransmitted() {
    let mut tcp = established();
    tcp.send(b"request");
    sent(&mut tcp, at(2));
    let again = sent(&mut tcp, at(202));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].payload, b"request");
    assert_eq!(again[0].seq, ISN + 1);
    let third = sent(&mut tcp, at(602));
    assert_eq!(third.len(), 1, "backoff doubled to 400 ms");
}

/// Found in review: several lost segments each waited a whole timeout.
/// After a retransmission, a partial ACK resends the next segment at once.
#[test]
fn partial_ack_after_a_timeout_resends_the_next_segment_at_once() {
    let mut tcp = client();
    sent(&mut tcp, at(0));
    let mut sa = syn_ack();
    sa.mss = Some(100);
    tcp.on_segment(&sa, at(1)).unwrap();
    tcp.send(&[b'x'; 300]);
    assert_eq!(sent(&mut tcp, at(1)).len(), 3); // all three lost
    let first = sent(&mut tcp, at(201));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].seq, ISN + 1);
    // The server acks the first 100 bytes only.
    tcp.on_segment(&server(0, ISN + 101, Flags::ACK, b""), at(202))
        .unwrap();
    let next = sent(&mut tcp, at(202));
    assert_eq!(next.len(), 1, "the next hole goes out without waiting");
    assert_eq!(next[0].seq, ISN + 101);
}
