//! The checks. Each mode turns its config into one `Outcome`; what they
//! share lives here: setting up the raw path (interface, source port, the
//! filtered socket, ARP), deciding the role, and wording failures.

pub mod http;
pub mod tcp;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use pnet_datalink::MacAddr;

use crate::cli::{Common, Interface as IfaceChoice, Mode};
use crate::net::bpf::{Expect, Program, Proto};
use crate::net::conn::Conn;
use crate::net::frame::{self, Flow, Link};
use crate::net::link::{route_interface, Interface, PacketSocket};
use crate::net::port::{self, ReservedPort};
use crate::net::tcp::{Config as TcpParams, Seq};
use crate::net::{neigh, Failure, Step, Wire};
use crate::outcome::{Outcome, Perf, State};
use crate::role::{self, Decision};
use crate::trace::{Trace, DETAIL};
use crate::wait::Waiter;

/// Everything a raw check needs once the path to the real server is known.
pub struct RawPath<'a> {
    pub wire: Wire<'a>,
    pub link: Link,
    pub flow: Flow,
    pub tcp: TcpParams,
    pub ip_id: u16,
    pub rs_mac: MacAddr,
    /// Held for the check's life: keeps our source port ours.
    _port: ReservedPort,
}

impl<'a> RawPath<'a> {
    /// The TCP connection over this path (not yet connected).
    pub fn conn(&mut self) -> Conn<'_, 'a> {
        Conn::new(
            &mut self.wire,
            self.link,
            self.flow,
            self.tcp.clone(),
            self.ip_id,
        )
    }
}

/// A failure before or outside the TCP exchange, already worded.
pub type Early = Box<Outcome>;

/// Words for the usual failures of any mode (`what` names the target).
pub struct Describe<'c> {
    pub mode: Mode,
    pub common: &'c Common,
}

impl Describe<'_> {
    fn service(&self) -> &'static str {
        self.mode.service()
    }

    pub fn unknown(&self, text: impl Into<String>) -> Outcome {
        Outcome::new(self.service(), State::Unknown, text)
    }

    pub fn critical(&self, text: impl Into<String>) -> Outcome {
        Outcome::new(self.service(), State::Critical, text)
    }

    pub fn vip_port(&self) -> String {
        let t = &self.common.target;
        SocketAddr::new(t.vip, t.port).to_string()
    }

    pub fn via(&self, mac: Option<MacAddr>) -> String {
        let rs = self.common.target.real_server;
        match mac {
            Some(mac) => format!("via {rs} ({mac})"),
            None => format!("via {rs}"),
        }
    }

    fn timeout_ms(&self) -> u128 {
        self.common.timeout.as_millis()
    }

    /// A raw-path failure as an outcome.
    pub fn raw_failure(&self, failure: Failure, mac: Option<MacAddr>) -> Outcome {
        match failure {
            Failure::Timeout(Step::Arp) => self.unreachable(None),
            Failure::Timeout(Step::SynAck) => self.critical(format!(
                "no SYN/ACK from {} {} within {} ms: the real server may lack the VIP",
                self.vip_port(),
                self.via(mac),
                self.timeout_ms()
            )),
            Failure::Refused => self.critical(format!(
                "{} refused the connection (RST) {}: port closed",
                self.vip_port(),
                self.via(mac)
            )),
            other => self.common_failure(other, &format!("{} {}", self.vip_port(), self.via(mac))),
        }
    }

    /// No ARP/NDP answer: the real server is not on this link (or down).
    pub fn unreachable(&self, iface: Option<&str>) -> Outcome {
        let rs = self.common.target.real_server;
        let on = iface.map(|i| format!(" on {i}")).unwrap_or_default();
        self.critical(format!(
            "no {} reply from {rs}{on} within {} ms: real server unreachable",
            if rs.is_ipv4() { "ARP" } else { "NDP" },
            self.timeout_ms()
        ))
    }

    /// A BACKUP-path (kernel) failure as an outcome.
    pub fn kernel_failure(&self, failure: Failure) -> Outcome {
        let rs = real_server_addr(self.common);
        match failure {
            Failure::Timeout(Step::SynAck) => self.critical(format!(
                "no answer from {rs} within {} ms (BACKUP role, kernel connect)",
                self.timeout_ms()
            )),
            Failure::Connect(err) => {
                self.critical(format!("cannot connect to {rs} (BACKUP role): {err}"))
            }
            other => self.common_failure(other, &format!("{rs} (BACKUP role)")),
        }
    }

    /// Wording shared by both paths; `peer` names who we talked to.
    fn common_failure(&self, failure: Failure, peer: &str) -> Outcome {
        match failure {
            Failure::Timeout(step) => self.critical(format!(
                "timeout waiting for the {step} from {peer} after {} ms",
                self.timeout_ms()
            )),
            Failure::Refused => self.critical(format!("{peer} refused the connection")),
            Failure::Reset(step) => self.critical(format!(
                "{peer} reset the connection (RST) while waiting for the {step}"
            )),
            Failure::Interrupted(sig) => self.critical(format!(
                "interrupted by {} before the check completed",
                sig.name()
            )),
            Failure::Invalid(text) => {
                self.critical(format!("invalid response from {peer}: {text}"))
            }
            Failure::Connect(err) => self.critical(format!("{peer}: {err}")),
            Failure::Local(text) => self.unknown(text),
        }
    }
}

