//! check_raw_vip: is this real server configured for LVS-DR?
//!
//! The other checks ask whether the service answers through the VIP. This
//! one asks what ARP does, the other half of LVS-DR failures: a real
//! server that answers ARP for the VIP takes the whole VIP away from the
//! balancer the next time the router refreshes its cache, and no health
//! check notices. Three probes over one raw path, within one `-t`:
//!
//! 1. the server holds the VIP: an echo request (or with `--port` a SYN)
//!    to the VIP at the server's MAC is answered from the VIP;
//! 2. it keeps quiet about it: a unicast ARP request (IPv6: Neighbor
//!    Solicitation) for the VIP to its MAC goes unanswered;
//! 3. `--segment`: a broadcast (multicast) request for the VIP; every MAC
//!    that answers is a claimant, judged by our role.
//!
//! Probes 2 and 3 succeed by silence, so they listen until their share of
//! the deadline ends; probe 1 hands the time it did not need on to them.
//! The worst finding wins. Probes 1 and 2 do no harm on a BACKUP balancer
//! (an echo reply or a reset SYN/ACK), so only probe 3 needs the role.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use pnet_datalink::MacAddr;

use crate::channel::Transport;
use crate::cli::{Mode, VipConfig};
use crate::failure::Failure;
use crate::net::path::{Awaited, PathError, Proto, RawPath};
use crate::net::wire::{self, Parsed};
use crate::outcome::{Outcome, State};
use crate::resend::Backoff;
use crate::role::{self, Role, RoleSource};
use crate::trace::{Trace, DETAIL};

use super::{ms, CheckRun, Runner};

/// Bytes of random payload in the echo request: the reply must carry them
/// back, so a forged or stale reply cannot pass for ours.
const ECHO_PAYLOAD: usize = 16;
/// Distinct MACs kept of a `--segment` answer; more is a storm, named as such.
const MAX_CLAIMANTS: usize = 16;

pub fn run(cfg: &VipConfig, runner: &Runner) -> Outcome {
    let check = CheckRun::new(Mode::Vip, &cfg.common, runner);
    let mut trace = Trace::new(cfg.common.verbosity);
    let outcome = probe(&check, cfg, &mut trace);
    outcome.with_details(trace.into_lines())
}

/// The echo request's identifier, sequence number and payload, from the
/// OS CSPRNG: replies are matched on all three.
struct EchoId {
    ident: u16,
    seq: u16,
    payload: [u8; ECHO_PAYLOAD],
}

impl EchoId {
    fn random() -> Result<EchoId, String> {
        let mut bytes = [0u8; 4 + ECHO_PAYLOAD];
        getrandom::fill(&mut bytes).map_err(|e| format!("no randomness from the OS: {e}"))?;
        let mut payload = [0u8; ECHO_PAYLOAD];
        payload.copy_from_slice(&bytes[4..]);
        Ok(EchoId {
            ident: u16::from_be_bytes([bytes[0], bytes[1]]),
            seq: u16::from_be_bytes([bytes[2], bytes[3]]),
            payload,
        })
    }
}

/// How the real server proved it holds the VIP.
struct Held {
    /// "echo reply", "SYN/ACK" or "RST".
    how: &'static str,
    time: Duration,
}

/// What one probe found: its state and its words (with their subject).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Finding {
    state: State,
    text: String,
}

