//! Ethernet frames in and out, one file per protocol (the layout of
//! smoltcp's `wire`): `ethernet`, `arp`, `ipv4`, `ipv6`, `icmp` (echo and
//! errors, both families), `ndp`, `tcp`, `udp`. Each file holds its types,
//! its builder and its parser, its length checks and its `Display`.
//!
//! Parsing is the one place where bytes off the wire are validated: [`parse`]
//! takes a whole frame, checks every length (Ethernet, IHL, total length,
//! data offset, options) before any accessor that depends on it, verifies
//! checksums, and returns a [`Parsed`]: plain structs the rest of the program
//! trusts. Nothing here panics on any input; a malformed frame comes back as
//! a [`FrameError`] saying what was wrong.
//!
//! The protocol numbers, EtherTypes and ICMP types are defined here once;
//! the BPF filter (`net::bpf`) tests the same numbers in the kernel.
//!
//! Builders of what only a peer sends (an ARP reply, a Neighbor
//! Advertisement, an ICMP error) exist for the tests and are compiled only
//! for them, with the fixtures in `testing`; `echo_reply` stays public
//! because the fuzzer (fuzz/fuzz_targets/frame_parse.rs) re-encodes with it.

use std::fmt;
use std::net::IpAddr;

use pnet_datalink::MacAddr;

mod arp;
mod ethernet;
mod icmp;
mod ipv4;
mod ipv6;
mod ndp;
mod tcp;
mod udp;

#[cfg(test)]
pub(crate) mod testing;

