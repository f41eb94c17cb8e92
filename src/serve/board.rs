//! The board: what every check of the daemon is doing, for the people and
//! programs that look at it (issue 22). One shared record per check (its
//! labels, health and since when, rise/fall progress, the last run and
//! its facts, counters and a duration histogram) and the process's facts
//! (the last reload, the packet engine's counters), rendered three ways:
//! `/metrics` (`metrics`: Prometheus text 0.0.4 or OpenMetrics, through
//! the `prometheus-client` crate), `/` (`page`: one self-contained HTML
//! document) and `/status.json` (`json`).
//!
//! The daemon's main thread is the only writer ([`Board::set_checks`],
//! [`Board::record`], [`Board::skipped`], [`Board::reloaded`]); the
//! listener's threads only render. Writers and renders share one mutex,
//! held briefly: a render copies the list of records under it (each
//! record is an `Arc`, so the copy is one reference count per check) and
//! formats after releasing it; a write that finds its record shared with
//! a render in progress clones that one record (`Arc::make_mut`). So a
//! slow scrape never delays a result, and a result never waits for more
//! than a copy of pointers.
//!
//! Wall-clock times (since, last run) are `SystemTime`: Prometheus and
//! people want dates. The daemon measures with `Instant`;
//! [`wall_time`] converts.
//!
//! How the daemon feeds it (all from its main thread):
//!
//! ```text
//! let board = Arc::new(Board::new());
//! board.engine_source(move || engine.stats());           // Arc<Engine>
//! // start and every applied reload, in the file's order:
//! board.set_checks(checks.iter().map(|w| BoardCheck::of(&w.spec, &w.machine,
//!     wall_time(w.machine.since()))).collect());
//! board.reloaded(ok, SystemTime::now());                 // each SIGHUP
//! // apply(): after schedule.finished and machine.skipped(n)
//! board.skipped(&name, n);
//! // after machine.observe (only for the check's current incarnation)
//! board.record(&BoardRun::of(&name, (&done.outcome, line), done.ended - done.started,
//!     wall_time(done.ended), &machine, change.is_some()));
//! ```

mod json;
mod metrics;
mod page;

pub use metrics::{wants_openmetrics, OPENMETRICS};
pub use page::REFRESH_SECONDS;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::cli::{Config, IfaceArg};
use crate::net::shared::Stats;
use crate::outcome::{Outcome, State};

use super::config::CheckSpec;
use super::state::{Health, RiseFall};

/// A status line is kept up to this many bytes (cut at a character):
/// the plugins' lines are far shorter; this bounds a board of thousands
/// of checks whatever a server answers.
const MAX_STATUS_LINE: usize = 1024;

/// The labels of one check's series, from its `[[check]]`
/// ([`CheckLabels::of`]). `interface` is "" for the ldirectord form (the
/// route's interface, known only when a run looks it up); `port` is ""
/// for check_raw_vip without `--port`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckLabels {
    pub check: String,
    /// tcp, http, dns or vip.
    pub kind: &'static str,
    pub interface: String,
    pub real_server: String,
    pub vip: String,
    pub port: String,
}

impl CheckLabels {
    pub fn of(spec: &CheckSpec) -> CheckLabels {
        let target = &spec.config.common().target;
        CheckLabels {
            check: spec.name.clone(),
            kind: kind_of(&spec.config),
            interface: match &target.iface {
                IfaceArg::Named(name) => name.clone(),
                IfaceArg::ByRoute => String::new(),
            },
            real_server: target.real_server.to_string(),
            vip: target.vip.to_string(),
            port: match target.port {
                0 => String::new(),
                port => port.to_string(),
            },
        }
    }
}

/// The `kind` label: the plugin's family (http_get and http are one).
pub fn kind_of(config: &Config) -> &'static str {
    match config {
        Config::Tcp(_) => "tcp",
        Config::Http(..) => "http",
        Config::Dns(_) => "dns",
        Config::Vip(_) => "vip",
    }
}

/// One check as the daemon has it after a start or a reload.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardCheck {
    pub labels: CheckLabels,
    /// The `[[check]]` command, as written (shown on the page).
    pub command: String,
    pub interval: Duration,
    pub rise: u32,
    pub fall: u32,
    pub health: Health,
    /// Since when `health` holds.
    pub since: SystemTime,
    /// Consecutive results against `health` so far (rise/fall progress).
    pub streak: u32,
}

