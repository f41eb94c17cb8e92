//! The end-to-end tests on Debian's own kernel: a real LVS-DR site with
//! real IPVS forwarding in DR mode and real keepalived driving it, inside a
//! VM (`harness::vm`), where this machine's kernel has no IPVS at all.
//!
//! One VM boot runs every case in sequence (`tests/vm/cases.sh`, the site in
//! `tests/vm/site.sh`); each case leaves its facts (`key=value`) and its
//! log in the shared directory, and each test below asserts on its own
//! case's facts, printing the case's log when it fails. The boot is shared
//! through a `OnceLock`: the first test to run pays for it, unless `make
//! test` already runs the suite in the background (`harness::vm_spool`,
//! `tests/with_vm.sh`): then they read that run's result.
//! `CHECK_RAW_VM_CASES=4` (a list: "3 4") runs only those cases in the VM,
//! with the test's name as filter, e.g. `CHECK_RAW_VM_CASES=4 cargo test
//! --release --test vm file_check`.
//!
//! Skips (one `skipping ...` line) when not root, when what `tests/deps.sh
//! vm` installs is missing, or when the VM does not boot; under CI=true
//! those fail. Functional assertions only: under TCG the guest is 10-50
//! times slower than the host, so nothing here is timed.

#[macro_use]
mod harness;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use harness::vm::{facts, run_in_vm, skip_vm, vm_setup, VmError, VmRun, BOOT_LIMIT};
use harness::vm_spool;
use harness::{CHECK_RAW, REPO};

/// The whole suite in the VM: boot, site, five cases (7 minutes measured
/// under TCG on a two-core machine at load 10, case 4 about 2.5 of them;
/// every wait in the guest is bounded at 90 s).
const SUITE_LIMIT: Duration = Duration::from_secs(1200);

/// The one VM run of the suite, or why it could not run: the background
/// run's (`make test`, see `harness::vm_spool`) when there is one, else a
/// boot of its own.
fn suite() -> &'static Result<VmRun, VmError> {
    static RUN: OnceLock<Result<VmRun, VmError>> = OnceLock::new();
    RUN.get_or_init(|| {
        // The spooler started with the other test binaries; it has its own
        // SUITE_LIMIT, and a boot to wait for on top.
        let spooled =
            vm_spool::spool_dir().and_then(|dir| vm_spool::read(&dir, SUITE_LIMIT + BOOT_LIMIT));
        let (run, background) = match spooled {
            Some(result) => (result?, " (in the background)"),
            None => (boot_suite()?, ""),
        };
        // The guest's clock per case: where the minutes go.
        let marks: Vec<&str> = run
            .output
            .lines()
            .filter(|l| l.starts_with("==="))
            .collect();
        let _ = writeln!(
            std::io::stderr(),
            "vm: {:?} guest ran the suite in {:.1} s{}: {}",
            run.accel,
            run.elapsed.as_secs_f64(),
            background,
            marks.join(" ")
        );
        Ok(run)
    })
}

/// Boots the VM and runs the cases (all, or `CHECK_RAW_VM_CASES`).
fn boot_suite() -> Result<VmRun, VmError> {
    let setup = vm_setup()?;
    let script = Path::new(REPO).join("tests/vm/cases.sh");
    // CHECK_RAW_VM_CASES="4" runs only those cases (while working on
    // one; the others' tests then fail for want of their facts).
    let cases = std::env::var("CHECK_RAW_VM_CASES").unwrap_or_default();
    let mut args = vec![CHECK_RAW];
    if !cases.trim().is_empty() {
        args.push(cases.trim());
    }
    let _ = writeln!(
        std::io::stderr(),
        "vm: booting kernel {} ({:?})",
        setup.version,
        setup.accel
    );
    run_in_vm(&setup, &script, &args, SUITE_LIMIT)
}

