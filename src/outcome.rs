//! The result of one check: a Nagios state, a one-line summary, perfdata and
//! optional detail lines, and the mapping of that state to an exit code.
//!
//! Every check produces exactly one `Outcome`; `main` prints it and exits.
//! Keeping the state separate from the exit code lets the exit protocol
//! (Nagios today; keepalived/ldirectord conventions later) change in one place.

use std::fmt;
use std::time::Duration;

/// Nagios plugin states, ordered from best to worst so `max` gives the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl State {
    /// Exit code under the Nagios plugin guidelines (0/1/2/3).
    pub fn nagios_code(self) -> i32 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Critical => 2,
            State::Unknown => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One perfdata item: `'label'=value[UOM];warn;crit;min;max`.
#[derive(Debug, Clone, PartialEq)]
pub enum Perf {
    /// A duration in seconds with min 0, as check_tcp prints `time=`.
    Seconds {
        label: &'static str,
        value: Duration,
    },
    /// A byte count with min 0 (`size=` in check_http).
    Bytes { label: &'static str, value: u64 },
}

impl fmt::Display for Perf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Perf::Seconds { label, value } => {
                write!(f, "{label}={:.6}s;;;0.000000", value.as_secs_f64())
            }
            Perf::Bytes { label, value } => write!(f, "{label}={value}B;;;0"),
        }
    }
}

/// What a check found, ready to print.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub state: State,
    /// Service name, e.g. `RAW_TCP`.
    pub service: &'static str,
    /// The text after `SERVICE STATE - `; one line.
    pub summary: String,
    pub perfdata: Vec<Perf>,
    /// Lines printed after the status line (`-v` and up).
    pub details: Vec<String>,
}

impl Outcome {
    pub fn new(service: &'static str, state: State, summary: impl Into<String>) -> Self {
        Outcome {
            state,
            service,
            summary: one_line(&summary.into()),
            perfdata: Vec::new(),
            details: Vec::new(),
        }
    }

    pub fn with_perf(mut self, perf: Perf) -> Self {
        self.perfdata.push(perf);
        self
    }

    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }

    /// The status line: `SERVICE STATE - summary|perfdata`.
    pub fn status_line(&self) -> String {
        let mut line = format!("{} {} - {}", self.service, self.state, self.summary);
        if !self.perfdata.is_empty() {
            line.push('|');
            let items: Vec<String> = self.perfdata.iter().map(ToString::to_string).collect();
            line.push_str(&items.join(" "));
        }
        line
    }

    /// Everything to print on stdout: the status line, then detail lines.
    pub fn render(&self) -> String {
        let mut out = self.status_line();
        out.push('\n');
        for line in &self.details {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    pub fn exit_code(&self) -> i32 {
        self.state.nagios_code()
    }
}

/// Nagios reads only the first line as the summary and `|` starts perfdata,
/// so a summary built from untrusted text (OS errors, server replies) must
/// not carry line breaks or pipes.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' => ' ',
            '|' => '/',
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_with_perfdata() {
        let o = Outcome::new("RAW_TCP", State::Ok, "203.0.113.10:80 answers").with_perf(
            Perf::Seconds {
                label: "time",
                value: Duration::from_micros(410),
            },
        );
        assert_eq!(
            o.status_line(),
            "RAW_TCP OK - 203.0.113.10:80 answers|time=0.000410s;;;0.000000"
        );
        assert_eq!(o.exit_code(), 0);
    }

    #[test]
    fn summary_is_forced_onto_one_line_without_pipes() {
        let o = Outcome::new("RAW_TCP", State::Unknown, "a\nb|c\x07");
        assert_eq!(o.status_line(), "RAW_TCP UNKNOWN - a b/c?");
        assert_eq!(o.exit_code(), 3);
    }

    #[test]
    fn states_order_worst_last() {
        assert!(State::Critical > State::Warning);
        assert!(State::Unknown > State::Critical);
        assert_eq!(State::Critical.nagios_code(), 2);
    }

    #[test]
    fn render_appends_details() {
        let o = Outcome::new("RAW_TCP", State::Critical, "x")
            .with_details(vec!["d1".into(), "d2".into()]);
        assert_eq!(o.render(), "RAW_TCP CRITICAL - x\nd1\nd2\n");
    }
}
