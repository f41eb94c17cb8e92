//! check_raw_serve's packet engine: what the runs of a long-running
//! process share (docs/ARCHITECTURE.md, "check_raw_serve's engine").
//!
//! - One AF_PACKET socket per interface, opened at its first use and kept,
//!   with one filter (`Program::port_range`): ARP replies, Neighbor
//!   Advertisements, ICMP errors, and TCP/UDP to the engine's port range.
//!   A reader thread per socket demultiplexes each frame (`demux`) to the
//!   mailbox of the run holding its local port, or, for a neighbour's
//!   answer, to the cache and the runs resolving that address.
//! - Local ports come from a reserved range (`port_pool`), each lent to
//!   one run at a time: the run's [`Lease`], whose drop (however the run
//!   ends) gives the number and its mailbox back.
//! - The process keeps CAP_NET_RAW: no per-run raise or drop, since
//!   capabilities are per thread and a worker runs many checks.
//!
//! A run the shared socket cannot carry gets its own filtered socket, as
//! the plugin does ([`Engine::open`]): the VIP check (echo replies, and
//! ARP about the VIP), a `--source-port` outside the range, or an engine
//! left without a range (see [`Engine::note`]).

mod demux;
mod direct;
mod frame_port;
mod mailbox;
mod neigh_cache;
mod port_pool;

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use pnet_datalink::MacAddr;

pub use direct::{DirectPort, Tally};
pub use frame_port::FramePort;
pub use neigh_cache::YOUNG;
pub use port_pool::DEFAULT_PORTS;

use super::bpf::{Program, Proto};
use super::path::PathError;
use super::socket::{self, PacketSocket, Received};
use demux::Dest;
use mailbox::{Frame, Inbox, Push};
use neigh_cache::NeighCache;
use port_pool::PortPool;

/// Bytes all mailboxes hold at most together: the engine's share of the
/// daemon's 64 MiB.
const QUEUED_BUDGET: usize = 16 * 1024 * 1024;
/// Frames a reader handles per wake-up before it looks at the stop flag.
const FRAMES_PER_WAKE: usize = 1024;
/// A reader's longest sleep: how long a stop may wait for it at worst.
const READER_POLL_MS: libc::c_int = 1000;

/// What the engine counted since it started (issue 22's metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames the shared sockets' filters let through.
    pub frames_received: u64,
    /// ... handed to a run's mailbox (a neighbour's answer once per run).
    pub frames_delivered: u64,
    /// ... that matched no flow (nobody held the port, nobody asked).
    pub frames_unmatched: u64,
    /// ... dropped at a mailbox's bound (a flood, or a run not reading).
    pub frames_dropped: u64,
    /// Frames the runs sent through the shared sockets.
    pub frames_sent: u64,
    /// Runs holding a port of the range now.
    pub flows_in_flight: usize,
    /// Runs carried by the shared sockets, and by sockets of their own.
    pub shared_runs: u64,
    pub own_socket_runs: u64,
    /// Runs carried frame by frame by the loop that drives the direct
    /// flows (check_raw_serve's TCP checks), no worker thread.
    pub direct_runs: u64,
    /// Runs that used a young neighbour entry instead of asking.
    pub neighbour_hits: u64,
    /// Runs resolving a neighbour through the shared socket now.
    pub resolving: usize,
    /// Bytes waiting in all mailboxes (bounded by the engine).
    pub queued_bytes: usize,
    /// Shared packet sockets open (one per interface in use).
    pub sockets: usize,
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    delivered: AtomicU64,
    unmatched: AtomicU64,
    dropped: AtomicU64,
    sent: AtomicU64,
    shared_runs: AtomicU64,
    own_socket_runs: AtomicU64,
    direct_runs: AtomicU64,
    neighbour_hits: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// One interface's shared socket, as the runs see it.
#[derive(Debug)]
struct Iface {
    index: u32,
    /// A second descriptor of the socket the reader owns, to send on.
    send: OwnedFd,
    /// Written to stop the reader.
    wake: OwnedFd,
    /// The link went away: the reader ended; the next run reopens.
    dead: AtomicBool,
}

#[derive(Debug)]
struct Inner {
    /// The runs' ports (the lower half of the range): their frames go
    /// through the readers to mailboxes.
    pool: Option<PortPool>,
    /// The direct flows' ports (the upper half): their frames go to the
    /// direct sockets of the loop that drives them ([`Engine::direct_socket`]).
    direct: Option<PortPool>,
    note: Option<String>,
    ifaces: Mutex<Vec<Arc<Iface>>>,
    readers: Mutex<Vec<JoinHandle<()>>>,
    neigh: NeighCache,
    counters: Counters,
    next_id: AtomicU64,
    stop: AtomicBool,
}

