//! IPv6 (RFC 8200) without extension headers: the header we put on our
//! frames and the checks on the ones we receive (version, payload length
//! against what arrived). Our peers' replies carry no extension headers;
//! the payload goes on to TCP, UDP or ICMPv6. Also the multicast
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
    let declared = usize::from(ip.get_payload_length());
    let available = data.len() - IPV6_HEADER;
    if declared > available {
        return Err(FrameError::BadPayloadLength {
            declared,
            available,
        });
    }
    let payload = &data[IPV6_HEADER..IPV6_HEADER + declared];
    let (src_ip, dst_ip) = (ip.get_source(), ip.get_destination());
    let addresses = (src_ip.into(), dst_ip.into());
    match ip.get_next_header().0 {
        IPPROTO_TCP => parse_tcp(link, addresses, payload, checksum_verified).map(Parsed::Tcp),
        IPPROTO_UDP => parse_udp(link, addresses, payload, checksum_verified).map(Parsed::Udp),
        IPPROTO_ICMPV6 => parse_icmpv6(link, ip.get_hop_limit(), src_ip, dst_ip, payload),
        _ => Ok(Parsed::Other(ETHERTYPE_IPV6)),
    }
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
