//! What a probe talks through: the contracts between a check and whatever
//! carries its bytes, below both carriers so that neither points up.
//!
//! A MASTER talks to VIP:PORT through the real server's MAC with our own
//! TCP client over raw frames (`net::conn::Conn`); a BACKUP, which does not
//! hold the VIP, talks to REAL_SERVER:PORT with the kernel's TCP
//! (`transport::kernel::KernelStream`). Both implement [`Transport`] with
//! the same failures (`Failure`, naming the `Step` that was under way), the
//! same deadline and the same [`Ending`] (RST, or with `-c` a clean close
//! bounded by [`close_deadline`]). [`Io`] lends either to a library that
//! wants `Read + Write`, such as openssl, without it ever blocking past
//! `-t`. [`Datagram`] is the same for a UDP request and its reply.
//!
//! These live in the base layer, not in `transport` or `net`, because both
//! of those implement them and `checks` uses them: a contract owned by one
//! implementer would make the other point sideways (it used to: `net`
//! imported `transport`).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use pnet_datalink::MacAddr;

use crate::failure::{Failure, Step};
use crate::trace::Trace;

/// Who a transport talks to, for the words of summaries and failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// MASTER: VIP:PORT through the real server's MAC, out of `iface`.
    Raw {
        vip_port: SocketAddr,
        real_server: IpAddr,
        mac: MacAddr,
        iface: String,
    },
    /// BACKUP: the real server's own address, by the kernel's TCP.
    Kernel { addr: SocketAddr },
}

impl Peer {
    /// "via 198.51.100.11 (02:00:00:00:00:11)", "via 198.51.100.11:80 (BACKUP role)".
    pub fn via(&self) -> String {
        match self {
            Peer::Raw {
                real_server, mac, ..
            } => format!("via {real_server} ({mac})"),
            Peer::Kernel { addr } => format!("via {addr} (BACKUP role)"),
        }
    }
}

/// How a clean close (`-c`) ended, when it did not end as asked; the
/// check has its answer by then, so these are notes, not failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// RST, as by default.
    Reset,
    /// FIN both ways.
    Cleanly,
    /// The server did not finish its half within the close budget.
    NoFinInTime,
    /// The server answered our FIN with RST.
    ResetByServer,
}

impl Ending {
    /// The summary's suffix.
    pub fn note(self) -> &'static str {
        match self {
            Ending::Reset => "",
            Ending::Cleanly => ", closed cleanly",
            Ending::NoFinInTime => ", no FIN from the server in time: closed by RST",
            Ending::ResetByServer => ", the server reset the clean close",
        }
    }
}

/// A byte stream to the real server, whichever role carries it.
pub trait Transport {
    /// Open the connection; Ok: how long the handshake took.
    fn connect(&mut self) -> Result<Duration, Failure>;
    /// Send all of `data` before the deadline.
    fn write_all(&mut self, data: &[u8]) -> Result<(), Failure>;
    /// Wait for the next bytes from the server, at most `buf.len()`;
    /// Ok(0) is its FIN. A timeout or RST names `step`.
    fn read(&mut self, buf: &mut [u8], step: Step) -> Result<usize, Failure>;
    /// End the connection: RST, or with `clean` FIN both ways, bounded by
    /// [`close_deadline`]. A signal or local error is still a failure.
    fn finish(&mut self, clean: bool) -> Result<Ending, Failure>;
    fn peer(&self) -> &Peer;
    /// The check's trace, lent to the transport for its life.
    fn trace(&mut self) -> &mut Trace;
    /// Segments sent again (the raw client's; the kernel does not say).
    fn retransmissions(&self) -> u32 {
        0
    }
    /// From now on every wait ends by the close budget
    /// ([`close_deadline`]): a clean close on top of this transport (TLS's
    /// close_notify exchange) gets no more time than the transport's own.
    fn bound_close(&mut self) {}
}

/// A request/reply datagram exchange with the real server, whichever role
/// carries it: UDP through the VIP (`net::datagram::UdpFlow`) or the
/// kernel's UDP to the real server's own address
/// (`transport::kernel_udp::KernelDatagram`).
pub trait Datagram {
    /// Send `request`, again with backoff until the deadline, until a
    /// reply that `accept` takes (Err: why it is ignored) arrives; Ok:
    /// the reply and the time from the first send. An ICMP error about
    /// our datagram ends it at once (`Failure::Icmp`).
    fn exchange(
        &mut self,
        request: &[u8],
        accept: &mut dyn FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(Vec<u8>, Duration), Failure>;
    fn peer(&self) -> &Peer;
    fn trace(&mut self) -> &mut Trace;
}

/// The close of a connection that has already answered gets half of `-t`
/// at most, never past the deadline: a server that never sends its FIN
/// must not hold the check until `-t`, and half still leaves room for three
/// lost FINs retransmitted with backoff (0.2 + 0.4 + 0.8 s) at `-t 3000`.
pub fn close_deadline(deadline: Instant, timeout: Duration) -> Instant {
    (Instant::now() + timeout / 2).min(deadline)
}

/// Bytes asked of a channel per read, by every reader (the HTTP and DNS
/// probes, TLS under them): larger than a TLS record (2^14 + 2048) and
/// about a whole DNS message over TCP, so one read takes what one segment
/// or record brings; the transports hand back at most what they have.
pub const READ_CHUNK: usize = 64 * 1024;

/// A transport as `Read + Write`, for libraries that want one (openssl).
/// Reads name `step`; the first failure is kept for the caller to report
/// as itself, since an `io::Error` would lose what it was.
pub struct Io<'t> {
    transport: &'t mut dyn Transport,
    pub step: Step,
    failure: Option<Failure>,
}

impl<'t> Io<'t> {
    pub fn new(transport: &'t mut dyn Transport, step: Step) -> Io<'t> {
        Io {
            transport,
            step,
            failure: None,
        }
    }

    /// The failure behind the last error, if the transport failed.
    pub fn take_failure(&mut self) -> Option<Failure> {
        self.failure.take()
    }

    pub fn transport(&mut self) -> &mut dyn Transport {
        self.transport
    }

    pub fn get_ref(&self) -> &dyn Transport {
        self.transport
    }

    fn failed(&mut self, failure: Failure) -> io::Error {
        let error = io::Error::other(format!("{failure:?}"));
        self.failure.get_or_insert(failure);
        error
    }
}

impl io::Read for Io<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failure.is_some() {
            return Err(io::Error::other("transport already failed"));
        }
        let step = self.step;
        self.transport
            .read(buf, step)
            .map_err(|failure| self.failed(failure))
    }
}

impl io::Write for Io<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.failure.is_some() {
            return Err(io::Error::other("transport already failed"));
        }
        match self.transport.write_all(data) {
            Ok(()) => Ok(data.len()),
            Err(failure) => Err(self.failed(failure)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
