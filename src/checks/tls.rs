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
    outcome.facts.tls_version = Some(version_name(&session.version));
    outcome.facts.ssl_earliest_cert_expiry = session.earliest_not_after;
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

/// openssl's version name as blackbox_exporter labels it
/// (`probe_tls_version_info{version="TLS 1.3"}`): "TLSv1.3" is "TLS 1.3",
/// "TLSv1" "TLS 1.0", "SSLv3" "SSL 3.0"; anything else as openssl says it.
pub fn version_name(openssl: &str) -> String {
    match openssl {
        "TLSv1" => "TLS 1.0".into(),
        "SSLv3" => "SSL 3.0".into(),
        other => match other.strip_prefix("TLSv") {
            Some(number) => format!("TLS {number}"),
            None => other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_named_as_blackbox_names_them() {
        assert_eq!(version_name("TLSv1.3"), "TLS 1.3");
        assert_eq!(version_name("TLSv1.2"), "TLS 1.2");
        assert_eq!(version_name("TLSv1.1"), "TLS 1.1");
        assert_eq!(version_name("TLSv1"), "TLS 1.0");
        assert_eq!(version_name("SSLv3"), "SSL 3.0");
        assert_eq!(version_name("unknown"), "unknown");
    }

    #[test]
    fn the_session_fills_the_tls_facts_with_or_without_a_leaf() {
        use crate::outcome::State;
        use crate::transport::tls::{TlsVersion, Versions};
        let tls = TlsConfig {
            versions: Versions {
                min: TlsVersion::V1_2,
                or_newer: true,
            },
            server_name: "www.example.test".into(),
            sni: true,
            verify: None,
            fingerprint: None,
            days: None,
            max_bytes: 1 << 20,
        };
        let session = Session {
            version: "TLSv1.3".into(),
            cipher: "TLS_AES_128_GCM_SHA256".into(),
            leaf: None,
            earliest_not_after: Some(1_900_000_000),
            tcp: std::time::Duration::ZERO,
            handshake: std::time::Duration::ZERO,
        };
        let o = with_certificate(Outcome::new("RAW_TCP", State::Ok, "x"), &tls, &session);
        assert_eq!(o.facts.tls_version.as_deref(), Some("TLS 1.3"));
        assert_eq!(o.facts.ssl_earliest_cert_expiry, Some(1_900_000_000));
        assert_eq!(o.facts.http_status, None);
    }
}
