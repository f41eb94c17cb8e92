//! Drives the sans-IO TCP client over the wire until the check's deadline.
//!
//! `Conn` turns the state machine's segments into frames and received
//! frames of our flow into segments, waits (never sleeps) until the next
//! frame or retransmission timer, and guarantees the server is not left
//! with a half-open connection: dropping a `Conn` that is still open sends
//! RST, whatever path (error, signal, panic unwinding) got us there.

use std::time::{Duration, Instant};

use super::frame::{self, Flow, Link, Parsed};
use super::tcp::{self, Segment, Tcp};
use super::{Failure, Step, Wire};

/// Wake-ups handled at most by one `drive` call; each one is a frame batch
/// or a timer, so this only guards against a clock that never advances.
const MAX_WAKEUPS: usize = 10_000_000;

/// What the caller of `drive` says after each batch of input.
pub enum Progress<R> {
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
    ip_id: u16,
}

impl<'w, 'a> Conn<'w, 'a> {
    /// A connection from `flow.src` to `flow.dst` through `link`.
    pub fn new(
        wire: &'w mut Wire<'a>,
        link: Link,
        flow: Flow,
        cfg: tcp::Config,
        ip_id: u16,
    ) -> Self {
        Conn {
            wire,
            link,
            flow,
            tcp: Tcp::new(cfg),
            ip_id,
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
                Progress::Done(())
            } else {
                Progress::Waiting(Step::SynAck)
            }
        })?;
        match self.tcp.handshake_time() {
            Some(rtt) => Ok(rtt),
            None => Err(Failure::Refused),
        }
    }

    /// Queue request bytes; they go out on the next `drive`.
    pub fn send(&mut self, data: &[u8]) -> usize {
        self.tcp.send(data)
    }

    /// Exchange segments until `step` says `Done`. `step` sees the client
    /// after every batch of input (to take received data, say) and names
    /// what we are waiting for, so a timeout or reset can say which step
    /// failed. On any failure the connection is reset before returning.
    pub fn drive<R>(
        &mut self,
        mut step: impl FnMut(&mut Tcp) -> Progress<R>,
    ) -> Result<R, Failure> {
        let mut waiting_for = Step::SynAck;
        for _ in 0..MAX_WAKEUPS {
            // Checked before sending: a check that ends on the SYN/ACK
            // aborts with RST alone, without first completing the
            // handshake, so the server's application never sees it.
            match step(&mut self.tcp) {
                Progress::Done(result) => return Ok(result),
                Progress::Failed(failure) => {
                    self.abort();
                    return Err(failure);
                }
                Progress::Waiting(s) => waiting_for = s,
            }
            if self.tcp.state() == tcp::TcpState::Reset {
                return Err(Failure::Reset(waiting_for));
            }
            // The deadline first: nothing but the RST leaves after it.
            if Instant::now() >= self.wire.deadline {
                self.abort();
                return Err(Failure::Timeout(waiting_for));
            }
            if let Err(failure) = self.flush() {
                self.abort();
                return Err(failure);
            }
            let until = self.tcp.poll_at().unwrap_or(self.wire.deadline);
            if let Err(failure) = self.receive_segments(until) {
                self.abort();
                return Err(failure);
            }
        }
        self.abort();
        Err(Failure::Timeout(waiting_for))
    }

    /// A clean close: FIN, the server's FIN, our last ACK. On timeout the
    /// connection is reset instead and the error returned.
    pub fn close_clean(&mut self) -> Result<(), Failure> {
        self.tcp.close();
        self.drive(|tcp| match tcp.state() {
            // A reset that came with the response's last data is no close.
            tcp::TcpState::Reset => Progress::Failed(Failure::Reset(Step::Close)),
            _ if tcp.is_finished() => Progress::Done(()),
            _ => Progress::Waiting(Step::Close),
        })?;
        // The last ACK, answering the server's FIN.
        self.flush()
    }

    /// End the connection as asked: RST, or with `clean` a FIN handshake.
    /// A server that does not finish its part of a clean close in time (or
    /// resets it) has still answered the check: that comes back as a note
    /// for the summary, not as a failure. A signal or a local error during
    /// the close is a failure like any other.
    pub fn finish(&mut self, clean: bool) -> Result<Option<&'static str>, Failure> {
        if !clean {
            self.abort();
            return Ok(None);
        }
        match self.close_clean() {
            Ok(()) => Ok(Some(", closed cleanly")),
            Err(Failure::Timeout(_)) => Ok(Some(", no FIN from the server in time: closed by RST")),
            Err(Failure::Reset(_)) => Ok(Some(", the server reset the clean close")),
            Err(other) => Err(other),
        }
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
        let bytes = frame::tcp_frame(self.link, self.flow, self.ip_id, seg);
        self.ip_id = self.ip_id.wrapping_add(1);
        let (link, flow) = (self.link, self.flow);
        self.wire.trace.frame(|| {
            let sent = frame::TcpFrame {
                link,
                flow,
                segment: seg.clone(),
            };
            format!("> {sent}")
        });
        self.wire.send(&bytes)
    }

    fn receive_segments(&mut self, until: Instant) -> Result<(), Failure> {
        let expected = self.flow.reversed();
        let our_mac = self.link.src;
        let tcp = &mut self.tcp;
        self.wire.receive(until, |trace, parsed| {
            match parsed {
                Parsed::Tcp(f) if f.flow == expected && f.link.dst == our_mac => {
                    let result = tcp.on_segment(&f.segment, Instant::now());
                    trace.frame(|| match result {
                        Ok(()) => format!("< {f}"),
                        Err(why) => format!("< {f} (ignored: {why})"),
                    });
                }
                Parsed::Tcp(f) => trace.frame(|| format!("< {f} (ignored: not our flow)")),
                other => trace.frame(|| format!("< ignored: {other}")),
            }
            // Keep draining: one batch may hold several segments.
            None::<()>
        })?;
        Ok(())
    }
}

impl Drop for Conn<'_, '_> {
    fn drop(&mut self) {
        self.abort();
    }
}
