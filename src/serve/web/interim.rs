//! Stand-ins until the board (`serve::board`) and the probe modules
//! (`serve::probe`) are merged: a minimal board with the same feeding
//! calls the daemon makes (`set_checks`, `record`, `skipped`, `reloaded`)
//! and a few of its metrics, and a prober that knows no module. The
//! listener only sees them through [`Pages`] and [`Prober`], so the swap
//! is the daemon's few calls.

use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::outcome::State;

use super::{Pages, ProbeQuery, Prober, Reply};

/// One check as the stand-in board keeps it.
#[derive(Debug, Clone, Default)]
struct Tallied {
    name: String,
    up: bool,
    last_ok: Option<bool>,
    /// Runs by result: ok, warning, critical, unknown.
    runs: [u64; 4],
    skipped: u64,
    last_at: f64,
    last_line: String,
}

#[derive(Debug, Default)]
struct Sheet {
    checks: Vec<Tallied>,
    reload_ok: bool,
    reload_at: f64,
}

/// The stand-in board.
#[derive(Debug, Default)]
pub struct InterimBoard {
    sheet: Mutex<Sheet>,
}

fn seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl InterimBoard {
    pub fn new() -> InterimBoard {
        InterimBoard::default()
    }

    fn lock(&self) -> MutexGuard<'_, Sheet> {
        self.sheet.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The checks after a start or reload, (name, up): kept names keep
    /// their counters.
    pub fn set_checks(&self, checks: Vec<(String, bool)>) {
        let mut sheet = self.lock();
        let old = std::mem::take(&mut sheet.checks);
        sheet.checks = checks
            .into_iter()
            .map(|(name, up)| {
                let mut t = old
                    .iter()
                    .find(|t| t.name == name)
                    .cloned()
                    .unwrap_or_default();
                t.name = name;
                t.up = up;
                t
            })
            .collect();
    }

    pub fn record(&self, name: &str, state: State, line: &str, up: bool, ended: SystemTime) {
        let mut sheet = self.lock();
        if let Some(t) = sheet.checks.iter_mut().find(|t| t.name == name) {
            t.up = up;
            t.last_ok = Some(matches!(state, State::Ok | State::Warning));
            t.runs[state.nagios_code().clamp(0, 3) as usize] += 1;
            t.last_at = seconds(ended);
            t.last_line = line.to_string();
        }
    }

    pub fn skipped(&self, name: &str, n: u64) {
        if let Some(t) = self.lock().checks.iter_mut().find(|t| t.name == name) {
            t.skipped += n;
        }
    }

    pub fn reloaded(&self, ok: bool, at: SystemTime) {
        let mut sheet = self.lock();
        sheet.reload_ok = ok;
        if ok {
            sheet.reload_at = seconds(at);
        }
    }
}

const RESULTS: [&str; 4] = ["ok", "warning", "critical", "unknown"];

impl Pages for InterimBoard {
    fn metrics(&self, _openmetrics: bool) -> (&'static str, String) {
        let sheet = self.lock();
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        };
        gauge(
            &mut out,
            "check_raw_up",
            "The check's rise/fall state (1 up).",
        );
        for t in &sheet.checks {
            let _ = writeln!(
                out,
                "check_raw_up{{check=\"{}\"}} {}",
                t.name,
                u8::from(t.up)
            );
        }
        gauge(
            &mut out,
            "check_raw_probe_success",
            "The last run succeeded.",
        );
        for t in &sheet.checks {
            if let Some(ok) = t.last_ok {
                let _ = writeln!(
                    out,
                    "check_raw_probe_success{{check=\"{}\"}} {}",
                    t.name,
                    u8::from(ok)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP check_raw_checks_total Runs by result.\n# TYPE check_raw_checks_total counter"
        );
        for t in &sheet.checks {
            for (result, n) in RESULTS.iter().zip(t.runs) {
                let _ = writeln!(
                    out,
                    "check_raw_checks_total{{check=\"{}\",result=\"{result}\"}} {n}",
                    t.name
                );
            }
        }
        let _ = writeln!(out, "# HELP check_raw_skipped_runs_total Runs skipped.\n# TYPE check_raw_skipped_runs_total counter");
        for t in &sheet.checks {
            let _ = writeln!(
                out,
                "check_raw_skipped_runs_total{{check=\"{}\"}} {}",
                t.name, t.skipped
            );
        }
        gauge(
            &mut out,
            "check_raw_config_last_reload_successful",
            "The last reload succeeded.",
        );
        let _ = writeln!(
            out,
            "check_raw_config_last_reload_successful {}",
            u8::from(sheet.reload_ok)
        );
        ("text/plain; version=0.0.4; charset=utf-8", out)
    }

    fn status_json(&self) -> String {
        let sheet = self.lock();
        let checks: Vec<String> = sheet
            .checks
            .iter()
            .map(|t| {
                format!(
                    "{{\"check\":\"{}\",\"up\":{},\"runs\":{}}}",
                    t.name,
                    t.up,
                    t.runs.iter().sum::<u64>()
                )
            })
            .collect();
        format!("{{\"checks\":[{}]}}\n", checks.join(","))
    }

    fn status_html(&self) -> String {
        let sheet = self.lock();
        let mut out = String::from("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"5\"><title>check_raw_serve</title></head><body><table>\n");
        for t in &sheet.checks {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td></tr>",
                t.name,
                if t.up { "up" } else { "down" }
            );
        }
        out.push_str("</table></body></html>\n");
        out
    }
}

/// The prober until `[[module]]` exists: every module is unknown.
#[derive(Debug, Default)]
pub struct NoModules;

impl Prober for NoModules {
    fn probe(&self, query: &ProbeQuery) -> Reply {
        Reply::error(
            400,
            &format!("unknown module {}", crate::text::quoted(&query.module)),
        )
    }
}
