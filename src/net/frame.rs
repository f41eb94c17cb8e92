//! Ethernet frames in and out: ARP, NDP, TCP, UDP, ICMP echo and ICMP
//! errors over IPv4 and IPv6, built and parsed with pnet_packet.
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
use pnet_packet::icmp::{self, IcmpPacket};
use pnet_packet::icmpv6::{self, Icmpv6Packet};
use pnet_packet::ip::IpNextHeaderProtocol;
use pnet_packet::ipv4::{self, Ipv4Flags, Ipv4Packet, MutableIpv4Packet};
use pnet_packet::ipv6::{Ipv6Packet, MutableIpv6Packet};
use pnet_packet::tcp::{self, MutableTcpPacket, TcpOption, TcpPacket};
use pnet_packet::udp::{self, MutableUdpPacket, UdpPacket};

use super::tcp::{Flags, Segment, Seq};

pub const ETHERNET_HEADER: usize = 14;
const IPV4_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
const TCP_HEADER: usize = 20;
const UDP_HEADER: usize = 8;
/// Type, code, checksum and the 4-byte rest of header of every ICMP and
/// ICMPv6 message we build or parse (echo, errors, NDP).
const ICMP_HEADER: usize = 8;
/// Of a quoted datagram, ICMP guarantees its IP header and 8 bytes more
/// (RFC 792): enough for the ports of TCP and UDP, and all we read.
pub const QUOTED_TRANSPORT: usize = 8;
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
    /// Who sent it: with several answers (a duplicate address, a proxy),
    /// the caller can tell them apart even without the option below.
    pub link: Link,
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

/// A parsed, validated UDP datagram (IPv4 or IPv6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpFrame {
    pub link: Link,
    pub flow: Flow,
    pub payload: Vec<u8>,
}

/// An ICMP (IPv4) or ICMPv6 echo request or reply; the family is that of
/// the addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    pub link: Link,
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub is_reply: bool,
    pub ident: u16,
    pub seq: u16,
    pub payload: Vec<u8>,
}

/// What an ICMP or ICMPv6 error says went wrong with the datagram it
/// quotes, in the terms a check reports: both families map onto one set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpErrorKind {
    PortUnreachable,
    HostUnreachable,
    NetUnreachable,
    /// ICMPv6: Parameter Problem, unrecognized Next Header (RFC 4443 3.4).
    ProtocolUnreachable,
    AdminProhibited,
    /// IPv4 "fragmentation needed and DF set" or ICMPv6 Packet Too Big;
    /// `mtu` is the next-hop MTU, 0 when an old router leaves it out.
    MtuExceeded {
        mtu: u32,
    },
    TimeExceeded,
    /// Any other error type or code, as received.
    Other {
        icmp_type: u8,
        code: u8,
    },
}

/// What we can tell of the datagram an ICMP error quotes: it is one of
/// ours, so this is enough to match it to a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    /// IP protocol number (IPv6: the quoted header's next header).
    pub protocol: u8,
    /// Addresses of the quoted header; its ports when TCP or UDP, else 0.
    pub flow: Flow,
    /// The first 8 bytes of the quoted transport header as they are (UDP:
    /// ports, length, checksum): to tell the datagram we sent from a
    /// guess by someone who never saw it.
    pub head: [u8; QUOTED_TRANSPORT],
}

/// An ICMP or ICMPv6 error about a datagram, from the router or host
/// `from` (the outer source address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    pub link: Link,
    pub from: IpAddr,
    /// The outer destination: who the error is for.
    pub to: IpAddr,
    pub kind: IcmpErrorKind,
    pub quoted: Quoted,
}

