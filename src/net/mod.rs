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
//!
//! `net` is the layer above the base: it implements the base's contracts
//! (`channel::Transport` by `conn`, `channel::Datagram` by `datagram`) and
//! asks with the base's `resend` loop, and imports nothing from
//! `transport`, `checks` or above (tests/architecture.rs).

pub mod bpf;
pub mod conn;
pub mod datagram;
pub mod link;
pub mod neigh;
pub mod path;
pub mod port;
pub mod seq;
pub mod socket;
pub mod source;
pub mod tcp;
pub mod wire;

use std::time::Instant;

use pnet_datalink::MacAddr;

use crate::failure::Failure;
use crate::resend::{resend, Backoff};
use crate::trace::Trace;
use crate::wait::{Ready, Waiter};
use socket::PacketSocket;
use wire::Parsed;

/// Frames handled per wake-up before checking the clock again, so a burst
/// of matching frames cannot hold us past the deadline.
const FRAMES_PER_WAKE: usize = 256;

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
        backoff: Backoff,
        mut handle: impl FnMut(&mut Trace, Parsed) -> Option<T>,
    ) -> Result<Option<T>, Failure> {
        let deadline = self.deadline;
        resend(
            self,
            deadline,
            backoff,
            |wire| {
                wire.send(request)?;
                wire.trace.frame(|| format!("> {}", what()));
                Ok(())
            },
            |wire, until| wire.receive(until, &mut handle),
        )
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
