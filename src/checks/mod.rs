//! The checks. Each is one probe written against a [`Transport`]; what they
//! share lives here, once: the role (decided once per run), the transport
//! it implies (raw TCP to VIP:PORT through the real server's MAC, or the
//! kernel's TCP to REAL_SERVER:PORT), the deadline, the thresholds, and the
//! words for every failure. Read top-down a check is:
//! config -> role -> transport -> probe -> `Outcome`.
//!
//! To add a check: a `cli` mode and config, then a module here whose `run`
//! builds a [`CheckRun`] and calls [`CheckRun::over_stream`] (or
//! [`CheckRun::over_datagrams`]; for a probe that is neither, it opens
//! the raw path itself with [`CheckRun::open_path`] and the frames it
//! expects) and turns the probe's result into an `Outcome`.
//!
//! The role is dispatched in one place, [`CheckRun::over`]: what differs
//! between a stream and a datagram exchange (the frames the raw path
//! expects, and how each role opens its channel) is a [`Carrier`].

// A set-up step that fails (the role, the path, the privilege drop) ends
// the run with its `Outcome` as the `Err`: once per run, so its size (the
// `Facts` in it) costs nothing a `Box` would save.
#![allow(clippy::result_large_err)]

mod carrier;
pub mod direct;
pub mod dns;
pub mod http;
pub mod tcp;
pub mod tls;
pub mod vip;

use std::cell::OnceCell;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::time::{Duration, Instant};

use crate::channel::{Datagram, Peer, Transport};
use crate::cli::{Common, Config, IfaceArg, Mode};
use crate::failure::IcmpErrorKind;
use crate::failure::{Failure, Step};
use crate::net::link::{self, Interface};
use crate::net::path::{Awaited, Hazard, PathError, PathSpec, RawPath};
use crate::net::port;
use crate::net::shared::Engine;
use crate::net::source;
use crate::outcome::{Outcome, Perf, State};
use crate::role::{self, Role};
use crate::trace::{Trace, DETAIL};
use crate::transport::kernel::KernelTarget;
use crate::wait::Waiter;

pub use carrier::{ByteStream, Carrier, Datagrams};

/// Run the check `config` asks for.
pub fn run(config: &Config, runner: &Runner) -> Outcome {
    match config {
        Config::Tcp(cfg) => tcp::run(cfg, runner),
        Config::Http(mode, cfg) => http::run(*mode, cfg, runner),
        Config::Dns(cfg) => dns::run(cfg, runner),
        Config::Vip(cfg) => vip::run(cfg, runner),
    }
}

/// What carries one run of a check, whoever runs it: the plugin (one run
/// in its own process, its own packet socket) or check_raw_serve (many
/// runs through one shared [`Engine`]). The probe is the same either way.
#[derive(Clone, Copy)]
pub struct Runner<'r> {
    /// Wakes on the signals that end a run early (with RST).
    pub waiter: &'r Waiter,
    /// When the run began: `-t` counts from here.
    pub started: Instant,
    /// The daemon's packet engine; `None`: the run opens its own socket.
    pub engine: Option<&'r Engine>,
}

impl<'r> Runner<'r> {
    /// The plugin's one run: `-t` from the process start, so name lookups
    /// and set-up count too; its own packet socket.
    pub fn plugin(waiter: &'r Waiter) -> Runner<'r> {
        Runner {
            waiter,
            started: crate::wait::process_start(),
            engine: None,
        }
    }
}

/// One run of one check: its mode and options, the signal-aware waiter
/// and the deadline every step shares.
pub struct CheckRun<'c> {
    pub mode: Mode,
    pub common: &'c Common,
    pub waiter: &'c Waiter,
    /// `-t` from the run's start (the plugin's: the process start).
    pub deadline: Instant,
    /// The shared packet engine of check_raw_serve, if any.
    pub engine: Option<&'c Engine>,
    /// The role, once decided: a check that uses two transports (DNS's
    /// TCP retry) must not read a role file that may change in between.
    role: OnceCell<Role>,
}

