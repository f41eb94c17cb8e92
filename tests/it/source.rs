//! The source address of the raw frames on balancer layouts the default
//! testbed does not build, where the VIP sits on the balancer's own
//! interface (keepalived's `virtual_ipaddress ... dev eth0`):
//!
//! - IPv4: `203.0.113.10/32` listed BEFORE `198.51.100.1/24` on lb's eth0,
//!   so the VIP is the interface's first address;
//! - IPv6: the VIP `2001:db8:1::100/128` taken from the real servers' own
//!   /64, on lb's eth0 (and rs1's lo) beside lb's `2001:db8:1::1/64`, so
//!   the kernel's own address selection (longest match) prefers the VIP.
//!
//! In each, every check (tcp, http_get, http, dns, vip) must pass against
//! rs1 from the address the kernel's route uses, never from the VIP, and
//! `-v` must say which source and why; `--source VIP` is refused; the
//! BACKUP role's kernel connection must not start from the VIP either.

use crate::harness::*;

/// The IPv6 layout: one /64 for the balancer, the real servers and the VIP.
const LB6_SITE: &str = "2001:db8:1::1";
const RS1_6_SITE: &str = "2001:db8:1::11";
const VIP6_SITE: &str = "2001:db8:1::100";

/// The testbed with the IPv4 VIP moved from lb's lo onto its eth0, ahead
/// of 198.51.100.1/24; rs1 answers HTTP on :80 and DNS on RS1 and the VIP.
fn ipv4_site() -> (Testbed, Nsd) {
    let tb = Testbed::without_servers();
    tb.remove_vip("lb");
    tb.vip_on_iface_first("lb", &format!("{VIP}/32"));
    tb.serve("rs1", PORT, Behaviour::Respond(health_reply()));
    let nsd = tb.nsd("rs1", &[RS1, VIP]);
    (tb, nsd)
}

/// The testbed plus 2001:db8:1::/64: lb holds ::1/64 and the VIP ::100/128
/// on eth0, rs1 holds ::11/64 on eth0 and the VIP on lo.
fn ipv6_site() -> (Testbed, Nsd) {
    let tb = Testbed::without_servers();
    tb.remove_vip("lb");
    tb.add_addrs("lb", IFACE, &[&format!("{LB6_SITE}/64")]);
    tb.vip_on_iface_first("lb", &format!("{VIP6_SITE}/128"));
    tb.add_addrs("rs1", IFACE, &[&format!("{RS1_6_SITE}/64")]);
    tb.add_addrs("rs1", "lo", &[&format!("{VIP6_SITE}/128")]);
    tb.serve("rs1", PORT, Behaviour::Respond(health_reply()));
    let nsd = tb.nsd("rs1", &[RS1_6_SITE, VIP6_SITE]);
    (tb, nsd)
}

/// Every check of rs1 through `vip`, with `opts` first: (program, args,
/// what its OK status line must contain).
fn every_check(rs: &str, vip: &str, opts: &[&str]) -> Vec<(&'static str, Vec<String>, String)> {
    let port = PORT.to_string();
    let args =
        |tail: &[&str]| -> Vec<String> { opts.iter().chain(tail).map(|s| s.to_string()).collect() };
    vec![
        (
            "check_raw_tcp",
            args(&[IFACE, rs, vip, &port]),
            "answers".into(),
        ),
        (
            "check_raw_http_get",
            args(&[IFACE, rs, vip, &port, "www", "/health", HEALTH_MD5]),
            format!("via {rs} ("),
        ),
        (
            "check_raw_http",
            args(&[IFACE, rs, vip, &port, "-S", "200", "www", "/health"]),
            format!("via {rs} ("),
        ),
        (
            "check_raw_dns",
            args(&[
                "-T",
                "TXT",
                "-a",
                "rs1",
                IFACE,
                rs,
                vip,
                "53",
                "whoami.example.test",
            ]),
            String::new(),
        ),
        (
            "check_raw_vip",
            args(&["-t", "500", IFACE, rs, vip]),
            format!("holds {vip} (echo reply in "),
        ),
    ]
}

