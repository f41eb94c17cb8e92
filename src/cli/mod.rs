//! The command line: which check (from argv[0] or a subcommand), its
//! options and positional arguments, checked into a config the rest of the
//! program trusts.
//!
//! Two stages, as ripgrep does it: pico-args pulls raw options out, then
//! every value is checked (`values`, `http`) with a one-line message naming
//! the argument. Two positional forms: the C original's
//! `SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT ...`, and ldirectord's
//! `VIP VPORT RIP RPORT` (recognised by its second argument being a port).
//! check_raw_vip takes the first three of the C form and no ldirectord
//! form: it checks the real server's hold on the VIP, not a service.

mod dns;
mod help;
mod http;
mod tls;
mod values;
mod vip;

use std::ffi::OsString;
use std::net::IpAddr;
use std::time::Duration;

use crate::http::{Request, ResponseChecks};
use crate::outcome::{Protocol, State};
use crate::role::RoleSource;
use crate::threshold::Range;
use crate::transport::tls::TlsConfig;

use crate::text;
pub use help::{help, program_name, usage, version};
use values::{literal_family, parse_port_named, parse_role, parse_timeout, parse_weight};
pub use values::{
    parse_address, parse_iface, parse_port, system_resolver, Family, Resolver, DEFAULT_TIMEOUT_MS,
    MAX_TIMEOUT_MS,
};

/// The checks of the multicall binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Tcp,
    HttpGet,
    Http,
    Dns,
    /// Is the real server configured for LVS-DR: VIP held, ARP quiet.
    Vip,
}

pub const VALID_NAMES: &str = "check_raw_tcp, check_raw_http_get, check_raw_http, check_raw_dns, check_raw_vip (or check_raw tcp|http_get|http|dns|vip)";

impl Mode {
    /// The mode of a program name (`check_raw_tcp`) or subcommand (`tcp`).
    pub fn from_name(name: &str) -> Option<Mode> {
        match name.strip_prefix("check_raw_").unwrap_or(name) {
            "tcp" => Some(Mode::Tcp),
            "http_get" => Some(Mode::HttpGet),
            "http" => Some(Mode::Http),
            "dns" => Some(Mode::Dns),
            "vip" => Some(Mode::Vip),
            _ => None,
        }
    }

    pub fn program(self) -> &'static str {
        match self {
            Mode::Tcp => "check_raw_tcp",
            Mode::HttpGet => "check_raw_http_get",
            Mode::Http => "check_raw_http",
            Mode::Dns => "check_raw_dns",
            Mode::Vip => "check_raw_vip",
        }
    }

    /// The service name that starts the status line.
    pub fn service(self) -> &'static str {
        match self {
            Mode::Tcp => "RAW_TCP",
            Mode::HttpGet => "RAW_HTTP_GET",
            Mode::Http => "RAW_HTTP",
            Mode::Dns => "RAW_DNS",
            Mode::Vip => "RAW_VIP",
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
        const DNS: [&str; 5] = ["SOURCE_IFACE", "REAL_SERVER", "VIRTUAL_IP", "PORT", "NAME"];
        match self {
            Mode::Tcp => &TCP,
            Mode::HttpGet => &GET,
            Mode::Http => &GET[..6],
            Mode::Dns => &DNS,
            Mode::Vip => &TCP[..3],
        }
    }
}

/// The interface frames leave by, as the command line gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfaceArg {
    Named(String),
    /// ldirectord form: the one the kernel routes the real server through.
    ByRoute,
}

/// Where the checked packets go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub iface: IfaceArg,
    pub real_server: IpAddr,
    pub vip: IpAddr,
    /// check_raw_vip: `--port`, or 0 when it pings instead.
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
    /// `--sync-close`: close the packet socket in the process (and wait
    /// its RCU grace period) instead of in a detached child after the
    /// verdict (see `detach`).
    pub sync_close: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TcpConfig {
    pub common: Common,
    pub clean_close: bool,
    /// `--ssl`: a TLS handshake after the TCP one.
    pub tls: Option<TlsConfig>,
}

/// check_raw_http_get and check_raw_http: one request, its expectations.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub common: Common,
    pub clean_close: bool,
    pub request: Request,
    pub expect: ResponseChecks,
    /// Largest response accepted (head and body as framed on the wire).
    pub max_bytes: usize,
    /// `--ssl`: the request and response inside TLS.
    pub tls: Option<TlsConfig>,
}

