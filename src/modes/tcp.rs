//! check_raw_tcp: does the real server answer a SYN sent to the VIP?
//!
//! OK means a SYN/ACK came back: the server holds the VIP and listens on
//! the port. The connection then ends with RST at once (the server's
//! application never sees it), or with `-c` by a full FIN handshake.

use crate::cli::{Mode, TcpConfig};
use crate::kernel;
use crate::outcome::{Outcome, State};
use crate::role::Role;
use crate::trace::{Trace, DETAIL};
use crate::wait::Waiter;

use super::{
    apply_thresholds, backup_bind, deadline, decide_role, ms, open_raw_path, real_server_addr,
    time_perf, Describe,
};

pub fn run(cfg: &TcpConfig, waiter: &Waiter) -> Outcome {
    let deadline = deadline(&cfg.common);
    let d = Describe {
        mode: Mode::Tcp,
        common: &cfg.common,
    };
    let mut trace = Trace::new(cfg.common.verbosity);
    let role = match decide_role(&d, &mut trace) {
        Ok(decision) => decision.role,
        Err(outcome) => return outcome.with_details(trace.into_lines()),
    };
    match role {
        Role::Master => raw(cfg, &d, waiter, deadline, trace),
        Role::Backup => backup(cfg, &d, waiter, deadline, trace),
    }
}

fn raw(
    cfg: &TcpConfig,
    d: &Describe,
    waiter: &Waiter,
    deadline: std::time::Instant,
    trace: Trace,
) -> Outcome {
    let mut path = match open_raw_path(d, waiter, deadline, trace) {
        Ok(p) => p,
        Err((outcome, trace)) => return outcome.with_details(trace.into_lines()),
    };
    let rs_mac = path.rs_mac;
    let mut conn = path.conn();
    let result = conn
        .connect()
        .and_then(|rtt| Ok((rtt, conn.finish(cfg.clean_close)?)));
    let outcome = match result {
        Ok((rtt, close_note)) => {
            let mut summary = format!(
                "{} answers {} in {}{}",
                d.vip_port(),
                d.via(Some(rs_mac)),
                ms(rtt),
                close_note.unwrap_or_default()
            );
            let retransmissions = conn.tcp().retransmissions();
            if retransmissions > 0 {
                summary.push_str(&format!(" ({retransmissions} retransmissions)"));
            }
            let ok = Outcome::new(Mode::Tcp.service(), State::Ok, summary)
                .with_perf(time_perf(&cfg.common, rtt));
            apply_thresholds(ok, &cfg.common, rtt)
        }
        Err(failure) => d.raw_failure(failure, Some(rs_mac)),
    };
    drop(conn);
    outcome.with_details(path.wire.trace.into_lines())
}

fn backup(
    cfg: &TcpConfig,
    d: &Describe,
    waiter: &Waiter,
    deadline: std::time::Instant,
    mut trace: Trace,
) -> Outcome {
    let addr = real_server_addr(&cfg.common);
    trace.line(DETAIL, || format!("BACKUP role: kernel connect to {addr}"));
    let outcome = match kernel::connect(addr, backup_bind(&cfg.common), waiter, deadline) {
        Ok((stream, took)) => {
            kernel::close(stream, cfg.clean_close);
            let ok = Outcome::new(
                Mode::Tcp.service(),
                State::Ok,
                format!(
                    "{addr} accepts connections (BACKUP role, kernel connect) in {}",
                    ms(took)
                ),
            )
            .with_perf(time_perf(&cfg.common, took));
            apply_thresholds(ok, &cfg.common, took)
        }
        Err(failure) => d.kernel_failure(failure),
    };
    outcome.with_details(trace.into_lines())
}
