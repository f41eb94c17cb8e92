//! Every kind of awaited reply, both families, alone and all in one
//! program; and the kernel's own check of what we build.

use super::*;

fn transport(proto: Proto, remote: IpAddr) -> Block {
    let awaited = Awaited::Flow {
        proto,
        remote_port: 53,
    };
    (awaited, remote, 40000)
}

fn icmp_error_for(proto: Proto, remote: IpAddr) -> Block {
    let awaited = Awaited::IcmpErrors {
        proto,
        remote_port: 53,
    };
    (awaited, remote, 40000)
}

/// The shortest prefix of `frame` that `prog` accepts, asserting that
/// every shorter one is dropped and every longer one accepted.
fn accepted_from(prog: &Program, frame: &[u8]) -> usize {
    let first = (0..=frame.len())
        .find(|&len| run(prog, &frame[..len]) == ACCEPT)
        .expect("the whole frame is accepted");
    for len in 0..frame.len() {
        let want = if len < first { DROP } else { ACCEPT };
        assert_eq!(run(prog, &frame[..len]), want, "{len} bytes");
    }
    first
}

#[test]
fn udp_transport_both_families() {
    for (remote, lb) in [
        (IpAddr::from(VIP), IpAddr::from(LB)),
        (VIP6.into(), LB6.into()),
    ] {
        let prog = Program::from_blocks(&[transport(Proto::Udp, remote)]).unwrap();
        assert_well_formed(&prog);
        let ours = udp_from(remote, 53, 40000);
        assert_eq!(run(&prog, &ours), ACCEPT);
        // The last byte read is the end of the destination port.
        let end = if remote.is_ipv6() {
            14 + 40 + 4
        } else {
            14 + 20 + 4
        };
        assert_eq!(accepted_from(&prog, &ours), end);
        assert_eq!(run(&prog, &udp_from(remote, 54, 40000)), DROP);
        assert_eq!(run(&prog, &udp_from(remote, 53, 40001)), DROP);
        assert_eq!(run(&prog, &udp_from(lb, 53, 40000)), DROP);
        // TCP on the same ports is not UDP.
        assert_eq!(run(&prog, &tcp_between(remote, lb, 53, 40000)), DROP);
        let other_family = if remote.is_ipv6() {
            VIP.into()
        } else {
            VIP6.into()
        };
        assert_eq!(run(&prog, &udp_from(other_family, 53, 40000)), DROP);
    }
    // IPv4 fragments: the first passes (it holds the ports), others not.
    let prog = Program::from_blocks(&[transport(Proto::Udp, VIP.into())]).unwrap();
    let mut first = udp_from(VIP.into(), 53, 40000);
    first[14 + 6] = 0x20; // more fragments, offset 0
    assert_eq!(run(&prog, &first), ACCEPT);
    let mut later = first.clone();
    later[14 + 7] = 1;
    assert_eq!(run(&prog, &later), DROP);
}

/// Our datagram `proto` from 40000 to `remote`:53, as sent.
fn our_packet(proto: Proto, remote: IpAddr) -> Vec<u8> {
    let lb = if remote.is_ipv6() {
        LB6.into()
    } else {
        LB.into()
    };
    let f = flow(lb, remote, 40000, 53);
    let frame = match proto {
        Proto::Udp => wire::udp_frame(LINK, f, 1, b"query"),
        Proto::Tcp => wire::tcp_frame(LINK, f, 1, &Segment::default()),
    };
    frame[14..].to_vec()
}

fn icmp_error(remote: IpAddr, kind: IcmpErrorKind, quoted: &[u8]) -> Vec<u8> {
    let (from, to) = if remote.is_ipv6() {
        (IpAddr::from(ROUTER6), IpAddr::from(LB6))
    } else {
        (ROUTER.into(), LB.into())
    };
    wire::icmp_error_frame(LINK, from, to, kind, quoted)
}

