//! The VM suite in the background: `make test` starts `tests/vm.rs`'s
//! spooler (`tests/with_vm.sh`) before the other test binaries, so the
//! minutes a TCG boot and the five cases take run beside them instead of
//! after them; when `tests/vm.rs` runs in the main suite its tests read the
//! spooler's result from the spool directory instead of booting again.
//!
//! The directory (`CHECK_RAW_VM_SPOOL`) holds `pid` (the spooler, written
//! first), then, once the run ended, what [`VmRun`] or [`VmError`] held:
//! `meta` (`code=`, `elapsed_ms=`, `accel=`) or `error` (`missing` or
//! `boot`, then the text), `output`, `console`, the script's files under
//! `files/`, and last `done`. A reader without a `pid` there runs the VM
//! itself; one whose spooler died without `done` fails with where to look.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::vm::{Accel, VmError, VmRun};

/// The spool directory's variable, set by `tests/with_vm.sh`.
pub const SPOOL_ENV: &str = "CHECK_RAW_VM_SPOOL";

/// The spool directory, when `make test` made one.
pub fn spool_dir() -> Option<PathBuf> {
    std::env::var_os(SPOOL_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Spooler side, first: say who is running the suite.
pub fn claim(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    fs::write(dir.join("pid"), format!("{}\n", std::process::id()))
}

/// Spooler side, last: the suite's result, then `done`.
pub fn write(dir: &Path, result: &Result<VmRun, VmError>) -> io::Result<()> {
    match result {
        Ok(run) => {
            let code = run.code.map_or("none".to_owned(), |c| c.to_string());
            let accel = match run.accel {
                Accel::Kvm => "kvm",
                Accel::Tcg => "tcg",
            };
            fs::write(
                dir.join("meta"),
                format!(
                    "code={code}\nelapsed_ms={}\naccel={accel}\n",
                    run.elapsed.as_millis()
                ),
            )?;
            fs::write(dir.join("output"), &run.output)?;
            fs::write(dir.join("console"), &run.console)?;
            let files = dir.join("files");
            fs::create_dir_all(&files)?;
            for (name, text) in &run.files {
                fs::write(files.join(name), text)?;
            }
        }
        Err(e) => {
            let kind = match e {
                VmError::Missing(_) => "missing",
                VmError::Boot(_) => "boot",
            };
            fs::write(dir.join("error"), format!("{kind}\n{e}"))?;
        }
    }
    fs::write(dir.join("done"), "")
}

/// Reader side: the spooler's result, waiting for it at most `limit`;
/// `None` when no spooler claimed `dir` (the caller boots the VM itself).
pub fn read(dir: &Path, limit: Duration) -> Option<Result<VmRun, VmError>> {
    let pid: i32 = fs::read_to_string(dir.join("pid"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let started = Instant::now();
    // Polled every 500 ms: bounded by `limit` and by the count.
    let polls = limit.as_millis() / 500 + 1;
    for _ in 0..polls {
        if dir.join("done").exists() {
            return Some(load(dir));
        }
        if !alive(pid) {
            // It may have written `done` between the two looks.
            if dir.join("done").exists() {
                return Some(load(dir));
            }
            return Some(Err(VmError::Boot(format!(
                "the background VM run (pid {pid}) ended without a result: see {}",
                dir.join("log").display()
            ))));
        }
        if started.elapsed() >= limit {
            break;
        }
        thread::sleep(Duration::from_millis(500));
    }
    Some(Err(VmError::Boot(format!(
        "no result from the background VM run (pid {pid}) within {limit:?}: see {}",
        dir.join("log").display()
    ))))
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only asks whether the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

fn load(dir: &Path) -> Result<VmRun, VmError> {
    let text = |name: &str| fs::read_to_string(dir.join(name)).unwrap_or_default();
    if let Ok(error) = fs::read_to_string(dir.join("error")) {
        let (kind, why) = error.split_once('\n').unwrap_or(("boot", &error));
        return Err(match kind {
            "missing" => VmError::Missing(why.to_owned()),
            _ => VmError::Boot(why.to_owned()),
        });
    }
    let meta: BTreeMap<String, String> = text("meta")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let get = |k: &str| meta.get(k).map(String::as_str).unwrap_or("");
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir.join("files"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Ok(body) = fs::read_to_string(entry.path()) {
            files.insert(name, body);
        }
    }
    Ok(VmRun {
        code: get("code").parse().ok(),
        output: text("output"),
        console: text("console"),
        files,
        elapsed: Duration::from_millis(get("elapsed_ms").parse().unwrap_or(0)),
        accel: if get("accel") == "kvm" {
            Accel::Kvm
        } else {
            Accel::Tcg
        },
    })
}
