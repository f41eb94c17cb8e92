//! The state files' changes, written off the main loop by a thread of
//! their own.
//!
//! Why: a state file is replaced with two fsyncs (`statefile::write_atomic`),
//! 1.2 ms here on a disk-backed directory. When many checks change at once
//! (a switch port fails, 2,000 checks go down; every check comes up after
//! a start), writing them in the loop stalled it for seconds: their
//! SYN/ACKs waited unread, SYNs were sent again, runs were late. Here the
//! loop only records the change (a map insert under a short lock) and
//! this thread writes it.
//!
//! Only the latest change of a file is kept while it waits: a check that
//! flips twice before the thread comes round is written once, with its
//! last state. A removal (a check a reload removed) goes the same way, so
//! a write queued before it can never bring its file back. Bounded: one
//! entry per file, at most one per check and directory. On stop,
//! [`StateWriter::finish`] writes what is queued before the daemon exits
//! (within a bound). Start-up writes stay in the caller: an error there
//! must stop the start.

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::log;
use super::state::Health;
use super::statefile::{remove_file, replace_file, sync_dir, StateDir};

/// What to do to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileOp {
    Write(Health),
    Remove,
}

#[derive(Default)]
struct WriterQueue {
    /// The latest operation per file.
    pending: HashMap<PathBuf, FileOp>,
    /// The batch the thread took and is applying (what a reader must see
    /// instead of the disk until it is done).
    applying: HashMap<PathBuf, FileOp>,
    /// The thread is applying a batch it took.
    busy: bool,
    closing: bool,
}

#[derive(Default)]
struct WriterShared {
    queue: Mutex<WriterQueue>,
    /// Rung when work is queued, when the thread finishes a batch, and on
    /// close.
    changed: Condvar,
}

impl WriterShared {
    fn lock(&self) -> MutexGuard<'_, WriterQueue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writer thread and its queue.
pub struct StateWriter {
    shared: Arc<WriterShared>,
    thread: Option<JoinHandle<()>>,
}

impl StateWriter {
    pub fn start() -> io::Result<StateWriter> {
        let shared = Arc::new(WriterShared::default());
        let theirs = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("state-files".into())
            .stack_size(64 * 1024)
            .spawn(move || work(&theirs))?;
        Ok(StateWriter {
            shared,
            thread: Some(thread),
        })
    }

    /// `name`'s file in `dir` is to hold `health`.
    pub fn write(&self, dir: &StateDir, name: &str, health: Health) {
        self.queue(dir, name, FileOp::Write(health));
    }

    /// `name`'s file in `dir` is to go (its check was removed).
    pub fn remove(&self, dir: &StateDir, name: &str) {
        self.queue(dir, name, FileOp::Remove);
    }

    /// What `name`'s file in `dir` holds, or is about to: a change still
    /// queued (or being written) counts before the disk, so a check a
    /// reload adds back right after another removed it does not start
    /// from the file that is about to go (`statefile::read_existing`).
    pub fn read_existing(&self, dir: &StateDir, name: &str) -> Option<Health> {
        let path = dir.path(name).ok()?;
        let queued = {
            let queue = self.shared.lock();
            queue
                .pending
                .get(&path)
                .or_else(|| queue.applying.get(&path))
                .copied()
        };
        match queued {
            Some(FileOp::Write(health)) => Some(health),
            Some(FileOp::Remove) => None,
            None => dir.read_existing(name),
        }
    }

    fn queue(&self, dir: &StateDir, name: &str, op: FileOp) {
        let path = match dir.path(name) {
            Ok(path) => path,
            Err(e) => return log::line(format!("cannot write the state file of {name}: {e}")),
        };
        self.shared.lock().pending.insert(path, op);
        self.shared.changed.notify_all();
    }