fn probe(check: &CheckRun, cfg: &VipConfig, trace: &mut Trace) -> Outcome {
    let t = &cfg.common.target;
    let (vip, rs) = (t.vip, t.real_server);
    let role = match cfg.segment {
        true => match segment_role(check, trace) {
            Ok(role) => Some(role),
            Err(outcome) => return outcome,
        },
        false => None,
    };
    let echo = match EchoId::random() {
        Ok(echo) => echo,
        Err(text) => return check.outcome(State::Unknown, text),
    };
    let proof = match cfg.port {
        Some(port) => Awaited::Flow {
            proto: Proto::Tcp,
            remote_port: port,
        },
        None => Awaited::EchoReply { ident: echo.ident },
    };
    let mut path = match check.open_path(vec![proof, Awaited::NeighborReply { target: vip }], trace)
    {
        Ok(path) => path,
        Err(outcome) => return outcome,
    };
    let peer = path.peer(t.port);
    let fail = |f: Failure| check.failure(f, &peer, &[]);
    let (rs_mac, iface) = (path.rs_mac, path.iface.name.clone());
    let rs_desc = format!("{rs} ({rs_mac})");
    let probes = if cfg.segment { 3 } else { 2 };

    // 1: the VIP is held.
    let start = Instant::now();
    let until = share(path.wire.deadline, probes);
    let held = match within(&mut path, until, |p| holds_vip(p, cfg, &echo)) {
        Ok(held) => held,
        Err(f) => return fail(f),
    };
    let asked = match cfg.port {
        Some(port) => format!("a SYN to {vip}:{port}"),
        None => format!("an echo request to {vip}"),
    };
    let first = match &held {
        Some(h) => {
            let ok = check.outcome(
                State::Ok,
                format!("{rs_desc} holds {vip} ({} in {})", h.how, ms(h.time)),
            );
            let judged = check.apply_thresholds(ok, h.time);
            Finding {
                state: judged.state,
                text: judged.summary,
            }
        }
        None => Finding {
            state: State::Critical,
            text: format!(
                "no answer to {asked} via {rs_desc} within {} ms: the real server may lack the VIP{}",
                start.elapsed().as_millis(),
                if cfg.port.is_none() { " (or drops ICMP echo: try --port)" } else { "" }
            ),
        },
    };
    detail(&mut path, || {
        format!("probe 1, the VIP is held: {asked}: {}", first.text)
    });

    // 2: the real server keeps quiet about the VIP.
    let until = share(path.wire.deadline, probes - 1);
    let listened = Instant::now();
    let leak = match within(&mut path, until, answers_for_vip) {
        Ok(leak) => leak,
        Err(f) => return fail(f),
    };
    let second = leak_finding(cfg, &rs_desc, vip, leak);
    detail(&mut path, || {
        format!(
            "probe 2, quiet about the VIP: unicast {} for {vip} to {rs_mac}, listened {}: {}",
            neighbour_word(vip),
            ms(listened.elapsed()),
            second.text
        )
    });

    // 3: who claims the VIP on the segment.
    let third = match role {
        Some(role) => {
            let listened = Instant::now();
            let claimants = match claimants(&mut path) {
                Ok(c) => c,
                Err(f) => return fail(f),
            };
            let finding = segment_finding(role, &claimants, vip, &iface, (rs, rs_mac));
            detail(&mut path, || {
                format!(
                    "probe 3, the segment ({role}): broadcast {} for {vip}, listened {}: {}",
                    neighbour_word(vip),
                    ms(listened.elapsed()),
                    finding.text
                )
            });
            Some(finding)
        }
        None => None,
    };
    drop(path);

    let findings: Vec<Finding> = [Some(first), Some(second), third]
        .into_iter()
        .flatten()
        .collect();
    let state = findings
        .iter()
        .map(|f| f.state)
        .max()
        .unwrap_or(State::Unknown);
    let summary = match (&held, state) {
        (Some(h), State::Ok) => ok_summary(&rs_desc, vip, h, findings.get(2)),
        _ => problems_first(&findings),
    };
    let outcome = check.outcome(state, summary);
    match held {
        Some(h) => outcome.with_perf(check.time_perf(h.time)),
        None => outcome,
    }
}

fn detail(path: &mut RawPath, text: impl FnOnce() -> String) {
    path.wire.trace.line(DETAIL, text);
}

