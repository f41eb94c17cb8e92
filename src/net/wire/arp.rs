//! ARP for IPv4 over Ethernet (RFC 826): the requests we send to learn
//! the real server's MAC (or to ask one host whether it still holds an
//! address, as the VIP check does), and the replies we parse.

use std::fmt;
use std::net::Ipv4Addr;

use pnet_datalink::MacAddr;
use pnet_packet::arp::{
    ArpHardwareTypes, ArpOperation, ArpOperations, ArpPacket, MutableArpPacket,
};
use pnet_packet::ethernet::EtherType;

use super::ethernet::{ethernet, ETHERNET_HEADER, ETHERTYPE_ARP, ETHERTYPE_IPV4};
use super::{FrameError, Link};

const ARP_PACKET: usize = 28;

/// An ARP packet's addresses (request or reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    pub is_reply: bool,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
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
#[cfg(test)]
pub fn arp_reply(link: Link, sender_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Vec<u8> {
    arp(link, ArpOperations::Reply, sender_ip, link.dst, target_ip)
}

fn arp(
    link: Link,
    operation: ArpOperation,
    sender_ip: Ipv4Addr,
    target_mac: MacAddr,
    target_ip: Ipv4Addr,
) -> Vec<u8> {
    let mut buf = ethernet(link, ETHERTYPE_ARP, ETHERNET_HEADER + ARP_PACKET);
    if let Some(mut arp) = MutableArpPacket::new(&mut buf[ETHERNET_HEADER..]) {
        arp.set_hardware_type(ArpHardwareTypes::Ethernet);
        arp.set_protocol_type(EtherType(ETHERTYPE_IPV4));
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

pub(super) fn parse_arp(data: &[u8]) -> Result<Arp, FrameError> {
    let arp = ArpPacket::new(data).ok_or(FrameError::TooShort {
        what: "ARP packet",
        len: data.len(),
    })?;
    if data.len() < ARP_PACKET
        || arp.get_hardware_type() != ArpHardwareTypes::Ethernet
        || arp.get_protocol_type() != EtherType(ETHERTYPE_IPV4)
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
mod tests {
    use super::*;
    use crate::net::wire::testing::*;
    use crate::net::wire::*;

    #[test]
    fn arp_request_round_trip() {
        let frame = arp_request(LB_MAC, LB_IP, RS_IP);
        assert_eq!(frame.len(), MIN_FRAME);
        assert_eq!(&frame[..6], &[0xff; 6]);
        match parse(&frame, false) {
            Ok(Parsed::Arp(arp)) => {
                assert!(!arp.is_reply);
                assert_eq!(arp.sender_mac, LB_MAC);
                assert_eq!(arp.sender_ip, LB_IP);
                assert_eq!(arp.target_ip, RS_IP);
            }
            other => panic!("expected ARP, got {other:?}"),
        }
    }

    #[test]
    fn arp_reply_is_recognised() {
        let mut frame = arp_request(RS_MAC, RS_IP, LB_IP);
        frame[ETHERNET_HEADER + 7] = 2; // operation = reply
        match parse(&frame, false) {
            Ok(Parsed::Arp(arp)) => {
                assert!(arp.is_reply);
                assert_eq!(arp.sender_mac, RS_MAC);
                assert_eq!(arp.sender_ip, RS_IP);
            }
            other => panic!("expected ARP, got {other:?}"),
        }
    }

    #[test]
    fn arp_for_other_protocols_is_rejected() {
        let mut frame = arp_request(RS_MAC, RS_IP, LB_IP);
        frame[ETHERNET_HEADER + 4] = 8; // hardware address length
        assert_eq!(parse(&frame, false), Err(FrameError::UnsupportedArp));
        assert!(matches!(
            parse(&frame[..ETHERNET_HEADER + 10], false),
            Err(FrameError::TooShort { .. })
        ));
    }

    #[test]
    fn unicast_arp_request_reply_round_trip() {
        let req = arp_request_to(link(), LB_IP, RS_IP);
        assert_eq!(&req[..6], &RS_MAC.octets());
        assert_eq!(&req[6..12], &LB_MAC.octets());
        assert_eq!(
            parse(&req, false),
            Ok(Parsed::Arp(Arp {
                is_reply: false,
                sender_mac: LB_MAC,
                sender_ip: LB_IP,
                target_mac: MacAddr::zero(),
                target_ip: RS_IP,
            }))
        );
        // The broadcast form is the same request to ff:ff:ff:ff:ff:ff.
        let broadcast = Link {
            src: LB_MAC,
            dst: MacAddr::broadcast(),
        };
        assert_eq!(
            arp_request(LB_MAC, LB_IP, RS_IP),
            arp_request_to(broadcast, LB_IP, RS_IP)
        );
        let reply = arp_reply(rs_link(), RS_IP, LB_IP);
        assert_eq!(reply.len(), MIN_FRAME);
        assert_eq!(
            parse(&reply, false),
            Ok(Parsed::Arp(Arp {
                is_reply: true,
                sender_mac: RS_MAC,
                sender_ip: RS_IP,
                target_mac: LB_MAC,
                target_ip: LB_IP,
            }))
        );
    }
}
