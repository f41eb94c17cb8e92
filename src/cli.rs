//! The command line: which check (from argv[0] or a subcommand), its
//! options and positional arguments, checked into a config the rest of the
//! program trusts; plus `--help` and usage text.
//!
//! Two stages, as ripgrep does it: pico-args pulls raw options out, then
//! every value is validated (lengths, ranges, address syntax) with a
//! one-line message naming the argument. Nothing here touches a socket;
//! host names are resolved through the system resolver only when an
//! argument is not an IP literal.

use std::ffi::{OsStr, OsString};
use std::net::{IpAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::http::{self, Expectations, HeaderMatch, Md5, Method, Request, StatusSet};
use crate::net::link::MAX_IFNAME;
use crate::role::RoleSource;

/// The three checks of the multicall binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Tcp,
    HttpGet,
    Http,
}

pub const VALID_NAMES: &str =
    "check_raw_tcp, check_raw_http_get, check_raw_http (or check_raw tcp|http_get|http)";

impl Mode {
    /// The mode of a program name (`check_raw_tcp`) or subcommand (`tcp`).
    pub fn from_name(name: &str) -> Option<Mode> {
        match name.strip_prefix("check_raw_").unwrap_or(name) {
            "tcp" => Some(Mode::Tcp),
            "http_get" => Some(Mode::HttpGet),
            "http" => Some(Mode::Http),
            _ => None,
        }
    }

    pub fn program(self) -> &'static str {
        match self {
            Mode::Tcp => "check_raw_tcp",
            Mode::HttpGet => "check_raw_http_get",
            Mode::Http => "check_raw_http",
        }
    }

    /// The service name that starts the status line.
    pub fn service(self) -> &'static str {
        match self {
            Mode::Tcp => "RAW_TCP",
            Mode::HttpGet => "RAW_HTTP_GET",
            Mode::Http => "RAW_HTTP",
        }
    }
}

/// Where the checked packets go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub iface: String,
    pub real_server: IpAddr,
    pub vip: IpAddr,
    pub port: u16,
    /// `--source`: overrides the interface's address as the source IP.
    pub source: Option<IpAddr>,
}

/// Options every check has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    pub target: Target,
    pub role: RoleSource,
    /// Bounds the whole check, neighbour resolution included.
    pub timeout: Duration,
    pub verbosity: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConfig {
    pub common: Common,
    pub clean_close: bool,
}

/// check_raw_http_get and check_raw_http: one request, its expectations.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub common: Common,
    pub clean_close: bool,
    pub request: Request,
    pub expect: Expectations,
    /// Largest response accepted (head and body as framed on the wire).
    pub max_bytes: usize,
}

/// A fully checked configuration.
#[derive(Debug, Clone)]
pub enum Config {
    Tcp(TcpConfig),
    Http(Mode, Box<HttpConfig>),
}

/// What the command line asks for.
#[derive(Debug, Clone)]
pub enum Command {
    Help(Mode),
    Version(Mode),
    Check(Config),
}

/// A usage error: which mode (if known) and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    pub mode: Option<Mode>,
    pub message: String,
}

impl UsageError {
    fn new(mode: Mode, message: impl Into<String>) -> UsageError {
        UsageError {
            mode: Some(mode),
            message: message.into(),
        }
    }
}

/// Default `-t`, the C original's unit and value.
pub const DEFAULT_TIMEOUT_MS: u64 = 1000;
/// Longest `-t` accepted: ten minutes is past every daemon's own timeout.
pub const MAX_TIMEOUT_MS: u64 = 600_000;
const MAX_PATH_ARG: usize = 4096;
/// Longest host name (RFC 1035).
const MAX_HOSTNAME: usize = 253;
/// Arguments longer than this are refused before any other look.
const MAX_ARG: usize = 8192;

/// Looks a host name up; `system_resolver` in production, a fake in
/// tests and fuzzing (which must not send DNS queries).
pub type Resolver<'r> = &'r dyn Fn(&str) -> std::io::Result<Vec<IpAddr>>;

