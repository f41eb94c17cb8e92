//! check_raw_serve, the daemon (issue 21), and the network under it: run
//! in the testbed's balancer on a serve.toml the test writes
//! (`harness::serve`, `harness::serve_cases`), its state files read every
//! 20 ms. The contract cases (state flips, role, SIGHUP, restart, SIGTERM,
//! a bad config, `--once`, `--check`) are in `tests/it/serve.rs`.
//!
//! - sixty checks on one engine; forty dead ones starve no healthy one;
//!   TLS and DNS checks in both roles;
//! - `-r auto` follows the VIP onto and off the balancer;
//! - the network changing under it: a real server's new MAC, `lb`'s eth0
//!   bouncing or made anew, the state_dir deleted; a check removed by
//!   SIGHUP mid-flow leaves nothing open.
//!
//! The timing (400 ms, rise and fall 2) and its slack are
//! `harness::serve_cases`'; each test builds its own testbed; tests skip,
//! with a message, when not root (under CI=true they fail).

use std::fs;
use std::thread;
use std::time::Duration;

use crate::harness::serve::*;
use crate::harness::serve_cases::*;
use crate::harness::*;

/// Sixty checks on one engine (three real servers, two ports, TCP and
/// HTTP, ten names each), all up within rise intervals; stopped, nothing
/// is left established on any real server.
#[test]
fn sixty_checks_come_up_and_leave_nothing_open() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let mut checks = Vec::new();
    for (host, rs) in [("rs1", RS1), ("rs2", RS2), ("rs3", RS3)] {
        for i in 0..10 {
            checks.push(Check::new(&format!("tcp-{host}-{i}"), tcp(rs, VIP, PORT)));
            checks.push(Check::new(
                &format!("http-{host}-{i}"),
                http_health(rs, HTTP_PORT),
            ));
        }
    }
    let names = names(&checks);
    let mut d = launch(&bed, &tb, "lb", &[], TIMING, &checks);
    wait_up(&bed, &d, &names, up_limit(TIMING), "sixty checks up");
    assert_one_change_each(&d, 0, &names, true, " OK - ");
    assert_stops(&mut d);
    for host in ["rs1", "rs2", "rs3"] {
        for port in [PORT, HTTP_PORT] {
            assert_none_open(&tb, host, port, &d);
        }
    }
}

/// The network under the engine changes while it runs: rs1 gets a new
/// MAC (a replaced server, or the bond failing over), then `lb`'s eth0
/// goes down (its checks go down) and up again. Each time the checks
/// come back up by themselves, within a few seconds: the runs (`-v`)
/// name rs1's new MAC.
#[test]
fn a_new_mac_and_the_interface_bouncing_are_followed() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let checks = [
        Check::new("tcp-rs1", tcp(RS1, VIP, PORT)),
        Check::new("http-rs1", http_health(RS1, HTTP_PORT)),
        Check::new("tcp-rs2", tcp(RS2, VIP, PORT)),
    ];
    let names = names(&checks);
    let mut d = launch(&bed, &tb, "lb", &["-v"], TIMING, &checks);
    wait_up(&bed, &d, &names, up_limit(TIMING), "all up");

    let old_mac = tb.mac("rs1");
    let new_mac = "02:00:00:00:01:11";
    ip(&tb, "rs1", &["link", "set", IFACE, "address", new_mac]);
    assert_ne!(tb.mac("rs1"), old_mac, "rs1's MAC did not change");
    // Up again (or never down) a while after: how long a stale MAC may be
    // used is the engine's choice, a few seconds at most.
    thread::sleep(TIMING.interval * (TIMING.fall + 1) + timeout());
    let limit = rise_limit(TIMING);
    wait_up(&bed, &d, &names, limit, "all up on rs1's new MAC");
    let skip = d.line_count();
    d.wait_line(skip, "tcp-rs1: RAW_TCP OK - ", &[new_mac], limit);
    d.wait_line(skip, "http-rs1: RAW_HTTP OK - ", &[new_mac], limit);

    let skip = d.line_count();
    ip(&tb, "lb", &["link", "set", IFACE, "down"]);
    let down = fall_limit(TIMING);
    wait_down(&bed, &d, &names, down, "all down with lb's eth0 down");
    ip(&tb, "lb", &["link", "set", IFACE, "up"]);
    let limit = TIMING.limit(TIMING.rise + 2, timeout(), SLACK);
    wait_up(&bed, &d, &names, limit, "all up with lb's eth0 up again");
    assert_one_change_each(&d, skip, &names, false, " - ");
    assert_stops(&mut d);
}

