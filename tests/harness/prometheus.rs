//! Prometheus and promtool (Debian's `prometheus` package) as the real
//! consumers of check_raw_serve's `/metrics` and `/probe`
//! (`tests/it/serve_prometheus.rs`): the shipped files of
//! `packaging/prometheus/`, promtool run on them, a Prometheus server run
//! in a testbed namespace on a configuration made from the shipped one,
//! and its HTTP API read (`/api/v1/query`, `/api/v1/targets`,
//! `/api/v1/rules`) over a plain HTTP/1.0 client that also fetches the
//! daemon's own pages.
//!
//! A `Prometheus` is a `Daemon`: SIGTERM, then SIGKILL to its process
//! group, and reaped when it drops, also when a test panics; its storage
//! and configuration are in a temp dir removed after it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use super::daemon::{tail, Daemon, REPO};
use super::files::TempDir;
use super::netns;
use super::process::{self, RunResult};
use super::testbed::Testbed;
use super::Need;

pub const PROMETHEUS: Need = Need::Program("prometheus", "prometheus");
pub const PROMTOOL: Need = Need::Program("promtool", "prometheus");

/// Where the test's Prometheus listens, in the namespace it runs in (its
/// own loopback: no clash with anything on the host).
pub const PROMETHEUS_ADDR: &str = "127.0.0.1:9090";
/// How long Prometheus may take to say it is ready (TSDB opened, config
/// loaded) on this loaded machine.
const READY_LIMIT: Duration = Duration::from_secs(30);
/// One HTTP exchange with Prometheus or the daemon may take this long.
const HTTP_LIMIT: Duration = Duration::from_secs(10);
/// A body larger than this is an error, not something to keep reading.
const MAX_BODY: usize = 16 << 20;
/// How often a wait polls the API.
const POLL: Duration = Duration::from_millis(200);

/// `packaging/prometheus/FILE` of this tree: what the packages ship.
pub fn shipped(file: &str) -> PathBuf {
    Path::new(REPO).join("packaging/prometheus").join(file)
}

