//! `TlsStream` over the kernel stream against openssl servers on loopback
//! (no privileges, no network): handshakes, the failures a handshake can
//! have, and each named as the operator needs it.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslMethod, SslVersion};
use openssl::x509::extension::SubjectAlternativeName;
use openssl::x509::{X509Name, X509};

use super::*;
use crate::transport::kernel::{KernelStream, KernelTarget};
use crate::wait::Waiter;

const TIMEOUT: Duration = Duration::from_secs(4);
const NAME: &str = "www.example.test";

/// A self-signed certificate for `name` with a P-256 key.
fn certificate(name: &str) -> (X509, PKey<Private>) {
    certificate_for(name, 30)
}

/// The same, valid for `days` from now.
fn certificate_for(name: &str, days: u32) -> (X509, PKey<Private>) {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut subject = X509Name::builder().unwrap();
    subject.append_entry_by_text("CN", name).unwrap();
    let subject = subject.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(&subject).unwrap();
    b.set_issuer_name(&subject).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(days).unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .dns(name)
        .build(&b.x509v3_context(None, None))
        .unwrap();
    b.append_extension(san).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    (b.build(), key)
}

fn acceptor(cert: &X509, key: &PKey<Private>, max: Option<SslVersion>) -> SslAcceptor {
    let mut a = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    a.set_certificate(cert).unwrap();
    a.set_private_key(key).unwrap();
    a.set_max_proto_version(max).unwrap();
    a.build()
}

/// A listener on loopback whose one connection `serve` handles.
fn listener(
    serve: impl FnOnce(TcpStream) + Send + 'static,
) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        serve(stream)
    });
    (addr, handle)
}

/// A TLS server that answers one read with `reply`.
fn tls_server(acceptor: SslAcceptor, reply: &'static [u8]) -> (SocketAddr, thread::JoinHandle<()>) {
    listener(move |stream| {
        if let Ok(mut tls) = acceptor.accept(stream) {
            let mut buf = [0u8; 1024];
            if tls.read(&mut buf).is_ok_and(|n| n > 0) {
                let _ = tls.write_all(reply);
            }
            let _ = tls.read(&mut buf);
        }
    })
}

fn config() -> TlsConfig {
    TlsConfig {
        versions: Versions {
            min: TlsVersion::V1_2,
            or_newer: true,
        },
        server_name: NAME.into(),
        sni: true,
        verify: None,
        fingerprint: None,
        days: None,
        max_bytes: 1 << 20,
    }
}

/// The kernel's connection to `addr`, from whatever source it picks.
fn kernel_target(addr: SocketAddr) -> KernelTarget {
    KernelTarget {
        addr,
        source: None,
        source_port: None,
    }
}

/// Connect to `addr` with `config`, send a line, read what comes back.
fn run(
    addr: SocketAddr,
    config: &TlsConfig,
    deadline: Duration,
) -> Result<(Vec<u8>, Session), Failure> {
    let waiter = Waiter::install().unwrap();
    let mut trace = Trace::new(0);
    let target = kernel_target(addr);
    let deadline = Instant::now() + deadline;
    let mut kernel = KernelStream::new(target, &waiter, deadline, TIMEOUT, &mut trace);
    let mut tls = TlsStream::new(&mut kernel, config);
    tls.connect()?;
    tls.write_all(b"hello\n")?;
    let mut buf = [0u8; 64];
    let n = tls.read(&mut buf, Step::ResponseStart)?;
    let session = tls.session().cloned().expect("a session after connect");
    tls.finish(false)?;
    Ok((buf[..n].to_vec(), session))
}

fn tls_failure(result: Result<(Vec<u8>, Session), Failure>) -> String {
    match result {
        Err(Failure::Tls(text)) => text,
        other => panic!("Failure::Tls expected, got {other:?}"),
    }
}

#[test]
fn handshake_and_data_with_the_leaf_described() {
    let (cert, key) = certificate(NAME);
    let (addr, server) = tls_server(acceptor(&cert, &key, None), b"world\n");
    let (data, session) = run(addr, &config(), TIMEOUT).unwrap();
    server.join().unwrap();
    assert_eq!(data, b"world\n");
    assert_eq!(session.version, "TLSv1.3");
    let leaf = session.leaf.unwrap();
    assert_eq!(leaf.name, NAME);
    assert_eq!(leaf.subject, format!("CN={NAME}"));
    let digest = cert.digest(MessageDigest::sha256()).unwrap();
    assert_eq!(leaf.fingerprint.0[..], digest[..]);
    assert!(leaf.not_after > leaf.not_before + 29 * 86_400);
}

