//! `/metrics`: the board's snapshot through `prometheus-client`.
//!
//! The records are the one source of truth, so the metrics are not kept
//! twice in the crate's `Family` maps: a [`Collector`] encodes the
//! snapshot at each scrape (a check a reload removed is simply not in it;
//! histograms are encoded from the record's own buckets). The crate
//! writes both formats: OpenMetrics 1.0 (`encoding::text`) and, since
//! 0.26, the Prometheus text format 0.0.4 (`encoding::prometheus_text`),
//! which is what a scraper that does not ask for OpenMetrics gets:
//! OpenMetrics' `# EOF`, `# UNIT` and `info` type are no 0.0.4, and its
//! counter families are named without `_total`, which 0.0.4 parsers take
//! as a family with no samples. `promtool check metrics` is silent on both
//! (see the tests).
//!
//! A family with no sample (no check has a certificate, no DNS check) is
//! left out rather than written empty. A per-check value not known yet
//! (no run so far) has no sample: a gauge of 0 would be a lie.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, LabelSetEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use std::fmt;
use std::sync::Arc;

use crate::outcome::State;
use crate::serve::state::Health;

use super::{
    result_name, unix_seconds, BoardSnapshot, CheckLabels, CheckRecord, Process, BUCKETS, RESULTS,
    VERSION,
};

/// The OpenMetrics content type (what `encoding::text` writes).
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether a scraper's `Accept` asks for OpenMetrics 1.0 before the
/// 0.0.4 text (Prometheus 2.42 sends
/// `application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`):
/// an `application/openmetrics-text` range without a version or with
/// 1.0.0, whose `q` is above 0 and not below `text/plain`'s. Anything
/// else, an absent or unreadable header included, gets the text format.
pub fn wants_openmetrics(accept: &str) -> bool {
    let mut openmetrics: f32 = 0.0;
    let mut text: f32 = 0.0;
    // Bounded: a header the listener already bounded, at most 64 ranges.
    for range in accept.split(',').take(64) {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let (mut q, mut version) = (1.0_f32, None);
        for param in parts.take(16) {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            match key.trim().to_ascii_lowercase().as_str() {
                "q" => q = value.trim().parse().unwrap_or(0.0),
                "version" => version = Some(value.trim().to_string()),
                _ => {}
            }
        }
        let q = if q.is_finite() {
            q.clamp(0.0, 1.0)
        } else {
            0.0
        };
        match media.as_str() {
            "application/openmetrics-text" if version.as_deref().is_none_or(|v| v == "1.0.0") => {
                openmetrics = openmetrics.max(q);
            }
            "text/plain" => text = text.max(q),
            _ => {}
        }
    }
    openmetrics > 0.0 && openmetrics >= text
}

pub(super) fn render(snapshot: &BoardSnapshot, openmetrics: bool) -> (&'static str, String) {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(View {
        records: snapshot.records.clone(),
        process: snapshot.process.clone(),
    }));
    // ~30 lines of ~150 bytes per check.
    let mut body = String::with_capacity(4096 + snapshot.records.len() * 4608);
    let written = if openmetrics {
        prometheus_client::encoding::text::encode(&mut body, &registry)
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut body, &registry)
    };
    if written.is_err() {
        // Writing to a String fails only if an encoder refuses a value;
        // ours are all finite numbers and escaped labels. Say so rather
        // than serve half a scrape.
        body = String::from("# the board could not be encoded\n");
    }
    let content_type = if openmetrics {
        OPENMETRICS
    } else {
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE
    };
    (content_type, body)
}

impl EncodeLabelSet for CheckLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        [
            ("check", self.check.as_str()),
            ("kind", self.kind),
            ("interface", self.interface.as_str()),
            ("real_server", self.real_server.as_str()),
            ("vip", self.vip.as_str()),
            ("port", self.port.as_str()),
        ]
        .encode(encoder)
    }
}

/// A check's labels plus `result`.
struct WithResult<'a>(&'a CheckLabels, &'static str);

