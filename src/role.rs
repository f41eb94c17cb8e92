//! The load balancer's role: MASTER checks over raw frames, BACKUP over the
//! kernel's own TCP.
//!
//! Only the MASTER holds the VIP. On a BACKUP, the real server's replies to
//! a raw check (from the VIP) would reach a kernel that does not own the
//! VIP and answers them with RST, so a BACKUP checks the real server's own
//! IP with a plain connect instead. The role file is the C original's
//! interface (first byte `1` = MASTER), re-read on every run so whatever
//! switches roles only rewrites it. `auto` asks the kernel instead.

use std::io::{self, Read};
use std::net::IpAddr;
use std::path::PathBuf;

/// Where the role comes from (`-r`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleSource {
    /// No `-r`: MASTER.
    Default,
    File(PathBuf),
    /// `-r auto`: MASTER iff the VIP is a local address.
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Master,
    Backup,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Master => "MASTER",
            Role::Backup => "BACKUP",
        })
    }
}

/// The role and, for `-v`, how it was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub role: Role,
    pub reason: String,
}

/// Decide the role. `is_local` answers "is this address on this host?".
pub fn decide(
    source: &RoleSource,
    vip: IpAddr,
    is_local: impl Fn(IpAddr) -> bool,
) -> Result<Decision, String> {
    match source {
        RoleSource::Default => Ok(Decision {
            role: Role::Master,
            reason: "no role file: MASTER".into(),
        }),
        RoleSource::Auto => Ok(if is_local(vip) {
            Decision {
                role: Role::Master,
                reason: format!("-r auto: VIP {vip} is local: MASTER"),
            }
        } else {
            Decision {
                role: Role::Backup,
                reason: format!("-r auto: VIP {vip} is not local: BACKUP"),
            }
        }),
        RoleSource::File(path) => {
            let first = read_first_byte(path)
                .map_err(|e| format!("cannot read role file '{}': {e}", path.display()))?;
            let role = if first == Some(b'1') {
                Role::Master
            } else {
                Role::Backup
            };
            Ok(Decision {
                role,
                reason: format!("role file '{}' says {role}", path.display()),
            })
        }
    }
}

/// Only the first byte counts; an empty file is BACKUP, like the original.
/// Opened non-blocking: a FIFO put there by mistake must give an error,
/// not hold the check past its deadline waiting for a writer.
fn read_first_byte(path: &PathBuf) -> io::Result<Option<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut byte = [0u8; 1];
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let n = file.read(&mut byte)?;
    Ok((n == 1).then_some(byte[0]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::Ipv4Addr;

    const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10));

    fn role_file(content: &[u8]) -> (PathBuf, impl Drop) {
        struct Cleanup(PathBuf);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("check_raw_role_{}_{n}", std::process::id()));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content)
            .unwrap();
        (path.clone(), Cleanup(path))
    }

    fn from_file(content: &[u8]) -> Role {
        let (path, _guard) = role_file(content);
        decide(&RoleSource::File(path), VIP, |_| false)
            .unwrap()
            .role
    }

    #[test]
    fn first_byte_one_is_master_anything_else_backup() {
        assert_eq!(from_file(b"1\n"), Role::Master);
        assert_eq!(from_file(b"1"), Role::Master);
        assert_eq!(from_file(b"0\n"), Role::Backup);
        assert_eq!(from_file(b"B"), Role::Backup);
        assert_eq!(from_file(b"\n1"), Role::Backup);
        assert_eq!(from_file(b""), Role::Backup);
    }

    #[test]
    fn unreadable_file_names_path_and_os_error() {
        let missing = PathBuf::from("/nonexistent/check_raw/role");
        let err = decide(&RoleSource::File(missing), VIP, |_| true).unwrap_err();
        assert!(err.contains("/nonexistent/check_raw/role"), "{err}");
        assert!(err.contains("No such file"), "{err}");
    }

    #[test]
    fn a_fifo_does_not_block() {
        let path = std::env::temp_dir().join(format!("check_raw_role_fifo_{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // In a thread, so a blocking open fails the test instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        let fifo = path.clone();
        std::thread::spawn(move || tx.send(decide(&RoleSource::File(fifo), VIP, |_| true)));
        let result = rx.recv_timeout(std::time::Duration::from_secs(1));
        let _ = std::fs::remove_file(&path);
        // No writer: the non-blocking read is empty, which is BACKUP, as an
        // empty file is; an error or a wait would be a failure.
        let decision = result
            .expect("the role file FIFO blocked")
            .expect("a FIFO with no writer reads as empty, not as an error");
        assert_eq!(decision.role, Role::Backup);
    }

    #[test]
    fn default_is_master_and_auto_follows_the_vip() {
        assert_eq!(
            decide(&RoleSource::Default, VIP, |_| false).unwrap().role,
            Role::Master
        );
        assert_eq!(
            decide(&RoleSource::Auto, VIP, |_| true).unwrap().role,
            Role::Master
        );
        assert_eq!(
            decide(&RoleSource::Auto, VIP, |_| false).unwrap().role,
            Role::Backup
        );
    }
}
