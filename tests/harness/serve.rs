//! check_raw_serve under test (`tests/it/serve.rs`): its configuration and
//! state directory in a temp dir, the daemon run in the foreground in a
//! testbed namespace (`lb`), its stderr in a file the test reads while it
//! runs, its state files watched every 20 ms for any flap.
//!
//! A `ServeProc` is killed (SIGKILL to its process group) and reaped when
//! it drops, also when a test panics; the testbed then kills whatever is
//! left in its namespaces, and the temp dir goes with the `ServeBed`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::daemon::tail;
use super::files::{check_raw_bin, BinLink, TempDir};
use super::process::{self, RunResult};
use super::roles::path_str;
use super::testbed::Testbed;

/// The name under test.
pub const SERVE: &str = "check_raw_serve";
/// Every line the daemon logs starts so.
pub const LOG_PREFIX: &str = "check_raw_serve: ";
/// How often the state files are read for flaps (the brief: ~20 ms).
pub const POLL: Duration = Duration::from_millis(20);
/// How long after a state file a change's log line may come.
pub const LOG_AFTER_FILE: Duration = Duration::from_millis(100);
/// A watch stops by itself after this, even if nobody stops it.
const WATCH_LIFETIME: Duration = Duration::from_secs(120);

/// Timing of a config: `interval` (every check's), rise and fall.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub interval: Duration,
    pub rise: u32,
    pub fall: u32,
}

impl Timing {
    /// Longest a state change may take to show in the file on this loaded
    /// 2-core machine: `n` runs, one run's `timeout`, and `slack`.
    pub fn limit(&self, n: u32, timeout: Duration, slack: Duration) -> Duration {
        self.interval * n + timeout + slack
    }
}

/// One `[[check]]`: its name and command line.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub command: String,
    /// More lines of the table (`rise = 1`), each ending in `\n`.
    pub extra: String,
}

impl Check {
    pub fn new(name: &str, command: impl Into<String>) -> Check {
        Check {
            name: name.to_owned(),
            command: command.into(),
            extra: String::new(),
        }
    }

    /// The check with its own `interval`, `rise` and `fall`.
    pub fn own(mut self, timing: Timing) -> Check {
        self.extra = format!(
            "interval = \"{}ms\"\nrise = {}\nfall = {}\n",
            timing.interval.as_millis(),
            timing.rise,
            timing.fall
        );
        self
    }
}

/// A temp dir with `serve.toml` and `state/`, and the `check_raw_serve`
/// name link of the binary under test. Fields drop in order: the temp dir
/// outlives nothing that the test still runs if the test declares its
/// `ServeProc`s after the bed (locals drop in reverse order).
pub struct ServeBed {
    pub bin: BinLink,
    pub config: PathBuf,
    pub state_dir: PathBuf,
    dir: TempDir,
    runs: Mutex<usize>,
}

impl Default for ServeBed {
    fn default() -> Self {
        ServeBed::new()
    }
}