/// The shared packet engine of one check_raw_serve process.
#[derive(Debug)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new()
    }
}

impl Engine {
    /// An engine on [`DEFAULT_PORTS`], moved clear of the kernel's
    /// ephemeral range if they overlap (or without a range, every run on
    /// its own socket, if no room is left): [`Engine::note`] says which.
    pub fn new() -> Engine {
        match port_pool::choose(DEFAULT_PORTS, port_pool::ephemeral_range(), true) {
            Ok((range, note)) => Engine::build(Some(range), note),
            Err(why) => Engine::build(None, Some(format!("{why}: every run opens its own socket"))),
        }
    }

    /// An engine on `ports`, refused if they overlap the kernel's
    /// ephemeral range (whose numbers the kernel gives other programs).
    pub fn with_ports(ports: (u16, u16)) -> Result<Engine, String> {
        let (range, note) = port_pool::choose(ports, port_pool::ephemeral_range(), false)?;
        Ok(Engine::build(Some(range), note))
    }

    fn build(range: Option<(u16, u16)>, note: Option<String>) -> Engine {
        // A daemon outlives address changes: re-read the interfaces.
        super::link::refresh_every(std::time::Duration::from_secs(1));
        let (runs, direct) = match range.map(direct::split) {
            Some((runs, direct)) => (Some(runs), direct),
            None => (None, None),
        };
        Engine {
            inner: Arc::new(Inner {
                pool: runs.map(|r| PortPool::new(r, QUEUED_BUDGET)),
                direct: direct.map(|r| PortPool::new(r, 0)),
                note,
                ifaces: Mutex::new(Vec::new()),
                readers: Mutex::new(Vec::new()),
                neigh: NeighCache::default(),
                counters: Counters::default(),
                next_id: AtomicU64::new(1),
                stop: AtomicBool::new(false),
            }),
        }
    }

    /// The whole port range (runs' and direct flows'), if any.
    pub fn ports(&self) -> Option<(u16, u16)> {
        let runs = self.inner.pool.as_ref().map(PortPool::range)?;
        let direct = self.inner.direct.as_ref().map(PortPool::range);
        Some((runs.0, direct.map_or(runs.1, |d| d.1)))
    }

    /// The ports of the runs that the readers carry (the lower half).
    fn run_ports(&self) -> Option<(u16, u16)> {
        self.inner.pool.as_ref().map(PortPool::range)
    }

    /// What the engine changed of its configuration, and why, to log.
    pub fn note(&self) -> Option<&str> {
        self.inner.note.as_deref()
    }

