//! When to ask again: one request/answer loop with backoff inside the
//! deadline, for every carrier that asks over a lossy medium (ARP, NDP,
//! echo and UDP over raw frames in `net`; the kernel's UDP in
//! `transport`). It lives in the base layer so that both use the same
//! schedule and the same bounds without one importing the other.

use std::time::{Duration, Instant};

use crate::failure::Failure;

/// Requests sent at most by one [`resend`]: one a second at worst, enough
/// for the longest `-t`; the deadline ends it sooner.
const MAX_REQUESTS: u32 = 700;

/// Wake-ups handled at most while one request waits for its answer, so a
/// socket that keeps waking us with nothing useful cannot spin forever.
const WAKEUPS_PER_REQUEST: usize = 100_000;

/// When to send a request again: first after `first`, then twice as long
/// each time, up to `max`. One lost frame must not fail a healthy server,
/// and a flood of resends must not add to a busy link's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// ARP, NDP and datagram requests: 200 ms, 400 ms, 800 ms, then 1 s.
    pub const REQUESTS: Backoff = Backoff {
        next: Duration::from_millis(200),
        max: Duration::from_secs(1),
    };

    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { next: first, max }
    }

    /// The wait before the next resend; each call doubles the one after.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }
}

/// Call `send`, then `wait` until it returns an answer, calling `send`
/// again on `backoff`, until `deadline`. `wait(ctx, until)` waits for
/// what arrives before `until` (never past `deadline`) and returns
/// `Ok(Some)` for the answer, `Ok(None)` for nothing conclusive yet.
/// `Ok(None)` overall: no answer before the deadline. `ctx` is what both
/// closures work on (the socket, the trace), lent to each in turn.
pub fn resend<C: ?Sized, T>(
    ctx: &mut C,
    deadline: Instant,
    mut backoff: Backoff,
    mut send: impl FnMut(&mut C) -> Result<(), Failure>,
    mut wait: impl FnMut(&mut C, Instant) -> Result<Option<T>, Failure>,
) -> Result<Option<T>, Failure> {
    for _ in 0..MAX_REQUESTS {
        send(ctx)?;
        let resend_at = (Instant::now() + backoff.next_wait()).min(deadline);
        // Within one request's wait, keep waiting until it is time to
        // resend; each round is a wake-up (a batch or the wait's end).
        for _ in 0..WAKEUPS_PER_REQUEST {
            if Instant::now() >= resend_at {
                break;
            }
            if let Some(answer) = wait(ctx, resend_at)? {
                return Ok(Some(answer));
            }
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let mut b = Backoff::REQUESTS;
        let waits: Vec<u64> = (0..6).map(|_| b.next_wait().as_millis() as u64).collect();
        assert_eq!(waits, [200, 400, 800, 1000, 1000, 1000]);
        let mut fast = Backoff::new(Duration::from_millis(10), Duration::from_millis(25));
        assert_eq!(fast.next_wait(), Duration::from_millis(10));
        assert_eq!(fast.next_wait(), Duration::from_millis(20));
        assert_eq!(fast.next_wait(), Duration::from_millis(25));
    }

    /// Sends and wake-ups, as the loop made them.
    #[derive(Default)]
    struct Log {
        sends: u32,
        waits: u32,
    }

    /// A wait that sleeps until `until` (an idle socket) and answers on
    /// the `answer_on`th send.
    fn idle_until(log: &mut Log, until: Instant, answer_on: u32) -> Option<u32> {
        log.waits += 1;
        if log.sends == answer_on {
            return Some(log.sends);
        }
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        None
    }

    #[test]
    fn resends_on_the_backoff_until_an_answer() {
        let mut log = Log::default();
        let start = Instant::now();
        let fast = Backoff::new(Duration::from_millis(10), Duration::from_millis(20));
        let answer = resend(
            &mut log,
            start + Duration::from_secs(5),
            fast,
            |log| {
                log.sends += 1;
                Ok(())
            },
            |log, until| Ok(idle_until(log, until, 3)),
        )
        .unwrap();
        assert_eq!(answer, Some(3));
        assert_eq!(log.sends, 3);
        // 10 ms, then 20 ms before the third send.
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn no_answer_ends_at_the_deadline_and_a_failure_at_once() {
        let mut log = Log::default();
        let start = Instant::now();
        let none: Option<u32> = resend(
            &mut log,
            start + Duration::from_millis(100),
            Backoff::new(Duration::from_millis(30), Duration::from_millis(30)),
            |log| {
                log.sends += 1;
                Ok(())
            },
            |log, until| Ok(idle_until(log, until, 0)),
        )
        .unwrap();
        assert_eq!(none, None);
        assert!(start.elapsed() >= Duration::from_millis(100));
        assert!(start.elapsed() < Duration::from_millis(300));
        assert_eq!(log.sends, 4, "at 0, 30, 60 and 90 ms");

        let failed = resend(
            &mut log,
            start + Duration::from_secs(5),
            Backoff::REQUESTS,
            |_| Ok(()),
            |_, _| Err::<Option<()>, _>(Failure::Refused),
        );
        assert!(matches!(failed, Err(Failure::Refused)));
    }
}
