//! Integration-test harness for check_raw: builds throwaway LVS-DR networks
//! in network namespaces, runs real-server listeners as threads inside them,
//! and runs the binary under test with a hard time limit.
//!
//! Used by each test target with `mod harness;`. Typical test:
//!
//! ```ignore
//! if harness::needs_root() { return; }
//! let tb = Testbed::new();
//! let r = tb.run("lb", &check_raw_bin("check_raw_tcp"), &["eth0", RS1, VIP, "80"]);
//! assert_eq!(r.code, Some(0), "{r}");
//! ```
//!
//! Modules: `testbed` (the topology), `servers` (listeners), `process`
//! (running programs), `netns` (namespace plumbing), `files` (temp files and
//! the `check_raw_*` symlinks), `relay` (fault injection: loss and delay
//! between `lb` and the switch, a UDP flood at `lb`).

// Each test target uses a different part of the harness; what one target
// leaves unused is not dead code, nor an unused import.
#![allow(dead_code, unused_imports)]

pub mod files;
pub mod netns;
pub mod nginx;
pub mod process;
pub mod relay;
pub mod servers;
pub mod testbed;
pub mod verdict;

use std::path::Path;
use std::process::Command;

pub use files::{check_raw_bin, BinLink, TempDir, CHECK_RAW};
pub use nginx::*;
pub use process::{spawn, RunResult, Spawned, HARD_LIMIT};
pub use relay::{
    lb_rx_packets, Dir, DirStats, Event, FaultPlan, Faults, Flood, Kind, Relay, RelayBed, Stats,
    TcpInfo, FLOOD_IP,
};
pub use servers::{read_request, Behaviour, ConnEnd, ServerHandle};
pub use testbed::{
    Testbed, HOSTS, IFACE, LB6, LBB6, LBB_IP, LB_IP, NOBODY, NOBODY6, PORT, RS1, RS1_6, RS2, RS2_6,
    RS3, RS3_6, SWITCH, VIP, VIP6,
};
pub use verdict::{
    assert_all_ok, assert_nothing_left_open, assert_verdict, assert_verdict_with, verdict, SETTLE,
};

/// True when the caller must skip because it is not root; then it has
/// already printed `skipping <name>: needs root for network namespaces`.
/// `<name>` is the test's name (libtest names each test's thread after it).
///
/// ```ignore
/// if harness::needs_root() { return; }
/// ```
pub fn needs_root() -> bool {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return false;
    }
    eprintln!(
        "skipping {}: needs root for network namespaces",
        test_name()
    );
    true
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