/// `lb`'s eth0 deleted and made anew (a driver reload, a VLAN or bond
/// recreated): a new interface index under the same name. The checks go
/// down while it is gone and come back up on the new one by themselves.
#[test]
fn an_interface_made_anew_is_followed() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let checks = [
        Check::new("tcp-rs1", tcp(RS1, VIP, PORT)),
        Check::new("http-rs2", http_health(RS2, HTTP_PORT)),
    ];
    let names = names(&checks);
    let mut d = launch(&bed, &tb, "lb", &["-v"], TIMING, &checks);
    wait_up(&bed, &d, &names, up_limit(TIMING), "all up");

    // Deleting one end of a veth deletes its peer on the switch too.
    ip(&tb, "lb", &["link", "del", IFACE]);
    let down = fall_limit(TIMING);
    wait_down(&bed, &d, &names, down, "all down with eth0 gone");
    let (lb, sw) = (tb.ns("lb").to_owned(), tb.ns(SWITCH).to_owned());
    crate::harness::netns::ip_batch(
        None,
        &[format!(
            "link add {IFACE} netns {lb} type veth peer name plb netns {sw}"
        )],
    );
    crate::harness::netns::ip_batch(
        Some(&sw),
        &[
            "link set plb master br0".to_owned(),
            "link set plb up".to_owned(),
        ],
    );
    for (ns, dev) in [(&lb, IFACE), (&sw, "plb")] {
        crate::harness::netns::output_in(ns, "ethtool", &["-K", dev, "rx", "off", "tx", "off"])
            .unwrap_or_else(|e| panic!("ethtool in {ns}: {e}"));
    }
    crate::harness::netns::ip_batch(
        Some(&lb),
        &[
            format!("addr add {LB_IP}/24 dev {IFACE}"),
            format!("link set {IFACE} up"),
        ],
    );
    // The plugin works on the new interface at once (the test's own
    // set-up is right).
    let r = tcp_check(&tb, "lb", &["-t", "2000"], RS1);
    assert_verdict(&r, 0, "RAW_TCP OK - ", &[RS1]);
    // The engine may look for the new interface on a timer: give it
    // seconds beyond rise.
    let limit = TIMING.limit(TIMING.rise, timeout(), SLACK * 2);
    wait_up(&bed, &d, &names, limit, "all up on the new eth0");
    assert_stops(&mut d);
}

/// `-r auto` follows the VIP as VRRP moves it: on `lbb` (no VIP) the
/// check of rs2 (no VIP either) takes the kernel path and is up; the VIP
/// comes to `lbb` (it became MASTER): raw frames to the VIP, rs2 lacks it,
/// down; the VIP leaves again: BACKUP, up. Each run decides (`-v`).
#[test]
fn role_auto_follows_the_vip_onto_and_off_this_balancer() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    tb.serve("rs2", PORT, Behaviour::Respond(HTTP_REPLY.to_vec()));
    let bed = serve_bed();
    let checks = [Check::new(
        "auto",
        format!("check_raw_tcp -r auto -t {T} {IFACE} {RS2} {VIP} {PORT}"),
    )];
    let mut d = launch(&bed, &tb, "lbb", &["-v"], TIMING, &checks);
    let limit = up_limit(TIMING);
    wait_up(&bed, &d, &["auto"], limit, "up as BACKUP");
    d.wait_line(0, "auto: RAW_TCP OK - ", &["BACKUP role"], limit);

    let skip = d.line_count();
    tb.add_vip("lbb");
    // The plugin, run now, sees the VIP (the test's own set-up is right).
    let r = tcp_check(&tb, "lbb", &["-r", "auto", "-t", "500"], RS2);
    assert_verdict(&r, 2, "RAW_TCP CRITICAL - ", &["lack the VIP"]);
    let limit = fall_limit(TIMING);
    let line = d.wait_line(skip, "auto: RAW_TCP ", &["lack the VIP"], limit);
    println!("with the VIP: {line}");
    wait_down(&bed, &d, &["auto"], limit, "down as MASTER");
    assert_one_change_each(&d, skip, &["auto"], false, "lack the VIP");

    let skip = d.line_count();
    let vip = format!("{VIP}/32");
    ip(&tb, "lbb", &["addr", "del", &vip, "dev", "lo"]);
    wait_up(
        &bed,
        &d,
        &["auto"],
        rise_limit(TIMING),
        "up as BACKUP again",
    );
    assert_one_change_each(&d, skip, &["auto"], true, "BACKUP role");
    assert_stops(&mut d);
}

