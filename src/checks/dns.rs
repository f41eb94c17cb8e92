//! check_raw_dns: does the real server answer a DNS query sent to the VIP?
//!
//! One query over the role's datagram exchange (UDP to VIP:PORT through
//! the real server's MAC, or the kernel's UDP to REAL_SERVER:PORT as
//! BACKUP), resent with backoff inside `-t`. The exchange's `accept` takes
//! only a reply with our ID and question, so a spoofed or stray datagram is
//! ignored and the wait goes on. A truncated answer (TC) is asked again
//! over the role's byte stream, with the two-byte length of RFC 7766, within
//! the same deadline; `--tcp` starts there. The answer is then held to the
//! expectations.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::channel::{Datagram, Peer, Transport, READ_CHUNK};
use crate::cli::{DnsConfig, Mode};
use crate::dns::{answer, Answer, Query};
use crate::failure::{Failure, Step};
use crate::outcome::{Facts, Outcome, Perf, State};
use crate::trace::{Trace, DETAIL};

use super::{ms, ByteStream, CheckRun, Datagrams, Runner};

/// How the answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carried {
    Udp,
    /// `--tcp`.
    Tcp,
    /// UDP said TC; asked again over TCP.
    TcpAfterTc,
}

/// What an exchange produced, whichever role and transport carried it.
struct DnsExchange {
    answer: Answer,
    /// From the first query sent to the answer (both queries after TC).
    elapsed: Duration,
    peer: Peer,
    carried: Carried,
}

pub fn run(cfg: &DnsConfig, runner: &Runner) -> Outcome {
    let check = CheckRun::new(Mode::Dns, &cfg.common, runner);
    let mut trace = Trace::new(cfg.common.verbosity);
    let outcome = match query_id() {
        Ok(id) => ask(&check, cfg, id, &mut trace),
        Err(e) => check.outcome(State::Unknown, e),
    };
    outcome.with_details(trace.into_lines())
}

/// The query ID, from the OS CSPRNG: with the random source port, what a
/// spoofer must guess.
fn query_id() -> Result<u16, String> {
    getrandom::u32()
        .map(|r| r as u16)
        .map_err(|e| format!("no randomness from the OS: {e}"))
}

fn ask(check: &CheckRun, cfg: &DnsConfig, id: u16, trace: &mut Trace) -> Outcome {
    let q = &cfg.query;
    trace.line(DETAIL, || {
        format!(
            "query: {} ID {id:#06x}, EDNS0 UDP size {}{}{}",
            answer::describe(q),
            crate::dns::EDNS_UDP_SIZE,
            if q.recurse { ", RD" } else { "" },
            if q.dnssec { ", DO" } else { "" },
        )
    });
    if cfg.tcp {
        return check.over_stream(trace, |stream| {
            let x = over_tcp(stream, q, id, Carried::Tcp, Duration::ZERO)?;
            Ok(verdict(check, cfg, x, stream.trace()))
        });
    }
    let question = q.question();
    // Set by the UDP exchange when its answer is truncated: how long it took.
    let truncated: Cell<Option<Duration>> = Cell::new(None);
    let udp = |udp: &mut dyn Datagram| {
        let mut accept = |reply: &[u8]| answer::matches(reply, id, &question);
        let (reply, elapsed) = udp.exchange(&q.to_bytes(id), &mut accept)?;
        if answer::truncated(&reply) {
            udp.trace().line(DETAIL, || {
                format!(
                    "answer truncated (TC, {} bytes) after {}: asking again over TCP",
                    reply.len(),
                    ms(elapsed)
                )
            });
            truncated.set(Some(elapsed));
            // Replaced by the TCP exchange's outcome.
            return Ok(check.outcome(State::Unknown, "truncated"));
        }
        let answer = parse(&reply)?;
        let x = DnsExchange {
            answer,
            elapsed,
            peer: udp.peer().clone(),
            carried: Carried::Udp,
        };
        Ok(verdict(check, cfg, x, udp.trace()))
    };
    let tcp = |stream: &mut dyn Transport| {
        let udp_time = truncated.get().unwrap_or_default();
        // A fresh ID: the TCP answer must not be taken for the UDP one's.
        let id = query_id().map_err(Failure::Local)?;
        let x = over_tcp(stream, q, id, Carried::TcpAfterTc, udp_time)?;
        Ok(verdict(check, cfg, x, stream.trace()))
    };
    // One raw path for both (MASTER): the TCP retry needs no second packet
    // socket, so the capability is gone before the first query is sent.
    check.over_then::<Datagrams, ByteStream>(trace, udp, || truncated.get().is_some(), tcp)
}

fn parse(reply: &[u8]) -> Result<Answer, Failure> {
    Answer::parse(reply).map_err(|e| Failure::Invalid(format!("malformed DNS answer: {e}")))
}

