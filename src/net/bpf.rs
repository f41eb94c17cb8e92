//! The classic BPF program that keeps every frame but ours out of user space.
//!
//! Attached to the AF_PACKET socket before it is bound, it passes only the
//! frames a check described with `Expect`s: TCP or UDP from VIP:PORT to our
//! port, ICMP errors about our datagrams, echo replies to our pings, ARP
//! replies (IPv6: Neighbor Advertisements) about an address we asked for.
//! Under a 300,000 packet/s flood the kernel drops the rest for us: our
//! process is not woken, and our deadline does not stretch.
//!
//! Each `Expect` becomes one block that either accepts the frame or falls
//! through to the next block; after the last one, the frame is dropped.
//! Blocks reload what they test, so any mix of kinds and families works
//! and every jump is short and forward. The assembler refuses, rather than
//! mis-assembles, a jump it cannot encode (`BpfError`).
//!
//! The program is plain data (`Vec<sock_filter>`), so the tests below run it
//! on frames built by `net::frame` with a tiny interpreter, no socket needed.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
const LD_W_ABS: u16 = 0x20; // A = u32 at k
const LD_H_ABS: u16 = 0x28; // A = u16 at k
const LD_B_ABS: u16 = 0x30; // A = u8 at k
const LD_W_IND: u16 = 0x40; // A = u32 at X + k
const LD_H_IND: u16 = 0x48; // A = u16 at X + k
const LD_B_IND: u16 = 0x50; // A = u8 at X + k
const LDX_B_MSH: u16 = 0xb1; // X = 4 * (u8 at k & 0xf)
const ALU_AND_K: u16 = 0x54; // A &= k
const JEQ_K: u16 = 0x15;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

/// The kernel refuses longer programs (BPF_MAXINSNS, linux/bpf_common.h).
const BPF_MAXINSNS: usize = 4096;

/// Return value that keeps the whole frame.
const ACCEPT: u32 = u32::MAX;
const DROP: u32 = 0;

const ETHERTYPE_ARP: u32 = 0x0806;
const ETHERTYPE_IPV4: u32 = 0x0800;
const ETHERTYPE_IPV6: u32 = 0x86dd;
const IPPROTO_ICMP: u32 = 1;
const IPPROTO_TCP: u32 = 6;
const IPPROTO_UDP: u32 = 17;
const IPPROTO_ICMPV6: u32 = 58;
const ARP_REPLY: u32 = 2;
const ICMP_ECHO_REPLY: u32 = 0;
/// The ICMP errors that quote a datagram and that `net::frame` parses:
/// destination unreachable, time exceeded, parameter problem.
const ICMP_ERRORS: [u32; 3] = [3, 11, 12];
/// ICMPv6 errors: destination unreachable, packet too big, time
/// exceeded, parameter problem (RFC 4443 2.1).
const ICMPV6_ERRORS: [u32; 4] = [1, 2, 3, 4];
const ICMPV6_ECHO_REPLY: u32 = 129;
const ICMPV6_NEIGHBOR_ADVERT: u32 = 136;
/// Version 4 and IHL 5 in one byte: the quoted header is ours, and we
/// send no IP options.
const IPV4_NO_OPTIONS: u32 = 0x45;

/// Frame offsets (Ethernet header is 14 bytes).
const OFF_ETHERTYPE: u32 = 12;
const OFF_ARP_OPER: u32 = 14 + 6;
const OFF_ARP_SENDER_IP: u32 = 14 + 14;
const OFF_IP_START: u32 = 14;
const OFF_IP_FRAG: u32 = 14 + 6;
const OFF_IP_PROTO: u32 = 14 + 9;
const OFF_IP_SRC: u32 = 14 + 12;
// Relative to X = the outer IPv4 header's length, which may carry options.
const IND_L4: u32 = 14; // TCP/UDP ports, ICMP type
const IND_ECHO_IDENT: u32 = 14 + 4;
const IND_QUOTED: u32 = 14 + 8; // the quoted IPv4 header, no options
const IND_QUOTED_PROTO: u32 = IND_QUOTED + 9;
const IND_QUOTED_DST: u32 = IND_QUOTED + 16;
const IND_QUOTED_L4: u32 = IND_QUOTED + 20;
// IPv6: fixed 40-byte header, then TCP, UDP or ICMPv6.
const OFF_IP6_NEXT: u32 = 14 + 6;
const OFF_IP6_SRC: u32 = 14 + 8;
const OFF_IP6_L4: u32 = 14 + 40; // ports, ICMPv6 type
const OFF_ICMP6_ECHO_IDENT: u32 = OFF_IP6_L4 + 4;
const OFF_NA_TARGET: u32 = OFF_IP6_L4 + 8;
const OFF_QUOTED6: u32 = OFF_IP6_L4 + 8; // the quoted IPv6 header
const OFF_QUOTED6_NEXT: u32 = OFF_QUOTED6 + 6;
const OFF_QUOTED6_DST: u32 = OFF_QUOTED6 + 24;
const OFF_QUOTED6_L4: u32 = OFF_QUOTED6 + 40;

