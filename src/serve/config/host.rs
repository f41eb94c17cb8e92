//! What the pure parse cannot know, asked of this host: the interfaces
//! the commands name, the `listen` address, the state directory.

use std::path::Path;

use crate::cli::IfaceArg;
use crate::text;

use super::{ConfigError, ServeConfig};

/// How [`ServeConfig::check_host_with`] reads a `listen` port in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenBusy {
    /// Start-up and reload: the listener must bind.
    Error,
    /// `--check`: most likely the running daemon's own port.
    Allowed,
}

impl ServeConfig {
    /// What the pure parse cannot know: each named interface exists here
    /// (now: one may come later, but a typo would never come), and
    /// `state_dir` is a directory this process can create files in (tried
    /// with a file created and removed again). The interface the kernel
    /// routes an ldirectord-form check through is the run's concern.
    pub fn check_host(&self) -> Vec<ConfigError> {
        self.check_host_with(ListenBusy::Error)
    }

    /// [`ServeConfig::check_host`], a busy `listen` port read as `busy`
    /// says: `--check` beside a running daemon finds its port taken by it.
    pub fn check_host_with(&self, busy: ListenBusy) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let error = |line, key: String, message: String| ConfigError {
            path: self.path.clone(),
            line,
            key,
            message,
        };
        let commands = self
            .checks
            .iter()
            .map(|c| (c.line, "check", &c.name, &c.config));
        let modules = self
            .modules
            .iter()
            .map(|m| (m.line, "module", &m.name, &m.sample));
        for (line, table, name, config) in commands.chain(modules) {
            if let IfaceArg::Named(iface) = &config.common().target.iface {
                if !interface_exists(iface) {
                    errors.push(error(
                        line,
                        format!("{table}.{name}.command"),
                        format!("interface '{}' does not exist here", text::arg(iface)),
                    ));
                }
            }
        }
        if let Some(addr) = self.listen {
            // A trial bind, closed at once: a busy port is an error here,
            // not a listener missing after READY. (The running daemon's
            // own port is busy: a reload that keeps `listen` skips this.)
            let trial = crate::serve::web::bind(addr);
            let in_use = matches!(&trial, Err(e) if e.kind() == std::io::ErrorKind::AddrInUse);
            if let Err(e) = trial.map(drop) {
                if in_use && busy == ListenBusy::Allowed {
                    // Left to the start-up, which says it.
                } else {
                    errors.push(error(
                        self.listen_line,
                        "listen".into(),
                        format!("cannot listen on {addr}: {e}"),
                    ));
                }
            }
        }
        if let Err(why) = writable_dir(&self.state_dir) {
            errors.push(error(
                self.state_dir_line,
                "state_dir".into(),
                format!("{}: {why}", self.state_dir.display()),
            ));
        }
        errors
    }
}

/// Is there an interface of that name in this network namespace? Asked
/// anew each time (a reload must not see a stale list).
fn interface_exists(name: &str) -> bool {
    let Ok(c_name) = std::ffi::CString::new(name) else {
        return false;
    };
    // SAFETY: one libc call reading a NUL-terminated string we own for the
    // call's duration; it returns 0 for no such interface.
    unsafe { libc::if_nametoindex(c_name.as_ptr()) != 0 }
}

/// A directory we can create (and replace) files in: tried for real with
/// a file created and removed, which permissions, read-only mounts and
/// systemd's `ReadWritePaths=` all answer alike.
fn writable_dir(dir: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot be used: {e}"))?;
    if !meta.is_dir() {
        return Err("is not a directory".into());
    }
    let probe = dir.join(format!(".check_raw_serve.probe.{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| format!("cannot create files in it: {e}"))?;
    std::fs::remove_file(&probe).map_err(|e| format!("cannot remove files from it: {e}"))
}
