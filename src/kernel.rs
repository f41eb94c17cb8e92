//! The BACKUP path: the kernel's own TCP to the real server's own address.
//!
//! A BACKUP load balancer does not hold the VIP, so raw frames to the VIP
//! would be answered by its kernel with RST. It checks the real server's IP
//! instead, with the same deadline and the same signal handling as the raw
//! path: a non-blocking socket waited on with `ppoll`, never a blocking
//! call that would outlive `-t` or ignore SIGTERM.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::failure::{Failure, Step};
use crate::wait::{Ready, Waiter};

/// Connect to `addr` before `deadline`, from `bind` if given (`--source`,
/// `--source-port`). Returns the stream (non-blocking) and the connect time.
pub fn connect(
    addr: SocketAddr,
    bind: Option<SocketAddr>,
    waiter: &Waiter,
    deadline: Instant,
) -> Result<(TcpStream, Duration), Failure> {
    let local = |e: io::Error| Failure::Local(format!("cannot create a TCP socket: {e}"));
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(local)?;
    socket.set_nonblocking(true).map_err(local)?;
    if let Some(from) = bind {
        socket
            .bind(&from.into())
            .map_err(|e| Failure::Local(format!("cannot bind the connection to {from}: {e}")))?;
    }
    let start = Instant::now();
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
            if waiter.wait(socket.as_raw_fd(), libc::POLLOUT, deadline)? == Ready::Timeout {
                return Err(Failure::Timeout(Step::SynAck));
            }
            if let Some(err) = socket.take_error().map_err(local)? {
                return Err(Failure::Connect(err));
            }
        }
        Err(e) => return Err(Failure::Connect(e)),
    }
    let elapsed = start.elapsed();
    Ok((socket.into(), elapsed))
}

/// Write all of `data` before `deadline`.
pub fn write_all(
    stream: &mut TcpStream,
    mut data: &[u8],
    waiter: &Waiter,
    deadline: Instant,
) -> Result<(), Failure> {
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

/// Read what is available into `buf`, waiting until `deadline`; Ok(0) is
/// the server's close. A timeout or reset names `step`.
pub fn read_some(
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
