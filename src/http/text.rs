//! Rendering of untrusted text inside one-line messages.
//!
//! Error and mismatch messages quote bytes that came from the server or from
//! the command line. A stray CR or LF in them would split the one status line
//! that Nagios and operators read, and a megabyte of body would drown it, so
//! everything quoted goes through [`one_line`] first.

/// Longest quoted excerpt, in characters, before it is cut with `...`.
pub(super) const EXCERPT_CHARS: usize = 64;

/// `s` with control characters escaped (`\r`, `\n`, `\t`, `\u{1b}`) and cut
/// after `max_chars` characters, so that it always fits on one line.
///
/// Quotes and backslashes are left alone on purpose: a regex such as `\d+`
/// stays readable, and the result is meant for people, not for parsing.
pub(super) fn one_line(s: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (count, c) in s.chars().enumerate() {
        if count == max_chars {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// [`one_line`] of `s` in double quotes, cut at [`EXCERPT_CHARS`].
pub(super) fn quoted(s: &str) -> String {
    format!("\"{}\"", one_line(s, EXCERPT_CHARS))
}

/// [`quoted`] for bytes that may not be UTF-8 (invalid sequences become
/// U+FFFD).
pub(super) fn quoted_bytes(bytes: &[u8]) -> String {
    quoted(&String::from_utf8_lossy(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters() {
        assert_eq!(one_line("a\r\nb\tc\u{1b}", 100), "a\\r\\nb\\tc\\u{1b}");
    }

    #[test]
    fn keeps_quotes_backslashes_and_unicode() {
        assert_eq!(one_line(r#"\d+ "x" é"#, 100), r#"\d+ "x" é"#);
    }

    #[test]
    fn cuts_long_text() {
        assert_eq!(one_line("abcdef", 3), "abc...");
        assert_eq!(one_line("abc", 3), "abc");
    }

    #[test]
    fn quotes_invalid_utf8() {
        assert_eq!(quoted_bytes(b"a\xffb"), "\"a\u{fffd}b\"");
    }
}
