//! The classic BPF program that keeps every frame but ours out of user space.
//!
//! Attached to the AF_PACKET socket before it is bound, it passes only ARP
//! replies (IPv6: Neighbor Advertisements) for the real server and TCP
//! segments from VIP:PORT to our port.
//! Under a 300,000 packet/s flood the kernel drops the rest for us: our
//! process is not woken, and our deadline does not stretch.
//!
//! The program is plain data (`Vec<sock_filter>`), so the tests below run it
//! on frames built by `net::frame` with a tiny interpreter, no socket needed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const LD_W_ABS: u16 = 0x20; // A = u32 at k
const LD_H_ABS: u16 = 0x28; // A = u16 at k
const LD_B_ABS: u16 = 0x30; // A = u8 at k
const LD_H_IND: u16 = 0x48; // A = u16 at X + k
const LDX_B_MSH: u16 = 0xb1; // X = 4 * (u8 at k & 0xf)
const JEQ_K: u16 = 0x15;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

/// Return value that keeps the whole frame.
const ACCEPT: u32 = u32::MAX;
const DROP: u32 = 0;

const ETHERTYPE_ARP: u32 = 0x0806;
const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
const IPPROTO_ICMPV6: u32 = 58;
const ICMPV6_NEIGHBOR_ADVERT: u32 = 136;
const ARP_REPLY: u32 = 2;
const IPPROTO_TCP: u32 = 6;

/// Frame offsets (Ethernet header is 14 bytes).
const OFF_ETHERTYPE: u32 = 12;
const OFF_ARP_OPER: u32 = 14 + 6;
const OFF_ARP_SENDER_IP: u32 = 14 + 14;
const OFF_IP_FRAG: u32 = 14 + 6;
const OFF_IP_PROTO: u32 = 14 + 9;
const OFF_IP_SRC: u32 = 14 + 12;
const OFF_IP_START: u32 = 14;
const OFF_TCP_SPORT: u32 = 14; // relative to X = IP header length
const OFF_TCP_DPORT: u32 = 14 + 2;
// IPv6: fixed 40-byte header, then TCP or ICMPv6.
const OFF_IP6_NEXT: u32 = 14 + 6;
const OFF_IP6_SRC: u32 = 14 + 8;
const OFF_ICMP6_TYPE: u32 = 14 + 40;
const OFF_NA_TARGET: u32 = 14 + 40 + 8;
const OFF_TCP6_SPORT: u32 = 14 + 40;
const OFF_TCP6_DPORT: u32 = 14 + 40 + 2;

/// A classic BPF program ready to attach.
#[derive(Clone)]
pub struct Program(pub Vec<libc::sock_filter>);

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Program({} instructions)", self.0.len())
    }
}

/// The flow the filter lets through (both addresses of one family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowFilter {
    pub real_server: IpAddr,
    pub vip: IpAddr,
    pub vip_port: u16,
    pub local_port: u16,
}

/// One instruction before jump offsets are known. Every conditional jump
/// here either falls through or goes to a later label (BPF only jumps
/// forward), most often to the final DROP.
#[derive(Clone, Copy)]
enum Op {
    Stmt(u16, u32),
    /// `if A == k` fall through, else jump to the label.
    JeqElse(u32, Label),
    /// `if A & k` jump to the label, else fall through.
    JsetThen(u32, Label),
    Mark(Label),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    Drop,
    Other,
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Resolve labels into offsets; appends the final `ret #0` (DROP).
fn assemble(ops: &[Op]) -> Program {
    let mut positions = Vec::new();
    let mut count = 0usize;
    for op in ops {
        match op {
            Op::Mark(label) => positions.push((*label, count)),
            _ => count += 1,
        }
    }
    positions.push((Label::Drop, count));
    let at = |label: Label| {
        positions
            .iter()
            .find(|(l, _)| *l == label)
            .map_or(count, |(_, p)| *p)
    };
    let mut out = Vec::with_capacity(count + 1);
    for op in ops {
        let here = out.len();
        // Offsets count instructions after the jump; programs are tiny.
        let offset = |label: Label| u8::try_from(at(label) - here - 1).unwrap_or(u8::MAX);
        match *op {
            Op::Stmt(code, k) => out.push(stmt(code, k)),
            Op::JeqElse(k, label) => out.push(jump(JEQ_K, k, 0, offset(label))),
            Op::JsetThen(k, label) => out.push(jump(JSET_K, k, offset(label), 0)),
            Op::Mark(_) => {}
        }
    }
    out.push(stmt(RET_K, DROP));
    Program(out)
}

/// Load and compare 16 bytes (an IPv6 address) at `offset`, word by word.
fn match_ipv6(ops: &mut Vec<Op>, offset: u32, addr: Ipv6Addr) {
    for (i, word) in addr.octets().chunks_exact(4).enumerate() {
        let word = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        ops.push(Op::Stmt(LD_W_ABS, offset + 4 * i as u32));
        ops.push(Op::JeqElse(word, Label::Drop));
    }
}

impl Program {
    /// The filter for a flow of either family; mixed families (refused by
    /// the command line) get a program that drops everything.
    pub fn for_flow(f: FlowFilter) -> Program {
        match (f.real_server, f.vip) {
            (IpAddr::V4(rs), IpAddr::V4(vip)) => {
                Program::ipv4_flow(rs, vip, f.vip_port, f.local_port)
            }
            (IpAddr::V6(rs), IpAddr::V6(vip)) => {
                Program::ipv6_flow(rs, vip, f.vip_port, f.local_port)
            }
            _ => assemble(&[]),
        }
    }

