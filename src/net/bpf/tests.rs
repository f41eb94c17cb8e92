//! The filter run on frames built by `net::wire`, by a tiny interpreter:
//! the per-check rules here and in `kinds`, the assembler in `assembler`.

use super::asm::*;
use super::*;
use crate::failure::IcmpErrorKind;
use crate::net::tcp::{Flags, Segment, Seq};
use crate::net::wire::{self, Flow, Link};
use pnet_datalink::MacAddr;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A minimal classic-BPF interpreter for the opcodes we emit; like the
/// kernel, an out-of-bounds load drops the frame.
pub(super) fn run(prog: &Program, pkt: &[u8]) -> u32 {
    let (mut a, mut x) = (0u32, 0u32);
    let mut pc = 0usize;
    let load = |at: u32, size: usize| -> Option<u32> {
        let at = at as usize;
        let bytes = pkt.get(at..at + size)?;
        Some(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
    };
    for _ in 0..prog.0.len() {
        let ins = prog.0[pc];
        pc += 1;
        let jump_to = |cond: bool| usize::from(if cond { ins.jt } else { ins.jf });
        let loaded = match ins.code {
            LD_W_ABS => Some(load(ins.k, 4)),
            LD_H_ABS => Some(load(ins.k, 2)),
            LD_B_ABS => Some(load(ins.k, 1)),
            LD_W_IND => Some(load(x + ins.k, 4)),
            LD_H_IND => Some(load(x + ins.k, 2)),
            LD_B_IND => Some(load(x + ins.k, 1)),
            _ => None,
        };
        match (ins.code, loaded) {
            (_, Some(Some(v))) => a = v,
            (_, Some(None)) => return DROP,
            (LDX_B_MSH, _) => match load(ins.k, 1) {
                Some(v) => x = 4 * (v & 0xf),
                None => return DROP,
            },
            (ALU_AND_K, _) => a &= ins.k,
            (JEQ_K, _) => pc += jump_to(a == ins.k),
            (JSET_K, _) => pc += jump_to(a & ins.k != 0),
            (JGE_K, _) => pc += jump_to(a >= ins.k),
            (JGT_K, _) => pc += jump_to(a > ins.k),
            (RET_K, _) => return ins.k,
            (other, _) => panic!("opcode {other:#x} not emitted by us"),
        }
    }
    panic!("program ran off its end");
}

const RS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 11);
const VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
const LB: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 254);
const RS6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x11);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
const LB6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const ROUTER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xfe);
const MAC: MacAddr = MacAddr(2, 0, 0, 0, 0, 1);
const LINK: Link = Link { src: MAC, dst: MAC };

/// What `for_flow` used to build: TCP from VIP:80 to 40000 and
/// neighbour replies about the real server.
fn filter_for(rs: IpAddr, vip: IpAddr) -> Program {
    Program::build(
        vip,
        40000,
        &[
            Awaited::Flow {
                proto: Proto::Tcp,
                remote_port: 80,
            },
            Awaited::NeighborReply { target: rs },
        ],
    )
    .unwrap()
}

fn filter() -> Program {
    filter_for(RS.into(), VIP.into())
}

fn filter6() -> Program {
    filter_for(RS6.into(), VIP6.into())
}

