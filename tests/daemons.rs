//! check_raw under the real daemons that run it: keepalived (MISC_CHECK,
//! plain and `misc_dynamic`), ldirectord (`checktype = external`), Nagios 4
//! and Icinga 2, each run in the foreground inside the testbed's MASTER
//! load balancer `lb`, with its configuration, state and logs in a temp dir.
//!
//! In every test rs1 (VIP, listener) must come out up / OK and rs2
//! (listener, no VIP) down / CRITICAL, as the daemon itself judges it:
//! - keepalived: its log ("Misc check ... succeeded" / "failed ... (exited
//!   with status 1)") and the IPVS table it programs. The kernel may have
//!   no IPVS, so keepalived runs with `tests/daemons/ipvs_stub.c` preloaded:
//!   it answers keepalived's IPVS sockopts and records every change.
//! - ldirectord: in debug mode it runs `./ipvsadm` from its working
//!   directory; `tests/daemons/ipvsadm` keeps the table in a file.
//! - Nagios 4: `status.dat` (`current_state`, `plugin_output`).
//! - Icinga 2: the state file it writes when stopped (`last_check_result`),
//!   once its log shows every check has run.
//!
//! The daemons use the project's own files from `packaging/`: the Nagios
//! command definitions and Icinga 2 CheckCommands are included as they are,
//! the ldirectord wrappers copied with the binary's path put in. The checks
//! are installed the way `make install` does it: the binary and its three
//! names as symlinks in one directory (keepalived 2.0.20-2.2.x execs a
//! symlinked script under its target's name unless the link's name exists
//! next to the target).
//!
//! One keepalived test runs the packaged keepalived.conf.example itself
//! (paths and intervals substituted): VRRP makes `lb` MASTER, the packaged
//! check_raw-role-notify writes the role file, and the checks run as an
//! unprivileged user with the file capability `make install` sets.
//! `icinga2 daemon -C` and `nagios4 -v` must accept the packaged
//! definitions without a warning.
//!
//! Every daemon is stopped by its pid (SIGTERM, then SIGKILL to its process
//! group) when its guard drops, also when a test panics; the testbed then
//! kills whatever is left in its namespaces. Tests skip, with a message,
//! when not run as root. A missing daemon (or gcc, setcap) is a failure:
//! `.ci/run` installs them.

mod harness;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use harness::*;

/// The repository, for `packaging/` and `tests/daemons/`.
const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// How long a daemon may take to reach its verdicts (checks every 1 s).
const VERDICT_LIMIT: Duration = Duration::from_secs(20);
/// How long a daemon may take to stop after SIGTERM before SIGKILL.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// The HTTP services of the tests listen here (port 80 serves the TCP ones
/// for keepalived and ldirectord, which need one port per virtual service).
const HTTP_PORT: u16 = 8080;
/// What the real servers answer to any request, on both ports.
const HTTP_REPLY: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
/// MD5 of the body `ok\n`.
const BODY_MD5: &str = "eff5bc1ef8ec9d03e640fc4370f5eacd";
/// The Host header the HTTP checks send.
const VHOST: &str = "www.example.org";

// ---- shared set-up ---------------------------------------------------------

/// Fails (does not skip) when a daemon is missing: CI installs them.
fn require_installed(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} not found: the daemon tests need the Debian package {package}. \
         Run .ci/run (it installs them), or: apt-get install -y --no-install-recommends {package}"
    );
}

/// The testbed with the canned HTTP reply on rs1 and rs2, ports 80 and
/// `HTTP_PORT` (a TCP check only needs the SYN/ACK, so port 80 serves both).
/// Built without the default listeners rather than replacing them: a
/// replaced listener's port can still be held for an instant by a process
/// another test is forking (the listener's fd is close-on-exec, not closed
/// at fork), and the new bind then fails with EADDRINUSE.
fn testbed() -> Testbed {
    let tb = Testbed::without_servers();
    for host in ["rs1", "rs2"] {
        for port in [PORT, HTTP_PORT] {
            tb.serve(host, port, Behaviour::Respond(HTTP_REPLY.to_vec()));
        }
    }
    tb
}

/// The checks installed as `make install` lays them out: a copy of the
/// binary, `check_raw`, and its names as symlinks beside it, in a
/// root-owned, non-writable directory (keepalived's script security).
fn install_checks() -> TempDir {
    let dir = TempDir::new();
    let bin = dir.path().join("check_raw");
    fs::copy(CHECK_RAW, &bin).unwrap_or_else(|e| panic!("copy {CHECK_RAW}: {e}"));
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).expect("chmod check_raw");
    for name in ["check_raw_tcp", "check_raw_http_get", "check_raw_http"] {
        symlink("check_raw", dir.path().join(name)).expect("symlink a check name");
    }
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod dir");
    dir
}

