//! Where a frame the shared filter let through goes: to the flow that
//! holds its local port (an ICMP error: the port of the datagram it
//! quotes), or, for an ARP reply or a Neighbor Advertisement, to the
//! neighbour cache and the runs resolving that address.
//!
//! Only the few header fields that decide are read, at fixed offsets,
//! every read bounds-checked: the run parses the whole frame afterwards
//! with `wire::parse`, which validates it (checksums, lengths). A frame
//! this cannot place is counted as matching no flow, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use pnet_datalink::MacAddr;

use crate::net::wire::{
    ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ICMPV6_ERRORS, ICMPV6_NEIGHBOR_ADVERT,
    ICMP_ERRORS, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP, IPPROTO_UDP,
};

/// Where a frame belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dest {
    /// The flow holding this local port (TCP and UDP share the number).
    Port(u16),
    /// A neighbour's answer: `ip` is at `mac` (`None`: an advertisement
    /// without the option, which names no address).
    Neighbour { ip: IpAddr, mac: Option<MacAddr> },
}

const ETH: usize = 14;
/// NDP option: target link-layer address (RFC 4861 4.6.1).
const NDP_OPT_TARGET_LL: u8 = 2;

fn u16_at(f: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*f.get(at)?, *f.get(at + 1)?]))
}

fn bytes<const N: usize>(f: &[u8], at: usize) -> Option<[u8; N]> {
    f.get(at..at + N)?.try_into().ok()
}

fn is_flow(proto: u8) -> bool {
    proto == IPPROTO_TCP || proto == IPPROTO_UDP
}

/// Where `frame` goes, if anywhere.
pub(crate) fn classify(frame: &[u8]) -> Option<Dest> {
    match u16_at(frame, 12)? {
        ETHERTYPE_ARP => arp(frame),
        ETHERTYPE_IPV4 => ipv4(frame),
        ETHERTYPE_IPV6 => ipv6(frame),
        _ => None,
    }
}

fn arp(f: &[u8]) -> Option<Dest> {
    // Ethernet/IPv4 ARP, operation reply.
    if u16_at(f, ETH)? != 1 || u16_at(f, ETH + 2)? != ETHERTYPE_IPV4 || u16_at(f, ETH + 6)? != 2 {
        return None;
    }
    let mac: [u8; 6] = bytes(f, ETH + 8)?;
    let ip: [u8; 4] = bytes(f, ETH + 14)?;
    Some(Dest::Neighbour {
        ip: IpAddr::V4(Ipv4Addr::from(ip)),
        mac: Some(MacAddr::from(mac)),
    })
}

fn ipv4(f: &[u8]) -> Option<Dest> {
    let ihl = usize::from(f.get(ETH)? & 0x0f) * 4;
    if ihl < 20 || u16_at(f, ETH + 6)? & 0x1fff != 0 {
        return None; // malformed, or not the first fragment: no ports
    }
    let proto = *f.get(ETH + 9)?;
    let l4 = ETH + ihl;
    if is_flow(proto) {
        return u16_at(f, l4 + 2).map(Dest::Port);
    }
    if proto != IPPROTO_ICMP || !ICMP_ERRORS.contains(f.get(l4)?) {
        return None;
    }
    let quoted = l4 + 8;
    let quoted_ihl = usize::from(f.get(quoted)? & 0x0f) * 4;
    if quoted_ihl < 20 || !is_flow(*f.get(quoted + 9)?) {
        return None;
    }
    u16_at(f, quoted + quoted_ihl).map(Dest::Port)
}

