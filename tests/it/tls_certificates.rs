//! `--ssl` and the server's certificate: `--verify` with the right CA and
//! every reason it fails (unknown CA, wrong name, expired), named in the
//! status line; `--certificate-days` (WARNING, CRITICAL, expired); and
//! `--fingerprint` pinning the certificate, which `-v` prints. MASTER and
//! BACKUP alike, against nginx serving TLS with certificates made at test
//! time (`harness::tls`, the bed in `harness::tls_bed`).
//!
//! The TLS checks themselves (versions, SNI, handshakes that fail, bad
//! input, loss) are in `tls.rs`. After every case no connection is left
//! ESTABLISHED on the real server. Tests skip, with a message, unless root
//! with nginx.

use crate::harness::tls_bed::*;
use crate::harness::*;

#[test]
fn verification_passes_with_the_right_ca_and_names_why_it_fails() {
    require!(Need::Testbed, NGINX);
    let bed = TlsBed::new();
    let ca = bed.ca();
    let other_ca = bed.pki.other_ca.display().to_string();
    let roles_ = Roles::new();
    for (role, _) in roles(&roles_) {
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl", "--ca-file", &ca, "-S", "200"]),
            RS1,
            HTTPS,
            "/health",
        );
        assert_verdict(&r, 0, OK, &["over TLSv1.3"]);
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl", "--ca-file", &other_ca, "-S", "200"]),
            RS1,
            HTTPS,
            "/health",
        );
        assert_verdict(
            &r,
            2,
            CRITICAL,
            &["certificate verification failed: unable to get local issuer certificate"],
        );
        assert_nothing_left_open(&bed.tb, "rs1", HTTPS, &r);
        let port = TlsPort::OtherName.port();
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl", "--ca-file", &ca, "-S", "200"]),
            RS1,
            port,
            "/health",
        );
        assert_verdict(
            &r,
            2,
            CRITICAL,
            &[
                "certificate verification failed: hostname mismatch",
                TLS_HOST,
            ],
        );
        // Unverified (the default), the same server passes.
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl", "-S", "200"]),
            RS1,
            port,
            "/health",
        );
        assert_verdict(&r, 0, OK, &["over TLSv1.3"]);
        // --sni names what is verified.
        let r = http(
            &bed.tb,
            "lb",
            &with(
                &role,
                &["--ssl", "--ca-file", &ca, "--sni", OTHER_HOST, "-S", "200"],
            ),
            RS1,
            port,
            "/health",
        );
        assert_verdict(&r, 0, OK, &["over TLSv1.3"]);
        // The system store does not know the test CA.
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl", "--verify", "-S", "200"]),
            RS1,
            HTTPS,
            "/health",
        );
        assert_verdict(&r, 2, CRITICAL, &["certificate verification failed"]);
    }
}

#[test]
fn certificate_days_warn_crit_and_expired() {
    require!(Need::Testbed, NGINX);
    let bed = TlsBed::new();
    let roles_ = Roles::new();
    let soon = TlsPort::Soon.port();
    for (role, _) in roles(&roles_) {
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl", "--certificate-days", "30,7", "-S", "200"]),
            RS1,
            soon,
            "/health",
        );
        assert_verdict(
            &r,
            2,
            CRITICAL,
            &[
                &format!("certificate '{TLS_HOST}' expires in 4 day(s) ("),
                "UTC); HTTP/1.1 200 OK over TLSv1.3",
            ],
        );
        assert!(r.status_line().contains("cert_days=4;@~:30;@~:7"), "{r}");
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl", "--certificate-days", "30,3", "-S", "200"]),
            RS1,
            soon,
            "/health",
        );
        assert_verdict(&r, 1, WARNING, &["expires in 4 day(s)"]);
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl", "--certificate-days", "30,7", "-S", "200"]),
            RS1,
            TlsPort::Expired.port(),
            "/health",
        );
        assert_verdict(
            &r,
            2,
            CRITICAL,
            &[&format!("certificate '{TLS_HOST}' expired on ")],
        );
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl", "--certificate-days", "30,7", "-S", "200"]),
            RS1,
            HTTPS,
            "/health",
        );
        assert_verdict(&r, 0, OK, &["over TLSv1.3"]);
        assert_nothing_left_open(&bed.tb, "rs1", soon, &r);
    }
}

#[test]
fn fingerprint_pins_the_certificate_and_v_prints_it() {
    require!(Need::Testbed, NGINX);
    let bed = TlsBed::new();
    let good = bed.pki.good.fingerprint.clone();
    let lower = good.replace(':', "").to_lowercase();
    let old = bed.pki.soon.fingerprint.clone();
    let roles_ = Roles::new();
    for (role, _) in roles(&roles_) {
        for fp in [&good, &lower] {
            let r = http(
                &bed.tb,
                "lb",
                &with(&role, &["--ssl", "--fingerprint", fp, "-S", "200"]),
                RS1,
                HTTPS,
                "/health",
            );
            assert_verdict(&r, 0, OK, &["over TLSv1.3"]);
        }
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl", "--fingerprint", &old, "-S", "200"]),
            RS1,
            HTTPS,
            "/health",
        );
        assert_verdict(&r, 2, CRITICAL, &["SHA-256 fingerprint", &good, &old]);
        assert_nothing_left_open(&bed.tb, "rs1", HTTPS, &r);
        let r = http(
            &bed.tb,
            "lb",
            &with(&role, &["--ssl", "-v", "-S", "200"]),
            RS1,
            HTTPS,
            "/health",
        );
        assert_verdict(&r, 0, OK, &["over TLSv1.3"]);
        for needle in [
            format!("* certificate SHA-256 fingerprint: {good}"),
            format!("* certificate subject: O=check_raw tests, CN={TLS_HOST}"),
            "* certificate issuer: O=check_raw tests, CN=check_raw test CA".into(),
            "* certificate valid from ".into(),
            "* TLS: TLSv1.3, cipher TLS_".into(),
        ] {
            assert!(r.stdout.contains(&needle), "-v lacks {needle:?}\n{r}");
        }
    }
}
