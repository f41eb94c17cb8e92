//! The classic BPF assembler under the filter: opcodes, labels, and the
//! one pass that turns labelled ops into `sock_filter`s. It refuses,
//! rather than mis-assembles, a jump it cannot encode (`BpfError`). What
//! the program tests is `bpf`'s business; this file only knows BPF.

use std::fmt;
use std::net::Ipv6Addr;

use super::Program;

// Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
pub(super) const LD_W_ABS: u16 = 0x20; // A = u32 at k
pub(super) const LD_H_ABS: u16 = 0x28; // A = u16 at k
pub(super) const LD_B_ABS: u16 = 0x30; // A = u8 at k
pub(super) const LD_W_IND: u16 = 0x40; // A = u32 at X + k
pub(super) const LD_H_IND: u16 = 0x48; // A = u16 at X + k
pub(super) const LD_B_IND: u16 = 0x50; // A = u8 at X + k
pub(super) const LDX_B_MSH: u16 = 0xb1; // X = 4 * (u8 at k & 0xf)
pub(super) const ALU_AND_K: u16 = 0x54; // A &= k
pub(super) const JEQ_K: u16 = 0x15;
pub(super) const JSET_K: u16 = 0x45;
pub(super) const JGT_K: u16 = 0x25;
pub(super) const JGE_K: u16 = 0x35;
pub(super) const RET_K: u16 = 0x06;

/// The kernel refuses longer programs (BPF_MAXINSNS, linux/bpf_common.h).
pub(super) const BPF_MAXINSNS: usize = 4096;

/// Return value that keeps the whole frame.
pub(super) const ACCEPT: u32 = u32::MAX;
pub(super) const DROP: u32 = 0;

/// Why no program came out: a description that says nothing, or a jump
/// the assembler cannot encode (a bug of ours, never a wrong program).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BpfError {
    /// No `Awaited`: the program would drop everything, which no check wants.
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
pub(super) struct Label(pub(super) usize);

/// One instruction before jump offsets are known. Every conditional jump
/// either falls through or goes to a later label (BPF only jumps forward).
#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
    Stmt(u16, u32),
    /// `if A == k` fall through, else jump to the label.
    JeqElse(u32, Label),
    /// `if A == k` jump to the label, else fall through.
    JeqThen(u32, Label),
    /// `if A & k` jump to the label, else fall through.
    JsetThen(u32, Label),
    /// `if A >= k` fall through, else jump to the label.
    JgeElse(u32, Label),
    /// `if A > k` jump to the label, else fall through.
    JgtThen(u32, Label),
    Mark(Label),
}

pub(super) fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

pub(super) fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Resolve labels into offsets; appends the final `ret #0` (DROP), where
/// a label marked after the last instruction lands. Every jump the
/// program cannot encode is an error, never a guess.
pub(super) fn assemble(ops: &[Op]) -> Result<Program, BpfError> {
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
            Op::JgeElse(k, label) => out.push(jump(JGE_K, k, 0, offset(here, label)?)),
            Op::JgtThen(k, label) => out.push(jump(JGT_K, k, offset(here, label)?, 0)),
            Op::Mark(_) => {}
        }
    }
    out.push(stmt(RET_K, DROP));
    Ok(Program(out))
}

/// Ops under construction, with fresh labels.
#[derive(Default)]
pub(super) struct Asm {
    pub(super) ops: Vec<Op>,
    labels: usize,
}

impl Asm {
    pub(super) fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    pub(super) fn mark(&mut self, label: Label) {
        self.ops.push(Op::Mark(label));
    }

    pub(super) fn accept(&mut self) {
        self.ops.push(Op::Stmt(RET_K, ACCEPT));
    }

    /// Load with `code` at `k`, go on if it equals `value`, else to `next`.
    pub(super) fn expect(&mut self, code: u16, k: u32, value: u32, next: Label) {
        self.ops.push(Op::Stmt(code, k));
        self.ops.push(Op::JeqElse(value, next));
    }

    /// Go on if A is one of `values`, else to `next`.
    pub(super) fn one_of(&mut self, values: &[u32], next: Label) {
        let hit = self.label();
        if let Some((last, rest)) = values.split_last() {
            for v in rest {
                self.ops.push(Op::JeqThen(*v, hit));
            }
            self.ops.push(Op::JeqElse(*last, next));
        }
        self.mark(hit);
    }

    /// Load with `code` at `k`, go on if it is within `lo..=hi`, else to
    /// `next` (the engine's port range).
    pub(super) fn within(&mut self, code: u16, k: u32, (lo, hi): (u32, u32), next: Label) {
        self.ops.push(Op::Stmt(code, k));
        self.ops.push(Op::JgeElse(lo, next));
        self.ops.push(Op::JgtThen(hi, next));
    }

    /// 16 bytes (an IPv6 address) at `k`, word by word.
    pub(super) fn ipv6_at(&mut self, k: u32, addr: Ipv6Addr, next: Label) {
        for (i, w) in addr.octets().chunks_exact(4).enumerate() {
            let word = u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
            self.expect(LD_W_ABS, k + 4 * i as u32, word, next);
        }
    }
}
