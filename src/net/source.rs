//! The source address of our frames: the one the kernel's route to the
//! real server uses (`ip route get REAL_SERVER`), never the VIP.
//!
//! Frames from the VIP never come back: the real server holds the VIP
//! itself and answers itself (IPv6), or drops them as martians and never
//! answers our ARP (IPv4). The kernel cannot be left to avoid it: keepalived
//! puts the VIP on the balancer's own interface, where it may be listed
//! first, and an IPv6 VIP taken from the real servers' /64 as a /128 wins
//! the kernel's longest-match rule over the balancer's own /64 address.
//! So the kernel's answer is taken unless it is the VIP (or there is none);
//! then another address of the interface is, by a rule `-v` states.
//!
//! `choose` is the rule alone, over plain values, so it is tested without
//! a network; `for_raw_path` and `for_kernel` ask the kernel and apply it.

use std::fmt;
use std::net::IpAddr;

use super::link::{self, Interface};
use super::port;

/// A chosen source address and why it was chosen, for `-v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    pub addr: IpAddr,
    pub why: Why,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// `--source`.
    Given,
    /// The kernel's route to the real server uses it.
    Route { real_server: IpAddr },
    /// The kernel's choice (`kernel`) was the VIP, another host address
    /// (/32 or /128: what VIPs are held as, so perhaps another VIP) while
    /// the interface has an address of its own network, or none: this
    /// address of the interface instead, with its prefix length; `covers`: that
    /// prefix holds the real server (else no prefix did, and this is the
    /// interface's first other global address).
    Instead {
        real_server: IpAddr,
        kernel: Option<IpAddr>,
        /// `kernel` was the VIP itself (else another host address).
        kernel_is_vip: bool,
        prefix: u8,
        covers: bool,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addr = self.addr;
        match self.why {
            Why::Given => write!(f, "source {addr}: --source"),
            Why::Route { real_server } => write!(
                f,
                "source {addr}: the kernel's route to {real_server} uses it"
            ),
            Why::Instead {
                real_server,
                kernel,
                kernel_is_vip,
                prefix,
                covers,
            } => {
                match kernel {
                    Some(k) if kernel_is_vip => write!(
                        f,
                        "source {addr}: the kernel's choice towards {real_server}, {k}, is the VIP, never a source"
                    )?,
                    Some(k) => write!(
                        f,
                        "source {addr}: the kernel's choice towards {real_server}, {k}, is a host address \
                         (/32 or /128, as VIPs are held), perhaps another VIP"
                    )?,
                    None => write!(f, "source {addr}: the kernel has no route to {real_server}")?,
                }
                if covers {
                    write!(f, "; {addr}/{prefix} covers the real server")
                } else {
                    write!(
                        f,
                        "; {addr}/{prefix} is the interface's first other global address"
                    )
                }
            }
        }
    }
}

/// fe80::/10 (IPv6) or 169.254/16 (IPv4): good only within the link.
fn is_link_local(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => port::is_link_local(v6),
    }
}

/// 32 for IPv4, 128 for IPv6: the prefix of a single host's address.
fn full_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

/// Does `net`/`prefix` hold `addr`?
fn covers(net: IpAddr, prefix: u8, addr: IpAddr) -> bool {
    let (a, b, bits) = match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => (u32::from(n).into(), u32::from(a).into(), 32u32),
        (IpAddr::V6(n), IpAddr::V6(a)) => (u128::from(n), u128::from(a), 128u32),
        _ => return false,
    };
    let prefix = u32::from(prefix).min(bits);
    if prefix == 0 {
        return true;
    }
    let shift = 128 - prefix;
    // Both values are right-aligned in a u128; align the net's bits left.
    let (a, b) = (a << (128 - bits), b << (128 - bits));
    a >> shift == b >> shift
}

