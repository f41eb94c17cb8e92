//! Ethernet frames in and out: ARP and TCP over IPv4, built and parsed with
//! pnet_packet.
//!
//! Parsing is the one place where bytes off the wire are validated: lengths
//! (Ethernet, IHL, total length, data offset, options) are checked before any
//! accessor that depends on them, checksums are verified, and the result is a
//! plain struct the rest of the program trusts. Nothing here panics on any
//! input; malformed frames come back as a `FrameError` saying what was wrong.

use std::fmt;
use std::net::Ipv4Addr;

use pnet_datalink::MacAddr;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, ArpPacket, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, EthernetPacket, MutableEthernetPacket};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::{self, Ipv4Flags, Ipv4Packet, MutableIpv4Packet};
use pnet_packet::tcp::{self, MutableTcpPacket, TcpOption, TcpPacket};

use super::tcp::{Flags, Segment, Seq};

pub const ETHERNET_HEADER: usize = 14;
const IPV4_HEADER: usize = 20;
const TCP_HEADER: usize = 20;
const ARP_PACKET: usize = 28;
/// Shortest Ethernet frame without FCS; shorter frames are padded.
const MIN_FRAME: usize = 60;
/// TTL of the frames we send, like the kernel's default.
const TTL: u8 = 64;

/// Link-layer addresses of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub src: MacAddr,
    pub dst: MacAddr,
}

/// The IPv4 and TCP addressing of one direction of our flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
}

impl Flow {
    /// The same flow seen from the other end.
    pub fn reversed(&self) -> Flow {
        Flow {
            src_ip: self.dst_ip,
            dst_ip: self.src_ip,
            src_port: self.dst_port,
            dst_port: self.src_port,
        }
    }
}

/// An ARP packet's addresses (request or reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    pub is_reply: bool,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

/// A parsed, validated TCP/IPv4 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpFrame {
    pub link: Link,
    pub flow: Flow,
    pub segment: Segment,
}

/// What a received frame turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Arp(Arp),
    Tcp(TcpFrame),
    /// Valid, but neither ARP nor TCP/IPv4 (the kernel filter should keep
    /// these away; seen only if the filter could not be attached).
    Other(u16),
}

/// Why a frame was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    TooShort { what: &'static str, len: usize },
    BadIpVersion(u8),
    BadIhl(u8),
    BadTotalLength { total: usize, available: usize },
    Fragment,
    BadIpChecksum,
    BadDataOffset(u8),
    BadTcpOption,
    BadTcpChecksum,
    UnsupportedArp,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooShort { what, len } => write!(f, "{what} too short ({len} bytes)"),
            FrameError::BadIpVersion(v) => write!(f, "IP version {v} in an IPv4 frame"),
            FrameError::BadIhl(ihl) => write!(f, "bad IPv4 header length {ihl}"),
            FrameError::BadTotalLength { total, available } => write!(
                f,
                "IPv4 total length {total} does not fit the {available} bytes received"
            ),
            FrameError::Fragment => f.write_str("IPv4 fragment"),
            FrameError::BadIpChecksum => f.write_str("bad IPv4 header checksum"),
            FrameError::BadDataOffset(d) => write!(f, "bad TCP data offset {d}"),
            FrameError::BadTcpOption => f.write_str("malformed TCP options"),
            FrameError::BadTcpChecksum => f.write_str("bad TCP checksum"),
            FrameError::UnsupportedArp => {
                f.write_str("ARP for something other than IPv4 over Ethernet")
            }
        }
    }
}

