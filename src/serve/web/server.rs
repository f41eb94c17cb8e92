//! The listener thread: one poll(2) loop over the listening socket, its
//! doorbell and every connection, all non-blocking. No async runtime: the
//! daemon is threads and ppoll already, and a few hundred lines of state
//! per connection are all a scrape needs.
//!
//! Each connection lives through: reading its head (at most
//! [`MAX_HEAD`] bytes, within [`HEAD_TIME`] of its accept: a client that
//! sends a byte a second gets 408 and is closed), then either its answer
//! at once or a `/probe` on a thread of its own (at most [`MAX_PROBES`] at
//! once, else 503; the answer comes back by a channel and the doorbell),
//! then writing (within [`WRITE_TIME`]), then a short linger that reads
//! and drops what the client still sends, so that our close does not
//! reset the answer away. At most [`MAX_CLIENTS`] at once: one more
//! evicts the oldest still reading its head (503), so a scrape gets in
//! however many idle connections are open.
//!
//! Nothing here touches a check: the pages are rendered from the board
//! under its own short lock, probes run on their own threads.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use crate::wait::{Doorbell, Ringer};

use super::request::{self, Verb, MAX_HEAD};
use super::{render, route, Pages, Prober, Reply, Route};

/// The most connections open at once.
pub const MAX_CLIENTS: usize = 1024;
/// The most `/probe` runs at once (each a thread and a flow).
pub const MAX_PROBES: usize = 64;
/// The whole request head must arrive within this of the accept.
pub const HEAD_TIME: Duration = Duration::from_secs(10);
/// The answer must be taken by the client within this.
pub const WRITE_TIME: Duration = Duration::from_secs(10);
/// A probe's answer must come within this (a probe is bounded by its
/// module's timeout, far below; this only frees a slot if one never does).
pub const PROBE_TIME: Duration = Duration::from_secs(120);
/// After the answer: what the client still sends is read and dropped for
/// at most this long and this many bytes, then the socket closes.
const LINGER_TIME: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 64 * 1024;
/// Accepts per turn of the loop, so a flood of connects cannot starve the
/// connections already open.
const ACCEPTS_PER_TURN: usize = 64;
/// With no descriptor left (EMFILE), accepting pauses this long.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// A probe thread's stack: a probe is a check's run (see `pool`).
const PROBE_STACK: usize = crate::serve::pool::STACK_SIZE;

/// The listening socket for `addr`: SO_REUSEADDR (a restart finds its
/// port though old connections linger in TIME_WAIT), IPv6 only for an
/// IPv6 address, non-blocking, close-on-exec.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// What a connection is doing.
enum Stage {
    /// Reading its head: the bytes so far.
    Reading(Vec<u8>),
    /// Its probe runs; the answer comes through the channel.
    Waiting(Verb),
    /// Its answer going out: bytes and how far.
    Writing(Vec<u8>, usize),
    /// Answer sent, write side shut: reading and dropping until EOF.
    Lingering(usize),
    Closed,
}

struct Client {
    id: u64,
    stream: TcpStream,
    stage: Stage,
    deadline: Instant,
}

/// The running listener: stop it with [`Listener::stop`].
pub struct Listener {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    ringer: Ringer,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Start the thread on `socket` (from [`bind`]).
    pub fn start(
        socket: TcpListener,
        pages: Arc<dyn Pages>,
        prober: Arc<dyn Prober>,
    ) -> io::Result<Listener> {
        raise_fd_limit();
        let addr = socket.local_addr()?;
        let bell = Doorbell::new()?;
        let ringer = bell.ringer()?;
        let probe_ringer = Arc::new(bell.ringer()?);
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let mut server = Server {
            socket,
            bell,
            ringer: probe_ringer,
            stop: Arc::clone(&stop),
            pages,
            prober,
            clients: Vec::new(),
            next_id: 0,
            probes: Arc::new(AtomicUsize::new(0)),
            answers: rx,
            answer_tx: tx,
            accept_paused_until: None,
        };
        let thread = std::thread::Builder::new()
            .name("listener".into())
            .spawn(move || server.run())?;
        Ok(Listener {
            addr,
            stop,
            ringer,
            thread: Some(thread),
        })
    }

