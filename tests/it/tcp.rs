//! End-to-end tests of `check_raw_tcp` on a real (namespaced) LVS-DR network.
//!
//! Interface under test:
//! `check_raw_tcp [-c] [-r FILE|auto] [-t MS] [-v...] SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT`,
//! exit 0 OK, 2 CRITICAL, 3 UNKNOWN, one status line on stdout
//! (`RAW_TCP <STATE> - ...`, perfdata after `|`).
//!
//! The MASTER's raw path: a listener with the VIP, a server without it, a
//! closed port, nobody at the address (ARP); the clean close (`-c`); over
//! IPv6 (NDP, the frames `-vvv` shows, mixed families refused); and the
//! regressions: a fixed `--source-port` in the BACKUP role, a server that
//! never sends its FIN, a `--source` that is not on the interface, the
//! warning when a MASTER lacks the VIP.
//!
//! Elsewhere: the roles (`-r FILE`, `-r auto`) in `roles.rs`; what every
//! check shares as a program (names, usage errors, `--help`, `--version`,
//! a panic, no CAP_NET_RAW) in `cli.rs`; faults on the wire in `faults.rs`,
//! signals mid-check in `signals.rs`.
//!
//! Each test builds its own testbed (see `harness::testbed` for the map), so
//! tests run in parallel and a failure in one cannot disturb another. Tests
//! that need namespaces skip, with a message, when not run as root.

use std::time::Duration;

use crate::harness::*;

const OK: &str = "RAW_TCP OK - ";
const CRITICAL: &str = "RAW_TCP CRITICAL - ";
const UNKNOWN: &str = "RAW_TCP UNKNOWN - ";

/// Perfdata in the monitoring-plugins form: `| time=<seconds>s;;;0.000000`.
fn assert_perfdata(r: &RunResult) {
    let perf = r.status_line().split_once('|').map(|(_, p)| p.trim());
    let ok = perf.is_some_and(|p| p.starts_with("time=") && p.contains("s;;;0.000000"));
    assert!(ok, "perfdata `| time=...s;;;0.000000` expected\n{r}");
}

fn vip_port() -> String {
    format!("{VIP}:{PORT}")
}

// ---- MASTER (raw path) ---------------------------------------------------

#[test]
fn rs1_with_vip_and_listener_is_ok() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = tcp_check(&tb, "lb", &[], RS1);
    assert_verdict(&r, 0, OK, &[&vip_port(), RS1]);
    assert_perfdata(&r);
    // The default close is a RST: the server must not keep the connection.
    assert_nothing_left_open(&tb, "rs1", PORT, &r);
}

#[test]
fn clean_close_ends_with_fin_handshake() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let server = tb.server("rs1", PORT);
    let r = tcp_check(&tb, "lb", &["-c"], RS1);
    assert_verdict(&r, 0, OK, &[&vip_port(), RS1]);
    // The C original's -c never completed against Linux: the server must
    // see an orderly EOF, not a reset.
    let ends = server.wait_ends(1, SETTLE);
    assert_eq!(
        ends,
        vec![ConnEnd::Eof],
        "rs1 should see one FIN close ({server:?})\n{r}"
    );
    assert_nothing_left_open(&tb, "rs1", PORT, &r);
}

#[test]
fn rs2_without_vip_times_out() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = tcp_check(&tb, "lb", &["-t", "500"], RS2);
    assert_verdict(&r, 2, CRITICAL, &["lack the VIP"]);
    // -t bounds the whole check: it waits the timeout, and not much longer.
    assert_elapsed(&r, 500, 2500);
}

#[test]
fn rs3_closed_port_fails_at_once_on_rst() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = tcp_check(&tb, "lb", &["-t", "3000"], RS3);
    assert_verdict(&r, 2, CRITICAL, &["RST"]);
    // A RST is an answer: no waiting for the timeout.
    assert!(
        r.elapsed < Duration::from_millis(400),
        "should fail on the RST, not wait\n{r}"
    );
}

