//! check_raw_serve's configuration file: read, checked, and summed up.
//!
//! Each `[[check]]` is the command line an operator already has (in
//! keepalived's `misc_path`, in a Nagios command), split as a shell would
//! split it (no expansion) and parsed by the plugins' own `cli::parse_with`,
//! so a check means in the daemon exactly what it means as a plugin, and a
//! bad one is refused with the plugin's own message. Everything else is
//! interval, rise, fall and where the state files go.
//!
//! The TOML is parsed by the `toml` crate into its spanned tree (no serde),
//! so every error names file, line and key, and all errors of a file are
//! collected, not only the first, once the TOML itself parsed. What needs
//! the host (the interface exists, the state directory is writable) is
//! asked apart, by [`ServeConfig::check_host`], so [`ServeConfig::parse`]
//! stays pure: no file, no DNS (names go through the given lookup), no
//! clock. The `[[check]]` tables are read in `config/tables.rs`.
//!
//! The file:
//!
//! ```toml
//! interval = "2s"              # every check's default: "500ms", "2s", "1m"
//! rise = 2                     # consecutive OKs to go up (1 to 100)
//! fall = 3                     # consecutive failures to go down (1 to 100)
//! state_dir = "/run/check_raw" # state_dir/NAME is 1 (up) or 0 (down)
//! listen = "127.0.0.1:10117"    # /metrics, /probe, /: "" or absent: none
//!
//! [[check]]
//! name = "web-rs1"             # [A-Za-z0-9_.-]+, unique, at most 64 bytes
//! command = "check_raw_http -S 200 -t 800 eth0 198.51.100.11 203.0.113.10 80 www.example.com /health"
//! interval = "1s"              # optional per check: interval, rise, fall
//!
//! [[module]]                   # what /probe may run (`serve::modules`)
//! name = "http_vip"
//! command = "check_raw_http -S 200 eth0 {target} 203.0.113.10 80 www.example.com /health"
//! ```
//!
//! Top-level keys are optional (defaults as above); `name` and `command`
//! are required. A duration is a string: a whole number and its unit,
//! `ms`, `s` or `m` (no fractions: `1500ms`, not `1.5s`; no bare numbers,
//! since `-t` counts milliseconds and a bare `2` would be ambiguous),
//! from 100 ms to 1 h. A check's `-t` must be below its interval.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::cli::{Config, IfaceArg, Mode, NameLookup};
use crate::text;

use super::keepalived::{self, KeepalivedTarget};
use super::modules::{self, Modules};

mod host;
mod tables;

pub use host::ListenBusy;

pub use tables::{parse_command, valid_name};

/// Where check_raw_serve looks without `--config`.
pub const DEFAULT_PATH: &str = "/etc/check_raw/serve.toml";
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
pub const DEFAULT_RISE: u32 = 2;
pub const DEFAULT_FALL: u32 = 3;
/// systemd's `RuntimeDirectory=check_raw`.
pub const DEFAULT_STATE_DIR: &str = "/run/check_raw";
/// Below this a check would be more load than information.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Above this a check is no health check.
pub const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// A sane bound: 100 results in a row is already minutes at any interval
/// one would pick; beyond it is a typo.
pub const MAX_COUNT: u32 = 100;
/// A name is a file name in `state_dir` and a keepalived `track_file`
/// name: short, with room for a temporary suffix.
pub const MAX_NAME: usize = 64;
/// Larger is no hand-written configuration; refused before it is read.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

const TOP_KEYS: &[&str] = &[
    "interval",
    "rise",
    "fall",
    "state_dir",
    "listen",
    "check",
    "module",
];
const CHECK_KEYS: &[&str] = &["name", "command", "interval", "rise", "fall"];

