//! The keepalived.conf section `check_raw_serve --print-keepalived` prints
//! (`check_raw::serve::keepalived::fragment`), under the real keepalived
//! (2.2.7 on Debian 12): its checker alone (`--check`) in the testbed's
//! `lb`, IPVS stubbed and logged as in `tests/it/keepalived.rs`
//! (`harness::keepalived`). No check runs: the test writes the state files
//! itself, atomically (a rename, as check_raw_serve does), and reads the
//! IPVS table keepalived programs.
//!
//! It asserts what keepalived does, including where that is not what we
//! want (the start-up inversion, the table in the module doc of
//! src/serve/keepalived.rs), so that a keepalived that changes shows here.
//!
//! Tests skip, with a `skipping ...` line, when not root or when
//! keepalived or gcc is missing (under CI=true they fail).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::harness::keepalived::*;
use crate::harness::*;
use check_raw::serve::keepalived::{fragment, FragmentOptions, KeepalivedTarget};

/// Long enough for keepalived to read a file it was told of by inotify
/// (immediate) on a loaded 2-core machine, before "nothing changed" is
/// believed.
const STEADY: Duration = Duration::from_millis(1500);
/// keepalived's start, or one change to show in the table.
const LIMIT: Duration = Duration::from_secs(10);

const GLOBAL: &str = "global_defs {\n    router_id crt\n}\n\n";

/// One check per real server: rs1 and rs2 on VIP:PORT, their files in
/// `dirs`.
fn targets(dirs: [PathBuf; 2]) -> Vec<KeepalivedTarget> {
    [("web-rs1", RS1), ("web-rs2", RS2)]
        .into_iter()
        .zip(dirs)
        .map(|((name, rs), dir)| KeepalivedTarget {
            name: name.to_owned(),
            vip: VIP.parse().unwrap(),
            port: Some(PORT),
            real_server: rs.parse().unwrap(),
            state_file: dir.join(name),
        })
        .collect()
}

/// What a state file holds: a value, or nothing at all.
fn set(file: &Path, value: Option<&str>) {
    match value {
        None => {
            let _ = fs::remove_file(file);
        }
        Some(v) => {
            let tmp = file.with_extension("tmp");
            fs::write(&tmp, v).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
            fs::rename(&tmp, file).unwrap_or_else(|e| panic!("rename to {}: {e}", file.display()));
        }
    }
}

