//! The daemon: the checks of the file run on their schedule through the
//! worker pool, their results through rise/fall, each change to its state
//! file and the log, until a terminating signal.
//!
//! The main thread owns every piece of state (the checks' machines, the
//! schedule, the state files); workers only run checks and send results
//! back. It waits in one place, [`Waiter::wait`] on a [`Doorbell`], for
//! whichever comes first: the next check due (or the watchdog's next
//! ping), a result (each worker rings after sending one), SIGHUP (rings
//! too, and sets the reload flag) or a terminating signal (the waiter's
//! own pipe, which also wakes every worker polling, so every run in
//! flight ends with RST).
//!
//! Start: the file is loaded and the host checked (an error: exit 1,
//! nothing sent, no state file touched); each check starts from its state
//! file ([`StateDir::read_existing`]: no flap on restart; none: down) and
//! that state is written before READY=1. Stop: scheduling ends, the
//! workers get up to [`STOP_BOUND`] to see their runs end, exit 0; the
//! state files stay as they are.
//!
//! With `listen`, the main thread also feeds the board (`board::Board`:
//! the checks at start and each reload, every result, skipped runs,
//! reloads) and the HTTP listener (`web`), bound before READY=1 and
//! stopped first on SIGTERM, renders it on a thread of its own: the loop
//! never waits for a client, only for the board's short lock.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::net::shared::Engine;
use crate::outcome::{Outcome, State};
use crate::wait::{Doorbell, WaitError, Waiter};

use super::board::{wall_time, Board, BoardCheck, BoardRun};
use super::config::{CheckSpec, ConfigError, ServeConfig};
use super::direct::Direct;
use super::notify::Notifier;
use super::once::SERVICE;
use super::pool::{workers_for, Done, Job, Pool};
use super::reload::{reloaded_line, Fate, ReloadPlan};
use super::schedule::Schedule;
use super::state::{Health, RiseFall};
use super::state_writer::StateWriter;
use super::statefile::StateDir;
use super::web::{self, Listener, ModuleProbes};
use super::{count_checks, load, log};

/// How long the workers get to end their runs after SIGTERM: an
/// interrupted run sends its RST and closes its socket in milliseconds;
/// what is left then ends with the process, inside systemd's patience
/// and the contract's second.
pub const STOP_BOUND: Duration = Duration::from_millis(600);

/// The longest the main loop sleeps with nothing due: it wakes on every
/// event anyway; this only bounds a wait on a clock that jumped.
const MAX_NAP: Duration = Duration::from_secs(60);

/// One check as the daemon runs it.
pub(super) struct Watched {
    /// This definition's incarnation: a result is applied only to it.
    pub(super) id: u64,
    pub(super) spec: Arc<CheckSpec>,
    pub(super) machine: RiseFall,
    /// The run in flight for this check, if any (possibly of an older
    /// incarnation, after a reload that changed the command).
    pub(super) run: Option<u64>,
}

/// The running daemon.
pub struct Daemon {
    path: PathBuf,
    states: StateDir,
    /// Writes the state files' changes, off this loop.
    writer: StateWriter,
    checks: Vec<Watched>,
    schedule: Schedule,
    /// Run in flight -> its check's index in `checks`.
    in_flight: HashMap<u64, usize>,
    pool: Pool,
    /// The TCP runs this loop carries itself (`direct`).
    direct: Direct,
    results: Receiver<Done>,
    waiter: Arc<Waiter>,
    notify: Notifier,
    verbose: bool,
    /// Numbers check incarnations and runs alike.
    next_id: u64,
    /// What /metrics and the status page show: the daemon is its only
    /// writer, the listener reads it.
    board: Arc<Board>,
    /// What /probe runs: the modules in force, over the checks' engine.
    probes: Arc<ModuleProbes>,
    /// The HTTP listener, if `listen` is set.
    listener: Option<Listener>,
}

/// How a start-up ended before the loop: the lines for stderr, exit 1.
pub type StartError = Vec<String>;