#[test]
fn icmp_errors_about_our_datagrams_both_families() {
    use IcmpErrorKind::*;
    for remote in [IpAddr::from(VIP), VIP6.into()] {
        for proto in [Proto::Tcp, Proto::Udp] {
            let prog = Program::from_blocks(&[icmp_error_for(proto, remote)]).unwrap();
            assert_well_formed(&prog);
            let ours = our_packet(proto, remote);
            for kind in [
                PortUnreachable,
                HostUnreachable,
                AdminProhibited,
                MtuExceeded { mtu: 1280 },
                TimeExceeded,
                ProtocolUnreachable,
            ] {
                assert_eq!(run(&prog, &icmp_error(remote, kind, &ours)), ACCEPT);
            }
            let frame = icmp_error(remote, PortUnreachable, &ours);
            // Through the quoted destination port (IP header + 4).
            let end = if remote.is_ipv6() {
                14 + 40 + 8 + 40 + 4
            } else {
                14 + 20 + 8 + 20 + 4
            };
            assert_eq!(accepted_from(&prog, &frame), end);
            // Truncated quotes still pass while they hold the ports.
            let hl = if remote.is_ipv6() { 40 } else { 20 };
            let short = icmp_error(remote, PortUnreachable, &ours[..hl + 4]);
            assert_eq!(run(&prog, &short), ACCEPT);
            let shorter = icmp_error(remote, PortUnreachable, &ours[..hl + 3]);
            assert_eq!(run(&prog, &shorter), DROP);
            // Near misses: other protocol, ports, destination, family.
            let other = match proto {
                Proto::Tcp => Proto::Udp,
                Proto::Udp => Proto::Tcp,
            };
            let miss = |edit: &dyn Fn(&mut Vec<u8>)| {
                let mut q = ours.clone();
                edit(&mut q);
                run(&prog, &icmp_error(remote, PortUnreachable, &q))
            };
            assert_eq!(
                run(
                    &prog,
                    &icmp_error(remote, PortUnreachable, &our_packet(other, remote))
                ),
                DROP
            );
            assert_eq!(miss(&|q| q[hl] ^= 1), DROP, "source port");
            assert_eq!(miss(&|q| q[hl + 3] ^= 1), DROP, "destination port");
            assert_eq!(miss(&|q| q[hl - 1] ^= 1), DROP, "destination address");
            assert_eq!(
                miss(&|q| q[0] = if hl == 40 { 0x40 } else { 0x46 }),
                DROP,
                "version/IHL"
            );
            // Our datagram itself, echoed back unwrapped, is no error.
            let mut raw = vec![0u8; 14];
            raw[12..14].copy_from_slice(if hl == 40 { &[0x86, 0xdd] } else { &[8, 0] });
            raw.extend_from_slice(&ours);
            assert_eq!(run(&prog, &raw), DROP);
            // An echo reply is no error either.
            let echo = wire::echo_reply(LINK, remote, remote, 0, 1, 1, &ours);
            assert_eq!(run(&prog, &echo), DROP);
            // The other family's error about the same datagram.
            let other_remote = if hl == 40 {
                IpAddr::from(VIP)
            } else {
                VIP6.into()
            };
            let cross = icmp_error(
                other_remote,
                PortUnreachable,
                &our_packet(proto, other_remote),
            );
            assert_eq!(run(&prog, &cross), DROP);
        }
    }
    // The outer IPv4 header may carry options.
    let prog = Program::from_blocks(&[icmp_error_for(Proto::Udp, VIP.into())]).unwrap();
    let mut f = icmp_error(
        VIP.into(),
        PortUnreachable,
        &our_packet(Proto::Udp, VIP.into()),
    );
    f[14] = 0x46;
    f.splice(34..34, [1, 1, 1, 0]);
    assert_eq!(run(&prog, &f), ACCEPT);
    // A non-first fragment of an ICMP error is dropped.
    let mut frag = icmp_error(
        VIP.into(),
        PortUnreachable,
        &our_packet(Proto::Udp, VIP.into()),
    );
    frag[14 + 7] = 1;
    assert_eq!(run(&prog, &frag), DROP);
}

