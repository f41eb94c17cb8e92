//! `check_raw_serve` as a program: its names, options, exit codes and
//! output (no root, no network), then a smoke test of `--once` and of the
//! daemon against the namespace testbed (root).
//!
//! Interface under test:
//! `check_raw_serve [--config FILE] [-v]`, `--check`, `--once`,
//! `--print-keepalived`, `--help`, `--version`, also as `check_raw serve`.
//! Configuration errors: `check_raw_serve: FILE:LINE: KEY: message` on
//! stderr, exit 1; usage errors `check_raw_serve: message`, exit 1;
//! `--once` is a plugin: `CHECK_RAW_SERVE STATE - ...`, exit 0..3, its
//! refusals UNKNOWN (3). The daemon's deeper behaviour (rise/fall, reload
//! in detail, keepalived) is tested in `serve.rs`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::*;

const SERVE: &str = "check_raw_serve";

/// A configuration in a temp dir whose state_dir is beside it.
struct Setup {
    dir: TempDir,
    config: PathBuf,
    state_dir: PathBuf,
}

impl Setup {
    /// `checks`: (name, command) pairs; `top`: extra top-level lines.
    fn new(top: &str, checks: &[(&str, &str)]) -> Setup {
        let dir = TempDir::new();
        let state_dir = dir.path().join("state");
        fs::create_dir(&state_dir).unwrap();
        let config = dir.path().join("serve.toml");
        let setup = Setup {
            dir,
            config,
            state_dir,
        };
        setup.write(top, checks);
        setup
    }

    fn write(&self, top: &str, checks: &[(&str, &str)]) {
        let mut text = format!("state_dir = \"{}\"\n{top}\n", self.state_dir.display());
        for (name, command) in checks {
            text.push_str(&format!(
                "\n[[check]]\nname = \"{name}\"\ncommand = \"{command}\"\n"
            ));
        }
        fs::write(&self.config, text).unwrap();
    }

    fn config(&self) -> &str {
        self.config.to_str().unwrap()
    }

    fn state(&self, name: &str) -> Option<String> {
        fs::read_to_string(self.state_dir.join(name)).ok()
    }
}

fn serve(args: &[&str]) -> RunResult {
    run_local(&check_raw_bin(SERVE), args)
}

/// Two TCP checks on `lo` (exists everywhere): `--check` and
/// `--print-keepalived` need no testbed.
fn local_setup() -> Setup {
    Setup::new(
        "interval = \"2s\"",
        &[
            (
                "web-rs1",
                "check_raw_tcp -t 500 lo 198.51.100.11 203.0.113.10 80",
            ),
            (
                "web-rs2",
                "check_raw_tcp -t 500 lo 198.51.100.12 203.0.113.10 80",
            ),
        ],
    )
}

// ---- the program, no network ----------------------------------------------

#[test]
fn help_and_version_go_to_stdout_with_exit_0_under_both_names() {
    for (program, prefix) in [
        (check_raw_bin(SERVE), vec![]),
        (check_raw_bin("check_raw"), vec!["serve"]),
    ] {
        let args = |a: &'static str| [prefix.clone(), vec![a]].concat();
        let r = run_local(&program, &args("--help"));
        assert_eq!(r.code, Some(0), "{r}");
        assert!(r.stdout.contains("--print-keepalived"), "{r}");
        assert!(r.stdout.contains("--once"), "{r}");
        assert!(r.stderr.is_empty(), "{r}");
        let r = run_local(&program, &args("--version"));
        assert_eq!(r.code, Some(0), "{r}");
        assert!(r.stdout.starts_with("check_raw_serve v"), "{r}");
        assert_eq!(r.stdout.lines().count(), 1, "{r}");
    }
}

