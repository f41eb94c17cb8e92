//! check_raw_serve, the daemon (issue 21), in the ways it is run besides
//! the daemon's loop (`tests/it/serve.rs`): a configuration this host cannot
//! run (no such interface, no usable state_dir) refused with FILE:LINE:
//! KEY before anything is sent; `--once`, the Nagios form, and `--check`;
//! systemd's notify protocol. In the testbed's balancer `lb`, on a
//! serve.toml the test writes (`harness::serve`, `harness::serve_cases`).
//! Tests skip, with a message, when not root (under CI=true they fail).

use std::fs;
use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::harness::serve::*;
use crate::harness::serve_cases::*;
use crate::harness::*;

/// The line (from 1) of the `n`th (from 0) `[[check]]` header.
fn check_line(toml: &str, n: usize) -> usize {
    toml.lines()
        .enumerate()
        .filter(|(_, l)| *l == "[[check]]")
        .nth(n)
        .map(|(i, _)| i + 1)
        .expect("the check's header")
}

/// A config this host cannot run: an interface that does not exist, a
/// state_dir that does not exist or is a file. Run mode and `--check`
/// exit 1 with `check_raw_serve: FILE:LINE: KEY: message` on stderr,
/// nothing on stdout, nothing sent (rs1's HTTP server accepts nothing),
/// no state file. `--once` says UNKNOWN with the missing interface, exit
/// 3, and runs whatever state_dir says (it writes no state file).
#[test]
fn a_config_the_host_cannot_run_is_refused_before_any_frame() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let web = tb.serve("rs1", HTTP_PORT, Behaviour::Respond(HTTP_REPLY.to_vec()));
    let bed = serve_bed();
    let config = bed.config.display().to_string();
    let good = Check::new("web", http_health(RS1, HTTP_PORT));
    let bad_if = Check::new(
        "bad-if",
        format!("check_raw_tcp -t {T} eth9 {RS1} {VIP} {PORT}"),
    );

    let no_if = bed.toml(TIMING, &[good.clone(), bad_if]);
    let if_line = format!(
        "check_raw_serve: {config}:{}: check.bad-if.command: interface 'eth9' does not exist here",
        check_line(&no_if, 1)
    );
    let missing = bed.dir().join("missing");
    let no_dir = toml(&missing, TIMING, std::slice::from_ref(&good));
    let a_file = bed.dir().join("a-file");
    fs::write(&a_file, "").expect("write a-file");
    let file_dir = toml(&a_file, TIMING, &[good]);
    let state_line = |dir: &Path| {
        format!(
            "check_raw_serve: {config}:4: state_dir: {}: ",
            dir.display()
        )
    };
    let cases = [
        (
            "no such interface",
            no_if,
            if_line.clone(),
            "eth9".to_owned(),
        ),
        (
            "state_dir missing",
            no_dir,
            state_line(&missing),
            "No such file".to_owned(),
        ),
        (
            "state_dir a file",
            file_dir,
            state_line(&a_file),
            "not a directory".to_owned(),
        ),
    ];
    let mut failures = Vec::new();
    for (what, text, line, needle) in &cases {
        bed.write_config(text);
        for mode in [&[][..], &["--check"][..]] {
            let r = bed.run(&tb, "lb", mode);
            let found = r
                .stderr
                .lines()
                .any(|l| l.starts_with(line.as_str()) && l.contains(needle.as_str()));
            if r.code != Some(1) || !found || !r.stdout.is_empty() || r.killed {
                failures.push(format!(
                    "[{what}, {mode:?}] exit 1, nothing on stdout and a line {line:?}...{needle:?} on stderr expected\n{r}\n{text}"
                ));
            }
        }
    }
    assert_eq!(
        bed.state_names(),
        Vec::<String>::new(),
        "no state file may be written"
    );
    thread::sleep(Duration::from_millis(200));
    if web.accepted() != 0 {
        failures.push(format!(
            "nothing may be sent, yet rs1 accepted a connection ({web:?})"
        ));
    }
    // --once: the missing interface is UNKNOWN, nothing sent; state_dir is
    // no concern of a run that writes no state file, so it runs.
    for (what, text, _, needle) in &cases {
        bed.write_config(text);
        let r = bed.run(&tb, "lb", &["--once"]);
        let (code, start, needle) = if what.starts_with("state_dir") {
            (0, "CHECK_RAW_SERVE OK - 1 check: 1 ok, ", "")
        } else {
            (3, "CHECK_RAW_SERVE UNKNOWN - ", needle.as_str())
        };
        if r.code != Some(code)
            || !r.status_line().starts_with(start)
            || !r.status_line().contains(needle)
        {
            failures.push(format!(
                "[{what}, --once] exit {code}, `{start}...{needle}...` expected\n{r}\n{text}"
            ));
        }
        if code == 3 && web.accepted() != 0 {
            failures.push(format!("[{what}, --once] nothing may be sent ({web:?})"));
        }
    }
    assert_all_ok(&failures);
}