    pub fn stats(&self) -> Stats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            frames_received: get(&c.received),
            frames_delivered: get(&c.delivered),
            frames_unmatched: get(&c.unmatched),
            frames_dropped: get(&c.dropped),
            frames_sent: get(&c.sent),
            flows_in_flight: [&self.inner.pool, &self.inner.direct]
                .iter()
                .map(|p| p.as_ref().map_or(0, PortPool::lent))
                .sum(),
            shared_runs: get(&c.shared_runs),
            own_socket_runs: get(&c.own_socket_runs),
            direct_runs: get(&c.direct_runs),
            neighbour_hits: get(&c.neighbour_hits),
            resolving: self.inner.neigh.waiters(),
            queued_bytes: self.inner.pool.as_ref().map_or(0, PortPool::queued_bytes),
            sockets: lock(&self.inner.ifaces)
                .iter()
                .filter(|i| !i.dead.load(Ordering::Relaxed))
                .count(),
        }
    }

    /// A packet socket on `ifindex` that passes what `filter` passes, for
    /// one run the shared socket cannot carry. The process holds
    /// CAP_NET_RAW throughout (no raise, no drop: capabilities are per
    /// thread, and a worker runs many checks).
    pub fn open(&self, ifindex: u32, filter: &Program) -> Result<PacketSocket, PathError> {
        bump(&self.inner.counters.own_socket_runs);
        PacketSocket::open(ifindex, filter).map_err(PathError::Socket)
    }

    /// A flow on `ifindex`'s shared socket, its port (`want`, or any of the
    /// range) held for `protos` in `src`'s family. `Ok(None)`: this engine
    /// cannot carry it (no range, or `want` outside it): use [`Engine::open`].
    pub fn lease(
        &self,
        ifindex: u32,
        src: IpAddr,
        protos: &[Proto],
        want: Option<u16>,
    ) -> Result<Option<Lease>, PathError> {
        let Some(pool) = &self.inner.pool else {
            return Ok(None);
        };
        if want.is_some_and(|p| !pool.contains(p)) {
            return Ok(None);
        }
        let iface = self.iface(ifindex)?;
        let loan = pool
            .lend(want, src.is_ipv6(), protos)
            .map_err(|e| e.for_source(src, "range"))?;
        bump(&self.inner.counters.shared_runs);
        Ok(Some(Lease {
            inner: self.inner.clone(),
            iface,
            port: loan.port,
            inbox: loan.inbox,
            current: None,
            resolving: None,
            trusted: None,
            heard: false,
        }))
    }

    /// The MAC of `ip` on `ifindex` if a reply told it within [`YOUNG`].
    pub fn young_neighbour(&self, ifindex: u32, ip: IpAddr) -> Option<MacAddr> {
        let mac = self.inner.neigh.young(ifindex, ip, Instant::now());
        if mac.is_some() {
            bump(&self.inner.counters.neighbour_hits);
        }
        mac
    }

    /// `ifindex`'s shared socket, opened (with its reader) at first use.
    fn iface(&self, ifindex: u32) -> Result<Arc<Iface>, PathError> {
        let mut ifaces = lock(&self.inner.ifaces);
        ifaces.retain(|i| !i.dead.load(Ordering::Relaxed));
        if let Some(iface) = ifaces.iter().find(|i| i.index == ifindex) {
            return Ok(iface.clone());
        }
        let range = self.run_ports().unwrap_or(DEFAULT_PORTS);
        let filter =
            Program::port_range(range, true).map_err(|e| PathError::Filter(e.to_string()))?;
        let sock = PacketSocket::open(ifindex, &filter).map_err(PathError::Socket)?;
        let iface = self.start(ifindex, sock)?;
        ifaces.push(iface.clone());
        Ok(iface)
    }

    /// Start `sock`'s reader; the runs on `ifindex` send on a second
    /// descriptor of it.
    fn start(&self, ifindex: u32, sock: PacketSocket) -> Result<Arc<Iface>, PathError> {
        let iface = Arc::new(Iface {
            index: ifindex,
            send: sock.dup_fd().map_err(PathError::Socket)?,
            wake: eventfd().map_err(PathError::Socket)?,
            dead: AtomicBool::new(false),
        });
        let (inner, reader) = (self.inner.clone(), iface.clone());
        let handle = std::thread::Builder::new()
            .name(format!("reader-{ifindex}"))
            .spawn(move || read_loop(&inner, &reader, sock))
            .map_err(PathError::Socket)?;
        lock(&self.inner.readers).push(handle);
        Ok(iface)
    }

    /// An engine on `ports` whose interface `ifindex` is `sock` (a fake).
    #[cfg(test)]
    fn on_socket(ports: (u16, u16), ifindex: u32, sock: PacketSocket) -> Engine {
        let engine = Engine::build(Some(ports), None);
        let iface = engine.start(ifindex, sock).unwrap();
        lock(&engine.inner.ifaces).push(iface);
        engine
    }
}

impl Drop for Engine {
    /// Stop and join the readers; their sockets close with them.
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        for iface in lock(&self.inner.ifaces).iter() {
            signal(iface.wake.as_raw_fd());
        }
        for handle in lock(&self.inner.readers).drain(..) {
            let _ = handle.join();
        }
    }
}

/// A lock whatever a panicking holder left (the data stays consistent:
/// every holder only pushes, removes or counts).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes two integers and returns a new descriptor or -1.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is fresh and ours alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn signal(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: 8 bytes from a live u64 to an eventfd we own.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

/// The link is gone (`packet_notifier` sets ENETDOWN when it drops).
fn is_link_down(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENETDOWN | libc::ENXIO | libc::ENODEV)
    )
}

/// An interface's reader: waits on its socket (and the stop eventfd) and
/// hands every frame to `deliver`, until the engine stops or the link
/// goes away.
fn read_loop(inner: &Inner, iface: &Iface, mut sock: PacketSocket) {
    while !inner.stop.load(Ordering::Relaxed) {
        let mut fds = [
            libc::pollfd {
                fd: sock.raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: iface.wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two live pollfds, their count, a bounded timeout.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, READER_POLL_MS) };
        if n <= 0 {
            continue; // timeout or EINTR: look at the stop flag again
        }
        for _ in 0..FRAMES_PER_WAKE {
            match sock.recv() {
                Ok(Some(rx)) => inner.deliver(iface.index, &rx),
                Ok(None) => break,
                Err(e) if is_link_down(&e) => {
                    iface.dead.store(true, Ordering::Relaxed);
                    return;
                }
                Err(_) => break,
            }
        }
    }
}

