//! UDP datagrams (RFC 768) on the wire: the datagrams our checks send
//! and the checks on the replies (length against the IP payload, checksum
//! with the pseudo-header, and IPv6's rule that it must be there).

use std::fmt;
use std::net::IpAddr;

use pnet_packet::udp::{self, MutableUdpPacket, UdpPacket};

use super::{checksum_matches, ip_frame, Flow, FrameError, Link, IPPROTO_UDP};

const UDP_HEADER: usize = 8;

/// A parsed, validated UDP datagram (IPv4 or IPv6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpFrame {
    pub link: Link,
    pub flow: Flow,
    pub payload: Vec<u8>,
}

/// A UDP frame carrying `payload` (at most 65,507 bytes) over the flow's
/// IP family, checksums filled in; empty for mixed families. A computed
/// checksum of 0 goes out as 0xffff, since 0 would mean "none" (RFC 768).
pub fn udp_frame(link: Link, flow: Flow, ip_id: u16, payload: &[u8]) -> Vec<u8> {
    let len = UDP_HEADER + payload.len();
    let mut buf = vec![0u8; len];
    if let Some(mut udp) = MutableUdpPacket::new(&mut buf) {
        udp.set_source(flow.src_port);
        udp.set_destination(flow.dst_port);
        udp.set_length(u16::try_from(len).unwrap_or(u16::MAX));
        udp.set_payload(payload);
    }
    let checksum = match (flow.src_ip, flow.dst_ip) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            UdpPacket::new(&buf).map(|u| udp::ipv4_checksum(&u, &src, &dst))
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            UdpPacket::new(&buf).map(|u| udp::ipv6_checksum(&u, &src, &dst))
        }
        _ => return Vec::new(),
    };
    if let Some(sum) = checksum {
        let sum = if sum == 0 { 0xffff } else { sum };
        buf[6..8].copy_from_slice(&sum.to_be_bytes());
    }
    ip_frame(link, flow, ip_id, IPPROTO_UDP, &buf)
}

/// Validate and decode the UDP datagram that `addresses` (source,
/// destination) carried: its length must fit the IP payload (bytes past
/// it are padding), and its checksum is verified unless the kernel did.
pub(super) fn parse_udp(
    link: Link,
    addresses: (IpAddr, IpAddr),
    data: &[u8],
    checksum_verified: bool,
) -> Result<UdpFrame, FrameError> {
    let udp = UdpPacket::new(data).ok_or(FrameError::TooShort {
        what: "UDP datagram",
        len: data.len(),
    })?;
    let declared = usize::from(udp.get_length());
    if declared < UDP_HEADER || declared > data.len() {
        return Err(FrameError::BadUdpLength {
            declared,
            available: data.len(),
        });
    }
    let data = &data[..declared];
    let udp = UdpPacket::new(data).ok_or(FrameError::TooShort {
        what: "UDP datagram",
        len: declared,
    })?;
    // With the kernel's word the field may hold a partial sum (offload),
    // so not even the IPv6 zero rule applies to it.
    if !checksum_verified {
        let field = udp.get_checksum();
        let expected = match addresses {
            // IPv4: 0 means the sender computed none.
            (IpAddr::V4(_), IpAddr::V4(_)) if field == 0 => None,
            (IpAddr::V4(s), IpAddr::V4(d)) => Some(udp::ipv4_checksum(&udp, &s, &d)),
            (IpAddr::V6(_), IpAddr::V6(_)) if field == 0 => {
                return Err(FrameError::MissingUdpChecksum)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => Some(udp::ipv6_checksum(&udp, &s, &d)),
            // No frame carries mixed families.
            _ => return Err(FrameError::BadUdpChecksum),
        };
        if expected.is_some_and(|sum| !checksum_matches(sum, field)) {
            return Err(FrameError::BadUdpChecksum);
        }
    }
    Ok(UdpFrame {
        link,
        flow: Flow {
            src_ip: addresses.0,
            dst_ip: addresses.1,
            src_port: udp.get_source(),
            dst_port: udp.get_destination(),
        },
        payload: data[UDP_HEADER..].to_vec(),
    })
}

impl fmt::Display for UdpFrame {
    /// Like a TCP frame's line; the payload only by its length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "({}) {} > {} ({}) UDP, {} bytes",
            self.link.src,
            std::net::SocketAddr::new(self.flow.src_ip, self.flow.src_port),
            std::net::SocketAddr::new(self.flow.dst_ip, self.flow.dst_port),
            self.link.dst,
            self.payload.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::wire::testing::*;
    use crate::net::wire::*;
    use pnet_packet::ip::IpNextHeaderProtocols;
    use pnet_packet::ipv4::Ipv4Packet;

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
}
