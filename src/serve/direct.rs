//! The direct flows: check_raw_tcp and check_raw_http runs carried by the
//! daemon's main loop itself, frame by frame, with no worker thread and no
//! mailbox.
//!
//! Why: a TCP check is two frames out and one in. On a worker, each run
//! cost a queue hand-off, a worker's wake-up, the reader thread's wake-up
//! per frame, the mailbox's eventfd and a result ringing the loop back:
//! about five thread switches a run, which at hundreds of runs a second
//! cost several times keepalived's TCP_CHECK (bench/README.md). Here the
//! loop that decides a run is due builds its SYN (`net::exchange`), sends
//! it on its own packet socket for the interface, and, in the same wait
//! it already makes for the schedule, reads the SYN/ACK, sends the RST (or
//! the HTTP request, then reads the response as it arrives) and applies
//! the result: no hand-off.
//!
//! What is carried here is what `checks::direct` accepts (the MASTER
//! role, plain TCP or HTTP, a young neighbour entry); every other run goes
//! to the worker pool as before, so the probe's words, the role's
//! dispatch and every unusual case stay written once, in `checks`. The
//! sockets pass only the direct half of the engine's port range
//! (`Engine::direct_socket`); the engine's readers never see these flows.
//!
//! Bounds: one flow per check at most (the schedule's rule), each ended by
//! its exchange's deadline (`-t`), an HTTP response by `--max-bytes` too
//! (the parser refuses more); a wake-up reads at most
//! [`FRAMES_PER_TURN`] frames per socket; a frame that names no flow is
//! counted and dropped.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::checks::direct::{direct_path, direct_plan, DirectPlan, DirectProbe, Ended};
use crate::checks::Runner;
use crate::failure::Failure;
use crate::net::exchange::{Exchange, IsnSource};
use crate::net::path::PathPlan;
use crate::net::shared::{DirectPort, Engine, Tally};
use crate::net::socket::PacketSocket;
use crate::net::tcp::TcpParams;
use crate::net::wire::{self, Flow, Link, Parsed};
use crate::wait::{Interrupted, Waiter};

use super::config::CheckSpec;
use super::pool::{Done, Job};

/// Frames read from one socket per wake-up: a flood cannot hold the loop
/// (the schedule and the results wait behind it); what is left is read
/// at the next turn, which comes at once (the socket stays readable).
const FRAMES_PER_TURN: usize = 256;

/// How old an interface's MTU may be before it is asked again.
const MTU_AGE: Duration = Duration::from_secs(1);

/// How long a check's path (interface, source, hazards) is kept: the
/// engine re-reads the links it comes from once a second, so this adds
/// at most a second to how late a changed address is seen.
const PATH_AGE: Duration = Duration::from_secs(1);

/// Each check incarnation's path, when it was worked out.
#[derive(Default)]
struct PathMemo {
    paths: HashMap<u64, (Arc<PathPlan>, Instant)>,
}

impl PathMemo {
    /// `check`'s path, worked out again by `plan` when older than
    /// [`PATH_AGE`]; `None` (not kept): the run goes to the pool.
    fn get(
        &mut self,
        check: u64,
        now: Instant,
        plan: impl FnOnce() -> Option<PathPlan>,
    ) -> Option<Arc<PathPlan>> {
        if let Some((path, at)) = self.paths.get(&check) {
            if now.saturating_duration_since(*at) <= PATH_AGE {
                return Some(Arc::clone(path));
            }
        }
        // Bounded: each time the map grows past a multiple of 64 entries,
        // the stale ones go (those of checks a reload removed among them).
        if self.paths.len() > 64 && self.paths.len() % 64 == 0 {
            self.paths
                .retain(|_, (_, at)| now.saturating_duration_since(*at) <= PATH_AGE);
        }
        let path = Arc::new(plan()?);
        self.paths.insert(check, (Arc::clone(&path), now));
        Some(path)
    }
}

/// One interface's socket of the direct flows.
struct DirectSocket {
    ifindex: u32,
    sock: PacketSocket,
    mtu: u32,
    mtu_read: Instant,
}

/// One run in flight.
struct DirectRun {
    run: u64,
    check: u64,
    spec: Arc<CheckSpec>,
    started: Instant,
    ifindex: u32,
    plan: DirectPlan,
    exchange: Exchange,
    probe: DirectProbe,
    /// The timer last queued for this run: a frame that leaves it as it
    /// was queues none (a long response would queue one per segment).
    timer: Option<Instant>,
    /// Given back to the engine when the run ends.
    _port: DirectPort,
}