/// Not a test of its own: `make test` (tests/with_vm.sh) runs it in the
/// background with `CHECK_RAW_VM_SPOOL` set, so the VM suite (minutes
/// under TCG) runs beside the other test binaries; the tests below then
/// read its result. Without the variable it has nothing to do.
#[test]
#[ignore = "make test runs it in the background (tests/with_vm.sh)"]
fn spool_the_suite_for_make_test() {
    let Some(dir) = vm_spool::spool_dir() else {
        let _ = writeln!(
            std::io::stderr(),
            "skipping spool_the_suite_for_make_test: {} is not set",
            vm_spool::SPOOL_ENV
        );
        return;
    };
    vm_spool::claim(&dir).expect("write the spool's pid");
    let result = boot_suite();
    vm_spool::write(&dir, &result).expect("write the spool");
}

/// One case's facts and log, or `None` after a skip line. Panics when the
/// VM ran but the case did not (site not built, script killed).
fn case(name: &str) -> Option<Case> {
    let run = match suite() {
        Ok(run) => run,
        Err(e) => {
            skip_vm(&e.to_string());
            return None;
        }
    };
    let log = run.file(&format!("{name}.log")).unwrap_or("").to_owned();
    let Some(text) = run.file(&format!("{name}.facts")) else {
        panic!(
            "{name} never ran in the VM (script exit code {:?}, in {:?})\n--- output ---\n{}\n--- console ---\n{}",
            run.code,
            run.elapsed,
            run.output,
            harness::tail(&run.console, 30)
        );
    };
    Some(Case {
        name: name.to_owned(),
        facts: facts(text),
        log,
    })
}

struct Case {
    name: String,
    facts: BTreeMap<String, String>,
    log: String,
}

impl Case {
    /// A fact, panicking with the log if the case never got that far.
    fn get(&self, key: &str) -> &str {
        self.facts.get(key).map(String::as_str).unwrap_or_else(|| {
            panic!(
                "{}: no fact {key} (the case stopped early)\n{}",
                self.name,
                self.context()
            )
        })
    }

    fn num(&self, key: &str) -> i64 {
        let v = self.get(key);
        v.parse().unwrap_or_else(|_| {
            panic!("{}: {key}={v}, not a number\n{}", self.name, self.context())
        })
    }

    /// `key` must be `want`; `what` says what it means.
    fn expect(&self, key: &str, want: &str, what: &str) {
        let got = self.get(key);
        assert!(
            got == want,
            "{}: {what}: {key} is {got}, expected {want}\n{}",
            self.name,
            self.context()
        );
    }

    fn expect_that(&self, ok: bool, what: &str) {
        assert!(ok, "{}: {what}\n{}", self.name, self.context());
    }

    fn context(&self) -> String {
        let facts: Vec<String> = self.facts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "--- facts ---\n{}\n--- log ---\n{}",
            facts.join("\n"),
            self.log
        )
    }
}

/// Case 1: A healthy site: real IPVS (rr, DR) spreads the client's requests over
/// rs1..rs3, each nginx answering its own name; check_raw_tcp,
/// check_raw_http and check_raw_vip on the director are OK for each.
#[test]
fn healthy_site_forwards_to_every_real_server_and_every_check_is_ok() {
    let Some(c) = case("case1") else { return };
    c.expect(
        "req_failed",
        "0",
        "every client request through the VIP answers",
    );
    for rs in ["rs1", "rs2", "rs3"] {
        c.expect_that(
            c.num(&format!("req_{rs}")) >= 1,
            &format!("round robin sends {rs} a share of the requests"),
        );
        for check in ["tcp", "http", "vip"] {
            c.expect(
                &format!("ok_{check}_{rs}"),
                "0",
                &format!("check_raw_{check} for {rs} is OK"),
            );
        }
    }
    c.expect("done", "0", "the case ran to its end");
}

