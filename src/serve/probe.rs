//! `GET /probe?module=NAME&target=REAL_SERVER`: blackbox_exporter's
//! multi-target pattern over the daemon's engine. The module's command
//! (serve.toml's `[[module]]`, see `serve::modules`) runs once with the
//! target in place of `{target}`, through the same packet engine as the
//! checks, and the answer is the Prometheus text format with blackbox's
//! metric names for the same facts, so its `relabel_configs`, alerts and
//! dashboards work unchanged.
//!
//! A request for an unknown module, or with a target that is not an
//! address of the family the module's command takes (nothing but the
//! address: no port, no scope, no name), is answered 400 with one line
//! and nothing is sent. The timeout is blackbox's: the command's `-t`, or
//! the scrape timeout Prometheus sends less half a second if that is
//! smaller. `debug=true` answers blackbox's debug text instead: the
//! run's status line and its `-v` lines, the metrics, the module.
//!
//! [`probe`] blocks its caller for at most that timeout (plus a close);
//! the listener runs it on a thread of its own. `check_raw_serve --probe
//! MODULE TARGET` prints the same answer once, for operators and tests.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cli::{self, Common, Config};
use crate::net::shared::Engine;
use crate::outcome::{Outcome, State};
use crate::text;
use crate::wait::Waiter;

use super::args::PROGRAM;
use super::config::{parse_command, ConfigError};
pub use super::modules::Modules;
use super::modules::ProbeModule;
use super::Served;

/// The exposition's content type (text format 0.0.4).
pub const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// A refusal's or the debug output's content type.
pub const TEXT_TYPE: &str = "text/plain; charset=utf-8";
/// What blackbox takes off the scrape timeout (its `--timeout-offset`
/// default), so the answer is in before Prometheus gives up.
pub const SCRAPE_OFFSET: Duration = Duration::from_millis(500);
/// The longest scrape timeout taken from the header: a day is past any
/// scrape interval, and bounds the float's conversion.
const MAX_SCRAPE_TIMEOUT: f64 = 86_400.0;

/// One `/probe` request, as the listener parsed it.
#[derive(Debug, Clone, Copy)]
pub struct ProbeRequest<'a> {
    pub module: &'a str,
    pub target: &'a str,
    pub debug: bool,
    /// X-Prometheus-Scrape-Timeout-Seconds, if sent and valid.
    pub scrape_timeout: Option<Duration>,
}

/// The HTTP answer: status, content type, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeAnswer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl ProbeAnswer {
    /// 400 with one line: the request cannot run; nothing was sent.
    fn refused(line: &str) -> ProbeAnswer {
        ProbeAnswer {
            status: 400,
            content_type: TEXT_TYPE,
            body: format!("{}\n", text::one_line(line)),
        }
    }
}

/// Runs the module once through `engine` (blocking the calling thread,
/// bounded by the timeout); 400 with one line for an unknown module or a
/// target that is not an address of the module's family (nothing sent).
pub fn probe(
    req: &ProbeRequest,
    modules: &Modules,
    engine: &Engine,
    waiter: &Waiter,
) -> ProbeAnswer {
    let started = Instant::now();
    let (module, mut config, target) = match prepare(req, modules, started, waiter) {
        Ok(ready) => ready,
        Err(line) => return ProbeAnswer::refused(&line),
    };
    let timeout = timeout(module.timeout(), req.scrape_timeout);
    // What the name lookups of the command (a VIP given by name) took
    // counts too: the run gets what is left, at least the plugins' least.
    let common = common_mut(&mut config);
    common.timeout = timeout
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(cli::MIN_TIMEOUT_MS));
    if req.debug {
        common.verbosity = common.verbosity.max(1);
    }
    let ran = Instant::now();
    let outcome = super::pool::run_check(&config, engine, waiter);
    let metrics = exposition(&config, &outcome, ran.elapsed(), target);
    if !req.debug {
        return ProbeAnswer {
            status: 200,
            content_type: METRICS_TYPE,
            body: metrics,
        };
    }
    ProbeAnswer {
        status: 200,
        content_type: TEXT_TYPE,
        body: debug_text(module, target, timeout, &outcome, &metrics),
    }
}

