//! Network-namespace plumbing: unique names, `ip` invocations, entering a
//! namespace from one thread, and removing namespaces (ours and those left
//! behind by runs that were killed before their `Drop` could run).
//!
//! Everything here talks to the kernel through iproute2 or plain syscalls, so
//! the testbed needs nothing beyond `ip`, `ethtool` and root.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;

/// Every namespace this harness creates is named `crt<pid>n<counter><host>`:
/// short (so `ip` output stays readable), unique per testbed, and carrying
/// the creator's pid so a later run can tell a stale namespace from a live one.
pub const PREFIX: &str = "crt";

/// Namespace creation is serialised: the very first `ip netns add` on a
/// machine makes `/run/netns` a shared mount, and two racing first calls can
/// stack two mounts there.
static CREATE_LOCK: Mutex<()> = Mutex::new(());

/// A fresh `crt<pid>n<counter>` stem; hosts append their short name.
pub fn unique_stem() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{PREFIX}{}n{n}", std::process::id())
}

/// The pid embedded in one of our namespace names, or `None` if the name is
/// not ours.
pub fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || !rest[digits..].starts_with('n') {
        return None;
    }
    rest[..digits].parse().ok()
}

/// Runs `ip` with one command per line on stdin (`ip -batch -`), one process
/// for many netlink requests. `netns` applies `-n` to every line.
/// Panics with the failing lines and `ip`'s complaint, because a testbed that
/// cannot be built is a broken test environment, not a test result.
pub fn ip_batch(netns: Option<&str>, lines: &[String]) {
    let mut cmd = Command::new("ip");
    if let Some(ns) = netns {
        cmd.args(["-n", ns]);
    }
    cmd.args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .expect("cannot start `ip` (is iproute2 installed?)");
    {
        let mut stdin = child.stdin.take().expect("piped stdin");
        for line in lines {
            writeln!(stdin, "{line}").expect("write to `ip -batch`");
        }
    } // closing stdin ends the batch
    let out = child.wait_with_output().expect("wait for `ip`");
    assert!(
        out.status.success(),
        "ip {}-batch failed ({}):\n{}\n--- input ---\n{}",
        netns.map(|n| format!("-n {n} ")).unwrap_or_default(),
        out.status,
        String::from_utf8_lossy(&out.stderr),
        lines.join("\n")
    );
}

/// Runs a short command and returns its stdout, or an error carrying stderr.
pub fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs `program args` with its network namespace switched to `ns` between
/// fork and exec. Cheaper than `ip netns exec` (no mount namespace, no /sys
/// remount), so setup uses it for tools that only talk netlink/ioctl, like
/// `ethtool`. Programs that read /sys must go through `ip netns exec`.
pub fn output_in(ns: &str, program: &str, args: &[&str]) -> Result<String, String> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = spawn_in(ns, &mut cmd)
        .and_then(|child| child.wait_with_output())
        .map_err(|e| format!("cannot run {program} in {ns}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {} in {ns} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Spawns `cmd` with its network namespace switched to `ns` between fork
/// and exec (its mount namespace stays ours, unlike `ip netns exec`).
pub fn spawn_in(ns: &str, cmd: &mut Command) -> io::Result<std::process::Child> {
    let nsfile = File::open(format!("/run/netns/{ns}"))?;
    let fd = nsfile.as_raw_fd();
    // SAFETY: setns is a single async-signal-safe syscall on an fd that stays
    // open in the parent until spawn returns (`nsfile` lives past it).
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn();
    drop(nsfile);
    child
}

/// Moves the calling thread (only it: network namespaces are per thread) into
/// the namespace `ns`. Sockets it creates afterwards live in that namespace.
pub fn enter(ns: &str) -> io::Result<()> {
    let f = File::open(format!("/run/netns/{ns}"))?;
    // SAFETY: plain syscall on a valid fd.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Runs `f` on a short-lived thread inside `ns` and returns its result, so
/// the caller's own thread never changes namespace.
pub fn in_netns<T, F>(ns: &str, f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    let ns = ns.to_owned();
    thread::spawn(move || {
        enter(&ns)?;
        f()
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// Creates the namespaces in one `ip -batch` call.
pub fn create(names: &[String]) {
    let _guard = CREATE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let lines: Vec<String> = names.iter().map(|n| format!("netns add {n}")).collect();
    ip_batch(None, &lines);
}

/// Names of all named namespaces: the entries of /run/netns, which is what
/// `ip netns list` prints (read directly: `ip netns list` also queries each
/// namespace's id and can fail half-way while another run deletes one).
pub fn list() -> Vec<String> {
    let Ok(entries) = fs::read_dir("/run/netns") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// SIGKILLs every process whose network namespace is one of `names`, the way
/// `ip netns pids` finds them (comparing /proc/<pid>/ns/net with the inode of
/// /run/netns/<name>), in one pass over /proc instead of one `ip` per name.
/// Our own process is never a match: only helper threads enter namespaces.
pub fn kill_processes_in(names: &[String]) {
    let inodes: Vec<(u64, u64)> = names
        .iter()
        .filter_map(|n| fs::metadata(format!("/run/netns/{n}")).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();
    if inodes.is_empty() {
        return;
    }
    let me = std::process::id();
    let Ok(procs) = fs::read_dir("/proc") else {
        return;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        // stat() on the ns link gives the namespace's nsfs dev and inode.
        let Ok(m) = fs::metadata(entry.path().join("ns/net")) else {
            continue;
        };
        if inodes.contains(&(m.dev(), m.ino())) {
            // SAFETY: plain syscall.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

/// Kills what runs in the namespaces and deletes them. Names already gone are
/// skipped, so this is safe to call twice.
pub fn destroy(names: &[String]) {
    let existing: Vec<String> = list().into_iter().filter(|n| names.contains(n)).collect();
    if existing.is_empty() {
        return;
    }
    kill_processes_in(&existing);
    let lines: Vec<String> = existing.iter().map(|n| format!("netns del {n}")).collect();
    // -force: go on with the other names if one deletion fails.
    let _ = Command::new("ip")
        .args(["-force", "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .and_then(|mut child| {
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all((lines.join("\n") + "\n").as_bytes())?;
            }
            child.wait()
        });
}

/// Deletes our namespaces whose creator pid no longer exists: leftovers of a
/// run that was SIGKILLed (or aborted) before `Drop` could clean up.
pub fn remove_stale() {
    let stale: Vec<String> = list()
        .into_iter()
        .filter(|n| owner_pid(n).is_some_and(|pid| !pid_alive(pid)))
        .collect();
    destroy(&stale);
}

/// Whether a process with this pid exists (a reused pid makes us keep a stale
/// namespace a little longer, never delete a live one).
pub fn pid_alive(pid: u32) -> bool {
    fs::metadata(format!("/proc/{pid}")).is_ok()
}
