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
    // CHECK_RAW_BENCH=tls: only the TLS rows (see `tls_rows`).
    if std::env::var("CHECK_RAW_BENCH").is_ok_and(|v| v == "tls") {
        tls_rows();
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
    tls_rows();
}

/// HTTPS `/health` (nginx, TLS 1.3, unverified) from `lb`: check_raw
/// through the VIP (MASTER) and over the kernel (BACKUP) in one hyperfine
/// run with the yardsticks `check_http --ssl` and `curl -k`, both to the
/// real server's own address. Then each one's peak RSS (GNU time's %M,
/// largest of 5 runs). Target: no slower than either, no more memory than
/// check_http --ssl.
fn tls_rows() {
    const HYPERFINE: &str = "/usr/bin/hyperfine";
    const CHECK_HTTP: &str = "/usr/lib/nagios/plugins/check_http";
    const GNU_TIME: &str = "/usr/bin/time";
    if skip_unless(&[
        NGINX,
        Need::Program(HYPERFINE, "hyperfine"),
        Need::Program(CHECK_HTTP, "monitoring-plugins-basic"),
        Need::Program("/usr/bin/curl", "curl"),
        Need::Program(GNU_TIME, "time"),
    ]) {
        return;
    }
    let pki = Pki::new();
    let tb = Testbed::without_servers();
    let _nginx = tb.nginx_tls("rs1", &pki);
    let http = check_raw_bin("check_raw_http");
    let role = RoleFile::backup();
    let port = TlsPort::Good.port().to_string();
    let raw = |extra: &str| {
        format!(
            "{} --ssl -S 200 {extra}{IFACE} {RS1} {VIP} {port} {TLS_HOST} /health",
            http.display()
        )
    };
    let backup = format!("-r {} ", role.path());
    let commands = [
        ("check_raw_http --ssl (MASTER, VIP)", raw("")),
        ("check_raw_http --ssl (BACKUP, kernel)", raw(&backup)),
        (
            "check_raw_http, plain HTTP (MASTER, VIP)",
            format!(
                "{} -S 200 {IFACE} {RS1} {VIP} {PORT} {TLS_HOST} /health",
                http.display()
            ),
        ),
        (
            "check_http --ssl",
            format!("{CHECK_HTTP} --ssl -I {RS1} -H {TLS_HOST} -p {port} -u /health -e 200"),
        ),
        (
            "curl -k",
            format!(
                "/usr/bin/curl -k -s -o /dev/null --resolve {TLS_HOST}:{port}:{RS1} https://{TLS_HOST}:{port}/health"
            ),
        ),
    ];
    for (name, cmd) in &commands {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let r = tb.run_in("lb", &words);
        assert_eq!(r.code, Some(0), "{name} must pass before it is timed\n{r}");
    }
    let json = pki.dir().join("hyperfine.json");
    let json_s = json.display().to_string();
    let mut argv = vec![
        HYPERFINE,
        "-N",
        "--warmup",
        "5",
        "--runs",
        "100",
        "--export-json",
        &json_s,
    ];
    for (name, cmd) in &commands {
        argv.extend(["-n", name, cmd.as_str()]);
    }
    let r = tb.run_in("lb", &argv);
    assert_eq!(
        r.code,
        Some(0),
        "hyperfine failed
{r}"
    );
    println!("TLS: HTTPS /health from lb, hyperfine -N, 100 runs each (inside ip netns exec)");
    print!("{}", r.stdout);
    let results = std::fs::read_to_string(&json).unwrap_or_default();
    for (name, cmd) in &commands {
        let mut words = vec![GNU_TIME, "-f", "%M"];
        words.extend(cmd.split_whitespace());
        let peak = (0..5)
            .filter_map(|_| {
                let r = tb.run_in("lb", &words);
                r.stderr.lines().last()?.trim().parse::<u64>().ok()
            })
            .max()
            .unwrap_or(0);
        let mean = hyperfine_mean_ms(&results, name)
            .map(|m| format!("{m:.2} ms"))
            .unwrap_or_else(|| "?".into());
        println!("TLS row: {name:40} mean {mean:>10}, peak RSS {peak} KiB");
    }
}

/// The mean, in ms, hyperfine's JSON gives the command named `name`.
fn hyperfine_mean_ms(json: &str, name: &str) -> Option<f64> {
    let at = json.find(&format!("\"command\": \"{name}\""))?;
    let rest = &json[at..];
    let mean = rest.find("\"mean\":")? + "\"mean\":".len();
    let n: String = rest[mean..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == 'e' || *c == '-')
        .collect();
    n.parse::<f64>().ok().map(|s| s * 1e3)
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
