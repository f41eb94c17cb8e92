//! `check_raw_serve --once`: every check of the file once, concurrently,
//! through the daemon's pool and packet engine, reported as one Nagios
//! plugin: a first line with the counts and the worst state, then one line
//! per check in file order.
//!
//! ```text
//! CHECK_RAW_SERVE OK - 3 checks: 3 ok, 0 warning, 0 critical, 0 unknown | ok=3;;;0;3 warning=0;;;0;3 critical=0;;;0;3 unknown=0;;;0;3 time=0.012s;;;0
//! web-rs1: RAW_HTTP OK - ...
//! ```
//!
//! The exit code is the worst check's Nagios code (0..3, the highest).
//! The lines after the first are Nagios long output, where a `|` would
//! start perfdata (and swallow the lines after it): each check's own
//! perfdata bar is shown as `¦` there, as the plugin shows its detail
//! lines. No state file is read or written.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::net::shared::Engine;
use crate::outcome::{Outcome, State};
use crate::wait::Waiter;

use super::config::ServeConfig;
use super::pool::{Done, Job, Pool, MAX_WORKERS};

/// The service name of `--once`'s first line.
pub const SERVICE: &str = "CHECK_RAW_SERVE";

/// Past the longest `-t`, how long the last result may take (a clean
/// close, a socket's close, a queue behind a full pool) before it is
/// reported missing.
const GRACE: Duration = Duration::from_secs(5);

/// Run every check of `config` once; the report and the exit code.
pub fn run(config: &ServeConfig, waiter: Arc<Waiter>, verbose: bool) -> (String, i32) {
    let started = Instant::now();
    let n = config.checks.len();
    let (tx, rx) = mpsc::channel::<Done>();
    let cap = n.min(MAX_WORKERS);
    let mut pool = Pool::new(Arc::new(Engine::new()), waiter, tx, None, cap);
    let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
    for (i, spec) in config.checks.iter().enumerate() {
        let job = Job {
            run: i as u64,
            check: i as u64,
            spec: Arc::new(spec.clone()),
        };
        if let Err(e) = pool.submit(job) {
            outcomes[i] = Some(Outcome::new(
                SERVICE,
                State::Unknown,
                format!("cannot start a worker thread: {e}"),
            ));
        }
    }
    let longest = config
        .checks
        .iter()
        .map(|c| c.config.common().timeout)
        .max()
        .unwrap_or_default();
    let deadline = started + longest + GRACE;
    // At most one result per check, each waited for until the deadline.
    for _ in 0..n {
        if outcomes.iter().all(Option::is_some) {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(done) => {
                if let Some(slot) = outcomes.get_mut(done.run as usize) {
                    *slot = Some(done.outcome);
                }
            }
            Err(_) => break,
        }
    }
    let elapsed = started.elapsed();
    let _ = pool.shutdown(Duration::from_millis(200));
    let missing = format!("no result within {} ms", (longest + GRACE).as_millis());
    let results: Vec<(String, Outcome)> = config
        .checks
        .iter()
        .zip(outcomes)
        .map(|(spec, o)| {
            let o = o.unwrap_or_else(|| Outcome::new(SERVICE, State::Unknown, missing.clone()));
            (spec.name.clone(), o)
        })
        .collect();
    report(&results, elapsed, verbose)
}

/// The report of `results` (name, outcome, in file order) that took
/// `elapsed`, and its exit code.
pub fn report(results: &[(String, Outcome)], elapsed: Duration, verbose: bool) -> (String, i32) {
    let mut counts = [0usize; 4];
    for (_, o) in results {
        counts[o.state.nagios_code() as usize] += 1;
    }
    let worst = results
        .iter()
        .map(|(_, o)| o.state)
        .max_by_key(|s| s.nagios_code())
        .unwrap_or(State::Unknown);
    let n = results.len();
    let [ok, warning, critical, unknown] = counts;
    let perf = |label: &str, v: usize| format!("{label}={v};;;0;{n}");
    let mut out = format!(
        "{SERVICE} {worst} - {}: {ok} ok, {warning} warning, {critical} critical, {unknown} unknown | {} {} {} {} time={:.3}s;;;0\n",
        super::count_checks(n),
        perf("ok", ok),
        perf("warning", warning),
        perf("critical", critical),
        perf("unknown", unknown),
        elapsed.as_secs_f64(),
    );
    for (name, o) in results {
        out.push_str(&long_output(&format!("{name}: {}", o.status_line())));
        if verbose {
            for line in &o.details {
                out.push_str(&long_output(&format!("  {line}")));
            }
        }
    }
    (out, worst.nagios_code())
}

