//! The command line: which check (from argv[0] or a subcommand), its
//! options and positional arguments, checked into a config the rest of the
//! program trusts.
//!
//! Two stages, as ripgrep does it: pico-args pulls raw options out, then
//! every value is checked (`values`, `http`) with a one-line message naming
//! the argument. Two positional forms: the C original's
//! `SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT ...`, and ldirectord's
//! `VIP VPORT RIP RPORT` (recognised by its second argument being a port).

mod help;
mod http;
mod values;

use std::ffi::OsString;
use std::net::IpAddr;
use std::time::Duration;

use crate::http::{Expectations, Request};
use crate::outcome::Protocol;
use crate::role::RoleSource;
use crate::threshold::Range;

use crate::text;
pub use help::{help, program_name, usage, version};
use values::{literal_family, parse_port_named, parse_role, parse_timeout, parse_weight};
pub use values::{
    parse_address, parse_iface, parse_port, system_resolver, Family, Resolver, DEFAULT_TIMEOUT_MS,
    MAX_TIMEOUT_MS,
};

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

    /// The positional arguments of the C-compatible form, for messages.
    fn positional_names(self) -> &'static [&'static str] {
        const TCP: [&str; 4] = ["SOURCE_IFACE", "REAL_SERVER", "VIRTUAL_IP", "PORT"];
        const GET: [&str; 7] = [
            "SOURCE_IFACE",
            "REAL_SERVER",
            "VIRTUAL_IP",
            "PORT",
            "HOST",
            "PATH",
            "MD5",
        ];
        match self {
            Mode::Tcp => &TCP,
            Mode::HttpGet => &GET,
            Mode::Http => &GET[..6],
        }
    }
}

/// The interface frames leave by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interface {
    Named(String),
    /// ldirectord form: the one the kernel routes the real server through.
    ByRoute,
}

/// Where the checked packets go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub iface: Interface,
    pub real_server: IpAddr,
    pub vip: IpAddr,
    pub port: u16,
    /// `--source`: overrides the interface's address as the source IP.
    pub source: Option<IpAddr>,
    /// `--source-port`: a fixed source port instead of a free ephemeral one.
    pub source_port: Option<u16>,
}

/// Response-time thresholds (`--warning`, `--critical`), in seconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thresholds {
    pub warning: Option<Range>,
    pub critical: Option<Range>,
}

/// Options every check has.
#[derive(Debug, Clone, PartialEq)]
pub struct Common {
    pub target: Target,
    pub role: RoleSource,
    /// Bounds the whole check, neighbour resolution included.
    pub timeout: Duration,
    pub verbosity: u8,
    pub protocol: Protocol,
    pub thresholds: Thresholds,
}

#[derive(Debug, Clone, PartialEq)]
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
    Tcp(Box<TcpConfig>),
    Http(Mode, Box<HttpConfig>),
}

impl Config {
    pub fn protocol(&self) -> Protocol {
        match self {
            Config::Tcp(c) => c.common.protocol,
            Config::Http(_, c) => c.common.protocol,
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone)]
pub enum Command {
    Help(Mode, Protocol),
    Version(Mode, Protocol),
    Check(Config),
}

/// A usage error: which mode (if known), a one-line message, and the
/// protocol whose exit code it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    pub mode: Option<Mode>,
    pub message: String,
    pub protocol: Protocol,
}

impl UsageError {
    fn new(mode: Mode, message: impl Into<String>) -> UsageError {
        UsageError {
            mode: Some(mode),
            message: message.into(),
            protocol: Protocol::Nagios,
        }
    }
}

/// Arguments longer than this are refused before any other look.
const MAX_ARG: usize = 8192;

/// Looks host names up, given the check's `-t`: `main` passes one that
/// gives up at the check's deadline or on a signal.
pub type NameLookup<'r> = &'r dyn Fn(&str, Duration) -> std::io::Result<Vec<IpAddr>>;

/// Parse a whole argv (program name first), names resolved by the system
/// without a time bound (for tools and tests; `main` bounds it).
pub fn parse(argv: Vec<OsString>) -> Result<Command, UsageError> {
    parse_with(argv, &|name, _| system_resolver(name))
}

