//! One isolated LVS-DR network per test: two load balancers and three real
//! servers on a bridge, each in its own network namespace.
//!
//! ```text
//!                    sw: br0 (no STP, forward_delay 0)
//!      +---------+---------+----------+----------+----------+
//!      lb        lbb       rs1        rs2        rs3       (.99: nobody)
//!     .1 +VIP    .2       .11 +VIP   .12        .13 +VIP
//!     MASTER     BACKUP   listens    listens    nothing
//!                         on :80     on :80     on :80
//! ```
//! Addresses are 198.51.100.0/24 on eth0, VIP 203.0.113.10/32 on lo, and
//! for IPv6 2001:db8::/64 on eth0 (same last digits: ::1, ::2, ::11...)
//! with VIP 2001:db8:1::10/128 on lo. Every testbed has its own bridge, so
//! all testbeds reuse the same addresses and tests can run in parallel.
//!
//! Why each detail matters:
//! - The real servers hold the VIP on `lo` with `arp_ignore=1` and
//!   `arp_announce=2`: they accept frames sent to the VIP at their MAC but
//!   never answer ARP for it, as in LVS-DR.
//! - `lb` holds the VIP too (a MASTER), so its kernel drops the servers'
//!   replies (source = a local address) as martians instead of resetting the
//!   connection check_raw is driving by hand. `lbb` does not (a BACKUP).
//! - IPv6 addresses skip duplicate address detection (`nodad`, and
//!   `accept_dad=0` for the link-local ones), so they work at once. Linux
//!   answers a Neighbor Solicitation only for addresses on the interface it
//!   arrived on, so the VIP on `lo` is never advertised: no sysctl needed.
//! - Checksum and segmentation offloads are off on every veth end, so frames
//!   that AF_PACKET sees carry complete checksums and real segment sizes.
//! - Veth pairs are created directly in their namespaces: nothing ever
//!   appears in the root namespace.

use std::ffi::OsStr;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use super::load;
use super::netns;
use super::process::{self, RunResult, Spawned};
use super::servers::{Behaviour, Server, ServerHandle};

/// The virtual IP, held on `lo` by `lb`, `rs1` and `rs3`.
pub const VIP: &str = "203.0.113.10";
/// The MASTER load balancer `lb`.
pub const LB_IP: &str = "198.51.100.1";
/// The BACKUP load balancer `lbb`.
pub const LBB_IP: &str = "198.51.100.2";
/// Real server with the VIP and a listener on `PORT`.
pub const RS1: &str = "198.51.100.11";
/// Real server WITHOUT the VIP, with a listener on `PORT`.
pub const RS2: &str = "198.51.100.12";
/// Real server with the VIP, nothing listening on `PORT`.
pub const RS3: &str = "198.51.100.13";
/// No host has this address: ARP for it gets no answer.
pub const NOBODY: &str = "198.51.100.99";
/// The IPv6 VIP, on `lo` of `lb`, `rs1` and `rs3` like the IPv4 one.
pub const VIP6: &str = "2001:db8:1::10";
pub const LB6: &str = "2001:db8::1";
pub const LBB6: &str = "2001:db8::2";
pub const RS1_6: &str = "2001:db8::11";
pub const RS2_6: &str = "2001:db8::12";
pub const RS3_6: &str = "2001:db8::13";
/// No host has this address: NDP for it gets no answer.
pub const NOBODY6: &str = "2001:db8::99";
/// The service port.
pub const PORT: u16 = 80;
/// The interface name on every host.
pub const IFACE: &str = "eth0";

/// Short host names (append to the testbed's stem to get a namespace name).
pub const HOSTS: [&str; 5] = ["lb", "lbb", "rs1", "rs2", "rs3"];
/// The namespace holding the bridge.
pub const SWITCH: &str = "sw";

struct HostSpec {
    name: &'static str,
    ip: &'static str,
    ip6: &'static str,
    has_vip: bool,
    real_server: bool,
}

// A table reads best as a table.
#[rustfmt::skip]
const TOPOLOGY: [HostSpec; 5] = [
    HostSpec { name: "lb",  ip: LB_IP,  ip6: LB6,   has_vip: true,  real_server: false },
    HostSpec { name: "lbb", ip: LBB_IP, ip6: LBB6,  has_vip: false, real_server: false },
    HostSpec { name: "rs1", ip: RS1,    ip6: RS1_6, has_vip: true,  real_server: true },
    HostSpec { name: "rs2", ip: RS2,    ip6: RS2_6, has_vip: false, real_server: true },
    HostSpec { name: "rs3", ip: RS3,    ip6: RS3_6, has_vip: true,  real_server: true },
];

