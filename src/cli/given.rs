//! Stage one of parsing: the command line as typed. pico-args pulls every
//! option out as text and the rest is kept as positionals; nothing here
//! can fail, so the exit protocol is decided here, once, from what was
//! typed, before any value is checked.

use std::ffi::OsString;

use super::forms::{is_ldirectord_form, LdirectordOptions};
use super::values::parse_weight;
use super::{dns, http, tls, vip, Mode};
use crate::outcome::Protocol;
use crate::text;
use crate::threshold::Range;

/// Arguments longer than this are refused before any other look.
const MAX_ARG: usize = 8192;

/// Options as typed: pico-args takes them out one by one; a value that is
/// missing or not UTF-8 is remembered as the first problem, not returned,
/// so collecting always finishes.
pub(super) struct Collector {
    p: pico_args::Arguments,
    problem: Option<String>,
    /// Values that were given but could not be read.
    failures: usize,
}

impl Collector {
    pub(super) fn note(&mut self, problem: String) {
        self.failures += 1;
        self.problem.get_or_insert(problem);
    }

    /// An option's value. `keys` is `["-t", "--timeout"]` or `"--regex"`.
    pub(super) fn value(&mut self, keys: impl Into<pico_args::Keys>) -> Option<String> {
        match self.p.opt_value_from_str::<_, String>(keys) {
            Ok(v) => v,
            Err(e) => {
                self.note(value_error(e));
                None
            }
        }
    }

    /// Every value of a repeatable option.
    pub(super) fn values(&mut self, keys: impl Into<pico_args::Keys>) -> Vec<String> {
        match self.p.values_from_str::<_, String>(keys) {
            Ok(v) => v,
            Err(e) => {
                self.note(value_error(e));
                Vec::new()
            }
        }
    }

    pub(super) fn flag(&mut self, keys: impl Into<pico_args::Keys>) -> bool {
        self.p.contains(keys)
    }
}

pub(super) fn value_error(e: pico_args::Error) -> String {
    match e {
        pico_args::Error::OptionWithoutAValue(k) => format!("option {k} needs a value"),
        pico_args::Error::NonUtf8Argument => "an option value is not valid UTF-8".into(),
        other => other.to_string(),
    }
}

/// The options every mode shares, as given.
pub(super) struct CommonOptions {
    pub(super) role: Option<String>,
    pub(super) timeout: Option<String>,
    pub(super) source: Option<String>,
    pub(super) source_port: Option<String>,
    pub(super) protocol: Option<String>,
    pub(super) weight: Option<String>,
    pub(super) warning: Option<String>,
    pub(super) critical: Option<String>,
}

/// The command line as typed: stage one of parsing.
pub(super) struct Given {
    pub(super) help: bool,
    pub(super) version: bool,
    pub(super) common: CommonOptions,
    pub(super) ldirectord: LdirectordOptions,
    pub(super) http: Option<http::HttpOptions>,
    pub(super) dns: Option<dns::DnsOptions>,
    pub(super) vip: Option<vip::VipOptions>,
    pub(super) tls: tls::TlsOptions,
    pub(super) clean_close: bool,
    pub(super) sync_close: bool,
    pub(super) ipv4: bool,
    pub(super) ipv6: bool,
    pub(super) verbosity: u8,
    pub(super) positional: Vec<String>,
    /// The first thing wrong seen while collecting, reported in stage two.
    pub(super) problem: Option<String>,
    /// `--protocol` or `--weight` was given without a readable value.
    pub(super) protocol_unreadable: bool,
    /// Exactly four arguments and not one an option: what ldirectord
    /// itself passes to a `checkcommand` (see [`Given::form`]).
    pub(super) bare_four: bool,
    /// `-w N` / `-c N` typed as for a Nagios plugin: the message that
    /// replaces whatever error they lead to (see [`threshold_hint`]).
    pub(super) threshold_hint: Option<String>,
}