impl Daemon {
    /// Load, check, write the starting states, start the pool (no
    /// thread yet: they start with the first runs).
    pub fn start(
        path: &Path,
        verbose: bool,
        waiter: Arc<Waiter>,
        bell: &Doorbell,
    ) -> Result<Daemon, StartError> {
        let config = load(path, &waiter).map_err(lines)?;
        let host = config.check_host();
        if !host.is_empty() {
            return Err(lines(host));
        }
        let now = Instant::now();
        let states = StateDir::new(&config.state_dir);
        let mut checks = Vec::with_capacity(config.checks.len());
        for (n, spec) in config.checks.into_iter().enumerate() {
            let existing = states.read_existing(&spec.name);
            let machine = RiseFall::new(&spec.name, spec.rise, spec.fall, existing, now);
            states
                .write(&spec.name, machine.health())
                .map_err(|e| vec![write_error(&states, &spec.name, &e)])?;
            checks.push(Watched {
                id: n as u64 + 1,
                spec: Arc::new(spec),
                machine,
                run: None,
            });
        }
        let ringer = bell
            .ringer()
            .map_err(|e| vec![format!("cannot make a wake-up socket: {e}")])?;
        let writer = StateWriter::start()
            .map_err(|e| vec![format!("cannot start the state files' writer: {e}")])?;
        // Capabilities are per thread and threads inherit them: the
        // workers this thread starts hold CAP_NET_RAW for their packet
        // sockets (a caller that is not root has it permitted only).
        let _ = crate::privilege::raise_net_raw();
        let engine = Arc::new(Engine::new());
        let board = Arc::new(Board::new());
        let stats = Arc::clone(&engine);
        board.engine_source(move || stats.stats());
        let probes = Arc::new(ModuleProbes::new(
            config.modules,
            Arc::clone(&engine),
            Arc::clone(&waiter),
        ));
        // Bound before READY=1: a port taken since the trial bind of
        // check_host is a start-up error too, never a missing listener.
        // Started after the raise: its probe threads inherit CAP_NET_RAW.
        let listener = match config.listen {
            Some(addr) => Some(
                listen(&config.path, config.listen_line, addr, &board, &probes)
                    .map_err(|e| vec![e])?,
            ),
            None => None,
        };
        let (tx, results) = mpsc::channel();
        let cap = workers_for(checks.iter().map(|w| &*w.spec));
        let direct = Direct::new(Arc::clone(&engine), Arc::clone(&waiter));
        let pool = Pool::new(engine, Arc::clone(&waiter), tx, Some(ringer), cap);
        let mut daemon = Daemon {
            path: config.path,
            states,
            writer,
            next_id: checks.len() as u64,
            checks,
            schedule: Schedule::new(&[], now, 0),
            in_flight: HashMap::new(),
            pool,
            direct,
            results,
            waiter,
            notify: Notifier::from_env(),
            verbose,
            board,
            probes,
            listener,
        };
        daemon.schedule = daemon.new_schedule(now);
        daemon.board.reloaded(true, SystemTime::now());
        daemon.set_board_checks();
        Ok(daemon)
    }

    /// Log the start, READY=1, then the loop until a terminating signal;
    /// the exit code.
    pub fn run(mut self, bell: &Doorbell, reload: &AtomicBool) -> i32 {
        log::line(format!(
            "started: {} from {}, state files in {}",
            count_checks(self.checks.len()),
            self.path.display(),
            self.states.dir().display()
        ));
        if let Some(l) = &self.listener {
            log::line(web::listening_line(l.addr));
        }
        self.notify.ready(&self.status());
        let code = self.turns(bell, reload);
        self.stop(code)
    }

