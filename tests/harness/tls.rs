//! A test PKI and nginx serving TLS with it, for the `--ssl` tests.
//!
//! [`Pki::new`] makes, at test time and into a temp dir of its own, a CA
//! and server certificates signed by it: one for [`TLS_HOST`] valid a year,
//! one that expires in 5 days, one that expired yesterday, one for
//! another name; and a second CA that signed none of them. The openssl
//! library (the crate the binary links) makes them, because it can set
//! any validity window (the `openssl` command of OpenSSL 3.0 cannot
//! backdate an expired certificate).
//!
//! [`Testbed::nginx_tls`] runs nginx in a real server with its plain HTTP
//! port 80 as `Testbed::nginx` has it, and TLS server blocks, IPv4 and
//! IPv6, on the ports of [`TlsPort`]; each serves `/health`, `/big` (64
//! KiB) and `/big1m` (1 MiB) from the PKI's docroot.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509Name, X509};

use super::files::TempDir;
use super::nginx::{big_body, Nginx, HEALTH_BODY};
use super::testbed::{Testbed, PORT};

/// The name the good certificate is for (and the checks' HOST).
pub const TLS_HOST: &str = "www.example.test";
/// The name of the "wrong name" certificate.
pub const OTHER_HOST: &str = "other.example.test";
/// Length of `/big1m`.
pub const BIG1M_LEN: usize = 1 << 20;

/// The TLS listeners of [`Testbed::nginx_tls`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsPort {
    /// The good certificate, TLS 1.2 and 1.3.
    Good = 443,
    /// The certificate that expires in 5 days.
    Soon = 8443,
    /// The certificate that expired yesterday.
    Expired = 8444,
    /// A certificate for [`OTHER_HOST`].
    OtherName = 8445,
    /// The good certificate, TLS 1.2 only.
    Only12 = 8446,
}

impl TlsPort {
    pub const ALL: [TlsPort; 5] = [
        TlsPort::Good,
        TlsPort::Soon,
        TlsPort::Expired,
        TlsPort::OtherName,
        TlsPort::Only12,
    ];

    pub fn port(self) -> u16 {
        self as u16
    }
}

/// One certificate and its key, written as PEM.
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// SHA-256 of the DER, as `AB:CD:...`.
    pub fingerprint: String,
}

/// The CA, the other CA, the server certificates and the docroot.
pub struct Pki {
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub good: Issued,
    pub soon: Issued,
    pub expired: Issued,
    pub other_name: Issued,
    dir: TempDir,
}

const DAY: i64 = 86_400;

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    PKey::from_ec_key(EcKey::generate(&group).expect("EC key")).expect("PKey")
}

fn name(cn: &str) -> X509Name {
    let mut n = X509Name::builder().expect("name");
    n.append_entry_by_text("O", "check_raw tests").expect("O");
    n.append_entry_by_text("CN", cn).expect("CN");
    n.build()
}

/// A certificate for `cn` valid from `from` to `to` (Unix seconds), signed
/// by `issuer` (self-signed, as a CA, when None).
fn certificate(
    cn: &str,
    serial: u32,
    from: i64,
    to: i64,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
) -> X509 {
    let mut b = X509::builder().expect("builder");
    b.set_version(2).expect("v3");
    let serial = BigNum::from_u32(serial)
        .and_then(|n| n.to_asn1_integer())
        .expect("serial");
    b.set_serial_number(&serial).expect("serial");
    b.set_subject_name(&name(cn)).expect("subject");
    b.set_pubkey(key).expect("pubkey");
    b.set_not_before(&Asn1Time::from_unix(from as _).expect("time"))
        .expect("not before");
    b.set_not_after(&Asn1Time::from_unix(to as _).expect("time"))
        .expect("not after");
    match issuer {
        None => {
            b.set_issuer_name(&name(cn)).expect("issuer");
            let ca = BasicConstraints::new().critical().ca().build().expect("bc");
            b.append_extension(ca).expect("bc");
            b.sign(key, MessageDigest::sha256()).expect("sign");
        }
        Some((ca, ca_key)) => {
            b.set_issuer_name(ca.subject_name()).expect("issuer");
            let san = SubjectAlternativeName::new()
                .dns(cn)
                .build(&b.x509v3_context(Some(ca), None))
                .expect("SAN");
            b.append_extension(san).expect("SAN");
            b.sign(ca_key, MessageDigest::sha256()).expect("sign");
        }
    }
    b.build()
}