/// The system's resolver (getaddrinfo).
pub fn system_resolver(name: &str) -> std::io::Result<Vec<IpAddr>> {
    Ok((name, 0).to_socket_addrs()?.map(|a| a.ip()).collect())
}

/// Parse a whole argv (program name first), names resolved by the system.
pub fn parse(argv: Vec<OsString>) -> Result<Command, UsageError> {
    parse_with(argv, &system_resolver)
}

/// Parse a whole argv with the given resolver.
pub fn parse_with(argv: Vec<OsString>, resolve: Resolver) -> Result<Command, UsageError> {
    let mut argv = argv.into_iter();
    let argv0 = argv.next().unwrap_or_default();
    let name = Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut rest: Vec<OsString> = argv.collect();
    let mode = match Mode::from_name(&name) {
        Some(mode) if name != "check_raw" => mode,
        _ if name == "check_raw" => {
            let sub = rest.first().map(|s| s.to_string_lossy().into_owned());
            match sub.as_deref().and_then(Mode::from_name) {
                Some(mode) => {
                    rest.remove(0);
                    mode
                }
                None => {
                    return Err(UsageError {
                        mode: None,
                        message: format!(
                            "check_raw needs a check name first: tcp, http_get or http ({})",
                            match sub {
                                Some(s) => format!("got '{}'", truncate(&s)),
                                None => "got nothing".into(),
                            }
                        ),
                    })
                }
            }
        }
        _ => {
            return Err(UsageError {
                mode: None,
                message: format!(
                    "unknown program name '{}': call me as one of {VALID_NAMES}",
                    truncate(&name)
                ),
            })
        }
    };
    parse_mode(mode, rest, resolve)
}

/// Long arguments are cut in messages so the status line stays readable.
fn truncate(s: &str) -> String {
    const SHOW: usize = 64;
    match s.char_indices().nth(SHOW) {
        Some((at, _)) => format!("{}...", &s[..at]),
        None => s.to_string(),
    }
}

fn parse_mode(mode: Mode, args: Vec<OsString>, resolve: Resolver) -> Result<Command, UsageError> {
    let err = |m: String| UsageError::new(mode, m);
    if let Some(long) = args.iter().find(|a| a.len() > MAX_ARG) {
        return Err(err(format!(
            "argument of {} bytes is too long (at most {MAX_ARG})",
            long.len()
        )));
    }
    // Everything after `--` is positional, whatever it looks like.
    let (options, after_dashes) = match args.iter().position(|a| a == "--") {
        Some(at) => (args[..at].to_vec(), args[at + 1..].to_vec()),
        None => (args, Vec::new()),
    };
    let mut p = pico_args::Arguments::from_vec(options);
    if p.contains(["-h", "--help"]) {
        return Ok(Command::Help(mode));
    }
    if p.contains(["-V", "--version"]) {
        return Ok(Command::Version(mode));
    }
    // Values before flags: combined flags (-cv) are only safe that way.
    let role = opt_string(&mut p, ["-r", "--role-file"], mode)?;
    let timeout = opt_string(&mut p, ["-t", "--timeout"], mode)?;
    let source = opt_string(&mut p, "--source", mode)?;
    let http_options = match mode {
        Mode::Tcp => None,
        Mode::HttpGet | Mode::Http => Some(HttpOptions::take(&mut p, mode)?),
    };
    let clean_close = p.contains(["-c", "--clean-close"]);
    let family = match (p.contains(["-4", "--ipv4"]), p.contains(["-6", "--ipv6"])) {
        (true, true) => return Err(err("-4 and -6 exclude each other".into())),
        (true, false) => Some(Family::V4),
        (false, true) => Some(Family::V6),
        (false, false) => None,
    };
    let mut verbosity: u8 = 0;
    while verbosity < u8::MAX && p.contains(["-v", "--verbose"]) {
        verbosity += 1;
    }
    let mut positional = Vec::new();
    for arg in p.finish() {
        let arg = utf8(mode, arg)?;
        if arg.starts_with('-') && arg.len() > 1 {
            return Err(err(format!("unknown option '{}'", truncate(&arg))));
        }
        positional.push(arg);
    }
    for arg in after_dashes {
        positional.push(utf8(mode, arg)?);
    }
    expect_count(mode, &positional, positional_names(mode).len())?;
    let mut target = parse_target(mode, &positional, family, resolve)?;
    target.source = parse_source(mode, source, &target)?;
    let common = Common {
        target,
        role: parse_role(mode, role)?,
        timeout: parse_timeout(mode, timeout)?,
        verbosity,
    };
    let config = match http_options {
        None => Config::Tcp(TcpConfig {
            common,
            clean_close,
        }),
        Some(options) => {
            let http = options
                .into_config(mode, common, clean_close, &positional[4..])
                .map_err(err)?;
            Config::Http(mode, Box::new(http))
        }
    };
    Ok(Command::Check(config))
}