/// The direct flows of one daemon.
pub struct Direct {
    engine: Arc<Engine>,
    waiter: Arc<Waiter>,
    sockets: Vec<DirectSocket>,
    /// Runs in flight by local port (a port is lent to one run at a time).
    runs: HashMap<u16, DirectRun>,
    /// When each run next needs the clock (a retransmission, its
    /// deadline), earliest first; an entry whose run ended or moved on is
    /// skipped when it comes up.
    timers: BinaryHeap<Reverse<(Instant, u16)>>,
    isns: IsnSource,
    /// Runs that ended and wait for [`Direct::collect`] (a port may be
    /// listed twice; the second finds nothing).
    ended: Vec<u16>,
    /// Each check's path, kept for [`PATH_AGE`].
    paths: PathMemo,
}

impl Direct {
    pub fn new(engine: Arc<Engine>, waiter: Arc<Waiter>) -> Direct {
        Direct {
            engine,
            waiter,
            sockets: Vec::new(),
            runs: HashMap::new(),
            timers: BinaryHeap::new(),
            isns: IsnSource::default(),
            ended: Vec::new(),
            paths: PathMemo::default(),
        }
    }

    /// Start `job` here if it can be carried directly (its SYN is sent
    /// before this returns); false: give it to the pool.
    pub fn start(&mut self, job: &Job, now: Instant) -> bool {
        let config = &job.spec.config;
        let Some((probe, request)) = DirectProbe::of(config) else {
            return false;
        };
        let runner = Runner {
            waiter: &self.waiter,
            started: now,
            engine: Some(&self.engine),
        };
        let Some(path) = self
            .paths
            .get(job.check, now, || direct_path(config, &runner))
        else {
            return false;
        };
        let Some(plan) = direct_plan(config, &runner, &path) else {
            return false;
        };
        match self.open(job, (plan, probe, request), now) {
            Some(run) => {
                let port = run.exchange.local_port();
                self.runs.insert(port, run);
                self.advance(port, now);
                true
            }
            None => false,
        }
    }

    /// The run's port, socket and handshake; `None` (nothing sent) if any
    /// is missing: the pool's run then meets and words the trouble.
    fn open(
        &mut self,
        job: &Job,
        (plan, probe, request): (DirectPlan, DirectProbe, Vec<u8>),
        now: Instant,
    ) -> Option<DirectRun> {
        let common = job.spec.config.common();
        let ifindex = plan.path.iface.index;
        let src_ip = plan.path.source.addr;
        let at = self.socket_for(ifindex, &plan.path.iface.name, now)?;
        let port = self.engine.direct_port(src_ip).ok()??;
        let mss = wire::mss_for_mtu(self.sockets[at].mtu, src_ip.is_ipv6());
        let t = &common.target;
        let flow = Flow {
            src_ip,
            dst_ip: t.vip,
            src_port: port.port(),
            dst_port: t.port,
        };
        let link = Link {
            src: plan.path.iface.mac,
            dst: plan.rs_mac,
        };
        let deadline = now + common.timeout;
        let (isn, ip_id) = self.isns.next(&flow);
        Some(DirectRun {
            run: job.run,
            check: job.check,
            spec: Arc::clone(&job.spec),
            started: now,
            ifindex,
            plan,
            exchange: Exchange::new(
                (link, flow),
                TcpParams::new(isn, mss),
                (ip_id, deadline),
                request,
            ),
            probe,
            timer: None,
            _port: port,
        })
    }

    /// The index of `ifindex`'s socket, opened at first use; its MTU
    /// read again when older than [`MTU_AGE`].
    fn socket_for(&mut self, ifindex: u32, name: &str, now: Instant) -> Option<usize> {
        if let Some(at) = self.sockets.iter().position(|s| s.ifindex == ifindex) {
            let s = &mut self.sockets[at];
            if now.saturating_duration_since(s.mtu_read) > MTU_AGE {
                s.mtu = s.sock.mtu(name).unwrap_or(s.mtu);
                s.mtu_read = now;
            }
            return Some(at);
        }
        let sock = self.engine.direct_socket(ifindex)?.ok()?;
        // Best effort: without stamps a frame counts as arriving when read.
        let _ = sock.stamp_arrivals();
        let mtu = sock.mtu(name).unwrap_or(1500);
        self.sockets.push(DirectSocket {
            ifindex,
            sock,
            mtu,
            mtu_read: now,
        });
        Some(self.sockets.len() - 1)
    }

