//! The engine's direct flows: TCP runs whose driver (check_raw_serve's
//! main loop, `serve::direct`) reads and writes their frames itself, on
//! a packet socket of its own per interface, instead of a run blocking
//! on a mailbox the readers fill. They get the upper half of the port
//! range, which the readers' filters leave out.

use std::net::IpAddr;
use std::sync::Arc;

use super::{bump, Engine, Inner, PathError, Program, Proto};
use crate::net::socket::PacketSocket;

impl Engine {
    /// A packet socket on `ifindex` for the direct flows: it passes TCP
    /// to the direct half of the range and the ICMP errors quoting it, no
    /// neighbour answers (the readers' sockets see those). The loop that
    /// drives the flows owns it and reads it itself: no reader thread, no
    /// mailbox. `None`: this engine has no direct range.
    pub fn direct_socket(&self, ifindex: u32) -> Option<Result<PacketSocket, PathError>> {
        let range = self.inner.direct.as_ref()?.range();
        Some(
            Program::port_range(range, false)
                .map_err(|e| PathError::Filter(e.to_string()))
                .and_then(|f| PacketSocket::open(ifindex, &f).map_err(PathError::Socket)),
        )
    }

    /// A port of the direct half for one flow from `src`, held for TCP;
    /// given back when the [`DirectPort`] drops. `Ok(None)`: no direct range.
    pub fn direct_port(&self, src: IpAddr) -> Result<Option<DirectPort>, PathError> {
        let Some(pool) = &self.inner.direct else {
            return Ok(None);
        };
        let port = pool
            .lend_number(None, src.is_ipv6(), &[Proto::Tcp])
            .map_err(|e| e.for_source(src, "direct range"))?;
        bump(&self.inner.counters.direct_runs);
        Ok(Some(DirectPort {
            inner: self.inner.clone(),
            port,
        }))
    }

    /// What a direct flow's driver saw, for [`Engine::stats`].
    pub fn tally(&self, event: Tally) {
        let c = &self.inner.counters;
        bump(match event {
            Tally::Sent => &c.sent,
            Tally::Received => &c.received,
            Tally::Delivered => &c.delivered,
            Tally::Unmatched => &c.unmatched,
        });
    }

    /// A run sent to `ip` at the MAC the cache gave and heard nothing
    /// back: the server may have moved, ask next time.
    pub fn forget_neighbour(&self, ifindex: u32, ip: IpAddr) {
        self.inner.neigh.forget(ifindex, ip);
    }
}

/// What a direct flow's driver counts: see [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    Sent,
    Received,
    Delivered,
    Unmatched,
}

/// One port of the direct half, lent to one flow until dropped.
#[derive(Debug)]
pub struct DirectPort {
    inner: Arc<Inner>,
    port: u16,
}

impl DirectPort {
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for DirectPort {
    fn drop(&mut self) {
        if let Some(pool) = &self.inner.direct {
            pool.give_back(self.port);
        }
    }
}

/// The runs' half of `range` and the direct flows' half (none for a range
/// of one port). The halves are even: the runs (HTTP, DNS, TLS, the
/// BACKUP role's checks, /probe) hold a port as long as a direct TCP flow.
pub(super) fn split((lo, hi): (u16, u16)) -> ((u16, u16), Option<(u16, u16)>) {
    if lo >= hi {
        return ((lo, hi), None);
    }
    let mid = lo + (hi - lo) / 2;
    ((lo, mid), Some((mid + 1, hi)))
}
