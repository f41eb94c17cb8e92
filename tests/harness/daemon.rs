//! What the daemon tests (`tests/it/keepalived.rs`, `tests/it/ldirectord.rs`,
//! `tests/it/nagios.rs`, `tests/it/icinga2.rs`) share: the guard that runs a
//! daemon in the foreground inside a testbed namespace and stops it even
//! when a test panics, the checks installed the way `make install` lays
//! them out, the files of `packaging/`, and polling with diagnostics.
//!
//! Every daemon runs in the testbed's MASTER load balancer `lb`, with its
//! configuration, state and logs in a temp dir. The checks are installed
//! as `make install` does it: the binary and its three names as symlinks in
//! one directory (keepalived 2.0.20-2.2.x execs a symlinked script under its
//! target's name unless the link's name exists next to the target).
//!
//! A `Daemon` is stopped by its pid (SIGTERM, then SIGKILL to its process
//! group) when it drops, also when a test panics; the testbed then kills
//! whatever is left in its namespaces.

use std::fs::{self, File};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::files::{TempDir, CHECK_RAW};
use super::nginx::HEALTH_MD5;
use super::servers::Behaviour;
use super::testbed::{Testbed, PORT};
/// The repository, for `packaging/` and `tests/daemons/`.
pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// How long a daemon may take to reach its verdicts (checks every 1 s).
pub const VERDICT_LIMIT: Duration = Duration::from_secs(20);
/// How long a daemon may take to stop after SIGTERM before SIGKILL.
pub const STOP_LIMIT: Duration = Duration::from_secs(10);

/// The HTTP services of the tests listen here (port 80 serves the TCP ones
/// for keepalived and ldirectord, which need one port per virtual service).
pub const HTTP_PORT: u16 = 8080;
/// What the real servers answer to any request, on both ports.
pub const HTTP_REPLY: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
/// MD5 of the body `ok\n`.
pub const BODY_MD5: &str = HEALTH_MD5;
/// The Host header the HTTP checks send.
pub const VHOST: &str = "www.example.org";

/// The testbed with the canned HTTP reply on rs1 and rs2, ports 80 and
/// `HTTP_PORT` (a TCP check only needs the SYN/ACK, so port 80 serves both).
/// Built without the default listeners rather than replacing them: a
/// replaced listener's port can still be held for an instant by a process
/// another test is forking (the listener's fd is close-on-exec, not closed
/// at fork), and the new bind then fails with EADDRINUSE.
pub fn daemon_testbed() -> Testbed {
    let tb = Testbed::without_servers();
    for host in ["rs1", "rs2"] {
        for port in [PORT, HTTP_PORT] {
            tb.serve(host, port, Behaviour::Respond(HTTP_REPLY.to_vec()));
        }
    }
    tb
}

/// The checks installed as `make install` lays them out: a copy of the
/// binary, `check_raw`, and its names as symlinks beside it, in a
/// root-owned, non-writable directory (keepalived's script security).
pub fn install_checks() -> TempDir {
    let dir = TempDir::new();
    let bin = dir.path().join("check_raw");
    fs::copy(CHECK_RAW, &bin).unwrap_or_else(|e| panic!("copy {CHECK_RAW}: {e}"));
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).expect("chmod check_raw");
    for name in [
        "check_raw_tcp",
        "check_raw_http_get",
        "check_raw_http",
        "check_raw_dns",
        "check_raw_vip",
    ] {
        symlink("check_raw", dir.path().join(name)).expect("symlink a check name");
    }
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod dir");
    dir
}

/// A file of `packaging/`, which must exist.
pub fn packaging(rel: &str) -> PathBuf {
    let p = Path::new(REPO).join("packaging").join(rel);
    assert!(p.is_file(), "{} is missing from packaging/", p.display());
    p
}

pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

pub fn write_executable(path: &Path, contents: &str) {
    fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod +x");
}

pub fn mkdirs(base: &Path, names: &[&str]) {
    for n in names {
        fs::create_dir_all(base.join(n)).unwrap_or_else(|e| panic!("mkdir {n}: {e}"));
    }
}

/// Polls `probe` every 100 ms until it returns `Some`, at most `limit`;
/// then panics with `what` and the diagnostics `diag` gives.
pub fn wait_for<T>(
    limit: Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
    diag: impl Fn() -> String,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("{what}: not seen within {limit:?}\n{}", diag());
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// The last `n` lines of a log, for failure messages.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A daemon running in the foreground in a testbed namespace, its stdout
/// and stderr going to a log file. Dropping it stops it (SIGTERM to the
/// daemon, SIGKILL to its process group after `STOP_LIMIT`) and reaps it,
/// also when the test panics.
pub struct Daemon {
    name: &'static str,
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    /// `ip netns exec <host's namespace> argv...` (which execs, so the pid
    /// is the daemon's), in its own process group.
    pub fn start(
        tb: &Testbed,
        host: &str,
        name: &'static str,
        argv: &[&str],
        env: &[(&str, &str)],
        cwd: &Path,
        log: PathBuf,
    ) -> Daemon {
        let out = File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let err = out.try_clone().expect("dup log fd");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", tb.ns(host)])
            .args(argv)
            .envs(env.iter().copied())
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({argv:?}): {e}"));
        Daemon {
            name,
            child: Some(child),
            log,
        }
    }

    pub fn log(&self) -> String {
        read(&self.log)
    }

    /// True once the daemon has exited (not reaped, so its pid and process
    /// group stay ours until `stop`).
    pub fn exited(&self) -> bool {
        let Some(child) = &self.child else {
            return true;
        };
        // SAFETY: waitid writes into a zeroed siginfo we own; WNOWAIT leaves
        // the child to be reaped by `Child::wait`.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(
                libc::P_PID,
                child.id() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            r == 0 && info.si_pid() != 0
        }
    }

    /// Panics with the log if the daemon has already exited.
    pub fn assert_running(&self) {
        assert!(
            !self.exited(),
            "{} exited early:\n{}",
            self.name,
            tail(&self.log(), 40)
        );
    }

    /// Stops the daemon: SIGTERM, up to `STOP_LIMIT` for it to exit, then
    /// SIGKILL to its whole process group (workers, helpers, checks), and
    /// reaps it. Returns its exit status (None if already stopped).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let pid = child.id() as libc::pid_t;
        // The child is not reaped before the end of this function, so `pid`
        // (and the group it leads) cannot have been reused.
        // SAFETY: plain syscalls on our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < STOP_LIMIT {
            if self.exited_pid(pid) {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: as above; whatever is left of the group goes.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        child.wait().ok()
    }

    fn exited_pid(&self, pid: libc::pid_t) -> bool {
        // SAFETY: as in `exited`.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            r == 0 && info.si_pid() != 0
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}
