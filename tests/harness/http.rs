//! Running the HTTP checks at the testbed's fixed target (`eth0`, the VIP,
//! the Host `www.example.test`) and reading their lines: shared by the test
//! targets that run `check_raw_http` and `check_raw_http_get` (`http.rs`,
//! `http_wire.rs`, `roles.rs`, `cli.rs`). Not re-exported by `harness`:
//! its short names (`OK`, `http`) are imported with `use harness::http::*`
//! only where the HTTP checks are the subject.

use super::*;

pub const OK: &str = "RAW_HTTP OK - ";
pub const CRITICAL: &str = "RAW_HTTP CRITICAL - ";
pub const UNKNOWN: &str = "RAW_HTTP UNKNOWN - ";
pub const GET_OK: &str = "RAW_HTTP_GET OK - ";
pub const GET_CRITICAL: &str = "RAW_HTTP_GET CRITICAL - ";
pub const GET_UNKNOWN: &str = "RAW_HTTP_GET UNKNOWN - ";

/// Usage errors are worded as monitoring-plugins word them.
pub const USAGE: &str = "check_raw_http: ";
pub const GET_USAGE: &str = "check_raw_http_get: ";

/// The Host header every check sends.
pub const HOST: &str = "www.example.test";

/// An MD5 no body here has.
pub const WRONG_MD5: &str = "0123456789abcdef0123456789abcdef";

/// `check_raw_http_get OPTS... eth0 REAL_SERVER VIP PORT HOST PATH MD5` in `from`.
pub fn http_get(
    tb: &Testbed,
    from: &str,
    opts: &[&str],
    real_server: &str,
    port: u16,
    path: &str,
    md5: &str,
) -> RunResult {
    let port = port.to_string();
    let mut args = opts.to_vec();
    args.extend([IFACE, real_server, VIP, &port, HOST, path, md5]);
    tb.run(from, &check_raw_bin("check_raw_http_get"), &args)
}

/// `check_raw_http OPTS... eth0 REAL_SERVER VIP PORT HOST PATH` in `from`.
pub fn http(
    tb: &Testbed,
    from: &str,
    opts: &[&str],
    real_server: &str,
    port: u16,
    path: &str,
) -> RunResult {
    let port = port.to_string();
    let mut args = opts.to_vec();
    args.extend([IFACE, real_server, VIP, &port, HOST, path]);
    tb.run(from, &check_raw_bin("check_raw_http"), &args)
}

/// Exit code, status-line prefix, and text the status line must contain.
/// Without `-v` the status line is the only line on stdout.
/// Perfdata `|time=<s>s;;;0.000000 size=<n>B;;;0`.
pub fn assert_perfdata(r: &RunResult, size: usize) {
    let perf = r.status_line().split_once('|').map(|(_, p)| p.trim());
    let size = format!("size={size}B;;;0");
    let ok = perf.is_some_and(|p| {
        p.starts_with("time=") && p.contains("s;;;0.000000") && p.split(' ').any(|f| f == size)
    });
    assert!(ok, "perfdata `time=...s;;;0.000000 {size}` expected\n{r}");
}

/// What names the path taken in an OK line: the real server alone for
/// MASTER, `RS:PORT (BACKUP role)` for BACKUP.
pub fn via(role: &str, real_server: &str, port: u16) -> String {
    if role == "BACKUP" {
        format!("via {real_server}:{port} (BACKUP role)")
    } else {
        format!("via {real_server} ")
    }
}

/// A testbed whose real servers rs1 and rs2 run nginx on :80 (rs3 still has
/// nothing there). Fields drop in order: nginx first, then the network.
pub struct NginxBed {
    pub rs1: Nginx,
    pub rs2: Nginx,
    pub tb: Testbed,
}

impl NginxBed {
    pub fn new() -> NginxBed {
        let tb = Testbed::without_servers();
        NginxBed {
            rs1: tb.nginx("rs1", PORT),
            rs2: tb.nginx("rs2", PORT),
            tb,
        }
    }
}
