//! `make demo`: builds a throwaway LVS-DR network, runs the checks against
//! real servers in known states, and shows each command, its status line and
//! exit code next to the expected verdict. Exits 1 if any verdict is wrong.
//!
//! A test target with `harness = false` (its own `main`), so it reuses the
//! integration-test harness and cargo builds the binary under test for it.

#[macro_use]
mod harness;

use std::path::Path;
use std::time::{Duration, Instant};

use harness::*;

/// The Host header of the HTTP checks.
const HOST: &str = "www.example.test";

/// One demonstrated check.
struct Case {
    /// The real server's state, in words.
    what: &'static str,
    /// Name the binary is called by (selects the mode).
    program: &'static str,
    args: Vec<&'static str>,
    /// Expected exit code (0 OK, 2 CRITICAL).
    expect: i32,
}

fn main() {
    require!(Need::Testbed, NGINX);
    print_topology();
    // nginx is the listener on rs1:80 and rs2:80, for the TCP and the HTTP
    // checks alike.
    let tb = Testbed::without_servers();
    let nginx = [tb.nginx("rs1", PORT), tb.nginx("rs2", PORT)];

    let cases = vec![
        Case {
            what: "rs1: has the VIP, listens on :80",
            program: "check_raw_tcp",
            args: vec![IFACE, RS1, VIP, "80"],
            expect: 0,
        },
        Case {
            what: "rs2: listens on :80 but lacks the VIP",
            program: "check_raw_tcp",
            args: vec!["-t", "500", IFACE, RS2, VIP, "80"],
            expect: 2,
        },
        Case {
            what: "rs3: has the VIP, nothing listens on :80",
            program: "check_raw_tcp",
            args: vec![IFACE, RS3, VIP, "80"],
            expect: 2,
        },
        // ==== HTTP checks =====================================================
        Case {
            what: "rs1: nginx serves /health (MD5 of \"ok\\n\") for the VIP",
            program: "check_raw_http_get",
            args: vec![IFACE, RS1, VIP, "80", HOST, "/health", HEALTH_MD5],
            expect: 0,
        },
        Case {
            what: "rs2: nginx serves /health but rs2 lacks the VIP",
            program: "check_raw_http_get",
            args: vec![
                "-t", "500", IFACE, RS2, VIP, "80", HOST, "/health", HEALTH_MD5,
            ],
            expect: 2,
        },
        Case {
            what: "rs1: nginx serves /big (64 KiB), status 200 expected",
            program: "check_raw_http",
            args: vec!["-S", "200", IFACE, RS1, VIP, "80", HOST, "/big"],
            expect: 0,
        },
    ];

    let mut wrong = 0;
    for case in &cases {
        let r = tb.run("lb", &check_raw_bin(case.program), &case.args);
        let good = r.code == Some(case.expect);
        if !good {
            wrong += 1;
        }
        print_case(case, &r, good);
    }
    if !serve_demo(&tb) {
        wrong += 1;
    }
    // Tear down before exiting: process::exit skips destructors.
    drop(nginx);
    drop(tb);

    println!();
    if wrong == 0 {
        println!("all {} verdicts as expected", cases.len());
    } else {
        println!("{wrong} of {} verdicts WRONG", cases.len());
        std::process::exit(1);
    }
}

fn print_topology() {
    println!("check_raw demo: an LVS-DR network in network namespaces, one bridge");
    println!();
    println!("  lb   {LB_IP:<14} MASTER load balancer, holds VIP {VIP}; runs the checks");
    println!("  lbb  {LBB_IP:<14} BACKUP load balancer, no VIP (not used here)");
    println!("  rs1  {RS1:<14} real server: VIP on lo, nginx on :{PORT}");
    println!("  rs2  {RS2:<14} real server: nginx on :{PORT}, NO VIP (misconfigured)");
    println!("  rs3  {RS3:<14} real server: VIP on lo, nothing on :{PORT}");
    println!();
    println!("  Checks send frames to the real server's MAC with destination IP = VIP,");
    println!("  as the load balancer forwards traffic, so a server without the VIP fails.");
}