/// Runs every check from lb; each must exit 0 with its needle, and with
/// `-v` name `source` as the frames' source. Failures collected first.
fn expect_every_check_ok(tb: &Testbed, rs: &str, vip: &str, source: &str, why: &str) {
    let mut failures = Vec::new();
    for (name, args, needle) in every_check(rs, vip, &["-v"]) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = tb.run("lb", &check_raw_bin(name), &args);
        if r.code != Some(0) || !r.status_line().contains(&needle) {
            failures.push(format!("{name}: expected OK with {needle:?}\n{r}"));
            continue;
        }
        let said = format!("source {source}");
        if !r.stdout.contains(&said) || !r.stdout.contains(why) {
            failures.push(format!("{name}: -v must say {said:?} and {why:?}\n{r}"));
        }
    }
    assert_all_ok(&failures);
}

#[test]
fn ipv4_vip_listed_first_on_the_interface_is_never_the_source() {
    require!(Need::Testbed, NSD);
    let (tb, _nsd) = ipv4_site();
    // The layout is what the issue measured: the VIP is eth0's first
    // address, and the kernel's route still says 198.51.100.1.
    let listed = tb.run_in("lb", &["ip", "-o", "-4", "addr", "show", "dev", IFACE]);
    let first = listed.stdout.lines().next().unwrap_or_default();
    assert!(first.contains(&format!("{VIP}/32")), "{listed}");
    let route = tb.run_in("lb", &["ip", "route", "get", RS1]);
    assert!(route.stdout.contains(&format!("src {LB_IP}")), "{route}");
    expect_every_check_ok(&tb, RS1, VIP, LB_IP, "the kernel's route");
}

#[test]
fn ipv6_vip_from_the_servers_prefix_is_never_the_source() {
    require!(Need::Testbed, NSD);
    let (tb, _nsd) = ipv6_site();
    // The kernel itself would pick the VIP (a /128 matches longer than
    // the /64): the check must take lb's own address instead and say so.
    let route = tb.run_in("lb", &["ip", "-6", "route", "get", RS1_6_SITE]);
    assert!(
        route.stdout.contains(&format!("src {VIP6_SITE}")),
        "{route}"
    );
    expect_every_check_ok(&tb, RS1_6_SITE, VIP6_SITE, LB6_SITE, "is the VIP");
}

#[test]
fn source_option_naming_the_vip_is_refused() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    tb.remove_vip("lb");
    tb.vip_on_iface_first("lb", &format!("{VIP}/32"));
    let port = PORT.to_string();
    for (rs, vip) in [(RS1, VIP), (RS1_6, VIP6)] {
        let r = tb.run(
            "lb",
            &check_raw_bin("check_raw_tcp"),
            &["--source", vip, IFACE, rs, vip, &port],
        );
        assert_eq!(r.code, Some(3), "{r}");
        // The usage error's own line names the rule (the usage follows).
        let first = r.stdout.lines().next().unwrap_or_default();
        assert!(
            first.contains(&format!("--source {vip} is the VIRTUAL_IP")),
            "{r}"
        );
        assert!(first.contains("never be the VIP"), "{r}");
    }
    // Any other address of ours still overrides.
    tb.serve("rs1", PORT, Behaviour::Respond(health_reply()));
    let r = tb.run(
        "lb",
        &check_raw_bin("check_raw_tcp"),
        &["-v", "--source", LB_IP, IFACE, RS1, VIP, &port],
    );
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.stdout.contains(&format!("source {LB_IP}")), "{r}");
}

#[test]
fn backup_role_never_connects_from_the_vip() {
    require!(Need::Testbed, NSD);
    let (tb, _nsd) = ipv6_site();
    let role = RoleFile::backup();
    let port = PORT.to_string();
    let r = tb.run(
        "lb",
        &check_raw_bin("check_raw_tcp"),
        &["-r", role.path(), IFACE, RS1_6_SITE, VIP6_SITE, &port],
    );
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.status_line().contains("(BACKUP role"), "{r}");
}
