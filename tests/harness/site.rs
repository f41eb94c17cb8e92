//! Balancer layouts the default testbed does not build, made on one of its
//! hosts: the VIP on the balancer's own interface (where keepalived's
//! `virtual_ipaddress { ... dev eth0 }` puts it) listed before the host's
//! own address, and extra addresses such as an IPv6 prefix shared by the
//! balancer, the real servers and the VIP.
//!
//! Each changes one host's namespace only; the testbed's `Drop` removes
//! them with it.

use super::netns;
use super::testbed::{Testbed, IFACE};

impl Testbed {
    /// Adds `cidrs` (`"2001:db8:1::1/64"`) to `dev` of `host`, IPv6 ones
    /// with `nodad` so they are usable at once.
    pub fn add_addrs(&self, host: &str, dev: &str, cidrs: &[&str]) {
        let lines: Vec<String> = cidrs
            .iter()
            .map(|c| {
                let nodad = if c.contains(':') { " nodad" } else { "" };
                format!("addr add {c} dev {dev}{nodad}")
            })
            .collect();
        netns::ip_batch(Some(self.ns(host)), &lines);
    }

    /// Puts `vip_cidr` on `host`'s eth0 AHEAD of the addresses of its
    /// family already there: they are removed, the VIP added, and they are
    /// added back after it. For IPv4 the VIP becomes the interface's first
    /// (primary) address, what a keepalived started before the network's
    /// own address gives. Leaves any VIP on `lo` alone (`remove_vip`).
    pub fn vip_on_iface_first(&self, host: &str, vip_cidr: &str) {
        let ns = self.ns(host);
        let family = if vip_cidr.contains(':') { "-6" } else { "-4" };
        let listed = netns::output(
            "ip",
            &[
                "-o", "-n", ns, family, "addr", "show", "dev", IFACE, "scope", "global",
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        // `2: eth0    inet 198.51.100.1/24 brd ... scope global eth0`
        let own: Vec<String> = listed
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                words.find(|w| *w == "inet" || *w == "inet6")?;
                words.next().map(str::to_owned)
            })
            .collect();
        let removals: Vec<String> = own
            .iter()
            .map(|c| format!("addr del {c} dev {IFACE}"))
            .collect();
        netns::ip_batch(Some(ns), &removals);
        self.add_addrs(host, IFACE, &[vip_cidr]);
        let own: Vec<&str> = own.iter().map(String::as_str).collect();
        self.add_addrs(host, IFACE, &own);
    }
}
