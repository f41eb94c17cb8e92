//! check_raw_tcp: does the real server answer a SYN sent to the VIP?
//!
//! OK means a SYN/ACK came back: the server holds the VIP and listens on
//! the port. The connection then ends with RST at once (the server's
//! application never sees it), or with `-c` by a full FIN handshake. In
//! the BACKUP role, the kernel connects to the real server's own address.

use crate::cli::{Mode, TcpConfig};
use crate::outcome::{Outcome, State};
use crate::trace::Trace;
use crate::transport::Peer;
use crate::wait::Waiter;

use super::{ms, Check};

pub fn run(cfg: &TcpConfig, waiter: &Waiter) -> Outcome {
    let check = Check::new(Mode::Tcp, &cfg.common, waiter);
    let mut trace = Trace::new(cfg.common.verbosity);
    let outcome = check.over_stream(&mut trace, |stream| {
        let rtt = stream.connect()?;
        let closed = stream.finish(cfg.clean_close)?;
        let mut summary = match stream.peer() {
            Peer::Raw { vip_port, .. } => format!(
                "{vip_port} answers {} in {}{}",
                stream.peer().via(),
                ms(rtt),
                closed.note()
            ),
            Peer::Kernel { addr } => format!(
                "{addr} accepts connections (BACKUP role, kernel connect) in {}{}",
                ms(rtt),
                closed.note()
            ),
        };
        let retransmissions = stream.retransmissions();
        if retransmissions > 0 {
            summary.push_str(&format!(" ({retransmissions} retransmissions)"));
        }
        let ok = check
            .outcome(State::Ok, summary)
            .with_perf(check.time_perf(rtt));
        Ok(check.apply_thresholds(ok, rtt))
    });
    outcome.with_details(trace.into_lines())
}
