//! The classic BPF program that keeps every frame but ours out of user space.
//!
//! Attached to the AF_PACKET socket before it is bound, it passes only ARP
//! replies from the real server and TCP segments from VIP:PORT to our port.
//! Under a 300,000 packet/s flood the kernel drops the rest for us: our
//! process is not woken, and our deadline does not stretch.
//!
//! The program is plain data (`Vec<sock_filter>`), so the tests below run it
//! on frames built by `net::frame` with a tiny interpreter, no socket needed.

use std::io;
use std::mem;
use std::net::Ipv4Addr;
use std::os::fd::RawFd;

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

/// A classic BPF program ready to attach.
#[derive(Clone)]
pub struct Program(pub Vec<libc::sock_filter>);

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Program({} instructions)", self.0.len())
    }
}

/// The flow the filter lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowFilter {
    pub real_server: Ipv4Addr,
    pub vip: Ipv4Addr,
    pub vip_port: u16,
    pub local_port: u16,
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

impl Program {
    /// ARP replies from the real server; TCP from VIP:PORT to our port,
    /// unfragmented. Jump offsets count instructions after the jump.
    pub fn ipv4_flow(f: FlowFilter) -> Program {
        const DROP_AT: u8 = 20;
        // `skip(i)` = offset from instruction i to the DROP at the end.
        let skip = |i: u8| DROP_AT - i - 1;
        Program(vec![
            /* 0 */ stmt(LD_H_ABS, OFF_ETHERTYPE),
            /* 1 */ jump(JEQ_K, ETHERTYPE_ARP, 0, 5), // not ARP: to 7
            /* 2 */ stmt(LD_H_ABS, OFF_ARP_OPER),
            /* 3 */ jump(JEQ_K, ARP_REPLY, 0, skip(3)),
            /* 4 */ stmt(LD_W_ABS, OFF_ARP_SENDER_IP),
            /* 5 */ jump(JEQ_K, u32::from(f.real_server), 0, skip(5)),
            /* 6 */ stmt(RET_K, ACCEPT),
            /* 7 */ jump(JEQ_K, ETHERTYPE_IPV4, 0, skip(7)),
            /* 8 */ stmt(LD_W_ABS, OFF_IP_SRC),
            /* 9 */ jump(JEQ_K, u32::from(f.vip), 0, skip(9)),
            /* 10 */ stmt(LD_B_ABS, OFF_IP_PROTO),
            /* 11 */ jump(JEQ_K, IPPROTO_TCP, 0, skip(11)),
            /* 12 */ stmt(LD_H_ABS, OFF_IP_FRAG),
            /* 13 */ jump(JSET_K, 0x1fff, skip(13), 0), // a non-first fragment
            /* 14 */ stmt(LDX_B_MSH, OFF_IP_START),
            /* 15 */ stmt(LD_H_IND, OFF_TCP_SPORT),
            /* 16 */ jump(JEQ_K, u32::from(f.vip_port), 0, skip(16)),
            /* 17 */ stmt(LD_H_IND, OFF_TCP_DPORT),
            /* 18 */ jump(JEQ_K, u32::from(f.local_port), 0, skip(18)),
            /* 19 */ stmt(RET_K, ACCEPT),
            /* 20 = DROP_AT */ stmt(RET_K, DROP),
        ])
    }

    /// Attach to `fd` (SO_ATTACH_FILTER), before the socket is bound.
    pub fn attach(&self, fd: RawFd) -> io::Result<()> {
        let prog = libc::sock_fprog {
            len: u16::try_from(self.0.len())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "BPF program too long"))?,
            filter: self.0.as_ptr().cast_mut(),
        };
        // SAFETY: `prog` points at our live instruction vector for the
        // duration of the call; the kernel copies the program.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_ATTACH_FILTER,
                (&prog as *const libc::sock_fprog).cast(),
                mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
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
    const MAC: MacAddr = MacAddr(2, 0, 0, 0, 0, 1);

    fn filter() -> Program {
        Program::ipv4_flow(FlowFilter {
            real_server: RS,
            vip: VIP,
            vip_port: 80,
            local_port: 40000,
        })
    }

    fn tcp_from(src: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
        let flow = Flow {
            src_ip: src,
            dst_ip: LB,
            src_port: sport,
            dst_port: dport,
        };
        let seg = Segment {
            seq: Seq(1),
            flags: Flags::SYN | Flags::ACK,
            ..Segment::default()
        };
        frame::tcp_ipv4(Link { src: MAC, dst: MAC }, flow, 1, &seg)
    }

    fn arp(sender: Ipv4Addr, reply: bool) -> Vec<u8> {
        let mut f = frame::arp_request(MAC, sender, LB);
        if reply {
            f[14 + 7] = 2;
        }
        f
    }

    #[test]
    fn jump_offsets_land_on_drop_and_stay_in_bounds() {
        let prog = filter();
        assert_eq!(prog.0.len(), 21);
        assert_eq!(prog.0[20].code, RET_K);
        assert_eq!(prog.0[20].k, DROP);
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
        let mut v6 = tcp_from(VIP, 80, 40000);
        v6[12] = 0x86;
        v6[13] = 0xdd;
        assert_eq!(run(&prog, &v6), DROP);
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
}
