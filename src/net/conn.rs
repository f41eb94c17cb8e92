//! Drives the sans-IO TCP client over the wire until the check's deadline:
//! the MASTER role's `Transport`.
//!
//! `Conn` turns the state machine's segments into frames and received
//! frames of our flow into segments, waits (never sleeps) until the next
//! frame or retransmission timer, and guarantees the server is not left
//! with a half-open connection: dropping a `Conn` that is still open sends
//! RST, whatever path (error, signal, panic unwinding) got us there.
//!
//! An ICMP error about our SYN (port unreachable, a firewall's REJECT)
//! ends the connect at once, as it ends the kernel's; it is matched to our
//! SYN as `datagram` matches one to a datagram (`datagram::icmp_about`).

use std::time::{Duration, Instant};

use super::exchange::{icmp_ends_connect, FlowMatch, Incoming};
use super::tcp::{self, Segment, Seq, Tcp};
use super::wire::{self, Flow, Link, Parsed};
use super::Wire;
use crate::channel::{close_deadline, Ending, Peer, Transport};
use crate::failure::{Failure, Step};
use crate::trace::Trace;

/// Wake-ups handled at most by one `drive` call; each one is a frame batch
/// or a timer, so this only guards against a clock that never advances.
const MAX_WAKEUPS: usize = 10_000_000;

/// What the caller of `drive` says after each batch of input.
pub enum Drive<R> {
    Done(R),
    /// Not yet: waiting for this step.
    Waiting(Step),
    /// Give up (e.g. the response is malformed); the connection is reset.
    Failed(Failure),
}

pub struct Conn<'w, 'a> {
    wire: &'w mut Wire<'a>,
    link: Link,
    flow: Flow,
    tcp: Tcp,
    /// Our SYN's sequence number, which an ICMP error about it quotes.
    isn: Seq,
    ip_id: u16,
    peer: Peer,
    /// `-t`, for the share of it a clean close may take.
    timeout: Duration,
    /// Received bytes not yet read, from `unread_at` on.
    unread: Vec<u8>,
    unread_at: usize,
}

impl<'w, 'a> Conn<'w, 'a> {
    /// A connection from `flow.src` to `flow.dst` through `link`, to
    /// `peer` (for the words of failures); `timeout` (`-t`) bounds its
    /// clean close.
    pub fn new(
        wire: &'w mut Wire<'a>,
        (link, flow): (Link, Flow),
        cfg: tcp::TcpParams,
        ip_id: u16,
        (peer, timeout): (Peer, Duration),
    ) -> Self {
        Conn {
            wire,
            link,
            flow,
            isn: cfg.isn,
            tcp: Tcp::new(cfg),
            ip_id,
            peer,
            timeout,
            unread: Vec::new(),
            unread_at: 0,
        }
    }

    pub fn tcp(&self) -> &Tcp {
        &self.tcp
    }

    /// Send SYN and wait for SYN/ACK (Ok: the handshake time) or RST.
    pub fn connect(&mut self) -> Result<Duration, Failure> {
        self.tcp.connect();
        self.drive(|tcp| {
            if tcp.is_connected() || tcp.is_finished() {
                Drive::Done(())
            } else {
                Drive::Waiting(Step::SynAck)
            }
        })?;
        match self.tcp.handshake_time() {
            Some(rtt) => Ok(rtt),
            None => Err(Failure::Refused),
        }
    }

    /// Exchange segments until `step` says `Done`. `step` sees the client
    /// after every batch of input (to take received data, say) and names
    /// what we are waiting for, so a timeout or reset can say which step
    /// failed. On any failure the connection is reset before returning.
    pub fn drive<R>(&mut self, step: impl FnMut(&mut Tcp) -> Drive<R>) -> Result<R, Failure> {
        let deadline = self.wire.deadline;
        self.drive_until(deadline, step)
    }

