//! The workers that carry the runs: a bounded pool of reused threads, each
//! taking one run at a time from a queue, running it through the shared
//! packet engine under a panic guard, and sending its outcome back.
//!
//! A run is synchronous code that waits in `ppoll` (the probes are
//! written that way, for the plugin), so the runs in flight are the
//! threads busy. How many may be needed: each check has at most one run in
//! flight (the schedule sees to it), and a run lasts at most its `-t`
//! (below its interval) plus a close. So the most a configuration can
//! keep busy, every real server timing out at once, is the sum over the
//! checks of `-t / interval`; [`workers_for`] allows a quarter more and
//! four spare for runs that end late or start early, never more than the
//! checks nor [`MAX_WORKERS`]. Threads start on demand (one more when a
//! run is queued and every thread is busy), up to that cap, and stay for
//! the next runs: a pool of healthy servers answering in a millisecond
//! keeps a thread or two whatever its size. A run queued behind a full
//! pool waits; its `-t` counts from when a worker takes it.
//!
//! A panic in a run is that run's UNKNOWN outcome (`internal error,
//! please report: ...`), as it is the plugin's: the worker and the daemon
//! live on. The panic's message reaches the outcome through a thread-local
//! slot filled by the hook [`capture_panics`] installs (the default hook
//! would print a multi-line report to the daemon's log).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::checks::{self, Runner};
use crate::cli::{Config, Mode};
use crate::net::shared::Engine;
use crate::outcome::{Outcome, State};
use crate::wait::{Ringer, Waiter};

use super::config::CheckSpec;

/// Each worker's stack. The deepest runs there are (an HTTPS check in
/// either role: openssl's handshake under the probe, a 1 MiB body hashed
/// and searched by a regex) pass on 48 KiB (measured with
/// tests/it/serve_cli.rs's `https_runs_fit_a_worker_thread`); five times that
/// leaves room for what was not measured, since an overflow would abort
/// the daemon. Untouched pages cost nothing.
pub const STACK_SIZE: usize = 256 * 1024;

/// The most threads a pool starts (128 MiB of stacks reserved, little of
/// it touched): 512 runs in flight is a configuration
/// of thousands of checks, all timing out. Beyond it runs wait their turn
/// (and are counted as skipped when their turn comes too late).
pub const MAX_WORKERS: usize = 512;

/// One run to carry out.
#[derive(Debug, Clone)]
pub struct Job {
    /// This run, unique in the process.
    pub run: u64,
    /// The check's incarnation (a reload that changes a check gives it a
    /// new one, so a result of the old definition is not applied).
    pub check: u64,
    pub spec: Arc<CheckSpec>,
}

/// A run's result.
#[derive(Debug, Clone)]
pub struct Done {
    pub run: u64,
    pub check: u64,
    pub outcome: Outcome,
    /// When the run started (a worker took it): with `ended`, its
    /// duration, for /metrics' histogram.
    pub started: Instant,
    /// When the run ended.
    pub ended: Instant,
}

/// The jobs not yet taken, and whether the pool still takes more.
#[derive(Default)]
struct JobQueue {
    jobs: VecDeque<Job>,
    /// Shut down: a worker finding the queue empty ends.
    closed: bool,
}

/// What the workers share.
struct Shared {
    /// One lock and one condition variable: a job queued wakes one idle
    /// worker, which takes it. (A channel's receiver behind a mutex woke
    /// two threads per job, the receiver and the next one in line for
    /// the mutex: ~6 futex calls and 2 context switches a run.)
    queue: Mutex<JobQueue>,
    ready: Condvar,
    /// Jobs submitted and not yet finished (queued or running).
    busy: AtomicUsize,
    engine: Arc<Engine>,
    waiter: Arc<Waiter>,
    /// Rings the main loop's doorbell after each result (the daemon);
    /// `None` when the caller blocks on the results channel (`--once`).
    ringer: Option<Ringer>,
}

/// The pool.
pub struct Pool {
    shared: Arc<Shared>,
    results: Sender<Done>,
    workers: Vec<JoinHandle<()>>,
    cap: usize,
}

/// How many threads `checks` may need at most (see the module's comment):
/// `ceil(1.25 * sum(-t / interval)) + 4`, at most one per check, at most
/// [`MAX_WORKERS`], at least one.
pub fn workers_for<'a>(checks: impl IntoIterator<Item = &'a CheckSpec>) -> usize {
    let mut n = 0;
    let demand: f64 = checks
        .into_iter()
        .inspect(|_| n += 1)
        .map(|c| {
            let interval = c.interval.as_secs_f64().max(1e-3);
            (c.config.common().timeout.as_secs_f64() / interval).min(1.0)
        })
        .sum();
    let want = (demand * 1.25).ceil() as usize + 4;
    want.min(n).clamp(1, MAX_WORKERS)
}

