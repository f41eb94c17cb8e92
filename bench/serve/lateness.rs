//! "Never at the checks' expense" (issue 22), measured: the lateness of
//! check_raw_serve's runs with its listener idle, and under load
//! (`LoadPlan`: 1,000 idle connections, slow clients sending a byte a
//! second, 50 `/probe` requests at once, each answered and sent again).
//!
//! A run's lateness comes from the daemon's own clock: `/metrics` is read
//! every `SAMPLE_EVERY` (in both rows, so the reading is the same load in
//! each) and each check's `check_raw_last_check_timestamp_seconds` (the
//! end of its last run) recorded whenever it changes. The schedule is a
//! grid per check (`phase + k × interval`, src/serve/schedule.rs), so for
//! check `i` with run ends `e_k` on grid points `k`, `e_k - k × interval`
//! is the phase plus that run's lateness plus its duration; its smallest
//! value over the window is taken as the phase (that run as on time), and
//! lateness_k = (e_k - k × interval) - min. TCP runs against the local
//! nginx take ~1 ms and vary by less, so what remains is how late the
//! runs started. Grid points without a run (a run skipped, or two ends
//! between two reads) are counted as missed.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::bed::{self, Target};
use super::configs::tcp_command;
use super::flip::Serve;
use crate::harness::{netns, TempDir, Testbed, IFACE, VIP};
use crate::{bench_common, loadavg, nap, Plan, WARMUP};

/// The lateness rows' listener, in `lb`, and their `/probe` module.
const LISTEN: &str = "127.0.0.1:10117";
const PROBE_MODULE: &str = "tcp";
/// The load starts this long before the window, so that its 1,000
/// connections are open when the measurement begins.
const LOAD_RAMP: Duration = Duration::from_secs(3);

/// How often the sampler reads `/metrics`: 4 reads per 1 s interval,
/// so every run end is seen.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// The load of the loaded row, as the issue words it.
pub const IDLE_CONNECTIONS: usize = 1000;
pub const SLOW_CLIENTS: usize = 20;
pub const PROBES_AT_ONCE: usize = 50;
/// A request or answer of the load or the sampler may take this long.
const IO_LIMIT: Duration = Duration::from_secs(5);
/// The largest answer read (a `/metrics` of 200 checks is ~300 KiB).
const MAX_ANSWER: u64 = 8 << 20;

/// Counts of what the load did, for the row's note.
#[derive(Debug, Default)]
pub struct LoadStats {
    /// Idle connections opened in all (each the server closes is opened
    /// again), and those refused or failed at connect.
    pub idle_opened: AtomicU64,
    pub idle_failed: AtomicU64,
    /// Bytes the slow clients sent, one a second each.
    pub slow_bytes: AtomicU64,
    /// `/probe` answers by status: 200, 503 (over the limit), other.
    pub probe_200: AtomicU64,
    pub probe_503: AtomicU64,
    pub probe_other: AtomicU64,
}

/// The load: its threads run in `ns` until dropped (or `limit`).
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub stats: Arc<LoadStats>,
}

