//! Real-server listeners run as threads of the test process, each inside the
//! real server's network namespace (`setns` changes only the calling thread).
//! No helper processes, so nothing can outlive the test, and a test can ask a
//! server what it saw: how many connections it accepted and how each ended.
//!
//! Every wait is a `poll` on the socket plus the server's stop eventfd, so a
//! server reacts at once to its peer and stops at once when the testbed drops.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::netns;
use super::stop::Stop;

/// `ReadUntilEofThenClose` gives up on a peer that never closes after this.
pub const READ_LIMIT: Duration = Duration::from_secs(5);
/// `Silent` holds a connection open this long.
pub const SILENT_HOLD: Duration = Duration::from_secs(10);
/// A listener stops by itself after this, even if nobody stops it.
const MAX_LIFETIME: Duration = Duration::from_secs(600);
/// Largest request `Respond` reads before answering anyway.
const MAX_REQUEST: usize = 64 * 1024;

/// What a server does with each accepted connection.
#[derive(Clone)]
pub enum Behaviour {
    /// Read and discard until EOF (or `READ_LIMIT`), then close. A client that
    /// closes with FIN sees a full FIN handshake; one that resets is recorded
    /// as `ConnEnd::Reset`.
    ReadUntilEofThenClose,
    /// Accept and hold the connection open, never reading or writing, then
    /// close after `SILENT_HOLD` (earlier if the peer resets or the testbed
    /// drops). For "listener that never answers" cases.
    Silent,
    /// Read the request up to its blank line (CRLF or LF-only), send these
    /// bytes, close the write side, then read until the client closes. Ready
    /// for canned HTTP responses.
    Respond(Vec<u8>),
    /// Anything else (a reply sent byte by byte, an LF-only reply...): the
    /// closure gets the accepted stream on its own thread. See `read_request`.
    Custom(Arc<dyn Fn(TcpStream) + Send + Sync>),
}

impl Behaviour {
    /// `Behaviour::Custom` without spelling out the `Arc`.
    pub fn custom(f: impl Fn(TcpStream) + Send + Sync + 'static) -> Self {
        Behaviour::Custom(Arc::new(f))
    }
}

impl fmt::Debug for Behaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Behaviour::ReadUntilEofThenClose => f.write_str("ReadUntilEofThenClose"),
            Behaviour::Silent => f.write_str("Silent"),
            Behaviour::Respond(b) => write!(f, "Respond({} bytes)", b.len()),
            Behaviour::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// How a connection ended, as seen by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnEnd {
    /// The client closed with FIN.
    Eof,
    /// The client reset the connection (RST).
    Reset,
    /// The server's own limit ran out while the connection was still open.
    TimedOut,
    /// The testbed was dropped (or the server replaced) first.
    Stopped,
    /// A `Custom` closure returned.
    Handled,
    /// Any other socket error.
    Error(ErrorKind),
}

/// A test's view of one server: cheap to clone, valid after the server stops.
#[derive(Clone)]
pub struct ServerHandle {
    host: String,
    port: u16,
    seen: Arc<Seen>,
}

#[derive(Default)]
struct Seen {
    accepted: AtomicUsize,
    ends: Mutex<Vec<ConnEnd>>,
    changed: Condvar,
}

impl ServerHandle {
    /// The host (`rs1`, ...) it runs in.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port it listens on (the real one if 0 was asked for).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.seen.accepted.load(Ordering::SeqCst)
    }

    /// How the connections that have ended so far ended, in order.
    pub fn ends(&self) -> Vec<ConnEnd> {
        self.seen
            .ends
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits (at most `timeout`) until at least `n` connections have ended,
    /// and returns how they ended (fewer than `n` on timeout).
    pub fn wait_ends(&self, n: usize, timeout: Duration) -> Vec<ConnEnd> {
        let deadline = Instant::now() + timeout;
        let mut ends = self.seen.ends.lock().unwrap_or_else(|e| e.into_inner());
        while ends.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            ends = self
                .seen
                .changed
                .wait_timeout(ends, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        ends.clone()
    }

    fn record(&self, end: ConnEnd) {
        self.seen
            .ends
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(end);
        self.seen.changed.notify_all();
    }
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server {}:{} accepted {} ends {:?}",
            self.host,
            self.port,
            self.accepted(),
            self.ends()
        )
    }
}

enum Wake {
    Ready(i16),
    Stopped,
    Deadline,
}

