//! check_raw_serve under measurement (its serve.toml, state files), and
//! the flip timing: how long after rs3 loses the VIP its targets' state
//! files read `0`, and after it gets the VIP back `1`, against
//! fall × interval + timeout + 100 ms and rise × interval + 100 ms.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::bed::Target;
use super::checker::Checker;
use super::configs::{serve_toml, tcp_command};
use crate::harness::{check_raw_bin, run_local, BinLink, TempDir, Testbed, CHECK_RAW, VIP, VIP6};

/// serve.toml's interval, rise, fall, and the checks' `-t`.
const INTERVAL_MS: u64 = 1000;
const RISE: u64 = 2;
const FALL: u64 = 3;
const TIMEOUT_MS: u64 = 800;
/// The state files are read this often while a flip is timed.
const POLL: Duration = Duration::from_millis(5);
/// A flip not seen within this is reported as not seen.
const FLIP_LIMIT: Duration = Duration::from_secs(10);

/// A running check_raw_serve and its state directory.
pub struct Serve {
    pub checker: Checker,
    pub state: PathBuf,
    /// The `check_raw_serve` link, which must outlive the daemon's start.
    _bin: BinLink,
}

impl Serve {
    /// check_raw_serve in `lb`, one `[[check]]` per target (`command`),
    /// files in `dir`; an error when the daemon is not built yet.
    pub fn start(
        tb: &Testbed,
        dir: &TempDir,
        list: &[Target],
        command: impl Fn(&Target) -> String,
        what: &str,
    ) -> Result<Serve, String> {
        Serve::start_with(tb, dir, list, command, what, "", "")
    }

    /// `start` with `top` before serve.toml's keys (`listen = ...`) and
    /// `tail` after its checks (`[[module]]` tables).
    pub fn start_with(
        tb: &Testbed,
        dir: &TempDir,
        list: &[Target],
        command: impl Fn(&Target) -> String,
        what: &str,
        top: &str,
        tail: &str,
    ) -> Result<Serve, String> {
        let help = run_local(Path::new(CHECK_RAW), &["serve", "--help"]);
        if help.code != Some(0) {
            return Err("not built (`check_raw serve --help` fails)".into());
        }
        let state = dir.path().join("state");
        fs::create_dir_all(&state).map_err(|e| format!("{}: {e}", state.display()))?;
        let toml = format!("{top}{}{tail}", serve_toml(list, &state, command));
        let conf = dir.write("serve.toml", toml.as_bytes());
        let bin = check_raw_bin("check_raw_serve");
        let mut argv = vec![bin.display().to_string()];
        // As an operator runs it: no line a run (a write(2) each, ~10% of
        // a TCP run's CPU). CHECK_RAW_BENCH_VERBOSE=1: `-v`, one line a
        // run, the cross-check of the SYN count.
        if std::env::var_os("CHECK_RAW_BENCH_VERBOSE").is_some() {
            argv.push("-v".into());
        }
        argv.extend(["--config".into(), conf.display().to_string()]);
        let checker = Checker::start(tb, "lb", what, &argv, &[], dir.path())?;
        Ok(Serve {
            checker,
            state,
            _bin: bin,
        })
    }
}

/// How many files of `dir` read exactly `content`.
pub fn count_state(dir: &Path, content: &str) -> usize {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| fs::read_to_string(e.path()).is_ok_and(|s| s == content))
                .count()
        })
        .unwrap_or(0)
}

/// The flip timing, as one paragraph for the report.
pub fn run(tb: &Testbed, list: &[Target]) -> String {
    let dir = TempDir::new();
    let serve = match Serve::start(tb, &dir, list, |t| tcp_command("check_raw_tcp", t), "flip") {
        Ok(s) => s,
        Err(e) => return format!("Flip timing: {e}."),
    };
    let all_up = wait(FLIP_LIMIT, || {
        count_state(&serve.state, "1\n") == list.len()
    });
    if !all_up {
        return format!(
            "Flip timing: not all {} state files `1` within {FLIP_LIMIT:?} of the start ({} are); log: {}",
            list.len(),
            count_state(&serve.state, "1\n"),
            serve.checker.log_tail(5)
        );
    }
    let files: Vec<PathBuf> = list
        .iter()
        .filter(|t| t.host == "rs3")
        .map(|t| serve.state.join(format!("{}-{}", t.host, t.port)))
        .collect();
    let t0 = Instant::now();
    tb.remove_vip("rs3");
    let down = times(&files, "0\n", t0);
    let others_up = count_state(&serve.state, "1\n");
    let t1 = Instant::now();
    tb.add_addrs("rs3", "lo", &[&format!("{VIP}/32"), &format!("{VIP6}/128")]);
    let up = times(&files, "1\n", t1);
    let down_bound = FALL * INTERVAL_MS + TIMEOUT_MS + 100;
    let up_bound = RISE * INTERVAL_MS + 100;
    format!(
        "Flip timing (check_raw_serve, {} targets, interval {INTERVAL_MS} ms, rise {RISE}, fall {FALL}, -t {TIMEOUT_MS}): \
         rs3 loses the VIP: its {} state files read `0` after {} (bound fall × interval + timeout + 100 ms = {down_bound} ms: {}), \
         the other {} stayed `1` ({others_up} read `1`); the VIP back: `1` after {} (bound rise × interval + 100 ms = {up_bound} ms: {}).",
        list.len(),
        files.len(),
        summary(&down),
        verdict(&down, down_bound),
        list.len() - files.len(),
        summary(&up),
        verdict(&up, up_bound),
    )
}

/// For each file, ms from `t0` until it first reads `content` (None if
/// not within `FLIP_LIMIT`).
fn times(files: &[PathBuf], content: &str, t0: Instant) -> Vec<Option<u64>> {
    let mut seen: Vec<Option<u64>> = vec![None; files.len()];
    while t0.elapsed() < FLIP_LIMIT && seen.iter().any(Option::is_none) {
        for (f, s) in files.iter().zip(seen.iter_mut()) {
            if s.is_none() && fs::read_to_string(f).is_ok_and(|c| c == content) {
                *s = Some(t0.elapsed().as_millis() as u64);
            }
        }
        thread::sleep(POLL);
    }
    seen
}

fn summary(ms: &[Option<u64>]) -> String {
    let mut seen: Vec<u64> = ms.iter().flatten().copied().collect();
    seen.sort_unstable();
    if seen.is_empty() {
        return format!("(none within {FLIP_LIMIT:?})");
    }
    let missing = ms.len() - seen.len();
    format!(
        "min {} ms, median {} ms, max {} ms{}",
        seen[0],
        seen[seen.len() / 2],
        seen[seen.len() - 1],
        if missing > 0 {
            format!(", {missing} not within {FLIP_LIMIT:?}")
        } else {
            String::new()
        }
    )
}

fn verdict(ms: &[Option<u64>], bound: u64) -> &'static str {
    if ms.iter().all(|m| m.is_some_and(|m| m <= bound)) {
        "met"
    } else {
        "NOT met"
    }
}

/// Polls `ready` every 50 ms for at most `limit`.
fn wait(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ready() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    ready()
}
