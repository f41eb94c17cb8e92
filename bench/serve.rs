//! check_raw_serve at scale against the daemons an operator would run
//! instead (root only): `make bench` or `cargo bench --bench serve`.
//!
//! The testbed with `TARGETS` TCP targets (rs1 and rs3, each an nginx
//! listening on `TARGETS / 2` ports), each checked once a second from the
//! `lb` namespace by one checker at a time:
//! - keepalived 2.2 TCP_CHECK, HTTP_GET on /health, and MISC_CHECK running
//!   `check_raw_tcp` (checkers only, `--check`, IPVS calls stubbed by
//!   tests/daemons/ipvs_stub.c preloaded, as tests/keepalived.rs runs it);
//! - prometheus-blackbox-exporter's `tcp_connect`, driven by a loop of
//!   `/probe` requests (bench/serve/driver.rs);
//! - check_raw_serve with one `[[check]]` per target (`"not built"` while
//!   `check_raw serve --help` fails).
//!
//! Each runs `WARMUP`, then for `WINDOW` the bench reads the CPU of its
//! whole process tree (a cgroup v1 cpuacct group per checker, joined
//! between fork and exec, children included) and counts the checks as the
//! SYNs that reached the real servers (an nftables counter on their eth0).
//! CPU per check = CPU / SYNs. Prints one markdown table.
//!
//! `CHECK_RAW_BENCH=serve-scale`: 2,000 targets for 60 s, check_raw_serve
//! and keepalived's TCP_CHECK only: SYNs against targets × seconds and the
//! daemon's peak RSS (VmHWM). Never part of `make test` (a bench target).

#[path = "../tests/harness/mod.rs"]
mod harness;
#[path = "serve/bed.rs"]
mod bed;
#[path = "serve/cgroup.rs"]
mod cgroup;
#[path = "serve/checker.rs"]
mod checker;
#[path = "serve/configs.rs"]
mod configs;
#[path = "serve/driver.rs"]
mod driver;

use std::fs;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use bed::{targets, Servers, Target};
use checker::Checker;
use configs::{keepalived_conf, serve_toml, tcp_command, KeepalivedCheck, BLACKBOX_YML};
use driver::ProbeLoop;
use harness::keepalived::{build_ipvs_stub, KEEPALIVED};
use harness::*;

/// Before the window: start-up and the first round of checks.
const WARMUP: Duration = Duration::from_secs(3);
const BLACKBOX: &str = "/usr/bin/prometheus-blackbox-exporter";
const BLACKBOX_PORT: u16 = 9115;

/// What one run measures.
struct Plan {
    targets: usize,
    window: Duration,
    scale: bool,
}

/// One row of the table.
struct Row {
    checker: String,
    path: &'static str,
    /// SYNs counted on the real servers in the window.
    checks: u64,
    /// Targets × seconds of the window.
    expected: u64,
    cpu_ns: u64,
    rss_kib: u64,
    /// Why there is no number, or what else was seen.
    note: String,
}

impl Row {
    fn missing(checker: &str, path: &'static str, note: String) -> Row {
        Row {
            checker: checker.to_owned(),
            path,
            checks: 0,
            expected: 0,
            cpu_ns: 0,
            rss_kib: 0,
            note,
        }
    }

    fn us_per_check(&self) -> Option<f64> {
        (self.checks > 0).then(|| self.cpu_ns as f64 / self.checks as f64 / 1e3)
    }
}

fn main() {
    if needs_root() {
        return;
    }
    for (tool, pkg) in [("nft", "nftables"), ("/usr/sbin/nginx", "nginx-light")] {
        if !on_path(tool) {
            println!("bench: {tool} is missing: apt-get install {pkg} (tests/deps.sh bench does)");
            return;
        }
    }
    cgroup::sweep_stale();
    let plan = if std::env::var("CHECK_RAW_BENCH").is_ok_and(|v| v == "serve-scale") {
        Plan {
            targets: 2000,
            window: Duration::from_secs(60),
            scale: true,
        }
    } else {
        Plan {
            targets: 200,
            window: Duration::from_secs(15),
            scale: false,
        }
    };
    let tb = Testbed::without_servers();
    let list = targets(plan.targets);
    let servers = Servers::start(&tb, plan.targets.div_ceil(2) as u16);
    let dir = TempDir::new();
    // CHECK_RAW_BENCH_ROWS=tcp,serve: only those rows (the first one is
    // the ratios' base).
    let wanted = std::env::var("CHECK_RAW_BENCH_ROWS").unwrap_or_else(|_| {
        if plan.scale { "tcp,serve" } else { "tcp,http,blackbox,misc,serve" }.into()
    });
    let mut rows = Vec::new();
    for kind in wanted.split(',') {
        rows.push(match kind.trim() {
            "tcp" => keepalived_row(&tb, &servers, &plan, &list, KeepalivedCheck::Tcp),
            "http" => keepalived_row(&tb, &servers, &plan, &list, KeepalivedCheck::HttpGet),
            "misc" => keepalived_row(&tb, &servers, &plan, &list, KeepalivedCheck::Misc),
            "blackbox" => blackbox_row(&tb, &servers, &plan, &list, &dir),
            "serve" => serve_row(&tb, &servers, &plan, &list, &dir),
            other => Row::missing(other, "", "unknown row (tcp, http, blackbox, misc, serve)".into()),
        });
    }
    print_table(&plan, &rows);
    drop(servers);
}

