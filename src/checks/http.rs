//! check_raw_http_get and check_raw_http: one HTTP/1.1 request over the
//! role's transport, the whole response read and verified.
//!
//! Both modes are the same probe; they differ only in how the command line
//! fills `HttpConfig` (the GET check's MD5 positional, the HTTP check's
//! options). The response parser is sans-IO and the transport hides the
//! role, so there is one read loop for both roles.

use std::time::{Duration, Instant};

use crate::channel::{Ending, Peer, Transport, READ_CHUNK};
use crate::cli::{HttpConfig, Mode};
use crate::failure::{Failure, Step};
use crate::http::{Method, Phase, Progress, Response, ResponseParser};
use crate::outcome::{Facts, Outcome, Perf, State};
use crate::trace::{Trace, DETAIL};
use crate::transport::tls::TlsStream;

use super::{ms, CheckRun, Runner};

/// Body bytes shown at `-vv`.
const BODY_SHOWN: usize = 4096;

/// What an exchange produced, whichever role carried it.
struct HttpExchange {
    response: Response,
    /// From the first SYN (or connect) to the end of the response.
    elapsed: Duration,
    /// "via 198.51.100.11 (02:..)" or "via 198.51.100.11:80 (BACKUP role)".
    via: String,
    closed: Ending,
    /// " over TLSv1.3" with `--ssl`, else empty.
    over: String,
}

pub fn run(mode: Mode, cfg: &HttpConfig, runner: &Runner) -> Outcome {
    let check = CheckRun::new(mode, &cfg.common, runner);
    let mut trace = Trace::new(cfg.common.verbosity);
    let request = cfg.request.to_bytes();
    let outcome = check.over_stream(&mut trace, |stream| {
        // After the role and path lines, before the exchange's frames.
        trace_request(stream.trace(), &request);
        let Some(tls) = &cfg.tls else {
            let exchange = exchange(cfg, stream, &request)?;
            trace_response(stream.trace(), &exchange.response);
            return Ok(verdict(&check, cfg, exchange));
        };
        let mut stream = TlsStream::new(stream, tls);
        let mut exchange = exchange(cfg, &mut stream, &request)?;
        trace_response(stream.trace(), &exchange.response);
        let session = stream
            .session()
            .cloned()
            .ok_or_else(|| Failure::Local("TLS connected without a session".into()))?;
        exchange.over = format!(" over {}", session.version);
        let outcome = verdict(&check, cfg, exchange);
        Ok(super::tls::with_certificate(outcome, tls, &session))
    });
    outcome.with_details(trace.into_lines())
}

/// Connect, send the request, read the whole response, close.
fn exchange(
    cfg: &HttpConfig,
    stream: &mut dyn Transport,
    request: &[u8],
) -> Result<HttpExchange, Failure> {
    let started = Instant::now();
    stream.connect()?;
    stream.write_all(request)?;
    let mut parser = ResponseParser::new(cfg.request.method == Method::Head, cfg.max_bytes);
    let mut buf = vec![0u8; READ_CHUNK];
    // Each read yields at least one byte or the server's close, and the
    // parser refuses more than --max-bytes: the count is bounded by that,
    // the time by the deadline.
    for _ in 0..=cfg.max_bytes.saturating_add(1) {
        let n = stream.read(&mut buf, waiting_step(&parser))?;
        if let Some(response) = feed(&mut parser, &buf[..n], n == 0)? {
            let elapsed = started.elapsed();
            let closed = stream.finish(cfg.clean_close)?;
            return Ok(HttpExchange {
                response,
                elapsed,
                via: stream.peer().via(),
                closed,
                over: String::new(),
            });
        }
    }
    Err(Failure::Invalid("the response never ended".into()))
}

/// A response read as check_raw_serve's loop receives it, segment by
/// segment (`checks::direct`): the same parser and the same words as
/// [`exchange`] and [`verdict`], without a thread blocking in `read`.
pub struct ResponseReader {
    parser: ResponseParser,
    /// The whole response, and when its last byte came.
    response: Option<(Response, Instant)>,
}

impl ResponseReader {
    pub(super) fn new(cfg: &HttpConfig) -> ResponseReader {
        ResponseReader {
            parser: ResponseParser::new(cfg.request.method == Method::Head, cfg.max_bytes),
            response: None,
        }
    }

