//! When each check runs: every `interval`, the checks spread evenly over
//! their interval, at most one run of a check in flight.
//!
//! Check `i` of `n` runs at `start + phase_i + k * interval_i` for k = 0,
//! 1, 2, ...: the grid is fixed at start, so the runs never drift, however
//! late a run ends. `phase_i = i * interval_i / n + jitter_i`, with
//! `jitter_i` drawn once per check in `[0, interval_i / n)` from a seed the
//! caller passes, then rounded down to the check's tick (below): the even
//! spread keeps the checks from firing together (no thundering herd on the
//! engine or on a real server shared by many checks), the jitter keeps two
//! directors with the same configuration from probing in lockstep, and as
//! it stays within the check's own slot the spread stays even and every
//! check's first run falls within its first interval. A seed makes the
//! tests deterministic; the daemon passes a random one.
//!
//! The tick: phases are multiples of `tick_i = min(interval_i / 20, 50
//! ms)` (whole milliseconds), so the checks fire in groups, one group per
//! tick (1 s checks: 20 groups a second, each a twentieth of the checks),
//! and the daemon wakes once per group instead of once per check. A
//! wake-up from an idle wait costs the loop ~170 µs of CPU on the bench's
//! host against ~30 µs for a whole TCP run (bench/README.md): at 200
//! checks a second, one wake-up per check cost 150 µs a check, one per
//! group of ten 46 µs. The runs stay on their grid points (never early,
//! never late by design), and the spread is still even, at the tick's
//! grain: 5% of the interval, at most 50 ms. Intervals that are whole
//! multiples of 50 ms (the usual "1s", "2s", "500ms") share one lattice of
//! ticks, so checks of different intervals group too.
//!
//! A run is "started at T, finished at T'", whatever runs it: while a
//! check is in flight it is out of the timer set, so [`Schedule::next_due`]
//! never offers it; when it finishes, every grid point it ran over is a
//! skipped run, counted (and returned, for the check's counters), and the
//! check is back at the first grid point not before the end. The timer
//! set is a `BTreeSet` of (due, check): O(log n) per start and finish,
//! O(log n) to find the next, for any number of checks. Time is passed in,
//! never read.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The shortest interval the grid accepts (the configuration's own floor
/// is higher): a zero interval would never move the grid.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// The coarsest tick: a 2 s check still fires within 50 ms of where an
/// even spread without ticks would put it.
pub const MAX_TICK: Duration = Duration::from_millis(50);

/// The tick as a share of the interval (1/20: 5%): a 100 ms check's
/// runs group on 5 ms ticks.
const TICKS_PER_INTERVAL: u32 = 20;

/// The tick of a check with `interval`: a twentieth of it, at most
/// [`MAX_TICK`], in whole milliseconds (at least one), so that the ticks
/// of checks with round intervals coincide.
pub fn tick_of(interval: Duration) -> Duration {
    let tick = (interval / TICKS_PER_INTERVAL).min(MAX_TICK);
    Duration::from_millis(tick.as_millis().max(1) as u64)
}

/// The schedule of a set of checks, indexed as the caller gave them.
#[derive(Debug, Clone)]
pub struct Schedule {
    checks: Vec<CheckTiming>,
    /// (next due, check) of every check not in flight.
    due: BTreeSet<(Instant, usize)>,
}

#[derive(Debug, Clone)]
struct CheckTiming {
    interval: Duration,
    /// The next grid point (while waiting) or the one the run in flight
    /// serves.
    next: Instant,
    in_flight: bool,
    skipped: u64,
}

impl Schedule {
    /// One check per interval in `intervals` (each at least
    /// [`MIN_INTERVAL`]), spread from `start`, jittered from `seed`.
    pub fn new(intervals: &[Duration], start: Instant, seed: u64) -> Schedule {
        let n = intervals.len().max(1) as u128;
        let mut checks = Vec::with_capacity(intervals.len());
        let mut due = BTreeSet::new();
        for (i, interval) in intervals.iter().enumerate() {
            let interval = (*interval).max(MIN_INTERVAL);
            let nanos = interval.as_nanos();
            let slot = (nanos / n).max(1);
            let jitter = u128::from(splitmix64(seed.wrapping_add(i as u64))) % slot;
            let tick = tick_of(interval).as_nanos();
            let phase = (nanos * i as u128 / n + jitter) / tick * tick;
            let next = start + Duration::from_nanos(phase as u64);
            checks.push(CheckTiming {
                interval,
                next,
                in_flight: false,
                skipped: 0,
            });
            due.insert((next, i));
        }
        Schedule { checks, due }
    }

