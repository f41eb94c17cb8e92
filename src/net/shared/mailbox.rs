//! A flow's mailbox: the frames the engine's reader demultiplexed to one
//! run, and an eventfd that is readable while any wait. The run's `Wire`
//! polls the eventfd exactly as it polls its own packet socket, so
//! `Waiter::wait` and the receive loop do not change.
//!
//! Bounded twice, so a flood (or a server sending faster than a run reads)
//! cannot grow memory: per mailbox in frames and bytes, and across all
//! mailboxes of the engine in bytes. A frame over a bound is dropped and
//! counted, as the kernel drops what overflows a socket's buffer; TCP and
//! the request loops resend.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Frames one mailbox holds at most: far more than a 64 KiB window of
/// small segments, which is what a run can be sent between two reads.
pub(crate) const MAX_FRAMES: usize = 512;
/// Bytes one mailbox holds at most: the 64 KiB window we announce, a few
/// times over (GRO may merge it into one 66 KiB frame).
pub(crate) const MAX_BYTES: usize = 512 * 1024;

/// One frame as the reader received it.
#[derive(Debug)]
pub(crate) struct Frame {
    /// Empty when `truncated`: such a frame is never parsed.
    pub bytes: Vec<u8>,
    pub wire_len: usize,
    pub truncated: bool,
    pub checksum_verified: bool,
}

/// What became of a frame offered to a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Push {
    Delivered,
    /// No run holds the mailbox now: the frame matched no flow.
    Closed,
    /// A bound was reached: dropped.
    Full,
}

#[derive(Debug, Default)]
struct FrameQueue {
    /// Lent to a run: frames are taken.
    open: bool,
    frames: VecDeque<Frame>,
    bytes: usize,
    /// The eventfd's counter is non-zero: written since the last drain.
    signalled: bool,
}

/// A mailbox: its queue and its eventfd. Invariant (under the lock): the
/// eventfd is readable exactly when frames wait, so a run never sleeps on
/// a frame in its queue and never spins on an empty one.
#[derive(Debug)]
pub(crate) struct Inbox {
    queue: Mutex<FrameQueue>,
    event: OwnedFd,
    /// Bytes queued in all mailboxes of the engine, against `budget`.
    total: Arc<AtomicUsize>,
    budget: usize,
}