    /// Write what is queued and end the thread, waiting at most `bound`;
    /// false if that was not enough (what is left is lost with the
    /// process, as a crash would lose it: the files then hold the state
    /// before, and each check's rise/fall decides again after a restart).
    pub fn finish(&mut self, bound: Duration) -> bool {
        let deadline = Instant::now() + bound;
        let mut queue = self.shared.lock();
        queue.closing = true;
        self.shared.changed.notify_all();
        // Bounded by the deadline; each wait ends at it at the latest.
        while !queue.pending.is_empty() || queue.busy {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            queue = self
                .shared
                .changed
                .wait_timeout(queue, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(queue);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        true
    }
}

impl Drop for StateWriter {
    /// Without [`StateWriter::finish`] (a start that failed later): the
    /// thread ends when its queue is empty; nobody waits for it.
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.changed.notify_all();
    }
}

/// The thread: take every queued operation, apply them, until closed
/// with nothing left. Its life is the daemon's; each batch is bounded by
/// the number of files.
fn work(shared: &WriterShared) {
    loop {
        let batch = {
            let mut queue = shared.lock();
            while queue.pending.is_empty() && !queue.closing {
                queue = shared
                    .changed
                    .wait(queue)
                    .unwrap_or_else(|e| e.into_inner());
            }
            if queue.pending.is_empty() {
                return;
            }
            queue.busy = true;
            let batch = std::mem::take(&mut queue.pending);
            queue.applying = batch.clone();
            batch
        };
        // One fsync of each directory per batch, not per file: a batch
        // of 2,000 changes costs half the time.
        let mut dirs = Vec::new();
        for (path, op) in batch {
            if let Some(dir) = apply(&path, op) {
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
        for dir in dirs {
            if let Err(e) = sync_dir(&dir) {
                log::line(format!(
                    "cannot sync the state files in {}: {e}",
                    dir.display()
                ));
            }
        }
        {
            let mut queue = shared.lock();
            queue.busy = false;
            queue.applying.clear();
        }
        shared.changed.notify_all();
    }
}

/// Do `op` to `path`: the directory to sync after a write (`None`: no
/// write done; an error is logged).
fn apply(path: &std::path::Path, op: FileOp) -> Option<PathBuf> {
    let done = match op {
        FileOp::Write(health) => replace_file(path, health).map(Some),
        FileOp::Remove => remove_file(path).map(|()| None),
    };
    done.unwrap_or_else(|e| {
        let what = match op {
            FileOp::Write(_) => "write",
            FileOp::Remove => "remove",
        };
        log::line(format!(
            "cannot {what} the state file {}: {e}",
            path.display()
        ));
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("crt-writer-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_latest_change_of_each_file_is_written_before_finish_returns() {
        let dir = temp_dir("latest");
        let states = StateDir::new(&dir);
        let mut writer = StateWriter::start().unwrap();
        for _ in 0..50 {
            writer.write(&states, "a", Health::Up);
            writer.write(&states, "a", Health::Down);
        }
        writer.write(&states, "b", Health::Up);
        writer.write(&states, "gone", Health::Up);
        writer.remove(&states, "gone");
        assert!(writer.finish(Duration::from_secs(10)));
        assert_eq!(std::fs::read(dir.join("a")).unwrap(), b"0\n");
        assert_eq!(std::fs::read(dir.join("b")).unwrap(), b"1\n");
        assert!(!dir.join("gone").exists(), "a removal after a write wins");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 2, "no temporary file left: {left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_queued_change_is_read_before_the_disk() {
        let dir = temp_dir("read");
        let states = StateDir::new(&dir);
        std::fs::write(dir.join("up"), b"1\n").unwrap();
        std::fs::write(dir.join("removed"), b"1\n").unwrap();
        let mut writer = StateWriter::start().unwrap();
        // Whether or not the thread got to them yet: the same answer.
        writer.write(&states, "up", Health::Down);
        writer.remove(&states, "removed");
        assert_eq!(writer.read_existing(&states, "up"), Some(Health::Down));
        assert_eq!(writer.read_existing(&states, "removed"), None);
        assert_eq!(writer.read_existing(&states, "never"), None);
        assert!(writer.finish(Duration::from_secs(10)));
        assert_eq!(writer.read_existing(&states, "up"), Some(Health::Down));
        assert_eq!(writer.read_existing(&states, "removed"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_that_went_away_is_logged_not_fatal() {
        let dir = temp_dir("missing");
        std::fs::remove_dir_all(&dir).unwrap();
        let mut writer = StateWriter::start().unwrap();
        writer.write(&StateDir::new(&dir), "a", Health::Up);
        writer.write(&StateDir::new(&dir), "../escape", Health::Up);
        assert!(writer.finish(Duration::from_secs(10)));
        assert!(!dir.exists());
    }

    #[test]
    fn a_writer_dropped_without_finish_ends_its_thread() {
        let writer = StateWriter::start().unwrap();
        let shared = Arc::clone(&writer.shared);
        drop(writer);
        // The thread holds the other reference until it returns.
        let until = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&shared) > 1 && Instant::now() < until {
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(Arc::strong_count(&shared), 1);
    }
}
