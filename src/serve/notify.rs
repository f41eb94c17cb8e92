//! systemd's notify protocol (`Type=notify`, sd_notify(3)): one datagram
//! of `KEY=VALUE` lines to the socket `$NOTIFY_SOCKET` names, a path or
//! an abstract name (`@...`).
//!
//! By hand, not a crate: the protocol is one `sendto` on an unbound
//! datagram socket, which std does, abstract addresses included
//! (`SocketAddrExt::from_abstract_name`); the only Rust crate for it is not
//! in this project's registries' lists, and libsystemd would be a C
//! library to link for twenty lines. Without `$NOTIFY_SOCKET` (not under
//! systemd, or `Type=simple`) every call does nothing.
//!
//! What check_raw_serve sends: `READY=1` once the first state files are
//! written; `RELOADING=1` with `MONOTONIC_USEC` when a SIGHUP arrives and
//! `READY=1` when the reload is done or refused; `STOPPING=1`;
//! `WATCHDOG=1` at half of `$WATCHDOG_USEC` (only when `$WATCHDOG_PID`,
//! if set, is ours); `STATUS=` a short summary with each of them. Errors
//! are ignored: systemd's absence must not stop the checks.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// The notification socket, if systemd gave one, and the watchdog.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From the environment systemd sets.
    pub fn from_env() -> Notifier {
        let var = |name| std::env::var(name).ok();
        Notifier::new(
            var("NOTIFY_SOCKET").as_deref(),
            var("WATCHDOG_USEC").as_deref(),
            var("WATCHDOG_PID").as_deref(),
            std::process::id(),
        )
    }

    /// From the variables' values (for tests: no environment).
    pub fn new(
        socket: Option<&str>,
        watchdog_usec: Option<&str>,
        watchdog_pid: Option<&str>,
        pid: u32,
    ) -> Notifier {
        let target = socket.and_then(address).and_then(|addr| {
            let sock = UnixDatagram::unbound().ok()?;
            // A datagram to a full or gone socket must not block a loop.
            sock.set_nonblocking(true).ok()?;
            Some((sock, addr))
        });
        Notifier {
            target,
            watchdog: watchdog_interval(watchdog_usec, watchdog_pid, pid),
        }
    }

    /// Is there a socket to notify?
    pub fn active(&self) -> bool {
        self.target.is_some()
    }

    /// How often to send `WATCHDOG=1`: half of `$WATCHDOG_USEC`, as
    /// sd_watchdog_enabled(3) advises.
    pub fn watchdog_every(&self) -> Option<Duration> {
        self.watchdog
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    pub fn reloading(&self) {
        let mut message = "RELOADING=1\nSTATUS=reloading".to_string();
        if let Some(usec) = monotonic_usec() {
            message.push_str(&format!("\nMONOTONIC_USEC={usec}"));
        }
        self.send(&message);
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping");
    }

    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    fn send(&self, message: &str) {
        if let Some((sock, addr)) = &self.target {
            let _ = sock.send_to_addr(message.as_bytes(), addr);
        }
    }
}

/// `$NOTIFY_SOCKET` to an address: an absolute path, or `@name` for an
/// abstract socket; anything else is ignored, as libsystemd does.
pub fn address(value: &str) -> Option<SocketAddr> {
    if let Some(name) = value.strip_prefix('@') {
        return SocketAddr::from_abstract_name(name.as_bytes()).ok();
    }
    if value.starts_with('/') {
        return SocketAddr::from_pathname(value).ok();
    }
    None
}

/// Half of `$WATCHDOG_USEC`, when the watchdog is ours: `$WATCHDOG_PID`
/// unset or our pid. Zero or garbage: no watchdog.
pub fn watchdog_interval(usec: Option<&str>, for_pid: Option<&str>, pid: u32) -> Option<Duration> {
    if let Some(for_pid) = for_pid {
        if for_pid.trim().parse::<u32>().ok() != Some(pid) {
            return None;
        }
    }
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(1)))
}

/// CLOCK_MONOTONIC in microseconds, as systemd wants it with RELOADING=1.
fn monotonic_usec() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u64::try_from(ts.tv_nsec).ok()?;
    Some(secs * 1_000_000 + nanos / 1000)
}

/// A notification field is one line.
fn one_line(text: &str) -> String {
    crate::text::one_line(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(sock: &UnixDatagram) -> String {
        let mut buf = [0u8; 512];
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn sends_to_a_path_socket() {
        let dir = std::env::temp_dir().join(format!("check_raw-notify-{}", std::process::id()));
        let _ = std::fs::create_dir(&dir);
        let path = dir.join("notify");
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::new(path.to_str(), None, None, 1);
        assert!(n.active());
        n.ready("2 checks: 2 up");
        assert_eq!(received(&listener), "READY=1\nSTATUS=2 checks: 2 up");
        n.stopping();
        assert_eq!(received(&listener), "STOPPING=1\nSTATUS=stopping");
        n.reloading();
        let r = received(&listener);
        assert!(
            r.starts_with("RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC="),
            "{r}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        let name = format!("check_raw-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        let n = Notifier::new(Some(&format!("@{name}")), None, None, 1);
        n.watchdog();
        assert_eq!(received(&listener), "WATCHDOG=1");
        n.status("a\nb");
        assert_eq!(received(&listener), "STATUS=a b");
    }

    #[test]
    fn no_socket_or_a_bad_one_does_nothing() {
        for value in [None, Some(""), Some("relative/path"), Some("@")] {
            let n = Notifier::new(value, None, None, 1);
            n.ready("x");
            if value != Some("@") {
                assert!(!n.active(), "{value:?}");
            }
        }
    }

    #[test]
    fn the_watchdog_is_half_its_interval_and_only_ours() {
        let half = |u, p| watchdog_interval(u, p, 42);
        assert_eq!(half(Some("10000000"), None), Some(Duration::from_secs(5)));
        assert_eq!(
            half(Some("10000000"), Some("42")),
            Some(Duration::from_secs(5))
        );
        assert_eq!(half(Some("10000000"), Some("7")), None);
        assert_eq!(half(Some("0"), None), None);
        assert_eq!(half(Some("x"), None), None);
        assert_eq!(half(None, None), None);
    }
}
