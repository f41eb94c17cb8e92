//! ICMP (RFC 792) and ICMPv6 (RFC 4443): echo requests and replies, and
//! the errors that quote a datagram of ours, in both families. An error's
//! type and code map onto one `IcmpErrorKind` (in `failure`, where checks
//! word it); the quoted header is read only as far as ICMP guarantees.
//! ICMPv6's Neighbor Discovery messages are in `ndp`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_packet::icmp::{self, IcmpPacket};
use pnet_packet::icmpv6::{self, Icmpv6Packet};
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::ipv6::Ipv6Packet;

use super::ethernet::{ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use super::ipv4::{ipv4_frame, IPV4_HEADER};
use super::ipv6::{ipv6_frame, IPV6_HEADER};
use super::ndp::parse_neighbor_advert;
use super::{
    checksum_matches, Flow, FrameError, Link, Parsed, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP,
    IPPROTO_UDP, TTL,
};
use crate::failure::IcmpErrorKind;

/// Type, code, checksum and the 4-byte rest of header of every ICMP and
/// ICMPv6 message we build or parse (echo, errors, NDP).
#[cfg(test)]
const ICMP_HEADER: usize = 8;

/// Of a quoted datagram, ICMP guarantees its IP header and 8 bytes more
/// (RFC 792): enough for the ports of TCP and UDP, and all we read.
pub const QUOTED_TRANSPORT: usize = 8;

// ICMP message types (RFC 792, RFC 1122 3.2.2).
pub const ICMP_ECHO_REPLY: u8 = 0;
pub const ICMP_DEST_UNREACHABLE: u8 = 3;
pub const ICMP_ECHO_REQUEST: u8 = 8;
pub const ICMP_TIME_EXCEEDED: u8 = 11;
pub const ICMP_PARAMETER_PROBLEM: u8 = 12;
/// The ICMP errors that quote a datagram and that we parse (source
/// quench is obsolete, RFC 6633, and redirects are no error); the BPF
/// filter passes these and no others.
pub const ICMP_ERRORS: [u8; 3] = [
    ICMP_DEST_UNREACHABLE,
    ICMP_TIME_EXCEEDED,
    ICMP_PARAMETER_PROBLEM,
];

// ICMPv6 message types (RFC 4443 2.1, RFC 4861 4).
pub const ICMPV6_DEST_UNREACHABLE: u8 = 1;
pub const ICMPV6_PACKET_TOO_BIG: u8 = 2;
pub const ICMPV6_TIME_EXCEEDED: u8 = 3;
pub const ICMPV6_PARAMETER_PROBLEM: u8 = 4;
pub const ICMPV6_ECHO_REQUEST: u8 = 128;
pub const ICMPV6_ECHO_REPLY: u8 = 129;
pub const ICMPV6_NEIGHBOR_SOLICIT: u8 = 135;
pub const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
/// Every ICMPv6 error type (RFC 4443 2.1): all quote a datagram.
pub const ICMPV6_ERRORS: [u8; 4] = [
    ICMPV6_DEST_UNREACHABLE,
    ICMPV6_PACKET_TOO_BIG,
    ICMPV6_TIME_EXCEEDED,
    ICMPV6_PARAMETER_PROBLEM,
];

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

/// An ICMPv6 message (checksum field zero) with its checksum filled in,
/// pseudo-header included, in an IPv6 frame.
pub(super) fn icmpv6_frame(
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
/// `echo_request`; for tests, and public for the fuzzer's re-encoding
/// (fuzz/fuzz_targets/frame_parse.rs).
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
#[cfg(test)]
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
#[cfg(test)]
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

/// ICMP over IPv4: echo requests and replies, and the errors that quote a
/// datagram (destination unreachable, time exceeded, parameter problem;
/// source quench is obsolete, RFC 6633, and redirects are no error).
pub(super) fn parse_icmp(
    link: Link,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    data: &[u8],
) -> Result<Parsed, FrameError> {
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
        t if ICMP_ERRORS.contains(&t) => {
            let (rest, quoted) = error_parts(data)?;
            Ok(Parsed::IcmpError(IcmpError {
                link,
                from: src.into(),
                to: dst.into(),
                kind: error_kind_v4(data[0], data[1], rest),
                quoted: parse_quoted_v4(quoted)?,
            }))
        }
        _ => Ok(Parsed::Other(ETHERTYPE_IPV4)),
    }
}

/// ICMPv6: echo, errors (types 1 to 4) and Neighbor Advertisements; the
/// checksum (pseudo-header included) is verified for all, the hop limit
/// for NDP, and NDP options are walked with every length checked.
pub(super) fn parse_icmpv6(
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
        t if ICMPV6_ERRORS.contains(&t) => {
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
        _ => Ok(Parsed::Other(ETHERTYPE_IPV6)),
    }
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

#[cfg(test)]
mod tests;
