//! Fault injection for the testbed. netem is not available on the kernels we
//! test on, so loss and delay come from a relay of our own: a thread of the
//! test process in a `relay` namespace spliced between the LB and the switch,
//! forwarding every frame between two AF_PACKET sockets and dropping or
//! holding back the ones its `FaultPlan` names.
//!
//! ```text
//!   lb:eth0 <-veth-> relay:lbside [relay thread] relay:swside <-veth-> sw:prelay (br0)
//! ```
//!
//! Also here: `Flood`, an `iperf3` UDP flood at the LB's interface from a
//! `flood` namespace on the bridge.
//!
//! Everything is bounded and owned: the relay stops and is joined, its
//! namespace deleted, and flood processes killed when their owner drops,
//! also when a test panics.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ffi::CString;
use std::fmt;
use std::io;
use std::mem;
use std::net::Ipv4Addr;
use std::ops::Deref;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::Command;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::netns;
use super::process::{self, Spawned};
use super::testbed::{Testbed, IFACE, LB_IP, SWITCH};

/// The relay stops by itself after this, even if nobody stops it.
const RELAY_LIFETIME: Duration = Duration::from_secs(600);
/// Frames kept in the event log; later ones are only counted.
const MAX_EVENTS: usize = 20_000;
/// Frames held back at once per direction; more are dropped (and counted).
const MAX_QUEUED: usize = 10_000;
/// Links must be up within this after rewiring.
const LINK_UP_LIMIT: Duration = Duration::from_secs(5);
/// The flood host's address on the testbed LAN.
pub const FLOOD_IP: &str = "198.51.100.50";
const IPERF_PORT: &str = "5201";

// ---- the plan --------------------------------------------------------------

/// Which way a frame travels through the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From the LB towards the switch (and the real servers).
    ToRs,
    /// From the switch towards the LB.
    ToLb,
}

/// What a frame carries, for counting: a check starts with ARP, so "the
/// first TCP frame" and "the first frame" are different frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Arp,
    /// IPv4 TCP.
    Tcp,
    /// Anything else (IPv6 neighbour discovery from the hosts' kernels...).
    Other,
}

/// Which frames a fault counts or applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Select {
    Any,
    Only(Kind),
}

impl Select {
    fn matches(self, kind: Kind) -> bool {
        match self {
            Select::Any => true,
            Select::Only(k) => k == kind,
        }
    }
}

/// The faults of one direction. Numbers are 1-based and counted per
/// direction, from the start of the relay (or its last `reset`).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    drops: Vec<(Select, usize)>,
    /// Percent (0..=100) and seed.
    loss: Option<(u32, u64)>,
    delay: Option<(Duration, Select)>,
}

impl Faults {
    pub fn new() -> Faults {
        Faults::default()
    }

    /// Drop the Nth frames of this direction, whatever they carry.
    pub fn drop_nth(self, nth: impl IntoIterator<Item = usize>) -> Faults {
        self.drop_counted(Select::Any, nth)
    }

    /// Drop the Nth TCP frames of this direction (ARP is not counted).
    pub fn drop_nth_tcp(self, nth: impl IntoIterator<Item = usize>) -> Faults {
        self.drop_counted(Select::Only(Kind::Tcp), nth)
    }

    /// Drop the Nth ARP frames of this direction.
    pub fn drop_nth_arp(self, nth: impl IntoIterator<Item = usize>) -> Faults {
        self.drop_counted(Select::Only(Kind::Arp), nth)
    }

    fn drop_counted(mut self, sel: Select, nth: impl IntoIterator<Item = usize>) -> Faults {
        self.drops.extend(nth.into_iter().map(|n| (sel, n)));
        self
    }

    /// Drop `percent` % of the ARP and TCP frames, chosen by a xorshift
    /// generator seeded with `seed`. Other frames (the kernels' own IPv6
    /// chatter, which comes at times of its own) always pass, so a seed
    /// gives the check the same losses run after run.
    pub fn random_loss(mut self, percent: u32, seed: u64) -> Faults {
        assert!(percent <= 100, "loss of {percent} %");
        self.loss = Some((percent, seed));
        self
    }

    /// Hold every frame back for `d` before forwarding it.
    pub fn delay(mut self, d: Duration) -> Faults {
        self.delay = Some((d, Select::Any));
        self
    }

