//! Finding the real server's MAC address: ARP over our own socket.
//!
//! We ask on the wire every time rather than trusting the kernel's
//! neighbour cache: a stale entry would send the check to a host that has
//! gone, and the whole point is to follow the path real traffic takes now.
//! Requests repeat with backoff within the check's deadline, so one lost
//! frame does not fail a healthy server.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use pnet_datalink::MacAddr;

use super::frame::{self, Parsed};
use super::{Failure, Step, Wire};

/// First ARP retry; doubled each time up to `MAX_RETRY`.
const FIRST_RETRY: Duration = Duration::from_millis(200);
const MAX_RETRY: Duration = Duration::from_secs(1);
/// Requests sent at most, whatever the deadline.
const MAX_REQUESTS: u32 = 32;

/// Resolve `target` to a MAC address, asking as `source_ip`.
pub fn resolve_ipv4(
    wire: &mut Wire,
    source_ip: Ipv4Addr,
    target: Ipv4Addr,
) -> Result<MacAddr, Failure> {
    let request = frame::arp_request(wire.our_mac, source_ip, target);
    let mut retry = FIRST_RETRY;
    for _ in 0..MAX_REQUESTS {
        wire.send(&request)?;
        wire.trace
            .frame(|| format!("> ARP request who-has {target} tell {source_ip}"));
        let resend_at = Instant::now() + retry;
        // Within one request's wait, keep reading until it is time to resend.
        while Instant::now() < resend_at.min(wire.deadline) {
            let reply = wire.receive(resend_at, |trace, parsed| match parsed {
                Parsed::Arp(arp) if arp.is_reply && arp.sender_ip == target => {
                    trace.frame(|| format!("< {arp}"));
                    Some(arp.sender_mac)
                }
                other => {
                    trace.frame(|| format!("< ignored while resolving: {other:?}"));
                    None
                }
            })?;
            if let Some(mac) = reply {
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
