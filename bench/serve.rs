//! check_raw_serve at scale against the daemons an operator would run
//! instead (root only): `make bench` or `cargo bench --bench serve`.
//!
//! The testbed with `TARGETS` TCP targets (rs1 and rs3, each an nginx
//! listening on `TARGETS / 2` ports), each checked once a second from the
//! `lb` namespace by one checker at a time:
//! - keepalived 2.2 TCP_CHECK, HTTP_GET on /health, and MISC_CHECK running
//!   `check_raw_tcp` (checkers only, `--check`, IPVS calls stubbed by
//!   tests/daemons/ipvs_stub.c preloaded, as tests/it/keepalived.rs runs it);
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
//! The listener (issue 22), "never at the checks' expense": check_raw_serve
//! with `listen` and a `/probe` module, its runs' lateness (from the run
//! ends `/metrics` reports, bench/serve/lateness.rs) with the listener
//! idle (`late`) and under load (`late_loaded`: 1,000 idle connections,
//! 20 slow clients sending a byte a second, 50 `/probe` at once); a
//! second table.
//!
//! `CHECK_RAW_BENCH=serve-scale`: 2,000 targets for 60 s, check_raw_serve
//! and keepalived's TCP_CHECK only: SYNs against targets × seconds and the
//! daemon's peak RSS (VmHWM). Never part of `make test` (a bench target).

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
#[path = "serve/flip.rs"]
mod flip;
#[path = "../tests/harness/mod.rs"]
mod harness;
#[path = "serve/lateness.rs"]
mod lateness;

#[path = "common.rs"]
mod bench_common;

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::thread;
use std::time::{Duration, Instant};

use bed::{targets, Servers, Target};
use checker::Checker;
use configs::{http_command, keepalived_conf, tcp_command, KeepalivedCheck, BLACKBOX_YML};
use driver::ProbeLoop;
use flip::Serve;
use harness::keepalived::{build_ipvs_stub, KEEPALIVED};
use harness::*;
use lateness::{late_row, print_late, LateRow};

/// Before the window: start-up and the first round of checks.
const WARMUP: Duration = Duration::from_secs(3);
const BLACKBOX: &str = "/usr/bin/prometheus-blackbox-exporter";
const BLACKBOX_PORT: u16 = 9115;
/// Every row once, TCP_CHECK and check_raw_serve a second time (the host
/// is shared: the lower of two is the less disturbed, and the ratio that
/// matters most gets it), the flooded ones, the listener's lateness rows,
/// then the flip timing: ~5 min.
const DEFAULT_ROWS: &str =
    "tcp,serve,http,serve_http,blackbox,misc,tcp,serve,tcp_flood,serve_flood,late,late_loaded,flip";
const SCALE_ROWS: &str = "tcp,serve";
/// Flooded rows run under this long a flood (more than warm-up + window).
const FLOOD_SECS: u32 = 120;

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
        if !bench_common::on_path(tool) {
            println!("bench: {tool} is missing: apt-get install {pkg} (tests/deps.sh bench does)");
            return;
        }
    }
    cgroup::sweep_stale();
    // Ctrl-C or SIGTERM ends the waits with a panic, whose unwinding stops
    // every checker and removes its cgroup and the namespaces.
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, Arc::clone(&INTERRUPTED));
    }
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
    // CHECK_RAW_BENCH_ROWS=tcp,serve: only those rows, in that order; a
    // kind listed twice is measured twice (the table keeps the lower CPU
    // per check and notes both). The first kind is the ratios' base.
    let wanted = std::env::var("CHECK_RAW_BENCH_ROWS")
        .unwrap_or_else(|_| if plan.scale { SCALE_ROWS } else { DEFAULT_ROWS }.into());
    let mut rows: Vec<(String, Row)> = Vec::new();
    let mut flip = None;
    let mut late: Vec<LateRow> = Vec::new();
    for kind in wanted.split(',').map(str::trim) {
        eprintln!("bench: {kind}");
        let row = match kind {
            "tcp" | "tcp_flood" => {
                keepalived_row(&tb, &servers, &plan, &list, KeepalivedCheck::Tcp, kind)
            }
            "http" => keepalived_row(&tb, &servers, &plan, &list, KeepalivedCheck::HttpGet, kind),
            "misc" => keepalived_row(&tb, &servers, &plan, &list, KeepalivedCheck::Misc, kind),
            "blackbox" => blackbox_row(&tb, &servers, &plan, &list, &dir),
            "serve" | "serve_http" | "serve_flood" => serve_row(&tb, &servers, &plan, &list, kind),
            "flip" => {
                flip = Some(flip::run(&tb, &list));
                continue;
            }
            "late" | "late_loaded" => {
                late.push(late_row(&tb, &plan, &list, kind == "late_loaded"));
                continue;
            }
            other => Row::missing(other, "", format!("unknown row (of {DEFAULT_ROWS})")),
        };
        rows.push((kind.to_owned(), row));
    }
    let rows = best_of(rows);
    print_table(&plan, &rows);
    if plan.scale {
        scale_goals(&rows);
    }
    if !late.is_empty() {
        print_late(&plan, &late);
    }
    if let Some(flip) = flip {
        println!();
        println!("{flip}");
    }
    drop(servers);
}