/// MASTER or BACKUP for `--segment`: the role file if given, else the
/// `-r auto` rule (the VIP is local), since which answer is right on the
/// segment depends on it and "MASTER" by default would call the MASTER's
/// own answer a split brain on every BACKUP.
fn segment_role(check: &CheckRun, trace: &mut Trace) -> Result<Role, Outcome> {
    let source = match &check.common.role {
        RoleSource::Default => &RoleSource::Auto,
        given => given,
    };
    let decision = role::decide(
        source,
        check.common.target.vip,
        crate::net::link::is_local_address,
    )
    .map_err(|e| check.outcome(State::Unknown, e))?;
    trace.line(DETAIL, || {
        format!("role for --segment: {}", decision.reason)
    });
    Ok(decision.role)
}

/// The end of the next probe's share of what is left before `deadline`,
/// `left` probes to go (this one included).
fn share(deadline: Instant, left: u32) -> Instant {
    let now = Instant::now();
    now + deadline.saturating_duration_since(now) / left.max(1)
}

/// Run `f` with the path's deadline brought forward to `until`: the
/// engine's waits then end at this probe's share, not the check's end.
fn within<'a, T>(
    path: &mut RawPath<'a>,
    until: Instant,
    f: impl FnOnce(&mut RawPath<'a>) -> T,
) -> T {
    let deadline = path.wire.deadline;
    path.wire.deadline = until.min(deadline);
    let out = f(path);
    path.wire.deadline = deadline;
    out
}

/// Probe 1: an echo request (or `--port`: a SYN) to the VIP at the real
/// server's MAC. `None`: no answer before the path's deadline.
fn holds_vip(path: &mut RawPath, cfg: &VipConfig, echo: &EchoId) -> Result<Option<Held>, Failure> {
    let start = Instant::now();
    if let Some(port) = cfg.port {
        // Only the ISN's randomness can fail here.
        let mut conn = path.tcp(port, cfg.common.timeout).map_err(|e| match e {
            PathError::Random(text) => Failure::Local(text),
            other => Failure::Local(format!("cannot start the TCP probe: {other:?}")),
        })?;
        return match conn.connect() {
            Ok(time) => {
                // Reset at once: the server's application never sees it.
                conn.finish(false)?;
                Ok(Some(Held {
                    how: "SYN/ACK",
                    time,
                }))
            }
            // An RST from the VIP is an answer from the VIP: it is held,
            // only nothing listens on the port.
            Err(Failure::Refused) => Ok(Some(Held {
                how: "RST",
                time: start.elapsed(),
            })),
            Err(Failure::Timeout(_)) => Ok(None),
            Err(other) => Err(other),
        };
    }
    let (src, vip) = (path.src_ip, path.vip);
    let ip_id = path.next_ip_id(1);
    let request = wire::echo_request(
        path.link(),
        src,
        vip,
        ip_id,
        echo.ident,
        echo.seq,
        &echo.payload,
    );
    let what = || {
        format!(
            "echo request {src} > {vip} id {} seq {}",
            echo.ident, echo.seq
        )
    };
    let reply = path.wire.ask(
        &request,
        what,
        Backoff::REQUESTS,
        |trace, parsed| match parsed {
            Parsed::Echo(e)
                if e.is_reply
                    && e.src_ip == vip
                    && e.dst_ip == src
                    && e.ident == echo.ident
                    && e.seq == echo.seq
                    && e.payload == echo.payload =>
            {
                trace.frame(|| format!("< {e}"));
                Some(())
            }
            other => {
                trace.frame(|| format!("< ignored while waiting for the echo reply: {other}"));
                None
            }
        },
    )?;
    Ok(reply.map(|()| Held {
        how: "echo reply",
        time: start.elapsed(),
    }))
}