/// Waits for `events` on `fd` (0 = only errors and hang-up), the stop signal,
/// or the deadline, whichever comes first.
fn wait(fd: RawFd, events: i16, stop: &Stop, deadline: Instant) -> Wake {
    // Bounded: each pass either returns or consumes an EINTR.
    for _ in 0..1000 {
        if stop.is_set() {
            return Wake::Stopped;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Wake::Deadline;
        }
        let mut fds = [
            libc::pollfd {
                fd,
                events,
                revents: 0,
            },
            libc::pollfd {
                fd: stop.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // Round up so we never spin on a sub-millisecond remainder.
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: fds is a live array of two pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        if n < 0 {
            if io::Error::last_os_error().kind() == ErrorKind::Interrupted {
                continue;
            }
            return Wake::Ready(libc::POLLERR);
        }
        if fds[1].revents != 0 {
            return Wake::Stopped;
        }
        if fds[0].revents != 0 {
            return Wake::Ready(fds[0].revents);
        }
    }
    Wake::Deadline
}

/// A running listener, owned by the testbed.
pub struct Server {
    handle: ServerHandle,
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

/// Binds `[::]:port`, retrying briefly on EADDRINUSE: a listener this
/// server replaces can live on for a moment in a child that another test
/// thread forked and has not exec'd yet (close-on-exec closes it only then).
fn bind_retrying(port: u16) -> io::Result<TcpListener> {
    let mut last = None;
    for _ in 0..100 {
        match TcpListener::bind(("::", port)) {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                last = Some(e);
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("bind kept failing")))
}

impl Server {
    /// Binds `[::]:port` (IPv4 and IPv6) inside namespace `ns` and starts accepting.
    /// Returns once the socket is listening, so a test can connect at once.
    pub fn start(ns: &str, host: &str, port: u16, behaviour: Behaviour) -> io::Result<Server> {
        let stop = Arc::new(Stop::new()?);
        let (tx, rx) = mpsc::channel();
        let ns_owned = ns.to_owned();
        let stop2 = Arc::clone(&stop);
        let seen = Arc::new(Seen::default());
        let seen2 = Arc::clone(&seen);
        let host_owned = host.to_owned();
        let thread = thread::Builder::new()
            .name(format!("srv-{host}:{port}"))
            .spawn(move || {
                let bound = netns::enter(&ns_owned).and_then(|()| {
                    let l = bind_retrying(port)?;
                    l.set_nonblocking(true)?;
                    Ok(l)
                });
                let listener = match bound {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let real_port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
                let handle = ServerHandle {
                    host: host_owned,
                    port: real_port,
                    seen: seen2,
                };
                let _ = tx.send(Ok(real_port));
                accept_loop(&listener, &handle, &behaviour, &stop2);
            })?;
        let real_port = rx
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| io::Error::new(ErrorKind::TimedOut, "server thread did not start"))??;
        Ok(Server {
            handle: ServerHandle {
                host: host.to_owned(),
                port: real_port,
                seen,
            },
            stop,
            thread: Some(thread),
        })
    }

    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Stops accepting, tells connection threads to finish, waits for the
    /// listener thread (the listening socket is closed when this returns).
    /// Connection threads are not joined: a `Custom` closure may block.
    pub fn stop(&mut self) {
        self.stop.trigger();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(
    listener: &TcpListener,
    handle: &ServerHandle,
    behaviour: &Behaviour,
    stop: &Arc<Stop>,
) {
    let deadline = Instant::now() + MAX_LIFETIME;
    loop {
        match wait(listener.as_raw_fd(), libc::POLLIN, stop, deadline) {
            Wake::Stopped | Wake::Deadline => return,
            Wake::Ready(_) => {}
        }
        // Drain the backlog; bounded so a flood cannot starve the stop check.
        for _ in 0..64 {
            match listener.accept() {
                Ok((stream, _)) => {
                    handle.seen.accepted.fetch_add(1, Ordering::SeqCst);
                    let (h, b, s) = (handle.clone(), behaviour.clone(), Arc::clone(stop));
                    let spawned = thread::Builder::new()
                        .name(format!("conn-{}:{}", handle.host, handle.port))
                        .spawn(move || serve_connection(stream, &h, &b, &s));
                    if spawned.is_err() {
                        handle.record(ConnEnd::Error(ErrorKind::OutOfMemory));
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // ECONNABORTED and friends: that connection is gone, go on.
                Err(_) => break,
            }
        }
    }
}

fn serve_connection(stream: TcpStream, handle: &ServerHandle, behaviour: &Behaviour, stop: &Stop) {
    // Accepted sockets do not inherit O_NONBLOCK on Linux; make it explicit.
    let _ = stream.set_nonblocking(true);
    let end = match behaviour {
        Behaviour::ReadUntilEofThenClose => drain(&stream, stop, Instant::now() + READ_LIMIT),
        Behaviour::Silent => hold(&stream, stop),
        Behaviour::Respond(reply) => respond(&stream, reply, stop),
        Behaviour::Custom(f) => {
            let _ = stream.set_nonblocking(false);
            f(stream);
            ConnEnd::Handled
        }
    };
    handle.record(end);
    // Dropping the stream closes it: FIN, or RST if unread data is pending.
}

/// Reads and discards until the peer closes; returns how it closed.
fn drain(mut stream: &TcpStream, stop: &Stop, deadline: Instant) -> ConnEnd {
    let mut buf = [0u8; 4096];
    for _ in 0..100_000 {
        match wait(stream.as_raw_fd(), libc::POLLIN, stop, deadline) {
            Wake::Stopped => return ConnEnd::Stopped,
            Wake::Deadline => return ConnEnd::TimedOut,
            Wake::Ready(_) => {}
        }
        match stream.read(&mut buf) {
            Ok(0) => return ConnEnd::Eof,
            Ok(_) => {}
            Err(e) => match e.kind() {
                ErrorKind::WouldBlock | ErrorKind::Interrupted => {}
                ErrorKind::ConnectionReset => return ConnEnd::Reset,
                k => return ConnEnd::Error(k),
            },
        }
    }
    ConnEnd::TimedOut
}

/// Holds the connection without touching its data; wakes only for errors and
/// full hang-up (poll with no events asked).
fn hold(stream: &TcpStream, stop: &Stop) -> ConnEnd {
    match wait(stream.as_raw_fd(), 0, stop, Instant::now() + SILENT_HOLD) {
        Wake::Stopped => ConnEnd::Stopped,
        Wake::Deadline => ConnEnd::TimedOut,
        Wake::Ready(rev) if rev & libc::POLLERR != 0 => match stream.take_error() {
            Ok(Some(e)) if e.kind() == ErrorKind::ConnectionReset => ConnEnd::Reset,
            Ok(Some(e)) => ConnEnd::Error(e.kind()),
            _ => ConnEnd::Reset,
        },
        Wake::Ready(_) => ConnEnd::Eof,
    }
}

/// Reads the request head, sends `reply`, half-closes, then waits for the
/// client's close and reports how it came.
fn respond(mut stream: &TcpStream, reply: &[u8], stop: &Stop) -> ConnEnd {
    let deadline = Instant::now() + READ_LIMIT;
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while !head_complete(&req) && req.len() < MAX_REQUEST {
        match wait(stream.as_raw_fd(), libc::POLLIN, stop, deadline) {
            Wake::Stopped => return ConnEnd::Stopped,
            Wake::Deadline => return ConnEnd::TimedOut,
            Wake::Ready(_) => {}
        }
        match stream.read(&mut buf) {
            Ok(0) => return ConnEnd::Eof,
            Ok(n) => req.extend_from_slice(&buf[..n]),
            Err(e) => match e.kind() {
                ErrorKind::WouldBlock | ErrorKind::Interrupted => {}
                ErrorKind::ConnectionReset => return ConnEnd::Reset,
                k => return ConnEnd::Error(k),
            },
        }
    }
    // Blocking for the write: the reply is small, a timeout bounds it anyway.
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(READ_LIMIT));
    if let Err(e) = stream.write_all(reply) {
        return match e.kind() {
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => ConnEnd::Reset,
            k => ConnEnd::Error(k),
        };
    }
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_nonblocking(true);
    drain(stream, stop, Instant::now() + READ_LIMIT)
}

/// The request head ends with an empty line, CRLF or bare LF style.
fn head_complete(req: &[u8]) -> bool {
    req.windows(4).any(|w| w == b"\r\n\r\n") || req.windows(2).any(|w| w == b"\n\n")
}

/// For `Custom` closures: reads a request head (up to its blank line, EOF,
/// 64 KiB or `READ_LIMIT`) from a blocking stream and returns it.
pub fn read_request(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let deadline = Instant::now() + READ_LIMIT;
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while !head_complete(&req) && req.len() < MAX_REQUEST {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                "request head not complete",
            ));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf)? {
            0 => break,
            n => req.extend_from_slice(&buf[..n]),
        }
    }
    Ok(req)
}
