//! The BACKUP role's datagram exchange: the kernel's UDP to the real
//! server's own address, with the raw path's schedule (the same
//! `resend` loop: backoff inside the deadline) and the same failures.
//!
//! The socket is connected, so the kernel hands us only datagrams from the
//! real server's address and port, and reports an ICMP port unreachable
//! for our datagram as ECONNREFUSED on the next call.

use std::io;
use std::net::{IpAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::kernel::KernelTarget;
use crate::channel::{Datagram, Peer};
use crate::failure::{Failure, IcmpErrorKind, Step};
use crate::resend::{resend, Backoff};
use crate::trace::Trace;
use crate::wait::{Ready, Waiter};

/// Datagrams read at most per wait, so a stream of wrong answers cannot
/// hold us past a resend or the deadline.
const READS_PER_WAKE: usize = 64;
/// Largest datagram read: anything bigger is cut, and then refused by the
/// caller as malformed.
const MAX_DATAGRAM: usize = 65_535;

pub struct KernelDatagram<'a> {
    target: KernelTarget,
    peer: Peer,
    waiter: &'a Waiter,
    deadline: Instant,
    trace: &'a mut Trace,
}

impl<'a> KernelDatagram<'a> {
    pub fn new(
        target: KernelTarget,
        waiter: &'a Waiter,
        deadline: Instant,
        trace: &'a mut Trace,
    ) -> KernelDatagram<'a> {
        KernelDatagram {
            target,
            peer: Peer::Kernel { addr: target.addr },
            waiter,
            deadline,
            trace,
        }
    }

    fn socket(&self) -> Result<UdpSocket, Failure> {
        let addr = self.target.addr;
        let local = |e: io::Error| Failure::Local(format!("cannot create a UDP socket: {e}"));
        let socket = Socket::new(
            Domain::for_address(addr),
            Type::DGRAM.nonblocking().cloexec(),
            Some(Protocol::UDP),
        )
        .map_err(local)?;
        if let Some(from) = self.target.bind() {
            socket.bind(&from.into()).map_err(|e| {
                Failure::Local(format!("cannot bind the datagram socket to {from}: {e}"))
            })?;
        }
        socket.connect(&addr.into()).map_err(Failure::Connect)?;
        Ok(socket.into())
    }
}

impl Datagram for KernelDatagram<'_> {
    fn exchange(
        &mut self,
        request: &[u8],
        accept: &mut dyn FnMut(&[u8]) -> Result<(), String>,
    ) -> Result<(Vec<u8>, Duration), Failure> {
        let socket = self.socket()?;
        let addr = self.target.addr;
        let rs = addr.ip();
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let started = Instant::now();
        let deadline = self.deadline;
        let send = |udp: &mut Self| {
            socket.send(request).map_err(|e| send_failure(e, rs))?;
            udp.trace
                .frame(|| format!("> UDP to {addr}, {} bytes", request.len()));
            Ok(())
        };
        let wait = |udp: &mut Self, until: Instant| -> Result<Option<Vec<u8>>, Failure> {
            if udp.waiter.wait(socket.as_raw_fd(), libc::POLLIN, until)? == Ready::Timeout {
                return Ok(None);
            }
            for _ in 0..READS_PER_WAKE {
                let n = match socket.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(send_failure(e, rs)),
                };
                let reply = &buf[..n];
                match accept(reply) {
                    Ok(()) => {
                        udp.trace.frame(|| format!("< UDP from {addr}, {n} bytes"));
                        return Ok(Some(reply.to_vec()));
                    }
                    Err(why) => udp
                        .trace
                        .frame(|| format!("< UDP from {addr}, {n} bytes (ignored: {why})")),
                }
            }
            Ok(None)
        };
        match resend(self, deadline, Backoff::REQUESTS, send, wait)? {
            Some(reply) => Ok((reply, started.elapsed())),
            None => Err(Failure::Timeout(Step::Reply)),
        }
    }

    fn peer(&self) -> &Peer {
        &self.peer
    }

    fn trace(&mut self) -> &mut Trace {
        self.trace
    }
}

