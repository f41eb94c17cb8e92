//! The `[[module]]` tables of serve.toml: the command lines `/probe` (and
//! `check_raw_serve --probe`) run once for a target, blackbox_exporter's
//! multi-target pattern.
//!
//! ```toml
//! [[module]]
//! name = "http_vip"          # [A-Za-z0-9_.-]+, unique among modules
//! command = "check_raw_http -S 200 eth0 {target} 203.0.113.10 80 www.example.com /health"
//! ```
//!
//! `{target}` stands once in the command for the real server's address
//! the request names. A module is checked when the file is read, as a
//! `[[check]]` is: the command, with a documentation address of each
//! family in place of `{target}` (192.0.2.1, 2001:db8::1), must parse by
//! the plugins' own parser for at least one family; the families that
//! parse are the targets the module takes (a check's real server and VIP
//! are of one family). So a broken module is refused by `--check` and at
//! start, with file, line and key, and a request can only fail for its
//! target.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::cli::{Config, NameLookup};
use crate::text;

use super::config::{parse_command, valid_name};

/// What stands for the target in a module's command.
pub const PLACEHOLDER: &str = "{target}";
/// The keys of a `[[module]]`.
pub const MODULE_KEYS: &[&str] = &["name", "command"];
/// The addresses a command is tried with at load (RFC 5737, RFC 3849).
const SAMPLES: [&str; 2] = ["192.0.2.1", "2001:db8::1"];

/// One `[[module]]`, checked.
#[derive(Debug, Clone)]
pub struct ProbeModule {
    pub name: String,
    /// As written, `{target}` in it.
    pub command: String,
    /// The line of its `[[module]]` header.
    pub line: usize,
    /// Takes IPv4 targets, IPv6 targets (at least one of the two).
    pub ipv4: bool,
    pub ipv6: bool,
    /// The command as parsed with the first sample that parsed: its `-t`
    /// and interface, for `--check` and the host check.
    pub sample: Config,
}

impl ProbeModule {
    /// Does the module's command take `target`'s family?
    pub fn takes(&self, target: IpAddr) -> bool {
        match target {
            IpAddr::V4(_) => self.ipv4,
            IpAddr::V6(_) => self.ipv6,
        }
    }

    /// The command with `target` in place of `{target}`.
    pub fn command_for(&self, target: IpAddr) -> String {
        self.command.replacen(PLACEHOLDER, &target.to_string(), 1)
    }

    /// The command's `-t`.
    pub fn timeout(&self) -> Duration {
        self.sample.common().timeout
    }

    /// "IPv4", "IPv6" or "IPv4 or IPv6", for messages.
    pub fn families(&self) -> &'static str {
        match (self.ipv4, self.ipv6) {
            (true, true) => "IPv4 or IPv6",
            (false, true) => "IPv6",
            _ => "IPv4",
        }
    }
}

/// The modules of a configuration, by name.
#[derive(Debug, Clone, Default)]
pub struct Modules {
    by_name: BTreeMap<String, ProbeModule>,
}