    /// Hold only TCP frames back, so ARP resolves at once and a timeout
    /// falls on the TCP step.
    pub fn delay_tcp(mut self, d: Duration) -> Faults {
        self.delay = Some((d, Select::Only(Kind::Tcp)));
        self
    }
}

/// Faults for both directions; the default forwards everything untouched.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    pub to_rs: Faults,
    pub to_lb: Faults,
}

impl FaultPlan {
    /// Forward everything (the relay still counts and logs frames).
    pub fn none() -> FaultPlan {
        FaultPlan::default()
    }

    /// The same faults both ways (random loss gets a different stream per
    /// direction from the same seed).
    pub fn both(f: Faults) -> FaultPlan {
        FaultPlan {
            to_rs: f.clone(),
            to_lb: f,
        }
    }

    pub fn toward_rs(mut self, f: Faults) -> FaultPlan {
        self.to_rs = f;
        self
    }

    pub fn toward_lb(mut self, f: Faults) -> FaultPlan {
        self.to_lb = f;
        self
    }

    fn faults(&self, dir: Dir) -> &Faults {
        match dir {
            Dir::ToRs => &self.to_rs,
            Dir::ToLb => &self.to_lb,
        }
    }
}

// ---- what the relay saw ----------------------------------------------------

/// Counts of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirStats {
    pub frames: usize,
    pub arp: usize,
    pub tcp: usize,
    pub forwarded: usize,
    pub dropped: usize,
    pub dropped_arp: usize,
    pub dropped_tcp: usize,
    /// Frames whose send failed (each is also counted as forwarded).
    pub send_errors: usize,
    /// Frames dropped because `MAX_QUEUED` were already held back.
    pub overflow: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub to_rs: DirStats,
    pub to_lb: DirStats,
}

/// The parts of a TCP segment a test may assert on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpInfo {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    /// The flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10).
    pub flags: u8,
    pub payload: usize,
}

impl TcpInfo {
    pub fn is_syn(&self) -> bool {
        self.flags & 0x12 == 0x02
    }
    pub fn is_syn_ack(&self) -> bool {
        self.flags & 0x12 == 0x12
    }
    pub fn is_rst(&self) -> bool {
        self.flags & 0x04 != 0
    }
}

/// One frame that went through the relay.
#[derive(Debug, Clone)]
pub struct Event {
    /// Since the relay started (or was last `reset`).
    pub at: Duration,
    pub dir: Dir,
    pub kind: Kind,
    /// Its number among the frames of its kind in its direction (1-based;
    /// for `Other`, among all frames of its direction).
    pub nth: usize,
    pub dropped: bool,
    pub tcp: Option<TcpInfo>,
    /// ARP opcode (1 request, 2 reply).
    pub arp_op: Option<u16>,
}

/// tcpdump-like, for failure messages.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (dir, verdict) = (
            match self.dir {
                Dir::ToRs => "to_rs",
                Dir::ToLb => "to_lb",
            },
            if self.dropped { "DROPPED" } else { "fwd" },
        );
        write!(
            f,
            "{:9.3} ms {dir} {:?}#{} {verdict}",
            self.at.as_secs_f64() * 1e3,
            self.kind,
            self.nth
        )?;
        if let Some(t) = self.tcp {
            const NAMES: [(u8, char); 6] = [
                (1, 'F'),
                (2, 'S'),
                (4, 'R'),
                (8, 'P'),
                (0x20, 'U'),
                (0x10, '.'),
            ];
            let flags: String = NAMES
                .iter()
                .filter(|(b, _)| t.flags & b != 0)
                .map(|(_, c)| *c)
                .collect();
            write!(
                f,
                " {}:{} > {}:{} [{flags}] seq {} ack {} len {}",
                t.src, t.sport, t.dst, t.dport, t.seq, t.ack, t.payload
            )?;
        }
        if let Some(op) = self.arp_op {
            write!(f, " {}", if op == 1 { "request" } else { "reply" })?;
        }
        Ok(())
    }
}

