//! Build/parse round trips and malformed frames of every kind.

use super::*;
use std::net::Ipv6Addr;

const LB_MAC: MacAddr = MacAddr(0x02, 0, 0, 0, 0, 0x01);
const RS_MAC: MacAddr = MacAddr(0x02, 0, 0, 0, 0, 0x11);
const LB_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const RS_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 11);
const VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);

fn flow() -> Flow {
    Flow {
        src_ip: LB_IP.into(),
        dst_ip: VIP.into(),
        src_port: 40000,
        dst_port: 80,
    }
}

fn link() -> Link {
    Link {
        src: LB_MAC,
        dst: RS_MAC,
    }
}

fn syn() -> Segment {
    Segment {
        seq: Seq(0xdead_beef),
        ack: Seq(0),
        flags: Flags::SYN,
        window: 65535,
        mss: Some(1460),
        payload: vec![],
    }
}

fn data_segment() -> Segment {
    Segment {
        seq: Seq(7),
        ack: Seq(99),
        flags: Flags::PSH | Flags::ACK,
        window: 1000,
        mss: None,
        payload: b"GET / HTTP/1.1\r\n\r\n".to_vec(),
    }
}

fn parsed_tcp(frame: &[u8]) -> TcpFrame {
    match parse(frame, false) {
        Ok(Parsed::Tcp(t)) => t,
        other => panic!("expected TCP, got {other:?}"),
    }
}

#[test]
fn syn_round_trip() {
    let frame = tcp_frame(link(), flow(), 4242, &syn());
    assert_eq!(frame.len(), MIN_FRAME); // 58 bytes padded to 60
    let t = parsed_tcp(&frame);
    assert_eq!(t.link, link());
    assert_eq!(t.flow, flow());
    assert_eq!(t.segment, syn());
}

#[test]
fn data_round_trip_and_ip_fields() {
    let seg = data_segment();
    let frame = tcp_frame(link(), flow(), 0x1234, &seg);
    assert_eq!(frame.len(), 14 + 20 + 20 + seg.payload.len());
    let ip = Ipv4Packet::new(&frame[ETHERNET_HEADER..]).unwrap();
    assert_eq!(ip.get_identification(), 0x1234);
    assert_eq!(ip.get_ttl(), 64);
    assert_eq!(ip.get_flags(), Ipv4Flags::DontFragment);
    assert_eq!(parsed_tcp(&frame).segment, seg);
}

#[test]
fn large_segment_round_trip() {
    let mut seg = data_segment();
    seg.payload = (0..60_000u32).map(|i| i as u8).collect();
    let frame = tcp_frame(link(), flow(), 1, &seg);
    assert_eq!(parsed_tcp(&frame).segment.payload, seg.payload);
}

#[test]
fn arp_request_round_trip() {
    let frame = arp_request(LB_MAC, LB_IP, RS_IP);
    assert_eq!(frame.len(), MIN_FRAME);
    assert_eq!(&frame[..6], &[0xff; 6]);
    match parse(&frame, false) {
        Ok(Parsed::Arp(arp)) => {
            assert!(!arp.is_reply);
            assert_eq!(arp.sender_mac, LB_MAC);
            assert_eq!(arp.sender_ip, LB_IP);
            assert_eq!(arp.target_ip, RS_IP);
        }
        other => panic!("expected ARP, got {other:?}"),
    }
}

#[test]
fn arp_reply_is_recognised() {
    let mut frame = arp_request(RS_MAC, RS_IP, LB_IP);
    frame[ETHERNET_HEADER + 7] = 2; // operation = reply
    match parse(&frame, false) {
        Ok(Parsed::Arp(arp)) => {
            assert!(arp.is_reply);
            assert_eq!(arp.sender_mac, RS_MAC);
            assert_eq!(arp.sender_ip, RS_IP);
        }
        other => panic!("expected ARP, got {other:?}"),
    }
}

