//! The raw-frame engine: one AF_PACKET socket, hand-built frames, ARP, and a
//! userspace TCP client, all bounded by one deadline.
//!
//! `path::RawPath::open` sets a check's path up: the interface, the source
//! address and reserved port, the socket filtered for what this check
//! expects, and the real server's MAC. Its `Wire` is what every step
//! shares: the socket, the signal-aware waiter, the deadline and the
//! (borrowed) trace. `neigh` resolves MACs over it, `conn` drives the
//! sans-IO `tcp` client over it.
//!
//! Nothing here words a failure for the status line: errors are typed
//! (`Failure`, `PathError`) and `checks` says what they mean.

pub mod bpf;
pub mod conn;
pub mod datagram;
pub mod link;
pub mod neigh;
pub mod path;
pub mod port;
pub mod seq;
pub mod socket;
pub mod tcp;
pub mod wire;

use std::time::{Duration, Instant};

use pnet_datalink::MacAddr;

pub use crate::failure::{Failure, Step};
use crate::trace::Trace;
use crate::wait::{Ready, Waiter};
use socket::PacketSocket;
use wire::Parsed;

/// Frames handled per wake-up before checking the clock again, so a burst
/// of matching frames cannot hold us past the deadline.
const FRAMES_PER_WAKE: usize = 256;

/// Wake-ups handled at most while one request waits for its answer.
const WAKEUPS_PER_REQUEST: usize = 100_000;

/// Requests sent at most by one [`Wire::ask`]: one a second at worst,
/// enough for the longest `-t`; the deadline ends it sooner.
const MAX_REQUESTS: u32 = 700;

/// When to send a request again: first after `first`, then twice as long
/// each time, up to `max`. One lost frame must not fail a healthy server,
/// and a flood of resends must not add to a busy link's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// ARP, NDP and datagram requests: 200 ms, 400 ms, 800 ms, then 1 s.
    pub const REQUESTS: Backoff = Backoff {
        next: Duration::from_millis(200),
        max: Duration::from_secs(1),
    };

    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { next: first, max }
    }

    /// The wait before the next resend; each call doubles the one after.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }
}

/// The socket and everything the steps of one check share.
#[derive(Debug)]
pub struct Wire<'a> {
    pub sock: PacketSocket,
    pub waiter: &'a Waiter,
    pub our_mac: MacAddr,
    /// The whole check ends here, ARP included.
    pub deadline: Instant,
    /// The check's trace, lent for the life of the path.
    pub trace: &'a mut Trace,
}

/// The interface is gone or down: the kernel says so on send and receive
/// (`packet_notifier` sets ENETDOWN on the socket when the link drops).
fn is_link_down(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENETDOWN | libc::ENXIO | libc::ENODEV)
    )
}

impl Wire<'_> {
    /// Send one frame. A full transmit queue (ENOBUFS, EAGAIN) is a lost
    /// frame like any other, left to the retransmission timers: on a busy
    /// director it must not turn a healthy server into UNKNOWN ("down").
    pub fn send(&mut self, frame: &[u8]) -> Result<(), Failure> {
        match self.sock.send(frame) {
            Ok(()) => Ok(()),
            Err(e)
                if e.raw_os_error() == Some(libc::ENOBUFS)
                    || matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                    ) =>
            {
                self.trace
                    .frame(|| format!("> frame dropped by the kernel ({e}); the timers resend"));
                Ok(())
            }
            Err(e) if is_link_down(&e) => Err(Failure::LinkDown(e)),
            Err(e) => Err(Failure::Local(format!(
                "cannot send on the packet socket: {e}"
            ))),
        }
    }

    /// Send `request` (described by `what` at `-vvv`) and send it again on
    /// `backoff` until `handle` takes a frame as the answer (`Ok(Some)`) or
    /// the deadline passes (`Ok(None)`).
    pub fn ask<T>(
        &mut self,
        request: &[u8],
        what: impl Fn() -> String,
        mut backoff: Backoff,
        mut handle: impl FnMut(&mut Trace, Parsed) -> Option<T>,
    ) -> Result<Option<T>, Failure> {
        for _ in 0..MAX_REQUESTS {
            self.send(request)?;
            self.trace.frame(|| format!("> {}", what()));
            let resend_at = Instant::now() + backoff.next_wait();
            // Within one request's wait, keep reading until it is time to
            // resend; each round is a wake-up (a batch or the wait's end),
            // and the count bounds a socket that keeps waking us for nothing.
            for _ in 0..WAKEUPS_PER_REQUEST {
                if Instant::now() >= resend_at.min(self.deadline) {
                    break;
                }
                if let Some(answer) = self.receive(resend_at, &mut handle)? {
                    return Ok(Some(answer));
                }
            }
            if Instant::now() >= self.deadline {
                break;
            }
        }
        Ok(None)
    }

    /// Wait until a frame arrives or `until` (never past the deadline),
    /// then hand each valid frame to `handle` until it returns `Some`.
    /// `Ok(None)`: nothing conclusive arrived and `until` was reached, or
    /// the frames that arrived were all handled without a result.
    pub fn receive<T>(
        &mut self,
        until: Instant,
        mut handle: impl FnMut(&mut Trace, Parsed) -> Option<T>,
    ) -> Result<Option<T>, Failure> {
        let until = until.min(self.deadline);
        // Frames left from the last batch are ready although the socket
        // may poll empty: the same signal and clock checks, no poll.
        let ready = if self.sock.has_queued() {
            self.waiter.check(until)?
        } else {
            self.waiter.wait(self.sock.raw_fd(), libc::POLLIN, until)?
        };
        if ready == Ready::Timeout {
            return Ok(None);
        }
        for _ in 0..FRAMES_PER_WAKE {
            let Some(rx) = self.sock.recv().map_err(|e| {
                if is_link_down(&e) {
                    Failure::LinkDown(e)
                } else {
                    Failure::Local(format!("cannot receive on the packet socket: {e}"))
                }
            })?
            else {
                break;
            };
            if rx.truncated {
                let len = rx.wire_len;
                self.trace
                    .frame(|| format!("< truncated frame of {len} bytes ignored"));
                continue;
            }
            match wire::parse(rx.frame, rx.checksum_verified) {
                Ok(parsed) => {
                    if let Some(done) = handle(self.trace, parsed) {
                        return Ok(Some(done));
                    }
                }
                Err(err) => self
                    .trace
                    .frame(|| format!("< malformed frame ignored: {err}")),
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let mut b = Backoff::REQUESTS;
        let waits: Vec<u64> = (0..6).map(|_| b.next_wait().as_millis() as u64).collect();
        assert_eq!(waits, [200, 400, 800, 1000, 1000, 1000]);
        let mut fast = Backoff::new(Duration::from_millis(10), Duration::from_millis(25));
        assert_eq!(fast.next_wait(), Duration::from_millis(10));
        assert_eq!(fast.next_wait(), Duration::from_millis(20));
        assert_eq!(fast.next_wait(), Duration::from_millis(25));
    }
}