/// The HTTP options as given, before they are checked.
#[derive(Debug, Default)]
struct HttpOptions {
    method: Option<String>,
    headers: Vec<String>,
    status: Option<String>,
    response_headers: Vec<String>,
    md5: Option<String>,
    body: Option<String>,
    contains: Option<String>,
    regex: Option<String>,
    invert_regex: bool,
    max_bytes: Option<String>,
}

/// Compiled regexes are bounded so a pathological pattern cannot eat memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl HttpOptions {
    fn take(p: &mut pico_args::Arguments, mode: Mode) -> Result<HttpOptions, UsageError> {
        let mut o = HttpOptions {
            max_bytes: opt_string(p, ["-m", "--max-bytes"], mode)?,
            ..HttpOptions::default()
        };
        if mode == Mode::Http {
            o.method = opt_string(p, ["-M", "--method"], mode)?;
            o.headers = all_strings(p, ["-H", "--header"], mode)?;
            o.status = opt_string(p, ["-S", "--status-code"], mode)?;
            o.response_headers = all_strings(p, ["-R", "--response-header"], mode)?;
            o.md5 = opt_string(p, ["-A", "--hash"], mode)?;
            o.body = opt_string(p, ["-B", "--body"], mode)?;
            o.contains = opt_string(p, ["-s", "--string"], mode)?;
            o.regex = opt_string(p, "--regex", mode)?;
            o.invert_regex = p.contains("--invert-regex");
        }
        Ok(o)
    }

    /// Check every value; `rest` is HOST PATH [MD5].
    fn into_config(
        self,
        mode: Mode,
        common: Common,
        clean_close: bool,
        rest: &[String],
    ) -> Result<HttpConfig, String> {
        let (host, path) = (&rest[0], &rest[1]);
        let method = match self.method.as_deref() {
            None => Method::Get,
            Some(m) => Method::parse(m).map_err(|e| format!("invalid --method: {e}"))?,
        };
        if self.headers.len() > http::request::MAX_REQUEST_HEADERS {
            return Err(format!(
                "too many -H headers ({}, at most {})",
                self.headers.len(),
                http::request::MAX_REQUEST_HEADERS
            ));
        }
        let headers = self
            .headers
            .iter()
            .map(|h| {
                http::parse_request_header(h)
                    .map_err(|e| format!("invalid -H '{}': {e}", truncate(h)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let request = Request::new(method, host, path, headers).map_err(|e| {
            if e.contains("path") {
                format!("invalid PATH '{}': {e}", truncate(path))
            } else {
                format!("invalid HOST '{}': {e}", truncate(host))
            }
        })?;
        let request_len = request.to_bytes().len();
        if request_len > crate::net::tcp::MAX_SEND_BYTES {
            return Err(format!(
                "request of {request_len} bytes is too large (at most {})",
                crate::net::tcp::MAX_SEND_BYTES
            ));
        }
        let mut expect = Expectations::default();
        if mode == Mode::HttpGet {
            expect.status = Some(StatusSet::success());
            expect.md5 = Some(
                Md5::parse(&rest[2])
                    .map_err(|e| format!("invalid MD5 '{}': {e}", truncate(&rest[2])))?,
            );
        } else {
            expect.status = self
                .status
                .as_deref()
                .map(|s| {
                    StatusSet::parse(s)
                        .map_err(|e| format!("invalid --status-code '{}': {e}", truncate(s)))
                })
                .transpose()?;
            if self.response_headers.len() > http::request::MAX_REQUEST_HEADERS {
                return Err(format!(
                    "too many -R headers ({}, at most {})",
                    self.response_headers.len(),
                    http::request::MAX_REQUEST_HEADERS
                ));
            }
            expect.headers = self
                .response_headers
                .iter()
                .map(|h| {
                    HeaderMatch::parse(h).map_err(|e| format!("invalid -R '{}': {e}", truncate(h)))
                })
                .collect::<Result<_, _>>()?;
            expect.md5 = self
                .md5
                .as_deref()
                .map(|m| {
                    Md5::parse(m).map_err(|e| format!("invalid --hash '{}': {e}", truncate(m)))
                })
                .transpose()?;
            expect.body = self.body.map(String::into_bytes);
            expect.contains = self.contains;
            expect.regex = self
                .regex
                .as_deref()
                .map(|r| {
                    regex::RegexBuilder::new(r)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|e| {
                            format!(
                                "invalid --regex '{}': {}",
                                truncate(r),
                                one_line(&e.to_string())
                            )
                        })
                })
                .transpose()?;
            if self.invert_regex && expect.regex.is_none() {
                return Err("--invert-regex needs --regex".into());
            }
            if expect.is_empty() {
                return Err(
                    "nothing to verify: give at least one of -S, -R, -A, -B, --string, --regex"
                        .into(),
                );
            }
        }
        let max_bytes = match self.max_bytes.as_deref() {
            None => http::DEFAULT_MAX_BYTES,
            Some(m) => parse_max_bytes(m)?,
        };
        Ok(HttpConfig {
            common,
            clean_close,
            request,
            expect,
            max_bytes,
        })
    }
}

/// Upper bound of `--max-bytes`: 1 GiB is far beyond any health page.
const MAX_MAX_BYTES: usize = 1 << 30;

fn parse_max_bytes(arg: &str) -> Result<usize, String> {
    let bad = |why: &str| format!("invalid --max-bytes '{}': {why}", truncate(arg));
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a number of bytes"));
    }
    match arg.parse::<usize>() {
        Ok(n @ 1..=MAX_MAX_BYTES) => Ok(n),
        _ => Err(bad(&format!("must be 1-{MAX_MAX_BYTES}"))),
    }
}

/// Error texts from libraries may span lines; a status line may not.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn utf8(mode: Mode, arg: OsString) -> Result<String, UsageError> {
    arg.into_string().map_err(|a| {
        UsageError::new(
            mode,
            format!(
                "argument '{}' is not valid UTF-8",
                truncate(&a.to_string_lossy())
            ),
        )
    })
}

