//! The engine's local ports: a reserved range above the kernel's ephemeral
//! range, each number held with kernel sockets once, at its first use,
//! for the engine's life, and lent to one run at a time.
//!
//! Why a range and not the plugin's per-run `port::reserve`: binding a
//! kernel socket per run costs syscalls and yields random ports, which one
//! filter for all runs could not name; a range is one BPF comparison, and
//! a port number is an index into the mailboxes (the demultiplexer takes
//! no lock to find a flow). The kernel never picks a number of ours for
//! its own connections while the range lies outside
//! `ip_local_port_range`, and our holders keep every other program off it.

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use socket2::{Domain, Socket, Type};

use super::mailbox::Inbox;
use crate::net::bpf::Proto;
use crate::net::path::PathError;

/// The range when none is given: above Linux's default ephemeral range
/// (32768-60999), below the top of the port space.
pub const DEFAULT_PORTS: (u16, u16) = (61000, 61999);
/// Numbers tried for one loan before giving up (each failure marks a
/// number another program holds, which is then skipped for good).
const ATTEMPTS: usize = 16;

/// The kernel's ephemeral range, if readable.
pub(crate) fn ephemeral_range() -> Option<(u16, u16)> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|w| w.parse::<u16>().ok());
    Some((it.next()??, it.next()??))
}

fn overlaps((lo, hi): (u16, u16), (elo, ehi): (u16, u16)) -> bool {
    lo <= ehi && elo <= hi
}

/// The range to use given the kernel's `ephemeral` one: `wanted` if they
/// do not overlap, else (when `adjust`) a range of the same size just
/// above the ephemeral one, or just below it (never under 1024), with a
/// note saying so; else why not.
pub(crate) fn choose(
    wanted: (u16, u16),
    ephemeral: Option<(u16, u16)>,
    adjust: bool,
) -> Result<((u16, u16), Option<String>), String> {
    let (lo, hi) = wanted;
    if lo == 0 || lo > hi {
        return Err(format!("port range {lo}-{hi} is empty or starts at 0"));
    }
    let Some((elo, ehi)) = ephemeral.filter(|e| overlaps(wanted, *e)) else {
        return Ok((wanted, None));
    };
    let clash = format!(
        "port range {lo}-{hi} overlaps the kernel's ephemeral range {elo}-{ehi} \
         (net.ipv4.ip_local_port_range), whose ports the kernel gives other programs"
    );
    if !adjust {
        return Err(clash);
    }
    let size = u32::from(hi - lo) + 1;
    let above = (u32::from(ehi) + 1, u32::from(ehi) + size);
    let below = (
        u32::from(elo).checked_sub(size),
        u32::from(elo).checked_sub(1),
    );
    let moved = if above.1 <= u32::from(u16::MAX) {
        (above.0, above.1)
    } else if let (Some(b0), Some(b1)) = below {
        if b0 < 1024 {
            return Err(format!("{clash}; no room above or below it"));
        }
        (b0, b1)
    } else {
        return Err(format!("{clash}; no room above or below it"));
    };
    let (mlo, mhi) = (moved.0 as u16, moved.1 as u16);
    Ok((
        (mlo, mhi),
        Some(format!("{clash}: using {mlo}-{mhi} instead")),
    ))
}

/// A kernel socket holding `port` of `proto` on every address of a family.
fn hold(port: u16, v6: bool, proto: Proto) -> io::Result<Socket> {
    let addr = if v6 {
        SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port)
    } else {
        SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port)
    };
    let kind = match proto {
        Proto::Tcp => Type::STREAM,
        Proto::Udp => Type::DGRAM,
    };
    let socket = Socket::new(Domain::for_address(addr), kind.cloexec(), None)?;
    if v6 {
        // Else [::] would take the IPv4 number too, and clash with its holder.
        socket.set_only_v6(true)?;
    }
    if proto == Proto::Udp {
        // Nobody reads it: the smallest buffer the kernel allows.
        let _ = socket.set_recv_buffer_size(0);
    }
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// Why no port was lent.
#[derive(Debug)]
pub(crate) enum LendError {
    /// Every number is lent (or the one asked for is).
    Busy,
    /// Another program holds the number(s) tried.
    Reserve(io::Error),
}

