//! check_raw_serve's HTTP listener (`listen = "127.0.0.1:10117"`): what
//! Prometheus scrapes and a person reads, beside the checks and never at
//! their expense.
//!
//! - `request`: the pure request parser (bytes in, a request or a refusal
//!   with its status out), fuzzed;
//! - `server`: the one listener thread, poll(2) over non-blocking sockets,
//!   every connection bounded in bytes and time;
//! - this file: the routes, and what they read, behind two small traits so
//!   the listener knows nothing of the daemon: [`Pages`] (the board's
//!   renderings: `/metrics`, `/`, `/status.json`) and [`Prober`] (one
//!   `/probe` run, on a thread of its own).
//!
//! Every error is a 4xx or 5xx with one line of text; every answer closes
//! its connection (a scraper reconnects: one connection per scrape costs
//! a handshake, and no idle keep-alive connection holds a slot).

pub mod request;
pub mod server;
#[cfg(test)]
mod server_tests;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::net::shared::Engine;
use crate::wait::Waiter;

use super::board::Board;
use super::modules::Modules;
use super::probe::{self, ProbeRequest};

use request::{Verb, WebRequest};

pub use server::{bind, Listener};

/// The board's renderings, read under its lock (kept short: the daemon
/// writes results into it).
pub trait Pages: Send + Sync {
    /// `GET /metrics`: (content type, body); OpenMetrics when asked.
    fn metrics(&self, openmetrics: bool) -> (&'static str, String);
    fn status_json(&self) -> String;
    fn status_html(&self) -> String;
}

/// One `/probe` run. Called on a thread of the listener's (never the
/// daemon's main thread nor a check worker); it blocks that thread, at
/// most for the module's timeout.
pub trait Prober: Send + Sync {
    fn probe(&self, query: &ProbeQuery) -> Reply;
}

impl Pages for Board {
    fn metrics(&self, openmetrics: bool) -> (&'static str, String) {
        Board::metrics(self, openmetrics)
    }
    fn status_json(&self) -> String {
        Board::status_json(self)
    }
    fn status_html(&self) -> String {
        Board::status_html(self)
    }
}

/// `/probe` over the daemon's own engine, with the `[[module]]`s of the
/// configuration in force (a reload replaces them; a probe running keeps
/// the ones it started with).
pub struct ModuleProbes {
    modules: Mutex<Arc<Modules>>,
    engine: Arc<Engine>,
    waiter: Arc<Waiter>,
}

impl ModuleProbes {
    pub fn new(modules: Modules, engine: Arc<Engine>, waiter: Arc<Waiter>) -> ModuleProbes {
        ModuleProbes {
            modules: Mutex::new(Arc::new(modules)),
            engine,
            waiter,
        }
    }

    /// The modules of a configuration just applied.
    pub fn set_modules(&self, modules: Modules) {
        *self.modules.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(modules);
    }
}

impl Prober for ModuleProbes {
    fn probe(&self, query: &ProbeQuery) -> Reply {
        // The lock only for a reference count: a probe runs without it.
        let modules = Arc::clone(&self.modules.lock().unwrap_or_else(|p| p.into_inner()));
        let req = ProbeRequest {
            module: &query.module,
            target: &query.target,
            debug: query.debug,
            scrape_timeout: query.scrape_timeout,
        };
        let answer = probe::probe(&req, &modules, &self.engine, &self.waiter);
        Reply::new(answer.status, answer.content_type, answer.body)
    }
}

/// `/probe?module=NAME&target=ADDRESS&debug=true`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeQuery {
    pub module: String,
    pub target: String,
    pub debug: bool,
    /// `X-Prometheus-Scrape-Timeout-Seconds`, if sent and valid.
    pub scrape_timeout: Option<Duration>,
}

/// An answer: status, content type, body. The server adds the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

pub const TEXT: &str = "text/plain; charset=utf-8";
pub const JSON: &str = "application/json";
pub const HTML: &str = "text/html; charset=utf-8";

impl Reply {
    pub fn new(status: u16, content_type: &'static str, body: String) -> Reply {
        Reply {
            status,
            content_type,
            body,
        }
    }

    /// An error: one line of text.
    pub fn error(status: u16, line: &str) -> Reply {
        Reply::new(status, TEXT, format!("{}\n", crate::text::one_line(line)))
    }
}

/// What a request asks of the server: an answer now, or a probe to run
/// on a thread of its own.
#[derive(Debug)]
pub enum Route {
    Now(Reply),
    Probe(ProbeQuery),
}

/// Where `req` goes.
pub fn route(req: &WebRequest, pages: &dyn Pages) -> Route {
    let reply = match req.path.as_str() {
        "/metrics" => {
            let (content_type, body) = pages.metrics(req.openmetrics);
            Reply::new(200, content_type, body)
        }
        "/" => Reply::new(200, HTML, pages.status_html()),
        "/status.json" => Reply::new(200, JSON, pages.status_json()),
        "/probe" => return probe_query(req),
        _ => Reply::error(404, "not found: try /metrics, /probe, / or /status.json"),
    };
    Route::Now(reply)
}

fn probe_query(req: &WebRequest) -> Route {
    let module = req.param("module").unwrap_or_default();
    let target = req.param("target").unwrap_or_default();
    if module.is_empty() {
        return Route::Now(Reply::error(400, "module parameter is missing"));
    }
    if target.is_empty() {
        return Route::Now(Reply::error(400, "target parameter is missing"));
    }
    let debug = match req.param("debug").unwrap_or("false") {
        "true" | "1" => true,
        "false" | "0" | "" => false,
        _ => return Route::Now(Reply::error(400, "debug must be true or false")),
    };
    Route::Probe(ProbeQuery {
        module: module.to_string(),
        target: target.to_string(),
        debug,
        scrape_timeout: req.scrape_timeout,
    })
}

