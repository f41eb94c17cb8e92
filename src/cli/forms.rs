//! The two positional forms a target is given in: the C original's
//! `SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT ...` and ldirectord's
//! `VIP VPORT RIP RPORT`, each checked into a [`Target`] and what the mode
//! takes beyond it (`Fields`).

use std::net::IpAddr;

use super::given::Collector;
use super::values::{literal_family, parse_port_named};
use super::{
    http, parse_address, parse_iface, parse_port, Family, IfaceArg, Mode, Resolver, Target,
};
use crate::text;

/// Options of the ldirectord form (`VIP VPORT RIP RPORT`).
#[derive(Debug, Default)]
pub(super) struct LdirectordOptions {
    pub(super) vip: Option<String>,
    pub(super) interface: Option<String>,
    pub(super) url: Option<String>,
    pub(super) host: Option<String>,
    md5: Option<String>,
    /// check_raw_dns: the NAME to ask for.
    pub(super) query: Option<String>,
}

impl LdirectordOptions {
    pub(super) fn take(c: &mut Collector) -> Self {
        LdirectordOptions {
            vip: c.value("--vip"),
            interface: c.value("--interface"),
            url: c.value("--url"),
            host: c.value("--host"),
            md5: c.value("--md5"),
            query: c.value(["-l", "--query"]),
        }
    }

    pub(super) fn given(&self) -> Option<&'static str> {
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

pub(super) fn expect_count(mode: Mode, positional: &[String]) -> Result<(), String> {
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

/// The shape of ldirectord's `VIP VPORT RIP RPORT`: in the C form the
/// second argument is REAL_SERVER, never a bare number. The shape alone
/// does not take the form: see `Given::form`.
pub(super) fn is_ldirectord_form(positional: &[String]) -> bool {
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
pub(super) fn classic_target(
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
pub(super) enum Fields {
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
pub(super) fn ldirectord_target(
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
                .ok_or(
                    "the ldirectord form of check_raw_dns needs --query NAME (with --protocol ldirectord, as any option in that form)",
                )?;
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

/// `--source`: a literal of the target's family, never the VIP (frames
/// from the VIP never come back: the real server answers itself).
pub(super) fn parse_source(arg: Option<&str>, target: &Target) -> Result<Option<IpAddr>, String> {
    let Some(arg) = arg else { return Ok(None) };
    let addr: IpAddr = arg
        .parse()
        .map_err(|_| format!("invalid --source '{}': not an IP address", text::arg(arg)))?;
    if addr.is_ipv4() != target.vip.is_ipv4() {
        return Err(format!(
            "--source {addr} is not of the VIRTUAL_IP's address family"
        ));
    }
    if addr == target.vip {
        return Err(format!(
            "--source {addr} is the VIRTUAL_IP: the source must never be the VIP (the real server would answer itself); give another address of SOURCE_IFACE, or none"
        ));
    }
    Ok(Some(addr))
}