    pub fn len(&self) -> usize {
        self.checks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// The check due first among those not in flight, and when: the
    /// driver sleeps until then, or starts it at once if that is past.
    /// `None` when there is no check or all are in flight.
    pub fn next_due(&self) -> Option<(usize, Instant)> {
        self.due.first().map(|&(at, i)| (i, at))
    }

    /// The check to start at `now`, if one is due by then.
    pub fn due_by(&self, now: Instant) -> Option<usize> {
        self.next_due().filter(|&(_, at)| at <= now).map(|(i, _)| i)
    }

    /// Check `i`'s run started at `now`; it serves its next grid point
    /// (even when started early or late: the grid, not the start time,
    /// decides the next run, so `now` changes nothing here). False, and
    /// nothing changes, if it was already in flight: one run per check at
    /// a time.
    pub fn started(&mut self, i: usize, _now: Instant) -> bool {
        let check = &mut self.checks[i];
        if check.in_flight {
            return false;
        }
        self.due.remove(&(check.next, i));
        check.in_flight = true;
        true
    }

    /// Check `i`'s run finished at `now`. Returns how many of its grid
    /// points passed while it was in flight (before `now`): runs skipped,
    /// also added to [`Schedule::skipped`]. A finish without a start
    /// changes nothing and returns 0.
    pub fn finished(&mut self, i: usize, now: Instant) -> u64 {
        let check = &mut self.checks[i];
        if !check.in_flight {
            return 0;
        }
        let mut next = check.next + check.interval;
        let mut skipped = 0;
        if next < now {
            // Whole intervals at once: a run (or a driver) stalled for an
            // hour costs one division, not a loop per interval.
            let behind = (now - next).as_nanos() / check.interval.as_nanos();
            next += Duration::from_nanos((behind * check.interval.as_nanos()) as u64);
            skipped = behind as u64;
            if next < now {
                next += check.interval;
                skipped += 1;
            }
        }
        check.next = next;
        check.in_flight = false;
        check.skipped += skipped;
        self.due.insert((next, i));
        skipped
    }

    pub fn in_flight(&self, i: usize) -> bool {
        self.checks[i].in_flight
    }

    pub fn interval(&self, i: usize) -> Duration {
        self.checks[i].interval
    }

    /// Check `i`'s runs skipped so far.
    pub fn skipped(&self, i: usize) -> u64 {
        self.checks[i].skipped
    }
}

/// One step of SplitMix64: a seed to a well-mixed 64-bit number, so
/// consecutive check indices get unrelated jitters.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Drives `schedule` from `t0` until `t0 + length` as the daemon
    /// would: finishes first, then every check due by now; a run of check
    /// `i` started at `t` lasts `run(i, t)`. Returns the starts.
    fn simulate(
        schedule: &mut Schedule,
        t0: Instant,
        length: Duration,
        run: impl Fn(usize, Instant) -> Duration,
    ) -> Vec<(usize, Instant)> {
        let end = t0 + length;
        let mut running: BinaryHeap<Reverse<(Instant, usize)>> = BinaryHeap::new();
        let mut starts = Vec::new();
        let mut now = t0;
        loop {
            while let Some(&Reverse((at, i))) = running.peek() {
                if at > now {
                    break;
                }
                running.pop();
                schedule.finished(i, at);
            }
            while let Some(i) = schedule.due_by(now) {
                assert!(schedule.started(i, now));
                starts.push((i, now));
                running.push(Reverse((now + run(i, now), i)));
            }
            let wake = [
                schedule.next_due().map(|(_, at)| at),
                running.peek().map(|Reverse((at, _))| *at),
            ];
            match wake.into_iter().flatten().min() {
                Some(at) if at < end => now = at.max(now),
                _ => return starts,
            }
        }
    }

