//! The engine over a fake interface (`net::fake`): what the reader
//! demultiplexes, what a lease sends, and that a lease's drop frees its
//! port, with the counters issue 22 asks for.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::*;
use crate::net::fake;
use crate::net::wire::testing::*;
use crate::net::wire::{self, Flow, Parsed};
use crate::net::Wire;
use crate::trace::Trace;
use crate::wait::Waiter;

/// Runs get 64200-64203, direct flows 64204-64207.
const PORTS: (u16, u16) = (64200, 64207);

fn reply_to(port: u16) -> Vec<u8> {
    let flow = Flow {
        src_ip: VIP.into(),
        dst_ip: LB_IP.into(),
        src_port: 80,
        dst_port: port,
    };
    wire::tcp_frame(rs_link(), flow, 1, &syn())
}

fn readable(fd: RawFd, within: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = within.as_millis() as libc::c_int;
    // SAFETY: one live pollfd, a bounded timeout.
    unsafe { libc::poll(&mut pfd, 1, ms) == 1 }
}

/// Wait until the reader has counted `n` frames received.
fn received(engine: &Engine, n: u64) {
    let until = Instant::now() + Duration::from_secs(5);
    while engine.stats().frames_received < n {
        assert!(Instant::now() < until, "reader saw {:?}", engine.stats());
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn lease(engine: &Engine) -> Lease {
    engine
        .lease(1, LB_IP.into(), &[Proto::Tcp], None)
        .unwrap()
        .expect("a port of the range")
}

#[test]
fn frames_go_to_the_run_holding_their_port_and_nowhere_else() {
    let (ours, theirs) = fake::pair();
    let engine = Engine::on_socket(PORTS, 1, ours);
    let mut a = FramePort::Shared(lease(&engine));
    let b = lease(&engine);
    let port_a = match &a {
        FramePort::Shared(l) => l.port(),
        FramePort::Own(_) => unreachable!(),
    };
    assert_ne!(port_a, b.port());
    fake::put(&theirs, &reply_to(port_a));
    fake::put(&theirs, &reply_to(PORTS.1)); // in the range, lent to nobody
    fake::put(&theirs, &wire::arp_reply(rs_link(), RS_IP, LB_IP)); // nobody asked
    received(&engine, 3);
    assert!(readable(a.raw_fd(), Duration::from_secs(1)));
    assert!(!readable(b.raw_fd(), Duration::ZERO));
    let rx = a.recv().unwrap().expect("the frame for port a");
    assert_eq!(rx.frame, reply_to(port_a).as_slice());
    assert!(a.recv().unwrap().is_none());
    assert!(
        !readable(a.raw_fd(), Duration::ZERO),
        "drained: not readable"
    );
    a.send(b"a frame of ours").unwrap();
    assert_eq!(fake::sent(&theirs), vec![b"a frame of ours".to_vec()]);
    let stats = engine.stats();
    assert_eq!(
        (
            stats.frames_delivered,
            stats.frames_unmatched,
            stats.frames_sent
        ),
        (1, 2, 1)
    );
    assert_eq!((stats.flows_in_flight, stats.shared_runs), (2, 2));
    // A run that ends frees its port: its frames then match no flow.
    drop(a);
    assert_eq!(engine.stats().flows_in_flight, 1);
    fake::put(&theirs, &reply_to(port_a));
    received(&engine, 4);
    assert_eq!(engine.stats().frames_unmatched, 3);
    // A port outside the range is not the engine's: the run opens its own.
    assert!(engine
        .lease(1, LB_IP.into(), &[Proto::Tcp], Some(40000))
        .unwrap()
        .is_none());
}

#[test]
fn the_range_is_split_between_runs_and_direct_flows() {
    assert_eq!(
        split((61000, 61999)),
        ((61000, 61499), Some((61500, 61999)))
    );
    assert_eq!(split((5, 6)), ((5, 5), Some((6, 6))));
    assert_eq!(split((7, 7)), ((7, 7), None));
    let (ours, _theirs) = fake::pair();
    let engine = Engine::on_socket(PORTS, 1, ours);
    assert_eq!(engine.ports(), Some(PORTS));
    let run = lease(&engine);
    assert!((64200..=64203).contains(&run.port()));
    let direct: Vec<DirectPort> = (0..4)
        .map(|_| engine.direct_port(LB_IP.into()).unwrap().unwrap())
        .collect();
    for d in &direct {
        assert!((64204..=64207).contains(&d.port()), "{}", d.port());
    }
    let stats = engine.stats();
    assert_eq!((stats.flows_in_flight, stats.direct_runs), (5, 4));
    // All four lent: the next is refused, not taken from the runs' half.
    assert!(engine.direct_port(LB_IP.into()).is_err());
    drop(direct);
    assert_eq!(engine.stats().flows_in_flight, 1);
    assert!(engine.direct_port(LB_IP.into()).unwrap().is_some());
}

#[test]
fn neighbour_answers_reach_the_runs_resolving_and_the_cache() {
    let (ours, theirs) = fake::pair();
    let engine = Engine::on_socket(PORTS, 1, ours);
    let (mut a, mut b, c) = (lease(&engine), lease(&engine), lease(&engine));
    a.resolving(RS_IP.into());
    b.resolving(RS_IP.into());
    assert_eq!(engine.stats().resolving, 2);
    assert_eq!(engine.young_neighbour(1, RS_IP.into()), None);
    fake::put(&theirs, &wire::arp_reply(rs_link(), RS_IP, LB_IP));
    received(&engine, 1);
    for lease in [&a, &b] {
        assert!(readable(lease.raw_fd(), Duration::from_secs(1)));
    }
    assert!(!c.has_queued());
    a.resolved();
    drop(b);
    assert_eq!(engine.stats().resolving, 0);
    assert_eq!(engine.young_neighbour(1, RS_IP.into()), Some(RS_MAC));
    assert_eq!(engine.young_neighbour(2, RS_IP.into()), None);
    let other = Ipv4Addr::new(198, 51, 100, 99);
    assert_eq!(engine.young_neighbour(1, other.into()), None);
    assert_eq!(engine.stats().neighbour_hits, 1);
}

/// `Wire` over a shared port: the same receive loop, woken by the
/// mailbox's eventfd.
#[test]
fn a_wire_receives_through_its_mailbox() {
    let (ours, theirs) = fake::pair();
    let engine = Engine::on_socket(PORTS, 1, ours);
    let lease = lease(&engine);
    let port = lease.port();
    let waiter = Waiter::install().unwrap();
    let mut trace = Trace::new(0);
    let mut wire = Wire {
        sock: FramePort::Shared(lease),
        waiter: &waiter,
        our_mac: link().src,
        deadline: Instant::now() + Duration::from_secs(5),
        trace: &mut trace,
    };
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        fake::put(&theirs, &reply_to(port));
        theirs
    });
    let got = wire.receive(wire.deadline, |_, parsed| match parsed {
        Parsed::Tcp(f) => Some(f.flow.dst_port),
        _ => None,
    });
    assert_eq!(got.unwrap(), Some(port));
    drop(sender.join().unwrap());
    // Nothing more: the wait ends at `until`, not before.
    let until = Instant::now() + Duration::from_millis(30);
    assert_eq!(wire.receive(until, |_, _| Some(())).unwrap(), None);
    assert!(Instant::now() >= until);
}
