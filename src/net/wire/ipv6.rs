//! IPv6 (RFC 8200): the header we put on our frames and the checks on the
//! ones we receive (version, payload length against what arrived). Our
//! peers' replies carry no extension header but the hop-by-hop one that
//! Linux's GRO puts on a BIG TCP packet over 64 KiB (gro_max_size above
//! 65536), whose jumbo option (RFC 2675) says the length; newer kernels
//! leave it out, and payload length 0 then means the length received.
//! The payload goes on to TCP, UDP or ICMPv6. Also the multicast
//! addresses Neighbor Discovery sends to.

use std::net::Ipv6Addr;

use pnet_datalink::MacAddr;
use pnet_packet::ip::IpNextHeaderProtocol;
use pnet_packet::ipv6::{Ipv6Packet, MutableIpv6Packet};

use super::ethernet::{ethernet, ETHERNET_HEADER, ETHERTYPE_IPV6};
use super::icmp::parse_icmpv6;
use super::tcp::parse_tcp;
use super::udp::parse_udp;
use super::{FrameError, Link, Parsed, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP};

pub(super) const IPV6_HEADER: usize = 40;

/// An IPv6 frame around `payload` (next header `next`).
pub(super) fn ipv6_frame(
    link: Link,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    hop_limit: u8,
    payload: &[u8],
) -> Vec<u8> {
    let ip_len = IPV6_HEADER + payload.len();
    let mut buf = ethernet(link, ETHERTYPE_IPV6, ETHERNET_HEADER + ip_len);
    let ip_end = ETHERNET_HEADER + ip_len;
    if let Some(mut ip) = MutableIpv6Packet::new(&mut buf[ETHERNET_HEADER..ip_end]) {
        ip.set_version(6);
        ip.set_payload_length(u16::try_from(payload.len()).unwrap_or(u16::MAX));
        ip.set_next_header(IpNextHeaderProtocol(next));
        ip.set_hop_limit(hop_limit);
        ip.set_source(src);
        ip.set_destination(dst);
        ip.set_payload(payload);
    }
    buf
}

/// IPv6 without extension headers: TCP, UDP, or ICMPv6. Our peers'
/// replies carry none; anything else is `Other` and ignored.
pub(super) fn parse_ipv6(
    link: Link,
    data: &[u8],
    checksum_verified: bool,
) -> Result<Parsed, FrameError> {
    let ip = Ipv6Packet::new(data).ok_or(FrameError::TooShort {
        what: "IPv6 packet",
        len: data.len(),
    })?;
    if ip.get_version() != 6 {
        return Err(FrameError::BadIpVersion(ip.get_version()));
    }
    let available = data.len() - IPV6_HEADER;
    let field = usize::from(ip.get_payload_length());
    let mut next = ip.get_next_header().0;
    // Bytes of the hop-by-hop header once read (never 0 then).
    let mut options_len = 0;
    let declared = if field == 0 && next == IPPROTO_HOPOPTS {
        // RFC 2675: payload length 0 says the jumbo option has it.
        let (after, len, jumbo) = hop_by_hop(&data[IPV6_HEADER..])?;
        (next, options_len) = (after, len);
        jumbo.ok_or(FrameError::BadJumbo)?
    } else if field == 0 && available > usize::from(u16::MAX) {
        // BIG TCP without the option (Linux 6.x): a GRO-merged packet
        // over 64 KiB says 0, and its length is what the kernel handed us.
        available
    } else {
        field
    };
    if declared > available {
        return Err(FrameError::BadPayloadLength {
            declared,
            available,
        });
    }
    let payload = &data[IPV6_HEADER..IPV6_HEADER + declared];
    if options_len == 0 && next == IPPROTO_HOPOPTS {
        let (after, len, jumbo) = hop_by_hop(payload)?;
        if jumbo.is_some() {
            // RFC 2675 3: a jumbo option goes with payload length 0 only.
            return Err(FrameError::BadJumbo);
        }
        (next, options_len) = (after, len);
    }
    let payload = payload
        .get(options_len..)
        .ok_or(FrameError::BadExtensionHeader)?;
    let (src_ip, dst_ip) = (ip.get_source(), ip.get_destination());
    let addresses = (src_ip.into(), dst_ip.into());
    match next {
        IPPROTO_TCP => parse_tcp(link, addresses, payload, checksum_verified).map(Parsed::Tcp),
        IPPROTO_UDP => parse_udp(link, addresses, payload, checksum_verified).map(Parsed::Udp),
        IPPROTO_ICMPV6 => parse_icmpv6(link, ip.get_hop_limit(), src_ip, dst_ip, payload),
        _ => Ok(Parsed::Other(ETHERTYPE_IPV6)),
    }
}

/// IPv6 next header 0: the hop-by-hop options header (RFC 8200 4.3).
const IPPROTO_HOPOPTS: u8 = 0;
/// The jumbo payload option (RFC 2675 2): 4 bytes, the payload length.
const OPTION_JUMBO: u8 = 0xc2;
const OPTION_PAD1: u8 = 0;

