//! The classic BPF program that keeps every frame but ours out of user space.
//!
//! Attached to the AF_PACKET socket before it is bound, it passes only the
//! replies a check awaits (`Awaited`): TCP or UDP from VIP:PORT to our
//! port, ICMP errors about our datagrams, echo replies to our pings, ARP
//! replies (IPv6: Neighbor Advertisements) about an address we asked for.
//! Under a 300,000 packet/s flood the kernel drops the rest for us: our
//! process is not woken, and our deadline does not stretch.
//!
//! Each `Awaited` becomes one block that either accepts the frame or falls
//! through to the next block; after the last one, the frame is dropped.
//! Blocks reload what they test, so any mix of kinds and families works
//! and every jump is short and forward. The rules per kind are here; the
//! assembler that encodes them, and refuses a jump it cannot encode, is
//! `asm`. The numbers tested (EtherTypes, protocols, ICMP types) are
//! `net::wire`'s, the same the parser reads.
//!
//! The program is plain data (`Vec<sock_filter>`), so the tests run it on
//! frames built by `net::wire` with a tiny interpreter, no socket needed.

use std::io;
use std::net::IpAddr;

use super::wire::{
    ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ICMPV6_ECHO_REPLY, ICMPV6_ERRORS,
    ICMPV6_NEIGHBOR_ADVERT, ICMP_ECHO_REPLY, ICMP_ERRORS, IPPROTO_ICMP, IPPROTO_ICMPV6,
    IPPROTO_TCP, IPPROTO_UDP,
};
pub use asm::BpfError;
use asm::{
    assemble, Asm, Label, Op, ALU_AND_K, LDX_B_MSH, LD_B_ABS, LD_B_IND, LD_H_ABS, LD_H_IND,
    LD_W_ABS, LD_W_IND,
};

mod asm;

/// ARP operation: reply (RFC 826).
const ARP_REPLY: u32 = 2;
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
            Proto::Tcp => u32::from(IPPROTO_TCP),
            Proto::Udp => u32::from(IPPROTO_UDP),
        }
    }
}

/// One kind of reply a check awaits: the filter lets the union of them
/// through, and the path waits for them. Addresses and ports are the
/// path's own: the VIP and our (reserved) local port, given to
/// [`Program::build`]; a neighbour reply names its target, since the path
/// asks after the real server as well as (for the VIP check) the VIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaited {
    /// TCP or UDP from VIP:`remote_port` to our port, unfragmented.
    Flow { proto: Proto, remote_port: u16 },
    /// ICMP/ICMPv6 errors (from any sender) quoting our `proto` datagrams
    /// from our port to VIP:`remote_port`.
    IcmpErrors { proto: Proto, remote_port: u16 },
    /// Echo replies from the VIP carrying identifier `ident`.
    EchoReply { ident: u16 },
    /// ARP replies (IPv4) or Neighbor Advertisements (IPv6) about `target`
    /// (ARP: sender IP == target; NA: target field == target).
    NeighborReply { target: IpAddr },
}

/// One block of the program: an awaited reply with the VIP and the local
/// port it is relative to. A path has one of each; the tests mix them.
type Block = (Awaited, IpAddr, u16);

impl Asm {
    /// leaves X = its header length.
    fn ipv4(&mut self, protocol: u32, next: Label) {
        self.expect(LD_H_ABS, OFF_ETHERTYPE, u32::from(ETHERTYPE_IPV4), next);
        self.expect(LD_B_ABS, OFF_IP_PROTO, protocol, next);
        self.ops.push(Op::Stmt(LD_H_ABS, OFF_IP_FRAG));
        self.ops.push(Op::JsetThen(0x1fff, next)); // a non-first fragment
        self.ops.push(Op::Stmt(LDX_B_MSH, OFF_IP_START));
    }

    /// An IPv6 packet whose first next header is `next_header`.
    fn ipv6(&mut self, next_header: u32, next: Label) {
        self.expect(LD_H_ABS, OFF_ETHERTYPE, u32::from(ETHERTYPE_IPV6), next);
        self.expect(LD_B_ABS, OFF_IP6_NEXT, next_header, next);
    }