/// TLS under the daemon (nginx on rs1, `harness::tls`): HTTPS and bare
/// TLS, MASTER and BACKUP, come up; a certificate expiring in 5 days is a
/// WARNING, which counts as up; an expired one stays down. Stopped,
/// nothing is left established on rs1.
#[test]
fn tls_checks_in_both_roles_warning_is_up_expired_is_down() {
    require!(Need::Testbed, NGINX);
    use crate::harness::tls_bed::TlsBed;
    let tls = TlsBed::new();
    let tb = &tls.tb;
    let bed = serve_bed();
    let backup = RoleFile::backup();
    let host = crate::harness::TLS_HOST;
    let https = |opts: &str, port: TlsPort| {
        format!(
            "check_raw_http --ssl -S 200 -t 500 {opts}{IFACE} {RS1} {VIP} {} {host} /health",
            port.port()
        )
    };
    let b = format!("-r {} ", backup.path());
    // Warn below 30 days, critical below 3: rs1's 5-day one warns.
    let days = "--certificate-days 30,3 ";
    let checks = [
        Check::new("https", https("", TlsPort::Good)),
        Check::new("https-backup", https(&b, TlsPort::Good)),
        Check::new(
            "tls",
            format!("check_raw_tcp --ssl -t 500 {IFACE} {RS1} {VIP} 443"),
        ),
        Check::new("https-soon", https(days, TlsPort::Soon)),
        Check::new("https-expired", https(days, TlsPort::Expired)),
    ];
    let timing = Timing {
        interval: Duration::from_millis(600),
        ..TIMING
    };
    let mut d = launch(&bed, tb, "lb", &["-v"], timing, &checks);
    let up = ["https", "https-backup", "tls", "https-soon"];
    let limit = timing.limit(timing.rise + 1, Duration::from_millis(500), SLACK);
    wait_up(&bed, &d, &up, limit, "TLS checks up");
    assert_one_change_each(&d, 0, &up[..3], true, " OK - ");
    assert_one_change_each(&d, 0, &["https-soon"], true, " WARNING - ");
    d.wait_line(0, "https-expired: RAW_HTTP CRITICAL - ", &[], limit);
    assert_stayed(&bed, &d, "https-expired", "0\n");
    assert_stops(&mut d);
    for port in TlsPort::ALL {
        assert_none_open(tb, "rs1", port.port(), &d);
    }
}

/// A rack gone dark: forty checks of an address nobody answers (each run
/// waits its whole `-t` for ARP) beside two healthy ones. The healthy
/// ones come up in time all the same, the dead stay down with no change
/// line, and SIGTERM with some thirty runs in flight still ends within
/// 1 s.
#[test]
fn dead_servers_do_not_starve_the_healthy_ones() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let mut checks = vec![
        Check::new("tcp-rs1", tcp(RS1, VIP, PORT)),
        Check::new("http-rs2", http_health(RS2, HTTP_PORT)),
    ];
    for i in 0..40 {
        checks.push(Check::new(&format!("dead-{i}"), tcp(NOBODY, VIP, PORT)));
    }
    let dead: Vec<&str> = names(&checks)[2..].to_vec();
    let healthy = ["tcp-rs1", "http-rs2"];
    let mut d = launch(&bed, &tb, "lb", &[], TIMING, &checks);
    wait_up(&bed, &d, &healthy, up_limit(TIMING), "the healthy two up");
    let watch = bed.watch(&healthy);
    thread::sleep(TIMING.interval * 4);
    let what = "the healthy two beside forty dead";
    assert_never_flapped(&watch.stop(), what, &d.diag());
    wait_down(&bed, &d, &dead, SLACK, "the dead forty down");
    assert_no_change(&d, 0, &dead);
    assert_stops(&mut d);
}