/// `--once`, a Nagios plugin: every check once, the worst state first,
/// perfdata with the counts, then one line per check in file order; exit
/// the worst code. `--check` prints the summary, exit 0.
#[test]
fn once_runs_every_check_once_and_check_prints_the_summary() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let bed = serve_bed();
    let checks = [
        Check::new("rs1", tcp(RS1, VIP, PORT)),
        Check::new("rs2", tcp(RS2, VIP, PORT)),
        Check::new("rs1-again", tcp(RS1, VIP, PORT)),
    ];
    bed.write_config(&bed.toml(TIMING, &checks));
    let r = bed.run(&tb, "lb", &["--check"]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(
        r.status_line().starts_with(&format!(
            "{}: 3 checks (3 tcp), state files in ",
            bed.config.display()
        )),
        "--check prints serve::config::summary\n{r}"
    );

    let r = bed.run(&tb, "lb", &["--once"]);
    let first = "CHECK_RAW_SERVE CRITICAL - 3 checks: 2 ok, 0 warning, 1 critical, 0 unknown | ok=2;;;0;3 warning=0;;;0;3 critical=1;;;0;3 unknown=0;;;0;3 time=";
    assert_eq!(r.code, Some(2), "{r}");
    assert!(
        r.status_line().starts_with(first),
        "first line {first:?}...\n{r}"
    );
    let rest: Vec<&str> = r.stdout.lines().skip(1).collect();
    let ok = rest.len() == 3
        && rest[0].starts_with("rs1: RAW_TCP OK - ")
        && rest[1].starts_with("rs2: RAW_TCP CRITICAL - ")
        && rest[1].contains("lack the VIP")
        && rest[2].starts_with("rs1-again: RAW_TCP OK - ");
    assert!(ok, "one line per check, in file order\n{r}");
    assert_nothing_left_open(&tb, "rs1", PORT, &r);
    assert_eq!(
        bed.state_names(),
        Vec::<String>::new(),
        "--once writes no state file"
    );

    bed.write_config(&bed.toml(TIMING, &[Check::new("rs1", tcp(RS1, VIP, PORT))]));
    let r = bed.run(&tb, "lb", &["--once"]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(
        r.status_line()
            .starts_with("CHECK_RAW_SERVE OK - 1 checks: 1 ok, ")
            || r.status_line()
                .starts_with("CHECK_RAW_SERVE OK - 1 check: 1 ok, "),
        "{r}"
    );
}

/// systemd's notify protocol on `$NOTIFY_SOCKET`: READY=1 once the first
/// state files are written, RELOADING=1 (with MONOTONIC_USEC) then
/// READY=1 around a SIGHUP, WATCHDOG=1 at half of `$WATCHDOG_USEC`,
/// STOPPING=1 on SIGTERM.
#[test]
fn systemd_notify_ready_reloading_watchdog_stopping() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let checks = [Check::new("web", tcp(RS1, VIP, PORT))];
    bed.write_config(&bed.toml(TIMING, &checks));
    let mut notify = NotifySocket::bind(bed.dir());
    let socket = path_str(&notify.path).to_owned();
    // 600 ms: WATCHDOG=1 every 300 ms.
    let env = [
        ("NOTIFY_SOCKET", socket.as_str()),
        ("WATCHDOG_USEC", "600000"),
    ];
    let mut d = bed.start_env(&tb, "lb", &[], &env);
    let ready = notify.wait_for(0, "READY=1", SLACK);
    let files_then = bed.state_names();
    let Some(ready) = ready else {
        panic!(
            "no READY=1 within {SLACK:?}\n{}\n{}",
            notify.show(),
            d.diag()
        );
    };
    assert_eq!(
        files_then,
        ["web"],
        "READY=1 after the first state files are written\n{}",
        d.diag()
    );

    let watchdogs = |n: &mut NotifySocket| {
        n.messages()
            .iter()
            .filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1"))
            .count()
    };
    let before = watchdogs(&mut notify);
    thread::sleep(Duration::from_millis(1500));
    let pings = watchdogs(&mut notify) - before;
    // Five are due in 1.5 s; a loaded machine may be late with a few.
    assert!(
        pings >= 2,
        "{pings} WATCHDOG=1 in 1.5 s with WATCHDOG_USEC=600000\n{}",
        notify.show()
    );

    let skip = notify.messages().len();
    d.signal(libc::SIGHUP);
    let reloading = notify.wait_for(skip, "RELOADING=1", SLACK);
    let ready_again = reloading.and_then(|i| notify.wait_for(i + 1, "READY=1", SLACK));
    assert!(
        ready_again.is_some(),
        "RELOADING=1 then READY=1 after SIGHUP (ready first at #{ready})\n{}\n{}",
        notify.show(),
        d.diag()
    );
    let reloading_msg = notify.messages()[reloading.unwrap_or(0)].1.clone();
    assert!(
        reloading_msg
            .lines()
            .any(|l| l.starts_with("MONOTONIC_USEC=")),
        "RELOADING=1 comes with MONOTONIC_USEC (Type=notify-reload)\n{}",
        notify.show()
    );

    let skip = notify.messages().len();
    assert_stops(&mut d);
    assert!(
        notify
            .wait_for(skip, "STOPPING=1", Duration::from_millis(100))
            .is_some(),
        "STOPPING=1 on SIGTERM\n{}",
        notify.show()
    );
}