/// A config or usage error of `--once`: the plugin's UNKNOWN line.
pub fn refused(message: &str) -> (String, i32) {
    let line = Outcome::new(SERVICE, State::Unknown, message).status_line();
    (format!("{line}\n"), State::Unknown.nagios_code())
}

fn long_output(line: &str) -> String {
    format!("{}\n", line.replace('|', "\u{a6}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Perf;

    fn outcome(state: State, text: &str) -> Outcome {
        Outcome::new("RAW_TCP", state, text).with_perf(Perf::time(Duration::from_micros(410)))
    }

    #[test]
    fn all_ok_is_ok_with_counts_and_perfdata() {
        let results = vec![
            (
                "a".to_string(),
                outcome(State::Ok, "203.0.113.10:80 answers"),
            ),
            ("b".to_string(), outcome(State::Ok, "fine")),
            ("c".to_string(), outcome(State::Ok, "fine")),
        ];
        let (text, code) = report(&results, Duration::from_millis(12), false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "CHECK_RAW_SERVE OK - 3 checks: 3 ok, 0 warning, 0 critical, 0 unknown | \
             ok=3;;;0;3 warning=0;;;0;3 critical=0;;;0;3 unknown=0;;;0;3 time=0.012s;;;0"
        );
        assert_eq!(
            lines[1],
            "a: RAW_TCP OK - 203.0.113.10:80 answers\u{a6}time=0.000410s;;;0.000000"
        );
        assert_eq!(lines.len(), 4);
        assert_eq!(code, 0);
    }

    #[test]
    fn the_worst_code_wins_and_details_come_with_verbose() {
        let mut crit = outcome(State::Critical, "no answer");
        crit.details = vec!["role: MASTER | x".into()];
        let results = vec![
            ("a".to_string(), outcome(State::Warning, "slow")),
            ("b".to_string(), crit),
        ];
        let (text, code) = report(&results, Duration::from_millis(1500), false);
        assert!(text.starts_with(
            "CHECK_RAW_SERVE CRITICAL - 2 checks: 0 ok, 1 warning, 1 critical, 0 unknown | "
        ));
        assert!(text.lines().next().unwrap().ends_with(" time=1.500s;;;0"));
        assert_eq!(code, 2);
        assert_eq!(text.lines().count(), 3);
        let (verbose, _) = report(&results, Duration::ZERO, true);
        assert_eq!(verbose.lines().nth(3), Some("  role: MASTER \u{a6} x"));
        let unknown = vec![
            ("a".to_string(), outcome(State::Critical, "x")),
            ("b".to_string(), outcome(State::Unknown, "y")),
        ];
        assert_eq!(report(&unknown, Duration::ZERO, false).1, 3);
        let one = vec![("a".to_string(), outcome(State::Ok, "x"))];
        assert!(report(&one, Duration::ZERO, false)
            .0
            .contains(" - 1 check: 1 ok,"));
    }

    #[test]
    fn a_refusal_is_one_unknown_line() {
        let (text, code) = refused("/etc/x.toml:3: rise: must be from 1 to 100, not 0");
        assert_eq!(
            text,
            "CHECK_RAW_SERVE UNKNOWN - /etc/x.toml:3: rise: must be from 1 to 100, not 0\n"
        );
        assert_eq!(code, 3);
    }
}