#[test]
fn the_earliest_expiry_of_the_chain_sent_is_kept() {
    let (cert, key) = certificate_for(NAME, 30);
    let (intermediate, _) = certificate_for("ca.example.test", 10);
    let mut a = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
    a.set_certificate(&cert).unwrap();
    a.set_private_key(&key).unwrap();
    a.add_extra_chain_cert(intermediate).unwrap();
    let (addr, server) = tls_server(a.build(), b"x");
    let (_, session) = run(addr, &config(), TIMEOUT).unwrap();
    server.join().unwrap();
    let leaf = session.leaf.unwrap();
    let earliest = session.earliest_not_after.unwrap();
    assert!(earliest < leaf.not_after - 19 * 86_400, "{earliest}");
    assert!(earliest > leaf.not_after - 21 * 86_400, "{earliest}");

    // The leaf alone: its own expiry.
    let (addr, server) = tls_server(acceptor(&cert, &key, None), b"x");
    let (_, session) = run(addr, &config(), TIMEOUT).unwrap();
    server.join().unwrap();
    assert_eq!(
        session.earliest_not_after,
        session.leaf.map(|l| l.not_after)
    );
}

#[test]
fn version_bounds_are_offered_and_refused() {
    let (cert, key) = certificate(NAME);
    let (addr, server) = tls_server(acceptor(&cert, &key, Some(SslVersion::TLS1_2)), b"x");
    let (_, session) = run(addr, &config(), TIMEOUT).unwrap();
    server.join().unwrap();
    assert_eq!(session.version, "TLSv1.2");

    let (addr, server) = tls_server(acceptor(&cert, &key, Some(SslVersion::TLS1_2)), b"x");
    let mut only13 = config();
    only13.versions = Versions {
        min: TlsVersion::V1_3,
        or_newer: false,
    };
    let text = tls_failure(run(addr, &only13, TIMEOUT));
    server.join().unwrap();
    assert!(text.starts_with("no common protocol version"), "{text}");
    assert!(text.contains("TLSv1.3 only"), "{text}");
}

#[test]
fn fingerprint_pins_the_certificate() {
    let (cert, key) = certificate(NAME);
    let digest = cert.digest(MessageDigest::sha256()).unwrap();
    let mut pinned = config();
    pinned.fingerprint = Fingerprint::from_digest(&digest);
    let (addr, server) = tls_server(acceptor(&cert, &key, None), b"x");
    run(addr, &pinned, TIMEOUT).unwrap();
    server.join().unwrap();

    pinned.fingerprint = Some(Fingerprint([7; 32]));
    let (addr, server) = tls_server(acceptor(&cert, &key, None), b"x");
    let text = tls_failure(run(addr, &pinned, TIMEOUT));
    server.join().unwrap();
    assert!(text.contains("fingerprint"), "{text}");
    assert!(text.contains("07:07:07"), "{text}");
}

#[test]
fn verification_with_a_ca_file_checks_chain_and_name() {
    let (cert, key) = certificate(NAME);
    let pem = cert.to_pem().unwrap();
    let mut verify = config();
    verify.verify = Some(Trust::CaFile {
        path: "test.pem".into(),
        pem: pem.clone(),
    });
    let (addr, server) = tls_server(acceptor(&cert, &key, None), b"x");
    run(addr, &verify, TIMEOUT).unwrap();
    server.join().unwrap();

    verify.server_name = "other.example.test".into();
    let (addr, server) = tls_server(acceptor(&cert, &key, None), b"x");
    let text = tls_failure(run(addr, &verify, TIMEOUT));
    server.join().unwrap();
    assert!(
        text.starts_with("certificate verification failed"),
        "{text}"
    );
    assert!(text.contains("mismatch"), "{text}");
    assert!(text.contains("other.example.test"), "{text}");

    let (other, _) = certificate(NAME);
    verify.server_name = NAME.into();
    verify.verify = Some(Trust::CaFile {
        path: "other.pem".into(),
        pem: other.to_pem().unwrap(),
    });
    let (addr, server) = tls_server(acceptor(&cert, &key, None), b"x");
    let text = tls_failure(run(addr, &verify, TIMEOUT));
    server.join().unwrap();
    assert!(
        text.starts_with("certificate verification failed"),
        "{text}"
    );
}