impl Inner {
    /// Hand one received frame to whoever it belongs to, or count it.
    fn deliver(&self, ifindex: u32, rx: &Received) {
        let c = &self.counters;
        bump(&c.received);
        let frame = || Frame {
            bytes: if rx.truncated {
                Vec::new()
            } else {
                rx.frame.to_vec()
            },
            wire_len: rx.wire_len,
            truncated: rx.truncated,
            checksum_verified: rx.checksum_verified,
        };
        let count = |push: Push| match push {
            Push::Delivered => bump(&c.delivered),
            Push::Full => bump(&c.dropped),
            Push::Closed => bump(&c.unmatched),
        };
        match demux::classify(rx.frame) {
            Some(Dest::Port(port)) => match self.pool.as_ref().and_then(|p| p.inbox(port)) {
                Some(inbox) => count(inbox.push(frame())),
                None => bump(&c.unmatched),
            },
            Some(Dest::Neighbour { ip, mac }) => {
                let waiting = self.neigh.seen(ifindex, ip, mac, Instant::now());
                if waiting.is_empty() {
                    bump(&c.unmatched);
                }
                for inbox in waiting {
                    count(inbox.push(frame()));
                }
            }
            None => bump(&c.unmatched),
        }
    }
}

/// One run's flow on a shared socket: its port and mailbox, lent until
/// this is dropped (however the run ends).
#[derive(Debug)]
pub struct Lease {
    inner: Arc<Inner>,
    iface: Arc<Iface>,
    port: u16,
    inbox: Arc<Inbox>,
    /// The frame `recv` handed out last, which its `Received` borrows.
    current: Option<Frame>,
    /// Registered as resolving an address (the id to deregister).
    resolving: Option<u64>,
    /// The real server whose MAC came from the cache, not from an answer
    /// to this run: forgotten at the drop if no frame came back at all.
    trusted: Option<IpAddr>,
    /// A frame reached this run.
    heard: bool,
}

impl Lease {
    /// The local port lent.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Route ARP/NDP answers about `ip` to this run too, until
    /// [`Lease::resolved`] (or the drop).
    pub fn resolving(&mut self, ip: IpAddr) {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.resolved();
        self.inner
            .neigh
            .wait_for(self.iface.index, ip, id, self.inbox.clone());
        self.resolving = Some(id);
    }

    /// This run sends to `ip` at the MAC the cache gave: see `trusted`.
    pub fn trusting(&mut self, ip: IpAddr) {
        self.trusted = Some(ip);
    }

    pub fn resolved(&mut self) {
        if let Some(id) = self.resolving.take() {
            self.inner.neigh.stop_waiting(id);
        }
    }

    fn send(&self, frame: &[u8]) -> io::Result<()> {
        if self.iface.dead.load(Ordering::Relaxed) {
            return Err(io::Error::from_raw_os_error(libc::ENETDOWN));
        }
        socket::send(self.iface.send.as_raw_fd(), frame)?;
        bump(&self.inner.counters.sent);
        Ok(())
    }

    fn raw_fd(&self) -> RawFd {
        self.inbox.raw_fd()
    }

    fn has_queued(&self) -> bool {
        self.inbox.has_queued()
    }

    fn recv(&mut self) -> io::Result<Option<Received<'_>>> {
        self.current = self.inbox.pop();
        self.heard |= self.current.is_some();
        if self.current.is_none() && self.iface.dead.load(Ordering::Relaxed) {
            return Err(io::Error::from_raw_os_error(libc::ENETDOWN));
        }
        Ok(self.current.as_ref().map(|f| Received {
            frame: &f.bytes,
            truncated: f.truncated,
            wire_len: f.wire_len,
            checksum_verified: f.checksum_verified,
            // A mailbox run reads as soon as its frame comes.
            arrived: None,
        }))
    }

    fn mtu(&self, ifname: &str) -> io::Result<u32> {
        socket::mtu(self.iface.send.as_raw_fd(), ifname)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.resolved();
        // Silence after a cached MAC: the server may have moved (a new NIC,
        // a failover without a gratuitous ARP); ask next time, as the
        // plugin always does.
        if let (Some(ip), false) = (self.trusted, self.heard) {
            self.inner.neigh.forget(self.iface.index, ip);
        }
        if let Some(pool) = &self.inner.pool {
            pool.give_back(self.port);
        }
    }
}

#[cfg(test)]
mod tests;