/// Classifies an Ethernet frame (no VLAN tags on the testbed).
fn classify(frame: &[u8]) -> (Kind, Option<TcpInfo>, Option<u16>) {
    let be16 = |b: &[u8], i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let be32 = |b: &[u8], i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    if frame.len() < 14 {
        return (Kind::Other, None, None);
    }
    match be16(frame, 12) {
        0x0806 if frame.len() >= 22 => (Kind::Arp, None, Some(be16(frame, 20))),
        0x0800 if frame.len() >= 34 && frame[23] == 6 => {
            let ip = &frame[14..];
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(be16(ip, 2));
            let Some(tcp) = ip.get(ihl..).filter(|t| t.len() >= 20) else {
                return (Kind::Tcp, None, None);
            };
            let doff = usize::from(tcp[12] >> 4) * 4;
            let info = TcpInfo {
                src: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
                dst: Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
                sport: be16(tcp, 0),
                dport: be16(tcp, 2),
                seq: be32(tcp, 4),
                ack: be32(tcp, 8),
                flags: tcp[13],
                payload: total.saturating_sub(ihl + doff),
            };
            (Kind::Tcp, Some(info), None)
        }
        _ => (Kind::Other, None, None),
    }
}

// ---- the relay -------------------------------------------------------------

/// Per-direction decision state.
#[derive(Default)]
struct DirState {
    stats: DirStats,
    rng: u64,
}

impl DirState {
    fn new(faults: &Faults, salt: u64) -> DirState {
        let seed = faults.loss.map_or(0, |(_, s)| s);
        // xorshift must not start at 0; the salt separates the directions.
        let rng = (seed ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        DirState {
            stats: DirStats::default(),
            rng,
        }
    }

    fn next_percent(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x % 100) as u32
    }
}

/// What the relay thread and the test share.
struct Shared {
    plan: FaultPlan,
    since: Instant,
    dirs: [DirState; 2],
    events: Vec<Event>,
    events_left_out: usize,
    /// Why the relay thread stopped early, if it did.
    failure: Option<String>,
}

impl Shared {
    fn new(plan: FaultPlan) -> Shared {
        let dirs = [
            DirState::new(&plan.to_rs, 0x746f_5f72),
            DirState::new(&plan.to_lb, 0x746f_5f6c),
        ];
        Shared {
            plan,
            since: Instant::now(),
            dirs,
            events: Vec::new(),
            events_left_out: 0,
            failure: None,
        }
    }

    /// Counts and logs one frame; returns the delay to forward it after, or
    /// `None` to drop it.
    fn decide(&mut self, dir: Dir, frame: &[u8], now: Instant) -> Option<Duration> {
        let (kind, tcp, arp_op) = classify(frame);
        let faults = self.plan.faults(dir);
        let st = &mut self.dirs[dir as usize];
        st.stats.frames += 1;
        let nth = match kind {
            Kind::Arp => {
                st.stats.arp += 1;
                st.stats.arp
            }
            Kind::Tcp => {
                st.stats.tcp += 1;
                st.stats.tcp
            }
            Kind::Other => st.stats.frames,
        };
        let numbered = |sel: Select| match sel {
            Select::Any => st.stats.frames,
            Select::Only(_) => nth,
        };
        let mut dropped = faults
            .drops
            .iter()
            .any(|&(sel, n)| sel.matches(kind) && numbered(sel) == n);
        if let Some((percent, _)) = faults.loss {
            // Drawn for every ARP/TCP frame, dropped or not, so the pattern
            // depends only on the frame's number.
            if kind != Kind::Other && st.next_percent() < percent {
                dropped = true;
            }
        }
        if dropped {
            st.stats.dropped += 1;
            match kind {
                Kind::Arp => st.stats.dropped_arp += 1,
                Kind::Tcp => st.stats.dropped_tcp += 1,
                Kind::Other => {}
            }
        } else {
            st.stats.forwarded += 1;
        }
        if self.events.len() < MAX_EVENTS {
            self.events.push(Event {
                at: now.saturating_duration_since(self.since),
                dir,
                kind,
                nth,
                dropped,
                tcp,
                arp_op,
            });
        } else {
            self.events_left_out += 1;
        }
        if dropped {
            return None;
        }
        Some(match faults.delay {
            Some((d, sel)) if sel.matches(kind) => d,
            _ => Duration::ZERO,
        })
    }
}

/// A one-shot stop signal that every `poll` of the relay also waits on.
struct StopFd(OwnedFd);

