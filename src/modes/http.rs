//! check_raw_http_get and check_raw_http: one HTTP/1.1 request over the raw
//! path (or the kernel path in the BACKUP role), the whole response read
//! and verified.
//!
//! Both modes are the same probe; they differ only in how the command line
//! fills `HttpConfig` (the GET check's MD5 positional, the HTTP check's
//! options). The response parser is sans-IO, so the raw and kernel paths
//! feed it the same way and differ only in where the bytes come from.

use std::time::{Duration, Instant};

use crate::cli::{HttpConfig, Mode};
use crate::http::{Method, Phase, Progress as ParseProgress, Response, ResponseParser};
use crate::kernel;
use crate::net::conn::Progress;
use crate::net::{Failure, Step};
use crate::outcome::{Outcome, Perf, State};
use crate::role::Role;
use crate::trace::{Trace, DETAIL};
use crate::wait::Waiter;

use super::{
    apply_thresholds, backup_bind, deadline, decide_role, ms, open_raw_path, real_server_addr,
    time_perf, Describe,
};

/// Read size on the kernel path.
const READ_CHUNK: usize = 64 * 1024;
/// Body bytes shown at `-vv`.
const BODY_SHOWN: usize = 4096;

/// What an exchange produced, whichever path carried it.
struct Exchange {
    response: Response,
    /// From the first SYN (or connect) to the end of the response.
    elapsed: Duration,
    /// "via 198.51.100.11" or "via 198.51.100.11:80 (BACKUP role)".
    via: String,
    /// How a clean close (`-c`) ended, for the summary.
    close_note: Option<&'static str>,
}

pub fn run(mode: Mode, cfg: &HttpConfig, waiter: &Waiter) -> Outcome {
    let deadline = deadline(&cfg.common);
    let d = Describe {
        mode,
        common: &cfg.common,
    };
    let mut trace = Trace::new(cfg.common.verbosity);
    let role = match decide_role(&d, &mut trace) {
        Ok(decision) => decision.role,
        Err(outcome) => return outcome.with_details(trace.into_lines()),
    };
    let request = cfg.request.to_bytes();
    trace_request(&mut trace, &request);
    let (result, mut trace) = match role {
        Role::Master => raw(cfg, &d, waiter, deadline, trace, &request),
        Role::Backup => backup(cfg, &d, waiter, deadline, trace, &request),
    };
    let outcome = match result {
        Ok(exchange) => {
            trace_response(&mut trace, &exchange.response);
            verdict(mode, cfg, exchange)
        }
        Err(outcome) => *outcome,
    };
    outcome.with_details(trace.into_lines())
}

/// Compare the response with the expectations and word the result.
fn verdict(mode: Mode, cfg: &HttpConfig, x: Exchange) -> Outcome {
    let r = &x.response;
    let mut summary = format!(
        "{}, {} bytes in {} {}",
        r.status_line(),
        r.body.len(),
        ms(x.elapsed),
        x.via
    );
    if let Some(note) = x.close_note {
        summary.push_str(note);
    }
    let state = match cfg.expect.verify(r) {
        Ok(()) => State::Ok,
        Err(mismatch) => {
            summary = format!(
                "{}: {mismatch} ({} bytes, {})",
                r.status_line(),
                r.body.len(),
                x.via
            );
            State::Critical
        }
    };
    let outcome = Outcome::new(mode.service(), state, summary)
        .with_perf(time_perf(&cfg.common, x.elapsed))
        .with_perf(Perf::Bytes {
            label: "size",
            value: r.body.len() as u64,
        });
    apply_thresholds(outcome, &cfg.common, x.elapsed)
}

/// The step a timeout or reset interrupts, from the parser's phase.
fn waiting_step(parser: &ResponseParser) -> Step {
    match parser.phase() {
        Phase::AwaitingHead => Step::ResponseStart,
        Phase::ReadingBody | Phase::Complete => Step::ResponseEnd,
    }
}

/// Feed received bytes (and the server's close) to the parser.
fn feed(parser: &mut ResponseParser, data: &[u8], closed: bool) -> Progress<Response> {
    if !data.is_empty() {
        match parser.feed(data) {
            Ok(ParseProgress::Complete(response)) => return Progress::Done(response),
            Ok(ParseProgress::NeedMore) => {}
            Err(e) => return Progress::Failed(Failure::Invalid(e.to_string())),
        }
    }
    if closed {
        return match parser.eof() {
            Ok(response) => Progress::Done(response),
            Err(e) => Progress::Failed(Failure::Invalid(e.to_string())),
        };
    }
    Progress::Waiting(waiting_step(parser))
}

