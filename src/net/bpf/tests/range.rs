//! check_raw_serve's one filter per interface (`Program::port_range`).

use super::*;

const RANGE: (u16, u16) = (61000, 61999);

fn shared() -> Program {
    Program::port_range(RANGE, true).unwrap()
}

/// The direct flows' socket: the same flows, no neighbour answers.
#[test]
fn without_neighbours_passes_the_flows_and_no_neighbour_answer() {
    let prog = Program::port_range(RANGE, false).unwrap();
    assert_well_formed(&prog);
    assert_eq!(run(&prog, &tcp_from(VIP, 80, 61500)), ACCEPT);
    assert_eq!(run(&prog, &tcp6_from(VIP6, 443, 61999)), ACCEPT);
    assert_eq!(run(&prog, &tcp_from(VIP, 80, 62000)), DROP);
    assert_eq!(run(&prog, &arp(RS, true)), DROP);
}

#[test]
fn passes_flows_to_the_range_from_anyone_and_nothing_outside_it() {
    let prog = shared();
    assert_well_formed(&prog);
    for port in [61000, 61500, 61999] {
        assert_eq!(run(&prog, &tcp_from(VIP, 80, port)), ACCEPT, "{port}");
        assert_eq!(run(&prog, &tcp_from(ROUTER, 1, port)), ACCEPT, "{port}");
        assert_eq!(run(&prog, &tcp6_from(VIP6, 443, port)), ACCEPT, "{port}");
        assert_eq!(run(&prog, &udp_from(VIP.into(), 53, port)), ACCEPT);
        assert_eq!(run(&prog, &udp_from(VIP6.into(), 53, port)), ACCEPT);
    }
    for port in [0, 22, 60999, 62000, 65535] {
        assert_eq!(run(&prog, &tcp_from(VIP, 80, port)), DROP, "{port}");
        assert_eq!(run(&prog, &tcp6_from(VIP6, 80, port)), DROP, "{port}");
        assert_eq!(run(&prog, &udp_from(VIP.into(), 53, port)), DROP);
    }
    // The source port is not ours to test: a reply from port 61500 to
    // port 80 is not for us.
    assert_eq!(run(&prog, &tcp_from(VIP, 61500, 80)), DROP);
}

#[test]
fn passes_neighbour_answers_and_icmp_errors_about_the_range() {
    let prog = shared();
    assert_eq!(run(&prog, &arp(RS, true)), ACCEPT);
    assert_eq!(run(&prog, &arp(ROUTER, true)), ACCEPT);
    assert_eq!(
        run(&prog, &arp(RS, false)),
        DROP,
        "requests are not answers"
    );
    assert_eq!(run(&prog, &advert(RS6)), ACCEPT);
    for (src, dst) in [
        (IpAddr::from(LB), IpAddr::from(VIP)),
        (LB6.into(), VIP6.into()),
    ] {
        for (sport, verdict) in [(61234, ACCEPT), (40000, DROP)] {
            let ours = wire::udp_frame(LINK, flow(src, dst, sport, 53), 1, b"query");
            let error =
                wire::icmp_error_frame(LINK, dst, src, IcmpErrorKind::PortUnreachable, &ours[14..]);
            assert_eq!(run(&prog, &error), verdict, "{src} {sport}");
        }
    }
}
