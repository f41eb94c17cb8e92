//! IPv4 (RFC 791): the header we put on our frames (DF set, TTL 64, no
//! options) and the checks on the ones we receive: version, header length,
//! total length against what arrived (or, for a BIG TCP packet over 64
//! KiB, total length 0 and the length received), header checksum, no
//! fragments. The payload goes on to TCP, UDP or ICMP.

use std::net::Ipv4Addr;

use pnet_packet::ip::IpNextHeaderProtocol;
use pnet_packet::ipv4::{self, Ipv4Flags, Ipv4Packet, MutableIpv4Packet};

use super::ethernet::{ethernet, ETHERNET_HEADER, ETHERTYPE_IPV4};
use super::icmp::parse_icmp;
use super::tcp::parse_tcp;
use super::udp::parse_udp;
use super::{FrameError, Link, Parsed, IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, TTL};

pub(super) const IPV4_HEADER: usize = 20;

/// An IPv4 frame (DF set, TTL 64) around `payload` of IP protocol `protocol`.
pub(super) fn ipv4_frame(
    link: Link,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ip_id: u16,
    protocol: u8,
    payload: &[u8],
) -> Vec<u8> {
    let ip_len = IPV4_HEADER + payload.len();
    let mut buf = ethernet(link, ETHERTYPE_IPV4, ETHERNET_HEADER + ip_len);
    let ip_end = ETHERNET_HEADER + ip_len;
    if let Some(mut ip) = MutableIpv4Packet::new(&mut buf[ETHERNET_HEADER..ip_end]) {
        ip.set_version(4);
        ip.set_header_length(5);
        // At most 20 + 24 + 64 KiB of request: the client bounds its sends.
        ip.set_total_length(u16::try_from(ip_len).unwrap_or(u16::MAX));
        ip.set_identification(ip_id);
        ip.set_flags(Ipv4Flags::DontFragment);
        ip.set_ttl(TTL);
        ip.set_next_level_protocol(IpNextHeaderProtocol(protocol));
        ip.set_source(src);
        ip.set_destination(dst);
        let sum = ipv4::checksum(&ip.to_immutable());
        ip.set_checksum(sum);
        ip.set_payload(payload);
    }
    buf
}

pub(super) fn parse_ipv4(
    link: Link,
    data: &[u8],
    checksum_verified: bool,
) -> Result<Parsed, FrameError> {
    let ip = Ipv4Packet::new(data).ok_or(FrameError::TooShort {
        what: "IPv4 packet",
        len: data.len(),
    })?;
    if ip.get_version() != 4 {
        return Err(FrameError::BadIpVersion(ip.get_version()));
    }
    let header_len = usize::from(ip.get_header_length()) * 4;
    let total = match usize::from(ip.get_total_length()) {
        // BIG TCP (Linux 6.3+, gro_max_size above 64 KiB): a GRO-merged
        // packet longer than the field can say has total length 0, and
        // its length is what the kernel handed us.
        0 if data.len() > usize::from(u16::MAX) => data.len(),
        total => total,
    };
    if header_len < IPV4_HEADER {
        return Err(FrameError::BadIhl(ip.get_header_length()));
    }
    // Ethernet pads short frames, so the packet may be shorter than the
    // frame, never longer.
    if total < header_len || total > data.len() {
        return Err(FrameError::BadTotalLength {
            total,
            available: data.len(),
        });
    }
    let packet = &data[..total];
    let ip = Ipv4Packet::new(packet).ok_or(FrameError::TooShort {
        what: "IPv4 packet",
        len: total,
    })?;
    if ipv4::checksum(&ip) != ip.get_checksum() {
        return Err(FrameError::BadIpChecksum);
    }
    if ip.get_fragment_offset() != 0 || ip.get_flags() & Ipv4Flags::MoreFragments != 0 {
        return Err(FrameError::Fragment);
    }
    let (src, dst) = (ip.get_source(), ip.get_destination());
    let addresses = (src.into(), dst.into());
    let body = &packet[header_len..];
    match ip.get_next_level_protocol().0 {
        IPPROTO_TCP => parse_tcp(link, addresses, body, checksum_verified).map(Parsed::Tcp),
        IPPROTO_UDP => parse_udp(link, addresses, body, checksum_verified).map(Parsed::Udp),
        IPPROTO_ICMP => parse_icmp(link, src, dst, body),
        _ => Ok(Parsed::Other(ETHERTYPE_IPV4)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::wire::testing::*;
    use crate::net::wire::*;
    use pnet_packet::ip::IpNextHeaderProtocols;

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

    /// BIG TCP (gro_max_size above 64 KiB): total length 0, the packet as
    /// long as what arrived. GRO-merged frames come checksum-verified.
    #[test]
    fn a_big_tcp_packet_over_64_kib_is_taken_whole() {
        let mut seg = data_segment();
        seg.payload = vec![0x5a; 70_000];
        let big = big_tcp_frame(flow(), &seg);
        assert_eq!(big.len(), 14 + 20 + 20 + 70_000);
        assert_eq!(parsed_tcp_verified(&big).segment, seg);
        // Total length 0 on a packet that fits the field is no BIG TCP.
        let small = with_ip_header(tcp_frame(link(), flow(), 1, &data_segment()), |ip| {
            ip.set_total_length(0)
        });
        assert!(matches!(
            parse(&small, true),
            Err(FrameError::BadTotalLength { total: 0, .. })
        ));
    }

    fn parsed_tcp_verified(frame: &[u8]) -> TcpFrame {
        match parse(frame, true) {
            Ok(Parsed::Tcp(f)) => f,
            other => panic!("{other:?}"),
        }
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
}
