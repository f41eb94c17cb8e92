//! keepalived under test (`tests/it/keepalived.rs`): its configuration
//! snippets (a MISC_CHECK real server, a virtual server), the IPVS stub it
//! runs with (`tests/daemons/ipvs_stub.c`, preloaded, since the kernel may
//! have no IPVS) and the IPVS table read back from the stub's log, and the
//! guard that starts keepalived in `lb` and stops it. Not re-exported by
//! `harness`: imported with `use harness::keepalived::*`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use super::*;

pub const KEEPALIVED: &str = "/usr/sbin/keepalived";
/// keepalived itself, and what builds the IPVS stub.
pub const SETCAP: Need = Need::Program("setcap", "libcap2-bin");
pub const KEEPALIVED_NEEDS: [Need; 4] = [
    Need::Testbed,
    Need::Program(KEEPALIVED, "keepalived"),
    Need::Program("gcc", "gcc"),
    Need::Program("/usr/include/stdio.h", "libc6-dev"),
];

/// Builds `tests/daemons/ipvs_stub.c` into `dir`.
pub fn build_ipvs_stub(dir: &Path) -> PathBuf {
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
pub fn keepalived_real(rs: &str, port: u16, command: &str, extra: &str) -> String {
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
pub fn keepalived_virtual(port: u16, reals: &[String]) -> String {
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

/// Which keepalived processes run: the checkers alone, or VRRP too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkers {
    Only,
    AndVrrp,
}

/// A running keepalived with the IPVS stub preloaded.
pub struct Keepalived {
    pub daemon: Daemon,
    pub ipvs_log: PathBuf,
}

impl Keepalived {
    /// Checkers only (`--check`), `virtual_servers` after a `global_defs`
    /// with script security on.
    pub fn start(tb: &Testbed, dir: &TempDir, virtual_servers: &str) -> Keepalived {
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
        Keepalived::start_conf(tb, dir, &conf, Checkers::Only)
    }

    /// keepalived in `lb` with `conf` as its whole configuration, every
    /// file in `dir`.
    pub fn start_conf(tb: &Testbed, dir: &TempDir, conf: &str, what: Checkers) -> Keepalived {
        let stub = build_ipvs_stub(dir.path());
        let conf = dir.write("keepalived.conf", conf.as_bytes());
        let p = |n: &str| dir.path().join(n).display().to_string();
        let ipvs_log = dir.path().join("ipvs.log");
        let (pid, cpid, vpid) = (p("keepalived.pid"), p("checkers.pid"), p("vrrp.pid"));
        let stub_s = stub.display().to_string();
        let ipvs_log_s = ipvs_log.display().to_string();
        let conf_s = conf.display().to_string();
        let mut argv = vec![KEEPALIVED, "--dont-fork", "--log-console", "--log-detail"];
        if what == Checkers::Only {
            argv.push("--check");
        }
        argv.extend([
            "-f",
            &conf_s,
            "--pid",
            &pid,
            "--checkers_pid",
            &cpid,
            "--vrrp_pid",
            &vpid,
        ]);
        let daemon = Daemon::start(
            tb,
            "lb",
            "keepalived",
            &argv,
            &[("LD_PRELOAD", &stub_s), ("IPVS_STUB_LOG", &ipvs_log_s)],
            dir.path(),
            dir.path().join("keepalived.log"),
        );
        Keepalived { daemon, ipvs_log }
    }

    pub fn ipvs_log(&self) -> String {
        read(&self.ipvs_log)
    }

    /// One more round of checks, then the IPVS calls and table as
    /// keepalived left them (read before stopping: keepalived removes
    /// everything when it stops), the diagnostics, and the stop.
    pub fn settle_and_stop(&mut self) -> (String, BTreeMap<(String, String), i64>, String) {
        thread::sleep(Duration::from_millis(1500));
        let diag = self.diag();
        let calls = self.ipvs_log();
        let table = ipvs_table(&calls);
        self.daemon.stop();
        (calls, table, diag)
    }

    pub fn diag(&self) -> String {
        format!(
            "--- keepalived log ---\n{}\n--- IPVS calls (stub) ---\n{}",
            tail(&self.daemon.log(), 60),
            self.ipvs_log()
        )
    }
}

/// The IPVS table the stub's log describes: (VIP:PORT, RIP:PORT) -> weight,
/// replaying ADDDEST/EDITDEST/DELDEST in order.
pub fn ipvs_table(log: &str) -> BTreeMap<(String, String), i64> {
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

pub fn key(vip_port: u16, rs: &str, port: u16) -> (String, String) {
    (format!("{VIP}:{vip_port}"), format!("{rs}:{port}"))
}

/// keepalived's log line for a MISC_CHECK's first verdict on `rs:port`.
pub fn misc_verdict(rs: &str, port: u16, script: &Path, verdict: &str) -> String {
    format!(
        "Misc check for [[{rs}]:tcp:{port} VS [{VIP}]:tcp:{port}] by [{}] {verdict}",
        script.display()
    )
}