/// Links must be up within this, or the testbed is declared broken.
const LINK_UP_LIMIT: Duration = Duration::from_secs(5);

/// An LVS-DR testbed. Dropping it stops its servers, kills whatever still
/// runs in its namespaces and deletes them, also when a test panics.
pub struct Testbed {
    stem: String,
    namespaces: Vec<String>,
    servers: Mutex<Vec<Server>>,
    /// Its place beside other tests' testbeds (`load`): dropped last, after
    /// `Drop` removed the namespaces.
    _share: load::Share,
}

impl Testbed {
    /// The full testbed with the default listeners: `ReadUntilEofThenClose`
    /// on rs1:80 and rs2:80.
    pub fn new() -> Testbed {
        let tb = Testbed::without_servers();
        tb.serve("rs1", PORT, Behaviour::ReadUntilEofThenClose);
        tb.serve("rs2", PORT, Behaviour::ReadUntilEofThenClose);
        tb
    }

    /// The same network with no listener anywhere, for tests that bring
    /// their own servers.
    pub fn without_servers() -> Testbed {
        // First: while a test that loads the CPU runs alone, this waits.
        let share = load::share();
        netns::remove_stale();
        let stem = netns::unique_stem();
        let namespaces = HOSTS
            .iter()
            .chain([&SWITCH])
            .map(|h| format!("{stem}{h}"))
            .collect();
        // Exists before anything is created, so a failure half-way through
        // (a panic below) still runs Drop and removes what was made.
        let tb = Testbed {
            stem,
            namespaces,
            servers: Mutex::new(Vec::new()),
            _share: share,
        };
        tb.build();
        tb
    }

    fn build(&self) {
        netns::create(&self.namespaces);
        let sw = self.ns(SWITCH);

        let veths: Vec<String> = HOSTS
            .iter()
            .map(|h| {
                format!(
                    "link add {IFACE} netns {} type veth peer name p{h} netns {sw}",
                    self.ns(h)
                )
            })
            .collect();
        netns::ip_batch(None, &veths);

        let mut bridge = vec![
            "link set lo up".to_owned(),
            "link add br0 type bridge forward_delay 0 stp_state 0".to_owned(),
            "link set br0 up".to_owned(),
        ];
        for h in HOSTS {
            bridge.push(format!("link set p{h} master br0"));
            bridge.push(format!("link set p{h} up"));
        }
        netns::ip_batch(Some(sw), &bridge);

        for spec in &TOPOLOGY {
            let ns = self.ns(spec.name);
            // Before eth0 comes up, so the VIP is never announced and the
            // link-local address skips DAD.
            set_sysctls(ns, spec.real_server).unwrap_or_else(|e| panic!("sysctls in {ns}: {e}"));
            let mut lines = vec![
                "link set lo up".to_owned(),
                format!("addr add {}/24 dev {IFACE}", spec.ip),
                format!("addr add {}/64 dev {IFACE} nodad", spec.ip6),
            ];
            if spec.has_vip {
                lines.push(format!("addr add {VIP}/32 dev lo"));
                lines.push(format!("addr add {VIP6}/128 dev lo"));
            }
            lines.push(format!("link set {IFACE} up"));
            netns::ip_batch(Some(ns), &lines);
        }

        self.offloads_off();
        self.wait_links_up();
    }

