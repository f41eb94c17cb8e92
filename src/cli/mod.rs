//! The command line: which check (from argv[0] or a subcommand), its
//! options and positional arguments, checked into a config the rest of the
//! program trusts.
//!
//! Two stages, as ripgrep does it: `given` pulls raw options out with
//! pico-args (and decides the exit protocol), then `validate` checks
//! every value (`values`, `http`, `dns`, `vip`, `tls`) with a one-line
//! message naming the argument. Two positional forms (`forms`): the C
//! original's `SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT ...`, and
//! ldirectord's `VIP VPORT RIP RPORT` (its second argument a port, and
//! taken only bare, as ldirectord passes it, or with `--protocol
//! ldirectord`: `Given::form`). check_raw_vip takes the first three of the C form and no
//! ldirectord form: it checks the real server's hold on the VIP, not a
//! service. This file holds the modes, the config types and the front
//! door (`check_raw NAME`, `check_raw --help`).

mod dns;
mod forms;
mod given;
mod help;
mod http;
mod tls;
mod values;
mod vip;

use std::cell::Cell;
use std::ffi::OsString;
use std::net::IpAddr;
use std::time::Duration;

use crate::http::{Request, ResponseChecks};
use crate::outcome::{Protocol, State};
use crate::role::RoleSource;
use crate::threshold::Range;
use crate::transport::tls::TlsConfig;

use crate::text;
use forms::{classic_target, expect_count, ldirectord_target, parse_source, Fields};
use given::{Collector, Form, Given};
pub use help::{help, overview, own_version, program_name, usage, usage_error_text, version};
pub use values::{
    parse_address, parse_iface, parse_port, system_resolver, Family, Resolver, DEFAULT_TIMEOUT_MS,
    MAX_TIMEOUT_MS, MIN_TIMEOUT_MS,
};
use values::{parse_port_named, parse_role, parse_timeout};

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

pub const VALID_NAMES: &str = "check_raw_tcp, check_raw_http_get, check_raw_http, check_raw_dns, check_raw_vip (or check_raw tcp|http_get|http|dns|vip), and the daemon check_raw_serve (check_raw serve)";

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
    /// `--source`: overrides the kernel's choice of source IP (never the VIP).
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
    /// The ldirectord form, said at `-v`: why it was taken and what it
    /// implies (`ldirectord form: ...`); None for the director form.
    pub form: Option<String>,
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
    /// `check_raw --help` (or `-h`): the binary by its own name, as a
    /// newcomer types it: the checks, one line each.
    Overview(Protocol),
    /// `check_raw --version` (or `-V`).
    OwnVersion(Protocol),
    Check(Config),
}

/// A usage error: which mode (if known), a one-line message, and the
/// protocol whose exit code it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    pub mode: Option<Mode>,
    pub message: String,
    pub protocol: Protocol,
    /// A host name did not resolve: not the user's typo but the check's
    /// surroundings, so `main` prints a status line in
    /// [`UNRESOLVED_STATE`] instead of the usage text.
    pub lookup_failed: bool,
}

/// The state of a check whose host name does not resolve. CRITICAL, as
/// the plugin guidelines say: UNKNOWN is for bad arguments and failures
/// inside the plugin, while "higher-level errors (name resolution, socket
/// timeouts) are outside of the control of plugins and should generally
/// NOT be reported as UNKNOWN" (monitoring-plugins' developer guidelines;
/// its own np_net_connect returns UNKNOWN there, against them). For this
/// check it is also the honest verdict: the path to the service cannot be
/// built, like a real server that does not answer. Under keepalived's and
/// ldirectord's protocols it exits 1 (down) like every other failure.
pub const UNRESOLVED_STATE: State = State::Critical;

/// Looks host names up, given the check's `-t`: `main` passes one that
/// gives up at the check's deadline or on a signal.
pub type NameLookup<'r> = &'r dyn Fn(&str, Duration) -> std::io::Result<Vec<IpAddr>>;

/// The `-v` line that says the unit of `-t`: `timeout 10 ms (-t counts
/// milliseconds)`, for whoever came with seconds in mind; in the
/// ldirectord form followed by a second line that says so.
pub fn timeout_line(common: &Common) -> String {
    let line = format!(
        "timeout {} ms (-t counts milliseconds)",
        common.timeout.as_millis()
    );
    match &common.form {
        Some(form) => format!("{line}\n{form}"),
        None => line,
    }
}