fn print_case(case: &Case, r: &RunResult, good: bool) {
    let got = r
        .code
        .map_or_else(|| format!("signal {:?}", r.signal), |c| c.to_string());
    println!();
    println!("  {}", case.what);
    println!("    $ {} {}", case.program, case.args.join(" "));
    println!(
        "    {}",
        if r.status_line().is_empty() {
            "(no status line)"
        } else {
            r.status_line()
        }
    );
    println!(
        "    exit {got:<3} expected {:<3} {:>8}   {}",
        case.expect,
        format!("{:.1} ms", ms(r.elapsed)),
        if good { "ok" } else { "WRONG" }
    );
    if !good && !r.stderr.trim().is_empty() {
        for l in r.stderr.lines().take(5) {
            println!("    stderr: {l}");
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// check_raw_serve for a few seconds: rs1 and rs2 checked from one
/// process, their state files (keepalived's FILE_CHECK) read, then rs2
/// given its VIP: its file flips to 1 and the daemon logs the change.
/// True when every step went as expected.
fn serve_demo(tb: &Testbed) -> bool {
    let dir = TempDir::new();
    let state_dir = dir.path().join("state");
    std::fs::create_dir(&state_dir).expect("create the state directory");
    let config = dir.write(
        "serve.toml",
        format!(
            "interval = \"300ms\"\nrise = 2\nfall = 2\nstate_dir = \"{}\"\n\n\
             [[check]]\nname = \"web-rs1\"\ncommand = \"check_raw_tcp -t 250 {IFACE} {RS1} {VIP} {PORT}\"\n\n\
             [[check]]\nname = \"web-rs2\"\ncommand = \"check_raw_tcp -t 250 {IFACE} {RS2} {VIP} {PORT}\"\n",
            state_dir.display()
        )
        .as_bytes(),
    );
    let config = config.to_string_lossy().into_owned();
    println!();
    println!("  check_raw_serve: both checks from one process, every 300 ms, rise 2, fall 2");
    println!("    $ check_raw_serve --config serve.toml");
    // The link lives as long as the daemon (it is removed on drop).
    let program = check_raw_bin("check_raw_serve");
    let daemon = tb.spawn("lb", &program, &["--config", config.as_str()]);
    let files = |want: [&str; 2]| wait_files(&state_dir, want, Duration::from_secs(8));
    let before = files(["1", "0"]);
    println!(
        "    state files: web-rs1 {} web-rs2 {}",
        before[0], before[1]
    );
    println!("    $ ip addr add {VIP}/32 dev lo    # on rs2: it gets its VIP back");
    tb.add_vip("rs2");
    let after = files(["1", "1"]);
    println!("    state files: web-rs1 {} web-rs2 {}", after[0], after[1]);
    daemon.signal(libc::SIGTERM);
    let r = daemon.wait(Duration::from_secs(5));
    for line in r.stderr.lines() {
        println!("    log: {line}");
    }
    let good = before == ["1", "0"] && after == ["1", "1"] && r.code == Some(0);
    println!(
        "    rs2 flipped to up, daemon stopped (exit {:?})   {}",
        r.code,
        if good { "ok" } else { "WRONG" }
    );
    good
}

/// The two state files' contents once they read `want`, or as they are
/// at `limit` ("-" for a missing file).
fn wait_files(dir: &Path, want: [&str; 2], limit: Duration) -> [String; 2] {
    let read = || {
        ["web-rs1", "web-rs2"].map(|name| {
            std::fs::read_to_string(dir.join(name)).map_or("-".into(), |s| s.trim().to_owned())
        })
    };
    let start = Instant::now();
    loop {
        let now = read();
        if now == want || start.elapsed() >= limit {
            return now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
