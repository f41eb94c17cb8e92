//! Build/parse round trips and malformed frames of every kind.

use super::*;
use pnet_packet::ip::IpNextHeaderProtocols;
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
    // A protocol we do not parse (UDP and ICMP now have their own kinds).
    let gre = with_ip_header(frame(), |ip| {
        ip.set_next_level_protocol(IpNextHeaderProtocols::Gre)
    });
    assert_eq!(parse(&gre, false), Ok(Parsed::Other(0x0800)));
    // A TCP segment labelled UDP is a UDP datagram with a bad length.
    let udp = with_ip_header(frame(), |ip| {
        ip.set_next_level_protocol(IpNextHeaderProtocols::Udp)
    });
    assert!(matches!(
        parse(&udp, false),
        Err(FrameError::BadUdpLength { .. })
    ));
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

fn rs_link() -> Link {
    Link {
        src: RS_MAC,
        dst: LB_MAC,
    }
}

const TLLA: [u8; 8] = [2, 1, 0x02, 0, 0, 0, 0, 0x11];

#[test]
fn neighbor_advert_gives_the_target_mac() {
    match parse(&advert(255, &TLLA), false) {
        Ok(Parsed::NeighborAdvert(na)) => {
            assert_eq!(na.target, RS6);
            assert_eq!(na.target_mac, Some(RS_MAC));
            assert_eq!(na.link, link());
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

// ---- UDP ----

fn flow_udp() -> Flow {
    Flow {
        dst_port: 53,
        ..flow()
    }
}

fn flow6_udp() -> Flow {
    Flow {
        dst_port: 53,
        ..flow6()
    }
}

fn parsed_udp(frame: &[u8]) -> UdpFrame {
    match parse(frame, false) {
        Ok(Parsed::Udp(u)) => u,
        other => panic!("expected UDP, got {other:?}"),
    }
}

#[test]
fn udp_round_trip_both_families() {
    for flow in [flow_udp(), flow6_udp()] {
        for payload in [&b""[..], b"x", b"\x12\x34 query", &[0u8; 1400]] {
            let frame = udp_frame(link(), flow, 7, payload);
            let u = parsed_udp(&frame);
            assert_eq!(
                u,
                UdpFrame {
                    link: link(),
                    flow,
                    payload: payload.to_vec()
                }
            );
        }
    }
    let frame = udp_frame(link(), flow_udp(), 0x4321, b"abc");
    assert_eq!(frame.len(), MIN_FRAME); // 14 + 20 + 8 + 3, padded
    let ip = Ipv4Packet::new(&frame[ETHERNET_HEADER..]).unwrap();
    assert_eq!(ip.get_identification(), 0x4321);
    assert_eq!(ip.get_next_level_protocol(), IpNextHeaderProtocols::Udp);
    assert_eq!(ip.get_total_length(), 31);
}

/// The frame's length without Ethernet padding.
fn unpadded_len(frame: &[u8]) -> usize {
    let ip = &frame[ETHERNET_HEADER..];
    ETHERNET_HEADER
        + if frame[12] == 0x86 {
            IPV6_HEADER + usize::from(u16::from_be_bytes([ip[4], ip[5]]))
        } else {
            usize::from(u16::from_be_bytes([ip[2], ip[3]]))
        }
}

/// Offset of the UDP header in a frame without IP options.
fn udp_at(frame: &[u8]) -> usize {
    ETHERNET_HEADER
        + if frame[12] == 0x86 {
            IPV6_HEADER
        } else {
            IPV4_HEADER
        }
}

#[test]
fn udp_checksum_is_verified_and_zero_handled_per_family() {
    for flow in [flow_udp(), flow6_udp()] {
        let mut frame = udp_frame(link(), flow, 1, b"payload");
        let at = udp_at(&frame) + UDP_HEADER; // the first payload byte
        frame[at] ^= 0x20;
        assert_eq!(parse(&frame, false), Err(FrameError::BadUdpChecksum));
        assert!(parse(&frame, true).is_ok(), "the kernel's word is taken");
    }
    // A zero checksum: "none" over IPv4, invalid over IPv6.
    let mut v4 = udp_frame(link(), flow_udp(), 1, b"payload");
    let at = udp_at(&v4) + 6;
    v4[at..at + 2].copy_from_slice(&[0, 0]);
    v4[at + 8] ^= 0xff; // and a payload the old checksum would not cover
    assert!(matches!(parse(&v4, false), Ok(Parsed::Udp(_))));
    let mut v6 = udp_frame(link(), flow6_udp(), 1, b"payload");
    let at = udp_at(&v6) + 6;
    v6[at..at + 2].copy_from_slice(&[0, 0]);
    assert_eq!(parse(&v6, false), Err(FrameError::MissingUdpChecksum));
}

#[test]
fn udp_checksum_of_zero_goes_out_as_ffff() {
    // Find a payload whose sum is 0 by fixing its last word, then check
    // the builder sends 0xffff and the parser accepts it.
    let flow = flow_udp();
    let mut frame = udp_frame(link(), flow, 1, &[0, 0]);
    let at = udp_at(&frame);
    let sum = u16::from_be_bytes([frame[at + 6], frame[at + 7]]);
    // Adding !sum... makes the one's-complement sum of the data 0xffff.
    let word = sum.to_be_bytes();
    frame = udp_frame(link(), flow, 1, &word);
    let at = udp_at(&frame);
    assert_eq!(&frame[at + 6..at + 8], &[0xff, 0xff]);
    assert_eq!(parsed_udp(&frame).payload, word);
}

#[test]
fn udp_length_is_checked_against_the_ip_length() {
    for flow in [flow_udp(), flow6_udp()] {
        let frame = udp_frame(link(), flow, 1, b"0123456789");
        let at = udp_at(&frame) + 4;
        for bad in [0u16, 7, 19, 1000] {
            let mut f = frame.clone();
            f[at..at + 2].copy_from_slice(&bad.to_be_bytes());
            assert!(
                matches!(parse(&f, true), Err(FrameError::BadUdpLength { .. })),
                "UDP length {bad}"
            );
        }
        // Shorter than the IP payload: the rest is padding, not payload.
        let mut f = frame.clone();
        f[at..at + 2].copy_from_slice(&12u16.to_be_bytes());
        assert_eq!(parsed_udp_verified(&f).payload, b"0123");
        for len in 0..unpadded_len(&frame) {
            assert!(parse(&frame[..len], false).is_err(), "{len} bytes parsed");
        }
    }
}

fn parsed_udp_verified(frame: &[u8]) -> UdpFrame {
    match parse(frame, true) {
        Ok(Parsed::Udp(u)) => u,
        other => panic!("expected UDP, got {other:?}"),
    }
}

#[test]
fn udp_display_gives_the_length_not_the_bytes() {
    let line = parsed_udp(&udp_frame(link(), flow_udp(), 1, b"secret")).to_string();
    assert_eq!(
        line,
        "(02:00:00:00:00:01) 198.51.100.1:40000 > 203.0.113.10:53 (02:00:00:00:00:11) UDP, 6 bytes"
    );
}

// ---- Echo ----

fn parsed_echo(frame: &[u8]) -> Echo {
    match parse(frame, false) {
        Ok(Parsed::Echo(e)) => e,
        other => panic!("expected echo, got {other:?}"),
    }
}

#[test]
fn echo_request_and_reply_round_trip_both_families() {
    let pairs: [(IpAddr, IpAddr); 2] = [(LB_IP.into(), RS_IP.into()), (LB6.into(), RS6.into())];
    for (src, dst) in pairs {
        let payload = b"check_raw ping 0123456789abcdef";
        let req = echo_request(link(), src, dst, 9, 0xbeef, 3, payload);
        let expected = Echo {
            link: link(),
            src_ip: src,
            dst_ip: dst,
            is_reply: false,
            ident: 0xbeef,
            seq: 3,
            payload: payload.to_vec(),
        };
        assert_eq!(parsed_echo(&req), expected);
        let rep = echo_reply(rs_link(), dst, src, 9, 0xbeef, 3, payload);
        assert_eq!(
            parsed_echo(&rep),
            Echo {
                link: rs_link(),
                src_ip: dst,
                dst_ip: src,
                is_reply: true,
                ..expected
            }
        );
        assert!(echo_request(link(), src, dst, 0, 1, 1, b"").len() >= MIN_FRAME);
    }
    // The wire types: 8/0 and 128/129.
    let at = ETHERNET_HEADER + IPV4_HEADER;
    assert_eq!(
        echo_request(link(), LB_IP.into(), RS_IP.into(), 0, 1, 1, b"")[at],
        8
    );
    assert_eq!(
        echo_reply(link(), LB_IP.into(), RS_IP.into(), 0, 1, 1, b"")[at],
        0
    );
    let at = ETHERNET_HEADER + IPV6_HEADER;
    assert_eq!(
        echo_request(link(), LB6.into(), RS6.into(), 0, 1, 1, b"")[at],
        128
    );
    assert_eq!(
        echo_reply(link(), LB6.into(), RS6.into(), 0, 1, 1, b"")[at],
        129
    );
    assert!(echo_request(link(), LB_IP.into(), RS6.into(), 0, 1, 1, b"").is_empty());
}

#[test]
fn echo_checksums_are_verified_and_truncation_caught() {
    let v4 = echo_reply(rs_link(), RS_IP.into(), LB_IP.into(), 1, 7, 1, b"abcdefgh");
    let v6 = echo_reply(rs_link(), RS6.into(), LB6.into(), 1, 7, 1, b"abcdefgh");
    for (frame, err) in [
        (&v4, FrameError::BadIcmpChecksum),
        (&v6, FrameError::BadIcmpv6Checksum),
    ] {
        let mut bad = frame.clone();
        bad[unpadded_len(frame) - 1] ^= 1;
        // The ICMP checksum is ours to check even with the kernel's word.
        assert_eq!(parse(&bad, true), Err(err));
    }
    // The ICMPv6 checksum covers the pseudo-header: another destination
    // with the same message fails.
    let mut moved = v6.clone();
    moved[ETHERNET_HEADER + 24 + 15] ^= 1;
    assert_eq!(parse(&moved, false), Err(FrameError::BadIcmpv6Checksum));
    for frame in [&v4, &v6] {
        for len in 0..unpadded_len(frame) {
            assert!(parse(&frame[..len], false).is_err(), "{len} bytes parsed");
        }
    }
}

#[test]
fn echo_display() {
    let e = parsed_echo(&echo_reply(
        rs_link(),
        RS6.into(),
        LB6.into(),
        0,
        7,
        2,
        b"xyz",
    ));
    assert_eq!(
        e.to_string(),
        "(02:00:00:00:00:11) 2001:db8::1234:5611 > 2001:db8::1 (02:00:00:00:00:01) \
         ICMPv6 echo reply, id 7, seq 2, 3 bytes"
    );
}

// ---- ICMP errors ----

const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 254);
const ROUTER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xfe);

fn parsed_error(frame: &[u8]) -> IcmpError {
    match parse(frame, false) {
        Ok(Parsed::IcmpError(e)) => e,
        other => panic!("expected an ICMP error, got {other:?}"),
    }
}

/// Our datagrams of every protocol, as a router quotes them.
fn our_packets(v6: bool) -> Vec<(u8, Flow, Vec<u8>)> {
    let (tcp_flow, udp_flow) = if v6 {
        (flow6(), flow6_udp())
    } else {
        (flow(), flow_udp())
    };
    let echo = echo_request(link(), tcp_flow.src_ip, tcp_flow.dst_ip, 1, 5, 6, b"ping");
    let no_ports = Flow {
        src_port: 0,
        dst_port: 0,
        ..tcp_flow
    };
    let icmp = if v6 { IPPROTO_ICMPV6 } else { IPPROTO_ICMP };
    [
        (
            IPPROTO_TCP,
            tcp_flow,
            tcp_frame(link(), tcp_flow, 1, &syn()),
        ),
        (IPPROTO_UDP, udp_flow, udp_frame(link(), udp_flow, 1, b"q")),
        (icmp, no_ports, echo),
    ]
    .into_iter()
    .map(|(p, f, frame)| (p, f, frame[ETHERNET_HEADER..].to_vec()))
    .collect()
}

const ALL_KINDS: [IcmpErrorKind; 8] = [
    IcmpErrorKind::PortUnreachable,
    IcmpErrorKind::HostUnreachable,
    IcmpErrorKind::NetUnreachable,
    IcmpErrorKind::ProtocolUnreachable,
    IcmpErrorKind::AdminProhibited,
    IcmpErrorKind::MtuExceeded { mtu: 1400 },
    IcmpErrorKind::TimeExceeded,
    IcmpErrorKind::Other {
        icmp_type: 12,
        code: 0,
    },
];

#[test]
fn icmp_errors_round_trip_every_kind_and_protocol() {
    for v6 in [false, true] {
        let (from, to): (IpAddr, IpAddr) = if v6 {
            (ROUTER6.into(), LB6.into())
        } else {
            (ROUTER.into(), LB_IP.into())
        };
        for kind in ALL_KINDS {
            // ICMPv6 Parameter Problem is type 4; IPv4's is 12.
            let kind = match kind {
                IcmpErrorKind::Other { .. } if v6 => IcmpErrorKind::Other {
                    icmp_type: 4,
                    code: 0,
                },
                k => k,
            };
            for (protocol, flow, packet) in our_packets(v6) {
                let frame = icmp_error_frame(rs_link(), from, to, kind, &packet);
                let e = parsed_error(&frame);
                let hl = if v6 { IPV6_HEADER } else { IPV4_HEADER };
                let mut head = [0u8; QUOTED_TRANSPORT];
                head.copy_from_slice(&packet[hl..hl + QUOTED_TRANSPORT]);
                assert_eq!(
                    e,
                    IcmpError {
                        link: rs_link(),
                        from,
                        to,
                        kind,
                        quoted: Quoted {
                            protocol,
                            flow,
                            head
                        },
                    },
                    "{kind:?} v6 {v6}"
                );
                // Cut to the quoted header plus 8 bytes: still enough.
                let short = icmp_error_frame(rs_link(), from, to, kind, &packet[..hl + 8]);
                assert_eq!(parsed_error(&short), e);
                // One byte less is not.
                let shorter = icmp_error_frame(rs_link(), from, to, kind, &packet[..hl + 7]);
                assert!(matches!(
                    parse(&shorter, false),
                    Err(FrameError::TooShort { .. })
                ));
            }
        }
    }
}

#[test]
fn icmp_error_codes_map_onto_kinds() {
    use IcmpErrorKind::*;
    let none = [0; 4];
    assert_eq!(error_kind_v4(3, 0, none), NetUnreachable);
    assert_eq!(error_kind_v4(3, 1, none), HostUnreachable);
    assert_eq!(error_kind_v4(3, 2, none), ProtocolUnreachable);
    assert_eq!(error_kind_v4(3, 3, none), PortUnreachable);
    assert_eq!(
        error_kind_v4(3, 4, [0, 0, 0x05, 0xdc]),
        MtuExceeded { mtu: 1500 }
    );
    assert_eq!(error_kind_v4(3, 13, none), AdminProhibited);
    assert_eq!(error_kind_v4(11, 1, none), TimeExceeded);
    assert_eq!(
        error_kind_v4(3, 5, none),
        Other {
            icmp_type: 3,
            code: 5
        }
    );
    assert_eq!(error_kind_v6(1, 0, none), NetUnreachable);
    assert_eq!(error_kind_v6(1, 1, none), AdminProhibited);
    assert_eq!(error_kind_v6(1, 3, none), HostUnreachable);
    assert_eq!(error_kind_v6(1, 4, none), PortUnreachable);
    assert_eq!(
        error_kind_v6(2, 0, [0, 1, 0, 0]),
        MtuExceeded { mtu: 65536 }
    );
    assert_eq!(error_kind_v6(3, 0, none), TimeExceeded);
    assert_eq!(error_kind_v6(4, 1, [0, 0, 0, 6]), ProtocolUnreachable);
    assert_eq!(
        error_kind_v6(4, 0, none),
        Other {
            icmp_type: 4,
            code: 0
        }
    );
}

#[test]
fn icmp_errors_quote_at_most_what_a_router_would() {
    let mut seg = data_segment();
    seg.payload = vec![b'x'; 3000];
    for (from, to, flow, limit) in [
        (IpAddr::from(ROUTER), IpAddr::from(LB_IP), flow(), 576),
        (ROUTER6.into(), LB6.into(), flow6(), 1280),
    ] {
        let packet = tcp_frame(link(), flow, 1, &seg)[ETHERNET_HEADER..].to_vec();
        let frame = icmp_error_frame(rs_link(), from, to, IcmpErrorKind::TimeExceeded, &packet);
        assert_eq!(frame.len(), ETHERNET_HEADER + limit);
        assert_eq!(parsed_error(&frame).quoted.flow, flow);
    }
}

#[test]
fn bad_icmp_errors_are_rejected() {
    let packet = tcp_frame(link(), flow(), 1, &syn())[ETHERNET_HEADER..].to_vec();
    let port = IcmpErrorKind::PortUnreachable;
    let from = IpAddr::from(ROUTER);
    let to = IpAddr::from(LB_IP);
    // A quoted header of the other family.
    let mut wrong = packet.clone();
    wrong[0] = 0x65;
    assert_eq!(
        parse(&icmp_error_frame(rs_link(), from, to, port, &wrong), false),
        Err(FrameError::BadQuotedVersion(6))
    );
    let mut ihl = packet.clone();
    ihl[0] = 0x44;
    assert_eq!(
        parse(&icmp_error_frame(rs_link(), from, to, port, &ihl), false),
        Err(FrameError::BadIhl(4))
    );
    // IHL 15 with only 28 bytes quoted.
    let mut long = packet[..28].to_vec();
    long[0] = 0x4f;
    assert!(matches!(
        parse(&icmp_error_frame(rs_link(), from, to, port, &long), false),
        Err(FrameError::TooShort { .. })
    ));
    let mut frag = packet.clone();
    frag[7] = 1; // fragment offset 1 (8 bytes)
    assert_eq!(
        parse(&icmp_error_frame(rs_link(), from, to, port, &frag), false),
        Err(FrameError::QuotedFragment)
    );
    let mut corrupt = icmp_error_frame(rs_link(), from, to, port, &packet);
    corrupt[ETHERNET_HEADER + IPV4_HEADER + 1] = 1; // code, under the checksum
    assert_eq!(parse(&corrupt, false), Err(FrameError::BadIcmpChecksum));
    // The outer IPv4 header may carry options: the quote follows them.
    let frame = icmp_error_frame(rs_link(), from, to, port, &packet);
    let with_options = with_ip_options(frame);
    assert_eq!(parsed_error(&with_options).quoted.flow, flow());
    // Every truncation of the whole frame is an error.
    let frame = icmp_error_frame(rs_link(), from, to, port, &packet[..28]);
    for len in 0..unpadded_len(&frame) {
        assert!(parse(&frame[..len], false).is_err(), "{len} bytes parsed");
    }
    let packet6 = tcp_frame(link(), flow6(), 1, &syn())[ETHERNET_HEADER..].to_vec();
    let frame6 = icmp_error_frame(rs_link(), ROUTER6.into(), LB6.into(), port, &packet6);
    for len in 0..frame6.len() {
        assert!(parse(&frame6[..len], false).is_err(), "{len} bytes parsed");
    }
    let mut wrong6 = packet6.clone();
    wrong6[0] = 0x45;
    let frame6 = icmp_error_frame(rs_link(), ROUTER6.into(), LB6.into(), port, &wrong6);
    assert_eq!(parse(&frame6, false), Err(FrameError::BadQuotedVersion(4)));
}

/// The same IPv4 frame with 4 bytes of options (NOPs and an end) in its
/// header: lengths and header checksum fixed up.
fn with_ip_options(mut frame: Vec<u8>) -> Vec<u8> {
    let total = u16::from_be_bytes([frame[16], frame[17]]) + 4;
    frame.truncate(ETHERNET_HEADER + usize::from(total) - 4);
    frame.splice(34..34, [1, 1, 1, 0]);
    with_ip_header(frame, |ip| {
        ip.set_header_length(6);
        ip.set_total_length(total);
    })
}

#[test]
fn icmp_error_display_reads_like_a_status_line() {
    let packet = udp_frame(link(), flow_udp(), 1, b"q")[ETHERNET_HEADER..].to_vec();
    let frame = icmp_error_frame(
        rs_link(),
        ROUTER.into(),
        LB_IP.into(),
        IcmpErrorKind::PortUnreachable,
        &packet,
    );
    assert_eq!(
        parsed_error(&frame).to_string(),
        "(02:00:00:00:00:11) ICMP port unreachable from 198.51.100.254 about \
         UDP 198.51.100.1:40000 > 203.0.113.10:53"
    );
    let words: Vec<String> = ALL_KINDS.iter().map(|k| k.to_string()).collect();
    assert_eq!(
        words,
        [
            "port unreachable",
            "host unreachable",
            "network unreachable",
            "protocol unreachable",
            "administratively prohibited",
            "packet too big (MTU 1400)",
            "time exceeded",
            "error type 12 code 0"
        ]
    );
    let echo = echo_request(link(), LB_IP.into(), VIP.into(), 1, 5, 6, b"ping");
    let frame = icmp_error_frame(
        rs_link(),
        ROUTER.into(),
        LB_IP.into(),
        IcmpErrorKind::HostUnreachable,
        &echo[ETHERNET_HEADER..],
    );
    assert!(parsed_error(&frame)
        .to_string()
        .ends_with("about protocol 1 198.51.100.1 > 203.0.113.10"));
}

#[test]
fn other_icmp_types_are_other() {
    // A redirect (5) and a router advertisement (134) are no concern of ours.
    let redirect = icmp_frame(
        rs_link(),
        ROUTER.into(),
        LB_IP.into(),
        0,
        5,
        1,
        [0; 4],
        &[0; 28],
    );
    assert_eq!(parse(&redirect, false), Ok(Parsed::Other(0x0800)));
    let ra = icmp_frame(
        rs_link(),
        ROUTER6.into(),
        LB6.into(),
        0,
        134,
        0,
        [0; 4],
        &[0; 8],
    );
    assert_eq!(parse(&ra, false), Ok(Parsed::Other(0x86dd)));
}

// ---- ARP and NDP to a given address ----

#[test]
fn unicast_arp_request_reply_round_trip() {
    let req = arp_request_to(link(), LB_IP, RS_IP);
    assert_eq!(&req[..6], &RS_MAC.octets());
    assert_eq!(&req[6..12], &LB_MAC.octets());
    assert_eq!(
        parse(&req, false),
        Ok(Parsed::Arp(Arp {
            is_reply: false,
            sender_mac: LB_MAC,
            sender_ip: LB_IP,
            target_mac: MacAddr::zero(),
            target_ip: RS_IP,
        }))
    );
    // The broadcast form is the same request to ff:ff:ff:ff:ff:ff.
    let broadcast = Link {
        src: LB_MAC,
        dst: MacAddr::broadcast(),
    };
    assert_eq!(
        arp_request(LB_MAC, LB_IP, RS_IP),
        arp_request_to(broadcast, LB_IP, RS_IP)
    );
    let reply = arp_reply(rs_link(), RS_IP, LB_IP);
    assert_eq!(reply.len(), MIN_FRAME);
    assert_eq!(
        parse(&reply, false),
        Ok(Parsed::Arp(Arp {
            is_reply: true,
            sender_mac: RS_MAC,
            sender_ip: RS_IP,
            target_mac: LB_MAC,
            target_ip: LB_IP,
        }))
    );
}

#[test]
fn unicast_neighbor_solicit_goes_to_the_target_itself() {
    let ns = neighbor_solicit_to(link(), LB6, RS6);
    assert_eq!(&ns[..6], &RS_MAC.octets());
    let ip = pnet_packet::ipv6::Ipv6Packet::new(&ns[ETHERNET_HEADER..]).unwrap();
    assert_eq!(ip.get_destination(), RS6);
    assert_eq!(ip.get_hop_limit(), 255);
    let icmp = &ns[ETHERNET_HEADER + IPV6_HEADER..];
    assert_eq!(icmp[0], 135);
    assert_eq!(&icmp[8..24], &RS6.octets());
    assert_eq!(&icmp[24..32], &[1, 1, 2, 0, 0, 0, 0, 1]); // our source LL option
                                                          // Checksum right: it parses, as an NS, to Other.
    assert_eq!(parse(&ns, false), Ok(Parsed::Other(0x86dd)));
    // The multicast form differs only in the destinations.
    let multicast = neighbor_solicit(LB_MAC, LB6, RS6);
    assert_eq!(&multicast[ETHERNET_HEADER + IPV6_HEADER + 8..], &icmp[8..]);
}

#[test]
fn neighbor_advert_builder_round_trip() {
    for target_mac in [Some(RS_MAC), None] {
        let na = neighbor_advert(rs_link(), RS6, LB6, RS6, target_mac);
        assert_eq!(
            parse(&na, false),
            Ok(Parsed::NeighborAdvert(NeighborAdvert {
                link: rs_link(),
                src_ip: RS6,
                target: RS6,
                target_mac,
            }))
        );
        assert_eq!(na[ETHERNET_HEADER + IPV6_HEADER + 4], 0x60, "S and O");
    }
    // Two hosts answering for one address: the links tell them apart.
    let other = Link {
        src: MacAddr(2, 0, 0, 0, 0, 0x22),
        dst: LB_MAC,
    };
    let a = neighbor_advert(rs_link(), RS6, LB6, RS6, None);
    let b = neighbor_advert(other, RS6, LB6, RS6, None);
    match (parse(&a, false), parse(&b, false)) {
        (Ok(Parsed::NeighborAdvert(a)), Ok(Parsed::NeighborAdvert(b))) => {
            assert_ne!(a.link.src, b.link.src)
        }
        other => panic!("expected two advertisements, got {other:?}"),
    }
    let unsolicited = neighbor_advert(rs_link(), RS6, "ff02::1".parse().unwrap(), RS6, None);
    assert_eq!(
        unsolicited[ETHERNET_HEADER + IPV6_HEADER + 4],
        0x20,
        "O only"
    );
}

#[test]
fn random_bytes_never_panic_for_the_new_kinds() {
    let packet = udp_frame(link(), flow_udp(), 1, b"q")[ETHERNET_HEADER..].to_vec();
    let packet6 = udp_frame(link(), flow6_udp(), 1, b"q")[ETHERNET_HEADER..].to_vec();
    let templates = [
        udp_frame(link(), flow_udp(), 1, b"hello"),
        udp_frame(link(), flow6_udp(), 1, b"hello"),
        echo_reply(rs_link(), RS_IP.into(), LB_IP.into(), 1, 2, 3, b"ping"),
        echo_reply(rs_link(), RS6.into(), LB6.into(), 1, 2, 3, b"ping"),
        icmp_error_frame(
            rs_link(),
            ROUTER.into(),
            LB_IP.into(),
            IcmpErrorKind::MtuExceeded { mtu: 1400 },
            &packet,
        ),
        icmp_error_frame(
            rs_link(),
            ROUTER6.into(),
            LB6.into(),
            IcmpErrorKind::PortUnreachable,
            &packet6,
        ),
        neighbor_advert(rs_link(), RS6, LB6, RS6, Some(RS_MAC)),
    ];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for round in 0..40_000 {
        let mut frame = templates[round % templates.len()].clone();
        for _ in 0..(round % 4 + 1) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = (x as usize) % frame.len();
            frame[at] = (x >> 32) as u8;
        }
        let cut = (x >> 40) as usize % (frame.len() + 1);
        if let Ok(parsed) = parse(&frame[..cut], round % 3 == 0) {
            let _ = parsed.to_string();
        }
    }
}

#[test]
fn every_fuzz_seed_parses_as_its_name_says() {
    // The seeds (fuzz/seeds/make_seeds.py) start from valid frames of each
    // kind; one that stopped parsing would start the fuzzer nowhere.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/frame_parse");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        let parsed = parse(&data[1..], data[0] & 1 == 1);
        let ok = match &parsed {
            Ok(Parsed::Udp(_)) => name.starts_with("udp"),
            Ok(Parsed::Echo(_)) => name.starts_with("echo"),
            Ok(Parsed::IcmpError(_)) => ["unreachable", "needed", "exceeded", "too_big"]
                .iter()
                .any(|w| name.contains(w)),
            Ok(Parsed::Arp(_)) => name.starts_with("arp"),
            Ok(Parsed::NeighborAdvert(_)) => name.starts_with("neighbor"),
            Ok(Parsed::Tcp(_)) => true,
            _ => false,
        };
        assert!(ok, "seed {name}: {parsed:?}");
        seen += 1;
    }
    assert!(seen >= 18, "{seen} seeds");
}
