//! Host-name lookups bounded by the check's deadline and by signals.
//!
//! getaddrinfo blocks, and a dead resolver makes it block for many seconds
//! whatever `-t` says, deaf to SIGTERM. So the lookup runs on a helper
//! thread and the main thread waits for its answer the way it waits for
//! frames: `ppoll` on a wake-up socket and the signal pipe, until the
//! deadline. A lookup given up on is left to finish on its own; the
//! process ends without waiting for it.

use std::io::{self, Write};
use std::net::{IpAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::wait::{process_start, Ready, WaitError, Waiter};

/// Resolve `name` before the deadline of a check with timeout `timeout`
/// (counted from the process start, like the check's own deadline).
pub fn bounded(name: &str, waiter: &Waiter, timeout: Duration) -> io::Result<Vec<IpAddr>> {
    bounded_from(process_start(), name, waiter, timeout)
}

/// [`bounded`] with the timeout counted from `start`: check_raw_serve's
/// (re)load of its configuration, long after the process started.
pub fn bounded_from(
    start: Instant,
    name: &str,
    waiter: &Waiter,
    timeout: Duration,
) -> io::Result<Vec<IpAddr>> {
    let deadline = start + timeout;
    let (mut wake_tx, wake_rx) = UnixStream::pair()?;
    let (tx, rx) = mpsc::channel();
    let owned = name.to_string();
    std::thread::Builder::new()
        .name("resolve".into())
        .spawn(move || {
            let result = (owned.as_str(), 0)
                .to_socket_addrs()
                .map(|addrs| addrs.map(|a| a.ip()).collect::<Vec<_>>());
            // The waiter may be gone (timed out): nothing to do then.
            let _ = tx.send(result);
            let _ = wake_tx.write_all(&[1]);
        })?;
    match waiter.wait(wake_rx.as_raw_fd(), libc::POLLIN, deadline) {
        Ok(Ready::Io) => rx.recv().unwrap_or_else(|_| {
            Err(io::Error::other(
                "the lookup thread ended without an answer",
            ))
        }),
        Ok(Ready::Timeout) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer within the {} ms timeout", timeout.as_millis()),
        )),
        Err(WaitError::Interrupted(sig)) => Err(io::Error::new(
            io::ErrorKind::Interrupted,
            format!("interrupted by {}", sig.name()),
        )),
        Err(WaitError::Io(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_resolves_within_the_deadline() {
        let waiter = Waiter::install().unwrap();
        let addrs = bounded("localhost", &waiter, Duration::from_secs(600)).unwrap();
        assert!(addrs.iter().any(IpAddr::is_loopback), "{addrs:?}");
    }

    #[test]
    fn a_deadline_already_past_gives_up_at_once() {
        let waiter = Waiter::install().unwrap();
        let err = bounded("localhost", &waiter, Duration::ZERO).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