/// check_raw_dns: one query, its expectations.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    pub common: Common,
    pub query: crate::dns::Query,
    pub expect: crate::dns::AnswerChecks,
    /// `--tcp`: ask over TCP from the start (else UDP, TCP after TC).
    pub tcp: bool,
}

/// check_raw_vip: which probes, and how bad an ARP leak is.
#[derive(Debug, Clone, PartialEq)]
pub struct VipConfig {
    pub common: Common,
    /// `--port`: prove the VIP with a SYN to VIP:PORT instead of an echo.
    pub port: Option<u16>,
    /// The state of a real server answering ARP/NDP for the VIP
    /// (`--arp-leak`, WARNING by default).
    pub arp_leak: State,
    /// `--segment`: also ask the whole link who claims the VIP.
    pub segment: bool,
}

/// A fully checked configuration.
#[derive(Debug, Clone)]
pub enum Config {
    Tcp(Box<TcpConfig>),
    Http(Mode, Box<HttpConfig>),
    Dns(Box<DnsConfig>),
    Vip(Box<VipConfig>),
}

impl Config {
    pub fn protocol(&self) -> Protocol {
        self.common().protocol
    }

    /// The options every check has.
    pub fn common(&self) -> &Common {
        match self {
            Config::Tcp(c) => &c.common,
            Config::Http(_, c) => &c.common,
            Config::Dns(c) => &c.common,
            Config::Vip(c) => &c.common,
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
///
/// Two stages. First every option is pulled out as text and the rest kept
/// as positionals; nothing is checked and nothing can fail, so the exit
/// protocol is decided there, once, from what was typed. Then each value
/// is checked; whatever fails, the one-line message leaves with that
/// protocol, so even a usage error exits the way the calling daemon reads.
pub fn parse_with(argv: Vec<OsString>, lookup: NameLookup) -> Result<Command, UsageError> {
    let (mode, args) = split_argv(argv);
    let given = Given::collect(mode.as_ref().ok().copied(), args);
    let protocol = given.exit_protocol();
    let usage = |mode: Option<Mode>, message: String| UsageError {
        mode,
        message: text::status_safe(&message),
        protocol,
    };
    let mode = mode.map_err(|message| usage(None, message))?;
    check(mode, given, protocol, lookup).map_err(|message| usage(Some(mode), message))
}

/// The exit protocol a usage error (or a panic) of this argv gets: the
/// same decision `parse_with` makes, for `main`'s paths that have no
/// parsed config to ask.
pub fn exit_protocol(argv: &[OsString]) -> Protocol {
    let (mode, args) = split_argv(argv.to_vec());
    Given::collect(mode.ok(), args).exit_protocol()
}

/// The check named by argv[0] (`check_raw_tcp`) or, for `check_raw`, by
/// the first argument, and the arguments that follow it.
fn split_argv(argv: Vec<OsString>) -> (Result<Mode, String>, Vec<OsString>) {
    let mut argv = argv.into_iter();
    let name = program_name(&argv.next().unwrap_or_default());
    let mut rest: Vec<OsString> = argv.collect();
    if name != "check_raw" {
        let mode = Mode::from_name(&name)
            .filter(|_| name.starts_with("check_raw_"))
            .ok_or_else(|| {
                format!(
                    "unknown program name '{}': call me as one of {VALID_NAMES}",
                    text::arg(&name)
                )
            });
        return (mode, rest);
    }
    let sub = rest.first().map(|s| s.to_string_lossy().into_owned());
    match sub.as_deref().and_then(Mode::from_name) {
        Some(mode) => {
            rest.remove(0);
            (Ok(mode), rest)
        }
        None => (
            Err(format!(
                "check_raw needs a check name first: tcp, http_get, http, dns or vip ({})",
                match sub {
                    Some(s) => format!("got '{}'", text::arg(&s)),
                    None => "got nothing".into(),
                }
            )),
            rest,
        ),
    }
}

/// Options as typed: pico-args takes them out one by one; a value that is
/// missing or not UTF-8 is remembered as the first problem, not returned,
/// so collecting always finishes.
struct Collector {
    p: pico_args::Arguments,
    problem: Option<String>,
    /// Values that were given but could not be read.
    failures: usize,
}

impl Collector {
    fn note(&mut self, problem: String) {
        self.failures += 1;
        self.problem.get_or_insert(problem);
    }

    /// An option's value. `keys` is `["-t", "--timeout"]` or `"--regex"`.
    fn value(&mut self, keys: impl Into<pico_args::Keys>) -> Option<String> {
        match self.p.opt_value_from_str::<_, String>(keys) {
            Ok(v) => v,
            Err(e) => {
                self.note(value_error(e));
                None
            }
        }
    }

    /// Every value of a repeatable option.
    fn values(&mut self, keys: impl Into<pico_args::Keys>) -> Vec<String> {
        match self.p.values_from_str::<_, String>(keys) {
            Ok(v) => v,
            Err(e) => {
                self.note(value_error(e));
                Vec::new()
            }
        }
    }

    fn flag(&mut self, keys: impl Into<pico_args::Keys>) -> bool {
        self.p.contains(keys)
    }
}

fn value_error(e: pico_args::Error) -> String {
    match e {
        pico_args::Error::OptionWithoutAValue(k) => format!("option {k} needs a value"),
        pico_args::Error::NonUtf8Argument => "an option value is not valid UTF-8".into(),
        other => other.to_string(),
    }
}

/// Options of the ldirectord form (`VIP VPORT RIP RPORT`).
#[derive(Debug, Default)]
struct LdirectordOptions {
    vip: Option<String>,
    interface: Option<String>,
    url: Option<String>,
    host: Option<String>,
    md5: Option<String>,
    /// check_raw_dns: the NAME to ask for.
    query: Option<String>,
}

impl LdirectordOptions {
    fn take(c: &mut Collector) -> Self {
        LdirectordOptions {
            vip: c.value("--vip"),
            interface: c.value("--interface"),
            url: c.value("--url"),
            host: c.value("--host"),
            md5: c.value("--md5"),
            query: c.value(["-l", "--query"]),
        }
    }

    fn given(&self) -> Option<&'static str> {
        [
            (self.vip.is_some(), "--vip"),
            (self.interface.is_some(), "--interface"),
            (self.url.is_some(), "--url"),
            (self.host.is_some(), "--host"),
            (self.md5.is_some(), "--md5"),
            (self.query.is_some(), "--query"),
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

/// The command line as typed: stage one of parsing.
struct Given {
    help: bool,
    version: bool,
    common: CommonOptions,
    ldirectord: LdirectordOptions,
    http: Option<http::HttpOptions>,
    dns: Option<dns::DnsOptions>,
    vip: Option<vip::VipOptions>,
    tls: tls::TlsOptions,
    clean_close: bool,
    sync_close: bool,
    ipv4: bool,
    ipv6: bool,
    verbosity: u8,
    positional: Vec<String>,
    /// The first thing wrong seen while collecting, reported in stage two.
    problem: Option<String>,
    /// `--protocol` or `--weight` was given without a readable value.
    protocol_unreadable: bool,
}

impl Given {
    /// Split `args` into options and positionals. `mode` is `None` when
    /// the check is unknown: the options of every mode are taken then, so
    /// that `--protocol` is still found.
    fn collect(mode: Option<Mode>, args: Vec<OsString>) -> Given {
        let mut problem = args.iter().find(|a| a.len() > MAX_ARG).map(|long| {
            format!(
                "argument of {} bytes is too long (at most {MAX_ARG})",
                long.len()
            )
        });
        // Everything after `--` is positional, whatever it looks like.
        let (mut options, after_dashes) = match args.iter().position(|a| a == "--") {
            Some(at) => (args[..at].to_vec(), args[at + 1..].to_vec()),
            None => (args, Vec::new()),
        };
        // Before pico-args, which cannot take an optional value.
        let (ssl, ssl_problem) = tls::take_ssl(&mut options);
        problem = problem.or(ssl_problem);
        let mut c = Collector {
            p: pico_args::Arguments::from_vec(options),
            problem: None,
            failures: 0,
        };
        let help = c.flag(["-h", "--help"]);
        let version = c.flag(["-V", "--version"]);
        // The protocol's options first, counting what could not be read.
        let (protocol, weight) = (c.value("--protocol"), c.value("--weight"));
        let protocol_unreadable = c.failures > 0;
        // Values before flags: combined flags (-cv) are only safe that way.
        let common = CommonOptions {
            role: c.value(["-r", "--role-file"]),
            timeout: c.value(["-t", "--timeout"]),
            source: c.value("--source"),
            source_port: c.value("--source-port"),
            protocol,
            weight,
            warning: c.value("--warning"),
            critical: c.value("--critical"),
        };
        let ldirectord = LdirectordOptions::take(&mut c);
        let tls = tls::TlsOptions::take(&mut c, ssl);
        let http = match mode {
            Some(Mode::Tcp | Mode::Dns | Mode::Vip) => None,
            Some(m @ (Mode::HttpGet | Mode::Http)) => Some(http::HttpOptions::take(&mut c, m)),
            None => Some(http::HttpOptions::take(&mut c, Mode::Http)),
        };
        let dns = matches!(mode, Some(Mode::Dns) | None).then(|| dns::DnsOptions::take(&mut c));
        let vip = matches!(mode, Some(Mode::Vip) | None).then(|| vip::VipOptions::take(&mut c));
        let clean_close = c.flag(["-c", "--clean-close"]);
        let sync_close = c.flag("--sync-close");
        let ipv4 = c.flag(["-4", "--ipv4"]);
        let ipv6 = c.flag(["-6", "--ipv6"]);
        let mut verbosity: u8 = 0;
        while verbosity < u8::MAX && c.flag(["-v", "--verbose"]) {
            verbosity += 1;
        }
        let mut positional = Vec::new();
        let text_of = |arg: OsString, problem: &mut Option<String>| match arg.into_string() {
            Ok(s) => s,
            Err(a) => {
                let lossy = a.to_string_lossy().into_owned();
                problem.get_or_insert(format!(
                    "argument '{}' is not valid UTF-8",
                    text::arg(&lossy)
                ));
                lossy
            }
        };
        problem = problem.or(c.problem.take());
        for arg in c.p.finish() {
            let arg = text_of(arg, &mut problem);
            if arg.starts_with('-') && arg.len() > 1 {
                problem.get_or_insert(format!("unknown option '{}'", text::arg(&arg)));
            } else {
                positional.push(arg);
            }
        }
        for arg in after_dashes {
            positional.push(text_of(arg, &mut problem));
        }
        Given {
            help,
            version,
            common,
            ldirectord,
            http,
            dns,
            vip,
            tls,
            clean_close,
            sync_close,
            ipv4,
            ipv6,
            verbosity,
            positional,
            problem,
            protocol_unreadable,
        }
    }

    /// The exit protocol: `--protocol` (with `--weight`) if given, else
    /// ldirectord's when the positionals are its `VIP VPORT RIP RPORT`,
    /// else Nagios. Options that name no valid protocol give keepalived's
    /// exit codes: 1 is "down" to every daemon, where a Nagios 3 would
    /// read as "up, weight 1" under misc_dynamic.
    fn exit_protocol(&self) -> Protocol {
        self.checked_protocol().unwrap_or(Protocol::Keepalived)
    }

    /// [`Given::exit_protocol`], or why the options name none.
    fn checked_protocol(&self) -> Result<Protocol, String> {
        if self.protocol_unreadable {
            return Err("--protocol or --weight has no readable value".into());
        }
        let weight = self
            .common
            .weight
            .as_deref()
            .map(parse_weight)
            .transpose()?;
        // With a problem (an unknown option may have left its value among
        // the positionals), ldirectord's four are looked for at the end, as
        // ldirectord and its wrappers pass them.
        let tail = &self.positional[self.positional.len().saturating_sub(4)..];
        let digits = |a: &str| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit());
        let shape = match self.problem {
            // Both ports must be numbers there, or the classic HTTP form's
            // tail (VIP PORT HOST PATH) would pass for it.
            Some(_) if tail.len() == 4 && digits(&tail[3]) => tail,
            _ => &self.positional[..],
        };
        match self.common.protocol.as_deref() {
            Some(p) => Protocol::parse(p, weight),
            None if weight.is_some() => {
                Err("--weight only applies to --protocol keepalived-dynamic".into())
            }
            None if is_ldirectord_form(shape) => Ok(Protocol::Ldirectord),
            None => Ok(Protocol::Nagios),
        }
    }
}

/// Stage two: check every value of `given` into a command.
fn check(
    mode: Mode,
    given: Given,
    protocol: Protocol,
    lookup: NameLookup,
) -> Result<Command, String> {
    if given.help {
        return Ok(Command::Help(mode, protocol));
    }
    if given.version {
        return Ok(Command::Version(mode, protocol));
    }
    if let Some(problem) = given.problem {
        return Err(problem);
    }
    // Stage one decided the protocol; here its errors are reported.
    let protocol = given.checked_protocol()?;
    let family = match (given.ipv4, given.ipv6) {
        (true, true) => return Err("-4 and -6 exclude each other".into()),
        (true, false) => Some(Family::V4),
        (false, true) => Some(Family::V6),
        (false, false) => None,
    };
    let options = given.common;
    let positional = &given.positional;
    // Known before any name is looked up, so the lookup is bounded by it.
    let timeout = parse_timeout(options.timeout.as_deref())?;
    let bounded = |name: &str| lookup(name, timeout);
    let resolve: Resolver = &bounded;
    let (mut target, fields) = if is_ldirectord_form(positional) {
        if mode == Mode::Vip {
            return Err("check_raw_vip has no ldirectord form (VIP VPORT RIP RPORT): it checks how the real server holds the VIP, not a service; give SOURCE_IFACE REAL_SERVER VIRTUAL_IP".into());
        }
        ldirectord_target(mode, positional, &given.ldirectord, family, resolve)?
    } else {
        if let Some(option) = given.ldirectord.given() {
            return Err(format!(
                "{option} is only for the ldirectord form (VIP VPORT RIP RPORT)"
            ));
        }
        expect_count(mode, positional)?;
        classic_target(mode, positional, family, resolve)?
    };
    target.source = parse_source(options.source.as_deref(), &target)?;
    target.source_port = options
        .source_port
        .as_deref()
        .map(|p| parse_port_named("--source-port", p, false))
        .transpose()?;
    let thresholds = Thresholds {
        warning: parse_range("--warning", options.warning.as_deref())?,
        critical: parse_range("--critical", options.critical.as_deref())?,
    };
    let common = Common {
        target,
        role: parse_role(options.role.as_deref())?,
        timeout,
        verbosity: given.verbosity,
        protocol,
        thresholds,
        sync_close: given.sync_close,
    };
    let vip = common.target.vip;
    if matches!(mode, Mode::Dns | Mode::Vip) {
        if let Some(option) = given.tls.given() {
            return Err(format!("{option} is for the TCP and HTTP checks"));
        }
    }
    let config = match (given.http, fields, given.dns) {
        _ if mode == Mode::Vip => match given.vip {
            Some(options) => Config::Vip(Box::new(options.into_config(common, given.clean_close)?)),
            None => return Err("check_raw_vip's options were not collected".into()),
        },
        (Some(options), Some(Fields::Http(fields)), _) => {
            let host = fields.host.clone();
            let mut http = options.into_config(mode, common, given.clean_close, fields)?;
            http.tls = given.tls.into_config(Some(&host), vip, http.max_bytes)?;
            Config::Http(mode, Box::new(http))
        }
        (_, Some(Fields::Dns(name)), Some(options)) => {
            if given.clean_close {
                return Err("-c is for the TCP and HTTP checks".into());
            }
            Config::Dns(Box::new(options.into_config(common, &name)?))
        }
        _ => Config::Tcp(Box::new(TcpConfig {
            common,
            clean_close: given.clean_close,
            tls: given
                .tls
                .into_config(None, vip, crate::http::DEFAULT_MAX_BYTES)?,
        })),
    };
    Ok(Command::Check(config))
}

fn parse_range(option: &str, arg: Option<&str>) -> Result<Option<Range>, String> {
    arg.map(|a| Range::parse(a).map_err(|e| format!("invalid {option} '{}': {e}", text::arg(a))))
        .transpose()
}

fn expect_count(mode: Mode, positional: &[String]) -> Result<(), String> {
    let names = mode.positional_names();
    let count = names.len();
    if positional.len() == count {
        return Ok(());
    }
    Err(if positional.len() < count {
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
    })
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
    (rs_name, rs_arg): (&str, &str),
    (vip_name, vip_arg): (&str, &str),
    forced: Option<Family>,
    resolve: Resolver,
) -> Result<(IpAddr, IpAddr), String> {
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
    let real_server = parse_address(rs_name, rs_arg, family_of(rs_arg), resolve)?;
    let vip = parse_address(vip_name, vip_arg, family_of(vip_arg), resolve)?;
    if real_server.is_ipv4() != vip.is_ipv4() {
        return Err(format!(
            "{rs_name} {real_server} and {vip_name} {vip} are of different address families"
        ));
    }
    Ok((real_server, vip))
}

/// `SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT [HOST PATH [MD5]]` (count checked).
fn classic_target(
    mode: Mode,
    positional: &[String],
    family: Option<Family>,
    resolve: Resolver,
) -> Result<(Target, Option<Fields>), String> {
    let (real_server, vip) = addresses(
        ("REAL_SERVER", &positional[1]),
        ("VIRTUAL_IP", &positional[2]),
        family,
        resolve,
    )?;
    let target = Target {
        iface: IfaceArg::Named(parse_iface(&positional[0])?),
        real_server,
        vip,
        // check_raw_vip's port is an option (`--port`), set with it.
        port: match mode {
            Mode::Vip => 0,
            _ => parse_port(&positional[3])?,
        },
        source: None,
        source_port: None,
    };
    let fields = match mode {
        Mode::Tcp | Mode::Vip => None,
        Mode::Dns => Some(Fields::Dns(positional[4].clone())),
        Mode::HttpGet | Mode::Http => Some(Fields::Http(http::HttpFields {
            host: positional[4].clone(),
            path: positional[5].clone(),
            md5: positional.get(6).cloned(),
        })),
    };
    Ok((target, fields))
}

/// What a mode takes beyond the target, from either positional form.
enum Fields {
    Http(http::HttpFields),
    /// check_raw_dns: NAME.
    Dns(String),
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
) -> Result<(Target, Option<Fields>), String> {
    let vip_arg = unbracket(&positional[0]);
    let fwmark = vip_arg.bytes().all(|b| b.is_ascii_digit());
    let vip_arg = match (&options.vip, fwmark) {
        (Some(vip), _) => unbracket(vip),
        (None, false) => vip_arg,
        (None, true) => {
            return Err(format!(
                "'{}' is a firewall mark, not an address: give the VIP with --vip",
                text::arg(vip_arg)
            ))
        }
    };
    let (real_server, vip) = addresses(
        ("RIP", unbracket(&positional[2])),
        ("VIP", vip_arg),
        family,
        resolve,
    )?;
    let vport = parse_port_named("VPORT", &positional[1], true)?;
    let rport = parse_port_named("RPORT", &positional[3], true)?;
    let port = match (rport, vport) {
        (0, 0) => return Err("VPORT and RPORT are both 0: no port to check".into()),
        (0, v) => v,
        (r, _) => r,
    };
    let iface = match &options.interface {
        Some(name) => IfaceArg::Named(parse_iface(name)?),
        None => IfaceArg::ByRoute,
    };
    let target = Target {
        iface,
        real_server,
        vip,
        port,
        source: None,
        source_port: None,
    };
    if mode != Mode::Dns && options.query.is_some() {
        return Err("--query is only for check_raw_dns".into());
    }
    if matches!(mode, Mode::Tcp | Mode::Dns) {
        if let Some(option) = [
            (options.url.is_some(), "--url"),
            (options.host.is_some(), "--host"),
            (options.md5.is_some(), "--md5"),
        ]
        .into_iter()
        .find_map(|(given, name)| given.then_some(name))
        {
            return Err(format!("{option} is only for the HTTP checks"));
        }
        if mode == Mode::Dns {
            let name = options
                .query
                .clone()
                .ok_or("the ldirectord form of check_raw_dns needs --query NAME")?;
            return Ok((target, Some(Fields::Dns(name))));
        }
        return Ok((target, None));
    }
    if mode == Mode::Http && options.md5.is_some() {
        return Err("--md5 is for check_raw_http_get; use -A here".into());
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
    Ok((target, Some(Fields::Http(fields))))
}

/// `--source`: a literal of the target's family.
fn parse_source(arg: Option<&str>, target: &Target) -> Result<Option<IpAddr>, String> {
    let Some(arg) = arg else { return Ok(None) };
    let addr: IpAddr = arg
        .parse()
        .map_err(|_| format!("invalid --source '{}': not an IP address", text::arg(arg)))?;
    if addr.is_ipv4() != target.vip.is_ipv4() {
        return Err(format!(
            "--source {addr} is not of the VIRTUAL_IP's address family"
        ));
    }
    Ok(Some(addr))
}

#[cfg(test)]
mod tests;
