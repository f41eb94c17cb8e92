//! End-to-end tests of `check_raw_tcp` on a real (namespaced) LVS-DR network.
//!
//! Interface under test:
//! `check_raw_tcp [-c] [-r FILE|auto] [-t MS] [-v...] SOURCE_IFACE REAL_SERVER VIRTUAL_IP PORT`,
//! exit 0 OK, 2 CRITICAL, 3 UNKNOWN, one status line on stdout
//! (`RAW_TCP <STATE> - ...`, perfdata after `|`).
//!
//! Also what every check shares, tested through `check_raw_tcp`: the role
//! (`-r FILE`, `-r auto`, on the MASTER and the BACKUP load balancer), the
//! program's names (an unknown name, the `check_raw tcp` form), `--help`
//! and `--version`, a panic reported UNKNOWN, no CAP_NET_RAW, a `--source`
//! that is not on the interface, and the warning when a MASTER lacks the
//! VIP.
//!
//! Each test builds its own testbed (see `harness::testbed` for the map), so
//! tests run in parallel and a failure in one cannot disturb another. Tests
//! that need namespaces skip, with a message, when not run as root.

#[macro_use]
mod harness;

use std::path::Path;
use std::time::Duration;

use harness::*;

const OK: &str = "RAW_TCP OK - ";
const CRITICAL: &str = "RAW_TCP CRITICAL - ";
const UNKNOWN: &str = "RAW_TCP UNKNOWN - ";
/// Usage errors are worded as monitoring-plugins word them.
const USAGE: &str = "check_raw_tcp: ";

/// `check_raw_tcp OPTS... eth0 REAL_SERVER VIP 80`, run in `host`.
fn check(tb: &Testbed, host: &str, opts: &[&str], real_server: &str) -> RunResult {
    let port = PORT.to_string();
    let mut args = opts.to_vec();
    args.extend([IFACE, real_server, VIP, &port]);
    tb.run(host, &check_raw_bin("check_raw_tcp"), &args)
}

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
    let r = check(&tb, "lb", &[], RS1);
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
    let r = check(&tb, "lb", &["-c"], RS1);
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
    let r = check(&tb, "lb", &["-t", "500"], RS2);
    assert_verdict(&r, 2, CRITICAL, &["lack the VIP"]);
    // -t bounds the whole check: it waits the timeout, and not much longer.
    assert_elapsed(&r, 500, 2500);
}

#[test]
fn rs3_closed_port_fails_at_once_on_rst() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = check(&tb, "lb", &["-t", "3000"], RS3);
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
    let r = check(&tb, "lb", &["-t", "300"], NOBODY);
    assert_verdict(&r, 2, CRITICAL, &["ARP"]);
    assert!(
        r.elapsed < Duration::from_millis(2500),
        "-t 300 covers the ARP step too\n{r}"
    );
}

// ---- role file -----------------------------------------------------------

#[test]
fn role_file_1_means_master() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let role = RoleFile::master();
    let r = check(&tb, "lb", &[&role.opts()[..], &["-t", "500"]].concat(), RS2);
    assert_verdict(&r, 2, CRITICAL, &["lack the VIP"]);
}

/// BACKUP uses the kernel path to the real server's own IP, so by design a
/// server without the VIP passes; a closed port still fails.
fn assert_backup_verdicts(tb: &Testbed, host: &str, role: &RoleFile) {
    let role = role.path();
    let r = check(tb, host, &["-r", role], RS1);
    assert_verdict(&r, 0, OK, &[RS1]);
    assert_nothing_left_open(tb, "rs1", PORT, &r);
    let r = check(tb, host, &["-r", role], RS2);
    assert_verdict(&r, 0, OK, &[RS2]);
    let r = check(tb, host, &["-r", role, "-t", "1000"], RS3);
    assert_verdict(&r, 2, CRITICAL, &[]);
}

#[test]
fn role_file_0_means_backup_on_master_lb() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    assert_backup_verdicts(&tb, "lb", &RoleFile::backup());
}

#[test]
fn role_file_0_means_backup_on_backup_lb() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    assert_backup_verdicts(&tb, "lbb", &RoleFile::backup());
}

