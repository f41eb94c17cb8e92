//! TCP segments (RFC 9293) on the wire: the header and MSS option of the
//! segments our client sends, and the checks on the ones it receives (data
//! offset, options walked with every length checked, checksum with the
//! pseudo-header). The segment itself (`net::tcp::Segment`) is the state
//! machine's; this file only puts it into bytes and takes it out.

use std::fmt;
use std::net::IpAddr;

use pnet_packet::tcp::{self, MutableTcpPacket, TcpPacket};

use super::ipv4::IPV4_HEADER;
use super::ipv6::IPV6_HEADER;
use super::{ip_frame, Flow, FrameError, Link, IPPROTO_TCP};
use crate::net::tcp::{Flags, SackBlocks, Segment, Seq};

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

const END: u8 = 0;
const NOP: u8 = 1;
const MSS: u8 = 2;
const SACK_PERMITTED: u8 = 4;
const SACK: u8 = 5;

/// Most option bytes a TCP header holds.
const MAX_OPTIONS: usize = 40;

/// The options of `seg` as bytes, padded to whole words: MSS and
/// SACK-permitted on SYNs, SACK blocks on ACKs, laid out as Linux does
/// (`mss,nop,nop,sackOK`; `nop,nop,sack`).
fn option_bytes(seg: &Segment) -> ([u8; MAX_OPTIONS], usize) {
    let mut bytes = [0u8; MAX_OPTIONS];
    let mut len = 0;
    let mut put = |part: &[u8]| {
        if let Some(room) = bytes.get_mut(len..len + part.len()) {
            room.copy_from_slice(part);
            len += part.len();
        }
    };
    if let Some(mss) = seg.mss {
        let [hi, lo] = mss.to_be_bytes();
        put(&[MSS, 4, hi, lo]);
    }
    if seg.sack_permitted {
        put(&[NOP, NOP, SACK_PERMITTED, 2]);
    }
    let blocks = seg.sack.as_slice();
    if !blocks.is_empty() {
        // At most four blocks: 2 + 32 bytes, within the 40.
        put(&[NOP, NOP, SACK, (2 + 8 * blocks.len()) as u8]);
        for (left, right) in blocks {
            put(&left.0.to_be_bytes());
            put(&right.0.to_be_bytes());
        }
    }
    (bytes, len)
}

/// The TCP header and payload of `seg`, checksum left zero.
fn tcp_bytes(flow: Flow, seg: &Segment) -> Vec<u8> {
    let (options, options_len) = option_bytes(seg);
    let mut buf = vec![0u8; TCP_HEADER + options_len + seg.payload.len()];
    if let Some(mut tcp) = MutableTcpPacket::new(&mut buf) {
        tcp.set_source(flow.src_port);
        tcp.set_destination(flow.dst_port);
        tcp.set_sequence(seg.seq.0);
        tcp.set_acknowledgement(seg.ack.0);
        tcp.set_data_offset(((TCP_HEADER + options_len) / 4) as u8);
        tcp.set_flags(seg.flags.0);
        tcp.set_window(seg.window);
        tcp.get_options_raw_mut()
            .copy_from_slice(&options[..options_len]);
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
    let options = parse_options(&data[TCP_HEADER..header_len])?;
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
            mss: options.mss,
            sack_permitted: options.sack_permitted,
            sack: options.sack,
            payload: data[header_len..].to_vec(),
        },
    })
}

/// The options a segment carried that the client reads.
#[derive(Debug, Default, PartialEq, Eq)]
struct TcpOptions {
    mss: Option<u16>,
    sack_permitted: bool,
    sack: SackBlocks,
}

/// Walk the TCP options for MSS, SACK-permitted and SACK, checking every
/// length byte on the way; others are skipped by their length.
fn parse_options(mut options: &[u8]) -> Result<TcpOptions, FrameError> {
    let mut found = TcpOptions::default();
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
                let body = &options[2..len];
                match kind {
                    MSS => {
                        let &[hi, lo] = body else {
                            return Err(FrameError::BadTcpOption);
                        };
                        found.mss = Some(u16::from_be_bytes([hi, lo]));
                    }
                    SACK_PERMITTED if !body.is_empty() => return Err(FrameError::BadTcpOption),
                    SACK_PERMITTED => found.sack_permitted = true,
                    SACK => found.sack = parse_sack(body)?,
                    _ => {}
                }
                options = &options[len..];
            }
        }
    }
    Ok(found)
}

