//! Untrusted text made fit for one line.
//!
//! Messages quote bytes from the command line, from the server and from
//! libraries. A stray CR or LF would split the one status line that Nagios
//! and operators read, a `|` would start perfdata, and a megabyte of body
//! would drown the line, so everything quoted or summarised goes through
//! one of these. They differ on purpose:
//!
//! - [`excerpt`], [`arg`], [`quoted`], [`quoted_bytes`]: text shown to a
//!   person as it was (an argument, a header, a body excerpt): control
//!   characters escaped (`\r`, `\n`, `\u{1b}`) so nothing is hidden, cut
//!   with `...`.
//! - [`flatten`]: a library's error text that may span lines: whitespace
//!   runs become one space.
//! - [`status_safe`]: the last guard of the status line itself: line breaks
//!   become spaces, `|` becomes `/`, other control characters `?`.

/// Longest quoted excerpt, in characters, before it is cut with `...`.
pub const EXCERPT_CHARS: usize = 64;

/// `s` with control characters escaped and cut after `max_chars`
/// characters, so that it always fits on one line.
///
/// Quotes and backslashes are left alone on purpose: a regex such as `\d+`
/// stays readable, and the result is meant for people, not for parsing.
pub fn excerpt(s: &str, max_chars: usize) -> String {
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

/// A command-line argument quoted in a usage message.
pub fn arg(s: &str) -> String {
    excerpt(s, EXCERPT_CHARS)
}

/// [`excerpt`] of `s` in double quotes, cut at [`EXCERPT_CHARS`].
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", excerpt(s, EXCERPT_CHARS))
}

/// [`quoted`] for bytes that may not be UTF-8 (invalid sequences become
/// U+FFFD).
pub fn quoted_bytes(bytes: &[u8]) -> String {
    quoted(&String::from_utf8_lossy(bytes))
}

/// Error texts from libraries may span lines; a message may not.
pub fn flatten(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` with every line break and control character made harmless:
/// one log line (journald) per event, whatever text it carries.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

/// A panic's message and place, for the UNKNOWN line that replaces it.
pub fn panic_message(info: &std::panic::PanicHookInfo) -> String {
    let payload = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into());
    let at = info
        .location()
        .map(|l| format!(" at {}:{}", l.file(), l.line()))
        .unwrap_or_default();
    format!("{payload}{at}")
}

/// Nagios reads only the first line as the summary and `|` starts
/// perfdata, so a summary built from untrusted text (OS errors, server
/// replies) must carry neither line breaks nor pipes.
pub fn status_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' => ' ',
            '|' => '/',
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_stays_one_line() {
        assert_eq!(one_line("a\nb\r\tc\u{1b}[1m"), "a b  c?[1m");
    }

    #[test]
    fn excerpt_escapes_control_characters() {
        assert_eq!(excerpt("a\r\nb\tc\u{1b}", 100), "a\\r\\nb\\tc\\u{1b}");
    }

    #[test]
    fn excerpt_keeps_quotes_backslashes_and_unicode() {
        assert_eq!(excerpt(r#"\d+ "x" é"#, 100), r#"\d+ "x" é"#);
    }

    #[test]
    fn excerpt_cuts_long_text() {
        assert_eq!(excerpt("abcdef", 3), "abc...");
        assert_eq!(excerpt("abc", 3), "abc");
        assert_eq!(arg(&"x".repeat(100)), format!("{}...", "x".repeat(64)));
    }

    #[test]
    fn quotes_invalid_utf8() {
        assert_eq!(quoted_bytes(b"a\xffb"), "\"a\u{fffd}b\"");
    }

    #[test]
    fn flatten_joins_lines() {
        assert_eq!(
            flatten("error:\n  at line 1\r\n\tmore"),
            "error: at line 1 more"
        );
    }

    #[test]
    fn status_safe_removes_breaks_and_pipes() {
        assert_eq!(status_safe("a\nb|c\x07"), "a b/c?");
    }
}