#[test]
fn missing_role_file_is_unknown() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let dir = TempDir::new();
    let missing = dir.path().join("no-such-role-file");
    let r = check(&tb, "lb", &["-r", path_str(&missing)], RS1);
    assert_verdict(&r, 3, UNKNOWN, &[path_str(&missing), "No such file"]);
}

#[test]
fn role_auto_on_lb_holding_the_vip_is_master() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = check(&tb, "lb", &["-r", "auto", "-t", "500"], RS2);
    assert_verdict(&r, 2, CRITICAL, &["lack the VIP"]);
}

#[test]
fn role_auto_on_lb_without_the_vip_is_backup() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = check(&tb, "lbb", &["-r", "auto", "-t", "500"], RS2);
    assert_verdict(&r, 0, OK, &[RS2]);
}

// ---- arguments -----------------------------------------------------------

/// Every rejected argument gives exit 3 and a first line naming it (any of
/// the given words, case-insensitive): `check_raw_tcp: ...` for a usage
/// error, a `RAW_TCP UNKNOWN` status line for one found at run time (no
/// such interface). Run inside the testbed: a binary that wrongly accepted
/// one must not send frames on the host.
#[test]
fn bad_arguments_are_unknown() {
    require!(Need::Testbed);
    let long_iface = "abcdefghijklmnop"; // 16 bytes; IFNAMSIZ allows 15
    let cases: [(&str, Vec<&str>, &[&str]); 11] = [
        ("port 0", vec![IFACE, RS1, VIP, "0"], &["port"]),
        ("port 70000", vec![IFACE, RS1, VIP, "70000"], &["70000"]),
        ("port http", vec![IFACE, RS1, VIP, "http"], &["http"]),
        (
            "long interface",
            vec![long_iface, RS1, VIP, "80"],
            &[long_iface, "iface", "interface"],
        ),
        (
            "no such interface",
            vec!["nosuch0", RS1, VIP, "80"],
            &["nosuch0"], // found at run time: a status line
        ),
        (
            "bad real server",
            vec![IFACE, "300.1.1.1", VIP, "80"],
            &["300.1.1.1"],
        ),
        (
            "bad virtual ip",
            vec![IFACE, RS1, "300.1.1.1", "80"],
            &["300.1.1.1"],
        ),
        (
            "too few",
            vec![IFACE, RS1, VIP],
            &["port", "argument", "usage", "missing"],
        ),
        (
            "too many",
            vec![IFACE, RS1, VIP, "80", "81"],
            &["81", "argument", "usage", "unexpected"],
        ),
        (
            "unknown option",
            vec!["--bogus", IFACE, RS1, VIP, "80"],
            &["--bogus"],
        ),
        (
            "bad timeout",
            vec!["-t", "abc", IFACE, RS1, VIP, "80"],
            &["abc"],
        ),
    ];
    let tb = Testbed::new();
    let bin = check_raw_bin("check_raw_tcp");
    let mut failures = Vec::new();
    for (what, args, names) in &cases {
        let r = tb.run("lb", &bin, args);
        let line = r.status_line().to_lowercase();
        let named = names.iter().any(|n| line.contains(&n.to_lowercase()));
        let prefix = if *what == "no such interface" {
            UNKNOWN
        } else {
            USAGE
        };
        if r.code != Some(3) || !r.status_line().starts_with(prefix) || !named {
            failures.push(format!(
                "[{what}] expected exit 3, {prefix:?} naming one of {names:?}\n{r}"
            ));
        }
    }
    assert_all_ok(&failures);
}

#[test]
fn unknown_program_name_lists_valid_names() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let port = PORT.to_string();
    let r = tb.run(
        "lb",
        &check_raw_bin("check_raw_foo"),
        &[IFACE, RS1, VIP, &port],
    );
    assert_eq!(r.code, Some(3), "{r}");
    let line = r.status_line();
    assert!(
        line.starts_with("check_raw: unknown program name") && r.stdout.contains("check_raw_tcp"),
        "should list the valid names\n{r}"
    );
}

#[test]
fn subcommand_form_is_ok() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let port = PORT.to_string();
    let r = tb.run("lb", Path::new(CHECK_RAW), &["tcp", IFACE, RS1, VIP, &port]);
    assert_verdict(&r, 0, OK, &[&vip_port(), RS1]);
}

