//! Flow control: our receive window as data waits unread, its bounds,
//! the server's zero window and its probes, and a send window that old or
//! reordered segments cannot change.

use super::*;

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
    let most = TcpParams::new(ISN, MSS).max_out_of_order as u32;
    for i in 0..most {
        tcp.on_segment(&server(10 + i * 10, ISN + 1, Flags::ACK, b"x"), at(2))
            .unwrap();
    }
    let one_more = server(10 + most * 10, ISN + 1, Flags::ACK, b"x");
    assert_eq!(
        tcp.on_segment(&one_more, at(2)),
        Err(Ignored::ReassemblyFull)
    );
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
