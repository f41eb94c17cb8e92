//! `GET /`: the status page, as HAProxy's stats page shows a pool: per
//! VIP and port, its real servers, each row coloured by state (up green,
//! down red, rising or falling amber), since when, the last status line,
//! the latency, rise/fall progress and the counts; a header with the
//! totals and the time.
//!
//! One self-contained document: inline CSS, no script, no external asset
//! (an air-gapped balancer shows it whole), `<meta http-equiv="refresh">`
//! so it refreshes itself without JavaScript. Every text from the
//! configuration or the network goes through [`escape`]. Tests and
//! scripts read stable hooks: `section.pool[data-vip][data-port]` (class
//! all-up, some-down or none-up),
//! `tr.check[data-check][data-state]` (up, down, rising, falling),
//! `#totals [data-total]`, `#generated[data-unix]`.

use std::fmt::Write;
use std::time::{Duration, SystemTime};

use super::{result_name, unix_seconds, BoardSnapshot, CheckRecord, VERSION};
use crate::outcome::State;
use crate::transport::tls::cert::utc_date;

/// The page refreshes itself this often, in seconds.
pub const REFRESH_SECONDS: u32 = 5;

/// A run older than this many intervals marks its row stale: the
/// checker is not checking (keepalived #2523's silent failure, seen).
const STALE_INTERVALS: u32 = 3;

const STYLE: &str = "\
body{font:14px/1.4 system-ui,sans-serif;margin:1em;color:#222;background:#fafafa}\
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.2em 0 .3em}\
table{border-collapse:collapse;width:100%;background:#fff}\
th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}\
th{background:#e8e8e8;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}\
td.line{font-family:monospace;font-size:12px;overflow-wrap:anywhere;width:35%}\
tr.up td.state{background:#2e9e44;color:#fff}tr.down td.state{background:#d0312d;color:#fff}\
tr.rising td.state,tr.falling td.state{background:#f0b400;color:#222}\
tr.up{background:#eefbea}tr.down{background:#fdecec}tr.rising,tr.falling{background:#fff6dc}\
tr.stale td.checked{background:#d0312d;color:#fff}\
#totals{width:auto}#totals td{font-weight:600}.bad{color:#d0312d;font-weight:600}\
.meta{color:#555}section.none-up h2{color:#d0312d}section.some-down h2{color:#a66f00}footer{margin-top:1.5em;color:#555;font-size:12px}";

/// One VIP and port, its checks in the file's order.
pub(super) struct VipPort<'a> {
    pub vip: &'a str,
    pub port: &'a str,
    pub records: Vec<&'a CheckRecord>,
}

impl VipPort<'_> {
    pub fn up(&self) -> usize {
        self.records
            .iter()
            .filter(|r| r.check.health == crate::serve::state::Health::Up)
            .count()
    }
}

/// The checks grouped by VIP and port, groups in the order of their
/// first check in the file.
pub(super) fn group<'a>(records: &'a [std::sync::Arc<CheckRecord>]) -> Vec<VipPort<'a>> {
    let mut groups: Vec<VipPort<'a>> = Vec::new();
    let mut index: std::collections::HashMap<(&str, &str), usize> = Default::default();
    for record in records {
        let labels = &record.check.labels;
        let key = (labels.vip.as_str(), labels.port.as_str());
        let i = *index.entry(key).or_insert_with(|| {
            groups.push(VipPort {
                vip: key.0,
                port: key.1,
                records: Vec::new(),
            });
            groups.len() - 1
        });
        groups[i].records.push(record);
    }
    groups
}

/// Text for HTML, in element content and in quoted attributes alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `2026-12-03 07:01:02 UTC`.
pub fn utc(t: SystemTime) -> String {
    let secs = unix_seconds(t).floor() as i64;
    let minute = utc_date(secs);
    match minute.strip_suffix(" UTC") {
        Some(head) => format!("{head}:{:02} UTC", secs.rem_euclid(60)),
        None => minute,
    }
}

