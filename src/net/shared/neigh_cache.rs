//! One neighbour cache for every run of the engine, and the runs waiting
//! on an address.
//!
//! The plugin asks ARP/NDP on every run, to follow the path real traffic
//! takes now. At 200 checks a second most of those would ask after the
//! same few real servers again and again, so a young entry (under
//! [`YOUNG`]) is used as is; an older one is asked again by the run, as
//! the plugin does. Every reply the shared socket sees about an address we
//! know or wait for refreshes the entry, so a real server whose MAC
//! changes (a failover sends a gratuitous reply) is followed at once; one
//! that moves silently, after the first run that trusted the old entry and
//! heard nothing back (the entry is then forgotten), or once it ages.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pnet_datalink::MacAddr;

use super::mailbox::Inbox;

/// How long an answer is used without asking again.
pub const YOUNG: Duration = Duration::from_secs(30);
/// Entries kept at most: a daemon checks a bounded set of real servers,
/// and replies about others are not learned (see `seen`); the bound holds
/// should one interface carry very many.
const MAX_ENTRIES: usize = 4096;

/// Interface index and address.
type NeighKey = (u32, IpAddr);

#[derive(Debug, Default)]
struct NeighState {
    entries: HashMap<NeighKey, (MacAddr, Instant)>,
    /// The mailboxes of runs resolving an address, with the waiter's id.
    waiting: Vec<(NeighKey, u64, Arc<Inbox>)>,
}

/// The cache and its waiters.
#[derive(Debug, Default)]
pub(crate) struct NeighCache {
    state: Mutex<NeighState>,
}

impl NeighCache {
    fn lock(&self) -> MutexGuard<'_, NeighState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The MAC of `ip` on `ifindex` if it was seen within [`YOUNG`].
    pub(crate) fn young(&self, ifindex: u32, ip: IpAddr, now: Instant) -> Option<MacAddr> {
        let state = self.lock();
        let (mac, at) = state.entries.get(&(ifindex, ip))?;
        (now.saturating_duration_since(*at) < YOUNG).then_some(*mac)
    }

    /// A reply says `ip` is at `mac`: learned if we know or wait for
    /// `ip` (an answer nobody asked about is not kept, so a flood of
    /// replies cannot fill the cache). Returns the mailboxes of the runs
    /// waiting on it, which the reader hands the frame to.
    pub(crate) fn seen(
        &self,
        ifindex: u32,
        ip: IpAddr,
        mac: Option<MacAddr>,
        now: Instant,
    ) -> Vec<Arc<Inbox>> {
        let key = (ifindex, ip);
        let mut state = self.lock();
        let waiters: Vec<Arc<Inbox>> = state
            .waiting
            .iter()
            .filter(|(k, _, _)| *k == key)
            .map(|(_, _, inbox)| inbox.clone())
            .collect();
        if let Some(mac) = mac {
            let known = state.entries.contains_key(&key);
            if known || (!waiters.is_empty() && state.entries.len() < MAX_ENTRIES) {
                state.entries.insert(key, (mac, now));
            }
        }
        waiters
    }

    /// Drop what we know of `ip` on `ifindex`: a run that trusted it
    /// heard nothing back, so the real server may have moved to another
    /// MAC without a gratuitous reply; the next run asks again.
    pub(crate) fn forget(&self, ifindex: u32, ip: IpAddr) {
        self.lock().entries.remove(&(ifindex, ip));
    }

    /// Route replies about `ip` on `ifindex` to `inbox` until `stop_waiting(id)`.
    pub(crate) fn wait_for(&self, ifindex: u32, ip: IpAddr, id: u64, inbox: Arc<Inbox>) {
        self.lock().waiting.push(((ifindex, ip), id, inbox));
    }

    pub(crate) fn stop_waiting(&self, id: u64) {
        self.lock().waiting.retain(|(_, i, _)| *i != id);
    }

    /// Runs resolving now (for the engine's counters and tests).
    pub(crate) fn waiters(&self) -> usize {
        self.lock().waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::sync::atomic::AtomicUsize;

    const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 11));
    const MAC1: MacAddr = MacAddr(2, 0, 0, 0, 0, 0x11);
    const MAC2: MacAddr = MacAddr(2, 0, 0, 0, 0, 0x22);

    fn inbox() -> Arc<Inbox> {
        Arc::new(Inbox::new(Arc::new(AtomicUsize::new(0)), 1 << 20).unwrap())
    }

    #[test]
    fn a_forgotten_entry_is_asked_again() {
        let cache = NeighCache::default();
        let t0 = Instant::now();
        cache.wait_for(2, IP, 1, inbox());
        cache.seen(2, IP, Some(MAC1), t0);
        assert_eq!(cache.young(2, IP, t0), Some(MAC1));
        cache.forget(2, IP);
        assert_eq!(cache.young(2, IP, t0), None);
    }

    #[test]
    fn answers_are_learned_only_when_asked_and_used_while_young() {
        let cache = NeighCache::default();
        let t0 = Instant::now();
        // Nobody asked: not learned, nobody to wake.
        assert!(cache.seen(2, IP, Some(MAC1), t0).is_empty());
        assert_eq!(cache.young(2, IP, t0), None);
        let (a, b) = (inbox(), inbox());
        cache.wait_for(2, IP, 1, a.clone());
        cache.wait_for(2, IP, 2, b.clone());
        cache.wait_for(3, IP, 3, inbox()); // another interface
        assert_eq!(cache.seen(2, IP, Some(MAC1), t0).len(), 2);
        cache.stop_waiting(1);
        cache.stop_waiting(2);
        assert_eq!(cache.waiters(), 1);
        assert_eq!(cache.young(2, IP, t0 + YOUNG / 2), Some(MAC1));
        assert_eq!(cache.young(2, IP, t0 + YOUNG), None, "old: ask again");
        assert_eq!(cache.young(3, IP, t0), None);
        // A known address that moves is followed without anyone asking.
        assert!(cache.seen(2, IP, Some(MAC2), t0 + YOUNG).is_empty());
        assert_eq!(cache.young(2, IP, t0 + YOUNG), Some(MAC2));
        // An advertisement without a MAC wakes waiters, teaches nothing.
        cache.wait_for(2, IP, 4, inbox());
        assert_eq!(cache.seen(2, IP, None, t0 + YOUNG * 3).len(), 1);
        assert_eq!(cache.young(2, IP, t0 + YOUNG * 3), None);
    }
}