impl Pool {
    /// A pool of at most `cap` threads (none started yet) whose results
    /// go to `results`.
    pub fn new(
        engine: Arc<Engine>,
        waiter: Arc<Waiter>,
        results: Sender<Done>,
        ringer: Option<Ringer>,
        cap: usize,
    ) -> Pool {
        capture_panics();
        Pool {
            shared: Arc::new(Shared {
                queue: Mutex::new(JobQueue::default()),
                ready: Condvar::new(),
                busy: AtomicUsize::new(0),
                engine,
                waiter,
                ringer,
            }),
            results,
            workers: Vec::new(),
            cap: cap.clamp(1, MAX_WORKERS),
        }
    }

    /// A new cap (a reload): threads above it are not stopped, no new
    /// one starts until the pool is below it.
    pub fn set_cap(&mut self, cap: usize) {
        self.cap = cap.clamp(1, MAX_WORKERS);
    }

    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Queue `job`, starting a thread if every one is busy and the cap
    /// allows. An error only when no thread exists and none can start.
    pub fn submit(&mut self, job: Job) -> io::Result<()> {
        let busy = self.shared.busy.fetch_add(1, Ordering::SeqCst) + 1;
        if busy > self.workers.len() && self.workers.len() < self.cap {
            if let Err(e) = self.spawn() {
                if self.workers.is_empty() {
                    self.shared.busy.fetch_sub(1, Ordering::SeqCst);
                    return Err(e);
                }
            }
        }
        let mut queue = self.shared.lock();
        if queue.closed {
            drop(queue);
            self.shared.busy.fetch_sub(1, Ordering::SeqCst);
            return Err(io::Error::other("the pool is shut down"));
        }
        queue.jobs.push_back(job);
        drop(queue);
        self.shared.ready.notify_one();
        Ok(())
    }

    fn spawn(&mut self) -> io::Result<()> {
        let shared = Arc::clone(&self.shared);
        let results = self.results.clone();
        let handle = std::thread::Builder::new()
            .name(format!("check-{}", self.workers.len() + 1))
            .stack_size(STACK_SIZE)
            .spawn(move || work(&shared, &results))?;
        self.workers.push(handle);
        Ok(())
    }

    /// Stop: the queue closes (what is still queued is answered without
    /// a run once a terminating signal is pending), then wait at most
    /// `bound` for the workers. Returns how
    /// many were still running then (left to the process's exit).
    pub fn shutdown(mut self, bound: Duration) -> usize {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
        let deadline = Instant::now() + bound;
        // Bounded by `bound`: 2 ms naps until every thread has ended.
        while Instant::now() < deadline && self.workers.iter().any(|w| !w.is_finished()) {
            std::thread::sleep(Duration::from_millis(2));
        }
        let (done, running): (Vec<_>, Vec<_>) =
            self.workers.drain(..).partition(|w| w.is_finished());
        for w in done {
            let _ = w.join();
        }
        running.len()
    }
}