/// The checked configuration.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub path: PathBuf,
    pub interval: Duration,
    pub rise: u32,
    pub fall: u32,
    pub state_dir: PathBuf,
    /// The line of `state_dir` (0 when defaulted), for `check_host`.
    pub state_dir_line: usize,
    /// In the file's order.
    pub checks: Vec<CheckSpec>,
    /// `listen`: where /metrics, /probe and the status page are served
    /// (`None`: absent or "", no listener); its line (0 when absent).
    pub listen: Option<SocketAddr>,
    pub listen_line: usize,
    /// The `[[module]]`s `/probe` runs (`serve::modules`).
    pub modules: Modules,
}

/// One `[[check]]`, its defaults filled in.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    pub name: String,
    /// As written in the file.
    pub command: String,
    /// The command, parsed by the plugins' own code.
    pub config: Config,
    pub interval: Duration,
    pub rise: u32,
    pub fall: u32,
    /// The line of its `[[check]]` header.
    pub line: usize,
}

impl CheckSpec {
    /// What `--print-keepalived` needs of this check: its VIP, port (none
    /// for check_raw_vip without `--port`), real server and state file.
    pub fn keepalived_target(&self, state_dir: &Path) -> KeepalivedTarget {
        let t = &self.config.common().target;
        KeepalivedTarget {
            name: self.name.clone(),
            vip: t.vip,
            port: (t.port != 0).then_some(t.port),
            real_server: t.real_server,
            state_file: state_dir.join(&self.name),
        }
    }
}

/// One error: `FILE:LINE: KEY: message` on one line. `key` is a top-level
/// key, or `check.NAME.KEY` (`check[N].KEY`, N counted from 1, while the
/// check has no valid name); empty for a TOML syntax error. `line` is 0
/// when no line applies (the file cannot be read, a default state_dir).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: usize,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", text::flatten(&self.message))
    }
}

/// Collects errors with their lines, found from byte offsets.
struct Errors<'a> {
    path: &'a Path,
    source: &'a str,
    list: Vec<ConfigError>,
}

impl Errors<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.source.len());
        self.source.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn add(&mut self, offset: usize, key: &str, message: impl Into<String>) {
        self.add_line(self.line(offset), key, message);
    }

    /// At `line`: 0 for what the file lacks.
    fn add_line(&mut self, line: usize, key: &str, message: impl Into<String>) {
        self.list.push(ConfigError {
            path: self.path.to_path_buf(),
            line,
            key: key.to_string(),
            message: message.into(),
        });
    }
}

type Entry<'t, 'i> = &'t Spanned<DeValue<'i>>;

