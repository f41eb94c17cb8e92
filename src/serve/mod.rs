//! check_raw_serve: every check of a pool from one long-running process,
//! each the plugin command line it replaces. This layer sits above
//! `checks` (a check's run is the plugins' run) and below `main`.
//!
//! The pure pieces (time passed in, never read):
//! - `config`: the configuration file, read, checked and summed up;
//! - `state`: each check's rise/fall state and counters;
//! - `statefile`: keepalived's FILE_CHECK files, written atomically;
//! - `schedule`: when each check runs, spread over its interval;
//! - `keepalived`: the keepalived.conf fragments for these checks, and
//!   what keepalived 2.2.7 does with the state files (measured);
//! - `args`: the command line; `reload`: what a SIGHUP does to each check.
//!
//! What runs them:
//! - `pool`: the worker threads, each run through the shared packet
//!   engine (`net::shared::Engine`) under a panic guard;
//! - `daemon`: the main loop (schedule, results, rise/fall, state files,
//!   SIGHUP, SIGTERM); `notify`: systemd's notify protocol;
//! - `once`: `--once`, every check once, as a Nagios plugin;
//! - `log`: the daemon's log lines, the one place here that prints;
//! - `web`: the HTTP listener (`listen`): /metrics, /probe, the status
//!   page, on a thread of its own.
//!
//! [`main`] is the entry `main.rs` calls for `check_raw_serve ARGS` and
//! `check_raw serve ARGS`; it returns what to print and the exit code,
//! except for the daemon's own log lines, which go out as they happen.

pub mod args;
pub mod board;
pub mod config;
pub mod daemon;
pub mod direct;
pub mod keepalived;
pub mod log;
pub mod modules;
pub mod notify;
pub mod once;
pub mod pool;
pub mod probe;
pub mod reload;
pub mod schedule;
pub mod state;
pub mod state_writer;
pub mod statefile;
pub mod web;

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::cli;
use crate::wait::{Doorbell, Waiter};

use args::{Action, PROGRAM};
use config::{ConfigError, ServeConfig};
use keepalived::FragmentOptions;

/// The signals that end the daemon: SIGHUP is its reload. (`--once`,
/// `--check` and `--print-keepalived` take the plugin's set, SIGHUP
/// included: they are commands, not daemons.)
pub const TERMINATING_SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT];

/// What `main` prints and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub stdout: String,
    /// Whole lines for stderr, each already `check_raw_serve: ...`.
    pub stderr: String,
    pub code: i32,
}

impl Served {
    fn stdout(text: String, code: i32) -> Served {
        Served {
            stdout: text,
            stderr: String::new(),
            code,
        }
    }

    fn errors(lines: &[String]) -> Served {
        let stderr = lines
            .iter()
            .map(|l| format!("{PROGRAM}: {}\n", crate::text::one_line(l)))
            .collect();
        Served {
            stdout: String::new(),
            stderr,
            code: 1,
        }
    }
}

/// The arguments after the daemon's name, if argv names it:
/// `check_raw_serve ARGS` (a name link) or `check_raw serve ARGS`.
pub fn invoked(argv: &[OsString]) -> Option<Vec<OsString>> {
    let name = cli::program_name(argv.first()?);
    if name == PROGRAM {
        return Some(argv[1..].to_vec());
    }
    if name == "check_raw" && argv.get(1).is_some_and(|a| a == "serve") {
        return Some(argv[2..].to_vec());
    }
    None
}

/// The signals to install for `args`: the daemon's set when it will run
/// as the daemon, the plugin's otherwise.
pub fn signals_for(args: &[OsString]) -> &'static [libc::c_int] {
    match args::parse(args.to_vec()) {
        Ok(a) if a.action == Action::Run => &TERMINATING_SIGNALS,
        _ => &crate::wait::TERMINATING_SIGNALS,
    }
}

/// Run check_raw_serve with `args` (after its name); `waiter` installed
/// with [`signals_for`] the same `args`.
pub fn main(args: Vec<OsString>, waiter: Arc<Waiter>) -> Served {
    pool::capture_panics();
    let once = args::wants_once(&args);
    let parsed = match args::parse(args) {
        Ok(parsed) => parsed,
        Err(e) => return refused(once, &e.0),
    };
    let path = parsed.config.as_path();
    match parsed.action {
        Action::Help => Served::stdout(args::help(), 0),
        Action::Version => Served::stdout(args::version(), 0),
        // A `listen` port in use is no error here: beside the running
        // daemon (checking a file before `systemctl reload`) it is its own.
        Action::Check => match load(path, &waiter).and_then(|config| {
            let errors = config.check_host_with(config::ListenBusy::Allowed);
            if errors.is_empty() {
                Ok(config)
            } else {
                Err(errors)
            }
        }) {
            Ok(config) => {
                let mut text = config::summary(&config);
                if let Some(addr) = config.listen {
                    let trial = web::bind(addr);
                    if matches!(&trial, Err(e) if e.kind() == std::io::ErrorKind::AddrInUse) {
                        text.push_str(&format!(
                            "listen {addr}: in use now (by the running check_raw_serve?): a start needs it free, a reload that keeps it does not\n"
                        ));
                    }
                }
                Served::stdout(text, 0)
            }
            Err(errors) => Served::errors(&strings(&errors)),
        },
        Action::PrintKeepalived => match load(path, &waiter) {
            Ok(config) => {
                let targets: Vec<_> = config
                    .checks
                    .iter()
                    .map(|c| c.keepalived_target(&config.state_dir))
                    .collect();
                let text = keepalived::fragment(&targets, &FragmentOptions::default());
                Served::stdout(text, 0)
            }
            Err(errors) => Served::errors(&strings(&errors)),
        },
        Action::Once => {
            // No state file is written: only the interfaces are the host's
            // concern here, not state_dir.
            let loaded = load(path, &waiter).and_then(|config| {
                let errors: Vec<ConfigError> = config
                    .check_host()
                    .into_iter()
                    .filter(|e| e.key != "state_dir" && e.key != "listen")
                    .collect();
                if errors.is_empty() {
                    Ok(config)
                } else {
                    Err(errors)
                }
            });
            match loaded {
                Ok(config) => {
                    let _ = crate::privilege::raise_net_raw();
                    let (text, code) = once::run(&config, waiter, parsed.verbose);
                    Served::stdout(text, code)
                }
                Err(errors) => {
                    let first = errors.first().map(ToString::to_string).unwrap_or_default();
                    let (text, code) = once::refused(&first);
                    Served::stdout(text, code)
                }
            }
        }
        Action::Probe => {
            let (module, target) = parsed.probe.unwrap_or_default();
            probe::once(path, &module, &target, parsed.verbose, &waiter)
        }
        Action::Run => run(path, parsed.verbose, waiter),
    }
}