/// The rule. `addrs`: the interface's addresses with their prefix lengths,
/// in the kernel's order; `kernel`: the kernel's source towards
/// `real_server` (`None`: no route). The kernel's choice unless it is the
/// VIP; else an address of the real server's family that is not the VIP,
/// by this order: the first whose prefix covers the real server, then the
/// first global one. IPv6 link-local addresses only for a link-local real
/// server. `None`: no address fits.
pub fn choose(
    addrs: &[(IpAddr, u8)],
    kernel: Option<IpAddr>,
    real_server: IpAddr,
    vip: IpAddr,
) -> Option<Source> {
    let link_ok = is_link_local(real_server);
    let candidates = || {
        addrs.iter().copied().filter(move |(a, _)| {
            *a != vip
                && a.is_ipv4() == real_server.is_ipv4()
                && !a.is_loopback()
                && (link_ok || !is_link_local(*a))
        })
    };
    // A host address (/32, /128) is how keepalived adds a VIP: another
    // service's VIP as our source would be answered by a real server that
    // holds it too, to itself. Taken only when the interface has no
    // address of its own network.
    let host_address = |a: IpAddr| addrs.iter().any(|&(x, p)| x == a && p == full_prefix(a));
    let own_network = candidates().any(|(a, _)| !host_address(a));
    if let Some(k) = kernel {
        if k != vip && k.is_ipv4() == real_server.is_ipv4() && !(own_network && host_address(k)) {
            return Some(Source {
                addr: k,
                why: Why::Route { real_server },
            });
        }
    }
    let instead = |(addr, prefix): (IpAddr, u8), covers: bool| Source {
        addr,
        why: Why::Instead {
            real_server,
            kernel,
            kernel_is_vip: kernel == Some(vip),
            prefix,
            covers,
        },
    };
    if let Some(found) = candidates().find(|(a, p)| covers(*a, *p, real_server)) {
        return Some(instead(found, true));
    }
    candidates()
        .filter(|(a, _)| !is_link_local(*a))
        .min_by_key(|(a, _)| host_address(*a))
        .map(|found| instead(found, false))
}

/// The raw path's source out of `iface` towards `real_server`.
pub fn for_raw_path(iface: &Interface, real_server: IpAddr, vip: IpAddr) -> Option<Source> {
    static ROUTES: link::Memo<Option<IpAddr>> = std::sync::Mutex::new(Vec::new());
    let key = format!("{} {real_server}", iface.index);
    let kernel = link::remembered(&ROUTES, key, || {
        port::kernel_source(Some((&iface.name, iface.index)), real_server)
    });
    choose(&iface.addrs, kernel, real_server, vip)
}