    /// The main loop. It has no count: it is the daemon's life, and ends
    /// only on a terminating signal (or a wait that fails). Each turn is
    /// bounded: the checks due (at most all of them), one wait, the
    /// results in (at most one per run in flight, at most one run per
    /// check), a reload.
    fn turns(&mut self, bell: &Doorbell, reload: &AtomicBool) -> i32 {
        let watchdog = self.notify.watchdog_every();
        let mut ping = watchdog.map(|every| Instant::now() + every);
        let mut direct_done = Vec::new();
        let mut fds = Vec::new();
        loop {
            if self.waiter.pending().is_some() {
                return 0;
            }
            let now = Instant::now();
            self.start_due(now);
            let mut wake = now + MAX_NAP;
            if let Some((_, at)) = self.schedule.next_due() {
                wake = wake.min(at);
            }
            if let Some(at) = ping {
                wake = wake.min(at);
            }
            if let Some(at) = self.direct.next_wake() {
                wake = wake.min(at);
            }
            fds.clear();
            fds.extend(
                std::iter::once(bell.fd())
                    .chain(self.direct.fds())
                    .map(|fd| libc::pollfd {
                        fd,
                        events: libc::POLLIN,
                        revents: 0,
                    }),
            );
            match self.waiter.wait_any(&mut fds, wake) {
                Ok(_) => {}
                Err(WaitError::Interrupted(_)) => return 0,
                Err(WaitError::Io(e)) => {
                    log::line(format!("cannot wait for events: {e}"));
                    return 1;
                }
            }
            // Only a rung bell is read: most wake-ups are the direct
            // flows' frames and timers.
            if fds[0].revents != 0 {
                bell.drain();
            }
            self.direct
                .turn(Instant::now(), &fds[1..], &mut direct_done);
            for done in direct_done.drain(..) {
                self.apply(done);
            }
            while let Ok(done) = self.results.try_recv() {
                self.apply(done);
            }
            if reload.swap(false, Ordering::SeqCst) {
                self.reload();
            }
            if let (Some(at), Some(every)) = (ping, watchdog) {
                if Instant::now() >= at {
                    self.notify.watchdog();
                    ping = Some(Instant::now() + every);
                }
            }
        }
    }

    /// Start every check due by `now`: the schedule's ticks make them a
    /// group, started in one wake-up.
    fn start_due(&mut self, now: Instant) {
        for _ in 0..self.checks.len() {
            let Some(i) = self.schedule.due_by(now) else {
                return;
            };
            if !self.schedule.started(i, now) {
                return;
            }
            let run = self.fresh_id();
            let watched = &mut self.checks[i];
            watched.run = Some(run);
            self.in_flight.insert(run, i);
            let job = Job {
                run,
                check: watched.id,
                spec: Arc::clone(&watched.spec),
            };
            let check = watched.id;
            // Its own clock reading: the SYN's time, however many runs of
            // the group went before it.
            if self.direct.start(&job, Instant::now()) {
                continue;
            }
            if let Err(e) = self.pool.submit(job) {
                let outcome = Outcome::new(
                    SERVICE,
                    State::Unknown,
                    format!("cannot start a worker thread: {e}"),
                );
                self.apply(Done {
                    run,
                    check,
                    outcome,
                    started: now,
                    ended: now,
                });
            }
        }
    }

    /// One result: the schedule frees its check, rise/fall reads it (if
    /// the check is still the one that ran), a change is written and logged.
    fn apply(&mut self, done: Done) {
        // A run of a check a reload removed: nobody to tell.
        let Some(i) = self.in_flight.remove(&done.run) else {
            return;
        };
        let watched = &mut self.checks[i];
        watched.run = None;
        let skipped = self.schedule.finished(i, done.ended);
        watched.machine.skipped(skipped);
        if skipped > 0 {
            self.board.skipped(&watched.spec.name, skipped);
        }
        if done.check != watched.id {
            return;
        }
        let line = done.outcome.status_line();
        if self.verbose {
            log::line(format!("{}: {line}", watched.spec.name));
        }
        let change = watched
            .machine
            .observe(done.outcome.state, &line, done.ended);
        self.board.record(&BoardRun::of(
            &watched.spec.name,
            (&done.outcome, line),
            done.ended.saturating_duration_since(done.started),
            wall_time(done.ended),
            &watched.machine,
            change.is_some(),
        ));
        let Some(change) = change else {
            return;
        };
        self.writer.write(&self.states, &change.name, change.health);
        log::line(change.to_string());
        self.notify.status(&self.status());
    }

