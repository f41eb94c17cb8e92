//! What the client tells a server that lost a segment on its way: a
//! duplicate ACK per out-of-order segment (RFC 5681 4.2) and, when both
//! sides offered it, SACK blocks naming the data held (RFC 2018).

use super::*;

/// The SYN/ACK of a server that offers SACK, as Linux's does.
fn sack_syn_ack() -> Segment {
    Segment {
        sack_permitted: true,
        ..syn_ack()
    }
}

fn established_with(syn_ack: &Segment, params: TcpParams) -> Tcp {
    let mut tcp = Tcp::new(params);
    tcp.connect();
    let syn = sent(&mut tcp, at(0));
    assert_eq!(syn.len(), 1);
    tcp.on_segment(syn_ack, at(1)).unwrap();
    assert_eq!(sent(&mut tcp, at(1)).len(), 1);
    tcp
}

fn data(offset: u32, len: usize) -> Segment {
    server(offset, ISN + 1, Flags::ACK, &vec![b'd'; len])
}

fn blocks(seg: &Segment) -> Vec<(u32, u32)> {
    let base = IRS + 1;
    let offsets = seg.sack.as_slice().iter();
    offsets
        .map(|(l, r)| (l.offset_from(base), r.offset_from(base)))
        .collect()
}

/// Found when a TLS test failed 1 run in 40 through 10% loss: a whole
/// flight read in one wake-up drew one ACK, so the server never saw its
/// three duplicates and waited out backed-off timeouts instead.
#[test]
fn each_out_of_order_segment_owes_a_duplicate_ack() {
    let mut tcp = established();
    let mss = usize::from(MSS);
    // The first segment is lost; the next three arrive together.
    for n in 1..=3u32 {
        tcp.on_segment(&data(n * u32::from(MSS), mss), at(2))
            .unwrap();
    }
    let acks = sent(&mut tcp, at(2));
    assert_eq!(acks.len(), 3, "{acks:?}");
    for ack in &acks {
        assert_eq!(
            (ack.flags, ack.ack, ack.payload.len()),
            (Flags::ACK, IRS + 1, 0)
        );
        assert!(ack.sack.is_empty(), "the server offered no SACK");
    }
    // The resent hole moves the edge: one ACK says so, no more.
    tcp.on_segment(&data(0, mss), at(3)).unwrap();
    let after = sent(&mut tcp, at(3));
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].ack, IRS + 1 + 4 * u32::from(MSS));
    assert_eq!(tcp.take_received().len(), 4 * mss);
}

#[test]
fn duplicate_acks_owed_are_dropped_when_the_hole_fills_first() {
    let mut tcp = established();
    tcp.on_segment(&data(100, 100), at(2)).unwrap();
    tcp.on_segment(&data(200, 100), at(2)).unwrap();
    tcp.on_segment(&data(0, 100), at(2)).unwrap();
    let acks = sent(&mut tcp, at(2));
    assert_eq!(acks.len(), 1, "only the new edge: {acks:?}");
    assert_eq!(acks[0].ack, IRS + 301);
}

#[test]
fn sack_is_offered_and_used_only_when_both_sides_agree() {
    let mut tcp = client();
    assert!(sent(&mut tcp, at(0))[0].sack_permitted);

    let mut plain = TcpParams::new(ISN, MSS);
    plain.sack = false;
    let mut tcp = Tcp::new(plain.clone());
    tcp.connect();
    assert!(!sent(&mut tcp, at(0))[0].sack_permitted);

    // We did not offer it: a server's offer changes nothing.
    let mut tcp = established_with(&sack_syn_ack(), plain);
    tcp.on_segment(&data(100, 100), at(2)).unwrap();
    assert!(sent(&mut tcp, at(2))[0].sack.is_empty());
}

#[test]
fn sack_blocks_name_the_held_runs_newest_first() {
    let mut tcp = established_with(&sack_syn_ack(), TcpParams::new(ISN, MSS));
    tcp.on_segment(&data(2000, 100), at(2)).unwrap();
    assert_eq!(blocks(&sent(&mut tcp, at(2))[0]), [(2000, 2100)]);
    tcp.on_segment(&data(3000, 100), at(3)).unwrap();
    assert_eq!(
        blocks(&sent(&mut tcp, at(3))[0]),
        [(3000, 3100), (2000, 2100)]
    );
    // Adjacent and overlapping segments make one run.
    tcp.on_segment(&data(2100, 100), at(4)).unwrap();
    tcp.on_segment(&data(2150, 100), at(4)).unwrap();
    let acks = sent(&mut tcp, at(4));
    assert_eq!(acks.len(), 2, "one duplicate ACK per segment");
    assert_eq!(blocks(&acks[1]), [(2000, 2250), (3000, 3100)]);
    // Five runs: the newest and the three lowest fit.
    for offset in [4000, 5000, 6000] {
        tcp.on_segment(&data(offset, 10), at(5)).unwrap();
    }
    let newest = sent(&mut tcp, at(5)).pop().unwrap();
    assert_eq!(
        blocks(&newest),
        [(6000, 6010), (2000, 2250), (3000, 3100), (4000, 4010)]
    );
    // The hole fills up to the second run: the ACK names what is left,
    // the newest arrival's run still first.
    tcp.on_segment(&data(0, 2000), at(6)).unwrap();
    let ack = sent(&mut tcp, at(6));
    assert_eq!(ack.len(), 1);
    assert_eq!(ack[0].ack, IRS + 1 + 2250);
    assert_eq!(
        blocks(&ack[0]),
        [(6000, 6010), (3000, 3100), (4000, 4010), (5000, 5010)]
    );
    tcp.on_segment(&data(2250, 6000 - 2250), at(7)).unwrap();
    let last = sent(&mut tcp, at(7));
    assert_eq!(last[0].ack, IRS + 1 + 6010);
    assert!(last[0].sack.is_empty(), "nothing held any more");
}

