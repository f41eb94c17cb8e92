//! Waiting without sleeping: `ppoll` on one descriptor plus the signal pipe,
//! until the descriptor is ready, the deadline passes, or SIGTERM/SIGINT.
//!
//! A check never sleeps a fixed step: its wall time is the network's round
//! trips, and a deadline is met to the microsecond the kernel allows. A
//! termination signal only writes to a pipe (async-signal-safe, through
//! signal-hook); the waiting code then sees it, sends RST if a connection
//! is open and reports CRITICAL. The process never dies by a signal, which
//! ldirectord would read as success.
//!
//! check_raw_serve installs its own set ([`Waiter::install_for`]: SIGHUP
//! is its reload, not an end) and waits for more than one thing at once
//! through a [`Doorbell`]: workers and the reload signal ring it, the
//! main loop waits on it with [`Waiter::wait`].

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When this process started (first asked, which `main` does first thing):
/// the check's deadline counts from here, name lookups included.
pub fn process_start() -> Instant {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// The signals that end a check early (with RST, CRITICAL).
pub const TERMINATING_SIGNALS: [libc::c_int; 4] =
    [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];

/// A termination signal arrived; carries its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted(pub i32);

impl Interrupted {
    pub fn name(self) -> &'static str {
        match self.0 {
            libc::SIGTERM => "SIGTERM",
            libc::SIGINT => "SIGINT",
            libc::SIGHUP => "SIGHUP",
            libc::SIGQUIT => "SIGQUIT",
            _ => "a signal",
        }
    }
}

/// What a wait ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// The descriptor has the requested event.
    Io,
    /// The deadline passed first.
    Timeout,
}

/// Owns the read end of the signal pipe.
#[derive(Debug)]
pub struct Waiter {
    signal_pipe: UnixStream,
    last_signal: Arc<AtomicUsize>,
}

impl Waiter {
    /// Route the terminating signals to a pipe. Call first thing in main,
    /// before anything worth cleaning up exists.
    pub fn install() -> io::Result<Waiter> {
        Waiter::install_for(&TERMINATING_SIGNALS)
    }

    /// [`Waiter::install`] for the given signals only: check_raw_serve's
    /// set leaves SIGHUP out (its reload, which must not end the runs in
    /// flight). The pipe is never read: once a signal arrived, every
    /// thread polling it wakes, now and later, so every run in flight ends.
    pub fn install_for(signals: &[libc::c_int]) -> io::Result<Waiter> {
        process_start();
        let (read_end, write_end) = UnixStream::pair()?;
        read_end.set_nonblocking(true)?;
        let last_signal = Arc::new(AtomicUsize::new(0));
        for &sig in signals {
            // Record which signal, then wake the poller.
            signal_hook::flag::register_usize(sig, Arc::clone(&last_signal), sig as usize)?;
            signal_hook::low_level::pipe::register(sig, write_end.try_clone()?)?;
        }
        Ok(Waiter {
            signal_pipe: read_end,
            last_signal,
        })
    }

    /// A signal that already arrived, if any.
    pub fn pending(&self) -> Option<Interrupted> {
        match self.last_signal.load(Ordering::SeqCst) {
            0 => None,
            sig => Some(Interrupted(i32::try_from(sig).unwrap_or(libc::SIGTERM))),
        }
    }

    /// What [`Waiter::wait`] checks before it polls, for a caller that
    /// already holds data: a signal that arrived, then the deadline.
    /// `Ready::Io` when neither stops it.
    pub fn check(&self, deadline: Instant) -> Result<Ready, WaitError> {
        if let Some(sig) = self.pending() {
            return Err(WaitError::Interrupted(sig));
        }
        if Instant::now() >= deadline {
            return Ok(Ready::Timeout);
        }
        Ok(Ready::Io)
    }

    /// Wait for `events` (POLLIN/POLLOUT) on `fd` until `deadline`.
    pub fn wait(&self, fd: RawFd, events: i16, deadline: Instant) -> Result<Ready, WaitError> {
        let mut polled = [
            libc::pollfd {
                fd,
                events,
                revents: 0,
            },
            self.signal_pollfd(),
        ];
        self.wait_polled(&mut polled, deadline)
    }

    /// [`Waiter::wait`] for whichever of `fds` is ready first, for a loop
    /// that serves several descriptors: their `revents` say which (the
    /// vector is the caller's, reused from turn to turn).
    pub fn wait_any(
        &self,
        fds: &mut Vec<libc::pollfd>,
        deadline: Instant,
    ) -> Result<Ready, WaitError> {
        for p in fds.iter_mut() {
            p.revents = 0;
        }
        fds.push(self.signal_pollfd());
        let ready = self.wait_polled(fds, deadline);
        fds.pop();
        ready
    }

    fn signal_pollfd(&self) -> libc::pollfd {
        libc::pollfd {
            fd: self.signal_pipe.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }
    }