/// A firewall on the real server that REJECTs the port answers our SYN
/// with an ICMP error: the check fails at once, naming it, in both
/// families, rather than waiting out `-t` (nftables' `reject with icmpx`
/// is ICMP type 3 or ICMPv6 type 1, code admin-prohibited or port
/// unreachable).
#[test]
fn a_firewall_reject_fails_at_once_naming_it() {
    require!(Need::Testbed, Need::Program("nft", "nftables"));
    let tb = Testbed::new();
    let nft = |rule: &str| {
        let r = tb.run_in("rs1", &["nft", rule]);
        assert_eq!(r.code, Some(0), "nft {rule}\n{r}");
    };
    nft("add table inet t");
    nft("add chain inet t in { type filter hook input priority 0; }");
    for (reject, words) in [
        ("admin-prohibited", "administratively prohibited"),
        ("port-unreachable", "port unreachable"),
    ] {
        nft("flush chain inet t in");
        nft(&format!(
            "add rule inet t in tcp dport 81 reject with icmpx {reject}"
        ));
        for (real_server, vip) in [(RS1, VIP), (RS1_6, VIP6)] {
            let args = ["-t", "5000", IFACE, real_server, vip, "81"];
            let r = tb.run("lb", &check_raw_bin("check_raw_tcp"), &args);
            assert_verdict(&r, 2, CRITICAL, &[&format!("ICMP {words} from {vip}")]);
            assert!(
                r.elapsed < Duration::from_millis(2500),
                "an ICMP error is an answer: no waiting for -t\n{r}"
            );
        }
    }
}

#[test]
fn nobody_at_real_server_address_fails_on_arp() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = tcp_check(&tb, "lb", &["-t", "300"], NOBODY);
    assert_verdict(&r, 2, CRITICAL, &["ARP"]);
    assert!(
        r.elapsed < Duration::from_millis(2500),
        "-t 300 covers the ARP step too\n{r}"
    );
}

// ---- IPv6 ------------------------------------------------------------------

#[test]
fn nobody_fails_on_ndp() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let port = PORT.to_string();
    let r = tb.run(
        "lb",
        &check_raw_bin("check_raw_tcp"),
        &["-t", "300", IFACE, NOBODY6, VIP6, &port],
    );
    assert_eq!(r.code, Some(2), "{r}");
    assert!(r.status_line().contains("no NDP reply"), "{r}");
}

#[test]
fn verbose_trace_shows_ndp_and_ipv6_frames() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let port = PORT.to_string();
    let r = tb.run(
        "lb",
        &check_raw_bin("check_raw_tcp"),
        &["-vvv", IFACE, RS1_6, VIP6, &port],
    );
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.contains("NDP request who-has 2001:db8::11"), "{r}");
    assert!(
        r.stdout.contains("NDP advertisement 2001:db8::11 is-at"),
        "{r}"
    );
    assert!(r.stdout.contains(&format!("[{LB6}]:")), "{r}");
    assert!(
        r.stdout.contains("options [mss 1440,sackOK]"),
        "MSS = MTU - 60\n{r}"
    );
}

#[test]
fn mixed_families_are_a_usage_error() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let port = PORT.to_string();
    let r = tb.run(
        "lb",
        &check_raw_bin("check_raw_tcp"),
        &[IFACE, RS1_6, VIP, &port],
    );
    assert_eq!(r.code, Some(3), "{r}");
    assert!(r.stdout.contains("different address families"), "{r}");
}

// ---- verbose ---------------------------------------------------------------

#[test]
fn verbose_prints_status_line_then_detail() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = tcp_check(&tb, "lb", &["-vvv"], RS1);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.status_line().starts_with(OK), "status line first\n{r}");
    assert!(r.line_count() > 1, "-vvv should add detail lines\n{r}");
}

// ---- regressions -------------------------------------------------------------

