//! Ending a connection: clean close in every order, FIN retransmission,
//! aborts and their RSTs, a reset by the server, and what comes after.

use super::*;

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