/// `check_raw_serve --probe MODULE TARGET [-v]`: the file at `path` read
/// and checked as `--once` checks it (no state file: `state_dir` is not
/// asked), then what `GET /probe?module=MODULE&target=TARGET` would
/// answer, on stdout, exit 0 (`-v`: `debug=true`'s text); a refused
/// request: its one line on stderr, exit 2; a bad file: its errors, exit 1.
pub fn once(path: &Path, module: &str, target: &str, debug: bool, waiter: &Waiter) -> Served {
    let config = match super::load(path, waiter) {
        Ok(config) => config,
        Err(errors) => return Served::errors(&lines(&errors)),
    };
    let host: Vec<ConfigError> = config
        .check_host()
        .into_iter()
        .filter(|e| e.key != "state_dir")
        .collect();
    if !host.is_empty() {
        return Served::errors(&lines(&host));
    }
    let _ = crate::privilege::raise_net_raw();
    let engine = Engine::new();
    let req = ProbeRequest {
        module,
        target,
        debug,
        scrape_timeout: None,
    };
    let answer = probe(&req, &config.modules, &engine, waiter);
    if answer.status == 200 {
        return Served {
            stdout: answer.body,
            stderr: String::new(),
            code: 0,
        };
    }
    Served {
        stdout: String::new(),
        stderr: format!("{PROGRAM}: {}", answer.body),
        code: 2,
    }
}

fn lines(errors: &[ConfigError]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

/// The module, its command parsed for the target, and the target; or the
/// one line saying why not.
fn prepare<'m>(
    req: &ProbeRequest,
    modules: &'m Modules,
    started: Instant,
    waiter: &Waiter,
) -> Result<(&'m ProbeModule, Config, IpAddr), String> {
    if req.module.is_empty() {
        return Err("the module parameter is missing (module=NAME)".into());
    }
    let Some(module) = modules.get(req.module) else {
        let known = if modules.is_empty() {
            "no [[module]] is configured".to_string()
        } else {
            format!("modules: {}", modules.names())
        };
        return Err(format!(
            "unknown module {} ({known})",
            text::quoted(req.module)
        ));
    };
    let target = target(module, req.target)?;
    let lookup = |name: &str, timeout| crate::resolve::bounded_from(started, name, waiter, timeout);
    let config = parse_command(&module.command_for(target), &lookup)
        .map_err(|e| format!("target {target} does not fit module {}: {e}", module.name))?;
    Ok((module, config, target))
}

/// The target: an address of a family the module takes, and nothing else.
pub fn target(module: &ProbeModule, target: &str) -> Result<IpAddr, String> {
    if target.is_empty() {
        return Err("the target parameter is missing (target=REAL_SERVER)".into());
    }
    let wanted = module.families();
    let addr: IpAddr = target.parse().map_err(|_| {
        format!(
            "target {} is not an {wanted} address (module {} takes the real server's address)",
            text::quoted(target),
            module.name
        )
    })?;
    if !module.takes(addr) {
        return Err(format!(
            "target {addr} is not an {wanted} address: module {}'s command needs one",
            module.name
        ));
    }
    Ok(addr)
}

/// blackbox's timeout: the command's `-t`, or the scrape timeout less
/// [`SCRAPE_OFFSET`] when that is smaller. A scrape timeout at or below the
/// offset leaves `-t` (blackbox does the same below it, and a timeout of
/// nothing would fail every probe); the result is never below the
/// plugins' least `-t`.
pub fn timeout(command: Duration, scrape: Option<Duration>) -> Duration {
    let least = Duration::from_millis(cli::MIN_TIMEOUT_MS);
    match scrape.and_then(|s| s.checked_sub(SCRAPE_OFFSET)) {
        Some(left) if !left.is_zero() => command.min(left.max(least)),
        _ => command,
    }
}

/// X-Prometheus-Scrape-Timeout-Seconds ("10", "9.5"): a positive finite
/// number of seconds, at most a day; anything else is no header.
pub fn scrape_timeout(header: &str) -> Option<Duration> {
    let trimmed = header.trim();
    // Digits and one dot only: no sign, exponent, "inf" or "NaN".
    if trimmed.is_empty()
        || trimmed.len() > 32
        || !trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return None;
    }
    let seconds: f64 = trimmed.parse().ok()?;
    (seconds > 0.0 && seconds <= MAX_SCRAPE_TIMEOUT).then(|| Duration::from_secs_f64(seconds))
}

fn common_mut(config: &mut Config) -> &mut Common {
    match config {
        Config::Tcp(c) => &mut c.common,
        Config::Http(_, c) => &mut c.common,
        Config::Dns(c) => &mut c.common,
        Config::Vip(c) => &mut c.common,
    }
}

/// One metric family: name, help, and its one sample's labels and value.
struct Gauge {
    name: &'static str,
    help: &'static str,
    labels: String,
    value: String,
}

fn gauge(name: &'static str, help: &'static str, value: impl ToString) -> Gauge {
    Gauge {
        name,
        help,
        labels: String::new(),
        value: value.to_string(),
    }
}

