//! Nagios threshold ranges (`--warning`, `--critical` on response time).
//!
//! The monitoring-plugins range syntax: `[@]start:end`; `start:` may be
//! left out when 0; `end` left out means +infinity; `~` as start means
//! -infinity. A value outside [start, end] alerts, or inside with `@`.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    start: f64,
    end: f64,
    /// `@`: alert when inside instead of outside.
    inside: bool,
    /// As given, for perfdata (which carries the range text verbatim).
    text: String,
}

/// Longest range text accepted.
const MAX_RANGE: usize = 64;

impl Range {
    pub fn parse(text: &str) -> Result<Range, String> {
        if text.is_empty() || text.len() > MAX_RANGE {
            return Err(format!("range must be 1-{MAX_RANGE} characters"));
        }
        let (inside, body) = match text.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (start, end) = match body.split_once(':') {
            None => (0.0, number(body)?),
            Some((start, end)) => {
                let start = if start == "~" {
                    f64::NEG_INFINITY
                } else {
                    number(start)?
                };
                let end = if end.is_empty() {
                    f64::INFINITY
                } else {
                    number(end)?
                };
                (start, end)
            }
        };
        if start > end {
            return Err(format!("start {start} is greater than end {end}"));
        }
        Ok(Range {
            start,
            end,
            inside,
            text: text.to_string(),
        })
    }

    /// Does `value` raise the alert?
    pub fn alerts(&self, value: f64) -> bool {
        let within = self.start <= value && value <= self.end;
        within == self.inside
    }
}

/// A finite decimal number: digits, one optional point, an optional sign.
fn number(text: &str) -> Result<f64, String> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let valid = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|b| *b == b'.').count() <= 1
        && digits != ".";
    match text.parse::<f64>() {
        Ok(n) if valid && n.is_finite() => Ok(n),
        _ => Err(format!("'{text}' is not a number")),
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alerts(range: &str, value: f64) -> bool {
        Range::parse(range).unwrap().alerts(value)
    }

    #[test]
    fn guideline_examples() {
        // 10: alert if < 0 or > 10
        assert!(!alerts("10", 0.0));
        assert!(!alerts("10", 10.0));
        assert!(alerts("10", 10.5));
        assert!(alerts("10", -1.0));
        // 10: alert if < 10
        assert!(alerts("10:", 9.9));
        assert!(!alerts("10:", 1e9));
        // ~:10 alert if > 10
        assert!(!alerts("~:10", -1e9));
        assert!(alerts("~:10", 11.0));
        // 10:20 alert outside
        assert!(alerts("10:20", 9.0));
        assert!(!alerts("10:20", 15.0));
        assert!(alerts("10:20", 21.0));
        // @10:20 alert inside, bounds included
        assert!(alerts("@10:20", 10.0));
        assert!(alerts("@10:20", 20.0));
        assert!(!alerts("@10:20", 20.1));
    }

    #[test]
    fn fractions_for_seconds() {
        assert!(alerts("0.5", 0.6));
        assert!(!alerts("0.5", 0.000_41));
        assert_eq!(Range::parse("0.25").unwrap().to_string(), "0.25");
    }

    #[test]
    fn bad_ranges() {
        for bad in [
            "", "abc", "20:10", "1:2:3", "@", ":", "1e5", "nan", "inf", ".", "--1",
        ] {
            assert!(Range::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(Range::parse(&"1".repeat(100)).is_err());
    }
}
