//! The daemon's log: one line per event on stderr, `check_raw_serve: `
//! first, as journald (and a terminal) shows it. The one place in `serve`
//! that prints: the plugin's output stays `main`'s, but a daemon's log
//! lines are its output while it runs, and they must go out as they
//! happen, not when it ends.
//!
//! A line is made one line here (control characters out), whatever text
//! it carries, so one event is one journal entry. A closed or full stderr
//! never stops the daemon: the line is lost, the checks go on.

use std::io::Write;

use super::args::PROGRAM;
use crate::text::one_line;

/// Write `line` to stderr as one log line, in one write(2): stderr is
/// unbuffered, and `writeln!` would make three (no torn line between
/// writers, and fewer system calls a run under `-v`).
pub fn line(line: impl AsRef<str>) {
    let text = format!("{PROGRAM}: {}\n", one_line(line.as_ref()));
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
