//! check_raw_serve's packet engine end to end: one `Engine` in the `lb`
//! namespace, many runs of `checks::run` at once on threads (as the
//! daemon's workers run them), against a real server with the VIP (OK), a
//! real server without it and one with nothing listening (CRITICAL),
//! interleaved. The engine's counters and `/proc/net/packet` prove that
//! every frame went through one socket; the real servers are left with no
//! connection open.

use std::ffi::OsString;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crate::harness::*;
use check_raw::checks::{self, Runner};
use check_raw::cli::{self, Command, Config};
use check_raw::net::shared::Engine;
use check_raw::outcome::{Outcome, State};
use check_raw::wait::Waiter;

/// `check_raw_tcp -t 2000 OPTS... eth0 REAL_SERVER VIP 80`, parsed.
fn tcp(opts: &[&str], real_server: &str, vip: &str) -> Config {
    let port = PORT.to_string();
    let mut argv: Vec<OsString> = vec!["check_raw_tcp".into(), "-t".into(), "2000".into()];
    argv.extend(opts.iter().map(OsString::from));
    argv.extend([IFACE, real_server, vip, &port].map(OsString::from));
    match cli::parse(argv) {
        Ok(Command::Check(config)) => config,
        other => panic!("not a check: {other:?}"),
    }
}

/// Packet sockets open in the calling thread's network namespace (the
/// thread's own view: /proc/self/net is the process's).
fn packet_sockets() -> usize {
    std::fs::read_to_string("/proc/thread-self/net/packet")
        .map(|t| t.lines().skip(1).count())
        .unwrap_or(0)
}

/// Run `configs` through one engine in `lb`, `threads` runs at a time;
/// each run's outcome, the engine's counters, the most packet sockets seen
/// open during the runs, and the engine's (unchanged) note.
fn through_one_engine(
    tb: &Testbed,
    configs: Vec<Config>,
    threads: usize,
) -> (Vec<Outcome>, check_raw::net::shared::Stats, usize) {
    tb.in_ns("lb", move || {
        let waiter = Arc::new(Waiter::install()?);
        let engine = Arc::new(Engine::new());
        assert!(engine.ports().is_some(), "{:?}", engine.note());
        let configs = Arc::new(configs);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (waiter, engine) = (waiter.clone(), engine.clone());
                let (configs, next) = (configs.clone(), next.clone());
                thread::spawn(move || {
                    let mut done = Vec::new();
                    let mut most = 0;
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(config) = configs.get(i) else {
                            return (done, most);
                        };
                        let runner = Runner {
                            waiter: &waiter,
                            started: Instant::now(),
                            engine: Some(&engine),
                        };
                        done.push((i, checks::run(config, &runner)));
                        most = most.max(packet_sockets());
                    }
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        let mut most = 0;
        for worker in workers {
            let (done, seen) = worker.join().expect("a worker panicked");
            outcomes.extend(done);
            most = most.max(seen);
        }
        outcomes.sort_by_key(|(i, _)| *i);
        let outcomes = outcomes.into_iter().map(|(_, o)| o).collect();
        Ok((outcomes, engine.stats(), most))
    })
    .expect("the engine runs in lb")
}

#[test]
fn many_concurrent_runs_share_one_socket_and_each_gets_its_verdict() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    // Interleaved: OK, no VIP (a timeout), nothing listening (RST).
    let targets = [
        (RS1, State::Ok),
        (RS2, State::Critical),
        (RS3, State::Critical),
    ];
    let plan: Vec<(&str, State)> = (0..60).map(|i| targets[i % 3]).collect();
    let configs = plan.iter().map(|(rs, _)| tcp(&["-vvv"], rs, VIP)).collect();
    let (outcomes, stats, most_sockets) = through_one_engine(&tb, configs, 16);
    for ((rs, want), got) in plan.iter().zip(&outcomes) {
        assert_eq!(
            got.state,
            *want,
            "{rs}: {}\n{}",
            got.status_line(),
            got.details.join("\n")
        );
    }
    let runs = plan.len() as u64;
    assert_eq!(stats.shared_runs, runs, "{stats:?}");
    assert_eq!(stats.own_socket_runs, 0, "{stats:?}");
    assert_eq!(stats.sockets, 1, "{stats:?}");
    assert!(
        most_sockets <= 1,
        "{most_sockets} packet sockets seen at once"
    );
    assert_eq!(stats.flows_in_flight, 0, "every run gave its port back");
    assert_eq!(stats.resolving, 0);
    assert!(stats.neighbour_hits > 0, "{stats:?}");
    assert!(stats.frames_sent >= runs && stats.frames_delivered > 0);
    assert_nothing_left_open(&tb, "rs1", PORT, &format!("{stats:?}"));
}