/// An exchange or its failure, already worded, and the trace either way.
type PathResult = (Result<Exchange, Box<Outcome>>, Trace);

fn raw(
    cfg: &HttpConfig,
    d: &Describe,
    waiter: &Waiter,
    deadline: Instant,
    trace: Trace,
    request: &[u8],
) -> PathResult {
    let mut path = match open_raw_path(d, waiter, deadline, trace) {
        Ok(p) => p,
        Err((outcome, trace)) => return (Err(outcome), trace),
    };
    let rs_mac = path.rs_mac;
    let mut conn = path.conn();
    let started = Instant::now();
    let result = (|| {
        conn.connect()?;
        if conn.send(request) < request.len() {
            return Err(Failure::Local(format!(
                "request of {} bytes is too large to send",
                request.len()
            )));
        }
        let mut parser = ResponseParser::new(cfg.request.method == Method::Head, cfg.max_bytes);
        let response = conn.drive(|tcp| {
            let data = tcp.take_received();
            feed(&mut parser, &data, tcp.peer_closed())
        })?;
        let elapsed = started.elapsed();
        let close_note = conn.finish(cfg.clean_close)?;
        Ok(Exchange {
            response,
            elapsed,
            via: d.via(Some(rs_mac)),
            close_note,
        })
    })();
    drop(conn);
    let result = result.map_err(|f| Box::new(d.raw_failure(f, Some(rs_mac))));
    (result, path.wire.trace)
}

fn backup(
    cfg: &HttpConfig,
    d: &Describe,
    waiter: &Waiter,
    deadline: Instant,
    mut trace: Trace,
    request: &[u8],
) -> PathResult {
    let addr = real_server_addr(&cfg.common);
    trace.line(DETAIL, || {
        format!("BACKUP role: kernel connection to {addr}")
    });
    let started = Instant::now();
    let result = (|| {
        let (mut stream, _) = kernel::connect(addr, backup_bind(&cfg.common), waiter, deadline)?;
        kernel::write_all(&mut stream, request, waiter, deadline)?;
        let mut parser = ResponseParser::new(cfg.request.method == Method::Head, cfg.max_bytes);
        let mut buf = vec![0u8; READ_CHUNK];
        // Each round reads at least one byte, sees the close, or fails at
        // the deadline; the parser's byte limit bounds the count too.
        loop {
            let step = waiting_step(&parser);
            let n = kernel::read_some(&mut stream, &mut buf, waiter, deadline, step)?;
            match feed(&mut parser, &buf[..n], n == 0) {
                Progress::Done(response) => {
                    kernel::close(stream, cfg.clean_close);
                    return Ok(Exchange {
                        response,
                        elapsed: started.elapsed(),
                        via: format!("via {addr} (BACKUP role)"),
                        close_note: None,
                    });
                }
                Progress::Failed(failure) => return Err(failure),
                Progress::Waiting(_) => {}
            }
        }
    })();
    (result.map_err(|f| Box::new(d.kernel_failure(f))), trace)
}

/// `-v`: the request as sent, `> `-prefixed like curl.
fn trace_request(trace: &mut Trace, request: &[u8]) {
    if !trace.enabled(DETAIL) {
        return;
    }
    for line in String::from_utf8_lossy(request).lines() {
        if !line.is_empty() {
            trace.line(DETAIL, || format!("> {line}"));
        }
    }
}

/// `-v`: status line, headers, body MD5; `-vv`: the start of the body.
fn trace_response(trace: &mut Trace, r: &Response) {
    trace.line(DETAIL, || format!("< {}", r.status_line()));
    for (name, value) in &r.headers {
        trace.line(DETAIL, || format!("< {name}: {value}"));
    }
    trace.line(DETAIL, || match r.body_md5_hex() {
        Ok(md5) => format!("* body: {} bytes, MD5 {md5}", r.body.len()),
        Err(e) => format!("* body: {} bytes, MD5 unavailable: {e}", r.body.len()),
    });
    trace.line(2, || {
        let shown = &r.body[..r.body.len().min(BODY_SHOWN)];
        let more = r.body.len().saturating_sub(BODY_SHOWN);
        let mut text = String::from_utf8_lossy(shown).into_owned();
        if more > 0 {
            text.push_str(&format!("\n* ... {more} more bytes"));
        }
        text
    });
}