impl ServeBed {
    pub fn new() -> ServeBed {
        let dir = TempDir::new();
        let state_dir = dir.path().join("state");
        fs::create_dir(&state_dir).expect("mkdir state");
        ServeBed {
            bin: check_raw_bin(SERVE),
            config: dir.path().join("serve.toml"),
            state_dir,
            dir,
            runs: Mutex::new(0),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_str(&self) -> &str {
        path_str(&self.config)
    }

    /// The config text for `checks` with `timing`, the state files in
    /// this bed's `state/`.
    pub fn toml(&self, timing: Timing, checks: &[Check]) -> String {
        toml(&self.state_dir, timing, checks)
    }

    /// Replaces serve.toml atomically (a rename), so a reload never reads
    /// half a file.
    pub fn write_config(&self, text: &str) {
        let tmp = self.dir.path().join("serve.toml.tmp");
        fs::write(&tmp, text).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
        fs::rename(&tmp, &self.config).expect("rename serve.toml");
    }

    /// `state/NAME`.
    pub fn state_file(&self, name: &str) -> PathBuf {
        self.state_dir.join(name)
    }

    /// What `state/NAME` holds now, `None` if there is no such file.
    pub fn state(&self, name: &str) -> Option<String> {
        fs::read_to_string(self.state_file(name)).ok()
    }

    /// The names in `state/` (temporary files of an atomic write left out:
    /// they hold a `~`).
    pub fn state_names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.state_dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.contains('~'))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Starts `check_raw_serve --config serve.toml ARGS` in `host`.
    pub fn start(&self, tb: &Testbed, host: &str, args: &[&str]) -> ServeProc {
        self.start_env(tb, host, args, &[])
    }

    /// `start` with environment variables (`NOTIFY_SOCKET`...).
    pub fn start_env(
        &self,
        tb: &Testbed,
        host: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> ServeProc {
        let n = {
            let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
            *runs += 1;
            *runs
        };
        let mut argv = vec!["--config", self.config_str()];
        argv.extend(args);
        ServeProc::start(tb, host, &self.bin, &argv, env, self.dir.path(), n)
    }

    /// `check_raw_serve --config serve.toml ARGS` in `host` to its end
    /// (`--check`, `--once`, a run that must refuse its config), with the
    /// harness's hard limit.
    pub fn run(&self, tb: &Testbed, host: &str, args: &[&str]) -> RunResult {
        let mut argv = vec!["--config", self.config_str()];
        argv.extend(args);
        tb.run(host, &self.bin, &argv)
    }

    /// Polls every `POLL` until every `(name, content)` holds (`None`: no
    /// file), at most `limit`; returns how long it took (then waits
    /// `LOG_AFTER_FILE`, for the change lines), or panics with what the
    /// files and the daemon's log say.
    pub fn wait_states(
        &self,
        want: &[(&str, Option<&str>)],
        limit: Duration,
        daemon: &ServeProc,
        what: &str,
    ) -> Duration {
        let start = Instant::now();
        loop {
            if want.iter().all(|(n, v)| self.state(n).as_deref() == *v) {
                let took = start.elapsed();
                // A change's log line is written just after its file.
                thread::sleep(LOG_AFTER_FILE);
                return took;
            }
            if start.elapsed() > limit {
                panic!(
                    "{what}: state files not {want:?} within {limit:?}\n{}\n{}",
                    self.show_states(),
                    daemon.diag()
                );
            }
            if daemon.exited() {
                panic!("{what}: check_raw_serve exited\n{}", daemon.diag());
            }
            thread::sleep(POLL);
        }
    }

    /// Every state file and its content, for failure messages.
    pub fn show_states(&self) -> String {
        let mut out = format!("state files in {}:", self.state_dir.display());
        for n in self.state_names() {
            let _ = write!(out, "\n  {n}: {:?}", self.state(&n).unwrap_or_default());
        }
        out
    }

    /// Starts reading `names`' files every `POLL` on a thread.
    pub fn watch(&self, names: &[&str]) -> Watch {
        Watch::start(
            names
                .iter()
                .map(|n| ((*n).to_owned(), self.state_file(n)))
                .collect(),
        )
    }
}

/// The text of a serve.toml.
pub fn toml(state_dir: &Path, timing: Timing, checks: &[Check]) -> String {
    let mut out = format!(
        "interval = \"{}ms\"\nrise = {}\nfall = {}\nstate_dir = \"{}\"\n",
        timing.interval.as_millis(),
        timing.rise,
        timing.fall,
        state_dir.display()
    );
    for c in checks {
        let _ = write!(
            out,
            "\n[[check]]\nname = \"{}\"\ncommand = \"{}\"\n{}",
            c.name, c.command, c.extra
        );
    }
    out
}

/// A running check_raw_serve: stdout and stderr each in a file of the
/// bed's dir. Dropping it SIGKILLs its process group and reaps it.
pub struct ServeProc {
    child: Option<Child>,
    pid: libc::pid_t,
    pub started: Instant,
    stdout: PathBuf,
    stderr: PathBuf,
    command: String,
    exit: Option<(ExitStatus, Instant)>,
    _bin: BinLink,
}

impl ServeProc {
    fn start(
        tb: &Testbed,
        host: &str,
        bin: &BinLink,
        argv: &[&str],
        env: &[(&str, &str)],
        dir: &Path,
        n: usize,
    ) -> ServeProc {
        let stdout = dir.join(format!("stdout.{n}"));
        let stderr = dir.join(format!("stderr.{n}"));
        let file = |p: &Path| File::create(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let mut cmd = Command::new("ip");
        // `ip netns exec` execs the program, so the pid is the daemon's.
        cmd.args(["netns", "exec", tb.ns(host)])
            .arg(&**bin)
            .args(argv)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file(&stdout))
            .stderr(file(&stderr))
            .process_group(0);
        let command = format!("{} {}", bin.display(), argv.join(" "));
        let started = Instant::now();
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
        ServeProc {
            pid: child.id() as libc::pid_t,
            child: Some(child),
            started,
            stdout,
            stderr,
            command,
            exit: None,
            _bin: bin.clone(),
        }
    }

    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// What it wrote to stderr so far (its log).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// The log's lines, each without `LOG_PREFIX`; a line lacking it is
    /// kept whole (and fails `assert_log_prefixed`).
    pub fn lines(&self) -> Vec<String> {
        self.log()
            .lines()
            .map(|l| l.strip_prefix(LOG_PREFIX).unwrap_or(l).to_owned())
            .collect()
    }

    /// The lines (prefix stripped) that start with `start`.
    pub fn lines_starting(&self, start: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.starts_with(start))
            .collect()
    }

    /// Everything about the run, for failure messages.
    pub fn diag(&self) -> String {
        let state = match &self.exit {
            Some((s, _)) => format!("exited: {s}"),
            None if self.exited() => "exited (not reaped yet)".to_owned(),
            None => "running".to_owned(),
        };
        format!(
            "$ {} ({state}, {:?} since start)\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.started.elapsed(),
            tail(&self.stdout(), 40),
            tail(&self.log(), 80)
        )
    }

    /// Waits (polling every 20 ms, at most `limit`) for a log line, prefix
    /// stripped, that starts with `start` and contains every needle, and
    /// returns it; panics with the log otherwise, or at once if the daemon
    /// exits. Only lines past `skip` count (from `line_count()`).
    pub fn wait_line(&self, skip: usize, start: &str, needles: &[&str], limit: Duration) -> String {
        let begin = Instant::now();
        loop {
            let found = self
                .lines()
                .into_iter()
                .skip(skip)
                .find(|l| l.starts_with(start) && needles.iter().all(|n| l.contains(n)));
            if let Some(l) = found {
                return l;
            }
            if begin.elapsed() > limit {
                panic!(
                    "no log line starting {start:?} with {needles:?} within {limit:?}\n{}",
                    self.diag()
                );
            }
            if self.exited() {
                panic!(
                    "check_raw_serve exited before logging {start:?}\n{}",
                    self.diag()
                );
            }
            thread::sleep(POLL);
        }
    }

    /// How many lines the log has now (for `wait_line`'s `skip`).
    pub fn line_count(&self) -> usize {
        self.log().lines().count()
    }

    /// Sends `sig` to the daemon (not its group) unless it is reaped;
    /// returns when.
    pub fn signal(&self, sig: libc::c_int) -> Instant {
        let now = Instant::now();
        if self.child.is_some() {
            // SAFETY: plain syscall; the child is not reaped yet, so its
            // pid cannot have been reused.
            unsafe { libc::kill(self.pid, sig) };
        }
        now
    }

    /// True once it has exited (not reaped, so the pid stays ours).
    pub fn exited(&self) -> bool {
        if self.exit.is_some() || self.child.is_none() {
            return true;
        }
        // SAFETY: waitid writes into a zeroed siginfo we own; WNOWAIT
        // leaves the child to be reaped by `Child::wait`.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(
                libc::P_PID,
                self.pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            r == 0 && info.si_pid() != 0
        }
    }