/// The text of a shipped file.
pub fn shipped_text(file: &str) -> String {
    let path = shipped(file);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `promtool ARGS` in `cwd` (in the test's own namespace: it opens no
/// socket for check and test), with the harness's hard limit.
pub fn promtool(args: &[&str], cwd: &Path) -> RunResult {
    let mut cmd = Command::new("promtool");
    cmd.args(args).current_dir(cwd);
    process::run(cmd)
}

/// `promtool check metrics < FILE`: what it says about an exposition
/// (empty when nothing is wrong; it prints lint problems to stdout or
/// stderr depending on its version, so both are returned).
pub fn promtool_check_metrics(body: &str, dir: &Path) -> RunResult {
    let file = dir.join("metrics.txt");
    fs::write(&file, body).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("exec promtool check metrics < \"$1\"")
        .arg("sh")
        .arg(&file);
    process::run(cmd)
}

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET target` (path and query) from `ns` to `addr` over HTTP/1.0 (the
/// server closes and sends no chunks; a chunked answer is decoded anyway),
/// with `headers`, bounded by `HTTP_LIMIT`.
pub fn http_get(
    ns: &str,
    addr: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> Result<Response, String> {
    let sock: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let mut request =
        format!("GET {target} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: check_raw-tests\r\n");
    for (name, value) in headers {
        let _ = write!(request, "{name}: {value}\r\n");
    }
    request.push_str("\r\n");
    let raw = netns::in_netns(ns, move || {
        let mut stream = TcpStream::connect_timeout(&sock, HTTP_LIMIT)?;
        stream.set_read_timeout(Some(HTTP_LIMIT))?;
        stream.set_write_timeout(Some(HTTP_LIMIT))?;
        stream.write_all(request.as_bytes())?;
        let mut raw = Vec::new();
        stream.take(MAX_BODY as u64 + 1).read_to_end(&mut raw)?;
        Ok(raw)
    })
    .map_err(|e| format!("GET http://{addr}{target}: {e}"))?;
    if raw.len() > MAX_BODY {
        return Err(format!(
            "GET http://{addr}{target}: more than {MAX_BODY} bytes"
        ));
    }
    parse_response(&raw).map_err(|e| format!("GET http://{addr}{target}: {e}"))
}

fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of the header")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    // Bounded: each pass consumes at least the size line.
    while !data.is_empty() {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line without its end")?;
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| format!("chunk size {size_text:?}: {e}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            break;
        }
        if data.len() < size {
            return Err("chunk shorter than its size".into());
        }
        out.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or(&[]);
    }
    Ok(out)
}

/// A query string's value: every byte but the unreserved ones as `%XX`.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// One element of an instant vector: its labels and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// The result of an instant query, or the error Prometheus gave.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    /// An instant vector (possibly empty), or a scalar as one unlabelled
    /// sample.
    Vector(Vec<Sample>),
    Error(String),
}

/// A Prometheus server in a testbed namespace, its data and config in a
/// temp dir. Fields drop in order: the process before its directory.
pub struct Prometheus {
    daemon: Daemon,
    ns: String,
    pub config: PathBuf,
    log: PathBuf,
    dir: TempDir,
}

impl Prometheus {
    /// Writes `config` (prometheus.yml) and starts `prometheus` in `host`
    /// listening on `PROMETHEUS_ADDR`; returns once `/-/ready` answers 200.
    pub fn start(tb: &Testbed, host: &str, config: &str) -> Prometheus {
        let dir = TempDir::new();
        let config_path = dir.write("prometheus.yml", config.as_bytes());
        let data = dir.path().join("data");
        fs::create_dir(&data).expect("mkdir data");
        let log = dir.path().join("prometheus.log");
        let argv = [
            "prometheus".to_owned(),
            format!("--config.file={}", config_path.display()),
            format!("--storage.tsdb.path={}", data.display()),
            format!("--web.listen-address={PROMETHEUS_ADDR}"),
            "--log.level=info".to_owned(),
        ];
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let daemon = Daemon::start(tb, host, "prometheus", &argv, &[], dir.path(), log.clone());
        let p = Prometheus {
            daemon,
            ns: tb.ns(host).to_owned(),
            config: config_path,
            log,
            dir,
        };
        let start = Instant::now();
        // Bounded: READY_LIMIT, polled every POLL.
        loop {
            match p.get("/-/ready") {
                Ok(r) if r.status == 200 => break,
                _ if start.elapsed() > READY_LIMIT => {
                    panic!("prometheus not ready within {READY_LIMIT:?}\n{}", p.diag())
                }
                _ => {}
            }
            p.daemon.assert_running();
            thread::sleep(POLL);
        }
        println!("prometheus ready after {:?}", start.elapsed());
        p
    }

    /// The temp dir (for files a test wants beside the config).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `GET target` from Prometheus' own API.
    pub fn get(&self, target: &str) -> Result<Response, String> {
        http_get(&self.ns, PROMETHEUS_ADDR, target, &[])
    }

    /// A JSON API call: its `data` on `"status": "success"`, the error
    /// text otherwise.
    pub fn api(&self, target: &str) -> Result<serde_json::Value, String> {
        let r = self.get(target)?;
        let json: serde_json::Value = serde_json::from_str(&r.body)
            .map_err(|e| format!("{target}: HTTP {}, not JSON ({e}): {}", r.status, r.body))?;
        if json["status"] == "success" {
            Ok(json["data"].clone())
        } else {
            Err(format!(
                "{target}: HTTP {}, {}: {}",
                r.status, json["errorType"], json["error"]
            ))
        }
    }

    /// `/api/v1/query?query=EXPR` at the present time.
    pub fn query(&self, expr: &str) -> QueryResult {
        let data = match self.api(&format!("/api/v1/query?query={}", url_encode(expr))) {
            Ok(d) => d,
            Err(e) => return QueryResult::Error(e),
        };
        let value = |v: &serde_json::Value| -> f64 {
            v[1].as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(f64::NAN)
        };
        match data["resultType"].as_str() {
            Some("vector") => QueryResult::Vector(
                data["result"]
                    .as_array()
                    .map(|a| a.as_slice())
                    .unwrap_or_default()
                    .iter()
                    .map(|s| Sample {
                        labels: s["metric"]
                            .as_object()
                            .map(|m| {
                                m.iter()
                                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                                    .collect()
                            })
                            .unwrap_or_default(),
                        value: value(&s["value"]),
                    })
                    .collect(),
            ),
            Some("scalar") => QueryResult::Vector(vec![Sample {
                labels: BTreeMap::new(),
                value: value(&data["result"]),
            }]),
            other => QueryResult::Error(format!("{expr}: result type {other:?}: {data}")),
        }
    }

    /// The value of `expr` if it is exactly one sample.
    pub fn value(&self, expr: &str) -> Option<f64> {
        match self.query(expr) {
            QueryResult::Vector(v) if v.len() == 1 => Some(v[0].value),
            _ => None,
        }
    }

    /// Polls `expr` until it is exactly one sample equal to `want`, at
    /// most `limit`; returns how long it took, or panics with the last
    /// answer, the scrape targets and the log (and `diag`'s text).
    pub fn wait_value(&self, expr: &str, want: f64, limit: Duration, diag: &str) -> Duration {
        let start = Instant::now();
        let mut last;
        // Bounded: limit, polled every POLL.
        loop {
            last = self.query(expr);
            if let QueryResult::Vector(v) = &last {
                if v.len() == 1 && v[0].value == want {
                    return start.elapsed();
                }
            }
            if start.elapsed() > limit {
                panic!(
                    "{expr} not {want} within {limit:?}: last {last:?}\n{}\n{diag}",
                    self.diag()
                );
            }
            self.daemon.assert_running();
            thread::sleep(POLL);
        }
    }

    /// Every scrape target: (job, scrape URL, health, last error).
    pub fn targets(&self) -> Vec<(String, String, String, String)> {
        let Ok(data) = self.api("/api/v1/targets?state=active") else {
            return Vec::new();
        };
        data["activeTargets"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|t| {
                let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
                (
                    s(&t["labels"]["job"]),
                    s(&t["scrapeUrl"]),
                    s(&t["health"]),
                    s(&t["lastError"]),
                )
            })
            .collect()
    }

    /// Every loaded rule: (name, health, last error).
    pub fn rules(&self) -> Vec<(String, String, String)> {
        let Ok(data) = self.api("/api/v1/rules") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for group in data["groups"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
        {
            for rule in group["rules"]
                .as_array()
                .map(|a| a.as_slice())
                .unwrap_or_default()
            {
                let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_owned();
                out.push((s(&rule["name"]), s(&rule["health"]), s(&rule["lastError"])));
            }
        }
        out
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The targets and the log's end, for failure messages.
    pub fn diag(&self) -> String {
        let mut out = String::from("--- prometheus targets ---\n");
        for (job, url, health, err) in self.targets() {
            let _ = writeln!(out, "{job} {url}: {health} {err}");
        }
        let _ = write!(out, "--- prometheus log ---\n{}", tail(&self.log(), 30));
        out
    }
}

/// Every `"expr"` of a Grafana dashboard (panels, nested rows' panels,
/// targets), in document order: the PromQL the dashboard runs.
pub fn dashboard_exprs(dashboard: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>, depth: usize) {
        // Bounded: a dashboard nests a few levels; 32 is far beyond.
        if depth > 32 {
            return;
        }
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                        _ => walk(x, out, depth + 1),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out, depth + 1)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(dashboard, &mut out, 0);
    out
}

/// `expr` with Grafana's variables replaced, as Grafana would send it:
/// `$__rate_interval` by `rate_interval`, the dashboard's own variables
/// (`$job`, `${instance}`) by `vars`. Panics on a variable it does not
/// know, so a new one cannot slip past the test unevaluated.
pub fn expand_grafana(expr: &str, rate_interval: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = expr;
    // Bounded: each pass consumes at least the `$`.
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(inner) = after.strip_prefix('{') {
            let end = inner
                .find('}')
                .unwrap_or_else(|| panic!("unclosed ${{ in {expr}"));
            (&inner[..end], end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        let value = match name {
            "__rate_interval" | "__interval" => rate_interval,
            _ => vars
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v)
                .unwrap_or_else(|| panic!("unknown Grafana variable ${name} in {expr}")),
        };
        out.push_str(value);
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}