/// A classic BPF program ready to attach.
#[derive(Clone)]
pub struct Program(pub Vec<libc::sock_filter>);

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Program({} instructions)", self.0.len())
    }
}

/// A transport protocol a check speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    fn number(self) -> u32 {
        match self {
            Proto::Tcp => IPPROTO_TCP,
            Proto::Udp => IPPROTO_UDP,
        }
    }
}

/// One kind of frame a check waits for; the filter passes the union.
/// Each is of the family of its address; families may be mixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// TCP or UDP from `remote` (VIP:PORT) to our `local_port`, unfragmented.
    Transport {
        proto: Proto,
        remote: SocketAddr,
        local_port: u16,
    },
    /// ICMP/ICMPv6 errors (from any sender) quoting a datagram of ours:
    /// `proto` from our `local_port` to `remote`.
    IcmpErrorFor {
        proto: Proto,
        remote: SocketAddr,
        local_port: u16,
    },
    /// Echo replies from `from` carrying identifier `ident`.
    EchoReply { from: IpAddr, ident: u16 },
    /// ARP replies (IPv4) or Neighbor Advertisements (IPv6) about `target`
    /// (ARP: sender IP == target; NA: target field == target).
    NeighborReply { target: IpAddr },
}

/// Why no program came out: a description that says nothing, or a jump
/// the assembler cannot encode (a bug of ours, never a wrong program).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BpfError {
    /// No `Expect`: the program would drop everything, which no check wants.
    Empty,
    /// A jump to a label that is never placed.
    UnplacedLabel { label: usize },
    /// A label placed twice.
    DuplicateLabel { label: usize },
    /// A jump at instruction `at` to `target`, not after it: classic BPF
    /// only jumps forward.
    BackwardJump { at: usize, target: usize },
    /// A conditional jump over more than 255 instructions.
    JumpTooFar { at: usize, distance: usize },
    /// More instructions than the kernel takes (BPF_MAXINSNS).
    TooLong { len: usize },
}

impl fmt::Display for BpfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BpfError::Empty => f.write_str("packet filter describes no frames"),
            BpfError::UnplacedLabel { label } => {
                write!(f, "packet filter jumps to label {label}, never placed")
            }
            BpfError::DuplicateLabel { label } => {
                write!(f, "packet filter places label {label} twice")
            }
            BpfError::BackwardJump { at, target } => write!(
                f,
                "packet filter jumps backward (instruction {at} to {target})"
            ),
            BpfError::JumpTooFar { at, distance } => write!(
                f,
                "packet filter jump at instruction {at} over {distance} instructions (at most 255)"
            ),
            BpfError::TooLong { len } => write!(
                f,
                "packet filter of {len} instructions (at most {BPF_MAXINSNS})"
            ),
        }
    }
}

impl std::error::Error for BpfError {}

/// A jump target, placed with `Op::Mark`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Label(usize);

