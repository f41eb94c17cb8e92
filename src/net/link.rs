//! The link: facts about the source interface (index, MAC, addresses,
//! state) from pnet_datalink, the interface the kernel routes a real server
//! through, and whether an address is this host's.

use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use pnet_datalink::{MacAddr, NetworkInterface};

/// Linux limits interface names to IFNAMSIZ - 1 bytes.
pub const MAX_IFNAME: usize = 15;

/// This host's interfaces and their addresses, read once per run and
/// shared by the interface lookup, `-r auto` and the hazard check. Each
/// read is two netlink dumps plus an ioctl per interface (10+ syscalls);
/// a check is one short process and changes no address, so one snapshot
/// is as fresh as the check needs. A daemon outlives address changes: it
/// sets [`refresh_every`], and a snapshot older than that is read again.
fn interfaces() -> Arc<Vec<NetworkInterface>> {
    static SNAPSHOT: RwLock<Option<Snapshot>> = RwLock::new(None);
    let max_age = Duration::from_millis(REFRESH_MS.load(Ordering::Relaxed));
    // Under a daemon, also the network namespace it was read in: threads
    // of one process may live in different ones (the engine's tests do).
    let netns = if max_age.is_zero() { 0 } else { netns_id() };
    let fresh =
        |s: &Snapshot| s.netns == netns && (max_age.is_zero() || s.taken.elapsed() < max_age);
    if let Some(snapshot) = &*SNAPSHOT.read().unwrap_or_else(|e| e.into_inner()) {
        if fresh(snapshot) {
            return snapshot.list.clone();
        }
    }
    let mut slot = SNAPSHOT.write().unwrap_or_else(|e| e.into_inner());
    match &*slot {
        // Another thread read it meanwhile.
        Some(snapshot) if fresh(snapshot) => snapshot.list.clone(),
        _ => {
            let list = Arc::new(pnet_datalink::interfaces());
            *slot = Some(Snapshot {
                taken: Instant::now(),
                netns,
                list: list.clone(),
            });
            list
        }
    }
}

/// One read of the interfaces, when and where it was taken.
struct Snapshot {
    taken: Instant,
    /// The inode of the reading thread's network namespace (0: not asked).
    netns: u64,
    list: Arc<Vec<NetworkInterface>>,
}

/// The calling thread's network namespace, as an inode number: read once
/// per thread (a path walk through /proc, ~5 a run under the daemon). A
/// thread keeps its namespace for its life: nothing in check_raw calls
/// `setns`, and the tests' threads that do enter theirs first thing
/// (`harness::netns::enter`), before asking anything of this module.
fn netns_id() -> u64 {
    use std::os::unix::fs::MetadataExt;
    thread_local! {
        static NETNS: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
    }
    let read = || std::fs::metadata("/proc/thread-self/ns/net").map_or(0, |m| m.ino());
    NETNS
        .try_with(|slot| {
            slot.get().unwrap_or_else(|| {
                let id = read();
                slot.set(Some(id));
                id
            })
        })
        .unwrap_or_else(|_| read())
}

/// Facts a daemon may reuse as long as an interface snapshot (the route's
/// source address, a sysctl): `read()` at most once per refresh period
/// per key and network namespace. The plugin (no refresh period) reads
/// every time, as before: one run, one read.
pub(crate) type Memo<V> = Mutex<Vec<(String, u64, Instant, V)>>;

/// Entries a memo keeps: a daemon asks after a bounded set of targets;
/// past this the memo starts again rather than grow.
const MEMO_ENTRIES: usize = 1024;

pub(crate) fn remembered<V: Clone>(memo: &Memo<V>, key: String, read: impl FnOnce() -> V) -> V {
    let max_age = Duration::from_millis(REFRESH_MS.load(Ordering::Relaxed));
    if max_age.is_zero() {
        return read();
    }
    let netns = netns_id();
    let mut entries = memo.lock().unwrap_or_else(|e| e.into_inner());
    entries.retain(|(_, _, at, _)| at.elapsed() < max_age);
    if let Some((.., v)) = entries.iter().find(|(k, n, ..)| *k == key && *n == netns) {
        return v.clone();
    }
    let value = read();
    if entries.len() >= MEMO_ENTRIES {
        entries.clear();
    }
    entries.push((key, netns, Instant::now(), value.clone()));
    value
}

/// How old a snapshot may get, in ms; 0: never re-read (the plugin).
static REFRESH_MS: AtomicU64 = AtomicU64::new(0);

