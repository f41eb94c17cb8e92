//! The LVS-DR misconfigurations check_raw_vip must find, made on a
//! testbed's hosts: a real server that answers ARP (or NDP) for the VIP,
//! one that drops ICMP echo, another host claiming the VIP.
//!
//! Each changes one host's namespace only; the testbed's `Drop` removes
//! them with it.

use super::netns;
use super::testbed::{Testbed, IFACE, VIP, VIP6};

impl Testbed {
    /// `arp_ignore=0`, `arp_announce=0` on `host` (the Linux defaults): it
    /// answers ARP for every local address, the VIP on `lo` included.
    pub fn arp_leak(&self, host: &str) {
        for conf in ["all", IFACE] {
            self.sysctl(host, &format!("net.ipv4.conf.{conf}.arp_ignore"), "0");
            self.sysctl(host, &format!("net.ipv4.conf.{conf}.arp_announce"), "0");
        }
    }

    /// `host` ignores ICMP and ICMPv6 echo requests (a filtering server).
    pub fn drop_echo(&self, host: &str) {
        self.sysctl(host, "net.ipv4.icmp_echo_ignore_all", "1");
        self.sysctl(host, "net.ipv6.icmp.echo_ignore_all", "1");
    }

    /// Adds the IPv4 VIP to `host`'s `lo`. With the default ARP settings
    /// (`lb`, `lbb`) the host then answers ARP for it: a second claimant.
    pub fn add_vip(&self, host: &str) {
        netns::ip_batch(Some(self.ns(host)), &[format!("addr add {VIP}/32 dev lo")]);
    }

    /// Moves the IPv6 VIP of `host` onto its eth0 (`nodad`, so it is
    /// usable at once): Linux then answers Neighbor Solicitations for it,
    /// whatever `arp_ignore` says. Hosts without the VIP just get it.
    pub fn vip6_on_eth0(&self, host: &str) {
        let ns = self.ns(host);
        let on_lo = netns::output("ip", &["-n", ns, "-6", "addr", "show", "dev", "lo"])
            .unwrap_or_default()
            .contains(VIP6);
        let mut lines = Vec::new();
        if on_lo {
            lines.push(format!("addr del {VIP6}/128 dev lo"));
        }
        lines.push(format!("addr add {VIP6}/128 dev {IFACE} nodad"));
        netns::ip_batch(Some(ns), &lines);
    }
}