/// The run's metrics, blackbox's names, in its order (by name), each a
/// gauge with HELP and TYPE. As blackbox does, an HTTP module always has
/// its HTTP gauges and a DNS module its record counts (0 when the run got
/// no answer); TLS ones come when a handshake was made. The status line
/// ends it as a comment, which the text format allows and ignores.
pub fn exposition(config: &Config, outcome: &Outcome, took: Duration, target: IpAddr) -> String {
    let f = &outcome.facts;
    let up = matches!(outcome.state, State::Ok | State::Warning);
    let mut all = vec![
        gauge(
            "probe_success",
            "Displays whether or not the probe was a success",
            u8::from(up),
        ),
        gauge(
            "probe_duration_seconds",
            "Returns how long the probe took to complete in seconds",
            took.as_secs_f64(),
        ),
        gauge(
            "probe_ip_protocol",
            "Specifies whether probe ip protocol is IP4 or IP6",
            if target.is_ipv4() { 4 } else { 6 },
        ),
        gauge(
            "check_raw_probe_state",
            "The check's Nagios state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
            outcome.state.nagios_code(),
        ),
    ];
    match config {
        Config::Http(_, c) => all.extend([
            gauge(
                "probe_http_status_code",
                "Response HTTP status code",
                f.http_status.unwrap_or(0),
            ),
            gauge(
                "probe_http_content_length",
                "Length of http content response",
                f.http_content_length.unwrap_or(0),
            ),
            gauge(
                "probe_http_version",
                "Returns the version of HTTP of the probe response",
                http_version(f.http_version.as_deref()),
            ),
            gauge(
                "probe_http_ssl",
                "Indicates if SSL was used for the final redirect",
                u8::from(c.tls.is_some()),
            ),
        ]),
        Config::Dns(_) => {
            let n = |v: Option<u32>| v.unwrap_or(0);
            all.extend([
                gauge(
                    "probe_dns_answer_rrs",
                    "Returns number of entries in the answer resource record list",
                    n(f.dns_answer_rrs),
                ),
                gauge(
                    "probe_dns_authority_rrs",
                    "Returns number of entries in the authority resource record list",
                    n(f.dns_authority_rrs),
                ),
                gauge(
                    "probe_dns_additional_rrs",
                    "Returns number of entries in the additional resource record list",
                    n(f.dns_additional_rrs),
                ),
            ]);
            if let Some(rcode) = f.dns_rcode {
                all.push(gauge(
                    "check_raw_probe_dns_rcode",
                    "The DNS answer's response code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ...)",
                    rcode,
                ));
            }
        }
        Config::Tcp(_) | Config::Vip(_) => {}
    }
    if let Some(expiry) = f.ssl_earliest_cert_expiry {
        all.push(gauge(
            "probe_ssl_earliest_cert_expiry",
            "Returns earliest SSL cert expiry in unixtime",
            expiry,
        ));
    }
    if let Some(version) = &f.tls_version {
        all.push(Gauge {
            labels: format!("{{version=\"{}\"}}", label_value(version)),
            ..gauge(
                "probe_tls_version_info",
                "Returns the TLS version used or NaN when unknown",
                1,
            )
        });
    }
    all.sort_by_key(|f| f.name);
    let mut out = String::new();
    for f in &all {
        out.push_str(&format!(
            "# HELP {name} {}\n# TYPE {name} gauge\n{name}{} {}\n",
            f.help,
            f.labels,
            f.value,
            name = f.name
        ));
    }
    out.push_str(&format!(
        "# check_raw_probe_status_line {}\n",
        text::one_line(&outcome.status_line())
    ));
    out
}

/// "HTTP/1.1" as blackbox's number, 1.1; 0 when unknown.
fn http_version(version: Option<&str>) -> String {
    version
        .and_then(|v| v.strip_prefix("HTTP/"))
        .filter(|v| v.parse::<f64>().is_ok())
        .unwrap_or("0")
        .to_string()
}

/// A label value in the text format: backslash, quote and line feed
/// escaped.
fn label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// blackbox's `debug=true` text: the probe's log (here the status line and
/// the check's `-v` lines), the metrics, the module.
fn debug_text(
    module: &ProbeModule,
    target: IpAddr,
    timeout: Duration,
    outcome: &Outcome,
    metrics: &str,
) -> String {
    let toml_string = |s: &str| format!("\"{}\"", label_value(s));
    format!(
        "Logs for the probe:\nmodule={} target={target} timeout_seconds={:.3}\n{}\n\n\nMetrics that would have been returned:\n{metrics}\n\n\nModule configuration:\n[[module]]\nname = {}\ncommand = {}\n",
        module.name,
        timeout.as_secs_f64(),
        outcome.render(),
        toml_string(&module.name),
        toml_string(&module.command),
    )
}

#[cfg(test)]
mod tests;
