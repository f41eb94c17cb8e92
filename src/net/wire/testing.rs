//! Fixtures shared by the tests of every wire format: the addresses of a
//! small LVS-DR setup (balancer, real server, VIP, a router), flows and
//! segments over them, and helpers that parse a frame as one kind or edit
//! an IPv4 header with its checksum fixed up.

use std::net::{Ipv4Addr, Ipv6Addr};

use pnet_datalink::MacAddr;
use pnet_packet::ipv4::{self, MutableIpv4Packet};

// The sizes and builders the tests of several formats use.
pub(super) use super::ethernet::{ETHERNET_HEADER, MIN_FRAME};
pub(super) use super::ipv4::IPV4_HEADER;
pub(super) use super::ipv6::{ipv6_frame, IPV6_HEADER};
use super::{parse, Echo, Flow, IcmpError, Link, Parsed, TcpFrame, UdpFrame};
use crate::net::tcp::{Flags, Segment, Seq};

pub(crate) const LB_MAC: MacAddr = MacAddr(0x02, 0, 0, 0, 0, 0x01);

pub(crate) const RS_MAC: MacAddr = MacAddr(0x02, 0, 0, 0, 0, 0x11);

pub(crate) const LB_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

pub(crate) const RS_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 11);

pub(crate) const VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);

pub(crate) const LB6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

pub(crate) const RS6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0x1234, 0x5611);

pub(crate) const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);

pub(crate) const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 254);

pub(crate) const ROUTER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xfe);

pub(crate) fn flow() -> Flow {
    Flow {
        src_ip: LB_IP.into(),
        dst_ip: VIP.into(),
        src_port: 40000,
        dst_port: 80,
    }
}

pub(crate) fn flow6() -> Flow {
    Flow {
        src_ip: LB6.into(),
        dst_ip: VIP6.into(),
        src_port: 40000,
        dst_port: 443,
    }
}

pub(crate) fn flow_udp() -> Flow {
    Flow {
        dst_port: 53,
        ..flow()
    }
}

pub(crate) fn flow6_udp() -> Flow {
    Flow {
        dst_port: 53,
        ..flow6()
    }
}

pub(crate) fn link() -> Link {
    Link {
        src: LB_MAC,
        dst: RS_MAC,
    }
}

pub(crate) fn rs_link() -> Link {
    Link {
        src: RS_MAC,
        dst: LB_MAC,
    }
}

pub(crate) fn syn() -> Segment {
    Segment {
        seq: Seq(0xdead_beef),
        ack: Seq(0),
        flags: Flags::SYN,
        window: 65535,
        mss: Some(1460),
        payload: vec![],
        ..Segment::default()
    }
}

/// A frame of the real server's side of `flow()`: a segment with its
/// window open, MSS on a SYN.
pub(crate) fn frame_from_server(seq: Seq, ack: Seq, flags: Flags) -> Vec<u8> {
    data_frame_from_server(seq, ack, flags, b"")
}

/// [`frame_from_server`] carrying `payload`.
pub(crate) fn data_frame_from_server(seq: Seq, ack: Seq, flags: Flags, payload: &[u8]) -> Vec<u8> {
    let seg = Segment {
        seq,
        ack,
        flags,
        window: 65535,
        mss: flags.has(Flags::SYN).then_some(1460),
        payload: payload.to_vec(),
        ..Segment::default()
    };
    super::tcp_frame(rs_link(), flow().reversed(), 7, &seg)
}

/// The IP packet of our SYN at `seq` on `flow()`, as an ICMP error
/// quotes it (its first 8 transport bytes are what counts: ports and
/// sequence number).
pub(crate) fn quoted_syn(seq: Seq) -> Vec<u8> {
    let seg = Segment {
        seq,
        flags: Flags::SYN,
        window: 65535,
        mss: Some(1460),
        ..Segment::default()
    };
    super::tcp_frame(link(), flow(), 1, &seg)[ETHERNET_HEADER..].to_vec()
}

pub(crate) fn data_segment() -> Segment {
    Segment {
        seq: Seq(7),
        ack: Seq(99),
        flags: Flags::PSH | Flags::ACK,
        window: 1000,
        mss: None,
        payload: b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        ..Segment::default()
    }
}

pub(crate) fn parsed_tcp(frame: &[u8]) -> TcpFrame {
    match parse(frame, false) {
        Ok(Parsed::Tcp(t)) => t,
        other => panic!("expected TCP, got {other:?}"),
    }
}