pub use arp::{arp_request, arp_request_to, Arp};
pub use ethernet::{ETHERNET_HEADER, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
pub use icmp::{
    echo_reply, echo_request, Echo, IcmpError, Quoted, ICMPV6_ECHO_REPLY, ICMPV6_ERRORS,
    ICMPV6_NEIGHBOR_ADVERT, ICMP_ECHO_REPLY, ICMP_ERRORS, QUOTED_TRANSPORT,
};
pub use ndp::{neighbor_solicit, neighbor_solicit_to, NeighborAdvert};
pub use tcp::{mss_for_mtu, tcp_frame, TcpFrame};
pub use udp::{udp_frame, UdpFrame};

#[cfg(test)]
pub(crate) use arp::arp_reply;
#[cfg(test)]
pub(crate) use icmp::icmp_error_frame;
#[cfg(test)]
pub(crate) use ndp::neighbor_advert;

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
    /// An IPv6 hop-by-hop header whose lengths do not fit.
    BadExtensionHeader,
    /// A jumbo payload option (RFC 2675) that breaks its rules: payload
    /// length 0 without one, one with a payload length, or 64 KiB or less.
    BadJumbo,
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
            FrameError::BadExtensionHeader => f.write_str("malformed IPv6 hop-by-hop header"),
            FrameError::BadJumbo => f.write_str("IPv6 jumbo payload option out of its rules"),
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

/// IP protocol numbers (IANA), shared by both families: IPv4's protocol
/// field and IPv6's next header.
pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ICMPV6: u8 = 58;

/// Parse one received frame. `checksum_verified` is the kernel's word
/// (PACKET_AUXDATA) that the TCP or UDP checksum was already checked or is
/// not filled in yet (offloaded); otherwise we verify it. ICMP checksums
/// are never offloaded and always verified.
pub fn parse(frame: &[u8], checksum_verified: bool) -> Result<Parsed, FrameError> {
    let (link, ethertype, payload) = ethernet::parse_ethernet(frame)?;
    match ethertype {
        ETHERTYPE_ARP => arp::parse_arp(payload).map(Parsed::Arp),
        ETHERTYPE_IPV4 => ipv4::parse_ipv4(link, payload, checksum_verified),
        ETHERTYPE_IPV6 => ipv6::parse_ipv6(link, payload, checksum_verified),
        other => Ok(Parsed::Other(other)),
    }
}

/// One's-complement sums have two zeros, 0x0000 and 0xffff: a sender may
/// put either where we compute the other (UDP must send 0xffff for 0,
/// RFC 768), and both are correct.
fn checksum_matches(computed: u16, field: u16) -> bool {
    computed == field || (computed == 0 && field == 0xffff) || (computed == 0xffff && field == 0)
}

/// `payload` (of IP protocol `protocol`) in an IPv4 or IPv6 frame of the
/// flow's addresses; empty for mixed families.
fn ip_frame(link: Link, flow: Flow, ip_id: u16, protocol: u8, payload: &[u8]) -> Vec<u8> {
    match (flow.src_ip, flow.dst_ip) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            ipv4::ipv4_frame(link, src, dst, ip_id, protocol, payload)
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            ipv6::ipv6_frame(link, src, dst, protocol, TTL, payload)
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::IcmpErrorKind;
    use testing::*;

    #[test]
    fn every_truncation_is_an_error_never_a_panic() {
        let frame = tcp_frame(link(), flow(), 1, &data_segment());
        for len in 0..frame.len() {
            let result = parse(&frame[..len], false);
            assert!(
                result.is_err(),
                "truncated to {len} bytes parsed: {result:?}"
            );
        }
    }

    #[test]
    fn mixed_family_flow_builds_nothing() {
        let mixed = Flow {
            src_ip: LB_IP.into(),
            dst_ip: VIP6.into(),
            src_port: 1,
            dst_port: 2,
        };
        assert!(tcp_frame(link(), mixed, 0, &syn()).is_empty());
    }

    /// Overwrite `flips` bytes of `frame` at places an xorshift state `x`
    /// picks (deterministic, bounded), and pick a length to cut it to.
    fn mutate(frame: &mut [u8], x: &mut u64, flips: usize) -> usize {
        for _ in 0..flips {
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            let at = (*x as usize) % frame.len();
            frame[at] = (*x >> 32) as u8;
        }
        (*x >> 40) as usize % (frame.len() + 1)
    }

    #[test]
    fn random_bytes_never_panic() {
        // xorshift: deterministic, bounded.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let template = tcp_frame(link(), flow(), 1, &syn());
        for round in 0..20_000 {
            let mut frame = template.clone();
            let cut = mutate(&mut frame, &mut x, round % 8 + 1);
            let _ = parse(&frame[..cut], round % 2 == 0);
        }
    }

    #[test]
    fn random_bytes_never_panic_for_the_new_kinds() {
        let packet = udp_frame(link(), flow_udp(), 1, b"q")[ETHERNET_HEADER..].to_vec();
        let packet6 = udp_frame(link(), flow6_udp(), 1, b"q")[ETHERNET_HEADER..].to_vec();
        let templates = [
            udp_frame(link(), flow_udp(), 1, b"hello"),
            udp_frame(link(), flow6_udp(), 1, b"hello"),
            echo_reply(rs_link(), RS_IP.into(), LB_IP.into(), 1, 2, 3, b"ping"),
            echo_reply(rs_link(), RS6.into(), LB6.into(), 1, 2, 3, b"ping"),
            icmp_error_frame(
                rs_link(),
                ROUTER.into(),
                LB_IP.into(),
                IcmpErrorKind::MtuExceeded { mtu: 1400 },
                &packet,
            ),
            icmp_error_frame(
                rs_link(),
                ROUTER6.into(),
                LB6.into(),
                IcmpErrorKind::PortUnreachable,
                &packet6,
            ),
            neighbor_advert(rs_link(), RS6, LB6, RS6, Some(RS_MAC)),
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for round in 0..40_000 {
            let mut frame = templates[round % templates.len()].clone();
            let cut = mutate(&mut frame, &mut x, round % 4 + 1);
            if let Ok(parsed) = parse(&frame[..cut], round % 3 == 0) {
                let _ = parsed.to_string();
            }
        }
    }

    #[test]
    fn every_fuzz_seed_parses_as_its_name_says() {
        // The seeds (fuzz/seeds/make_seeds.py) start from valid frames of each
        // kind; one that stopped parsing would start the fuzzer nowhere.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/frame_parse");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let data = std::fs::read(&path).unwrap();
            let parsed = parse(&data[1..], data[0] & 1 == 1);
            let ok = match &parsed {
                Ok(Parsed::Udp(_)) => name.starts_with("udp"),
                Ok(Parsed::Echo(_)) => name.starts_with("echo"),
                Ok(Parsed::IcmpError(_)) => ["unreachable", "needed", "exceeded", "too_big"]
                    .iter()
                    .any(|w| name.contains(w)),
                Ok(Parsed::Arp(_)) => name.starts_with("arp"),
                Ok(Parsed::NeighborAdvert(_)) => name.starts_with("neighbor"),
                Ok(Parsed::Tcp(_)) => true,
                _ => false,
            };
            assert!(ok, "seed {name}: {parsed:?}");
            seen += 1;
        }
        assert!(seen >= 18, "{seen} seeds");
    }
}
