//! Running a program to completion with a hard time limit, capturing what a
//! test needs to judge it: exit code or signal, stdout, stderr, wall time.
//!
//! A check that hangs must fail its test, not hang the suite, so every run is
//! killed (with its whole process group) after `HARD_LIMIT`.

use std::fmt;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::mpsc;
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
pub fn run_limited(mut cmd: Command, limit: Duration) -> RunResult {
    let command = describe(&cmd);
    // Own process group: on timeout the whole group is killed, including
    // anything the program started.
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!("cannot start `{command}`: {e}"),
    };
    let pid = child.id() as libc::pid_t;
    let out_reader = reader(child.stdout.take().expect("piped stdout"));
    let err_reader = reader(child.stderr.take().expect("piped stderr"));

    // The waiter thread owns the child and is the only one that reaps it, so
    // the pid cannot be reused while we may still kill it below.
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send((status, Instant::now()));
    });
    let mut killed = false;
    let (status, end) = match rx.recv_timeout(limit) {
        Ok(done) => done,
        Err(_) => {
            killed = true;
            // SAFETY: plain syscall; the group exists until the waiter reaps.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            rx.recv_timeout(Duration::from_secs(5))
                .unwrap_or_else(|_| panic!("`{command}` survived SIGKILL"))
        }
    };
    let status = status.unwrap_or_else(|e| panic!("wait for `{command}`: {e}"));
    RunResult {
        command,
        code: status.code(),
        signal: status.signal(),
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
        elapsed: end - start,
        killed,
    }
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