#[test]
fn arp_for_other_protocols_is_rejected() {
    let mut frame = arp_request(RS_MAC, RS_IP, LB_IP);
    frame[ETHERNET_HEADER + 4] = 8; // hardware address length
    assert_eq!(parse(&frame, false), Err(FrameError::UnsupportedArp));
    assert!(matches!(
        parse(&frame[..ETHERNET_HEADER + 10], false),
        Err(FrameError::TooShort { .. })
    ));
}

#[test]
fn every_truncation_is_an_error_never_a_panic() {
    let frame = tcp_frame(link(), flow(), 1, &data_segment());
    for len in 0..frame.len() {
        let result = parse(&frame[..len], false);
        assert!(
            result.is_err(),
            "truncated to {len} bytes parsed: {result:?}"
        );
    }
}

#[test]
fn ip_checksum_and_tcp_checksum_are_verified() {
    let mut frame = tcp_frame(link(), flow(), 1, &data_segment());
    frame[ETHERNET_HEADER + 8] ^= 1; // TTL, covered by the header checksum
    assert_eq!(parse(&frame, false), Err(FrameError::BadIpChecksum));

    let mut frame = tcp_frame(link(), flow(), 1, &data_segment());
    let last = frame.len() - 1;
    frame[last] ^= 0xff; // payload byte
    assert_eq!(parse(&frame, false), Err(FrameError::BadTcpChecksum));
    // Unless the kernel says the checksum is already verified / offloaded.
    assert!(parse(&frame, true).is_ok());
}

/// Rewrite an IPv4 header field and fix the header checksum, so that the
/// field itself is what the parser sees as wrong.
fn with_ip_header(mut frame: Vec<u8>, edit: impl Fn(&mut MutableIpv4Packet)) -> Vec<u8> {
    let mut ip = MutableIpv4Packet::new(&mut frame[ETHERNET_HEADER..]).unwrap();
    edit(&mut ip);
    ip.set_checksum(0);
    let sum = ipv4::checksum(&ip.to_immutable());
    ip.set_checksum(sum);
    frame
}

#[test]
fn bad_ip_header_fields() {
    let frame = || tcp_frame(link(), flow(), 1, &data_segment());
    let v6 = with_ip_header(frame(), |ip| ip.set_version(6));
    assert_eq!(parse(&v6, false), Err(FrameError::BadIpVersion(6)));
    let ihl = with_ip_header(frame(), |ip| ip.set_header_length(4));
    assert_eq!(parse(&ihl, false), Err(FrameError::BadIhl(4)));
    let huge = with_ip_header(frame(), |ip| ip.set_total_length(9000));
    assert!(matches!(
        parse(&huge, false),
        Err(FrameError::BadTotalLength { .. })
    ));
    let tiny = with_ip_header(frame(), |ip| ip.set_total_length(10));
    assert!(matches!(
        parse(&tiny, false),
        Err(FrameError::BadTotalLength { .. })
    ));
    let ihl_past_end = with_ip_header(frame(), |ip| ip.set_header_length(15));
    assert!(parse(&ihl_past_end, false).is_err());
    let fragment = with_ip_header(frame(), |ip| ip.set_fragment_offset(8));
    assert_eq!(parse(&fragment, false), Err(FrameError::Fragment));
    let more = with_ip_header(frame(), |ip| ip.set_flags(Ipv4Flags::MoreFragments));
    assert_eq!(parse(&more, false), Err(FrameError::Fragment));
    let udp = with_ip_header(frame(), |ip| {
        ip.set_next_level_protocol(IpNextHeaderProtocols::Udp)
    });
    assert_eq!(parse(&udp, false), Ok(Parsed::Other(0x0800)));
}

