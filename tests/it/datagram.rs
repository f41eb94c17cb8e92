//! The datagram exchange of the engine, end to end: the library's own
//! `RawPath::open` and `UdpFlow` run on a thread inside the testbed's
//! `lb` namespace and send UDP to the VIP through each real server's MAC.
//! rs1 answers from the VIP (a UDP echo bound to it), rs2 lacks the VIP
//! (no answer: a timeout at the deadline), rs3 holds it with nothing
//! listening (ICMP port unreachable at once). Loss through the relay is
//! recovered by the resend. The BACKUP side (the kernel's UDP to the real
//! server's own address) gets the same three cases.
//!
//! check_raw_dns stands on this exchange (`tests/it/dns.rs` tests the check);
//! here the engine part is tested alone, over real kernels and real frames.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::*;
use check_raw::channel::Datagram;
use check_raw::net::path::{Awaited, PathSpec, Proto, RawPath};
use check_raw::net::shared::{Engine, Stats};
use check_raw::trace::Trace;
use check_raw::transport::kernel::KernelTarget;
use check_raw::transport::kernel_udp::KernelDatagram;
use check_raw::wait::Waiter;

const UDP_PORT: u16 = 5300;

/// A UDP echo on `addr:UDP_PORT` inside `host`, answering `count`
/// datagrams with "echo:" and what came, then ending.
fn echo(tb: &Testbed, host: &str, addr: &str, count: usize) -> thread::JoinHandle<usize> {
    let ns = tb.ns(host).to_string();
    let bind: SocketAddr = (addr.parse::<IpAddr>().unwrap(), UDP_PORT).into();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = thread::spawn(move || {
        crate::harness::netns::enter(&ns).unwrap();
        let socket = UdpSocket::bind(bind).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        ready_tx.send(()).unwrap();
        let mut buf = [0u8; 2048];
        let mut answered = 0;
        for _ in 0..count {
            let Ok((n, from)) = socket.recv_from(&mut buf) else {
                break;
            };
            let mut reply = b"echo:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            socket.send_to(&reply, from).unwrap();
            answered += 1;
        }
        answered
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("echo server did not start");
    handle
}

/// The outcome of one raw exchange from `lb` to the VIP via `real_server`.
type Exchanged = Result<(Vec<u8>, Duration), String>;

fn raw_exchange(tb: &Testbed, real_server: &str, vip: &str, timeout: Duration) -> Exchanged {
    raw_exchange_via(tb, real_server, vip, timeout, false).0
}

/// `raw_exchange`, through a check_raw_serve `Engine` of its own when
/// `shared` (with the engine's counters after the exchange).
fn raw_exchange_via(
    tb: &Testbed,
    real_server: &str,
    vip: &str,
    timeout: Duration,
    shared: bool,
) -> (Exchanged, Option<Stats>) {
    let spec = PathSpec {
        iface: Some(IFACE.to_string()),
        real_server: real_server.parse().unwrap(),
        vip: vip.parse().unwrap(),
        source: None,
        source_port: None,
        expect: vec![
            Awaited::Flow {
                proto: Proto::Udp,
                remote_port: UDP_PORT,
            },
            Awaited::IcmpErrors {
                proto: Proto::Udp,
                remote_port: UDP_PORT,
            },
        ],
    };
    tb.in_ns("lb", move || {
        let waiter = Waiter::install()?;
        let mut trace = Trace::new(3);
        let deadline = Instant::now() + timeout;
        let engine = shared.then(Engine::new);
        let mut path = RawPath::open(&spec, engine.as_ref(), &waiter, deadline, &mut trace)
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        let mut udp = path.udp(UDP_PORT);
        let mut accept = |reply: &[u8]| {
            if reply == b"echo:ping" {
                Ok(())
            } else {
                Err("not our echo".to_string())
            }
        };
        let result = udp.exchange(b"ping", &mut accept);
        drop(path);
        let stats = engine.as_ref().map(Engine::stats);
        let result = result.map_err(|f| format!("{f:?}\n{}", trace.into_lines().join("\n")));
        Ok((result, stats))
    })
    .expect("the raw path opens in lb")
}

fn kernel_exchange(tb: &Testbed, real_server: &str, timeout: Duration) -> Exchanged {
    let addr: SocketAddr = (real_server.parse::<IpAddr>().unwrap(), UDP_PORT).into();
    tb.in_ns("lbb", move || {
        let waiter = Waiter::install()?;
        let mut trace = Trace::new(0);
        let target = KernelTarget {
            addr,
            source: None,
            source_port: None,
        };
        let deadline = Instant::now() + timeout;
        let mut udp = KernelDatagram::new(target, &waiter, deadline, &mut trace);
        Ok(udp
            .exchange(b"ping", &mut |r| {
                (r == b"echo:ping").then_some(()).ok_or("not ours".into())
            })
            .map_err(|f| format!("{f:?}")))
    })
    .unwrap()
}

#[test]
fn raw_udp_to_the_vip_gets_the_real_servers_answer() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let server = echo(&tb, "rs1", VIP, 1);
    let (reply, took) = raw_exchange(&tb, RS1, VIP, Duration::from_secs(2)).unwrap();
    assert_eq!(reply, b"echo:ping");
    assert!(took < Duration::from_millis(100), "{took:?}");
    assert_eq!(server.join().unwrap(), 1);
}

#[test]
fn raw_udp_to_a_real_server_without_the_vip_times_out_at_the_deadline() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let start = Instant::now();
    let got = raw_exchange(&tb, RS2, VIP, Duration::from_millis(700));
    let took = start.elapsed();
    let err = got.expect_err("rs2 lacks the VIP: no answer");
    assert!(err.starts_with("Timeout(Reply)"), "{err}");
    // Resent on the backoff (200 ms, then 400 ms) before the deadline.
    assert_eq!(err.matches("> UDP").count(), 3, "{err}");
    assert!(took >= Duration::from_millis(700), "{took:?}");
    assert!(took < Duration::from_millis(900), "{took:?}");
}