pub(crate) fn parsed_udp(frame: &[u8]) -> UdpFrame {
    match parse(frame, false) {
        Ok(Parsed::Udp(u)) => u,
        other => panic!("expected UDP, got {other:?}"),
    }
}

pub(crate) fn parsed_echo(frame: &[u8]) -> Echo {
    match parse(frame, false) {
        Ok(Parsed::Echo(e)) => e,
        other => panic!("expected echo, got {other:?}"),
    }
}

pub(crate) fn parsed_error(frame: &[u8]) -> IcmpError {
    match parse(frame, false) {
        Ok(Parsed::IcmpError(e)) => e,
        other => panic!("expected an ICMP error, got {other:?}"),
    }
}

/// The frame's length without Ethernet padding.
pub(crate) fn unpadded_len(frame: &[u8]) -> usize {
    let ip = &frame[ETHERNET_HEADER..];
    ETHERNET_HEADER
        + if frame[12] == 0x86 {
            IPV6_HEADER + usize::from(u16::from_be_bytes([ip[4], ip[5]]))
        } else {
            usize::from(u16::from_be_bytes([ip[2], ip[3]]))
        }
}

/// Offset of the UDP header in a frame without IP options.
pub(crate) fn udp_at(frame: &[u8]) -> usize {
    ETHERNET_HEADER
        + if frame[12] == 0x86 {
            IPV6_HEADER
        } else {
            IPV4_HEADER
        }
}

/// Rewrite an IPv4 header field and fix the header checksum, so that the
/// field itself is what the parser sees as wrong.
pub(crate) fn with_ip_header(mut frame: Vec<u8>, edit: impl Fn(&mut MutableIpv4Packet)) -> Vec<u8> {
    let mut ip = MutableIpv4Packet::new(&mut frame[ETHERNET_HEADER..]).unwrap();
    edit(&mut ip);
    ip.set_checksum(0);
    let sum = ipv4::checksum(&ip.to_immutable());
    ip.set_checksum(sum);
    frame
}

/// The same IPv4 frame with 4 bytes of options (NOPs and an end) in its
/// header: lengths and header checksum fixed up.
pub(crate) fn with_ip_options(mut frame: Vec<u8>) -> Vec<u8> {
    let total = u16::from_be_bytes([frame[16], frame[17]]) + 4;
    frame.truncate(ETHERNET_HEADER + usize::from(total) - 4);
    frame.splice(34..34, [1, 1, 1, 0]);
    with_ip_header(frame, |ip| {
        ip.set_header_length(6);
        ip.set_total_length(total);
    })
}

/// A TCP frame of `seg` on `flow` however long its payload (our builders
/// stop at 64 KiB), as BIG TCP delivers one: the IP length field 0 (IPv4
/// total length, IPv6 payload length), the TCP checksum over it all.
pub(crate) fn big_tcp_frame(flow: Flow, seg: &Segment) -> Vec<u8> {
    use pnet_packet::tcp::{self, TcpPacket};
    use std::net::IpAddr;
    let head = Segment {
        payload: Vec::new(),
        ..seg.clone()
    };
    let mut frame = super::tcp_frame(link(), flow, 1, &head);
    let tcp_at = ETHERNET_HEADER
        + if flow.src_ip.is_ipv6() {
            IPV6_HEADER
        } else {
            IPV4_HEADER
        };
    frame.truncate(tcp_at + (usize::from(frame[tcp_at + 12] >> 4) * 4));
    frame.extend_from_slice(&seg.payload);
    frame[tcp_at + 16..tcp_at + 18].fill(0);
    let sum = {
        let packet = TcpPacket::new(&frame[tcp_at..]).unwrap();
        match (flow.src_ip, flow.dst_ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => tcp::ipv4_checksum(&packet, &s, &d),
            (IpAddr::V6(s), IpAddr::V6(d)) => tcp::ipv6_checksum(&packet, &s, &d),
            _ => unreachable!("one family"),
        }
    };
    frame[tcp_at + 16..tcp_at + 18].copy_from_slice(&sum.to_be_bytes());
    if flow.src_ip.is_ipv6() {
        frame[ETHERNET_HEADER + 4..ETHERNET_HEADER + 6].fill(0);
        frame
    } else {
        with_ip_header(frame, |ip| ip.set_total_length(0))
    }
}
