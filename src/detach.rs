//! The AF_PACKET socket's last close, paid after the caller has its verdict.
//!
//! Closing an AF_PACKET socket waits one RCU grace period in the kernel
//! (`packet_release` calls `synchronize_net`: 8-16 ms on an idle 2-core
//! host, and no socket option avoids it), and so does process exit, which
//! closes it. A check whose exchange takes 0.1 ms would look to its caller
//! like one of 10-17 ms. The caller needs only the status line and the exit
//! code; nobody needs to wait for the kernel's bookkeeping.
//!
//! So once [`enable`]d, the packet socket's drop parks its descriptor here
//! instead of closing it, and `main` ends with [`exit`], which, after the
//! status line is written and flushed, forks a child that holds the last
//! reference and pays the grace period while the parent exits at once with
//! the check's code. The child holds nothing of the caller's:
//!
//! - no capability: every set is emptied before the fork (`privilege`);
//! - `setsid`: out of the caller's process group (keepalived's
//!   `kill(-pgid)` on `misc_timeout`, a shell's job control), session and
//!   controlling terminal;
//! - every descriptor is closed but the parked sockets and a pipe, then
//!   0-2 point at /dev/null, so a pipeline or a daemon reading our stdout
//!   sees EOF when the parent exits;
//! - the parent closes its own references first and the pipe after them;
//!   the child waits for the pipe's EOF before closing, so its close is
//!   the last one (the parent's is a reference count decrement);
//! - default signal dispositions and an `alarm` bound its life should
//!   anything hang; otherwise it is gone one grace period after the parent.
//!   Its parent is then init (or a subreaper), which reaps it.
//!
//! No fork (`--sync-close`, `CHECK_RAW_SYNC_CLOSE=1`, fork failing, or the
//! library used without `main`): the sockets are closed in the process, as
//! before, and the grace period is part of its run time.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::wait::TERMINATING_SIGNALS;

/// The environment variable that turns the detached close off, like
/// `--sync-close`: any value but empty or `0`.
pub const SYNC_CLOSE_ENV: &str = "CHECK_RAW_SYNC_CLOSE";

/// At most this many sockets are handed over (a check has one); more are
/// closed in the process.
const MAX_HANDED: usize = 4;

/// The child's life is bounded by this even if the close never returned
/// (it returns after one grace period, milliseconds).
const CHILD_LIFE_SECS: libc::c_uint = 5;

/// Tests only: the child waits this many milliseconds (at most 2000)
/// before it closes, so that a test can look at it while it lives.
/// Honoured for root only.
pub const SELF_TEST_CHILD_MS_ENV: &str = "CHECK_RAW_SELF_TEST_CHILD_MS";

static ENABLED: AtomicBool = AtomicBool::new(false);
static PARKED: Mutex<Vec<OwnedFd>> = Mutex::new(Vec::new());

/// Does the environment ask for the close in the process?
pub fn sync_close_from_env() -> bool {
    std::env::var_os(SYNC_CLOSE_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// From now on, [`close`] parks descriptors for [`exit`]. Only `main`
/// calls this: it alone ends the process through [`exit`].
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

/// Close `fd`, an AF_PACKET socket: later, in the child of [`exit`], if
/// enabled; now otherwise.
pub fn close(fd: OwnedFd) {
    if !ENABLED.load(Ordering::SeqCst) {
        return drop(fd);
    }
    match PARKED.lock() {
        Ok(mut parked) if parked.len() < MAX_HANDED => parked.push(fd),
        _ => drop(fd),
    }
}

/// End the process with `code`. Call after the status line is written and
/// flushed: a parked socket is handed to a detached child first.
pub fn exit(code: i32) -> ! {
    let parked = PARKED
        .lock()
        .map(|mut p| std::mem::take(&mut *p))
        .unwrap_or_default();
    if !parked.is_empty() {
        hand_over(parked);
    }
    std::process::exit(code)
}

/// Fork the child that closes `fds` last; on return the parent holds none
/// of them. If the fork fails they are closed here (the grace period is
/// then ours to wait).
fn hand_over(fds: Vec<OwnedFd>) {
    let mut keep: [RawFd; MAX_HANDED] = [-1; MAX_HANDED];
    for (slot, fd) in keep.iter_mut().zip(&fds) {
        *slot = fd.as_raw_fd();
    }
    // The sockets were opened and the capabilities dropped long ago (see
    // `privilege`); this makes sure, so the child never holds one. If
    // they cannot go, no child: the close is ours to wait.
    if crate::privilege::drop_all().is_err() {
        return drop(fds);
    }
    let mut pipe: [RawFd; 2] = [-1; 2];
    // SAFETY: `pipe` is a live array of two c_int, as pipe2 requires.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return drop(fds);
    }
    let [read_end, write_end] = pipe;
    // Root only: the environment of a user who runs the capability-bearing
    // binary must not change what it does (see `privilege`).
    let linger_ms: u64 = std::env::var(SELF_TEST_CHILD_MS_ENV)
        .ok()
        .filter(|_| crate::privilege::self_test_allowed())
        .and_then(|v| v.parse().ok())
        .map_or(0, |ms: u64| ms.min(2000));
    // SAFETY: fork has no memory preconditions. The child (pid 0) runs
    // only async-signal-safe system calls on values computed before the
    // fork (no allocation, no lock: another thread may have held one).
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        child(&keep[..fds.len()], read_end, write_end, linger_ms);
    }
    // Parent (or no child): our references to the sockets first, then the
    // pipe, whose EOF tells the child that its close is now the last one.
    drop(fds);
    // SAFETY: both ends are descriptors we created above and own.
    unsafe {
        libc::close(write_end);
        libc::close(read_end);
    }
}

