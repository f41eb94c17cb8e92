//! `Conn` over a fake wire (`net::fake`): the frames the server would send
//! are queued before the step that reads them, and what we sent is read
//! back. The clean close's verdict and the ICMP errors that end a connect.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::channel::Ending;
use crate::failure::IcmpErrorKind;
use crate::net::fake;
use crate::net::tcp::{Flags, Seq, TcpParams};
use crate::net::wire::icmp_error_frame;
use crate::net::wire::testing::{flow, frame_from_server, link, quoted_syn, rs_link, ROUTER};
use crate::wait::Waiter;

const ISN: Seq = Seq(1000);
const SERVER_ISN: Seq = Seq(5000);

fn peer() -> Peer {
    Peer::Kernel {
        addr: "203.0.113.10:80".parse().unwrap(),
    }
}

/// A segment from the server to us.
fn from_server(seq: Seq, ack: Seq, flags: Flags) -> Vec<u8> {
    frame_from_server(seq, ack, flags)
}

fn syn_ack() -> Vec<u8> {
    from_server(SERVER_ISN, ISN + 1, Flags::SYN | Flags::ACK)
}

fn our_syn(seq: Seq) -> Vec<u8> {
    quoted_syn(seq)
}

fn icmp_error(kind: IcmpErrorKind, quoted: &[u8]) -> Vec<u8> {
    icmp_error_frame(rs_link(), ROUTER.into(), flow().src_ip, kind, quoted)
}

/// Runs `f` on a `Conn` over a fake wire whose server side `theirs`
/// already queued `frames`, with `-t` of `timeout`.
fn with_conn<R>(
    frames: &[Vec<u8>],
    timeout: Duration,
    f: impl FnOnce(&mut Conn, &socket2::Socket) -> R,
) -> R {
    let waiter = Waiter::install().unwrap();
    let mut trace = Trace::new(0);
    let (sock, theirs) = fake::pair();
    for frame in frames {
        fake::put(&theirs, frame);
    }
    let mut wire = Wire {
        sock: crate::net::shared::FramePort::Own(sock),
        waiter: &waiter,
        our_mac: link().src,
        deadline: Instant::now() + timeout,
        trace: &mut trace,
    };
    let cfg = TcpParams::new(ISN, 1460);
    let mut conn = Conn::new(&mut wire, (link(), flow()), cfg, 1, (peer(), timeout));
    f(&mut conn, &theirs)
}

fn flags_sent(theirs: &socket2::Socket) -> Vec<Flags> {
    fake::sent(theirs)
        .iter()
        .filter_map(|frame| match wire::parse(frame, false) {
            Ok(Parsed::Tcp(f)) => Some(f.segment.flags),
            _ => None,
        })
        .collect()
}

/// `--ssl -c`: the close_notify wait runs out of the close budget, which
/// resets the connection; the close that follows must not call that
/// clean. Only the FIN handshake is.
#[test]
fn a_close_after_a_timed_out_wait_is_not_clean() {
    with_conn(&[syn_ack()], Duration::from_millis(200), |conn, theirs| {
        conn.connect().unwrap();
        conn.bound_close();
        let mut buf = [0u8; 64];
        let failure = conn.read(&mut buf, Step::Close).unwrap_err();
        assert!(
            matches!(failure, Failure::Timeout(Step::Close)),
            "{failure:?}"
        );
        assert_eq!(conn.finish(true).unwrap(), Ending::NoFinInTime);
        assert!(flags_sent(theirs).iter().any(|f| f.has(Flags::RST)));
    });
}

#[test]
fn the_fin_handshake_is_clean() {
    with_conn(&[syn_ack()], Duration::from_secs(2), |conn, theirs| {
        conn.connect().unwrap();
        // The server's FIN, acknowledging ours, is on its way already.
        let fin = from_server(SERVER_ISN + 1, ISN + 2, Flags::FIN | Flags::ACK);
        fake::put(theirs, &fin);
        assert_eq!(conn.finish(true).unwrap(), Ending::Cleanly);
        assert!(!flags_sent(theirs).iter().any(|f| f.has(Flags::RST)));
    });
}

/// A firewall's REJECT (or nothing listening, on a host that answers so)
/// answers the SYN with an ICMP error: the connect fails at once with it.
#[test]
fn an_icmp_error_about_our_syn_ends_the_connect_at_once() {
    for kind in [
        IcmpErrorKind::AdminProhibited,
        IcmpErrorKind::PortUnreachable,
    ] {
        let error = icmp_error(kind, &our_syn(ISN));
        let started = Instant::now();
        let got = with_conn(&[error], Duration::from_secs(3), |conn, _| conn.connect());
        let router: IpAddr = ROUTER.into();
        assert!(
            matches!(got, Err(Failure::Icmp { kind: k, from }) if k == kind && from == router),
            "{kind}: {got:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(1), "{kind}");
    }
}

/// An error that does not quote our SYN's sequence number (a guess by a
/// host that never saw it), or one that only says the SYN is too big,
/// does not end the connect: the check waits for its SYN/ACK.
#[test]
fn other_icmp_errors_do_not_end_the_connect() {
    let guessed = icmp_error(IcmpErrorKind::AdminProhibited, &our_syn(ISN + 7));
    let too_big = icmp_error(IcmpErrorKind::MtuExceeded { mtu: 1280 }, &our_syn(ISN));
    let got = with_conn(
        &[guessed, too_big, syn_ack()],
        Duration::from_secs(3),
        |conn, _| conn.connect(),
    );
    assert!(got.is_ok(), "{got:?}");
    let got = with_conn(
        &[icmp_error(
            IcmpErrorKind::PortUnreachable,
            &our_syn(ISN + 7),
        )],
        Duration::from_millis(300),
        |conn, _| conn.connect(),
    );
    assert!(
        matches!(got, Err(Failure::Timeout(Step::SynAck))),
        "{got:?}"
    );
}