/// DNS under the daemon (NSD on rs1 and rs3, `harness::dns`): UDP flows
/// over IPv4 and IPv6, MASTER and BACKUP, come up; rs2 (no VIP, no NSD)
/// stays down with no change line.
#[test]
fn dns_checks_over_both_families_and_roles() {
    require!(Need::Testbed, NSD);
    let tb = Testbed::without_servers();
    let _nsd = [
        tb.nsd("rs1", &[RS1, VIP, RS1_6, VIP6]),
        tb.nsd("rs3", &[RS3, VIP]),
    ];
    let bed = serve_bed();
    let backup = RoleFile::backup();
    let qname = format!("www.{}", crate::harness::dns::ZONE);
    let dns = |opts: &str, rs: &str, vip: &str| {
        format!("check_raw_dns -t {T} {opts}{IFACE} {rs} {vip} 53 {qname}")
    };
    let b = format!("-r {} ", backup.path());
    let checks = [
        Check::new("dns-rs1", dns("", RS1, VIP)),
        Check::new("dns6-rs1", dns("", RS1_6, VIP6)),
        Check::new("dns-rs3", dns("", RS3, VIP)),
        Check::new("dns-backup-rs1", dns(&b, RS1, VIP)),
        Check::new("dns-rs2", dns("", RS2, VIP)),
    ];
    let mut d = launch(&bed, &tb, "lb", &[], TIMING, &checks);
    let up = ["dns-rs1", "dns6-rs1", "dns-rs3", "dns-backup-rs1"];
    wait_up(&bed, &d, &up, up_limit(TIMING), "DNS checks up");
    assert_one_change_each(&d, 0, &up, true, " OK - ");
    assert_stayed(&bed, &d, "dns-rs2", "0\n");
    assert_stops(&mut d);
}

/// A check removed by SIGHUP while its flow is open on a server that
/// never answers: the flow still ends with RST (at its `-t` at the
/// latest), nothing is left established, the file is gone.
#[test]
fn a_check_removed_mid_flow_leaves_nothing_open() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let mute_port = 8081;
    let mute = tb.serve("rs1", mute_port, Behaviour::Silent);
    let keep = Check::new("keep", tcp(RS1, VIP, PORT));
    let long = 1500;
    let mute_check = Check::new(
        "mute",
        format!("check_raw_http -S 200 -t {long} {IFACE} {RS1} {VIP} {mute_port} {VHOST} /"),
    );
    let timing = Timing {
        interval: Duration::from_millis(2000),
        ..TIMING
    };
    let mut d = launch(&bed, &tb, "lb", &[], timing, &[keep.clone(), mute_check]);
    wait_flows(&tb, "rs1", mute_port, 1, timing.interval * 2 + SLACK, &d);
    bed.write_config(&bed.toml(timing, &[keep]));
    reload(&d, "reloaded ", &["(0 added, 1 removed, 1 kept)"]);
    let settle = Duration::from_millis(long) + SETTLE;
    let open = tb.wait_none_established("rs1", mute_port, settle);
    assert_eq!(
        open,
        0,
        "the removed check's flow is still open ({mute:?})\n{}",
        d.diag()
    );
    let ends = mute.wait_ends(mute.accepted(), SETTLE);
    assert!(
        all_reset(&ends),
        "every flow ended with RST ({mute:?})\n{}",
        d.diag()
    );
    assert_eq!(bed.state("mute"), None, "{}", bed.show_states());
    assert_stops(&mut d);
}

/// The state directory is deleted under the daemon (a careless cleanup):
/// a change cannot be written. The daemon says so and lives on; once the
/// directory is back, the next change is written.
#[test]
fn a_state_dir_deleted_under_the_daemon_is_survived() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let checks = [Check::new("web", tcp(RS3, VIP, PORT))];
    let mut d = launch(&bed, &tb, "lb", &[], TIMING, &checks);
    wait_up(&bed, &d, &["web"], up_limit(TIMING), "up");
    fs::remove_dir_all(&bed.state_dir).expect("remove the state dir");
    let skip = d.line_count();
    tb.remove_vip("rs3");
    d.wait_line(skip, "web: DOWN after ", &[], fall_limit(TIMING));
    thread::sleep(TIMING.interval * 2);
    d.assert_running_for("its state dir gone");
    let web = bed.state_file("web");
    let not_written = "cannot write the state file ";
    d.wait_line(skip, not_written, &[path_str(&web)], SLACK);
    fs::create_dir(&bed.state_dir).expect("make the state dir again");
    put_vips_back(&tb, "rs3");
    wait_up(&bed, &d, &["web"], rise_limit(TIMING), "up, written again");
    assert_stops(&mut d);
}
