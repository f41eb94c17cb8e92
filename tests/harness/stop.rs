//! A stop signal that threads of the harness wait on inside their `poll`:
//! a flag plus an eventfd that, once written, stays readable, so every
//! poller wakes at once (the servers' listeners and connections, the relay).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once, never cleared; share it with `Arc`.
pub struct Stop {
    fd: OwnedFd,
    set: AtomicBool,
}

impl Stop {
    pub fn new() -> io::Result<Stop> {
        // SAFETY: plain syscall; the fd is owned right away.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor that nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Stop {
            fd,
            set: AtomicBool::new(false),
        })
    }

    pub fn trigger(&self) {
        self.set.store(true, Ordering::SeqCst);
        // Never read back: the eventfd stays readable, waking every poller.
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live buffer to our eventfd.
        unsafe { libc::write(self.fd.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }

    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }
}

/// The eventfd, to `poll` for `POLLIN` next to the fds a thread waits on.
impl AsRawFd for Stop {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
