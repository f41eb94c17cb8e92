//! Unit tests of the kernel stream against listeners on loopback (no
//! privileges needed); the contracts it implements are tested in
//! `channel`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::kernel::{KernelStream, KernelTarget};
use crate::channel::{Ending, Transport};
use crate::failure::{Failure, Step};
use crate::trace::Trace;
use crate::wait::Waiter;

/// How the server side saw a connection end.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Fin,
    Reset,
}

/// Read until the client's FIN (Ok(0)) or RST (an error).
fn end_of(mut stream: TcpStream) -> End {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 1024];
    for _ in 0..1000 {
        match stream.read(&mut buf) {
            Ok(0) => return End::Fin,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return End::Reset,
            Err(e) => panic!("server read failed: {e}"),
        }
    }
    panic!("the client never ended the connection");
}

/// A listener on loopback whose one connection `serve` handles; the
/// handle returns what `serve` returns.
fn listener<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (SocketAddr, thread::JoinHandle<T>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || serve(listener.accept().unwrap().0));
    (addr, handle)
}

fn target(addr: SocketAddr) -> KernelTarget {
    KernelTarget {
        addr,
        source: None,
        source_port: None,
    }
}

const TIMEOUT: Duration = Duration::from_secs(4);

#[test]
fn kernel_stream_ends_with_rst_by_default() {
    let waiter = Waiter::install().unwrap();
    let mut trace = Trace::new(0);
    let (addr, server) = listener(end_of);
    let deadline = Instant::now() + TIMEOUT;
    let mut stream = KernelStream::new(target(addr), &waiter, deadline, TIMEOUT, &mut trace);
    stream.connect().unwrap();
    assert_eq!(stream.finish(false).unwrap(), Ending::Reset);
    assert_eq!(server.join().unwrap(), End::Reset);
}

/// A failure path (here: the response never comes) drops the stream
/// without `finish`: that must reset the connection too, not close it
/// with FIN as a plain `TcpStream` drop would.
#[test]
fn kernel_stream_dropped_on_a_failure_resets_the_connection() {
    let waiter = Waiter::install().unwrap();
    let mut trace = Trace::new(0);
    let (addr, server) = listener(end_of);
    let deadline = Instant::now() + Duration::from_millis(300);
    {
        let mut stream = KernelStream::new(target(addr), &waiter, deadline, TIMEOUT, &mut trace);
        stream.connect().unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        let mut buf = [0u8; 16];
        let failure = stream.read(&mut buf, Step::ResponseStart).unwrap_err();
        assert!(
            matches!(failure, Failure::Timeout(Step::ResponseStart)),
            "{failure:?}"
        );
    }
    assert_eq!(server.join().unwrap(), End::Reset);
}

#[test]
fn kernel_stream_clean_close_exchanges_fins() {
    let waiter = Waiter::install().unwrap();
    let mut trace = Trace::new(0);
    // The server closes its side once it has read our FIN.
    let (addr, server) = listener(|stream| {
        let end = end_of(stream.try_clone().unwrap());
        drop(stream);
        end
    });
    let deadline = Instant::now() + TIMEOUT;
    let mut stream = KernelStream::new(target(addr), &waiter, deadline, TIMEOUT, &mut trace);
    stream.connect().unwrap();
    assert_eq!(stream.finish(true).unwrap(), Ending::Cleanly);
    assert_eq!(server.join().unwrap(), End::Fin);
}

/// A server that never sends its FIN gets half of `-t`, not all of it,
/// and the connection is then reset.
#[test]
fn kernel_stream_clean_close_is_bounded_when_the_server_never_closes() {
    let waiter = Waiter::install().unwrap();
    let mut trace = Trace::new(0);
    let (addr, server) = listener(|stream| {
        // Reads our FIN but keeps its own side open; by the time it
        // writes, the client has given up and reset the connection.
        let end = end_of(stream.try_clone().unwrap());
        thread::sleep(Duration::from_millis(700));
        let mut rest = stream;
        let reset = rest.write_all(b"late").is_err();
        (end, reset)
    });
    let timeout = Duration::from_millis(800);
    let start = Instant::now();
    let deadline = start + timeout;
    let mut stream = KernelStream::new(target(addr), &waiter, deadline, timeout, &mut trace);
    stream.connect().unwrap();
    assert_eq!(stream.finish(true).unwrap(), Ending::NoFinInTime);
    let took = start.elapsed();
    assert!(took < Duration::from_millis(650), "{took:?}");
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert_eq!(server.join().unwrap(), (End::Fin, true));
}

/// A fixed source port with a clean close leaves our side in TIME_WAIT;
/// the next run on the same port must still bind and connect.
#[test]
fn kernel_stream_fixed_source_port_survives_its_own_time_wait() {
    let waiter = Waiter::install().unwrap();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        for _ in 0..3 {
            let (stream, _) = listener.accept().unwrap();
            let end = end_of(stream.try_clone().unwrap());
            assert_eq!(end, End::Fin);
        }
    });
    // A free port to fix: the kernel picks one, then we let it go.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for run in 0..3 {
        let mut trace = Trace::new(0);
        let deadline = Instant::now() + TIMEOUT;
        let fixed = KernelTarget {
            addr,
            source: Some(Ipv4Addr::LOCALHOST.into()),
            source_port: Some(port),
        };
        let mut stream = KernelStream::new(fixed, &waiter, deadline, TIMEOUT, &mut trace);
        let connected = stream.connect();
        assert!(connected.is_ok(), "run {run}: {connected:?}");
        assert_eq!(stream.finish(true).unwrap(), Ending::Cleanly, "run {run}");
    }
    server.join().unwrap();
}

#[test]
fn kernel_stream_refused_is_a_connect_failure() {
    let waiter = Waiter::install().unwrap();
    let mut trace = Trace::new(0);
    // Bound, not listening: the kernel refuses.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let mut stream = KernelStream::new(target(addr), &waiter, deadline, TIMEOUT, &mut trace);
    let failure = stream.connect().unwrap_err();
    assert!(
        matches!(&failure, Failure::Connect(e) if e.kind() == std::io::ErrorKind::ConnectionRefused),
        "{failure:?}"
    );
}
