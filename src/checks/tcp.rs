//! check_raw_tcp: does the real server answer a SYN sent to the VIP?
//!
//! OK means a SYN/ACK came back: the server holds the VIP and listens on
//! the port. The connection then ends with RST at once (the server's
//! application never sees it), or with `-c` by a full FIN handshake. In
//! the BACKUP role, the kernel connects to the real server's own address.
//! With `--ssl` a TLS handshake follows the TCP one (no data), for TLS
//! services that are not HTTP.

use std::net::SocketAddr;
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
    let answer = Answer {
        rtt,
        closed,
        retransmissions: stream.retransmissions(),
        tls: cfg.tls.is_some(),
    };
    Ok(answered(check, stream.peer(), answer))
}

/// What a real server's answer was like, for its words.
struct Answer {
    rtt: Duration,
    closed: Ending,
    retransmissions: u32,
    tls: bool,
}

/// The words of an answer, whoever carried the exchange.
fn answered(check: &CheckRun, peer: &Peer, a: Answer) -> Outcome {
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
/// worker thread blocking in [`run`]: where its frames go, and the words
/// it needs at the end.
#[derive(Debug, Clone)]
pub struct DirectPlan {
    pub path: PathPlan,
    pub rs_mac: MacAddr,
    pub peer: Peer,
}

/// The plan of a run the loop can carry, or `None`: then [`run`] does
/// it, on a worker, as it does every other check. Carried directly: the
/// MASTER role (decided for this run), plain TCP with the default RST
/// close, no `-v` lines to collect, no fixed `--source-port`, and the
/// real server's MAC young in the engine's neighbour cache (else the run
/// asks ARP/NDP on a worker, which refreshes the cache for the next).
/// Anything unusual (a role file unreadable, no route) also goes to
/// [`run`], which words it as the plugin does.
pub fn direct_plan(cfg: &TcpConfig, runner: &Runner) -> Option<DirectPlan> {
    let engine = runner.engine?;
    let common = &cfg.common;
    if cfg.tls.is_some()
        || cfg.clean_close
        || common.verbosity > 0
        || common.target.source_port.is_some()
    {
        return None;
    }
    let check = CheckRun::new(Mode::Tcp, common, runner);
    let mut trace = Trace::new(0);
    if check.role(&mut trace).ok()? != Role::Master {
        return None;
    }
    let spec = check.path_spec(ByteStream::expect(common.target.port));
    check.may_send(&spec).ok()?;
    let path = PathPlan::for_spec(&spec).ok()?;
    let rs_mac = engine.young_neighbour(path.iface.index, spec.real_server)?;
    let peer = Peer::Raw {
        vip_port: SocketAddr::new(spec.vip, common.target.port),
        real_server: spec.real_server,
        mac: rs_mac,
        iface: path.iface.name.clone(),
    };
    Some(DirectPlan { path, rs_mac, peer })
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
    match end {
        Ok(rtt) => {
            let answer = Answer {
                rtt,
                closed: Ending::Reset,
                retransmissions,
                tls: false,
            };
            answered(&check, &plan.peer, answer)
        }
        Err(failure) => check.failure(failure, &plan.peer, &plan.path.hazards),
    }
}
