//! Finding the real server's MAC address: ARP (IPv4) or NDP (IPv6) over
//! our own socket.
//!
//! We ask on the wire every time rather than trusting the kernel's
//! neighbour cache: a stale entry would send the check to a host that has
//! gone, and the whole point is to follow the path real traffic takes now.
//! Requests repeat with backoff within the check's deadline, so one lost
//! frame does not fail a healthy server.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use pnet_datalink::MacAddr;

use super::frame::{self, Parsed};
use super::{Failure, Step, Wire};

/// First retry; doubled each time up to `MAX_RETRY`.
const FIRST_RETRY: Duration = Duration::from_millis(200);
const MAX_RETRY: Duration = Duration::from_secs(1);
/// Requests sent at most: one a second at worst, enough for the longest
/// `-t`; the deadline ends it sooner.
const MAX_REQUESTS: u32 = 700;

/// Resolve `target` to a MAC address, asking from `source` (same family).
pub fn resolve(wire: &mut Wire, source: IpAddr, target: IpAddr) -> Result<MacAddr, Failure> {
    let (request, what) = match (source, target) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => (frame::arp_request(wire.our_mac, src, dst), "ARP"),
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            (frame::neighbor_solicit(wire.our_mac, src, dst), "NDP")
        }
        _ => {
            return Err(Failure::Local(format!(
                "source {source} and real server {target} are of different address families"
            )))
        }
    };
    let mut retry = FIRST_RETRY;
    for _ in 0..MAX_REQUESTS {
        wire.send(&request)?;
        wire.trace
            .frame(|| format!("> {what} request who-has {target} tell {source}"));
        let resend_at = Instant::now() + retry;
        // Within one request's wait, keep reading until it is time to resend.
        while Instant::now() < resend_at.min(wire.deadline) {
            if let Some(mac) =
                wire.receive(resend_at, |trace, parsed| answer(trace, parsed, target))?
            {
                return Ok(mac);
            }
        }
        if Instant::now() >= wire.deadline {
            break;
        }
        retry = (retry * 2).min(MAX_RETRY);
    }
    Err(Failure::Timeout(Step::Arp))
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