    /// SIGHUP: read the file again; apply it if sound, else keep running
    /// the old one (see `reload`).
    fn reload(&mut self) {
        self.notify.reloading();
        let listening = self.listener.as_ref().map(|l| l.addr);
        let loaded = load(&self.path, &self.waiter).and_then(|config| {
            // Our own listener holds its port: its trial bind would fail.
            let host: Vec<ConfigError> = config
                .check_host()
                .into_iter()
                .filter(|e| !(e.key == "listen" && config.listen == listening))
                .collect();
            if host.is_empty() {
                Ok(config)
            } else {
                Err(host)
            }
        });
        match loaded {
            Ok(config) => {
                self.relisten(&config);
                self.probes.set_modules(config.modules.clone());
                self.apply_config(config);
                self.board.reloaded(true, SystemTime::now());
                self.set_board_checks();
            }
            Err(errors) => {
                self.board.reloaded(false, SystemTime::now());
                let mut errors = errors.iter();
                if let Some(first) = errors.next() {
                    log::line(format!(
                        "reload refused, still running the previous configuration: {first}"
                    ));
                }
                for e in errors {
                    log::line(e.to_string());
                }
            }
        }
        self.notify.ready(&self.status());
    }

    fn apply_config(&mut self, config: ServeConfig) {
        let now = Instant::now();
        let plan = ReloadPlan::new(self.checks.iter().map(|w| &*w.spec), &config.checks);
        let new_states = StateDir::new(&config.state_dir);
        let moved = new_states != self.states;
        let mut old: Vec<Option<Watched>> = self.checks.drain(..).map(Some).collect();
        let mut next = Vec::with_capacity(config.checks.len());
        for (spec, fate) in config.checks.into_iter().zip(&plan.fates) {
            let kept = match fate {
                Fate::Kept(i) | Fate::Restarted(i) => old.get_mut(*i).and_then(Option::take),
                Fate::Added => None,
            };
            let watched = match (fate, kept) {
                (Fate::Kept(_), Some(mut w)) => {
                    w.machine.set_thresholds(spec.rise, spec.fall);
                    w.spec = Arc::new(spec);
                    w
                }
                (Fate::Restarted(_), Some(w)) => {
                    let health = Some(w.machine.health());
                    Watched {
                        id: self.fresh_id(),
                        machine: RiseFall::new(&spec.name, spec.rise, spec.fall, health, now),
                        spec: Arc::new(spec),
                        run: w.run,
                    }
                }
                _ => {
                    let existing = self.writer.read_existing(&new_states, &spec.name);
                    let machine = RiseFall::new(&spec.name, spec.rise, spec.fall, existing, now);
                    self.writer.write(&new_states, &spec.name, machine.health());
                    Watched {
                        id: self.fresh_id(),
                        spec: Arc::new(spec),
                        machine,
                        run: None,
                    }
                }
            };
            if moved && *fate != Fate::Added {
                let (name, health) = (&watched.spec.name, watched.machine.health());
                self.writer.write(&new_states, name, health);
            }
            next.push(watched);
        }
        for gone in old.into_iter().flatten() {
            self.writer.remove(&self.states, &gone.spec.name);
        }
        self.states = new_states;
        self.checks = next;
        self.in_flight = self
            .checks
            .iter()
            .enumerate()
            .filter_map(|(i, w)| w.run.map(|run| (run, i)))
            .collect();
        self.schedule = self.new_schedule(now);
        for i in 0..self.checks.len() {
            if self.checks[i].run.is_some() {
                self.schedule.started(i, now);
            }
        }
        self.pool
            .set_cap(workers_for(self.checks.iter().map(|w| &*w.spec)));
        log::line(reloaded_line(&self.path, &plan));
    }