#[test]
fn raw_udp_to_a_closed_port_on_the_vip_is_port_unreachable_at_once() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let start = Instant::now();
    let err = raw_exchange(&tb, RS3, VIP, Duration::from_secs(3)).unwrap_err();
    assert!(err.starts_with("Icmp { kind: PortUnreachable"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(1));
}

/// check_raw_serve's engine carries the datagram exchange: the answer
/// reaches the run by its port, an ICMP error by the port it quotes, in
/// either family, on the shared socket.
#[test]
fn raw_udp_through_the_engine_gets_answers_and_icmp_errors() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    for (rs1, rs3, vip) in [(RS1, RS3, VIP), (RS1_6, RS3_6, VIP6)] {
        let server = echo(&tb, "rs1", vip, 1);
        let (reply, stats) = raw_exchange_via(&tb, rs1, vip, Duration::from_secs(2), true);
        assert_eq!(reply.unwrap().0, b"echo:ping");
        assert_eq!(server.join().unwrap(), 1);
        let stats = stats.unwrap();
        assert_eq!(
            (stats.shared_runs, stats.own_socket_runs),
            (1, 0),
            "{stats:?}"
        );
        let (err, stats) = raw_exchange_via(&tb, rs3, vip, Duration::from_secs(3), true);
        let err = err.unwrap_err();
        assert!(err.starts_with("Icmp { kind: PortUnreachable"), "{err}");
        assert_eq!(stats.unwrap().shared_runs, 1);
    }
}

#[test]
fn raw_udp_over_ipv6() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let server = echo(&tb, "rs1", VIP6, 1);
    let (reply, _) = raw_exchange(&tb, RS1_6, VIP6, Duration::from_secs(2)).unwrap();
    assert_eq!(reply, b"echo:ping");
    assert_eq!(server.join().unwrap(), 1);
    let err = raw_exchange(&tb, RS3_6, VIP6, Duration::from_secs(3)).unwrap_err();
    assert!(err.starts_with("Icmp { kind: PortUnreachable"), "{err}");
}

#[test]
fn lost_request_and_lost_answer_are_recovered_by_the_resend() {
    require!(Need::Testbed);
    // The request lost: rs1 sees one. The answer lost: rs1 answers twice.
    for (plan, requests) in [
        (
            FaultPlan::none().toward_rs(Faults::new().drop_nth_udp([1])),
            1,
        ),
        (
            FaultPlan::none().toward_lb(Faults::new().drop_nth_udp([1])),
            2,
        ),
    ] {
        let tb = Testbed::with_relay(plan.clone());
        let server = echo(&tb, "rs1", VIP, requests);
        let (reply, took) = raw_exchange(&tb, RS1, VIP, Duration::from_secs(2))
            .unwrap_or_else(|e| panic!("{plan:?}: {e}"));
        assert_eq!(reply, b"echo:ping");
        // Recovered by the first resend, 200 ms after the first send.
        assert!(took >= Duration::from_millis(190), "{plan:?}: {took:?}");
        assert!(took < Duration::from_millis(600), "{plan:?}: {took:?}");
        assert_eq!(server.join().unwrap(), requests, "{plan:?}");
    }
}

#[test]
fn kernel_udp_in_the_backup_role() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let server = echo(&tb, "rs2", RS2, 1);
    let (reply, _) = kernel_exchange(&tb, RS2, Duration::from_secs(2)).unwrap();
    assert_eq!(reply, b"echo:ping");
    assert_eq!(server.join().unwrap(), 1);
    let err = kernel_exchange(&tb, RS3, Duration::from_secs(2)).unwrap_err();
    assert!(err.starts_with("Icmp { kind: PortUnreachable"), "{err}");
    let err = kernel_exchange(&tb, NOBODY, Duration::from_millis(500)).unwrap_err();
    // No such host: the kernel's own ARP fails (host unreachable, the
    // kernel's word, not the real server's) or nothing comes back before
    // the deadline.
    assert!(
        err.starts_with("Timeout(Reply)")
            || err.contains("EHOSTUNREACH")
            || err.contains("No route to host"),
        "{err}"
    );
}