    /// [`Conn::drive`] that gives up at `until` (never later than the
    /// check's deadline).
    fn drive_until<R>(
        &mut self,
        until: Instant,
        mut step: impl FnMut(&mut Tcp) -> Drive<R>,
    ) -> Result<R, Failure> {
        let until = until.min(self.wire.deadline);
        let mut waiting_for = Step::SynAck;
        for _ in 0..MAX_WAKEUPS {
            // Checked before sending: a check that ends on the SYN/ACK
            // aborts with RST alone, without first completing the
            // handshake, so the server's application never sees it.
            match step(&mut self.tcp) {
                Drive::Done(result) => return Ok(result),
                Drive::Failed(failure) => {
                    self.abort();
                    return Err(failure);
                }
                Drive::Waiting(s) => waiting_for = s,
            }
            if self.tcp.state() == tcp::TcpState::Reset {
                return Err(Failure::Reset(waiting_for));
            }
            // The deadline first: nothing but the RST leaves after it.
            if Instant::now() >= until {
                self.abort();
                return Err(Failure::Timeout(waiting_for));
            }
            if let Err(failure) = self.flush() {
                self.abort();
                return Err(failure);
            }
            let wake = self.tcp.poll_at().unwrap_or(until).min(until);
            match self.receive_segments(wake) {
                Ok(None) => {}
                Ok(Some(failure)) | Err(failure) => {
                    self.abort();
                    return Err(failure);
                }
            }
        }
        self.abort();
        Err(Failure::Timeout(waiting_for))
    }

    /// A clean close: FIN, the server's FIN, our last ACK, before `until`.
    /// On timeout the connection is reset instead and the error returned.
    fn close_clean(&mut self, until: Instant) -> Result<(), Failure> {
        self.tcp.close();
        self.drive_until(until, |tcp| {
            // Whatever the server still sends is read and dropped, so our
            // window stays open for its FIN.
            drop(tcp.take_received());
            match tcp.state() {
                // A reset that came with the response's last data is no close.
                tcp::TcpState::Reset => Drive::Failed(Failure::Reset(Step::Close)),
                // Only the FIN handshake is clean.
                tcp::TcpState::TimeWait => Drive::Done(()),
                // We reset it already: a wait on top of ours (TLS's
                // close_notify) ran out of the close budget and, like any
                // failed wait, sent RST. The server did not close in time.
                tcp::TcpState::Aborted => Drive::Failed(Failure::Timeout(Step::Close)),
                _ => Drive::Waiting(Step::Close),
            }
        })?;
        // The last ACK, answering the server's FIN.
        self.flush()
    }

    /// Send RST if the server may still hold the connection.
    pub fn abort(&mut self) {
        for rst in self.tcp.abort() {
            // Best effort: if even this send fails there is nothing left to try.
            let _ = self.transmit(&rst);
        }
    }

    fn flush(&mut self) -> Result<(), Failure> {
        // One segment per call; the client emits a bounded number (one MSS
        // per segment of a 64 KiB request at most, plus ACK and FIN).
        for _ in 0..1024 {
            match self.tcp.poll_transmit(Instant::now()) {
                Some(seg) => self.transmit(&seg)?,
                None => break,
            }
        }
        Ok(())
    }

    fn transmit(&mut self, seg: &Segment) -> Result<(), Failure> {
        let bytes = wire::tcp_frame(self.link, self.flow, self.ip_id, seg);
        self.ip_id = self.ip_id.wrapping_add(1);
        let (link, flow) = (self.link, self.flow);
        self.wire.trace.frame(|| {
            let sent = wire::TcpFrame {
                link,
                flow,
                segment: seg.clone(),
            };
            format!("> {sent}")
        });
        self.wire.send(&bytes)
    }

