//! Role files for `-r FILE`: the C original's format, first byte `1` for
//! MASTER (raw frames to the VIP), anything else (`0`) for BACKUP (a kernel
//! connection to the real server's own address).

use std::path::{Path, PathBuf};

use super::files::TempDir;

/// A role file in a temp dir of its own, removed when it drops.
pub struct RoleFile {
    file: PathBuf,
    _dir: TempDir,
}

impl RoleFile {
    /// A role file saying MASTER (`1`).
    pub fn master() -> RoleFile {
        RoleFile::with(b"1\n")
    }

    /// A role file saying BACKUP (`0`).
    pub fn backup() -> RoleFile {
        RoleFile::with(b"0\n")
    }

    fn with(contents: &[u8]) -> RoleFile {
        let dir = TempDir::new();
        let file = dir.write("role", contents);
        RoleFile { file, _dir: dir }
    }

    pub fn path(&self) -> &str {
        path_str(&self.file)
    }

    /// `["-r", FILE]`.
    pub fn opts(&self) -> [&str; 2] {
        ["-r", self.path()]
    }
}

/// The options selecting each path: MASTER (the default, no `-r`: raw
/// frames to the VIP) and BACKUP (a role file `0`: kernel connection to the
/// real server).
pub struct Roles {
    backup: RoleFile,
}

impl Roles {
    pub fn new() -> Roles {
        Roles {
            backup: RoleFile::backup(),
        }
    }

    /// `["-r", FILE]` for BACKUP.
    pub fn backup(&self) -> [&str; 2] {
        self.backup.opts()
    }

    /// `(role name, options)` for MASTER then BACKUP.
    pub fn both(&self) -> [(&'static str, Vec<&str>); 2] {
        [("MASTER", vec![]), ("BACKUP", self.backup().to_vec())]
    }
}

impl Default for Roles {
    fn default() -> Self {
        Roles::new()
    }
}

/// A temp path as `&str`, for command lines (temp paths are UTF-8).
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}
