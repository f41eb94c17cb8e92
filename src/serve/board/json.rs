//! `GET /status.json`: the status page's facts for scripts, written by
//! hand (a few objects of strings and numbers; serde_json is not in the
//! dependency tree, and this is all it would do). Times are Unix seconds,
//! durations seconds; a fact not known yet is `null`.
//!
//! ```text
//! {"generated":…, "version":"0.1.0",
//!  "totals":{"checks":4,"up":3,"down":1,"rising":0,"falling":1},
//!  "reload":{"ok":true,"at":…,"last_success":…},
//!  "engine":{"frames_sent":…,…},
//!  "pools":[{"vip":"203.0.113.10","port":"80","up":2,"total":3,"checks":["web-rs1",…]}],
//!  "checks":[{"check":"web-rs1","kind":"http",…,"state":"falling","progress":"1/3 fails",
//!             "last":{"result":"critical","status_line":…,"duration_seconds":…,"ended":…},
//!             "runs":{"ok":…},"changes":…,"skipped":…,"facts":{"http_status_code":200,…}}]}
//! ```

use std::fmt::Write;

use super::page::{group, totals};
use super::{result_name, unix_seconds, BoardSnapshot, CheckRecord, RESULTS, VERSION};

/// `text` as a JSON string, quotes included.
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number JSON can hold: a non-finite one is `null`.
fn number(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".to_string()
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "null".to_string(), |v| v.to_string())
}

pub(super) fn render(s: &BoardSnapshot) -> String {
    let mut out = String::with_capacity(1024 + s.records.len() * 900);
    let p = &s.process;
    let e = &p.engine;
    let _ = write!(
        out,
        "{{\"generated\":{},\"version\":{},\"totals\":{{",
        number(unix_seconds(s.at)),
        string(VERSION)
    );
    for (i, (name, n)) in totals(&s.records).iter().enumerate() {
        let _ = write!(out, "{}\"{name}\":{n}", if i > 0 { "," } else { "" });
    }
    let _ = write!(
        out,
        "}},\"reload\":{{\"ok\":{},\"at\":{},\"last_success\":{}}},\
         \"engine\":{{\"frames_sent\":{},\"frames_received\":{},\"frames_unmatched\":{},\
         \"frames_dropped\":{},\"flows_in_flight\":{},\"direct_runs\":{}}},\"pools\":[",
        p.reload_ok,
        number(unix_seconds(p.reload_at)),
        number(unix_seconds(p.reload_success_at)),
        e.frames_sent,
        e.frames_received,
        e.frames_unmatched,
        e.frames_dropped,
        e.flows_in_flight,
        e.direct_runs
    );
    for (i, vp) in group(&s.records).iter().enumerate() {
        let names: Vec<String> = vp.records.iter().map(|r| string(r.name())).collect();
        let _ = write!(
            out,
            "{}{{\"vip\":{},\"port\":{},\"up\":{},\"total\":{},\"checks\":[{}]}}",
            if i > 0 { "," } else { "" },
            string(vp.vip),
            string(vp.port),
            vp.up(),
            vp.records.len(),
            names.join(",")
        );
    }
    out.push_str("],\"checks\":[");
    for (i, record) in s.records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        check(&mut out, record);
    }
    out.push_str("]}\n");
    out
}

fn check(out: &mut String, r: &CheckRecord) {
    let c = &r.check;
    let l = &c.labels;
    let _ = write!(
        out,
        "{{\"check\":{},\"kind\":{},\"interface\":{},\"real_server\":{},\"vip\":{},\"port\":{},\
         \"command\":{},\"interval_seconds\":{},\"rise\":{},\"fall\":{},\"health\":{},\
         \"state\":{},\"since\":{},\"streak\":{},\"progress\":{},\"last\":",
        string(&l.check),
        string(l.kind),
        string(&l.interface),
        string(&l.real_server),
        string(&l.vip),
        string(&l.port),
        string(&c.command),
        number(c.interval.as_secs_f64()),
        c.rise,
        c.fall,
        string(&c.health.as_str().to_ascii_lowercase()),
        string(r.shown_state()),
        number(unix_seconds(c.since)),
        c.streak,
        string(&r.progress()),
    );
    match &r.last {
        Some(last) => {
            let _ = write!(
                out,
                "{{\"result\":{},\"status_line\":{},\"duration_seconds\":{},\"ended\":{}}}",
                string(result_name(last.state)),
                string(&last.status_line),
                number(last.duration.as_secs_f64()),
                number(unix_seconds(last.ended))
            );
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"runs\":{");
    for (i, state) in RESULTS.iter().enumerate() {
        let _ = write!(
            out,
            "{}\"{}\":{}",
            if i > 0 { "," } else { "" },
            result_name(*state),
            r.runs[state.nagios_code() as usize]
        );
    }
    let f = &r.facts;
    let _ = write!(
        out,
        "}},\"changes\":{},\"skipped\":{},\"facts\":{{\"http_status_code\":{},\
         \"ssl_earliest_cert_expiry\":{},\"dns_rcode\":{},\"dns_answer_rrs\":{}}}}}",
        r.changes,
        r.skipped,
        opt(f.http_status),
        opt(f.ssl_earliest_cert_expiry),
        opt(f.dns_rcode),
        opt(f.dns_answer_rrs),
    );
}
