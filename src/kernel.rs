//! The BACKUP path: the kernel's own TCP to the real server's own address.
//!
//! A BACKUP load balancer does not hold the VIP, so raw frames to the VIP
//! would be answered by its kernel with RST. It checks the real server's IP
//! instead, with the same deadline and the same signal handling as the raw
//! path: a non-blocking connect waited on with `ppoll`, never a blocking
//! call that would outlive `-t` or ignore SIGTERM.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::wait::{Interrupted, Ready, WaitError, Waiter};

/// How a kernel connection attempt failed.
#[derive(Debug)]
pub enum KernelFailure {
    Timeout,
    /// The server (or something on the way) answered with an error, e.g.
    /// "Connection refused", "No route to host".
    Refused(io::Error),
    Interrupted(Interrupted),
    Local(String),
}

impl From<WaitError> for KernelFailure {
    fn from(e: WaitError) -> KernelFailure {
        match e {
            WaitError::Interrupted(sig) => KernelFailure::Interrupted(sig),
            WaitError::Io(err) => KernelFailure::Local(format!("poll failed: {err}")),
        }
    }
}

/// Connect to `addr` before `deadline`. Returns the stream and the connect time.
pub fn connect(
    addr: SocketAddr,
    waiter: &Waiter,
    deadline: Instant,
) -> Result<(TcpStream, Duration), KernelFailure> {
    let local = |e: io::Error| KernelFailure::Local(format!("cannot create a TCP socket: {e}"));
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(local)?;
    socket.set_nonblocking(true).map_err(local)?;
    let start = Instant::now();
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
            use std::os::fd::AsRawFd;
            if waiter.wait(socket.as_raw_fd(), libc::POLLOUT, deadline)? == Ready::Timeout {
                return Err(KernelFailure::Timeout);
            }
            if let Some(err) = socket.take_error().map_err(local)? {
                return Err(KernelFailure::Refused(err));
            }
        }
        Err(e) => return Err(KernelFailure::Refused(e)),
    }
    let elapsed = start.elapsed();
    Ok((socket.into(), elapsed))
}

/// Close a kernel connection: gracefully (FIN) or by RST (SO_LINGER 0),
/// matching the raw path's `-c` and default.
pub fn close(stream: TcpStream, clean: bool) {
    if !clean {
        let socket = Socket::from(stream);
        // Best effort: if linger cannot be set, close() sends FIN instead.
        let _ = socket.set_linger(Some(Duration::ZERO));
        drop(socket);
    }
}
