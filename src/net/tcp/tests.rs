//! The TCP client under a deterministic clock: every case runs without a
//! network, in microseconds, with time given per step (smoltcp's style).

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
fn abort_before_syn_ack_sends_bare_rst_at_isn_plus_one() {
    let mut tcp = client();
    sent(&mut tcp, at(0));
    let rsts = tcp.abort();
    assert_eq!(rsts.len(), 1, "{rsts:?}");
    let rst = &rsts[0];
    assert_eq!(rst.flags, Flags::RST);
    assert_eq!(rst.seq, ISN + 1);
    assert_eq!(tcp.state(), TcpState::Aborted);
    assert!(sent(&mut tcp, at(500)).is_empty());
}

#[test]
fn abort_established_sends_rst_ack_at_our_position() {
    let mut tcp = established();
    let rsts = tcp.abort();
    assert_eq!(rsts.len(), 1, "{rsts:?}");
    let rst = &rsts[0];
    assert_eq!(rst.flags, Flags::RST | Flags::ACK);
    assert_eq!(rst.seq, ISN + 1);
    assert_eq!(rst.ack, IRS + 1);
    assert!(tcp.abort().is_empty(), "a second abort sends nothing");
}

#[test]
fn abort_right_after_syn_ack_skips_the_ack() {
    let mut tcp = client();
    sent(&mut tcp, at(0));
    tcp.on_segment(&syn_ack(), at(1)).unwrap();
    let rsts = tcp.abort();
    assert_eq!(rsts.len(), 1, "{rsts:?}");
    let rst = &rsts[0];
    assert_eq!(rst.flags, Flags::RST | Flags::ACK);
    assert!(sent(&mut tcp, at(1)).is_empty());
}

#[test]
fn clean_close_acks_server_isn_plus_one_and_completes() {
    let mut tcp = established();
    tcp.close();
    let fin = sent(&mut tcp, at(2));
    assert_eq!(fin.len(), 1);
    assert_eq!(fin[0].flags, Flags::FIN | Flags::ACK);
    assert_eq!(fin[0].seq, ISN + 1);
    assert_eq!(fin[0].ack, IRS + 1, "the C original acked IRS here");
    assert_eq!(tcp.state(), TcpState::FinWait1);
    // Linux acks our FIN alone, then sends its FIN when the app closes.
    tcp.on_segment(&server(0, ISN + 2, Flags::ACK, b""), at(3))
        .unwrap();
    assert_eq!(tcp.state(), TcpState::FinWait2);
    tcp.on_segment(&server(0, ISN + 2, Flags::FIN | Flags::ACK, b""), at(4))
        .unwrap();
    assert_eq!(tcp.state(), TcpState::TimeWait);
    assert!(tcp.is_finished());
    let last = sent(&mut tcp, at(4));
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].flags, Flags::ACK);
    assert_eq!(last[0].seq, ISN + 2);
    assert_eq!(last[0].ack, IRS + 2);
}

#[test]
fn clean_close_with_combined_fin_ack() {
    let mut tcp = established();
    tcp.close();
    sent(&mut tcp, at(2));
    tcp.on_segment(&server(0, ISN + 2, Flags::FIN | Flags::ACK, b""), at(3))
        .unwrap();
    assert_eq!(tcp.state(), TcpState::TimeWait);
    assert_eq!(sent(&mut tcp, at(3))[0].ack, IRS + 2);
}

#[test]
fn simultaneous_close_goes_through_closing() {
    let mut tcp = established();
    tcp.close();
    sent(&mut tcp, at(2));
    // The server's FIN crosses ours: it does not ack our FIN yet.
    tcp.on_segment(&server(0, ISN + 1, Flags::FIN | Flags::ACK, b""), at(3))
        .unwrap();
    assert_eq!(tcp.state(), TcpState::Closing);
    tcp.on_segment(&server(1, ISN + 2, Flags::ACK, b""), at(4))
        .unwrap();
    assert_eq!(tcp.state(), TcpState::TimeWait);
}

