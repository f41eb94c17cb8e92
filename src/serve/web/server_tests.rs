//! The listener in-process on 127.0.0.1 (no root, no namespace): a page,
//! the probe bound (64 at once, the 65th 503), the connection bound (one
//! more evicts the oldest idle one, a scrape still answered), a stop
//! that is quick with connections open.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use super::server::{MAX_CLIENTS, MAX_PROBES};
use super::*;

struct Fixed;

impl Pages for Fixed {
    fn metrics(&self, _: bool) -> (&'static str, String) {
        (TEXT, "check_raw_up{check=\"a\"} 1\n".into())
    }
    fn status_json(&self) -> String {
        "{}".into()
    }
    fn status_html(&self) -> String {
        "<html></html>".into()
    }
}

/// The prober of a configuration without `[[module]]`.
struct NoModules;

impl Prober for NoModules {
    fn probe(&self, q: &ProbeQuery) -> Reply {
        Reply::error(400, &format!("unknown module {}", q.module))
    }
}

/// A prober that holds every probe until `release` reaches its count.
struct Held {
    running: AtomicUsize,
    release: Barrier,
}

impl Prober for Held {
    fn probe(&self, q: &ProbeQuery) -> Reply {
        self.running.fetch_add(1, Ordering::SeqCst);
        self.release.wait();
        Reply::new(200, TEXT, format!("probe_success 1 # {}\n", q.target))
    }
}

fn start(prober: Arc<dyn Prober>) -> Listener {
    let socket = bind("127.0.0.1:0".parse().unwrap()).unwrap();
    Listener::start(socket, Arc::new(Fixed), prober).unwrap()
}

fn ask(l: &Listener, raw: &str) -> (u16, String) {
    let mut s = TcpStream::connect(l.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out)
}

#[test]
fn a_page_and_a_bad_request_are_answered() {
    let l = start(Arc::new(NoModules));
    let (status, text) = ask(&l, "GET /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, 200, "{text}");
    assert!(
        text.ends_with("\r\n\r\ncheck_raw_up{check=\"a\"} 1\n"),
        "{text}"
    );
    assert_eq!(ask(&l, "PUT / HTTP/1.1\r\n\r\n").0, 405);
    assert_eq!(
        ask(&l, "GET /probe?module=x&target=y HTTP/1.1\r\n\r\n").0,
        400
    );
    let start = Instant::now();
    let _open = TcpStream::connect(l.addr).unwrap();
    assert!(l.stop(Duration::from_millis(500)));
    assert!(start.elapsed() < Duration::from_millis(500));
}

#[test]
fn probes_beyond_the_bound_get_503() {
    let held = Arc::new(Held {
        running: AtomicUsize::new(0),
        release: Barrier::new(MAX_PROBES + 1),
    });
    let l = start(held.clone());
    let addr = l.addr;
    let waiting: Vec<_> = (0..MAX_PROBES)
        .map(|i| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                let req = format!("GET /probe?module=m&target=t{i} HTTP/1.1\r\n\r\n");
                s.write_all(req.as_bytes()).unwrap();
                let mut out = String::new();
                let _ = s.read_to_string(&mut out);
                out
            })
        })
        .collect();
    let begin = Instant::now();
    while held.running.load(Ordering::SeqCst) < MAX_PROBES {
        assert!(
            begin.elapsed() < Duration::from_secs(10),
            "probes not started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        ask(&l, "GET /probe?module=m&target=x HTTP/1.1\r\n\r\n").0,
        503
    );
    // The listener still answers pages while the probes run.
    assert_eq!(ask(&l, "GET / HTTP/1.1\r\n\r\n").0, 200);
    held.release.wait();
    for t in waiting {
        let out = t.join().unwrap();
        assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
        assert!(out.contains("probe_success 1 # t"), "{out}");
    }
    assert!(l.stop(Duration::from_millis(500)));
}

#[test]
fn one_connection_too_many_evicts_the_oldest_idle_one() {
    // Descriptors for MAX_CLIENTS connections on both ends.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a live local.
    let enough = unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0
        }
    } && limit.rlim_cur >= 3 * MAX_CLIENTS as u64;
    if !enough {
        println!("skipping: RLIMIT_NOFILE below {}", 3 * MAX_CLIENTS);
        return;
    }
    let l = start(Arc::new(NoModules));
    let mut idle: Vec<TcpStream> = (0..MAX_CLIENTS)
        .map(|_| TcpStream::connect(l.addr).unwrap())
        .collect();
    // Let the listener accept them all (64 a turn).
    std::thread::sleep(Duration::from_millis(300));
    let begin = Instant::now();
    assert_eq!(ask(&l, "GET /metrics HTTP/1.1\r\n\r\n").0, 200);
    assert!(begin.elapsed() < Duration::from_secs(1));
    // The first one was evicted with a 503.
    let first = &mut idle[0];
    first
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut out = String::new();
    let _ = first.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 503 "), "{out:?}");
    let begin = Instant::now();
    assert!(l.stop(Duration::from_millis(500)));
    assert!(begin.elapsed() < Duration::from_millis(500));
}
