//! `make demo`: builds a throwaway LVS-DR network, runs the checks against
//! real servers in known states, and shows each command, its status line and
//! exit code next to the expected verdict. Exits 1 if any verdict is wrong.
//!
//! A test target with `harness = false` (its own `main`), so it reuses the
//! integration-test harness and cargo builds the binary under test for it.

#[macro_use]
mod harness;

use std::time::Duration;

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