#[test]
fn fin_is_retransmitted_until_acked() {
    let mut tcp = established();
    tcp.close();
    sent(&mut tcp, at(2));
    let again = sent(&mut tcp, at(202));
    assert_eq!(again.len(), 1);
    assert!(again[0].flags.has(Flags::FIN));
    assert_eq!(again[0].seq, ISN + 1);
}

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
fn retransmitted_syn_ack_is_answered_with_ack() {
    let mut tcp = established();
    tcp.on_segment(&syn_ack(), at(5)).unwrap();
    let segs = sent(&mut tcp, at(5));
    assert_eq!(segs.len(), 1);
    assert_eq!(segs[0].flags, Flags::ACK);
    assert_eq!(segs[0].ack, IRS + 1);
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

#[test]
fn in_window_rst_resets() {
    let mut tcp = established();
    tcp.on_segment(&server(0, Seq(0), Flags::RST, b""), at(2))
        .unwrap();
    assert_eq!(tcp.state(), TcpState::Reset);
    assert!(tcp.abort().is_empty());
}

#[test]
fn segments_after_the_end_are_ignored() {
    let mut tcp = established();
    tcp.abort();
    assert_eq!(
        tcp.on_segment(&server(0, ISN + 1, Flags::ACK, b"x"), at(2)),
        Err(Ignored::Finished)
    );
}

#[test]
fn window_shrinks_with_unread_data_and_reopens() {
    let mut tcp = established();
    let chunk = vec![7u8; 1000];
    tcp.on_segment(&server(0, ISN + 1, Flags::ACK, &chunk), at(2))
        .unwrap();
    let ack = sent(&mut tcp, at(2));
    assert_eq!(ack[0].window, u16::MAX - 1000);
    tcp.take_received();
    assert_eq!(tcp.advertised_window(), u16::MAX);
}

#[test]
fn data_beyond_the_buffer_is_cut_not_stored() {
    let mut tcp = established();
    let mut off = 0u32;
    // Fill 64 KiB without reading: the window closes.
    while off < u32::from(u16::MAX) {
        let n = 1400.min(u32::from(u16::MAX) - off);
        let data = vec![1u8; n as usize];
        tcp.on_segment(&server(off, ISN + 1, Flags::ACK, &data), at(2))
            .unwrap();
        off += n;
    }
    assert_eq!(tcp.advertised_window(), 0);
    let extra = server(off, ISN + 1, Flags::ACK, b"more");
    assert_eq!(tcp.on_segment(&extra, at(2)), Err(Ignored::OutOfWindow));
    assert_eq!(tcp.take_received().len(), usize::from(u16::MAX));
}

#[test]
fn out_of_order_buffer_is_bounded() {
    let mut tcp = established();
    for i in 0..32u32 {
        tcp.on_segment(&server(10 + i * 10, ISN + 1, Flags::ACK, b"x"), at(2))
            .unwrap();
    }
    let one_more = server(1000, ISN + 1, Flags::ACK, b"x");
    assert_eq!(
        tcp.on_segment(&one_more, at(2)),
        Err(Ignored::ReassemblyFull)
    );
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

/// Found in review: with a FIN (or data) unacknowledged, one RST at
/// `snd_nxt` would only draw a challenge ACK from a server that never got
/// them (RFC 5961), and the connection would stay. RSTs at both ends.
#[test]
fn abort_with_data_in_flight_resets_at_both_possible_positions() {
    let mut tcp = established();
    tcp.close();
    sent(&mut tcp, at(2)); // FIN at ISN + 1, unacknowledged
    let rsts = tcp.abort();
    let seqs: Vec<Seq> = rsts.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![ISN + 1, ISN + 2]);
    assert!(rsts.iter().all(|r| r.flags == Flags::RST | Flags::ACK));
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

/// Found in review: a closed window with nothing in flight armed no timer,
/// so a lost window update stalled the check. Now a probe goes out.
#[test]
fn zero_window_is_probed() {
    let mut tcp = client();
    sent(&mut tcp, at(0));
    let mut sa = syn_ack();
    sa.window = 0;
    tcp.on_segment(&sa, at(1)).unwrap();
    tcp.send(b"GET / HTTP/1.1\r\n\r\n");
    let now = sent(&mut tcp, at(1));
    assert!(
        now.iter().all(|s| s.payload.is_empty()),
        "nothing sent into a zero window"
    );
    let probe_at = tcp.poll_at().expect("persist timer armed");
    let probe = sent(&mut tcp, probe_at);
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0].payload.len(), 1);
    // The window opens: the rest follows.
    tcp.on_segment(&server(0, ISN + 2, Flags::ACK, b""), probe_at)
        .unwrap();
    let mut win = server(0, ISN + 2, Flags::ACK, b"");
    win.window = 1000;
    tcp.on_segment(&win, probe_at).unwrap();
    let rest = sent(&mut tcp, probe_at);
    assert_eq!(rest.iter().map(|s| s.payload.len()).sum::<usize>(), 17);
}

