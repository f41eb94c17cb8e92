//! A real DNS server on the real servers: NSD (Debian package `nsd`), an
//! authoritative server, serving [`ZONE`] as the DR pools the DNS check is
//! for would.
//!
//! `tb.nsd("rs1", &[VIP, RS1, VIP6, RS1_6])` starts `nsd -d` (foreground)
//! inside `rs1`'s namespace, bound to exactly those addresses on port 53,
//! so its answers to queries for the VIP come from the VIP. Its config,
//! zone, pid file, state and log all live in a temp dir of its own; nothing
//! under /etc, /var or /run is read or written (the Debian package's own
//! service is never started: tests/deps.sh installs with a policy-rc.d).
//! Dropping the returned [`Nsd`] kills it by its pid (SIGTERM, then
//! SIGKILL), reaps it and removes the directory, also when a test panics.

use std::fs::{self, File};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use check_raw::dns::{answer, DomainName, Query, RecordType};

use super::files::TempDir;
use super::testbed::Testbed;
use super::Need;

pub const NSD: Need = Need::Program("/usr/sbin/nsd", "nsd");

/// The zone served.
pub const ZONE: &str = "example.test";
/// `www.example.test`: two A records and one AAAA.
pub const WWW_A: [&str; 2] = ["198.51.100.50", "198.51.100.51"];
pub const WWW_AAAA: &str = "2001:db8::50";
/// The zone's MX exchange and TXT text.
pub const MX: &str = "mx.example.test";
pub const TXT: &str = "v=spf1 -all";
pub const SOA_SERIAL: u32 = 2024010101;
/// TXT records at `big.example.test`: more than 1232 bytes in all, so the
/// UDP answer comes truncated (TC) and only TCP carries it whole.
pub const BIG_RECORDS: usize = 24;
/// Each of those records' text: the record number and filler.
pub fn big_text(i: usize) -> String {
    format!("{i:02}-{}", "x".repeat(97))
}

const START_LIMIT: Duration = Duration::from_secs(10);
const STOP_LIMIT: Duration = Duration::from_secs(3);

/// A running NSD. Dropping it stops it and removes its directory.
pub struct Nsd {
    host: String,
    /// Our own child: its pid cannot be reused until we reap it.
    child: Child,
    dir: TempDir,
}

impl Nsd {
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("nsd.log")).unwrap_or_default()
            + &fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    fn stop(&mut self) {
        super::process::terminate(&mut self.child, STOP_LIMIT);
    }
}

impl Drop for Nsd {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Nsd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "nsd pid {} in {}", self.child.id(), self.host)
    }
}

impl Testbed {
    /// Starts NSD in `host` on port 53 of `addrs` (literals) and returns
    /// once it answers on the first of them. Panics with its log if not.
    pub fn nsd(&self, host: &str, addrs: &[&str]) -> Nsd {
        let dir = TempDir::new();
        write_config(dir.path(), host, addrs);
        let log = File::create(dir.path().join("stderr.log"))
            .unwrap_or_else(|e| panic!("create nsd's stderr log: {e}"));
        let log2 = log.try_clone().unwrap_or_else(|e| panic!("dup: {e}"));
        let mut cmd = Command::new("/usr/sbin/nsd");
        cmd.arg("-d")
            .arg("-c")
            .arg(dir.path().join("nsd.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .process_group(0);
        let child = super::netns::spawn_in(self.ns(host), &mut cmd).unwrap_or_else(|e| {
            panic!("cannot start nsd in {host} (apt-get install -y nsd?): {e}")
        });
        let mut nsd = Nsd {
            host: host.to_owned(),
            child,
            dir,
        };
        let first: IpAddr = addrs[0].parse().expect("an address literal");
        nsd.wait_ready(self, first);
        nsd
    }
}

impl Nsd {
    /// Polls with a kernel UDP query for the zone's SOA until NSD answers
    /// on `addr`, or panics with its log.
    fn wait_ready(&mut self, tb: &Testbed, addr: IpAddr) {
        let start = Instant::now();
        let mut last = String::from("no attempt");
        for _ in 0..1000 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "nsd in {} exited at start ({status})\n{}",
                    self.host,
                    self.log()
                );
            }
            match tb.in_ns(&self.host, move || probe(addr)) {
                Ok(()) => return,
                Err(e) => last = e.to_string(),
            }
            if start.elapsed() > START_LIMIT {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "nsd in {} not ready after {:?} (last probe: {last})\n{}",
            self.host,
            start.elapsed(),
            self.log()
        );
    }
}

/// One SOA query to `addr:53`, answered within 200 ms.
fn probe(addr: IpAddr) -> io::Result<()> {
    let local: SocketAddr = match addr {
        IpAddr::V4(_) => "0.0.0.0:0".parse().unwrap(),
        IpAddr::V6(_) => "[::]:0".parse().unwrap(),
    };
    let socket = UdpSocket::bind(local)?;
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    let query = Query {
        name: DomainName::parse(ZONE).unwrap(),
        rtype: RecordType::Soa,
        recurse: false,
        dnssec: false,
    };
    socket.send_to(&query.to_bytes(7), (addr, 53))?;
    let mut buf = [0u8; 4096];
    let n = socket.recv(&mut buf)?;
    answer::matches(&buf[..n], 7, &query.question()).map_err(io::Error::other)
}

fn write_config(dir: &Path, host: &str, addrs: &[&str]) {
    let d = dir.display();
    let listen: String = addrs
        .iter()
        .map(|a| format!("    ip-address: {a}\n"))
        .collect();
    // username "": stay root (no chown of the temp dir needed); database
    // "": no nsd.db; every state file in the temp dir.
    let conf = format!(
        r#"# check_raw test nsd: everything under {d}
server:
{listen}    port: 53
    username: ""
    chroot: ""
    database: ""
    zonesdir: "{d}"
    zonelistfile: "{d}/zone.list"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    pidfile: "{d}/nsd.pid"
    logfile: "{d}/nsd.log"
    server-count: 1
    verbosity: 1
    hide-version: yes
    reuseport: no
remote-control:
    control-enable: no
zone:
    name: "{ZONE}"
    zonefile: "{d}/{ZONE}.zone"
"#
    );
    fs::write(dir.join("nsd.conf"), conf).unwrap_or_else(|e| panic!("write nsd.conf: {e}"));
    let big: String = (0..BIG_RECORDS)
        .map(|i| format!("big IN TXT \"{}\"\n", big_text(i)))
        .collect();
    let zone = format!(
        "$ORIGIN {ZONE}.
$TTL 300
@ IN SOA ns1.{ZONE}. hostmaster.{ZONE}. {SOA_SERIAL} 3600 600 86400 300
@ IN NS ns1.{ZONE}.
@ IN MX 10 {MX}.
@ IN TXT \"{TXT}\"
ns1 IN A 198.51.100.11
mx IN A 198.51.100.25
www IN A {}
www IN A {}
www IN AAAA {WWW_AAAA}
alias IN CNAME www.{ZONE}.
whoami IN TXT \"{host}\"
{big}",
        WWW_A[0], WWW_A[1]
    );
    fs::write(dir.join(format!("{ZONE}.zone")), zone)
        .unwrap_or_else(|e| panic!("write the zone: {e}"));
}