/// A broadcast ARP request: who has `target_ip`? tell `src_ip`.
pub fn arp_request(src_mac: MacAddr, src_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Vec<u8> {
    let mut buf = vec![0u8; MIN_FRAME];
    if let Some(mut eth) = MutableEthernetPacket::new(&mut buf) {
        eth.set_destination(MacAddr::broadcast());
        eth.set_source(src_mac);
        eth.set_ethertype(EtherTypes::Arp);
    }
    if let Some(mut arp) = MutableArpPacket::new(&mut buf[ETHERNET_HEADER..]) {
        arp.set_hardware_type(ArpHardwareTypes::Ethernet);
        arp.set_protocol_type(EtherTypes::Ipv4);
        arp.set_hw_addr_len(6);
        arp.set_proto_addr_len(4);
        arp.set_operation(ArpOperations::Request);
        arp.set_sender_hw_addr(src_mac);
        arp.set_sender_proto_addr(src_ip);
        arp.set_target_hw_addr(MacAddr::zero());
        arp.set_target_proto_addr(target_ip);
    }
    buf
}

/// Bytes of TCP options we put in a segment (MSS on SYNs only).
fn options_len(seg: &Segment) -> usize {
    if seg.mss.is_some() {
        4
    } else {
        0
    }
}

/// Size of the frame `tcp_ipv4` builds for `seg`.
pub fn tcp_frame_len(seg: &Segment) -> usize {
    (ETHERNET_HEADER + IPV4_HEADER + TCP_HEADER + options_len(seg) + seg.payload.len())
        .max(MIN_FRAME)
}

/// A TCP/IPv4 frame carrying `seg`, checksums filled in.
pub fn tcp_ipv4(link: Link, flow: Flow, ip_id: u16, seg: &Segment) -> Vec<u8> {
    let tcp_len = TCP_HEADER + options_len(seg) + seg.payload.len();
    let ip_len = IPV4_HEADER + tcp_len;
    let mut buf = vec![0u8; tcp_frame_len(seg)];
    if let Some(mut eth) = MutableEthernetPacket::new(&mut buf) {
        eth.set_destination(link.dst);
        eth.set_source(link.src);
        eth.set_ethertype(EtherTypes::Ipv4);
    }
    let ip_end = ETHERNET_HEADER + ip_len;
    if let Some(mut ip) = MutableIpv4Packet::new(&mut buf[ETHERNET_HEADER..ip_end]) {
        ip.set_version(4);
        ip.set_header_length(5);
        // ip_len is at most 20 + 20 + 4 + 64 KiB of request, checked by the caller.
        ip.set_total_length(u16::try_from(ip_len).unwrap_or(u16::MAX));
        ip.set_identification(ip_id);
        ip.set_flags(Ipv4Flags::DontFragment);
        ip.set_ttl(TTL);
        ip.set_next_level_protocol(IpNextHeaderProtocols::Tcp);
        ip.set_source(flow.src_ip);
        ip.set_destination(flow.dst_ip);
        let sum = ipv4::checksum(&ip.to_immutable());
        ip.set_checksum(sum);
    }
    let tcp_start = ETHERNET_HEADER + IPV4_HEADER;
    if let Some(mut tcp) = MutableTcpPacket::new(&mut buf[tcp_start..ip_end]) {
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
        let sum = tcp::ipv4_checksum(&tcp.to_immutable(), &flow.src_ip, &flow.dst_ip);
        tcp.set_checksum(sum);
    }
    buf
}

/// Parse one received frame. `checksum_verified` is the kernel's word
/// (PACKET_AUXDATA) that the TCP checksum was already checked or is not
/// filled in yet (offloaded); otherwise we verify it.
pub fn parse(frame: &[u8], checksum_verified: bool) -> Result<Parsed, FrameError> {
    let eth = EthernetPacket::new(frame).ok_or(FrameError::TooShort {
        what: "Ethernet frame",
        len: frame.len(),
    })?;
    let link = Link {
        src: eth.get_source(),
        dst: eth.get_destination(),
    };
    let payload = &frame[ETHERNET_HEADER..];
    match eth.get_ethertype() {
        EtherTypes::Arp => parse_arp(payload).map(Parsed::Arp),
        EtherTypes::Ipv4 => parse_ipv4(link, payload, checksum_verified),
        other => Ok(Parsed::Other(other.0)),
    }
}

fn parse_arp(data: &[u8]) -> Result<Arp, FrameError> {
    let arp = ArpPacket::new(data).ok_or(FrameError::TooShort {
        what: "ARP packet",
        len: data.len(),
    })?;
    if data.len() < ARP_PACKET
        || arp.get_hardware_type() != ArpHardwareTypes::Ethernet
        || arp.get_protocol_type() != EtherTypes::Ipv4
        || arp.get_hw_addr_len() != 6
        || arp.get_proto_addr_len() != 4
    {
        return Err(FrameError::UnsupportedArp);
    }
    Ok(Arp {
        is_reply: arp.get_operation() == ArpOperations::Reply,
        sender_mac: arp.get_sender_hw_addr(),
        sender_ip: arp.get_sender_proto_addr(),
        target_mac: arp.get_target_hw_addr(),
        target_ip: arp.get_target_proto_addr(),
    })
}

fn parse_ipv4(link: Link, data: &[u8], checksum_verified: bool) -> Result<Parsed, FrameError> {
    let ip = Ipv4Packet::new(data).ok_or(FrameError::TooShort {
        what: "IPv4 packet",
        len: data.len(),
    })?;
    if ip.get_version() != 4 {
        return Err(FrameError::BadIpVersion(ip.get_version()));
    }
    let header_len = usize::from(ip.get_header_length()) * 4;
    let total = usize::from(ip.get_total_length());
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
    if ip.get_next_level_protocol() != IpNextHeaderProtocols::Tcp {
        return Ok(Parsed::Other(EtherTypes::Ipv4.0));
    }
    let src_ip = ip.get_source();
    let dst_ip = ip.get_destination();
    let segment_bytes = &packet[header_len..];
    let (ports, segment) = parse_tcp(segment_bytes, checksum_verified, |tcp| {
        tcp::ipv4_checksum(tcp, &src_ip, &dst_ip)
    })?;
    Ok(Parsed::Tcp(TcpFrame {
        link,
        flow: Flow {
            src_ip,
            dst_ip,
            src_port: ports.0,
            dst_port: ports.1,
        },
        segment,
    }))
}

/// Validate and decode a TCP segment; `checksum` computes the expected
/// checksum with the network layer's pseudo-header.
fn parse_tcp(
    data: &[u8],
    checksum_verified: bool,
    checksum: impl Fn(&TcpPacket) -> u16,
) -> Result<((u16, u16), Segment), FrameError> {
    let tcp = TcpPacket::new(data).ok_or(FrameError::TooShort {
        what: "TCP segment",
        len: data.len(),
    })?;
    let offset = tcp.get_data_offset();
    let header_len = usize::from(offset) * 4;
    if header_len < TCP_HEADER || header_len > data.len() {
        return Err(FrameError::BadDataOffset(offset));
    }
    if !checksum_verified && checksum(&tcp) != tcp.get_checksum() {
        return Err(FrameError::BadTcpChecksum);
    }
    let mss = parse_mss(&data[TCP_HEADER..header_len])?;
    let segment = Segment {
        seq: Seq(tcp.get_sequence()),
        ack: Seq(tcp.get_acknowledgement()),
        flags: Flags(tcp.get_flags()),
        window: tcp.get_window(),
        mss,
        payload: data[header_len..].to_vec(),
    };
    Ok(((tcp.get_source(), tcp.get_destination()), segment))
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
            "({}) {}:{} > {}:{} ({}) {}",
            self.link.src,
            self.flow.src_ip,
            self.flow.src_port,
            self.flow.dst_ip,
            self.flow.dst_port,
            self.link.dst,
            self.segment
        )
    }
}

impl fmt::Display for Arp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_reply {
            write!(f, "ARP reply {} is-at {}", self.sender_ip, self.sender_mac)
        } else {
            write!(
                f,
                "ARP request who-has {} tell {} ({})",
                self.target_ip, self.sender_ip, self.sender_mac
            )
        }
    }
}

#[cfg(test)]
mod tests;
