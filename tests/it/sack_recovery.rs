//! A response segment lost on its way to the LB, and how the check's TCP
//! tells the real server: a duplicate ACK per segment beyond the hole and
//! SACK blocks, so the server's kernel recovers by SACK, never by a
//! retransmission timeout (its own `TcpExt` counters say which). Frames
//! are dropped by the harness's relay, as in `faults`.
//! Tests skip, with a message, unless root.

use super::faults::{assert_nothing_left_open_ctx, relay_context};
use crate::harness::*;

/// One counter of the kernel's TCP statistics (`TcpExt` in
/// /proc/net/netstat) in `host`'s namespace.
fn tcp_ext(tb: &Testbed, host: &str, name: &str) -> u64 {
    let r = tb.run_in(host, &["cat", "/proc/net/netstat"]);
    let lines: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("TcpExt:"))
        .collect();
    let [names, values] = lines[..] else {
        panic!("no TcpExt lines in /proc/net/netstat\n{r}");
    };
    let at = names.split_whitespace().position(|n| n == name);
    let value = at.and_then(|at| values.split_whitespace().nth(at)?.parse().ok());
    value.unwrap_or_else(|| panic!("no TcpExt {name} in /proc/net/netstat\n{r}"))
}

/// A response segment lost mid-flight: the segments behind it each draw a
/// duplicate ACK naming them in SACK blocks, so the real server's kernel
/// resends the hole by SACK recovery, not after a retransmission timeout.
#[test]
fn lost_response_segment_is_repaired_by_sack_recovery() {
    require!(Need::Testbed);
    // The response's third segment, of 42.
    lost_response_frame_is_repaired(3, 60_000, 3);
}

/// Found by check_raw_serve's loss test: the response's only data segment
/// lost, its FIN (sent apart by the server's close) arrived alone and went
/// unacknowledged, so the server backed off its timer past the deadline.
/// Now a duplicate ACK SACKs the FIN and the server resends at once.
#[test]
fn lost_last_data_before_a_lone_fin_is_repaired_by_sack_recovery() {
    require!(Need::Testbed);
    lost_response_frame_is_repaired(1, 3, 1);
}

/// Drop the `nth` data segment of a `body_len` response: the check
/// passes, at least `sacked` of its ACKs carry one SACK block, and the
/// real server recovered by SACK, not by a timeout (its `TcpExt`).
fn lost_response_frame_is_repaired(nth: usize, body_len: usize, sacked: usize) {
    let lost = Faults::new().drop_nth_tcp_data([nth]);
    let tb = Testbed::with_relay(FaultPlan::none().toward_lb(lost));
    let body = "s".repeat(body_len);
    let reply = format!("HTTP/1.1 200 OK\r\nContent-Length: {body_len}\r\n\r\n{body}");
    tb.serve("rs1", PORT, Behaviour::Respond(reply.into_bytes()));
    let counters = || {
        let count = |name| tcp_ext(&tb, "rs1", name);
        (count("TCPTimeouts"), count("TCPSackRecovery"))
    };
    let before = counters();
    let (md5, port) = (md5_hex(body.as_bytes()), PORT.to_string());
    let argv = [
        "-vvv", "-t", "3000", IFACE, RS1, VIP, &port, "www", "/", &md5,
    ];
    let r = tb.run("lb", &check_raw_bin("check_raw_http_get"), &argv);
    let ctx = format!("{r}\n{}", relay_context(&tb));
    assert_eq!(r.code, Some(0), "{ctx}");
    assert_eq!(tb.relay().stats().to_lb.dropped, 1, "{ctx}");
    let acks = r.stdout.lines().filter(|l| l.contains(" ms > "));
    let with_sack = acks.filter(|l| l.contains("sack 1 {")).count();
    assert!(
        with_sack >= sacked,
        "{with_sack} ACKs with a SACK block\n{ctx}"
    );
    let after = counters();
    assert_eq!(after.0, before.0, "the server waited for a timeout\n{ctx}");
    assert!(after.1 > before.1, "the server did no SACK recovery\n{ctx}");
    assert_nothing_left_open_ctx(&tb, "rs1", &ctx);
}