/// A connected UDP socket reports the real server's port unreachable for
/// our datagram as ECONNREFUSED on its next call. Other errors (host or
/// network unreachable is mostly our own kernel's neighbour lookup failing)
/// are the kernel's word, not the real server's.
fn send_failure(e: io::Error, rs: IpAddr) -> Failure {
    match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => Failure::Icmp {
            kind: IcmpErrorKind::PortUnreachable,
            from: rs,
        },
        _ => Failure::Connect(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddr};
    use std::thread;

    fn target(addr: SocketAddr) -> KernelTarget {
        KernelTarget {
            addr,
            source: None,
            source_port: None,
        }
    }

    /// A UDP server on loopback that ignores the first `drop` requests and
    /// answers the next with `answers` (in order), then stops.
    fn server(drop: usize, answers: Vec<Vec<u8>>) -> (SocketAddr, thread::JoinHandle<usize>) {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let mut buf = [0u8; 512];
            let mut seen = 0;
            for _ in 0..drop {
                socket.recv_from(&mut buf).unwrap();
                seen += 1;
            }
            let (_, from) = socket.recv_from(&mut buf).unwrap();
            seen += 1;
            for answer in answers {
                socket.send_to(&answer, from).unwrap();
            }
            seen
        });
        (addr, handle)
    }

    #[test]
    fn a_lost_request_is_sent_again_and_wrong_answers_are_skipped() {
        let waiter = Waiter::install().unwrap();
        let mut trace = Trace::new(3);
        let (addr, server) = server(1, vec![b"wrong".to_vec(), b"right".to_vec()]);
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut udp = KernelDatagram::new(target(addr), &waiter, deadline, &mut trace);
        let mut accept = |reply: &[u8]| {
            if reply == b"right" {
                Ok(())
            } else {
                Err("not the answer".to_string())
            }
        };
        let (reply, took) = udp.exchange(b"query", &mut accept).unwrap();
        assert_eq!(reply, b"right");
        // The first resend waits 200 ms.
        assert!(took >= Duration::from_millis(190), "{took:?}");
        assert_eq!(server.join().unwrap(), 2);
        let lines = trace.into_lines();
        assert!(
            lines.iter().any(|l| l.contains("ignored: not the answer")),
            "{lines:?}"
        );
    }

    #[test]
    fn a_closed_port_is_an_icmp_failure_at_once() {
        let waiter = Waiter::install().unwrap();
        let mut trace = Trace::new(0);
        // Bound and closed again: nothing listens there now.
        let addr = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap();
        let start = Instant::now();
        let deadline = start + Duration::from_secs(3);
        let mut udp = KernelDatagram::new(target(addr), &waiter, deadline, &mut trace);
        let failure = udp.exchange(b"query", &mut |_| Ok(())).unwrap_err();
        assert!(
            matches!(
                failure,
                Failure::Icmp {
                    kind: IcmpErrorKind::PortUnreachable,
                    ..
                }
            ),
            "{failure:?}"
        );
        assert!(start.elapsed() < Duration::from_millis(150));
    }

    #[test]
    fn no_answer_ends_at_the_deadline() {
        let waiter = Waiter::install().unwrap();
        let mut trace = Trace::new(0);
        // Bound, never read: no answer and no ICMP error.
        let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = silent.local_addr().unwrap();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(500);
        let mut udp = KernelDatagram::new(target(addr), &waiter, deadline, &mut trace);
        let failure = udp.exchange(b"query", &mut |_| Ok(())).unwrap_err();
        assert!(
            matches!(failure, Failure::Timeout(Step::Reply)),
            "{failure:?}"
        );
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(500) && took < Duration::from_millis(600));
        drop(silent);
    }
}