#[test]
fn verbose_prints_status_line_then_detail() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let r = check(&tb, "lb", &["-vvv"], RS1);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.status_line().starts_with(OK), "status line first\n{r}");
    assert!(r.line_count() > 1, "-vvv should add detail lines\n{r}");
}

// ---- help and version: no network, no root needed -------------------------

#[test]
fn help_shows_usage() {
    let r = run_local(&check_raw_bin("check_raw_tcp"), &["--help"]);
    assert!(matches!(r.code, Some(0 | 3)), "{r}");
    assert!(
        r.stdout.contains("SOURCE_IFACE"),
        "usage expected on stdout\n{r}"
    );
}

#[test]
fn version_names_the_program() {
    let r = run_local(&check_raw_bin("check_raw_tcp"), &["--version"]);
    assert!(matches!(r.code, Some(0 | 3)), "{r}");
    assert!(
        r.stdout.lines().any(|l| l.contains("check_raw")),
        "version line expected\n{r}"
    );
}

/// A panic (provoked through the self-test variable) ends as UNKNOWN with
/// the panic's message, exit 3, or 1 under a daemon's protocol: never a
/// death by signal, which ldirectord would read as success.
#[test]
fn a_panic_is_reported_unknown_not_a_crash() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let bin = check_raw_bin("check_raw_tcp");
    let port = PORT.to_string();
    for (protocol, code) in [("nagios", 3), ("keepalived", 1), ("ldirectord", 1)] {
        let r = tb.run_in(
            "lb",
            &[
                "env",
                "CHECK_RAW_SELF_TEST_PANIC=1",
                path_str(&bin),
                "--protocol",
                protocol,
                IFACE,
                RS1,
                VIP,
                &port,
            ],
        );
        assert_eq!(r.code, Some(code), "{protocol}\n{r}");
        assert_eq!(r.signal, None, "{r}");
        assert!(
            r.status_line()
                .starts_with("RAW_TCP UNKNOWN - internal error, please report: "),
            "{r}"
        );
        assert!(r.status_line().contains("self-test panic"), "{r}");
        assert!(r.stderr.is_empty(), "nothing on stderr\n{r}");
    }
}

/// Without CAP_NET_RAW (an unprivileged user): one UNKNOWN line saying how
/// to fix it, exit 3, or 1 under keepalived.
#[test]
fn without_cap_net_raw_says_how_to_fix_it() {
    require!(Need::Testbed, SETPRIV);
    let tb = Testbed::new();
    let port = PORT.to_string();
    // A copy the unprivileged user can reach wherever the tree is cloned
    // (and without any file capability a packaged binary might carry).
    let dir = TempDir::new();
    let bin = dir.write("check_raw", &std::fs::read(CHECK_RAW).expect("read binary"));
    use std::os::unix::fs::PermissionsExt;
    for path in [dir.path(), bin.as_path()] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    for (protocol, code) in [("nagios", 3), ("keepalived", 1)] {
        let r = tb.run_in(
            "lb",
            &[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                path_str(&bin),
                "tcp",
                "--protocol",
                protocol,
                IFACE,
                RS1,
                VIP,
                &port,
            ],
        );
        assert_eq!(r.code, Some(code), "{protocol}\n{r}");
        let line = r.status_line();
        assert!(line.starts_with(UNKNOWN), "{r}");
        assert!(line.contains("setcap cap_net_raw+ep"), "{r}");
        assert!(line.contains("run as root"), "{r}");
        assert_eq!(r.stdout.lines().count(), 1, "{r}");
    }
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
        let r = check(&tb, "lb", &opts, RS1);
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
        let r = check(&tb, "lb", &opts, RS1);
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
    let r = check(&tb, "lb", &["--source", FOREIGN, "-t", "1000"], RS1);
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
    let r = check(&tb, "lb", &["-v", "-r", role.path()], RS1);
    assert!(r.status_line().starts_with("RAW_TCP "), "{r}");
    let warning = kernel_rst_warning();
    assert!(
        r.stdout.lines().skip(1).any(|l| l.contains(&warning)),
        "a detail line should contain {warning:?}\n{r}"
    );
}