/// Parse a whole argv with the given name lookup.
pub fn parse_with(argv: Vec<OsString>, lookup: NameLookup) -> Result<Command, UsageError> {
    let mut argv = argv.into_iter();
    let argv0 = argv.next().unwrap_or_default();
    let name = program_name(&argv0);
    let mut rest: Vec<OsString> = argv.collect();
    // Known before anything else can fail, so every usage error exits the
    // way the daemon that runs us expects.
    let protocol = prescan_protocol(&rest);
    // Every message quotes what was typed: whatever the path that built
    // it, it leaves here as one line, protocol attached.
    let with_protocol = |mut e: UsageError| {
        e.protocol = protocol.unwrap_or(e.protocol);
        e.message = text::status_safe(&e.message);
        e
    };
    let mode = if name == "check_raw" {
        let sub = rest.first().map(|s| s.to_string_lossy().into_owned());
        match sub.as_deref().and_then(Mode::from_name) {
            Some(mode) => {
                rest.remove(0);
                mode
            }
            None => {
                return Err(with_protocol(UsageError {
                    mode: None,
                    message: format!(
                        "check_raw needs a check name first: tcp, http_get or http ({})",
                        match sub {
                            Some(s) => format!("got '{}'", text::arg(&s)),
                            None => "got nothing".into(),
                        }
                    ),
                    protocol: Protocol::Nagios,
                }))
            }
        }
    } else {
        match Mode::from_name(&name).filter(|_| name.starts_with("check_raw_")) {
            Some(mode) => mode,
            None => {
                return Err(with_protocol(UsageError {
                    mode: None,
                    message: format!(
                        "unknown program name '{}': call me as one of {VALID_NAMES}",
                        text::arg(&name)
                    ),
                    protocol: Protocol::Nagios,
                }))
            }
        }
    };
    parse_mode(mode, rest, lookup, protocol).map_err(with_protocol)
}

/// The exit protocol the arguments ask for, without parsing them (for
/// when parsing itself is what failed); Nagios when none is named.
pub fn protocol_hint(args: &[OsString]) -> Protocol {
    prescan_protocol(args).unwrap_or(Protocol::Nagios)
}

/// The exit protocol the arguments ask for, looked for before parsing,
/// so that even a usage error exits the way the daemon expects:
/// `--protocol` if given (an unknown value, or `--weight` without a valid
/// protocol, gives keepalived's 1: "down" to every daemon, where a Nagios
/// 3 would read as "up, weight 1" under misc_dynamic); else ldirectord
/// when the arguments end in ldirectord's `VIP VPORT RIP RPORT`.
fn prescan_protocol(args: &[OsString]) -> Option<Protocol> {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let options_end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let options = &args[..options_end];
    let value = options
        .iter()
        .enumerate()
        .find_map(|(i, a)| match a.strip_prefix("--protocol") {
            Some(v) if v.starts_with('=') => Some(v[1..].to_string()),
            Some("") => Some(options.get(i + 1).cloned().unwrap_or_default()),
            _ => None,
        });
    let weight = options
        .iter()
        .any(|a| a == "--weight" || a.starts_with("--weight="));
    match (value, weight) {
        (Some(v), _) => Some(Protocol::parse(&v, None).unwrap_or(Protocol::Keepalived)),
        (None, true) => Some(Protocol::Keepalived),
        (None, false) => ends_like_ldirectord(&args).then_some(Protocol::Ldirectord),
    }
}

/// `... VIP VPORT RIP RPORT` at the end, as ldirectord and its wrappers
/// pass them (`exec check_raw_tcp -t 2000 "$@"`).
fn ends_like_ldirectord(args: &[String]) -> bool {
    let Some(last4) = args.len().checked_sub(4).map(|at| &args[at..]) else {
        return false;
    };
    let digits = |a: &str| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit());
    last4.iter().all(|a| !a.starts_with('-')) && digits(&last4[1]) && digits(&last4[3])
}

/// Options of the ldirectord form (`VIP VPORT RIP RPORT`).
#[derive(Debug, Default)]
struct LdirectordOptions {
    vip: Option<String>,
    interface: Option<String>,
    url: Option<String>,
    host: Option<String>,
    md5: Option<String>,
}