/// A file of `packaging/`, which must exist.
fn packaging(rel: &str) -> PathBuf {
    let p = Path::new(REPO).join("packaging").join(rel);
    assert!(p.is_file(), "{} is missing from packaging/", p.display());
    p
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

fn write_executable(path: &Path, contents: &str) {
    fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod +x");
}

fn mkdirs(base: &Path, names: &[&str]) {
    for n in names {
        fs::create_dir_all(base.join(n)).unwrap_or_else(|e| panic!("mkdir {n}: {e}"));
    }
}

/// Polls `probe` every 100 ms until it returns `Some`, at most `limit`;
/// then panics with `what` and the diagnostics `diag` gives.
fn wait_for<T>(
    limit: Duration,
    what: &str,
    mut probe: impl FnMut() -> Option<T>,
    diag: impl Fn() -> String,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("{what}: not seen within {limit:?}\n{}", diag());
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// The last `n` lines of a log, for failure messages.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A daemon running in the foreground in a testbed namespace, its stdout
/// and stderr going to a log file. Dropping it stops it (SIGTERM to the
/// daemon, SIGKILL to its process group after `STOP_LIMIT`) and reaps it,
/// also when the test panics.
struct Daemon {
    name: &'static str,
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    /// `ip netns exec <host's namespace> argv...` (which execs, so the pid
    /// is the daemon's), in its own process group.
    fn start(
        tb: &Testbed,
        host: &str,
        name: &'static str,
        argv: &[&str],
        env: &[(&str, &str)],
        cwd: &Path,
        log: PathBuf,
    ) -> Daemon {
        let out = File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let err = out.try_clone().expect("dup log fd");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", tb.ns(host)])
            .args(argv)
            .envs(env.iter().copied())
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({argv:?}): {e}"));
        Daemon {
            name,
            child: Some(child),
            log,
        }
    }

    fn log(&self) -> String {
        read(&self.log)
    }

    /// True once the daemon has exited (not reaped, so its pid and process
    /// group stay ours until `stop`).
    fn exited(&self) -> bool {
        let Some(child) = &self.child else {
            return true;
        };
        // SAFETY: waitid writes into a zeroed siginfo we own; WNOWAIT leaves
        // the child to be reaped by `Child::wait`.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(
                libc::P_PID,
                child.id() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            r == 0 && info.si_pid() != 0
        }
    }

    /// Panics with the log if the daemon has already exited.
    fn assert_running(&self) {
        assert!(
            !self.exited(),
            "{} exited early:\n{}",
            self.name,
            tail(&self.log(), 40)
        );
    }

    /// Stops the daemon: SIGTERM, up to `STOP_LIMIT` for it to exit, then
    /// SIGKILL to its whole process group (workers, helpers, checks), and
    /// reaps it. Returns its exit status (None if already stopped).
    fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let pid = child.id() as libc::pid_t;
        // The child is not reaped before the end of this function, so `pid`
        // (and the group it leads) cannot have been reused.
        // SAFETY: plain syscalls on our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < STOP_LIMIT {
            if self.exited_pid(pid) {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: as above; whatever is left of the group goes.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        child.wait().ok()
    }

    fn exited_pid(&self, pid: libc::pid_t) -> bool {
        // SAFETY: as in `exited`.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            r == 0 && info.si_pid() != 0
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---- keepalived ------------------------------------------------------------

const KEEPALIVED: &str = "/usr/sbin/keepalived";

/// Builds `tests/daemons/ipvs_stub.c` into `dir`.
fn build_ipvs_stub(dir: &Path) -> PathBuf {
    let src = Path::new(REPO).join("tests/daemons/ipvs_stub.c");
    let so = dir.join("ipvs_stub.so");
    let out = Command::new("gcc")
        .args(["-O2", "-Wall", "-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .arg("-ldl")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run gcc ({e}): run .ci/run, or apt-get install -y gcc libc6-dev")
        });
    assert!(
        out.status.success(),
        "gcc {} failed:\n{}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    so
}

/// One `real_server` block with a MISC_CHECK running `command`.
fn keepalived_real(rs: &str, port: u16, command: &str, extra: &str) -> String {
    format!(
        "    real_server {rs} {port} {{
        weight 1
        MISC_CHECK {{
            misc_path \"{command}\"
            misc_timeout 3
{extra}        }}
    }}
"
    )
}

/// One LVS-DR `virtual_server` on the VIP, checked every second.
fn keepalived_virtual(port: u16, reals: &[String]) -> String {
    format!(
        "virtual_server {VIP} {port} {{
    delay_loop 1
    lb_algo wlc
    lb_kind DR
    protocol TCP
{}}}
",
        reals.concat()
    )
}

/// A running keepalived (checkers only) with the IPVS stub preloaded.
struct Keepalived {
    daemon: Daemon,
    ipvs_log: PathBuf,
}

impl Keepalived {
    fn start(tb: &Testbed, dir: &TempDir, virtual_servers: &str) -> Keepalived {
        let stub = build_ipvs_stub(dir.path());
        // enable_script_security: the checks must pass keepalived's path
        // checks, as with the packaged keepalived.conf.example.
        let conf = format!(
            "global_defs {{
    router_id crt
    enable_script_security
    script_user root
}}

{virtual_servers}"
        );
        let conf = dir.write("keepalived.conf", conf.as_bytes());
        let p = |n: &str| dir.path().join(n).display().to_string();
        let ipvs_log = dir.path().join("ipvs.log");
        let (pid, cpid, vpid) = (p("keepalived.pid"), p("checkers.pid"), p("vrrp.pid"));
        let stub_s = stub.display().to_string();
        let ipvs_log_s = ipvs_log.display().to_string();
        let conf_s = conf.display().to_string();
        let daemon = Daemon::start(
            tb,
            "lb",
            "keepalived",
            &[
                KEEPALIVED,
                "--dont-fork",
                "--log-console",
                "--log-detail",
                "--check",
                "-f",
                &conf_s,
                "--pid",
                &pid,
                "--checkers_pid",
                &cpid,
                "--vrrp_pid",
                &vpid,
            ],
            &[("LD_PRELOAD", &stub_s), ("IPVS_STUB_LOG", &ipvs_log_s)],
            dir.path(),
            dir.path().join("keepalived.log"),
        );
        Keepalived { daemon, ipvs_log }
    }

    fn ipvs_log(&self) -> String {
        read(&self.ipvs_log)
    }

    fn diag(&self) -> String {
        format!(
            "--- keepalived log ---\n{}\n--- IPVS calls (stub) ---\n{}",
            tail(&self.daemon.log(), 60),
            self.ipvs_log()
        )
    }
}

/// The IPVS table the stub's log describes: (VIP:PORT, RIP:PORT) -> weight,
/// replaying ADDDEST/EDITDEST/DELDEST in order.
fn ipvs_table(log: &str) -> BTreeMap<(String, String), i64> {
    let mut table = BTreeMap::new();
    for line in log.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (Some(op), Some(vs), Some(rs)) = (
            words.first(),
            words.get(1),
            words.get(2).and_then(|w| w.strip_prefix("rs=")),
        ) else {
            continue;
        };
        let weight = words
            .iter()
            .find_map(|w| w.strip_prefix("weight="))
            .and_then(|w| w.parse().ok())
            .unwrap_or(-1);
        let key = (vs.to_string(), rs.to_string());
        match *op {
            "ADDDEST" | "EDITDEST" => {
                table.insert(key, weight);
            }
            "DELDEST" => {
                table.remove(&key);
            }
            _ => {}
        }
    }
    table
}