impl StopFd {
    fn new() -> io::Result<StopFd> {
        // SAFETY: plain syscall; the fd is owned right away.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is fresh and owned by nobody else.
        Ok(StopFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn trigger(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live buffer to our eventfd.
        unsafe { libc::write(self.0.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }
}

/// The running relay: a thread in the relay namespace.
pub struct Relay {
    shared: Arc<Mutex<Shared>>,
    stop: Arc<StopFd>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Starts forwarding between `lbside` and `swside` in namespace `ns`; returns once
    /// both sockets are bound.
    fn start(ns: &str, plan: FaultPlan) -> io::Result<Relay> {
        let shared = Arc::new(Mutex::new(Shared::new(plan)));
        let stop = Arc::new(StopFd::new()?);
        let (tx, rx) = mpsc::channel();
        let (ns, shared2, stop2) = (ns.to_owned(), Arc::clone(&shared), Arc::clone(&stop));
        let thread = thread::Builder::new().name("relay".into()).spawn(move || {
            let ports =
                netns::enter(&ns).and_then(|()| Ok([open_port("lbside")?, open_port("swside")?]));
            let ports = match ports {
                Ok(p) => p,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let _ = tx.send(Ok(()));
            if let Err(e) = forward(&ports, &stop2.0, &shared2) {
                lock(&shared2).failure = Some(e.to_string());
            }
        })?;
        rx.recv_timeout(Duration::from_secs(5))
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "relay did not start"))??;
        Ok(Relay {
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// Counts so far. Panics if the relay thread failed, since then every
    /// verdict of the test is meaningless.
    pub fn stats(&self) -> Stats {
        let s = lock(&self.shared);
        if let Some(f) = &s.failure {
            panic!("the relay failed: {f}");
        }
        Stats {
            to_rs: s.dirs[0].stats,
            to_lb: s.dirs[1].stats,
        }
    }

    /// The frames seen so far, in order (at most `MAX_EVENTS`).
    pub fn events(&self) -> Vec<Event> {
        lock(&self.shared).events.clone()
    }

    /// The event log as text, one frame a line, for failure messages.
    pub fn log(&self) -> String {
        let s = lock(&self.shared);
        let mut text: String = s.events.iter().map(|e| format!("{e}\n")).collect();
        if s.events_left_out > 0 {
            text.push_str(&format!("... {} more frames\n", s.events_left_out));
        }
        text
    }

    /// Starts over with another plan: counters, frame numbers, random
    /// streams and the log restart from zero. Frames already held back are
    /// still delivered.
    pub fn reset(&self, plan: FaultPlan) {
        *lock(&self.shared) = Shared::new(plan);
    }

    fn stop(&mut self) {
        self.stop.trigger();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An AF_PACKET socket that sees every frame arriving on `iface` (none that
/// it or anyone in this namespace sends), and sends on it.
fn open_port(iface: &str) -> io::Result<OwnedFd> {
    let cvt = |r: libc::c_int| {
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    };
    // Protocol 0 receives nothing until the bind below, so no frame of
    // another interface slips in between.
    // SAFETY: plain syscall; the fd is owned right away.
    let fd = cvt(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    })?;
    // SAFETY: fd is fresh and owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    // Our own sends must not come back to us as received frames.
    // SAFETY: passes a live c_int of the size given.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_IGNORE_OUTGOING,
            (&one as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    let name = CString::new(iface).map_err(io::Error::other)?;
    // SAFETY: a valid NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: all-zero is a valid sockaddr_ll.
    let mut sll: libc::sockaddr_ll = unsafe { mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    sll.sll_ifindex = ifindex as libc::c_int;
    // SAFETY: passes a live sockaddr_ll of the size given.
    cvt(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })?;
    Ok(fd)
}

/// A frame held back until `due`; `order` keeps equal times first-in first-out.
type Held = Reverse<(Instant, u64, Vec<u8>)>;

/// The relay loop: one thread, both directions. It never sleeps except in
/// `ppoll`, whose timeout is the next held frame's release time, so a delay
/// in one direction never stalls the other.
fn forward(ports: &[OwnedFd; 2], stop: &OwnedFd, shared: &Mutex<Shared>) -> io::Result<()> {
    const DIRS: [Dir; 2] = [Dir::ToRs, Dir::ToLb];
    let end = Instant::now() + RELAY_LIFETIME;
    let mut held: [BinaryHeap<Held>; 2] = [BinaryHeap::new(), BinaryHeap::new()];
    let mut order = 0u64;
    let mut buf = vec![0u8; 65536];
    // Each pass handles a wake-up; the bound only guards against a clock
    // that never advances (the lifetime ends the loop in practice).
    for _ in 0..100_000_000u64 {
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        // Release what is due; port i receives direction i, so it goes
        // out of the other port.
        for (i, heap) in held.iter_mut().enumerate() {
            while heap.peek().is_some_and(|Reverse((due, _, _))| *due <= now) {
                let Some(Reverse((_, _, frame))) = heap.pop() else {
                    break;
                };
                send(ports[1 - i].as_raw_fd(), &frame, i, shared);
            }
        }
        let next = held
            .iter()
            .filter_map(|h| h.peek().map(|Reverse((due, _, _))| *due))
            .min()
            .unwrap_or(end)
            .min(end);
        let mut fds = [
            pollin(ports[0].as_raw_fd()),
            pollin(ports[1].as_raw_fd()),
            pollin(stop.as_raw_fd()),
        ];
        let left = next.saturating_duration_since(now);
        let ts = libc::timespec {
            tv_sec: left.as_secs() as libc::time_t,
            tv_nsec: left.subsec_nanos() as libc::c_long,
        };
        // SAFETY: fds is a live array of 3 pollfds; ts a live timespec.
        let n = unsafe { libc::ppoll(fds.as_mut_ptr(), 3, &ts, std::ptr::null()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if fds[2].revents != 0 {
            return Ok(());
        }
        for (i, dir) in DIRS.into_iter().enumerate() {
            if fds[i].revents & libc::POLLERR != 0 {
                // A link that bounced reports ENETDOWN once; read and go on.
                let _ = take_socket_error(ports[i].as_raw_fd());
            }
            if fds[i].revents & libc::POLLIN == 0 {
                continue;
            }
            // Bounded drain so one busy direction cannot starve the other.
            for _ in 0..256 {
                // SAFETY: receives into a live buffer of the given length.
                let r = unsafe {
                    libc::recv(
                        ports[i].as_raw_fd(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                    )
                };
                if r < 0 {
                    break; // EAGAIN: drained (other errors: next poll says)
                }
                let len = r as usize;
                if len > buf.len() {
                    continue; // cannot happen at MTU 1500; never forward a cut frame
                }
                let now = Instant::now();
                let Some(delay) = lock(shared).decide(dir, &buf[..len], now) else {
                    continue;
                };
                if delay.is_zero() {
                    send(ports[1 - i].as_raw_fd(), &buf[..len], i, shared);
                } else if held[i].len() >= MAX_QUEUED {
                    let mut s = lock(shared);
                    s.dirs[i].stats.overflow += 1;
                    s.dirs[i].stats.forwarded -= 1;
                    s.dirs[i].stats.dropped += 1;
                } else {
                    order += 1;
                    held[i].push(Reverse((now + delay, order, buf[..len].to_vec())));
                }
            }
        }
    }
    Ok(())
}

fn pollin(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

fn send(fd: RawFd, frame: &[u8], dir_index: usize, shared: &Mutex<Shared>) {
    // SAFETY: sends from a live buffer of the given length.
    let r = unsafe { libc::send(fd, frame.as_ptr().cast(), frame.len(), libc::MSG_DONTWAIT) };
    if r < 0 {
        lock(shared).dirs[dir_index].stats.send_errors += 1;
    }
}

fn take_socket_error(fd: RawFd) -> libc::c_int {
    let mut err: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: passes a live c_int and its length.
    unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    err
}

// ---- the testbed with a relay ----------------------------------------------

/// A `Testbed` whose LB reaches the switch only through the relay. Derefs to
/// the `Testbed`, so `run`, `serve`, `established_on`... work as usual.
pub struct RelayBed {
    relay: Option<Relay>,
    relay_ns: String,
    tb: Testbed,
}

impl Testbed {
    /// The default testbed (listeners on rs1 and rs2) with the relay
    /// between `lb` and the switch, applying `plan`.
    pub fn with_relay(plan: FaultPlan) -> RelayBed {
        RelayBed::new(Testbed::new(), plan)
    }
}

impl RelayBed {
    /// Splices a relay into `tb`: `lb`'s veth peer moves out of the switch
    /// into the relay namespace as `lbside`, and a new veth `swside`/`prelay` joins
    /// the relay to the bridge. `lb`'s own eth0 (address, MAC) is untouched.
    pub fn new(tb: Testbed, plan: FaultPlan) -> RelayBed {
        let relay_ns = format!("{}relay", netns::unique_stem());
        netns::create(std::slice::from_ref(&relay_ns));
        // From here on a panic drops `bed`, which removes what was made.
        let mut bed = RelayBed {
            relay: None,
            relay_ns,
            tb,
        };
        bed.rewire();
        let relay = Relay::start(&bed.relay_ns, plan)
            .unwrap_or_else(|e| panic!("cannot start the relay: {e}"));
        bed.relay = Some(relay);
        bed
    }

    fn rewire(&self) {
        let (relay, sw, lb) = (
            self.relay_ns.as_str(),
            self.tb.ns(SWITCH).to_owned(),
            self.tb.ns("lb").to_owned(),
        );
        // The relay's kernel must stay silent: no IPv6 autoconfiguration
        // frames of its own on lbside or swside.
        netns::in_netns(relay, || {
            for conf in ["all", "default"] {
                std::fs::write(format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6"), "1")?;
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("sysctls in {relay}: {e}"));
        netns::ip_batch(
            Some(&sw),
            &[
                "link set plb nomaster".to_owned(),
                format!("link set plb netns {relay}"),
            ],
        );
        netns::ip_batch(
            None,
            &[format!(
                "link add name swside netns {relay} type veth peer name prelay netns {sw}"
            )],
        );
        netns::ip_batch(
            Some(relay),
            &[
                "link set lo up".to_owned(),
                "link set dev plb name lbside".to_owned(),
                "link set dev lbside promisc on".to_owned(),
                "link set dev swside promisc on".to_owned(),
                "link set dev lbside up".to_owned(),
                "link set dev swside up".to_owned(),
            ],
        );
        netns::ip_batch(
            Some(&sw),
            &[
                "link set prelay master br0".to_owned(),
                "link set prelay up".to_owned(),
            ],
        );
        for (ns, dev) in [
            (relay, "lbside"),
            (relay, "swside"),
            (sw.as_str(), "prelay"),
        ] {
            offloads_off(ns, dev);
        }
        wait_until("relay links up", || {
            let up = |ns: &str, dev: &str| {
                netns::output("ip", &["-o", "-n", ns, "link", "show", dev])
                    .is_ok_and(|l| l.contains("LOWER_UP"))
            };
            let forwarding =
                netns::output("ip", &["-d", "-o", "-n", &sw, "link", "show", "prelay"])
                    .is_ok_and(|l| l.contains("LOWER_UP") && l.contains("state forwarding"));
            forwarding && up(relay, "lbside") && up(relay, "swside") && up(&lb, IFACE)
        });
    }

    pub fn relay(&self) -> &Relay {
        self.relay.as_ref().expect("relay running")
    }
}

impl Deref for RelayBed {
    type Target = Testbed;
    fn deref(&self) -> &Testbed {
        &self.tb
    }
}

impl Drop for RelayBed {
    fn drop(&mut self) {
        // Relay thread first (it lives in the namespace), then the
        // namespace (its veths go with it); the Testbed drops after this.
        self.relay = None;
        netns::destroy(std::slice::from_ref(&self.relay_ns));
    }
}

/// Checksum and segmentation offloads off, as on every testbed veth.
fn offloads_off(ns: &str, dev: &str) {
    let args = [
        "-K", dev, "rx", "off", "tx", "off", "tso", "off", "gso", "off", "gro", "off",
    ];
    netns::output_in(ns, "ethtool", &args)
        .unwrap_or_else(|e| panic!("turning offloads off failed: {e}"));
}

/// Polls `ready` every 2 ms for at most `LINK_UP_LIMIT`.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    for _ in 0..10_000 {
        if ready() {
            return;
        }
        if start.elapsed() > LINK_UP_LIMIT {
            break;
        }
        thread::sleep(Duration::from_millis(2));
    }
    panic!("{what}: not ready after {:?}", start.elapsed());
}

// ---- the flood -------------------------------------------------------------

/// An `iperf3 -u -b 0 -l 64` flood from a `flood` namespace on the bridge
/// (`FLOOD_IP`) at an `iperf3 -s` in `lb`: small UDP datagrams at whatever
/// rate one sender reaches, none of them for check_raw's socket. Dropping it
/// kills both iperf3 processes and removes the namespace.
pub struct Flood {
    client: Option<Spawned>,
    server: Option<Spawned>,
    ns: String,
    lb_ns: String,
}

impl Flood {
    /// Starts the flood and returns once `lb` receives it. Panics if
    /// iperf3 is missing: a flood test that floods nothing proves nothing.
    pub fn start(tb: &Testbed, seconds: u32) -> Flood {
        if let Err(e) = Command::new("iperf3").arg("--version").output() {
            panic!("iperf3 is needed for the flood (apt-get install -y iperf3): {e}");
        }
        let ns = format!("{}flood", netns::unique_stem());
        netns::create(std::slice::from_ref(&ns));
        let sw = tb.ns(SWITCH).to_owned();
        let mut flood = Flood {
            client: None,
            server: None,
            ns,
            lb_ns: tb.ns("lb").to_owned(),
        };
        let ns = flood.ns.clone();
        netns::ip_batch(
            None,
            &[format!(
                "link add {IFACE} netns {ns} type veth peer name pflood netns {sw}"
            )],
        );
        netns::ip_batch(
            Some(&sw),
            &[
                "link set pflood master br0".to_owned(),
                "link set pflood up".to_owned(),
            ],
        );
        netns::ip_batch(
            Some(&ns),
            &[
                "link set lo up".to_owned(),
                format!("addr add {FLOOD_IP}/24 dev {IFACE}"),
                format!("link set {IFACE} up"),
            ],
        );
        offloads_off(&ns, IFACE);
        offloads_off(&sw, "pflood");
        wait_until("flood link up", || {
            netns::output("ip", &["-d", "-o", "-n", &sw, "link", "show", "pflood"])
                .is_ok_and(|l| l.contains("LOWER_UP") && l.contains("state forwarding"))
        });

        flood.server = Some(flood.iperf3(&flood.lb_ns, &["-s", "-p", IPERF_PORT]));
        let lb_ns = flood.lb_ns.clone();
        wait_until("iperf3 -s listening in lb", || {
            netns::output(
                "ss",
                &["-N", &lb_ns, "-Hltn", &format!("( sport = :{IPERF_PORT} )")],
            )
            .is_ok_and(|o| !o.trim().is_empty())
        });
        let t = seconds.to_string();
        let args = [
            "-u", "-b", "0", "-l", "64", "-c", LB_IP, "-p", IPERF_PORT, "-t", &t,
        ];
        flood.client = Some(flood.iperf3(&ns, &args));
        // Started once lb counts a burst of frames in 50 ms.
        let mut last = lb_rx_packets(tb);
        wait_until("flood reaching lb", || {
            thread::sleep(Duration::from_millis(50));
            let now = lb_rx_packets(tb);
            let burst = now.saturating_sub(last) > 1000;
            last = now;
            burst
        });
        flood
    }

    fn iperf3(&self, ns: &str, args: &[&str]) -> Spawned {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, "iperf3"]).args(args);
        process::spawn(cmd)
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        // Spawned's Drop SIGKILLs each process group and reaps it.
        self.client = None;
        self.server = None;
        netns::destroy(std::slice::from_ref(&self.ns));
    }
}

/// Frames received so far on `lb`'s eth0, from /proc/thread-self/net/dev
/// read by a thread inside `lb` (that file follows the thread's namespace).
pub fn lb_rx_packets(tb: &Testbed) -> u64 {
    tb.in_ns("lb", || {
        let text = std::fs::read_to_string("/proc/thread-self/net/dev")?;
        text.lines()
            .find_map(|l| {
                l.trim_start()
                    .strip_prefix(&format!("{IFACE}:"))
                    .map(str::to_owned)
            })
            .and_then(|rest| rest.split_whitespace().nth(1)?.parse().ok())
            .ok_or_else(|| io::Error::other(format!("no {IFACE} in net/dev:\n{text}")))
    })
    .unwrap_or_else(|e| panic!("reading lb's rx_packets: {e}"))
}
