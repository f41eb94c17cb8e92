//! The BACKUP role's transport: the kernel's own TCP to the real server's
//! own address.
//!
//! A BACKUP load balancer does not hold the VIP, so raw frames to the VIP
//! would be answered by its kernel with RST. It checks the real server's IP
//! instead, with the same deadline and the same signal handling as the raw
//! path: a non-blocking socket waited on with `ppoll`, never a blocking
//! call that would outlive `-t` or ignore SIGTERM.
//!
//! Like the raw connection, it never leaves a connection half-open and
//! ends with RST unless a clean close (`-c`) finished: dropping a stream
//! that is still open sets `SO_LINGER` 0 first, whatever path (a failure, a
//! signal, a panic unwinding) got there.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::channel::{close_deadline, Ending, Peer, Transport};
use crate::failure::{Failure, Step};
use crate::trace::Trace;
use crate::wait::{Ready, Waiter};

/// Reads at most while draining the server's data during a clean close.
const CLOSE_DRAIN_READS: usize = 10_000;

/// Where a BACKUP connection goes and from where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelTarget {
    pub addr: SocketAddr,
    /// `--source` and/or `--source-port`.
    pub source: Option<IpAddr>,
    pub source_port: Option<u16>,
}

impl KernelTarget {
    /// The local address to bind, if the command line fixed one.
    pub(super) fn bind(&self) -> Option<SocketAddr> {
        if self.source.is_none() && self.source_port.is_none() {
            return None;
        }
        let any: IpAddr = if self.addr.is_ipv4() {
            Ipv4Addr::UNSPECIFIED.into()
        } else {
            Ipv6Addr::UNSPECIFIED.into()
        };
        Some(SocketAddr::new(
            self.source.unwrap_or(any),
            self.source_port.unwrap_or(0),
        ))
    }
}

pub struct KernelStream<'a> {
    target: KernelTarget,
    peer: Peer,
    waiter: &'a Waiter,
    deadline: Instant,
    timeout: Duration,
    trace: &'a mut Trace,
    /// `None` before connect and after the connection ended.
    stream: Option<TcpStream>,
}

impl<'a> KernelStream<'a> {
    pub fn new(
        target: KernelTarget,
        waiter: &'a Waiter,
        deadline: Instant,
        timeout: Duration,
        trace: &'a mut Trace,
    ) -> KernelStream<'a> {
        KernelStream {
            target,
            peer: Peer::Kernel { addr: target.addr },
            waiter,
            deadline,
            timeout,
            trace,
            stream: None,
        }
    }

    fn stream(&mut self) -> Result<&mut TcpStream, Failure> {
        self.stream
            .as_mut()
            .ok_or_else(|| Failure::Local("the connection is not open".into()))
    }

    /// End by RST: `SO_LINGER` 0, then close.
    fn reset(&mut self) {
        if let Some(stream) = self.stream.take() {
            // Best effort: if linger cannot be set, close() sends FIN instead.
            let _ = Socket::from(stream).set_linger(Some(Duration::ZERO));
        }
    }

    /// Our FIN, then the server's, before `until`: true when both went.
    fn close_clean(&mut self, until: Instant) -> Result<bool, Failure> {
        let waiter = self.waiter;
        let stream = self.stream()?;
        if let Err(e) = stream.shutdown(Shutdown::Write) {
            // Already reset by the server (ENOTCONN after its RST): say so,
            // as the raw path does; anything else ends by our RST.
            return match e.raw_os_error() {
                Some(libc::ENOTCONN | libc::ECONNRESET | libc::EPIPE) => {
                    Err(Failure::Reset(Step::Close))
                }
                _ => Ok(false),
            };
        }
        let mut sink = [0u8; 4096];
        for _ in 0..CLOSE_DRAIN_READS {
            match read_some(stream, &mut sink, waiter, until, Step::Close) {
                Ok(0) => {
                    // Both FINs are out: the kernel sends the last ACK.
                    self.stream = None;
                    return Ok(true);
                }
                Ok(_) => {}
                Err(Failure::Timeout(_)) => return Ok(false),
                Err(Failure::Reset(_)) => return Err(Failure::Reset(Step::Close)),
                Err(other) => return Err(other),
            }
        }
        Ok(false)
    }
}