/// Connect, send the length-prefixed query, read one length-prefixed
/// answer, reset. `before` is the time already spent (the UDP exchange
/// that came back truncated).
fn over_tcp(
    stream: &mut dyn Transport,
    q: &Query,
    id: u16,
    carried: Carried,
    before: Duration,
) -> Result<DnsExchange, Failure> {
    let started = Instant::now();
    stream.connect()?;
    stream.write_all(&q.to_tcp_bytes(id))?;
    let mut message: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut want: Option<usize> = None;
    // Each read yields at least one byte or the server's close, and a
    // message is at most 2 + 65535 bytes: bounded in count; the deadline
    // bounds the time.
    for _ in 0..=(2 + usize::from(u16::MAX)) {
        let step = if message.is_empty() {
            Step::ResponseStart
        } else {
            Step::ResponseEnd
        };
        let n = stream.read(&mut buf, step)?;
        if n == 0 {
            return Err(Failure::Invalid(format!(
                "the server closed the TCP connection after {} bytes of the answer",
                message.len()
            )));
        }
        message.extend_from_slice(&buf[..n]);
        if want.is_none() && message.len() >= 2 {
            want = Some(2 + usize::from(u16::from_be_bytes([message[0], message[1]])));
        }
        if want.is_some_and(|w| message.len() >= w) {
            break;
        }
    }
    let Some(len) = want.filter(|w| message.len() >= *w) else {
        return Err(Failure::Invalid("the TCP answer never ended".into()));
    };
    let elapsed = before + started.elapsed();
    stream.finish(false)?;
    let reply = &message[2..len];
    answer::matches(reply, id, &q.question())
        .map_err(|e| Failure::Invalid(format!("the TCP answer is not ours: {e}")))?;
    let answer = parse(reply)?;
    Ok(DnsExchange {
        answer,
        elapsed,
        peer: stream.peer().clone(),
        carried,
    })
}

/// Hold the answer to the expectations and word the result.
fn verdict(check: &CheckRun, cfg: &DnsConfig, x: DnsExchange, trace: &mut Trace) -> Outcome {
    let a = &x.answer;
    trace.line(DETAIL, || {
        let mut flags = Vec::new();
        if a.authoritative {
            flags.push("aa");
        }
        if a.truncated {
            flags.push("tc");
        }
        format!(
            ";; {}, flags: {}; ANSWER: {}, AUTHORITY: {}, ADDITIONAL: {}",
            a.rcode_name(),
            flags.join(" "),
            a.records.len(),
            a.authority,
            a.additional
        )
    });
    if !a.records.is_empty() {
        trace.line(DETAIL, || ";; ANSWER SECTION:".to_string());
        for line in a.zone_lines() {
            trace.line(DETAIL, || line);
        }
    }
    let (who, via) = match &x.peer {
        Peer::Raw { vip_port, .. } => (vip_port.to_string(), x.peer.via()),
        Peer::Kernel { addr } => (addr.to_string(), "(BACKUP role)".to_string()),
    };
    let how = match x.carried {
        Carried::Udp => "",
        Carried::Tcp => ", over TCP",
        Carried::TcpAfterTc => ", over TCP after a truncated UDP answer",
    };
    let what = answer::describe(&cfg.query);
    let n = a.records.len();
    let (state, summary) = match cfg.expect.verify(a) {
        Ok(()) => (
            State::Ok,
            format!(
                "{who} answers {what}: {}, {n} record{} in {} {via}{how}",
                a.rcode_name(),
                if n == 1 { "" } else { "s" },
                ms(x.elapsed)
            ),
        ),
        Err(mismatch) => (
            State::Critical,
            format!("{who} {what}: {mismatch} ({via}{how})"),
        ),
    };
    let mut outcome = check
        .outcome(state, summary)
        .with_perf(check.time_perf(x.elapsed))
        .with_perf(Perf::Count {
            label: "answers",
            value: n as u64,
        });
    outcome.facts = facts(a);
    check.apply_thresholds(outcome, x.elapsed)
}

/// What the answer tells `/metrics` and `/probe`, whatever the verdict.
/// The counts are the records parsed (a section is at most 65535); an
/// rcode above 255 (only EDNS0's extended ones) is shown as 255.
fn facts(a: &Answer) -> Facts {
    let count = |n: usize| Some(u32::try_from(n).unwrap_or(u32::MAX));
    Facts {
        dns_rcode: Some(u8::try_from(a.rcode).unwrap_or(u8::MAX)),
        dns_answer_rrs: count(a.records.len()),
        dns_authority_rrs: count(a.authority),
        dns_additional_rrs: count(a.additional),
        ..Facts::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_gives_rcode_and_section_counts() {
        // ID 1, QR RD RA, NXDOMAIN; 1 question, 0 answers, 1 authority
        // (an SOA), 0 additional.
        let mut reply = vec![0, 1, 0x81, 0x83, 0, 1, 0, 0, 0, 1, 0, 0];
        reply.extend_from_slice(b"\x01x\x07example\x04test\x00\x00\x01\x00\x01");
        reply.extend_from_slice(b"\x07example\x04test\x00\x00\x06\x00\x01\x00\x00\x0e\x10");
        let rdata = b"\x02ns\xc0\x0e\x05admin\xc0\x0e\x00\x00\x00\x01\x00\x00\x0e\x10\x00\x00\x07\x08\x00\x09\x3a\x80\x00\x00\x0e\x10";
        reply.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        reply.extend_from_slice(rdata);
        let answer = Answer::parse(&reply).unwrap();
        let f = facts(&answer);
        assert_eq!(f.dns_rcode, Some(3));
        assert_eq!(f.dns_answer_rrs, Some(0));
        assert_eq!(f.dns_authority_rrs, Some(1));
        assert_eq!(f.dns_additional_rrs, Some(0));
        assert_eq!(f.http_status, None);
        let big = Answer {
            rcode: 4095,
            ..answer
        };
        assert_eq!(facts(&big).dns_rcode, Some(255));
    }
}
