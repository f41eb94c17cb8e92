//! Boots Debian's own kernel in a throwaway VM and runs a script inside it,
//! for the end-to-end tests (`tests/vm.rs`) that need what this machine's
//! kernel lacks: IPVS really forwarding in DR mode, with real keepalived
//! driving it (no `LD_PRELOAD` stub).
//!
//! virtme-ng (`vng`) boots the kernel `tests/deps.sh vm` unpacked (the
//! version pinned in its `VM_KERNEL=` line, read here) under qemu, with this
//! machine's root filesystem read-only over 9p and writable overlays, so
//! keepalived, nginx, ipvsadm and `target/release/check_raw` are all there.
//! The guest's console output is unreliable (virtme-ng's "console
//! fallback"), so `tests/vm/guest.sh` writes everything into one shared
//! directory (`--rwdir`): `booted` first, the script's output, its exit
//! code, and the files the script writes; [`VmRun`] returns them all.
//!
//! Acceleration is detected, not assumed: KVM only when /dev/kvm opens and
//! this machine is not itself a guest (nested KVM hangs right after
//! "Probing EDD" on the machines measured); otherwise TCG, 10-50 times
//! slower: functional assertions only, never timings.
//! `CHECK_RAW_VM_KVM=1` or `0` overrides the detection.
//!
//! Nothing hangs: vng runs in its own process group, killed whole when the
//! guest has not written `booted` within [`BOOT_LIMIT`] or not finished
//! within the caller's limit. A VM that cannot boot is `VmError::Boot`
//! (the tests skip on it, fail under CI=true); a script that hangs is a
//! `VmRun` without exit code (a test failure).
//!
//! Where the `LD_PRELOAD` IPVS stub (`tests/daemons/ipvs_stub.c`) stays:
//! `tests/it/keepalived.rs` (config parsing, script security, the packaged
//! example's VRRP + notify + setcap path, the exact IPVS calls keepalived
//! makes): those run on the host kernel in seconds and the VM would add
//! nothing but minutes. What needs IPVS to act (forwarding, a real server
//! taken out of the real table) runs here.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::daemon::{tail, REPO};
use super::files::TempDir;

/// Where `tests/deps.sh vm` caches the kernel and virtme-ng
/// (`CHECK_RAW_VM_CACHE` overrides, as it does there).
pub const VM_CACHE: &str = "/var/lib/check_raw-vm";
/// From vng's start to the guest's first file: a TCG boot takes 10-60 s
/// on a loaded two-core machine.
pub const BOOT_LIMIT: Duration = Duration::from_secs(240);

/// How the guest's CPU runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

/// Everything a boot needs, found on this machine.
#[derive(Debug, Clone)]
pub struct VmSetup {
    pub version: String,
    pub kernel: PathBuf,
    pub vng: PathBuf,
    pub accel: Accel,
}

/// Why the VM could not run a script at all.
#[derive(Debug, Clone)]
pub enum VmError {
    /// Something the VM needs is missing (what, and what fixes it).
    Missing(String),
    /// vng ran but the guest never started the script.
    Boot(String),
}

impl std::fmt::Display for VmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VmError::Missing(s) | VmError::Boot(s) => f.write_str(s),
        }
    }
}

/// What one script run inside the VM produced.
#[derive(Debug, Clone)]
pub struct VmRun {
    /// The script's exit code; `None` if it did not finish in time.
    pub code: Option<i32>,
    /// The script's stdout and stderr.
    pub output: String,
    /// vng's and the guest kernel's console (boot diagnostics).
    pub console: String,
    /// Every other file the script left in the shared directory, by name.
    pub files: BTreeMap<String, String>,
    /// From vng's start to its end (boot included).
    pub elapsed: Duration,
    pub accel: Accel,
}

impl VmRun {
    pub fn file(&self, name: &str) -> Option<&str> {
        self.files.get(name).map(String::as_str)
    }
}

/// The kernel version pinned in tests/deps.sh (`VM_KERNEL=...`).
fn pinned_version() -> Result<String, VmError> {
    let deps = Path::new(REPO).join("tests/deps.sh");
    let text = fs::read_to_string(&deps)
        .map_err(|e| VmError::Missing(format!("cannot read {}: {e}", deps.display())))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VM_KERNEL="))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| VmError::Missing(format!("no VM_KERNEL= line in {}", deps.display())))
}

/// Finds what a boot needs, or says what is missing and how to get it.
pub fn vm_setup() -> Result<VmSetup, VmError> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(VmError::Missing(
            "needs root (the guest runs as root on this machine's root filesystem): run the tests as root".into(),
        ));
    }
    let version = pinned_version()?;
    let cache = PathBuf::from(std::env::var("CHECK_RAW_VM_CACHE").unwrap_or(VM_CACHE.into()));
    let kernel = cache.join(&version).join(format!("boot/vmlinuz-{version}"));
    let vng = cache.join("venv/bin/vng");
    let fix = "run tests/deps.sh vm as root (it fetches and caches everything)";
    let mut missing = Vec::new();
    if !kernel.is_file() {
        missing.push(format!("Debian's kernel {}", kernel.display()));
    }
    let moddep = format!("/usr/lib/modules/{version}/modules.dep");
    if !Path::new(&moddep).is_file() {
        missing.push(format!("its modules ({moddep})"));
    }
    if !vng.is_file() {
        missing.push(format!("virtme-ng ({})", vng.display()));
    }
    for prog in [
        "/usr/bin/qemu-system-x86_64",
        "/usr/sbin/ipvsadm",
        "/bin/busybox",
        "/usr/bin/curl",
        "/usr/sbin/keepalived",
        "/usr/sbin/nginx",
        "/usr/sbin/ethtool",
    ] {
        if !Path::new(prog).exists() {
            missing.push(prog.to_owned());
        }
    }
    if !missing.is_empty() {
        return Err(VmError::Missing(format!(
            "the VM needs {}: {fix}",
            missing.join(", ")
        )));
    }
    Ok(VmSetup {
        version,
        kernel,
        vng,
        accel: detect_accel(),
    })
}

