//! check_raw_serve's HTTP listener (issue 22): `listen` in serve.toml,
//! `/metrics` with every check, bad requests refused with their 4xx, and
//! the checks' schedule unmoved by 1,000 idle connections, slow clients
//! and 50 `/probe` at once. The daemon runs in the testbed's balancer
//! `lb` and listens on 127.0.0.1 there; the test's clients connect from
//! threads moved into that namespace (`Testbed::in_ns`).
//! Tests skip, with a message, when not root (under CI=true they fail).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::harness::serve::*;
use crate::harness::serve_cases::*;
use crate::harness::*;

/// An address of the testbed's subnet that no host holds.
const NOBODY: &str = "198.51.100.99";

/// A port free on lb's loopback now (bound there, then let go).
pub(super) fn free_port(tb: &Testbed) -> u16 {
    tb.in_ns("lb", || {
        let l = TcpListener::bind("127.0.0.1:0")?;
        Ok(l.local_addr()?.port())
    })
    .expect("a free port in lb")
}

/// A connection to the listener, from inside lb.
fn connect(tb: &Testbed, port: u16) -> TcpStream {
    tb.in_ns("lb", move || {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(15)))?;
        s.set_write_timeout(Some(Duration::from_secs(5)))?;
        Ok(s)
    })
    .expect("connect to the listener")
}

/// What came back: status, the whole answer, and how long it took.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) text: String,
    took: Duration,
}

impl Answer {
    pub(super) fn body(&self) -> &str {
        self.text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }
}

/// Reads an answer to its end (the listener closes after each).
fn read_answer(mut s: TcpStream, start: Instant) -> Answer {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        text,
        took: start.elapsed(),
    }
}

/// Sends `raw` as it is and reads the answer.
fn ask(tb: &Testbed, port: u16, raw: &[u8]) -> Answer {
    let start = Instant::now();
    let mut s = connect(tb, port);
    let _ = s.write_all(raw);
    read_answer(s, start)
}

pub(super) fn get(tb: &Testbed, port: u16, path: &str) -> Answer {
    ask(
        tb,
        port,
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes(),
    )
}