/// The `-v` line of the ldirectord form.
fn form_line(explicit: bool, target: &Target, protocol: Protocol) -> String {
    let why = if explicit {
        "--protocol ldirectord"
    } else {
        "exactly four arguments and no option, as ldirectord passes them"
    };
    let iface = match &target.iface {
        IfaceArg::Named(name) => format!("interface {name} (--interface)"),
        IfaceArg::ByRoute => "the interface the route to RIP takes".into(),
    };
    let codes = match protocol {
        Protocol::Nagios => "Nagios exit codes (ldirectord reads any non-zero as down)",
        Protocol::Ldirectord => "exit 0 up, 1 down",
        _ => "the exit codes of --protocol",
    };
    format!(
        "ldirectord form (VIP VPORT RIP RPORT, by {why}): VIP {} RIP {} port {}, {iface}, {codes}",
        target.vip, target.real_server, target.port
    )
}

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
    let (named, args) = split_argv(argv);
    let given = Given::collect(named.mode(), args);
    let protocol = given.exit_protocol();
    let hint = given.threshold_hint.clone();
    let usage = |mode: Option<Mode>, message: String| UsageError {
        mode,
        message: text::status_safe(&message),
        protocol,
        lookup_failed: false,
    };
    let mode = match named {
        Named::Check(mode) => mode,
        Named::Overview => return Ok(Command::Overview(protocol)),
        Named::OwnVersion => return Ok(Command::OwnVersion(protocol)),
        Named::Nothing(message) => return Err(usage(None, message)),
    };
    // Set when the resolver fails (not when a name merely lacks an address
    // of the family asked for): that error is then no usage error.
    let lookup_failed = Cell::new(false);
    let watched = |name: &str, timeout| {
        let result = lookup(name, timeout);
        if result.is_err() {
            lookup_failed.set(true);
        }
        result
    };
    validate(mode, given, protocol, &watched).map_err(|message| {
        // A Nagios habit (-w, -c N) explains the error better than the
        // error itself ("too many arguments", or REAL_SERVER 'eth0' not
        // resolving when -c 2 shifted the positionals).
        if let Some(hint) = hint {
            return usage(Some(mode), hint);
        }
        if lookup_failed.get() {
            return UsageError {
                lookup_failed: true,
                ..usage(Some(mode), message)
            };
        }
        usage(Some(mode), message)
    })
}

/// The exit protocol a usage error (or a panic) of this argv gets: the
/// same decision `parse_with` makes, for `main`'s paths that have no
/// parsed config to ask.
pub fn exit_protocol(argv: &[OsString]) -> Protocol {
    let (named, args) = split_argv(argv.to_vec());
    Given::collect(named.mode(), args).exit_protocol()
}

/// What argv[0] (and, for `check_raw`, the first argument) names.
enum Named {
    Check(Mode),
    /// `check_raw --help` or `-h`.
    Overview,
    /// `check_raw --version` or `-V`.
    OwnVersion,
    /// No check: why, in one line.
    Nothing(String),
}

impl Named {
    fn mode(&self) -> Option<Mode> {
        match self {
            Named::Check(mode) => Some(*mode),
            _ => None,
        }
    }
}

/// The check named by argv[0] (`check_raw_tcp`) or, for `check_raw`, by
/// the first argument, and the arguments that follow it. `check_raw`
/// alone with `--help` or `--version` answers for the whole binary, as
/// busybox and coreutils do.
fn split_argv(argv: Vec<OsString>) -> (Named, Vec<OsString>) {
    let mut argv = argv.into_iter();
    let name = program_name(&argv.next().unwrap_or_default());
    let mut rest: Vec<OsString> = argv.collect();
    if name != "check_raw" {
        let named = match Mode::from_name(&name).filter(|_| name.starts_with("check_raw_")) {
            Some(mode) => Named::Check(mode),
            None => Named::Nothing(format!(
                "unknown program name '{}': call me as one of {VALID_NAMES}",
                text::arg(&name)
            )),
        };
        return (named, rest);
    }
    let sub = rest.first().map(|s| s.to_string_lossy().into_owned());
    let named = match sub.as_deref() {
        Some("-h" | "--help") => Named::Overview,
        Some("-V" | "--version") => Named::OwnVersion,
        Some(s) => match Mode::from_name(s) {
            Some(mode) => Named::Check(mode),
            None => {
                return (
                    Named::Nothing(format!(
                        "a check name must come first: tcp, http_get, http, dns or vip (got '{}')",
                        text::arg(s)
                    )),
                    rest,
                )
            }
        },
        None => Named::Nothing(
            "a check name must come first: tcp, http_get, http, dns or vip (got nothing)".into(),
        ),
    };
    if !rest.is_empty() {
        rest.remove(0);
    }
    (named, rest)
}

/// Stage two: check every value of `given` into a command.
fn validate(
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
    let form = given.form();
    let options = given.common;
    let positional = &given.positional;
    // Known before any name is looked up, so the lookup is bounded by it.
    let timeout = parse_timeout(options.timeout.as_deref())?;
    let bounded = |name: &str| lookup(name, timeout);
    let resolve: Resolver = &bounded;
    if mode == Mode::Vip && form != Form::Director {
        return Err("check_raw_vip has no ldirectord form (VIP VPORT RIP RPORT): it checks how the real server holds the VIP, not a service; give SOURCE_IFACE REAL_SERVER VIRTUAL_IP".into());
    }
    let (mut target, fields) = match form {
        Form::Ldirectord { .. } => {
            ldirectord_target(mode, positional, &given.ldirectord, family, resolve)?
        }
        Form::Unclear => return Err(format!(
            "'{}' looks like ldirectord's VIP VPORT RIP RPORT, which is taken only alone (as ldirectord passes it) or with --protocol ldirectord; the director form is {}",
            text::arg(&positional.join(" ")),
            mode.positional_names().join(" ")
        )),
        Form::Director => {
            if let Some(option) = given.ldirectord.given() {
                return Err(format!(
                    "{option} is only for the ldirectord form (VIP VPORT RIP RPORT)"
                ));
            }
            expect_count(mode, positional)?;
            classic_target(mode, positional, family, resolve)?
        }
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
        form: None,
    };
    let common = match form {
        Form::Ldirectord { explicit } => Common {
            form: Some(form_line(explicit, &common.target, protocol)),
            ..common
        },
        _ => common,
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

#[cfg(test)]
mod tests;
