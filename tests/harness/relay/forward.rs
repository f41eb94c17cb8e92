//! The relay itself: a thread in the relay namespace forwarding every
//! frame between two AF_PACKET sockets (`lbside`, `swside`), dropping or
//! holding back what the plan says, until it is stopped or its lifetime
//! ends.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ffi::CString;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::plan::{Dir, Event, FaultPlan, Shared, Stats};
use crate::harness::netns;
use crate::harness::stop::Stop;

/// The relay stops by itself after this, even if nobody stops it.
const RELAY_LIFETIME: Duration = Duration::from_secs(600);
/// Frames held back at once per direction; more are dropped (and counted).
const MAX_QUEUED: usize = 10_000;

/// The running relay: a thread in the relay namespace.
pub struct Relay {
    shared: Arc<Mutex<Shared>>,
    stop: Arc<Stop>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Starts forwarding between `lbside` and `swside` in namespace `ns`; returns once
    /// both sockets are bound.
    pub(super) fn start(ns: &str, plan: FaultPlan) -> io::Result<Relay> {
        let shared = Arc::new(Mutex::new(Shared::new(plan)));
        let stop = Arc::new(Stop::new()?);
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
            if let Err(e) = forward(&ports, &stop2, &shared2) {
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
fn forward(ports: &[OwnedFd; 2], stop: &Stop, shared: &Mutex<Shared>) -> io::Result<()> {
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