    #[test]
    fn two_thousand_checks_run_every_interval_spread_over_it() {
        let n = 2_000;
        let t0 = Instant::now();
        let mut schedule = Schedule::new(&vec![Duration::from_secs(1); n], t0, 21);
        // Runs of 1 to 40 ms, different per check and per run.
        let starts = simulate(&mut schedule, t0, Duration::from_secs(60), |i, t| {
            ms(1 + splitmix64(i as u64 ^ (t - t0).as_nanos() as u64) % 40)
        });
        let mut count = vec![0u32; n];
        for &(i, _) in &starts {
            count[i] += 1;
        }
        assert!(count.iter().all(|&c| c == 60), "{:?}", &count[..10]);
        assert!((0..n).all(|i| schedule.skipped(i) == 0));
        // Spread at the tick's grain: 1 s checks group on 50 ms ticks, so
        // each second's starts fall on 20 instants, a twentieth of the
        // checks each (to within the slot a jitter may cross), and no
        // 10 ms window holds more than one group.
        let mut times: Vec<Instant> = starts.iter().map(|&(_, t)| t).collect();
        times.sort();
        let mut busiest = 0;
        let mut lo = 0;
        for hi in 0..times.len() {
            while times[hi] - times[lo] >= ms(10) {
                lo += 1;
            }
            busiest = busiest.max(hi - lo + 1);
        }
        assert!(busiest <= n / 20 + 2, "{busiest} starts in 10 ms");
        let mut instants = times.clone();
        instants.dedup();
        assert_eq!(instants.len(), 60 * 20, "one group per tick");
        assert!(times.iter().all(|t| (*t - t0).as_millis() % 50 == 0));
        // Each check keeps its grid: one interval between its starts.
        let mut last = vec![None; n];
        for &(i, t) in &starts {
            if let Some(prev) = last[i] {
                assert_eq!(t - prev, Duration::from_secs(1));
            }
            last[i] = Some(t);
        }
    }

    #[test]
    fn ticks_group_runs_and_round_intervals_share_them() {
        assert_eq!(tick_of(ms(1000)), ms(50));
        assert_eq!(tick_of(ms(2000)), ms(50));
        assert_eq!(tick_of(ms(500)), ms(25));
        assert_eq!(tick_of(ms(100)), ms(5));
        assert_eq!(tick_of(ms(10)), ms(1), "never below a millisecond");
        assert_eq!(tick_of(Duration::ZERO), ms(1));
        // 150 checks of 1 s and 150 of 2 s: every start on the 50 ms
        // lattice, so the two intervals' groups coincide.
        let t0 = Instant::now();
        let intervals: Vec<Duration> = (0..300).map(|i| ms(1000 * (1 + i % 2))).collect();
        let mut schedule = Schedule::new(&intervals, t0, 5);
        let starts = simulate(&mut schedule, t0, Duration::from_secs(10), |_, _| ms(3));
        assert_eq!(starts.len(), 150 * 10 + 150 * 5);
        assert!(starts.iter().all(|(_, t)| (*t - t0).as_millis() % 50 == 0));
        let mut instants: Vec<Instant> = starts.iter().map(|&(_, t)| t).collect();
        instants.dedup();
        assert_eq!(instants.len(), 10 * 20, "wake-ups: one per 50 ms tick");
    }

    #[test]
    fn every_first_run_falls_within_the_first_interval_in_index_order() {
        let t0 = Instant::now();
        let schedule = Schedule::new(&[ms(1000); 10], t0, 7);
        let phases: Vec<Duration> = (0..10).map(|i| schedule.checks[i].next - t0).collect();
        for (i, phase) in phases.iter().enumerate() {
            assert!(*phase >= ms(100 * i as u64), "{i}: {phase:?}");
            assert!(*phase < ms(100 * (i as u64 + 1)), "{i}: {phase:?}");
        }
        let again = Schedule::new(&[ms(1000); 10], t0, 7);
        let other = Schedule::new(&[ms(1000); 10], t0, 8);
        let next = |s: &Schedule| s.checks.iter().map(|c| c.next).collect::<Vec<_>>();
        assert_eq!(next(&schedule), next(&again));
        assert_ne!(next(&schedule), next(&other));
    }