/// Runs `checker` through the warm-up and the window: its row.
fn measure(
    tb: &Testbed,
    servers: &Servers,
    plan: &Plan,
    name: &str,
    path: &'static str,
    mut checker: Checker,
) -> Row {
    thread::sleep(WARMUP);
    if !checker.running() {
        return Row::missing(
            name,
            path,
            format!("exited during the warm-up: {}", checker.log_tail(5)),
        );
    }
    let (cpu0, syn0, t0) = (checker.cpu_ns(), servers.syns(tb), Instant::now());
    thread::sleep(plan.window);
    let (cpu1, syn1) = (checker.cpu_ns(), servers.syns(tb));
    let secs = t0.elapsed().as_secs_f64();
    let rss_kib = checker.peak_rss_kib();
    let mut note = String::new();
    if !checker.running() {
        note = format!("exited in the window: {}", checker.log_tail(5));
    }
    let checks = syn1 - syn0;
    let expected = (plan.targets as f64 * secs).round() as u64;
    if std::env::var_os("CHECK_RAW_BENCH_LOG").is_some() {
        eprintln!("--- {} log (last lines) ---\n{}", checker.what, checker.log_tail(30));
    }
    checker.stop();
    Row {
        checker: name.to_owned(),
        path,
        checks,
        expected,
        cpu_ns: cpu1 - cpu0,
        rss_kib,
        note,
    }
}

