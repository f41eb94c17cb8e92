//! Echo and ICMP error round trips, codes and malformed messages, both families.

use super::*;
use crate::net::wire::testing::*;
use crate::net::wire::*;

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