/// An option's value. `keys` is `["-t", "--timeout"]` or `"--regex"`.
fn opt_string(
    p: &mut pico_args::Arguments,
    keys: impl Into<pico_args::Keys>,
    mode: Mode,
) -> Result<Option<String>, UsageError> {
    p.opt_value_from_str::<_, String>(keys)
        .map_err(|e| value_error(mode, e))
}

fn all_strings(
    p: &mut pico_args::Arguments,
    keys: impl Into<pico_args::Keys>,
    mode: Mode,
) -> Result<Vec<String>, UsageError> {
    p.values_from_str::<_, String>(keys)
        .map_err(|e| value_error(mode, e))
}

fn value_error(mode: Mode, e: pico_args::Error) -> UsageError {
    UsageError::new(
        mode,
        match e {
            pico_args::Error::OptionWithoutAValue(k) => format!("option {k} needs a value"),
            pico_args::Error::NonUtf8Argument => "an option value is not valid UTF-8".into(),
            other => other.to_string(),
        },
    )
}

/// The positional arguments a mode takes, for messages.
fn positional_names(mode: Mode) -> &'static [&'static str] {
    match mode {
        Mode::Tcp => &["SOURCE_IFACE", "REAL_SERVER", "VIRTUAL_IP", "PORT"],
        Mode::HttpGet => &[
            "SOURCE_IFACE",
            "REAL_SERVER",
            "VIRTUAL_IP",
            "PORT",
            "HOST",
            "PATH",
            "MD5",
        ],
        Mode::Http => &[
            "SOURCE_IFACE",
            "REAL_SERVER",
            "VIRTUAL_IP",
            "PORT",
            "HOST",
            "PATH",
        ],
    }
}

