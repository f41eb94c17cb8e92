//! The raw-frame engine: one AF_PACKET socket, hand-built frames, ARP, and a
//! userspace TCP client, all bounded by one deadline.
//!
//! `Wire` is what every step shares: the socket, the signal-aware waiter,
//! the deadline and the trace. `neigh` resolves the real server's MAC over
//! it, `conn` drives the sans-IO `tcp` client over it.

pub mod bpf;
pub mod conn;
pub mod frame;
pub mod link;
pub mod neigh;
pub mod port;
pub mod seq;
pub mod tcp;

use std::time::Instant;

use pnet_datalink::MacAddr;

pub use crate::failure::{Failure, Step};
use crate::trace::Trace;
use crate::wait::{Ready, Waiter};
use frame::Parsed;
use link::PacketSocket;

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
    pub trace: Trace,
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
            Err(e) => Err(Failure::Local(format!(
                "cannot send on the packet socket: {e}"
            ))),
        }
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
        if self.waiter.wait(self.sock.raw_fd(), libc::POLLIN, until)? == Ready::Timeout {
            return Ok(None);
        }
        for _ in 0..FRAMES_PER_WAKE {
            let Some(rx) = self
                .sock
                .recv()
                .map_err(|e| Failure::Local(format!("cannot receive on the packet socket: {e}")))?
            else {
                break;
            };
            if rx.truncated {
                let len = rx.wire_len;
                self.trace
                    .frame(|| format!("< truncated frame of {len} bytes ignored"));
                continue;
            }
            match frame::parse(rx.frame, rx.checksum_verified) {
                Ok(parsed) => {
                    if let Some(done) = handle(&mut self.trace, parsed) {
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
