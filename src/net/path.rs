//! The raw path of one check, set up in one place for every check.
//!
//! `RawPath::open` finds the interface (named, or the one the kernel routes
//! the real server through), picks and validates the source address,
//! reserves the local port with a kernel socket, opens the AF_PACKET socket
//! with a BPF filter built from what this check expects (and nothing
//! else), and resolves the real server's MAC. Every failure is a typed
//! `PathError`; `checks` words it.
//!
//! It also notes the balancer's kernel settings that would make its own
//! kernel interfere with a raw check (`Hazard`): what the check cannot fix,
//! it can at least name.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use pnet_datalink::MacAddr;

use super::bpf::Program;
pub use super::bpf::{Awaited, Proto};
use super::conn::Conn;
use super::datagram::UdpFlow;
use super::link::{self, Interface, InterfaceError};
use super::port::{self, ReservedPort};
use super::shared::{Engine, FramePort};
use super::socket::PacketSocket;
use super::source::{self, Source};
use super::tcp::{Seq, TcpParams};
use super::wire::{self, Flow, Link};
use super::{neigh, Wire};
use crate::channel::Peer;
use crate::failure::{Failure, Step};
use crate::trace::{Trace, DETAIL};
use crate::wait::Waiter;

/// What a check asks of its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathSpec {
    /// `None`: the interface the kernel routes the real server through.
    pub iface: Option<String>,
    pub real_server: IpAddr,
    /// The VIP: the destination address of our frames.
    pub vip: IpAddr,
    /// `--source`; else the kernel's choice towards the real server,
    /// never the VIP (`source::choose`).
    pub source: Option<IpAddr>,
    /// A fixed local port (`--source-port`) instead of a free one.
    pub source_port: Option<u16>,
    /// The replies awaited beyond the real server's ARP/NDP reply (always
    /// awaited: the path needs its MAC).
    pub expect: Vec<Awaited>,
}

/// Why the raw path could not be set up.
#[derive(Debug)]
pub enum PathError {
    /// No route to the real server to choose the interface by.
    NoRoute(String),
    Interface(InterfaceError),
    /// The interface has no address of the family but the VIP (and no
    /// `--source`).
    NoSource {
        iface: String,
        ipv6: bool,
    },
    /// `--source` is not an address of ours: refused whatever
    /// `ip_nonlocal_bind` says, or any user of a `cap_net_raw` binary
    /// could send frames with a spoofed source.
    SourceNotLocal {
        source: IpAddr,
        iface: String,
    },
    Reserve {
        source: IpAddr,
        err: io::Error,
    },
    Socket(io::Error),
    /// The capabilities could not be dropped once the socket was open:
    /// nothing is sent with them still held.
    Privilege(io::Error),
    Filter(String),
    Random(String),
    /// No ARP/NDP answer from the real server in time.
    Unreachable {
        iface: String,
    },
    /// Neighbour resolution failed otherwise (a signal, the link).
    Neighbour(Failure),
}

/// A setting of this host that makes its kernel answer the real server's
/// replies to our raw frames (with RST) instead of dropping them quietly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hazard {
    /// The VIP is not configured here (a BACKUP run as MASTER): the
    /// replies from the VIP are addressed to us, and the kernel, which
    /// knows no such connection, resets it.
    VipNotLocal { vip: IpAddr },
    /// IPv4 `accept_local=1`: replies from the (local) VIP are accepted
    /// instead of dropped as martians, and the kernel's TCP answers them.
    AcceptLocal { iface: String },
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hazard::VipNotLocal { vip } => write!(
                f,
                "VIP {vip} is not a local address: the kernel answers the SYN/ACK with RST (a BACKUP balancer needs -r FILE or -r auto)"
            ),
            Hazard::AcceptLocal { iface } => write!(
                f,
                "net.ipv4.conf.{iface}.accept_local=1: the kernel accepts the real server's replies from the VIP and may answer the SYN/ACK with RST"
            ),
        }
    }
}

/// Where a raw path to a [`PathSpec`] leads, before any socket or frame:
/// the interface, our source address, and the host's settings that may
/// spoil a TCP check. [`RawPath::open`] starts with it; a driver that
/// brings its own socket (check_raw_serve's direct flows) uses it alone.
#[derive(Debug, Clone)]
pub struct PathPlan {
    pub iface: Interface,
    pub source: Source,
    /// For a spec awaiting a TCP flow; empty otherwise.
    pub hazards: Vec<Hazard>,
}

