//! Integration-test harness for check_raw: builds throwaway LVS-DR networks
//! in network namespaces, runs real-server listeners as threads inside them,
//! and runs the binary under test with a hard time limit.
//!
//! Used by the integration tests' binary `tests/it` (`#[macro_use] mod
//! harness;` in tests/it/main.rs, whose modules `use crate::harness::*`),
//! and by tests/detach.rs, tests/vm.rs, tests/demo.rs and bench/ with
//! `#[macro_use] mod harness;`. Typical test:
//!
//! ```ignore
//! require!(Need::Testbed);
//! let tb = Testbed::new();
//! let r = tb.run("lb", &check_raw_bin("check_raw_tcp"), &["eth0", RS1, VIP, "80"]);
//! assert_eq!(r.code, Some(0), "{r}");
//! ```
//!
//! Modules: `testbed` (the topology), `servers` (listeners), `process`
//! (running programs), `netns` (namespace plumbing), `files` (temp files and
//! the `check_raw_*` symlinks), `relay` (fault injection: loss and delay
//! between `lb` and the switch, a UDP flood at `lb`), `site` (the VIP on a
//! balancer's own interface, extra addresses), `load` (a test that loads
//! the CPU runs alone: `alone()`; every testbed holds a share). Five are for one
//! subject's targets only and not re-exported here, because their short
//! names (`OK`, `http`) would clash elsewhere: `http` (the HTTP checks at
//! the fixed target, the nginx bed), `tls_bed` (the `--ssl` bed and its
//! runners), `keepalived` (keepalived and its IPVS stub), `serve`
//! (check_raw_serve's config, state files and daemon), `serve_cases`
//! (what the serve test targets share); and the real consumers of
//! check_raw_serve's listener: `prometheus` (Prometheus, promtool, the
//! shipped packaging/prometheus files, an HTTP/1.0 client), `chromium`
//! (headless Chromium over the DevTools pipe), `web_bed` (the daemon with
//! `listen` and a `/probe` module).

// Each test target (tests/it, detach, vm, demo, the benches) uses a
// different part of the harness; what one leaves unused is not dead code,
// nor an unused import.
#![allow(dead_code, unused_imports)]

pub mod chromium;
pub mod daemon;
pub mod dns;
pub mod files;
pub mod http;
pub mod keepalived;
pub mod load;
pub mod netns;
pub mod nginx;
pub mod process;
pub mod prometheus;
pub mod relay;
pub mod roles;
pub mod serve;
pub mod serve_cases;
pub mod servers;
pub mod site;
pub mod stop;
pub mod testbed;
pub mod tls;
pub mod tls_bed;
pub mod verdict;
pub mod vip;
pub mod vm;
pub mod vm_spool;
pub mod web_bed;

use std::io::Write;
use std::path::Path;
use std::process::Command;

pub use daemon::*;
pub use dns::{Nsd, NSD};
pub use files::{check_raw_bin, BinLink, TempDir, CHECK_RAW};
pub use load::alone;
pub use nginx::*;
pub use process::{spawn, RunResult, Spawned, HARD_LIMIT};
pub use relay::{
    lb_rx_packets, Dir, DirStats, Event, FaultPlan, Faults, Flood, Kind, Relay, RelayBed, Stats,
    TcpInfo, FLOOD_IP,
};
pub use roles::{path_str, RoleFile, Roles};
pub use servers::{read_request, Behaviour, ConnEnd, ServerHandle};
pub use testbed::{
    tcp_check, Testbed, HOSTS, IFACE, LB6, LBB6, LBB_IP, LB_IP, NOBODY, NOBODY6, PORT, RS1, RS1_6,
    RS2, RS2_6, RS3, RS3_6, SWITCH, VIP, VIP6,
};
pub use tls::*;
pub use verdict::{
    assert_all_ok, assert_elapsed, assert_nothing_left_open, assert_verdict, assert_verdict_with,
    verdict, SETTLE,
};

/// Something a test needs from the machine, for [`skip_unless`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Root (network namespaces, raw sockets).
    Root,
    /// Root and what every `Testbed` runs: iproute2's `ip` and `ss`, and
    /// `ethtool`.
    Testbed,
    /// A program, by absolute path (or by name, looked up on PATH), and the
    /// Debian package that installs it.
    Program(&'static str, &'static str),
}

/// The programs every testbed runs (what `Need::Testbed` adds to root).
const TESTBED_PROGRAMS: [Need; 3] = [
    Need::Program("ip", "iproute2"),
    Need::Program("ss", "iproute2"),
    Need::Program("ethtool", "ethtool"),
];