/// The value of the sample of `metric` whose labels hold `check="NAME"`
/// (and `extra`, if given).
fn sample(metrics: &str, metric: &str, name: &str, extra: &str) -> Option<f64> {
    let check = format!("check=\"{name}\"");
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .find(|l| l.contains(&check) && l.contains(extra))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Runs of `name` (every result) in a /metrics body.
pub(super) fn runs(metrics: &str, name: &str) -> f64 {
    ["ok", "warning", "critical", "unknown"]
        .iter()
        .filter_map(|r| {
            sample(
                metrics,
                "check_raw_checks_total",
                name,
                &format!("result=\"{r}\""),
            )
        })
        .sum()
}

/// The config with `listen = VALUE` on its first line.
fn with_listen(bed: &ServeBed, listen: &str, timing: Timing, checks: &[Check]) -> String {
    format!("listen = \"{listen}\"\n{}", bed.toml(timing, checks))
}

/// The daemon in `lb` with `checks` and a listener on 127.0.0.1:`port`,
/// started (every check's state file written).
pub(super) fn launch_on_port(
    (bed, tb): (&ServeBed, &Testbed),
    port: u16,
    args: &[&str],
    timing: Timing,
    checks: &[Check],
) -> ServeProc {
    let listen = format!("127.0.0.1:{port}");
    bed.write_config(&with_listen(bed, &listen, timing, checks));
    let d = bed.start(tb, "lb", args);
    wait_started(bed, &d, checks.len());
    d
}

fn raise_fd_limit() {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a live local.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 {
            l.rlim_cur = l.rlim_max.min(65_536).max(l.rlim_cur);
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// GET /metrics answers 200 with check_raw_up for each check (1 once up);
/// HEAD has the head only; garbage, a 20 KiB header, POST, an unknown
/// path, bad percent-encoding each get their 4xx in one line, and the
/// daemon keeps checking (its run counters grow); SIGTERM stops it,
/// listener included, within the second.
#[test]
fn metrics_answer_and_bad_requests_get_their_4xx() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let port = free_port(&tb);
    let checks = [
        Check::new("tcp-rs1", tcp(RS1, VIP, PORT)),
        Check::new("tcp-rs2", tcp(RS2, VIP, PORT)),
        Check::new("http-rs1", http_health(RS1, HTTP_PORT)),
    ];
    let names = names(&checks);
    let mut d = launch_on_port((&bed, &tb), port, &[], TIMING, &checks);
    let listening = d.wait_line(
        0,
        &format!("listening on http://127.0.0.1:{port}/"),
        &[],
        SLACK,
    );
    assert!(!listening.contains("not a loopback"), "{listening}");
    wait_up(&bed, &d, &names, up_limit(TIMING), "all up");

    let m = get(&tb, port, "/metrics");
    assert_eq!(m.status, 200, "{}\n{}", m.text, d.diag());
    assert!(m.text.contains("Content-Type: text/plain"), "{}", m.text);
    for n in &names {
        assert_eq!(
            sample(m.body(), "check_raw_up", n, ""),
            Some(1.0),
            "{n}\n{}",
            m.text
        );
    }
    let before: f64 = names.iter().map(|n| runs(m.body(), n)).sum();
    println!("/metrics: {} bytes in {:?}", m.text.len(), m.took);

    let head = ask(&tb, port, b"HEAD /metrics HTTP/1.0\r\n\r\n");
    assert_eq!((head.status, head.body()), (200, ""), "{}", head.text);
    for (path, status) in [("/", 200), ("/status.json", 200), ("/nope", 404)] {
        let a = get(&tb, port, path);
        assert_eq!(a.status, status, "{path}: {}", a.text);
    }

    let mut big = b"GET /metrics HTTP/1.1\r\nX-Big: ".to_vec();
    big.resize(20 * 1024, b'a');
    big.extend_from_slice(b"\r\n\r\n");
    let bad: [(&str, Vec<u8>, u16); 6] = [
        (
            "garbage",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n".to_vec(),
            400,
        ),
        ("a 20 KiB header", big, 431),
        (
            "POST",
            b"POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
            405,
        ),
        (
            "an unknown path",
            b"GET /admin HTTP/1.1\r\n\r\n".to_vec(),
            404,
        ),
        (
            "bad percent-encoding",
            b"GET /probe?module=m&target=%zz HTTP/1.1\r\n\r\n".to_vec(),
            400,
        ),
        ("HTTP/2", b"GET / HTTP/2.0\r\n\r\n".to_vec(), 505),
    ];
    for (what, raw, status) in &bad {
        let a = ask(&tb, port, raw);
        let body = a.body();
        println!("{what}: {} {body:?}", a.status);
        assert_eq!(a.status, *status, "{what}: {}\n{}", a.text, d.diag());
        assert!(
            body.ends_with('\n') && body.lines().count() == 1,
            "{what}: one line of text: {body:?}"
        );
    }
    // A probe of a module that is not configured: 400, nothing sent.
    let p = get(&tb, port, "/probe?module=none&target=198.51.100.11");
    assert_eq!(p.status, 400, "{}", p.text);

    // Still checking: the counters grew by about a run per check and interval.
    thread::sleep(TIMING.interval * 3);
    let m = get(&tb, port, "/metrics");
    let after: f64 = names.iter().map(|n| runs(m.body(), n)).sum();
    assert!(
        after >= before + 3.0,
        "runs {before} -> {after}\n{}",
        d.diag()
    );
    d.assert_running_for("after the bad requests");
    assert_stops(&mut d);
    assert!(
        tb.in_ns("lb", move || TcpStream::connect(("127.0.0.1", port)))
            .is_err(),
        "the port still answers after the exit"
    );
}

/// `listen` refused by --check and at start (exit 1, FILE:LINE: listen:)
/// when it is no address, at start when its port is taken (--check notes
/// that); a non-loopback address is
/// the operator's choice: accepted, and said so once in the log.
#[test]
fn a_bad_or_busy_listen_is_refused_and_a_public_one_is_logged() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let checks = [Check::new("tcp-rs1", tcp(RS1, VIP, PORT))];
    let config = bed.config.display().to_string();

    bed.write_config(&with_listen(&bed, "localhost:10117", TIMING, &checks));
    let r = bed.run(&tb, "lb", &["--check"]);
    assert_eq!(r.code, Some(1), "{r}");
    assert!(
        r.stderr.contains(&format!(
            "check_raw_serve: {config}:1: listen: \"localhost:10117\" is not ADDRESS:PORT"
        )),
        "{r}"
    );

    let taken = tb
        .in_ns("lb", || TcpListener::bind("127.0.0.1:0"))
        .expect("bind in lb");
    let port = taken.local_addr().expect("addr").port();
    bed.write_config(&with_listen(
        &bed,
        &format!("127.0.0.1:{port}"),
        TIMING,
        &checks,
    ));
    let busy = format!("check_raw_serve: {config}:1: listen: cannot listen on 127.0.0.1:{port}: ");
    // --check only notes a port in use (beside the running daemon it is
    // the daemon's own); the start refuses it.
    let r = bed.run(&tb, "lb", &["--check"]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(
        r.stdout
            .contains(&format!("listen 127.0.0.1:{port}: in use now")),
        "{r}"
    );
    let mut d = bed.start(&tb, "lb", &[]);
    let exit = d.wait_exit(SLACK).expect("a busy port ends the start");
    assert_eq!(exit.0.code(), Some(1), "{}", d.diag());
    assert!(d.log().contains(&busy), "{}", d.diag());
    assert_eq!(
        bed.state_names(),
        Vec::<String>::new(),
        "no state file before READY"
    );
    drop(taken);

    let port = free_port(&tb);
    bed.write_config(&with_listen(
        &bed,
        &format!("0.0.0.0:{port}"),
        TIMING,
        &checks,
    ));
    let mut d = bed.start(&tb, "lb", &[]);
    wait_started(&bed, &d, 1);
    d.wait_line(
        0,
        &format!("listening on http://0.0.0.0:{port}/"),
        &["not a loopback address"],
        SLACK,
    );
    assert_eq!(get(&tb, port, "/metrics").status, 200, "{}", d.diag());

    // SIGHUP keeping `listen`: its own port is no error; changing it
    // moves the listener; "" stops it.
    reload(&d, "reloaded ", &[]);
    assert_eq!(get(&tb, port, "/metrics").status, 200, "{}", d.diag());
    let moved = free_port(&tb);
    let listen = format!("127.0.0.1:{moved}");
    bed.write_config(&with_listen(&bed, &listen, TIMING, &checks));
    let skip = reload(&d, "reloaded ", &[]);
    d.wait_line(skip, &format!("listening on http://{listen}/"), &[], SLACK);
    d.wait_line(
        skip,
        &format!("stopped listening on 0.0.0.0:{port}"),
        &[],
        SLACK,
    );
    assert_eq!(get(&tb, moved, "/metrics").status, 200, "{}", d.diag());
    let closed = tb.in_ns("lb", move || TcpStream::connect(("127.0.0.1", port)));
    assert!(closed.is_err(), "the old port still answers\n{}", d.diag());
    bed.write_config(&with_listen(&bed, "", TIMING, &checks));
    let skip = reload(&d, "reloaded ", &[]);
    d.wait_line(skip, &format!("stopped listening on {listen}"), &[], SLACK);
    assert_stops(&mut d);
}

/// The checks keep their schedule while the listener is flooded: 1,000
/// idle connections, 10 clients sending a byte a second, bursts of 50
/// /probe at once through the checks' engine, and a scrape every 500 ms
/// that must answer within 1 s. Every check runs about once per interval
/// all along (the run counters of /metrics, read before and after), the
/// slow clients get 408, every probe its blackbox answer.
#[test]
fn the_schedule_holds_under_idle_slow_and_probe_clients() {
    require!(Need::Testbed);
    // Its clients load the CPU (and its schedule is measured): no other
    // test's testbed is up meanwhile.
    let _alone = alone();
    raise_fd_limit();
    let (tb, bed) = healthy_bed();
    let port = free_port(&tb);
    let timing = Timing {
        interval: Duration::from_secs(1),
        rise: 1,
        fall: 2,
    };
    let checks: Vec<Check> = (0..20)
        .map(|i| {
            let (rs, port) = [(RS1, PORT), (RS2, PORT), (RS3, HTTP_PORT)][i % 3];
            Check::new(&format!("c{i}"), tcp(rs, VIP, port))
        })
        .collect();
    let names = names(&checks);
    let module = format!(
        "\n[[module]]\nname = \"tcp_vip\"\ncommand = \"{}\"\n",
        tcp("{target}", VIP, PORT)
    );
    bed.write_config(&format!(
        "{}{module}",
        with_listen(&bed, &format!("127.0.0.1:{port}"), timing, &checks)
    ));
    let mut d = bed.start(&tb, "lb", &[]);
    wait_started(&bed, &d, checks.len());
    wait_up(&bed, &d, &names, up_limit(timing), "20 up");
    let first = get(&tb, port, "/metrics");
    let before: Vec<f64> = names.iter().map(|n| runs(first.body(), n)).collect();
    let window = Instant::now();

    let idle: Vec<TcpStream> = tb
        .in_ns("lb", move || {
            (0..1000)
                .map(|_| TcpStream::connect(("127.0.0.1", port)))
                .collect()
        })
        .expect("1,000 idle connections");
    let slow: Vec<_> = (0..10)
        .map(|_| {
            let mut s = connect(&tb, port);
            thread::spawn(move || {
                let start = Instant::now();
                // A byte a second, never the end of a head: 408 by the
                // listener's deadline, then our writes fail.
                for b in b"GET /metrics HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
                    if s.write_all(&[*b]).is_err() {
                        break;
                    }
                    thread::sleep(Duration::from_secs(1));
                    if start.elapsed() > Duration::from_secs(14) {
                        break;
                    }
                }
                read_answer(s, start)
            })
        })
        .collect();
    // Five bursts of 50 /probe at once, 2 s apart, through the checks'
    // engine: half to rs1 (up), half to an address nobody holds (each
    // lasts its whole -t, waiting for an ARP answer).
    let prober = {
        let tb_ns = tb.ns("lb").to_string();
        thread::spawn(move || {
            let mut answers = Vec::new();
            for _ in 0..5 {
                let burst: Vec<_> = (0..50)
                    .map(|i| {
                        let ns = tb_ns.clone();
                        thread::spawn(move || {
                            let target = if i % 2 == 0 { RS1 } else { NOBODY };
                            let start = Instant::now();
                            let s = netns::in_netns(&ns, move || {
                                TcpStream::connect(("127.0.0.1", port))
                            });
                            let Ok(mut s) = s else {
                                return (
                                    target,
                                    Answer {
                                        status: 0,
                                        text: String::new(),
                                        took: start.elapsed(),
                                    },
                                );
                            };
                            let req = format!(
                                "GET /probe?module=tcp_vip&target={target} HTTP/1.1\r\n\r\n"
                            );
                            let _ = s.write_all(req.as_bytes());
                            (target, read_answer(s, start))
                        })
                    })
                    .collect();
                answers.extend(burst.into_iter().map(|t| t.join().expect("probe")));
                thread::sleep(Duration::from_secs(2));
            }
            answers
        })
    };
    let mut slowest = Duration::ZERO;
    // Scrapes every 500 ms for 12 s: past the slow clients' 10 s deadline.
    for _ in 0..24 {
        let m = get(&tb, port, "/metrics");
        assert_eq!(
            m.status,
            200,
            "a scrape under load: {}\n{}",
            m.text,
            d.diag()
        );
        slowest = slowest.max(m.took);
        thread::sleep(Duration::from_millis(500));
    }
    let last = get(&tb, port, "/metrics");
    let elapsed = window.elapsed();
    println!("slowest scrape under load: {slowest:?}");
    assert!(
        slowest < Duration::from_secs(1),
        "a scrape took {slowest:?}"
    );

    let probes = prober.join().expect("the probes");
    let slowest_probe = probes.iter().map(|(_, a)| a.took).max().unwrap_or_default();
    println!(
        "{} probes, the slowest answered in {slowest_probe:?}",
        probes.len()
    );
    for (target, a) in &probes {
        let success = if *target == RS1 { 1 } else { 0 };
        assert!(
            a.status == 200 && a.body().contains(&format!("\nprobe_success {success}\n")),
            "probe of {target}: {}\n{}",
            a.text,
            d.diag()
        );
    }
    for t in slow {
        let a = t.join().expect("slow client");
        assert_eq!(
            a.status, 408,
            "slow client: {:?} after {:?}",
            a.text, a.took
        );
    }
    drop(idle);

    let expected = elapsed.as_secs_f64() / timing.interval.as_secs_f64();
    let mut worst = f64::MAX;
    for (n, b) in names.iter().zip(&before) {
        let ran = runs(last.body(), n) - b;
        worst = worst.min(ran);
        assert!(
            ran >= expected - 2.0,
            "{n} ran {ran} times in {elapsed:?} (about {expected:.1} expected)\n{}",
            d.diag()
        );
    }
    println!("every check ran at least {worst} times in {elapsed:?} ({expected:.1} intervals)");
    d.assert_running_for("after the load");
    assert_stops(&mut d);
}
