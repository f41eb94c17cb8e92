//! The targets: the testbed's two real servers that hold the VIP (rs1,
//! rs3), one nginx each listening on `ports` ports from `PORT_BASE`, and an
//! nftables counter of the SYNs they receive on eth0.
//!
//! Target `i` is `(rs1 or rs3, PORT_BASE + i / 2)`: 200 targets are 100
//! ports on each. One nginx process per real server, not a listener thread
//! per port: the servers' CPU is not what is measured, but it shares the
//! machine's two cores with the checkers.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::netns;
use crate::harness::process::terminate;
use crate::harness::{TempDir, Testbed, IFACE, RS1, RS3};

/// The first port of the targets (below the ephemeral range, far from the
/// daemon's reserved 61000-61999).
pub const PORT_BASE: u16 = 10000;
/// The real servers that hold the VIP, so a check through the VIP works.
pub const REAL_SERVERS: [(&str, &str); 2] = [("rs1", RS1), ("rs3", RS3)];
/// nginx must answer within this.
const START_LIMIT: Duration = Duration::from_secs(10);

/// One target: the real server's host name and address, and the port.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: &'static str,
    pub addr: &'static str,
    pub port: u16,
}

/// The `n` targets, alternating rs1 and rs3.
pub fn targets(n: usize) -> Vec<Target> {
    (0..n)
        .map(|i| {
            let (host, addr) = REAL_SERVERS[i % 2];
            Target {
                host,
                addr,
                port: PORT_BASE + (i / 2) as u16,
            }
        })
        .collect()
}

/// nginx on each real server and the SYN counters; dropping it stops the
/// nginx processes (the testbed removes the namespaces, counters included).
pub struct Servers {
    nginx: Vec<Child>,
    dir: TempDir,
}

impl Servers {
    /// Starts nginx on rs1 and rs3 with `ports` listeners each, and the SYN
    /// counters; returns once every nginx answers on its first and last port.
    pub fn start(tb: &Testbed, ports: u16) -> Servers {
        let dir = TempDir::new();
        let last_port = PORT_BASE + ports - 1;
        let mut servers = Servers {
            nginx: Vec::new(),
            dir,
        };
        for (host, _) in REAL_SERVERS {
            let root = servers.dir.path().join(host);
            fs::create_dir_all(root.join("tmp")).expect("nginx dir");
            let conf = nginx_conf(&root.display().to_string(), PORT_BASE, last_port);
            fs::write(root.join("nginx.conf"), conf).expect("nginx.conf");
            let log = File::create(root.join("stderr.log")).expect("nginx log");
            let mut cmd = Command::new("nginx");
            cmd.arg("-p")
                .arg(&root)
                .arg("-c")
                .arg(root.join("nginx.conf"))
                .arg("-e")
                .arg(root.join("error.log"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("dup"))
                .stderr(log)
                .process_group(0);
            let child = netns::spawn_in(tb.ns(host), &mut cmd)
                .unwrap_or_else(|e| panic!("cannot start nginx in {host}: {e}"));
            servers.nginx.push(child);
            let nft = root.join("syn.nft");
            fs::write(&nft, syn_counter(last_port)).expect("syn.nft");
            netns::output_in(tb.ns(host), "nft", &["-f", &nft.display().to_string()])
                .unwrap_or_else(|e| panic!("nft in {host} (apt-get install nftables?): {e}"));
        }
        for (host, _) in REAL_SERVERS {
            for port in [PORT_BASE, last_port] {
                servers.wait_ready(tb, host, port);
            }
        }
        servers
    }

    fn wait_ready(&self, tb: &Testbed, host: &str, port: u16) {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < START_LIMIT {
            // 127.0.0.1 arrives on lo: not counted (the rule is on eth0).
            match tb.in_ns(host, move || health(port)) {
                Ok(r) if r.starts_with("HTTP/1.1 200") && r.ends_with("\r\n\r\nok\n") => return,
                Ok(r) => last = r,
                Err(e) => last = e.to_string(),
            }
            thread::sleep(Duration::from_millis(20));
        }
        let err = fs::read_to_string(self.dir.path().join(host).join("error.log"));
        panic!("nginx in {host}:{port} not ready ({last}): {err:?}");
    }

    /// SYNs received on eth0 by rs1 and rs3 together, so far.
    pub fn syns(&self, tb: &Testbed) -> u64 {
        REAL_SERVERS
            .iter()
            .map(|(host, _)| {
                let out = netns::output_in(
                    tb.ns(host),
                    "nft",
                    &["list", "chain", "inet", "crtbench", "input"],
                )
                .unwrap_or_else(|e| panic!("reading the SYN counter of {host}: {e}"));
                out.split_whitespace()
                    .skip_while(|w| *w != "packets")
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or_else(|| panic!("no counter in {out}"))
            })
            .sum()
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.nginx {
            terminate(child, Duration::from_secs(3));
        }
    }
}

/// One GET /health to 127.0.0.1:port, the whole reply.
fn health(port: u16) -> std::io::Result<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    s.set_read_timeout(Some(Duration::from_secs(1)))?;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    let mut reply = String::new();
    (&mut s).take(4096).read_to_string(&mut reply)?;
    Ok(reply)
}

/// nginx with a listener on every port of `first..=last`, `/health` a
/// constant `ok\n` (no file read) and no access log: what the targets do
/// is not what is measured.
fn nginx_conf(r: &str, first: u16, last: u16) -> String {
    let listens: String = (first..=last)
        .map(|p| format!("        listen {p} backlog=4096;\n"))
        .collect();
    format!(
        r#"user root;
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 16384;
pid {r}/nginx.pid;
error_log {r}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {r}/tmp/body;
    proxy_temp_path {r}/tmp/proxy;
    fastcgi_temp_path {r}/tmp/fastcgi;
    uwsgi_temp_path {r}/tmp/uwsgi;
    scgi_temp_path {r}/tmp/scgi;
    server_tokens off;
    default_type text/plain;
    server {{
{listens}        location = /health {{ return 200 "ok\n"; }}
        location / {{ return 404; }}
    }}
}}
"#
    )
}

/// A counter of the SYNs (SYN without ACK) that reach the targets' ports
/// on eth0; whatever sent them (kernel TCP to the real server's address,
/// or check_raw's frames to the VIP at its MAC), each is one check.
fn syn_counter(last: u16) -> String {
    format!(
        "table inet crtbench {{
    chain input {{
        type filter hook input priority -150; policy accept;
        iifname \"{IFACE}\" tcp dport {PORT_BASE}-{last} tcp flags & (syn | ack) == syn counter
    }}
}}
"
    )
}
