//! Running a program to completion with a hard time limit, capturing what a
//! test needs to judge it: exit code or signal, stdout, stderr, wall time.
//!
//! A check that hangs must fail its test, not hang the suite, so every run is
//! killed (with its whole process group) after `HARD_LIMIT`. `spawn` starts
//! one without waiting, for tests that signal it or keep it running in the
//! background; it too is killed when dropped.

use std::fmt;
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// No single program run by a test may take longer than this.
pub const HARD_LIMIT: Duration = Duration::from_secs(30);

/// What one program run produced.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The command line, for failure messages.
    pub command: String,
    /// Exit code, `None` if the program died by a signal.
    pub code: Option<i32>,
    /// The signal that ended the program, if any.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// From spawn to exit (includes `ip netns exec`'s few milliseconds).
    pub elapsed: Duration,
    /// The harness killed it at its time limit.
    pub killed: bool,
}

impl RunResult {
    /// The first line of stdout (the plugin status line), or "".
    pub fn status_line(&self) -> &str {
        self.stdout.lines().next().unwrap_or("")
    }

    /// Non-empty lines of stdout and stderr together.
    pub fn line_count(&self) -> usize {
        self.stdout
            .lines()
            .chain(self.stderr.lines())
            .filter(|l| !l.trim().is_empty())
            .count()
    }
}

/// Everything about the run, so a failed assertion explains itself.
impl fmt::Display for RunResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ {}", self.command)?;
        write!(
            f,
            "exit code {:?}, signal {:?}, {:?}",
            self.code, self.signal, self.elapsed
        )?;
        if self.killed {
            write!(f, " (killed by the harness at its time limit)")?;
        }
        writeln!(f)?;
        writeln!(f, "--- stdout ---\n{}", self.stdout.trim_end())?;
        write!(f, "--- stderr ---\n{}", self.stderr.trim_end())
    }
}

/// Runs `cmd` (stdin closed, output captured) and waits at most `HARD_LIMIT`.
pub fn run(cmd: Command) -> RunResult {
    run_limited(cmd, HARD_LIMIT)
}

/// `run` with another limit (tests of the harness itself use a short one).
pub fn run_limited(cmd: Command, limit: Duration) -> RunResult {
    spawn(cmd).wait(limit)
}

/// A program started by `spawn` and not yet waited for, in its own process
/// group. Dropping it SIGKILLs the group and reaps it, so nothing it started
/// outlives the test, even one that panics.
pub struct Spawned {
    command: String,
    pid: libc::pid_t,
    started: Instant,
    /// Set (under the lock) by the waiter just before it reaps the child, so
    /// a signal sent while holding the lock can never hit a reused pid.
    reaped: Arc<Mutex<bool>>,
    done: mpsc::Receiver<(io::Result<ExitStatus>, Instant)>,
    stdout: Option<thread::JoinHandle<String>>,
    stderr: Option<thread::JoinHandle<String>>,
    waited: bool,
}

/// Starts `cmd` (stdin closed, output captured) without waiting for it:
/// for programs a test must signal, or keep running in the background.
pub fn spawn(mut cmd: Command) -> Spawned {
    let command = describe(&cmd);
    // Own process group: a kill reaches anything the program started.
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!("cannot start `{command}`: {e}"),
    };
    let pid = child.id() as libc::pid_t;
    let stdout = Some(reader(child.stdout.take().expect("piped stdout")));
    let stderr = Some(reader(child.stderr.take().expect("piped stderr")));
    let reaped = Arc::new(Mutex::new(false));
    let reaped2 = Arc::clone(&reaped);
    let (tx, done) = mpsc::channel();
    // The waiter is the only one that reaps the child: it first waits for
    // the exit without reaping (WNOWAIT), so the exit time is exact and the
    // pid stays reserved until `reaped` is set.
    thread::spawn(move || {
        // SAFETY: waitid writes into a zeroed siginfo we own.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let mut r = -1;
        for _ in 0..1000 {
            // SAFETY: plain syscall on our own child.
            r = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if r == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break;
            }
        }
        let exited = Instant::now();
        let mut reaped = reaped2.lock().unwrap_or_else(|e| e.into_inner());
        *reaped = true;
        let status = child.wait();
        drop(reaped);
        // If waitid failed, only the reaping wait tells when it ended.
        let end = if r == 0 { exited } else { Instant::now() };
        let _ = tx.send((status, end));
    });
    Spawned {
        command,
        pid,
        started,
        reaped,
        done,
        stdout,
        stderr,
        waited: false,
    }
}

impl Spawned {
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// When the program was started (`RunResult::elapsed` counts from here).
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Sends `sig` to the program itself (not its group) if it has not been
    /// reaped yet, and returns the moment it was sent.
    pub fn signal(&self, sig: libc::c_int) -> Instant {
        self.kill(self.pid, sig)
    }

    /// Waits at most `limit` for the program to end, SIGKILLing its group
    /// after that, and returns what it did.
    pub fn wait(mut self, limit: Duration) -> RunResult {
        self.waited = true;
        let mut killed = false;
        let (status, end) = match self.done.recv_timeout(limit) {
            Ok(done) => done,
            Err(_) => {
                killed = true;
                self.kill(-self.pid, libc::SIGKILL);
                self.done
                    .recv_timeout(Duration::from_secs(5))
                    .unwrap_or_else(|_| panic!("`{}` survived SIGKILL", self.command))
            }
        };
        let status = status.unwrap_or_else(|e| panic!("wait for `{}`: {e}", self.command));
        RunResult {
            command: self.command.clone(),
            code: status.code(),
            signal: status.signal(),
            stdout: join_reader(self.stdout.take()),
            stderr: join_reader(self.stderr.take()),
            elapsed: end - self.started,
            killed,
        }
    }

    /// `kill(target, sig)` unless the child is already reaped.
    fn kill(&self, target: libc::pid_t, sig: libc::c_int) -> Instant {
        let reaped = self.reaped.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if !*reaped {
            // SAFETY: plain syscall; the pid (and its group) is still ours.
            unsafe { libc::kill(target, sig) };
        }
        now
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if self.waited {
            return;
        }
        self.kill(-self.pid, libc::SIGKILL);
        let _ = self.done.recv_timeout(Duration::from_secs(5));
        let _ = join_reader(self.stdout.take());
        let _ = join_reader(self.stderr.take());
    }
}

fn join_reader(h: Option<thread::JoinHandle<String>>) -> String {
    h.and_then(|h| h.join().ok()).unwrap_or_default()
}

/// Drains a pipe on its own thread so a chatty program never blocks on a full
/// pipe while we wait for it.
fn reader<R: Read + Send + 'static>(mut pipe: R) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Stops a server the harness started and reaps it: SIGTERM, up to
/// `limit` for it to exit, then SIGKILL. Safe to call twice (a reaped
/// child is left alone).
pub fn terminate(child: &mut std::process::Child, limit: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    // SAFETY: plain syscall on our own, not yet reaped child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let start = Instant::now();
    for _ in 0..10_000 {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if start.elapsed() >= limit => break,
            Ok(None) => thread::sleep(Duration::from_millis(2)),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