    /// Waits at most `limit` (polling every 2 ms) for the exit and reaps
    /// it: its status and about when it came. `None` if still running
    /// (then it is left running, to be killed on drop).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<(ExitStatus, Instant)> {
        if let Some(e) = self.exit {
            return Some(e);
        }
        let begin = Instant::now();
        // Bounded: at most limit / 2 ms passes.
        while !self.exited() {
            if begin.elapsed() > limit {
                return None;
            }
            thread::sleep(Duration::from_millis(2));
        }
        let at = Instant::now();
        let status = self.child.take()?.wait().ok()?;
        self.exit = Some((status, at));
        self.exit
    }

    /// SIGTERM, then the exit within `limit`: its status and the time from
    /// the signal to the exit. Panics if it does not exit in time.
    pub fn terminate(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let sent = self.signal(libc::SIGTERM);
        match self.wait_exit(limit) {
            Some((status, at)) => (status, at.saturating_duration_since(sent)),
            None => panic!(
                "check_raw_serve still running {limit:?} after SIGTERM\n{}",
                self.diag()
            ),
        }
    }

    /// Panics with the log if it has exited (`what`: when).
    pub fn assert_running_for(&self, what: &str) {
        assert!(
            !self.exited(),
            "check_raw_serve exited early ({what})\n{}",
            self.diag()
        );
    }

    /// Panics with the log unless every log line starts with `LOG_PREFIX`
    /// and stdout is empty (the contract: all logs on stderr, prefixed).
    pub fn assert_log_prefixed(&self) {
        let log = self.log();
        let bad: Vec<&str> = log.lines().filter(|l| !l.starts_with(LOG_PREFIX)).collect();
        assert!(
            bad.is_empty() && self.stdout().is_empty(),
            "every log line on stderr, prefixed {LOG_PREFIX:?}, nothing on stdout; \
             these lines lack it: {bad:?}\n{}",
            self.diag()
        );
    }
}

