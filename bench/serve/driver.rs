//! What drives the blackbox exporter the way Prometheus would: a `/probe`
//! request for each target once a second, spread over the second, from
//! `THREADS` threads inside `lb`, each on one kept-alive HTTP/1.1
//! connection (Prometheus keeps its scrape connections too), so the
//! exporter's cgroup pays for the probes, not for a connection per request.
//! The driver's own CPU is the bench's, not the exporter's.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::bed::Target;
use crate::harness::netns;

const THREADS: usize = 8;
/// The largest probe reply read (the exporter's is ~1.5 KB).
const MAX_REPLY: usize = 256 * 1024;

/// The driver's threads; dropping it stops them.
pub struct ProbeLoop {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    sent: Arc<AtomicU64>,
    succeeded: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

impl ProbeLoop {
    /// Probes every target once a second through the exporter at
    /// `127.0.0.1:port` in `ns`, until dropped (or `limit` passes).
    pub fn start(ns: &str, port: u16, targets: &[Target], limit: Duration) -> ProbeLoop {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let succeeded = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let threads = (0..THREADS)
            .map(|i| {
                let mine: Vec<String> = targets
                    .iter()
                    .skip(i)
                    .step_by(THREADS)
                    .map(|t| format!("{}:{}", t.addr, t.port))
                    .collect();
                let (ns, stop) = (ns.to_owned(), Arc::clone(&stop));
                let (sent, ok, bad) = (
                    Arc::clone(&sent),
                    Arc::clone(&succeeded),
                    Arc::clone(&failed),
                );
                thread::spawn(move || {
                    if netns::enter(&ns).is_err() {
                        return;
                    }
                    let mut conn: Option<BufReader<TcpStream>> = None;
                    // One pass a second, each target at its slot in it:
                    // bounded by `limit` and by the stop flag.
                    for second in 0u32.. {
                        for (j, target) in mine.iter().enumerate() {
                            let slot = Duration::from_secs(second.into())
                                + Duration::from_secs(1) * (j as u32) / (mine.len().max(1) as u32)
                                + Duration::from_millis(i as u64 * 7);
                            while start.elapsed() < slot {
                                if stop.load(Ordering::Relaxed) {
                                    return;
                                }
                                thread::sleep(
                                    (slot - start.elapsed()).min(Duration::from_millis(50)),
                                );
                            }
                            if stop.load(Ordering::Relaxed) || start.elapsed() > limit {
                                return;
                            }
                            sent.fetch_add(1, Ordering::Relaxed);
                            match probe(&mut conn, port, target) {
                                Ok(true) => ok.fetch_add(1, Ordering::Relaxed),
                                _ => {
                                    conn = None;
                                    bad.fetch_add(1, Ordering::Relaxed)
                                }
                            };
                        }
                    }
                })
            })
            .collect();
        ProbeLoop {
            stop,
            threads,
            sent,
            succeeded,
            failed,
        }
    }
}

impl ProbeLoop {
    /// Stops the threads; the probes sent, succeeded and failed in all.
    pub fn finish(mut self) -> (u64, u64, u64) {
        self.halt();
        (
            self.sent.load(Ordering::Relaxed),
            self.succeeded.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for ProbeLoop {
    fn drop(&mut self) {
        self.halt();
    }
}

/// One `/probe?module=tcp_connect&target=...` on the kept-alive
/// connection (opened if there is none): whether `probe_success 1` came
/// back.
fn probe(conn: &mut Option<BufReader<TcpStream>>, port: u16, target: &str) -> io::Result<bool> {
    if conn.is_none() {
        let s = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(1),
        )?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        s.set_nodelay(true)?;
        *conn = Some(BufReader::new(s));
    }
    let r = conn
        .as_mut()
        .ok_or_else(|| io::Error::other("no connection"))?;
    write!(
        r.get_mut(),
        "GET /probe?module=tcp_connect&target={target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )?;
    let body = read_reply(r)?;
    Ok(body.lines().any(|l| l.trim() == "probe_success 1"))
}

/// The body of one HTTP/1.1 reply, by Content-Length or chunked.
fn read_reply(r: &mut BufReader<TcpStream>) -> io::Result<String> {
    let mut length = None;
    let mut chunked = false;
    let mut line = String::new();
    for _ in 0..100 {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(io::Error::other("closed"));
        }
        let l = line.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        }
        if l.starts_with("transfer-encoding:") && l.contains("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        for _ in 0..10_000 {
            line.clear();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(io::Error::other)?;
            if size == 0 || body.len() + size > MAX_REPLY {
                line.clear();
                r.read_line(&mut line)?;
                break;
            }
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        let n = length.ok_or_else(|| io::Error::other("no length"))?;
        if n > MAX_REPLY {
            return Err(io::Error::other("too long"));
        }
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}