/// What a received frame turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Arp(Arp),
    NeighborAdvert(NeighborAdvert),
    Tcp(TcpFrame),
    Udp(UdpFrame),
    Echo(Echo),
    IcmpError(IcmpError),
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
    BadUdpLength {
        declared: usize,
        available: usize,
    },
    BadUdpChecksum,
    /// A UDP datagram over IPv6 must carry a checksum (RFC 8200 8.1).
    MissingUdpChecksum,
    BadIcmpChecksum,
    /// The header an ICMP error quotes is not of the outer header's family.
    BadQuotedVersion(u8),
    /// The quoted datagram is a non-first fragment: no ports to read, and
    /// never one of ours (we set DF).
    QuotedFragment,
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
            FrameError::BadUdpLength {
                declared,
                available,
            } => write!(
                f,
                "UDP length {declared} does not fit the {available} bytes of its IP packet"
            ),
            FrameError::BadUdpChecksum => f.write_str("bad UDP checksum"),
            FrameError::MissingUdpChecksum => f.write_str("UDP over IPv6 without checksum"),
            FrameError::BadIcmpChecksum => f.write_str("bad ICMP checksum"),
            FrameError::BadQuotedVersion(v) => {
                write!(f, "ICMP error quoting an IP version {v} header")
            }
            FrameError::QuotedFragment => f.write_str("ICMP error quoting a non-first fragment"),
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
    let link = Link {
        src: src_mac,
        dst: MacAddr::broadcast(),
    };
    arp_request_to(link, src_ip, target_ip)
}