impl PathPlan {
    pub fn for_spec(spec: &PathSpec) -> Result<PathPlan, PathError> {
        let name = match &spec.iface {
            Some(name) => name.clone(),
            None => link::route_interface(spec.real_server).map_err(PathError::NoRoute)?,
        };
        let iface = Interface::lookup(&name).map_err(PathError::Interface)?;
        let source = source_address(spec, &iface)?;
        let hazards = if awaits_flow(spec, Proto::Tcp) {
            hazards(spec.vip, &iface.name)
        } else {
            Vec::new()
        };
        Ok(PathPlan {
            iface,
            source,
            hazards,
        })
    }
}

/// A random ISN or IP ID, from the OS.
fn random_u32() -> Result<u32, PathError> {
    getrandom::u32().map_err(|e| PathError::Random(format!("no randomness from the OS: {e}")))
}

/// Everything a raw check needs once the path to the real server is known.
pub struct RawPath<'a> {
    pub wire: Wire<'a>,
    pub iface: Interface,
    pub src_ip: IpAddr,
    /// The reserved local port (0 when the check asked for none).
    pub local_port: u16,
    pub rs_mac: MacAddr,
    pub mtu: u32,
    pub real_server: IpAddr,
    pub vip: IpAddr,
    pub hazards: Vec<Hazard>,
    ip_id: u16,
    /// Held for the check's life: keeps our source port ours (for each
    /// protocol awaited: DNS's UDP and its TCP retry share the number).
    _port: Vec<ReservedPort>,
}