fn key(vip_port: u16, rs: &str, port: u16) -> (String, String) {
    (format!("{VIP}:{vip_port}"), format!("{rs}:{port}"))
}

/// keepalived's log line for a MISC_CHECK's first verdict on `rs:port`.
fn misc_verdict(rs: &str, port: u16, script: &Path, verdict: &str) -> String {
    format!(
        "Misc check for [[{rs}]:tcp:{port} VS [{VIP}]:tcp:{port}] by [{}] {verdict}",
        script.display()
    )
}

/// Plain MISC_CHECK, `--protocol keepalived`: rs1 is added to IPVS, rs2
/// never is. `alpha` starts every real server down, so only a passing
/// check adds one; TCP on port 80 and HTTP (`-S 200 -s ok`) on 8080.
#[test]
fn keepalived_misc_check_adds_only_the_real_server_with_the_vip() {
    if needs_root() {
        return;
    }
    require_installed(KEEPALIVED, "keepalived");
    let tb = testbed();
    let checks = install_checks();
    let dir = TempDir::new();
    let tcp = checks.path().join("check_raw_tcp");
    let http = checks.path().join("check_raw_http");
    let tcp_cmd = |rs: &str| {
        format!(
            "{} --protocol keepalived eth0 {rs} {VIP} {PORT}",
            tcp.display()
        )
    };
    let http_cmd = |rs: &str| {
        format!(
            "{} --protocol keepalived -S 200 -s ok eth0 {rs} {VIP} {HTTP_PORT} {VHOST} /health",
            http.display()
        )
    };
    let alpha = "            alpha\n";
    let vs = [
        keepalived_virtual(
            PORT,
            &[
                keepalived_real(RS1, PORT, &tcp_cmd(RS1), alpha),
                keepalived_real(RS2, PORT, &tcp_cmd(RS2), alpha),
            ],
        ),
        keepalived_virtual(
            HTTP_PORT,
            &[
                keepalived_real(RS1, HTTP_PORT, &http_cmd(RS1), alpha),
                keepalived_real(RS2, HTTP_PORT, &http_cmd(RS2), alpha),
            ],
        ),
    ]
    .concat();
    let mut k = Keepalived::start(&tb, &dir, &vs);

    let expected = [
        misc_verdict(RS1, PORT, &tcp, "succeeded."),
        misc_verdict(
            RS2,
            PORT,
            &tcp,
            "failed with retry disabled (exited with status 1).",
        ),
        misc_verdict(RS1, HTTP_PORT, &http, "succeeded."),
        misc_verdict(
            RS2,
            HTTP_PORT,
            &http,
            "failed with retry disabled (exited with status 1).",
        ),
    ];
    wait_for(
        VERDICT_LIMIT,
        "keepalived's verdicts on rs1 and rs2 (and rs1 added to IPVS)",
        || {
            k.daemon.assert_running();
            let log = k.daemon.log();
            let table = ipvs_table(&k.ipvs_log());
            let done = expected.iter().all(|e| log.contains(e.as_str()))
                && table.contains_key(&key(PORT, RS1, PORT))
                && table.contains_key(&key(HTTP_PORT, RS1, HTTP_PORT));
            done.then_some(())
        },
        || k.diag(),
    );
    // One more round of checks, then the table as keepalived left it
    // (before stopping: keepalived removes everything when it stops).
    thread::sleep(Duration::from_millis(1500));
    let diag = k.diag();
    let calls = k.ipvs_log();
    let table = ipvs_table(&calls);
    k.daemon.stop();

    assert_eq!(
        table.get(&key(PORT, RS1, PORT)),
        Some(&1),
        "rs1:80 up, weight 1\n{diag}"
    );
    assert_eq!(
        table.get(&key(HTTP_PORT, RS1, HTTP_PORT)),
        Some(&1),
        "rs1:8080 up, weight 1\n{diag}"
    );
    assert!(
        !calls.contains(&format!("rs={RS2}:")),
        "rs2 (no VIP) must never be added to IPVS\n{diag}"
    );
    assert!(
        calls.contains(&format!("ADD {VIP}:{PORT} sched=wlc")),
        "the virtual server itself must be created\n{diag}"
    );
    for e in &expected {
        assert!(
            diag.contains(e.as_str()),
            "keepalived should log {e:?}\n{diag}"
        );
    }
}

/// `misc_dynamic` with `--protocol keepalived-dynamic --weight 7`: rs1's
/// weight goes from its configured 1 to 7 (exit 9), rs2 is removed (exit
/// 1). Without `alpha` both start up, so both changes are visible.
#[test]
fn keepalived_misc_dynamic_sets_the_weight_and_removes_the_real_server_without_vip() {
    if needs_root() {
        return;
    }
    require_installed(KEEPALIVED, "keepalived");
    let tb = testbed();
    let checks = install_checks();
    let dir = TempDir::new();
    let tcp = checks.path().join("check_raw_tcp");
    let cmd = |rs: &str| {
        format!(
            "{} --protocol keepalived-dynamic --weight 7 eth0 {rs} {VIP} {PORT}",
            tcp.display()
        )
    };
    let dynamic = "            misc_dynamic\n";
    let vs = keepalived_virtual(
        PORT,
        &[
            keepalived_real(RS1, PORT, &cmd(RS1), dynamic),
            keepalived_real(RS2, PORT, &cmd(RS2), dynamic),
        ],
    );
    let mut k = Keepalived::start(&tb, &dir, &vs);

    let rs1_done = misc_verdict(RS1, PORT, &tcp, "succeeded.");
    let rs2_done = misc_verdict(
        RS2,
        PORT,
        &tcp,
        "failed with retry disabled (exited with status 1).",
    );
    wait_for(
        VERDICT_LIMIT,
        "rs1 at weight 7 and rs2 removed from IPVS",
        || {
            k.daemon.assert_running();
            let log = k.daemon.log();
            let table = ipvs_table(&k.ipvs_log());
            let done = log.contains(&rs1_done)
                && log.contains(&rs2_done)
                && table.get(&key(PORT, RS1, PORT)) == Some(&7)
                && !table.contains_key(&key(PORT, RS2, PORT));
            done.then_some(())
        },
        || k.diag(),
    );
    thread::sleep(Duration::from_millis(1500));
    let diag = k.diag();
    let calls = k.ipvs_log();
    let table = ipvs_table(&calls);
    k.daemon.stop();

    assert_eq!(
        table.get(&key(PORT, RS1, PORT)),
        Some(&7),
        "rs1 weight 7\n{diag}"
    );
    assert!(
        !table.contains_key(&key(PORT, RS2, PORT)),
        "rs2 removed\n{diag}"
    );
    assert!(
        calls.contains(&format!(
            "EDITDEST {VIP}:{PORT} rs={RS1}:{PORT} weight=7 fwd=DR"
        )),
        "the weight change is an IPVS edit of rs1\n{diag}"
    );
    assert!(
        calls.contains(&format!("DELDEST {VIP}:{PORT} rs={RS2}:{PORT}")),
        "rs2 is deleted from IPVS\n{diag}"
    );
}

