//! What the capability lets a caller do, and when it goes.
//!
//! The binary is installed with `cap_net_raw+ep`, so any user who may run
//! it holds CAP_NET_RAW while it runs. Two rules keep that from being
//! worth more than the check:
//!
//! - [`lower_effective`] first thing in `main` (callers who are not root):
//!   the capability stays permitted but not effective while the arguments
//!   are parsed (OpenSSL reads `--ca-file`, the regex engine compiles
//!   `--regex`); [`raise_net_raw`] makes it effective again for the
//!   packet socket's set-up only.
//! - [`drop_all`]: once the packet socket is open nothing needs the
//!   capability (sending and receiving on an open AF_PACKET socket, and
//!   re-attaching its filter, need none), so it goes, from every set:
//!   effective, permitted, inheritable, ambient, and the bounding set where
//!   we may (that needs CAP_SETPCAP, which only root holds: EPERM is
//!   ignored). The TLS library, the HTTP and DNS parsers and the regex
//!   engine then run without it, and so does the detached child of
//!   `detach` (it is forked later and inherits the emptied sets). The
//!   BACKUP role, which opens no packet socket, drops before it starts.
//! - [`may_send`]: a caller who is not root (real uid, not the effective
//!   one) may send a flow of its own payload (TCP, UDP) only to a VIP that
//!   this host holds on `lo` or on the interface the check sends out of
//!   (`link::holds_as_vip`): the MASTER's case, the only one in
//!   which a raw check is not a misconfiguration anyway. Otherwise an
//!   unprivileged user could send any datagram to any address through any
//!   on-link MAC, past the host's firewall (an AF_PACKET send skips
//!   netfilter). check_raw_vip's echo and ARP/NDP probes carry no payload
//!   of the caller's choice and stay open to all.
//!
//! The self-test switches (`CHECK_RAW_SELF_TEST_*`) are honoured only for
//! root ([`self_test_allowed`]), so they change nothing for the users the
//! file capability serves.
//!
//! Why a few libc calls and not the `caps` crate: all we ever do is clear
//! everything (one `capset` with zeroes, one `prctl` for the ambient set, a
//! `prctl` per bounding capability) and read the effective set once for
//! `-v`. That is four system calls with fixed, documented arguments; a
//! dependency (and its own dependencies) for them would be more code to
//! audit in the one binary that carries a capability.

use std::io;

/// The capability this binary is installed with, and the only one it uses.
const CAP_NET_RAW: u32 = 13;
/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAP_VERSION_3: u32 = 0x2008_0522;
/// The bounding set is probed up to this capability number; the kernel
/// says EINVAL past its last one (`/proc/sys/kernel/cap_last_cap`).
const MAX_CAP: u32 = 63;

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`: one 32-bit word of each set.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// What [`drop_all`] found and did, for `-v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// The permitted set before, as a 64-bit mask (bit 13: CAP_NET_RAW).
    pub held: u64,
    /// The bounding set could be cleared too (root only).
    pub bounding: bool,
}

impl Dropped {
    /// "CAP_NET_RAW gone", "3 capabilities gone (CAP_NET_RAW among them)",
    /// "none were held".
    pub fn describe(&self) -> String {
        let n = self.held.count_ones();
        let raw = self.held & (1 << CAP_NET_RAW) != 0;
        let what = match (n, raw) {
            (0, _) => "none were held".to_string(),
            (1, true) => "CAP_NET_RAW gone".to_string(),
            (n, true) => format!("{n} capabilities gone, CAP_NET_RAW among them"),
            (n, false) => format!("{n} capabilities gone"),
        };
        if self.bounding {
            format!("{what}, bounding set emptied")
        } else {
            what
        }
    }
}

/// Is the real user root? The real uid, not the effective one: the file
/// capability does not change either, and a setuid-root install would
/// change only the effective one.
pub fn caller_is_root() -> bool {
    // Asked once: the process never changes its user (capabilities are
    // what it drops), and check_raw_serve asks at every run.
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    // SAFETY: getuid has no preconditions and cannot fail.
    *ROOT.get_or_init(|| unsafe { libc::getuid() == 0 })
}

/// May the self-test switches in the environment change what we do? Only
/// for root: a user who may run the capability-bearing binary must not be
/// able to steer it by its environment.
pub fn self_test_allowed() -> bool {
    caller_is_root()
}

/// The rule a refused flow breaks, worded for the status line.
pub const NON_ROOT_RULE: &str = "a caller who is not root may send TCP or UDP only to a VIP this host holds on lo or on the interface it sends out of (the MASTER's case)";

/// May a caller (`root` or not) send frames that carry a flow of its own
/// payload (`flow`: TCP or UDP; not ARP, NDP or an echo request) to a VIP
/// that is (`vip_local`) or is not a local address? `Err` is the rule.
pub fn may_send(root: bool, flow: bool, vip_local: bool) -> Result<(), &'static str> {
    if root || !flow || vip_local {
        Ok(())
    } else {
        Err(NON_ROOT_RULE)
    }
}