fn expect_count(mode: Mode, positional: &[String], count: usize) -> Result<(), UsageError> {
    if positional.len() == count {
        return Ok(());
    }
    let names = positional_names(mode).join(" ");
    Err(UsageError::new(
        mode,
        if positional.len() < count {
            format!(
                "missing {} (expects {names})",
                positional_names(mode)[positional.len()]
            )
        } else {
            format!(
                "too many arguments: {} given, expects {count}: {names}",
                positional.len()
            )
        },
    ))
}

/// The four positional arguments every mode starts with (count already
/// checked). Both addresses must be of one family: forced by `-4`/`-6`,
/// else the family of whichever is a literal, else IPv4 first.
fn parse_target(
    mode: Mode,
    positional: &[String],
    forced: Option<Family>,
    resolve: Resolver,
) -> Result<Target, UsageError> {
    let usage = |m: String| UsageError::new(mode, m);
    // A name takes the family of the literal beside it, unless forced.
    let for_name = forced
        .or_else(|| literal_family(&positional[1]))
        .or_else(|| literal_family(&positional[2]));
    let family_of = |arg: &str| {
        forced.or(if literal_family(arg).is_some() {
            None
        } else {
            for_name
        })
    };
    let real_server = parse_address(
        "REAL_SERVER",
        &positional[1],
        family_of(&positional[1]),
        resolve,
    )
    .map_err(usage)?;
    let vip = parse_address(
        "VIRTUAL_IP",
        &positional[2],
        family_of(&positional[2]),
        resolve,
    )
    .map_err(usage)?;
    if real_server.is_ipv4() != vip.is_ipv4() {
        return Err(usage(format!(
            "REAL_SERVER {real_server} and VIRTUAL_IP {vip} are of different address families"
        )));
    }
    Ok(Target {
        iface: parse_iface(&positional[0]).map_err(usage)?,
        real_server,
        vip,
        port: parse_port(&positional[3]).map_err(usage)?,
        source: None,
    })
}

/// IPv4 or IPv6 (`-4`, `-6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn of(addr: IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Family::V4 => "-4",
            Family::V6 => "-6",
        }
    }
}

fn literal_family(arg: &str) -> Option<Family> {
    arg.parse::<IpAddr>().ok().map(Family::of)
}

pub fn parse_iface(arg: &str) -> Result<String, String> {
    let bad = |why: &str| format!("invalid SOURCE_IFACE '{}': {why}", truncate(arg));
    if arg.is_empty() {
        return Err(bad("empty"));
    }
    if arg.len() > MAX_IFNAME {
        return Err(bad(&format!("longer than {MAX_IFNAME} bytes")));
    }
    if arg == "."
        || arg == ".."
        || arg.contains('/')
        || arg.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad("not an interface name"));
    }
    Ok(arg.to_string())
}

pub fn parse_port(arg: &str) -> Result<u16, String> {
    let bad = |why: &str| format!("invalid PORT '{}': {why}", truncate(arg));
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a number"));
    }
    match arg.parse::<u32>() {
        Ok(p @ 1..=65535) => Ok(p as u16),
        _ => Err(bad("must be 1-65535")),
    }
}

