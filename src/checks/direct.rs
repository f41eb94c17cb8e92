//! Runs that check_raw_serve's loop carries itself, frame by frame
//! (`serve::direct`, over a `net::exchange::Exchange`), instead of a
//! worker thread blocking in the check's `run`: which runs qualify, where
//! their frames go, what their probe makes of the answer, and the words
//! of the result, which are the plugin's own (`tcp::answered`,
//! `http::verdict`, `CheckRun::failure`).
//!
//! Carried directly: check_raw_tcp (the SYN/ACK is the answer) and
//! check_raw_http(_get) (the request goes with the handshake's ACK, the
//! response is parsed as it arrives), plain (no `--ssl`), closed with RST
//! (no `-c`), without `-v` lines to collect or a fixed `--source-port`,
//! in the MASTER role decided for this run, with the real server's MAC
//! young in the engine's cache. Everything else (DNS, the VIP check, TLS,
//! BACKUP, a cold cache) runs on a worker, unchanged.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pnet_datalink::MacAddr;

use crate::channel::{Ending, Peer};
use crate::cli::{Common, Config, Mode};
use crate::failure::{Failure, Step};
use crate::net::path::PathPlan;
use crate::outcome::Outcome;
use crate::role::Role;
use crate::trace::Trace;

use super::http::ResponseReader;
use super::tcp::{answered, TcpAnswer};
use super::{ByteStream, Carrier, CheckRun, Runner};

/// Where a directly carried run's frames go.
#[derive(Debug, Clone)]
pub struct DirectPlan {
    /// Shared by the runs of one check while the driver keeps it (see
    /// [`direct_path`]).
    pub path: Arc<PathPlan>,
    pub rs_mac: MacAddr,
}

/// What a directly carried run's probe waits for and makes of the bytes.
pub enum DirectProbe {
    /// check_raw_tcp: the SYN/ACK is the whole answer.
    Tcp,
    /// check_raw_http(_get): the response, parsed as it arrives.
    Http(Mode, Box<ResponseReader>),
}

impl DirectProbe {
    /// The probe for `config`, and the request it sends once connected
    /// (empty: none), if the loop may carry its runs at all.
    pub fn of(config: &Config) -> Option<(DirectProbe, Vec<u8>)> {
        match config {
            Config::Tcp(cfg) if cfg.tls.is_none() && !cfg.clean_close && plain(&cfg.common) => {
                Some((DirectProbe::Tcp, Vec::new()))
            }
            Config::Http(mode, cfg)
                if cfg.tls.is_none() && !cfg.clean_close && plain(&cfg.common) =>
            {
                Some((
                    DirectProbe::Http(*mode, Box::new(ResponseReader::new(cfg))),
                    cfg.request.to_bytes(),
                ))
            }
            _ => None,
        }
    }

    fn mode(&self) -> Mode {
        match self {
            DirectProbe::Tcp => Mode::Tcp,
            DirectProbe::Http(mode, _) => *mode,
        }
    }

    /// The answer's next bytes (`closed`: the server's FIN came after
    /// them), received at `now`: `Some` once the probe has its verdict on
    /// the answer (whole, or bad), and the exchange ends.
    pub fn on_data(
        &mut self,
        data: &[u8],
        closed: bool,
        now: Instant,
    ) -> Option<Result<(), Failure>> {
        match self {
            // Its exchange ends at the SYN/ACK; no bytes are read.
            DirectProbe::Tcp => None,
            DirectProbe::Http(_, reader) => reader.on_data(data, closed, now),
        }
    }

    /// What the probe waits for once connected.
    pub fn awaiting(&self) -> Step {
        match self {
            DirectProbe::Tcp => Step::SynAck,
            DirectProbe::Http(_, reader) => reader.awaiting(),
        }
    }

    /// The run's outcome, worded as the plugin words it: `end` is the
    /// exchange's (its handshake time, or why it failed), `started` when
    /// the run began.
    pub fn outcome(
        self,
        config: &Config,
        runner: &Runner,
        plan: &DirectPlan,
        end: Ended,
    ) -> Outcome {
        let common = config.common();
        let check = CheckRun::new(self.mode(), common, runner);
        let t = &common.target;
        let peer = Peer::Raw {
            vip_port: SocketAddr::new(t.vip, t.port),
            real_server: t.real_server,
            mac: plan.rs_mac,
            iface: plan.path.iface.name.clone(),
        };
        let rtt = match end.result {
            Ok(rtt) => rtt,
            Err(failure) => return check.failure(failure, &peer, &plan.path.hazards),
        };
        match (self, config) {
            (DirectProbe::Http(_, reader), Config::Http(_, cfg)) => {
                match reader.verdict(&check, cfg, &peer, end.started) {
                    Ok(outcome) => outcome,
                    Err(failure) => check.failure(failure, &peer, &plan.path.hazards),
                }
            }
            _ => {
                let answer = TcpAnswer {
                    rtt,
                    closed: Ending::Reset,
                    retransmissions: end.retransmissions,
                    tls: false,
                };
                answered(&check, &peer, answer)
            }
        }
    }
}

/// How a directly carried run's exchange ended.
pub struct Ended {
    /// The handshake time, or why it failed.
    pub result: Result<Duration, Failure>,
    pub retransmissions: u32,
    /// When the run began (its `-t` counts from here).
    pub started: Instant,
}

/// No `-v` lines to collect, no fixed `--source-port` (the loop's flows
/// take their ports from the engine's range).
fn plain(common: &Common) -> bool {
    common.verbosity == 0 && common.target.source_port.is_none()
}

/// Where `config`'s raw path leads (interface, source, hazards), if its
/// frames may go there (the rule for callers who are not root). It
/// depends only on the host's links, which an engine re-reads at most
/// once a second, so a driver may keep it that long. `None`: the check's
/// `run` meets and words the trouble, on a worker.
pub fn direct_path(config: &Config, runner: &Runner) -> Option<PathPlan> {
    let common = config.common();
    let check = CheckRun::new(Mode::Tcp, common, runner);
    let spec = check.path_spec(ByteStream::expect(common.target.port));
    check.may_send(&spec).ok()?;
    PathPlan::for_spec(&spec).ok()
}

/// This run's plan over `path` (from [`direct_path`]), or `None`: then
/// the check's `run` does it, on a worker, as every other check. Carried
/// directly: the MASTER role, decided for this run (a role file is read
/// at each run, so a VRRP transition moves the check to the kernel path
/// at once), and the real server's MAC young in the engine's neighbour
/// cache (else the run asks ARP/NDP on a worker, which refreshes the
/// cache for the next).
pub fn direct_plan(config: &Config, runner: &Runner, path: &Arc<PathPlan>) -> Option<DirectPlan> {
    let engine = runner.engine?;
    let common = config.common();
    let check = CheckRun::new(Mode::Tcp, common, runner);
    if check.role(&mut Trace::new(0)).ok()? != Role::Master {
        return None;
    }
    let rs_mac = engine.young_neighbour(path.iface.index, common.target.real_server)?;
    Some(DirectPlan {
        path: Arc::clone(path),
        rs_mac,
    })
}
