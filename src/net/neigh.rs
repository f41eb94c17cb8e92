//! Finding the real server's MAC address: ARP (IPv4) or NDP (IPv6) over
//! our own socket.
//!
//! We ask on the wire every time rather than trusting the kernel's
//! neighbour cache: a stale entry would send the check to a host that has
//! gone, and the whole point is to follow the path real traffic takes now.
//! Requests repeat with backoff within the check's deadline (`Wire::ask`),
//! so one lost frame does not fail a healthy server.

use std::net::IpAddr;

use pnet_datalink::MacAddr;

use super::wire::{self, Parsed};
use super::Wire;
use crate::failure::{Failure, Step};
use crate::resend::Backoff;

/// Resolve `target` to a MAC address, asking from `source` (same family).
pub fn resolve(wire: &mut Wire, source: IpAddr, target: IpAddr) -> Result<MacAddr, Failure> {
    let (request, what) = match (source, target) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => (wire::arp_request(wire.our_mac, src, dst), "ARP"),
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            (wire::neighbor_solicit(wire.our_mac, src, dst), "NDP")
        }
        _ => {
            return Err(Failure::Local(format!(
                "source {source} and real server {target} are of different address families"
            )))
        }
    };
    let what = || format!("{what} request who-has {target} tell {source}");
    wire.ask(&request, what, Backoff::REQUESTS, |trace, parsed| {
        answer(trace, parsed, target)
    })?
    .ok_or(Failure::Timeout(Step::Arp))
}

/// The MAC from a reply about `target`, if this frame is one.
fn answer(trace: &mut crate::trace::Trace, parsed: Parsed, target: IpAddr) -> Option<MacAddr> {
    match parsed {
        Parsed::Arp(arp) if arp.is_reply && IpAddr::V4(arp.sender_ip) == target => {
            trace.frame(|| format!("< {arp}"));
            Some(arp.sender_mac)
        }
        Parsed::NeighborAdvert(na) if IpAddr::V6(na.target) == target => {
            trace.frame(|| format!("< {na}"));
            // An advertisement without the option names no address: keep
            // waiting for one that does.
            na.target_mac
        }
        other => {
            trace.frame(|| format!("< ignored while resolving: {other}"));
            None
        }
    }
}