/// An IP literal, or a host name resolved to its first address of
/// `family` (without one: IPv4 first, as the C original).
pub fn parse_address(
    what: &str,
    arg: &str,
    family: Option<Family>,
    resolve: Resolver,
) -> Result<IpAddr, String> {
    let bad = |why: String| format!("invalid {what} '{}': {why}", truncate(arg));
    if let Ok(addr) = arg.parse::<IpAddr>() {
        return match family {
            Some(f) if f != Family::of(addr) => Err(bad(format!(
                "not an address of the family asked for ({})",
                f.flag()
            ))),
            _ => Ok(addr),
        };
    }
    // Digits and dots only: a mistyped address, not a name to look up.
    if arg.is_empty() || arg.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad("not an IP address".into()));
    }
    let name_ok = arg.len() <= MAX_HOSTNAME
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !name_ok {
        return Err(bad("neither an IP address nor a host name".into()));
    }
    let addrs = resolve(arg).map_err(|e| bad(format!("cannot resolve: {e}")))?;
    let pick = |f: Family| addrs.iter().copied().find(|a| Family::of(*a) == f);
    match family {
        Some(f) => pick(f).ok_or_else(|| bad(format!("the name has no address for {}", f.flag()))),
        None => pick(Family::V4)
            .or_else(|| pick(Family::V6))
            .ok_or_else(|| bad("the name has no address".into())),
    }
}

/// `--source`: a literal of the target's family.
fn parse_source(
    mode: Mode,
    arg: Option<String>,
    target: &Target,
) -> Result<Option<IpAddr>, UsageError> {
    let Some(arg) = arg else { return Ok(None) };
    let addr: IpAddr = arg.parse().map_err(|_| {
        UsageError::new(
            mode,
            format!("invalid --source '{}': not an IP address", truncate(&arg)),
        )
    })?;
    if addr.is_ipv4() != target.vip.is_ipv4() {
        return Err(UsageError::new(
            mode,
            format!("--source {addr} is not of the VIRTUAL_IP's address family"),
        ));
    }
    Ok(Some(addr))
}

fn parse_role(mode: Mode, arg: Option<String>) -> Result<RoleSource, UsageError> {
    match arg.as_deref() {
        None => Ok(RoleSource::Default),
        Some("auto") => Ok(RoleSource::Auto),
        Some("") => Err(UsageError::new(mode, "empty role file name (-r)")),
        Some(path) if path.len() > MAX_PATH_ARG => Err(UsageError::new(
            mode,
            format!("role file name longer than {MAX_PATH_ARG} bytes"),
        )),
        Some(path) => Ok(RoleSource::File(PathBuf::from(path))),
    }
}

fn parse_timeout(mode: Mode, arg: Option<String>) -> Result<Duration, UsageError> {
    let Some(arg) = arg else {
        return Ok(Duration::from_millis(DEFAULT_TIMEOUT_MS));
    };
    let bad = |why: &str| {
        UsageError::new(
            mode,
            format!("invalid timeout (-t) '{}': {why}", truncate(&arg)),
        )
    };
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a number of milliseconds"));
    }
    match arg.parse::<u64>() {
        Ok(ms @ 1..=MAX_TIMEOUT_MS) => Ok(Duration::from_millis(ms)),
        _ => Err(bad(&format!("must be 1-{MAX_TIMEOUT_MS} ms"))),
    }
}

/// The short usage shown after a usage error.
pub fn usage(mode: Mode) -> String {
    match mode {
        Mode::Tcp => format!(
            "Usage: {} [-c] [-4|-6] [--source ADDR] [-r FILE|auto] [-t MS] [-v...] SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT",
            mode.program()
        ),
        Mode::HttpGet => format!(
            "Usage: {} [-c] [-m N] [-4|-6] [--source ADDR] [-r FILE|auto] [-t MS] [-v...] SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT HOST PATH MD5",
            mode.program()
        ),
        Mode::Http => format!(
            "Usage: {} [options] SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT HOST PATH",
            mode.program()
        ),
    }
}

pub fn version(mode: Mode) -> String {
    format!(
        "{} v{} (check_raw)",
        mode.program(),
        env!("CARGO_PKG_VERSION")
    )
}

const COMMON_HELP: &str = "\
Positional arguments:
  SOURCE_IFACE   interface to send from (its MAC and address are the
                 source of every frame), e.g. eth0
  REAL_SERVER    the real server's own IPv4/IPv6 address or name; its MAC
                 is found by ARP or NDP (BACKUP role: the address
                 connected to)
  VIRTUAL_IP     the VIP, destination IP of every frame
  PORT           TCP port, 1-65535

