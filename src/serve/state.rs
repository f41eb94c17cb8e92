//! The rise/fall machine of one check: the runs' results in, a state
//! change (and its one log line) out.
//!
//! keepalived reads a plugin's exit code as up or down; check_raw_serve
//! must read its own runs the same way, so an operator moving from
//! MISC_CHECK sees the same decisions: OK and WARNING are up, CRITICAL and
//! UNKNOWN are failures ([`Verdict`]). One result never moves a server:
//! it goes up after `rise` consecutive ups and down after `fall`
//! consecutive failures, as HAProxy's and keepalived's `rise`/`fall` do.
//!
//! # Where a check starts
//!
//! - A state file left by a previous run (`1` or `0`, see
//!   [`super::statefile::read_existing`]) is the starting state: a restart
//!   of the daemon must not flap healthy servers, so what keepalived
//!   already acts on stays until the check's own rise/fall decides.
//! - With no file (or one that is not ours) the check starts Down and the
//!   daemon writes `0`: fail closed. Starting Up would put a server that
//!   was never checked into the pool for up to `fall` intervals; starting
//!   Down costs a healthy new server `rise` intervals before it takes
//!   traffic, which is what adding a server to a pool should cost.
//!
//! Either way the daemon writes the starting state at start
//! ([`RiseFall::health`]), and after that only what [`RiseFall::observe`]
//! returns. Time is passed in, never read: the machine is a value a test
//! drives in microseconds.

use std::fmt;
use std::time::{Duration, Instant};

use crate::outcome::State;

/// A run's result as keepalived reads a plugin's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// OK or WARNING: the server may take traffic.
    Up,
    /// CRITICAL or UNKNOWN: it may not (UNKNOWN too: a check that cannot
    /// tell must not keep a server in the pool forever).
    Failure,
}

impl From<State> for Verdict {
    fn from(state: State) -> Verdict {
        match state {
            State::Ok | State::Warning => Verdict::Up,
            State::Critical | State::Unknown => Verdict::Failure,
        }
    }
}

/// What keepalived is told about a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Up,
    Down,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Up => "UP",
            Health::Down => "DOWN",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One state change: what the daemon writes to the state file and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The check's name (`[[check]] name`).
    pub name: String,
    /// The new state.
    pub health: Health,
    /// The status line of the run that decided it.
    pub status_line: String,
    /// When it changed (the run's end).
    pub since: Instant,
    /// How long the previous state had held (since the start, for the
    /// first change).
    pub after: Duration,
    /// The consecutive results that decided it (`rise` or `fall`).
    pub streak: u32,
}

impl fmt::Display for Change {
    /// The one log line per change, for stderr (journald): name, new
    /// state, the run's status line. The status line is made one line
    /// here, whoever wrote it, so one change is one journal entry.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let results = match (self.health, self.streak) {
            (Health::Up, 1) => "1 up result",
            (Health::Up, _) => "up results",
            (Health::Down, 1) => "1 failure",
            (Health::Down, _) => "failures",
        };
        let line = crate::text::one_line(&self.status_line);
        if self.streak == 1 {
            write!(f, "{}: {} after {results}", self.name, self.health)?;
        } else {
            write!(
                f,
                "{}: {} after {} {results}",
                self.name, self.health, self.streak
            )?;
        }
        write!(
            f,
            " (was {} for {:.1}s): {line}",
            opposite(self.health),
            self.after.as_secs_f64()
        )
    }
}

fn opposite(health: Health) -> Health {
    match health {
        Health::Up => Health::Down,
        Health::Down => Health::Up,
    }
}

/// The counters issue 22's metrics read (fields only: no exporter here).
/// They belong to the check, not to the schedule, so a reload that keeps
/// a check keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckCounters {
    /// Finished runs by result, indexed by [`State::nagios_code`]
    /// (OK, WARNING, CRITICAL, UNKNOWN).
    pub runs: [u64; 4],
    /// State changes decided by rise/fall (the start is not one).
    pub changes: u64,
    /// The end of the last finished run.
    pub last_run: Option<Instant>,
    /// Runs skipped because the previous one was still in flight (the
    /// schedule says how many; the driver adds them with
    /// [`RiseFall::skipped`]).
    pub skipped: u64,
}

impl CheckCounters {
    pub fn runs_of(&self, state: State) -> u64 {
        self.runs[state.nagios_code() as usize]
    }
}

/// The rise/fall machine of one check.
#[derive(Debug, Clone)]
pub struct RiseFall {
    name: String,
    rise: u32,
    fall: u32,
    health: Health,
    /// Consecutive results against `health` (reset by one that agrees).
    streak: u32,
    since: Instant,
    counters: CheckCounters,
}

