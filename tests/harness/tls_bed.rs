//! The testbed of the `--ssl` tests and the checks run in it: nginx with
//! TLS on rs1 and rs2 (certificates from `harness::tls`), and each check at
//! the VIP with the Host `TLS_HOST`, in the MASTER and the BACKUP role.
//! Shared by `tls.rs` and `tls_certificates.rs`; not re-exported by
//! `harness` (its short names, `OK` or `http`, would clash with other
//! targets'): imported with `use harness::tls_bed::*`.

use super::*;

pub const OK: &str = "RAW_HTTP OK - ";
pub const WARNING: &str = "RAW_HTTP WARNING - ";
pub const CRITICAL: &str = "RAW_HTTP CRITICAL - ";
pub const GET_OK: &str = "RAW_HTTP_GET OK - ";
pub const TCP_OK: &str = "RAW_TCP OK - ";
pub const TCP_CRITICAL: &str = "RAW_TCP CRITICAL - ";
pub const HTTPS: u16 = TlsPort::Good as u16;

/// rs1 and rs2 with nginx (TLS and plain), the PKI they use. Fields drop
/// in order: nginx first, then the network, then the certificates.
pub struct TlsBed {
    pub rs1: Nginx,
    pub _rs2: Nginx,
    pub tb: Testbed,
    pub pki: Pki,
}

impl TlsBed {
    pub fn new() -> TlsBed {
        let pki = Pki::new();
        let tb = Testbed::without_servers();
        TlsBed {
            rs1: tb.nginx_tls("rs1", &pki),
            _rs2: tb.nginx_tls("rs2", &pki),
            tb,
            pki,
        }
    }

    pub fn ca(&self) -> String {
        self.pki.ca.display().to_string()
    }
}

/// `PROGRAM OPTS... eth0 REAL_SERVER VIP PORT [HOST PATH [MD5]]` in `from`.
pub fn run(tb: &Testbed, from: &str, program: &str, opts: &[&str], target: &[&str]) -> RunResult {
    let mut args = opts.to_vec();
    args.extend(target);
    tb.run(from, &check_raw_bin(program), &args)
}

pub fn http(tb: &Testbed, from: &str, opts: &[&str], rs: &str, port: u16, path: &str) -> RunResult {
    let port = port.to_string();
    run(
        tb,
        from,
        "check_raw_http",
        opts,
        &[IFACE, rs, VIP, &port, TLS_HOST, path],
    )
}

pub fn http_get(
    tb: &Testbed,
    from: &str,
    opts: &[&str],
    rs: &str,
    path: &str,
    md5: &str,
) -> RunResult {
    let port = HTTPS.to_string();
    run(
        tb,
        from,
        "check_raw_http_get",
        opts,
        &[IFACE, rs, VIP, &port, TLS_HOST, path, md5],
    )
}

pub fn tcp(tb: &Testbed, from: &str, opts: &[&str], rs: &str, port: u16) -> RunResult {
    let port = port.to_string();
    run(tb, from, "check_raw_tcp", opts, &[IFACE, rs, VIP, &port])
}

/// `opts` with the role options put first.
pub fn with<'a>(role: &[&'a str], opts: &[&'a str]) -> Vec<&'a str> {
    role.iter().chain(opts).copied().collect()
}

/// MASTER (no options) and BACKUP (a role file saying 0), with the words
/// each one's OK line names the path with.
pub fn roles(r: &Roles) -> [(Vec<&str>, &'static str); 2] {
    [(vec![], "MASTER"), (r.backup().to_vec(), "BACKUP")]
}

pub fn via(role: &str, port: u16) -> String {
    if role == "BACKUP" {
        format!("via {RS1}:{port} (BACKUP role)")
    } else {
        format!("via {RS1} (")
    }
}
