//! check_raw_tcp: does the real server answer a SYN sent to the VIP?
//!
//! OK means a SYN/ACK came back: the server holds the VIP and listens on
//! the port. The connection then ends with RST at once (the server's
//! application never sees it), or with `-c` by a full FIN handshake. In
//! the BACKUP role, the kernel connects to the real server's own address.
//! With `--ssl` a TLS handshake follows the TCP one (no data), for TLS
//! services that are not HTTP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pnet_datalink::MacAddr;

use crate::channel::{Ending, Peer, Transport};
use crate::cli::{Mode, TcpConfig};
use crate::failure::Failure;
use crate::net::path::PathPlan;
use crate::outcome::{Outcome, State};
use crate::role::Role;
use crate::trace::Trace;
use crate::transport::tls::TlsStream;

use super::{ms, ByteStream, Carrier, CheckRun, Runner};

pub fn run(cfg: &TcpConfig, runner: &Runner) -> Outcome {
    let check = CheckRun::new(Mode::Tcp, &cfg.common, runner);
    let mut trace = Trace::new(cfg.common.verbosity);
    let outcome = check.over_stream(&mut trace, |stream| {
        let Some(tls) = &cfg.tls else {
            return probe(&check, cfg, stream);
        };
        let mut stream = TlsStream::new(stream, tls);
        let mut outcome = probe(&check, cfg, &mut stream)?;
        let Some(session) = stream.session() else {
            return Ok(outcome);
        };
        // "... answers TLS via ... in 1.20 ms (TLSv1.3, TLS_AES_256_GCM_SHA384)"
        outcome.summary = format!(
            "{} ({}, {})",
            outcome.summary, session.version, session.cipher
        );
        Ok(super::tls::with_certificate(outcome, tls, session))
    });
    outcome.with_details(trace.into_lines())
}

/// Connect (with `--ssl`: and the TLS handshake), close, word it.
fn probe(
    check: &CheckRun,
    cfg: &TcpConfig,
    stream: &mut dyn Transport,
) -> Result<Outcome, Failure> {
    let rtt = stream.connect()?;
    let closed = stream.finish(cfg.clean_close)?;
    let answer = TcpAnswer {
        rtt,
        closed,
        retransmissions: stream.retransmissions(),
        tls: cfg.tls.is_some(),
    };
    Ok(answered(check, stream.peer(), answer))
}

/// What a real server's answer was like, for its words.
struct TcpAnswer {
    rtt: Duration,
    closed: Ending,
    retransmissions: u32,
    tls: bool,
}

/// The words of an answer, whoever carried the exchange.
fn answered(check: &CheckRun, peer: &Peer, a: TcpAnswer) -> Outcome {
    let tls = if a.tls { "TLS " } else { "" };
    let mut summary = match peer {
        Peer::Raw { vip_port, .. } => format!(
            "{vip_port} answers {tls}{} in {}{}",
            peer.via(),
            ms(a.rtt),
            a.closed.note()
        ),
        Peer::Kernel { addr } => format!(
            "{addr} accepts {tls}connections (BACKUP role, kernel connect) in {}{}",
            ms(a.rtt),
            a.closed.note()
        ),
    };
    if a.retransmissions > 0 {
        summary.push_str(&format!(" ({} retransmissions)", a.retransmissions));
    }
    let ok = check
        .outcome(State::Ok, summary)
        .with_perf(check.time_perf(a.rtt));
    check.apply_thresholds(ok, a.rtt)
}

/// A run that check_raw_serve's loop carries itself, frame by frame
/// (`serve::direct`, over a `net::handshake::Handshake`), instead of a
/// worker thread blocking in [`run`]: where its frames go.
#[derive(Debug, Clone)]
pub struct DirectPlan {
    /// Shared by the runs of one check while the driver keeps it (see
    /// [`direct_path`]).
    pub path: Arc<PathPlan>,
    pub rs_mac: MacAddr,
}

/// Whether check_raw_serve's loop may carry runs of `cfg` at all: plain
/// TCP with the default RST close, no `-v` lines to collect, no fixed
/// `--source-port`. Every other check runs in [`run`], on a worker.
pub fn direct_kind(cfg: &TcpConfig) -> bool {
    let common = &cfg.common;
    cfg.tls.is_none()
        && !cfg.clean_close
        && common.verbosity == 0
        && common.target.source_port.is_none()
}

/// Where `cfg`'s raw path leads (interface, source, hazards), if its
/// frames may go there (the rule for callers who are not root). It
/// depends only on the host's links, which an engine re-reads at most
/// once a second, so a driver may keep it that long. `None`: [`run`]
/// meets and words the trouble.
pub fn direct_path(cfg: &TcpConfig, runner: &Runner) -> Option<PathPlan> {
    let check = CheckRun::new(Mode::Tcp, &cfg.common, runner);
    let spec = check.path_spec(ByteStream::expect(cfg.common.target.port));
    check.may_send(&spec).ok()?;
    PathPlan::for_spec(&spec).ok()
}

/// This run's plan over `path` (from [`direct_path`]), or `None`: then
/// [`run`] does it, on a worker, as every other check. Carried directly:
/// the MASTER role, decided for this run (a role file is read at each
/// run, so a VRRP transition moves the check to the kernel path at
/// once), and the real server's MAC young in the engine's neighbour
/// cache (else the run asks ARP/NDP on a worker, which refreshes the
/// cache for the next).
pub fn direct_plan(cfg: &TcpConfig, runner: &Runner, path: &Arc<PathPlan>) -> Option<DirectPlan> {
    let engine = runner.engine?;
    let check = CheckRun::new(Mode::Tcp, &cfg.common, runner);
    if check.role(&mut Trace::new(0)).ok()? != Role::Master {
        return None;
    }
    let rs_mac = engine.young_neighbour(path.iface.index, cfg.common.target.real_server)?;
    Some(DirectPlan {
        path: Arc::clone(path),
        rs_mac,
    })
}

/// The outcome of a run carried directly: `end` is the handshake's
/// (its time, or why it failed), worded as [`run`] words it.
pub fn direct_outcome(
    cfg: &TcpConfig,
    runner: &Runner,
    plan: &DirectPlan,
    end: Result<Duration, Failure>,
    retransmissions: u32,
) -> Outcome {
    let check = CheckRun::new(Mode::Tcp, &cfg.common, runner);
    let t = &cfg.common.target;
    let peer = Peer::Raw {
        vip_port: SocketAddr::new(t.vip, t.port),
        real_server: t.real_server,
        mac: plan.rs_mac,
        iface: plan.path.iface.name.clone(),
    };
    match end {
        Ok(rtt) => {
            let answer = TcpAnswer {
                rtt,
                closed: Ending::Reset,
                retransmissions,
                tls: false,
            };
            answered(&check, &peer, answer)
        }
        Err(failure) => check.failure(failure, &peer, &plan.path.hazards),
    }
}