/// An ARP request from `link.src` to `link.dst`: broadcast, or unicast to
/// a MAC we already know (to ask one host whether it still has the
/// address, RFC 1122 2.3.2.1). The target hardware address stays zero, as
/// in any request.
pub fn arp_request_to(link: Link, src_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Vec<u8> {
    arp(
        link,
        ArpOperations::Request,
        src_ip,
        MacAddr::zero(),
        target_ip,
    )
}

/// An ARP reply from `link.src` to `link.dst`: `sender_ip` is-at
/// `link.src`. Real servers send these; we build them for tests.
pub fn arp_reply(link: Link, sender_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Vec<u8> {
    arp(link, ArpOperations::Reply, sender_ip, link.dst, target_ip)
}

fn arp(
    link: Link,
    operation: pnet_packet::arp::ArpOperation,
    sender_ip: Ipv4Addr,
    target_mac: MacAddr,
    target_ip: Ipv4Addr,
) -> Vec<u8> {
    let mut buf = ethernet(link, EtherTypes::Arp, ETHERNET_HEADER + ARP_PACKET);
    if let Some(mut arp) = MutableArpPacket::new(&mut buf[ETHERNET_HEADER..]) {
        arp.set_hardware_type(ArpHardwareTypes::Ethernet);
        arp.set_protocol_type(EtherTypes::Ipv4);
        arp.set_hw_addr_len(6);
        arp.set_proto_addr_len(4);
        arp.set_operation(operation);
        arp.set_sender_hw_addr(link.src);
        arp.set_sender_proto_addr(sender_ip);
        arp.set_target_hw_addr(target_mac);
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

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_DEST_UNREACHABLE: u8 = 3;
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_TIME_EXCEEDED: u8 = 11;
const ICMP_PARAMETER_PROBLEM: u8 = 12;
const ICMPV6_DEST_UNREACHABLE: u8 = 1;
const ICMPV6_PACKET_TOO_BIG: u8 = 2;
const ICMPV6_TIME_EXCEEDED: u8 = 3;
const ICMPV6_PARAMETER_PROBLEM: u8 = 4;
const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;
const ICMPV6_NEIGHBOR_SOLICIT: u8 = 135;
const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
const NDP_OPT_SOURCE_LL: u8 = 1;
const NDP_OPT_TARGET_LL: u8 = 2;
/// NDP is only valid with hop limit 255, so it cannot come from off-link.
const NDP_HOP_LIMIT: u8 = 255;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;

/// A Neighbor Solicitation for `target`, to its solicited-node multicast
/// group, with our MAC in the source link-layer address option.
pub fn neighbor_solicit(src_mac: MacAddr, src_ip: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let group = solicited_node(target);
    let link = Link {
        src: src_mac,
        dst: ipv6_multicast_mac(group),
    };
    solicit(link, src_ip, group, target)
}

/// A unicast Neighbor Solicitation (RFC 4861 7.3.3, reachability
/// confirmation): to the target address itself and `link.dst`, the MAC we
/// believe it has, with `link.src` in the source link-layer option so the
/// target can answer without asking back.
pub fn neighbor_solicit_to(link: Link, src_ip: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    solicit(link, src_ip, target, target)
}

/// A Neighbor Advertisement from `src_ip` (`link.src`): `target` is-at
/// `target_mac` (the option is left out when `None`). Solicited and
/// override flags are set, as a host answering a unicast solicitation
/// does; a multicast answer carries override alone (RFC 4861 7.2.4).
/// Real servers send these; we build them for tests.
pub fn neighbor_advert(
    link: Link,
    src_ip: Ipv6Addr,
    dst_ip: Ipv6Addr,
    target: Ipv6Addr,
    target_mac: Option<MacAddr>,
) -> Vec<u8> {
    const SOLICITED: u8 = 0x40;
    const OVERRIDE: u8 = 0x20;
    let flags = if dst_ip.is_multicast() {
        OVERRIDE
    } else {
        SOLICITED | OVERRIDE
    };
    let mut icmp = vec![ICMPV6_NEIGHBOR_ADVERT, 0, 0, 0, flags, 0, 0, 0];
    icmp.extend_from_slice(&target.octets());
    if let Some(mac) = target_mac {
        icmp.extend_from_slice(&[NDP_OPT_TARGET_LL, 1]);
        icmp.extend_from_slice(&mac.octets());
    }
    icmpv6_frame(link, src_ip, dst_ip, NDP_HOP_LIMIT, icmp)
}

/// A solicitation for `target` to `dst_ip`, with `link.src` in the
/// source link-layer address option.
fn solicit(link: Link, src_ip: Ipv6Addr, dst_ip: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    // type, code, checksum, reserved, target, option (type, len=1, MAC)
    let mut icmp = vec![ICMPV6_NEIGHBOR_SOLICIT, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&target.octets());
    icmp.extend_from_slice(&[NDP_OPT_SOURCE_LL, 1]);
    icmp.extend_from_slice(&link.src.octets());
    icmpv6_frame(link, src_ip, dst_ip, NDP_HOP_LIMIT, icmp)
}

/// An ICMPv6 message (checksum field zero) with its checksum filled in,
/// pseudo-header included, in an IPv6 frame.
fn icmpv6_frame(
    link: Link,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    mut icmp: Vec<u8>,
) -> Vec<u8> {
    if let Some(packet) = Icmpv6Packet::new(&icmp) {
        let sum = icmpv6::checksum(&packet, &src, &dst);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    ipv6_frame(link, src, dst, IPPROTO_ICMPV6, hop_limit, &icmp)
}

/// An ICMP (IPv4) or ICMPv6 message: `icmp_type`, `code`, the 4-byte rest
/// of header and `body`, checksummed, in an IP frame of the addresses'
/// family (empty for mixed families).
#[allow(clippy::too_many_arguments)]
fn icmp_frame(
    link: Link,
    src: IpAddr,
    dst: IpAddr,
    ip_id: u16,
    icmp_type: u8,
    code: u8,
    rest: [u8; 4],
    body: &[u8],
) -> Vec<u8> {
    let mut icmp = vec![icmp_type, code, 0, 0];
    icmp.extend_from_slice(&rest);
    icmp.extend_from_slice(body);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            if let Some(packet) = IcmpPacket::new(&icmp) {
                let sum = icmp::checksum(&packet);
                icmp[2..4].copy_from_slice(&sum.to_be_bytes());
            }
            ipv4_frame(link, s, d, ip_id, IPPROTO_ICMP, &icmp)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => icmpv6_frame(link, s, d, TTL, icmp),
        _ => Vec::new(),
    }
}

/// The 4 bytes after type, code and checksum of an echo message.
fn echo_rest(ident: u16, seq: u16) -> [u8; 4] {
    let (i, s) = (ident.to_be_bytes(), seq.to_be_bytes());
    [i[0], i[1], s[0], s[1]]
}

/// An echo request (ICMP type 8, ICMPv6 128) from `src_ip` to `dst_ip`,
/// of their family; empty for mixed families. `ip_id` is the IPv4
/// identification (unused for IPv6).
pub fn echo_request(
    link: Link,
    src_ip: IpAddr,
    dst_ip: IpAddr,
    ip_id: u16,
    ident: u16,
    seq: u16,
    payload: &[u8],
) -> Vec<u8> {
    let echo = (ident, seq, payload);
    echo_frame(link, src_ip, dst_ip, ip_id, false, echo)
}

/// An echo reply (ICMP type 0, ICMPv6 129), as a peer answers
/// `echo_request`; for tests and the fuzzer's re-encoding.
pub fn echo_reply(
    link: Link,
    src_ip: IpAddr,
    dst_ip: IpAddr,
    ip_id: u16,
    ident: u16,
    seq: u16,
    payload: &[u8],
) -> Vec<u8> {
    let echo = (ident, seq, payload);
    echo_frame(link, src_ip, dst_ip, ip_id, true, echo)
}

/// An echo request or reply of the addresses' family.
fn echo_frame(
    link: Link,
    src_ip: IpAddr,
    dst_ip: IpAddr,
    ip_id: u16,
    is_reply: bool,
    (ident, seq, payload): (u16, u16, &[u8]),
) -> Vec<u8> {
    let icmp_type = match (src_ip.is_ipv6(), is_reply) {
        (true, false) => ICMPV6_ECHO_REQUEST,
        (true, true) => ICMPV6_ECHO_REPLY,
        (false, false) => ICMP_ECHO_REQUEST,
        (false, true) => ICMP_ECHO_REPLY,
    };
    let rest = echo_rest(ident, seq);
    icmp_frame(link, src_ip, dst_ip, ip_id, icmp_type, 0, rest, payload)
}

/// Type, code and rest of header of the ICMP (or with `ipv6`, ICMPv6)
/// error that says `kind`: the inverse of `error_kind_v4`/`_v6`.
fn error_header(kind: IcmpErrorKind, ipv6: bool) -> (u8, u8, [u8; 4]) {
    use IcmpErrorKind::*;
    let none = [0; 4];
    if ipv6 {
        match kind {
            NetUnreachable => (ICMPV6_DEST_UNREACHABLE, 0, none),
            AdminProhibited => (ICMPV6_DEST_UNREACHABLE, 1, none),
            HostUnreachable => (ICMPV6_DEST_UNREACHABLE, 3, none),
            PortUnreachable => (ICMPV6_DEST_UNREACHABLE, 4, none),
            MtuExceeded { mtu } => (ICMPV6_PACKET_TOO_BIG, 0, mtu.to_be_bytes()),
            TimeExceeded => (ICMPV6_TIME_EXCEEDED, 0, none),
            // The pointer names the quoted header's next header field.
            ProtocolUnreachable => (ICMPV6_PARAMETER_PROBLEM, 1, 6u32.to_be_bytes()),
            Other { icmp_type, code } => (icmp_type, code, none),
        }
    } else {
        match kind {
            NetUnreachable => (ICMP_DEST_UNREACHABLE, 0, none),
            HostUnreachable => (ICMP_DEST_UNREACHABLE, 1, none),
            ProtocolUnreachable => (ICMP_DEST_UNREACHABLE, 2, none),
            PortUnreachable => (ICMP_DEST_UNREACHABLE, 3, none),
            MtuExceeded { mtu } => {
                // RFC 1191: the next-hop MTU in the low 16 bits.
                let m = u16::try_from(mtu).unwrap_or(u16::MAX).to_be_bytes();
                (ICMP_DEST_UNREACHABLE, 4, [0, 0, m[0], m[1]])
            }
            AdminProhibited => (ICMP_DEST_UNREACHABLE, 13, none),
            TimeExceeded => (ICMP_TIME_EXCEEDED, 0, none),
            Other { icmp_type, code } => (icmp_type, code, none),
        }
    }
}

/// An ICMP or ICMPv6 error from `from` to `to` about `quoted_packet` (an
/// IP packet `to` sent: one of our frames without its Ethernet header),
/// quoted as much as a router would: the error stays within 576 bytes
/// (IPv4, RFC 1812 4.3.2.3) or 1280 (IPv6, RFC 4443 2.4). For tests; an
/// `Other` kind with a known type and code parses back as that kind.
pub fn icmp_error_frame(
    link: Link,
    from: IpAddr,
    to: IpAddr,
    kind: IcmpErrorKind,
    quoted_packet: &[u8],
) -> Vec<u8> {
    let (icmp_type, code, rest, limit) = if from.is_ipv6() {
        let (t, c, r) = error_header(kind, true);
        (t, c, r, 1280 - IPV6_HEADER - ICMP_HEADER)
    } else {
        let (t, c, r) = error_header(kind, false);
        (t, c, r, 576 - IPV4_HEADER - ICMP_HEADER)
    };
    let quoted = &quoted_packet[..quoted_packet.len().min(limit)];
    icmp_frame(link, from, to, 0, icmp_type, code, rest, quoted)
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

/// `payload` (of IP protocol `protocol`) in an IPv4 or IPv6 frame of the
/// flow's addresses; empty for mixed families.
fn ip_frame(link: Link, flow: Flow, ip_id: u16, protocol: u8, payload: &[u8]) -> Vec<u8> {
    match (flow.src_ip, flow.dst_ip) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => ipv4_frame(link, src, dst, ip_id, protocol, payload),
        (IpAddr::V6(src), IpAddr::V6(dst)) => ipv6_frame(link, src, dst, protocol, TTL, payload),
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

/// An IPv4 frame (DF set, TTL 64) around `payload` of IP protocol `protocol`.
fn ipv4_frame(
    link: Link,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ip_id: u16,
    protocol: u8,
    payload: &[u8],
) -> Vec<u8> {
    let ip_len = IPV4_HEADER + payload.len();
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
        ip.set_next_level_protocol(IpNextHeaderProtocol(protocol));
        ip.set_source(src);
        ip.set_destination(dst);
        let sum = ipv4::checksum(&ip.to_immutable());
        ip.set_checksum(sum);
        ip.set_payload(payload);
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
        ip.set_next_header(IpNextHeaderProtocol(next));
        ip.set_hop_limit(hop_limit);
        ip.set_source(src);
        ip.set_destination(dst);
        ip.set_payload(payload);
    }
    buf
}

/// Parse one received frame. `checksum_verified` is the kernel's word
/// (PACKET_AUXDATA) that the TCP or UDP checksum was already checked or is
/// not filled in yet (offloaded); otherwise we verify it. ICMP checksums
/// are never offloaded and always verified.
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
    let (src, dst) = (ip.get_source(), ip.get_destination());
    let addresses = (src.into(), dst.into());
    let body = &packet[header_len..];
    match ip.get_next_level_protocol().0 {
        IPPROTO_TCP => parse_tcp(link, addresses, body, checksum_verified).map(Parsed::Tcp),
        IPPROTO_UDP => parse_udp(link, addresses, body, checksum_verified).map(Parsed::Udp),
        IPPROTO_ICMP => parse_icmp(link, src, dst, body),
        _ => Ok(Parsed::Other(EtherTypes::Ipv4.0)),
    }
}

/// IPv6 without extension headers: TCP, UDP, or ICMPv6. Our peers'
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
    let addresses = (src_ip.into(), dst_ip.into());
    match ip.get_next_header().0 {
        IPPROTO_TCP => parse_tcp(link, addresses, payload, checksum_verified).map(Parsed::Tcp),
        IPPROTO_UDP => parse_udp(link, addresses, payload, checksum_verified).map(Parsed::Udp),
        IPPROTO_ICMPV6 => parse_icmpv6(link, ip.get_hop_limit(), src_ip, dst_ip, payload),
        _ => Ok(Parsed::Other(EtherTypes::Ipv6.0)),
    }
}

/// One's-complement sums have two zeros, 0x0000 and 0xffff: a sender may
/// put either where we compute the other (UDP must send 0xffff for 0,
/// RFC 768), and both are correct.
fn checksum_matches(computed: u16, field: u16) -> bool {
    computed == field || (computed == 0 && field == 0xffff) || (computed == 0xffff && field == 0)
}

/// Validate and decode the UDP datagram that `addresses` (source,
/// destination) carried: its length must fit the IP payload (bytes past
/// it are padding), and its checksum is verified unless the kernel did.
fn parse_udp(
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

/// The echo message `data` (type, code, checksum, ident, seq, payload),
/// checksum already verified.
fn parse_echo(
    link: Link,
    (src_ip, dst_ip): (IpAddr, IpAddr),
    is_reply: bool,
    data: &[u8],
) -> Result<Echo, FrameError> {
    match data {
        [_, _, _, _, i0, i1, s0, s1, payload @ ..] => Ok(Echo {
            link,
            src_ip,
            dst_ip,
            is_reply,
            ident: u16::from_be_bytes([*i0, *i1]),
            seq: u16::from_be_bytes([*s0, *s1]),
            payload: payload.to_vec(),
        }),
        _ => Err(FrameError::TooShort {
            what: "echo message",
            len: data.len(),
        }),
    }
}

/// ICMP over IPv4: echo requests and replies, and the errors that quote a
/// datagram (destination unreachable, time exceeded, parameter problem;
/// source quench is obsolete, RFC 6633, and redirects are no error).
fn parse_icmp(link: Link, src: Ipv4Addr, dst: Ipv4Addr, data: &[u8]) -> Result<Parsed, FrameError> {
    let icmp = IcmpPacket::new(data).ok_or(FrameError::TooShort {
        what: "ICMP message",
        len: data.len(),
    })?;
    if !checksum_matches(icmp::checksum(&icmp), icmp.get_checksum()) {
        return Err(FrameError::BadIcmpChecksum);
    }
    let addresses = (src.into(), dst.into());
    match data[0] {
        ICMP_ECHO_REPLY => parse_echo(link, addresses, true, data).map(Parsed::Echo),
        ICMP_ECHO_REQUEST => parse_echo(link, addresses, false, data).map(Parsed::Echo),
        ICMP_DEST_UNREACHABLE | ICMP_TIME_EXCEEDED | ICMP_PARAMETER_PROBLEM => {
            let (rest, quoted) = error_parts(data)?;
            Ok(Parsed::IcmpError(IcmpError {
                link,
                from: src.into(),
                to: dst.into(),
                kind: error_kind_v4(data[0], data[1], rest),
                quoted: parse_quoted_v4(quoted)?,
            }))
        }
        _ => Ok(Parsed::Other(EtherTypes::Ipv4.0)),
    }
}

/// The rest of header and the quoted datagram of an ICMP error message.
fn error_parts(data: &[u8]) -> Result<([u8; 4], &[u8]), FrameError> {
    match data {
        [_, _, _, _, r0, r1, r2, r3, quoted @ ..] => Ok(([*r0, *r1, *r2, *r3], quoted)),
        _ => Err(FrameError::TooShort {
            what: "ICMP error",
            len: data.len(),
        }),
    }
}

/// The meaning of an ICMP error (RFC 792, RFC 1122 3.2.2.1, RFC 1812 5.2.7.1).
fn error_kind_v4(icmp_type: u8, code: u8, rest: [u8; 4]) -> IcmpErrorKind {
    use IcmpErrorKind::*;
    match (icmp_type, code) {
        // Network unreachable, unknown, or unreachable for the TOS.
        (ICMP_DEST_UNREACHABLE, 0 | 6 | 11) => NetUnreachable,
        (ICMP_DEST_UNREACHABLE, 1 | 7 | 12) => HostUnreachable,
        (ICMP_DEST_UNREACHABLE, 2) => ProtocolUnreachable,
        (ICMP_DEST_UNREACHABLE, 3) => PortUnreachable,
        // Fragmentation needed and DF set; next-hop MTU per RFC 1191.
        (ICMP_DEST_UNREACHABLE, 4) => MtuExceeded {
            mtu: u32::from(u16::from_be_bytes([rest[2], rest[3]])),
        },
        (ICMP_DEST_UNREACHABLE, 9 | 10 | 13) => AdminProhibited,
        (ICMP_TIME_EXCEEDED, _) => TimeExceeded,
        _ => Other { icmp_type, code },
    }
}

/// The meaning of an ICMPv6 error (RFC 4443 3).
fn error_kind_v6(icmp_type: u8, code: u8, rest: [u8; 4]) -> IcmpErrorKind {
    use IcmpErrorKind::*;
    match (icmp_type, code) {
        (ICMPV6_DEST_UNREACHABLE, 0) => NetUnreachable,
        // Administratively prohibited, source address failed policy,
        // reject route: all a filter's refusal.
        (ICMPV6_DEST_UNREACHABLE, 1 | 5 | 6) => AdminProhibited,
        (ICMPV6_DEST_UNREACHABLE, 3) => HostUnreachable,
        (ICMPV6_DEST_UNREACHABLE, 4) => PortUnreachable,
        (ICMPV6_PACKET_TOO_BIG, _) => MtuExceeded {
            mtu: u32::from_be_bytes(rest),
        },
        (ICMPV6_TIME_EXCEEDED, _) => TimeExceeded,
        // Unrecognized next header: IPv6's protocol unreachable.
        (ICMPV6_PARAMETER_PROBLEM, 1) => ProtocolUnreachable,
        _ => Other { icmp_type, code },
    }
}

/// Ports of a quoted TCP or UDP header (its first 4 bytes), else 0.
fn quoted_flow(src_ip: IpAddr, dst_ip: IpAddr, protocol: u8, transport: &[u8]) -> Flow {
    let (src_port, dst_port) = match (protocol, transport) {
        (IPPROTO_TCP | IPPROTO_UDP, [a, b, c, d, ..]) => {
            (u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d]))
        }
        _ => (0, 0),
    };
    Flow {
        src_ip,
        dst_ip,
        src_port,
        dst_port,
    }
}

/// The first bytes of a quoted transport header; the callers have checked
/// that there are `QUOTED_TRANSPORT` of them.
fn quoted_head(transport: &[u8]) -> [u8; QUOTED_TRANSPORT] {
    let mut head = [0u8; QUOTED_TRANSPORT];
    let n = transport.len().min(QUOTED_TRANSPORT);
    head[..n].copy_from_slice(&transport[..n]);
    head
}

/// The IPv4 header (and 8 bytes more) an ICMP error quotes. Its total
/// length and checksum are not checked: the quote may be cut short, and
/// routers on the way may have changed the header after we sent it.
fn parse_quoted_v4(data: &[u8]) -> Result<Quoted, FrameError> {
    let ip = Ipv4Packet::new(data).ok_or(FrameError::TooShort {
        what: "quoted IPv4 header",
        len: data.len(),
    })?;
    if ip.get_version() != 4 {
        return Err(FrameError::BadQuotedVersion(ip.get_version()));
    }
    let header_len = usize::from(ip.get_header_length()) * 4;
    if header_len < IPV4_HEADER {
        return Err(FrameError::BadIhl(ip.get_header_length()));
    }
    if data.len() < header_len + QUOTED_TRANSPORT {
        return Err(FrameError::TooShort {
            what: "quoted IPv4 datagram",
            len: data.len(),
        });
    }
    if ip.get_fragment_offset() != 0 {
        return Err(FrameError::QuotedFragment);
    }
    let protocol = ip.get_next_level_protocol().0;
    let (src, dst) = (ip.get_source().into(), ip.get_destination().into());
    Ok(Quoted {
        protocol,
        flow: quoted_flow(src, dst, protocol, &data[header_len..]),
        head: quoted_head(&data[header_len..]),
    })
}

/// The IPv6 header (and 8 bytes more) an ICMPv6 error quotes. We send no
/// extension headers, so the next header is the protocol.
fn parse_quoted_v6(data: &[u8]) -> Result<Quoted, FrameError> {
    let ip = Ipv6Packet::new(data).ok_or(FrameError::TooShort {
        what: "quoted IPv6 header",
        len: data.len(),
    })?;
    if ip.get_version() != 6 {
        return Err(FrameError::BadQuotedVersion(ip.get_version()));
    }
    if data.len() < IPV6_HEADER + QUOTED_TRANSPORT {
        return Err(FrameError::TooShort {
            what: "quoted IPv6 datagram",
            len: data.len(),
        });
    }
    let protocol = ip.get_next_header().0;
    let (src, dst) = (ip.get_source().into(), ip.get_destination().into());
    Ok(Quoted {
        protocol,
        flow: quoted_flow(src, dst, protocol, &data[IPV6_HEADER..]),
        head: quoted_head(&data[IPV6_HEADER..]),
    })
}

/// ICMPv6: echo, errors (types 1 to 4) and Neighbor Advertisements; the
/// checksum (pseudo-header included) is verified for all, the hop limit
/// for NDP, and NDP options are walked with every length checked.
fn parse_icmpv6(
    link: Link,
    hop_limit: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    data: &[u8],
) -> Result<Parsed, FrameError> {
    let icmp = Icmpv6Packet::new(data).ok_or(FrameError::TooShort {
        what: "ICMPv6 message",
        len: data.len(),
    })?;
    if !checksum_matches(icmpv6::checksum(&icmp, &src, &dst), icmp.get_checksum()) {
        return Err(FrameError::BadIcmpv6Checksum);
    }
    let addresses = (src.into(), dst.into());
    match data[0] {
        ICMPV6_ECHO_REPLY => parse_echo(link, addresses, true, data).map(Parsed::Echo),
        ICMPV6_ECHO_REQUEST => parse_echo(link, addresses, false, data).map(Parsed::Echo),
        ICMPV6_DEST_UNREACHABLE
        | ICMPV6_PACKET_TOO_BIG
        | ICMPV6_TIME_EXCEEDED
        | ICMPV6_PARAMETER_PROBLEM => {
            let (rest, quoted) = error_parts(data)?;
            Ok(Parsed::IcmpError(IcmpError {
                link,
                from: src.into(),
                to: dst.into(),
                kind: error_kind_v6(data[0], data[1], rest),
                quoted: parse_quoted_v6(quoted)?,
            }))
        }
        ICMPV6_NEIGHBOR_ADVERT => {
            parse_neighbor_advert(link, hop_limit, src, data).map(Parsed::NeighborAdvert)
        }
        _ => Ok(Parsed::Other(EtherTypes::Ipv6.0)),
    }
}

/// A Neighbor Advertisement whose checksum is verified.
fn parse_neighbor_advert(
    link: Link,
    hop_limit: u8,
    src: Ipv6Addr,
    data: &[u8],
) -> Result<NeighborAdvert, FrameError> {
    const NA_FIXED: usize = 24; // type, code, checksum, flags, target
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
    Ok(NeighborAdvert {
        link,
        src_ip: src,
        target: Ipv6Addr::from(target),
        target_mac,
    })
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
            Parsed::Udp(udp) => udp.fmt(f),
            Parsed::Echo(echo) => echo.fmt(f),
            Parsed::IcmpError(error) => error.fmt(f),
            Parsed::Other(ethertype) => write!(f, "frame of EtherType {ethertype:#06x}"),
        }
    }
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

/// "ICMP" or "ICMPv6", after the family of `ip`.
fn icmp_name(ip: IpAddr) -> &'static str {
    if ip.is_ipv6() {
        "ICMPv6"
    } else {
        "ICMP"
    }
}

