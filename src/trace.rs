//! Verbose output collected during a check and printed after the status
//! line (`-v` details, `-vvv` one line per frame).
//!
//! Nothing below `main` prints, so the engine records here instead; lines
//! are bounded so a chatty failure cannot grow memory without limit.

use std::time::Instant;

/// Lines kept at most; later ones are counted, not stored.
const MAX_LINES: usize = 2_000;

/// Verbosity levels, as counted `-v` flags.
pub const DETAIL: u8 = 1;
pub const FRAMES: u8 = 3;

#[derive(Debug)]
pub struct Trace {
    level: u8,
    start: Instant,
    lines: Vec<String>,
    dropped: usize,
}

impl Trace {
    pub fn new(level: u8) -> Trace {
        Trace {
            level,
            // The clock `-t` counts on: a frame sent at the deadline reads
            // as sent at `-t` ms, whatever parsing cost before the trace.
            start: crate::wait::process_start(),
            lines: Vec::new(),
            dropped: 0,
        }
    }

    pub fn enabled(&self, level: u8) -> bool {
        self.level >= level
    }

    /// Record a line if the verbosity asks for `level`; the text is built
    /// only then, so quiet runs pay nothing for formatting.
    pub fn line(&mut self, level: u8, text: impl FnOnce() -> String) {
        if !self.enabled(level) {
            return;
        }
        if self.lines.len() >= MAX_LINES {
            self.dropped += 1;
            return;
        }
        self.lines.push(text());
    }

    /// A frame-level line, stamped with milliseconds since the check began.
    pub fn frame(&mut self, text: impl FnOnce() -> String) {
        let elapsed = self.start.elapsed();
        self.line(FRAMES, || {
            format!("{:9.3} ms {}", elapsed.as_secs_f64() * 1e3, text())
        });
    }

    pub fn into_lines(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.lines
                .push(format!("... {} more lines not shown", self.dropped));
        }
        self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_trace_records_nothing() {
        let mut t = Trace::new(0);
        t.line(DETAIL, || unreachable!("not formatted when quiet"));
        assert!(t.into_lines().is_empty());
    }

    #[test]
    fn lines_are_bounded() {
        let mut t = Trace::new(3);
        for i in 0..MAX_LINES + 5 {
            t.line(DETAIL, || i.to_string());
        }
        let lines = t.into_lines();
        assert_eq!(lines.len(), MAX_LINES + 1);
        assert_eq!(lines.last().unwrap(), "... 5 more lines not shown");
    }
}