/// The daemon.
fn run(path: &Path, verbose: bool, waiter: Arc<Waiter>) -> Served {
    // SIGHUP first: until it is ours, it would end the process.
    let bell = match Doorbell::new() {
        Ok(bell) => bell,
        Err(e) => return Served::errors(&[format!("cannot make a wake-up socket: {e}")]),
    };
    let reload = match bell.ring_on(libc::SIGHUP) {
        Ok(flag) => flag,
        Err(e) => return Served::errors(&[format!("cannot install the SIGHUP handler: {e}")]),
    };
    match daemon::Daemon::start(path, verbose, Arc::clone(&waiter), &bell) {
        Ok(d) => Served {
            stdout: String::new(),
            stderr: String::new(),
            code: d.run(&bell, &reload),
        },
        // Stopped while starting (a name lookup cut short): no error.
        Err(_) if waiter.pending().is_some() => {
            let sig = waiter.pending().map_or("a signal", |s| s.name());
            Served {
                code: 0,
                ..Served::errors(&[format!("stopping on {sig}")])
            }
        }
        Err(lines) => Served::errors(&lines),
    }
}

/// A refusal before anything ran: `--once`'s UNKNOWN line, or the
/// daemon's stderr line and exit 1. `main` uses it too (signal handlers
/// that cannot be installed, a panic).
pub fn refused(once: bool, message: &str) -> Served {
    if once {
        let (text, code) = once::refused(message);
        Served::stdout(text, code)
    } else {
        Served::errors(&[message.to_string()])
    }
}

/// [`refused`] for `args` as `main` has them.
pub fn refused_for(args: &[OsString], message: &str) -> Served {
    refused(args::wants_once(args), message)
}

/// The last panic of this thread, for `main`'s safety net.
pub fn panic_message() -> String {
    pool::take_panic()
}

/// `1 check`, `3 checks`: in every line that counts them.
pub fn count_checks(n: usize) -> String {
    if n == 1 {
        "1 check".into()
    } else {
        format!("{n} checks")
    }
}

/// Read `path`, names resolved within each check's `-t` from now.
pub(crate) fn load(path: &Path, waiter: &Waiter) -> Result<ServeConfig, Vec<ConfigError>> {
    let start = Instant::now();
    let lookup = |name: &str, timeout| crate::resolve::bounded_from(start, name, waiter, timeout);
    ServeConfig::load(path, &lookup)
}

fn strings(errors: &[ConfigError]) -> Vec<String> {
    errors.iter().map(ToString::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_daemon_is_named_by_link_or_subcommand() {
        assert_eq!(
            invoked(&argv(&["/usr/lib/check_raw/check_raw_serve", "--check"])),
            Some(argv(&["--check"]))
        );
        assert_eq!(
            invoked(&argv(&["check_raw", "serve", "--once"])),
            Some(argv(&["--once"]))
        );
        assert_eq!(invoked(&argv(&["check_raw", "tcp", "serve"])), None);
        assert_eq!(invoked(&argv(&["check_raw_tcp", "serve"])), None);
        assert_eq!(invoked(&argv(&[])), None);
    }

    #[test]
    fn only_the_daemon_keeps_sighup_for_itself() {
        assert!(!signals_for(&argv(&[])).contains(&libc::SIGHUP));
        assert!(!signals_for(&argv(&["-v", "--config", "x"])).contains(&libc::SIGHUP));
        assert!(signals_for(&argv(&["--once"])).contains(&libc::SIGHUP));
        assert!(signals_for(&argv(&["--bogus"])).contains(&libc::SIGHUP));
    }

    #[test]
    fn refusals_follow_the_mode() {
        let once = refused(true, "bad");
        assert_eq!(once.stdout, "CHECK_RAW_SERVE UNKNOWN - bad\n");
        assert_eq!(once.code, 3);
        let daemon = refused(false, "bad\nline");
        assert_eq!(daemon.stderr, "check_raw_serve: bad line\n");
        assert_eq!(daemon.code, 1);
    }
}