/// Drop every capability from every set of this process, for good.
/// Idempotent: the second call finds nothing held. Call it as soon as the
/// packet socket is open, and before the BACKUP path does anything.
pub fn drop_all() -> io::Result<Dropped> {
    let held = permitted()?;
    // The bounding set first: dropping from it needs CAP_SETPCAP in the
    // effective set, which the capset below clears. Without it (the file
    // capability's case) EPERM: nothing to do, the bounding set only
    // limits what an exec could gain, and we never exec.
    let mut bounding = true;
    for cap in 0..=MAX_CAP {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if rc < 0 {
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINVAL) => break, // past the kernel's last capability
                _ => bounding = false,
            }
        }
    }
    // SAFETY: prctl with integer arguments only. EINVAL on kernels before
    // 4.3, which have no ambient set: nothing to clear.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        );
    }
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: capset reads one header and two data structs (version 3),
    // all live locals of the kernel's layout. Lowering every set is always
    // permitted.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Dropped {
        held,
        bounding: bounding && held != 0,
    })
}

/// For a caller who is not root: take CAP_NET_RAW out of the effective
/// set at once, keeping it permitted, so that nothing before the packet
/// socket (the arguments, a `--ca-file` read by OpenSSL, a `--regex`
/// compiled) runs with it; [`raise_net_raw`] brings it back for the
/// socket's opening alone. Root is left alone: its effective set is also
/// what lets it read files it does not own (the role file, a CA file).
pub fn lower_effective() -> io::Result<()> {
    if caller_is_root() {
        return Ok(());
    }
    set_effective(0)
}

/// CAP_NET_RAW back into the effective set, if it is still permitted,
/// for opening the packet socket; [`drop_all`] follows at once.
pub fn raise_net_raw() -> io::Result<()> {
    if caller_is_root() {
        return Ok(());
    }
    set_effective(permitted()? & (1 << CAP_NET_RAW))
}

/// The effective set becomes `mask` (a subset of the permitted set); the
/// permitted and inheritable sets stay as they are.
fn set_effective(mask: u64) -> io::Result<()> {
    let (mut header, mut data) = capget()?;
    data[0].effective = mask as u32;
    data[1].effective = (mask >> 32) as u32;
    // SAFETY: capset reads the header and the two data structs just
    // filled by capget; an effective set within the permitted one is
    // always allowed.
    if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// This process's capability sets (version 3: two 32-bit words each),
/// with the header that reads them.
fn capget() -> io::Result<(CapHeader, [CapData; 2])> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two data structs (version 3) into our live array.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((header, data))
}

/// The permitted set, as a 64-bit mask.
fn permitted() -> io::Result<u64> {
    let (_, data) = capget()?;
    Ok(u64::from(data[0].permitted) | (u64::from(data[1].permitted) << 32))
}

/// The effective set, as the kernel shows it in /proc/self/status
/// (`CapEff`): for tests and `-v`.
pub fn effective() -> io::Result<u64> {
    let (_, data) = capget()?;
    Ok(u64::from(data[0].effective) | (u64::from(data[1].effective) << 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_may_send_anything() {
        assert_eq!(may_send(true, true, false), Ok(()));
        assert_eq!(may_send(true, false, false), Ok(()));
    }

    #[test]
    fn others_send_flows_only_to_a_local_vip() {
        assert_eq!(may_send(false, true, true), Ok(()));
        assert_eq!(may_send(false, true, false), Err(NON_ROOT_RULE));
    }

    #[test]
    fn others_may_probe_any_vip_without_a_flow() {
        // check_raw_vip's echo request and ARP/NDP: no payload of theirs.
        assert_eq!(may_send(false, false, false), Ok(()));
    }

    #[test]
    fn the_rule_names_itself_on_one_line() {
        assert!(NON_ROOT_RULE.contains("not root"));
        assert!(NON_ROOT_RULE.contains("holds on lo or on the interface it sends out of"));
        assert!(!NON_ROOT_RULE.contains('\n'));
    }

    #[test]
    fn the_words_say_what_went() {
        let raw = |bounding| Dropped {
            held: 1 << CAP_NET_RAW,
            bounding,
        };
        assert_eq!(raw(false).describe(), "CAP_NET_RAW gone");
        assert_eq!(
            raw(true).describe(),
            "CAP_NET_RAW gone, bounding set emptied"
        );
        let none = Dropped {
            held: 0,
            bounding: false,
        };
        assert_eq!(none.describe(), "none were held");
        let root = Dropped {
            held: (1 << 41) - 1,
            bounding: true,
        };
        assert!(root
            .describe()
            .starts_with("41 capabilities gone, CAP_NET_RAW"));
    }

    /// In a child process, so the test runner keeps its own capabilities.
    #[test]
    fn drop_all_leaves_nothing_and_can_be_repeated() {
        // SAFETY: the child calls only drop_all (system calls on locals)
        // and _exit; it returns to no test code.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            let ok = drop_all().is_ok()
                && effective().ok() == Some(0)
                && permitted().ok() == Some(0)
                && drop_all().ok().map(|d| d.held) == Some(0);
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above, into a live c_int.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
}
