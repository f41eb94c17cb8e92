//! Speed and footprint of the checks against kernel-socket yardsticks, in
//! the namespace testbed (root only): `make bench` or
//! `cargo bench --bench timing`.
//!
//! Everything runs inside the `lb` namespace: hyperfine itself is started
//! there (`ip netns exec` once), so no check pays for entering it. Prints
//! one markdown table:
//! - wall time (mean of hyperfine `-N`, warm-up, `RUNS` runs; ours and the
//!   yardsticks in ONE invocation, so the ratios share the machine's load):
//!   `check_raw_tcp` against monitoring-plugins' `check_tcp`, the HTTP
//!   checks against `check_http` on /health, the GET of the 64 KiB /big
//!   and of a 4 MiB body against `curl`;
//! - CPU time per check (user + system, as the caller's rusage sees it);
//! - peak RSS (`/usr/bin/time -f %M`, largest of `RSS_RUNS`);
//! - the same wall and CPU under a UDP flood of some 300,000 packets/s;
//! - the end of `-t 1000` against a real server without the VIP, process
//!   start to exit (goal: 1000-1010 ms), idle and flooded.
//!
//! The yardsticks connect with the kernel's TCP to the real server's own
//! address; ours send hand-built frames to the VIP at its MAC, which is
//! what makes it a check of the real server as LVS-DR uses it.

#[path = "../tests/harness/mod.rs"]
mod harness;
/// The DNS and TLS rows, each its own hyperfine run.
#[path = "timing/protocols.rs"]
mod protocols;

#[path = "common.rs"]
mod bench_common;

use std::path::Path;
use std::process::Command;

use harness::*;
use protocols::{dns_vs_check_dig, tls_rows};

const RUNS: usize = 30;
const WARMUP: usize = 5;
const RSS_RUNS: usize = 5;
const TIMEOUT_RUNS: usize = 10;
const CHECK_TCP: &str = "/usr/lib/nagios/plugins/check_tcp";
const CHECK_HTTP: &str = "/usr/lib/nagios/plugins/check_http";
const CURL: &str = "/usr/bin/curl";
const TIME: &str = "/usr/bin/time";
/// The 4 MiB body, beside nginx's /health and /big.
const HUGE_LEN: usize = 4 * 1024 * 1024;

/// One hyperfine command: a short name for the table, and its argv.
struct Cmd {
    name: &'static str,
    argv: Vec<String>,
}

/// A row of the table: ours against a yardstick.
struct Row {
    what: &'static str,
    ours: &'static str,
    yardstick: &'static str,
}

const ROWS: [Row; 6] = [
    Row {
        what: "`check_raw_tcp` rs1",
        ours: "raw_tcp",
        yardstick: "check_tcp",
    },
    Row {
        what: "`check_raw_tcp --sync-close` (grace period in the process)",
        ours: "raw_tcp_sync",
        yardstick: "check_tcp",
    },
    Row {
        what: "`check_raw_http -S 200 -A MD5` /health",
        ours: "raw_http_health",
        yardstick: "check_http_health",
    },
    Row {
        what: "`check_raw_http_get` /health",
        ours: "raw_get_health",
        yardstick: "check_http_health",
    },
    Row {
        what: "`check_raw_http_get` /big (64 KiB)",
        ours: "raw_get_big",
        yardstick: "curl_big",
    },
    Row {
        what: "`check_raw_http_get` /huge (4 MiB)",
        ours: "raw_get_huge",
        yardstick: "curl_huge",
    },
];

/// hyperfine's numbers for one command, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    mean: f64,
    min: f64,
    max: f64,
    cpu: f64,
}