impl Load {
    /// Starts the load against `addr` in `ns`; each `/probe` asks for
    /// `module` on one of `targets` in turn.
    pub fn start(
        ns: &str,
        addr: SocketAddr,
        module: &str,
        targets: &[String],
        limit: Duration,
    ) -> Load {
        raise_fd_limit(IDLE_CONNECTIONS as u64 * 2 + 256);
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(LoadStats::default());
        let start = Instant::now();
        let mut threads = Vec::new();
        let done = {
            let stop = Arc::clone(&stop);
            move || stop.load(Ordering::Relaxed) || start.elapsed() > limit
        };
        // Idle connections: 4 threads of 250, each reconnecting what the
        // server closed (its head timeout closes an idle one after 10 s).
        for _ in 0..4 {
            let (ns, stats, done) = (ns.to_owned(), Arc::clone(&stats), done.clone());
            threads.push(thread::spawn(move || {
                if netns::enter(&ns).is_err() {
                    return;
                }
                let mut conns: Vec<Option<TcpStream>> =
                    (0..IDLE_CONNECTIONS / 4).map(|_| None).collect();
                // Bounded: `done`, one pass every 200 ms.
                while !done() {
                    for c in conns.iter_mut() {
                        let open = c.as_mut().is_some_and(still_open);
                        if !open {
                            *c = idle_connect(addr, &stats);
                        }
                    }
                    thread::sleep(Duration::from_millis(200));
                }
            }));
        }
        // Slow clients: a request head a byte a second, again when closed.
        for _ in 0..SLOW_CLIENTS {
            let (ns, stats, done) = (ns.to_owned(), Arc::clone(&stats), done.clone());
            threads.push(thread::spawn(move || {
                if netns::enter(&ns).is_err() {
                    return;
                }
                let head =
                    b"GET /metrics HTTP/1.1\r\nHost: bench\r\nUser-Agent: a-byte-a-second\r\n\r\n";
                // Bounded: `done`; each connection at most the head's
                // length in seconds.
                while !done() {
                    let Ok(mut s) = TcpStream::connect_timeout(&addr, IO_LIMIT) else {
                        thread::sleep(Duration::from_secs(1));
                        continue;
                    };
                    for b in head {
                        if done() || s.write_all(&[*b]).is_err() {
                            break;
                        }
                        stats.slow_bytes.fetch_add(1, Ordering::Relaxed);
                        thread::sleep(Duration::from_secs(1));
                    }
                }
            }));
        }
        // 50 /probe requests at once, each sent again when answered.
        for i in 0..PROBES_AT_ONCE {
            let (ns, stats, done) = (ns.to_owned(), Arc::clone(&stats), done.clone());
            let module = module.to_owned();
            let targets: Vec<String> = targets
                .iter()
                .skip(i)
                .step_by(PROBES_AT_ONCE)
                .cloned()
                .collect();
            threads.push(thread::spawn(move || {
                if netns::enter(&ns).is_err() || targets.is_empty() {
                    return;
                }
                // Bounded: `done`; each request at most IO_LIMIT.
                for n in 0usize.. {
                    if done() {
                        return;
                    }
                    let target = &targets[n % targets.len()];
                    let path = format!("/probe?module={module}&target={target}");
                    let counter = match get(addr, &path) {
                        Ok((200, _)) => &stats.probe_200,
                        Ok((503, _)) => &stats.probe_503,
                        _ => &stats.probe_other,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        Load {
            stop,
            threads,
            stats,
        }
    }

    pub fn summary(&self) -> String {
        let s = &self.stats;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "load: {} idle connections opened ({} refused or failed), {SLOW_CLIENTS} slow clients sent {} bytes, /probe answers {} x 200, {} x 503, {} other",
            n(&s.idle_opened),
            n(&s.idle_failed),
            n(&s.slow_bytes),
            n(&s.probe_200),
            n(&s.probe_503),
            n(&s.probe_other)
        )
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// True while the server has not closed `s` (a nonblocking peek).
fn still_open(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    match s.peek(&mut b) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
    }
}

fn idle_connect(addr: SocketAddr, stats: &LoadStats) -> Option<TcpStream> {
    match TcpStream::connect_timeout(&addr, IO_LIMIT) {
        Ok(s) if s.set_nonblocking(true).is_ok() => {
            stats.idle_opened.fetch_add(1, Ordering::Relaxed);
            Some(s)
        }
        _ => {
            stats.idle_failed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// `GET path` over HTTP/1.0: the status and the body.
fn get(addr: SocketAddr, path: &str) -> io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, IO_LIMIT)?;
    s.set_read_timeout(Some(IO_LIMIT))?;
    s.set_write_timeout(Some(IO_LIMIT))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: bench\r\n\r\n")?;
    let mut raw = Vec::new();
    s.take(MAX_ANSWER).read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// The soft limit of open files raised to `want` (at most the hard one):
/// the load holds 1,000 sockets.
fn raise_fd_limit(want: u64) {
    // SAFETY: getrlimit/setrlimit on a struct we own.
    unsafe {
        let mut l: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < want {
            l.rlim_cur = want.min(l.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// Reads `/metrics` every `SAMPLE_EVERY` and keeps, per check, each new
/// value of `check_raw_last_check_timestamp_seconds`.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    ends: Arc<Mutex<BTreeMap<String, Vec<f64>>>>,
    pub reads: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
}

impl Sampler {
    pub fn start(ns: &str, addr: SocketAddr, limit: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let ends: Arc<Mutex<BTreeMap<String, Vec<f64>>>> = Arc::default();
        let reads = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let (ns, stop2, ends2, reads2, failed2) = (
            ns.to_owned(),
            Arc::clone(&stop),
            Arc::clone(&ends),
            Arc::clone(&reads),
            Arc::clone(&failed),
        );
        let thread = thread::spawn(move || {
            if netns::enter(&ns).is_err() {
                return;
            }
            let start = Instant::now();
            // Bounded: the stop flag and `limit`, a read per SAMPLE_EVERY.
            while !stop2.load(Ordering::Relaxed) && start.elapsed() < limit {
                let t = Instant::now();
                match get(addr, "/metrics") {
                    Ok((200, body)) => {
                        reads2.fetch_add(1, Ordering::Relaxed);
                        let mut ends = ends2.lock().unwrap_or_else(|e| e.into_inner());
                        for (check, end) in last_checks(&body) {
                            let list = ends.entry(check).or_default();
                            if list.last() != Some(&end) {
                                list.push(end);
                            }
                        }
                    }
                    _ => {
                        failed2.fetch_add(1, Ordering::Relaxed);
                    }
                }
                thread::sleep(SAMPLE_EVERY.saturating_sub(t.elapsed()));
            }
        });
        Sampler {
            stop,
            thread: Some(thread),
            ends,
            reads,
            failed,
        }
    }

    /// Stops reading and returns each check's run ends (Unix seconds).
    pub fn finish(mut self) -> BTreeMap<String, Vec<f64>> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.ends.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `(check, value)` of every `check_raw_last_check_timestamp_seconds` line.
fn last_checks(body: &str) -> Vec<(String, f64)> {
    body.lines()
        .filter_map(|l| l.strip_prefix("check_raw_last_check_timestamp_seconds{"))
        .filter_map(|l| {
            let (labels, value) = l.rsplit_once("} ")?;
            let check = labels.split("check=\"").nth(1)?.split('"').next()?;
            Some((check.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// The lateness of the runs seen.
#[derive(Debug, Clone, Default)]
pub struct Lateness {
    pub checks: usize,
    pub runs: usize,
    /// Grid points passed without a run seen.
    pub missed: usize,
    /// Milliseconds, over every run of every check.
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

/// Lateness of the runs in `ends` (per check, ascending Unix seconds) on
/// grids of `interval` (see the module's comment).
pub fn lateness(ends: &BTreeMap<String, Vec<f64>>, interval: Duration) -> Lateness {
    let step = interval.as_secs_f64();
    let mut all: Vec<f64> = Vec::new();
    let mut out = Lateness {
        checks: ends.len(),
        ..Lateness::default()
    };
    for list in ends.values() {
        if list.len() < 2 {
            continue;
        }
        // Each end's grid point k, from the gaps (a gap of two intervals
        // is one missed point).
        let mut k = 0u64;
        let mut offsets = vec![list[0]];
        for w in list.windows(2) {
            let gap = ((w[1] - w[0]) / step).round().max(1.0) as u64;
            out.missed += (gap - 1) as usize;
            k += gap;
            offsets.push(w[1] - k as f64 * step);
        }
        let phase = offsets.iter().copied().fold(f64::INFINITY, f64::min);
        all.extend(offsets.iter().map(|o| (o - phase) * 1000.0));
    }
    out.runs = all.len();
    if all.is_empty() {
        return out;
    }
    all.sort_by(f64::total_cmp);
    let at = |q: f64| all[((all.len() - 1) as f64 * q).round() as usize];
    out.p50 = at(0.5);
    out.p99 = at(0.99);
    out.max = all[all.len() - 1];
    out
}

/// One row of the lateness table.
pub struct LateRow {
    what: &'static str,
    late: Option<Lateness>,
    note: String,
}

/// check_raw_serve with its listener and one `[[check]]` per target
/// (`check_raw_tcp -t 800`), `/metrics` read every 250 ms for the window
/// (both rows), under `lateness::Load` if `loaded`: its runs' lateness.
pub fn late_row(tb: &Testbed, plan: &Plan, list: &[Target], loaded: bool) -> LateRow {
    let what = if loaded {
        "listener under load: 1,000 idle connections, 20 slow clients, 50 `/probe` at once"
    } else {
        "listener idle (only the 4 reads a second of `/metrics`)"
    };
    let missing = |note: String| LateRow {
        what,
        late: None,
        note,
    };
    let dir = TempDir::new();
    let addr: std::net::SocketAddr = LISTEN.parse().expect("LISTEN");
    let module = format!(
        "\n[[module]]\nname = \"{PROBE_MODULE}\"\ncommand = \"check_raw_tcp -t 800 {IFACE} {{target}} {VIP} {}\"\n",
        bed::PORT_BASE
    );
    let kind = if loaded { "late_loaded" } else { "late" };
    let command = |t: &Target| tcp_command("check_raw_tcp", t);
    let top = format!("listen = \"{LISTEN}\"\n");
    let mut serve = match Serve::start_with(tb, &dir, list, command, kind, &top, &module) {
        Ok(s) => s,
        Err(e) => return missing(e),
    };
    nap(WARMUP);
    if !serve.checker.running() {
        return missing(format!(
            "exited during the warm-up: {}",
            serve.checker.log_tail(5)
        ));
    }
    let targets: Vec<String> = bed::REAL_SERVERS
        .iter()
        .map(|(_, a)| a.to_string())
        .collect();
    let limit = LOAD_RAMP + plan.window + Duration::from_secs(10);
    let load = loaded.then(|| Load::start(tb.ns("lb"), addr, PROBE_MODULE, &targets, limit));
    if load.is_some() {
        nap(LOAD_RAMP);
    }
    let cpu0 = serve.checker.cpu_ns();
    let sampler = Sampler::start(tb.ns("lb"), addr, plan.window + Duration::from_secs(5));
    nap(plan.window);
    let (reads, failed) = (
        sampler.reads.load(Ordering::Relaxed),
        sampler.failed.load(Ordering::Relaxed),
    );
    let ends = sampler.finish();
    let cpu = serve.checker.cpu_ns() - cpu0;
    let mut note = format!(
        "{reads} reads of /metrics ({failed} failed); daemon CPU {:.1}% of a core",
        cpu as f64 / plan.window.as_nanos() as f64 * 100.0
    );
    if let Some(load) = &load {
        note = format!("{}; {note}", load.summary());
    }
    drop(load);
    if !serve.checker.running() {
        note.push_str(&format!("; exited: {}", serve.checker.log_tail(5)));
    }
    note.push_str(&format!("; load {}", loadavg()));
    serve.checker.stop();
    let late = lateness(&ends, Duration::from_secs(1));
    LateRow {
        what,
        late: (late.runs > 0).then_some(late),
        note,
    }
}

pub fn print_late(plan: &Plan, rows: &[LateRow]) {
    println!();
    println!(
        "check_raw_serve's listener and the schedule: {}, {} checks (`check_raw_tcp -t 800`) every second, {} s window; \
         lateness = a run's end minus its grid point, less the check's earliest (src/serve/schedule.rs's grid; bench/serve/lateness.rs)",
        bench_common::machine(),
        plan.targets,
        plan.window.as_secs()
    );
    println!();
    println!("| listener | checks | runs seen | grid points missed | lateness p50 ms | p99 ms | max ms | note |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in rows {
        match &r.late {
            Some(l) => println!(
                "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {} |",
                r.what, l.checks, l.runs, l.missed, l.p50, l.p99, l.max, r.note
            ),
            None => println!("| {} | | | | | | | {} |", r.what, r.note),
        }
    }
}
