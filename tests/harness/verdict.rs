//! The assertions every check test makes: the exit code, the first line of
//! stdout, and that the real server was left with no open connection.

use std::fmt::Display;
use std::time::Duration;

use super::process::RunResult;
use super::testbed::Testbed;

/// How long a real server may take to notice our RST or FIN.
pub const SETTLE: Duration = Duration::from_secs(1);

/// Exit `code`, a first line starting with `prefix` and containing every
/// needle; a status line (`SERVICE STATE - `) must be the only line on
/// stdout unless the command asked for `-v`.
pub fn verdict(r: &RunResult, code: i32, prefix: &str, needles: &[&str]) -> Result<(), String> {
    if r.code != Some(code) {
        return Err(format!("wrong exit code, expected {code}\n{r}"));
    }
    let line = r.status_line();
    if !line.starts_with(prefix) {
        return Err(format!("first line should start with {prefix:?}\n{r}"));
    }
    if let Some(n) = needles.iter().find(|n| !line.contains(*n)) {
        return Err(format!("first line should contain {n:?}\n{r}"));
    }
    let verbose = r.command.split_whitespace().any(|a| a.starts_with("-v"));
    let lines = r.stdout.lines().filter(|l| !l.trim().is_empty()).count();
    if prefix.contains(" - ") && !verbose && lines != 1 {
        return Err(format!("exactly one status line expected on stdout\n{r}"));
    }
    Ok(())
}

/// `verdict`, panicking with `context` (a relay log, say) on failure.
pub fn assert_verdict_with(
    r: &RunResult,
    code: i32,
    prefix: &str,
    needles: &[&str],
    context: &dyn Display,
) {
    if let Err(e) = verdict(r, code, prefix, needles) {
        panic!("{e}\n{context}");
    }
}

pub fn assert_verdict(r: &RunResult, code: i32, prefix: &str, needles: &[&str]) {
    assert_verdict_with(r, code, prefix, needles, &"");
}

/// The run took at least `at_least_ms` and less than `below_ms`.
pub fn assert_elapsed(r: &RunResult, at_least_ms: u64, below_ms: u64) {
    assert!(
        r.elapsed >= Duration::from_millis(at_least_ms),
        "gave up before {at_least_ms} ms\n{r}"
    );
    assert!(
        r.elapsed < Duration::from_millis(below_ms),
        "took {below_ms} ms or more\n{r}"
    );
}

/// Panics with every failure collected, if any.
pub fn assert_all_ok(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// No connection left ESTABLISHED on `host:port` once the server had
/// `SETTLE` to process our RST or FIN.
pub fn assert_nothing_left_open(tb: &Testbed, host: &str, port: u16, context: &dyn Display) {
    let open = tb.wait_none_established(host, port, SETTLE);
    assert_eq!(
        open, 0,
        "{open} connection(s) left ESTABLISHED on {host}:{port} after\n{context}"
    );
}