    /// The next bytes (`closed`: the server's FIN after them) at `now`:
    /// `Some` once the response is whole (Ok) or cannot be (Err).
    pub(super) fn on_data(
        &mut self,
        data: &[u8],
        closed: bool,
        now: Instant,
    ) -> Option<Result<(), Failure>> {
        if self.response.is_some() {
            return Some(Ok(()));
        }
        let fed = match feed(&mut self.parser, data, false) {
            Ok(None) if closed => feed(&mut self.parser, &[], true),
            other => other,
        };
        match fed {
            Ok(Some(response)) => {
                self.response = Some((response, now));
                Some(Ok(()))
            }
            Ok(None) => None,
            Err(failure) => Some(Err(failure)),
        }
    }

    /// What a timeout or a reset interrupts now.
    pub(super) fn awaiting(&self) -> Step {
        waiting_step(&self.parser)
    }

    /// The words of the response read, as [`run`] gives them (closed
    /// with RST); the run began at `started`.
    pub(super) fn verdict(
        self,
        check: &CheckRun,
        cfg: &HttpConfig,
        peer: &Peer,
        started: Instant,
    ) -> Result<Outcome, Failure> {
        let (response, at) = self
            .response
            .ok_or_else(|| Failure::Local("the exchange ended without a response".into()))?;
        let exchange = HttpExchange {
            response,
            elapsed: at.saturating_duration_since(started),
            via: peer.via(),
            closed: Ending::Reset,
            over: String::new(),
        };
        Ok(verdict(check, cfg, exchange))
    }
}

/// The step a timeout or reset interrupts, from the parser's phase.
fn waiting_step(parser: &ResponseParser) -> Step {
    match parser.phase() {
        Phase::AwaitingHead => Step::ResponseStart,
        Phase::ReadingBody | Phase::Complete => Step::ResponseEnd,
    }
}

/// Feed received bytes (or, when `closed`, the server's close) to the
/// parser: the response once it is complete.
fn feed(
    parser: &mut ResponseParser,
    data: &[u8],
    closed: bool,
) -> Result<Option<Response>, Failure> {
    let invalid = |e: crate::http::HttpError| Failure::Invalid(e.to_string());
    if closed {
        return parser.eof().map(Some).map_err(invalid);
    }
    match parser.feed(data).map_err(invalid)? {
        Progress::Complete(response) => Ok(Some(response)),
        Progress::NeedMore => Ok(None),
    }
}

/// Compare the response with the expectations and word the result.
fn verdict(check: &CheckRun, cfg: &HttpConfig, x: HttpExchange) -> Outcome {
    let r = &x.response;
    let mut summary = format!(
        "{}{}, {} bytes in {} {}{}",
        r.status_line(),
        x.over,
        r.body.len(),
        ms(x.elapsed),
        x.via,
        x.closed.note()
    );
    let state = match cfg.expect.verify(r) {
        Ok(()) => State::Ok,
        Err(mismatch) => {
            summary = format!(
                "{}{}: {mismatch} ({} bytes, {})",
                r.status_line(),
                x.over,
                r.body.len(),
                x.via
            );
            State::Critical
        }
    };
    let mut outcome = check
        .outcome(state, summary)
        .with_perf(check.time_perf(x.elapsed))
        .with_perf(Perf::Bytes {
            label: "size",
            value: r.body.len() as u64,
        });
    outcome.facts = facts(r);
    check.apply_thresholds(outcome, x.elapsed)
}

/// What the response tells `/metrics` and `/probe`, whatever the verdict.
fn facts(r: &Response) -> Facts {
    Facts {
        http_status: Some(r.code),
        http_content_length: Some(r.body.len() as u64),
        http_version: Some(format!("HTTP/1.{}", r.version)),
        ..Facts::default()
    }
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
    trace.line(DETAIL, || {
        format!("* body: {} bytes, MD5 {}", r.body.len(), r.body_md5_hex())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn response(version: u8, code: u16, body: &[u8]) -> Response {
        Response {
            version,
            code,
            reason: String::new(),
            headers: Vec::new(),
            body: body.to_vec(),
            wire_bytes: 0,
        }
    }

    #[test]
    fn the_response_gives_status_length_and_version() {
        let f = facts(&response(1, 503, b"busy"));
        assert_eq!(f.http_status, Some(503));
        assert_eq!(f.http_content_length, Some(4));
        assert_eq!(f.http_version.as_deref(), Some("HTTP/1.1"));
        assert_eq!(f.tls_version, None);
        assert_eq!(f.dns_rcode, None);
        let f = facts(&response(0, 204, b""));
        assert_eq!(f.http_content_length, Some(0));
        assert_eq!(f.http_version.as_deref(), Some("HTTP/1.0"));
    }
}