impl ServeConfig {
    /// Read and parse `path` (see [`ServeConfig::parse`]).
    pub fn load(path: &Path, lookup: NameLookup) -> Result<ServeConfig, Vec<ConfigError>> {
        let fail = |message: String| {
            vec![ConfigError {
                path: path.to_path_buf(),
                line: 0,
                key: String::new(),
                message,
            }]
        };
        let size = std::fs::metadata(path)
            .map_err(|e| fail(format!("cannot read: {e}")))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(fail(format!(
                "{size} bytes: more than the {MAX_FILE_BYTES} a configuration may have"
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let source = String::from_utf8(bytes).map_err(|_| fail("not UTF-8".into()))?;
        ServeConfig::parse(path, &source, lookup)
    }

    /// Parse `source` as the file `path`; every error found, in file order.
    /// Host names in commands are resolved by `lookup` (bounded by each
    /// check's `-t`, as in the plugins).
    pub fn parse(
        path: &Path,
        source: &str,
        lookup: NameLookup,
    ) -> Result<ServeConfig, Vec<ConfigError>> {
        let mut errors = Errors {
            path,
            source,
            list: Vec::new(),
        };
        let (doc, syntax) = DeTable::parse_recoverable(source);
        if !syntax.is_empty() {
            for e in &syntax {
                let at = e.span().map_or(0, |s| s.start);
                errors.add(at, "", format!("invalid TOML: {}", e.message()));
            }
            return Err(errors.list);
        }
        let top = doc.get_ref();
        unknown_keys(top, TOP_KEYS, "", &mut errors);
        let interval = top
            .get("interval")
            .and_then(|v| interval(v, "interval", &mut errors))
            .unwrap_or(DEFAULT_INTERVAL);
        let rise = top
            .get("rise")
            .and_then(|v| count(v, "rise", &mut errors))
            .unwrap_or(DEFAULT_RISE);
        let fall = top
            .get("fall")
            .and_then(|v| count(v, "fall", &mut errors))
            .unwrap_or(DEFAULT_FALL);
        let (state_dir, state_dir_line) = match top.get("state_dir") {
            Some(v) => (
                state_dir(v, &mut errors).unwrap_or_default(),
                errors.line(v.span().start),
            ),
            None => (PathBuf::from(DEFAULT_STATE_DIR), 0),
        };
        let (listen, listen_line) = match top.get("listen") {
            Some(v) => (listen(v, &mut errors), errors.line(v.span().start)),
            None => (None, 0),
        };
        let defaults = Defaults {
            interval,
            rise,
            fall,
        };
        let checks = match top.get("check") {
            Some(v) => tables::checks(v, &defaults, lookup, &mut errors),
            None => {
                errors.add_line(0, "check", "no [[check]]: nothing to do");
                Vec::new()
            }
        };
        let modules = match top.get("module") {
            Some(v) => {
                let (modules, found) = modules::parse(v, lookup, &|at| errors.line(at));
                for (at, key, message) in found {
                    errors.add(at, &key, message);
                }
                modules
            }
            None => Modules::default(),
        };
        if !errors.list.is_empty() {
            // Stable: the order found within a line stays.
            errors.list.sort_by_key(|e| e.line);
            return Err(errors.list);
        }
        Ok(ServeConfig {
            path: path.to_path_buf(),
            interval,
            rise,
            fall,
            state_dir,
            state_dir_line,
            checks,
            listen,
            listen_line,
            modules,
        })
    }
}

/// The top-level values a check inherits.
struct Defaults {
    interval: Duration,
    rise: u32,
    fall: u32,
}

fn unknown_keys(table: &DeTable, known: &[&str], prefix: &str, errors: &mut Errors) {
    for key in table.keys() {
        let name: &str = key.get_ref();
        if !known.contains(&name) {
            errors.add(
                key.span().start,
                &format!("{prefix}{}", text::arg(name)),
                format!("unknown key (known here: {})", known.join(", ")),
            );
        }
    }
}

fn string<'t>(value: Entry<'t, '_>, key: &str, errors: &mut Errors) -> Option<&'t str> {
    match value.get_ref() {
        DeValue::String(s) => Some(s),
        other => {
            let message = format!("must be a string, not {}", other.type_str());
            errors.add(value.span().start, key, message);
            None
        }
    }
}

fn interval(value: Entry, key: &str, errors: &mut Errors) -> Option<Duration> {
    if let DeValue::Integer(_) | DeValue::Float(_) = value.get_ref() {
        let message = "must be a string with its unit, such as \"2s\" or \"500ms\"";
        errors.add(value.span().start, key, message);
        return None;
    }
    let found = parse_duration(string(value, key, errors)?).and_then(|d| {
        if d < MIN_INTERVAL {
            Err(format!("{} is below {}", show(d), show(MIN_INTERVAL)))
        } else if d > MAX_INTERVAL {
            Err(format!("{} is above {}", show(d), show(MAX_INTERVAL)))
        } else {
            Ok(d)
        }
    });
    found
        .map_err(|e| errors.add(value.span().start, key, e))
        .ok()
}

/// `500ms`, `2s`, `1m`: a whole number and its unit.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "invalid duration {}: a whole number and ms, s or m (\"500ms\", \"2s\", \"1m\")",
            text::quoted(s)
        )
    };
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    // Nine digits: any value below that cannot overflow, all above 1 h.
    if digits == 0 || digits > 9 {
        return Err(bad());
    }
    let n: u64 = s[..digits].parse().map_err(|_| bad())?;
    match &s[digits..] {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(bad()),
    }
}

