//! The result of one check: a Nagios state, a one-line summary, perfdata and
//! optional detail lines, and the mapping of that state to an exit code.
//!
//! Every check produces exactly one `Outcome`; `main` prints it and exits.
//! Keeping the state separate from the exit code lets each daemon's exit
//! protocol (Nagios, keepalived, misc_dynamic, ldirectord) be one mapping.

use std::fmt;
use std::time::Duration;

use crate::threshold::Range;

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

/// How an outcome becomes an exit code, for the daemon that runs us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Nagios, Icinga: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Nagios,
    /// keepalived MISC_CHECK: 0 up, anything else down; we use 1.
    Keepalived,
    /// keepalived `misc_dynamic`: 1 down, 2..255 up with weight code - 2.
    KeepalivedDynamic { weight: u8 },
    /// ldirectord external check: 0 up, non-zero down.
    Ldirectord,
}

impl Protocol {
    /// `--protocol NAME`; `weight` is `--weight`, required by (and only
    /// allowed with) keepalived-dynamic.
    pub fn parse(name: &str, weight: Option<u8>) -> Result<Protocol, String> {
        let protocol = match name {
            "nagios" => Protocol::Nagios,
            "keepalived" => Protocol::Keepalived,
            "ldirectord" => Protocol::Ldirectord,
            "keepalived-dynamic" => {
                return weight
                    .map(|weight| Protocol::KeepalivedDynamic { weight })
                    .ok_or_else(|| {
                        "--protocol keepalived-dynamic needs --weight N (0-253)".to_string()
                    })
            }
            other => {
                return Err(format!(
                    "unknown --protocol '{}': nagios, keepalived, keepalived-dynamic or ldirectord",
                    crate::text::status_safe(&other.chars().take(64).collect::<String>())
                ))
            }
        };
        match weight {
            Some(_) => Err("--weight only applies to --protocol keepalived-dynamic".into()),
            None => Ok(protocol),
        }
    }

    pub fn exit_code(self, state: State) -> i32 {
        match (self, state) {
            (Protocol::Nagios, state) => state.nagios_code(),
            (Protocol::Keepalived | Protocol::Ldirectord, State::Ok) => 0,
            (Protocol::Keepalived | Protocol::Ldirectord, _) => 1,
            // keepalived sets the real server's weight to code - 2.
            (Protocol::KeepalivedDynamic { weight }, State::Ok) => i32::from(weight) + 2,
            // Weight 0: the server stays in the pool but gets no new
            // connections (drain), rather than being dropped for slowness.
            (Protocol::KeepalivedDynamic { .. }, State::Warning) => 2,
            (Protocol::KeepalivedDynamic { .. }, _) => 1,
        }
    }
}

/// One perfdata item: `'label'=value[UOM];warn;crit;min;max`.
#[derive(Debug, Clone, PartialEq)]
pub enum Perf {
    /// A duration in seconds with min 0, as check_tcp prints `time=`;
    /// thresholds and max (the timeout) when known.
    Seconds {
        label: &'static str,
        value: Duration,
        warn: Option<Range>,
        crit: Option<Range>,
        max: Option<Duration>,
    },
    /// A byte count with min 0 (`size=` in check_http).
    Bytes { label: &'static str, value: u64 },
    /// A plain count with min 0 (`answers=` of the DNS check).
    Count { label: &'static str, value: u64 },
    /// Whole days (a certificate's days left); `warn`/`crit` alert at or
    /// below that many, written `@~:N` (inside minus infinity to N).
    Days {
        label: &'static str,
        value: i64,
        warn: Option<u32>,
        crit: Option<u32>,
    },
}

impl Perf {
    /// A plain time item without thresholds or max.
    pub fn time(value: Duration) -> Perf {
        Perf::Seconds {
            label: "time",
            value,
            warn: None,
            crit: None,
            max: None,
        }
    }
}

impl fmt::Display for Perf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |r: &Option<Range>| r.as_ref().map(ToString::to_string).unwrap_or_default();
        match self {
            Perf::Seconds {
                label,
                value,
                warn,
                crit,
                max,
            } => {
                write!(
                    f,
                    "{label}={:.6}s;{};{};0.000000",
                    value.as_secs_f64(),
                    opt(warn),
                    opt(crit)
                )?;
                if let Some(max) = max {
                    write!(f, ";{:.6}", max.as_secs_f64())?;
                }
                Ok(())
            }
            Perf::Bytes { label, value } => write!(f, "{label}={value}B;;;0"),
            Perf::Count { label, value } => write!(f, "{label}={value};;;0"),
            Perf::Days {
                label,
                value,
                warn,
                crit,
            } => {
                let at_most = |n: &Option<u32>| n.map(|n| format!("@~:{n}")).unwrap_or_default();
                write!(f, "{label}={value};{};{}", at_most(warn), at_most(crit))
            }
        }
    }
}