/// `3d 4h`, `2h 5m`, `4m 12s`, `12s`: how long, for people.
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// A latency: `0.84 ms`, `12.3 ms`, `1.20 s`.
pub fn latency(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

fn ago(now: SystemTime, then: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}

/// The totals of the header: checks, up, down, rising, falling.
pub(super) fn totals(records: &[std::sync::Arc<CheckRecord>]) -> [(&'static str, usize); 5] {
    let count = |state: &str| records.iter().filter(|r| r.shown_state() == state).count();
    let (rising, falling) = (count("rising"), count("falling"));
    [
        ("checks", records.len()),
        ("up", count("up") + falling),
        ("down", count("down") + rising),
        ("rising", rising),
        ("falling", falling),
    ]
}

pub(super) fn render(s: &BoardSnapshot) -> String {
    let mut out = String::with_capacity(2048 + s.records.len() * 1024);
    let totals = totals(&s.records);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>check_raw_serve: {} of {} up</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        totals[1].1, totals[0].1
    );
    header(&mut out, s, &totals);
    for vp in group(&s.records) {
        pool(&mut out, s.at, &vp);
    }
    if s.records.is_empty() {
        out.push_str("<p id=\"empty\">No check is configured.</p>\n");
    }
    footer(&mut out, s);
    out.push_str("</body>\n</html>\n");
    out
}

fn header(out: &mut String, s: &BoardSnapshot, totals: &[(&'static str, usize); 5]) {
    let _ = write!(
        out,
        "<header>\n<h1>check_raw_serve</h1>\n<p class=\"meta\">version {VERSION}, \
         <span id=\"generated\" data-unix=\"{:.0}\">{}</span>, refreshed every {REFRESH_SECONDS} s</p>\n\
         <table id=\"totals\"><tr>",
        unix_seconds(s.at),
        utc(s.at)
    );
    for (name, _) in totals {
        let _ = write!(out, "<th>{name}</th>");
    }
    out.push_str("</tr><tr>");
    for (name, n) in totals {
        let _ = write!(out, "<td class=\"num\" data-total=\"{name}\">{n}</td>");
    }
    out.push_str("</tr></table>\n");
    let p = &s.process;
    if !p.reload_ok {
        let _ = writeln!(
            out,
            "<p id=\"reload\" class=\"bad\" data-ok=\"false\">The last reload ({}) was refused: \
             the previous configuration still runs (see the log).</p>",
            utc(p.reload_at)
        );
    }
    out.push_str("</header>\n");
}

const COLUMNS: [&str; 17] = [
    "check",
    "real server",
    "kind",
    "interface",
    "state",
    "since",
    "rise/fall",
    "last result",
    "latency",
    "checked",
    "status line",
    "ok",
    "warning",
    "critical",
    "unknown",
    "changes",
    "skipped",
];

fn pool(out: &mut String, now: SystemTime, vp: &VipPort) {
    let (vip, port) = (escape(vp.vip), escape(vp.port));
    let title = match (vp.vip.contains(':'), vp.port.is_empty()) {
        (_, true) => format!("{vip} (no port: the VIP check)"),
        (true, false) => format!("[{vip}]:{port}"),
        (false, false) => format!("{vip}:{port}"),
    };
    let up = vp.up();
    // The pool's heading says at a glance: all up, some down, none up.
    let health = match up {
        0 => "none-up",
        n if n == vp.records.len() => "all-up",
        _ => "some-down",
    };
    let _ = write!(
        out,
        "<section class=\"pool {health}\" id=\"pool-{vip}-{port}\" data-vip=\"{vip}\" data-port=\"{port}\" \
         data-up=\"{up}\" data-total=\"{}\">\n<h2>{title} <span class=\"meta\">{up} of {} up</span></h2>\n\
         <table>\n<thead><tr>",
        vp.records.len(),
        vp.records.len()
    );
    for c in COLUMNS {
        let _ = write!(out, "<th>{c}</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for record in &vp.records {
        row(out, now, record);
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn row(out: &mut String, now: SystemTime, r: &CheckRecord) {
    let c = &r.check;
    let l = &c.labels;
    let name = escape(&l.check);
    let state = r.shown_state();
    let stale = r.last.as_ref().is_some_and(|last| {
        ago(now, last.ended)
            > c.interval
                .saturating_mul(STALE_INTERVALS)
                .max(Duration::from_secs(5))
    });
    let result = r
        .last
        .as_ref()
        .map_or("none", |last| result_name(last.state));
    let _ = write!(
        out,
        "<tr class=\"check {state}{}\" id=\"check-{name}\" data-check=\"{name}\" data-state=\"{state}\" \
         data-health=\"{}\" data-result=\"{result}\">",
        if stale { " stale" } else { "" },
        c.health.as_str().to_ascii_lowercase(),
    );
    let _ = write!(
        out,
        "<td class=\"name\" title=\"{}\">{name}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td class=\"state\">{}</td><td class=\"since\" title=\"{}\">{}</td>\
         <td class=\"progress\">{}</td>",
        escape(&c.command),
        escape(&l.real_server),
        l.kind,
        escape(&l.interface),
        state.to_ascii_uppercase(),
        utc(c.since),
        age(ago(now, c.since)),
        escape(&r.progress()),
    );
    match &r.last {
        Some(last) => {
            let _ = write!(
                out,
                "<td class=\"result\">{}</td><td class=\"num latency\">{}</td>\
                 <td class=\"checked\" title=\"{}\">{} ago</td><td class=\"line\" title=\"{}\">{}</td>",
                last.state,
                latency(last.duration),
                utc(last.ended),
                age(ago(now, last.ended)),
                escape(&facts(r)),
                escape(without_perfdata(&last.status_line)),
            );
        }
        None => out.push_str(
            "<td class=\"result\">-</td><td class=\"num latency\">-</td>\
             <td class=\"checked\">never</td><td class=\"line\"></td>",
        ),
    }
    for state in [State::Ok, State::Warning, State::Critical, State::Unknown] {
        let _ = write!(
            out,
            "<td class=\"num\" data-count=\"{}\">{}</td>",
            result_name(state),
            r.runs[state.nagios_code() as usize]
        );
    }
    let _ = writeln!(
        out,
        "<td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        r.changes, r.skipped
    );
}

/// The last facts in words, for the status line's tooltip: `HTTP 200;
/// certificate until 2027-01-15 12:00 UTC; DNS rcode 0, 2 answers`.
fn facts(r: &CheckRecord) -> String {
    let f = &r.facts;
    let mut words = Vec::new();
    if let Some(status) = f.http_status {
        words.push(format!("HTTP {status}"));
    }
    if let Some(expiry) = f.ssl_earliest_cert_expiry {
        words.push(format!("certificate until {}", utc_date(expiry)));
    }
    match (f.dns_rcode, f.dns_answer_rrs) {
        (Some(rcode), Some(n)) => words.push(format!("DNS rcode {rcode}, {n} answers")),
        (Some(rcode), None) => words.push(format!("DNS rcode {rcode}")),
        (None, Some(n)) => words.push(format!("DNS {n} answers")),
        (None, None) => {}
    }
    words.join("; ")
}

/// A status line as a person reads it: its perfdata (after `|`, for
/// graphing tools; /metrics and /status.json carry it) left out.
fn without_perfdata(line: &str) -> &str {
    line.split_once('|')
        .map_or(line, |(text, _)| text.trim_end())
}

fn footer(out: &mut String, s: &BoardSnapshot) {
    let p = &s.process;
    let e = &p.engine;
    let _ = writeln!(
        out,
        "<footer id=\"process\">Last configuration load: {} ({}). Engine: {} frames sent, \
         {} received, {} unmatched, {} dropped; {} flows in flight. \
         Also: <a href=\"/metrics\">/metrics</a>, <a href=\"/status.json\">/status.json</a>.</footer>",
        utc(p.reload_success_at),
        if p.reload_ok { "ok" } else { "the last reload failed" },
        e.frames_sent,
        e.frames_received,
        e.frames_unmatched,
        e.frames_dropped,
        e.flows_in_flight
    );
}