#[test]
fn check_prints_the_summary_and_exits_0() {
    let s = local_setup();
    let r = serve(&["--check", "--config", s.config()]);
    assert_eq!(r.code, Some(0), "{r}");
    let first = format!(
        "{}: 2 checks (2 tcp), state files in {}",
        s.config(),
        s.state_dir.display()
    );
    assert_eq!(r.status_line(), first, "{r}");
    assert!(
        r.stdout.lines().nth(1).unwrap().starts_with("web-rs1  tcp"),
        "{r}"
    );
    assert!(r.stderr.is_empty(), "{r}");
    // Nothing is written by --check.
    assert_eq!(fs::read_dir(&s.state_dir).unwrap().count(), 0);
    // The subcommand is the same program.
    let r2 = run_local(
        &check_raw_bin("check_raw"),
        &["serve", "--check", "--config", s.config()],
    );
    assert_eq!(r2.stdout, r.stdout, "{r2}");
}

#[test]
fn a_bad_configuration_is_every_error_with_file_line_and_key_exit_1() {
    let s = Setup::new(
        "rise = 0",
        &[
            ("ok", "check_raw_tcp lo 198.51.100.11 203.0.113.10 80"),
            ("bad", "check_raw_tcp lo 198.51.100.11 203.0.113.10 99999"),
        ],
    );
    for mode in [&["--check"][..], &[], &["--print-keepalived"]] {
        let mut args = mode.to_vec();
        args.extend(["--config", s.config()]);
        let r = serve(&args);
        assert_eq!(r.code, Some(1), "{r}");
        assert!(r.stdout.is_empty(), "{r}");
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{r}");
        let at = format!("check_raw_serve: {}:2: rise: ", s.config());
        assert!(lines[0].starts_with(&at), "{r}");
        let at = format!("check_raw_serve: {}:10: check.bad.command: ", s.config());
        assert!(lines[1].starts_with(&at), "{r}");
    }
    // The daemon wrote no state file before refusing.
    assert_eq!(fs::read_dir(&s.state_dir).unwrap().count(), 0);
    // A missing file: one line, exit 1.
    let missing = s.dir.path().join("nope.toml");
    let r = serve(&["--config", missing.to_str().unwrap()]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(
        r.stderr.starts_with(&format!(
            "check_raw_serve: {}: cannot read",
            missing.display()
        )),
        "{r}"
    );
}

#[test]
fn a_state_dir_that_cannot_be_used_is_refused_by_check() {
    let s = local_setup();
    fs::remove_dir(&s.state_dir).unwrap();
    let r = serve(&["--check", "--config", s.config()]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(r.stderr.contains(": state_dir: "), "{r}");
}

#[test]
fn print_keepalived_prints_the_section() {
    let s = local_setup();
    let r = serve(&["--print-keepalived", "--config", s.config()]);
    assert_eq!(r.code, Some(0), "{r}");
    let file = s.state_dir.join("web-rs1");
    assert!(r.stdout.contains("track_file web-rs1 {"), "{r}");
    assert!(
        r.stdout.contains(&format!("file \"{}\"", file.display())),
        "{r}"
    );
    assert!(r.stdout.contains("virtual_server 203.0.113.10 80 {"), "{r}");
    assert!(r.stderr.is_empty(), "{r}");
}

#[test]
fn usage_errors_are_one_line_on_stderr_exit_1_or_unknown_under_once() {
    for (args, message) in [
        (
            &["--bogus"][..],
            "check_raw_serve: unknown option '--bogus' (see check_raw_serve --help)",
        ),
        (
            &["serve.toml"],
            "check_raw_serve: unexpected argument 'serve.toml': the file goes after --config",
        ),
        (
            &["--check", "--print-keepalived"],
            "check_raw_serve: --check and --print-keepalived exclude each other",
        ),
        (
            &["--config"],
            "check_raw_serve: --config needs a FILE (--config FILE)",
        ),
    ] {
        let r = serve(args);
        assert_eq!(r.code, Some(1), "{r}");
        assert_eq!(r.stderr.trim_end(), message, "{r}");
        assert!(r.stdout.is_empty(), "{r}");
    }
    let r = serve(&["--once", "--bogus"]);
    assert_eq!(r.code, Some(3), "{r}");
    assert_eq!(
        r.stdout,
        "CHECK_RAW_SERVE UNKNOWN - unknown option '--bogus' (see check_raw_serve --help)\n",
        "{r}"
    );
    assert!(r.stderr.is_empty(), "{r}");
}

#[test]
fn once_with_a_bad_configuration_is_unknown_with_the_first_error() {
    let s = Setup::new(
        "fall = 101",
        &[("a", "check_raw_tcp lo 198.51.100.11 203.0.113.10 80")],
    );
    let r = serve(&["--once", "--config", s.config()]);
    assert_eq!(r.code, Some(3), "{r}");
    let want = format!("CHECK_RAW_SERVE UNKNOWN - {}:2: fall: ", s.config());
    assert!(r.stdout.starts_with(&want), "{r}");
    assert_eq!(r.stdout.lines().count(), 1, "{r}");
}

// ---- against the testbed (root) --------------------------------------------

/// rs1 holds the VIP and listens (OK); rs2 listens without it (CRITICAL).
fn bed_setup(top: &str) -> Setup {
    let rs = |ip: &str| format!("check_raw_tcp -t 500 {IFACE} {ip} {VIP} {PORT}");
    Setup::new(top, &[("rs1", &rs(RS1)), ("rs2", &rs(RS2))])
}

#[test]
fn once_runs_every_check_and_reports_the_worst() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let s = bed_setup("");
    let r = tb.run(
        "lb",
        &check_raw_bin(SERVE),
        &["--once", "--config", s.config()],
    );
    assert_eq!(r.code, Some(2), "{r}");
    assert!(
        r.status_line().starts_with(
            "CHECK_RAW_SERVE CRITICAL - 2 checks: 1 ok, 0 warning, 1 critical, 0 unknown | \
             ok=1;;;0;2 warning=0;;;0;2 critical=1;;;0;2 unknown=0;;;0;2 time="
        ),
        "{r}"
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{r}");
    assert!(lines[1].starts_with("rs1: RAW_TCP OK - "), "{r}");
    assert!(lines[2].starts_with("rs2: RAW_TCP CRITICAL - "), "{r}");
    // Concurrently: both within one -t (500 ms), not one after the other.
    assert!(r.elapsed < Duration::from_millis(950), "{r}");
    assert_eq!(
        fs::read_dir(&s.state_dir).unwrap().count(),
        0,
        "no state file"
    );
    assert_nothing_left_open(&tb, "rs1", PORT, &r);
}

/// Polls `path` until it holds `want`, at most `limit`.
fn wait_state(path: &Path, want: &str, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if fs::read_to_string(path).is_ok_and(|s| s == want) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn the_daemon_writes_states_reloads_and_stops_on_sigterm_within_a_second() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let s = bed_setup("interval = \"1s\"\nrise = 1\nfall = 1");
    // rs2 left a 1 from an earlier life: kept at start, then fails closed.
    fs::write(s.state_dir.join("rs2"), "1\n").unwrap();
    // Held until the end: the link goes with the last holder.
    let bin = check_raw_bin(SERVE);
    let daemon = tb.spawn("lb", &bin, &["--config", s.config(), "-v"]);
    let up = wait_state(&s.state_dir.join("rs1"), "1\n", Duration::from_secs(5));
    let down = wait_state(&s.state_dir.join("rs2"), "0\n", Duration::from_secs(5));
    // SIGHUP with rs2 gone: its file goes, rs1 keeps its state.
    s.write(
        "interval = \"1s\"\nrise = 1\nfall = 1",
        &[(
            "rs1",
            &format!("check_raw_tcp -t 500 {IFACE} {RS1} {VIP} {PORT}"),
        )],
    );
    daemon.signal(libc::SIGHUP);
    let start = Instant::now();
    while s.state("rs2").is_some() && start.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let removed = s.state("rs2").is_none();
    // A run or two after the reload, then SIGTERM.
    std::thread::sleep(Duration::from_millis(1200));
    let sent = daemon.signal(libc::SIGTERM);
    let started = daemon.started();
    let r = daemon.wait(Duration::from_secs(5));
    let stopped = (started + r.elapsed).saturating_duration_since(sent);
    assert!(up, "rs1 never went up\n{r}");
    assert!(down, "rs2 never went down\n{r}");
    assert!(removed, "rs2's state file stayed after the reload\n{r}");
    assert_eq!(r.code, Some(0), "{r}");
    assert!(
        stopped < Duration::from_secs(1),
        "stopped in {stopped:?}\n{r}"
    );
    assert_eq!(
        s.state("rs1").as_deref(),
        Some("1\n"),
        "state file kept\n{r}"
    );
    let log: Vec<&str> = r.stderr.lines().collect();
    let started_line = format!(
        "check_raw_serve: started: 2 checks from {}, state files in {}",
        s.config(),
        s.state_dir.display()
    );
    assert_eq!(log.first().copied(), Some(started_line.as_str()), "{r}");
    let has = |prefix: &str| log.iter().any(|l| l.starts_with(prefix));
    assert!(
        has("check_raw_serve: rs1: UP after 1 up result (was DOWN for "),
        "{r}"
    );
    assert!(
        has("check_raw_serve: rs2: DOWN after 1 failure (was UP for "),
        "{r}"
    );
    assert!(
        has("check_raw_serve: rs1: RAW_TCP OK - "),
        "-v logs every run\n{r}"
    );
    let reloaded = format!(
        "check_raw_serve: reloaded {}: 1 check (0 added, 1 removed, 1 kept)",
        s.config()
    );
    assert!(log.contains(&reloaded.as_str()), "{r}");
    assert_eq!(
        log.last().copied(),
        Some("check_raw_serve: stopping on SIGTERM"),
        "{r}"
    );
    assert!(r.stdout.is_empty(), "{r}");
    assert_nothing_left_open(&tb, "rs1", PORT, &r);
}

#[test]
fn systemd_hears_ready_reloading_watchdog_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    require!(Need::Testbed);
    let tb = Testbed::new();
    let s = bed_setup("interval = \"1s\"");
    // A path socket: the daemon runs in another network namespace, where
    // an abstract one would not be seen.
    let path = s.dir.path().join("notify");
    let systemd = UnixDatagram::bind(&path).unwrap();
    systemd
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let bin = check_raw_bin(SERVE);
    let mut cmd = std::process::Command::new("ip");
    cmd.args(["netns", "exec", tb.ns("lb")])
        .arg(&*bin)
        .args(["--config", s.config()])
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "200000");
    let daemon = spawn(cmd);
    let mut buf = [0u8; 512];
    let mut next = || {
        let n = systemd.recv(&mut buf).expect("a notification within 5 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let ready = next();
    // Both states were written before READY=1.
    assert_eq!(s.state("rs1").as_deref(), Some("0\n"));
    assert_eq!(s.state("rs2").as_deref(), Some("0\n"));
    assert_eq!(ready, "READY=1\nSTATUS=2 checks: 0 up, 2 down");
    // The watchdog: every 100 ms (half of WATCHDOG_USEC).
    let start = Instant::now();
    let pings = (0..3).filter(|_| next() == "WATCHDOG=1").count();
    assert!(pings >= 2, "{pings} of 3 were WATCHDOG=1");
    assert!(start.elapsed() < Duration::from_secs(2));
    daemon.signal(libc::SIGHUP);
    // Between the steps: watchdog pings, and a bare STATUS= whenever a
    // check comes up or goes down (rs1 may, any time after the start).
    let routine = |m: &str| m == "WATCHDOG=1" || (m.starts_with("STATUS=") && !m.contains('\n'));
    let mut seen = Vec::new();
    for _ in 0..20 {
        let m = next();
        if !routine(&m) {
            seen.push(m);
        }
        if seen.len() == 2 {
            break;
        }
    }
    assert!(
        seen[0].starts_with("RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC="),
        "{seen:?}"
    );
    assert!(
        seen[1].starts_with("READY=1\nSTATUS=2 checks: "),
        "{seen:?}"
    );
    daemon.signal(libc::SIGTERM);
    let stopping = (0..20).map(|_| next()).find(|m| !routine(m));
    assert_eq!(stopping.as_deref(), Some("STOPPING=1\nSTATUS=stopping"));
    let r = daemon.wait(Duration::from_secs(5));
    assert_eq!(r.code, Some(0), "{r}");
}

#[test]
fn a_panicking_run_is_its_unknown_and_the_daemon_lives_on() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let s = bed_setup("interval = \"600ms\"");
    let bin = check_raw_bin(SERVE);
    let with_panic = |args: &[&str]| {
        let mut cmd = std::process::Command::new("ip");
        cmd.args(["netns", "exec", tb.ns("lb")])
            .arg(&*bin)
            .args(args)
            .env("CHECK_RAW_SELF_TEST_PANIC", "1");
        spawn(cmd)
    };
    let r = with_panic(&["--once", "--config", s.config()]).wait(Duration::from_secs(10));
    assert_eq!(r.code, Some(3), "{r}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].starts_with(
            "CHECK_RAW_SERVE UNKNOWN - 2 checks: 0 ok, 0 warning, 0 critical, 2 unknown"
        ),
        "{r}"
    );
    for (line, name) in lines[1..].iter().zip(["rs1", "rs2"]) {
        let want =
            format!("{name}: RAW_TCP UNKNOWN - internal error, please report: self-test panic");
        assert!(line.starts_with(&want), "{r}");
    }
    assert!(r.stderr.is_empty(), "no panic report on stderr\n{r}");
    // The daemon: runs panic again and again, it keeps running them.
    let daemon = with_panic(&["--config", s.config(), "-v"]);
    std::thread::sleep(Duration::from_millis(1600));
    daemon.signal(libc::SIGTERM);
    let r = daemon.wait(Duration::from_secs(5));
    assert_eq!(r.code, Some(0), "{r}");
    let runs = r
        .stderr
        .lines()
        .filter(|l| {
            l.contains(": RAW_TCP UNKNOWN - internal error, please report: self-test panic")
        })
        .count();
    assert!(
        runs >= 4,
        "{runs} runs logged in 1.6 s of two checks every 600 ms\n{r}"
    );
    assert_eq!(s.state("rs1").as_deref(), Some("0\n"), "{r}");
}

