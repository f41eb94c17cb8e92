//! Ethernet frames in and out: ARP, NDP, and TCP over IPv4 and IPv6, built
//! and parsed with pnet_packet.
//!
//! Parsing is the one place where bytes off the wire are validated: lengths
//! (Ethernet, IHL, total length, data offset, options) are checked before any
//! accessor that depends on them, checksums are verified, and the result is a
//! plain struct the rest of the program trusts. Nothing here panics on any
//! input; malformed frames come back as a `FrameError` saying what was wrong.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_datalink::MacAddr;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, ArpPacket, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, EthernetPacket, MutableEthernetPacket};
use pnet_packet::icmpv6::{self, Icmpv6Packet};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::{self, Ipv4Flags, Ipv4Packet, MutableIpv4Packet};
use pnet_packet::ipv6::{Ipv6Packet, MutableIpv6Packet};
use pnet_packet::tcp::{self, MutableTcpPacket, TcpOption, TcpPacket};

use super::tcp::{Flags, Segment, Seq};

pub const ETHERNET_HEADER: usize = 14;
const IPV4_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
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

/// The IP and TCP addressing of one direction of our flow. Both addresses
/// are of one family (the command line refuses mixed families).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
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

/// A Neighbor Advertisement (the IPv6 answer to "who has").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborAdvert {
    pub src_ip: Ipv6Addr,
    pub target: Ipv6Addr,
    /// From the target link-layer address option, if present.
    pub target_mac: Option<MacAddr>,
}

/// A parsed, validated TCP frame (IPv4 or IPv6).
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
    NeighborAdvert(NeighborAdvert),
    Tcp(TcpFrame),
    /// Valid, but none of the above (the kernel filter keeps these away;
    /// the value is the EtherType).
    Other(u16),
}

/// Why a frame was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    TooShort {
        what: &'static str,
        len: usize,
    },
    BadIpVersion(u8),
    BadIhl(u8),
    BadTotalLength {
        total: usize,
        available: usize,
    },
    Fragment,
    BadIpChecksum,
    BadDataOffset(u8),
    BadTcpOption,
    BadTcpChecksum,
    UnsupportedArp,
    BadPayloadLength {
        declared: usize,
        available: usize,
    },
    BadIcmpv6Checksum,
    /// NDP messages must arrive with hop limit 255 (RFC 4861 7.1.2):
    /// anything else was forwarded by a router, i.e. is off-link.
    BadNdpHopLimit(u8),
    BadNdpOption,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooShort { what, len } => write!(f, "{what} too short ({len} bytes)"),
            FrameError::BadIpVersion(v) => {
                write!(f, "IP version {v} does not match the frame's EtherType")
            }
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
            FrameError::BadPayloadLength {
                declared,
                available,
            } => write!(
                f,
                "IPv6 payload length {declared} does not fit the {available} bytes received"
            ),
            FrameError::BadIcmpv6Checksum => f.write_str("bad ICMPv6 checksum"),
            FrameError::BadNdpHopLimit(h) => {
                write!(f, "NDP message with hop limit {h}, not 255")
            }
            FrameError::BadNdpOption => f.write_str("malformed NDP option"),
        }
    }
}

