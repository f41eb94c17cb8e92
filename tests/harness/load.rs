//! CPU load between the tests of one test binary. The integration tests
//! are one binary (`tests/it`), and libtest runs two of its tests at once
//! whatever file they came from, so a test that loads the CPU on purpose
//! (a UDP flood, fifty checks at once) must not run beside a test whose
//! own time bound it would break (the signals' 300 ms, a deadline), nor be
//! measured beside one: such a test calls [`alone`] first, and waits until
//! no testbed of another test is up, then runs with no other testbed up.
//!
//! Every `Testbed` holds a [`Share`] (taken in `Testbed::without_servers`,
//! given back when the testbed is dropped); tests without a testbed open
//! no namespace and are not timed, so they run beside anything.
//!
//! Rules that keep it free of deadlock: a test calls [`alone`] before it
//! builds its testbed (its own share then passes; a share its thread held
//! already would wait forever); a test that holds a testbed may build
//! another (a share does not wait while other shares are out, so nested
//! testbeds pass a waiting `alone`). A waiting `alone` gets its turn as
//! soon as the shares out are given back: from then on new shares wait.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

/// Longer than any test's own run (`HARD_LIMIT` and the slowest daemon
/// test): past this the lock is taken to be stuck, and the test panics
/// rather than hang the binary.
const WAIT_LIMIT: Duration = Duration::from_secs(600);

#[derive(Default)]
struct State {
    /// Testbeds up (shares out).
    shares: usize,
    /// The thread of the test running alone, if one does.
    alone: Option<ThreadId>,
    /// Tests waiting in `alone`.
    waiting: usize,
}

static STATE: Mutex<State> = Mutex::new(State {
    shares: 0,
    alone: None,
    waiting: 0,
});
static CHANGED: Condvar = Condvar::new();

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits on `CHANGED` while `blocked`, for at most `WAIT_LIMIT`; past it,
/// `give_up` undoes what the caller counted, and the test panics.
fn wait_while(
    mut s: MutexGuard<'static, State>,
    what: &str,
    blocked: impl Fn(&State) -> bool,
    give_up: impl Fn(&mut State),
) -> MutexGuard<'static, State> {
    let start = Instant::now();
    while blocked(&s) {
        let Some(left) = WAIT_LIMIT.checked_sub(start.elapsed()) else {
            give_up(&mut s);
            drop(s);
            CHANGED.notify_all();
            panic!("harness::load: {what} waited {WAIT_LIMIT:?} for the other tests");
        };
        s = CHANGED
            .wait_timeout(s, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    s
}

/// A testbed's place beside other tests' testbeds; given back on drop.
#[derive(Debug)]
pub struct Share(());

/// A share, once no test runs alone, nor (with no share out) waits to.
pub fn share() -> Share {
    let me = thread::current().id();
    let blocked = |s: &State| {
        s.alone.is_some_and(|t| t != me) || (s.alone.is_none() && s.waiting > 0 && s.shares == 0)
    };
    let mut s = wait_while(state(), "a testbed", blocked, |_| {});
    s.shares += 1;
    Share(())
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut s = state();
        s.shares = s.shares.saturating_sub(1);
        drop(s);
        CHANGED.notify_all();
    }
}

/// Held by a test that loads the CPU: while it lives, no other test has a
/// testbed up.
#[derive(Debug)]
pub struct Alone(());

/// Waits until no testbed is up and no other test runs alone, then keeps
/// every other test's testbed from starting until the guard drops. Call it
/// before building the test's own testbed.
pub fn alone() -> Alone {
    let me = thread::current().id();
    let mut s = state();
    s.waiting += 1;
    let blocked = |s: &State| s.alone.is_some() || s.shares > 0;
    let mut s = wait_while(s, "alone", blocked, |s| s.waiting -= 1);
    s.waiting -= 1;
    s.alone = Some(me);
    Alone(())
}

impl Drop for Alone {
    fn drop(&mut self) {
        let mut s = state();
        s.alone = None;
        drop(s);
        CHANGED.notify_all();
    }
}