fn flow(src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> Flow {
    Flow {
        src_ip: src,
        dst_ip: dst,
        src_port: sport,
        dst_port: dport,
    }
}

fn tcp_between(src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> Vec<u8> {
    let seg = Segment {
        seq: Seq(1),
        flags: Flags::SYN | Flags::ACK,
        ..Segment::default()
    };
    wire::tcp_frame(LINK, flow(src, dst, sport, dport), 1, &seg)
}

fn tcp_from(src: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
    tcp_between(src.into(), LB.into(), sport, dport)
}

fn tcp6_from(src: Ipv6Addr, sport: u16, dport: u16) -> Vec<u8> {
    tcp_between(src.into(), LB6.into(), sport, dport)
}

fn udp_from(src: IpAddr, sport: u16, dport: u16) -> Vec<u8> {
    let dst = if src.is_ipv6() { LB6.into() } else { LB.into() };
    wire::udp_frame(LINK, flow(src, dst, sport, dport), 1, b"answer")
}

fn arp(sender: Ipv4Addr, reply: bool) -> Vec<u8> {
    let mut f = wire::arp_request(MAC, sender, LB);
    if reply {
        f[14 + 7] = 2;
    }
    f
}

/// A solicitation turned into an advertisement for `target` (only the
/// fields the filter reads: type and target).
fn advert(target: Ipv6Addr) -> Vec<u8> {
    let mut f = wire::neighbor_solicit(MAC, LB6, target);
    f[14 + 40] = 136;
    f
}

fn assert_well_formed(prog: &Program) {
    let last = prog.0.last().unwrap();
    assert_eq!((last.code, last.k), (RET_K, DROP));
    assert!(prog.0.len() <= BPF_MAXINSNS);
    let jumps = prog
        .0
        .iter()
        .enumerate()
        .filter(|(_, i)| i.code & 0x07 == 0x05);
    for (i, ins) in jumps {
        assert!(i + 1 + usize::from(ins.jt) < prog.0.len());
        assert!(i + 1 + usize::from(ins.jf) < prog.0.len());
    }
}

#[test]
fn jump_offsets_land_inside_the_program() {
    assert_well_formed(&filter());
    assert_well_formed(&filter6());
    // 21 when one program per family shared the EtherType load; each
    // block now loads its own.
    assert_eq!(filter().0.len(), 22);
}

#[test]
fn passes_only_our_flow() {
    let prog = filter();
    assert_eq!(run(&prog, &tcp_from(VIP, 80, 40000)), ACCEPT);
    assert_eq!(run(&prog, &tcp_from(VIP, 81, 40000)), DROP);
    assert_eq!(run(&prog, &tcp_from(VIP, 80, 40001)), DROP);
    assert_eq!(run(&prog, &tcp_from(RS, 80, 40000)), DROP);
}

#[test]
fn passes_only_arp_replies_from_the_real_server() {
    let prog = filter();
    assert_eq!(run(&prog, &arp(RS, true)), ACCEPT);
    assert_eq!(run(&prog, &arp(RS, false)), DROP);
    assert_eq!(run(&prog, &arp(VIP, true)), DROP);
}

#[test]
fn drops_fragments_other_protocols_and_short_frames() {
    let prog = filter();
    let mut frag = tcp_from(VIP, 80, 40000);
    frag[14 + 7] = 8; // fragment offset 8
    assert_eq!(run(&prog, &frag), DROP);
    let mut udp = tcp_from(VIP, 80, 40000);
    udp[14 + 9] = 17;
    assert_eq!(run(&prog, &udp), DROP);
    assert_eq!(run(&prog, &tcp6_from(VIP6, 80, 40000)), DROP);
    let whole = tcp_from(VIP, 80, 40000);
    for len in 0..36 {
        assert_eq!(run(&prog, &whole[..len]), DROP, "{len} bytes");
    }
}

#[test]
fn honours_ip_options() {
    // IHL 6: the ports move 4 bytes further; X follows the header length.
    let mut f = tcp_from(VIP, 80, 40000);
    f[14] = 0x46;
    f.splice(34..34, [1, 1, 1, 0]);
    assert_eq!(run(&filter(), &f), ACCEPT);
}

#[test]
fn ipv6_passes_only_our_flow_and_adverts_for_the_real_server() {
    let prog = filter6();
    assert_eq!(run(&prog, &tcp6_from(VIP6, 80, 40000)), ACCEPT);
    assert_eq!(run(&prog, &tcp6_from(VIP6, 81, 40000)), DROP);
    assert_eq!(run(&prog, &tcp6_from(VIP6, 80, 40001)), DROP);
    assert_eq!(run(&prog, &tcp6_from(RS6, 80, 40000)), DROP);
    assert_eq!(run(&prog, &advert(RS6)), ACCEPT);
    assert_eq!(run(&prog, &advert(VIP6)), DROP);
    // The solicitation itself (type 135) is not an answer.
    assert_eq!(run(&prog, &wire::neighbor_solicit(MAC, LB6, RS6)), DROP);
    assert_eq!(run(&prog, &tcp_from(VIP, 80, 40000)), DROP);
    assert_eq!(run(&prog, &arp(RS, true)), DROP);
    let whole = tcp6_from(VIP6, 80, 40000);
    for len in 0..58 {
        assert_eq!(run(&prog, &whole[..len]), DROP, "{len} bytes");
    }
}

#[test]
fn mixed_families_pass_each_only_in_its_own_family() {
    // for_flow dropped everything for a v4 real server and a v6 VIP;
    // Awaited replies are independent now, so each passes in its own family
    // and nothing leaks into the other.
    let prog = filter_for(RS.into(), VIP6.into());
    assert_eq!(run(&prog, &tcp_from(VIP, 80, 40000)), DROP);
    assert_eq!(run(&prog, &advert(RS6)), DROP);
    assert_eq!(run(&prog, &tcp6_from(VIP6, 80, 40000)), ACCEPT);
    assert_eq!(run(&prog, &arp(RS, true)), ACCEPT);
    // Describing nothing is refused rather than dropping everything.
    assert_eq!(
        Program::build(VIP.into(), 40000, &[]).unwrap_err(),
        BpfError::Empty
    );
}

mod assembler;
mod kinds;
mod range;
