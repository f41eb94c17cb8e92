//! The assembler: labels it cannot place and jumps it cannot encode are
//! errors, never a wrong program.

use super::*;

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
    // Many Awaited replies are many short blocks: only the length limits them.
    let many: Vec<Awaited> = (0..200).map(|i| Awaited::EchoReply { ident: i }).collect();
    let prog = Program::build(VIP6.into(), 0, &many).unwrap();
    assert_well_formed(&prog);
    let reply = wire::echo_reply(LINK, VIP6.into(), LB6.into(), 0, 199, 1, b"");
    assert_eq!(run(&prog, &reply), ACCEPT);
    let too_many = vec![many[0]; 300];
    assert!(matches!(
        Program::build(VIP6.into(), 0, &too_many),
        Err(BpfError::TooLong { .. })
    ));
}