impl BoardCheck {
    /// From the daemon's spec and rise/fall machine; `since` is the
    /// machine's `since()` on the wall clock ([`wall_time`]).
    pub fn of(spec: &CheckSpec, machine: &RiseFall, since: SystemTime) -> BoardCheck {
        BoardCheck {
            labels: CheckLabels::of(spec),
            command: spec.command.clone(),
            interval: spec.interval,
            rise: spec.rise.max(1),
            fall: spec.fall.max(1),
            health: machine.health(),
            since,
            streak: machine.streak(),
        }
    }

    pub fn name(&self) -> &str {
        &self.labels.check
    }
}

/// What a run learned beyond its state, for the metrics and the page:
/// each `None` until a run of that kind says it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFacts {
    pub http_status: Option<u16>,
    /// Unix seconds: the chain's earliest notAfter (`--ssl`).
    pub ssl_earliest_cert_expiry: Option<i64>,
    pub dns_rcode: Option<u8>,
    pub dns_answer_rrs: Option<u32>,
}

impl RunFacts {
    /// What the board keeps of an outcome's facts (`Outcome::facts`;
    /// the rest of them are /probe's).
    pub fn of(outcome: &Outcome) -> RunFacts {
        let f = &outcome.facts;
        RunFacts {
            http_status: f.http_status,
            ssl_earliest_cert_expiry: f.ssl_earliest_cert_expiry,
            dns_rcode: f.dns_rcode,
            dns_answer_rrs: f.dns_answer_rrs,
        }
    }
}

/// One finished run, as the daemon applied it.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardRun {
    pub name: String,
    pub state: State,
    /// `SERVICE STATE - summary|perfdata`.
    pub status_line: String,
    /// From the run's start to its end.
    pub duration: Duration,
    pub ended: SystemTime,
    /// The check's health after this run, and the rise/fall streak.
    pub health: Health,
    pub streak: u32,
    /// This run changed the health (since = ended).
    pub changed: bool,
    pub facts: RunFacts,
}

impl BoardRun {
    /// From a result the daemon just gave to `machine` (`observe` done):
    /// `changed` is whether `observe` returned a change; `status_line`
    /// is `outcome`'s, which the daemon built already (once a run).
    pub fn of(
        name: &str,
        (outcome, status_line): (&Outcome, String),
        duration: Duration,
        ended: SystemTime,
        machine: &RiseFall,
        changed: bool,
    ) -> BoardRun {
        BoardRun {
            name: name.to_string(),
            state: outcome.state,
            status_line,
            duration,
            ended,
            health: machine.health(),
            streak: machine.streak(),
            changed,
            facts: RunFacts::of(outcome),
        }
    }
}

/// `at` (the process clock) on the wall clock, as of now.
pub fn wall_time(at: Instant) -> SystemTime {
    let (now, wall) = (Instant::now(), SystemTime::now());
    match now.checked_duration_since(at) {
        Some(ago) => wall.checked_sub(ago).unwrap_or(SystemTime::UNIX_EPOCH),
        None => wall + at.saturating_duration_since(now),
    }
}

/// The upper bounds of the duration histogram, in seconds: a check on a
/// LAN answers in a fraction of a millisecond, one through TLS or a slow
/// backend in tens to hundreds, and `-t` is at most the interval (10 s
/// covers every sane one; longer ones land in +Inf).
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

/// A check's run durations (the buckets not cumulative; +Inf is the
/// count minus their sum).
#[derive(Debug, Clone, Default, PartialEq)]
struct Durations {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Durations {
    fn observe(&mut self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|le| secs <= *le) {
            self.buckets[i] += 1;
        }
        self.sum += secs;
        self.count += 1;
    }
}

/// The last run of a check.
#[derive(Debug, Clone, PartialEq)]
struct LastRun {
    state: State,
    status_line: String,
    duration: Duration,
    ended: SystemTime,
}

/// Everything the board knows of one check.
#[derive(Debug, Clone, PartialEq)]
struct CheckRecord {
    check: BoardCheck,
    last: Option<LastRun>,
    /// The last value each fact had (a run that did not learn one keeps
    /// the previous: a failed handshake does not unknow the certificate).
    facts: RunFacts,
    /// Finished runs by result, indexed by `State::nagios_code`.
    runs: [u64; 4],
    changes: u64,
    skipped: u64,
    durations: Durations,
}

