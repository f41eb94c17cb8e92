//! keepalived's FILE_CHECK (and `track_file`) state files: `state_dir/NAME`
//! holds `1\n` while the check is up and `0\n` while it is down.
//!
//! keepalived watches the directory with inotify and reads the file's
//! first bytes with `strtol`, so a reader must never see a half-written
//! file: each write goes to a temporary file in the same directory, is
//! fsynced, renamed over the state file, and the directory is fsynced (a
//! crash leaves the old value or the new one, never an empty file). The
//! temporary name holds a `~`, which no check name may (`[A-Za-z0-9_.-]+`),
//! so it never collides with another check's file. The daemon writes at
//! start and on change only ([`super::state`]); it never deletes a file
//! on stop (keepalived keeps its state across our restart), only when a
//! reload removes the check.
//!
//! Reading what a previous run left must not hang or trust a stranger:
//! the file is opened non-blocking without following a symlink, and
//! anything but a regular file (a FIFO, a device, a directory) counts as
//! no file. This is plain blocking file I/O on a local directory; the
//! daemon calls it at start, on change and on reload, never per run.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::state::Health;

/// The state files' directory (`state_dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    pub fn new(dir: impl Into<PathBuf>) -> StateDir {
        StateDir { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `state_dir/NAME`. The configuration checks the name; this refuses
    /// one that would leave the directory anyway, so no caller can write
    /// elsewhere by mistake.
    pub fn path(&self, name: &str) -> io::Result<PathBuf> {
        let plain =
            !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0', '~']);
        if !plain {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("'{}' is no state file name", name.escape_debug()),
            ));
        }
        Ok(self.dir.join(name))
    }

    /// What a previous run left for `name` (see [`read_existing`]).
    pub fn read_existing(&self, name: &str) -> Option<Health> {
        read_existing(&self.path(name).ok()?)
    }

    /// Replaces `name`'s file with `health`, atomically (see
    /// [`write_atomic`]).
    pub fn write(&self, name: &str, health: Health) -> io::Result<()> {
        write_atomic(&self.path(name)?, health)
    }

    /// Removes `name`'s file (a check a reload removed); a file already
    /// gone is no error.
    pub fn remove(&self, name: &str) -> io::Result<()> {
        remove_file(&self.path(name)?)
    }
}

/// Removes the state file at `path`; one already gone is no error.
pub fn remove_file(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        done => done,
    }
}

/// The file's content for a state.
pub fn content(health: Health) -> &'static [u8] {
    match health {
        Health::Up => b"1\n",
        Health::Down => b"0\n",
    }
}

/// What a previous run left at `path`: `Some` only for a regular file
/// whose number, read as keepalived's `strtol` reads it, is exactly 0 or
/// 1 and starts the file (`1`, `1\n`, `0\n`; not `10`, ` 1`, `+1` or an
/// empty file). Anything else, a missing file, a symlink, a FIFO or an
/// unreadable file is `None`: not ours, so the check starts fail-closed
/// and its first write replaces it.
pub fn read_existing(path: &Path) -> Option<Health> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.file_type().is_file() {
        return None;
    }
    let mut head = Vec::with_capacity(2);
    file.take(2).read_to_end(&mut head).ok()?;
    let health = match head.first()? {
        b'1' => Health::Up,
        b'0' => Health::Down,
        _ => return None,
    };
    match head.get(1) {
        Some(next) if next.is_ascii_digit() => None,
        _ => Some(health),
    }
}

/// Replaces `path` with `health`'s content: a temporary file beside it,
/// fsync, rename, fsync of the directory. The temporary file is removed
/// if any step fails.
pub fn write_atomic(path: &Path, health: Health) -> io::Result<()> {
    let dir = replace_file(path, health)?;
    sync_dir(&dir)
}

