//! TCP segments (RFC 9293) on the wire: the header and MSS option of the
//! segments our client sends, and the checks on the ones it receives (data
//! offset, options walked with every length checked, checksum with the
//! pseudo-header). The segment itself (`net::tcp::Segment`) is the state
//! machine's; this file only puts it into bytes and takes it out.

use std::fmt;
use std::net::IpAddr;

use pnet_packet::tcp::{self, MutableTcpPacket, TcpOption, TcpPacket};

use super::ipv4::IPV4_HEADER;
use super::ipv6::IPV6_HEADER;
use super::{ip_frame, Flow, FrameError, Link, IPPROTO_TCP};
use crate::net::tcp::{Flags, Segment, Seq};

const TCP_HEADER: usize = 20;

/// A parsed, validated TCP frame (IPv4 or IPv6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpFrame {
    pub link: Link,
    pub flow: Flow,
    pub segment: Segment,
}

/// The MSS to announce on a link of `mtu`: the MTU less the IP and TCP
/// headers (40 bytes for IPv4, 60 for IPv6), kept within what TCP allows.
pub fn mss_for_mtu(mtu: u32, ipv6: bool) -> u16 {
    let headers = if ipv6 { IPV6_HEADER } else { IPV4_HEADER } + TCP_HEADER;
    let mss = mtu.saturating_sub(headers as u32).clamp(536, 65_495);
    u16::try_from(mss).unwrap_or(1460)
}

/// Bytes of TCP options we put in a segment (MSS on SYNs only).
fn options_len(seg: &Segment) -> usize {
    if seg.mss.is_some() {
        4
    } else {
        0
    }
}

/// The TCP header and payload of `seg`, checksum left zero.
fn tcp_bytes(flow: Flow, seg: &Segment) -> Vec<u8> {
    let mut buf = vec![0u8; TCP_HEADER + options_len(seg) + seg.payload.len()];
    if let Some(mut tcp) = MutableTcpPacket::new(&mut buf) {
        tcp.set_source(flow.src_port);
        tcp.set_destination(flow.dst_port);
        tcp.set_sequence(seg.seq.0);
        tcp.set_acknowledgement(seg.ack.0);
        tcp.set_data_offset(((TCP_HEADER + options_len(seg)) / 4) as u8);
        tcp.set_flags(seg.flags.0);
        tcp.set_window(seg.window);
        if let Some(mss) = seg.mss {
            tcp.set_options(&[TcpOption::mss(mss)]);
        }
        tcp.set_payload(&seg.payload);
    }
    buf
}

/// A TCP frame carrying `seg` over the flow's IP family, checksums filled
/// in. `ip_id` is the IPv4 identification (unused for IPv6). A flow of
/// mixed families (refused by the command line) gives an empty frame.
pub fn tcp_frame(link: Link, flow: Flow, ip_id: u16, seg: &Segment) -> Vec<u8> {
    let mut tcp = tcp_bytes(flow, seg);
    let checksum = match (flow.src_ip, flow.dst_ip) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            TcpPacket::new(&tcp).map(|t| tcp::ipv4_checksum(&t, &src, &dst))
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            TcpPacket::new(&tcp).map(|t| tcp::ipv6_checksum(&t, &src, &dst))
        }
        _ => return Vec::new(),
    };
    if let Some(sum) = checksum {
        tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    }
    ip_frame(link, flow, ip_id, IPPROTO_TCP, &tcp)
}

/// The TCP checksum `tcp` should carry, with the pseudo-header of its
/// network layer (`None` for mixed families, which no frame has).
fn expected_checksum(tcp: &TcpPacket, (src, dst): (IpAddr, IpAddr)) -> Option<u16> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Some(tcp::ipv4_checksum(tcp, &s, &d)),
        (IpAddr::V6(s), IpAddr::V6(d)) => Some(tcp::ipv6_checksum(tcp, &s, &d)),
        _ => None,
    }
}