Common options:
  -r, --role-file FILE|auto
                 FILE: first byte '1' = MASTER (raw frames), anything else
                 = BACKUP (plain kernel connect to REAL_SERVER:PORT, which
                 passes even if the server lacks the VIP, by design).
                 auto: MASTER when the VIP is a local address of this host,
                 else BACKUP. Default: MASTER.
  -t, --timeout MS
                 bound on the WHOLE check, ARP included, in milliseconds
                 (default 1000, at most 600000). Lost frames are resent
                 within it.
  -4, --ipv4 / -6, --ipv6
                 resolve host names to this family only (REAL_SERVER and
                 VIRTUAL_IP are always of one family; IPv6 uses NDP)
      --source ADDR
                 source IP of the frames (default: the interface's primary
                 IPv4 address; for IPv6 the address the kernel would use
                 towards REAL_SERVER out of SOURCE_IFACE)
  -v, --verbose  more detail after the status line; -vvv: one line per
                 frame sent and received
  -h, --help     this help
  -V, --version  version

Exit codes (Nagios): 0 OK, 2 CRITICAL (the check failed), 3 UNKNOWN (bad
arguments, no such interface, no CAP_NET_RAW, unreadable role file).
Raw frames need CAP_NET_RAW: run as root or `setcap cap_net_raw+ep` the
check_raw binary.
";

pub fn help(mode: Mode) -> String {
    let about = match mode {
        Mode::Tcp => {
            "\
Checks that an LVS-DR real server accepts TCP connections for the VIP:
sends a SYN in a hand-built Ethernet frame to the real server's MAC with
the VIP as destination IP, exactly as the load balancer forwards client
traffic. OK = SYN/ACK received. A real server that lost the VIP, or whose
port is closed, fails.

Options:
  -c, --clean-close
                 end with a FIN handshake instead of RST
"
        }
        Mode::HttpGet => {
            "\
Checks an LVS-DR real server's HTTP answer for the VIP: a full HTTP/1.1
GET over a userspace TCP connection in hand-built frames to the real
server's MAC with the VIP as destination IP. OK = 2xx status and the MD5
of the (decoded) body equals MD5.

  HOST           value of the Host header
  PATH           the resource, starting with '/'
  MD5            expected MD5 of the body, 32 hex digits

Options:
  -c, --clean-close
                 end with a FIN handshake instead of RST
  -m, --max-bytes N
                 largest response accepted (default 16777216)
"
        }
        Mode::Http => {
            "\
Checks an LVS-DR real server's HTTP answer for the VIP: a full HTTP/1.1
request over a userspace TCP connection in hand-built frames to the real
server's MAC with the VIP as destination IP; the response is verified
against the expectations given (at least one is required).

  HOST           value of the Host header
  PATH           the resource, starting with '/'

Request options:
  -M, --method GET|HEAD      request method (default GET)
  -H, --header 'Name: value' extra request header (repeatable, at most 32)
Expectations (checked in this order, the first failure is reported):
  -S, --status-code LIST     accepted status codes: 200, 200-299,301 ...
  -R, --response-header 'Name: value'
                             a header that must be present (name any
                             case, value trimmed; 'Name:' = any value);
                             repeatable
  -A, --hash MD5             MD5 of the (decoded) body
  -B, --body TEXT            the exact body
  -s, --string TEXT          the body contains TEXT
      --regex RE             the body matches RE (Rust regex syntax)
      --invert-regex         ... must NOT match RE
Other options:
  -c, --clean-close          end with a FIN handshake instead of RST
  -m, --max-bytes N          largest response accepted (default 16777216)
"
        }
    };
    format!(
        "{}\n{}\n\n{about}\n{COMMON_HELP}",
        version(mode),
        usage(mode)
    )
}

/// `argv[0]`'s base name, for messages before a mode is known.
pub fn program_name(argv0: &OsStr) -> String {
    Path::new(argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "check_raw".into())
}

#[cfg(test)]
mod tests;