    /// Hand what arrives before `until` to the client. Ok(Some): an ICMP
    /// error about our SYN ended the connect (`Failure::Icmp`).
    fn receive_segments(&mut self, until: Instant) -> Result<Option<Failure>, Failure> {
        let matcher = FlowMatch::new(self.flow, self.link.src, self.isn);
        let tcp = &mut self.tcp;
        self.wire.receive(until, |trace, parsed| {
            match matcher.of(&parsed) {
                Incoming::Segment(f) => {
                    let result = tcp.on_segment(&f.segment, Instant::now());
                    trace.frame(|| match result {
                        Ok(()) => format!("< {f}"),
                        Err(why) => format!("< {f} (ignored: {why})"),
                    });
                }
                Incoming::IcmpError { kind, from } => match icmp_ends_connect(tcp.state(), kind) {
                    Ok(()) => {
                        trace.frame(|| format!("< {parsed}"));
                        return Some(Failure::Icmp { kind, from });
                    }
                    Err(why) => trace.frame(|| format!("< {parsed} (ignored: {why})")),
                },
                Incoming::Ignored(why) => match &parsed {
                    Parsed::Tcp(f) => trace.frame(|| format!("< {f} (ignored: {why})")),
                    Parsed::IcmpError(e) => trace.frame(|| format!("< {e} (ignored: {why})")),
                    other => trace.frame(|| format!("< ignored: {other}")),
                },
            }
            // Keep draining: one batch may hold several segments.
            None
        })
    }
}

impl Transport for Conn<'_, '_> {
    fn connect(&mut self) -> Result<Duration, Failure> {
        Conn::connect(self)
    }

    /// Queue all of `data` and send what the server's window allows now;
    /// the rest, and retransmissions, go out while we read.
    fn write_all(&mut self, data: &[u8]) -> Result<(), Failure> {
        // The SYN/ACK and an RST may come in one batch: a reset, not a
        // request too large.
        if self.tcp.state() == tcp::TcpState::Reset {
            return Err(Failure::Reset(Step::ResponseStart));
        }
        if self.tcp.send(data) < data.len() {
            self.abort();
            return Err(tcp::too_many_to_send(data.len()));
        }
        self.flush().inspect_err(|_| self.abort())
    }

    fn read(&mut self, buf: &mut [u8], step: Step) -> Result<usize, Failure> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.unread_at == self.unread.len() {
            let received = self.drive(|tcp| {
                let data = tcp.take_received();
                if !data.is_empty() {
                    Drive::Done(Some(data))
                } else if tcp.peer_closed() {
                    Drive::Done(None)
                } else {
                    Drive::Waiting(step)
                }
            })?;
            match received {
                Some(data) => {
                    self.unread = data;
                    self.unread_at = 0;
                }
                None => return Ok(0),
            }
        }
        let rest = &self.unread[self.unread_at..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.unread_at += n;
        Ok(n)
    }

    /// RST, or with `clean` a FIN handshake within the close budget. A
    /// server that does not finish its part in time (or resets it) has
    /// still answered the check: that is a note, not a failure.
    fn finish(&mut self, clean: bool) -> Result<Ending, Failure> {
        if !clean {
            self.abort();
            return Ok(Ending::Reset);
        }
        let until = close_deadline(self.wire.deadline, self.timeout);
        match self.close_clean(until) {
            Ok(()) => Ok(Ending::Cleanly),
            Err(Failure::Timeout(_)) => Ok(Ending::NoFinInTime),
            Err(Failure::Reset(_)) => Ok(Ending::ResetByServer),
            Err(other) => Err(other),
        }
    }

    fn peer(&self) -> &Peer {
        &self.peer
    }

    fn trace(&mut self) -> &mut Trace {
        self.wire.trace
    }

    fn retransmissions(&self) -> u32 {
        self.tcp.retransmissions()
    }

    fn bound_close(&mut self) {
        self.wire.deadline = close_deadline(self.wire.deadline, self.timeout);
    }
}

impl Drop for Conn<'_, '_> {
    fn drop(&mut self) {
        self.abort();
    }
}

#[cfg(test)]
mod tests;