fn keepalived_row(
    tb: &Testbed,
    servers: &Servers,
    plan: &Plan,
    list: &[Target],
    check: KeepalivedCheck,
) -> Row {
    let (name, path, what) = match check {
        KeepalivedCheck::Tcp => (
            "keepalived TCP_CHECK",
            "kernel TCP to RS:port",
            "ka_tcp",
        ),
        KeepalivedCheck::HttpGet => (
            "keepalived HTTP_GET /health",
            "kernel TCP to RS:port, GET, MD5",
            "ka_http",
        ),
        KeepalivedCheck::Misc => (
            "keepalived MISC_CHECK `check_raw_tcp -t 800`",
            "fork+exec per check; frames to VIP at RS's MAC",
            "ka_misc",
        ),
    };
    for (tool, pkg) in [(KEEPALIVED, "keepalived"), ("gcc", "gcc")] {
        if !on_path(tool) {
            return Row::missing(name, path, format!("{tool} missing: apt-get install {pkg}"));
        }
    }
    let dir = TempDir::new();
    let bins = install_checks();
    let stub = build_ipvs_stub(dir.path());
    let conf = dir.write(
        "keepalived.conf",
        keepalived_conf(list, check, bins.path()).as_bytes(),
    );
    let p = |n: &str| dir.path().join(n).display().to_string();
    let argv: Vec<String> = [
        KEEPALIVED,
        "--dont-fork",
        "--log-console",
        "--check",
        "-f",
        &conf.display().to_string(),
        "--pid",
        &p("keepalived.pid"),
        "--checkers_pid",
        &p("checkers.pid"),
        "--vrrp_pid",
        &p("vrrp.pid"),
    ]
    .map(String::from)
    .to_vec();
    let env = [
        ("LD_PRELOAD", stub.display().to_string()),
        ("IPVS_STUB_LOG", p("ipvs.log")),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    match Checker::start(tb, "lb", what, &argv, &env, dir.path()) {
        Ok(c) => measure(tb, servers, plan, name, path, c),
        Err(e) => Row::missing(name, path, e),
    }
}

fn blackbox_row(
    tb: &Testbed,
    servers: &Servers,
    plan: &Plan,
    list: &[Target],
    dir: &TempDir,
) -> Row {
    let name = "blackbox_exporter tcp_connect (`/probe` loop)";
    let path = "kernel TCP to RS:port, an HTTP request per check";
    if !on_path(BLACKBOX) {
        return Row::missing(
            name,
            path,
            "not installed: apt-get install prometheus-blackbox-exporter".into(),
        );
    }
    let conf = dir.write("blackbox.yml", BLACKBOX_YML.as_bytes());
    let argv = vec![
        BLACKBOX.to_owned(),
        format!("--config.file={}", conf.display()),
        format!("--web.listen-address=127.0.0.1:{BLACKBOX_PORT}"),
    ];
    let checker = match Checker::start(tb, "lb", "blackbox", &argv, &[], dir.path()) {
        Ok(c) => c,
        Err(e) => return Row::missing(name, path, e),
    };
    // Listening before the loop starts (bounded: 5 s).
    let start = Instant::now();
    while tb.connect("lb", "127.0.0.1", BLACKBOX_PORT).is_err() {
        if start.elapsed() > Duration::from_secs(5) {
            return Row::missing(name, path, format!("not listening: {}", checker.log_tail(5)));
        }
        thread::sleep(Duration::from_millis(50));
    }
    let limit = WARMUP + plan.window + Duration::from_secs(10);
    let probes = ProbeLoop::start(tb.ns("lb"), BLACKBOX_PORT, list, limit);
    let mut row = measure(tb, servers, plan, name, path, checker);
    let (sent, ok, bad) = probes.finish();
    row.note = format!(
        "{}{} probes sent in all, {ok} `probe_success 1`, {bad} failed",
        row.note,
        sent
    );
    row
}

fn serve_row(
    tb: &Testbed,
    servers: &Servers,
    plan: &Plan,
    list: &[Target],
    dir: &TempDir,
) -> Row {
    let name = "check_raw_serve `check_raw_tcp -t 800`";
    let path = "one process, frames to VIP at RS's MAC";
    let help = run_local(Path::new(CHECK_RAW), &["serve", "--help"]);
    if help.code != Some(0) {
        return Row::missing(name, path, "not built (`check_raw serve --help` fails)".into());
    }
    let state = dir.path().join("state");
    fs::create_dir_all(&state).expect("state dir");
    let conf = dir.write(
        "serve.toml",
        serve_toml(list, &state, |t| tcp_command("check_raw_tcp", t)).as_bytes(),
    );
    let bin = check_raw_bin("check_raw_serve");
    let argv = vec![
        bin.display().to_string(),
        "--config".into(),
        conf.display().to_string(),
    ];
    let checker = match Checker::start(tb, "lb", "serve", &argv, &[], dir.path()) {
        Ok(c) => c,
        Err(e) => return Row::missing(name, path, e),
    };
    let log = dir.path().join("serve.log");
    let mut row = measure(tb, servers, plan, name, path, checker);
    let up = fs::read_dir(&state)
        .map(|d| {
            d.flatten()
                .filter(|e| fs::read_to_string(e.path()).is_ok_and(|s| s == "1\n"))
                .count()
        })
        .unwrap_or(0);
    let log = fs::read_to_string(log).unwrap_or_default();
    row.note = format!(
        "{}{up} of {} state files `1`; {} log lines",
        row.note,
        list.len(),
        log.lines().count()
    );
    row
}

fn print_table(plan: &Plan, rows: &[Row]) {
    let base = rows.first().and_then(Row::us_per_check);
    println!();
    println!(
        "check_raw_serve at scale: {}, {} targets each checked once a second, {} s window after {} s warm-up",
        machine(),
        plan.targets,
        plan.window.as_secs(),
        WARMUP.as_secs()
    );
    println!();
    println!("| checker | path | checks run (SYNs) | expected | CPU per check µs | ratio to TCP_CHECK | CPU % of a core | peak RSS KiB | note |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let (us, ratio, core) = match r.us_per_check() {
            Some(us) => (
                format!("{us:.0}"),
                base.map_or("".into(), |b| format!("{:.2}x", us / b)),
                format!("{:.1}", r.cpu_ns as f64 / plan.window.as_nanos() as f64 * 100.0),
            ),
            None => ("".into(), "".into(), "".into()),
        };
        println!(
            "| {} | {} | {} | {} | {us} | {ratio} | {core} | {} | {} |",
            r.checker, r.path, r.checks, r.expected, r.rss_kib, r.note
        );
    }
}

/// Date, CPU model, core count and kernel, for the table's caption.
fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_string())
        .unwrap_or_default();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{date}, {cpu}, {cores} cores, Linux {kernel}")
}

fn on_path(prog: &str) -> bool {
    if prog.contains('/') {
        return Path::new(prog).exists();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|d| d.join(prog).is_file())
}