/// KVM when it can work here, else TCG (see the module comment).
pub fn detect_accel() -> Accel {
    match std::env::var("CHECK_RAW_VM_KVM").as_deref() {
        Ok("1") => return Accel::Kvm,
        Ok("0") => return Accel::Tcg,
        _ => {}
    }
    let kvm_opens = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    // The "hypervisor" CPU flag: this machine is itself a guest.
    let nested = fs::read_to_string("/proc/cpuinfo")
        .map(|c| {
            c.lines()
                .any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "hypervisor"))
        })
        .unwrap_or(true);
    if kvm_opens && !nested {
        Accel::Kvm
    } else {
        Accel::Tcg
    }
}

/// Boots the VM and runs `sh script args...` inside (through
/// tests/vm/guest.sh), the shared directory's path passed as the first
/// argument after `script`; waits at most `limit` in all.
pub fn run_in_vm(
    setup: &VmSetup,
    script: &Path,
    args: &[&str],
    limit: Duration,
) -> Result<VmRun, VmError> {
    let rw = TempDir::new();
    let rw_s = rw.path().display().to_string();
    let console_path = rw.path().join("console.log");
    let console = File::create(&console_path).expect("create console.log");
    let guest = Path::new(REPO).join("tests/vm/guest.sh");
    let venv_bin = setup.vng.parent().expect("vng's directory");
    // vng runs virtme-run from PATH.
    let path = format!(
        "{}:{}",
        venv_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new(&setup.vng);
    if setup.accel == Accel::Tcg {
        cmd.arg("--disable-kvm");
    }
    cmd.args(["--force-9p", "--memory", "1G", "--verbose", "--rwdir"])
        .arg(&rw_s)
        .arg("--run")
        .arg(&setup.kernel)
        .args(["--user", "root", "--", "sh"])
        .arg(&guest)
        .arg(&rw_s)
        .arg(script)
        .arg(&rw_s)
        .args(args)
        .env("PATH", path)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(console.try_clone().expect("dup console.log"))
        .stderr(console)
        // Own process group: the kill reaches qemu, vng's child.
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        VmError::Missing(format!(
            "cannot start {}: {e}: run tests/deps.sh vm",
            setup.vng.display()
        ))
    })?;
    let pgid = child.id() as libc::pid_t;
    let booted = rw.path().join("booted");
    let mut status = None;
    let mut killed = false;
    // Polled every 200 ms: bounded by `limit` (and the count, whatever
    // the clock does).
    let polls = limit.as_millis() / 200 + 1;
    for _ in 0..polls {
        if let Ok(Some(s)) = child.try_wait() {
            status = Some(s);
            break;
        }
        let t = started.elapsed();
        if t >= limit || (t >= BOOT_LIMIT && !booted.exists()) {
            break;
        }
        thread::sleep(Duration::from_millis(200));
    }
    if status.is_none() {
        killed = true;
        // SAFETY: plain syscall on our own, not yet reaped child's group.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        status = child.wait().ok();
    }
    let elapsed = started.elapsed();
    let console = fs::read_to_string(&console_path).unwrap_or_default();
    let accel = setup.accel;
    if !booted.exists() {
        let why = if killed {
            format!(
                "the VM did not boot within {:?} ({accel:?}; a KVM guest on a nested host hangs: CHECK_RAW_VM_KVM=0 forces TCG)",
                elapsed.min(BOOT_LIMIT)
            )
        } else {
            format!("vng ended ({status:?}) before the guest ran the script")
        };
        return Err(VmError::Boot(format!(
            "{why}; kernel {}; console's last lines:\n{}",
            setup.kernel.display(),
            tail(&console, 25)
        )));
    }
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(rw.path()).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Ok(text) = fs::read_to_string(entry.path()) {
            files.insert(name, text);
        }
    }
    let code = files.get("exit").and_then(|c| c.trim().parse().ok());
    Ok(VmRun {
        code,
        output: files.remove("output").unwrap_or_default(),
        console,
        files,
        elapsed,
        accel,
    })
}

/// What `cases.sh` wrote for one case: `key=value` lines.
pub fn facts(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Like `skip_unless`: one `skipping <test>: <reason>` line on stderr
/// (written directly, so libtest shows it and `make test` counts it) and
/// true; under CI=true a panic instead.
pub fn skip_vm(reason: &str) -> bool {
    use std::io::Write;
    let name = thread::current().name().unwrap_or("vm").to_owned();
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{name}: {reason} (CI=true: a VM that cannot run fails the test instead of skipping it)");
    }
    let _ = writeln!(std::io::stderr(), "skipping {name}: {reason}");
    true
}