/// The packaged keepalived.conf.example as it is, but for paths (checks
/// and role file in temp dirs), the check user (`nobody`: the example's
/// `keepalived_script` is created by the Debian package, not by CI) and
/// `delay_loop 1` instead of 5. keepalived runs VRRP too: it becomes MASTER
/// on its own, its notify_master runs the packaged check_raw-role-notify,
/// which writes `1` to the role file, and the checks (`-r ROLE_FILE`, run as
/// `nobody` with the file capability `make install` sets) then send raw
/// frames. Expected, from the real servers the example names: rs1 (VIP,
/// HTTP 200 `ok`) up on 80 and 443 at weight 100; rs3 (VIP, answering
/// `Content-Type: text/plain`, the single-quoted argument) up on 80; rs2
/// (no VIP) down on 80 (misc_dynamic) and 443.
#[test]
fn keepalived_runs_the_packaged_example_with_vrrp_and_the_role_file() {
    if needs_root() {
        return;
    }
    require_installed(KEEPALIVED, "keepalived");
    let tb = Testbed::without_servers();
    for (host, port) in [
        ("rs1", PORT),
        ("rs2", PORT),
        ("rs3", PORT),
        ("rs1", 443),
        ("rs2", 443),
    ] {
        tb.serve(host, port, Behaviour::Respond(HTTP_REPLY.to_vec()));
    }
    let checks = install_checks();
    let setcap = Command::new("setcap")
        .arg("cap_net_raw+ep")
        .arg(checks.path().join("check_raw"))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run setcap ({e}): run .ci/run, or apt-get install -y libcap2-bin")
        });
    assert!(
        setcap.status.success(),
        "setcap cap_net_raw+ep failed: {}",
        String::from_utf8_lossy(&setcap.stderr)
    );
    let notify = read(&packaging("keepalived/check_raw-role-notify"));
    write_executable(&checks.path().join("check_raw-role-notify"), &notify);

    let dir = TempDir::new();
    let role = dir.path().join("run/role");
    let mut conf = read(&packaging("keepalived/keepalived.conf.example"));
    for (from, to) in [
        ("/run/check_raw/role", role.display().to_string()),
        (
            "/usr/lib/check_raw/",
            format!("{}/", checks.path().display()),
        ),
        (
            "script_user keepalived_script",
            "script_user nobody".to_owned(),
        ),
        ("delay_loop 5", "delay_loop 1".to_owned()),
    ] {
        assert!(
            conf.contains(from),
            "packaging/keepalived/keepalived.conf.example no longer contains {from:?}: update this test"
        );
        conf = conf.replace(from, &to);
    }
    // Strip the comment lines: the config is the test's input, the comments
    // only make failure output longer.
    let conf: String = conf
        .lines()
        .filter(|l| !l.trim_start().starts_with('!'))
        .map(|l| format!("{l}\n"))
        .collect();

    let stub = build_ipvs_stub(dir.path());
    let conf_path = dir
        .write("keepalived.conf", conf.as_bytes())
        .display()
        .to_string();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let ipvs_log = dir.path().join("ipvs.log");
    let (pid, cpid, vpid) = (p("keepalived.pid"), p("checkers.pid"), p("vrrp.pid"));
    let stub_s = stub.display().to_string();
    let ipvs_log_s = ipvs_log.display().to_string();
    let mut k = Keepalived {
        daemon: Daemon::start(
            &tb,
            "lb",
            "keepalived",
            &[
                KEEPALIVED,
                "--dont-fork",
                "--log-console",
                "--log-detail",
                "-f",
                &conf_path,
                "--pid",
                &pid,
                "--checkers_pid",
                &cpid,
                "--vrrp_pid",
                &vpid,
            ],
            &[("LD_PRELOAD", &stub_s), ("IPVS_STUB_LOG", &ipvs_log_s)],
            dir.path(),
            dir.path().join("keepalived.log"),
        ),
        ipvs_log,
    };
    let diag = || {
        format!(
            "{}\n--- role file ---\n{:?}\n--- keepalived.conf ---\n{conf}",
            k.diag(),
            read(&role)
        )
    };
    let up = [
        (key(PORT, RS1, PORT), 100),
        (key(PORT, RS3, PORT), 100),
        (key(443, RS1, 443), 100),
    ];
    let down = [key(PORT, RS2, PORT), key(443, RS2, 443)];
    wait_for(
        Duration::from_secs(30),
        "MASTER, role file 1, rs1 and rs3 up at weight 100, rs2 down",
        || {
            k.daemon.assert_running();
            let table = ipvs_table(&k.ipvs_log());
            let done = read(&role) == "1\n"
                && up.iter().all(|(key, w)| table.get(key) == Some(w))
                && down.iter().all(|key| !table.contains_key(key));
            done.then_some(())
        },
        diag,
    );
    // rs2 is removed by its first raw check after MASTER; give rs1 and rs3
    // two more rounds of raw checks to prove they pass them.
    thread::sleep(Duration::from_millis(2500));
    let msg = diag();
    let calls = k.ipvs_log();
    let table = ipvs_table(&calls);
    let log = k.daemon.log();
    k.daemon.stop();

    for (key, w) in &up {
        assert_eq!(table.get(key), Some(w), "{key:?} up at weight {w}\n{msg}");
        let del = format!("DELDEST {} rs={} ", key.0, key.1);
        assert!(
            !calls.contains(&del),
            "{key:?} must never be removed\n{msg}"
        );
    }
    for key in &down {
        assert!(!table.contains_key(key), "{key:?} down\n{msg}");
    }
    assert!(log.contains("Entering MASTER STATE"), "VRRP MASTER\n{msg}");
    for bad in [
        "Unsafe permissions",
        "disabling",
        "SECURITY VIOLATION",
        "not executable",
    ] {
        assert!(!log.contains(bad), "keepalived complains: {bad:?}\n{msg}");
    }
}