/// keepalived's own verdict on a configuration file.
fn config_test(conf: &Path) -> (bool, String) {
    let out = Command::new(KEEPALIVED)
        .args(["--config-test", "-f"])
        .arg(conf)
        .output()
        .unwrap_or_else(|e| panic!("run {KEEPALIVED}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// keepalived running on the section for rs1 and rs2, with the files as
/// `rs1`/`rs2` say when it starts (`None`: no file). `edit` may change the
/// section first (an option under trial).
struct Bed {
    k: Keepalived,
    files: [PathBuf; 2],
    // Dropped after `k` (fields drop in order): keepalived is stopped
    // before its files and the namespaces go.
    _dir: TempDir,
    _tb: Testbed,
}

impl Bed {
    /// `dirs`: each real server's state directory, under the test's own
    /// (only `state` exists); `values`: its file's content at the start.
    fn start(dirs: [&str; 2], values: [Option<&str>; 2], edit: fn(String) -> String) -> Bed {
        let tb = Testbed::without_servers();
        let dir = TempDir::new();
        fs::create_dir_all(dir.path().join("state")).expect("mkdir state");
        let targets = targets(dirs.map(|d| dir.path().join(d)));
        let files = [targets[0].state_file.clone(), targets[1].state_file.clone()];
        for (file, value) in files.iter().zip(values) {
            if file.parent().is_some_and(Path::is_dir) {
                set(file, value);
            }
        }
        let conf = format!(
            "{GLOBAL}{}",
            edit(fragment(&targets, &FragmentOptions::default()))
        );
        let tested = dir.write("tested.conf", conf.as_bytes());
        let (ok, said) = config_test(&tested);
        assert!(
            ok,
            "keepalived --config-test refused the section:\n{said}\n{conf}"
        );
        let k = Keepalived::start_conf(&tb, &dir, &conf, Checkers::Only);
        // The virtual server is created first: keepalived has read the
        // files once it is.
        wait_for(
            LIMIT,
            "keepalived creating the virtual server",
            || {
                k.daemon.assert_running();
                k.ipvs_log()
                    .contains(&format!("ADD {VIP}:{PORT} sched=wlc"))
                    .then_some(())
            },
            || k.diag(),
        );
        Bed {
            k,
            files,
            _dir: dir,
            _tb: tb,
        }
    }

    /// rs1's and rs2's presence in the IPVS table.
    fn table(&self) -> [bool; 2] {
        let t = ipvs_table(&self.k.ipvs_log());
        [RS1, RS2].map(|rs| t.get(&key(PORT, rs, PORT)) == Some(&1))
    }

    /// The table reaches `want` and stays so for `STEADY`.
    fn expect(&self, want: [bool; 2], what: &str) {
        let show = |t: [bool; 2]| {
            format!(
                "rs1 {}, rs2 {}",
                if t[0] { "in" } else { "out" },
                if t[1] { "in" } else { "out" }
            )
        };
        wait_for(
            LIMIT,
            &format!("{what}: {}", show(want)),
            || (self.table() == want).then_some(()),
            || self.k.diag(),
        );
        thread::sleep(STEADY);
        self.k.daemon.assert_running();
        let now = self.table();
        assert_eq!(
            now,
            want,
            "{what}: {} then {} (it must stay)\n{}",
            show(want),
            show(now),
            self.k.diag()
        );
    }

    /// Writes rs`n`'s file, then expects the table.
    fn step(&self, n: usize, value: Option<&str>, want: [bool; 2]) {
        set(&self.files[n], value);
        self.expect(want, &format!("rs{}'s file now {value:?}", n + 1));
    }
}

const STATE: [&str; 2] = ["state", "state"];

fn as_is(conf: String) -> String {
    conf
}

/// The section's meaning while keepalived runs: rs1 goes out and back in
/// as its file flips 1 -> 0 -> 1, and goes out on a deleted, empty or
/// garbage file. And the start-up, as measured: a file saying 1 leaves its
/// server out, one saying 0 leaves it in, until the file has changed twice.
#[test]
fn keepalived_follows_the_state_files_and_reads_them_inverted_at_start() {
    if skip_unless(&KEEPALIVED_NEEDS) {
        return;
    }
    let bed = Bed::start(STATE, [Some("1\n"), Some("0\n")], as_is);
    bed.expect(
        [false, true],
        "start-up with rs1 at 1 and rs2 at 0 (inverted)",
    );
    // The same value again changes nothing: only a change counts.
    bed.step(0, Some("1\n"), [false, true]);
    bed.step(0, Some("0\n"), [false, true]);
    bed.step(0, Some("1\n"), [true, true]);
    // From here on the file rules rs1.
    bed.step(0, Some("0\n"), [false, true]);
    bed.step(0, Some("1\n"), [true, true]);
    bed.step(0, None, [false, true]);
    bed.step(0, Some("1\n"), [true, true]);
    bed.step(0, Some("garbage\n"), [false, true]);
    bed.step(0, Some("1\n"), [true, true]);
    bed.step(0, Some(""), [false, true]);
    bed.step(0, Some("1\n"), [true, true]);
    // rs2, in since the start on a 0, leaves only after a 1 then a 0.
    bed.step(1, Some("1\n"), [true, true]);
    bed.step(1, Some("0\n"), [true, false]);
    bed.step(1, Some("1\n"), [true, true]);
}

/// Start-up without files: rs1's file missing, rs2's whole directory
/// missing (keepalived drops that track_file). Both come in; rs1's file
/// then rules it after a 1 and a 0, rs2 has no check left at all.
#[test]
fn keepalived_starts_missing_files_in() {
    if skip_unless(&KEEPALIVED_NEEDS) {
        return;
    }
    let bed = Bed::start(["state", "no-such-dir"], [None, None], as_is);
    bed.expect(
        [true, true],
        "start-up with rs1's file and rs2's directory missing",
    );
    bed.step(0, Some("0\n"), [true, true]);
    bed.step(0, Some("1\n"), [true, true]);
    bed.step(0, Some("0\n"), [false, true]);
    assert!(
        bed.k.daemon.log().contains("does not exist - removing"),
        "keepalived should say it dropped rs2's track_file\n{}",
        bed.k.diag()
    );
}

/// `init_file 2 overwrite` on each track_file: keepalived writes 2 into
/// every file at its start, so every server starts out (fail closed), and
/// a healthy one comes in only after its file goes to 0 and back to 1.
#[test]
fn keepalived_init_file_overwrite_starts_every_server_out() {
    if skip_unless(&KEEPALIVED_NEEDS) {
        return;
    }
    let bed = Bed::start(STATE, [Some("1\n"), Some("0\n")], |c| {
        c.replace(
            "    weight 0 reverse\n",
            "    weight 0 reverse\n    init_file 2 overwrite\n",
        )
    });
    bed.expect([false, false], "start-up with init_file 2 overwrite");
    for f in &bed.files {
        assert_eq!(read(f), "2\n", "keepalived overwrote {}", f.display());
    }
    bed.step(0, Some("1\n"), [false, false]);
    bed.step(0, Some("0\n"), [false, false]);
    bed.step(0, Some("1\n"), [true, false]);
}

/// Every shape of the section parses as keepalived reads it: IPv4 and
/// IPv6 services, several ports, two checks in one real server, a VIP
/// check placed in its real server's blocks and one left as a comment.
/// `--config-test` only reads the file: no namespace, no root.
#[test]
fn keepalived_config_test_accepts_every_shape_of_the_section() {
    if skip_unless(&[KEEPALIVED_NEEDS[1]]) {
        return;
    }
    let dir = TempDir::new();
    let t = |name: &str, vip: &str, port: Option<u16>, rs: &str| KeepalivedTarget {
        name: name.to_owned(),
        vip: vip.parse().unwrap(),
        port,
        real_server: rs.parse().unwrap(),
        state_file: dir.path().join(name),
    };
    let targets = [
        t("web-rs1", VIP, Some(80), RS1),
        t("http-rs1", VIP, Some(80), RS1),
        t("tls-rs1", VIP, Some(443), RS1),
        t("web-rs2", VIP, Some(80), RS2),
        t("vip-rs1", VIP, None, RS1),
        t("vip-rs3", VIP, None, RS3),
        t("web6-rs1", VIP6, Some(80), RS1_6),
        t("web6-rs2", VIP6, Some(8080), RS2_6),
    ];
    let conf = format!(
        "{GLOBAL}{}",
        fragment(&targets, &FragmentOptions::default())
    );
    let file = dir.write("keepalived.conf", conf.as_bytes());
    let (ok, said) = config_test(&file);
    assert!(
        ok,
        "keepalived --config-test refused the section:\n{said}\n{conf}"
    );
    assert!(
        !said.contains("ignoring") && !said.contains("skipping"),
        "keepalived --config-test complained:\n{said}\n{conf}"
    );
}