    /// The descriptors the loop waits on (for POLLIN) besides its own.
    pub fn fds(&self) -> impl Iterator<Item = RawFd> + '_ {
        self.sockets.iter().map(|s| s.sock.raw_fd())
    }

    /// The earliest time a run needs the clock, if any runs are in flight.
    pub fn next_wake(&mut self) -> Option<Instant> {
        // Bounded: each pass drops one stale entry.
        for _ in 0..self.timers.len() {
            let Reverse((at, port)) = *self.timers.peek()?;
            match self.runs.get(&port) {
                Some(r) if r.exchange.poll_at() == Some(at) => return Some(at),
                _ => {
                    self.timers.pop();
                }
            }
        }
        None
    }

    /// Read what arrived on the sockets `polled` says are ready (the
    /// entries for [`Direct::fds`], in its order), fire the timers due by
    /// `now`; each run that ended is in `done`.
    pub fn turn(&mut self, now: Instant, polled: &[libc::pollfd], done: &mut Vec<Done>) {
        let mut lost = Vec::new();
        for at in 0..self.sockets.len() {
            let ready = polled
                .get(at)
                .is_some_and(|p| p.fd == self.sockets[at].sock.raw_fd() && p.revents != 0);
            if !ready {
                continue;
            }
            if let Err(e) = self.read(at, now) {
                lost.push((self.sockets[at].ifindex, e));
            }
        }
        for (ifindex, e) in lost {
            self.lose(ifindex, e, now);
        }
        for _ in 0..self.timers.len() {
            match self.timers.peek() {
                Some(Reverse((at, _))) if *at <= now => {}
                _ => break,
            }
            let Some(Reverse((at, port))) = self.timers.pop() else {
                break;
            };
            // An entry of a run that ended, or whose timer moved (a later
            // run may hold the port by now), is only dropped.
            let current = self.runs.get(&port).and_then(|r| r.exchange.poll_at());
            if current == Some(at) {
                self.advance(port, now);
            }
        }
        self.collect(now, done);
    }

    /// Up to [`FRAMES_PER_TURN`] frames of socket `at`, each to its run;
    /// then what those runs have to send (the request, ACKs) goes out.
    fn read(&mut self, at: usize, now: Instant) -> std::io::Result<()> {
        let mut touched = Vec::new();
        let read = self.read_frames(at, now, &mut touched);
        touched.sort_unstable();
        touched.dedup();
        for port in touched {
            self.advance(port, now);
        }
        read
    }

    fn read_frames(
        &mut self,
        at: usize,
        now: Instant,
        touched: &mut Vec<u16>,
    ) -> std::io::Result<()> {
        let Direct {
            sockets,
            runs,
            engine,
            ended,
            ..
        } = self;
        let sock = &mut sockets[at].sock;
        for n in 0..FRAMES_PER_TURN {
            // The loop polls again anyway: a short batch drained means
            // nothing was left when it was read.
            if n > 0 && !sock.may_have_more() {
                return Ok(());
            }
            let Some(rx) = sock.recv()? else {
                return Ok(());
            };
            engine.tally(Tally::Received);
            // When it came, not when this loop got round to it (after
            // starting a group of runs, say): the answer's time is the
            // real server's.
            let arrived = rx.arrived.map_or(now, |at| at.min(now));
            let delivered = if rx.truncated {
                None
            } else {
                wire::parse(rx.frame, rx.checksum_verified)
                    .ok()
                    .and_then(|parsed| deliver(runs, &parsed, arrived))
            };
            match delivered {
                Some((port, true)) => ended.push(port),
                Some((port, false)) => touched.push(port),
                None => {}
            }
            engine.tally(if delivered.is_some() {
                Tally::Delivered
            } else {
                Tally::Unmatched
            });
        }
        Ok(())
    }

    /// `ifindex`'s socket failed (the link went away): its runs end with
    /// the error and their RSTs (best effort: a link that only bounced
    /// takes them), the next run opens a new socket.
    fn lose(&mut self, ifindex: u32, e: std::io::Error, now: Instant) {
        let mut lost = Vec::new();
        for (port, run) in self.runs.iter_mut().filter(|(_, r)| r.ifindex == ifindex) {
            let err = std::io::Error::new(e.kind(), e.to_string());
            run.exchange.give_up(Failure::LinkDown(err));
            lost.push(*port);
        }
        for port in lost {
            self.send_due(port, now);
            self.ended.push(port);
        }
        self.sockets.retain(|s| s.ifindex != ifindex);
    }

    /// Send what `port`'s run has due at `now`, and set its next timer
    /// (or, if that ended it, list it for [`Direct::collect`]).
    fn advance(&mut self, port: u16, now: Instant) {
        self.send_due(port, now);
        let Some(run) = self.runs.get_mut(&port) else {
            return;
        };
        match run.exchange.poll_at() {
            Some(at) if run.timer == Some(at) => {}
            Some(at) => {
                run.timer = Some(at);
                self.timers.push(Reverse((at, port)));
                self.prune_timers();
            }
            None => self.ended.push(port),
        }
    }

    /// Stale entries (runs that ended early, timers that moved) leave the
    /// heap only when they reach its top: with a long `-t` they could
    /// pile up to rate x `-t`. Past twice the runs in flight (and 64),
    /// the heap is built again from the runs' own timers.
    fn prune_timers(&mut self) {
        if self.timers.len() <= 2 * self.runs.len() + 64 {
            return;
        }
        self.timers = self
            .runs
            .iter_mut()
            .filter_map(|(port, run)| {
                run.timer = run.exchange.poll_at();
                run.timer.map(|at| Reverse((at, *port)))
            })
            .collect();
    }

    /// The frames `port`'s run has due at `now`, sent.
    fn send_due(&mut self, port: u16, now: Instant) {
        let Some(run) = self.runs.get_mut(&port) else {
            return;
        };
        if let Some(s) = self.sockets.iter().find(|s| s.ifindex == run.ifindex) {
            let engine = &self.engine;
            run.exchange.transmit(now, |frame| {
                // A send that fails is a frame lost: the timers retry
                // the SYN, and the deadline ends the run.
                if s.sock.send(frame).is_ok() {
                    engine.tally(Tally::Sent);
                }
            });
        }
    }

    /// The runs that ended since the last call: their RST out, their
    /// outcome in `done`. Only those listed are looked at, not every
    /// run in flight (thousands, when real servers time out).
    fn collect(&mut self, now: Instant, done: &mut Vec<Done>) {
        let ended = std::mem::take(&mut self.ended);
        for port in ended {
            // The RST, once (the exchange hands it out once).
            self.send_due(port, now);
            // Listed twice (a frame, then a timer): the first took it.
            let Some(run) = self.runs.remove(&port) else {
                continue;
            };
            done.push(self.finish(run, now));
        }
    }

    fn finish(&self, mut run: DirectRun, now: Instant) -> Done {
        let runner = Runner {
            waiter: &self.waiter,
            started: run.started,
            engine: Some(&self.engine),
        };
        let config = &run.spec.config;
        // Silence after a cached MAC: the server may have moved (a new
        // NIC, a failover without a gratuitous ARP); the next run asks.
        if !run.exchange.heard() {
            let real_server = config.common().target.real_server;
            self.engine.forget_neighbour(run.ifindex, real_server);
        }
        let end = Ended {
            result: run
                .exchange
                .take_end()
                .unwrap_or_else(|| Err(Failure::Local("the run ended without a result".into()))),
            retransmissions: run.exchange.retransmissions(),
            started: run.started,
        };
        Done {
            run: run.run,
            check: run.check,
            outcome: run.probe.outcome(config, &runner, &run.plan, end),
            started: run.started,
            ended: now,
        }
    }

    /// Stop: every run in flight ends with RST, now.
    pub fn stop(&mut self, sig: Option<Interrupted>) {
        let why = || match sig {
            Some(sig) => Failure::Interrupted(sig),
            None => Failure::Local("stopping".into()),
        };
        let ports: Vec<u16> = self.runs.keys().copied().collect();
        for port in ports {
            if let Some(run) = self.runs.get_mut(&port) {
                run.exchange.give_up(why());
            }
            self.send_due(port, Instant::now());
            self.runs.remove(&port);
        }
        self.timers.clear();
        self.ended.clear();
    }
}