    /// The block for `awaited` from (or about) `vip` to our `local_port`:
    /// accepts what it describes, else goes to `next`.
    fn block(&mut self, (awaited, vip, local_port): Block, next: Label) {
        match awaited {
            Awaited::Flow { proto, remote_port } => match vip {
                IpAddr::V4(ip) => {
                    self.ipv4(proto.number(), next);
                    self.expect(LD_W_ABS, OFF_IP_SRC, u32::from(ip), next);
                    self.expect(LD_H_IND, IND_L4, u32::from(remote_port), next);
                    self.expect(LD_H_IND, IND_L4 + 2, u32::from(local_port), next);
                }
                IpAddr::V6(ip) => {
                    self.ipv6(proto.number(), next);
                    self.ipv6_at(OFF_IP6_SRC, ip, next);
                    self.expect(LD_H_ABS, OFF_IP6_L4, u32::from(remote_port), next);
                    self.expect(LD_H_ABS, OFF_IP6_L4 + 2, u32::from(local_port), next);
                }
            },
            Awaited::IcmpErrors { proto, remote_port } => match vip {
                IpAddr::V4(ip) => {
                    self.ipv4(u32::from(IPPROTO_ICMP), next);
                    self.ops.push(Op::Stmt(LD_B_IND, IND_L4));
                    self.one_of(&ICMP_ERRORS.map(u32::from), next);
                    self.expect(LD_B_IND, IND_QUOTED, IPV4_NO_OPTIONS, next);
                    self.expect(LD_B_IND, IND_QUOTED_PROTO, proto.number(), next);
                    self.expect(LD_W_IND, IND_QUOTED_DST, u32::from(ip), next);
                    self.expect(LD_H_IND, IND_QUOTED_L4, u32::from(local_port), next);
                    self.expect(LD_H_IND, IND_QUOTED_L4 + 2, u32::from(remote_port), next);
                }
                IpAddr::V6(ip) => {
                    self.ipv6(u32::from(IPPROTO_ICMPV6), next);
                    self.ops.push(Op::Stmt(LD_B_ABS, OFF_IP6_L4));
                    self.one_of(&ICMPV6_ERRORS.map(u32::from), next);
                    self.ops.push(Op::Stmt(LD_B_ABS, OFF_QUOTED6));
                    self.ops.push(Op::Stmt(ALU_AND_K, 0xf0));
                    self.ops.push(Op::JeqElse(0x60, next));
                    self.expect(LD_B_ABS, OFF_QUOTED6_NEXT, proto.number(), next);
                    self.ipv6_at(OFF_QUOTED6_DST, ip, next);
                    self.expect(LD_H_ABS, OFF_QUOTED6_L4, u32::from(local_port), next);
                    self.expect(LD_H_ABS, OFF_QUOTED6_L4 + 2, u32::from(remote_port), next);
                }
            },
            Awaited::EchoReply { ident } => match vip {
                IpAddr::V4(ip) => {
                    self.ipv4(u32::from(IPPROTO_ICMP), next);
                    self.expect(LD_W_ABS, OFF_IP_SRC, u32::from(ip), next);
                    self.expect(LD_B_IND, IND_L4, u32::from(ICMP_ECHO_REPLY), next);
                    self.expect(LD_H_IND, IND_ECHO_IDENT, u32::from(ident), next);
                }
                IpAddr::V6(ip) => {
                    self.ipv6(u32::from(IPPROTO_ICMPV6), next);
                    self.ipv6_at(OFF_IP6_SRC, ip, next);
                    self.expect(LD_B_ABS, OFF_IP6_L4, u32::from(ICMPV6_ECHO_REPLY), next);
                    self.expect(LD_H_ABS, OFF_ICMP6_ECHO_IDENT, u32::from(ident), next);
                }
            },
            Awaited::NeighborReply { target } => match target {
                IpAddr::V4(ip) => {
                    self.expect(LD_H_ABS, OFF_ETHERTYPE, u32::from(ETHERTYPE_ARP), next);
                    self.expect(LD_H_ABS, OFF_ARP_OPER, ARP_REPLY, next);
                    self.expect(LD_W_ABS, OFF_ARP_SENDER_IP, u32::from(ip), next);
                }
                IpAddr::V6(ip) => {
                    self.ipv6(u32::from(IPPROTO_ICMPV6), next);
                    self.expect(
                        LD_B_ABS,
                        OFF_IP6_L4,
                        u32::from(ICMPV6_NEIGHBOR_ADVERT),
                        next,
                    );
                    self.ipv6_at(OFF_NA_TARGET, ip, next);
                }
            },
        }
        self.accept();
    }
}

