//! Temporary files for tests: a self-deleting directory, and the
//! `check_raw_*` names of the binary (symlinks, since the binary picks its
//! mode from the basename of argv[0]).
//!
//! Directories are named `crt-<pid>-<n>` under the system temp dir, so a run
//! that was killed before cleaning up is recognised and swept by the next.

use std::fs;
use std::io;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, Weak};

use super::netns::pid_alive;

/// The binary under test, built by cargo for integration tests.
pub const CHECK_RAW: &str = env!("CARGO_BIN_EXE_check_raw");

/// A directory that is removed (with its contents) when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        static SWEEP: Once = Once::new();
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        SWEEP.call_once(remove_stale_dirs);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("crt-{}-{n}", std::process::id()));
        fs::create_dir(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `name` in this directory and returns its path.
    pub fn write(&self, name: &str, contents: &[u8]) -> PathBuf {
        let p = self.path.join(name);
        fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Removes `crt-<pid>-<n>` directories whose pid is gone.
fn remove_stale_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("crt-"))
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !pid_alive(pid) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Path of a `check_raw` symlink with a chosen name. Keeps the directory
/// alive; the directory goes away when the last `BinLink` of it drops.
#[derive(Debug, Clone)]
pub struct BinLink {
    path: PathBuf,
    _dir: Arc<TempDir>,
}

impl Deref for BinLink {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for BinLink {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

/// A symlink named `name` (e.g. `check_raw_tcp`) to the binary under test,
/// in a per-process temp dir shared by all current users. No global owner
/// holds the directory (only a `Weak`), so it is removed when the last test
/// using it is done, even though statics are never dropped.
pub fn check_raw_bin(name: &str) -> BinLink {
    static DIR: Mutex<Weak<TempDir>> = Mutex::new(Weak::new());
    let mut slot = DIR.lock().unwrap_or_else(|e| e.into_inner());
    let dir = match slot.upgrade() {
        Some(d) => d,
        None => {
            let d = Arc::new(TempDir::new());
            *slot = Arc::downgrade(&d);
            d
        }
    };
    let path = dir.path().join(name);
    // Under the lock, so two tests asking for the same name cannot race.
    if fs::symlink_metadata(&path).is_err() {
        std::os::unix::fs::symlink(CHECK_RAW, &path)
            .or_else(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .unwrap_or_else(|e| panic!("symlink {} -> {CHECK_RAW}: {e}", path.display()));
    }
    BinLink { path, _dir: dir }
}