#[test]
fn echo_replies_from_the_target_with_our_ident() {
    for (from, lb) in [
        (IpAddr::from(RS), IpAddr::from(LB)),
        (RS6.into(), LB6.into()),
    ] {
        let prog = Program::build(from, 0, &[Awaited::EchoReply { ident: 0xbeef }]).unwrap();
        assert_well_formed(&prog);
        let reply = wire::echo_reply(LINK, from, lb, 0, 0xbeef, 1, b"ping");
        let end = if from.is_ipv6() {
            14 + 40 + 6
        } else {
            14 + 20 + 6
        };
        assert_eq!(accepted_from(&prog, &reply), end);
        let wrong_ident = wire::echo_reply(LINK, from, lb, 0, 0xbeee, 1, b"ping");
        assert_eq!(run(&prog, &wrong_ident), DROP);
        let wrong_source = wire::echo_reply(LINK, lb, from, 0, 0xbeef, 1, b"ping");
        assert_eq!(run(&prog, &wrong_source), DROP);
        // Our own request (or a peer's) is not a reply.
        let request = wire::echo_request(LINK, from, lb, 0, 0xbeef, 1, b"ping");
        assert_eq!(run(&prog, &request), DROP);
        let other_family = if from.is_ipv6() {
            wire::echo_reply(LINK, RS.into(), LB.into(), 0, 0xbeef, 1, b"")
        } else {
            wire::echo_reply(LINK, RS6.into(), LB6.into(), 0, 0xbeef, 1, b"")
        };
        assert_eq!(run(&prog, &other_family), DROP);
    }
    let prog = Program::build(RS.into(), 0, &[Awaited::EchoReply { ident: 7 }]).unwrap();
    let reply = wire::echo_reply(LINK, RS.into(), LB.into(), 0, 7, 1, b"");
    let mut with_options = reply.clone();
    with_options[14] = 0x46;
    with_options.splice(34..34, [1, 1, 1, 0]);
    assert_eq!(run(&prog, &with_options), ACCEPT);
    let mut frag = reply;
    frag[14 + 7] = 2;
    assert_eq!(run(&prog, &frag), DROP);
}

#[test]
fn neighbor_replies_about_the_target_both_families() {
    let prog = Program::build(
        VIP.into(),
        0,
        &[Awaited::NeighborReply { target: RS.into() }],
    )
    .unwrap();
    let reply = wire::arp_reply(LINK, RS, LB);
    assert_eq!(accepted_from(&prog, &reply), 14 + 18);
    assert_eq!(run(&prog, &wire::arp_reply(LINK, VIP, LB)), DROP);
    assert_eq!(run(&prog, &wire::arp_request_to(LINK, RS, LB)), DROP);
    assert_eq!(run(&prog, &advert(RS6)), DROP);

    let prog = Program::build(
        VIP6.into(),
        0,
        &[Awaited::NeighborReply { target: RS6.into() }],
    )
    .unwrap();
    let na = wire::neighbor_advert(LINK, RS6, LB6, RS6, Some(MAC));
    assert_eq!(accepted_from(&prog, &na), 14 + 40 + 24);
    assert_eq!(
        run(&prog, &wire::neighbor_advert(LINK, RS6, LB6, VIP6, None)),
        DROP
    );
    // A proxy answering about the target is still about the target.
    assert_eq!(
        run(&prog, &wire::neighbor_advert(LINK, LB6, LB6, RS6, None)),
        ACCEPT
    );
    assert_eq!(run(&prog, &wire::neighbor_solicit_to(LINK, LB6, RS6)), DROP);
    assert_eq!(run(&prog, &arp(RS, true)), DROP);
}