#[test]
fn bad_tcp_data_offset() {
    for offset in [0u8, 4, 15] {
        let mut frame = tcp_frame(link(), flow(), 1, &syn());
        let at = ETHERNET_HEADER + IPV4_HEADER + 12;
        frame[at] = (offset << 4) | (frame[at] & 0x0f);
        assert_eq!(
            parse(&frame, true),
            Err(FrameError::BadDataOffset(offset)),
            "offset {offset}"
        );
    }
}

#[test]
fn tcp_options_are_walked_safely() {
    assert_eq!(parse_mss(&[2, 4, 0x05, 0xb4]), Ok(Some(1460)));
    assert_eq!(parse_mss(&[1, 1, 2, 4, 0x02, 0x18, 0, 0]), Ok(Some(536)));
    // SACK-permitted, timestamps, window scale, then MSS.
    let linux = [
        4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7, 2, 4, 5, 0xb4,
    ];
    assert_eq!(parse_mss(&linux), Ok(Some(1460)));
    assert_eq!(parse_mss(&[]), Ok(None));
    assert_eq!(parse_mss(&[0, 99, 99]), Ok(None));
    assert_eq!(parse_mss(&[2]), Err(FrameError::BadTcpOption));
    assert_eq!(parse_mss(&[2, 0]), Err(FrameError::BadTcpOption));
    assert_eq!(parse_mss(&[2, 1, 0]), Err(FrameError::BadTcpOption));
    assert_eq!(parse_mss(&[8, 40]), Err(FrameError::BadTcpOption));
    assert_eq!(parse_mss(&[2, 3, 0]), Err(FrameError::BadTcpOption));
}

#[test]
fn other_ethertypes_pass_through_as_other() {
    let mut frame = tcp_frame(link(), flow(), 1, &syn());
    frame[12] = 0x88;
    frame[13] = 0xcc; // LLDP
    assert_eq!(parse(&frame, false), Ok(Parsed::Other(0x88cc)));
    frame[12] = 0x86;
    frame[13] = 0xdd; // IPv6 EtherType over an IPv4 packet
    assert_eq!(parse(&frame, false), Err(FrameError::BadIpVersion(4)));
}

#[test]
fn random_bytes_never_panic() {
    // xorshift: deterministic, bounded.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let template = tcp_frame(link(), flow(), 1, &syn());
    for round in 0..20_000 {
        let mut frame = template.clone();
        for _ in 0..(round % 8 + 1) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = (x as usize) % frame.len();
            frame[at] = (x >> 32) as u8;
        }
        let cut = (x >> 40) as usize % (frame.len() + 1);
        let _ = parse(&frame[..cut], round % 2 == 0);
    }
}

#[test]
fn display_is_tcpdump_like() {
    let frame = tcp_frame(link(), flow(), 1, &syn());
    let line = parsed_tcp(&frame).to_string();
    assert_eq!(
        line,
        "(02:00:00:00:00:01) 198.51.100.1:40000 > 203.0.113.10:80 (02:00:00:00:00:11) \
         Flags [S], seq 3735928559, win 65535, options [mss 1460], length 0"
    );
}

const LB6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const RS6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0x1234, 0x5611);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);

fn flow6() -> Flow {
    Flow {
        src_ip: LB6.into(),
        dst_ip: VIP6.into(),
        src_port: 40000,
        dst_port: 443,
    }
}

#[test]
fn ipv6_tcp_round_trip() {
    for seg in [syn(), data_segment()] {
        let frame = tcp_frame(link(), flow6(), 0, &seg);
        assert_eq!(&frame[12..14], &[0x86, 0xdd]);
        let ip = pnet_packet::ipv6::Ipv6Packet::new(&frame[ETHERNET_HEADER..]).unwrap();
        assert_eq!(ip.get_hop_limit(), 64);
        let t = parsed_tcp(&frame);
        assert_eq!(t.flow, flow6());
        assert_eq!(t.segment, seg);
    }
}