fn main() {
    if needs_root() {
        return;
    }
    // CHECK_RAW_BENCH=dns: only the DNS comparison (a minute less).
    if std::env::var("CHECK_RAW_BENCH").is_ok_and(|v| v == "dns") {
        dns_vs_check_dig();
        return;
    }
    // CHECK_RAW_BENCH=tls: only the TLS rows (see `tls_rows`).
    if std::env::var("CHECK_RAW_BENCH").is_ok_and(|v| v == "tls") {
        tls_rows();
        return;
    }
    for tool in ["hyperfine", CHECK_TCP, CHECK_HTTP, CURL, TIME] {
        if !bench_common::on_path(tool) {
            println!("bench: {tool} is missing: run `tests/deps.sh bench` (make bench does)");
            return;
        }
    }
    let tb = Testbed::without_servers();
    let web = tb.nginx("rs1", PORT);
    let huge = huge_body();
    let huge_md5 = md5_hex(&huge);
    std::fs::write(web.dir().join("www/huge"), &huge)
        .unwrap_or_else(|e| panic!("write the 4 MiB body: {e}"));
    let big_md5 = md5_hex(&big_body());
    let tcp = check_raw_bin("check_raw_tcp");
    let http = check_raw_bin("check_raw_http");
    let get = check_raw_bin("check_raw_http_get");
    let port = PORT.to_string();
    let s = |p: &Path| p.display().to_string();
    let raw = |bin: &Path, extra: &[&str], tail: &[&str]| {
        let mut argv = vec![s(bin)];
        argv.extend(extra.iter().map(|a| a.to_string()));
        argv.extend([IFACE, RS1, VIP, port.as_str()].map(String::from));
        argv.extend(tail.iter().map(|a| a.to_string()));
        argv
    };
    let url = |path: &str| format!("http://{RS1}:{PORT}{path}");
    let argv = |a: &[&str]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let host = "www.example.org";
    let cmds = vec![
        Cmd {
            name: "floor_version",
            argv: vec![s(&tcp), "--version".into()],
        },
        Cmd {
            name: "raw_tcp",
            argv: raw(&tcp, &[], &[]),
        },
        Cmd {
            name: "raw_tcp_sync",
            argv: raw(&tcp, &["--sync-close"], &[]),
        },
        Cmd {
            name: "check_tcp",
            argv: argv(&[CHECK_TCP, "-H", RS1, "-p", &port]),
        },
        Cmd {
            name: "raw_http_health",
            argv: raw(&http, &["-S", "200", "-A", HEALTH_MD5], &[host, "/health"]),
        },
        Cmd {
            name: "raw_get_health",
            argv: raw(&get, &[], &[host, "/health", HEALTH_MD5]),
        },
        Cmd {
            name: "check_http_health",
            argv: argv(&[CHECK_HTTP, "-H", RS1, "-p", &port, "-u", "/health"]),
        },
        Cmd {
            name: "raw_get_big",
            argv: raw(&get, &[], &[host, "/big", &big_md5]),
        },
        Cmd {
            name: "check_http_big",
            argv: argv(&[CHECK_HTTP, "-H", RS1, "-p", &port, "-u", "/big"]),
        },
        Cmd {
            name: "curl_big",
            argv: argv(&[CURL, "-sf", "-o", "/dev/null", &url("/big")]),
        },
        Cmd {
            name: "raw_get_huge",
            argv: raw(&get, &[], &[host, "/huge", &huge_md5]),
        },
        Cmd {
            name: "curl_huge",
            argv: argv(&[CURL, "-sf", "-o", "/dev/null", &url("/huge")]),
        },
    ];
    let lost = vec![Cmd {
        name: "timeout_1000",
        argv: {
            let mut a = vec![s(&tcp), "-t".into(), "1000".into()];
            a.extend([IFACE, RS2, VIP, port.as_str()].map(String::from));
            a
        },
    }];
    // Every command must pass before it is timed.
    for c in &cmds {
        let r = tb.run("lb", Path::new(&c.argv[0]), &strs(&c.argv[1..]));
        if c.name != "floor_version" && r.code != Some(0) {
            panic!("{} does not pass in the testbed:\n{r}", c.name);
        }
    }

    let idle = hyperfine(&tb, &cmds, RUNS, WARMUP, false);
    let rss: Vec<(String, u64)> = cmds
        .iter()
        .map(|c| (c.name.to_string(), peak_rss_kib(&tb, &c.argv)))
        .collect();
    let lost_idle = hyperfine(&tb, &lost, TIMEOUT_RUNS, 0, true);
    let (flooded, lost_flooded, rate) = {
        let flood = Flood::start(&tb, 600);
        let rx0 = lb_rx_packets(&tb);
        let t0 = std::time::Instant::now();
        let flooded = hyperfine(&tb, &cmds, RUNS, WARMUP, false);
        let lost = hyperfine(&tb, &lost, TIMEOUT_RUNS, 0, true);
        let rate = (lb_rx_packets(&tb) - rx0) as f64 / t0.elapsed().as_secs_f64();
        drop(flood);
        (flooded, lost, rate)
    };

    let get = |set: &[(String, Stats)], name: &str| {
        set.iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| *s)
            .unwrap_or_default()
    };
    let rss_of = |name: &str| rss.iter().find(|(n, _)| n == name).map_or(0, |(_, k)| *k);
    println!();
    println!(
        "check_raw bench, {} ({} runs each, warm-up {WARMUP}; flood {:.0} packets/s at lb)",
        bench_common::machine(),
        RUNS,
        rate
    );
    println!();
    println!("| check | yardstick | wall ms | yardstick ms | ratio | CPU ms | yardstick CPU ms | CPU ratio | peak RSS KiB | yardstick RSS KiB | flooded wall ms | flooded CPU ms |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for row in &ROWS {
        let (o, y) = (get(&idle, row.ours), get(&idle, row.yardstick));
        let (of, yf) = (get(&flooded, row.ours), get(&flooded, row.yardstick));
        println!(
            "| {} | `{}` | {:.2} | {:.2} | {:.2}x | {:.2} | {:.2} | {:.2}x | {} | {} | {:.2} ({:.2}x) | {:.2} |",
            row.what,
            row.yardstick,
            o.mean,
            y.mean,
            o.mean / y.mean,
            o.cpu,
            y.cpu,
            o.cpu / y.cpu,
            rss_of(row.ours),
            rss_of(row.yardstick),
            of.mean,
            of.mean / yf.mean,
            of.cpu,
        );
    }
    let floor = get(&idle, "floor_version");
    println!(
        "| floor: `check_raw_tcp --version` (process start and exit) | | {:.2} | {:.2} | {:.2}x | {:.2} | {:.2} | {:.2}x | {} | {} | {:.2} | {:.2} |",
        floor.mean,
        get(&idle, "check_tcp").mean,
        floor.mean / get(&idle, "check_tcp").mean,
        floor.cpu,
        get(&idle, "check_tcp").cpu,
        floor.cpu / get(&idle, "check_tcp").cpu,
        rss_of("floor_version"),
        rss_of("check_tcp"),
        get(&flooded, "floor_version").mean,
        get(&flooded, "floor_version").cpu,
    );
    let (li, lf) = (
        get(&lost_idle, "timeout_1000"),
        get(&lost_flooded, "timeout_1000"),
    );
    println!(
        "| `check_raw_tcp -t 1000` rs2 (no VIP), start to exit (goal 1000-1010) | | {:.2} (min {:.2}, max {:.2}) | | | {:.2} | | | | | {:.2} (min {:.2}, max {:.2}) | {:.2} |",
        li.mean, li.min, li.max, li.cpu, lf.mean, lf.min, lf.max, lf.cpu
    );
    println!();
    println!(
        "`check_tcp` is `check_tcp -H {RS1} -p {PORT}`, `check_http_health` is `check_http -H {RS1} -p {PORT} -u /health`, `curl_*` is `curl -sf -o /dev/null`; the 64 KiB /big row's `check_http -u /big`: {:.2} ms, CPU {:.2} ms, {} KiB. CPU is what the caller's rusage sees (the detached child that closes the packet socket is not the caller's: the `--sync-close` row includes its work).",
        get(&idle, "check_http_big").mean,
        get(&idle, "check_http_big").cpu,
        rss_of("check_http_big"),
    );
    dns_vs_check_dig();
    tls_rows();
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Run hyperfine in `lb` over `cmds`; the numbers by command name.
fn hyperfine(
    tb: &Testbed,
    cmds: &[Cmd],
    runs: usize,
    warmup: usize,
    ignore_failure: bool,
) -> Vec<(String, Stats)> {
    let csv = TempDir::new();
    let out = csv.path().join("hyperfine.csv");
    let mut cmd = Command::new("ip");
    cmd.args([
        "netns",
        "exec",
        tb.ns("lb"),
        "hyperfine",
        "-N",
        "--style",
        "basic",
    ])
    .args(["--runs", &runs.to_string(), "--warmup", &warmup.to_string()])
    .arg("--export-csv")
    .arg(&out);
    // `--version` exits 3 (UNKNOWN) and the timeout 2: exit codes were
    // checked before the timing.
    let _ = ignore_failure;
    cmd.arg("-i");
    for c in cmds {
        cmd.args(["-n", c.name]).arg(c.argv.join(" "));
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("run hyperfine: {e}"));
    assert!(status.success(), "hyperfine failed: {status}");
    let text = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("read {out:?}: {e}"));
    // command,mean,stddev,median,user,system,min,max[,parameters]
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) * 1e3;
            Some((
                f.first()?.to_string(),
                Stats {
                    mean: n(1),
                    min: n(6),
                    max: n(7),
                    cpu: n(4) + n(5),
                },
            ))
        })
        .collect()
}

/// Largest peak RSS of `RSS_RUNS` runs, from `/usr/bin/time -f %M`.
fn peak_rss_kib(tb: &Testbed, argv: &[String]) -> u64 {
    let mut args = vec!["-f", "%M"];
    args.extend(strs(argv));
    (0..RSS_RUNS)
        .filter_map(|_| {
            let r = tb.run("lb", Path::new(TIME), &args);
            r.stderr.lines().last()?.trim().parse::<u64>().ok()
        })
        .max()
        .unwrap_or(0)
}

/// The 4 MiB body: /big's generator continued.
fn huge_body() -> Vec<u8> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut body = Vec::with_capacity(HUGE_LEN);
    while body.len() < HUGE_LEN {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        body.extend_from_slice(&x.to_le_bytes());
    }
    body.truncate(HUGE_LEN);
    body
}
