//! `check_raw`: the multicall entry point.
//!
//! The one place that prints and exits. It dispatches on argv[0] (or a
//! subcommand), runs the check under a panic guard, prints the status line
//! and details, and turns the outcome into an exit code. A panic becomes
//! UNKNOWN, never a crash: ldirectord reads a death by signal as success.
//! `check_raw_serve` (or `check_raw serve`) goes to `serve::main`, whose
//! text this prints the same way; only the daemon's log lines, which must
//! go out while it runs, are written by `serve::log`.

use std::ffi::OsString;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use check_raw::cli::{self, Command, Mode};
use check_raw::outcome::{Outcome, Protocol, State};
use check_raw::wait::Waiter;
use check_raw::{checks, detach, privilege, resolve, serve};

fn main() {
    let argv: Vec<OsString> = std::env::args_os().collect();
    if let Some(args) = serve::invoked(&argv) {
        detach::exit(serve_main(args));
    }
    // First: until the handlers are in, SIGTERM would kill us outright.
    let waiter = Waiter::install();
    // Then: a caller who is not root parses its arguments (OpenSSL reads
    // --ca-file, the regex engine compiles --regex) without CAP_NET_RAW in
    // effect; the packet socket's opening raises it again, then drops it
    // for good. A failure here leaves that to the drop.
    let _ = privilege::lower_effective();
    developer_log();
    let panic_message = capture_panics();
    let argv0 = argv.first().cloned().unwrap_or_default();
    // For the panic path, where no parsed config is left to ask.
    let protocol_hint = cli::exit_protocol(&argv);
    let result = panic::catch_unwind(AssertUnwindSafe(|| match &waiter {
        Ok(waiter) => run(argv, waiter),
        Err(e) => Printed::Outcome(
            Outcome::new(
                "CHECK_RAW",
                State::Unknown,
                format!("cannot install signal handlers: {e}"),
            ),
            protocol_hint,
        ),
    }));
    let printed = result.unwrap_or_else(|_| {
        let what = panic_message.lock().map(|m| m.clone()).unwrap_or_default();
        let service = cli::Mode::from_name(&cli::program_name(&argv0))
            .map(Mode::service)
            .unwrap_or("CHECK_RAW");
        Printed::Outcome(
            Outcome::new(
                service,
                State::Unknown,
                format!("internal error, please report: {what}"),
            ),
            protocol_hint,
        )
    });
    // After the status line is out: a raw check's packet socket is
    // closed in a detached child (see `detach`), not on our clock.
    detach::exit(printed.emit());
}

/// Diagnostics for developers only, to stderr, off unless RUST_LOG asks.
fn developer_log() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("off"))
        .try_init();
}

/// check_raw_serve: the daemon (SIGHUP is its reload, not an end), or
/// one of its commands. The same order as a check: signal handlers, the
/// capability out of the effective set (the daemon raises it again for
/// its workers once its file is read), the panic guard. Returns the exit
/// code once its text is printed.
fn serve_main(args: Vec<OsString>) -> i32 {
    let waiter = Waiter::install_for(serve::signals_for(&args));
    let _ = privilege::lower_effective();
    developer_log();
    let served = match waiter {
        Err(e) => serve::refused_for(&args, &format!("cannot install signal handlers: {e}")),
        Ok(waiter) => {
            let given = args.clone();
            panic::catch_unwind(AssertUnwindSafe(|| serve::main(given, Arc::new(waiter))))
                .unwrap_or_else(|_| {
                    let what = serve::panic_message();
                    serve::refused_for(&args, &format!("internal error, please report: {what}"))
                })
        }
    };
    // A closed stdout or stderr must not change the exit code.
    let _ = std::io::stdout().lock().write_all(served.stdout.as_bytes());
    let _ = std::io::stdout().lock().flush();
    let _ = std::io::stderr().lock().write_all(served.stderr.as_bytes());
    served.code
}

/// What `main` prints, and how it exits.
enum Printed {
    Outcome(Outcome, Protocol),
    /// Help or version text: stdout, exit UNKNOWN as the plugin guidelines
    /// say (1 under the keepalived and ldirectord protocols).
    Text(String, Protocol),
    /// A usage error: `program: message` and a short usage, on stdout as
    /// monitoring-plugins print them, exit UNKNOWN per protocol.
    Usage(String, Protocol),
}