/// Every kind, both families, in one program.
fn everything() -> Vec<Block> {
    let mut all = Vec::new();
    for (rs, vip) in [
        (IpAddr::from(RS), IpAddr::from(VIP)),
        (RS6.into(), VIP6.into()),
    ] {
        all.extend([
            transport(Proto::Tcp, vip),
            transport(Proto::Udp, vip),
            icmp_error_for(Proto::Tcp, vip),
            icmp_error_for(Proto::Udp, vip),
            (Awaited::EchoReply { ident: 9 }, rs, 40000),
            (Awaited::NeighborReply { target: rs }, vip, 40000),
        ]);
    }
    all
}

#[test]
fn one_program_for_every_kind_and_family() {
    let prog = Program::from_blocks(&everything()).unwrap();
    assert_well_formed(&prog);
    for (rs, vip, lb) in [
        (IpAddr::from(RS), IpAddr::from(VIP), IpAddr::from(LB)),
        (RS6.into(), VIP6.into(), LB6.into()),
    ] {
        let accepted = [
            tcp_between(vip, lb, 53, 40000),
            udp_from(vip, 53, 40000),
            icmp_error(
                vip,
                IcmpErrorKind::PortUnreachable,
                &our_packet(Proto::Udp, vip),
            ),
            icmp_error(
                vip,
                IcmpErrorKind::TimeExceeded,
                &our_packet(Proto::Tcp, vip),
            ),
            wire::echo_reply(LINK, rs, lb, 0, 9, 0, b""),
        ];
        for f in &accepted {
            assert_eq!(run(&prog, f), ACCEPT);
        }
        // The flood: unrelated UDP to us, to other ports, from others.
        assert_eq!(run(&prog, &udp_from(lb, 12345, 40000)), DROP);
        assert_eq!(run(&prog, &udp_from(vip, 53, 9)), DROP);
        assert_eq!(run(&prog, &udp_from(rs, 40000, 53)), DROP);
        assert_eq!(
            run(&prog, &wire::echo_reply(LINK, rs, lb, 0, 8, 0, b"")),
            DROP
        );
    }
    assert_eq!(run(&prog, &arp(RS, true)), ACCEPT);
    assert_eq!(run(&prog, &advert(RS6)), ACCEPT);
    assert_eq!(run(&prog, &arp(VIP, true)), DROP);
    let mut lldp = udp_from(VIP.into(), 53, 40000);
    lldp[12..14].copy_from_slice(&[0x88, 0xcc]);
    assert_eq!(run(&prog, &lldp), DROP);
    for len in 0..14 {
        assert_eq!(run(&prog, &lldp[..len]), DROP);
    }
}

#[test]
fn random_frames_never_break_the_program() {
    // Run every prefix of mutated frames: the interpreter panics on a
    // jump off the end or an unknown opcode.
    let prog = Program::from_blocks(&everything()).unwrap();
    let template = icmp_error(
        VIP6.into(),
        IcmpErrorKind::PortUnreachable,
        &our_packet(Proto::Udp, VIP6.into()),
    );
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..5_000 {
        let mut f = template.clone();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let at = (x as usize) % f.len();
        f[at] = (x >> 32) as u8;
        let cut = (x >> 40) as usize % (f.len() + 1);
        let verdict = run(&prog, &f[..cut]);
        assert!(verdict == ACCEPT || verdict == DROP);
    }
}

#[test]
fn the_kernel_accepts_every_program() {
    // The kernel checks a classic program when it is attached; any
    // socket will do, no privilege needed.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    let result = Program::from_blocks(&everything()).map(|p| p.attach(&socket));
    let filter = filter().attach(&socket);
    // And it does check: a jump past the end is refused.
    let broken = Program(vec![jump(JEQ_K, 0, 0, 5), stmt(RET_K, DROP)]).attach(&socket);
    result.unwrap().unwrap();
    filter.unwrap();
    assert!(broken.is_err());
}