/// The child: leave the caller's session, hold none of its descriptors,
/// wait for the parent's references to go, close the sockets, exit.
fn child(sockets: &[RawFd], read_end: RawFd, write_end: RawFd, linger_ms: u64) -> ! {
    // SAFETY: each call is an async-signal-safe system call on plain
    // integers, local arrays or a static C string: safe in the child of a
    // possibly multi-threaded process. Nothing here returns to Rust code
    // that could unwind or run destructors: the child ends in _exit.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        for sig in TERMINATING_SIGNALS.into_iter().chain([libc::SIGALRM]) {
            libc::signal(sig, libc::SIG_DFL);
        }
        libc::alarm(CHILD_LIFE_SECS);
        libc::setsid();
        libc::close(write_end);
        // Everything else first, then 0-2: once the caller sees EOF on
        // our stdout and stderr, we hold no descriptor of its any more.
        let mut keep: [RawFd; MAX_HANDED + 1] = [RawFd::MAX; MAX_HANDED + 1];
        keep[0] = read_end;
        for (slot, fd) in keep[1..].iter_mut().zip(sockets) {
            *slot = *fd;
        }
        close_all_but(&mut keep);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            if null >= 0 {
                libc::dup2(null, fd);
            } else {
                libc::close(fd);
            }
        }
        if null > 2 {
            libc::close(null);
        }
        // EOF once the parent has dropped its references (or died).
        let mut byte = 0u8;
        for _ in 0..64 {
            let n = libc::read(read_end, (&mut byte as *mut u8).cast(), 1);
            if n >= 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                break;
            }
        }
        if linger_ms > 0 {
            let nap = libc::timespec {
                tv_sec: (linger_ms / 1000) as libc::time_t,
                tv_nsec: ((linger_ms % 1000) * 1_000_000) as libc::c_long,
            };
            libc::nanosleep(&nap, std::ptr::null_mut());
        }
        for fd in sockets {
            libc::close(*fd);
        }
        libc::_exit(0)
    }
}

/// Close every descriptor from 3 up except those in `keep` (unused slots
/// hold `RawFd::MAX`); sorts `keep` in place (no allocation: see `child`).
///
/// # Safety
/// Only for the child of a fork: it closes descriptors other code may own.
unsafe fn close_all_but(keep: &mut [RawFd]) {
    keep.sort_unstable();
    let mut from: RawFd = 3;
    for &k in keep.iter() {
        if k == RawFd::MAX {
            break;
        }
        if k >= from {
            if k > from {
                close_range(from, k - 1);
            }
            from = k + 1;
        }
    }
    close_range(from, RawFd::MAX);
}

/// close_range(2), with a bounded close() loop where the kernel lacks it.
unsafe fn close_range(first: RawFd, last: RawFd) {
    let rc = libc::syscall(
        libc::SYS_close_range,
        first as libc::c_uint,
        last as libc::c_uint,
        0 as libc::c_uint,
    );
    if rc < 0 {
        for fd in first..=last.min(4095) {
            libc::close(fd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn without_enable_the_close_is_immediate() {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        close(OwnedFd::from(a));
        // The peer sees EOF only once the last reference is closed.
        let mut buf = [0u8; 1];
        assert_eq!(b.read(&mut buf).unwrap(), 0);
        assert!(PARKED.lock().unwrap().is_empty());
    }
}