/// The directory's entries (a rename into it) made durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// [`write_atomic`] without the directory's fsync, for a writer that
/// replaces many files of one directory and syncs it once
/// ([`sync_dir`]): the directory it renamed in.
pub fn replace_file(path: &Path, health: Health) -> io::Result<PathBuf> {
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => (dir, name),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} names no file in a directory", path.display()),
            ))
        }
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let temp = dir.join(format!(
        ".{}.{}~",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = write_temp(&temp, content(health)).and_then(|()| fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    Ok(dir.to_path_buf())
}

fn write_temp(temp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(temp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A directory of its own under the system's temp dir, removed when
    /// the test ends, passed or failed (Drop runs while a panic unwinds).
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(label: &str) -> Scratch {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "check_raw-statefile-{}-{}-{label}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_one_and_zero_and_leaves_no_temporary_file() {
        let scratch = Scratch::new("write");
        let states = StateDir::new(&scratch.0);
        states.write("web-rs1", Health::Down).unwrap();
        assert_eq!(fs::read(scratch.0.join("web-rs1")).unwrap(), b"0\n");
        states.write("web-rs1", Health::Up).unwrap();
        assert_eq!(fs::read(scratch.0.join("web-rs1")).unwrap(), b"1\n");
        assert_eq!(states.read_existing("web-rs1"), Some(Health::Up));
        assert_eq!(entries(&scratch.0), ["web-rs1"]);
    }

    #[test]
    fn a_write_replaces_the_file_not_its_content() {
        // keepalived may hold the old file open: a rename gives it a new
        // inode, never a truncated one.
        use std::os::unix::fs::MetadataExt;
        let scratch = Scratch::new("inode");
        let states = StateDir::new(&scratch.0);
        states.write("a", Health::Down).unwrap();
        let old = fs::metadata(scratch.0.join("a")).unwrap().ino();
        let mut held = File::open(scratch.0.join("a")).unwrap();
        states.write("a", Health::Up).unwrap();
        assert_ne!(fs::metadata(scratch.0.join("a")).unwrap().ino(), old);
        let mut before = String::new();
        held.read_to_string(&mut before).unwrap();
        assert_eq!(before, "0\n");
    }

    #[test]
    fn reads_only_what_strtol_reads_as_exactly_zero_or_one() {
        let scratch = Scratch::new("read");
        let cases: &[(&[u8], Option<Health>)] = &[
            (b"1\n", Some(Health::Up)),
            (b"0\n", Some(Health::Down)),
            (b"1", Some(Health::Up)),
            (b"0 # by hand\n", Some(Health::Down)),
            (b"", None),
            (b"10\n", None),
            (b"01\n", None),
            (b" 1\n", None),
            (b"+1\n", None),
            (b"up\n", None),
            (b"\x001", None),
        ];
        for (i, (bytes, want)) in cases.iter().enumerate() {
            let path = scratch.0.join(format!("c{i}"));
            fs::write(&path, bytes).unwrap();
            assert_eq!(read_existing(&path), *want, "{bytes:?}");
        }
        assert_eq!(read_existing(&scratch.0.join("missing")), None);
    }

    #[test]
    fn a_fifo_a_directory_or_a_symlink_is_no_state_and_does_not_hang() {
        let scratch = Scratch::new("odd");
        let fifo = scratch.0.join("fifo");
        let c = CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo reads it only.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(read_existing(&fifo), None);
        fs::create_dir(scratch.0.join("dir")).unwrap();
        assert_eq!(read_existing(&scratch.0.join("dir")), None);
        fs::write(scratch.0.join("real"), b"1\n").unwrap();
        std::os::unix::fs::symlink("real", scratch.0.join("link")).unwrap();
        assert_eq!(read_existing(&scratch.0.join("link")), None);
        // The first write replaces the symlink itself, not its target.
        StateDir::new(&scratch.0)
            .write("link", Health::Down)
            .unwrap();
        assert_eq!(fs::read(scratch.0.join("real")).unwrap(), b"1\n");
        assert_eq!(fs::read(scratch.0.join("link")).unwrap(), b"0\n");
    }

    #[test]
    fn remove_deletes_the_file_and_a_missing_one_is_fine() {
        let scratch = Scratch::new("remove");
        let states = StateDir::new(&scratch.0);
        states.write("gone", Health::Up).unwrap();
        states.remove("gone").unwrap();
        assert!(entries(&scratch.0).is_empty());
        states.remove("gone").unwrap();
    }

    #[test]
    fn names_that_leave_the_directory_are_refused() {
        let scratch = Scratch::new("names");
        let states = StateDir::new(&scratch.0);
        for name in ["", ".", "..", "../x", "a/b", "a~", "a\0b"] {
            assert!(states.write(name, Health::Up).is_err(), "{name:?}");
            assert!(states.remove(name).is_err(), "{name:?}");
            assert_eq!(states.read_existing(name), None, "{name:?}");
        }
        assert!(entries(&scratch.0).is_empty());
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary_one() {
        let scratch = Scratch::new("fail");
        let states = StateDir::new(&scratch.0);
        states.write("a", Health::Up).unwrap();
        // A directory where the file should go: rename fails.
        fs::create_dir(scratch.0.join("b")).unwrap();
        assert!(states.write("b", Health::Down).is_err());
        assert_eq!(entries(&scratch.0), ["a", "b"]);
        assert_eq!(states.read_existing("a"), Some(Health::Up));
        assert!(write_atomic(&scratch.0.join("nodir").join("x"), Health::Up).is_err());
    }
}
