//! check_raw_serve's command line: what to do, with which file, how
//! loud. pico-args, as the plugins' `cli` does, but none of its two-stage
//! machinery: the daemon has five options and no exit protocol to keep
//! (its exit codes are its own, `--once` aside).
//!
//! ```text
//! check_raw_serve [--config FILE] [-v]          run (the daemon)
//! check_raw_serve --check [--config FILE]       validate, print the summary
//! check_raw_serve --once [--config FILE] [-v]   every check once, a plugin
//! check_raw_serve --print-keepalived [--config FILE]
//! check_raw_serve --probe MODULE TARGET [--config FILE] [-v]
//! check_raw_serve --help | --version
//! ```

use std::ffi::OsString;
use std::path::PathBuf;

use crate::text;

use super::config::DEFAULT_PATH;

/// The program's name, in every message.
pub const PROGRAM: &str = "check_raw_serve";

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The daemon (no mode option).
    Run,
    /// `--check`: validate the file (host included), print the summary.
    Check,
    /// `--once`: every check once, concurrently; a Nagios plugin.
    Once,
    /// `--print-keepalived`: the keepalived.conf section.
    PrintKeepalived,
    /// `--probe MODULE TARGET`: what `GET /probe` would answer, once.
    Probe,
    Help,
    Version,
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeArgs {
    pub action: Action,
    pub config: PathBuf,
    /// `-v` given (any count): the daemon logs every run; `--once` adds
    /// each check's detail lines; `--probe` answers as `debug=true`.
    pub verbose: bool,
    /// `--probe MODULE TARGET`'s two words.
    pub probe: Option<(String, String)>,
}

/// A refused command line: one line, without the program's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgsError(pub String);

/// Does this command line ask for `--once`? Asked before (and whether or
/// not) it parses: a usage error of `--once` is a plugin's UNKNOWN line,
/// any other one a daemon's stderr line.
pub fn wants_once(args: &[OsString]) -> bool {
    args.iter().any(|a| a == "--once")
}

/// Parse the arguments after the program name (or after `check_raw serve`).
pub fn parse(args: Vec<OsString>) -> Result<ServeArgs, ArgsError> {
    let mut p = pico_args::Arguments::from_vec(args);
    let usage = |m: String| ArgsError(m);
    if p.contains(["-h", "--help"]) {
        return Ok(ServeArgs {
            action: Action::Help,
            config: PathBuf::from(DEFAULT_PATH),
            verbose: false,
            probe: None,
        });
    }
    if p.contains(["-V", "--version"]) {
        return Ok(ServeArgs {
            action: Action::Version,
            config: PathBuf::from(DEFAULT_PATH),
            verbose: false,
            probe: None,
        });
    }
    // From a str, not an OsStr: pico-args splits `--config=FILE` only so.
    let config: Option<String> = p
        .opt_value_from_fn("--config", |s| Ok::<_, String>(s.to_string()))
        .map_err(|e| match e {
            pico_args::Error::Utf8ArgumentParsingFailed { .. } => {
                usage("--config FILE: the name is not UTF-8".into())
            }
            _ => usage("--config needs a FILE (--config FILE)".into()),
        })?;
    if config.as_ref().is_some_and(|c| c.is_empty()) {
        return Err(usage("--config needs a FILE, not an empty name".into()));
    }
    let probe_module: Option<String> = p
        .opt_value_from_fn("--probe", |s| Ok::<_, String>(s.to_string()))
        .map_err(|_| usage("--probe needs a MODULE and a TARGET (--probe MODULE TARGET)".into()))?;
    let mut modes = Vec::new();
    if probe_module.is_some() {
        modes.push(("--probe", Action::Probe));
    }
    for (flag, action) in [
        ("--check", Action::Check),
        ("--once", Action::Once),
        ("--print-keepalived", Action::PrintKeepalived),
    ] {
        if p.contains(flag) {
            modes.push((flag, action));
        }
    }
    // -v, -vv, -v -v: a count is accepted, one level is all there is.
    let mut verbose = false;
    for _ in 0..16 {
        if !p.contains("-v") && !p.contains("--verbose") {
            break;
        }
        verbose = true;
    }
    // The target is the one free word --probe takes; looked for after
    // every option, as pico-args wants.
    let probe = match probe_module {
        Some(module) => {
            let target: Option<String> = p
                .opt_free_from_fn(|s| Ok::<_, String>(s.to_string()))
                .map_err(|_| usage("--probe MODULE TARGET: the target is not UTF-8".into()))?;
            let Some(target) = target else {
                return Err(usage(
                    "--probe needs a MODULE and a TARGET (--probe MODULE TARGET)".into(),
                ));
            };
            Some((module, target))
        }
        None => None,
    };
    let rest = p.finish();
    if let Some(first) = rest.first() {
        let arg = first.to_string_lossy();
        let message = if arg == "--config" {
            "--config given twice".to_string()
        } else if arg.starts_with('-') && arg.len() > 1 {
            format!(
                "unknown option '{}' (see {PROGRAM} --help)",
                text::arg(&arg)
            )
        } else {
            format!(
                "unexpected argument '{}': the file goes after --config",
                text::arg(&arg)
            )
        };
        return Err(usage(message));
    }
    let action = match modes.as_slice() {
        [] => Action::Run,
        [(_, action)] => *action,
        [(a, _), (b, _), ..] => return Err(usage(format!("{a} and {b} exclude each other"))),
    };
    if verbose && matches!(action, Action::Check | Action::PrintKeepalived) {
        // Harmless, but an operator who typed it expects something.
        return Err(usage(format!(
            "-v goes with the daemon or --once, not with {}",
            modes[0].0
        )));
    }
    Ok(ServeArgs {
        action,
        config: config.map_or_else(|| PathBuf::from(DEFAULT_PATH), PathBuf::from),
        verbose,
        probe,
    })
}