impl Drop for Pool {
    /// However the pool goes, its idle workers end (as they did when the
    /// channel's sender went with it).
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

impl Shared {
    /// The queue, whatever a panicking holder left (it only holds jobs).
    fn lock(&self) -> MutexGuard<'_, JobQueue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next job, waiting for one while the pool is open; `None`: the
    /// pool is shut down and nothing is left queued. Each wake-up takes
    /// a job or looks at the flag again (a spurious one: wait again).
    fn take(&self) -> Option<Job> {
        let mut queue = self.lock();
        loop {
            if let Some(job) = queue.jobs.pop_front() {
                return Some(job);
            }
            if queue.closed {
                return None;
            }
            queue = self.ready.wait(queue).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// A worker: takes jobs until the pool shuts down and its queue is empty.
/// The loop has no count of its own: each turn is one run (bounded by its
/// `-t`), and it ends when the pool does.
fn work(shared: &Shared, results: &Sender<Done>) {
    loop {
        let Some(job) = shared.take() else { return };
        let started = Instant::now();
        // After SIGTERM a queued run is not started (it would end at
        // once, interrupted); its result still comes, so no caller waits.
        let outcome = match shared.waiter.pending() {
            None => run_check(&job.spec.config, &shared.engine, &shared.waiter),
            Some(sig) => Outcome::new(
                mode(&job.spec.config).service(),
                State::Critical,
                format!("interrupted by {} before the check started", sig.name()),
            ),
        };
        let done = Done {
            run: job.run,
            check: job.check,
            outcome,
            started,
            ended: Instant::now(),
        };
        let _ = results.send(done);
        if let Some(ringer) = &shared.ringer {
            ringer.ring();
        }
        shared.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One run of `config` through `engine`, its `-t` from now; a panic is
/// the run's UNKNOWN outcome.
pub fn run_check(config: &Config, engine: &Engine, waiter: &Waiter) -> Outcome {
    let runner = Runner {
        waiter,
        started: Instant::now(),
        engine: Some(engine),
    };
    let run = || {
        if self_test_panic() {
            panic!("self-test panic ({SELF_TEST_PANIC} is set)");
        }
        checks::run(config, &runner)
    };
    match panic::catch_unwind(AssertUnwindSafe(run)) {
        Ok(outcome) => outcome,
        Err(_) => Outcome::new(
            mode(config).service(),
            State::Unknown,
            format!("internal error, please report: {}", take_panic()),
        ),
    }
}

/// The plugin's switch (`main.rs`), honoured here for each run: set, every
/// run panics on purpose, which proves from outside that a panic is that
/// run's UNKNOWN and the daemon lives on. Root only, as in the plugin.
pub const SELF_TEST_PANIC: &str = "CHECK_RAW_SELF_TEST_PANIC";

fn self_test_panic() -> bool {
    std::env::var_os(SELF_TEST_PANIC).is_some() && crate::privilege::self_test_allowed()
}

fn mode(config: &Config) -> Mode {
    match config {
        Config::Tcp(_) => Mode::Tcp,
        Config::Http(mode, _) => *mode,
        Config::Dns(_) => Mode::Dns,
        Config::Vip(_) => Mode::Vip,
    }
}

thread_local! {
    /// The last panic of this thread: message and place.
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replace the panic hook (once per process) with one that keeps the
/// message for [`take_panic`] instead of printing it.
pub fn capture_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        panic::set_hook(Box::new(|info| remember(crate::text::panic_message(info))));
    });
}

fn remember(message: String) {
    let _ = PANIC.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some(message);
        }
    });
}

/// This thread's last panic message (then forgotten), or `panic`.
pub fn take_panic() -> String {
    PANIC
        .try_with(|slot| slot.try_borrow_mut().ok().and_then(|mut s| s.take()))
        .ok()
        .flatten()
        .unwrap_or_else(|| "panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::config::ServeConfig;
    use std::path::Path;

    fn specs(n: usize, timeout_ms: u32, interval: &str) -> Vec<CheckSpec> {
        let mut toml = format!("interval = \"{interval}\"\nstate_dir = \"/tmp\"\n");
        for i in 0..n {
            toml.push_str(&format!(
                "[[check]]\nname = \"c{i}\"\ncommand = \"check_raw_tcp -t {timeout_ms} lo 198.51.100.11 203.0.113.10 80\"\n"
            ));
        }
        let lookup = |_: &str, _| Err(io::Error::other("no lookups here"));
        ServeConfig::parse(Path::new("t.toml"), &toml, &lookup)
            .unwrap()
            .checks
    }

    #[test]
    fn the_pool_fits_the_worst_case_of_the_configuration() {
        // 2 checks: never more threads than checks.
        assert_eq!(workers_for(&specs(2, 1000, "2s")), 2);
        // 100 checks of -t 1 s every 10 s: 10 in flight at worst, +25%, +4.
        assert_eq!(workers_for(&specs(100, 1000, "10s")), 17);
        // 1000 checks timing out at 900 ms of 1 s: capped.
        assert_eq!(workers_for(&specs(1000, 900, "1s")), MAX_WORKERS);
        assert_eq!(workers_for(&[]), 1);
        assert_eq!(workers_for(specs(3, 100, "1s").iter()), 3);
    }

    #[test]
    fn a_panic_message_is_taken_once_per_thread() {
        // The hook itself is not installed here: it would silence the
        // other tests' panics in this test binary.
        remember("boom at src/x.rs:1".into());
        assert_eq!(take_panic(), "boom at src/x.rs:1");
        assert_eq!(take_panic(), "panic");
        std::thread::spawn(|| remember("elsewhere".into()))
            .join()
            .unwrap();
        assert_eq!(take_panic(), "panic");
    }
}