/// What a run learned on the way, beside its verdict: the numbers
/// check_raw_serve's `/metrics` and `/probe` publish (with
/// blackbox_exporter's meanings). Every field is optional: a run fills
/// what it saw, so a failed connect leaves them all `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// The final response's status code.
    pub http_status: Option<u16>,
    /// Body bytes read (after chunked decoding).
    pub http_content_length: Option<u64>,
    /// "HTTP/1.1", as the status line said it.
    pub http_version: Option<String>,
    /// Unix seconds: the earliest notAfter of the certificates the server
    /// sent (leaf and chain), as blackbox's `probe_ssl_earliest_cert_expiry`.
    pub ssl_earliest_cert_expiry: Option<i64>,
    /// "TLS 1.3", as blackbox's `probe_tls_version_info{version}`.
    pub tls_version: Option<String>,
    /// The answer's rcode (with EDNS0's extended bits; 255 for a larger
    /// one, which no header-only rcode is).
    pub dns_rcode: Option<u8>,
    pub dns_answer_rrs: Option<u32>,
    pub dns_authority_rrs: Option<u32>,
    pub dns_additional_rrs: Option<u32>,
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
    /// What the run learned, for check_raw_serve's metrics; never printed
    /// by the plugin.
    pub facts: Facts,
}

impl Outcome {
    pub fn new(service: &'static str, state: State, summary: impl Into<String>) -> Self {
        Outcome {
            state,
            service,
            summary: crate::text::status_safe(&summary.into()),
            perfdata: Vec::new(),
            details: Vec::new(),
            facts: Facts::default(),
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
        // Detail lines are Nagios long output, where a `|` would start
        // perfdata: show it as a broken bar instead.
        for line in &self.details {
            out.push_str(&line.replace('|', "\u{a6}"));
            out.push('\n');
        }
        out
    }

    pub fn exit_code(&self, protocol: Protocol) -> i32 {
        protocol.exit_code(self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_with_perfdata() {
        let o = Outcome::new("RAW_TCP", State::Ok, "203.0.113.10:80 answers")
            .with_perf(Perf::time(Duration::from_micros(410)));
        assert_eq!(
            o.status_line(),
            "RAW_TCP OK - 203.0.113.10:80 answers|time=0.000410s;;;0.000000"
        );
        assert_eq!(o.exit_code(Protocol::Nagios), 0);
    }

    #[test]
    fn perfdata_with_thresholds_and_max() {
        let perf = Perf::Seconds {
            label: "time",
            value: Duration::from_millis(5),
            warn: Some(Range::parse("0.5").unwrap()),
            crit: Some(Range::parse("@1:2").unwrap()),
            max: Some(Duration::from_secs(1)),
        };
        assert_eq!(
            perf.to_string(),
            "time=0.005000s;0.5;@1:2;0.000000;1.000000"
        );
    }

    #[test]
    fn summary_is_forced_onto_one_line_without_pipes() {
        let o = Outcome::new("RAW_TCP", State::Unknown, "a\nb|c\x07");
        assert_eq!(o.status_line(), "RAW_TCP UNKNOWN - a b/c?");
        assert_eq!(o.exit_code(Protocol::Nagios), 3);
    }

    #[test]
    fn states_order_worst_last() {
        assert!(State::Critical > State::Warning);
        assert!(State::Unknown > State::Critical);
        assert_eq!(State::Critical.nagios_code(), 2);
    }

    #[test]
    fn exit_protocols() {
        use State::*;
        let all = [Ok, Warning, Critical, Unknown];
        let codes = |p: Protocol| all.map(|s| p.exit_code(s));
        assert_eq!(codes(Protocol::Nagios), [0, 1, 2, 3]);
        assert_eq!(codes(Protocol::Keepalived), [0, 1, 1, 1]);
        assert_eq!(codes(Protocol::Ldirectord), [0, 1, 1, 1]);
        assert_eq!(
            codes(Protocol::KeepalivedDynamic { weight: 0 }),
            [2, 2, 1, 1]
        );
        assert_eq!(
            codes(Protocol::KeepalivedDynamic { weight: 253 }),
            [255, 2, 1, 1]
        );
    }

    #[test]
    fn protocol_names_and_weight() {
        assert_eq!(
            Protocol::parse("nagios", None),
            Result::Ok(Protocol::Nagios)
        );
        assert_eq!(
            Protocol::parse("keepalived-dynamic", Some(7)),
            Result::Ok(Protocol::KeepalivedDynamic { weight: 7 })
        );
        assert!(Protocol::parse("keepalived-dynamic", None).is_err());
        assert!(Protocol::parse("keepalived", Some(7)).is_err());
        assert!(Protocol::parse("icinga", None).is_err());
    }

    #[test]
    fn render_appends_details() {
        let o = Outcome::new("RAW_TCP", State::Critical, "x")
            .with_details(vec!["d1".into(), "d|2".into()]);
        assert_eq!(o.render(), "RAW_TCP CRITICAL - x\nd1\nd\u{a6}2\n");
    }
}