/// The request for the VIP from our source: `unicast` to the real
/// server's MAC (RFC 1122 2.3.2.1, RFC 4861 7.3.3), else a broadcast ARP
/// request or a Neighbor Solicitation to the VIP's solicited-node group.
fn neighbour_request(path: &RawPath, unicast: bool) -> Result<Vec<u8>, Failure> {
    let (src, vip, our_mac) = (path.src_ip, path.vip, path.iface.mac);
    match (src, vip) {
        (IpAddr::V4(s), IpAddr::V4(v)) if unicast => Ok(wire::arp_request_to(path.link(), s, v)),
        (IpAddr::V4(s), IpAddr::V4(v)) => Ok(wire::arp_request(our_mac, s, v)),
        (IpAddr::V6(s), IpAddr::V6(v)) if unicast => {
            Ok(wire::neighbor_solicit_to(path.link(), s, v))
        }
        (IpAddr::V6(s), IpAddr::V6(v)) => Ok(wire::neighbor_solicit(our_mac, s, v)),
        _ => Err(Failure::Local(format!(
            "source {src} and VIP {vip} are of different address families"
        ))),
    }
}

/// "ARP request" or "Neighbor Solicitation", by the VIP's family.
fn neighbour_word(vip: IpAddr) -> &'static str {
    if vip.is_ipv4() {
        "ARP request"
    } else {
        "Neighbor Solicitation"
    }
}

/// The MAC in `parsed` if it answers our request for `vip` (from `src`).
/// An ARP reply to someone else's request may pass our filter when the
/// switch floods it; it is no answer to us.
fn claim(parsed: &Parsed, vip: IpAddr, src: IpAddr) -> Option<MacAddr> {
    match parsed {
        Parsed::Arp(a)
            if a.is_reply && IpAddr::V4(a.sender_ip) == vip && IpAddr::V4(a.target_ip) == src =>
        {
            Some(a.sender_mac)
        }
        // A unicast solicitation's answer leaves the option out (RFC 4861
        // 7.2.4): the sender's MAC is then the frame's source.
        Parsed::NeighborAdvert(na) if IpAddr::V6(na.target) == vip => {
            Some(na.target_mac.unwrap_or(na.link.src))
        }
        _ => None,
    }
}

/// Probe 2's claim: only the real server's own answer to our question
/// blames it. Others on the segment speak for the VIP too (the MASTER's
/// unsolicited advertisement to all nodes after a failover, a flooded
/// reply to someone else), so the frame must come from the real server's
/// MAC and, in IPv6, carry the Solicited flag (RFC 4861 4.4).
fn rs_claim(parsed: &Parsed, vip: IpAddr, src: IpAddr, rs_mac: MacAddr) -> Option<MacAddr> {
    let mac = claim(parsed, vip, src)?;
    let from_rs = match parsed {
        Parsed::Arp(a) => a.sender_mac == rs_mac,
        Parsed::NeighborAdvert(na) => na.solicited && na.link.src == rs_mac,
        _ => false,
    };
    from_rs.then_some(mac)
}

/// Probe 2: a unicast request for the VIP to the real server's MAC, sent
/// again on the usual backoff; the MAC that answers, if any does before
/// the path's deadline.
fn answers_for_vip(path: &mut RawPath) -> Result<Option<MacAddr>, Failure> {
    let request = neighbour_request(path, true)?;
    let (src, vip, rs_mac) = (path.src_ip, path.vip, path.rs_mac);
    let what = || {
        format!(
            "{} who-has {vip} tell {src}, to {rs_mac}",
            neighbour_word(vip)
        )
    };
    path.wire
        .ask(&request, what, Backoff::REQUESTS, |trace, parsed| {
            let mac = rs_claim(&parsed, vip, src, rs_mac);
            trace.frame(|| match mac {
                Some(_) => format!("< {parsed}"),
                None => format!(
                    "< ignored while listening for the real server's claim of {vip}: {parsed}"
                ),
            });
            mac
        })
}