impl Given {
    /// Split `args` into options and positionals. `mode` is `None` when
    /// the check is unknown: the options of every mode are taken then, so
    /// that `--protocol` is still found.
    pub(super) fn collect(mode: Option<Mode>, args: Vec<OsString>) -> Given {
        let bare_four =
            args.len() == 4 && args.iter().all(|a| !a.as_encoded_bytes().starts_with(b"-"));
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
        let threshold_hint = threshold_hint(&options);
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
            threshold_hint,
            bare_four,
        }
    }

    /// Which positional form the arguments are in. ldirectord's `VIP VPORT
    /// RIP RPORT` only when that is beyond doubt: exactly the four
    /// arguments ldirectord passes and no option (its `check_external`
    /// runs `checkcommand VIP VPORT RIP RPORT`), or with an explicit
    /// `--protocol ldirectord`, which is how a wrapper that adds options
    /// says so. Four positionals in that shape with other options are a
    /// director-form command with its arguments out of order, refused.
    pub(super) fn form(&self) -> Form {
        if !is_ldirectord_form(&self.positional) {
            return Form::Director;
        }
        if self.common.protocol.as_deref() == Some("ldirectord") {
            Form::Ldirectord { explicit: true }
        } else if self.bare_four {
            Form::Ldirectord { explicit: false }
        } else {
            Form::Unclear
        }
    }

    /// The exit protocol: `--protocol` (with `--weight`) if given, else
    /// Nagios, the ldirectord form without `--protocol` included: ldirectord
    /// reads any non-zero exit as down, so Nagios' codes serve it too, and a
    /// CRITICAL never leaves as the 1 Nagios reads as WARNING. Options that
    /// name no valid protocol give keepalived's exit codes: 1 is "down" to
    /// every daemon, where a Nagios 3 would read as "up, weight 1" under
    /// misc_dynamic.
    pub(super) fn exit_protocol(&self) -> Protocol {
        self.checked_protocol().unwrap_or(Protocol::Keepalived)
    }

    /// [`Given::exit_protocol`], or why the options name none.
    pub(super) fn checked_protocol(&self) -> Result<Protocol, String> {
        if self.protocol_unreadable {
            return Err("--protocol or --weight has no readable value".into());
        }
        let weight = self
            .common
            .weight
            .as_deref()
            .map(parse_weight)
            .transpose()?;
        match self.common.protocol.as_deref() {
            Some(p) => Protocol::parse(p, weight),
            None if weight.is_some() => {
                Err("--weight only applies to --protocol keepalived-dynamic".into())
            }
            None => Ok(Protocol::Nagios),
        }
    }
}

/// The positional form of a command line ([`Given::form`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// `SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT ...`, the C original's.
    Director,
    /// `VIP VPORT RIP RPORT`; `explicit`: by `--protocol ldirectord`, else
    /// the bare four arguments ldirectord passes.
    Ldirectord { explicit: bool },
    /// ldirectord's shape with options but without `--protocol ldirectord`.
    Unclear,
}

/// Nagios plugins take thresholds as `-w N -c N`. Here `-w` is no option
/// and `-c` is `--clean-close`, a flag, so `-c 2` leaves `2` among the
/// positionals and the error would be a puzzling "too many arguments".
/// The hint says what to write instead; it replaces the message only when
/// the command line fails anyway (`-c` before a fwmark `5` that parses is
/// left alone). `None` when neither habit shows.
pub(super) fn threshold_hint(options: &[OsString]) -> Option<String> {
    let after = |flag: &str| {
        let at = options.iter().position(|a| a == flag)?;
        Some(
            options
                .get(at + 1)
                .and_then(|v| v.to_str())
                .filter(|v| Range::parse(v).is_ok())
                .map(text::arg),
        )
    };
    let warning = after("-w");
    let critical = after("-c").flatten();
    Some(match (warning, critical) {
        (None, None) => return None,
        (None, Some(c)) => format!(
            "-c is --clean-close here (a flag); for a critical response-time threshold use --critical {c} (seconds)"
        ),
        (Some(w), Some(c)) => format!(
            "-w and -c are not thresholds here (-c is --clean-close): use --warning {} --critical {c} (seconds)",
            w.as_deref().unwrap_or("N")
        ),
        (Some(Some(w)), None) => format!(
            "-w is not an option here; for a warning response-time threshold use --warning {w} (seconds)"
        ),
        (Some(None), None) => {
            "-w is not an option here; thresholds are --warning and --critical (seconds)".into()
        }
    })
}