/// SACK blocks: whole pairs of sequence numbers, one to four of them.
fn parse_sack(body: &[u8]) -> Result<SackBlocks, FrameError> {
    if body.is_empty() || body.len() % 8 != 0 {
        return Err(FrameError::BadTcpOption);
    }
    let mut blocks = SackBlocks::default();
    for pair in body.chunks_exact(8) {
        let left = u32::from_be_bytes([pair[0], pair[1], pair[2], pair[3]]);
        let right = u32::from_be_bytes([pair[4], pair[5], pair[6], pair[7]]);
        if !blocks.push(Seq(left), Seq(right)) {
            return Err(FrameError::BadTcpOption);
        }
    }
    Ok(blocks)
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

    fn mss_of(options: &[u8]) -> Result<Option<u16>, FrameError> {
        parse_options(options).map(|o| o.mss)
    }

    #[test]
    fn tcp_options_are_walked_safely() {
        assert_eq!(mss_of(&[2, 4, 0x05, 0xb4]), Ok(Some(1460)));
        assert_eq!(mss_of(&[1, 1, 2, 4, 0x02, 0x18, 0, 0]), Ok(Some(536)));
        // SACK-permitted, timestamps, window scale, then MSS.
        let linux = [
            4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7, 2, 4, 5, 0xb4,
        ];
        let options = parse_options(&linux).unwrap();
        assert_eq!(options.mss, Some(1460));
        assert!(options.sack_permitted);
        assert_eq!(mss_of(&[]), Ok(None));
        assert_eq!(mss_of(&[0, 99, 99]), Ok(None));
        assert_eq!(mss_of(&[2]), Err(FrameError::BadTcpOption));
        assert_eq!(mss_of(&[2, 0]), Err(FrameError::BadTcpOption));
        assert_eq!(mss_of(&[2, 1, 0]), Err(FrameError::BadTcpOption));
        assert_eq!(mss_of(&[8, 40]), Err(FrameError::BadTcpOption));
        assert_eq!(mss_of(&[2, 3, 0]), Err(FrameError::BadTcpOption));
        // SACK-permitted carries nothing; SACK whole pairs, one to four.
        assert_eq!(mss_of(&[4, 3, 0]), Err(FrameError::BadTcpOption));
        assert_eq!(mss_of(&[5, 2]), Err(FrameError::BadTcpOption));
        assert_eq!(mss_of(&[5, 6, 0, 0, 0, 1]), Err(FrameError::BadTcpOption));
        let five = [[0u8; 8]; 5].concat();
        assert_eq!(
            mss_of(&[&[5, 42][..], &five].concat()),
            Err(FrameError::BadTcpOption)
        );
    }

    #[test]
    fn syn_offers_sack_and_acks_carry_blocks_like_linux() {
        let mut syn = syn();
        syn.sack_permitted = true;
        let frame = tcp_frame(link(), flow(), 1, &syn);
        let options = &frame[ETHERNET_HEADER + IPV4_HEADER + TCP_HEADER..][..8];
        assert_eq!(options, [2, 4, 0x05, 0xb4, 1, 1, 4, 2]);
        assert_eq!(parsed_tcp(&frame).segment, syn);

        let mut ack = data_segment();
        ack.payload.clear();
        for (left, right) in [(100, 200), (300, 400), (500, 600), (700, 800)] {
            assert!(ack.sack.push(Seq(left), Seq(right)));
        }
        assert!(!ack.sack.push(Seq(900), Seq(1000)), "a fifth does not fit");
        let frame = tcp_frame(link(), flow(), 1, &ack);
        let header = &frame[ETHERNET_HEADER + IPV4_HEADER..];
        assert_eq!(usize::from(header[12] >> 4) * 4, TCP_HEADER + 36);
        assert_eq!(header[TCP_HEADER..TCP_HEADER + 4], [1, 1, 5, 34]);
        let parsed = parsed_tcp(&frame);
        assert_eq!(parsed.segment, ack);
        assert!(parsed
            .to_string()
            .ends_with("options [sack 4 {100:200} {300:400} {500:600} {700:800}], length 0"));
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
        let mut offer = syn();
        offer.sack_permitted = true;
        let line = parsed_tcp(&tcp_frame(link(), flow(), 1, &offer)).to_string();
        assert!(
            line.ends_with("options [mss 1460,sackOK], length 0"),
            "{line}"
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