/// `--version`.
pub fn version() -> String {
    format!("{PROGRAM} v{} (check_raw)\n", env!("CARGO_PKG_VERSION"))
}

/// `--help`.
pub fn help() -> String {
    format!(
        "{PROGRAM} v{version} (check_raw)
Every check of a pool of real servers from one process: each [[check]] is
the check_raw_* command line it replaces, run every interval; rise/fall
decide each real server's state, written to STATE_DIR/NAME (1 up, 0 down)
for keepalived's track_file/FILE_CHECK.

Usage: {PROGRAM} [--config FILE] [-v]         the daemon (logs on stderr)
       {PROGRAM} --check [--config FILE]      validate, print a summary
       {PROGRAM} --once [--config FILE] [-v]  every check once (a plugin)
       {PROGRAM} --print-keepalived [--config FILE]
       {PROGRAM} --probe MODULE TARGET [--config FILE] [-v]
       check_raw serve ARGS                   (the same)

Options:
      --config FILE      the configuration (default {DEFAULT_PATH})
      --check            check the file and this host (interfaces, listen,
                         state_dir), print one line per check; exit 0, or 1
                         and the errors
      --once             run every check once, concurrently; print a Nagios
                         status line and one line per check; exit 0..3
      --print-keepalived print the keepalived.conf section for these checks
      --probe MODULE TARGET
                         run [[module]] MODULE once for the real server TARGET
                         and print what GET /probe would answer (blackbox's
                         metrics); with -v its debug text; exit 0 answered,
                         2 refused (unknown module, bad target: one line)
  -v, --verbose          log every run (daemon); detail lines (--once)
  -h, --help             this text
  -V, --version          the version

HTTP: with listen = \"127.0.0.1:10117\" in the file, GET /metrics (Prometheus),
/probe?module=NAME&target=REAL_SERVER (blackbox's form), / (status page) and
/status.json; none without it.

Signals: SIGHUP reloads the file (a broken one is refused, the running
configuration stays); SIGTERM, SIGINT, SIGQUIT stop (open flows end with
RST; state files stay). systemd: Type=notify, WatchdogSec= honoured.
Exit codes: 0 stopped by a signal or done; 1 configuration or usage error;
2 a --probe request refused.
",
        version = env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<ServeArgs, ArgsError> {
        parse(args.iter().map(OsString::from).collect())
    }

    fn action(args: &[&str]) -> Action {
        parse_strs(args).unwrap().action
    }

    fn error(args: &[&str]) -> String {
        parse_strs(args).unwrap_err().0
    }

    #[test]
    fn no_option_runs_with_the_default_file() {
        let a = parse_strs(&[]).unwrap();
        assert_eq!(a.action, Action::Run);
        assert_eq!(a.config, PathBuf::from("/etc/check_raw/serve.toml"));
        assert!(!a.verbose);
    }

    #[test]
    fn modes_files_and_verbosity() {
        assert_eq!(action(&["--check"]), Action::Check);
        assert_eq!(action(&["--once", "-v"]), Action::Once);
        assert_eq!(action(&["--print-keepalived"]), Action::PrintKeepalived);
        assert_eq!(action(&["--help"]), Action::Help);
        assert_eq!(action(&["-h", "--bogus"]), Action::Help);
        assert_eq!(action(&["-V"]), Action::Version);
        let a = parse_strs(&["--config", "/tmp/s.toml", "-vv"]).unwrap();
        assert_eq!(a.config, PathBuf::from("/tmp/s.toml"));
        assert!(a.verbose);
        let a = parse_strs(&["--config=/x.toml", "-v", "-v", "--once"]).unwrap();
        assert_eq!(a.config, PathBuf::from("/x.toml"));
        assert_eq!(a.action, Action::Once);
        assert!(a.verbose);
    }

    #[test]
    fn usage_errors_are_one_clear_line() {
        assert_eq!(
            error(&["--bogus"]),
            "unknown option '--bogus' (see check_raw_serve --help)"
        );
        assert_eq!(
            error(&["serve.toml"]),
            "unexpected argument 'serve.toml': the file goes after --config"
        );
        assert_eq!(
            error(&["--config"]),
            "--config needs a FILE (--config FILE)"
        );
        assert_eq!(
            error(&["--config", "a", "--config", "b"]),
            "--config given twice"
        );
        assert_eq!(
            error(&["--check", "--once"]),
            "--check and --once exclude each other"
        );
        assert_eq!(
            error(&["--check", "-v"]),
            "-v goes with the daemon or --once, not with --check"
        );
        for e in [error(&["--config="]), error(&["-x\n"])] {
            assert!(!e.contains('\n'), "{e:?}");
        }
    }

    #[test]
    fn probe_takes_a_module_and_a_target() {
        let a = parse_strs(&[
            "--probe",
            "http_vip",
            "198.51.100.11",
            "--config",
            "/s.toml",
        ])
        .unwrap();
        assert_eq!(a.action, Action::Probe);
        assert_eq!(
            a.probe,
            Some(("http_vip".to_string(), "198.51.100.11".to_string()))
        );
        assert_eq!(a.config, PathBuf::from("/s.toml"));
        let a = parse_strs(&["-v", "--probe", "m", "2001:db8::11"]).unwrap();
        assert!(a.verbose);
        assert_eq!(a.probe.unwrap().1, "2001:db8::11");
        let needs = "--probe needs a MODULE and a TARGET (--probe MODULE TARGET)";
        assert_eq!(error(&["--probe"]), needs);
        assert_eq!(error(&["--probe", "m"]), needs);
        assert_eq!(
            error(&["--probe", "m", "t", "u"]),
            "unexpected argument 'u': the file goes after --config"
        );
        assert_eq!(
            error(&["--probe", "m", "t", "--once"]),
            "--probe and --once exclude each other"
        );
        assert_eq!(parse_strs(&["--check"]).unwrap().probe, None);
    }

    #[test]
    fn once_is_seen_before_parsing() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(wants_once(&args(&["--bogus", "--once"])));
        assert!(!wants_once(&args(&["--check"])));
    }

    #[test]
    fn help_and_version_name_the_program() {
        assert!(version().starts_with("check_raw_serve v"));
        assert!(help().contains("--print-keepalived"));
        assert!(help().lines().all(|l| l.len() <= 80), "{}", help());
    }
}