impl CheckRecord {
    fn new(check: BoardCheck) -> CheckRecord {
        CheckRecord {
            check,
            last: None,
            facts: RunFacts::default(),
            runs: [0; 4],
            changes: 0,
            skipped: 0,
            durations: Durations::default(),
        }
    }

    fn name(&self) -> &str {
        self.check.name()
    }

    /// Where rise/fall is, for people: "2/3 fails" (falling),
    /// "1/2 oks" (rising), "" when nothing is pending.
    fn progress(&self) -> String {
        let c = &self.check;
        match (c.health, c.streak) {
            (_, 0) => String::new(),
            (Health::Up, n) => format!("{n}/{} fails", c.fall),
            (Health::Down, n) => format!("{n}/{} oks", c.rise),
        }
    }

    /// up, down, rising (down, ups counted) or falling (up, failures
    /// counted): the page's classes and the JSON's `state`.
    fn shown_state(&self) -> &'static str {
        match (self.check.health, self.check.streak) {
            (Health::Up, 0) => "up",
            (Health::Up, _) => "falling",
            (Health::Down, 0) => "down",
            (Health::Down, _) => "rising",
        }
    }
}

/// The process's facts.
#[derive(Debug, Clone, PartialEq)]
struct Process {
    reload_ok: bool,
    /// The last successful load (the start counts as one).
    reload_success_at: SystemTime,
    /// The last reload attempt, whatever its result.
    reload_at: SystemTime,
    engine: Stats,
}

/// What the writers change, under the board's mutex.
struct BoardInner {
    records: Vec<Arc<CheckRecord>>,
    by_name: HashMap<String, usize>,
    process: Process,
}

/// A render's copy: the records as they were, the process's facts.
struct BoardSnapshot {
    records: Vec<Arc<CheckRecord>>,
    process: Process,
    at: SystemTime,
}

type EngineSource = Box<dyn Fn() -> Stats + Send + Sync>;

/// The shared record of every check. `Send + Sync`: share it as
/// `Arc<Board>`.
pub struct Board {
    inner: Mutex<BoardInner>,
    /// Read at each render, outside the board's mutex (the engine's
    /// counters are atomics of its own).
    engine: Mutex<Option<EngineSource>>,
}

impl fmt::Debug for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Board")
            .field("checks", &self.lock().records.len())
            .finish()
    }
}

impl Default for Board {
    fn default() -> Board {
        Board::new()
    }
}

