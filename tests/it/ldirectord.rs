//! check_raw under ldirectord (`checktype = external`, the packaged
//! wrappers copied with the binary's path put in), run in the foreground
//! inside the testbed's MASTER load balancer `lb` (see `harness::daemon`).
//! In debug mode ldirectord runs `./ipvsadm` from its working directory;
//! `tests/daemons/ipvsadm` keeps the table in a file.
//!
//! Tests skip, with a `skipping ...` line, when not root or ldirectord is
//! missing (under CI=true they fail).

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use crate::harness::*;

// ---- ldirectord ------------------------------------------------------------

const LDIRECTORD: &str = "/usr/sbin/ldirectord";

/// A packaged ldirectord wrapper with the installed checks' directory in
/// place of /usr/lib/check_raw.
fn ldirectord_wrapper(checks: &Path, dir: &Path, name: &str) -> PathBuf {
    let text = read(&packaging(&format!("ldirectord/{name}")));
    let packaged = "/usr/lib/check_raw/";
    assert!(
        text.contains(packaged),
        "packaging/ldirectord/{name} should exec a check from {packaged}:\n{text}"
    );
    // Options before "$@" make the four arguments ldirectord's form only
    // with --protocol ldirectord; without it they are refused.
    assert!(
        text.lines().any(|l| l.starts_with("exec ")
            && l.contains(" --protocol ldirectord ")
            && l.ends_with(" \"$@\"")),
        "packaging/ldirectord/{name} should exec the check with --protocol ldirectord:\n{text}"
    );
    let text = text.replace(packaged, &format!("{}/", checks.display()));
    let path = dir.join(name);
    write_executable(&path, &text);
    path
}

/// `ldirectord -d` (foreground) with `checktype = external` and the packaged
/// wrappers: TCP on port 80, HTTP (`-S 200 --url /health`) on 8080. With
/// `quiescent = no` a real server that fails is deleted, one that passes
/// added: rs1 ends up in the table, rs2 not, and ldirectord saw rs2's
/// check exit 1.
#[test]
fn ldirectord_external_check_keeps_only_the_real_server_with_the_vip() {
    require!(Need::Testbed, Need::Program(LDIRECTORD, "ldirectord"));
    let tb = daemon_testbed();
    let checks = install_checks();
    let dir = TempDir::new();
    let tcp = ldirectord_wrapper(checks.path(), dir.path(), "check_raw_tcp-ldirectord");
    let http = ldirectord_wrapper(checks.path(), dir.path(), "check_raw_http-ldirectord");
    let ipvsadm = fs::read_to_string(Path::new(REPO).join("tests/daemons/ipvsadm"))
        .expect("tests/daemons/ipvsadm");
    write_executable(&dir.path().join("ipvsadm"), &ipvsadm);

    let virtual_ = |port: u16, check: &Path| {
        format!(
            "virtual = {VIP}:{port}
        real = {RS1}:{port} gate
        real = {RS2}:{port} gate
        scheduler = wlc
        protocol = tcp
        checktype = external
        checkcommand = \"{}\"
",
            check.display()
        )
    };
    // checktimeout (s) above the wrappers' -t 2000 (ms), as packaged.
    let conf = format!(
        "checktimeout = 3
checkinterval = 1
quiescent = no
autoreload = no
{}{}",
        virtual_(PORT, &tcp),
        virtual_(HTTP_PORT, &http)
    );
    // The config's name picks ldirectord's pid file,
    // /var/run/ldirectord.<name>.pid: make it unique.
    let cf_name = format!(
        "ldirectord-{}.cf",
        dir.path().file_name().unwrap().to_string_lossy()
    );
    let cf = dir.write(&cf_name, conf.as_bytes()).display().to_string();
    let mut d = Daemon::start(
        &tb,
        "lb",
        "ldirectord",
        &[LDIRECTORD, "-d", &cf, "start"],
        &[],
        dir.path(),
        dir.path().join("ldirectord.log"),
    );
    let state = dir.path().join("ipvsadm.state");
    let calls = dir.path().join("ipvsadm.log");
    let diag = || {
        format!(
            "--- ldirectord -d output ---\n{}\n--- ipvsadm calls ---\n{}\n--- table ---\n{}",
            tail(&d.log(), 60),
            read(&calls),
            read(&state)
        )
    };
    let real = |port: u16, rs: &str| format!("R {VIP}:{port} {rs}:{port} Route 1 ");
    // "DEBUG3: Deactivated service RIP:RPORT: <$@> after calling CHECK with
    // result N", N the check's exit status.
    let failed = |log: &str, port: u16, check: &Path| {
        let rs = format!("Deactivated service {RS2}:{port}:");
        let result = format!("after calling {} with result 1", check.display());
        log.lines().any(|l| l.contains(&rs) && l.ends_with(&result))
    };
    wait_for(
        VERDICT_LIMIT,
        "rs1 in ldirectord's table and rs2's check failed",
        || {
            d.assert_running();
            let table = read(&state);
            let log = d.log();
            let done = table.contains(&real(PORT, RS1))
                && table.contains(&real(HTTP_PORT, RS1))
                && failed(&log, PORT, &tcp)
                && failed(&log, HTTP_PORT, &http);
            done.then_some(())
        },
        diag,
    );
    thread::sleep(Duration::from_millis(1500));
    let table = read(&state);
    let msg = diag();
    d.stop();

    assert!(
        table.contains(&real(PORT, RS1)),
        "rs1:80 in the table\n{msg}"
    );
    assert!(
        table.contains(&real(HTTP_PORT, RS1)),
        "rs1:8080 in the table\n{msg}"
    );
    assert!(
        !table.contains(&format!(" {RS2}:")),
        "rs2 not in the table\n{msg}"
    );
    for (port, check) in [(PORT, &tcp), (HTTP_PORT, &http)] {
        // ldirectord passes VIP VPORT RIP RPORT and nothing else.
        let call = format!(
            "Running system_timeout(3, {} {VIP} {port} {RS1} {port})",
            check.display()
        );
        assert!(msg.contains(&call), "ldirectord should run {call}\n{msg}");
        assert!(
            msg.contains(&format!("Activated service {RS1}:{port}")),
            "rs1:{port} activated\n{msg}"
        );
    }
}
