//! Timing and memory benchmarks of the release binary in the namespace
//! testbed (root only): `make bench` or `cargo bench --bench timing`.
//!
//! The tests assert verdicts with loose time bounds; the goals themselves
//! are measured here and printed:
//! - a passing check's wall time (process start to exit) and the handshake;
//! - deadline precision: `-t 500` against a real server without the VIP
//!   must end at 500 ms (+-10 ms), idle, under a UDP flood of some 300,000
//!   packets/s, and when the SYN/ACK is delayed past the deadline;
//! - peak RSS of a check (goal: under 4 MiB).
//!
//! Known costs outside the check's own clock: `ip netns exec` (a mount
//! namespace and a sysfs remount), and the close of the AF_PACKET socket
//! at exit, which waits one RCU grace period (8-16 ms) in the kernel.

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::time::Duration;

use harness::*;

const RUNS: usize = 30;
const DEADLINE_MS: f64 = 500.0;

fn main() {
    if needs_root() {
        return;
    }
    // CHECK_RAW_BENCH=dns: only the DNS comparison (a minute less).
    if std::env::var("CHECK_RAW_BENCH").is_ok_and(|v| v == "dns") {
        dns_vs_check_dig();
        return;
    }
    let tb = Testbed::new();
    let tcp = check_raw_bin("check_raw_tcp");
    let port = PORT.to_string();
    let ok_args = [IFACE, RS1, VIP, port.as_str()];
    let lost_args = ["-vvv", "-t", "500", IFACE, RS2, VIP, port.as_str()];

    println!("check_raw timing benchmarks ({RUNS} runs each unless said)");
    // What `ip netns exec` and starting the binary cost without a check.
    let base = sample(RUNS, || tb.run("lb", &tcp, &["--version"]));
    report(
        "baseline: ip netns exec + --version",
        &base.iter().map(|r| ms(r.elapsed)).collect::<Vec<_>>(),
    );
    let ok = sample(RUNS, || tb.run("lb", &tcp, &ok_args));
    report(
        "rs1 OK, wall time per check",
        &ok.iter().map(|r| ms(r.elapsed)).collect::<Vec<_>>(),
    );
    let handshakes: Vec<f64> = ok
        .iter()
        .filter_map(|r| perf_seconds(&r.stdout))
        .map(|s| s * 1e3)
        .collect();
    report("rs1 OK, SYN to SYN/ACK", &handshakes);

    deadline(&tb, "idle", &tcp, &lost_args, 10);
    {
        let flood = Flood::start(&tb, 60);
        let rx0 = lb_rx_packets(&tb);
        let t0 = std::time::Instant::now();
        deadline(&tb, "under UDP flood", &tcp, &lost_args, 10);
        let rate = (lb_rx_packets(&tb) - rx0) as f64 / t0.elapsed().as_secs_f64();
        println!("  (flood at lb: {rate:.0} packets/s)");
        drop(flood);
    }
    drop(tb);

    let relay = Testbed::with_relay(FaultPlan::both(
        Faults::new().delay_tcp(Duration::from_millis(600)),
    ));
    let delayed = ["-vvv", "-t", "500", IFACE, RS1, VIP, port.as_str()];
    deadline(
        &relay,
        "SYN/ACK delayed 1.2 s round trip",
        &tcp,
        &delayed,
        5,
    );
    drop(relay);

    let tb = Testbed::new();
    let _ = sample(5, || tb.run("lb", &tcp, &ok_args));
    println!(
        "peak RSS of any check run: {} KiB (goal < 4096)",
        children_max_rss_kib()
    );
    drop(tb);

    dns_vs_check_dig();
}

/// check_dig, monitoring-plugins' DNS check (it runs dig), the yardstick.
const CHECK_DIG: &str = "/usr/lib/nagios/plugins/check_dig";