/// The bytes on the wire: the head, then the body unless HEAD. Always
/// `Connection: close`.
pub fn render(reply: &Reply, method: Verb) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n",
        reply.status,
        reason(reply.status),
        reply.content_type,
        reply.body.len()
    );
    if reply.status == 405 {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    if method == Verb::Get {
        out.extend_from_slice(reply.body.as_bytes());
    }
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

/// The `listen` value: "" for none, else `ADDRESS:PORT` (`[::1]:10117` for
/// IPv6). Port 0 is refused: Prometheus must know where to scrape.
pub fn parse_listen(value: &str) -> Result<Option<SocketAddr>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let addr: SocketAddr = value.parse().map_err(|_| {
        format!(
            "{} is not ADDRESS:PORT (\"127.0.0.1:10117\", \"[::1]:10117\"; \"\" for no listener)",
            crate::text::quoted(value)
        )
    })?;
    if addr.port() == 0 {
        return Err("port 0: give the port Prometheus will scrape".into());
    }
    Ok(Some(addr))
}

/// Bind `addr` and start the listener; an error as a configuration
/// error of `listen` at `path:line` says it.
pub fn start(
    path: &Path,
    line: usize,
    addr: SocketAddr,
    pages: Arc<dyn Pages>,
    prober: Arc<dyn Prober>,
) -> Result<Listener, String> {
    let fail = |e: std::io::Error| {
        super::config::ConfigError {
            path: path.to_path_buf(),
            line,
            key: "listen".into(),
            message: format!("cannot listen on {addr}: {e}"),
        }
        .to_string()
    };
    let socket = bind(addr).map_err(fail)?;
    Listener::start(socket, pages, prober).map_err(fail)
}

/// The log line of a listener started: a non-loopback address is the
/// operator's choice, and said once.
pub fn listening_line(addr: SocketAddr) -> String {
    let mut line = format!("listening on http://{addr}/ (/metrics, /probe, /status.json)");
    if !loopback(addr) {
        line.push_str(": not a loopback address, reachable from the network without TLS or authentication (man 8 check_raw_serve)");
    }
    line
}

/// Is `addr` reachable from this host only?
pub fn loopback(addr: SocketAddr) -> bool {
    addr.ip().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::request::parse;
    use super::*;

    struct Fixed;
    impl Pages for Fixed {
        fn metrics(&self, openmetrics: bool) -> (&'static str, String) {
            (if openmetrics { "om" } else { "text" }, "m\n".into())
        }
        fn status_json(&self) -> String {
            "{}".into()
        }
        fn status_html(&self) -> String {
            "<html>".into()
        }
    }

    fn routed(text: &str) -> Route {
        route(&parse(text.as_bytes()).unwrap().unwrap(), &Fixed)
    }

    fn status(text: &str) -> u16 {
        match routed(text) {
            Route::Now(r) => r.status,
            Route::Probe(_) => 0,
        }
    }

    #[test]
    fn paths_find_their_pages() {
        assert_eq!(status("GET /metrics HTTP/1.1\r\n\r\n"), 200);
        assert_eq!(status("GET / HTTP/1.1\r\n\r\n"), 200);
        assert_eq!(status("GET /status.json HTTP/1.1\r\n\r\n"), 200);
        assert_eq!(status("GET /nope HTTP/1.1\r\n\r\n"), 404);
        assert_eq!(status("GET /metrics/ HTTP/1.1\r\n\r\n"), 404);
        let Route::Now(r) =
            routed("GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text\r\n\r\n")
        else {
            panic!()
        };
        assert_eq!(r.content_type, "om");
    }

    #[test]
    fn a_probe_needs_module_and_target() {
        assert_eq!(
            status("GET /probe?target=198.51.100.11 HTTP/1.1\r\n\r\n"),
            400
        );
        assert_eq!(status("GET /probe?module=m HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(
            status("GET /probe?module=m&target=t&debug=maybe HTTP/1.1\r\n\r\n"),
            400
        );
        let Route::Probe(q) = routed("GET /probe?module=m&target=t&debug=true HTTP/1.1\r\n\r\n")
        else {
            panic!()
        };
        assert_eq!(
            (q.module.as_str(), q.target.as_str(), q.debug),
            ("m", "t", true)
        );
    }

    #[test]
    fn head_has_no_body_and_405_says_what_is_allowed() {
        let r = Reply::error(405, "no");
        let get = String::from_utf8(render(&r, Verb::Get)).unwrap();
        assert!(get.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(get.contains("Allow: GET, HEAD\r\n"));
        assert!(get.ends_with("\r\n\r\nno\n"));
        let head = String::from_utf8(render(&r, Verb::Head)).unwrap();
        assert!(head.ends_with("Content-Length: 3\r\nConnection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nAllow: GET, HEAD\r\n\r\n"));
    }

    #[test]
    fn listen_values() {
        assert_eq!(parse_listen("").unwrap(), None);
        assert_eq!(
            parse_listen("127.0.0.1:10117").unwrap(),
            Some("127.0.0.1:10117".parse().unwrap())
        );
        assert_eq!(
            parse_listen("[::1]:10117").unwrap(),
            Some("[::1]:10117".parse().unwrap())
        );
        for bad in [
            "10117",
            "localhost:10117",
            "127.0.0.1",
            "127.0.0.1:0",
            "::1:10117",
            "1.2.3.4:99999",
        ] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
        assert!(loopback("[::1]:1".parse().unwrap()));
        assert!(!loopback("0.0.0.0:1".parse().unwrap()));
    }
}