    /// ARP replies from the real server; TCP from VIP:PORT to our port,
    /// unfragmented.
    fn ipv4_flow(rs: Ipv4Addr, vip: Ipv4Addr, vip_port: u16, local_port: u16) -> Program {
        use Op::*;
        assemble(&[
            Stmt(LD_H_ABS, OFF_ETHERTYPE),
            JeqElse(ETHERTYPE_ARP, Label::Other),
            Stmt(LD_H_ABS, OFF_ARP_OPER),
            JeqElse(ARP_REPLY, Label::Drop),
            Stmt(LD_W_ABS, OFF_ARP_SENDER_IP),
            JeqElse(u32::from(rs), Label::Drop),
            Stmt(RET_K, ACCEPT),
            Mark(Label::Other),
            JeqElse(ETHERTYPE_IPV4, Label::Drop),
            Stmt(LD_W_ABS, OFF_IP_SRC),
            JeqElse(u32::from(vip), Label::Drop),
            Stmt(LD_B_ABS, OFF_IP_PROTO),
            JeqElse(IPPROTO_TCP, Label::Drop),
            Stmt(LD_H_ABS, OFF_IP_FRAG),
            JsetThen(0x1fff, Label::Drop), // a non-first fragment
            Stmt(LDX_B_MSH, OFF_IP_START),
            Stmt(LD_H_IND, OFF_TCP_SPORT),
            JeqElse(u32::from(vip_port), Label::Drop),
            Stmt(LD_H_IND, OFF_TCP_DPORT),
            JeqElse(u32::from(local_port), Label::Drop),
            Stmt(RET_K, ACCEPT),
        ])
    }