/// The server's window (100) cuts the 300-byte request short and that
/// first segment is lost. The retransmission used to take a whole MSS from
/// `snd_una`, so it carried 200 bytes never sent; Linux took them and
/// acknowledged beyond `snd_nxt`, which we rejected together with the
/// response: a false CRITICAL at the deadline. A retransmission resends
/// only what was sent; the rest goes out as new data when the window opens.
#[test]
fn retransmission_after_a_send_cut_by_the_window_stops_at_snd_nxt() {
    let mut tcp = client();
    sent(&mut tcp, at(0));
    let mut sa = syn_ack();
    sa.window = 100;
    tcp.on_segment(&sa, at(1)).unwrap();
    tcp.send(&[b'x'; 300]);
    let first = sent(&mut tcp, at(1));
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].payload.len(), 100, "the window allows 100");
    // Lost. The timer resends exactly those 100 bytes.
    let again = sent(&mut tcp, at(201));
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].seq, ISN + 1);
    assert_eq!(again[0].payload.len(), 100, "never past snd_nxt");
    // The server takes them; the rest follows as new data, window by window.
    let mut ack = server(0, ISN + 101, Flags::ACK, b"");
    ack.window = 100;
    tcp.on_segment(&ack, at(202)).unwrap();
    let second = sent(&mut tcp, at(202));
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(second[0].seq, ISN + 101);
    assert_eq!(second[0].payload.len(), 100);
    let mut ack = server(0, ISN + 201, Flags::ACK, b"");
    ack.window = 100;
    tcp.on_segment(&ack, at(203)).unwrap();
    let third = sent(&mut tcp, at(203));
    assert_eq!(third.len(), 1, "{third:?}");
    assert_eq!(third[0].seq, ISN + 201);
    assert_eq!(third[0].payload.len(), 100);
    // The response acknowledges all of it and is taken.
    let resp = server(
        0,
        ISN + 301,
        Flags::PSH | Flags::ACK,
        b"HTTP/1.1 200 OK\r\n",
    );
    assert_eq!(tcp.on_segment(&resp, at(204)), Ok(()));
    assert!(tcp.all_sent_acked());
    assert_eq!(tcp.take_received(), b"HTTP/1.1 200 OK\r\n");
}