/// A duration the way the file writes it: the largest exact unit.
pub fn show(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 60_000 == 0 && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn count(value: Entry, key: &str, errors: &mut Errors) -> Option<u32> {
    let at = value.span().start;
    let DeValue::Integer(n) = value.get_ref() else {
        let message = format!("must be a whole number, not {}", value.get_ref().type_str());
        errors.add(at, key, message);
        return None;
    };
    match i64::from_str_radix(n.as_str(), n.radix()) {
        Ok(n) if (1..=i64::from(MAX_COUNT)).contains(&n) => u32::try_from(n).ok(),
        _ => {
            errors.add(at, key, format!("must be from 1 to {MAX_COUNT}, not {n}"));
            None
        }
    }
}

fn listen(value: Entry, errors: &mut Errors) -> Option<SocketAddr> {
    let s = string(value, "listen", errors)?;
    super::web::parse_listen(s)
        .map_err(|e| errors.add(value.span().start, "listen", e))
        .ok()
        .flatten()
}

fn state_dir(value: Entry, errors: &mut Errors) -> Option<PathBuf> {
    let s = string(value, "state_dir", errors)?;
    if !s.starts_with('/') {
        let message = format!(
            "{} is not an absolute path (keepalived reads the files by it)",
            text::quoted(s)
        );
        errors.add(value.span().start, "state_dir", message);
        return None;
    }
    // Each state file's path is written into keepalived.conf.
    if let Some(why) = keepalived::unfit_path(Path::new(s)) {
        errors.add(value.span().start, "state_dir", why);
        return None;
    }
    Some(PathBuf::from(s))
}

/// `check_raw_serve --check`'s text: a first line with the counts, then
/// one line per check: name, kind, VIP:PORT via the real server, the
/// interface, interval, rise and fall.
pub fn summary(config: &ServeConfig) -> String {
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for check in &config.checks {
        *kinds.entry(kind(&check.config)).or_default() += 1;
    }
    let counts: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let n = config.checks.len();
    let mut out = format!(
        "{}: {n} check{} ({}), state files in {}\n",
        config.path.display(),
        if n == 1 { "" } else { "s" },
        counts.join(", "),
        config.state_dir.display()
    );
    let width = config
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    for check in &config.checks {
        let target = &check.config.common().target;
        let vip = match target.port {
            0 => target.vip.to_string(),
            port => SocketAddr::new(target.vip, port).to_string(),
        };
        let iface = match &target.iface {
            IfaceArg::Named(name) => name.as_str(),
            IfaceArg::ByRoute => "(by route)",
        };
        out.push_str(&format!(
            "{:width$}  {:8}  {vip} via {} on {iface}, every {}, rise {} fall {}\n",
            check.name,
            kind(&check.config),
            target.real_server,
            show(check.interval),
            check.rise,
            check.fall,
        ));
    }
    for module in config.modules.iter() {
        out.push_str(&format!(
            "module {}  {}  {}, {} targets, -t {} ms\n",
            module.name,
            kind(&module.sample),
            module.command,
            module.families(),
            module.timeout().as_millis()
        ));
    }
    out
}

/// The check's kind as its program name says it, TLS noted.
fn kind(config: &Config) -> String {
    let (mode, tls) = match config {
        Config::Tcp(c) => (Mode::Tcp, c.tls.is_some()),
        Config::Http(mode, c) => (*mode, c.tls.is_some()),
        Config::Dns(_) => (Mode::Dns, false),
        Config::Vip(_) => (Mode::Vip, false),
    };
    let name = mode.program().trim_start_matches("check_raw_");
    if tls {
        format!("{name}+tls")
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests;