/// For the kernel's own connection (BACKUP role) to `real_server`: an
/// address to bind when the kernel would otherwise start from the VIP (a
/// host that holds it, asked to act as BACKUP), found on `iface` or the
/// interface that holds the kernel's choice. `None`: leave it to the kernel.
pub fn for_kernel(iface: Option<&str>, real_server: IpAddr, vip: IpAddr) -> Option<Source> {
    let kernel = port::kernel_source(None, real_server)?;
    if kernel != vip {
        return None;
    }
    let name = match iface {
        Some(name) => name.to_string(),
        None => link::route_interface(real_server).ok()?,
    };
    let iface = Interface::lookup(&name).ok()?;
    choose(&iface.addrs, Some(kernel), real_server, vip)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> (IpAddr, u8) {
        let (a, p) = s.split_once('/').unwrap();
        (ip(a), p.parse().unwrap())
    }

    fn pick(addrs: &[&str], kernel: Option<&str>, rs: &str, vip: &str) -> Option<IpAddr> {
        let addrs: Vec<_> = addrs.iter().map(|a| net(a)).collect();
        choose(&addrs, kernel.map(ip), ip(rs), ip(vip)).map(|s| s.addr)
    }

    const VIP4: &str = "203.0.113.10";
    const RS4: &str = "198.51.100.11";
    const VIP6: &str = "2001:db8:1::100";
    const RS6: &str = "2001:db8:1::11";

    #[test]
    fn the_kernels_route_wins_over_the_order_of_addresses() {
        // The IPv4 layout: the VIP listed first.
        let addrs = ["203.0.113.10/32", "198.51.100.1/24"];
        let s = pick(&addrs, Some("198.51.100.1"), RS4, VIP4);
        assert_eq!(s, Some(ip("198.51.100.1")));
        let s = choose(&[], Some(ip("198.51.100.1")), ip(RS4), ip(VIP4)).unwrap();
        assert!(matches!(s.why, Why::Route { .. }));
        assert!(s
            .to_string()
            .contains("the kernel's route to 198.51.100.11"));
    }

    #[test]
    fn another_vip_is_no_source_either() {
        // Two IPv6 VIPs from the real servers' /64: checking ::100, the
        // kernel's longest match may pick ::101, which a real server
        // holding both VIPs would answer to itself.
        let addrs = [
            "2001:db8:1::101/128",
            "2001:db8:1::100/128",
            "2001:db8:1::1/64",
        ];
        let s = choose(
            &addrs.map(net),
            Some(ip("2001:db8:1::101")),
            ip(RS6),
            ip(VIP6),
        )
        .unwrap();
        assert_eq!(s.addr, ip("2001:db8:1::1"));
        assert!(s.to_string().contains("is a host address"), "{s}");
        // IPv4: a second VIP on the interface, listed first, never leads.
        let addrs = ["203.0.113.11/32", "203.0.113.10/32", "198.51.100.1/24"];
        assert_eq!(
            pick(&addrs, Some("203.0.113.11"), RS4, VIP4),
            Some(ip("198.51.100.1"))
        );
        assert_eq!(
            pick(&addrs, None, "192.0.2.9", VIP4),
            Some(ip("198.51.100.1"))
        );
        // A host address is still taken when the interface has nothing else
        // (a /32 with a peer route, as some providers configure).
        let addrs = ["203.0.113.11/32", "203.0.113.10/32"];
        assert_eq!(
            pick(&addrs, Some("203.0.113.11"), RS4, VIP4),
            Some(ip("203.0.113.11"))
        );
    }

    #[test]
    fn the_vip_is_never_taken_from_the_kernel() {
        // The IPv6 layout: the kernel prefers the /128 VIP.
        let addrs = [
            "2001:db8:1::100/128",
            "2001:db8:1::1/64",
            "2001:db8::1/64",
            "fe80::1/64",
        ];
        let s = choose(&addrs.map(net), Some(ip(VIP6)), ip(RS6), ip(VIP6)).unwrap();
        assert_eq!(s.addr, ip("2001:db8:1::1"));
        let text = s.to_string();
        assert!(text.contains("is the VIP"), "{text}");
        assert!(
            text.contains("2001:db8:1::1/64 covers the real server"),
            "{text}"
        );
        // IPv4 as well, whatever the order.
        for addrs in [
            ["203.0.113.10/32", "198.51.100.1/24"],
            ["198.51.100.1/24", "203.0.113.10/32"],
        ] {
            assert_eq!(
                pick(&addrs, Some(VIP4), RS4, VIP4),
                Some(ip("198.51.100.1"))
            );
            assert_eq!(pick(&addrs, None, RS4, VIP4), Some(ip("198.51.100.1")));
        }
    }

    #[test]
    fn a_covering_prefix_comes_before_the_first_global_address() {
        let addrs = ["203.0.113.10/32", "192.0.2.1/24", "198.51.100.1/24"];
        assert_eq!(
            pick(&addrs, Some(VIP4), RS4, VIP4),
            Some(ip("198.51.100.1"))
        );
        // No prefix covers the real server (routed): the first other one.
        let s = choose(&addrs.map(net), None, ip("192.0.2.200"), ip(VIP4));
        assert_eq!(s.map(|s| s.addr), Some(ip("192.0.2.1")));
        let s = choose(&addrs.map(net), None, ip("10.0.0.5"), ip(VIP4)).unwrap();
        assert_eq!(s.addr, ip("192.0.2.1"));
        assert!(s.to_string().contains("first other global address"), "{s}");
        assert!(s.to_string().contains("no route to 10.0.0.5"), "{s}");
    }

    #[test]
    fn a_vip_alone_or_another_family_gives_no_source() {
        assert_eq!(pick(&["203.0.113.10/32"], Some(VIP4), RS4, VIP4), None);
        assert_eq!(
            pick(&["203.0.113.10/32", "2001:db8::1/64"], None, RS4, VIP4),
            None
        );
        // A kernel answer of the wrong family is no answer.
        assert_eq!(
            pick(&["198.51.100.1/24"], Some(RS6), RS4, VIP4),
            Some(ip("198.51.100.1"))
        );
    }

    #[test]
    fn ipv6_link_local_only_for_a_link_local_real_server() {
        let addrs = ["fe80::1/64", "2001:db8:1::100/128", "2001:db8::1/64"];
        assert_eq!(pick(&addrs, Some(VIP6), RS6, VIP6), Some(ip("2001:db8::1")));
        assert_eq!(pick(&addrs[..2], Some(VIP6), RS6, VIP6), None);
        assert_eq!(pick(&addrs, None, "fe80::11", VIP6), Some(ip("fe80::1")));
    }

    #[test]
    fn prefixes_cover_what_they_should() {
        assert!(covers(ip("198.51.100.1"), 24, ip("198.51.100.200")));
        assert!(!covers(ip("198.51.100.1"), 24, ip("198.51.101.1")));
        assert!(!covers(ip("198.51.100.1"), 32, ip("198.51.100.2")));
        assert!(covers(ip("0.0.0.0"), 0, ip("8.8.8.8")));
        assert!(covers(ip("2001:db8:1::1"), 64, ip(RS6)));
        assert!(!covers(ip("2001:db8::1"), 64, ip(RS6)));
        assert!(!covers(ip(VIP6), 128, ip(RS6)));
        assert!(!covers(ip("198.51.100.1"), 24, ip(RS6)));
    }
}