fn ipv6(f: &[u8]) -> Option<Dest> {
    let next = *f.get(ETH + 6)?;
    let l4 = ETH + 40;
    if is_flow(next) {
        return u16_at(f, l4 + 2).map(Dest::Port);
    }
    if next != IPPROTO_ICMPV6 {
        return None;
    }
    let kind = *f.get(l4)?;
    if kind == ICMPV6_NEIGHBOR_ADVERT {
        let target: [u8; 16] = bytes(f, l4 + 8)?;
        let option = l4 + 24;
        let mac = match (f.get(option), f.get(option + 1)) {
            (Some(&NDP_OPT_TARGET_LL), Some(1)) => bytes::<6>(f, option + 2).map(MacAddr::from),
            _ => None,
        };
        return Some(Dest::Neighbour {
            ip: IpAddr::V6(Ipv6Addr::from(target)),
            mac,
        });
    }
    if !ICMPV6_ERRORS.contains(&kind) {
        return None;
    }
    let quoted = l4 + 8;
    if !is_flow(*f.get(quoted + 6)?) {
        return None;
    }
    u16_at(f, quoted + 40).map(Dest::Port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::IcmpErrorKind;
    use crate::net::wire::testing::*;
    use crate::net::wire::{self, Link};

    fn icmp_error_about(our_frame: &[u8], from: IpAddr, to: IpAddr) -> Vec<u8> {
        wire::icmp_error_frame(
            rs_link(),
            from,
            to,
            IcmpErrorKind::PortUnreachable,
            &our_frame[ETH..],
        )
    }

    #[test]
    fn flows_go_to_their_local_port_in_either_family() {
        for (f, seg) in [(flow(), syn()), (flow6(), data_segment())] {
            let reply = wire::tcp_frame(rs_link(), f.reversed(), 1, &seg);
            assert_eq!(classify(&reply), Some(Dest::Port(f.src_port)));
        }
        for f in [flow_udp(), flow6_udp()] {
            let reply = wire::udp_frame(rs_link(), f.reversed(), 1, b"answer");
            assert_eq!(classify(&reply), Some(Dest::Port(f.src_port)));
        }
        // IPv4 options move the ports: the header length is read.
        let reply = with_ip_options(wire::tcp_frame(rs_link(), flow().reversed(), 1, &syn()));
        assert_eq!(classify(&reply), Some(Dest::Port(40000)));
    }

    #[test]
    fn icmp_errors_go_to_the_port_they_quote() {
        for f in [flow_udp(), flow6_udp()] {
            let ours = wire::udp_frame(link(), f, 1, b"query");
            let error = icmp_error_about(&ours, f.dst_ip, f.src_ip);
            assert_eq!(classify(&error), Some(Dest::Port(f.src_port)));
        }
    }

    #[test]
    fn neighbour_answers_name_the_address_and_its_mac() {
        let rs: Link = rs_link();
        let reply = wire::arp_reply(rs, RS_IP, LB_IP);
        assert_eq!(
            classify(&reply),
            Some(Dest::Neighbour {
                ip: RS_IP.into(),
                mac: Some(RS_MAC)
            })
        );
        // A request is no answer.
        assert_eq!(classify(&wire::arp_request(LB_MAC, LB_IP, RS_IP)), None);
        for mac in [Some(RS_MAC), None] {
            let na = wire::neighbor_advert(rs, RS6, LB6, RS6, mac);
            assert_eq!(
                classify(&na),
                Some(Dest::Neighbour {
                    ip: RS6.into(),
                    mac
                })
            );
        }
    }

    #[test]
    fn anything_else_and_every_truncation_places_nowhere_without_panic() {
        let ours = wire::udp_frame(link(), flow_udp(), 1, b"query");
        let frames = [
            wire::tcp_frame(rs_link(), flow().reversed(), 1, &syn()),
            wire::tcp_frame(rs_link(), flow6().reversed(), 1, &syn()),
            wire::arp_reply(rs_link(), RS_IP, LB_IP),
            wire::neighbor_advert(rs_link(), RS6, LB6, RS6, Some(RS_MAC)),
            icmp_error_about(&ours, VIP.into(), LB_IP.into()),
        ];
        for frame in &frames {
            for len in 0..frame.len().min(120) {
                let _ = classify(&frame[..len]);
            }
        }
        assert_eq!(classify(&[0u8; 14]), None);
        let fragment = with_ip_header(frames[0].clone(), |ip| ip.set_fragment_offset(100));
        assert_eq!(classify(&fragment), None);
    }
}