#[test]
fn plain_text_answer_is_named() {
    let (addr, server) = listener(|mut s| {
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let text = tls_failure(run(addr, &config(), TIMEOUT));
    server.join().unwrap();
    assert_eq!(
        text,
        "plain-text answer on a TLS port (not TLS): 'HTTP/1.1 400 Bad Request'"
    );
}

#[test]
fn close_mid_handshake_is_named() {
    let (addr, server) = listener(|mut s| {
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        // Half a ServerHello record header, then FIN.
        let _ = s.write_all(&[22, 3, 3]);
    });
    let text = tls_failure(run(addr, &config(), TIMEOUT));
    server.join().unwrap();
    assert!(
        text.contains("closed the connection during the handshake"),
        "{text}"
    );
}

#[test]
fn silent_server_times_out_in_the_handshake_step() {
    let (addr, server) = listener(|mut s| {
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        thread::sleep(Duration::from_millis(600));
    });
    let started = Instant::now();
    let result = run(addr, &config(), Duration::from_millis(300));
    assert!(
        matches!(result, Err(Failure::Timeout(Step::TlsHandshake))),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(550));
    server.join().unwrap();
}

#[test]
fn handshake_larger_than_max_bytes_fails() {
    let (cert, key) = certificate(NAME);
    let mut small = config();
    small.max_bytes = 100;
    let (addr, server) = tls_server(acceptor(&cert, &key, None), b"x");
    let text = tls_failure(run(addr, &small, TIMEOUT));
    server.join().unwrap();
    assert!(text.contains("more than 100 bytes"), "{text}");
}

#[test]
fn garbage_is_an_error_not_a_hang() {
    let (addr, server) = listener(|mut s| {
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf);
        let _ = s.write_all(&[22, 3, 3, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff]);
        let _ = s.read(&mut buf);
    });
    let started = Instant::now();
    let text = tls_failure(run(addr, &config(), TIMEOUT));
    server.join().unwrap();
    // A handshake record of an unknown message type: openssl's reason,
    // on one line, well before the deadline.
    assert!(text.contains("unexpected message"), "{text}");
    assert!(!text.contains('\n'), "{text}");
    assert!(started.elapsed() < TIMEOUT / 2, "{:?}", started.elapsed());
}

/// The kernel stream with the MASTER's send bound on it: every byte TLS
/// writes is queued in the raw client's `Tcp` as well, which refuses what
/// its buffer cannot take, as over the VIP.
struct RawBound<'a> {
    inner: KernelStream<'a>,
    tcp: crate::net::tcp::Tcp,
}

impl Transport for RawBound<'_> {
    fn connect(&mut self) -> Result<Duration, Failure> {
        self.tcp.connect();
        self.inner.connect()
    }
    fn write_all(&mut self, data: &[u8]) -> Result<(), Failure> {
        if self.tcp.send(data) < data.len() {
            return Err(Failure::Local(
                "the raw client's send buffer is full".into(),
            ));
        }
        self.inner.write_all(data)
    }
    fn read(&mut self, buf: &mut [u8], step: Step) -> Result<usize, Failure> {
        self.inner.read(buf, step)
    }
    fn finish(&mut self, clean: bool) -> Result<Ending, Failure> {
        self.inner.finish(clean)
    }
    fn peer(&self) -> &Peer {
        self.inner.peer()
    }
    fn trace(&mut self) -> &mut Trace {
        self.inner.trace()
    }
}

/// A request of exactly the CLI's limit goes out over TLS on the raw
/// client, handshake and record overhead on top; one byte more is refused
/// by the TLS layer itself, naming the request's bound.
#[test]
fn a_request_at_the_limit_fits_with_tls_records_around_it() {
    use crate::net::seq::Seq;
    use crate::net::tcp::{Tcp, TcpParams, MAX_SEND_BYTES};
    let (cert, key) = certificate(NAME);
    let tls_acceptor = acceptor(&cert, &key, None);
    let (addr, server) = listener(move |stream| {
        if let Ok(mut tls) = tls_acceptor.accept(stream) {
            let mut got = 0;
            let mut buf = vec![0u8; 1 << 16];
            while got < MAX_SEND_BYTES {
                match tls.read(&mut buf) {
                    Ok(n) if n > 0 => got += n,
                    _ => return,
                }
            }
            let _ = tls.write_all(b"all of it\n");
            let _ = tls.read(&mut buf);
        }
    });
    let waiter = Waiter::install().unwrap();
    let mut trace = Trace::new(0);
    let target = kernel_target(addr);
    let deadline = Instant::now() + TIMEOUT;
    let mut bound = RawBound {
        inner: KernelStream::new(target, &waiter, deadline, TIMEOUT, &mut trace),
        tcp: Tcp::new(TcpParams::new(Seq(1), 1460)),
    };
    let config = config();
    let mut tls = TlsStream::new(&mut bound, &config);
    tls.connect().unwrap();
    let request = vec![b'x'; MAX_SEND_BYTES];
    tls.write_all(&request)
        .expect("a request of the CLI's limit");
    let mut buf = [0u8; 64];
    let n = tls.read(&mut buf, Step::ResponseStart).unwrap();
    assert_eq!(&buf[..n], b"all of it\n");
    match tls.write_all(b"x") {
        Err(Failure::Local(text)) => {
            assert!(text.contains("at most 65536"), "{text}")
        }
        other => panic!("one byte over the limit: {other:?}"),
    }
    let _ = tls.finish(false);
    drop(tls);
    server.join().unwrap();
}
