//! The Ethernet II header: 14 bytes, our frames padded to the 60-byte
//! minimum, and the EtherTypes we build and parse.

use pnet_packet::ethernet::{EtherType, EthernetPacket, MutableEthernetPacket};

use super::{FrameError, Link};

pub const ETHERNET_HEADER: usize = 14;
/// Shortest Ethernet frame without FCS; shorter frames are padded.
pub(super) const MIN_FRAME: usize = 60;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// A frame of at least `len` bytes (padded to `MIN_FRAME`), its Ethernet
/// header filled in and the rest zero, for the next layer to write.
pub(super) fn ethernet(link: Link, ethertype: u16, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len.max(MIN_FRAME)];
    if let Some(mut eth) = MutableEthernetPacket::new(&mut buf) {
        eth.set_destination(link.dst);
        eth.set_source(link.src);
        eth.set_ethertype(EtherType(ethertype));
    }
    buf
}

/// The link-layer addresses, the EtherType and the payload of `frame`.
pub(super) fn parse_ethernet(frame: &[u8]) -> Result<(Link, u16, &[u8]), FrameError> {
    let eth = EthernetPacket::new(frame).ok_or(FrameError::TooShort {
        what: "Ethernet frame",
        len: frame.len(),
    })?;
    let link = Link {
        src: eth.get_source(),
        dst: eth.get_destination(),
    };
    Ok((link, eth.get_ethertype().0, &frame[ETHERNET_HEADER..]))
}

#[cfg(test)]
mod tests {
    use crate::net::wire::testing::*;
    use crate::net::wire::*;

    #[test]
    fn other_ethertypes_pass_through_as_other() {
        let mut frame = tcp_frame(link(), flow(), 1, &syn());
        frame[12] = 0x88;
        frame[13] = 0xcc; // LLDP
        assert_eq!(parse(&frame, false), Ok(Parsed::Other(0x88cc)));
        frame[12] = 0x86;
        frame[13] = 0xdd; // IPv6 EtherType over an IPv4 packet
        assert_eq!(parse(&frame, false), Err(FrameError::BadIpVersion(4)));
    }
}