impl LdirectordOptions {
    fn take(p: &mut pico_args::Arguments, mode: Mode) -> Result<Self, UsageError> {
        Ok(LdirectordOptions {
            vip: opt_string(p, "--vip", mode)?,
            interface: opt_string(p, "--interface", mode)?,
            url: opt_string(p, "--url", mode)?,
            host: opt_string(p, "--host", mode)?,
            md5: opt_string(p, "--md5", mode)?,
        })
    }

    fn given(&self) -> Option<&'static str> {
        [
            (self.vip.is_some(), "--vip"),
            (self.interface.is_some(), "--interface"),
            (self.url.is_some(), "--url"),
            (self.host.is_some(), "--host"),
            (self.md5.is_some(), "--md5"),
        ]
        .into_iter()
        .find_map(|(given, name)| given.then_some(name))
    }
}

/// The options every mode shares, as given.
struct CommonOptions {
    role: Option<String>,
    timeout: Option<String>,
    source: Option<String>,
    source_port: Option<String>,
    protocol: Option<String>,
    weight: Option<String>,
    warning: Option<String>,
    critical: Option<String>,
}

fn parse_mode(
    mode: Mode,
    args: Vec<OsString>,
    lookup: NameLookup,
    protocol_hint: Option<Protocol>,
) -> Result<Command, UsageError> {
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
    let hint = protocol_hint.unwrap_or(Protocol::Nagios);
    if p.contains(["-h", "--help"]) {
        return Ok(Command::Help(mode, hint));
    }
    if p.contains(["-V", "--version"]) {
        return Ok(Command::Version(mode, hint));
    }
    // Values before flags: combined flags (-cv) are only safe that way.
    let common = CommonOptions {
        role: opt_string(&mut p, ["-r", "--role-file"], mode)?,
        timeout: opt_string(&mut p, ["-t", "--timeout"], mode)?,
        source: opt_string(&mut p, "--source", mode)?,
        source_port: opt_string(&mut p, "--source-port", mode)?,
        protocol: opt_string(&mut p, "--protocol", mode)?,
        weight: opt_string(&mut p, "--weight", mode)?,
        warning: opt_string(&mut p, "--warning", mode)?,
        critical: opt_string(&mut p, "--critical", mode)?,
    };
    let ldirectord = LdirectordOptions::take(&mut p, mode)?;
    let http_options = match mode {
        Mode::Tcp => None,
        Mode::HttpGet | Mode::Http => Some(http::HttpOptions::take(&mut p, mode)?),
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
            return Err(err(format!("unknown option '{}'", text::arg(&arg))));
        }
        positional.push(arg);
    }
    for arg in after_dashes {
        positional.push(utf8(mode, arg)?);
    }
    // Known before any name is looked up, so the lookup is bounded by it.
    let timeout = parse_timeout(common.timeout.as_deref()).map_err(|m| {
        let mut e = err(m);
        e.protocol = protocol_hint.unwrap_or(if is_ldirectord_form(&positional) {
            Protocol::Ldirectord
        } else {
            Protocol::Nagios
        });
        e
    })?;
    let bounded = |name: &str| lookup(name, timeout);
    let resolve: Resolver = &bounded;
    let ldirectord_form = is_ldirectord_form(&positional);
    let mut protocol_default = Protocol::Nagios;
    let (mut target, fields) = if ldirectord_form {
        protocol_default = Protocol::Ldirectord;
        ldirectord_target(mode, &positional, &ldirectord, family, resolve).map_err(|mut e| {
            e.protocol = protocol_default;
            e
        })?
    } else {
        if let Some(option) = ldirectord.given() {
            return Err(err(format!(
                "{option} is only for the ldirectord form (VIP VPORT RIP RPORT)"
            )));
        }
        expect_count(mode, &positional)?;
        classic_target(mode, &positional, family, resolve)?
    };
    let with_default = |mut e: UsageError| {
        e.protocol = protocol_hint.unwrap_or(protocol_default);
        e
    };
    target.source = parse_source(mode, common.source.as_deref(), &target).map_err(with_default)?;
    target.source_port = common
        .source_port
        .as_deref()
        .map(|p| parse_port_named("--source-port", p, false))
        .transpose()
        .map_err(|m| with_default(err(m)))?;
    let weight = common
        .weight
        .as_deref()
        .map(parse_weight)
        .transpose()
        .map_err(|m| with_default(err(m)))?;
    let protocol = match common.protocol.as_deref() {
        None if weight.is_some() => {
            return Err(with_default(err(
                "--weight only applies to --protocol keepalived-dynamic".into(),
            )))
        }
        None => protocol_default,
        Some(p) => Protocol::parse(p, weight).map_err(|m| with_default(err(m)))?,
    };
    let fail = |m: String| {
        let mut e = err(m);
        e.protocol = protocol;
        e
    };
    let thresholds = Thresholds {
        warning: parse_range("--warning", common.warning.as_deref()).map_err(fail)?,
        critical: parse_range("--critical", common.critical.as_deref()).map_err(fail)?,
    };
    let common = Common {
        target,
        role: parse_role(common.role.as_deref()).map_err(fail)?,
        timeout,
        verbosity,
        protocol,
        thresholds,
    };
    let config = match (http_options, fields) {
        (Some(options), Some(fields)) => {
            let http = options
                .into_config(mode, common, clean_close, fields)
                .map_err(fail)?;
            Config::Http(mode, Box::new(http))
        }
        _ => Config::Tcp(Box::new(TcpConfig {
            common,
            clean_close,
        })),
    };
    Ok(Command::Check(config))
}