/// The same bug through the persist timer: the one-byte zero-window probe,
/// when the window stays closed, was retransmitted as a whole MSS of the
/// request. It stays one byte until the window opens.
#[test]
fn zero_window_probe_is_retransmitted_as_one_byte() {
    let mut tcp = client();
    sent(&mut tcp, at(0));
    let mut sa = syn_ack();
    sa.window = 0;
    tcp.on_segment(&sa, at(1)).unwrap();
    tcp.send(b"GET / HTTP/1.1\r\n\r\n");
    sent(&mut tcp, at(1));
    let probe_at = tcp.poll_at().expect("persist timer armed");
    let probe = sent(&mut tcp, probe_at);
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0].payload, b"G");
    // Linux answers with the window still closed, the byte not taken.
    let mut closed = server(0, ISN + 1, Flags::ACK, b"");
    closed.window = 0;
    tcp.on_segment(&closed, probe_at).unwrap();
    let again_at = tcp.poll_at().expect("probe timer armed");
    let again = sent(&mut tcp, again_at);
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].seq, ISN + 1);
    assert_eq!(again[0].payload, b"G", "the probe, not the request");
    // The window opens and acknowledges the probe byte: the rest is new data.
    let mut open = server(0, ISN + 2, Flags::ACK, b"");
    open.window = 1000;
    tcp.on_segment(&open, again_at).unwrap();
    let rest = sent(&mut tcp, again_at);
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert_eq!(rest[0].seq, ISN + 2);
    assert_eq!(rest[0].payload, b"ET / HTTP/1.1\r\n\r\n");
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

/// RFC 9293 3.10.7.4 (SND.WL2): the server acks our two segments one by
/// one, first with room for 50 more bytes, then with its window closed.
/// The network swaps the two ACKs: the older one, arriving last, must not
/// reopen the window the server has closed since.
#[test]
fn stale_ack_cannot_reopen_a_closed_window() {
    let mut tcp = client();
    sent(&mut tcp, at(0));
    let mut sa = syn_ack();
    sa.window = 100;
    sa.mss = Some(50);
    tcp.on_segment(&sa, at(1)).unwrap();
    tcp.send(&[b'x'; 300]);
    assert_eq!(sent(&mut tcp, at(1)).len(), 2, "two segments of 50");
    let mut older = server(0, ISN + 51, Flags::ACK, b"");
    older.window = 50;
    let mut newer = server(0, ISN + 101, Flags::ACK, b"");
    newer.window = 0;
    tcp.on_segment(&newer, at(2)).unwrap();
    assert!(sent(&mut tcp, at(2)).iter().all(|s| s.payload.is_empty()));
    // The old ACK is acceptable (its data, had it any, would count) ...
    assert_eq!(tcp.on_segment(&older, at(2)), Ok(()));
    // ... but its window is history.
    let out = sent(&mut tcp, at(2));
    assert!(
        out.iter().all(|s| s.payload.is_empty()),
        "sent into a closed window: {out:?}"
    );
    assert_eq!(tcp.peer_window, 0);
}

/// RFC 9293 3.10.7.4 (SND.WL1): two server segments with the same ACK, the
/// second after its application read (window 0, then 200). Reordered, the
/// older one, with the lower sequence number, must not shrink the window.
#[test]
fn reordered_server_segments_cannot_shrink_the_window() {
    let mut tcp = client();
    sent(&mut tcp, at(0));
    let mut sa = syn_ack();
    sa.window = 100;
    tcp.on_segment(&sa, at(1)).unwrap();
    tcp.send(&[b'x'; 400]);
    assert_eq!(sent(&mut tcp, at(1))[0].payload.len(), 100);
    let mut older = server(0, ISN + 101, Flags::ACK, b"HTTP/1.1 ");
    older.window = 0;
    let mut newer = server(9, ISN + 101, Flags::ACK, b"200 OK\r\n");
    newer.window = 200;
    tcp.on_segment(&newer, at(2)).unwrap();
    let more = sent(&mut tcp, at(2));
    let bytes: usize = more.iter().map(|s| s.payload.len()).sum();
    assert_eq!(bytes, 200, "the newer window is used: {more:?}");
    tcp.on_segment(&older, at(2)).unwrap();
    assert_eq!(
        tcp.take_received(),
        b"HTTP/1.1 200 OK\r\n",
        "its data counts"
    );
    assert_eq!(tcp.peer_window, 200, "its window does not");
}