impl LendError {
    /// The path's error for a run from `source`; `what` names the range.
    pub(crate) fn for_source(self, source: std::net::IpAddr, what: &str) -> PathError {
        let err = match self {
            LendError::Busy => io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("every port of the engine's {what} is in use"),
            ),
            LendError::Reserve(err) => err,
        };
        PathError::Reserve { source, err }
    }
}

#[derive(Debug, Default)]
struct PoolState {
    /// Numbers (offsets into the range) free to lend, oldest returned first,
    /// so a number comes back to a server as late as it can.
    free: VecDeque<u16>,
    lent: usize,
    /// Per number: the (family is IPv6, protocol) holders made so far.
    held: Vec<Vec<(bool, Proto, Socket)>>,
}

/// The range, its holders and a mailbox per number.
#[derive(Debug)]
pub(crate) struct PortPool {
    lo: u16,
    hi: u16,
    state: Mutex<PoolState>,
    inboxes: Box<[OnceLock<Arc<Inbox>>]>,
    total: Arc<AtomicUsize>,
    budget: usize,
}

/// One number lent to a run, and its mailbox.
#[derive(Debug)]
pub(crate) struct Loan {
    pub port: u16,
    pub inbox: Arc<Inbox>,
}

impl PortPool {
    /// `(lo, hi)` checked by `choose`; mailboxes share `budget` bytes.
    pub(crate) fn new((lo, hi): (u16, u16), budget: usize) -> PortPool {
        let size = usize::from(hi - lo) + 1;
        PortPool {
            lo,
            hi,
            state: Mutex::new(PoolState {
                free: (0..=hi - lo).collect(),
                lent: 0,
                held: (0..size).map(|_| Vec::new()).collect(),
            }),
            inboxes: (0..size).map(|_| OnceLock::new()).collect(),
            total: Arc::new(AtomicUsize::new(0)),
            budget,
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn range(&self) -> (u16, u16) {
        (self.lo, self.hi)
    }

    pub(crate) fn contains(&self, port: u16) -> bool {
        (self.lo..=self.hi).contains(&port)
    }

    /// Numbers lent now: the flows in flight.
    pub(crate) fn lent(&self) -> usize {
        self.lock().lent
    }

    /// Bytes waiting in all mailboxes.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.total.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The mailbox of `port` if it was ever lent: the reader's lookup.
    pub(crate) fn inbox(&self, port: u16) -> Option<&Arc<Inbox>> {
        let at = usize::from(port.checked_sub(self.lo)?);
        self.inboxes.get(at)?.get()
    }

    /// Lend `want` (a `--source-port` in the range) or the oldest free
    /// number, held for `protos` in the family `v6`, its mailbox open.
    pub(crate) fn lend(
        &self,
        want: Option<u16>,
        v6: bool,
        protos: &[Proto],
    ) -> Result<Loan, LendError> {
        let port = self.lend_number(want, v6, protos)?;
        let at = port - self.lo;
        match self.inbox_at(at) {
            Ok(inbox) => {
                inbox.open();
                Ok(Loan { port, inbox })
            }
            Err(e) => {
                self.give_back(port);
                Err(LendError::Reserve(e))
            }
        }
    }

    /// [`PortPool::lend`] without a mailbox: for a flow whose frames its
    /// driver reads from a socket of its own.
    pub(crate) fn lend_number(
        &self,
        want: Option<u16>,
        v6: bool,
        protos: &[Proto],
    ) -> Result<u16, LendError> {
        let mut state = self.lock();
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let at = match want {
                Some(port) => {
                    let at = port.wrapping_sub(self.lo);
                    let i = state.free.iter().position(|a| *a == at);
                    i.and_then(|i| state.free.remove(i))
                        .ok_or(LendError::Busy)?
                }
                None => state.free.pop_front().ok_or(LendError::Busy)?,
            };
            let port = self.lo + at;
            let held = &mut state.held[usize::from(at)];
            let mut refused = None;
            for proto in protos {
                if !held.iter().any(|(f, p, _)| *f == v6 && p == proto) {
                    match hold(port, v6, *proto) {
                        Ok(socket) => held.push((v6, *proto, socket)),
                        Err(e) => refused = Some(e),
                    }
                }
            }
            if let Some(err) = refused {
                // Someone else's: never lent again, not put back.
                last = Some(err);
                if want.is_some() {
                    break;
                }
                continue;
            }
            state.lent += 1;
            return Ok(port);
        }
        Err(LendError::Reserve(
            last.unwrap_or_else(|| io::Error::other("no free port")),
        ))
    }

    fn inbox_at(&self, at: u16) -> io::Result<Arc<Inbox>> {
        let cell = &self.inboxes[usize::from(at)];
        if let Some(inbox) = cell.get() {
            return Ok(inbox.clone());
        }
        let inbox = Arc::new(Inbox::new(self.total.clone(), self.budget)?);
        Ok(cell.get_or_init(|| inbox).clone())
    }

    /// The run is done with `port`: its mailbox closed, the number free
    /// again (last in line).
    pub(crate) fn give_back(&self, port: u16) {
        if let Some(inbox) = self.inbox(port) {
            inbox.close();
        }
        let mut state = self.lock();
        let at = port - self.lo;
        if !state.free.contains(&at) {
            state.free.push_back(at);
            state.lent = state.lent.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::shared::mailbox::{Frame, Push};

    #[test]
    fn the_range_keeps_clear_of_the_kernels() {
        let wanted = DEFAULT_PORTS;
        assert_eq!(
            choose(wanted, Some((32768, 60999)), true).unwrap(),
            (wanted, None)
        );
        assert_eq!(choose(wanted, None, true).unwrap(), (wanted, None));
        // Overlap: refused when fixed, moved when adjustable.
        assert!(choose(wanted, Some((32768, 61500)), false).is_err());
        let (moved, note) = choose(wanted, Some((32768, 61500)), true).unwrap();
        assert_eq!(moved, (61501, 62500));
        assert!(note.unwrap().contains("using 61501-62500"));
        let (moved, _) = choose(wanted, Some((20000, 65000)), true).unwrap();
        assert_eq!(moved, (19000, 19999));
        assert!(choose(wanted, Some((1500, 65535)), true).is_err());
        assert!(choose((5, 4), None, true).is_err());
    }

    #[test]
    fn numbers_are_lent_once_and_come_back_last() {
        // A range of high ports this test holds on the loopback's host.
        let pool = PortPool::new((64100, 64102), 1 << 20);
        let a = pool.lend(None, false, &[Proto::Tcp]).unwrap();
        let b = pool.lend(None, false, &[Proto::Tcp, Proto::Udp]).unwrap();
        assert_ne!(a.port, b.port);
        assert_eq!(pool.lent(), 2);
        // The holders keep the kernel's sockets off the number.
        let taken = std::net::TcpListener::bind(("0.0.0.0", a.port));
        assert!(taken.is_err());
        // A lent number's mailbox takes frames; a free one's does not.
        let frame = || Frame {
            bytes: vec![1; 60],
            wire_len: 60,
            truncated: false,
            checksum_verified: true,
        };
        assert_eq!(pool.inbox(a.port).unwrap().push(frame()), Push::Delivered);
        assert!(matches!(
            pool.lend(Some(a.port), false, &[Proto::Tcp]),
            Err(LendError::Busy)
        ));
        pool.give_back(a.port);
        pool.give_back(a.port); // twice is harmless
        assert_eq!(pool.lent(), 1);
        assert_eq!(pool.inbox(a.port).unwrap().push(frame()), Push::Closed);
        assert_eq!(pool.queued_bytes(), 0);
        // The third number first, then the one given back.
        let c = pool.lend(None, false, &[Proto::Tcp]).unwrap();
        assert!(c.port != a.port && c.port != b.port);
        assert!(
            matches!(pool.lend(None, false, &[Proto::Tcp]).map(|l| l.port), Ok(p) if p == a.port)
        );
        assert!(matches!(
            pool.lend(None, false, &[Proto::Tcp]),
            Err(LendError::Busy)
        ));
        assert!(pool.inbox(64099).is_none() && pool.inbox(64103).is_none());
    }
}