impl Printed {
    fn emit(self) -> i32 {
        let (text, code) = match self {
            Printed::Outcome(o, protocol) => (o.render(), o.exit_code(protocol)),
            Printed::Text(text, protocol) => (text, protocol.exit_code(State::Unknown)),
            Printed::Usage(text, protocol) => (text, protocol.exit_code(State::Unknown)),
        };
        // A closed stdout (broken pipe) must not turn into a panic or a
        // different exit code: the verdict stands.
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        code
    }
}

/// Set to make the check panic on purpose after parsing: the only way to
/// prove, from outside, that a panic still ends as UNKNOWN (exit 3, or 1
/// under the daemons' protocols) and never as a crash. Honoured for root
/// only.
const SELF_TEST_PANIC: &str = "CHECK_RAW_SELF_TEST_PANIC";

fn run(argv: Vec<OsString>, waiter: &Waiter) -> Printed {
    let lookup = |name: &str, timeout| resolve::bounded(name, waiter, timeout);
    let parsed = cli::parse_with(argv, &lookup);
    // Root only: see `privilege::self_test_allowed`.
    if std::env::var_os(SELF_TEST_PANIC).is_some() && privilege::self_test_allowed() {
        panic!("self-test panic ({SELF_TEST_PANIC} is set)");
    }
    match parsed {
        Ok(Command::Help(mode, protocol)) => Printed::Text(cli::help(mode), protocol),
        Ok(Command::Version(mode, protocol)) => {
            Printed::Text(format!("{}\n", cli::version(mode)), protocol)
        }
        Ok(Command::Overview(protocol)) => Printed::Text(cli::overview(), protocol),
        Ok(Command::OwnVersion(protocol)) => {
            Printed::Text(format!("{}\n", cli::own_version()), protocol)
        }
        Ok(Command::Check(config)) => {
            let protocol = config.protocol();
            let verbosity = config.common().verbosity;
            let timeout = cli::timeout_line(config.common());
            if !config.common().sync_close && !detach::sync_close_from_env() {
                detach::enable();
            }
            let mut outcome = checks::run(&config, &checks::Runner::plugin(waiter));
            // -t counts milliseconds, where Nagios plugins count seconds:
            // -v says so before anything else.
            if verbosity >= check_raw::trace::DETAIL {
                outcome.details.insert(0, timeout);
            }
            Printed::Outcome(outcome, protocol)
        }
        Err(e) if e.lookup_failed && waiter.pending().is_some() => {
            // A signal cut a name lookup short: that is no usage error. Any
            // other refusal stays one, signal or not (its exit protocol may
            // be the one a bad --protocol fell back to).
            let sig = waiter.pending().map(|s| s.name()).unwrap_or("a signal");
            let service = e.mode.map(Mode::service).unwrap_or("CHECK_RAW");
            Printed::Outcome(
                Outcome::new(
                    service,
                    State::Critical,
                    format!("interrupted by {sig} before the check completed"),
                ),
                e.protocol,
            )
        }
        Err(e) if e.lookup_failed => {
            // A name that does not resolve is the surroundings' fault, not
            // a typo: a status line (see cli::UNRESOLVED_STATE), no usage.
            let service = e.mode.map(Mode::service).unwrap_or("CHECK_RAW");
            Printed::Outcome(
                Outcome::new(service, cli::UNRESOLVED_STATE, e.message),
                e.protocol,
            )
        }
        // cli::parse_with has flattened every message to one line.
        Err(e) => Printed::Usage(cli::usage_error_text(&e), e.protocol),
    }
}

/// Keep the panic message for the UNKNOWN line instead of letting the
/// default hook print a backtrace hint to stderr.
fn capture_panics() -> Arc<Mutex<String>> {
    let message = Arc::new(Mutex::new(String::new()));
    let slot = Arc::clone(&message);
    panic::set_hook(Box::new(move |info| {
        log::error!("{info}");
        if let Ok(mut m) = slot.lock() {
            *m = check_raw::text::panic_message(info);
        }
    }));
    message
}
