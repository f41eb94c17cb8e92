//! A checker under measurement: started in `lb` (`ip netns exec`, which
//! execs, so the pid is the checker's) inside its own cpuacct group, in
//! its own process group, output to a log file. Dropping it stops it
//! (SIGTERM, then SIGKILL to its process group and to everything left in
//! its cgroup) and removes the group, also when the bench panics.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::cgroup::{self, CpuGroup};
use crate::harness::Testbed;

/// SIGTERM gets this long before SIGKILL.
const STOP_LIMIT: Duration = Duration::from_secs(5);

pub struct Checker {
    pub what: String,
    child: Option<Child>,
    group: CpuGroup,
    log: PathBuf,
}

impl Checker {
    /// Starts `argv` in `host` with `env`, working directory and log in
    /// `dir`. `what` names the cgroup and the log (`[a-z0-9_]`).
    pub fn start(
        tb: &Testbed,
        host: &str,
        what: &str,
        argv: &[String],
        env: &[(&str, &str)],
        dir: &Path,
    ) -> Result<Checker, String> {
        let group = CpuGroup::new(what).map_err(|e| {
            format!(
                "cannot create a cpuacct cgroup under {} ({e}): cgroup v1 cpuacct must be mounted",
                cgroup::ROOT
            )
        })?;
        let log = dir.join(format!("{what}.log"));
        let out = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", tb.ns(host)])
            .args(argv)
            .envs(env.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let procs = group.procs_path().clone();
        // SAFETY: join_in_child makes only async-signal-safe calls.
        unsafe {
            cmd.pre_exec(move || cgroup::join_in_child(&procs));
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {argv:?}: {e}"))?;
        Ok(Checker {
            what: what.to_owned(),
            child: Some(child),
            group,
            log,
        })
    }

    /// CPU of the checker's whole tree so far, in ns.
    pub fn cpu_ns(&self) -> u64 {
        self.group.usage_ns()
    }

    /// Peak RSS of the processes in its group now (VmHWM summed), KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        cgroup::peak_rss_kib(&self.group.pids())
    }

    /// Whether the checker is still running (not reaped yet if it is not).
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of its log, for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Stops it: SIGTERM, at most `STOP_LIMIT`, then SIGKILL to the group.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: our own child, not reaped before the end of this function.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < STOP_LIMIT {
            if !matches!(child.try_wait(), Ok(None)) {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: as above (a reaped child's group has no other owner of
        // ours: it was created for this child alone).
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = child.wait();
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        self.stop();
        // The group's own Drop kills whatever left the process group
        // (keepalived's checker child may start its own session).
    }
}