    /// Neighbor Advertisements for the real server; TCP from VIP:PORT to
    /// our port directly after the IPv6 header (our peers send no
    /// extension headers; frames with them are not ours to parse).
    fn ipv6_flow(rs: Ipv6Addr, vip: Ipv6Addr, vip_port: u16, local_port: u16) -> Program {
        use Op::*;
        let mut ops = vec![
            Stmt(LD_H_ABS, OFF_ETHERTYPE),
            JeqElse(ETHERTYPE_IPV6, Label::Drop),
            Stmt(LD_B_ABS, OFF_IP6_NEXT),
            JeqElse(IPPROTO_ICMPV6, Label::Other),
            Stmt(LD_B_ABS, OFF_ICMP6_TYPE),
            JeqElse(ICMPV6_NEIGHBOR_ADVERT, Label::Drop),
        ];
        match_ipv6(&mut ops, OFF_NA_TARGET, rs);
        ops.push(Stmt(RET_K, ACCEPT));
        ops.push(Mark(Label::Other));
        ops.push(JeqElse(IPPROTO_TCP, Label::Drop));
        match_ipv6(&mut ops, OFF_IP6_SRC, vip);
        ops.extend([
            Stmt(LD_H_ABS, OFF_TCP6_SPORT),
            JeqElse(u32::from(vip_port), Label::Drop),
            Stmt(LD_H_ABS, OFF_TCP6_DPORT),
            JeqElse(u32::from(local_port), Label::Drop),
            Stmt(RET_K, ACCEPT),
        ]);
        assemble(&ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::frame::{self, Flow, Link};
    use crate::net::tcp::{Flags, Segment, Seq};
    use pnet_datalink::MacAddr;

    /// A minimal classic-BPF interpreter for the opcodes we emit; like the
    /// kernel, an out-of-bounds load drops the frame.
    fn run(prog: &Program, pkt: &[u8]) -> u32 {
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
            match ins.code {
                LD_W_ABS => match load(ins.k, 4) {
                    Some(v) => a = v,
                    None => return DROP,
                },
                LD_H_ABS => match load(ins.k, 2) {
                    Some(v) => a = v,
                    None => return DROP,
                },
                LD_B_ABS => match load(ins.k, 1) {
                    Some(v) => a = v,
                    None => return DROP,
                },
                LD_H_IND => match load(x + ins.k, 2) {
                    Some(v) => a = v,
                    None => return DROP,
                },
                LDX_B_MSH => match load(ins.k, 1) {
                    Some(v) => x = 4 * (v & 0xf),
                    None => return DROP,
                },
                JEQ_K => pc += jump_to(a == ins.k),
                JSET_K => pc += jump_to(a & ins.k != 0),
                RET_K => return ins.k,
                other => panic!("opcode {other:#x} not emitted by us"),
            }
        }
        panic!("program ran off its end");
    }

    const RS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 11);
    const VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
    const LB: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
    const RS6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x11);
    const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
    const LB6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    const MAC: MacAddr = MacAddr(2, 0, 0, 0, 0, 1);

    fn filter_for(rs: IpAddr, vip: IpAddr) -> Program {
        Program::for_flow(FlowFilter {
            real_server: rs,
            vip,
            vip_port: 80,
            local_port: 40000,
        })
    }

    fn filter() -> Program {
        filter_for(RS.into(), VIP.into())
    }

    fn filter6() -> Program {
        filter_for(RS6.into(), VIP6.into())
    }

    fn tcp_between(src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> Vec<u8> {
        let flow = Flow {
            src_ip: src,
            dst_ip: dst,
            src_port: sport,
            dst_port: dport,
        };
        let seg = Segment {
            seq: Seq(1),
            flags: Flags::SYN | Flags::ACK,
            ..Segment::default()
        };
        frame::tcp_frame(Link { src: MAC, dst: MAC }, flow, 1, &seg)
    }

    fn tcp_from(src: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
        tcp_between(src.into(), LB.into(), sport, dport)
    }

    fn tcp6_from(src: Ipv6Addr, sport: u16, dport: u16) -> Vec<u8> {
        tcp_between(src.into(), LB6.into(), sport, dport)
    }

    fn arp(sender: Ipv4Addr, reply: bool) -> Vec<u8> {
        let mut f = frame::arp_request(MAC, sender, LB);
        if reply {
            f[14 + 7] = 2;
        }
        f
    }

    /// A solicitation turned into an advertisement for `target` (only the
    /// fields the filter reads: type and target).
    fn advert(target: Ipv6Addr) -> Vec<u8> {
        let mut f = frame::neighbor_solicit(MAC, LB6, target);
        f[14 + 40] = 136;
        f
    }

    fn assert_well_formed(prog: &Program) {
        let last = prog.0.last().unwrap();
        assert_eq!((last.code, last.k), (RET_K, DROP));
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
        assert_eq!(filter().0.len(), 21);
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
        assert_eq!(run(&prog, &frame::neighbor_solicit(MAC, LB6, RS6)), DROP);
        assert_eq!(run(&prog, &tcp_from(VIP, 80, 40000)), DROP);
        assert_eq!(run(&prog, &arp(RS, true)), DROP);
        let whole = tcp6_from(VIP6, 80, 40000);
        for len in 0..58 {
            assert_eq!(run(&prog, &whole[..len]), DROP, "{len} bytes");
        }
    }

    #[test]
    fn mixed_families_drop_everything() {
        let prog = filter_for(RS.into(), VIP6.into());
        assert_eq!(run(&prog, &tcp_from(VIP, 80, 40000)), DROP);
        assert_eq!(run(&prog, &tcp6_from(VIP6, 80, 40000)), DROP);
    }
}
