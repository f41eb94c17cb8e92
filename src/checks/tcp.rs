//! check_raw_tcp: does the real server answer a SYN sent to the VIP?
//!
//! OK means a SYN/ACK came back: the server holds the VIP and listens on
//! the port. The connection then ends with RST at once (the server's
//! application never sees it), or with `-c` by a full FIN handshake. In
//! the BACKUP role, the kernel connects to the real server's own address.
//! With `--ssl` a TLS handshake follows the TCP one (no data), for TLS
//! services that are not HTTP.

use std::time::Duration;

use crate::channel::{Ending, Peer, Transport};
use crate::cli::{Mode, TcpConfig};
use crate::failure::Failure;
use crate::outcome::{Outcome, State};
use crate::trace::Trace;
use crate::transport::tls::TlsStream;

use super::{ms, CheckRun, Runner};

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
pub(super) struct TcpAnswer {
    pub(super) rtt: Duration,
    pub(super) closed: Ending,
    pub(super) retransmissions: u32,
    pub(super) tls: bool,
}

/// The words of an answer, whoever carried the exchange (this module's
/// `run`, or check_raw_serve's loop: `checks::direct`).
pub(super) fn answered(check: &CheckRun, peer: &Peer, a: TcpAnswer) -> Outcome {
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