#[test]
fn ipv6_a_fixed_port_and_the_vip_check_each_find_their_way() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let configs = vec![
        tcp(&[], RS1_6, VIP6),
        tcp(&[], RS1_6, VIP6),
        // A --source-port outside the range: its own socket, as the plugin.
        tcp(&["--source-port", "40000"], RS1, VIP),
        tcp(&[], RS1, VIP),
    ];
    let (outcomes, stats, _) = through_one_engine(&tb, configs, 4);
    for got in &outcomes {
        assert_eq!(got.state, State::Ok, "{}", got.status_line());
    }
    assert_eq!(
        (stats.shared_runs, stats.own_socket_runs),
        (3, 1),
        "{stats:?}"
    );
    assert_eq!(stats.flows_in_flight, 0);
    assert_nothing_left_open(&tb, "rs1", PORT, &format!("{stats:?}"));
}

/// On-CPU time of thread `tid` of this process so far (schedstat, ns).
fn cpu_ns(tid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// This process's threads whose name starts with `prefix`.
fn threads_named(prefix: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let tid = e.ok()?.file_name().into_string().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).ok()?;
        comm.starts_with(prefix).then_some(tid)
    })
    .collect()
}

/// Not a test: the CPU a TCP check costs through the engine's shared
/// socket and through a socket of its own (`--source-port` outside the
/// range takes that path), `runs` sequential runs each, the run's thread
/// and the engine's reader counted (the servers, threads of this process
/// too, are not).
/// `cargo test --release --test it -- --ignored --nocapture engine::cpu_per_check`.
#[test]
#[ignore]
fn cpu_per_check() {
    require!(Need::Testbed);
    // ENGINE_RUNS=N: fewer runs, e.g. under strace.
    let runs: u32 = std::env::var("ENGINE_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let tb = Testbed::new();
    let report = tb
        .in_ns("lb", move || {
            let waiter = Waiter::install()?;
            let engine = Engine::new();
            let me = unsafe_gettid();
            let mut lines = Vec::new();
            for (what, opts) in [
                ("shared socket", &[][..]),
                ("own socket", &["--source-port", "40000"][..]),
            ] {
                let config = tcp(opts, RS1, VIP);
                let runner = || Runner {
                    waiter: &waiter,
                    started: Instant::now(),
                    engine: Some(&engine),
                };
                // Warm up: the socket, the port, the neighbour cache.
                assert_eq!(checks::run(&config, &runner()).state, State::Ok);
                let readers = threads_named("reader-");
                let reader_cpu = || readers.iter().map(|t| cpu_ns(t)).sum::<u64>();
                let (worker0, reader0, wall0) = (cpu_ns(&me), reader_cpu(), Instant::now());
                for _ in 0..runs {
                    let outcome = checks::run(&config, &runner());
                    assert_eq!(outcome.state, State::Ok, "{}", outcome.status_line());
                }
                let per = |ns: u64| ns as f64 / f64::from(runs) / 1000.0;
                let worker = per(cpu_ns(&me) - worker0);
                let reader = per(reader_cpu() - reader0);
                let wall = wall0.elapsed().as_secs_f64() * 1e6 / f64::from(runs);
                lines.push(format!(
                    "{what}: {runs} runs, CPU per check {:.1} us (run {worker:.1}, reader {reader:.1}), wall {wall:.0} us",
                    worker + reader
                ));
            }
            lines.push(format!("{:?}", engine.stats()));
            Ok(lines)
        })
        .unwrap();
    for line in report {
        println!("{line}");
    }
}

fn unsafe_gettid() -> String {
    std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|p| p.file_name()?.to_str().map(String::from))
        .unwrap_or_default()
}
