//! The fault plan: which frames to drop or hold back, per direction, and
//! the per-frame decision that applies it (`Shared::decide`), with the
//! counts and the event log of what the relay saw.

use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Frames kept in the event log; later ones are only counted.
const MAX_EVENTS: usize = 20_000;

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
    /// IPv4 UDP.
    Udp,
    /// Anything else (IPv6 neighbour discovery from the hosts' kernels...).
    Other,
}

/// Which frames a fault counts or applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Select {
    Any,
    Only(Kind),
    /// TCP frames that carry data: not SYNs, bare ACKs or lone FINs.
    TcpData,
}

impl Select {
    fn matches(self, kind: Kind, has_data: bool) -> bool {
        match self {
            Select::Any => true,
            Select::Only(k) => k == kind,
            Select::TcpData => kind == Kind::Tcp && has_data,
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

    /// Drop the Nth TCP frames of this direction that carry data, say a
    /// response's first segment whether or not the server's ACK of the
    /// request came apart from it.
    pub fn drop_nth_tcp_data(self, nth: impl IntoIterator<Item = usize>) -> Faults {
        self.drop_counted(Select::TcpData, nth)
    }

    /// Drop the Nth UDP frames of this direction.
    pub fn drop_nth_udp(self, nth: impl IntoIterator<Item = usize>) -> Faults {
        self.drop_counted(Select::Only(Kind::Udp), nth)
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
    pub udp: usize,
    pub forwarded: usize,
    pub dropped: usize,
    pub dropped_arp: usize,
    pub dropped_tcp: usize,
    /// TCP frames carrying data (also counted in `tcp`).
    pub tcp_data: usize,
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
        0x0800 if frame.len() >= 34 && frame[23] == 17 => (Kind::Udp, None, None),
        _ => (Kind::Other, None, None),
    }
}

// ---- deciding, frame by frame -------------------------------------------------

/// Per-direction decision state.
#[derive(Default)]
pub(super) struct DirState {
    pub(super) stats: DirStats,
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
pub(super) struct Shared {
    pub(super) plan: FaultPlan,
    pub(super) since: Instant,
    pub(super) dirs: [DirState; 2],
    pub(super) events: Vec<Event>,
    pub(super) events_left_out: usize,
    /// Why the relay thread stopped early, if it did.
    pub(super) failure: Option<String>,
}

impl Shared {
    pub(super) fn new(plan: FaultPlan) -> Shared {
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
    pub(super) fn decide(&mut self, dir: Dir, frame: &[u8], now: Instant) -> Option<Duration> {
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
            Kind::Udp => {
                st.stats.udp += 1;
                st.stats.udp
            }
            Kind::Other => st.stats.frames,
        };
        let has_data = tcp.is_some_and(|t| t.payload > 0);
        if has_data {
            st.stats.tcp_data += 1;
        }
        let numbered = |sel: Select| match sel {
            Select::Any => st.stats.frames,
            Select::Only(_) => nth,
            Select::TcpData => st.stats.tcp_data,
        };
        let mut dropped = faults
            .drops
            .iter()
            .any(|&(sel, n)| sel.matches(kind, has_data) && numbered(sel) == n);
        if let Some((percent, _)) = faults.loss {
            // Drawn for every ARP/TCP frame, dropped or not, so the pattern
            // depends only on the frame's number.
            if matches!(kind, Kind::Arp | Kind::Tcp) && st.next_percent() < percent {
                dropped = true;
            }
        }
        if dropped {
            st.stats.dropped += 1;
            match kind {
                Kind::Arp => st.stats.dropped_arp += 1,
                Kind::Tcp => st.stats.dropped_tcp += 1,
                Kind::Udp | Kind::Other => {}
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
            Some((d, sel)) if sel.matches(kind, has_data) => d,
            _ => Duration::ZERO,
        })
    }
}