/// check_raw_dns through the VIP next to check_dig to the real server's
/// own address, in one hyperfine run in `lb` (wall time), then each one's
/// peak RSS (its own and its children's, from wait4). Goal: no slower, no
/// larger. Skipped without NSD, check_dig or hyperfine.
fn dns_vs_check_dig() {
    if skip_unless(&[
        NSD,
        Need::Program(CHECK_DIG, "monitoring-plugins-standard"),
        Need::Program("hyperfine", "hyperfine"),
    ]) {
        return;
    }
    let tb = Testbed::without_servers();
    let _nsd = tb.nsd("rs1", &[RS1, VIP]);
    let dns = check_raw_bin("check_raw_dns");
    let name = format!("www.{}", harness::dns::ZONE);
    let ours = format!("{} {IFACE} {RS1} {VIP} 53 {name}", dns.display());
    let theirs = format!("{CHECK_DIG} -H {RS1} -l {name} -T A");
    let json = TempDir::new();
    let out = json.path().join("dns.json");
    let out_s = out.display().to_string();
    let r = tb.run_in(
        "lb",
        &[
            "hyperfine",
            "-N",
            "--warmup",
            "5",
            "--runs",
            "50",
            "--export-json",
            &out_s,
            &ours,
            &theirs,
        ],
    );
    println!("check_raw_dns (via the VIP) vs check_dig (to the real server):");
    println!("{}", r.stdout);
    let _ = std::fs::read_to_string(&out);
    // The TCP check to the same port, and a bare start, for scale.
    let tcp = check_raw_bin("check_raw_tcp");
    let tcp_cmd = format!("{} {IFACE} {RS1} {VIP} 53", tcp.display());
    let version = format!("{} --version", dns.display());
    for (what, cmd) in [
        ("check_raw_dns", &ours),
        ("check_dig", &theirs),
        ("check_raw_tcp (same port, for scale)", &tcp_cmd),
        ("check_raw_dns --version (a bare start)", &version),
    ] {
        let argv: Vec<String> = cmd.split_whitespace().map(String::from).collect();
        let ns = tb.ns("lb").to_string();
        let rss = netns_peak_rss(&ns, &argv);
        println!("{what}: peak RSS {rss}");
    }
}

/// Run `argv` in `ns` (a thread that entered it spawns the process) and
/// return its peak RSS, its waited-for children included, from wait4.
fn netns_peak_rss(ns: &str, argv: &[String]) -> String {
    let ns = ns.to_string();
    let argv = argv.to_vec();
    let got = std::thread::spawn(move || -> std::io::Result<String> {
        harness::netns::enter(&ns)?;
        let child = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let pid = child.id() as libc::pid_t;
        let mut status = 0;
        // SAFETY: wait4 on our own child, into a zeroed rusage we own.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::wait4(pid, &mut status, 0, &mut usage) } != pid {
            return Err(std::io::Error::last_os_error());
        }
        Ok(format!(
            "{} KiB (exit {})",
            usage.ru_maxrss,
            libc::WEXITSTATUS(status)
        ))
    })
    .join();
    match got {
        Ok(Ok(text)) => text,
        Ok(Err(e)) => format!("not measured: {e}"),
        Err(_) => "not measured: the thread panicked".into(),
    }
}

fn sample(n: usize, mut run: impl FnMut() -> RunResult) -> Vec<RunResult> {
    (0..n).map(|_| run()).collect()
}

/// Ends of `-t 500` runs: wall time, and the check's own clock (the last
/// frame it sent, the RST at the deadline, from the -vvv trace).
fn deadline(tb: &Testbed, what: &str, bin: &std::path::Path, args: &[&str], n: usize) {
    let runs = sample(n, || tb.run("lb", bin, args));
    for r in &runs {
        assert_eq!(r.code, Some(2), "expected CRITICAL\n{r}");
    }
    let wall: Vec<f64> = runs.iter().map(|r| ms(r.elapsed) - DEADLINE_MS).collect();
    let own: Vec<f64> = runs
        .iter()
        .filter_map(|r| last_frame_ms(&r.stdout))
        .map(|t| t - DEADLINE_MS)
        .collect();
    report(
        &format!("-t 500 {what}: wall time past the deadline"),
        &wall,
    );
    report(
        &format!("-t 500 {what}: last frame past the deadline"),
        &own,
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn last_frame_ms(stdout: &str) -> Option<f64> {
    stdout
        .lines()
        .rfind(|l| l.contains(" ms > "))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `time=0.000041s` from the perfdata.
fn perf_seconds(stdout: &str) -> Option<f64> {
    let perf = stdout.lines().next()?.split_once('|')?.1;
    perf.split_whitespace()
        .find_map(|p| p.strip_prefix("time="))?
        .split('s')
        .next()?
        .parse()
        .ok()
}

fn report(what: &str, values: &[f64]) {
    if values.is_empty() {
        println!("{what}: no values");
        return;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    println!(
        "{what}: min {:.3} ms, median {:.3} ms, p90 {:.3} ms, max {:.3} ms (n={})",
        v[0],
        at(0.5),
        at(0.9),
        v[v.len() - 1],
        v.len()
    );
}

/// Largest peak RSS among the child processes run so far.
fn children_max_rss_kib() -> i64 {
    // SAFETY: getrusage fills the zeroed rusage we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss
}
