//! The `[[check]]` tables: each one's name, settings and command, the
//! command parsed by the plugins' own `cli::parse_with`.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::time::Duration;

use toml::de::DeTable;

use super::{
    count, interval, show, string, unknown_keys, CheckSpec, Defaults, Entry, Errors, CHECK_KEYS,
    MAX_NAME,
};
use crate::cli::{self, Command, Config, Mode, NameLookup};
use crate::text;

/// Every `[[check]]`, names unique; the checks that had an error are left
/// out (the errors say why).
pub(super) fn checks(
    value: Entry,
    defaults: &Defaults,
    lookup: NameLookup,
    errors: &mut Errors,
) -> Vec<CheckSpec> {
    let at = value.span().start;
    let Some(array) = value.get_ref().as_array() else {
        errors.add(at, "check", "must be [[check]] tables");
        return Vec::new();
    };
    if array.is_empty() {
        errors.add(at, "check", "no [[check]]: nothing to do");
    }
    let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
    let mut checks = Vec::new();
    for (index, entry) in array.iter().enumerate() {
        let line = errors.line(entry.span().start);
        let Some(table) = entry.get_ref().as_table() else {
            errors.add(entry.span().start, "check", "must be [[check]] tables");
            continue;
        };
        let name = check_name(table, index, entry.span().start, errors);
        let prefix = match &name {
            Some(name) => format!("check.{name}."),
            None => format!("check[{}].", index + 1),
        };
        if let Some(name) = &name {
            let (first_index, first) = *seen.entry(name.clone()).or_insert((index, line));
            if first_index != index {
                let message = format!("duplicate name \"{name}\" (first at line {first})");
                let at = table
                    .get("name")
                    .map_or(entry.span().start, |v| v.span().start);
                errors.add(at, &format!("{prefix}name"), message);
            }
        }
        let spec = check(table, entry.span().start, &prefix, defaults, lookup, errors);
        if let (Some(name), Some((command, config, interval, rise, fall))) = (name, spec) {
            checks.push(CheckSpec {
                name,
                command,
                config,
                interval,
                rise,
                fall,
                line,
            });
        }
    }
    checks
}

/// The check's `name`, if present and valid (errors said otherwise).
fn check_name(table: &DeTable, index: usize, at: usize, errors: &mut Errors) -> Option<String> {
    let key = format!("check[{}].name", index + 1);
    let Some(value) = table.get("name") else {
        errors.add(at, &key, "missing: every [[check]] needs a name");
        return None;
    };
    let name = string(value, &key, errors)?;
    match valid_name(name) {
        Ok(()) => Some(name.to_string()),
        Err(why) => {
            errors.add(value.span().start, &key, why);
            None
        }
    }
}

/// A name is a file name in `state_dir`: `[A-Za-z0-9_.-]+`, not `.` or `..`.
pub fn valid_name(name: &str) -> Result<(), String> {
    let shown = text::quoted(name);
    if name.is_empty() {
        return Err("empty: a name is [A-Za-z0-9_.-]+".into());
    }
    if name.len() > MAX_NAME {
        return Err(format!("{shown} is longer than {MAX_NAME} bytes"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "{shown} has {}: a name is [A-Za-z0-9_.-]+ (it names a file)",
            text::quoted(&c.to_string())
        ));
    }
    if name.bytes().all(|b| b == b'.') {
        return Err(format!("{shown} is no file name"));
    }
    Ok(())
}

type Parts = (String, Config, Duration, u32, u32);

/// The rest of one `[[check]]`: its command parsed, its settings.
fn check(
    table: &DeTable,
    at: usize,
    prefix: &str,
    defaults: &Defaults,
    lookup: NameLookup,
    errors: &mut Errors,
) -> Option<Parts> {
    unknown_keys(table, CHECK_KEYS, prefix, errors);
    let key = |k: &str| format!("{prefix}{k}");
    let interval = match table.get("interval") {
        Some(v) => interval(v, &key("interval"), errors),
        None => Some(defaults.interval),
    };
    let rise = match table.get("rise") {
        Some(v) => count(v, &key("rise"), errors),
        None => Some(defaults.rise),
    };
    let fall = match table.get("fall") {
        Some(v) => count(v, &key("fall"), errors),
        None => Some(defaults.fall),
    };
    let command_key = key("command");
    let Some(value) = table.get("command") else {
        errors.add(at, &command_key, "missing: the plugin command line to run");
        return None;
    };
    let command = string(value, &command_key, errors)?;
    let at = value.span().start;
    let config = match parse_command(command, lookup) {
        Ok(config) => config,
        Err(message) => {
            errors.add(at, &command_key, message);
            return None;
        }
    };
    let interval = interval?;
    let timeout = config.common().timeout;
    if timeout >= interval {
        let default = if timeout.as_millis() == u128::from(cli::DEFAULT_TIMEOUT_MS) {
            " (the default)"
        } else {
            ""
        };
        let message = format!(
            "-t {} ms{default} is not below the check's interval {}: a run must end before the next one starts",
            timeout.as_millis(),
            show(interval)
        );
        errors.add(at, &command_key, message);
        return None;
    }
    Some((command.to_string(), config, interval, rise?, fall?))
}

/// A plugin command line into its config, by the plugins' own parser:
/// split as a shell splits words (quotes, backslashes, `#` comments; no
/// expansion), argv[0] a bare name or a path (its base name counts, as in
/// the plugins' dispatch). The message is the plugin's own.
pub fn parse_command(command: &str, lookup: NameLookup) -> Result<Config, String> {
    let argv = shlex::split(command)
        .ok_or("does not split into words: an unclosed quote or a trailing backslash")?;
    let Some(first) = argv.first() else {
        return Err(
            "empty: the plugin command line to run, e.g. check_raw_tcp IFACE RS VIP PORT".into(),
        );
    };
    let program = cli::program_name(OsStr::new(first));
    let subcommand = argv.get(1).map(String::as_str);
    if program == "check_raw_serve" || (program == "check_raw" && subcommand == Some("serve")) {
        return Err(
            "check_raw_serve cannot be a check of its own: name a plugin (check_raw_tcp, ...)"
                .into(),
        );
    }
    let mut os: Vec<OsString> = argv.into_iter().map(OsString::from).collect();
    os[0] = OsString::from(&program);
    let not_a_check = |what: &str| format!("{program}: {what} is not a check");
    match cli::parse_with(os, lookup) {
        Ok(Command::Check(config)) => Ok(config),
        Ok(Command::Help(..) | Command::Overview(..)) => Err(not_a_check("--help")),
        Ok(Command::Version(..) | Command::OwnVersion(..)) => Err(not_a_check("--version")),
        Err(e) => Err(format!(
            "{}: {}",
            e.mode.map_or("check_raw", Mode::program),
            e.message
        )),
    }
}