    /// `ethtool -K` on both ends of every veth, in parallel (10 short runs).
    fn offloads_off(&self) {
        const ARGS: [&str; 10] = [
            "rx", "off", "tx", "off", "tso", "off", "gso", "off", "gro", "off",
        ];
        let mut jobs: Vec<(String, String)> = HOSTS
            .iter()
            .map(|h| (self.ns(h).to_owned(), IFACE.to_owned()))
            .collect();
        jobs.extend(
            HOSTS
                .iter()
                .map(|h| (self.ns(SWITCH).to_owned(), format!("p{h}"))),
        );
        let results: Vec<Result<String, String>> = thread::scope(|s| {
            let handles: Vec<_> = jobs
                .iter()
                .map(|(ns, dev)| {
                    s.spawn(move || {
                        let mut args = vec!["-K", dev.as_str()];
                        args.extend(ARGS);
                        netns::output_in(ns, "ethtool", &args)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
                .collect()
        });
        for r in results {
            if let Err(e) = r {
                panic!("turning offloads off failed (apt-get install -y ethtool?): {e}");
            }
        }
    }

    /// Polls the switch until every port has carrier (so both veth ends are
    /// up) and forwards. With STP off and forward_delay 0 this is at once;
    /// the poll is there so a slow machine fails clearly instead of flaking.
    fn wait_links_up(&self) {
        let start = Instant::now();
        let mut last = String::new();
        for _ in 0..1000 {
            last = netns::output(
                "ip",
                &[
                    "-d",
                    "-o",
                    "-n",
                    self.ns(SWITCH),
                    "link",
                    "show",
                    "master",
                    "br0",
                ],
            )
            .unwrap_or_else(|e| e);
            let ready = last
                .lines()
                .filter(|l| l.contains("LOWER_UP") && l.contains("state forwarding"))
                .count();
            if ready == HOSTS.len() {
                return;
            }
            if start.elapsed() > LINK_UP_LIMIT {
                break;
            }
            thread::sleep(Duration::from_millis(2));
        }
        panic!("testbed links not up after {:?}:\n{last}", start.elapsed());
    }

    /// The namespace name of a host (`lb`, `lbb`, `rs1`, `rs2`, `rs3`, `sw`).
    /// A full namespace name of this testbed is accepted as is.
    pub fn ns(&self, host: &str) -> &str {
        self.namespaces
            .iter()
            .find(|n| n.strip_prefix(&self.stem) == Some(host) || *n == host)
            .unwrap_or_else(|| {
                panic!("no host {host:?} in the testbed (hosts: {HOSTS:?}, {SWITCH:?})")
            })
    }

    /// All namespace names of this testbed.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// Starts a listener on `0.0.0.0:port` in `host`, replacing any server
    /// this testbed already runs there. Returns once it is listening.
    pub fn serve(&self, host: &str, port: u16, behaviour: Behaviour) -> ServerHandle {
        let ns = self.ns(host).to_owned();
        let mut servers = self.servers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = servers
            .iter()
            .position(|s| s.handle().host() == host && s.handle().port() == port)
        {
            servers.remove(i).stop();
        }
        let server = Server::start(&ns, host, port, behaviour)
            .unwrap_or_else(|e| panic!("cannot start a server on {host}:{port}: {e}"));
        let handle = server.handle();
        servers.push(server);
        handle
    }

    /// The handle of the server running on `host:port`.
    pub fn server(&self, host: &str, port: u16) -> ServerHandle {
        let servers = self.servers.lock().unwrap_or_else(|e| e.into_inner());
        servers
            .iter()
            .map(Server::handle)
            .find(|h| h.host() == host && h.port() == port)
            .unwrap_or_else(|| panic!("no server on {host}:{port}"))
    }

    /// Runs `program args...` in `host` via `ip netns exec` (which also gives
    /// it the namespace's own /sys, as on a real machine), killed after
    /// `process::HARD_LIMIT`.
    pub fn run(&self, host: &str, program: &Path, args: &[&str]) -> RunResult {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", self.ns(host)])
            .arg(program)
            .args(args);
        process::run(cmd)
    }

    /// `run` without waiting: the program keeps running in `host` until the
    /// returned `Spawned` is waited for (or dropped, which kills it). For
    /// tests that act on the testbed while a check is under way.
    pub fn spawn<S: AsRef<OsStr>>(&self, host: &str, program: &Path, args: &[S]) -> Spawned {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", self.ns(host)])
            .arg(program)
            .args(args);
        process::spawn(cmd)
    }

    /// Sets a sysctl (`net.ipv4.ip_nonlocal_bind`) in `host`'s namespace
    /// only, without the `sysctl` program: /proc/sys/net follows the
    /// namespace of the thread that opens it.
    pub fn sysctl(&self, host: &str, key: &str, value: &str) {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let value = value.to_owned();
        self.in_ns(host, move || std::fs::write(&path, value))
            .unwrap_or_else(|e| panic!("sysctl {key} in {host}: {e}"));
    }

    /// Removes the VIPs (IPv4 and IPv6) from `host`'s `lo`: a MASTER
    /// load balancer that does not hold the VIP.
    pub fn remove_vip(&self, host: &str) {
        netns::ip_batch(
            Some(self.ns(host)),
            &[
                format!("addr del {VIP}/32 dev lo"),
                format!("addr del {VIP6}/128 dev lo"),
            ],
        );
    }

    /// `run` for a plain command line: `tb.run_in("rs1", &["ss", "-tn"])`.
    pub fn run_in(&self, host: &str, cmd: &[&str]) -> RunResult {
        let (program, args) = cmd.split_first().expect("run_in needs a command");
        self.run(host, Path::new(program), args)
    }

    /// Runs `f` on a thread inside `host`'s namespace, e.g. to open a socket
    /// there: `tb.in_ns("lbb", || TcpStream::connect((RS1, PORT)))`.
    pub fn in_ns<T, F>(&self, host: &str, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> io::Result<T> + Send + 'static,
    {
        netns::in_netns(self.ns(host), f)
    }

    /// A kernel TCP connection from `host` to `addr:port` (2 s limit), e.g.
    /// to prove the topology works without check_raw.
    pub fn connect(&self, host: &str, addr: &str, port: u16) -> io::Result<TcpStream> {
        let ip: IpAddr = addr
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{addr}: {e}")))?;
        self.in_ns(host, move || {
            TcpStream::connect_timeout(&SocketAddr::new(ip, port), Duration::from_secs(2))
        })
    }

    /// Connections in ESTABLISHED state with local port `port` on `host`,
    /// counted by `ss` (`-N` makes ss enter the namespace itself: the same
    /// as `ip netns exec`, without the mount-namespace setup).
    pub fn established_on(&self, host: &str, port: u16) -> usize {
        let filter = format!("( sport = :{port} )");
        let out = netns::output(
            "ss",
            &["-N", self.ns(host), "-Htn", "state", "established", &filter],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        out.lines().filter(|l| !l.trim().is_empty()).count()
    }

    /// Polls `established_on` until it is 0 or `timeout` passes; returns the
    /// last count. A server needs a moment to process a RST or a FIN.
    pub fn wait_none_established(&self, host: &str, port: u16, timeout: Duration) -> usize {
        let start = Instant::now();
        for _ in 0..10_000 {
            let n = self.established_on(host, port);
            if n == 0 || start.elapsed() >= timeout {
                return n;
            }
            thread::sleep(Duration::from_millis(5));
        }
        self.established_on(host, port)
    }

    /// The MAC address of `host`'s eth0, as `ip` prints it.
    pub fn mac(&self, host: &str) -> String {
        let out = netns::output("ip", &["-o", "-n", self.ns(host), "link", "show", IFACE])
            .unwrap_or_else(|e| panic!("{e}"));
        out.split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or_else(|| panic!("no MAC in {out:?}"))
            .to_owned()
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        // Stop the listeners first (each stop is immediate: its eventfd wakes
        // the accept poll), so no server thread is left in a namespace we
        // are about to delete.
        self.servers
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        netns::destroy(&self.namespaces);
    }
}

/// The LVS-DR real-server ARP settings: answer ARP only for addresses on the
/// receiving interface (not the VIP on lo), and use the best local source
/// address in ARP requests (never the VIP).
/// No DAD anywhere; on real servers also the LVS-DR ARP settings.
fn set_sysctls(ns: &str, real_server: bool) -> io::Result<()> {
    netns::in_netns(ns, move || {
        // /proc/sys/net follows the network namespace of the thread that
        // opens it, so these writes land in `ns`.
        for conf in ["all", "default", IFACE] {
            std::fs::write(format!("/proc/sys/net/ipv6/conf/{conf}/accept_dad"), "0")?;
        }
        if real_server {
            for conf in ["all", IFACE] {
                std::fs::write(format!("/proc/sys/net/ipv4/conf/{conf}/arp_ignore"), "1")?;
                std::fs::write(format!("/proc/sys/net/ipv4/conf/{conf}/arp_announce"), "2")?;
            }
        }
        Ok(())
    })
}

/// `check_raw_tcp OPTS... eth0 REAL_SERVER VIP 80`, run in `host`: the TCP
/// check at the testbed's fixed target, as the TCP and role tests run it.
pub fn tcp_check(tb: &Testbed, host: &str, opts: &[&str], real_server: &str) -> RunResult {
    let port = PORT.to_string();
    let mut args = opts.to_vec();
    args.extend([IFACE, real_server, VIP, &port]);
    tb.run(host, &super::files::check_raw_bin("check_raw_tcp"), &args)
}