    /// Stop the thread and close every connection; wait at most `bound`
    /// (the loop sees the flag at once). Probes still running end with the
    /// process (a terminating signal interrupts them anyway).
    pub fn stop(mut self, bound: Duration) -> bool {
        self.stop.store(true, Ordering::SeqCst);
        self.ringer.ring();
        let deadline = Instant::now() + bound;
        let Some(thread) = self.thread.take() else {
            return true;
        };
        // Bounded by `bound`: 1 ms naps.
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if thread.is_finished() {
            let _ = thread.join();
            true
        } else {
            false
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.ringer.ring();
    }
}

struct Server {
    socket: TcpListener,
    bell: Doorbell,
    /// Lent to probe threads to wake the loop with their answer.
    ringer: Arc<Ringer>,
    stop: Arc<AtomicBool>,
    pages: Arc<dyn Pages>,
    prober: Arc<dyn Prober>,
    clients: Vec<Client>,
    next_id: u64,
    probes: Arc<AtomicUsize>,
    answers: Receiver<(u64, Reply)>,
    answer_tx: Sender<(u64, Reply)>,
    accept_paused_until: Option<Instant>,
}

impl Server {
    /// The loop: no count of its own, it is the listener's life and ends
    /// on the stop flag; each turn is one poll (at most a second) and a
    /// bounded amount of work per ready descriptor.
    fn run(&mut self) {
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(MAX_CLIENTS + 2);
        while !self.stop.load(Ordering::SeqCst) {
            let now = Instant::now();
            if self.accept_paused_until.is_some_and(|t| now >= t) {
                self.accept_paused_until = None;
            }
            let accepting = self.accept_paused_until.is_none();
            fds.clear();
            fds.push(pollfd(self.bell.fd(), libc::POLLIN));
            // A negative descriptor is skipped by poll: what must not wake
            // the loop (a paused accept, a connection waiting for its probe,
            // whose hang-up would otherwise be reported on every turn).
            let listening = if accepting {
                self.socket.as_raw_fd()
            } else {
                -1
            };
            fds.push(pollfd(listening, libc::POLLIN));
            let mut wake = now + Duration::from_secs(1);
            for c in &self.clients {
                let fd = c.stream.as_raw_fd();
                fds.push(match c.stage {
                    Stage::Reading(_) | Stage::Lingering(_) => pollfd(fd, libc::POLLIN),
                    Stage::Writing(..) => pollfd(fd, libc::POLLOUT),
                    Stage::Waiting(_) | Stage::Closed => pollfd(-1, 0),
                });
                wake = wake.min(c.deadline);
            }
            if let Some(t) = self.accept_paused_until {
                wake = wake.min(t);
            }
            let timeout = wake.saturating_duration_since(now);
            let ms = libc::c_int::try_from(timeout.as_millis() + 1).unwrap_or(1000);
            // SAFETY: `fds` is a live Vec of pollfd and we pass its length.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
            if rc < 0 {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    // Not expected; a pause keeps a persistent error from
                    // spinning the thread.
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            if fds[0].revents != 0 {
                self.bell.drain();
            }
            // Clients first (their indices match `fds` from 2), then the
            // answers and new connections, which change the list.
            let mut clients = std::mem::take(&mut self.clients);
            for (c, fd) in clients.iter_mut().zip(&fds[2..]) {
                if fd.revents != 0 {
                    self.step(c);
                }
            }
            self.clients = clients;
            self.take_answers();
            if fds[1].revents != 0 {
                self.accept();
            }
            self.expire(Instant::now());
            self.clients.retain(|c| !matches!(c.stage, Stage::Closed));
        }
    }

    /// One readiness step of `c` (split out for the borrow of `self`).
    fn step(&self, c: &mut Client) {
        match c.stage {
            Stage::Reading(_) => self.read_head(c),
            Stage::Writing(..) => write_out(c),
            Stage::Lingering(_) => linger(c),
            Stage::Waiting(_) | Stage::Closed => {}
        }
    }

    fn read_head(&self, c: &mut Client) {
        let Stage::Reading(buf) = &mut c.stage else {
            return;
        };
        let mut chunk = [0u8; 4096];
        // Bounded: each read adds bytes up to MAX_HEAD, or ends the loop.
        for _ in 0..(MAX_HEAD / chunk.len() + 2) {
            let room = MAX_HEAD - buf.len();
            if room == 0 {
                break;
            }
            match c.stream.read(&mut chunk[..room.min(4096)]) {
                Ok(0) => {
                    // The client went before finishing its head.
                    c.stage = Stage::Closed;
                    return;
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    c.stage = Stage::Closed;
                    return;
                }
            }
        }
        let req = match request::parse(buf) {
            Ok(None) => return,
            Ok(Some(req)) => req,
            Err(rejected) => {
                answer(
                    c,
                    &Reply::error(rejected.status, rejected.reason),
                    Verb::Get,
                );
                return;
            }
        };
        let pages = &*self.pages;
        let routed = panic::catch_unwind(AssertUnwindSafe(|| route(&req, pages)));
        match routed {
            Ok(Route::Now(reply)) => answer(c, &reply, req.method),
            Ok(Route::Probe(query)) => {
                if let Err(reply) = self.spawn_probe(c.id, query) {
                    answer(c, &reply, req.method);
                } else {
                    c.stage = Stage::Waiting(req.method);
                    c.deadline = Instant::now() + PROBE_TIME;
                }
            }
            Err(_) => {
                let why = crate::serve::pool::take_panic();
                answer(
                    c,
                    &Reply::error(500, &format!("internal error: {why}")),
                    req.method,
                );
            }
        }
    }

    /// Start `query` on a thread of its own, or the 503 why not.
    fn spawn_probe(&self, id: u64, query: super::ProbeQuery) -> Result<(), Reply> {
        if self.probes.fetch_add(1, Ordering::SeqCst) >= MAX_PROBES {
            self.probes.fetch_sub(1, Ordering::SeqCst);
            return Err(Reply::error(
                503,
                &format!("{MAX_PROBES} probes already running: try again"),
            ));
        }
        let prober = Arc::clone(&self.prober);
        let tx = self.answer_tx.clone();
        let ringer = Arc::clone(&self.ringer);
        let probes = Arc::clone(&self.probes);
        let spawned = std::thread::Builder::new()
            .name("probe".into())
            .stack_size(PROBE_STACK)
            .spawn(move || {
                let reply = panic::catch_unwind(AssertUnwindSafe(|| prober.probe(&query)))
                    .unwrap_or_else(|_| {
                        let why = crate::serve::pool::take_panic();
                        Reply::error(500, &format!("internal error: {why}"))
                    });
                probes.fetch_sub(1, Ordering::SeqCst);
                let _ = tx.send((id, reply));
                ringer.ring();
            });
        spawned.map(|_| ()).map_err(|e| {
            self.probes.fetch_sub(1, Ordering::SeqCst);
            Reply::error(503, &format!("cannot start a probe thread: {e}"))
        })
    }

    /// Probe answers that came back: to their connections, if still open.
    fn take_answers(&mut self) {
        // Bounded: at most MAX_PROBES answers can be outstanding.
        for _ in 0..=MAX_PROBES {
            let Ok((id, reply)) = self.answers.try_recv() else {
                return;
            };
            if let Some(c) = self.clients.iter_mut().find(|c| c.id == id) {
                if let Stage::Waiting(method) = c.stage {
                    answer(c, &reply, method);
                }
            }
        }
    }

    fn accept(&mut self) {
        for _ in 0..ACCEPTS_PER_TURN {
            let stream = match self.socket.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE, ENFILE, ENOBUFS: pause rather than spin on a
                    // socket that stays readable; the kernel's backlog holds
                    // the connects meanwhile. Others (ECONNABORTED) pass.
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                    ) {
                        self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                        return;
                    }
                    continue;
                }
            };
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            let open = self
                .clients
                .iter()
                .filter(|c| !matches!(c.stage, Stage::Closed))
                .count();
            if open >= MAX_CLIENTS && !self.evict() {
                refuse_now(&stream);
                continue;
            }
            self.next_id += 1;
            self.clients.push(Client {
                id: self.next_id,
                stream,
                stage: Stage::Reading(Vec::new()),
                deadline: Instant::now() + HEAD_TIME,
            });
        }
    }

    /// Close the oldest connection still reading its head (a 503 tried),
    /// to make room; false if none is.
    fn evict(&mut self) -> bool {
        let oldest = self
            .clients
            .iter_mut()
            .filter(|c| matches!(c.stage, Stage::Reading(_)))
            .min_by_key(|c| c.deadline);
        match oldest {
            Some(c) => {
                refuse_now(&c.stream);
                c.stage = Stage::Closed;
                true
            }
            None => false,
        }
    }

    /// Deadlines: a head too slow gets 408; a write, a probe or a linger
    /// past its time closes.
    fn expire(&mut self, now: Instant) {
        for c in self.clients.iter_mut().filter(|c| c.deadline <= now) {
            match c.stage {
                Stage::Reading(_) => {
                    answer(
                        c,
                        &Reply::error(408, "request head not received in time"),
                        Verb::Get,
                    );
                }
                _ => c.stage = Stage::Closed,
            }
        }
    }
}