/// Re-read the interfaces when the snapshot is older than `max_age`, for
/// a process that lives longer than an address does (check_raw_serve).
pub fn refresh_every(max_age: Duration) {
    let ms = u64::try_from(max_age.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    REFRESH_MS.store(ms, Ordering::Relaxed);
}

/// What we need to know about the source interface.
#[derive(Debug, Clone)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    pub mac: MacAddr,
    /// Every address with its prefix length, in the kernel's order (which
    /// says nothing about which one is the source: the VIP may come first).
    pub addrs: Vec<(IpAddr, u8)>,
}

/// Why the interface cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterfaceError {
    NotFound(String),
    NoMac(String),
    Down(String),
}

impl std::fmt::Display for InterfaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InterfaceError::NotFound(n) => write!(f, "no such interface '{n}'"),
            InterfaceError::NoMac(n) => write!(f, "interface '{n}' has no Ethernet address"),
            InterfaceError::Down(n) => write!(f, "interface '{n}' is down"),
        }
    }
}

impl Interface {
    pub fn lookup(name: &str) -> Result<Interface, InterfaceError> {
        let all = interfaces();
        let found = all
            .iter()
            .find(|i| i.name == name)
            .ok_or_else(|| InterfaceError::NotFound(name.to_string()))?;
        let mac = found
            .mac
            .filter(|m| *m != MacAddr::zero())
            .ok_or_else(|| InterfaceError::NoMac(name.to_string()))?;
        if !found.is_up() {
            return Err(InterfaceError::Down(name.to_string()));
        }
        Ok(Interface {
            name: found.name.clone(),
            index: found.index,
            mac,
            addrs: found.ips.iter().map(|n| (n.ip(), n.prefix())).collect(),
        })
    }

    /// Is `addr` configured on this interface?
    pub fn holds(&self, addr: IpAddr) -> bool {
        self.addrs.iter().any(|(a, _)| *a == addr)
    }
}

/// The interface the kernel routes `dest` through (ldirectord gives only
/// addresses): the source address a connected UDP socket gets (no packet
/// is sent), then the interface that holds it.
pub fn route_interface(dest: IpAddr) -> Result<String, String> {
    use socket2::{Domain, Socket, Type};
    let no_route = |e: io::Error| format!("no route to {dest} to choose an interface by: {e}");
    let target = std::net::SocketAddr::new(dest, 9);
    let socket = Socket::new(Domain::for_address(target), Type::DGRAM, None).map_err(no_route)?;
    socket.connect(&target.into()).map_err(no_route)?;
    let local = socket
        .local_addr()
        .map_err(no_route)?
        .as_socket()
        .map(|a| a.ip())
        .ok_or_else(|| format!("no local address towards {dest}"))?;
    interfaces()
        .iter()
        .find(|i| i.ips.iter().any(|net| net.ip() == local))
        .map(|i| i.name.clone())
        .ok_or_else(|| {
            format!("no interface holds {local}, the source towards {dest}; use --interface")
        })
}

/// Does this host hold `addr` the way a director holds a VIP: on `lo` or
/// on `iface` (the interface the check sends out of), and neither a
/// loopback, link-local, multicast nor unspecified address? The rule for
/// callers who are not root asks this, not [`is_local_address`]: an
/// address that every host of a kind carries (docker0's 172.17.0.1,
/// virbr0's, fe80::1 on any link) is held by neighbours too, and would let
/// a local user reach them past this host's firewall.
pub fn holds_as_vip(addr: IpAddr, iface: &str) -> bool {
    let usable = match addr {
        IpAddr::V4(a) => {
            !(a.is_loopback()
                || a.is_link_local()
                || a.is_multicast()
                || a.is_unspecified()
                || a.is_broadcast())
        }
        IpAddr::V6(a) => {
            !(a.is_loopback()
                || a.is_multicast()
                || a.is_unspecified()
                || (a.segments()[0] & 0xffc0) == 0xfe80)
        }
    };
    usable
        && interfaces()
            .iter()
            .filter(|i| i.name == "lo" || i.name == iface)
            .any(|i| i.ips.iter().any(|net| net.ip() == addr))
}

/// Is `addr` assigned to any interface of this host (the VIP test of `-r auto`)?
pub fn is_local_address(addr: IpAddr) -> bool {
    interfaces()
        .iter()
        .any(|i| i.ips.iter().any(|net| net.ip() == addr))
}