impl Inbox {
    /// A closed mailbox counting its bytes in `total`, up to `budget`
    /// bytes across every mailbox sharing it.
    pub(crate) fn new(total: Arc<AtomicUsize>, budget: usize) -> io::Result<Inbox> {
        // SAFETY: eventfd takes two integers and returns a new descriptor
        // or -1; we own what it returns.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Inbox {
            queue: Mutex::new(FrameQueue::default()),
            // SAFETY: `fd` is a fresh descriptor nobody else owns.
            event: unsafe { OwnedFd::from_raw_fd(fd) },
            total,
            budget,
        })
    }

    /// The queue, whatever a panicking holder left (it only holds frames).
    fn lock(&self) -> MutexGuard<'_, FrameQueue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.event.as_raw_fd()
    }

    /// Lend to a run: empty, then take frames.
    pub(crate) fn open(&self) {
        let mut q = self.lock();
        self.clear(&mut q);
        q.open = true;
    }

    /// The run is done: refuse frames, free what waits.
    pub(crate) fn close(&self) {
        let mut q = self.lock();
        self.clear(&mut q);
        q.open = false;
    }

    fn clear(&self, q: &mut FrameQueue) {
        self.total.fetch_sub(q.bytes, Ordering::Relaxed);
        q.frames.clear();
        q.bytes = 0;
        self.drain(q);
    }

    /// Queue `frame` for the run, within the bounds.
    pub(crate) fn push(&self, frame: Frame) -> Push {
        let mut q = self.lock();
        if !q.open {
            return Push::Closed;
        }
        let len = frame.bytes.len();
        if q.frames.len() >= MAX_FRAMES || q.bytes + len > MAX_BYTES {
            return Push::Full;
        }
        if self.total.fetch_add(len, Ordering::Relaxed) + len > self.budget {
            self.total.fetch_sub(len, Ordering::Relaxed);
            return Push::Full;
        }
        q.bytes += len;
        q.frames.push_back(frame);
        if !q.signalled {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to our eventfd. It
            // cannot fail but on counter overflow, which one write never
            // reaches (we drain before writing again).
            unsafe { libc::write(self.raw_fd(), (&one as *const u64).cast(), 8) };
            q.signalled = true;
        }
        Push::Delivered
    }

    /// The next frame, if any; the eventfd is drained with the last one.
    pub(crate) fn pop(&self) -> Option<Frame> {
        let mut q = self.lock();
        let frame = q.frames.pop_front()?;
        q.bytes -= frame.bytes.len();
        self.total.fetch_sub(frame.bytes.len(), Ordering::Relaxed);
        if q.frames.is_empty() {
            self.drain(&mut q);
        }
        Some(frame)
    }

    pub(crate) fn has_queued(&self) -> bool {
        !self.lock().frames.is_empty()
    }

    /// Reset the eventfd's counter (under the lock, so a push cannot slip
    /// between the read and the flag).
    fn drain(&self, q: &mut FrameQueue) {
        if q.signalled {
            let mut count: u64 = 0;
            // SAFETY: reads 8 bytes into a live u64 from our non-blocking
            // eventfd; EAGAIN (already zero) leaves it untouched.
            unsafe { libc::read(self.raw_fd(), (&mut count as *mut u64).cast(), 8) };
            q.signalled = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Frame {
        Frame {
            bytes: vec![7; len],
            wire_len: len,
            truncated: false,
            checksum_verified: true,
        }
    }

    fn readable(inbox: &Inbox) -> bool {
        let mut pfd = libc::pollfd {
            fd: inbox.raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd, zero timeout.
        unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
    }

    fn new_inbox(budget: usize) -> (Inbox, Arc<AtomicUsize>) {
        let total = Arc::new(AtomicUsize::new(0));
        (Inbox::new(total.clone(), budget).unwrap(), total)
    }

    #[test]
    fn closed_mailboxes_refuse_and_open_ones_signal_while_frames_wait() {
        let (inbox, total) = new_inbox(1 << 20);
        assert_eq!(inbox.push(frame(60)), Push::Closed);
        inbox.open();
        assert!(!readable(&inbox));
        assert_eq!(inbox.push(frame(60)), Push::Delivered);
        assert_eq!(inbox.push(frame(70)), Push::Delivered);
        assert!(readable(&inbox) && inbox.has_queued());
        assert_eq!(total.load(Ordering::Relaxed), 130);
        assert_eq!(inbox.pop().unwrap().bytes.len(), 60);
        assert!(readable(&inbox), "one frame still waits");
        assert_eq!(inbox.pop().unwrap().bytes.len(), 70);
        assert!(!readable(&inbox) && !inbox.has_queued());
        assert!(inbox.pop().is_none());
        inbox.push(frame(10));
        inbox.close();
        assert!(!readable(&inbox) && !inbox.has_queued());
        assert_eq!(total.load(Ordering::Relaxed), 0, "closing frees the bytes");
    }

    #[test]
    fn a_flood_is_dropped_at_the_bounds() {
        let (inbox, _) = new_inbox(1 << 30);
        inbox.open();
        let delivered = (0..MAX_FRAMES * 2)
            .filter(|_| inbox.push(frame(60)) == Push::Delivered)
            .count();
        assert_eq!(delivered, MAX_FRAMES);
        inbox.close();
        inbox.open();
        let delivered = (0..100)
            .filter(|_| inbox.push(frame(60_000)) == Push::Delivered)
            .count();
        assert_eq!(delivered, MAX_BYTES / 60_000);
        // The engine-wide budget binds across mailboxes.
        let (a, total) = new_inbox(100_000);
        let b = Inbox::new(total.clone(), 100_000).unwrap();
        a.open();
        b.open();
        assert_eq!(a.push(frame(60_000)), Push::Delivered);
        assert_eq!(b.push(frame(60_000)), Push::Full);
        a.pop();
        assert_eq!(b.push(frame(60_000)), Push::Delivered);
    }
}