    #[test]
    fn each_check_keeps_its_own_interval() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new(&[ms(500), ms(2000), ms(1000)], t0, 1);
        let starts = simulate(&mut schedule, t0, Duration::from_secs(60), |_, _| ms(5));
        let count = |i| starts.iter().filter(|&&(c, _)| c == i).count();
        assert_eq!((count(0), count(1), count(2)), (120, 30, 60));
    }

    #[test]
    fn a_run_over_its_next_grid_points_skips_and_counts_them() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new(&[ms(1000)], t0, 0);
        let (i, p) = schedule.next_due().unwrap();
        assert_eq!(i, 0);
        assert!(
            p >= t0 && p < t0 + ms(1000),
            "first run in the first interval"
        );
        assert_eq!(schedule.due_by(p - ms(1)), None);
        assert_eq!(schedule.due_by(p), Some(0));
        assert!(schedule.started(0, p));
        assert!(!schedule.started(0, p), "one run in flight at a time");
        assert_eq!(schedule.next_due(), None);
        assert_eq!(schedule.due_by(p + ms(5000)), None);
        // 2.5 s: the points at 1 s and 2 s passed in flight.
        assert_eq!(schedule.finished(0, p + ms(2500)), 2);
        assert_eq!(schedule.skipped(0), 2);
        assert_eq!(schedule.next_due(), Some((0, p + ms(3000))));
        // Ending exactly on a grid point skips nothing: it runs then.
        schedule.started(0, p + ms(3000));
        assert_eq!(schedule.finished(0, p + ms(4000)), 0);
        assert_eq!(schedule.next_due(), Some((0, p + ms(4000))));
        assert_eq!(schedule.finished(0, p + ms(4000)), 0, "no run in flight");
    }

    #[test]
    fn a_late_start_stays_on_the_grid_and_a_long_stall_is_one_step() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new(&[ms(1000)], t0, 0);
        let (_, p) = schedule.next_due().unwrap();
        // Started 300 ms late, short run: next at the next grid point.
        schedule.started(0, p + ms(300));
        assert_eq!(schedule.finished(0, p + ms(310)), 0);
        assert_eq!(schedule.next_due(), Some((0, p + ms(1000))));
        // A run that hangs for an hour (served 1 s, ends 3,600.5 s): the
        // points at 2 s ..= 3,600 s are skipped, the next is 3,601 s.
        schedule.started(0, p + ms(1000));
        let hour = Duration::from_secs(3600);
        assert_eq!(schedule.finished(0, p + hour + ms(500)), 3599);
        assert_eq!(schedule.next_due(), Some((0, p + hour + ms(1000))));
    }

    #[test]
    fn an_overlap_in_a_simulation_is_skipped_and_counted() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new(&[ms(1000), ms(1000)], t0, 3);
        // Check 1's runs take 1.5 s: every other grid point is skipped.
        let starts = simulate(&mut schedule, t0, Duration::from_secs(10), |i, _| {
            if i == 1 {
                ms(1500)
            } else {
                ms(10)
            }
        });
        let count = |i| starts.iter().filter(|&&(c, _)| c == i).count();
        assert_eq!(count(0), 10);
        assert_eq!(count(1), 5);
        assert_eq!(schedule.skipped(0), 0);
        assert_eq!(
            schedule.skipped(1),
            4,
            "the 10th point's run ends after the end"
        );
        assert!(schedule.in_flight(1));
    }

    #[test]
    fn no_check_and_a_zero_interval_are_harmless() {
        let t0 = Instant::now();
        let empty = Schedule::new(&[], t0, 0);
        assert!(empty.is_empty());
        assert_eq!(empty.next_due(), None);
        let mut zero = Schedule::new(&[Duration::ZERO], t0, 0);
        assert_eq!(zero.interval(0), MIN_INTERVAL);
        let (_, p) = zero.next_due().unwrap();
        zero.started(0, p);
        assert_eq!(zero.finished(0, p + ms(10)), 9);
    }
}