impl Drop for ServeProc {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: the child is not reaped yet, so its pid and process
        // group are still ours.
        unsafe { libc::kill(-self.pid, libc::SIGKILL) };
        let _ = child.wait();
    }
}

/// "exit 0" or "killed by signal 9", for messages.
pub fn show_status(s: &ExitStatus) -> String {
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => format!("{s}"),
    }
}

/// What one state file held, each time it changed, as a watch saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Since the watch started.
    pub at: Duration,
    /// The content, `None` for no file.
    pub content: Option<String>,
}

/// A thread reading some state files every `POLL` and recording each
/// change of content (the first read included), until stopped (or
/// `WATCH_LIFETIME`).
pub struct Watch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<BTreeMap<String, Vec<Seen>>>>,
}

impl Watch {
    fn start(files: Vec<(String, PathBuf)>) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let begin = Instant::now();
            let mut seen: BTreeMap<String, Vec<Seen>> = BTreeMap::new();
            while !stop2.load(Ordering::SeqCst) && begin.elapsed() < WATCH_LIFETIME {
                for (name, path) in &files {
                    let content = fs::read_to_string(path).ok();
                    let list = seen.entry(name.clone()).or_default();
                    if list.last().map(|s| &s.content) != Some(&content) {
                        list.push(Seen {
                            at: begin.elapsed(),
                            content,
                        });
                    }
                }
                thread::sleep(POLL);
            }
            seen
        });
        Watch {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the thread and returns each file's history.
    pub fn stop(mut self) -> BTreeMap<String, Vec<Seen>> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Panics unless every watched file held `1\n` at every read.
pub fn assert_never_flapped(history: &BTreeMap<String, Vec<Seen>>, what: &str, diag: &str) {
    let flapped: Vec<String> = history
        .iter()
        .filter(|(_, seen)| seen.iter().any(|s| s.content.as_deref() != Some("1\n")))
        .map(|(name, seen)| format!("{name}: {seen:?}"))
        .collect();
    assert!(
        flapped.is_empty() && !history.is_empty(),
        "{what}: these state files did not hold 1 throughout (read every {POLL:?}):\n{}\n{diag}",
        flapped.join("\n")
    );
}

/// Panics unless the binary answers to `check_raw_serve` (`--version`,
/// exit 0): a clear message instead of every test failing on its own.
pub fn assert_built(bed: &ServeBed) {
    let mut cmd = Command::new(&*bed.bin);
    cmd.arg("--version");
    let r = process::run(cmd);
    assert!(
        r.code == Some(0),
        "check_raw_serve not built (the binary does not answer to the name)\n{r}"
    );
}

/// A stand-in for systemd's notify socket: a datagram socket bound in a
/// temp dir, read by the test (`$NOTIFY_SOCKET` is its path).
pub struct NotifySocket {
    sock: std::os::unix::net::UnixDatagram,
    pub path: PathBuf,
    begin: Instant,
    seen: Vec<(Duration, String)>,
}

impl NotifySocket {
    pub fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify");
        let sock = std::os::unix::net::UnixDatagram::bind(&path)
            .unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        sock.set_read_timeout(Some(POLL)).expect("read timeout");
        NotifySocket {
            sock,
            path,
            begin: Instant::now(),
            seen: Vec::new(),
        }
    }

    /// Reads what has arrived (each datagram's `KEY=VALUE` lines), for
    /// `POLL` at most.
    fn drain(&mut self) {
        let mut buf = vec![0u8; 4096];
        // Bounded: a datagram at most per pass, then the timeout.
        for _ in 0..1000 {
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    let at = self.begin.elapsed();
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    self.seen.push((at, text));
                }
                Err(_) => return,
            }
        }
    }

    /// Every datagram so far, with when it came (since the bind).
    pub fn messages(&mut self) -> &[(Duration, String)] {
        self.drain();
        &self.seen
    }

    /// Waits at most `limit` for a datagram past the first `skip` that has
    /// the line `line` (`READY=1`); returns its index.
    pub fn wait_for(&mut self, skip: usize, line: &str, limit: Duration) -> Option<usize> {
        let start = Instant::now();
        loop {
            self.drain();
            let found = self
                .seen
                .iter()
                .enumerate()
                .skip(skip)
                .find(|(_, (_, m))| m.lines().any(|l| l == line));
            if let Some((i, _)) = found {
                return Some(i);
            }
            if start.elapsed() > limit {
                return None;
            }
        }
    }

    /// The datagrams, one per line, for failure messages.
    pub fn show(&mut self) -> String {
        self.drain();
        self.seen
            .iter()
            .map(|(at, m)| format!("{at:?}: {}", m.replace('\n', " | ")))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
