//! The certificate checks, without I/O: the SHA-256 fingerprint an
//! operator pins (`--fingerprint`), the days left before the leaf expires
//! (`--certificate-days`) and their verdict in check_curl's words, and the
//! one-line reason a handshake failed. Times are Unix seconds given by the
//! caller, so every case is a unit test with a fixed clock.

use std::fmt;

use crate::outcome::State;

const DAY: i64 = 86_400;
/// Longest `--certificate-days` accepted: a hundred years.
const MAX_DAYS: u32 = 36_500;

/// A SHA-256 fingerprint of a DER certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// 64 hex digits, any case, colons anywhere (as `openssl x509
    /// -fingerprint -sha256` prints it: `AB:CD:...`).
    pub fn parse(text: &str) -> Result<Fingerprint, String> {
        let digits: Vec<u8> = text.bytes().filter(|&b| b != b':').collect();
        if digits.len() != 64 {
            return Err(format!(
                "{} hex digits, a SHA-256 fingerprint has 64 (colons allowed)",
                digits.len()
            ));
        }
        let mut out = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let hex = |b: u8| (b as char).to_digit(16);
            match (hex(pair[0]), hex(pair[1])) {
                (Some(hi), Some(lo)) => out[i] = (hi * 16 + lo) as u8,
                _ => return Err("not a hex digit in it (0-9, a-f, colons allowed)".into()),
            }
        }
        Ok(Fingerprint(out))
    }

    /// From a digest's bytes; None unless it is 32 bytes long.
    pub fn from_digest(bytes: &[u8]) -> Option<Fingerprint> {
        bytes.try_into().ok().map(Fingerprint)
    }
}

impl fmt::Display for Fingerprint {
    /// `AB:CD:...`, as openssl prints it, so it can be pasted back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// `--certificate-days WARN[,CRIT]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days {
    pub warn: u32,
    pub crit: Option<u32>,
}

impl Days {
    pub fn parse(text: &str) -> Result<Days, String> {
        let number = |s: &str| -> Result<u32, String> {
            match s.trim().parse::<u32>() {
                Ok(n) if n <= MAX_DAYS => Ok(n),
                Ok(_) => Err(format!("at most {MAX_DAYS} days")),
                Err(_) => Err("expects WARN[,CRIT], whole days".into()),
            }
        };
        let (warn, crit) = match text.split_once(',') {
            Some((w, c)) => (number(w)?, Some(number(c)?)),
            None => (number(text)?, None),
        };
        if crit.is_some_and(|c| c > warn) {
            return Err("CRIT must not be more days than WARN".into());
        }
        Ok(Days { warn, crit })
    }
}

/// What the leaf certificate's expiry says, against `--certificate-days`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    pub state: State,
    /// Whole days left (negative once expired), for perfdata.
    pub days_left: i64,
    /// check_curl's words when the state is not OK.
    pub text: Option<String>,
}

/// The verdict on a leaf that is valid until `not_after`, at `now`.
/// check_curl's rule: whole days left, truncated; CRITICAL within CRIT
/// days or once expired, WARNING within WARN days.
pub fn expiry(name: &str, not_after: i64, now: i64, days: Days) -> Expiry {
    let left = not_after - now;
    let days_left = left.div_euclid(DAY);
    let date = utc_date(not_after);
    if left <= 0 {
        return Expiry {
            state: State::Critical,
            days_left,
            text: Some(format!("certificate '{name}' expired on {date}")),
        };
    }
    let state = if days.crit.is_some_and(|c| days_left <= i64::from(c)) {
        State::Critical
    } else if days_left <= i64::from(days.warn) {
        State::Warning
    } else {
        State::Ok
    };
    let text = (state != State::Ok).then(|| {
        if days_left > 0 {
            format!("certificate '{name}' expires in {days_left} day(s) ({date})")
        } else if left >= 3600 {
            format!(
                "certificate '{name}' expires in {} hour(s) ({date})",
                left / 3600
            )
        } else {
            format!(
                "certificate '{name}' expires in {} minute(s) ({date})",
                left / 60
            )
        }
    });
    Expiry {
        state,
        days_left,
        text,
    }
}

/// `2026-03-04 12:00 UTC` from Unix seconds (the civil calendar from days,
/// after Howard Hinnant's `civil_from_days`).
pub fn utc_date(unix: i64) -> String {
    let days = unix.div_euclid(DAY);
    let secs = unix.rem_euclid(DAY);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// What is known about a handshake that failed, beyond the transport's
/// own failures (timeout, RST), which keep their step and are worded
/// elsewhere.
#[derive(Debug, Default)]
pub struct Failed<'a> {
    /// The first bytes the server sent, if any.
    pub head: &'a [u8],
    /// The server closed its side before the handshake ended.
    pub eof: bool,
    /// openssl's reasons, innermost first ("tlsv1 alert protocol version").
    pub reasons: Vec<String>,
    /// The chain or name verification's error, when `--verify` was asked
    /// and it failed.
    pub verify: Option<String>,
    /// The name the certificate was checked against.
    pub name: &'a str,
    /// The versions offered: "TLSv1.3 only", "TLSv1.2 or newer".
    pub offered: &'a str,
}

/// The one-line reason a handshake failed.
pub fn handshake_reason(f: &Failed) -> String {
    // A TLS record starts with its content type: 20-23 (24 heartbeat).
    if let Some(&first) = f.head.first() {
        if !(20..=24).contains(&first) {
            return format!(
                "plain-text answer on a TLS port (not TLS): '{}'",
                first_line(f.head)
            );
        }
    }
    if let Some(why) = &f.verify {
        return format!(
            "certificate verification failed: {why} (checked against '{}')",
            f.name
        );
    }
    let alert = f.reasons.iter().find_map(|r| alert_name(r));
    let no_version = f.reasons.iter().any(|r| {
        r.contains("unsupported protocol")
            || r.contains("no protocols available")
            || r.contains("wrong ssl version")
    });
    match alert {
        Some("protocol version") => {
            format!(
                "no common protocol version: the server sent the alert 'protocol version' (we offered {})",
                f.offered
            )
        }
        Some(alert) => format!("the server sent the TLS alert '{alert}'"),
        None if no_version => format!(
            "no common protocol version (we offered {}): {}",
            f.offered,
            f.reasons.join(", ")
        ),
        None if f.eof => "the server closed the connection during the handshake".into(),
        None if f.reasons.is_empty() => "the handshake failed for no reason openssl gave".into(),
        None => f.reasons.join(", "),
    }
}

/// "protocol version" from "tlsv1 alert protocol version" or "sslv3 alert
/// handshake failure".
fn alert_name(reason: &str) -> Option<&str> {
    let at = reason.find("alert ")?;
    Some(&reason[at + "alert ".len()..])
}

/// The first line of `data`, printable, at most 60 characters.
fn first_line(data: &[u8]) -> String {
    let line = data.split(|&b| b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(line)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(60)
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests;