fn pollfd(fd: libc::c_int, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// Queue `reply` on `c` and write what the socket takes now.
fn answer(c: &mut Client, reply: &Reply, method: Verb) {
    c.stage = Stage::Writing(render(reply, method), 0);
    c.deadline = Instant::now() + WRITE_TIME;
    write_out(c);
}

fn write_out(c: &mut Client) {
    let Stage::Writing(out, at) = &mut c.stage else {
        return;
    };
    // Bounded: each write moves `at` forward or ends the step; what is
    // left after 64 writes waits for the next POLLOUT.
    let mut gone = false;
    for _ in 0..64 {
        if *at >= out.len() {
            let _ = c.stream.shutdown(Shutdown::Write);
            c.stage = Stage::Lingering(0);
            c.deadline = Instant::now() + LINGER_TIME;
            return;
        }
        match c.stream.write(&out[*at..]) {
            Ok(n) if n > 0 => *at += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            // Ok(0) or an error: the client is gone.
            _ => {
                gone = true;
                break;
            }
        }
    }
    if gone {
        c.stage = Stage::Closed;
    }
}

fn linger(c: &mut Client) {
    let Stage::Lingering(drained) = &mut c.stage else {
        return;
    };
    let mut chunk = [0u8; 4096];
    // Bounded by LINGER_BYTES and the 16 reads.
    for _ in 0..16 {
        match c.stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                *drained += n;
                if *drained > LINGER_BYTES {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => break,
        }
    }
    c.stage = Stage::Closed;
}

/// A 503 in one try on a fresh socket (its send buffer is empty), then
/// the socket goes with its owner.
fn refuse_now(stream: &TcpStream) {
    let reply = Reply::error(503, "too many connections: try again");
    let _ = (&*stream).write(&render(&reply, Verb::Get));
    let _ = stream.shutdown(Shutdown::Write);
}

/// Descriptors for MAX_CLIENTS connections beside the checks' own: the
/// soft limit raised to the hard one (systemd's unit sets 65536; a shell's
/// default soft limit is 1024). Failure leaves it: accept pauses on EMFILE.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a live local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max.min(65_536).max(limit.rlim_cur);
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