#[test]
fn https_runs_fit_a_worker_thread() {
    // The deepest runs there are (openssl's handshake, a 1 MiB body
    // hashed and searched by a regex) on the workers' small stacks, in
    // both roles.
    use crate::harness::tls_bed::{TlsBed, HTTPS};
    require!(Need::Testbed, NGINX);
    let bed = TlsBed::new();
    let backup = RoleFile::backup();
    let https = |path: &str, extra: &str| {
        format!(
            "check_raw_http --ssl -t 5000 -S 200 {extra} {IFACE} {RS1} {VIP} {HTTPS} {TLS_HOST} {path}"
        )
    };
    let s = Setup::new(
        "interval = \"10s\"",
        &[
            ("health", &https("/health", "")),
            ("big1m", &https("/big1m", "--regex '[a-z]+'")),
            (
                "backup",
                &https("/health", &format!("-r {}", backup.path())),
            ),
        ],
    );
    let bin = check_raw_bin(SERVE);
    let r = bed.tb.run("lb", &bin, &["--once", "--config", s.config()]);
    assert!(
        r.signal.is_none(),
        "died by a signal (a stack overflow?)\n{r}"
    );
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{r}");
    assert!(lines[1].starts_with("health: RAW_HTTP OK - "), "{r}");
    assert!(lines[2].starts_with("big1m: RAW_HTTP "), "{r}");
    assert!(lines[3].starts_with("backup: RAW_HTTP OK - "), "{r}");
}