impl<'c> CheckRun<'c> {
    pub fn new(mode: Mode, common: &'c Common, runner: &Runner<'c>) -> CheckRun<'c> {
        CheckRun {
            mode,
            common,
            waiter: runner.waiter,
            deadline: runner.started + common.timeout,
            engine: runner.engine,
            role: OnceCell::new(),
        }
    }

    pub fn outcome(&self, state: State, text: impl Into<String>) -> Outcome {
        Outcome::new(self.mode.service(), state, text)
    }

    fn unknown(&self, text: impl Into<String>) -> Outcome {
        self.outcome(State::Unknown, text)
    }

    fn critical(&self, text: impl Into<String>) -> Outcome {
        self.outcome(State::Critical, text)
    }

    fn timeout_ms(&self) -> u128 {
        self.common.timeout.as_millis()
    }

    /// MASTER or BACKUP for this run, and why, for `-v`; decided once per
    /// run, whatever asks again.
    pub fn role(&self, trace: &mut Trace) -> Result<Role, Outcome> {
        if let Some(role) = self.role.get() {
            return Ok(*role);
        }
        let decision = role::decide(&self.common.role, self.common.target.vip, |addr| {
            crate::net::link::is_local_address(addr)
        })
        .map_err(|e| self.unknown(e))?;
        trace.line(DETAIL, || format!("role: {}", decision.reason));
        Ok(*self.role.get_or_init(|| decision.role))
    }

    /// Run `probe` over the byte stream this run's role decides, and word
    /// its failure, if any, for that stream.
    pub fn over_stream(
        &self,
        trace: &mut Trace,
        probe: impl FnOnce(&mut dyn Transport) -> Result<Outcome, Failure>,
    ) -> Outcome {
        self.over::<ByteStream>(trace, probe)
    }

    /// Run `probe` over the datagram exchange this run's role decides: UDP
    /// to VIP:PORT through the real server's MAC, with the ICMP errors
    /// about it (MASTER), or the kernel's UDP to REAL_SERVER:PORT (BACKUP).
    pub fn over_datagrams(
        &self,
        trace: &mut Trace,
        probe: impl FnOnce(&mut dyn Datagram) -> Result<Outcome, Failure>,
    ) -> Outcome {
        self.over::<Datagrams>(trace, probe)
    }

    /// The role dispatch, once for every carrier: decide the role, open
    /// the carrier's channel for it (raw to VIP:PORT as MASTER, the
    /// kernel's to REAL_SERVER:PORT as BACKUP), run `probe` over it, and
    /// word a failure for the peer it talked to. The raw path's hazards
    /// (host settings that may explain a failure) come with MASTER only.
    pub fn over<C: Carrier>(
        &self,
        trace: &mut Trace,
        probe: impl for<'b> FnOnce(&'b mut C::Channel<'b>) -> Result<Outcome, Failure>,
    ) -> Outcome {
        let role = match self.role(trace) {
            Ok(role) => role,
            Err(outcome) => return outcome,
        };
        match role {
            Role::Master => {
                let expect = C::expect(self.common.target.port);
                let mut path = match self.open_path(expect, trace) {
                    Ok(path) => path,
                    Err(outcome) => return outcome,
                };
                let hazards = path.hazards.clone();
                C::over_raw(self, &mut path, |ch| self.judged::<C>(ch, &hazards, probe))
                    .unwrap_or_else(|e| self.path_error(e))
            }
            Role::Backup => {
                if let Err(outcome) = self.drop_privilege(trace) {
                    return outcome;
                }
                let target = self.kernel_target(trace);
                trace.line(DETAIL, || {
                    format!("BACKUP role: {} to {}", C::KERNEL, target.addr)
                });
                C::over_kernel(self, target, trace, |ch| self.judged::<C>(ch, &[], probe))
            }
        }
    }

    /// Two exchanges with one target, the second (`then`, over `B`) only
    /// if `again` says so once `first` (over `A`) is done: DNS's UDP query,
    /// then TCP after a truncated answer. As MASTER both run over one raw
    /// path whose filter expects both carriers' frames from the start, so
    /// its one packet socket is opened, and the capability dropped, before
    /// either runs. As BACKUP the kernel's channels open one after the
    /// other. The role is decided once.
    pub fn over_then<A: Carrier, B: Carrier>(
        &self,
        trace: &mut Trace,
        first: impl for<'b> FnOnce(&'b mut A::Channel<'b>) -> Result<Outcome, Failure>,
        again: impl FnOnce() -> bool,
        then: impl for<'b> FnOnce(&'b mut B::Channel<'b>) -> Result<Outcome, Failure>,
    ) -> Outcome {
        let role = match self.role(trace) {
            Ok(role) => role,
            Err(outcome) => return outcome,
        };
        if role == Role::Backup {
            let outcome = self.over::<A>(trace, first);
            return if again() {
                self.over::<B>(trace, then)
            } else {
                outcome
            };
        }
        let port = self.common.target.port;
        let mut expect = A::expect(port);
        expect.extend(
            B::expect(port)
                .into_iter()
                .filter(|e| !A::expect(port).contains(e)),
        );
        let mut path = match self.open_path(expect, trace) {
            Ok(path) => path,
            Err(outcome) => return outcome,
        };
        let hazards = path.hazards.clone();
        let outcome = match A::over_raw(self, &mut path, |ch| self.judged::<A>(ch, &hazards, first))
        {
            Ok(outcome) => outcome,
            Err(e) => return self.path_error(e),
        };
        if !again() {
            return outcome;
        }
        B::over_raw(self, &mut path, |ch| self.judged::<B>(ch, &hazards, then))
            .unwrap_or_else(|e| self.path_error(e))
    }

    /// Drop every capability before a path that needs none (BACKUP): see
    /// `privilege`. Idempotent.
    fn drop_privilege(&self, trace: &mut Trace) -> Result<(), Outcome> {
        if self.engine.is_some() {
            // check_raw_serve keeps CAP_NET_RAW for the packet sockets of
            // its later runs; a drop here would act on this thread alone.
            return Ok(());
        }
        let dropped = crate::privilege::drop_all().map_err(|e| {
            self.unknown(format!("cannot drop the capabilities: {e}; nothing sent"))
        })?;
        trace.line(DETAIL, || {
            format!(
                "capabilities dropped: {} before the BACKUP path (it needs none)",
                dropped.describe()
            )
        });
        Ok(())
    }

    /// `probe`'s outcome over `channel`, or its failure in words.
    fn judged<'b, C: Carrier>(
        &self,
        channel: &'b mut C::Channel<'b>,
        hazards: &[Hazard],
        probe: impl FnOnce(&'b mut C::Channel<'b>) -> Result<Outcome, Failure>,
    ) -> Outcome {
        let peer = C::peer(channel).clone();
        probe(channel).unwrap_or_else(|f| self.failure(f, &peer, hazards))
    }

    /// The kernel's connection to the real server: from `--source`, or
    /// from where the kernel likes unless that is the VIP (`source::for_kernel`).
    fn kernel_target(&self, trace: &mut Trace) -> KernelTarget {
        let t = &self.common.target;
        let from = t.source.or_else(|| {
            let iface = match &t.iface {
                IfaceArg::Named(name) => Some(name.as_str()),
                IfaceArg::ByRoute => None,
            };
            let chosen = source::for_kernel(iface, t.real_server, t.vip)?;
            trace.line(DETAIL, || chosen.to_string());
            Some(chosen.addr)
        });
        KernelTarget {
            addr: self.real_server_addr(),
            source: from,
            source_port: t.source_port,
        }
    }

    /// The raw path to this check's target, its filter passing `expect`;
    /// a failure already worded.
    pub fn open_path<'t>(
        &'t self,
        expect: Vec<Awaited>,
        trace: &'t mut Trace,
    ) -> Result<RawPath<'t>, Outcome> {
        let spec = self.path_spec(expect);
        self.may_send(&spec)?;
        RawPath::open(&spec, self.engine, self.waiter, self.deadline, trace)
            .map_err(|e| self.path_error(e))
    }

    /// The rule for callers who are not root (see `privilege`), checked
    /// before the path sends anything, ARP included.
    pub(crate) fn may_send(&self, spec: &PathSpec) -> Result<(), Outcome> {
        let root = crate::privilege::caller_is_root();
        let flow = spec
            .expect
            .iter()
            .any(|e| matches!(e, Awaited::Flow { .. }));
        // Asked only when it matters: it lists the host's addresses. The
        // interface is the one the frames would leave by; no route, no
        // interface: only `lo` counts.
        let vip_local = !root && flow && {
            let iface = match &spec.iface {
                Some(name) => name.clone(),
                None => link::route_interface(spec.real_server).unwrap_or_default(),
            };
            link::holds_as_vip(spec.vip, &iface)
        };
        crate::privilege::may_send(root, flow, vip_local).map_err(|rule| {
            self.unknown(format!(
                "refused: {rule}, and {} is not; nothing sent",
                spec.vip
            ))
        })
    }

    /// The raw path this check's target asks for, expecting `expect`.
    pub(crate) fn path_spec(&self, expect: Vec<Awaited>) -> PathSpec {
        let t = &self.common.target;
        PathSpec {
            iface: match &t.iface {
                IfaceArg::Named(name) => Some(name.clone()),
                IfaceArg::ByRoute => None,
            },
            real_server: t.real_server,
            vip: t.vip,
            source: t.source,
            source_port: t.source_port,
            expect,
        }
    }

    /// REAL_SERVER:PORT for the kernel (BACKUP); a link-local IPv6 address
    /// needs its interface as scope.
    fn real_server_addr(&self) -> SocketAddr {
        let t = &self.common.target;
        match (t.real_server, &t.iface) {
            (IpAddr::V6(v6), IfaceArg::Named(name)) if port::is_link_local(v6) => {
                let scope = Interface::lookup(name).map(|i| i.index).unwrap_or(0);
                SocketAddr::V6(SocketAddrV6::new(v6, t.port, 0, scope))
            }
            (addr, _) => SocketAddr::new(addr, t.port),
        }
    }

    /// The `time=` perfdata item with the thresholds and the timeout as max.
    pub fn time_perf(&self, elapsed: Duration) -> Perf {
        Perf::Seconds {
            label: "time",
            value: elapsed,
            warn: self.common.thresholds.warning.clone(),
            crit: self.common.thresholds.critical.clone(),
            max: Some(self.common.timeout),
        }
    }

    /// An OK outcome becomes CRITICAL or WARNING when the response time
    /// alerts against `--critical` or `--warning` (critical first, as the
    /// plugin guidelines say). Failures stay what they are.
    pub fn apply_thresholds(&self, mut outcome: Outcome, elapsed: Duration) -> Outcome {
        if outcome.state != State::Ok {
            return outcome;
        }
        let seconds = elapsed.as_secs_f64();
        let t = &self.common.thresholds;
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

    /// A failure of the exchange with `peer`, in words. `hazards` are the
    /// host settings that may explain it (raw path only).
    pub fn failure(&self, failure: Failure, peer: &Peer, hazards: &[Hazard]) -> Outcome {
        // The failures this host's kernel could have caused by answering
        // the real server's replies with RST.
        let explained = matches!(
            failure,
            Failure::Refused
                | Failure::Reset(_)
                | Failure::Timeout(Step::SynAck | Step::ResponseStart)
        );
        let mut outcome = match (peer, failure) {
            (Peer::Raw { vip_port, .. }, Failure::Timeout(Step::SynAck)) => self.critical(format!(
                "no SYN/ACK from {vip_port} {} within {} ms: the real server may lack the VIP",
                peer.via(),
                self.timeout_ms()
            )),
            (Peer::Raw { vip_port, .. }, Failure::Refused) => self.critical(format!(
                "{vip_port} refused the connection (RST) {}: port closed",
                peer.via()
            )),
            (Peer::Raw { vip_port, .. }, Failure::Timeout(Step::Reply)) => self.critical(format!(
                "no reply from {vip_port} {} within {} ms: the real server may lack the VIP",
                peer.via(),
                self.timeout_ms()
            )),
            // The real server itself cannot route the VIP: it does not hold
            // it (Linux says so for IPv6; for IPv4 it drops silently).
            (
                Peer::Raw {
                    vip_port,
                    real_server,
                    ..
                },
                Failure::Icmp {
                    kind: kind @ (IcmpErrorKind::NetUnreachable | IcmpErrorKind::HostUnreachable),
                    from,
                },
            ) if from == *real_server => self.critical(format!(
                "ICMP {kind} from {from} for {vip_port} {}: the real server may lack the VIP",
                peer.via()
            )),
            (Peer::Raw { iface, .. }, Failure::LinkDown(err)) => self.critical(format!(
                "interface {iface} went down during the check ({err}): no path to the real server"
            )),
            (Peer::Kernel { addr }, Failure::Timeout(Step::SynAck)) => self.critical(format!(
                "no answer from {addr} within {} ms (BACKUP role, kernel connect)",
                self.timeout_ms()
            )),
            (Peer::Kernel { addr }, Failure::Timeout(Step::Reply)) => self.critical(format!(
                "no reply from {addr} within {} ms (BACKUP role)",
                self.timeout_ms()
            )),
            (Peer::Kernel { addr }, Failure::Connect(err)) => {
                self.critical(format!("cannot connect to {addr} (BACKUP role): {err}"))
            }
            (_, other) => self.common_failure(other, &self.peer_name(peer)),
        };
        if explained {
            if let Some(hazard) = hazards.first() {
                outcome.summary = format!("{} (note: {hazard})", outcome.summary);
            }
        }
        outcome
    }

    /// "203.0.113.10:80 via 198.51.100.11 (02:..)" or "198.51.100.11:80 (BACKUP role)".
    fn peer_name(&self, peer: &Peer) -> String {
        match peer {
            Peer::Raw { vip_port, .. } => format!("{vip_port} {}", peer.via()),
            Peer::Kernel { addr } => format!("{addr} (BACKUP role)"),
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
            Failure::LinkDown(err) => self.critical(format!(
                "the path to {peer} went down during the check: {err}"
            )),
            Failure::Icmp {
                kind: IcmpErrorKind::PortUnreachable,
                from,
            } => self.critical(format!(
                "ICMP port unreachable from {from} for {peer}: port closed"
            )),
            Failure::Icmp {
                kind: IcmpErrorKind::AdminProhibited,
                from,
            } => self.critical(format!(
                "ICMP administratively prohibited from {from} for {peer}: a firewall rejects it"
            )),
            Failure::Icmp { kind, from } => {
                self.critical(format!("ICMP {kind} from {from} for {peer}"))
            }
            Failure::Tls(text) => self.critical(format!("TLS with {peer} failed: {text}")),
            Failure::Local(text) => self.unknown(text),
        }
    }

    /// A raw path that could not be set up, in words.
    pub fn path_error(&self, error: PathError) -> Outcome {
        let rs = self.common.target.real_server;
        match error {
            PathError::NoRoute(text) => self.unknown(text),
            PathError::Interface(e) => self.unknown(e.to_string()),
            PathError::NoSource { iface, ipv6 } => self.unknown(format!(
                "interface '{iface}' has no {} address but the VIP (use --source)",
                if ipv6 { "IPv6" } else { "IPv4" }
            )),
            PathError::SourceNotLocal { source, iface } => self.unknown(format!(
                "--source {source} is not configured on {}: nothing sent (a source we do not hold would be spoofed)",
                if source.is_ipv4() {
                    format!("interface {iface}")
                } else {
                    "this host".to_string()
                }
            )),
            PathError::Reserve { source, err } => self.unknown(format!(
                "cannot reserve a source port on {source}: {err}"
            )),
            PathError::Socket(e) => self.unknown(socket_error(&e)),
            PathError::Privilege(e) => self.unknown(format!(
                "cannot drop the capabilities after opening the packet socket: {e}; nothing sent"
            )),
            PathError::Filter(text) => self.unknown(format!("cannot build the packet filter: {text}")),
            PathError::Random(text) => self.unknown(text),
            PathError::Unreachable { iface } => self.critical(format!(
                "no {} reply from {rs} on {iface} within {} ms: real server unreachable",
                if rs.is_ipv4() { "ARP" } else { "NDP" },
                self.timeout_ms()
            )),
            PathError::Neighbour(failure) => {
                self.common_failure(failure, &format!("{rs} (resolving its MAC)"))
            }
        }
    }
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

/// Milliseconds with two decimals, for summaries.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