/// The `time=` perfdata item with the thresholds and the timeout as max.
pub fn time_perf(common: &Common, elapsed: Duration) -> Perf {
    Perf::Seconds {
        label: "time",
        value: elapsed,
        warn: common.thresholds.warning.clone(),
        crit: common.thresholds.critical.clone(),
        max: Some(common.timeout),
    }
}

/// An OK outcome becomes CRITICAL or WARNING when the response time
/// alerts against `--critical` or `--warning` (critical first, as the
/// plugin guidelines say). Failures stay what they are.
pub fn apply_thresholds(mut outcome: Outcome, common: &Common, elapsed: Duration) -> Outcome {
    if outcome.state != State::Ok {
        return outcome;
    }
    let seconds = elapsed.as_secs_f64();
    let t = &common.thresholds;
    let alert = [
        (State::Critical, &t.critical, "critical"),
        (State::Warning, &t.warning, "warning"),
    ]
    .into_iter()
    .find_map(|(state, range, name)| {
        range
            .as_ref()
            .filter(|r| r.alerts(seconds))
            .map(|r| (state, name, r.to_string()))
    });
    if let Some((state, name, range)) = alert {
        outcome.state = state;
        outcome.summary = format!(
            "{} (response time {seconds:.6} s alerts against --{name} {range})",
            outcome.summary
        );
    }
    outcome
}

/// Decide MASTER/BACKUP for this run.
pub fn decide_role(d: &Describe, trace: &mut Trace) -> Result<Decision, Early> {
    let decision = role::decide(&d.common.role, d.common.target.vip, |addr| {
        crate::net::link::is_local_address(addr)
    })
    .map_err(|e| Box::new(d.unknown(e)))?;
    trace.line(DETAIL, || format!("role: {}", decision.reason));
    Ok(decision)
}

fn random_u32() -> Result<u32, String> {
    getrandom::u32().map_err(|e| format!("no randomness from the OS: {e}"))
}

/// The source address of our frames: `--source`, else for IPv4 the
/// interface's primary address (as the C original), for IPv6 the address
/// the kernel itself would use towards the real server out of this
/// interface (a global one unless the real server is link-local).
fn source_address(d: &Describe, iface: &Interface) -> Result<IpAddr, String> {
    let t = &d.common.target;
    if let Some(source) = t.source {
        return Ok(source);
    }
    match t.real_server {
        IpAddr::V4(_) => iface.ipv4.map(IpAddr::V4).ok_or_else(|| {
            format!(
                "interface '{}' has no IPv4 address (use --source)",
                iface.name
            )
        }),
        IpAddr::V6(rs) => port::kernel_source(&iface.name, iface.index, rs)
            .or_else(|| {
                iface
                    .ipv6
                    .iter()
                    .copied()
                    .find(|a| !port::is_link_local(*a))
                    .map(IpAddr::V6)
            })
            .ok_or_else(|| {
                format!(
                    "interface '{}' has no IPv6 address (use --source)",
                    iface.name
                )
            }),
    }
}