fn parse_range(option: &str, arg: Option<&str>) -> Result<Option<Range>, String> {
    arg.map(|a| Range::parse(a).map_err(|e| format!("invalid {option} '{}': {e}", text::arg(a))))
        .transpose()
}

fn utf8(mode: Mode, arg: OsString) -> Result<String, UsageError> {
    arg.into_string().map_err(|a| {
        UsageError::new(
            mode,
            format!(
                "argument '{}' is not valid UTF-8",
                text::arg(&a.to_string_lossy())
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

fn expect_count(mode: Mode, positional: &[String]) -> Result<(), UsageError> {
    let names = mode.positional_names();
    let count = names.len();
    if positional.len() == count {
        return Ok(());
    }
    Err(UsageError::new(
        mode,
        if positional.len() < count {
            format!(
                "missing {} (expects {})",
                names[positional.len()],
                names.join(" ")
            )
        } else {
            format!(
                "too many arguments: {} given, expects {count}: {}",
                positional.len(),
                names.join(" ")
            )
        },
    ))
}

/// ldirectord passes exactly `VIP VPORT RIP RPORT`; in the C form the
/// second argument is REAL_SERVER, never a bare number.
fn is_ldirectord_form(positional: &[String]) -> bool {
    positional.len() == 4
        && !positional[1].is_empty()
        && positional[1].bytes().all(|b| b.is_ascii_digit())
}

/// Both addresses of one family: forced by `-4`/`-6`, else a name takes
/// the family of the literal beside it, else IPv4 first.
fn addresses(
    mode: Mode,
    (rs_name, rs_arg): (&str, &str),
    (vip_name, vip_arg): (&str, &str),
    forced: Option<Family>,
    resolve: Resolver,
) -> Result<(IpAddr, IpAddr), UsageError> {
    let usage = |m: String| UsageError::new(mode, m);
    let for_name = forced
        .or_else(|| literal_family(rs_arg))
        .or_else(|| literal_family(vip_arg));
    let family_of = |arg: &str| {
        forced.or(if literal_family(arg).is_some() {
            None
        } else {
            for_name
        })
    };
    let real_server = parse_address(rs_name, rs_arg, family_of(rs_arg), resolve).map_err(usage)?;
    let vip = parse_address(vip_name, vip_arg, family_of(vip_arg), resolve).map_err(usage)?;
    if real_server.is_ipv4() != vip.is_ipv4() {
        return Err(usage(format!(
            "{rs_name} {real_server} and {vip_name} {vip} are of different address families"
        )));
    }
    Ok((real_server, vip))
}

/// `SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT [HOST PATH [MD5]]` (count checked).
fn classic_target(
    mode: Mode,
    positional: &[String],
    family: Option<Family>,
    resolve: Resolver,
) -> Result<(Target, Option<http::HttpFields>), UsageError> {
    let usage = |m: String| UsageError::new(mode, m);
    let (real_server, vip) = addresses(
        mode,
        ("REAL_SERVER", &positional[1]),
        ("VIRTUAL_IP", &positional[2]),
        family,
        resolve,
    )?;
    let target = Target {
        iface: Interface::Named(parse_iface(&positional[0]).map_err(usage)?),
        real_server,
        vip,
        port: parse_port(&positional[3]).map_err(usage)?,
        source: None,
        source_port: None,
    };
    let fields = (mode != Mode::Tcp).then(|| http::HttpFields {
        host: positional[4].clone(),
        path: positional[5].clone(),
        md5: positional.get(6).cloned(),
    });
    Ok((target, fields))
}

/// `[v6]` as ldirectord writes IPv6 addresses.
fn unbracket(arg: &str) -> &str {
    arg.strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(arg)
}

/// `VIP VPORT RIP RPORT`, ldirectord's external check arguments.
fn ldirectord_target(
    mode: Mode,
    positional: &[String],
    options: &LdirectordOptions,
    family: Option<Family>,
    resolve: Resolver,
) -> Result<(Target, Option<http::HttpFields>), UsageError> {
    let usage = |m: String| UsageError::new(mode, m);
    let vip_arg = unbracket(&positional[0]);
    let fwmark = vip_arg.bytes().all(|b| b.is_ascii_digit());
    let vip_arg = match (&options.vip, fwmark) {
        (Some(vip), _) => unbracket(vip),
        (None, false) => vip_arg,
        (None, true) => {
            return Err(usage(format!(
                "'{}' is a firewall mark, not an address: give the VIP with --vip",
                text::arg(vip_arg)
            )))
        }
    };
    let (real_server, vip) = addresses(
        mode,
        ("RIP", unbracket(&positional[2])),
        ("VIP", vip_arg),
        family,
        resolve,
    )?;
    let vport = parse_port_named("VPORT", &positional[1], true).map_err(usage)?;
    let rport = parse_port_named("RPORT", &positional[3], true).map_err(usage)?;
    let port = match (rport, vport) {
        (0, 0) => return Err(usage("VPORT and RPORT are both 0: no port to check".into())),
        (0, v) => v,
        (r, _) => r,
    };
    let iface = match &options.interface {
        Some(name) => Interface::Named(parse_iface(name).map_err(usage)?),
        None => Interface::ByRoute,
    };
    let target = Target {
        iface,
        real_server,
        vip,
        port,
        source: None,
        source_port: None,
    };
    if mode == Mode::Tcp {
        if let Some(option) = [
            (options.url.is_some(), "--url"),
            (options.host.is_some(), "--host"),
            (options.md5.is_some(), "--md5"),
        ]
        .into_iter()
        .find_map(|(given, name)| given.then_some(name))
        {
            return Err(usage(format!("{option} is only for the HTTP checks")));
        }
        return Ok((target, None));
    }
    if mode == Mode::Http && options.md5.is_some() {
        return Err(usage("--md5 is for check_raw_http_get; use -A here".into()));
    }
    // The Host header names the service: the VIP, bracketed if IPv6.
    let default_host = match vip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    let fields = http::HttpFields {
        host: options.host.clone().unwrap_or(default_host),
        path: options.url.clone().unwrap_or_else(|| "/".into()),
        md5: options.md5.clone(),
    };
    Ok((target, Some(fields)))
}

/// `--source`: a literal of the target's family.
fn parse_source(
    mode: Mode,
    arg: Option<&str>,
    target: &Target,
) -> Result<Option<IpAddr>, UsageError> {
    let Some(arg) = arg else { return Ok(None) };
    let addr: IpAddr = arg.parse().map_err(|_| {
        UsageError::new(
            mode,
            format!("invalid --source '{}': not an IP address", text::arg(arg)),
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

#[cfg(test)]
mod tests;