/// BACKUP with `-c` and a fixed `--source-port`, three runs in a row: our
/// side closes first, so each run leaves its connection in TIME_WAIT on
/// that port, and the next run's bind must still succeed (it once failed
/// with EADDRINUSE: OK, UNKNOWN, UNKNOWN).
#[test]
fn backup_clean_close_with_a_fixed_source_port_runs_again_at_once() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let role = RoleFile::backup();
    let opts = ["-r", role.path(), "--source-port", "41235", "-c"];
    let mut failures = Vec::new();
    for run in 1..=3 {
        let r = tcp_check(&tb, "lb", &opts, RS1);
        if let Err(e) = verdict(&r, 0, OK, &[RS1, "BACKUP role"]) {
            failures.push(format!("run {run} of 3: {e}"));
        }
    }
    assert_all_ok(&failures);
    assert_nothing_left_open(&tb, "rs1", PORT, &"three BACKUP -c runs");
}

/// With `-c`, a server that accepts and never sends its FIN must not hold
/// the check until `-t`: the check gives up on the close early, stays OK
/// (the server did answer) and says that the close was not finished in
/// time. MASTER (raw frames) and BACKUP (kernel connection) alike.
#[test]
fn clean_close_gives_up_early_on_a_server_that_never_sends_its_fin() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    tb.serve("rs1", PORT, Behaviour::Silent);
    let roles = Roles::new();
    let mut failures = Vec::new();
    for (role, role_opts) in roles.both() {
        let opts = [&["-c", "-t", "4000"][..], &role_opts].concat();
        let r = tcp_check(&tb, "lb", &opts, RS1);
        if let Err(e) = verdict(&r, 0, OK, &[RS1, "no FIN from the server in time"]) {
            failures.push(format!("[{role}] {e}"));
        } else if r.elapsed >= Duration::from_millis(2500) {
            failures.push(format!(
                "[{role}] the close should give up well before -t 4000 (2500 ms at most)\n{r}"
            ));
        }
        assert_nothing_left_open(&tb, "rs1", PORT, &r);
    }
    assert_all_ok(&failures);
}

/// `--source` with an address that is not on SOURCE_IFACE (the kernel
/// would accept it: `ip_nonlocal_bind=1`) is a configuration error: UNKNOWN
/// naming the address, and not one TCP frame leaves the load balancer (the
/// relay between `lb` and the switch counts them).
#[test]
fn source_address_not_on_the_interface_is_unknown_and_sends_nothing() {
    require!(Need::Testbed);
    const FOREIGN: &str = "198.51.100.77";
    let tb = Testbed::with_relay(FaultPlan::none());
    tb.sysctl("lb", "net.ipv4.ip_nonlocal_bind", "1");
    let server = tb.server("rs1", PORT);
    let r = tcp_check(&tb, "lb", &["--source", FOREIGN, "-t", "1000"], RS1);
    let ctx = format!("{:?}\n{}", tb.relay().stats(), tb.relay().log());
    assert_verdict_with(&r, 3, UNKNOWN, &[FOREIGN, "not configured"], &ctx);
    assert_eq!(
        tb.relay().stats().to_rs.tcp,
        0,
        "no TCP frame may leave lb\n{r}\n{ctx}"
    );
    assert_eq!(server.accepted(), 0, "rs1 saw a connection\n{r}");
}

/// The text `-v` must show when a MASTER check runs on a host that does
/// not hold the VIP (see the test below).
fn kernel_rst_warning() -> String {
    format!("VIP {VIP} is not a local address: the kernel answers the SYN/ACK with RST")
}

/// A raw check run as MASTER (role file `1`) on a load balancer that does
/// not hold the VIP: the real server's SYN/ACK is addressed to a local
/// address from a non-local one, so this host's kernel answers it with RST
/// behind the check's back. `-v` must say so in a detail line.
#[test]
fn master_without_the_vip_warns_that_the_kernel_resets() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    tb.remove_vip("lb");
    let role = RoleFile::master();
    let r = tcp_check(&tb, "lb", &["-v", "-r", role.path()], RS1);
    assert!(r.status_line().starts_with("RAW_TCP "), "{r}");
    let warning = kernel_rst_warning();
    assert!(
        r.stdout.lines().skip(1).any(|l| l.contains(&warning)),
        "a detail line should contain {warning:?}\n{r}"
    );
}