/// Found by the daemon's loss test: the response's only data segment was
/// lost and its FIN arrived alone. Unacknowledged, it left the server to
/// back off its timer until the run's deadline; a duplicate ACK with the
/// FIN in a SACK block lets it resend at once (Linux's RACK).
#[test]
fn a_fin_beyond_a_hole_is_acked_at_once_and_sacked() {
    let mut tcp = established_with(&sack_syn_ack(), TcpParams::new(ISN, MSS));
    let fin = server(86, ISN + 1, Flags::FIN | Flags::ACK, b"");
    tcp.on_segment(&fin, at(2)).unwrap();
    assert!(!tcp.peer_closed(), "the data before the FIN is missing");
    let dup = sent(&mut tcp, at(2));
    assert_eq!(dup.len(), 1, "{dup:?}");
    assert_eq!(dup[0].ack, IRS + 1);
    assert_eq!(blocks(&dup[0]), [(86, 87)]);
    // The data comes again, with the FIN: all is in, nothing held.
    tcp.on_segment(&data(0, 86), at(3)).unwrap();
    assert!(tcp.peer_closed());
    let ack = sent(&mut tcp, at(3));
    assert_eq!(ack.len(), 1);
    assert_eq!(ack[0].ack, IRS + 1 + 87, "the data and the FIN");
    assert!(ack[0].sack.is_empty());
}

#[test]
fn a_fin_right_after_held_data_extends_its_block() {
    let mut tcp = established_with(&sack_syn_ack(), TcpParams::new(ISN, MSS));
    tcp.on_segment(&data(100, 50), at(2)).unwrap();
    let fin = server(150, ISN + 1, Flags::FIN | Flags::ACK, b"");
    tcp.on_segment(&fin, at(2)).unwrap();
    let acks = sent(&mut tcp, at(2));
    assert_eq!(acks.len(), 2, "one duplicate each: {acks:?}");
    assert_eq!(blocks(&acks[1]), [(100, 151)]);
}

/// A request of three segments whose first is lost: the server's SACK of
/// the others resends it at once, and only once; with no SACK agreed, the
/// timer does it.
#[test]
fn a_hole_in_the_request_shown_by_sack_is_resent_at_once() {
    for offered in [true, false] {
        let mut sa = if offered { sack_syn_ack() } else { syn_ack() };
        sa.mss = Some(100);
        let mut tcp = established_with(&sa, TcpParams::new(ISN, MSS));
        tcp.send(&[b'r'; 300]);
        assert_eq!(sent(&mut tcp, at(2)).len(), 3);
        let mut dup = server(0, ISN + 1, Flags::ACK, b"");
        dup.sack.push(ISN + 101, ISN + 301);
        tcp.on_segment(&dup, at(3)).unwrap();
        let resent = sent(&mut tcp, at(3));
        if !offered {
            assert!(resent.is_empty(), "{resent:?}");
            assert_eq!(sent(&mut tcp, at(202))[0].seq, ISN + 1, "the timer's");
            continue;
        }
        assert_eq!(resent.len(), 1, "{resent:?}");
        assert_eq!((resent[0].seq, resent[0].payload.len()), (ISN + 1, 100));
        tcp.on_segment(&dup, at(4)).unwrap();
        assert!(sent(&mut tcp, at(4)).is_empty(), "once per hole");
        // A block that is not beyond the hole, or ours no more, says nothing.
        let mut odd = server(0, ISN + 1, Flags::ACK, b"");
        odd.sack.push(ISN + 1, ISN + 50);
        odd.sack.push(ISN + 301, ISN + 400);
        tcp.on_segment(&odd, at(5)).unwrap();
        assert!(sent(&mut tcp, at(5)).is_empty());
        tcp.on_segment(&server(0, ISN + 301, Flags::ACK, b""), at(6))
            .unwrap();
        assert!(tcp.all_sent_acked());
    }
}
