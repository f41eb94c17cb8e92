//! What a TLS handshake agreed on, as the checks and `-v` use it: the
//! version, the cipher and the server's certificate, read out of openssl
//! once the handshake is done, so nothing above `transport` sees openssl.

use std::time::Duration;

use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::x509::{X509NameRef, X509Ref};

use super::cert::{self, Fingerprint};
use crate::trace::{Trace, DETAIL};

/// The server's certificate, as `-v` shows it and the checks use it.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The subject's CN, else the whole subject: check_curl's 'CN'.
    pub name: String,
    pub subject: String,
    pub issuer: String,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    pub fingerprint: Fingerprint,
}

/// What the handshake agreed on.
#[derive(Debug, Clone)]
pub struct Session {
    pub version: String,
    pub cipher: String,
    pub leaf: Option<Leaf>,
    /// Unix seconds: the earliest notAfter of the certificates the server
    /// sent (its leaf and the chain after it), for `/metrics` and `/probe`
    /// (blackbox's `probe_ssl_earliest_cert_expiry`).
    pub earliest_not_after: Option<i64>,
    /// TCP connect (SYN to SYN/ACK) and TLS handshake.
    pub tcp: Duration,
    pub handshake: Duration,
}

/// The agreed version and cipher, and the leaf certificate.
pub(super) fn describe(ssl: &openssl::ssl::SslRef, tcp: Duration, handshake: Duration) -> Session {
    Session {
        version: ssl.version_str().to_string(),
        cipher: ssl
            .current_cipher()
            .map(|c| c.name().to_string())
            .unwrap_or_else(|| "none".into()),
        leaf: ssl.peer_certificate().and_then(|c| leaf(&c)),
        earliest_not_after: earliest_not_after(ssl),
        tcp,
        handshake,
    }
}

fn leaf(cert: &X509Ref) -> Option<Leaf> {
    let digest = cert.digest(MessageDigest::sha256()).ok()?;
    let subject = name_text(cert.subject_name());
    let cn = cert
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok());
    Some(Leaf {
        name: cn.unwrap_or_else(|| subject.clone()),
        issuer: name_text(cert.issuer_name()),
        subject,
        not_before: unix(cert.not_before())?,
        not_after: unix(cert.not_after())?,
        fingerprint: Fingerprint::from_digest(&digest)?,
    })
}

/// The earliest notAfter of what the server sent. On the client side
/// openssl's chain holds the leaf too; the leaf is asked apart all the
/// same (a session resumed without the chain still has it).
fn earliest_not_after(ssl: &openssl::ssl::SslRef) -> Option<i64> {
    let leaf = ssl.peer_certificate().and_then(|c| unix(c.not_after()));
    let chain = ssl
        .peer_cert_chain()
        .into_iter()
        .flat_map(|chain| chain.iter())
        .filter_map(|c| unix(c.not_after()));
    leaf.into_iter().chain(chain).min()
}

/// Unix seconds of an ASN.1 time.
fn unix(t: &openssl::asn1::Asn1TimeRef) -> Option<i64> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
    let diff = epoch.diff(t).ok()?;
    Some(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

/// "CN=www.example.test, O=Example".
fn name_text(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_else(|_| "?".into());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `-v`: what an operator copies into `--fingerprint`, and the rest.
pub(super) fn trace_session(trace: &mut Trace, s: &Session) {
    trace.line(DETAIL, || {
        format!(
            "* TLS: {}, cipher {}, handshake {:.2} ms (TCP connect {:.2} ms before it)",
            s.version,
            s.cipher,
            s.handshake.as_secs_f64() * 1e3,
            s.tcp.as_secs_f64() * 1e3
        )
    });
    let Some(leaf) = &s.leaf else {
        trace.line(DETAIL, || "* certificate: none sent".into());
        return;
    };
    trace.line(DETAIL, || {
        format!("* certificate subject: {}", leaf.subject)
    });
    trace.line(DETAIL, || format!("* certificate issuer: {}", leaf.issuer));
    trace.line(DETAIL, || {
        format!(
            "* certificate valid from {} to {}",
            cert::utc_date(leaf.not_before),
            cert::utc_date(leaf.not_after)
        )
    });
    trace.line(DETAIL, || {
        format!("* certificate SHA-256 fingerprint: {}", leaf.fingerprint)
    });
}