/// One instruction before jump offsets are known. Every conditional jump
/// either falls through or goes to a later label (BPF only jumps forward).
#[derive(Debug, Clone, Copy)]
enum Op {
    Stmt(u16, u32),
    /// `if A == k` fall through, else jump to the label.
    JeqElse(u32, Label),
    /// `if A == k` jump to the label, else fall through.
    JeqThen(u32, Label),
    /// `if A & k` jump to the label, else fall through.
    JsetThen(u32, Label),
    Mark(Label),
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

/// Resolve labels into offsets; appends the final `ret #0` (DROP), where
/// a label marked after the last instruction lands. Every jump the
/// program cannot encode is an error, never a guess.
fn assemble(ops: &[Op]) -> Result<Program, BpfError> {
    let mut positions: Vec<Option<usize>> = Vec::new();
    let mut count = 0usize;
    for op in ops {
        match *op {
            Op::Mark(Label(label)) => {
                if positions.len() <= label {
                    positions.resize(label + 1, None);
                }
                if positions[label].replace(count).is_some() {
                    return Err(BpfError::DuplicateLabel { label });
                }
            }
            _ => count += 1,
        }
    }
    let len = count + 1;
    if len > BPF_MAXINSNS {
        return Err(BpfError::TooLong { len });
    }
    let offset = |here: usize, Label(label): Label| -> Result<u8, BpfError> {
        let target = positions
            .get(label)
            .copied()
            .flatten()
            .ok_or(BpfError::UnplacedLabel { label })?;
        // Offsets count instructions after the jump.
        let distance = target
            .checked_sub(here + 1)
            .ok_or(BpfError::BackwardJump { at: here, target })?;
        u8::try_from(distance).map_err(|_| BpfError::JumpTooFar { at: here, distance })
    };
    let mut out = Vec::with_capacity(len);
    for op in ops {
        let here = out.len();
        match *op {
            Op::Stmt(code, k) => out.push(stmt(code, k)),
            Op::JeqElse(k, label) => out.push(jump(JEQ_K, k, 0, offset(here, label)?)),
            Op::JeqThen(k, label) => out.push(jump(JEQ_K, k, offset(here, label)?, 0)),
            Op::JsetThen(k, label) => out.push(jump(JSET_K, k, offset(here, label)?, 0)),
            Op::Mark(_) => {}
        }
    }
    out.push(stmt(RET_K, DROP));
    Ok(Program(out))
}

/// Ops under construction, with fresh labels.
#[derive(Default)]
struct Asm {
    ops: Vec<Op>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    fn mark(&mut self, label: Label) {
        self.ops.push(Op::Mark(label));
    }

    fn accept(&mut self) {
        self.ops.push(Op::Stmt(RET_K, ACCEPT));
    }

    /// Load with `code` at `k`, go on if it equals `value`, else to `next`.
    fn expect(&mut self, code: u16, k: u32, value: u32, next: Label) {
        self.ops.push(Op::Stmt(code, k));
        self.ops.push(Op::JeqElse(value, next));
    }

    /// Go on if A is one of `values`, else to `next`.
    fn one_of(&mut self, values: &[u32], next: Label) {
        let hit = self.label();
        if let Some((last, rest)) = values.split_last() {
            for v in rest {
                self.ops.push(Op::JeqThen(*v, hit));
            }
            self.ops.push(Op::JeqElse(*last, next));
        }
        self.mark(hit);
    }

    /// 16 bytes (an IPv6 address) at `k`, word by word.
    fn ipv6_at(&mut self, k: u32, addr: Ipv6Addr, next: Label) {
        for (i, w) in addr.octets().chunks_exact(4).enumerate() {
            let word = u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
            self.expect(LD_W_ABS, k + 4 * i as u32, word, next);
        }
    }

    /// An unfragmented (or first-fragment) IPv4 packet of `protocol`;
    /// leaves X = its header length.
    fn ipv4(&mut self, protocol: u32, next: Label) {
        self.expect(LD_H_ABS, OFF_ETHERTYPE, ETHERTYPE_IPV4, next);
        self.expect(LD_B_ABS, OFF_IP_PROTO, protocol, next);
        self.ops.push(Op::Stmt(LD_H_ABS, OFF_IP_FRAG));
        self.ops.push(Op::JsetThen(0x1fff, next)); // a non-first fragment
        self.ops.push(Op::Stmt(LDX_B_MSH, OFF_IP_START));
    }

    /// An IPv6 packet whose first next header is `next_header`.
    fn ipv6(&mut self, next_header: u32, next: Label) {
        self.expect(LD_H_ABS, OFF_ETHERTYPE, ETHERTYPE_IPV6, next);
        self.expect(LD_B_ABS, OFF_IP6_NEXT, next_header, next);
    }