// ---- ldirectord ------------------------------------------------------------

const LDIRECTORD: &str = "/usr/sbin/ldirectord";

/// A packaged ldirectord wrapper with the installed checks' directory in
/// place of /usr/lib/check_raw.
fn ldirectord_wrapper(checks: &Path, dir: &Path, name: &str) -> PathBuf {
    let text = read(&packaging(&format!("ldirectord/{name}")));
    let packaged = "/usr/lib/check_raw/";
    assert!(
        text.contains(packaged),
        "packaging/ldirectord/{name} should exec a check from {packaged}:\n{text}"
    );
    let text = text.replace(packaged, &format!("{}/", checks.display()));
    let path = dir.join(name);
    write_executable(&path, &text);
    path
}

/// `ldirectord -d` (foreground) with `checktype = external` and the packaged
/// wrappers: TCP on port 80, HTTP (`-S 200 --url /health`) on 8080. With
/// `quiescent = no` a real server that fails is deleted, one that passes
/// added: rs1 ends up in the table, rs2 not, and ldirectord saw rs2's
/// check exit 1.
#[test]
fn ldirectord_external_check_keeps_only_the_real_server_with_the_vip() {
    if needs_root() {
        return;
    }
    require_installed(LDIRECTORD, "ldirectord");
    let tb = testbed();
    let checks = install_checks();
    let dir = TempDir::new();
    let tcp = ldirectord_wrapper(checks.path(), dir.path(), "check_raw_tcp-ldirectord");
    let http = ldirectord_wrapper(checks.path(), dir.path(), "check_raw_http-ldirectord");
    let ipvsadm = fs::read_to_string(Path::new(REPO).join("tests/daemons/ipvsadm"))
        .expect("tests/daemons/ipvsadm");
    write_executable(&dir.path().join("ipvsadm"), &ipvsadm);

    let virtual_ = |port: u16, check: &Path| {
        format!(
            "virtual = {VIP}:{port}
        real = {RS1}:{port} gate
        real = {RS2}:{port} gate
        scheduler = wlc
        protocol = tcp
        checktype = external
        checkcommand = \"{}\"
",
            check.display()
        )
    };
    // checktimeout (s) above the wrappers' -t 2000 (ms), as packaged.
    let conf = format!(
        "checktimeout = 3
checkinterval = 1
quiescent = no
autoreload = no
{}{}",
        virtual_(PORT, &tcp),
        virtual_(HTTP_PORT, &http)
    );
    // The config's name picks ldirectord's pid file,
    // /var/run/ldirectord.<name>.pid: make it unique.
    let cf_name = format!(
        "ldirectord-{}.cf",
        dir.path().file_name().unwrap().to_string_lossy()
    );
    let cf = dir.write(&cf_name, conf.as_bytes()).display().to_string();
    let mut d = Daemon::start(
        &tb,
        "lb",
        "ldirectord",
        &[LDIRECTORD, "-d", &cf, "start"],
        &[],
        dir.path(),
        dir.path().join("ldirectord.log"),
    );
    let state = dir.path().join("ipvsadm.state");
    let calls = dir.path().join("ipvsadm.log");
    let diag = || {
        format!(
            "--- ldirectord -d output ---\n{}\n--- ipvsadm calls ---\n{}\n--- table ---\n{}",
            tail(&d.log(), 60),
            read(&calls),
            read(&state)
        )
    };
    let real = |port: u16, rs: &str| format!("R {VIP}:{port} {rs}:{port} Route 1 ");
    // "DEBUG3: Deactivated service RIP:RPORT: <$@> after calling CHECK with
    // result N", N the check's exit status.
    let failed = |log: &str, port: u16, check: &Path| {
        let rs = format!("Deactivated service {RS2}:{port}:");
        let result = format!("after calling {} with result 1", check.display());
        log.lines().any(|l| l.contains(&rs) && l.ends_with(&result))
    };
    wait_for(
        VERDICT_LIMIT,
        "rs1 in ldirectord's table and rs2's check failed",
        || {
            d.assert_running();
            let table = read(&state);
            let log = d.log();
            let done = table.contains(&real(PORT, RS1))
                && table.contains(&real(HTTP_PORT, RS1))
                && failed(&log, PORT, &tcp)
                && failed(&log, HTTP_PORT, &http);
            done.then_some(())
        },
        diag,
    );
    thread::sleep(Duration::from_millis(1500));
    let table = read(&state);
    let msg = diag();
    d.stop();

    assert!(
        table.contains(&real(PORT, RS1)),
        "rs1:80 in the table\n{msg}"
    );
    assert!(
        table.contains(&real(HTTP_PORT, RS1)),
        "rs1:8080 in the table\n{msg}"
    );
    assert!(
        !table.contains(&format!(" {RS2}:")),
        "rs2 not in the table\n{msg}"
    );
    for (port, check) in [(PORT, &tcp), (HTTP_PORT, &http)] {
        // ldirectord passes VIP VPORT RIP RPORT and nothing else.
        let call = format!(
            "Running system_timeout(3, {} {VIP} {port} {RS1} {port})",
            check.display()
        );
        assert!(msg.contains(&call), "ldirectord should run {call}\n{msg}");
        assert!(
            msg.contains(&format!("Activated service {RS1}:{port}")),
            "rs1:{port} activated\n{msg}"
        );
    }
}

// ---- Nagios 4 --------------------------------------------------------------

const NAGIOS: &str = "/usr/sbin/nagios4";

