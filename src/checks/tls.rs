//! What `--ssl` adds to a check's outcome: the protocol version in the
//! summary, the certificate's days left in perfdata, and the
//! `--certificate-days` verdict, the worse state winning.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::outcome::{Outcome, Perf};
use crate::transport::tls::cert;
use crate::transport::tls::{Session, TlsConfig};

/// `outcome` with the certificate's expiry judged and recorded. A
/// certificate worse than the rest leads the summary; one that alerts
/// while something else is worse is still named, after it.
pub fn with_certificate(mut outcome: Outcome, tls: &TlsConfig, session: &Session) -> Outcome {
    let Some(leaf) = &session.leaf else {
        return outcome;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = tls.days.unwrap_or(cert::Days {
        warn: 0,
        crit: None,
    });
    let expiry = cert::expiry(&leaf.name, leaf.not_after, now, days);
    if let (Some(_), Some(text)) = (tls.days, &expiry.text) {
        if expiry.state > outcome.state {
            outcome.state = expiry.state;
            outcome.summary = format!("{text}; {}", outcome.summary);
        } else {
            outcome.summary = format!("{} (also: {text})", outcome.summary);
        }
    }
    outcome.with_perf(Perf::Days {
        label: "cert_days",
        value: expiry.days_left,
        warn: tls.days.map(|d| d.warn),
        crit: tls.days.and_then(|d| d.crit),
    })
}
