//! Checked values: each parser takes one argument's text and returns the
//! value or a one-line message naming the argument. No sockets here; host
//! names go through the `Resolver` given (the system's in production).

use std::net::{IpAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use crate::net::link::MAX_IFNAME;
use crate::role::RoleSource;
use crate::text;

/// Looks a host name up; `system_resolver` in production, a fake in
/// tests and fuzzing (which must not send DNS queries).
pub type Resolver<'r> = &'r dyn Fn(&str) -> std::io::Result<Vec<IpAddr>>;

/// The system's resolver (getaddrinfo).
pub fn system_resolver(name: &str) -> std::io::Result<Vec<IpAddr>> {
    Ok((name, 0).to_socket_addrs()?.map(|a| a.ip()).collect())
}

/// Default `-t`, the C original's unit and value.
pub const DEFAULT_TIMEOUT_MS: u64 = 1000;
/// Shortest `-t` accepted. The C original counts `-t` in milliseconds
/// where Nagios plugins count seconds, so `-t 10` from a Nagios habit
/// would be a 10 ms check that fails on any real network; nothing useful
/// is that short (one ARP round trip on a busy segment can take longer).
pub const MIN_TIMEOUT_MS: u64 = 50;
/// Longest `-t` accepted: ten minutes is past every daemon's own timeout.
pub const MAX_TIMEOUT_MS: u64 = 600_000;
const MAX_PATH_ARG: usize = 4096;
/// Longest host name (RFC 1035).
const MAX_HOSTNAME: usize = 253;

/// IPv4 or IPv6 (`-4`, `-6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(addr: IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }

    pub fn flag(self) -> &'static str {
        match self {
            Family::V4 => "-4",
            Family::V6 => "-6",
        }
    }
}

pub fn literal_family(arg: &str) -> Option<Family> {
    arg.parse::<IpAddr>().ok().map(Family::of)
}

pub fn parse_iface(arg: &str) -> Result<String, String> {
    let bad = |why: &str| format!("invalid SOURCE_IFACE '{}': {why}", text::arg(arg));
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
    parse_port_named("PORT", arg, false)
}

/// A port number; `allow_zero` for ldirectord's "unspecified" port.
pub fn parse_port_named(what: &str, arg: &str, allow_zero: bool) -> Result<u16, String> {
    let bad = |why: &str| format!("invalid {what} '{}': {why}", text::arg(arg));
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a number"));
    }
    match arg.parse::<u32>() {
        Ok(0) if allow_zero => Ok(0),
        Ok(p @ 1..=65535) => Ok(p as u16),
        _ if allow_zero => Err(bad("must be 0-65535")),
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
    let bad = |why: String| format!("invalid {what} '{}': {why}", text::arg(arg));
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
    // Said without "invalid": the argument is fine, the name service is
    // not (`parse_with` turns this into a status line, not a usage error).
    let addrs =
        resolve(arg).map_err(|e| format!("cannot resolve {what} '{}': {e}", text::arg(arg)))?;
    let pick = |f: Family| addrs.iter().copied().find(|a| Family::of(*a) == f);
    match family {
        Some(f) => pick(f).ok_or_else(|| bad(format!("the name has no address for {}", f.flag()))),
        None => pick(Family::V4)
            .or_else(|| pick(Family::V6))
            .ok_or_else(|| bad("the name has no address".into())),
    }
}

/// `-r`: a role file path or `auto`.
pub fn parse_role(arg: Option<&str>) -> Result<RoleSource, String> {
    match arg {
        None => Ok(RoleSource::Default),
        Some("auto") => Ok(RoleSource::Auto),
        Some("") => Err("empty role file name (-r)".into()),
        Some(path) if path.len() > MAX_PATH_ARG => {
            Err(format!("role file name longer than {MAX_PATH_ARG} bytes"))
        }
        Some(path) => Ok(RoleSource::File(PathBuf::from(path))),
    }
}

/// `-t MS`.
pub fn parse_timeout(arg: Option<&str>) -> Result<Duration, String> {
    let Some(arg) = arg else {
        return Ok(Duration::from_millis(DEFAULT_TIMEOUT_MS));
    };
    let bad = |why: &str| format!("invalid timeout (-t) '{}': {why}", text::arg(arg));
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a number of milliseconds"));
    }
    match arg.parse::<u64>() {
        Ok(ms @ MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS) => Ok(Duration::from_millis(ms)),
        // Seconds, as Nagios plugins count them, read as milliseconds.
        Ok(ms @ 1..MIN_TIMEOUT_MS) => Err(format!(
            "-t is in milliseconds: -t {ms} is {ms} ms; did you mean -t {}?",
            ms * 1000
        )),
        _ => Err(bad(&format!(
            "must be {MIN_TIMEOUT_MS}-{MAX_TIMEOUT_MS} ms"
        ))),
    }
}

/// `--weight N` for keepalived's misc_dynamic: exit N + 2 fits 2-255.
pub fn parse_weight(arg: &str) -> Result<u8, String> {
    match arg.parse::<u8>() {
        Ok(w @ 0..=253) if arg.bytes().all(|b| b.is_ascii_digit()) => Ok(w),
        _ => Err(format!(
            "invalid --weight '{}': must be 0-253",
            text::arg(arg)
        )),
    }
}

/// Upper bound of `--max-bytes`: 1 GiB is far beyond any health page.
const MAX_MAX_BYTES: usize = 1 << 30;

pub fn parse_max_bytes(arg: &str) -> Result<usize, String> {
    let bad = |why: &str| format!("invalid --max-bytes '{}': {why}", text::arg(arg));
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a number of bytes"));
    }
    match arg.parse::<usize>() {
        Ok(n @ 1..=MAX_MAX_BYTES) => Ok(n),
        _ => Err(bad(&format!("must be 1-{MAX_MAX_BYTES}"))),
    }
}
