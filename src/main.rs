//! `check_raw`: the multicall entry point.
//!
//! The one place that prints and exits. It dispatches on argv[0] (or a
//! subcommand), runs the check under a panic guard, prints the status line
//! and details, and turns the outcome into an exit code. A panic becomes
//! UNKNOWN, never a crash: ldirectord reads a death by signal as success.

use std::ffi::OsString;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use check_raw::cli::{self, Command, Config, Mode};
use check_raw::modes;
use check_raw::outcome::{Outcome, State};
use check_raw::wait::Waiter;

fn main() {
    // First: until the handlers are in, SIGTERM would kill us outright.
    let waiter = Waiter::install();
    // Diagnostics for developers only, to stderr, off unless RUST_LOG asks.
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("off"))
        .try_init();
    let panic_message = capture_panics();
    let argv: Vec<OsString> = std::env::args_os().collect();
    let argv0 = argv.first().cloned().unwrap_or_default();
    let result = panic::catch_unwind(AssertUnwindSafe(|| match &waiter {
        Ok(waiter) => run(argv, waiter),
        Err(e) => Printed::Outcome(Outcome::new(
            "CHECK_RAW",
            State::Unknown,
            format!("cannot install signal handlers: {e}"),
        )),
    }));
    let printed = result.unwrap_or_else(|_| {
        let what = panic_message.lock().map(|m| m.clone()).unwrap_or_default();
        let service = cli::Mode::from_name(&cli::program_name(&argv0))
            .map(Mode::service)
            .unwrap_or("CHECK_RAW");
        Printed::Outcome(Outcome::new(
            service,
            State::Unknown,
            format!("internal error, please report: {what}"),
        ))
    });
    std::process::exit(printed.emit());
}

/// What `main` prints, and how it exits.
enum Printed {
    Outcome(Outcome),
    /// Help or version text: stdout, exit UNKNOWN as the plugin guidelines say.
    Text(String),
    /// A usage error: status line on stdout, short usage on stderr.
    Usage(Outcome, String),
}

impl Printed {
    fn emit(self) -> i32 {
        let mut out = std::io::stdout().lock();
        // A closed stdout (broken pipe) must not turn into a panic or a
        // different exit code: the verdict stands.
        match self {
            Printed::Outcome(o) => {
                let _ = out.write_all(o.render().as_bytes());
                let _ = out.flush();
                o.exit_code()
            }
            Printed::Text(text) => {
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
                State::Unknown.nagios_code()
            }
            Printed::Usage(o, usage) => {
                let _ = out.write_all(o.render().as_bytes());
                let _ = out.flush();
                let _ = writeln!(std::io::stderr(), "{usage}");
                o.exit_code()
            }
        }
    }
}

fn run(argv: Vec<OsString>, waiter: &Waiter) -> Printed {
    match cli::parse(argv) {
        Ok(Command::Help(mode)) => Printed::Text(cli::help(mode)),
        Ok(Command::Version(mode)) => Printed::Text(format!("{}\n", cli::version(mode))),
        Ok(Command::Check(Config::Tcp(cfg))) => Printed::Outcome(modes::tcp::run(&cfg, waiter)),
        Ok(Command::Check(Config::Http(mode, cfg))) => {
            Printed::Outcome(modes::http::run(mode, &cfg, waiter))
        }
        Err(e) => {
            let service = e.mode.map(Mode::service).unwrap_or("CHECK_RAW");
            let usage = match e.mode {
                Some(mode) => format!(
                    "{}\nTry '{} --help' for more information.",
                    cli::usage(mode),
                    mode.program()
                ),
                None => format!("Valid names: {}", cli::VALID_NAMES),
            };
            Printed::Usage(Outcome::new(service, State::Unknown, e.message), usage)
        }
    }
}

/// Keep the panic message for the UNKNOWN line instead of letting the
/// default hook print a backtrace hint to stderr.
fn capture_panics() -> Arc<Mutex<String>> {
    let message = Arc::new(Mutex::new(String::new()));
    let slot = Arc::clone(&message);
    panic::set_hook(Box::new(move |info| {
        let text = info.to_string();
        log::error!("{text}");
        if let Ok(mut m) = slot.lock() {
            *m = text.lines().next().unwrap_or("panic").to_string();
        }
    }));
    message
}