/// The MSS to announce on a link of `mtu`: the MTU less the IP and TCP
/// headers (40 bytes for IPv4, 60 for IPv6), kept within what TCP allows.
pub fn mss_for_mtu(mtu: u32, ipv6: bool) -> u16 {
    let headers = if ipv6 { IPV6_HEADER } else { IPV4_HEADER } + TCP_HEADER;
    let mss = mtu.saturating_sub(headers as u32).clamp(536, 65_495);
    u16::try_from(mss).unwrap_or(1460)
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

/// The Ethernet multicast address an IPv6 multicast group maps to (RFC 2464 7).
fn ipv6_multicast_mac(group: Ipv6Addr) -> MacAddr {
    let o = group.octets();
    MacAddr(0x33, 0x33, o[12], o[13], o[14], o[15])
}

/// The solicited-node multicast address of `target` (RFC 4291 2.7.1).
pub fn solicited_node(target: Ipv6Addr) -> Ipv6Addr {
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

const ICMPV6_NEIGHBOR_SOLICIT: u8 = 135;
const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
const NDP_OPT_SOURCE_LL: u8 = 1;
const NDP_OPT_TARGET_LL: u8 = 2;
/// NDP is only valid with hop limit 255, so it cannot come from off-link.
const NDP_HOP_LIMIT: u8 = 255;

/// A Neighbor Solicitation for `target`, to its solicited-node multicast
/// group, with our MAC in the source link-layer address option.
pub fn neighbor_solicit(src_mac: MacAddr, src_ip: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let group = solicited_node(target);
    // type, code, checksum, reserved, target, option (type, len=1, MAC)
    let mut icmp = vec![ICMPV6_NEIGHBOR_SOLICIT, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&target.octets());
    icmp.extend_from_slice(&[NDP_OPT_SOURCE_LL, 1]);
    icmp.extend_from_slice(&src_mac.octets());
    if let Some(packet) = Icmpv6Packet::new(&icmp) {
        let sum = icmpv6::checksum(&packet, &src_ip, &group);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    let link = Link {
        src: src_mac,
        dst: ipv6_multicast_mac(group),
    };
    ipv6_frame(link, src_ip, group, 58, NDP_HOP_LIMIT, &icmp)
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
    match (flow.src_ip, flow.dst_ip) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => ipv4_frame(link, src, dst, ip_id, &tcp),
        (IpAddr::V6(src), IpAddr::V6(dst)) => ipv6_frame(link, src, dst, 6, TTL, &tcp),
        _ => Vec::new(),
    }
}

fn ethernet(link: Link, ethertype: pnet_packet::ethernet::EtherType, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len.max(MIN_FRAME)];
    if let Some(mut eth) = MutableEthernetPacket::new(&mut buf) {
        eth.set_destination(link.dst);
        eth.set_source(link.src);
        eth.set_ethertype(ethertype);
    }
    buf
}

/// An IPv4 frame (DF set, TTL 64) around a TCP segment.
fn ipv4_frame(link: Link, src: Ipv4Addr, dst: Ipv4Addr, ip_id: u16, tcp: &[u8]) -> Vec<u8> {
    let ip_len = IPV4_HEADER + tcp.len();
    let mut buf = ethernet(link, EtherTypes::Ipv4, ETHERNET_HEADER + ip_len);
    let ip_end = ETHERNET_HEADER + ip_len;
    if let Some(mut ip) = MutableIpv4Packet::new(&mut buf[ETHERNET_HEADER..ip_end]) {
        ip.set_version(4);
        ip.set_header_length(5);
        // At most 20 + 24 + 64 KiB of request: the client bounds its sends.
        ip.set_total_length(u16::try_from(ip_len).unwrap_or(u16::MAX));
        ip.set_identification(ip_id);
        ip.set_flags(Ipv4Flags::DontFragment);
        ip.set_ttl(TTL);
        ip.set_next_level_protocol(IpNextHeaderProtocols::Tcp);
        ip.set_source(src);
        ip.set_destination(dst);
        let sum = ipv4::checksum(&ip.to_immutable());
        ip.set_checksum(sum);
        ip.set_payload(tcp);
    }
    buf
}

/// An IPv6 frame around `payload` (next header `next`).
fn ipv6_frame(
    link: Link,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    hop_limit: u8,
    payload: &[u8],
) -> Vec<u8> {
    let ip_len = IPV6_HEADER + payload.len();
    let mut buf = ethernet(link, EtherTypes::Ipv6, ETHERNET_HEADER + ip_len);
    let ip_end = ETHERNET_HEADER + ip_len;
    if let Some(mut ip) = MutableIpv6Packet::new(&mut buf[ETHERNET_HEADER..ip_end]) {
        ip.set_version(6);
        ip.set_payload_length(u16::try_from(payload.len()).unwrap_or(u16::MAX));
        ip.set_next_header(pnet_packet::ip::IpNextHeaderProtocol(next));
        ip.set_hop_limit(hop_limit);
        ip.set_source(src);
        ip.set_destination(dst);
        ip.set_payload(payload);
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
        EtherTypes::Ipv6 => parse_ipv6(link, payload, checksum_verified),
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
    let addresses = (ip.get_source().into(), ip.get_destination().into());
    parse_tcp(link, addresses, &packet[header_len..], checksum_verified).map(Parsed::Tcp)
}

/// IPv6 without extension headers: TCP, or ICMPv6 for NDP. Our peers'
/// replies carry none; anything else is `Other` and ignored.
fn parse_ipv6(link: Link, data: &[u8], checksum_verified: bool) -> Result<Parsed, FrameError> {
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
    match ip.get_next_header().0 {
        6 => parse_tcp(
            link,
            (src_ip.into(), dst_ip.into()),
            payload,
            checksum_verified,
        )
        .map(Parsed::Tcp),
        58 => parse_icmpv6(ip.get_hop_limit(), src_ip, dst_ip, payload),
        _ => Ok(Parsed::Other(EtherTypes::Ipv6.0)),
    }
}

/// ICMPv6: only Neighbor Advertisements matter; checksum and hop limit
/// are verified, options walked with every length checked.
fn parse_icmpv6(
    hop_limit: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    data: &[u8],
) -> Result<Parsed, FrameError> {
    const NA_FIXED: usize = 24; // type, code, checksum, flags, target
    let icmp = Icmpv6Packet::new(data).ok_or(FrameError::TooShort {
        what: "ICMPv6 message",
        len: data.len(),
    })?;
    if icmpv6::checksum(&icmp, &src, &dst) != icmp.get_checksum() {
        return Err(FrameError::BadIcmpv6Checksum);
    }
    if data[0] != ICMPV6_NEIGHBOR_ADVERT {
        return Ok(Parsed::Other(EtherTypes::Ipv6.0));
    }
    if data.len() < NA_FIXED {
        return Err(FrameError::TooShort {
            what: "Neighbor Advertisement",
            len: data.len(),
        });
    }
    if hop_limit != NDP_HOP_LIMIT {
        return Err(FrameError::BadNdpHopLimit(hop_limit));
    }
    let mut target = [0u8; 16];
    target.copy_from_slice(&data[8..24]);
    let mut target_mac = None;
    let mut options = &data[NA_FIXED..];
    // Each option is at least 8 bytes, so this ends within len / 8 steps.
    while options.len() >= 2 {
        let (kind, len) = (options[0], usize::from(options[1]) * 8);
        if len == 0 || len > options.len() {
            return Err(FrameError::BadNdpOption);
        }
        if kind == NDP_OPT_TARGET_LL && len >= 8 {
            let m = &options[2..8];
            target_mac = Some(MacAddr(m[0], m[1], m[2], m[3], m[4], m[5]));
        }
        options = &options[len..];
    }
    Ok(Parsed::NeighborAdvert(NeighborAdvert {
        src_ip: src,
        target: Ipv6Addr::from(target),
        target_mac,
    }))
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
fn parse_tcp(
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

impl fmt::Display for Parsed {
    /// One trace line's worth: never the payload bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Parsed::Arp(arp) => arp.fmt(f),
            Parsed::NeighborAdvert(na) => na.fmt(f),
            Parsed::Tcp(tcp) => tcp.fmt(f),
            Parsed::Other(ethertype) => write!(f, "frame of EtherType {ethertype:#06x}"),
        }
    }
}

impl fmt::Display for NeighborAdvert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NDP advertisement {} is-at ", self.target)?;
        match self.target_mac {
            Some(mac) => write!(f, "{mac}"),
            None => f.write_str("(no link-layer address)"),
        }
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