impl Drop for Direct {
    /// Never a half-open connection on a real server: whatever ends the
    /// daemon's loop, the runs in flight are reset.
    fn drop(&mut self) {
        self.stop(None);
    }
}

/// Hand `parsed`, which arrived at `now`, to the run whose port it names,
/// and the answer's bytes it brought to the run's probe: that run's port,
/// and whether it ended; `None` if the frame was no run's.
fn deliver(
    runs: &mut HashMap<u16, DirectRun>,
    parsed: &Parsed,
    now: Instant,
) -> Option<(u16, bool)> {
    let port = local_port(parsed)?;
    let run = runs.get_mut(&port)?;
    // Never before the run's SYN (a stamp a hair off, a port's old flow).
    let now = now.max(run.started);
    if !run.exchange.receive(parsed, now) {
        return None;
    }
    if run.exchange.end().is_none() {
        let data = run.exchange.take_received();
        let closed = run.exchange.peer_closed();
        if !data.is_empty() || closed {
            match run.probe.on_data(&data, closed, now) {
                Some(verdict) => run.exchange.complete(verdict),
                None => run.exchange.awaiting(run.probe.awaiting()),
            }
        }
    }
    Some((port, run.exchange.end().is_some()))
}

/// The local port a frame is for: a TCP segment's destination port, or
/// the source port of the packet an ICMP error quotes.
fn local_port(parsed: &Parsed) -> Option<u16> {
    match parsed {
        Parsed::Tcp(f) => Some(f.flow.dst_port),
        Parsed::IcmpError(e) => Some(e.quoted.flow.src_port),
        _ => None,
    }
}