impl RiseFall {
    /// A check at start: `existing` is what its state file held
    /// ([`super::statefile::read_existing`]); `None` starts Down (fail
    /// closed, see the module's comment). `rise` and `fall` of 0 count
    /// as 1: no result can change a state in zero results.
    pub fn new(
        name: impl Into<String>,
        rise: u32,
        fall: u32,
        existing: Option<Health>,
        now: Instant,
    ) -> RiseFall {
        RiseFall {
            name: name.into(),
            rise: rise.max(1),
            fall: fall.max(1),
            health: existing.unwrap_or(Health::Down),
            streak: 0,
            since: now,
            counters: CheckCounters::default(),
        }
    }

    /// One finished run: its Nagios state, its status line, its end.
    /// Returns the change when this run decides one. The result's state
    /// (not only its [`Verdict`]) comes in so the counters can say OK
    /// from WARNING and CRITICAL from UNKNOWN.
    pub fn observe(&mut self, result: State, status_line: &str, now: Instant) -> Option<Change> {
        self.counters.runs[result.nagios_code() as usize] += 1;
        self.counters.last_run = Some(now);
        let (against, needed) = match (self.health, Verdict::from(result)) {
            (Health::Up, Verdict::Up) | (Health::Down, Verdict::Failure) => (false, 0),
            (Health::Up, Verdict::Failure) => (true, self.fall),
            (Health::Down, Verdict::Up) => (true, self.rise),
        };
        if !against {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        if self.streak < needed {
            return None;
        }
        let change = Change {
            name: self.name.clone(),
            health: opposite(self.health),
            status_line: status_line.to_string(),
            since: now,
            after: now.saturating_duration_since(self.since),
            streak: self.streak,
        };
        self.health = change.health;
        self.streak = 0;
        self.since = now;
        self.counters.changes += 1;
        Some(change)
    }

    /// Runs the schedule skipped (the previous run still in flight).
    /// They change no state: a skipped run is no result.
    pub fn skipped(&mut self, runs: u64) {
        self.counters.skipped += runs;
    }

    /// A reload that keeps this check with new rise/fall: the state and
    /// the counters stay; a streak already long enough decides at the
    /// next result against the state, not before (a reload is no run).
    pub fn set_thresholds(&mut self, rise: u32, fall: u32) {
        self.rise = rise.max(1);
        self.fall = fall.max(1);
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The current state: what the state file must hold.
    pub fn health(&self) -> Health {
        self.health
    }

    /// Since when the current state holds (the start, before any change).
    pub fn since(&self) -> Instant {
        self.since
    }

    /// Consecutive results against the current state so far.
    pub fn streak(&self) -> u32 {
        self.streak
    }

    pub fn counters(&self) -> &CheckCounters {
        &self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, secs: u64) -> Instant {
        start + Duration::from_secs(secs)
    }

    #[test]
    fn warning_is_up_unknown_is_a_failure_as_keepalived_reads_them() {
        assert_eq!(Verdict::from(State::Ok), Verdict::Up);
        assert_eq!(Verdict::from(State::Warning), Verdict::Up);
        assert_eq!(Verdict::from(State::Critical), Verdict::Failure);
        assert_eq!(Verdict::from(State::Unknown), Verdict::Failure);
    }

    #[test]
    fn no_file_starts_down_and_rises_after_rise_ups() {
        let t0 = Instant::now();
        let mut m = RiseFall::new("web-rs1", 2, 3, None, t0);
        assert_eq!(m.health(), Health::Down);
        assert_eq!(m.observe(State::Ok, "TCP OK - 1 ms", at(t0, 1)), None);
        assert_eq!(m.streak(), 1);
        let change = m.observe(State::Warning, "TCP WARNING - 900 ms", at(t0, 2));
        let change = change.expect("two ups with rise 2 bring it up");
        assert_eq!(change.name, "web-rs1");
        assert_eq!(change.health, Health::Up);
        assert_eq!(change.status_line, "TCP WARNING - 900 ms");
        assert_eq!(change.since, at(t0, 2));
        assert_eq!(change.after, Duration::from_secs(2));
        assert_eq!(m.health(), Health::Up);
        assert_eq!(m.since(), at(t0, 2));
        assert_eq!(m.streak(), 0);
    }

    #[test]
    fn up_falls_only_after_fall_consecutive_failures() {
        let t0 = Instant::now();
        let mut m = RiseFall::new("a", 2, 3, Some(Health::Up), t0);
        assert_eq!(m.observe(State::Critical, "c", at(t0, 1)), None);
        assert_eq!(m.observe(State::Unknown, "u", at(t0, 2)), None);
        // One up result in between starts the count again.
        assert_eq!(m.observe(State::Ok, "ok", at(t0, 3)), None);
        assert_eq!(m.streak(), 0);
        assert_eq!(m.observe(State::Critical, "c", at(t0, 4)), None);
        assert_eq!(m.observe(State::Critical, "c", at(t0, 5)), None);
        let change = m.observe(State::Critical, "CRITICAL - gone", at(t0, 6));
        assert_eq!(change.map(|c| c.health), Some(Health::Down));
        assert_eq!(m.health(), Health::Down);
    }

    #[test]
    fn an_existing_file_is_kept_until_rise_or_fall_decides() {
        // A restart with healthy servers: the file said 1, the first runs
        // are OK, nothing changes (no flap through Down).
        let t0 = Instant::now();
        let mut up = RiseFall::new("a", 2, 3, Some(Health::Up), t0);
        for s in 1..10 {
            assert_eq!(up.observe(State::Ok, "ok", at(t0, s)), None);
        }
        assert_eq!(up.health(), Health::Up);
        // The file said 0: the server stays out until rise ups.
        let mut down = RiseFall::new("b", 2, 3, Some(Health::Down), t0);
        assert_eq!(down.observe(State::Ok, "ok", at(t0, 1)), None);
        assert_eq!(down.health(), Health::Down);
        assert!(down.observe(State::Ok, "ok", at(t0, 2)).is_some());
    }

    #[test]
    fn rise_and_fall_of_one_flip_on_every_disagreeing_result() {
        let t0 = Instant::now();
        let mut m = RiseFall::new("a", 0, 1, None, t0);
        assert!(m.observe(State::Ok, "ok", at(t0, 1)).is_some());
        assert!(m.observe(State::Critical, "c", at(t0, 2)).is_some());
        assert!(m.observe(State::Warning, "w", at(t0, 3)).is_some());
        assert_eq!(m.counters().changes, 3);
    }

    #[test]
    fn counters_count_runs_by_result_changes_last_run_and_skips() {
        let t0 = Instant::now();
        let mut m = RiseFall::new("a", 1, 2, None, t0);
        m.observe(State::Ok, "ok", at(t0, 1));
        m.observe(State::Warning, "w", at(t0, 2));
        m.observe(State::Critical, "c", at(t0, 3));
        m.observe(State::Unknown, "u", at(t0, 4));
        m.skipped(2);
        m.skipped(1);
        let c = m.counters();
        assert_eq!(c.runs, [1, 1, 1, 1]);
        assert_eq!(c.runs_of(State::Unknown), 1);
        assert_eq!(c.changes, 2);
        assert_eq!(c.last_run, Some(at(t0, 4)));
        assert_eq!(c.skipped, 3);
        assert_eq!(m.health(), Health::Down);
    }

    #[test]
    fn new_thresholds_keep_state_and_counters() {
        let t0 = Instant::now();
        let mut m = RiseFall::new("a", 3, 3, None, t0);
        m.observe(State::Ok, "ok", at(t0, 1));
        m.set_thresholds(2, 2);
        assert_eq!(m.health(), Health::Down);
        assert_eq!(m.counters().runs_of(State::Ok), 1);
        assert!(m.observe(State::Ok, "ok", at(t0, 2)).is_some());
    }

    #[test]
    fn the_log_line_names_the_check_its_state_and_the_status_line() {
        let t0 = Instant::now();
        let mut m = RiseFall::new("web-rs1", 2, 3, Some(Health::Up), t0);
        m.observe(State::Critical, "x", at(t0, 1));
        m.observe(State::Critical, "x", at(t0, 2));
        let line = m
            .observe(
                State::Critical,
                "CHECK_RAW_TCP CRITICAL - no answer\nsecond | time=1s",
                at(t0, 3),
            )
            .unwrap()
            .to_string();
        assert_eq!(
            line,
            "web-rs1: DOWN after 3 failures (was UP for 3.0s): \
             CHECK_RAW_TCP CRITICAL - no answer second | time=1s"
        );
        let mut one = RiseFall::new("b", 1, 1, None, t0);
        let line = one.observe(State::Ok, "OK", at(t0, 1)).unwrap().to_string();
        assert_eq!(line, "b: UP after 1 up result (was DOWN for 1.0s): OK");
    }
}