fn write(path: &Path, data: &[u8]) {
    fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

impl Pki {
    pub fn new() -> Pki {
        let dir = TempDir::new();
        // A second back, so "365 days" certificates have 364 whole days
        // left even when a check reads them within the second they were
        // made (whole-second clocks on both sides).
        let t = now() - 1;
        let ca_key = key();
        let ca = certificate(
            "check_raw test CA",
            1,
            t - DAY,
            t + 3650 * DAY,
            &ca_key,
            None,
        );
        let other_key = key();
        let other = certificate("another CA", 2, t - DAY, t + 3650 * DAY, &other_key, None);
        let path = |n: &str| dir.path().join(n);
        write(&path("ca.pem"), &ca.to_pem().expect("pem"));
        write(&path("other-ca.pem"), &other.to_pem().expect("pem"));
        let issue = |file: &str, cn: &str, serial: u32, from: i64, to: i64| -> Issued {
            let k = key();
            let c = certificate(cn, serial, from, to, &k, Some((&ca, &ca_key)));
            let (cert, key) = (path(&format!("{file}.pem")), path(&format!("{file}.key")));
            write(&cert, &c.to_pem().expect("pem"));
            write(&key, &k.private_key_to_pem_pkcs8().expect("key pem"));
            let digest = c.digest(MessageDigest::sha256()).expect("digest");
            let fingerprint = digest
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":");
            Issued {
                cert,
                key,
                fingerprint,
            }
        };
        // A year less a minute: 364 whole days left however soon a test
        // asks (at exactly a year it would be 365 within the same second).
        let good = issue("good", TLS_HOST, 10, t - DAY, t + 365 * DAY - 60);
        // 5 days less a minute: 4 whole days left, as check_curl counts.
        let soon = issue("soon", TLS_HOST, 11, t - DAY, t + 5 * DAY - 60);
        let expired = issue("expired", TLS_HOST, 12, t - 30 * DAY, t - DAY);
        let other_name = issue("other", OTHER_HOST, 13, t - DAY, t + 365 * DAY);
        let www = path("www");
        fs::create_dir(&www).expect("docroot");
        write(&www.join("health"), HEALTH_BODY);
        write(&www.join("big"), &big_body());
        write(&www.join("big1m"), &big1m_body());
        Pki {
            ca: path("ca.pem"),
            other_ca: path("other-ca.pem"),
            good,
            soon,
            expired,
            other_name,
            dir,
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The nginx `server` blocks of every [`TlsPort`].
    pub fn server_blocks(&self) -> String {
        let root = self.dir.path().join("www");
        TlsPort::ALL
            .iter()
            .map(|&p| {
                let (issued, protocols) = match p {
                    TlsPort::Good => (&self.good, "TLSv1.2 TLSv1.3"),
                    TlsPort::Soon => (&self.soon, "TLSv1.2 TLSv1.3"),
                    TlsPort::Expired => (&self.expired, "TLSv1.2 TLSv1.3"),
                    TlsPort::OtherName => (&self.other_name, "TLSv1.2 TLSv1.3"),
                    TlsPort::Only12 => (&self.good, "TLSv1.2"),
                };
                format!(
                    "    server {{\n        listen {port} ssl;\n        listen [::]:{port} ssl;\n        \
                     ssl_certificate {cert};\n        ssl_certificate_key {key};\n        \
                     ssl_protocols {protocols};\n        root {root};\n    }}\n",
                    port = p.port(),
                    cert = issued.cert.display(),
                    key = issued.key.display(),
                    root = root.display(),
                )
            })
            .collect()
    }
}

/// The 1 MiB body of `/big1m`: `/big`'s bytes sixteen times, each copy
/// with its index xored in, so a misplaced 64 KiB block shows in the MD5.
pub fn big1m_body() -> Vec<u8> {
    let big = big_body();
    let mut body = Vec::with_capacity(BIG1M_LEN);
    for i in 0..(BIG1M_LEN / big.len()) {
        body.extend(big.iter().map(|b| b ^ i as u8));
    }
    body
}

impl Testbed {
    /// nginx in `host` with plain HTTP on [`PORT`] (as `Testbed::nginx`)
    /// and every [`TlsPort`] with `pki`'s certificates.
    pub fn nginx_tls(&self, host: &str, pki: &Pki) -> Nginx {
        self.nginx_with(host, PORT, &pki.server_blocks())
    }
}