impl Program {
    /// One program passing every reply in `awaited`, from (or about) `vip`
    /// to our `local_port`, and dropping all other frames.
    pub fn build(vip: IpAddr, local_port: u16, awaited: &[Awaited]) -> Result<Program, BpfError> {
        let blocks: Vec<Block> = awaited.iter().map(|a| (*a, vip, local_port)).collect();
        Program::from_blocks(&blocks)
    }

    /// check_raw_serve's one program per interface, for every flow of every
    /// run at once (`net::shared`): with `neighbours`, ARP replies and
    /// Neighbor Advertisements (any: the neighbour cache learns from
    /// them; the direct flows' socket leaves them to the readers'), TCP and
    /// UDP to a local port in `ports`, and ICMP/ICMPv6 errors quoting a
    /// TCP or UDP datagram from such a port. Sources are not tested, as
    /// they differ per run: each run's handler checks its own 4-tuple, as
    /// it does behind a per-run filter. A flood to other ports, or any
    /// traffic of the host's own sockets, still stays in the kernel.
    pub fn port_range(ports: (u16, u16), neighbours: bool) -> Result<Program, BpfError> {
        let range = (u32::from(ports.0), u32::from(ports.1));
        let mut asm = Asm::default();
        if neighbours {
            let next = asm.label();
            asm.expect(LD_H_ABS, OFF_ETHERTYPE, u32::from(ETHERTYPE_ARP), next);
            asm.expect(LD_H_ABS, OFF_ARP_OPER, ARP_REPLY, next);
            asm.accept();
            asm.mark(next);
        }
        for proto in [Proto::Tcp, Proto::Udp] {
            let next = asm.label();
            asm.ipv4(proto.number(), next);
            asm.within(LD_H_IND, IND_L4 + 2, range, next);
            asm.accept();
            asm.mark(next);
            let next = asm.label();
            asm.ipv6(proto.number(), next);
            asm.within(LD_H_ABS, OFF_IP6_L4 + 2, range, next);
            asm.accept();
            asm.mark(next);
            let next = asm.label();
            asm.ipv4(u32::from(IPPROTO_ICMP), next);
            asm.ops.push(Op::Stmt(LD_B_IND, IND_L4));
            asm.one_of(&ICMP_ERRORS.map(u32::from), next);
            asm.expect(LD_B_IND, IND_QUOTED, IPV4_NO_OPTIONS, next);
            asm.expect(LD_B_IND, IND_QUOTED_PROTO, proto.number(), next);
            asm.within(LD_H_IND, IND_QUOTED_L4, range, next);
            asm.accept();
            asm.mark(next);
            let next = asm.label();
            asm.ipv6(u32::from(IPPROTO_ICMPV6), next);
            asm.ops.push(Op::Stmt(LD_B_ABS, OFF_IP6_L4));
            asm.one_of(&ICMPV6_ERRORS.map(u32::from), next);
            asm.expect(LD_B_ABS, OFF_QUOTED6_NEXT, proto.number(), next);
            asm.within(LD_H_ABS, OFF_QUOTED6_L4, range, next);
            asm.accept();
            asm.mark(next);
        }
        if neighbours {
            let next = asm.label();
            asm.ipv6(u32::from(IPPROTO_ICMPV6), next);
            asm.expect(
                LD_B_ABS,
                OFF_IP6_L4,
                u32::from(ICMPV6_NEIGHBOR_ADVERT),
                next,
            );
            asm.accept();
            asm.mark(next);
        }
        assemble(&asm.ops)
    }

    /// One program passing what any of `blocks` describes (in either
    /// family) and dropping all others.
    fn from_blocks(blocks: &[Block]) -> Result<Program, BpfError> {
        if blocks.is_empty() {
            return Err(BpfError::Empty);
        }
        let mut asm = Asm::default();
        for block in blocks {
            let next = asm.label();
            asm.block(*block, next);
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
mod tests;