/// Runs `checker` through the warm-up and the window (under a UDP flood
/// at `lb` if `flooded`): its row.
fn measure(
    tb: &Testbed,
    servers: &Servers,
    plan: &Plan,
    (name, path): (&str, &'static str),
    flooded: bool,
    mut checker: Checker,
) -> Row {
    let flood = flooded.then(|| Flood::start(tb, FLOOD_SECS));
    let rx0 = lb_rx_packets(tb);
    nap(WARMUP);
    if !checker.running() {
        return Row::missing(
            name,
            path,
            format!("exited during the warm-up: {}", checker.log_tail(5)),
        );
    }
    let runs0 = runs_logged(&checker.log());
    let (cpu0, syn0, t0) = (checker.cpu_ns(), servers.syns(tb), Instant::now());
    nap(plan.window);
    let (cpu1, syn1) = (checker.cpu_ns(), servers.syns(tb));
    let runs = runs_logged(&checker.log()) - runs0;
    let secs = t0.elapsed().as_secs_f64();
    let rss_kib = checker.peak_rss_kib();
    let mut note = String::new();
    if runs > 0 {
        note.push_str(&format!("{runs} runs logged (`-v`); "));
    }
    if flood.is_some() {
        let rate = (lb_rx_packets(tb) - rx0) as f64 / (secs + WARMUP.as_secs_f64());
        note.push_str(&format!("flood {rate:.0} packets/s at lb; "));
    }
    drop(flood);
    if !checker.running() {
        note.push_str(&format!("exited in the window: {}; ", checker.log_tail(5)));
    }
    let log = checker.log();
    let late = log.matches("thread timer expired").count();
    if late > 0 {
        note.push_str(&format!("keepalived logged {late} late timers; "));
    }
    if std::env::var_os("CHECK_RAW_BENCH_LOG").is_some() {
        eprintln!(
            "--- {} log (last lines) ---\n{}",
            checker.what,
            checker.log_tail(30)
        );
    }
    note.push_str(&format!("load {}", loadavg()));
    checker.stop();
    Row {
        checker: name.to_owned(),
        path,
        checks: syn1 - syn0,
        expected: (plan.targets as f64 * secs).round() as u64,
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
    kind: &str,
) -> Row {
    let flooded = kind.ends_with("_flood");
    let (name, path) = match (check, flooded) {
        (KeepalivedCheck::Tcp, false) => ("keepalived TCP_CHECK", "kernel TCP to RS:port"),
        (KeepalivedCheck::Tcp, true) => ("keepalived TCP_CHECK, flooded", "kernel TCP to RS:port"),
        (KeepalivedCheck::HttpGet, _) => (
            "keepalived HTTP_GET /health",
            "kernel TCP to RS:port, GET, MD5 of the body",
        ),
        (KeepalivedCheck::Misc, _) => (
            "keepalived MISC_CHECK `check_raw_tcp -t 800`",
            "a fork and exec per check; frames to the VIP at RS's MAC",
        ),
    };
    for (tool, pkg) in [(KEEPALIVED, "keepalived"), ("gcc", "gcc")] {
        if !bench_common::on_path(tool) {
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
    match Checker::start(tb, "lb", &format!("ka_{kind}"), &argv, &env, dir.path()) {
        Ok(c) => measure(tb, servers, plan, (name, path), flooded, c),
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
    if !bench_common::on_path(BLACKBOX) {
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
            return Row::missing(
                name,
                path,
                format!("not listening: {}", checker.log_tail(5)),
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
    let limit = WARMUP + plan.window + Duration::from_secs(10);
    let probes = ProbeLoop::start(tb.ns("lb"), BLACKBOX_PORT, list, limit);
    let mut row = measure(tb, servers, plan, (name, path), false, checker);
    let (sent, ok, bad) = probes.finish();
    row.note = format!(
        "{sent} probes sent in all, {ok} `probe_success 1`, {bad} failed; {}",
        row.note
    );
    row
}

/// check_raw_serve, one `[[check]]` per target: `check_raw_tcp -t 800`
/// (`serve`, `serve_flood`) or `check_raw_http_get -t 800 ... /health MD5`
/// (`serve_http`).
fn serve_row(tb: &Testbed, servers: &Servers, plan: &Plan, list: &[Target], kind: &str) -> Row {
    let (name, path) = match kind {
        "serve_http" => (
            "check_raw_serve `check_raw_http_get -t 800 ... /health MD5`",
            "one process, frames to the VIP at RS's MAC, GET, MD5 of the body",
        ),
        "serve_flood" => (
            "check_raw_serve `check_raw_tcp -t 800`, flooded",
            "one process, frames to the VIP at RS's MAC",
        ),
        _ => (
            "check_raw_serve `check_raw_tcp -t 800`",
            "one process, frames to the VIP at RS's MAC",
        ),
    };
    let dir = TempDir::new();
    let command = |t: &Target| {
        if kind == "serve_http" {
            http_command(t)
        } else {
            tcp_command("check_raw_tcp", t)
        }
    };
    let checker = match Serve::start(tb, &dir, list, command, kind) {
        Ok(c) => c,
        Err(e) => return Row::missing(name, path, e),
    };
    let mut row = measure(
        tb,
        servers,
        plan,
        (name, path),
        kind == "serve_flood",
        checker.checker,
    );
    let up = flip::count_state(&checker.state, "1\n");
    row.note = format!("{up} of {} state files `1`; {}", list.len(), row.note);
    row
}

/// Rows of the same kind measured more than once: the one with the lower
/// CPU per check, the others' figures noted.
fn best_of(rows: Vec<(String, Row)>) -> Vec<Row> {
    let mut out: Vec<(String, Row, Vec<String>)> = Vec::new();
    for (kind, row) in rows {
        let figure = row
            .us_per_check()
            .map_or("-".to_owned(), |us| format!("{us:.0}"));
        match out.iter_mut().find(|(k, _, _)| *k == kind) {
            Some((_, best, figures)) => {
                figures.push(figure);
                let better = match (row.us_per_check(), best.us_per_check()) {
                    (Some(a), Some(b)) => a < b,
                    (Some(_), None) => true,
                    _ => false,
                };
                if better {
                    *best = row;
                }
            }
            None => out.push((kind, row, vec![figure])),
        }
    }
    out.into_iter()
        .map(|(_, mut row, figures)| {
            if figures.len() > 1 {
                row.note = format!("rounds: {} µs; {}", figures.join(", "), row.note);
            }
            row
        })
        .collect()
}

fn print_table(plan: &Plan, rows: &[Row]) {
    let base = rows.first().and_then(Row::us_per_check);
    println!();
    println!(
        "check_raw_serve at scale: {}, {} targets each checked once a second, {} s window after {} s warm-up",
        bench_common::machine(),
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
                format!(
                    "{:.1}",
                    r.cpu_ns as f64 / plan.window.as_nanos() as f64 * 100.0
                ),
            ),
            None => ("".into(), "".into(), "".into()),
        };
        println!(
            "| {} | {} | {} | {} | {us} | {ratio} | {core} | {} | {} |",
            r.checker, r.path, r.checks, r.expected, r.rss_kib, r.note
        );
    }
}

/// `serve-scale`'s goals for the check_raw_serve rows: every check every
/// interval (SYNs within 2% of targets × seconds), peak RSS ≤ 64 MiB.
fn scale_goals(rows: &[Row]) {
    for r in rows
        .iter()
        .filter(|r| r.checker.starts_with("check_raw_serve"))
    {
        if r.expected == 0 {
            println!("\n{}: {}", r.checker, r.note);
            continue;
        }
        let pct = r.checks as f64 / r.expected as f64 * 100.0;
        let met = |ok: bool| if ok { "met" } else { "NOT met" };
        println!(
            "\n{}: {} SYNs of {} expected ({pct:.1}%, goal within 2%: {}); peak RSS {} KiB (goal ≤ 65536: {}).",
            r.checker,
            r.checks,
            r.expected,
            met((pct - 100.0).abs() <= 2.0),
            r.rss_kib,
            met(r.rss_kib > 0 && r.rss_kib <= 65536),
        );
    }
}

/// check_raw_serve's `-v` lines of a log, each `NAME: <status line>` of
/// one run (the cross-check of the SYN count); state changes, which also
/// quote a status line, say `(was ...)`.
fn runs_logged(log: &str) -> usize {
    log.lines()
        .filter(|l| l.starts_with("check_raw_serve: ") && !l.contains("(was "))
        .filter(|l| {
            [" OK - ", " WARNING - ", " CRITICAL - ", " UNKNOWN - "]
                .iter()
                .any(|s| l.contains(s))
        })
        .count()
}

/// Set by SIGINT and SIGTERM.
static INTERRUPTED: LazyLock<Arc<AtomicBool>> = LazyLock::new(|| Arc::new(AtomicBool::new(false)));

/// `thread::sleep`, cut short by SIGINT/SIGTERM with a panic (so that
/// everything is cleaned up on the way out).
fn nap(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if INTERRUPTED.load(Ordering::Relaxed) {
            panic!("bench: interrupted; stopping the checkers and removing the testbed");
        }
        thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
    }
}

/// The 1-, 5- and 15-minute load averages: how shared the host was.
fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