impl Modules {
    pub fn get(&self, name: &str) -> Option<&ProbeModule> {
        self.by_name.get(name)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// In name order.
    pub fn iter(&self) -> impl Iterator<Item = &ProbeModule> {
        self.by_name.values()
    }

    /// The names, for "unknown module" messages: the first few.
    pub fn names(&self) -> String {
        const SHOWN: usize = 8;
        let mut names: Vec<&str> = self
            .by_name
            .keys()
            .take(SHOWN)
            .map(String::as_str)
            .collect();
        if self.by_name.len() > SHOWN {
            names.push("...");
        }
        names.join(", ")
    }
}

/// An error found in the `[[module]]` tables: the byte offset it is at,
/// its key (`module.NAME.KEY`, or `module[N].KEY` while the module has no
/// valid name) and the message; config.rs turns the offset into a line.
pub type ModuleError = (usize, String, String);

/// Every `[[module]]` of `value` (the top-level `module` key), checked;
/// the modules with an error are left out (the errors say why).
/// `line` turns a byte offset into a line number.
pub fn parse(
    value: &Spanned<DeValue>,
    lookup: NameLookup,
    line: &dyn Fn(usize) -> usize,
) -> (Modules, Vec<ModuleError>) {
    let mut errors: Vec<ModuleError> = Vec::new();
    let mut modules = Modules::default();
    let at = value.span().start;
    let Some(array) = value.get_ref().as_array() else {
        errors.push((at, "module".into(), "must be [[module]] tables".into()));
        return (modules, errors);
    };
    for (index, entry) in array.iter().enumerate() {
        let start = entry.span().start;
        let Some(table) = entry.get_ref().as_table() else {
            errors.push((start, "module".into(), "must be [[module]] tables".into()));
            continue;
        };
        let name = module_name(table, index, start, &mut errors);
        let prefix = match &name {
            Some(name) => format!("module.{name}."),
            None => format!("module[{}].", index + 1),
        };
        for key in table.keys() {
            if !MODULE_KEYS.contains(&key.get_ref().as_ref()) {
                errors.push((
                    key.span().start,
                    format!("{prefix}{}", text::arg(key.get_ref())),
                    format!("unknown key (known here: {})", MODULE_KEYS.join(", ")),
                ));
            }
        }
        if let Some(name) = &name {
            if let Some(first) = modules.get(name) {
                let message = format!("duplicate name \"{name}\" (first at line {})", first.line);
                let at = table.get("name").map_or(start, |v| v.span().start);
                errors.push((at, format!("{prefix}name"), message));
                continue;
            }
        }
        let command_key = format!("{prefix}command");
        let Some(value) = table.get("command") else {
            let message = format!("missing: the plugin command line, with {PLACEHOLDER} once");
            errors.push((start, command_key, message));
            continue;
        };
        let DeValue::String(command) = value.get_ref() else {
            let message = format!("must be a string, not {}", value.get_ref().type_str());
            errors.push((value.span().start, command_key, message));
            continue;
        };
        match checked(command, lookup) {
            Ok((ipv4, ipv6, sample)) => {
                if let Some(name) = name {
                    let module = ProbeModule {
                        name: name.clone(),
                        command: command.to_string(),
                        line: line(start),
                        ipv4,
                        ipv6,
                        sample,
                    };
                    modules.by_name.insert(name, module);
                }
            }
            Err(message) => errors.push((value.span().start, command_key, message)),
        }
    }
    (modules, errors)
}

/// The module's `name`, if present and valid (errors said otherwise).
fn module_name(
    table: &DeTable,
    index: usize,
    at: usize,
    errors: &mut Vec<ModuleError>,
) -> Option<String> {
    let key = format!("module[{}].name", index + 1);
    let Some(value) = table.get("name") else {
        errors.push((at, key, "missing: every [[module]] needs a name".into()));
        return None;
    };
    let DeValue::String(name) = value.get_ref() else {
        let message = format!("must be a string, not {}", value.get_ref().type_str());
        errors.push((value.span().start, key, message));
        return None;
    };
    match valid_name(name) {
        Ok(()) => Some(name.to_string()),
        Err(why) => {
            errors.push((value.span().start, key, why));
            None
        }
    }
}

/// A command that holds `{target}` once and parses with a sample address
/// of at least one family: which families, and the first parse.
fn checked(command: &str, lookup: NameLookup) -> Result<(bool, bool, Config), String> {
    let n = command.matches(PLACEHOLDER).count();
    if n != 1 {
        return Err(format!(
            "must hold {PLACEHOLDER} exactly once (where the real server's address goes), not {n} times"
        ));
    }
    let tried: Vec<Result<Config, String>> = SAMPLES
        .iter()
        .map(|sample| parse_command(&command.replacen(PLACEHOLDER, sample, 1), lookup))
        .collect();
    let ipv4 = tried[0].is_ok();
    let ipv6 = tried[1].is_ok();
    let mut messages = Vec::new();
    for (sample, result) in SAMPLES.iter().zip(tried) {
        match result {
            Ok(config) => return Ok((ipv4, ipv6, config)),
            Err(message) => messages.push(format!("with {PLACEHOLDER} = {sample}: {message}")),
        }
    }
    Err(messages.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::config::{ConfigError, ServeConfig};
    use std::path::Path;

    fn fake(name: &str, _: Duration) -> std::io::Result<Vec<IpAddr>> {
        match name {
            "vip.example" => Ok(vec!["203.0.113.10".parse().unwrap()]),
            _ => Err(std::io::Error::other("no such name")),
        }
    }

    const CHECK: &str =
        "[[check]]\nname = \"c\"\ncommand = \"check_raw_tcp eth0 198.51.100.11 203.0.113.10 80\"\n";

    fn parse(modules: &str) -> Result<ServeConfig, Vec<ConfigError>> {
        // The modules first: a key after [[check]] would be the check's.
        let source = format!("{modules}{CHECK}");
        ServeConfig::parse(Path::new("/s.toml"), &source, &fake)
    }

    fn errors(modules: &str) -> Vec<String> {
        match parse(modules) {
            Ok(_) => panic!("expected errors"),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    fn module(name: &str, command: &str) -> String {
        format!("[[module]]\nname = \"{name}\"\ncommand = \"{command}\"\n")
    }

    #[test]
    fn a_module_takes_the_family_of_its_vip() {
        let source = module(
            "http_vip",
            "check_raw_http -S 200 -t 900 eth0 {target} 203.0.113.10 80 www.example.com /health",
        ) + &module("tcp6", "check_raw_tcp eth0 {target} 2001:db8::10 443")
            + &module("by_name", "check_raw_tcp eth0 {target} vip.example 80");
        let config = parse(&source).unwrap();
        assert_eq!(config.modules.len(), 3);
        let http = config.modules.get("http_vip").unwrap();
        assert_eq!(http.line, 1);
        assert!(http.ipv4 && !http.ipv6);
        assert_eq!(http.families(), "IPv4");
        assert_eq!(http.timeout(), Duration::from_millis(900));
        let rs: IpAddr = "198.51.100.12".parse().unwrap();
        assert!(http.takes(rs));
        assert_eq!(
            http.command_for(rs),
            "check_raw_http -S 200 -t 900 eth0 198.51.100.12 203.0.113.10 80 www.example.com /health"
        );
        let tcp6 = config.modules.get("tcp6").unwrap();
        assert!(!tcp6.ipv4 && tcp6.ipv6);
        assert!(!tcp6.takes(rs));
        assert!(config.modules.get("by_name").unwrap().ipv4);
        assert_eq!(config.modules.names(), "by_name, http_vip, tcp6");
        let summary = crate::serve::config::summary(&config);
        assert!(
            summary.contains(
                "\nmodule tcp6  tcp  check_raw_tcp eth0 {target} 2001:db8::10 443, IPv6 targets, -t 1000 ms\n"
            ),
            "{summary}"
        );
    }

    #[test]
    fn the_placeholder_stands_exactly_once() {
        let e = errors(&module(
            "m",
            "check_raw_tcp eth0 198.51.100.11 203.0.113.10 80",
        ));
        assert_eq!(
            e,
            ["/s.toml:3: module.m.command: must hold {target} exactly once (where the real server's address goes), not 0 times"]
        );
        let e = errors(&module("m", "check_raw_tcp eth0 {target} {target} 80"));
        assert!(e[0].ends_with("not 2 times"), "{e:?}");
    }

    #[test]
    fn a_bad_command_is_refused_with_the_plugins_message_for_each_family() {
        let e = errors(&module(
            "m",
            "check_raw_tcp -t 0 eth0 {target} 203.0.113.10 80",
        ));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with(
                "/s.toml:3: module.m.command: with {target} = 192.0.2.1: check_raw_tcp: "
            ),
            "{e:?}"
        );
        assert!(e[0].contains("; with {target} = 2001:db8::1: "), "{e:?}");
        let e = errors(&module("m", "check_raw_serve {target}"));
        assert!(e[0].contains("cannot be a check of its own"), "{e:?}");
    }

    #[test]
    fn names_keys_and_tables_are_checked() {
        let tcp = "check_raw_tcp eth0 {target} 203.0.113.10 80";
        let e = errors(&(module("a", tcp) + &module("a", tcp)));
        assert_eq!(
            e,
            ["/s.toml:5: module.a.name: duplicate name \"a\" (first at line 1)"]
        );
        let e = errors(&module("a/b", tcp));
        assert!(
            e[0].starts_with("/s.toml:2: module[1].name: \"a/b\" has \"/\""),
            "{e:?}"
        );
        let e = errors(&format!("[[module]]\ncommand = \"{tcp}\"\nbogus = 1\n"));
        assert_eq!(
            e,
            [
                "/s.toml:1: module[1].name: missing: every [[module]] needs a name",
                "/s.toml:3: module[1].bogus: unknown key (known here: name, command)"
            ]
        );
        let e = errors("[[module]]\nname = \"m\"\n");
        assert_eq!(
            e,
            ["/s.toml:1: module.m.command: missing: the plugin command line, with {target} once"]
        );
        let e = errors("module = 3\n");
        assert_eq!(e, ["/s.toml:1: module: must be [[module]] tables"]);
        assert!(parse("").unwrap().modules.is_empty());
    }
}