pub const NGINX: Need = Need::Program("/usr/sbin/nginx", "nginx-light");
pub const IPERF3: Need = Need::Program("iperf3", "iperf3");
pub const SETPRIV: Need = Need::Program("setpriv", "util-linux");

/// True when the caller must skip: something in `needs` is missing. Then
/// it has written exactly one line to stderr,
///
/// `skipping <test name>: <what is missing>: <the command that fixes it>`
///
/// with `std::io::Write` on `stderr()` itself, not `eprintln!`: libtest
/// captures the print macros of a passing test, not direct writes, so the
/// line shows in `cargo test` output (and `make test` counts the lines that
/// start with `skipping `). `<test name>` is libtest's name of the test.
///
/// Under CI (`CI=true` in the environment) nothing is skipped: a missing
/// need panics with the same text, so CI cannot pass by skipping.
///
/// ```ignore
/// if harness::skip_unless(&[Need::Testbed, NGINX]) { return; }
/// // or, the same in one line:
/// require!(Need::Testbed, NGINX);
/// ```
pub fn skip_unless(needs: &[Need]) -> bool {
    let Some(reason) = missing(needs) else {
        return false;
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{}: {reason} (CI=true: a missing need fails the test instead of skipping it)",
            test_name()
        );
    }
    let _ = writeln!(std::io::stderr(), "skipping {}: {reason}", test_name());
    true
}

/// `if skip_unless(&[needs...]) { return; }` in one line (`#[macro_use]
/// mod harness;`). Returns `()`, so it fits tests and `main`.
#[macro_export]
macro_rules! require {
    ($($need:expr),+ $(,)?) => {
        if $crate::harness::skip_unless(&[$($need),+]) {
            return;
        }
    };
}

/// `skip_unless(&[Need::Testbed])`, for `bench/timing.rs` (outside
/// tests/, so it keeps its old call).
pub fn needs_root() -> bool {
    skip_unless(&[Need::Testbed])
}

/// What is missing of `needs` and how to get it, or `None` if nothing is.
fn missing(needs: &[Need]) -> Option<String> {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let mut no_root = false;
    let mut programs: Vec<(&str, &str)> = Vec::new();
    for need in needs {
        let wanted: &[Need] = match need {
            Need::Testbed => &TESTBED_PROGRAMS,
            other => std::slice::from_ref(other),
        };
        if matches!(need, Need::Root | Need::Testbed) && !root {
            no_root = true;
        }
        for w in wanted {
            if let Need::Program(prog, pkg) = *w {
                if !program_exists(prog) && !programs.iter().any(|(p, _)| *p == prog) {
                    programs.push((prog, pkg));
                }
            }
        }
    }
    let mut what = Vec::new();
    let mut fixes = Vec::new();
    if no_root {
        what.push("root (network namespaces, raw sockets)".to_owned());
        fixes.push("run the tests as root".to_owned());
    }
    if !programs.is_empty() {
        let mut packages: Vec<&str> = Vec::new();
        for (_, pkg) in &programs {
            if !packages.contains(pkg) {
                packages.push(pkg);
            }
        }
        for (prog, pkg) in &programs {
            what.push(format!("{prog} (Debian package {pkg})"));
        }
        fixes.push(format!(
            "apt-get install -y --no-install-recommends {} (or tests/deps.sh test)",
            packages.join(" ")
        ));
    }
    if what.is_empty() {
        return None;
    }
    Some(format!("needs {}: {}", what.join(", "), fixes.join("; ")))
}

/// An absolute path that exists, or a name found in a PATH directory.
fn program_exists(prog: &str) -> bool {
    if prog.contains('/') {
        return Path::new(prog).exists();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(Into::into))
        .any(|dir| dir.join(prog).is_file())
}

fn test_name() -> String {
    match std::thread::current().name() {
        Some(n) if n != "main" => n.to_owned(),
        // A `harness = false` target runs on the main thread: use the
        // program name without cargo's `-<hash>` suffix.
        _ => std::env::args()
            .next()
            .as_deref()
            .and_then(|a| {
                Path::new(a)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
            })
            .map(|f| {
                f.rsplit_once('-')
                    .map_or(f.clone(), |(name, _)| name.to_owned())
            })
            .unwrap_or_else(|| "test".to_owned()),
    }
}

/// Runs a program in the test's own namespace, for cases that open no
/// socket at all (`--help`, `--version`). Anything that might send a frame
/// must run inside a testbed instead.
pub fn run_local(program: &Path, args: &[&str]) -> RunResult {
    let mut cmd = Command::new(program);
    cmd.args(args);
    process::run(cmd)
}