impl fmt::Display for Echo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "({}) {} > {} ({}) {} echo {}, id {}, seq {}, {} bytes",
            self.link.src,
            self.src_ip,
            self.dst_ip,
            self.link.dst,
            icmp_name(self.src_ip),
            if self.is_reply { "reply" } else { "request" },
            self.ident,
            self.seq,
            self.payload.len()
        )
    }
}

impl fmt::Display for IcmpErrorKind {
    /// Words for a status line: "port unreachable", "time exceeded".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IcmpErrorKind::PortUnreachable => f.write_str("port unreachable"),
            IcmpErrorKind::HostUnreachable => f.write_str("host unreachable"),
            IcmpErrorKind::NetUnreachable => f.write_str("network unreachable"),
            IcmpErrorKind::ProtocolUnreachable => f.write_str("protocol unreachable"),
            IcmpErrorKind::AdminProhibited => f.write_str("administratively prohibited"),
            IcmpErrorKind::MtuExceeded { mtu: 0 } => f.write_str("packet too big"),
            IcmpErrorKind::MtuExceeded { mtu } => write!(f, "packet too big (MTU {mtu})"),
            IcmpErrorKind::TimeExceeded => f.write_str("time exceeded"),
            IcmpErrorKind::Other { icmp_type, code } => {
                write!(f, "error type {icmp_type} code {code}")
            }
        }
    }
}

impl fmt::Display for Quoted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flow = &self.flow;
        let name = match self.protocol {
            IPPROTO_TCP => "TCP",
            IPPROTO_UDP => "UDP",
            other => return write!(f, "protocol {other} {} > {}", flow.src_ip, flow.dst_ip),
        };
        write!(
            f,
            "{name} {} > {}",
            std::net::SocketAddr::new(flow.src_ip, flow.src_port),
            std::net::SocketAddr::new(flow.dst_ip, flow.dst_port)
        )
    }
}

impl fmt::Display for IcmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "({}) {} {} from {} about {}",
            self.link.src,
            icmp_name(self.from),
            self.kind,
            self.from,
            self.quoted
        )
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