/// The hop-by-hop header at the start of `data`: its next header, its
/// length, and the jumbo payload length if it carries one (more than
/// 64 KiB, as RFC 2675 requires; Linux's GRO puts one on BIG TCP packets
/// up to 6.x). Every length is checked; other options are skipped.
fn hop_by_hop(data: &[u8]) -> Result<(u8, usize, Option<usize>), FrameError> {
    let (&next, &units) = match data {
        [next, units, ..] => (next, units),
        _ => return Err(FrameError::BadExtensionHeader),
    };
    let len = (usize::from(units) + 1) * 8;
    let mut options = data.get(2..len).ok_or(FrameError::BadExtensionHeader)?;
    let mut jumbo = None;
    // Every step consumes at least one byte: bounded by the header.
    while let Some(&kind) = options.first() {
        if kind == OPTION_PAD1 {
            options = &options[1..];
            continue;
        }
        let size = usize::from(*options.get(1).ok_or(FrameError::BadExtensionHeader)?);
        let value = options
            .get(2..2 + size)
            .ok_or(FrameError::BadExtensionHeader)?;
        if kind == OPTION_JUMBO {
            let bytes: [u8; 4] = value.try_into().map_err(|_| FrameError::BadJumbo)?;
            let length = u32::from_be_bytes(bytes) as usize;
            if length <= usize::from(u16::MAX) || jumbo.is_some() {
                return Err(FrameError::BadJumbo);
            }
            jumbo = Some(length);
        }
        options = &options[2 + size..];
    }
    Ok((next, len, jumbo))
}

/// The Ethernet multicast address an IPv6 multicast group maps to (RFC 2464 7).
pub(super) fn ipv6_multicast_mac(group: Ipv6Addr) -> MacAddr {
    let o = group.octets();
    MacAddr(0x33, 0x33, o[12], o[13], o[14], o[15])
}

/// The solicited-node multicast address of `target` (RFC 4291 2.7.1).
pub(super) fn solicited_node(target: Ipv6Addr) -> Ipv6Addr {
    let o = target.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::wire::testing::*;
    use crate::net::wire::*;

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

    fn big_segment() -> crate::net::tcp::Segment {
        let mut seg = data_segment();
        seg.payload = vec![0xa5; 70_000];
        seg
    }

    /// Set the payload length field of `frame` to `len`.
    fn with_payload_length(mut frame: Vec<u8>, len: u16) -> Vec<u8> {
        frame[ETHERNET_HEADER + 4..ETHERNET_HEADER + 6].copy_from_slice(&len.to_be_bytes());
        frame
    }

    /// `frame` with a hop-by-hop header of `options` (6 bytes) before its
    /// TCP segment, as Linux's GRO adds one for a BIG TCP packet.
    fn with_hop_by_hop(frame: Vec<u8>, options: [u8; 6]) -> Vec<u8> {
        let at = ETHERNET_HEADER + IPV6_HEADER;
        let mut out = frame[..at].to_vec();
        out[ETHERNET_HEADER + 6] = IPPROTO_HOPOPTS;
        out.extend_from_slice(&[IPPROTO_TCP, 0]);
        out.extend_from_slice(&options);
        out.extend_from_slice(&frame[at..]);
        out
    }

    fn jumbo(len: u32) -> [u8; 6] {
        let l = len.to_be_bytes();
        [OPTION_JUMBO, 4, l[0], l[1], l[2], l[3]]
    }

    /// BIG TCP over IPv6: payload length 0 and the length in a jumbo
    /// option of a hop-by-hop header (Linux up to 6.x), or no option and
    /// the length received (newer kernels). Both are taken whole, the TCP
    /// checksum verified over the real length.
    #[test]
    fn a_big_tcp_packet_over_64_kib_is_taken_whole() {
        let seg = big_segment();
        let without = big_tcp_frame(flow6(), &seg);
        let tcp_len = without.len() - ETHERNET_HEADER - IPV6_HEADER;
        let with_option = with_hop_by_hop(without.clone(), jumbo(tcp_len as u32 + 8));
        for frame in [with_option, without] {
            for verified in [false, true] {
                match parse(&frame, verified) {
                    Ok(Parsed::Tcp(t)) => assert_eq!(t.segment, seg),
                    other => panic!("{other:?}"),
                }
            }
        }
    }

    #[test]
    fn jumbo_options_out_of_their_rules_are_refused() {
        let plain = big_tcp_frame(flow6(), &big_segment());
        let tcp_len = (plain.len() - ETHERNET_HEADER - IPV6_HEADER) as u32;
        let zero = || plain.clone();
        // Longer than what arrived.
        let long = with_hop_by_hop(zero(), jumbo(tcp_len + 9));
        assert!(matches!(
            parse(&long, true),
            Err(FrameError::BadPayloadLength { .. })
        ));
        // Payload length 0 and a hop-by-hop header without the option.
        let padded = with_hop_by_hop(zero(), [1, 4, 0, 0, 0, 0]);
        assert_eq!(parse(&padded, true), Err(FrameError::BadJumbo));
        // A jumbo length that would fit the header's own field.
        let small = with_hop_by_hop(zero(), jumbo(60_000));
        assert_eq!(parse(&small, true), Err(FrameError::BadJumbo));
        // A jumbo option beside a payload length.
        let seg = data_segment();
        let frame = tcp_frame(link(), flow6(), 0, &seg);
        let len = (frame.len() - ETHERNET_HEADER - IPV6_HEADER + 8) as u16;
        let both = with_payload_length(with_hop_by_hop(frame.clone(), jumbo(70_000)), len);
        assert_eq!(parse(&both, true), Err(FrameError::BadJumbo));
        // A hop-by-hop header of padding alone is stepped over.
        let padded = with_payload_length(with_hop_by_hop(frame, [1, 4, 0, 0, 0, 0]), len);
        match parse(&padded, false) {
            Ok(Parsed::Tcp(t)) => assert_eq!(t.segment, seg),
            other => panic!("{other:?}"),
        }
        // Payload length 0 on a packet that fits the field: nothing in it.
        let empty = with_payload_length(tcp_frame(link(), flow6(), 0, &seg), 0);
        assert!(parse(&empty, true).is_err());
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
}