impl EncodeLabelSet for WithResult<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> fmt::Result {
        self.0.encode(encoder)?;
        [("result", self.1)].encode(encoder)
    }
}

/// The collector of one scrape: the snapshot's records and process facts.
#[derive(Debug)]
struct View {
    records: Vec<Arc<CheckRecord>>,
    process: Process,
}

/// A gauge's value: whole numbers are written as such.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn write(self, m: &mut MetricEncoder) -> Result<(), fmt::Error> {
        match self {
            Num::Int(v) => m.encode_gauge(&v),
            Num::Float(v) => m.encode_gauge(&v),
        }
    }
}

fn bool_num(b: bool) -> Num {
    Num::Int(i64::from(b))
}

/// One gauge family, a sample per record that has a value; left out
/// when none has.
fn gauges(
    enc: &mut DescriptorEncoder,
    records: &[Arc<CheckRecord>],
    name: &str,
    help: &str,
    value: impl Fn(&CheckRecord) -> Option<Num>,
) -> fmt::Result {
    if !records.iter().any(|r| value(r).is_some()) {
        return Ok(());
    }
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for record in records {
        if let Some(v) = value(record) {
            v.write(&mut family.encode_family(&record.check.labels)?)?;
        }
    }
    Ok(())
}

/// One counter family (`name` without `_total`: the encoder adds it), a
/// sample per record.
fn counters(
    enc: &mut DescriptorEncoder,
    records: &[Arc<CheckRecord>],
    name: &str,
    help: &str,
    value: impl Fn(&CheckRecord) -> u64,
) -> fmt::Result {
    if records.is_empty() {
        return Ok(());
    }
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for record in records {
        family
            .encode_family(&record.check.labels)?
            .encode_counter::<NoLabelSet, u64, u64>(&value(record), None)?;
    }
    Ok(())
}

/// A process-wide sample (no label).
fn single(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    value: Num,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, kind)?;
    match (kind, value) {
        (MetricType::Counter, Num::Int(v)) => {
            m.encode_counter::<NoLabelSet, u64, u64>(&v.unsigned_abs(), None)
        }
        _ => value.write(&mut m),
    }
}

impl Collector for View {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let records = &self.records[..];
        let e = &mut enc;
        gauges(
            e,
            records,
            "check_raw_up",
            "1 when rise/fall says the real server is up (its state file holds 1), else 0.",
            |r| Some(bool_num(r.check.health == Health::Up)),
        )?;
        gauges(
            e,
            records,
            "check_raw_probe_success",
            "1 when the check's last run was OK or WARNING, else 0.",
            |r| {
                r.last
                    .as_ref()
                    .map(|l| bool_num(matches!(l.state, State::Ok | State::Warning)))
            },
        )?;
        self.durations(e)?;
        self.results(e)?;
        counters(
            e,
            records,
            "check_raw_state_changes",
            "Up/down changes decided by rise/fall.",
            |r| r.changes,
        )?;
        gauges(
            e,
            records,
            "check_raw_last_check_timestamp_seconds",
            "When the check's last run ended, Unix time.",
            |r| r.last.as_ref().map(|l| Num::Float(unix_seconds(l.ended))),
        )?;
        counters(
            e,
            records,
            "check_raw_skipped_runs",
            "Runs not started because the previous run was still in flight.",
            |r| r.skipped,
        )?;
        gauges(
            e,
            records,
            "check_raw_check_interval_seconds",
            "How often the check runs.",
            |r| Some(Num::Float(r.check.interval.as_secs_f64())),
        )?;
        gauges(
            e,
            records,
            "check_raw_ssl_earliest_cert_expiry",
            "The earliest notAfter of the certificate chain seen last, Unix time.",
            |r| r.facts.ssl_earliest_cert_expiry.map(Num::Int),
        )?;
        gauges(
            e,
            records,
            "check_raw_http_status_code",
            "The HTTP status code of the last response.",
            |r| r.facts.http_status.map(|v| Num::Int(i64::from(v))),
        )?;
        gauges(
            e,
            records,
            "check_raw_dns_rcode",
            "The DNS response code of the last answer.",
            |r| r.facts.dns_rcode.map(|v| Num::Int(i64::from(v))),
        )?;
        gauges(
            e,
            records,
            "check_raw_dns_answer_rrs",
            "Records in the answer section of the last DNS answer.",
            |r| r.facts.dns_answer_rrs.map(|v| Num::Int(i64::from(v))),
        )?;
        self.process(e)
    }
}