/// Validate and decode the TCP segment that `addresses` (source,
/// destination) carried.
pub(super) fn parse_tcp(
    link: Link,
    addresses: (IpAddr, IpAddr),
    data: &[u8],
    checksum_verified: bool,
) -> Result<TcpFrame, FrameError> {
    let tcp = TcpPacket::new(data).ok_or(FrameError::TooShort {
        what: "TCP segment",
        len: data.len(),
    })?;
    let offset = tcp.get_data_offset();
    let header_len = usize::from(offset) * 4;
    if header_len < TCP_HEADER || header_len > data.len() {
        return Err(FrameError::BadDataOffset(offset));
    }
    if !checksum_verified && expected_checksum(&tcp, addresses) != Some(tcp.get_checksum()) {
        return Err(FrameError::BadTcpChecksum);
    }
    let mss = parse_mss(&data[TCP_HEADER..header_len])?;
    Ok(TcpFrame {
        link,
        flow: Flow {
            src_ip: addresses.0,
            dst_ip: addresses.1,
            src_port: tcp.get_source(),
            dst_port: tcp.get_destination(),
        },
        segment: Segment {
            seq: Seq(tcp.get_sequence()),
            ack: Seq(tcp.get_acknowledgement()),
            flags: Flags(tcp.get_flags()),
            window: tcp.get_window(),
            mss,
            payload: data[header_len..].to_vec(),
        },
    })
}

/// Walk the TCP options for MSS, checking every length byte on the way.
fn parse_mss(mut options: &[u8]) -> Result<Option<u16>, FrameError> {
    const END: u8 = 0;
    const NOP: u8 = 1;
    const MSS: u8 = 2;
    let mut mss = None;
    // Every step consumes at least one byte, so this ends within 40 steps.
    while let Some(&kind) = options.first() {
        match kind {
            END => break,
            NOP => options = &options[1..],
            _ => {
                let len = usize::from(*options.get(1).ok_or(FrameError::BadTcpOption)?);
                if len < 2 || len > options.len() {
                    return Err(FrameError::BadTcpOption);
                }
                if kind == MSS {
                    if len != 4 {
                        return Err(FrameError::BadTcpOption);
                    }
                    mss = Some(u16::from_be_bytes([options[2], options[3]]));
                }
                options = &options[len..];
            }
        }
    }
    Ok(mss)
}

impl fmt::Display for TcpFrame {
    /// One tcpdump-like line, as the C original printed frames.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "({}) {} > {} ({}) {}",
            self.link.src,
            std::net::SocketAddr::new(self.flow.src_ip, self.flow.src_port),
            std::net::SocketAddr::new(self.flow.dst_ip, self.flow.dst_port),
            self.link.dst,
            self.segment
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::wire::testing::*;
    use crate::net::wire::*;

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
    fn large_segment_round_trip() {
        let mut seg = data_segment();
        seg.payload = (0..60_000u32).map(|i| i as u8).collect();
        let frame = tcp_frame(link(), flow(), 1, &seg);
        assert_eq!(parsed_tcp(&frame).segment.payload, seg.payload);
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
    fn display_is_tcpdump_like() {
        let frame = tcp_frame(link(), flow(), 1, &syn());
        let line = parsed_tcp(&frame).to_string();
        assert_eq!(
            line,
            "(02:00:00:00:00:01) 198.51.100.1:40000 > 203.0.113.10:80 (02:00:00:00:00:11) \
             Flags [S], seq 3735928559, win 65535, options [mss 1460], length 0"
        );
    }

    #[test]
    fn mss_follows_the_mtu_and_family() {
        assert_eq!(mss_for_mtu(1500, false), 1460);
        assert_eq!(mss_for_mtu(1500, true), 1440);
        assert_eq!(mss_for_mtu(9000, false), 8960);
        assert_eq!(mss_for_mtu(100, false), 536, "never below TCP's minimum");
        assert_eq!(mss_for_mtu(1 << 20, true), 65_495);
    }
}
