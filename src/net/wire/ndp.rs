//! Neighbor Discovery (RFC 4861), IPv6's ARP: the solicitations we send
//! to learn the real server's MAC (or to ask one host whether it still
//! holds an address), and the advertisements we parse, hop limit and
//! options checked.

use std::fmt;
use std::net::Ipv6Addr;

use pnet_datalink::MacAddr;

#[cfg(test)]
use super::icmp::ICMPV6_NEIGHBOR_ADVERT;
use super::icmp::{icmpv6_frame, ICMPV6_NEIGHBOR_SOLICIT};
use super::ipv6::{ipv6_multicast_mac, solicited_node};
use super::{FrameError, Link};

const NDP_OPT_SOURCE_LL: u8 = 1;

const NDP_OPT_TARGET_LL: u8 = 2;

/// The Solicited flag in a Neighbor Advertisement's flags byte.
const NA_SOLICITED: u8 = 0x40;

/// NDP is only valid with hop limit 255, so it cannot come from off-link.
const NDP_HOP_LIMIT: u8 = 255;

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
    /// The S flag: an answer to a solicitation, not an announcement
    /// (RFC 4861 4.4), so a host's unsolicited advertisement to all nodes
    /// is not taken for an answer to our question.
    pub solicited: bool,
}

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
#[cfg(test)]
pub fn neighbor_advert(
    link: Link,
    src_ip: Ipv6Addr,
    dst_ip: Ipv6Addr,
    target: Ipv6Addr,
    target_mac: Option<MacAddr>,
) -> Vec<u8> {
    const OVERRIDE: u8 = 0x20;
    let flags = if dst_ip.is_multicast() {
        OVERRIDE
    } else {
        NA_SOLICITED | OVERRIDE
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

/// A Neighbor Advertisement whose checksum is verified.
pub(super) fn parse_neighbor_advert(
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
        solicited: data[4] & NA_SOLICITED != 0,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::wire::testing::*;
    use crate::net::wire::*;
    use pnet_packet::icmpv6::{self, Icmpv6Packet};

    #[test]
    fn solicited_node_group_and_multicast_mac() {
        assert_eq!(
            solicited_node(RS6),
            "ff02::1:ff34:5611".parse::<Ipv6Addr>().unwrap()
        );
        let ns = neighbor_solicit(LB_MAC, LB6, RS6);
        assert_eq!(&ns[..6], &[0x33, 0x33, 0xff, 0x34, 0x56, 0x11]);
        let ip = pnet_packet::ipv6::Ipv6Packet::new(&ns[ETHERNET_HEADER..]).unwrap();
        assert_eq!(ip.get_hop_limit(), 255);
        assert_eq!(ip.get_destination(), solicited_node(RS6));
        // Our own solicitation parses (checksum right) and is not an advert.
        assert_eq!(parse(&ns, false), Ok(Parsed::Other(0x86dd)));
    }

    /// A Neighbor Advertisement from the real server, as Linux sends it.
    fn advert(hop_limit: u8, options: &[u8]) -> Vec<u8> {
        let mut icmp = vec![136, 0, 0, 0, 0x60, 0, 0, 0];
        icmp.extend_from_slice(&RS6.octets());
        icmp.extend_from_slice(options);
        let sum = icmpv6::checksum(&Icmpv6Packet::new(&icmp).unwrap(), &RS6, &LB6);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        ipv6_frame(link(), RS6, LB6, 58, hop_limit, &icmp)
    }

    const TLLA: [u8; 8] = [2, 1, 0x02, 0, 0, 0, 0, 0x11];

    #[test]
    fn neighbor_advert_gives_the_target_mac() {
        match parse(&advert(255, &TLLA), false) {
            Ok(Parsed::NeighborAdvert(na)) => {
                assert_eq!(na.target, RS6);
                assert_eq!(na.target_mac, Some(RS_MAC));
                assert_eq!(na.link, link());
            }
            other => panic!("expected an advertisement, got {other:?}"),
        }
        match parse(&advert(255, &[]), false) {
            Ok(Parsed::NeighborAdvert(na)) => assert_eq!(na.target_mac, None),
            other => panic!("expected an advertisement, got {other:?}"),
        }
    }

    #[test]
    fn bad_neighbor_adverts_are_rejected() {
        assert_eq!(
            parse(&advert(64, &TLLA), false),
            Err(FrameError::BadNdpHopLimit(64))
        );
        assert_eq!(
            parse(&advert(255, &[2, 0, 0, 0, 0, 0, 0, 0]), false),
            Err(FrameError::BadNdpOption)
        );
        assert_eq!(
            parse(&advert(255, &[2, 2, 1, 2, 3, 4, 5, 6]), false),
            Err(FrameError::BadNdpOption)
        );
        let mut corrupt = advert(255, &TLLA);
        let last = corrupt.len() - 1;
        corrupt[last] ^= 1;
        assert_eq!(parse(&corrupt, false), Err(FrameError::BadIcmpv6Checksum));
    }

    #[test]
    fn unicast_neighbor_solicit_goes_to_the_target_itself() {
        let ns = neighbor_solicit_to(link(), LB6, RS6);
        assert_eq!(&ns[..6], &RS_MAC.octets());
        let ip = pnet_packet::ipv6::Ipv6Packet::new(&ns[ETHERNET_HEADER..]).unwrap();
        assert_eq!(ip.get_destination(), RS6);
        assert_eq!(ip.get_hop_limit(), 255);
        let icmp = &ns[ETHERNET_HEADER + IPV6_HEADER..];
        assert_eq!(icmp[0], 135);
        assert_eq!(&icmp[8..24], &RS6.octets());
        assert_eq!(&icmp[24..32], &[1, 1, 2, 0, 0, 0, 0, 1]); // our source LL option
                                                              // Checksum right: it parses, as an NS, to Other.
        assert_eq!(parse(&ns, false), Ok(Parsed::Other(0x86dd)));
        // The multicast form differs only in the destinations.
        let multicast = neighbor_solicit(LB_MAC, LB6, RS6);
        assert_eq!(&multicast[ETHERNET_HEADER + IPV6_HEADER + 8..], &icmp[8..]);
    }

    #[test]
    fn neighbor_advert_builder_round_trip() {
        for target_mac in [Some(RS_MAC), None] {
            let na = neighbor_advert(rs_link(), RS6, LB6, RS6, target_mac);
            assert_eq!(
                parse(&na, false),
                Ok(Parsed::NeighborAdvert(NeighborAdvert {
                    link: rs_link(),
                    src_ip: RS6,
                    target: RS6,
                    target_mac,
                    solicited: true,
                }))
            );
            assert_eq!(na[ETHERNET_HEADER + IPV6_HEADER + 4], 0x60, "S and O");
        }
        // Two hosts answering for one address: the links tell them apart.
        let other = Link {
            src: MacAddr(2, 0, 0, 0, 0, 0x22),
            dst: LB_MAC,
        };
        let a = neighbor_advert(rs_link(), RS6, LB6, RS6, None);
        let b = neighbor_advert(other, RS6, LB6, RS6, None);
        match (parse(&a, false), parse(&b, false)) {
            (Ok(Parsed::NeighborAdvert(a)), Ok(Parsed::NeighborAdvert(b))) => {
                assert_ne!(a.link.src, b.link.src)
            }
            other => panic!("expected two advertisements, got {other:?}"),
        }
        let unsolicited = neighbor_advert(rs_link(), RS6, "ff02::1".parse().unwrap(), RS6, None);
        assert_eq!(
            unsolicited[ETHERNET_HEADER + IPV6_HEADER + 4],
            0x20,
            "O only"
        );
        match parse(&unsolicited, false) {
            Ok(Parsed::NeighborAdvert(na)) => assert!(!na.solicited),
            other => panic!("expected an advertisement, got {other:?}"),
        }
    }
}
