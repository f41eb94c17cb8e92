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
pub mod exchange;
pub mod link;
pub mod neigh;
pub mod path;
pub mod port;
pub mod seq;
pub mod shared;
pub mod socket;
pub mod source;
pub mod tcp;
pub mod wire;

#[cfg(test)]
pub(crate) mod fake;

use std::time::Instant;

use pnet_datalink::MacAddr;

use crate::failure::Failure;
use crate::resend::{resend, Backoff};
use crate::trace::Trace;
use crate::wait::{Ready, Waiter};
use shared::FramePort;
use wire::Parsed;

/// Frames handled per wake-up before checking the clock again, so a burst
/// of matching frames cannot hold us past the deadline.
const FRAMES_PER_WAKE: usize = 256;

/// The socket and everything the steps of one check share.
#[derive(Debug)]
pub struct Wire<'a> {
    /// The run's own socket, or its flow in check_raw_serve's engine.
    pub sock: FramePort,
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
        // Frames left from the last batch are in hand although the socket
        // may poll empty: they are handled before any timeout is reported,
        // however late it is (an ACK in hand must stop a retransmission
        // its timer would send), so only a signal stops them.
        if self.sock.has_queued() {
            if let Some(sig) = self.waiter.pending() {
                return Err(Failure::Interrupted(sig));
            }
        } else if self.waiter.wait(self.sock.raw_fd(), libc::POLLIN, until)? == Ready::Timeout {
            return Ok(None);
        }
        // FRAMES_PER_WAKE, then the rest of the batch in hand: a wake-up
        // that ends without a result leaves no frame read and unhandled.
        for n in 0.. {
            if n >= FRAMES_PER_WAKE && !self.sock.has_queued() {
                break;
            }
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
                self.trace.frame(|| {
                    format!(
                        "< frame of {len} bytes ignored: longer than the {} bytes that \
                         the data our 64 KiB window allows can take, even merged by GRO",
                        socket::RECV_BUFFER
                    )
                });
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
    use std::time::Duration;

    use super::*;
    use crate::net::wire::testing::{data_segment, flow, link, rs_link};
    use crate::trace::Trace;

    /// A frame of ours (the ACK a retransmission waits for, say) with a
    /// sequence number to tell it apart.
    fn frame(seq: u32) -> Vec<u8> {
        let mut seg = data_segment();
        seg.seq = tcp::Seq(seq);
        wire::tcp_frame(rs_link(), flow().reversed(), 1, &seg)
    }

    fn seq_of(parsed: &Parsed) -> u32 {
        match parsed {
            Parsed::Tcp(f) => f.segment.seq.0,
            other => panic!("{other}"),
        }
    }

    /// Frames already read from the kernel are handed out even when the
    /// wake time has passed: a retransmission timer that expired while
    /// they sat in the batch must not fire before an ACK in hand is seen.
    #[test]
    fn frames_in_hand_are_handled_before_a_timeout() {
        let waiter = Waiter::install().unwrap();
        let mut trace = Trace::new(0);
        let (sock, theirs) = fake::pair();
        for seq in [1, 2, 3] {
            fake::put(&theirs, &frame(seq));
        }
        let mut wire = Wire {
            sock: FramePort::Own(sock),
            waiter: &waiter,
            our_mac: link().src,
            deadline: Instant::now() + Duration::from_secs(5),
            trace: &mut trace,
        };
        // The first frame concludes; the other two stay in the batch.
        let first = wire.receive(wire.deadline, |_, p| Some(seq_of(&p)));
        assert_eq!(first.unwrap(), Some(1));
        assert!(wire.sock.has_queued());
        // The wake time is already past: still, the frames in hand first.
        let past = Instant::now() - Duration::from_millis(1);
        let second = wire.receive(past, |_, p| Some(seq_of(&p)));
        assert_eq!(second.unwrap(), Some(2));
        let mut seen = Vec::new();
        let rest = wire.receive(past, |_, p| {
            seen.push(seq_of(&p));
            None::<()>
        });
        assert_eq!(rest.unwrap(), None);
        assert_eq!(seen, [3]);
        // Nothing in hand now: the timeout is reported without a wait.
        assert!(!wire.sock.has_queued());
        let started = Instant::now();
        assert_eq!(wire.receive(past, |_, _| Some(())).unwrap(), None);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