    /// SIGTERM and the like: stop scheduling, let the runs end, exit.
    fn stop(mut self, code: i32) -> i32 {
        let sig = self.waiter.pending().map_or("a failure", |s| s.name());
        log::line(format!("stopping on {sig}"));
        self.notify.stopping();
        // First, and fast (its loop sees the flag at once): no page is
        // served from a daemon that stopped checking.
        if let Some(l) = self.listener.take() {
            if !l.stop(LISTENER_STOP) {
                log::line("the listener did not stop in time, left to the exit");
            }
        }
        // The direct runs end with RST at once, before the workers' wait.
        self.direct.stop(self.waiter.pending());
        let left = self.pool.shutdown(STOP_BOUND);
        if left > 0 {
            log::line(format!(
                "{left} worker(s) still in a run after {} ms, left to the exit",
                STOP_BOUND.as_millis()
            ));
        }
        // The last changes reach their files before the exit.
        if !self.writer.finish(WRITER_STOP) {
            log::line("the state files' writer did not finish in time, left to the exit");
        }
        code
    }

    /// A reload that changes `listen`: the new address bound, then the
    /// old listener stopped; a new address that cannot be bound leaves the
    /// old one serving (logged). `""` stops it.
    fn relisten(&mut self, config: &ServeConfig) {
        if config.listen == self.listener.as_ref().map(|l| l.addr) {
            return;
        }
        let fresh = match config.listen {
            Some(addr) => match listen(
                &config.path,
                config.listen_line,
                addr,
                &self.board,
                &self.probes,
            ) {
                Ok(l) => Some(l),
                Err(e) => {
                    log::line(format!("{e}; still serving as before"));
                    return;
                }
            },
            None => None,
        };
        if let Some(old) = self.listener.take() {
            let addr = old.addr;
            old.stop(LISTENER_STOP);
            log::line(format!("stopped listening on {addr}"));
        }
        if let Some(l) = &fresh {
            log::line(web::listening_line(l.addr));
        }
        self.listener = fresh;
    }

    /// The board's list of checks, after a start or a reload.
    fn set_board_checks(&self) {
        let checks = self
            .checks
            .iter()
            .map(|w| BoardCheck::of(&w.spec, &w.machine, wall_time(w.machine.since())))
            .collect();
        self.board.set_checks(checks);
    }

    fn new_schedule(&self, now: Instant) -> Schedule {
        let intervals: Vec<Duration> = self.checks.iter().map(|w| w.spec.interval).collect();
        let seed = getrandom::u64().unwrap_or_else(|_| u64::from(std::process::id()));
        Schedule::new(&intervals, now, seed)
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// STATUS=: `3 checks: 2 up, 1 down`.
    fn status(&self) -> String {
        let up = self
            .checks
            .iter()
            .filter(|w| w.machine.health() == Health::Up)
            .count();
        format!(
            "{}: {up} up, {} down",
            count_checks(self.checks.len()),
            self.checks.len() - up
        )
    }
}

fn write_error(states: &StateDir, name: &str, e: &std::io::Error) -> String {
    format!(
        "cannot write the state file {}: {e}",
        states.dir().join(name).display()
    )
}

/// How long the state files' writer gets to write what is queued (a
/// file is ~1 ms on a disk, far less on /run's tmpfs): with the others
/// inside the second.
const WRITER_STOP: Duration = Duration::from_millis(150);

/// How long the listener gets to stop: its loop wakes on the flag at
/// once; with the workers' [`STOP_BOUND`] inside the second.
const LISTENER_STOP: Duration = Duration::from_millis(200);

/// Bind `addr`, start the listener on `board` (the error names file,
/// line and key).
fn listen(
    path: &Path,
    line: usize,
    addr: std::net::SocketAddr,
    board: &Arc<Board>,
    probes: &Arc<ModuleProbes>,
) -> Result<Listener, String> {
    let pages: Arc<dyn web::Pages> = board.clone();
    let prober: Arc<dyn web::Prober> = probes.clone();
    web::start(path, line, addr, pages, prober)
}

fn lines(errors: Vec<ConfigError>) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}
