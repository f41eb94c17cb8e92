//! Unit tests of the contracts: the `Io` adapter over a canned transport,
//! the close budget, and the words of peers and endings.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::*;

/// A transport that serves canned reads, then fails.
struct Canned {
    reads: Vec<Vec<u8>>,
    written: Vec<u8>,
    peer: Peer,
    trace: Trace,
    steps: Vec<Step>,
}

impl Transport for Canned {
    fn connect(&mut self) -> Result<Duration, Failure> {
        Ok(Duration::ZERO)
    }
    fn write_all(&mut self, data: &[u8]) -> Result<(), Failure> {
        self.written.extend_from_slice(data);
        Ok(())
    }
    fn read(&mut self, buf: &mut [u8], step: Step) -> Result<usize, Failure> {
        self.steps.push(step);
        if self.reads.is_empty() {
            return Err(Failure::Reset(step));
        }
        let next = self.reads.remove(0);
        buf[..next.len()].copy_from_slice(&next);
        Ok(next.len())
    }
    fn finish(&mut self, _clean: bool) -> Result<Ending, Failure> {
        Ok(Ending::Reset)
    }
    fn peer(&self) -> &Peer {
        &self.peer
    }
    fn trace(&mut self) -> &mut Trace {
        &mut self.trace
    }
}

#[test]
fn io_adapter_reads_writes_and_keeps_the_failure() {
    let mut canned = Canned {
        reads: vec![b"hello".to_vec()],
        written: Vec::new(),
        peer: Peer::Kernel {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 443)),
        },
        trace: Trace::new(0),
        steps: Vec::new(),
    };
    let mut io = Io::new(&mut canned, Step::ResponseStart);
    io.write_all(b"ping").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(io.read(&mut buf).unwrap(), 5);
    io.step = Step::ResponseEnd;
    assert!(io.read(&mut buf).is_err());
    // Later calls fail at once, without touching the transport again.
    assert!(io.read(&mut buf).is_err());
    assert!(matches!(
        io.take_failure(),
        Some(Failure::Reset(Step::ResponseEnd))
    ));
    assert_eq!(canned.written, b"ping");
    assert_eq!(canned.steps, vec![Step::ResponseStart, Step::ResponseEnd]);
}

#[test]
fn close_deadline_is_half_the_timeout_and_never_past_the_deadline() {
    let now = Instant::now();
    let far = now + Duration::from_secs(60);
    let bound = close_deadline(far, Duration::from_secs(4));
    assert!(bound >= now + Duration::from_secs(2));
    assert!(bound < now + Duration::from_millis(2100));
    let near = now + Duration::from_millis(100);
    assert_eq!(close_deadline(near, Duration::from_secs(4)), near);
}

#[test]
fn peers_and_close_notes_read_well() {
    let raw = Peer::Raw {
        vip_port: "203.0.113.10:80".parse().unwrap(),
        real_server: "198.51.100.11".parse().unwrap(),
        mac: pnet_datalink::MacAddr(2, 0, 0, 0, 0, 0x11),
        iface: "eth0".into(),
    };
    assert_eq!(raw.via(), "via 198.51.100.11 (02:00:00:00:00:11)");
    let kernel = Peer::Kernel {
        addr: "198.51.100.11:80".parse().unwrap(),
    };
    assert_eq!(kernel.via(), "via 198.51.100.11:80 (BACKUP role)");
    assert_eq!(Ending::Reset.note(), "");
    assert!(Ending::NoFinInTime
        .note()
        .contains("no FIN from the server in time"));
}