/// One service: (host, description, check_command, expected state, expected
/// start of the plugin output).
type ServiceCase = (&'static str, &'static str, String, u8, &'static str);

/// The services both monitoring daemons run, against hosts rs1 and rs2
/// whose address is the real server's. Nagios writes them with `!`
/// arguments of the packaged commands; Icinga with vars (below).
fn nagios_services() -> Vec<ServiceCase> {
    let tcp = format!("check_raw_tcp!eth0!{VIP}!{PORT}");
    let http = format!("check_raw_http!eth0!{VIP}!{PORT}!{VHOST}!/health!-S 200 -s ok");
    vec![
        ("rs1", "raw_tcp", tcp.clone(), 0, "RAW_TCP OK - "),
        ("rs2", "raw_tcp", tcp.clone(), 2, "RAW_TCP CRITICAL - "),
        // Any response time is above 0 s: WARNING, exit 1.
        (
            "rs1",
            "raw_tcp_warning",
            format!("{tcp}!--warning 0"),
            1,
            "RAW_TCP WARNING - ",
        ),
        ("rs1", "raw_http", http.clone(), 0, "RAW_HTTP OK - "),
        ("rs2", "raw_http", http, 2, "RAW_HTTP CRITICAL - "),
        (
            "rs1",
            "raw_http_get",
            format!("check_raw_http_get!eth0!{VIP}!{PORT}!{VHOST}!/health!{BODY_MD5}"),
            0,
            "RAW_HTTP_GET OK - ",
        ),
    ]
}

/// A Nagios 4 instance whose every file is in `dir`.
fn nagios_config(dir: &Path, checks: &Path) -> PathBuf {
    let d = dir.display();
    mkdirs(dir, &["checkresults"]);
    fs::write(
        dir.join("resource.cfg"),
        format!("$USER1$={}\n", checks.display()),
    )
    .unwrap();

    let mut objects = String::from(
        "define timeperiod {
    timeperiod_name always
    alias           always
    sunday          00:00-24:00
    monday          00:00-24:00
    tuesday         00:00-24:00
    wednesday       00:00-24:00
    thursday        00:00-24:00
    friday          00:00-24:00
    saturday        00:00-24:00
}
define contact {
    contact_name                  nobody
    host_notifications_enabled    0
    service_notifications_enabled 0
    host_notification_period      always
    service_notification_period   always
    host_notification_options     n
    service_notification_options  n
    host_notification_commands    notify-nobody
    service_notification_commands notify-nobody
}
define command {
    command_name notify-nobody
    command_line /bin/true
}
",
    );
    for (host, addr) in [("rs1", RS1), ("rs2", RS2)] {
        // No host check: the services are what is tested.
        objects.push_str(&format!(
            "define host {{
    host_name             {host}
    address               {addr}
    max_check_attempts    1
    check_period          always
    active_checks_enabled 0
    contacts              nobody
    notification_period   always
}}
"
        ));
    }
    for (host, desc, command, _, _) in nagios_services() {
        objects.push_str(&format!(
            "define service {{
    host_name             {host}
    service_description   {desc}
    check_command         {command}
    check_interval        1
    retry_interval        1
    max_check_attempts    1
    check_period          always
    contacts              nobody
    notification_period   always
}}
"
        ));
    }
    fs::write(dir.join("objects.cfg"), objects).unwrap();

    let conf = format!(
        "cfg_file={cmds}
cfg_file={d}/objects.cfg
resource_file={d}/resource.cfg
log_file={d}/nagios.log
object_cache_file={d}/objects.cache
precached_object_file={d}/objects.precache
status_file={d}/status.dat
status_update_interval=1
temp_file={d}/nagios.tmp
temp_path={d}
lock_file={d}/nagios.lock
command_file={d}/nagios.cmd
query_socket={d}/nagios.qh
check_result_path={d}/checkresults
state_retention_file={d}/retention.dat
retain_state_information=0
debug_file={d}/nagios.debug
debug_level=0
log_archive_path={d}
log_rotation_method=n
use_syslog=0
nagios_user=root
nagios_group=root
check_external_commands=0
enable_notifications=0
enable_event_handlers=0
enable_flap_detection=0
process_performance_data=0
interval_length=1
service_inter_check_delay_method=n
host_inter_check_delay_method=n
max_service_check_spread=1
max_host_check_spread=1
check_result_reaper_frequency=1
service_check_timeout=10
illegal_macro_output_chars=`~$&|'\"<>
",
        cmds = packaging("nagios/check_raw.cfg").display()
    );
    let path = dir.join("nagios.cfg");
    fs::write(&path, conf).unwrap();
    path
}

/// The `servicestatus` blocks of a status.dat: (host, service) -> fields.
fn nagios_status(text: &str) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for block in text.split("servicestatus {").skip(1) {
        let body = block.split('}').next().unwrap_or("");
        let fields: BTreeMap<String, String> = body
            .lines()
            .filter_map(|l| l.trim().split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        if let (Some(h), Some(s)) = (fields.get("host_name"), fields.get("service_description")) {
            out.insert((h.clone(), s.clone()), fields.clone());
        }
    }
    out
}

/// `nagios4 -v` accepts the packaged command definitions (0 errors; the
/// warnings are listed on failure).
#[test]
fn nagios_accepts_the_packaged_command_definitions() {
    if needs_root() {
        return;
    }
    require_installed(NAGIOS, "nagios4-core");
    let checks = install_checks();
    let dir = TempDir::new();
    let cfg = nagios_config(dir.path(), checks.path());
    let r = run_local(Path::new(NAGIOS), &["-v", &cfg.display().to_string()]);
    assert_eq!(r.code, Some(0), "nagios4 -v failed\n{r}");
    assert!(r.stdout.contains("Total Errors:   0"), "{r}");
    assert!(r.stdout.contains("Total Warnings: 0"), "{r}");
    // The packaged three, and the test's notify-nobody.
    assert!(r.stdout.contains("Checked 4 commands."), "{r}");
}

/// Nagios 4 runs the packaged commands (checks every second): rs1 OK, rs2
/// CRITICAL, a `--warning 0` WARNING, and the HTTP checks.
#[test]
fn nagios_runs_the_packaged_commands() {
    if needs_root() {
        return;
    }
    require_installed(NAGIOS, "nagios4-core");
    let tb = testbed();
    let checks = install_checks();
    let dir = TempDir::new();
    let cfg = nagios_config(dir.path(), checks.path())
        .display()
        .to_string();
    let d = Daemon::start(
        &tb,
        "lb",
        "nagios4",
        &[NAGIOS, &cfg],
        &[],
        dir.path(),
        dir.path().join("nagios.out"),
    );
    let status_path = dir.path().join("status.dat");
    let cases = nagios_services();
    let diag = || {
        format!(
            "--- nagios4 output ---\n{}\n--- nagios.log ---\n{}\n--- status.dat (services) ---\n{:#?}",
            tail(&d.log(), 30),
            tail(&read(&dir.path().join("nagios.log")), 40),
            nagios_status(&read(&status_path))
        )
    };
    let status = wait_for(
        VERDICT_LIMIT,
        "every service checked by Nagios",
        || {
            d.assert_running();
            let st = nagios_status(&read(&status_path));
            let all = cases.iter().all(|(h, s, ..)| {
                st.get(&(h.to_string(), s.to_string()))
                    .is_some_and(|f| f.get("has_been_checked").map(String::as_str) == Some("1"))
            });
            all.then_some(st)
        },
        diag,
    );
    let msg = diag();
    drop(d);
    for (host, desc, command, state, prefix) in &cases {
        let f = &status[&(host.to_string(), desc.to_string())];
        let output = f.get("plugin_output").map(String::as_str).unwrap_or("");
        assert_eq!(
            f.get("current_state").map(String::as_str),
            Some(state.to_string().as_str()),
            "{host}/{desc} ({command}): state {state} expected, output {output:?}\n{msg}"
        );
        assert!(
            output.starts_with(prefix),
            "{host}/{desc} ({command}): output should start with {prefix:?}: {output:?}\n{msg}"
        );
    }
}

// ---- Icinga 2 --------------------------------------------------------------

const ICINGA2: &str = "/usr/sbin/icinga2";

/// (host, service name, check command, vars, expected state, output prefix):
/// the same services as Nagios runs, written with the CheckCommands' vars.
fn icinga_services() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    String,
    u8,
    &'static str,
)> {
    let base =
        format!("vars.raw_iface = \"eth0\"\n  vars.raw_vip = \"{VIP}\"\n  vars.raw_port = {PORT}");
    let http = format!(
        "{base}\n  vars.raw_host = \"{VHOST}\"\n  vars.raw_path = \"/health\"\n  vars.raw_status_code = \"200\"\n  vars.raw_string = \"ok\""
    );
    vec![
        (
            "rs1",
            "raw_tcp",
            "raw_tcp",
            base.clone(),
            0,
            "RAW_TCP OK - ",
        ),
        (
            "rs2",
            "raw_tcp",
            "raw_tcp",
            base.clone(),
            2,
            "RAW_TCP CRITICAL - ",
        ),
        (
            "rs1",
            "raw_tcp_warning",
            "raw_tcp",
            format!("{base}\n  vars.raw_warning = \"0\""),
            1,
            "RAW_TCP WARNING - ",
        ),
        (
            "rs1",
            "raw_http",
            "raw_http",
            http.clone(),
            0,
            "RAW_HTTP OK - ",
        ),
        (
            "rs2",
            "raw_http",
            "raw_http",
            http,
            2,
            "RAW_HTTP CRITICAL - ",
        ),
        (
            "rs1",
            "raw_http_get",
            "raw_http_get",
            // raw_host and raw_path left to the CheckCommand's defaults:
            // the VIP and "/".
            format!("{base}\n  vars.raw_md5 = \"{BODY_MD5}\""),
            0,
            "RAW_HTTP_GET OK - ",
        ),
    ]
}

/// An Icinga 2 instance in `dir`: the packaged CheckCommands included as
/// they are, PluginDir the installed checks, a checker, hosts rs1/rs2.
/// Returns the arguments after `icinga2 daemon`.
fn icinga_config(dir: &Path, checks: &Path) -> Vec<String> {
    mkdirs(dir, &["data", "log", "cache", "spool", "run"]);
    let mut conf = format!(
        "const PluginDir = \"{plugins}\"
include <itl>
include \"{commands}\"

object CheckerComponent \"checker\" {{ }}
",
        plugins = checks.display(),
        commands = packaging("icinga2/check_raw.conf").display()
    );
    for (host, addr) in [("rs1", RS1), ("rs2", RS2)] {
        conf.push_str(&format!(
            "object Host \"{host}\" {{
  address = \"{addr}\"
  check_command = \"dummy\"
  enable_active_checks = false
}}
"
        ));
    }
    for (host, name, command, vars, _, _) in icinga_services() {
        conf.push_str(&format!(
            "object Service \"{name}\" {{
  host_name = \"{host}\"
  check_command = \"{command}\"
  check_interval = 1s
  retry_interval = 1s
  max_check_attempts = 1
  {vars}
}}
"
        ));
    }
    let main = dir.join("icinga2.conf");
    fs::write(&main, conf).unwrap();
    let d = dir.display();
    vec![
        "-c".into(),
        main.display().to_string(),
        format!("-DDataDir={d}/data"),
        format!("-DLogDir={d}/log"),
        format!("-DCacheDir={d}/cache"),
        format!("-DSpoolDir={d}/spool"),
        format!("-DInitRunDir={d}/run"),
        "-DRunAsUser=root".into(),
        "-DRunAsGroup=root".into(),
    ]
}

/// The objects of an Icinga 2 state file (netstrings of JSON):
/// "host!service" -> its JSON text.
fn icinga_state(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = text;
    while let Some((len, after)) = rest.split_once(':') {
        let Ok(len) = len.trim().parse::<usize>() else {
            break;
        };
        if after.len() < len {
            break;
        }
        let json = &after[..len];
        rest = after[len..].strip_prefix(',').unwrap_or(&after[len..]);
        if json.contains("\"type\":\"Service\"") {
            if let Some(name) = json_string_after(json, "\"name\":") {
                out.insert(name, json.to_owned());
            }
        }
    }
    out
}

/// The JSON string value right after `key` (e.g. `"output":`), unescaped
/// enough for a status line.
fn json_string_after(json: &str, key: &str) -> Option<String> {
    let start = json.find(key)? + key.len();
    let s = json[start..].strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                c => out.push(c),
            },
            c => out.push(c),
        }
    }
    None
}

/// The number right after `key` in `json`.
fn json_number_after(json: &str, key: &str) -> Option<f64> {
    let start = json.find(key)? + key.len();
    let n: String = json[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    n.parse().ok()
}

/// `icinga2 daemon -C` accepts the packaged CheckCommands.
#[test]
fn icinga2_accepts_the_packaged_check_commands() {
    if needs_root() {
        return;
    }
    require_installed(ICINGA2, "icinga2-bin");
    let checks = install_checks();
    let dir = TempDir::new();
    let mut args = vec!["daemon".to_owned(), "-C".to_owned()];
    args.extend(icinga_config(dir.path(), checks.path()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run_local(Path::new(ICINGA2), &args);
    assert_eq!(r.code, Some(0), "icinga2 daemon -C failed\n{r}");
    assert!(
        !r.stdout.contains("warning/") && !r.stdout.contains("critical/"),
        "icinga2 warns about the configuration\n{r}"
    );
    // The three CheckCommands exist, with PluginDir resolved.
    let mut list = vec![
        "object",
        "list",
        "--type",
        "CheckCommand",
        "--name",
        "raw_*",
    ];
    list.extend(args[2..].iter().filter(|a| a.starts_with("-D")));
    let r = run_local(Path::new(ICINGA2), &list);
    assert_eq!(r.code, Some(0), "icinga2 object list failed\n{r}");
    for name in ["raw_tcp", "raw_http_get", "raw_http"] {
        let object = format!("Object '{name}' of type 'CheckCommand'");
        let command = format!("command = [ \"{}/check_{name}\" ]", checks.path().display());
        assert!(r.stdout.contains(&object), "{object} missing\n{r}");
        assert!(
            r.stdout.contains(&command),
            "{name}: {command} expected\n{r}"
        );
    }
}

/// Icinga 2 runs the packaged CheckCommands (checks every second): rs1 OK,
/// rs2 CRITICAL, `raw_warning = "0"` WARNING, and the HTTP checks. Read from
/// the state file Icinga writes when stopped, after its log shows every
/// check has finished.
#[test]
fn icinga2_runs_the_packaged_check_commands() {
    if needs_root() {
        return;
    }
    require_installed(ICINGA2, "icinga2-bin");
    let tb = testbed();
    let checks = install_checks();
    let dir = TempDir::new();
    let mut args = vec![
        ICINGA2.to_owned(),
        "daemon".to_owned(),
        "-x".into(),
        "notice".into(),
    ];
    args.extend(icinga_config(dir.path(), checks.path()));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut d = Daemon::start(
        &tb,
        "lb",
        "icinga2",
        &argv,
        &[("ICINGA2_USER", "root"), ("ICINGA2_GROUP", "root")],
        dir.path(),
        dir.path().join("icinga2.out"),
    );
    let cases = icinga_services();
    // "PID n ('<plugins>/check_raw_tcp' ... '198.51.100.11' ...) terminated
    // with exit code N": one per service, told apart by program and address.
    // "PID n ('<plugins>/check_raw_tcp' ... '198.51.100.11' ...) terminated
    // with exit code N", told apart by program, address and --warning.
    let finished = |log: &str, command: &str, host: &str, warning: bool| {
        let program = format!("'{}/check_{command}'", checks.path().display());
        let addr = format!("'{}'", if host == "rs1" { RS1 } else { RS2 });
        log.lines()
            .filter(|l| {
                l.contains("terminated with exit code")
                    && l.contains(&program)
                    && l.contains(&addr)
                    && l.contains("'--warning'") == warning
            })
            .count()
    };
    // Two runs of every check: the first result has surely been processed
    // (and the state file will hold a result) when the second has ended.
    wait_for(
        VERDICT_LIMIT,
        "every Icinga 2 check run twice",
        || {
            d.assert_running();
            let log = d.log();
            cases
                .iter()
                .all(|(host, name, command, ..)| {
                    finished(&log, command, host, name.ends_with("_warning")) >= 2
                })
                .then_some(())
        },
        || format!("--- icinga2 output ---\n{}", tail(&d.log(), 60)),
    );
    // The arguments Icinga built from the vars, defaults included.
    let get = format!(
        "'{}/check_raw_http_get' 'eth0' '{RS1}' '{VIP}' '{PORT}' '{VIP}' '/' '{BODY_MD5}')",
        checks.path().display()
    );
    assert!(
        d.log().contains(&get),
        "raw_http_get should run with the VIP as Host and / as path: {get}\n{}",
        tail(&d.log(), 60)
    );
    // Stop: Icinga writes its state file on the way out.
    let stopping = Instant::now();
    let status = d.stop();
    let log = d.log();
    let state_file = dir.path().join("data/icinga2.state");
    let state = icinga_state(&read(&state_file));
    let results: Vec<String> = state
        .iter()
        .map(|(name, json)| {
            let r = json
                .split_once("\"last_check_result\":")
                .map_or("", |(_, r)| r);
            format!("{name}: {}", &r[..r.len().min(400)])
        })
        .collect();
    let msg = format!(
        "icinga2 stopped with {status:?} in {:?}\n--- icinga2 output ---\n{}\n--- results in {} ---\n{}",
        stopping.elapsed(),
        tail(&log, 40),
        state_file.display(),
        results.join("\n")
    );
    for (host, name, _, _, expected, prefix) in &cases {
        let json = state
            .get(&format!("{host}!{name}"))
            .unwrap_or_else(|| panic!("no state for {host}!{name}\n{msg}"));
        let result = json
            .split_once("\"last_check_result\":")
            .map(|(_, r)| r)
            .filter(|r| !r.starts_with("null"))
            .unwrap_or_else(|| panic!("{host}!{name} has no check result\n{msg}"));
        let output = json_string_after(result, "\"output\":").unwrap_or_default();
        let exit = json_number_after(result, "\"exit_status\":");
        let st = json_number_after(result, "\"state\":");
        assert_eq!(
            st,
            Some(f64::from(*expected)),
            "{host}!{name}: state {expected} expected (exit {exit:?}, output {output:?})\n{msg}"
        );
        assert!(
            output.starts_with(prefix),
            "{host}!{name}: output should start with {prefix:?}: {output:?}\n{msg}"
        );
    }
}
