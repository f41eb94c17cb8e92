//! Unit tests of the VIP check's findings: how each probe's result is
//! judged and worded, with no frames sent.

use super::*;

const RS: [u8; 4] = [198, 51, 100, 11];
const VIP: [u8; 4] = [203, 0, 113, 10];

fn mac(last: u8) -> MacAddr {
    MacAddr(2, 0, 0, 0, 0, last)
}

fn seg(role: Role, macs: &[MacAddr]) -> Finding {
    segment_finding(role, macs, VIP.into(), "eth0", (RS.into(), mac(0x11)))
}

#[test]
fn master_expects_nobody_else() {
    assert_eq!(seg(Role::Master, &[]).state, State::Ok);
    let f = seg(Role::Master, &[mac(2)]);
    assert_eq!(f.state, State::Critical);
    assert!(
        f.text.contains("02:00:00:00:00:02 on eth0 claims"),
        "{}",
        f.text
    );
}

#[test]
fn backup_expects_exactly_one() {
    assert_eq!(seg(Role::Backup, &[]).state, State::Warning);
    assert_eq!(seg(Role::Backup, &[mac(1)]).state, State::Ok);
    let f = seg(Role::Backup, &[mac(1), mac(0x11)]);
    assert_eq!(f.state, State::Critical);
    assert!(
        f.text
            .contains("02:00:00:00:00:01, 02:00:00:00:00:11 (the real server 198.51.100.11)"),
        "{}",
        f.text
    );
}

#[test]
fn worst_finding_leads() {
    let f = |state, text: &str| Finding {
        state,
        text: text.into(),
    };
    let line = problems_first(&[
        f(State::Ok, "a"),
        f(State::Warning, "b"),
        f(State::Critical, "c"),
    ]);
    assert_eq!(line, "c; b; a");
}

#[test]
fn answers_to_others_are_no_claim() {
    let link = wire::Link {
        src: mac(0x11),
        dst: mac(1),
    };
    let reply = wire::arp_reply(link, VIP.into(), [198, 51, 100, 1].into());
    let parsed = wire::parse(&reply, false).unwrap();
    assert_eq!(
        claim(&parsed, VIP.into(), [198, 51, 100, 1].into()),
        Some(mac(0x11))
    );
    assert_eq!(claim(&parsed, VIP.into(), [198, 51, 100, 2].into()), None);
    assert_eq!(
        claim(&parsed, [203, 0, 113, 11].into(), [198, 51, 100, 1].into()),
        None
    );
}

#[test]
fn advert_without_option_names_its_sender() {
    let link = wire::Link {
        src: mac(0x11),
        dst: mac(1),
    };
    let vip6: std::net::Ipv6Addr = "2001:db8:1::10".parse().unwrap();
    let lb6: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
    let na = wire::neighbor_advert(link, vip6, lb6, vip6, None);
    let parsed = wire::parse(&na, false).unwrap();
    assert_eq!(claim(&parsed, vip6.into(), lb6.into()), Some(mac(0x11)));
}

#[test]
fn shares_split_what_is_left() {
    let deadline = Instant::now() + Duration::from_millis(900);
    let first = share(deadline, 3);
    let left = first.saturating_duration_since(Instant::now());
    assert!(
        left <= Duration::from_millis(300) && left > Duration::from_millis(250),
        "{left:?}"
    );
    assert!(share(deadline, 0) <= deadline);
}

/// Probe 2 blames the real server only for its own solicited answer: the
/// MASTER's unsolicited advertisement to all nodes (what keepalived sends
/// after a failover) and a solicited answer from another MAC are no leak.
#[test]
fn probe_two_takes_only_the_real_servers_solicited_answer() {
    let vip6: std::net::Ipv6Addr = "2001:db8:1::10".parse().unwrap();
    let lb6: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
    let all_nodes: std::net::Ipv6Addr = "ff02::1".parse().unwrap();
    let (rs_mac, master) = (mac(0x11), mac(0x02));
    let claim_of = |frame: Vec<u8>| {
        let parsed = wire::parse(&frame, false).unwrap();
        rs_claim(&parsed, vip6.into(), lb6.into(), rs_mac)
    };
    let to_us = |src| wire::Link { src, dst: mac(1) };
    let to_all = |src| wire::Link {
        src,
        dst: MacAddr(0x33, 0x33, 0, 0, 0, 1),
    };
    // The MASTER announces the VIP to all nodes: unsolicited, not the RS.
    let unsolicited = wire::neighbor_advert(to_all(master), vip6, all_nodes, vip6, Some(master));
    assert_eq!(claim_of(unsolicited), None, "the MASTER's announcement");
    // The real server's own unsolicited announcement answers no question.
    let rs_unsolicited = wire::neighbor_advert(to_all(rs_mac), vip6, all_nodes, vip6, None);
    assert_eq!(claim_of(rs_unsolicited), None, "an announcement");
    // A solicited answer, but from another host's MAC.
    let other = wire::neighbor_advert(to_us(master), vip6, lb6, vip6, Some(master));
    assert_eq!(claim_of(other), None, "another MAC");
    // The real server answering our solicitation: a leak.
    let leak = wire::neighbor_advert(to_us(rs_mac), vip6, lb6, vip6, Some(rs_mac));
    assert_eq!(claim_of(leak), Some(rs_mac));
    // ARP: a reply to us from another MAC is no claim of the real server's.
    let arp = |src| {
        let reply = wire::arp_reply(to_us(src), VIP.into(), [198, 51, 100, 1].into());
        let parsed = wire::parse(&reply, false).unwrap();
        rs_claim(&parsed, VIP.into(), [198, 51, 100, 1].into(), rs_mac)
    };
    assert_eq!(arp(master), None);
    assert_eq!(arp(rs_mac), Some(rs_mac));
}