/// Probe 3: a broadcast request for the VIP, resent on the usual backoff
/// until the check's deadline; every distinct MAC that answers, in order.
fn claimants(path: &mut RawPath) -> Result<Vec<MacAddr>, Failure> {
    let request = neighbour_request(path, false)?;
    let (src, vip) = (path.src_ip, path.vip);
    let what = || format!("broadcast {} who-has {vip} tell {src}", neighbour_word(vip));
    let mut seen: Vec<MacAddr> = Vec::new();
    // The handler never concludes: every answer until the deadline counts.
    let _: Option<()> = path
        .wire
        .ask(&request, what, Backoff::REQUESTS, |trace, parsed| {
            let mac = claim(&parsed, vip, src);
            trace.frame(|| format!("< {}{parsed}", if mac.is_some() { "" } else { "ignored: " }));
            if let Some(mac) = mac {
                if !seen.contains(&mac) && seen.len() < MAX_CLAIMANTS {
                    seen.push(mac);
                }
            }
            None
        })?;
    Ok(seen)
}

/// Probe 2's finding: silence is OK; an answer is `--arp-leak`'s state,
/// with what to set on the real server.
fn leak_finding(cfg: &VipConfig, rs_desc: &str, vip: IpAddr, answer: Option<MacAddr>) -> Finding {
    let Some(mac) = answer else {
        return Finding {
            state: State::Ok,
            text: format!(
                "{rs_desc} does not answer {} for {vip}",
                if vip.is_ipv4() {
                    "ARP"
                } else {
                    "Neighbor Solicitations"
                }
            ),
        };
    };
    let fix = if vip.is_ipv4() {
        "set net.ipv4.conf.all.arp_ignore=1 and net.ipv4.conf.all.arp_announce=2 on it"
    } else {
        "configure the VIP on lo (ip -6 addr add VIP/128 dev lo), not on a network interface: Linux answers solicitations only for addresses on the interface they arrive on"
    };
    Finding {
        state: cfg.arp_leak,
        text: format!(
            "{rs_desc} answers {} for {vip} (is-at {mac}): it will claim the VIP when the router asks, bypassing the balancer; {fix}",
            if vip.is_ipv4() { "ARP" } else { "a Neighbor Solicitation" }
        ),
    }
}

/// Probe 3's finding: on the MASTER nobody else may claim the VIP; on a
/// BACKUP exactly one host (the MASTER) must.
fn segment_finding(
    role: Role,
    claimants: &[MacAddr],
    vip: IpAddr,
    iface: &str,
    (rs, rs_mac): (IpAddr, MacAddr),
) -> Finding {
    let names = claimants
        .iter()
        .map(|m| {
            if *m == rs_mac {
                format!("{m} (the real server {rs})")
            } else {
                m.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let (state, text) = match (role, claimants.len()) {
        (Role::Master, 0) => (State::Ok, format!("no other host on {iface} claims {vip}")),
        (Role::Master, _) => (
            State::Critical,
            format!(
                "{names} on {iface} claim{} {vip}, which this MASTER holds: a leaking real server or a second MASTER",
                if claimants.len() == 1 { "s" } else { "" }
            ),
        ),
        (Role::Backup, 0) => (
            State::Warning,
            format!("no host on {iface} answers for {vip}: no balancer holds the VIP"),
        ),
        (Role::Backup, 1) => (State::Ok, format!("{names} holds {vip} on {iface} (the MASTER)")),
        (Role::Backup, n) => (
            State::Critical,
            format!(
                "{n} hosts on {iface} claim {vip}: {names}: a VRRP split brain or a leaking real server"
            ),
        ),
    };
    Finding { state, text }
}

/// The status line when every probe is OK, in one sentence.
fn ok_summary(rs_desc: &str, vip: IpAddr, held: &Held, segment: Option<&Finding>) -> String {
    let asked = if vip.is_ipv4() {
        "ARP"
    } else {
        "Neighbor Solicitations"
    };
    let mut s = format!(
        "{rs_desc} holds {vip} ({} in {}) and does not answer {asked} for it",
        held.how,
        ms(held.time)
    );
    if let Some(f) = segment {
        s.push_str("; ");
        s.push_str(&f.text);
    }
    s
}

/// The findings, worst first (stable), joined: the problem leads the line.
fn problems_first(findings: &[Finding]) -> String {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| std::cmp::Reverse(f.state));
    sorted
        .iter()
        .map(|f| f.text.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests;