/// Case 2: rs2 loses the VIP: keepalived's own TCP_CHECK (to rs2's address)
/// keeps it in the real IPVS table, so a share of the client's requests is
/// black-holed; check_raw is CRITICAL for rs2 only.
#[test]
fn lost_vip_blackholes_requests_while_tcp_check_keeps_it_and_check_raw_sees_it() {
    let Some(c) = case("case2") else { return };
    for rs in ["rs1", "rs2", "rs3"] {
        c.expect(
            &format!("start_weight_{rs}"),
            "1",
            &format!("keepalived (TCP_CHECK) put {rs} in IPVS"),
        );
    }
    c.expect_that(
        c.num("req_failed") >= 1,
        "requests scheduled to the VIP-less rs2 must fail (time out)",
    );
    c.expect("req_rs2", "0", "rs2 without the VIP answers no request");
    c.expect_that(
        c.num("req_rs1") >= 1 && c.num("req_rs3") >= 1,
        "rs1 and rs3 still answer their share",
    );
    c.expect(
        "keepalived_weight_rs2",
        "1",
        "keepalived's TCP_CHECK still says rs2 is up (the blind spot)",
    );
    c.expect(
        "keepalived_weight_rs2_after",
        "1",
        "and still after the checks",
    );
    for check in ["tcp", "http", "vip"] {
        c.expect(
            &format!("down_{check}_rs2"),
            "2",
            &format!("check_raw_{check} is CRITICAL for rs2"),
        );
        for rs in ["rs1", "rs3"] {
            c.expect(
                &format!("down_{check}_{rs}"),
                "0",
                &format!("check_raw_{check} stays OK for {rs}"),
            );
        }
    }
    c.expect("done", "0", "the case ran to its end");
}

/// Case 3: Real keepalived with MISC_CHECK running check_raw_tcp takes the
/// VIP-less rs2 out of the real IPVS table and every request succeeds; the
/// VIP back, rs2 returns; with misc_dynamic the weights land in IPVS.
#[test]
fn keepalived_misc_check_takes_rs2_out_of_real_ipvs_and_back() {
    let Some(c) = case("case3") else { return };
    c.expect("up_weight_rs1", "1", "keepalived put rs1 in IPVS");
    c.expect("up_weight_rs3", "1", "keepalived put rs3 in IPVS");
    let out = c.get("out_weight_rs2");
    c.expect_that(
        out == "absent" || out == "0",
        &format!("keepalived took rs2 out of IPVS (ipvsadm -Ln shows it {out})"),
    );
    c.expect("out_failed", "0", "every request succeeds with rs2 out");
    c.expect("out_rs2", "0", "no request reaches rs2 once out");
    c.expect(
        "back_weight_rs2",
        "1",
        "the VIP back, keepalived puts rs2 back",
    );
    c.expect("back_failed", "0", "every request succeeds with rs2 back");
    c.expect_that(c.num("back_rs2") >= 1, "rs2 answers its share again");
    for (rs, w) in [("rs1", "5"), ("rs2", "6"), ("rs3", "7")] {
        c.expect(
            &format!("dyn_weight_{rs}"),
            w,
            &format!("misc_dynamic: check_raw_tcp --weight {w} lands in IPVS for {rs}"),
        );
    }
    c.expect(
        "dyn_failed",
        "0",
        "every request succeeds under misc_dynamic",
    );
    c.expect("done", "0", "the case ran to its end");
}