impl Transport for KernelStream<'_> {
    fn connect(&mut self) -> Result<Duration, Failure> {
        let addr = self.target.addr;
        let local = |e: io::Error| Failure::Local(format!("cannot create a TCP socket: {e}"));
        let socket = Socket::new(
            Domain::for_address(addr),
            Type::STREAM.cloexec(),
            Some(Protocol::TCP),
        )
        .map_err(local)?;
        socket.set_nonblocking(true).map_err(local)?;
        if let Some(from) = self.target.bind() {
            // A fixed port is still in TIME_WAIT after the last check's
            // clean close: SO_REUSEADDR lets the bind take it, and the
            // kernel reuses the TIME_WAIT entry for the same 4-tuple
            // (timestamps tell old segments from new).
            if self.target.source_port.is_some() {
                socket.set_reuse_address(true).map_err(local)?;
            }
            socket.bind(&from.into()).map_err(|e| {
                Failure::Local(format!("cannot bind the connection to {from}: {e}"))
            })?;
        }
        let start = Instant::now();
        let in_progress = match socket.connect(&addr.into()) {
            Ok(()) => false,
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => true,
            Err(e) => return Err(Failure::Connect(e)),
        };
        // Held before the wait, so that a signal or the deadline resets it.
        let stream = self.stream.insert(socket.into());
        if in_progress {
            let fd = stream.as_raw_fd();
            if self.waiter.wait(fd, libc::POLLOUT, self.deadline)? == Ready::Timeout {
                self.reset();
                return Err(Failure::Timeout(Step::SynAck));
            }
            if let Some(err) = self.stream()?.take_error().map_err(local)? {
                self.stream = None;
                return Err(Failure::Connect(err));
            }
        }
        Ok(start.elapsed())
    }

    fn write_all(&mut self, mut data: &[u8]) -> Result<(), Failure> {
        let (waiter, deadline) = (self.waiter, self.deadline);
        let stream = self.stream()?;
        // Each round writes at least one byte or waits; the deadline bounds it.
        while !data.is_empty() {
            match stream.write(data) {
                Ok(0) => return Err(Failure::Reset(Step::ResponseStart)),
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if waiter.wait(stream.as_raw_fd(), libc::POLLOUT, deadline)? == Ready::Timeout {
                        return Err(Failure::Timeout(Step::ResponseStart));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_failure(e, Step::ResponseStart)),
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], step: Step) -> Result<usize, Failure> {
        let (waiter, deadline) = (self.waiter, self.deadline);
        read_some(self.stream()?, buf, waiter, deadline, step)
    }

    fn finish(&mut self, clean: bool) -> Result<Ending, Failure> {
        if !clean || self.stream.is_none() {
            self.reset();
            return Ok(Ending::Reset);
        }
        let until = close_deadline(self.deadline, self.timeout);
        match self.close_clean(until) {
            Ok(true) => Ok(Ending::Cleanly),
            Ok(false) => {
                self.reset();
                Ok(Ending::NoFinInTime)
            }
            Err(Failure::Reset(_)) => {
                self.stream = None;
                Ok(Ending::ResetByServer)
            }
            Err(other) => Err(other),
        }
    }

    fn peer(&self) -> &Peer {
        &self.peer
    }

    fn trace(&mut self) -> &mut Trace {
        self.trace
    }

    fn bound_close(&mut self) {
        self.deadline = close_deadline(self.deadline, self.timeout);
    }
}

impl Drop for KernelStream<'_> {
    fn drop(&mut self) {
        self.reset();
    }
}

/// Read what is available into `buf`, waiting until `deadline`; Ok(0) is
/// the server's close. A timeout or reset names `step`.
fn read_some(
    stream: &mut TcpStream,
    buf: &mut [u8],
    waiter: &Waiter,
    deadline: Instant,
    step: Step,
) -> Result<usize, Failure> {
    for _ in 0..10_000 {
        // Checked even while data keeps coming: a server streaming faster
        // than we read must not hold us past -t or past a SIGTERM.
        if let Some(sig) = waiter.pending() {
            return Err(Failure::Interrupted(sig));
        }
        if Instant::now() >= deadline {
            return Err(Failure::Timeout(step));
        }
        match stream.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if waiter.wait(stream.as_raw_fd(), libc::POLLIN, deadline)? == Ready::Timeout {
                    return Err(Failure::Timeout(step));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_failure(e, step)),
        }
    }
    Err(Failure::Timeout(step))
}

fn io_failure(e: io::Error, step: Step) -> Failure {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => Failure::Reset(step),
        _ => Failure::Connect(e),
    }
}