    /// Poll `polled`, whose last entry is the signal pipe, until one is
    /// ready, a terminating signal comes, or `deadline`.
    fn wait_polled(
        &self,
        polled: &mut [libc::pollfd],
        deadline: Instant,
    ) -> Result<Ready, WaitError> {
        let signals = polled.len() - 1;
        // EINTR from an unrelated signal restarts the wait; bounded because
        // each round either returns or re-checks the deadline.
        for _ in 0..10_000 {
            if let Some(sig) = self.pending() {
                return Err(WaitError::Interrupted(sig));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Ready::Timeout);
            }
            let timeout = timespec(deadline - now);
            // SAFETY: `polled` is a live array of pollfd and we pass its
            // length; the timespec is a live local; no signal mask change.
            let rc = unsafe {
                libc::ppoll(
                    polled.as_mut_ptr(),
                    polled.len() as libc::nfds_t,
                    &timeout,
                    std::ptr::null(),
                )
            };
            if rc < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(WaitError::Io(err));
            }
            if polled[signals].revents != 0 {
                if let Some(sig) = self.pending() {
                    return Err(WaitError::Interrupted(sig));
                }
            }
            if polled[..signals].iter().any(|p| p.revents != 0) {
                return Ok(Ready::Io);
            }
        }
        Err(WaitError::Io(io::Error::other(
            "poll kept being interrupted",
        )))
    }
}

/// A descriptor a loop waits on with [`Waiter::wait`] while other threads
/// ([`Ringer::ring`]) and signals ([`Doorbell::ring_on`]) wake it: a
/// non-blocking socket pair; a ring is one byte (a full buffer already
/// holds a wake, so a ring never blocks), [`Doorbell::drain`] empties it.
#[derive(Debug)]
pub struct Doorbell {
    read_end: UnixStream,
    write_end: UnixStream,
}

/// What rings a [`Doorbell`] from another thread.
#[derive(Debug)]
pub struct Ringer(UnixStream);

impl Doorbell {
    pub fn new() -> io::Result<Doorbell> {
        let (read_end, write_end) = UnixStream::pair()?;
        read_end.set_nonblocking(true)?;
        write_end.set_nonblocking(true)?;
        Ok(Doorbell {
            read_end,
            write_end,
        })
    }

    /// The descriptor to wait on for POLLIN.
    pub fn fd(&self) -> RawFd {
        self.read_end.as_raw_fd()
    }

    pub fn ringer(&self) -> io::Result<Ringer> {
        Ok(Ringer(self.write_end.try_clone()?))
    }

    /// `signal` sets the returned flag, then rings (signal-hook's handlers
    /// run in the order registered, so a woken loop sees the flag).
    pub fn ring_on(&self, signal: libc::c_int) -> io::Result<Arc<AtomicBool>> {
        let flag = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal, Arc::clone(&flag))?;
        signal_hook::low_level::pipe::register(signal, self.write_end.try_clone()?)?;
        Ok(flag)
    }

    /// Empty the pipe. Bounded: a ring is a byte, and the pipe holds at
    /// most a socket buffer of them.
    pub fn drain(&self) {
        let mut buf = [0u8; 256];
        for _ in 0..4096 {
            match (&self.read_end).read(&mut buf) {
                Ok(n) if n == buf.len() => continue,
                _ => return,
            }
        }
    }
}

impl Ringer {
    /// Wake the loop waiting on the doorbell. A full pipe already holds a
    /// wake: that error, and any other, changes nothing for the caller.
    pub fn ring(&self) {
        let _ = (&self.0).write(&[1]);
    }
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: libc::time_t::try_from(d.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
    }
}

/// Why a wait ended without the descriptor becoming ready.
#[derive(Debug)]
pub enum WaitError {
    Interrupted(Interrupted),
    Io(io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_out_at_the_deadline_without_sleeping_longer() {
        let waiter = Waiter::install().unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(30);
        let ready = waiter.wait(a.as_raw_fd(), libc::POLLIN, deadline).unwrap();
        assert_eq!(ready, Ready::Timeout);
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(30), "{took:?}");
    }

    #[test]
    fn a_doorbell_wakes_the_wait_and_drains() {
        let waiter = Waiter::install().unwrap();
        let bell = Doorbell::new().unwrap();
        let ringer = bell.ringer().unwrap();
        let far = Instant::now() + Duration::from_secs(5);
        std::thread::spawn(move || {
            for _ in 0..10_000 {
                ringer.ring();
            }
        })
        .join()
        .unwrap();
        assert_eq!(
            waiter.wait(bell.fd(), libc::POLLIN, far).unwrap(),
            Ready::Io
        );
        bell.drain();
        let soon = Instant::now() + Duration::from_millis(20);
        assert_eq!(
            waiter.wait(bell.fd(), libc::POLLIN, soon).unwrap(),
            Ready::Timeout
        );
    }

    #[test]
    fn wakes_when_the_descriptor_is_readable() {
        let waiter = Waiter::install().unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        b.write_all(b"x").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let ready = waiter.wait(a.as_raw_fd(), libc::POLLIN, deadline).unwrap();
        assert_eq!(ready, Ready::Io);
    }
}