/// Case 4: check_raw_serve drives real keepalived through FILE_CHECK, with
/// the section its `--print-keepalived` prints used as is: both real
/// servers in the real IPVS table (after the one reload keepalived 2.2.7
/// needs at its start), every request through the VIP answered; rs2 loses
/// the VIP: its state file says 0, keepalived takes it out, every request
/// still answered; the VIP back, rs2 returns. check_raw_serve stopped
/// (SIGTERM) and restarted: neither the table nor the files move.
#[test]
fn keepalived_file_check_with_check_raw_serve() {
    let Some(c) = case("case4") else { return };
    c.expect(
        "check_exit",
        "0",
        "check_raw_serve --check accepts serve.toml",
    );
    c.expect("print_exit", "0", "--print-keepalived prints the section");
    c.expect(
        "print_file_checks",
        "2",
        "the section holds one FILE_CHECK per check",
    );
    c.expect(
        "config_test",
        "0",
        "keepalived --config-test accepts the printed section",
    );
    for rs in ["rs1", "rs2"] {
        c.expect(
            &format!("serve_file_{rs}"),
            "1",
            &format!("check_raw_serve's state file for {rs} says up"),
        );
    }
    c.expect("serve_started", "1", "check_raw_serve logs its start");
    for rs in ["rs1", "rs2"] {
        c.expect(
            &format!("up_weight_{rs}"),
            "1",
            &format!("keepalived, reloaded once, puts {rs} in IPVS"),
        );
        c.expect_that(
            c.num(&format!("up_{rs}")) >= 1,
            &format!("{rs} answers a share of the requests"),
        );
    }
    c.expect("up_failed", "0", "every request through the VIP answers");

    c.expect(
        "down_file_rs2",
        "0",
        "rs2 without the VIP: its state file says down",
    );
    let out = c.get("down_weight_rs2");
    c.expect_that(
        out == "absent" || out == "0",
        &format!("keepalived took rs2 out of IPVS (ipvsadm -Ln shows it {out})"),
    );
    c.expect("down_file_rs1", "1", "rs1's state file still says up");
    c.expect("down_weight_rs1", "1", "rs1 stays in IPVS");
    c.expect("down_failed", "0", "every request succeeds with rs2 out");
    c.expect("down_rs2", "0", "no request reaches rs2 once out");

    c.expect(
        "back_file_rs2",
        "1",
        "the VIP back: rs2's state file says up",
    );
    c.expect("back_weight_rs2", "1", "keepalived puts rs2 back in IPVS");
    c.expect("back_failed", "0", "every request succeeds with rs2 back");
    c.expect_that(c.num("back_rs2") >= 1, "rs2 answers its share again");
    c.expect("logged_down_rs2", "1", "one DOWN line for rs2 in the log");
    c.expect(
        "logged_up_rs2",
        "2",
        "rs2's UP lines: at the start and back",
    );

    c.expect("stop_exit", "0", "check_raw_serve exits 0 on SIGTERM");
    c.expect("stop_logged", "1", "it logs `stopping on SIGTERM`");
    c.expect(
        "stop_table_changes",
        "0",
        "with check_raw_serve stopped the IPVS table does not move",
    );
    c.expect("stop_file_changes", "0", "nor do the state files");
    c.expect(
        "stop_files",
        "web-rs1=1,web-rs2=1",
        "the state files are left as they were",
    );
    c.expect("restart_started", "1", "check_raw_serve starts again");
    c.expect(
        "restart_table_changes",
        "0",
        "restarted on its own files, nothing flaps in IPVS",
    );
    c.expect("restart_file_changes", "0", "nor in the state files");
    c.expect("restart_changes_logged", "0", "nor in its log");
    c.expect("restart_alive", "yes", "the restarted daemon keeps running");
    c.expect(
        "restart_after",
        c.get("stop_before"),
        "the table is as it was before the stop",
    );
    c.expect("restart_stop_exit", "0", "and stops again with exit 0");
    c.expect("done", "0", "the case ran to its end");
}

/// Case 5: The BACKUP director (no VIP) checks over the kernel path (-r auto,
/// and a role file saying BACKUP): OK for every real server, even rs2
/// without the VIP (by design), while the MASTER's raw-frame check says
/// CRITICAL for it; check_raw_vip --segment from the BACKUP sees exactly
/// the MASTER claim the VIP.
#[test]
fn backup_director_checks_over_the_kernel_path() {
    let Some(c) = case("case5") else { return };
    for rs in ["rs1", "rs2", "rs3"] {
        for check in ["tcp", "http", "vip"] {
            c.expect(
                &format!("auto_{check}_{rs}"),
                "0",
                &format!("check_raw_{check} -r auto from the BACKUP is OK for {rs}"),
            );
        }
    }
    c.expect("role_tcp_rs1", "0", "a role file saying BACKUP: OK");
    c.expect(
        "segment_vip_rs1",
        "0",
        "--segment from the BACKUP: exactly one claim of the VIP (the MASTER's)",
    );
    c.expect(
        "novip_backup_tcp_rs2",
        "0",
        "the BACKUP's kernel path cannot see rs2's lost VIP (by design)",
    );
    c.expect(
        "novip_master_tcp_rs2",
        "2",
        "the MASTER's raw frames see it: CRITICAL",
    );
    c.expect_that(
        c.log.contains("BACKUP") || c.log.contains("kernel"),
        "the BACKUP checks say they took the kernel path (-v)",
    );
    c.expect("done", "0", "the case ran to its end");
}