    /// The block for `e`: accepts what it describes, else goes to `next`.
    fn block(&mut self, e: Expect, next: Label) {
        match e {
            Expect::Transport {
                proto,
                remote,
                local_port,
            } => match remote.ip() {
                IpAddr::V4(ip) => {
                    self.ipv4(proto.number(), next);
                    self.expect(LD_W_ABS, OFF_IP_SRC, u32::from(ip), next);
                    self.expect(LD_H_IND, IND_L4, u32::from(remote.port()), next);
                    self.expect(LD_H_IND, IND_L4 + 2, u32::from(local_port), next);
                }
                IpAddr::V6(ip) => {
                    self.ipv6(proto.number(), next);
                    self.ipv6_at(OFF_IP6_SRC, ip, next);
                    self.expect(LD_H_ABS, OFF_IP6_L4, u32::from(remote.port()), next);
                    self.expect(LD_H_ABS, OFF_IP6_L4 + 2, u32::from(local_port), next);
                }
            },
            Expect::IcmpErrorFor {
                proto,
                remote,
                local_port,
            } => match remote.ip() {
                IpAddr::V4(ip) => {
                    self.ipv4(IPPROTO_ICMP, next);
                    self.ops.push(Op::Stmt(LD_B_IND, IND_L4));
                    self.one_of(&ICMP_ERRORS, next);
                    self.expect(LD_B_IND, IND_QUOTED, IPV4_NO_OPTIONS, next);
                    self.expect(LD_B_IND, IND_QUOTED_PROTO, proto.number(), next);
                    self.expect(LD_W_IND, IND_QUOTED_DST, u32::from(ip), next);
                    self.expect(LD_H_IND, IND_QUOTED_L4, u32::from(local_port), next);
                    self.expect(LD_H_IND, IND_QUOTED_L4 + 2, u32::from(remote.port()), next);
                }
                IpAddr::V6(ip) => {
                    self.ipv6(IPPROTO_ICMPV6, next);
                    self.ops.push(Op::Stmt(LD_B_ABS, OFF_IP6_L4));
                    self.one_of(&ICMPV6_ERRORS, next);
                    self.ops.push(Op::Stmt(LD_B_ABS, OFF_QUOTED6));
                    self.ops.push(Op::Stmt(ALU_AND_K, 0xf0));
                    self.ops.push(Op::JeqElse(0x60, next));
                    self.expect(LD_B_ABS, OFF_QUOTED6_NEXT, proto.number(), next);
                    self.ipv6_at(OFF_QUOTED6_DST, ip, next);
                    self.expect(LD_H_ABS, OFF_QUOTED6_L4, u32::from(local_port), next);
                    self.expect(LD_H_ABS, OFF_QUOTED6_L4 + 2, u32::from(remote.port()), next);
                }
            },
            Expect::EchoReply { from, ident } => match from {
                IpAddr::V4(ip) => {
                    self.ipv4(IPPROTO_ICMP, next);
                    self.expect(LD_W_ABS, OFF_IP_SRC, u32::from(ip), next);
                    self.expect(LD_B_IND, IND_L4, ICMP_ECHO_REPLY, next);
                    self.expect(LD_H_IND, IND_ECHO_IDENT, u32::from(ident), next);
                }
                IpAddr::V6(ip) => {
                    self.ipv6(IPPROTO_ICMPV6, next);
                    self.ipv6_at(OFF_IP6_SRC, ip, next);
                    self.expect(LD_B_ABS, OFF_IP6_L4, ICMPV6_ECHO_REPLY, next);
                    self.expect(LD_H_ABS, OFF_ICMP6_ECHO_IDENT, u32::from(ident), next);
                }
            },
            Expect::NeighborReply { target } => match target {
                IpAddr::V4(ip) => {
                    self.expect(LD_H_ABS, OFF_ETHERTYPE, ETHERTYPE_ARP, next);
                    self.expect(LD_H_ABS, OFF_ARP_OPER, ARP_REPLY, next);
                    self.expect(LD_W_ABS, OFF_ARP_SENDER_IP, u32::from(ip), next);
                }
                IpAddr::V6(ip) => {
                    self.ipv6(IPPROTO_ICMPV6, next);
                    self.expect(LD_B_ABS, OFF_IP6_L4, ICMPV6_NEIGHBOR_ADVERT, next);
                    self.ipv6_at(OFF_NA_TARGET, ip, next);
                }
            },
        }
        self.accept();
    }
}

impl Program {
    /// One program passing every frame any of `expected` describes (in
    /// either family) and dropping all others.
    pub fn build(expected: &[Expect]) -> Result<Program, BpfError> {
        if expected.is_empty() {
            return Err(BpfError::Empty);
        }
        let mut asm = Asm::default();
        for e in expected {
            let next = asm.label();
            asm.block(*e, next);
            asm.mark(next);
        }
        assemble(&asm.ops)
    }