impl<'a> RawPath<'a> {
    /// Interface, source, port, filtered socket, then ARP/NDP.
    pub fn open(
        spec: &PathSpec,
        engine: Option<&Engine>,
        waiter: &'a Waiter,
        deadline: Instant,
        trace: &'a mut Trace,
    ) -> Result<RawPath<'a>, PathError> {
        let PathPlan {
            iface,
            source,
            hazards,
        } = PathPlan::for_spec(spec)?;
        trace.line(DETAIL, || source.to_string());
        let src_ip = source.addr;
        // check_raw_serve's engine carries the run on its interface's
        // shared socket when it can (`shared::Engine::lease`); else the
        // run reserves its port and opens its own socket, as the plugin.
        let lease = match engine {
            Some(engine) if shareable(spec) => {
                engine.lease(iface.index, src_ip, &protocols(spec), spec.source_port)?
            }
            _ => None,
        };
        let (sock, local_port, reserved, dropped) = match lease {
            Some(lease) => {
                let port = lease.port();
                (FramePort::Shared(lease), port, Vec::new(), None)
            }
            None => {
                let reserved = reserve_ports(spec, src_ip, iface.index)?;
                let local_port = reserved.first().map_or(0, |r| r.port);
                let filter = filter_for(spec, local_port)?;
                let (sock, dropped) = match engine {
                    // check_raw_serve keeps CAP_NET_RAW for its life (it
                    // opens sockets as interfaces come): no per-run raise
                    // or drop, which would act on this worker thread alone.
                    Some(engine) => (engine.open(iface.index, &filter)?, None),
                    None => {
                        // CAP_NET_RAW is effective for this one call
                        // (callers who are not root run without it until
                        // here: `privilege::lower_effective`).
                        crate::privilege::raise_net_raw().map_err(PathError::Privilege)?;
                        let sock =
                            PacketSocket::open(iface.index, &filter).map_err(PathError::Socket)?;
                        // The one step that needed CAP_NET_RAW is done: see `privilege`.
                        let dropped = crate::privilege::drop_all().map_err(PathError::Privilege)?;
                        (sock, Some(dropped))
                    }
                };
                (FramePort::Own(sock), local_port, reserved, dropped)
            }
        };
        let mtu = sock.mtu(&iface.name).unwrap_or(1500);
        let ip_id = random_u32()? as u16;
        let mut wire = Wire {
            sock,
            waiter,
            our_mac: iface.mac,
            deadline,
            trace,
        };
        wire.trace.line(DETAIL, || {
            format!(
                "interface {} (index {}, {}, MTU {mtu}): source {}",
                iface.name,
                iface.index,
                iface.mac,
                SocketAddr::new(src_ip, local_port)
            )
        });
        if let Some(dropped) = dropped {
            wire.trace.line(DETAIL, || {
                format!(
                    "capabilities dropped: {} after the packet socket opened",
                    dropped.describe()
                )
            });
        }
        for hazard in &hazards {
            wire.trace.line(DETAIL, || format!("warning: {hazard}"));
        }
        // Under the engine, a young answer from its neighbour cache
        // spares the ARP/NDP exchange (`shared::YOUNG`); an older one is
        // asked again here, the answer routed to this run's mailbox.
        let cached = match (&mut wire.sock, engine) {
            (FramePort::Shared(lease), Some(engine)) => {
                let young = engine.young_neighbour(iface.index, spec.real_server);
                match young {
                    Some(_) => lease.trusting(spec.real_server),
                    None => lease.resolving(spec.real_server),
                }
                young
            }
            _ => None,
        };
        let resolved = match cached {
            Some(mac) => {
                wire.trace.line(DETAIL, || {
                    format!("neighbour cache: {} is at {mac}", spec.real_server)
                });
                Ok(mac)
            }
            None => neigh::resolve(&mut wire, src_ip, spec.real_server),
        };
        if let FramePort::Shared(lease) = &mut wire.sock {
            lease.resolved();
        }
        let rs_mac = match resolved {
            Ok(mac) => mac,
            Err(Failure::Timeout(Step::Arp)) => {
                return Err(PathError::Unreachable { iface: iface.name })
            }
            Err(other) => return Err(PathError::Neighbour(other)),
        };
        wire.trace.line(DETAIL, || {
            format!("real server {} is at {rs_mac}", spec.real_server)
        });
        Ok(RawPath {
            wire,
            iface,
            src_ip,
            local_port,
            rs_mac,
            mtu,
            real_server: spec.real_server,
            vip: spec.vip,
            hazards,
            ip_id,
            _port: reserved,
        })
    }

    /// Our frames' link-layer addresses: us to the real server.
    pub fn link(&self) -> Link {
        Link {
            src: self.iface.mac,
            dst: self.rs_mac,
        }
    }

    /// A TCP connection from our reserved port to VIP:`remote_port`, not
    /// yet connected; dropping it resets whatever it left open. `timeout`
    /// (`-t`) bounds its clean close.
    pub fn tcp(&mut self, remote_port: u16, timeout: Duration) -> Result<Conn<'_, 'a>, PathError> {
        let mss = wire::mss_for_mtu(self.mtu, self.src_ip.is_ipv6());
        let isn = Seq(random_u32()?);
        let flow = self.flow_to(remote_port);
        let link = self.link();
        self.wire
            .trace
            .line(DETAIL, || format!("TCP to {} with MSS {mss}", flow.dst_ip));
        let ip_id = self.next_ip_id(1024);
        let peer = self.peer(remote_port);
        Ok(Conn::new(
            &mut self.wire,
            (link, flow),
            TcpParams::new(isn, mss),
            ip_id,
            (peer, timeout),
        ))
    }

    /// UDP from our reserved port to VIP:`remote_port`, for request and
    /// reply datagrams.
    pub fn udp(&mut self, remote_port: u16) -> UdpFlow<'_, 'a> {
        let flow = self.flow_to(remote_port);
        let link = self.link();
        let peer = self.peer(remote_port);
        let ip_id = self.next_ip_id(1024);
        UdpFlow::new(&mut self.wire, link, flow, ip_id, peer)
    }

    /// Our reserved port to VIP:`remote_port`.
    fn flow_to(&self, remote_port: u16) -> Flow {
        Flow {
            src_ip: self.src_ip,
            dst_ip: self.vip,
            src_port: self.local_port,
            dst_port: remote_port,
        }
    }

    /// Who a flow to VIP:`remote_port` talks to, for the words of failures.
    pub fn peer(&self, remote_port: u16) -> Peer {
        Peer::Raw {
            vip_port: SocketAddr::new(self.vip, remote_port),
            real_server: self.real_server,
            mac: self.rs_mac,
            iface: self.iface.name.clone(),
        }
    }

    /// The IP ID to start a flow at; `count` IDs are set aside for it, so
    /// flows of one path do not repeat each other's IDs.
    pub fn next_ip_id(&mut self, count: u16) -> u16 {
        let id = self.ip_id;
        self.ip_id = self.ip_id.wrapping_add(count);
        id
    }
}

/// Can the engine's shared socket carry `spec`? Its filter passes flows
/// to its port range, their ICMP errors and the real server's ARP/NDP
/// answer; an echo reply or an answer about the VIP (the VIP check) needs
/// a run's own filter.
fn shareable(spec: &PathSpec) -> bool {
    !protocols(spec).is_empty()
        && spec
            .expect
            .iter()
            .all(|e| matches!(e, Awaited::Flow { .. } | Awaited::IcmpErrors { .. }))
}