impl Board {
    /// No check yet; the configuration counts as loaded now.
    pub fn new() -> Board {
        let now = SystemTime::now();
        Board {
            inner: Mutex::new(BoardInner {
                records: Vec::new(),
                by_name: HashMap::new(),
                process: Process {
                    reload_ok: true,
                    reload_success_at: now,
                    reload_at: now,
                    engine: Stats::default(),
                },
            }),
            engine: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BoardInner> {
        // A panic elsewhere while holding it left whole values behind
        // (every write is one assignment or a counter): keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The daemon's checks after its start or a reload, in the file's
    /// order. Checks not listed are dropped (their series leave
    /// `/metrics`); a kept check (same name, same labels) keeps its last
    /// run, counters and histogram; a check whose labels changed (a new
    /// real server, VIP, port, interface or kind) starts afresh, as the
    /// new series it is. Names are unique in a configuration; a repeated
    /// one keeps its first.
    pub fn set_checks(&self, checks: Vec<BoardCheck>) {
        let mut inner = self.lock();
        let mut old: HashMap<String, Arc<CheckRecord>> = inner
            .records
            .drain(..)
            .map(|r| (r.name().to_string(), r))
            .collect();
        let mut records = Vec::with_capacity(checks.len());
        let mut by_name = HashMap::with_capacity(checks.len());
        for check in checks {
            if by_name.contains_key(check.name()) {
                continue;
            }
            let record = match old.remove(check.name()) {
                Some(mut kept) if kept.check.labels == check.labels => {
                    Arc::make_mut(&mut kept).check = check;
                    kept
                }
                _ => Arc::new(CheckRecord::new(check)),
            };
            by_name.insert(record.name().to_string(), records.len());
            records.push(record);
        }
        inner.records = records;
        inner.by_name = by_name;
    }

    /// One run's result. A name the board does not know (a run of a
    /// check a reload removed) is ignored.
    pub fn record(&self, run: &BoardRun) {
        let mut inner = self.lock();
        let Some(&i) = inner.by_name.get(&run.name) else {
            return;
        };
        let record = Arc::make_mut(&mut inner.records[i]);
        record.runs[run.state.nagios_code() as usize] += 1;
        record.durations.observe(run.duration);
        let f = &run.facts;
        let kept = &mut record.facts;
        kept.http_status = f.http_status.or(kept.http_status);
        kept.ssl_earliest_cert_expiry =
            f.ssl_earliest_cert_expiry.or(kept.ssl_earliest_cert_expiry);
        kept.dns_rcode = f.dns_rcode.or(kept.dns_rcode);
        kept.dns_answer_rrs = f.dns_answer_rrs.or(kept.dns_answer_rrs);
        record.check.health = run.health;
        record.check.streak = run.streak;
        if run.changed {
            record.changes += 1;
            record.check.since = run.ended;
        }
        record.last = Some(LastRun {
            state: run.state,
            status_line: cut(&run.status_line, MAX_STATUS_LINE),
            duration: run.duration,
            ended: run.ended,
        });
    }

    /// Runs of `name` the schedule skipped (the previous one in flight).
    pub fn skipped(&self, name: &str, n: u64) {
        if n == 0 {
            return;
        }
        let mut inner = self.lock();
        if let Some(&i) = inner.by_name.get(name) {
            let record = Arc::make_mut(&mut inner.records[i]);
            record.skipped = record.skipped.saturating_add(n);
        }
    }

    /// A reload (SIGHUP) applied (`ok`) or refused, at `at`.
    pub fn reloaded(&self, ok: bool, at: SystemTime) {
        let mut inner = self.lock();
        inner.process.reload_ok = ok;
        inner.process.reload_at = at;
        if ok {
            inner.process.reload_success_at = at;
        }
    }

    /// The engine's counters as of now (for a caller that pushes them;
    /// see [`Board::engine_source`] to have them read at each render).
    pub fn set_engine(&self, stats: Stats) {
        self.lock().process.engine = stats;
    }

    /// Read the engine's counters at each render, e.g.
    /// `board.engine_source(move || engine.stats())`.
    pub fn engine_source(&self, source: impl Fn() -> Stats + Send + Sync + 'static) {
        *self.engine.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(source));
    }

    /// How many checks the board holds.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn snapshot(&self) -> BoardSnapshot {
        let stats = self
            .engine
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|source| source());
        let inner = self.lock();
        let mut process = inner.process.clone();
        if let Some(stats) = stats {
            process.engine = stats;
        }
        BoardSnapshot {
            records: inner.records.clone(),
            process,
            at: SystemTime::now(),
        }
    }

    /// `GET /metrics`: the content type and the body, OpenMetrics 1.0
    /// when `openmetrics` (the scraper's Accept asked for it), else the
    /// Prometheus text format 0.0.4.
    pub fn metrics(&self, openmetrics: bool) -> (&'static str, String) {
        metrics::render(&self.snapshot(), openmetrics)
    }

    /// `GET /status.json`: the page's facts for scripts.
    pub fn status_json(&self) -> String {
        json::render(&self.snapshot())
    }

    /// `GET /`: the status page, one self-contained HTML document.
    pub fn status_html(&self) -> String {
        page::render(&self.snapshot())
    }
}

/// `text` up to `max` bytes, cut at a character boundary.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Seconds since the Unix epoch (negative before it), for Prometheus.
fn unix_seconds(t: SystemTime) -> f64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The lowercase result name of the `result` label and the JSON.
fn result_name(state: State) -> &'static str {
    match state {
        State::Ok => "ok",
        State::Warning => "warning",
        State::Critical => "critical",
        State::Unknown => "unknown",
    }
}

const RESULTS: [State; 4] = [State::Ok, State::Warning, State::Critical, State::Unknown];

/// The version for `check_raw_build_info` and the page.
const VERSION: &str = env!("CARGO_PKG_VERSION");
