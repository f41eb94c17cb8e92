use super::*;

const NOW: i64 = 1_767_225_600; // 2026-01-01 00:00 UTC

#[test]
fn fingerprints_parse_with_and_without_colons() {
    let plain = "ab".repeat(32);
    let colons = vec!["AB"; 32].join(":");
    assert_eq!(Fingerprint::parse(&plain), Fingerprint::parse(&colons));
    let fp = Fingerprint::parse(&plain).unwrap();
    assert_eq!(fp.0, [0xab; 32]);
    assert_eq!(fp.to_string(), colons);
    assert_eq!(Fingerprint::parse(&fp.to_string()), Ok(fp));
}

#[test]
fn malformed_fingerprints_say_why() {
    assert!(Fingerprint::parse("abc")
        .unwrap_err()
        .contains("3 hex digits"));
    assert!(Fingerprint::parse(&"a".repeat(65))
        .unwrap_err()
        .contains("65"));
    assert!(Fingerprint::parse(&"g".repeat(64))
        .unwrap_err()
        .contains("hex"));
    assert!(Fingerprint::parse(&"é".repeat(32)).is_err());
    assert!(Fingerprint::parse("").is_err());
    assert_eq!(Fingerprint::from_digest(&[0; 20]), None);
}

#[test]
fn days_parse() {
    assert_eq!(
        Days::parse("30,7"),
        Ok(Days {
            warn: 30,
            crit: Some(7)
        })
    );
    assert_eq!(
        Days::parse("14"),
        Ok(Days {
            warn: 14,
            crit: None
        })
    );
    for bad in ["", "x", "-1", "30,", ",7", "7,30", "1.5", "99999", "30,7,1"] {
        assert!(Days::parse(bad).is_err(), "{bad} should be refused");
    }
}

#[test]
fn expiry_states_follow_check_curl() {
    let days = Days::parse("30,7").unwrap();
    let e = expiry("www", NOW + 5 * DAY - 60, NOW, days);
    assert_eq!(e.state, State::Critical);
    assert_eq!(e.days_left, 4);
    assert_eq!(
        e.text.as_deref(),
        Some("certificate 'www' expires in 4 day(s) (2026-01-05 23:59 UTC)")
    );
    let e = expiry("www", NOW + 5 * DAY - 60, NOW, Days::parse("30,3").unwrap());
    assert_eq!(e.state, State::Warning);
    let e = expiry("www", NOW + 100 * DAY, NOW, days);
    assert_eq!((e.state, e.days_left, e.text), (State::Ok, 100, None));
    let e = expiry("www", NOW + 10 * DAY, NOW, Days::parse("30").unwrap());
    assert_eq!(e.state, State::Warning);
}

#[test]
fn expired_and_nearly_expired() {
    let days = Days::parse("30,7").unwrap();
    let e = expiry("old", NOW - DAY, NOW, days);
    assert_eq!(e.state, State::Critical);
    assert_eq!(e.days_left, -1);
    assert_eq!(
        e.text.as_deref(),
        Some("certificate 'old' expired on 2025-12-31 00:00 UTC")
    );
    // Expired is CRITICAL even with WARN 0.
    let e = expiry("old", NOW, NOW, Days::parse("0").unwrap());
    assert_eq!(e.state, State::Critical);
    let e = expiry("soon", NOW + 7200, NOW, days);
    assert!(e.text.unwrap().contains("expires in 2 hour(s)"));
    let e = expiry("sooner", NOW + 600, NOW, days);
    assert!(e.text.unwrap().contains("expires in 10 minute(s)"));
}

#[test]
fn dates_are_utc_civil_dates() {
    assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
    assert_eq!(utc_date(951_782_400), "2000-02-29 00:00 UTC");
    assert_eq!(utc_date(NOW + 3661), "2026-01-01 01:01 UTC");
    assert_eq!(utc_date(-1), "1969-12-31 23:59 UTC");
    assert_eq!(utc_date(4_102_444_799), "2099-12-31 23:59 UTC");
}

fn reason(f: Failed) -> String {
    handshake_reason(&Failed {
        name: "www.example.test",
        offered: "TLSv1.3 only",
        ..f
    })
}

#[test]
fn handshake_reasons_in_one_line() {
    let plain = reason(Failed {
        head: b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n",
        eof: true,
        ..Failed::default()
    });
    assert_eq!(
        plain,
        "plain-text answer on a TLS port (not TLS): 'HTTP/1.1 400 Bad Request'"
    );
    let version = reason(Failed {
        head: &[21, 3, 3],
        reasons: vec!["tlsv1 alert protocol version".into()],
        ..Failed::default()
    });
    assert!(
        version.starts_with("no common protocol version"),
        "{version}"
    );
    assert!(version.contains("TLSv1.3 only"), "{version}");
    let alert = reason(Failed {
        head: &[21],
        reasons: vec!["sslv3 alert handshake failure".into()],
        ..Failed::default()
    });
    assert_eq!(alert, "the server sent the TLS alert 'handshake failure'");
    let verify = reason(Failed {
        head: &[22],
        reasons: vec!["certificate verify failed".into()],
        verify: Some("Hostname mismatch".into()),
        ..Failed::default()
    });
    assert_eq!(
        verify,
        "certificate verification failed: Hostname mismatch (checked against 'www.example.test')"
    );
    let closed = reason(Failed {
        eof: true,
        reasons: vec![],
        ..Failed::default()
    });
    assert_eq!(
        closed,
        "the server closed the connection during the handshake"
    );
    let unsupported = reason(Failed {
        head: &[22],
        reasons: vec!["unsupported protocol".into()],
        ..Failed::default()
    });
    assert!(unsupported.starts_with("no common protocol version"));
}