/// The protocols of the flows `spec` awaits, each once.
fn protocols(spec: &PathSpec) -> Vec<Proto> {
    let mut protos: Vec<Proto> = Vec::new();
    for e in &spec.expect {
        if let Awaited::Flow { proto, .. } = e {
            if !protos.contains(proto) {
                protos.push(*proto);
            }
        }
    }
    protos
}

/// Does `spec` await a flow of `proto`?
fn awaits_flow(spec: &PathSpec, proto: Proto) -> bool {
    spec.expect
        .iter()
        .any(|e| matches!(e, Awaited::Flow { proto: p, .. } if *p == proto))
}

/// The local port, reserved for each protocol a flow is awaited in, all
/// with one number (the filter knows one local port): the first free one,
/// or `--source-port`. A number free for UDP but taken for TCP is tried
/// again, a few times.
fn reserve_ports(
    spec: &PathSpec,
    src_ip: IpAddr,
    ifindex: u32,
) -> Result<Vec<ReservedPort>, PathError> {
    let protos = protocols(spec);
    let fail = |err| PathError::Reserve {
        source: src_ip,
        err,
    };
    let Some((first, others)) = protos.split_first() else {
        return Ok(Vec::new());
    };
    const ATTEMPTS: usize = 8;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let one = port::reserve(src_ip, ifindex, spec.source_port, *first).map_err(fail)?;
        let number = Some(one.port);
        let mut held = vec![one];
        let rest: Result<Vec<_>, _> = others
            .iter()
            .map(|p| port::reserve(src_ip, ifindex, number, *p))
            .collect();
        match rest {
            Ok(rest) => {
                held.extend(rest);
                return Ok(held);
            }
            Err(err) if spec.source_port.is_none() => last = Some(err),
            Err(err) => return Err(fail(err)),
        }
    }
    Err(fail(
        last.unwrap_or_else(|| io::Error::other("no free port")),
    ))
}

/// The source address of our frames: `--source` (if it is ours; the CLI
/// refuses the VIP), else the kernel's route's choice, never the VIP
/// (`source::choose`).
fn source_address(spec: &PathSpec, iface: &Interface) -> Result<Source, PathError> {
    if let Some(source) = spec.source {
        // IPv4: on this interface. IPv6: anywhere on the host, as the
        // kernel itself would accept it as a source.
        let ours = match source {
            IpAddr::V4(_) => iface.holds(source),
            IpAddr::V6(_) => iface.holds(source) || link::is_local_address(source),
        };
        if !ours {
            return Err(PathError::SourceNotLocal {
                source,
                iface: iface.name.clone(),
            });
        }
        return Ok(Source {
            addr: source,
            why: source::Why::Given,
        });
    }
    source::for_raw_path(iface, spec.real_server, spec.vip).ok_or_else(|| PathError::NoSource {
        iface: iface.name.clone(),
        ipv6: spec.real_server.is_ipv6(),
    })
}

/// The BPF program for what `spec` awaits, with our `local_port`: the
/// real server's ARP/NDP reply always, then each awaited reply.
fn filter_for(spec: &PathSpec, local_port: u16) -> Result<Program, PathError> {
    let mut awaited = vec![Awaited::NeighborReply {
        target: spec.real_server,
    }];
    awaited.extend(&spec.expect);
    Program::build(spec.vip, local_port, &awaited).map_err(|e| PathError::Filter(e.to_string()))
}

/// The settings that would make this host's kernel answer a raw TCP
/// check's replies: see [`Hazard`].
fn hazards(vip: IpAddr, iface: &str) -> Vec<Hazard> {
    if !link::is_local_address(vip) {
        return vec![Hazard::VipNotLocal { vip }];
    }
    static ACCEPT_LOCAL: link::Memo<bool> = std::sync::Mutex::new(Vec::new());
    let accept_local = |conf: &str| {
        link::remembered(&ACCEPT_LOCAL, conf.to_string(), || {
            std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{conf}/accept_local"))
                .map(|v| v.trim() == "1")
                .unwrap_or(false)
        })
    };
    if vip.is_ipv4() && (accept_local("all") || accept_local(iface)) {
        return vec![Hazard::AcceptLocal {
            iface: iface.to_string(),
        }];
    }
    Vec::new()
}