    /// Attach to `socket` (SO_ATTACH_FILTER); for a packet socket, before
    /// it is bound, so no frame is queued unfiltered.
    pub fn attach(&self, socket: &socket2::Socket) -> io::Result<()> {
        if self.0.len() > usize::from(u16::MAX) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "BPF program too long",
            ));
        }
        let program: Vec<socket2::SockFilter> = self
            .0
            .iter()
            .map(|i| socket2::SockFilter::new(i.code, i.jt, i.jf, i.k))
            .collect();
        socket.attach_filter(&program)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::frame::{self, Flow, IcmpErrorKind, Link};
    use crate::net::tcp::{Flags, Segment, Seq};
    use pnet_datalink::MacAddr;
    use std::net::Ipv4Addr;

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
        Program::build(&[
            Expect::Transport {
                proto: Proto::Tcp,
                remote: SocketAddr::new(vip, 80),
                local_port: 40000,
            },
            Expect::NeighborReply { target: rs },
        ])
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
        frame::tcp_frame(LINK, flow(src, dst, sport, dport), 1, &seg)
    }

    fn tcp_from(src: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
        tcp_between(src.into(), LB.into(), sport, dport)
    }

    fn tcp6_from(src: Ipv6Addr, sport: u16, dport: u16) -> Vec<u8> {
        tcp_between(src.into(), LB6.into(), sport, dport)
    }

    fn udp_from(src: IpAddr, sport: u16, dport: u16) -> Vec<u8> {
        let dst = if src.is_ipv6() { LB6.into() } else { LB.into() };
        frame::udp_frame(LINK, flow(src, dst, sport, dport), 1, b"answer")
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
        assert_eq!(run(&prog, &frame::neighbor_solicit(MAC, LB6, RS6)), DROP);
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
        // Expects are independent now, so each passes in its own family
        // and nothing leaks into the other.
        let prog = filter_for(RS.into(), VIP6.into());
        assert_eq!(run(&prog, &tcp_from(VIP, 80, 40000)), DROP);
        assert_eq!(run(&prog, &advert(RS6)), DROP);
        assert_eq!(run(&prog, &tcp6_from(VIP6, 80, 40000)), ACCEPT);
        assert_eq!(run(&prog, &arp(RS, true)), ACCEPT);
        // Describing nothing is refused rather than dropping everything.
        assert_eq!(Program::build(&[]).unwrap_err(), BpfError::Empty);
    }

    // ---- the assembler ----

    #[test]
    fn a_label_never_placed_is_an_error() {
        // Before: resolved silently to the final DROP.
        let ops = [Op::Stmt(LD_H_ABS, 12), Op::JeqElse(1, Label(3))];
        assert_eq!(
            assemble(&ops).unwrap_err(),
            BpfError::UnplacedLabel { label: 3 }
        );
    }

    #[test]
    fn a_backward_label_is_an_error() {
        // Before: the offset underflowed into jf = 255, past the end.
        let back = [
            Op::Mark(Label(0)),
            Op::Stmt(LD_H_ABS, 12),
            Op::JeqElse(1, Label(0)),
            Op::Stmt(RET_K, ACCEPT),
        ];
        assert_eq!(
            assemble(&back).unwrap_err(),
            BpfError::BackwardJump { at: 1, target: 0 }
        );
        // A jump to itself is backward too.
        let own = [
            Op::Stmt(LD_H_ABS, 12),
            Op::Mark(Label(0)),
            Op::JeqElse(1, Label(0)),
        ];
        assert_eq!(
            assemble(&own).unwrap_err(),
            BpfError::BackwardJump { at: 1, target: 1 }
        );
    }

    #[test]
    fn a_jump_too_far_is_an_error_and_255_is_not() {
        let over = |n: usize| {
            let mut ops = vec![Op::Stmt(LD_H_ABS, 12), Op::JeqElse(1, Label(0))];
            ops.extend(std::iter::repeat_n(Op::Stmt(LD_B_ABS, 0), n));
            ops.push(Op::Mark(Label(0)));
            ops.push(Op::Stmt(RET_K, ACCEPT));
            assemble(&ops)
        };
        let ok = over(255).unwrap();
        assert_eq!(ok.0[1].jf, 255);
        assert_well_formed(&ok);
        // Before: jf became 255, a jump to the wrong instruction.
        assert_eq!(
            over(256).unwrap_err(),
            BpfError::JumpTooFar {
                at: 1,
                distance: 256
            }
        );
    }

    #[test]
    fn duplicate_labels_and_long_programs_are_errors() {
        let twice = [Op::Mark(Label(0)), Op::Stmt(RET_K, 0), Op::Mark(Label(0))];
        assert_eq!(
            assemble(&twice).unwrap_err(),
            BpfError::DuplicateLabel { label: 0 }
        );
        let long = vec![Op::Stmt(LD_B_ABS, 0); BPF_MAXINSNS];
        assert_eq!(
            assemble(&long).unwrap_err(),
            BpfError::TooLong {
                len: BPF_MAXINSNS + 1
            }
        );
        assert!(assemble(&long[1..]).is_ok());
        // Many Expects are many short blocks: only the length limits them.
        let many: Vec<Expect> = (0..200)
            .map(|i| Expect::EchoReply {
                from: VIP6.into(),
                ident: i,
            })
            .collect();
        let prog = Program::build(&many).unwrap();
        assert_well_formed(&prog);
        let reply = frame::echo_reply(LINK, VIP6.into(), LB6.into(), 0, 199, 1, b"");
        assert_eq!(run(&prog, &reply), ACCEPT);
        let too_many = vec![many[0]; 300];
        assert!(matches!(
            Program::build(&too_many),
            Err(BpfError::TooLong { .. })
        ));
    }

    // ---- every Expect kind ----

    fn transport(proto: Proto, remote: IpAddr) -> Expect {
        Expect::Transport {
            proto,
            remote: SocketAddr::new(remote, 53),
            local_port: 40000,
        }
    }

    fn icmp_error_for(proto: Proto, remote: IpAddr) -> Expect {
        Expect::IcmpErrorFor {
            proto,
            remote: SocketAddr::new(remote, 53),
            local_port: 40000,
        }
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
            let prog = Program::build(&[transport(Proto::Udp, remote)]).unwrap();
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
        let prog = Program::build(&[transport(Proto::Udp, VIP.into())]).unwrap();
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
            Proto::Udp => frame::udp_frame(LINK, f, 1, b"query"),
            Proto::Tcp => frame::tcp_frame(LINK, f, 1, &Segment::default()),
        };
        frame[14..].to_vec()
    }

    fn icmp_error(remote: IpAddr, kind: IcmpErrorKind, quoted: &[u8]) -> Vec<u8> {
        let (from, to) = if remote.is_ipv6() {
            (IpAddr::from(ROUTER6), IpAddr::from(LB6))
        } else {
            (ROUTER.into(), LB.into())
        };
        frame::icmp_error_frame(LINK, from, to, kind, quoted)
    }

    #[test]
    fn icmp_errors_about_our_datagrams_both_families() {
        use IcmpErrorKind::*;
        for remote in [IpAddr::from(VIP), VIP6.into()] {
            for proto in [Proto::Tcp, Proto::Udp] {
                let prog = Program::build(&[icmp_error_for(proto, remote)]).unwrap();
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
                let echo = frame::echo_reply(LINK, remote, remote, 0, 1, 1, &ours);
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
        let prog = Program::build(&[icmp_error_for(Proto::Udp, VIP.into())]).unwrap();
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
            let prog = Program::build(&[Expect::EchoReply {
                from,
                ident: 0xbeef,
            }])
            .unwrap();
            assert_well_formed(&prog);
            let reply = frame::echo_reply(LINK, from, lb, 0, 0xbeef, 1, b"ping");
            let end = if from.is_ipv6() {
                14 + 40 + 6
            } else {
                14 + 20 + 6
            };
            assert_eq!(accepted_from(&prog, &reply), end);
            let wrong_ident = frame::echo_reply(LINK, from, lb, 0, 0xbeee, 1, b"ping");
            assert_eq!(run(&prog, &wrong_ident), DROP);
            let wrong_source = frame::echo_reply(LINK, lb, from, 0, 0xbeef, 1, b"ping");
            assert_eq!(run(&prog, &wrong_source), DROP);
            // Our own request (or a peer's) is not a reply.
            let request = frame::echo_request(LINK, from, lb, 0, 0xbeef, 1, b"ping");
            assert_eq!(run(&prog, &request), DROP);
            let other_family = if from.is_ipv6() {
                frame::echo_reply(LINK, RS.into(), LB.into(), 0, 0xbeef, 1, b"")
            } else {
                frame::echo_reply(LINK, RS6.into(), LB6.into(), 0, 0xbeef, 1, b"")
            };
            assert_eq!(run(&prog, &other_family), DROP);
        }
        let prog = Program::build(&[Expect::EchoReply {
            from: RS.into(),
            ident: 7,
        }])
        .unwrap();
        let reply = frame::echo_reply(LINK, RS.into(), LB.into(), 0, 7, 1, b"");
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
        let prog = Program::build(&[Expect::NeighborReply { target: RS.into() }]).unwrap();
        let reply = frame::arp_reply(LINK, RS, LB);
        assert_eq!(accepted_from(&prog, &reply), 14 + 18);
        assert_eq!(run(&prog, &frame::arp_reply(LINK, VIP, LB)), DROP);
        assert_eq!(run(&prog, &frame::arp_request_to(LINK, RS, LB)), DROP);
        assert_eq!(run(&prog, &advert(RS6)), DROP);

        let prog = Program::build(&[Expect::NeighborReply { target: RS6.into() }]).unwrap();
        let na = frame::neighbor_advert(LINK, RS6, LB6, RS6, Some(MAC));
        assert_eq!(accepted_from(&prog, &na), 14 + 40 + 24);
        assert_eq!(
            run(&prog, &frame::neighbor_advert(LINK, RS6, LB6, VIP6, None)),
            DROP
        );
        // A proxy answering about the target is still about the target.
        assert_eq!(
            run(&prog, &frame::neighbor_advert(LINK, LB6, LB6, RS6, None)),
            ACCEPT
        );
        assert_eq!(
            run(&prog, &frame::neighbor_solicit_to(LINK, LB6, RS6)),
            DROP
        );
        assert_eq!(run(&prog, &arp(RS, true)), DROP);
    }

    /// Every kind, both families, in one program.
    fn everything() -> Vec<Expect> {
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
                Expect::EchoReply { from: rs, ident: 9 },
                Expect::NeighborReply { target: rs },
            ]);
        }
        all
    }

    #[test]
    fn one_program_for_every_kind_and_family() {
        let prog = Program::build(&everything()).unwrap();
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
                frame::echo_reply(LINK, rs, lb, 0, 9, 0, b""),
            ];
            for f in &accepted {
                assert_eq!(run(&prog, f), ACCEPT);
            }
            // The flood: unrelated UDP to us, to other ports, from others.
            assert_eq!(run(&prog, &udp_from(lb, 12345, 40000)), DROP);
            assert_eq!(run(&prog, &udp_from(vip, 53, 9)), DROP);
            assert_eq!(run(&prog, &udp_from(rs, 40000, 53)), DROP);
            assert_eq!(
                run(&prog, &frame::echo_reply(LINK, rs, lb, 0, 8, 0, b"")),
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
        let prog = Program::build(&everything()).unwrap();
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
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        let result = Program::build(&everything()).map(|p| p.attach(&socket));
        let filter = filter().attach(&socket);
        // And it does check: a jump past the end is refused.
        let broken = Program(vec![jump(JEQ_K, 0, 0, 5), stmt(RET_K, DROP)]).attach(&socket);
        result.unwrap().unwrap();
        filter.unwrap();
        assert!(broken.is_err());
    }
}
