//! IPv6 end to end: the same LVS-DR testbed with 2001:db8::/64 addresses
//! and the VIP 2001:db8:1::10/128 on the real servers' `lo`. The MAC comes
//! from NDP instead of ARP. The TCP and HTTP checks, MASTER (raw frames)
//! and BACKUP (kernel connection): rs1 passes, rs2 (no VIP) and rs3
//! (nothing listening) fail as they should; mixed address families are a
//! usage error. The IPv6 cases of check_raw_vip, check_raw_dns and `--ssl`
//! are in `vip.rs`, `dns.rs` and `tls.rs`.

#[macro_use]
mod harness;

use harness::*;

const BODY: &[u8] = b"ok\n";
/// MD5 of "ok\n".
const BODY_MD5: &str = "eff5bc1ef8ec9d03e640fc4370f5eacd";

fn response() -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n",
        BODY.len()
    )
    .into_bytes();
    r.extend_from_slice(BODY);
    r
}

/// A testbed whose rs1 and rs2 answer HTTP on [::]:80 (IPv4 too).
fn http_testbed() -> Testbed {
    let tb = Testbed::without_servers();
    tb.serve("rs1", PORT, Behaviour::Respond(response()));
    tb.serve("rs2", PORT, Behaviour::Respond(response()));
    tb
}

/// The three checks against `real_server` over IPv6, with extra options.
fn checks(real_server: &str, opts: &[&str]) -> Vec<(&'static str, Vec<String>)> {
    let port = PORT.to_string();
    let common: Vec<String> = opts
        .iter()
        .map(|s| s.to_string())
        .chain([IFACE, real_server, VIP6, &port].map(String::from))
        .collect();
    let with = |extra: &[&str]| -> Vec<String> {
        common
            .iter()
            .cloned()
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    vec![
        ("check_raw_tcp", with(&[])),
        ("check_raw_http_get", with(&["www", "/health", BODY_MD5])),
        ("check_raw_http", with(&["-S", "200", "www", "/health"])),
    ]
}

/// Run every check from `host`; each must exit `code` with `needle` in its
/// status line. All failures are collected before asserting.
fn expect_all(tb: &Testbed, host: &str, real_server: &str, opts: &[&str], code: i32, needle: &str) {
    let mut failures = Vec::new();
    for (name, args) in checks(real_server, opts) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = tb.run(host, &check_raw_bin(name), &args);
        if r.code != Some(code) || !r.status_line().contains(needle) {
            failures.push(format!("{name}: expected exit {code} and {needle:?}\n{r}"));
        }
    }
    assert_all_ok(&failures);
}

#[test]
fn master_rs1_passes_every_check_over_ipv6() {
    require!(Need::Testbed);
    let tb = http_testbed();
    expect_all(&tb, "lb", RS1_6, &[], 0, &format!("via {RS1_6} ("));
    let port = PORT.to_string();
    let r = tb.run(
        "lb",
        &check_raw_bin("check_raw_tcp"),
        &[IFACE, RS1_6, VIP6, &port],
    );
    assert!(
        r.status_line()
            .contains(&format!("[{VIP6}]:{PORT} answers")),
        "{r}"
    );
    assert_eq!(
        tb.wait_none_established("rs1", PORT, std::time::Duration::from_secs(1)),
        0
    );
}

#[test]
fn master_rs2_without_the_vip_fails_every_check() {
    require!(Need::Testbed);
    let tb = http_testbed();
    expect_all(&tb, "lb", RS2_6, &["-t", "300"], 2, "lack the VIP");
}

#[test]
fn master_rs3_with_nothing_listening_fails_at_once() {
    require!(Need::Testbed);
    let tb = http_testbed();
    expect_all(&tb, "lb", RS3_6, &[], 2, "refused the connection (RST)");
}

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
fn backup_role_uses_the_kernel_over_ipv6() {
    require!(Need::Testbed);
    let tb = http_testbed();
    let role = RoleFile::backup();
    let backup = role.path();
    for host in ["lb", "lbb"] {
        // rs2 passes by design: the kernel connects to its own address.
        expect_all(&tb, host, RS1_6, &["-r", backup], 0, "(BACKUP role");
        expect_all(&tb, host, RS2_6, &["-r", backup], 0, "(BACKUP role");
        expect_all(&tb, host, RS3_6, &["-r", backup], 2, "Connection refused");
    }
    // -r auto on the BACKUP LB (no VIP) takes the kernel path as well.
    expect_all(&tb, "lbb", RS2_6, &["-r", "auto"], 0, "(BACKUP role");
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
        r.stdout.contains("options [mss 1440]"),
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