#[test]
fn ipv6_checksum_is_verified_and_truncation_caught() {
    let mut frame = tcp_frame(link(), flow6(), 0, &data_segment());
    let last = frame.len() - 1;
    frame[last] ^= 0x55;
    assert_eq!(parse(&frame, false), Err(FrameError::BadTcpChecksum));
    let frame = tcp_frame(link(), flow6(), 0, &data_segment());
    for len in 0..frame.len() {
        assert!(parse(&frame[..len], false).is_err(), "{len} bytes parsed");
    }
}

#[test]
fn mixed_family_flow_builds_nothing() {
    let mixed = Flow {
        src_ip: LB_IP.into(),
        dst_ip: VIP6.into(),
        src_port: 1,
        dst_port: 2,
    };
    assert!(tcp_frame(link(), mixed, 0, &syn()).is_empty());
}

#[test]
fn solicited_node_group_and_multicast_mac() {
    assert_eq!(
        solicited_node(RS6),
        "ff02::1:ff34:5611".parse::<Ipv6Addr>().unwrap()
    );
    let ns = neighbor_solicit(LB_MAC, LB6, RS6);
    assert_eq!(&ns[..6], &[0x33, 0x33, 0xff, 0x34, 0x56, 0x11]);
    let ip = pnet_packet::ipv6::Ipv6Packet::new(&ns[ETHERNET_HEADER..]).unwrap();
    assert_eq!(ip.get_hop_limit(), 255);
    assert_eq!(ip.get_destination(), solicited_node(RS6));
    // Our own solicitation parses (checksum right) and is not an advert.
    assert_eq!(parse(&ns, false), Ok(Parsed::Other(0x86dd)));
}

/// A Neighbor Advertisement from the real server, as Linux sends it.
fn advert(hop_limit: u8, options: &[u8]) -> Vec<u8> {
    let mut icmp = vec![136, 0, 0, 0, 0x60, 0, 0, 0];
    icmp.extend_from_slice(&RS6.octets());
    icmp.extend_from_slice(options);
    let sum = icmpv6::checksum(&Icmpv6Packet::new(&icmp).unwrap(), &RS6, &LB6);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    ipv6_frame(link(), RS6, LB6, 58, hop_limit, &icmp)
}

const TLLA: [u8; 8] = [2, 1, 0x02, 0, 0, 0, 0, 0x11];

#[test]
fn neighbor_advert_gives_the_target_mac() {
    match parse(&advert(255, &TLLA), false) {
        Ok(Parsed::NeighborAdvert(na)) => {
            assert_eq!(na.target, RS6);
            assert_eq!(na.target_mac, Some(RS_MAC));
        }
        other => panic!("expected an advertisement, got {other:?}"),
    }
    match parse(&advert(255, &[]), false) {
        Ok(Parsed::NeighborAdvert(na)) => assert_eq!(na.target_mac, None),
        other => panic!("expected an advertisement, got {other:?}"),
    }
}

#[test]
fn bad_neighbor_adverts_are_rejected() {
    assert_eq!(
        parse(&advert(64, &TLLA), false),
        Err(FrameError::BadNdpHopLimit(64))
    );
    assert_eq!(
        parse(&advert(255, &[2, 0, 0, 0, 0, 0, 0, 0]), false),
        Err(FrameError::BadNdpOption)
    );
    assert_eq!(
        parse(&advert(255, &[2, 2, 1, 2, 3, 4, 5, 6]), false),
        Err(FrameError::BadNdpOption)
    );
    let mut corrupt = advert(255, &TLLA);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    assert_eq!(parse(&corrupt, false), Err(FrameError::BadIcmpv6Checksum));
}

#[test]
fn mss_follows_the_mtu_and_family() {
    assert_eq!(mss_for_mtu(1500, false), 1460);
    assert_eq!(mss_for_mtu(1500, true), 1440);
    assert_eq!(mss_for_mtu(9000, false), 8960);
    assert_eq!(mss_for_mtu(100, false), 536, "never below TCP's minimum");
    assert_eq!(mss_for_mtu(1 << 20, true), 65_495);
}
