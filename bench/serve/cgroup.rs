//! A cgroup v1 `cpuacct` group per checker: the CPU of its whole process
//! tree (children included, and children that have already exited, which
//! is what a MISC_CHECK's fork and exec per check costs), read from
//! `cpuacct.usage` in nanoseconds.
//!
//! A group is named `crt-serve-<bench pid>-<what>` under
//! `/sys/fs/cgroup/cpuacct`, so a run that was killed before its `Drop`
//! (SIGKILL, Ctrl-C) is recognised by the next one, which kills what is
//! left in it and removes it ([`sweep_stale`]).

use std::ffi::CString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::netns::pid_alive;

/// Where cgroup v1's cpuacct controller is mounted.
pub const ROOT: &str = "/sys/fs/cgroup/cpuacct";
const PREFIX: &str = "crt-serve-";
/// How long `Drop` waits for the killed processes to leave the group.
const EMPTY_LIMIT: Duration = Duration::from_secs(5);

/// One cpuacct group, removed (its processes killed first) when dropped.
pub struct CpuGroup {
    path: PathBuf,
    /// `cgroup.procs` of this group, for the child's `pre_exec`.
    procs: CString,
}

impl CpuGroup {
    /// Creates `crt-serve-<pid>-<what>`; an error when cgroup v1's
    /// cpuacct is not mounted (the caller reports it).
    pub fn new(what: &str) -> io::Result<CpuGroup> {
        let path = Path::new(ROOT).join(format!("{PREFIX}{}-{what}", std::process::id()));
        if path.exists() {
            empty_and_remove(&path);
        }
        fs::create_dir(&path)?;
        let procs = CString::new(path.join("cgroup.procs").display().to_string())
            .map_err(io::Error::other)?;
        Ok(CpuGroup { path, procs })
    }

    /// The path of `cgroup.procs`, as the C string a `pre_exec` closure
    /// writes to (no allocation there).
    pub fn procs_path(&self) -> &CString {
        &self.procs
    }

    /// CPU time of every process that was ever in the group, in ns.
    pub fn usage_ns(&self) -> u64 {
        fs::read_to_string(self.path.join("cpuacct.usage"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The processes in the group now.
    pub fn pids(&self) -> Vec<i32> {
        pids_of(&self.path)
    }
}

impl Drop for CpuGroup {
    fn drop(&mut self) {
        empty_and_remove(&self.path);
    }
}

/// Called between fork and exec: moves the calling process into the group
/// whose `cgroup.procs` is `procs` (cgroup v1 reads "0" as "the writer"),
/// so the checker never runs a cycle outside it. Only async-signal-safe
/// calls.
pub fn join_in_child(procs: &CString) -> io::Result<()> {
    // SAFETY: open/write/close on a NUL-terminated path and a static byte.
    unsafe {
        let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = libc::write(fd, b"0".as_ptr().cast(), 1);
        let err = io::Error::last_os_error();
        libc::close(fd);
        if n != 1 {
            return Err(err);
        }
    }
    Ok(())
}

fn pids_of(path: &Path) -> Vec<i32> {
    fs::read_to_string(path.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// SIGKILLs whatever is in the group until it is empty (bounded by
/// `EMPTY_LIMIT`: a process that is exiting leaves a moment later), then
/// removes it.
fn empty_and_remove(path: &Path) {
    let start = Instant::now();
    for _ in 0..10_000 {
        let pids = pids_of(path);
        if pids.is_empty() || start.elapsed() > EMPTY_LIMIT {
            break;
        }
        for pid in pids {
            // SAFETY: plain syscall; the pid was in our group just now.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        thread::sleep(Duration::from_millis(10));
    }
    for _ in 0..100 {
        if fs::remove_dir(path).is_ok() || !path.exists() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    eprintln!("bench: could not remove {}", path.display());
}

/// Removes the groups of earlier runs whose bench process is gone.
pub fn sweep_stale() {
    let Ok(entries) = fs::read_dir(ROOT) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !pid_alive(pid) {
            empty_and_remove(&e.path());
        }
    }
}

/// Peak resident set of each process in `pids`, summed (`VmHWM` of
/// /proc/PID/status, KiB): the checker's footprint, all its processes.
pub fn peak_rss_kib(pids: &[i32]) -> u64 {
    pids.iter()
        .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .sum()
}