/// Interface, source port, filtered socket, then ARP/NDP: the raw path up
/// to the point where TCP can start.
pub fn open_raw_path<'a>(
    d: &Describe,
    waiter: &'a Waiter,
    deadline: Instant,
    trace: Trace,
) -> Result<RawPath<'a>, (Early, Trace)> {
    let t = &d.common.target;
    let fail = |o: Outcome, trace: Trace| (Box::new(o), trace);
    let name = match &t.iface {
        IfaceChoice::Named(name) => name.clone(),
        IfaceChoice::ByRoute => match route_interface(t.real_server) {
            Ok(name) => name,
            Err(e) => return Err(fail(d.unknown(e), trace)),
        },
    };
    let iface = match Interface::lookup(&name) {
        Ok(i) => i,
        Err(e) => return Err(fail(d.unknown(e.to_string()), trace)),
    };
    let src_ip = match source_address(d, &iface) {
        Ok(ip) => ip,
        Err(e) => return Err(fail(d.unknown(e), trace)),
    };
    let reserved = match port::reserve(src_ip, iface.index, t.source_port) {
        Ok(p) => p,
        Err(e) => {
            return Err(fail(
                d.unknown(format!("cannot reserve a source port on {src_ip}: {e}")),
                trace,
            ))
        }
    };
    let filter = match Program::build(&[
        Expect::Transport {
            proto: Proto::Tcp,
            remote: SocketAddr::new(t.vip, t.port),
            local_port: reserved.port,
        },
        Expect::NeighborReply {
            target: t.real_server,
        },
    ]) {
        Ok(p) => p,
        Err(e) => return Err(fail(d.unknown(e.to_string()), trace)),
    };
    let sock = match PacketSocket::open(iface.index, &filter) {
        Ok(s) => s,
        Err(e) => return Err(fail(d.unknown(socket_error(&e)), trace)),
    };
    let mtu = sock.mtu(&iface.name).unwrap_or(1500);
    let mss = frame::mss_for_mtu(mtu, src_ip.is_ipv6());
    let (isn, ip_id) = match (random_u32(), random_u32()) {
        (Ok(isn), Ok(id)) => (Seq(isn), id as u16),
        (Err(e), _) | (_, Err(e)) => return Err(fail(d.unknown(e), trace)),
    };
    let mut wire = Wire {
        sock,
        waiter,
        our_mac: iface.mac,
        deadline,
        trace,
    };
    wire.trace.line(DETAIL, || {
        format!(
            "interface {} (index {}, {}, MTU {mtu}): source {}, MSS {mss}",
            iface.name,
            iface.index,
            iface.mac,
            SocketAddr::new(src_ip, reserved.port)
        )
    });
    let rs_mac = match neigh::resolve(&mut wire, src_ip, t.real_server) {
        Ok(mac) => mac,
        Err(Failure::Timeout(Step::Arp)) => {
            return Err((Box::new(d.unreachable(Some(&iface.name))), wire.trace))
        }
        Err(f) => return Err((Box::new(d.raw_failure(f, None)), wire.trace)),
    };
    wire.trace.line(DETAIL, || {
        format!("real server {} is at {rs_mac}", t.real_server)
    });
    Ok(RawPath {
        link: Link {
            src: iface.mac,
            dst: rs_mac,
        },
        flow: Flow {
            src_ip,
            dst_ip: t.vip,
            src_port: reserved.port,
            dst_port: t.port,
        },
        tcp: TcpParams::new(isn, mss),
        ip_id,
        rs_mac,
        wire,
        _port: reserved,
    })
}

/// Opening an AF_PACKET socket mostly fails for want of CAP_NET_RAW; say
/// how to fix that rather than just "Operation not permitted".
fn socket_error(e: &std::io::Error) -> String {
    if e.raw_os_error() == Some(libc::EPERM) || e.raw_os_error() == Some(libc::EACCES) {
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "check_raw".into());
        format!(
            "cannot open a raw socket: {e}; run as root or grant the capability: setcap cap_net_raw+ep {exe}"
        )
    } else {
        format!("cannot open a raw socket: {e}")
    }
}

/// The check's deadline: `-t` from the process start, so the time spent
/// on name lookups and set-up counts too.
pub fn deadline(common: &Common) -> Instant {
    crate::wait::process_start() + common.timeout
}

/// Milliseconds with two decimals, for summaries.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// The real server's address for the BACKUP path.
/// The local address of a BACKUP connection: `--source` and/or
/// `--source-port` when given, else the kernel's choice.
pub fn backup_bind(common: &Common) -> Option<SocketAddr> {
    let t = &common.target;
    if t.source.is_none() && t.source_port.is_none() {
        return None;
    }
    let any: IpAddr = if t.real_server.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    Some(SocketAddr::new(
        t.source.unwrap_or(any),
        t.source_port.unwrap_or(0),
    ))
}

/// A link-local IPv6 address needs its interface as scope for the kernel.
pub fn real_server_addr(common: &Common) -> SocketAddr {
    let t = &common.target;
    match (t.real_server, &t.iface) {
        (IpAddr::V6(v6), IfaceChoice::Named(name)) if port::is_link_local(v6) => {
            let scope = Interface::lookup(name).map(|i| i.index).unwrap_or(0);
            SocketAddr::V6(std::net::SocketAddrV6::new(v6, t.port, 0, scope))
        }
        (addr, _) => SocketAddr::new(addr, t.port),
    }
}