impl View {
    fn durations(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        if self.records.is_empty() {
            return Ok(());
        }
        let mut family = enc.encode_descriptor(
            "check_raw_probe_duration_seconds",
            "How long the check's runs took, from start to verdict.",
            None,
            MetricType::Histogram,
        )?;
        // The bounds and +Inf, given explicitly: the OpenMetrics encoder
        // writes only the buckets it is given (the crate's own Histogram
        // carries +Inf as a bucket), the 0.0.4 one adds +Inf if missing.
        let mut buckets = [(f64::INFINITY, 0); BUCKETS.len() + 1];
        for record in &self.records {
            let d = &record.durations;
            for (slot, (le, n)) in buckets.iter_mut().zip(BUCKETS.iter().zip(d.buckets)) {
                *slot = (*le, n);
            }
            let finite: u64 = d.buckets.iter().sum();
            buckets[BUCKETS.len()] = (f64::INFINITY, d.count.saturating_sub(finite));
            family
                .encode_family(&record.check.labels)?
                .encode_histogram::<NoLabelSet>(d.sum, d.count, &buckets, None)?;
        }
        Ok(())
    }

    fn results(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        if self.records.is_empty() {
            return Ok(());
        }
        let mut family = enc.encode_descriptor(
            "check_raw_checks",
            "Finished runs by result (ok, warning, critical, unknown).",
            None,
            MetricType::Counter,
        )?;
        for record in &self.records {
            for state in RESULTS {
                let n = record.runs[state.nagios_code() as usize];
                family
                    .encode_family(&WithResult(&record.check.labels, result_name(state)))?
                    .encode_counter::<NoLabelSet, u64, u64>(&n, None)?;
            }
        }
        Ok(())
    }

    fn process(&self, e: &mut DescriptorEncoder) -> fmt::Result {
        let p = &self.process;
        let s = &p.engine;
        let int = |v: u64| Num::Int(i64::try_from(v).unwrap_or(i64::MAX));
        single(
            e,
            "check_raw_config_last_reload_successful",
            "1 when the last configuration load (start or SIGHUP) succeeded.",
            MetricType::Gauge,
            bool_num(p.reload_ok),
        )?;
        single(
            e,
            "check_raw_config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully, Unix time.",
            MetricType::Gauge,
            Num::Float(unix_seconds(p.reload_success_at)),
        )?;
        single(
            e,
            "check_raw_frames_sent",
            "Frames the runs sent through the shared packet sockets.",
            MetricType::Counter,
            int(s.frames_sent),
        )?;
        single(
            e,
            "check_raw_frames_received",
            "Frames the shared sockets' filters let through.",
            MetricType::Counter,
            int(s.frames_received),
        )?;
        single(
            e,
            "check_raw_frames_unmatched",
            "Frames let through that matched no flow in flight.",
            MetricType::Counter,
            int(s.frames_unmatched),
        )?;
        single(
            e,
            "check_raw_frames_dropped",
            "Frames dropped at a run's mailbox bound.",
            MetricType::Counter,
            int(s.frames_dropped),
        )?;
        single(
            e,
            "check_raw_direct_runs",
            "Runs of check_raw_tcp the main loop carried itself, frame by frame (no worker thread).",
            MetricType::Counter,
            int(s.direct_runs),
        )?;
        single(
            e,
            "check_raw_flows_in_flight",
            "Runs holding a port of the engine's range now.",
            MetricType::Gauge,
            int(s.flows_in_flight as u64),
        )?;
        let mut info = e.encode_descriptor(
            "check_raw_build",
            "The running check_raw's version.",
            None,
            MetricType::Info,
        )?;
        info.encode_info(&[("version", VERSION)])
    }
}
