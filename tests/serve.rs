//! check_raw_serve, the daemon (issue 21), as an operator meets it: run in
//! the testbed's MASTER load balancer `lb` on a serve.toml the test writes
//! (`harness::serve`), against the harness's real servers, its state files
//! read every 20 ms.
//!
//! - many checks (TCP, HTTP and VIP, IPv4 and IPv6, two ports, three real
//!   servers) come up; one real server losing the VIP takes exactly its
//!   checks down, with one DOWN line each, and back up with one UP line;
//!   sixty checks on one engine; forty dead ones starve no healthy one;
//!   TLS and DNS checks in both roles;
//! - a role file flipped to BACKUP moves a check onto the kernel path;
//!   `-r auto` follows the VIP onto and off the balancer;
//! - SIGHUP adds, removes, keeps and restarts checks (no flap), moves the
//!   state_dir, survives a burst, and refuses a broken file while the old
//!   checks keep running; a check removed mid-flow leaves nothing open;
//! - a restart on healthy servers never shows a `0`; files a previous run
//!   left are the starting state; a check's own interval, rise and fall;
//! - SIGTERM or SIGINT while flows are open: RST to the server, exit 0
//!   within 1 s; systemd's notify protocol;
//! - the network changing under it: a real server's new MAC, `lb`'s eth0
//!   bouncing or made anew, the state_dir deleted;
//! - a configuration this host cannot run (no such interface, no usable
//!   state_dir) is refused with FILE:LINE: KEY before anything is sent;
//! - `--once`, the Nagios form, and `--check`.
//!
//! Intervals of 400 ms with rise and fall 2 keep the file fast; the time
//! limits carry seconds of slack, since the machine is loaded: the timing
//! goals are the bench's, not these tests'. Each test builds its own
//! testbed; tests skip, with a message, when not root (under CI=true they
//! fail).

#[macro_use]
mod harness;

use std::fs;
use std::path::Path;
use std::thread;
use std::time::Duration;

use harness::serve::*;
use harness::*;

/// Every check's `-t`, in ms.
const T: u64 = 300;
const TIMING: Timing = Timing {
    interval: Duration::from_millis(400),
    rise: 2,
    fall: 2,
};
/// What the loaded machine may add to a change's expected time.
const SLACK: Duration = Duration::from_secs(4);
/// A SIGTERM or SIGINT must end the daemon within this (the contract).
const STOP_WITHIN: Duration = Duration::from_secs(1);

fn timeout() -> Duration {
    Duration::from_millis(T)
}

fn tcp(real_server: &str, vip: &str, port: u16) -> String {
    format!("check_raw_tcp -t {T} {IFACE} {real_server} {vip} {port}")
}

fn http(real_server: &str, port: u16) -> String {
    format!("check_raw_http -S 200 -s ok -t {T} {IFACE} {real_server} {VIP} {port} {VHOST} /health")
}

/// rs1, rs2 and rs3 all healthy LVS-DR real servers: the canned HTTP reply
/// on ports 80 and `HTTP_PORT`, the VIPs (IPv4 and IPv6) on `lo` of all
/// three (the testbed leaves rs2 without them).
fn healthy_testbed() -> Testbed {
    let tb = Testbed::without_servers();
    for host in ["rs1", "rs2", "rs3"] {
        for port in [PORT, HTTP_PORT] {
            tb.serve(host, port, Behaviour::Respond(HTTP_REPLY.to_vec()));
        }
    }
    put_vips_back(&tb, "rs2");
    tb
}

/// The VIPs (IPv4 and IPv6) on `host`'s `lo` again, after `remove_vip`.
fn put_vips_back(tb: &Testbed, host: &str) {
    tb.add_vip(host);
    tb.add_addrs(host, "lo", &[&format!("{VIP6}/128")]);
}

/// The state of every name.
fn all(names: &[&str], content: &'static str) -> Vec<(String, Option<&'static str>)> {
    names
        .iter()
        .map(|n| ((*n).to_owned(), Some(content)))
        .collect()
}

fn wait_all(
    bed: &ServeBed,
    d: &ServeProc,
    names: &[&str],
    content: &'static str,
    limit: Duration,
    what: &str,
) -> Duration {
    let want = all(names, content);
    let want: Vec<(&str, Option<&str>)> = want.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let took = bed.wait_states(&want, limit, d, what);
    println!("{what}: {took:?}");
    took
}

/// The `started:` line, which the contract words exactly.
fn wait_started(bed: &ServeBed, d: &ServeProc, n: usize) {
    let line = format!(
        "started: {n} check{} from {}, state files in {}",
        if n == 1 { "" } else { "s" },
        bed.config.display(),
        bed.state_dir.display()
    );
    d.wait_line(0, &line, &[], SLACK);
}

/// Exactly one change line for each name among the lines after `skip`:
/// `NAME: UP after 2 up results (was DOWN for ...): <status line>` (or
/// DOWN/failures), the status line containing `needle`.
fn assert_one_change_each(d: &ServeProc, skip: usize, names: &[&str], up: bool, needle: &str) {
    let n = if up { TIMING.rise } else { TIMING.fall };
    assert_one_change_after(d, skip, names, up, n, needle);
}

/// `assert_one_change_each` after `n` results (`rise` or `fall`).
fn assert_one_change_after(
    d: &ServeProc,
    skip: usize,
    names: &[&str],
    up: bool,
    n: u32,
    needle: &str,
) {
    let lines: Vec<String> = d.lines().into_iter().skip(skip).collect();
    let (health, was) = if up { ("UP", "DOWN") } else { ("DOWN", "UP") };
    let words = match (up, n) {
        (true, 1) => "up result",
        (true, _) => "up results",
        (false, 1) => "failure",
        (false, _) => "failures",
    };
    for name in names {
        let start = format!("{name}: {health} after {n} {words} (was {was} for ");
        let found: Vec<&String> = lines.iter().filter(|l| l.starts_with(&start)).collect();
        assert!(
            found.len() == 1 && found[0].contains("s): ") && found[0].contains(needle),
            "expected one line {start:?}...\"s): ...{needle}...\", found {found:?}\n{}",
            d.diag()
        );
    }
}

/// No change line at all for these names among the lines after `skip`.
fn assert_no_change(d: &ServeProc, skip: usize, names: &[&str]) {
    let changes: Vec<String> = d
        .lines()
        .into_iter()
        .skip(skip)
        .filter(|l| {
            names.iter().any(|n| {
                l.starts_with(&format!("{n}: UP after"))
                    || l.starts_with(&format!("{n}: DOWN after"))
            })
        })
        .collect();
    assert!(
        changes.is_empty(),
        "no state change expected for {names:?}, got {changes:?}\n{}",
        d.diag()
    );
}

/// SIGTERM: exit 0 within `STOP_WITHIN`, saying so, every line prefixed.
fn assert_stops_on(d: &mut ServeProc, sig: libc::c_int, name: &str) {
    let sent = d.signal(sig);
    let Some((status, at)) = d.wait_exit(SLACK) else {
        panic!(
            "check_raw_serve still running {SLACK:?} after {name}\n{}",
            d.diag()
        );
    };
    let latency = at.saturating_duration_since(sent);
    println!(
        "{name}: {} {latency:?} after the signal",
        show_status(&status)
    );
    assert_eq!(status.code(), Some(0), "exit 0 on {name}\n{}", d.diag());
    assert!(
        latency < STOP_WITHIN,
        "took {latency:?} after {name}\n{}",
        d.diag()
    );
    assert!(
        d.lines()
            .iter()
            .any(|l| l == &format!("stopping on {name}")),
        "the log should say `stopping on {name}`\n{}",
        d.diag()
    );
    d.assert_log_prefixed();
}

/// Twelve checks over three real servers, two ports, both address
/// families, TCP, HTTP and VIP: all come up. rs3 loses its VIPs: its four
/// checks go down within fall intervals (plus one run's `-t` and slack),
/// one DOWN line each, the eight others stay up throughout; the VIPs back,
/// rs3's checks come up within rise intervals, one UP line each.
#[test]
fn state_files_follow_a_real_server_losing_and_regaining_the_vip() {
    require!(Need::Testbed);
    let tb = healthy_testbed();
    let bed = ServeBed::new();
    assert_built(&bed);
    let mut checks = Vec::new();
    for (host, rs, rs6) in [
        ("rs1", RS1, RS1_6),
        ("rs2", RS2, RS2_6),
        ("rs3", RS3, RS3_6),
    ] {
        checks.push(Check::new(&format!("tcp-{host}"), tcp(rs, VIP, PORT)));
        checks.push(Check::new(&format!("http-{host}"), http(rs, HTTP_PORT)));
        checks.push(Check::new(&format!("tcp6-{host}"), tcp(rs6, VIP6, PORT)));
        checks.push(Check::new(
            &format!("vip-{host}"),
            format!("check_raw_vip -t {T} {IFACE} {rs} {VIP}"),
        ));
    }
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    let (rs3, others): (Vec<&str>, Vec<&str>) = names.iter().partition(|n| n.ends_with("-rs3"));
    bed.write_config(&bed.toml(TIMING, &checks));
    let mut d = bed.start(&tb, "lb", &[]);
    wait_started(&bed, &d, names.len());
    // No file yet: every check starts at 0 (fail closed), up after rise.
    let up = TIMING.limit(TIMING.rise + 1, timeout(), SLACK);
    wait_all(&bed, &d, &names, "1\n", up, "all twelve up");
    assert_one_change_each(&d, 0, &names, true, " OK - ");

    let watch = bed.watch(&others);
    let skip = d.line_count();
    tb.remove_vip("rs3");
    let down = TIMING.limit(TIMING.fall, timeout(), SLACK);
    wait_all(
        &bed,
        &d,
        &rs3,
        "0\n",
        down,
        "rs3's checks down after its VIPs went",
    );
    assert_one_change_each(&d, skip, &rs3, false, " CRITICAL - ");

    let skip = d.line_count();
    put_vips_back(&tb, "rs3");
    let up = TIMING.limit(TIMING.rise, timeout(), SLACK);
    wait_all(
        &bed,
        &d,
        &rs3,
        "1\n",
        up,
        "rs3's checks up with its VIPs back",
    );
    assert_one_change_each(&d, skip, &rs3, true, " OK - ");

    assert_never_flapped(&watch.stop(), "rs1's and rs2's checks", &d.diag());
    let downs: Vec<String> = d
        .lines()
        .into_iter()
        .filter(|l| others.iter().any(|n| l.starts_with(&format!("{n}: DOWN"))))
        .collect();
    assert!(
        downs.is_empty(),
        "rs1 and rs2 never went down: {downs:?}\n{}",
        d.diag()
    );
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
    // Stopping leaves the files as they are.
    for n in &names {
        assert_eq!(
            bed.state(n).as_deref(),
            Some("1\n"),
            "{n} after the stop\n{}",
            bed.show_states()
        );
    }
}

/// Replaces the role file atomically (the check may read it at any time).
fn set_role(role: &RoleFile, value: &str) {
    let path = Path::new(role.path());
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, value).expect("write the role file");
    fs::rename(&tmp, path).expect("rename the role file");
}

/// Each run reads its role file: `1` (MASTER) sends raw frames to the VIP
/// at rs2, which lacks it, so `flip` is down; `0` (BACKUP) connects
/// through the kernel to rs2's own address, so it comes up, its status
/// line saying BACKUP role; `1` again takes it down. `steady` (rs1, which
/// has the VIP) stays up on both paths, its per-run lines (`-v`) naming
/// the path taken.
#[test]
fn a_role_file_flipped_to_backup_moves_a_check_to_the_kernel_path() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    for host in ["rs1", "rs2"] {
        tb.serve(host, PORT, Behaviour::Respond(HTTP_REPLY.to_vec()));
    }
    let bed = ServeBed::new();
    assert_built(&bed);
    let role = RoleFile::master();
    let r = role.path();
    let checks = [
        Check::new(
            "flip",
            format!("check_raw_tcp -r {r} -t {T} {IFACE} {RS2} {VIP} {PORT}"),
        ),
        Check::new(
            "steady",
            format!("check_raw_tcp -r {r} -t {T} {IFACE} {RS1} {VIP} {PORT}"),
        ),
    ];
    bed.write_config(&bed.toml(TIMING, &checks));
    let mut d = bed.start(&tb, "lb", &["-v"]);
    wait_started(&bed, &d, 2);
    let limit = TIMING.limit(TIMING.rise + 1, timeout(), SLACK);
    wait_all(&bed, &d, &["steady"], "1\n", limit, "steady up as MASTER");
    let line = d.wait_line(0, "flip: RAW_TCP CRITICAL - ", &["lack the VIP"], limit);
    assert!(
        !line.contains("BACKUP"),
        "MASTER expected: {line}\n{}",
        d.diag()
    );
    assert_eq!(bed.state("flip").as_deref(), Some("0\n"), "{}", d.diag());
    let steady = d.wait_line(0, "steady: RAW_TCP OK - ", &[], limit);
    assert!(
        !steady.contains("BACKUP"),
        "MASTER expected: {steady}\n{}",
        d.diag()
    );

    let watch = bed.watch(&["steady"]);
    let skip = d.line_count();
    set_role(&role, "0\n");
    let limit = TIMING.limit(TIMING.rise, timeout(), SLACK);
    wait_all(&bed, &d, &["flip"], "1\n", limit, "flip up as BACKUP");
    assert_one_change_each(&d, skip, &["flip"], true, "BACKUP role");
    d.wait_line(skip, "steady: RAW_TCP OK - ", &["BACKUP role", RS1], limit);

    let skip = d.line_count();
    set_role(&role, "1\n");
    let limit = TIMING.limit(TIMING.fall, timeout(), SLACK);
    wait_all(
        &bed,
        &d,
        &["flip"],
        "0\n",
        limit,
        "flip down as MASTER again",
    );
    assert_one_change_each(&d, skip, &["flip"], false, "lack the VIP");
    assert_never_flapped(&watch.stop(), "steady, on both paths", &d.diag());
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
}

/// SIGHUP with `gone` removed and `added` added: its file goes, the new
/// one comes (and comes up), `keep` keeps its state (1 at every read, no
/// second UP line), `moved` (a new command, a closed port) stays 1 until
/// its fall, then goes down. A broken file then: `reload refused`, and the running
/// checks go on (rs2 losing its VIPs still takes `added` down).
#[test]
fn sighup_adds_removes_keeps_and_refuses_a_broken_file() {
    require!(Need::Testbed);
    let tb = healthy_testbed();
    let bed = ServeBed::new();
    assert_built(&bed);
    let keep = Check::new("keep", tcp(RS1, VIP, PORT));
    let gone = Check::new("gone", tcp(RS3, VIP, PORT));
    let added = Check::new("added", http(RS2, HTTP_PORT));
    let moved = Check::new("moved", tcp(RS1, VIP, PORT));
    // Nothing listens on rs1:81: refused at once.
    let moved_away = Check::new("moved", tcp(RS1, VIP, 81));
    bed.write_config(&bed.toml(TIMING, &[keep.clone(), gone, moved]));
    let mut d = bed.start(&tb, "lb", &[]);
    wait_started(&bed, &d, 3);
    let limit = TIMING.limit(TIMING.rise + 1, timeout(), SLACK);
    let names = ["keep", "gone", "moved"];
    wait_all(&bed, &d, &names, "1\n", limit, "keep, gone and moved up");
    let watch = bed.watch(&["keep"]);
    let moved_watch = bed.watch(&["moved"]);

    let good = bed.toml(TIMING, &[keep, added, moved_away]);
    bed.write_config(&good);
    let skip = d.line_count();
    d.signal(libc::SIGHUP);
    let reloaded = format!(
        "reloaded {}: 3 checks (1 added, 1 removed, 2 kept)",
        bed.config.display()
    );
    d.wait_line(skip, &reloaded, &[], SLACK);
    let limit = TIMING.limit(TIMING.rise + 1, timeout(), SLACK);
    let want = [
        ("gone", None),
        ("added", Some("1\n")),
        ("keep", Some("1\n")),
        ("moved", Some("0\n")),
    ];
    let took = bed.wait_states(&want, limit, &d, "after the reload");
    println!("reload: gone removed, added up, moved down in {took:?}");
    assert_one_change_each(&d, skip, &["added"], true, " OK - ");
    // A new command under the same name keeps the state (no flap at the
    // reload) until its own fall decides.
    assert_one_change_each(&d, skip, &["moved"], false, " CRITICAL - ");
    let moved_seen: Vec<Option<String>> = moved_watch.stop()["moved"]
        .iter()
        .map(|s| s.content.clone())
        .collect();
    assert_eq!(
        moved_seen,
        [Some("1\n".to_owned()), Some("0\n".to_owned())],
        "moved: 1 until its fall, then 0\n{}",
        d.diag()
    );

    let skip = d.line_count();
    let broken = good.replacen("rise = 2\n", "rise = 0\n", 1);
    assert_ne!(broken, good);
    bed.write_config(&broken);
    d.signal(libc::SIGHUP);
    let refused = format!(
        "reload refused, still running the previous configuration: {}:2: rise: ",
        bed.config.display()
    );
    d.wait_line(skip, &refused, &[], SLACK);
    tb.remove_vip("rs2");
    let limit = TIMING.limit(TIMING.fall, timeout(), SLACK);
    let want = [
        ("gone", None),
        ("added", Some("0\n")),
        ("keep", Some("1\n")),
    ];
    bed.wait_states(
        &want,
        limit,
        &d,
        "the old checks still running after the refusal",
    );
    assert_one_change_each(&d, skip, &["added"], false, " CRITICAL - ");

    assert_never_flapped(&watch.stop(), "keep, across both reloads", &d.diag());
    assert_one_change_each(&d, 0, &["keep"], true, " OK - ");
    let keep_downs = d.lines_starting("keep: DOWN");
    assert!(keep_downs.is_empty(), "{keep_downs:?}\n{}", d.diag());
    assert!(
        d.lines_starting("gone: ")
            .iter()
            .all(|l| l.starts_with("gone: UP after")),
        "nothing more of gone after its removal\n{}",
        d.diag()
    );
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
}

/// Healthy servers, files at 1; SIGTERM, start again: read every 20 ms
/// from before the stop to rise intervals after the new start, no file
/// ever reads anything but 1, and the new run logs no change.
#[test]
fn a_restart_on_healthy_servers_never_shows_a_0() {
    require!(Need::Testbed);
    let tb = healthy_testbed();
    let bed = ServeBed::new();
    assert_built(&bed);
    let checks = [
        Check::new("tcp-rs1", tcp(RS1, VIP, PORT)),
        Check::new("http-rs2", http(RS2, HTTP_PORT)),
        Check::new("tcp6-rs3", tcp(RS3_6, VIP6, PORT)),
    ];
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    bed.write_config(&bed.toml(TIMING, &checks));
    let mut first = bed.start(&tb, "lb", &[]);
    wait_started(&bed, &first, 3);
    let limit = TIMING.limit(TIMING.rise + 1, timeout(), SLACK);
    wait_all(
        &bed,
        &first,
        &names,
        "1\n",
        limit,
        "all up before the restart",
    );

    let watch = bed.watch(&names);
    thread::sleep(POLL * 3);
    assert_stops_on(&mut first, libc::SIGTERM, "SIGTERM");
    let second = bed.start(&tb, "lb", &[]);
    wait_started(&bed, &second, 3);
    thread::sleep(TIMING.interval * (TIMING.rise + 2));
    second.assert_running_for("the restart");
    let history = watch.stop();
    let diag = format!("{}\n--- the first run ---\n{}", second.diag(), first.diag());
    assert_never_flapped(&history, "across the restart", &diag);
    assert_no_change(&second, 0, &names);
}

/// SIGTERM (then SIGINT, on a second run) while two HTTP checks' flows
/// are open on a server that never answers, one raw (MASTER), one a
/// kernel connection (BACKUP), and a TCP check waits for ARP: exit 0
/// within 1 s, each flow reset (rs1 saw RST, nothing left established
/// there), the state files as they were.
#[test]
fn sigterm_and_sigint_mid_exchange_reset_the_flows_and_exit_0_within_1s() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let mute_port = 8081;
    let mute = tb.serve("rs1", mute_port, Behaviour::Silent);
    let bed = ServeBed::new();
    assert_built(&bed);
    let long = 2500;
    let backup = RoleFile::backup();
    let http_mute = |opts: &str| {
        format!("check_raw_http {opts}-S 200 -t {long} {IFACE} {RS1} {VIP} {mute_port} {VHOST} /")
    };
    let checks = [
        Check::new("mute", http_mute("")),
        Check::new("mute-backup", http_mute(&format!("-r {} ", backup.path()))),
        Check::new(
            "nobody",
            format!("check_raw_tcp -t {long} {IFACE} {NOBODY} {VIP} {PORT}"),
        ),
    ];
    let names = ["mute", "mute-backup", "nobody"];
    let timing = Timing {
        interval: Duration::from_millis(3000),
        ..TIMING
    };
    bed.write_config(&bed.toml(timing, &checks));
    for (sig, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGINT, "SIGINT")] {
        let ends_before = mute.ends().len();
        let mut d = bed.start(&tb, "lb", &[]);
        wait_started(&bed, &d, 3);
        // The schedule spreads the first runs over the interval; both
        // flows (raw and kernel) are open at once for part of it.
        let limit = timing.interval * 2 + SLACK;
        let start = std::time::Instant::now();
        while tb.established_on("rs1", mute_port) < 2 {
            assert!(
                start.elapsed() < limit,
                "not two flows open on rs1:{mute_port} within {limit:?} ({mute:?})\n{}",
                d.diag()
            );
            d.assert_running_for("waiting for the flows");
            thread::sleep(POLL);
        }
        let open_before = mute.accepted() - ends_before;
        let states: Vec<Option<String>> = names.map(|n| bed.state(n)).to_vec();
        assert_stops_on(&mut d, sig, name);
        let open = tb.wait_none_established("rs1", mute_port, SETTLE);
        assert_eq!(
            open,
            0,
            "{open} flow(s) left established on rs1 after {name}\n{}",
            d.diag()
        );
        let ends = mute.wait_ends(ends_before + open_before, SETTLE);
        let new = &ends[ends_before.min(ends.len())..];
        assert!(
            new.len() >= 2
                && new
                    .iter()
                    .all(|e| matches!(e, ConnEnd::Reset | ConnEnd::Error(_))),
            "rs1 should see a RST end each open flow, raw and kernel ({mute:?})\n{}",
            d.diag()
        );
        let after: Vec<Option<String>> = names.map(|n| bed.state(n)).to_vec();
        assert_eq!(
            after,
            states,
            "the state files are left as they are\n{}",
            d.diag()
        );
    }
}

/// The line (from 1) of the `n`th (from 0) `[[check]]` header.
fn check_line(toml: &str, n: usize) -> usize {
    toml.lines()
        .enumerate()
        .filter(|(_, l)| *l == "[[check]]")
        .nth(n)
        .map(|(i, _)| i + 1)
        .expect("the check's header")
}

/// A config this host cannot run: an interface that does not exist, a
/// state_dir that does not exist or is a file. Run mode and `--check`
/// exit 1 with `check_raw_serve: FILE:LINE: KEY: message` on stderr,
/// nothing on stdout, nothing sent (rs1's HTTP server accepts nothing),
/// no state file. `--once` says UNKNOWN with the missing interface, exit
/// 3, and runs whatever state_dir says (it writes no state file).
#[test]
fn a_config_the_host_cannot_run_is_refused_before_any_frame() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    let web = tb.serve("rs1", HTTP_PORT, Behaviour::Respond(HTTP_REPLY.to_vec()));
    let bed = ServeBed::new();
    assert_built(&bed);
    let config = bed.config.display().to_string();
    let good = Check::new("web", http(RS1, HTTP_PORT));
    let bad_if = Check::new(
        "bad-if",
        format!("check_raw_tcp -t {T} eth9 {RS1} {VIP} {PORT}"),
    );

    let no_if = bed.toml(TIMING, &[good.clone(), bad_if]);
    let if_line = format!(
        "check_raw_serve: {config}:{}: check.bad-if.command: interface 'eth9' does not exist here",
        check_line(&no_if, 1)
    );
    let missing = bed.dir().join("missing");
    let no_dir = toml(&missing, TIMING, std::slice::from_ref(&good));
    let a_file = bed.dir().join("a-file");
    fs::write(&a_file, "").expect("write a-file");
    let file_dir = toml(&a_file, TIMING, &[good]);
    let state_line = |dir: &Path| {
        format!(
            "check_raw_serve: {config}:4: state_dir: {}: ",
            dir.display()
        )
    };
    let cases = [
        (
            "no such interface",
            no_if,
            if_line.clone(),
            "eth9".to_owned(),
        ),
        (
            "state_dir missing",
            no_dir,
            state_line(&missing),
            "No such file".to_owned(),
        ),
        (
            "state_dir a file",
            file_dir,
            state_line(&a_file),
            "not a directory".to_owned(),
        ),
    ];
    let mut failures = Vec::new();
    for (what, text, line, needle) in &cases {
        bed.write_config(text);
        for mode in [&[][..], &["--check"][..]] {
            let r = bed.run(&tb, "lb", mode);
            let found = r
                .stderr
                .lines()
                .any(|l| l.starts_with(line.as_str()) && l.contains(needle.as_str()));
            if r.code != Some(1) || !found || !r.stdout.is_empty() || r.killed {
                failures.push(format!(
                    "[{what}, {mode:?}] exit 1, nothing on stdout and a line {line:?}...{needle:?} on stderr expected\n{r}\n{text}"
                ));
            }
        }
    }
    assert_eq!(
        bed.state_names(),
        Vec::<String>::new(),
        "no state file may be written"
    );
    thread::sleep(Duration::from_millis(200));
    if web.accepted() != 0 {
        failures.push(format!(
            "nothing may be sent, yet rs1 accepted a connection ({web:?})"
        ));
    }
    // --once: the missing interface is UNKNOWN, nothing sent; state_dir is
    // no concern of a run that writes no state file, so it runs.
    for (what, text, _, needle) in &cases {
        bed.write_config(text);
        let r = bed.run(&tb, "lb", &["--once"]);
        let (code, start, needle) = if what.starts_with("state_dir") {
            (0, "CHECK_RAW_SERVE OK - 1 check: 1 ok, ", "")
        } else {
            (3, "CHECK_RAW_SERVE UNKNOWN - ", needle.as_str())
        };
        if r.code != Some(code)
            || !r.status_line().starts_with(start)
            || !r.status_line().contains(needle)
        {
            failures.push(format!(
                "[{what}, --once] exit {code}, `{start}...{needle}...` expected\n{r}\n{text}"
            ));
        }
        if code == 3 && web.accepted() != 0 {
            failures.push(format!("[{what}, --once] nothing may be sent ({web:?})"));
        }
    }
    assert_all_ok(&failures);
}

/// `--once`, a Nagios plugin: every check once, the worst state first,
/// perfdata with the counts, then one line per check in file order; exit
/// the worst code. `--check` prints the summary, exit 0.
#[test]
fn once_runs_every_check_once_and_check_prints_the_summary() {
    require!(Need::Testbed);
    let tb = Testbed::new();
    let bed = ServeBed::new();
    assert_built(&bed);
    let checks = [
        Check::new("rs1", tcp(RS1, VIP, PORT)),
        Check::new("rs2", tcp(RS2, VIP, PORT)),
        Check::new("rs1-again", tcp(RS1, VIP, PORT)),
    ];
    bed.write_config(&bed.toml(TIMING, &checks));
    let r = bed.run(&tb, "lb", &["--check"]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(
        r.status_line().starts_with(&format!(
            "{}: 3 checks (3 tcp), state files in ",
            bed.config.display()
        )),
        "--check prints serve::config::summary\n{r}"
    );

    let r = bed.run(&tb, "lb", &["--once"]);
    let first = "CHECK_RAW_SERVE CRITICAL - 3 checks: 2 ok, 0 warning, 1 critical, 0 unknown | ok=2;;;0;3 warning=0;;;0;3 critical=1;;;0;3 unknown=0;;;0;3 time=";
    assert_eq!(r.code, Some(2), "{r}");
    assert!(
        r.status_line().starts_with(first),
        "first line {first:?}...\n{r}"
    );
    let rest: Vec<&str> = r.stdout.lines().skip(1).collect();
    let ok = rest.len() == 3
        && rest[0].starts_with("rs1: RAW_TCP OK - ")
        && rest[1].starts_with("rs2: RAW_TCP CRITICAL - ")
        && rest[1].contains("lack the VIP")
        && rest[2].starts_with("rs1-again: RAW_TCP OK - ");
    assert!(ok, "one line per check, in file order\n{r}");
    assert_nothing_left_open(&tb, "rs1", PORT, &r);
    assert_eq!(
        bed.state_names(),
        Vec::<String>::new(),
        "--once writes no state file"
    );

    bed.write_config(&bed.toml(TIMING, &[Check::new("rs1", tcp(RS1, VIP, PORT))]));
    let r = bed.run(&tb, "lb", &["--once"]);
    assert_eq!(r.code, Some(0), "{r}");
    assert!(
        r.status_line()
            .starts_with("CHECK_RAW_SERVE OK - 1 checks: 1 ok, ")
            || r.status_line()
                .starts_with("CHECK_RAW_SERVE OK - 1 check: 1 ok, "),
        "{r}"
    );
}

/// A state file a previous run left is the check's starting state: `0`
/// for a healthy server stays until rise says UP (`was DOWN`), `1` for a
/// dead one (a closed port) stays until fall says DOWN (`was UP`). No
/// file, or one that is not ours (`x`), starts at `0` (fail closed),
/// written at the start.
#[test]
fn state_files_left_by_a_previous_run_are_the_starting_state() {
    require!(Need::Testbed);
    let tb = healthy_testbed();
    let bed = ServeBed::new();
    assert_built(&bed);
    let checks = [
        Check::new("was-down", tcp(RS1, VIP, PORT)),
        Check::new("was-up", tcp(RS1, VIP, 81)),
        Check::new("new", tcp(RS2, VIP, PORT)),
        Check::new("garbage", tcp(RS3, VIP, PORT)),
    ];
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    fs::write(bed.state_file("was-down"), "0\n").expect("write was-down");
    fs::write(bed.state_file("was-up"), "1\n").expect("write was-up");
    fs::write(bed.state_file("garbage"), "x\n").expect("write garbage");
    bed.write_config(&bed.toml(TIMING, &checks));
    let watch = bed.watch(&names);
    let mut d = bed.start(&tb, "lb", &[]);
    wait_started(&bed, &d, 4);
    let limit = TIMING.limit(TIMING.rise + 1, timeout(), SLACK);
    let want = [
        ("was-down", Some("1\n")),
        ("was-up", Some("0\n")),
        ("new", Some("1\n")),
        ("garbage", Some("1\n")),
    ];
    bed.wait_states(&want, limit, &d, "every check decided");
    assert_one_change_each(&d, 0, &["was-down", "new", "garbage"], true, " OK - ");
    assert_one_change_each(&d, 0, &["was-up"], false, " CRITICAL - ");
    let history = watch.stop();
    let seen =
        |n: &str| -> Vec<Option<String>> { history[n].iter().map(|s| s.content.clone()).collect() };
    let some =
        |v: &[&str]| -> Vec<Option<String>> { v.iter().map(|s| Some((*s).to_owned())).collect() };
    let mut failures = Vec::new();
    for (name, want) in [
        ("was-down", some(&["0\n", "1\n"])),
        ("was-up", some(&["1\n", "0\n"])),
        ("garbage", some(&["x\n", "0\n", "1\n"])),
    ] {
        if seen(name) != want {
            failures.push(format!("{name}: read {:?}, expected {want:?}", seen(name)));
        }
    }
    let new = seen("new");
    if new.first() != Some(&None) || new.get(1..) != Some(&some(&["0\n", "1\n"])[..]) {
        failures.push(format!(
            "new: read {new:?}, expected no file, then 0, then 1"
        ));
    }
    if !failures.is_empty() {
        failures.push(d.diag());
    }
    assert_all_ok(&failures);
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
}

/// systemd's notify protocol on `$NOTIFY_SOCKET`: READY=1 once the first
/// state files are written, RELOADING=1 (with MONOTONIC_USEC) then
/// READY=1 around a SIGHUP, WATCHDOG=1 at half of `$WATCHDOG_USEC`,
/// STOPPING=1 on SIGTERM.
#[test]
fn systemd_notify_ready_reloading_watchdog_stopping() {
    require!(Need::Testbed);
    let tb = healthy_testbed();
    let bed = ServeBed::new();
    assert_built(&bed);
    let checks = [Check::new("web", tcp(RS1, VIP, PORT))];
    bed.write_config(&bed.toml(TIMING, &checks));
    let mut notify = NotifySocket::bind(bed.dir());
    let socket = path_str(&notify.path).to_owned();
    // 600 ms: WATCHDOG=1 every 300 ms.
    let env = [
        ("NOTIFY_SOCKET", socket.as_str()),
        ("WATCHDOG_USEC", "600000"),
    ];
    let mut d = bed.start_env(&tb, "lb", &[], &env);
    let ready = notify.wait_for(0, "READY=1", SLACK);
    let files_then = bed.state_names();
    let Some(ready) = ready else {
        panic!(
            "no READY=1 within {SLACK:?}\n{}\n{}",
            notify.show(),
            d.diag()
        );
    };
    assert_eq!(
        files_then,
        ["web"],
        "READY=1 after the first state files are written\n{}",
        d.diag()
    );

    let watchdogs = |n: &mut NotifySocket| {
        n.messages()
            .iter()
            .filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1"))
            .count()
    };
    let before = watchdogs(&mut notify);
    thread::sleep(Duration::from_millis(1500));
    let pings = watchdogs(&mut notify) - before;
    // Five are due in 1.5 s; a loaded machine may be late with a few.
    assert!(
        pings >= 2,
        "{pings} WATCHDOG=1 in 1.5 s with WATCHDOG_USEC=600000\n{}",
        notify.show()
    );

    let skip = notify.messages().len();
    d.signal(libc::SIGHUP);
    let reloading = notify.wait_for(skip, "RELOADING=1", SLACK);
    let ready_again = reloading.and_then(|i| notify.wait_for(i + 1, "READY=1", SLACK));
    assert!(
        ready_again.is_some(),
        "RELOADING=1 then READY=1 after SIGHUP (ready first at #{ready})\n{}\n{}",
        notify.show(),
        d.diag()
    );
    let reloading_msg = notify.messages()[reloading.unwrap_or(0)].1.clone();
    assert!(
        reloading_msg
            .lines()
            .any(|l| l.starts_with("MONOTONIC_USEC=")),
        "RELOADING=1 comes with MONOTONIC_USEC (Type=notify-reload)\n{}",
        notify.show()
    );

    let skip = notify.messages().len();
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
    assert!(
        notify
            .wait_for(skip, "STOPPING=1", Duration::from_millis(100))
            .is_some(),
        "STOPPING=1 on SIGTERM\n{}",
        notify.show()
    );
}

/// Sixty checks on one engine (three real servers, two ports, TCP and
/// HTTP, ten names each), all up within rise intervals; stopped, nothing
/// is left established on any real server.
#[test]
fn sixty_checks_come_up_and_leave_nothing_open() {
    require!(Need::Testbed);
    let tb = healthy_testbed();
    let bed = ServeBed::new();
    assert_built(&bed);
    let mut checks = Vec::new();
    for (host, rs) in [("rs1", RS1), ("rs2", RS2), ("rs3", RS3)] {
        for i in 0..10 {
            checks.push(Check::new(&format!("tcp-{host}-{i}"), tcp(rs, VIP, PORT)));
            checks.push(Check::new(&format!("http-{host}-{i}"), http(rs, HTTP_PORT)));
        }
    }
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    bed.write_config(&bed.toml(TIMING, &checks));
    let mut d = bed.start(&tb, "lb", &[]);
    wait_started(&bed, &d, names.len());
    let limit = TIMING.limit(TIMING.rise + 1, timeout(), SLACK);
    wait_all(&bed, &d, &names, "1\n", limit, "sixty checks up");
    assert_one_change_each(&d, 0, &names, true, " OK - ");
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
    for host in ["rs1", "rs2", "rs3"] {
        for port in [PORT, HTTP_PORT] {
            let open = tb.wait_none_established(host, port, SETTLE);
            assert_eq!(
                open,
                0,
                "{open} left established on {host}:{port}\n{}",
                d.diag()
            );
        }
    }
}

/// SIGHUP with another state_dir: every check's current state is written
/// there at once (up and down alike, nothing recomputed), the old files
/// stay where they are, and nothing changes state.
#[test]
fn a_reload_to_a_new_state_dir_writes_every_state_there() {
    require!(Need::Testbed);
    let tb = healthy_testbed();
    let bed = ServeBed::new();
    assert_built(&bed);
    let checks = [
        Check::new("up", tcp(RS1, VIP, PORT)),
        // Nothing listens on rs1:81: down from the start, never up.
        Check::new("down", tcp(RS1, VIP, 81)),
    ];
    bed.write_config(&bed.toml(TIMING, &checks));
    let mut d = bed.start(&tb, "lb", &[]);
    wait_started(&bed, &d, 2);
    let limit = TIMING.limit(TIMING.rise + 1, timeout(), SLACK);
    let want = [("up", Some("1\n")), ("down", Some("0\n"))];
    bed.wait_states(&want, limit, &d, "up and down");

    let new_dir = bed.dir().join("state2");
    fs::create_dir(&new_dir).expect("mkdir state2");
    bed.write_config(&toml(&new_dir, TIMING, &checks));
    let skip = d.line_count();
    d.signal(libc::SIGHUP);
    let reloaded = format!(
        "reloaded {}: 2 checks (0 added, 0 removed, 2 kept)",
        bed.config.display()
    );
    d.wait_line(skip, &reloaded, &[], SLACK);
    let read = |dir: &Path, n: &str| fs::read_to_string(dir.join(n)).ok();
    // At once: well within one interval of the reload line.
    thread::sleep(POLL * 5);
    let got = [read(&new_dir, "up"), read(&new_dir, "down")];
    let old = [bed.state("up"), bed.state("down")];
    let want = [Some("1\n".to_owned()), Some("0\n".to_owned())];
    assert!(
        got == want && old == want,
        "new state_dir {got:?}, old {old:?}, both {want:?} expected\n{}",
        d.diag()
    );
    assert_no_change(&d, skip, &["up", "down"]);
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
}

/// `ip ARGS` in `host`, which must succeed.
fn ip(tb: &Testbed, host: &str, args: &[&str]) {
    let mut cmd = vec!["ip"];
    cmd.extend(args);
    let r = tb.run_in(host, &cmd);
    assert_eq!(r.code, Some(0), "{r}");
}

/// The network under the engine changes while it runs: rs1 gets a new
/// MAC (a replaced server, or the bond failing over), then `lb`'s eth0
/// goes down (its checks go down) and up again. Each time the checks
/// come back up by themselves, within a few seconds: the runs (`-v`)
/// name rs1's new MAC.
#[test]
fn a_new_mac_and_the_interface_bouncing_are_followed() {
    require!(Need::Testbed);
    let tb = healthy_testbed();
    let bed = ServeBed::new();
    assert_built(&bed);
    let checks = [
        Check::new("tcp-rs1", tcp(RS1, VIP, PORT)),
        Check::new("http-rs1", http(RS1, HTTP_PORT)),
        Check::new("tcp-rs2", tcp(RS2, VIP, PORT)),
    ];
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    bed.write_config(&bed.toml(TIMING, &checks));
    let mut d = bed.start(&tb, "lb", &["-v"]);
    wait_started(&bed, &d, 3);
    let limit = TIMING.limit(TIMING.rise + 1, timeout(), SLACK);
    wait_all(&bed, &d, &names, "1\n", limit, "all up");

    let old_mac = tb.mac("rs1");
    let new_mac = "02:00:00:00:01:11";
    ip(&tb, "rs1", &["link", "set", IFACE, "address", new_mac]);
    assert_ne!(tb.mac("rs1"), old_mac, "rs1's MAC did not change");
    // Up again (or never down) a while after: how long a stale MAC may be
    // used is the engine's choice, a few seconds at most.
    thread::sleep(TIMING.interval * (TIMING.fall + 1) + timeout());
    let limit = TIMING.limit(TIMING.rise, timeout(), SLACK);
    wait_all(&bed, &d, &names, "1\n", limit, "all up on rs1's new MAC");
    let skip = d.line_count();
    d.wait_line(skip, "tcp-rs1: RAW_TCP OK - ", &[new_mac], limit);
    d.wait_line(skip, "http-rs1: RAW_HTTP OK - ", &[new_mac], limit);

    let skip = d.line_count();
    ip(&tb, "lb", &["link", "set", IFACE, "down"]);
    let limit = TIMING.limit(TIMING.fall, timeout(), SLACK);
    wait_all(
        &bed,
        &d,
        &names,
        "0\n",
        limit,
        "all down with lb's eth0 down",
    );
    ip(&tb, "lb", &["link", "set", IFACE, "up"]);
    let limit = TIMING.limit(TIMING.rise + 2, timeout(), SLACK);
    wait_all(
        &bed,
        &d,
        &names,
        "1\n",
        limit,
        "all up with lb's eth0 up again",
    );
    assert_one_change_each(&d, skip, &names, false, " - ");
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
}

/// `lb`'s eth0 deleted and made anew (a driver reload, a VLAN or bond
/// recreated): a new interface index under the same name. The checks go
/// down while it is gone and come back up on the new one by themselves.
#[test]
fn an_interface_made_anew_is_followed() {
    require!(Need::Testbed);
    let tb = healthy_testbed();
    let bed = ServeBed::new();
    assert_built(&bed);
    let checks = [
        Check::new("tcp-rs1", tcp(RS1, VIP, PORT)),
        Check::new("http-rs2", http(RS2, HTTP_PORT)),
    ];
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    bed.write_config(&bed.toml(TIMING, &checks));
    let mut d = bed.start(&tb, "lb", &["-v"]);
    wait_started(&bed, &d, 2);
    let limit = TIMING.limit(TIMING.rise + 1, timeout(), SLACK);
    wait_all(&bed, &d, &names, "1\n", limit, "all up");

    // Deleting one end of a veth deletes its peer on the switch too.
    ip(&tb, "lb", &["link", "del", IFACE]);
    let limit = TIMING.limit(TIMING.fall, timeout(), SLACK);
    wait_all(&bed, &d, &names, "0\n", limit, "all down with eth0 gone");
    let (lb, sw) = (tb.ns("lb").to_owned(), tb.ns(SWITCH).to_owned());
    harness::netns::ip_batch(
        None,
        &[format!(
            "link add {IFACE} netns {lb} type veth peer name plb netns {sw}"
        )],
    );
    harness::netns::ip_batch(
        Some(&sw),
        &[
            "link set plb master br0".to_owned(),
            "link set plb up".to_owned(),
        ],
    );
    for (ns, dev) in [(&lb, IFACE), (&sw, "plb")] {
        harness::netns::output_in(ns, "ethtool", &["-K", dev, "rx", "off", "tx", "off"])
            .unwrap_or_else(|e| panic!("ethtool in {ns}: {e}"));
    }
    harness::netns::ip_batch(
        Some(&lb),
        &[
            format!("addr add {LB_IP}/24 dev {IFACE}"),
            format!("link set {IFACE} up"),
        ],
    );
    // The plugin works on the new interface at once (the test's own
    // set-up is right).
    let r = tcp_check(&tb, "lb", &["-t", "2000"], RS1);
    assert_verdict(&r, 0, "RAW_TCP OK - ", &[RS1]);
    // The engine may look for the new interface on a timer: give it
    // seconds beyond rise.
    let limit = TIMING.limit(TIMING.rise, timeout(), SLACK * 2);
    wait_all(&bed, &d, &names, "1\n", limit, "all up on the new eth0");
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
}

/// `-r auto` follows the VIP as VRRP moves it: on `lbb` (no VIP) the
/// check of rs2 (no VIP either) takes the kernel path and is up; the VIP
/// comes to `lbb` (it became MASTER): raw frames to the VIP, rs2 lacks it,
/// down; the VIP leaves again: BACKUP, up. Each run decides (`-v`).
#[test]
fn role_auto_follows_the_vip_onto_and_off_this_balancer() {
    require!(Need::Testbed);
    let tb = Testbed::without_servers();
    tb.serve("rs2", PORT, Behaviour::Respond(HTTP_REPLY.to_vec()));
    let bed = ServeBed::new();
    assert_built(&bed);
    let checks = [Check::new(
        "auto",
        format!("check_raw_tcp -r auto -t {T} {IFACE} {RS2} {VIP} {PORT}"),
    )];
    bed.write_config(&bed.toml(TIMING, &checks));
    let mut d = bed.start(&tb, "lbb", &["-v"]);
    wait_started(&bed, &d, 1);
    let limit = TIMING.limit(TIMING.rise + 1, timeout(), SLACK);
    wait_all(&bed, &d, &["auto"], "1\n", limit, "up as BACKUP");
    d.wait_line(0, "auto: RAW_TCP OK - ", &["BACKUP role"], limit);

    let skip = d.line_count();
    tb.add_vip("lbb");
    // The plugin, run now, sees the VIP (the test's own set-up is right).
    let r = tcp_check(&tb, "lbb", &["-r", "auto", "-t", "500"], RS2);
    assert_verdict(&r, 2, "RAW_TCP CRITICAL - ", &["lack the VIP"]);
    let limit = TIMING.limit(TIMING.fall, timeout(), SLACK);
    let line = d.wait_line(skip, "auto: RAW_TCP ", &["lack the VIP"], limit);
    println!("with the VIP: {line}");
    wait_all(&bed, &d, &["auto"], "0\n", limit, "down as MASTER");
    assert_one_change_each(&d, skip, &["auto"], false, "lack the VIP");

    let skip = d.line_count();
    ip(
        &tb,
        "lbb",
        &["addr", "del", &format!("{VIP}/32"), "dev", "lo"],
    );
    let limit = TIMING.limit(TIMING.rise, timeout(), SLACK);
    wait_all(&bed, &d, &["auto"], "1\n", limit, "up as BACKUP again");
    assert_one_change_each(&d, skip, &["auto"], true, "BACKUP role");
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
}

/// TLS under the daemon (nginx on rs1, `harness::tls`): HTTPS and bare
/// TLS, MASTER and BACKUP, come up; a certificate expiring in 5 days is a
/// WARNING, which counts as up; an expired one stays down. Stopped,
/// nothing is left established on rs1.
#[test]
fn tls_checks_in_both_roles_warning_is_up_expired_is_down() {
    require!(Need::Testbed, NGINX);
    use harness::tls_bed::TlsBed;
    let tls = TlsBed::new();
    let tb = &tls.tb;
    let bed = ServeBed::new();
    assert_built(&bed);
    let backup = RoleFile::backup();
    let host = harness::TLS_HOST;
    let https = |opts: &str, port: TlsPort| {
        format!(
            "check_raw_http --ssl -S 200 -t 500 {opts}{IFACE} {RS1} {VIP} {} {host} /health",
            port.port()
        )
    };
    let b = format!("-r {} ", backup.path());
    // Warn below 30 days, critical below 3: rs1's 5-day one warns.
    let days = "--certificate-days 30,3 ";
    let checks = [
        Check::new("https", https("", TlsPort::Good)),
        Check::new("https-backup", https(&b, TlsPort::Good)),
        Check::new(
            "tls",
            format!("check_raw_tcp --ssl -t 500 {IFACE} {RS1} {VIP} 443"),
        ),
        Check::new("https-soon", https(days, TlsPort::Soon)),
        Check::new("https-expired", https(days, TlsPort::Expired)),
    ];
    let timing = Timing {
        interval: Duration::from_millis(600),
        ..TIMING
    };
    bed.write_config(&bed.toml(timing, &checks));
    let mut d = bed.start(tb, "lb", &["-v"]);
    wait_started(&bed, &d, checks.len());
    let up = ["https", "https-backup", "tls", "https-soon"];
    let limit = timing.limit(timing.rise + 1, Duration::from_millis(500), SLACK);
    wait_all(&bed, &d, &up, "1\n", limit, "TLS checks up");
    assert_one_change_each(&d, 0, &up[..3], true, " OK - ");
    assert_one_change_each(&d, 0, &["https-soon"], true, " WARNING - ");
    d.wait_line(0, "https-expired: RAW_HTTP CRITICAL - ", &[], limit);
    assert_eq!(
        bed.state("https-expired").as_deref(),
        Some("0\n"),
        "{}",
        d.diag()
    );
    assert_no_change(&d, 0, &["https-expired"]);
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
    for port in TlsPort::ALL {
        let open = tb.wait_none_established("rs1", port.port(), SETTLE);
        assert_eq!(
            open,
            0,
            "{open} left established on rs1:{}\n{}",
            port.port(),
            d.diag()
        );
    }
}

/// A rack gone dark: forty checks of an address nobody answers (each run
/// waits its whole `-t` for ARP) beside two healthy ones. The healthy
/// ones come up in time all the same, the dead stay down with no change
/// line, and SIGTERM with some thirty runs in flight still ends within
/// 1 s.
#[test]
fn dead_servers_do_not_starve_the_healthy_ones() {
    require!(Need::Testbed);
    let tb = healthy_testbed();
    let bed = ServeBed::new();
    assert_built(&bed);
    let mut checks = vec![
        Check::new("tcp-rs1", tcp(RS1, VIP, PORT)),
        Check::new("http-rs2", http(RS2, HTTP_PORT)),
    ];
    for i in 0..40 {
        checks.push(Check::new(&format!("dead-{i}"), tcp(NOBODY, VIP, PORT)));
    }
    let dead: Vec<String> = (0..40).map(|i| format!("dead-{i}")).collect();
    let dead: Vec<&str> = dead.iter().map(String::as_str).collect();
    bed.write_config(&bed.toml(TIMING, &checks));
    let mut d = bed.start(&tb, "lb", &[]);
    wait_started(&bed, &d, checks.len());
    let limit = TIMING.limit(TIMING.rise + 1, timeout(), SLACK);
    wait_all(
        &bed,
        &d,
        &["tcp-rs1", "http-rs2"],
        "1\n",
        limit,
        "the healthy two up",
    );
    let watch = bed.watch(&["tcp-rs1", "http-rs2"]);
    thread::sleep(TIMING.interval * 4);
    assert_never_flapped(
        &watch.stop(),
        "the healthy two beside forty dead",
        &d.diag(),
    );
    wait_all(&bed, &d, &dead, "0\n", SLACK, "the dead forty down");
    assert_no_change(&d, 0, &dead);
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
}

/// DNS under the daemon (NSD on rs1 and rs3, `harness::dns`): UDP flows
/// over IPv4 and IPv6, MASTER and BACKUP, come up; rs2 (no VIP, no NSD)
/// stays down with no change line.
#[test]
fn dns_checks_over_both_families_and_roles() {
    require!(Need::Testbed, NSD);
    let tb = Testbed::without_servers();
    let _nsd = [
        tb.nsd("rs1", &[RS1, VIP, RS1_6, VIP6]),
        tb.nsd("rs3", &[RS3, VIP]),
    ];
    let bed = ServeBed::new();
    assert_built(&bed);
    let backup = RoleFile::backup();
    let qname = format!("www.{}", harness::dns::ZONE);
    let dns = |opts: &str, rs: &str, vip: &str| {
        format!("check_raw_dns -t {T} {opts}{IFACE} {rs} {vip} 53 {qname}")
    };
    let b = format!("-r {} ", backup.path());
    let checks = [
        Check::new("dns-rs1", dns("", RS1, VIP)),
        Check::new("dns6-rs1", dns("", RS1_6, VIP6)),
        Check::new("dns-rs3", dns("", RS3, VIP)),
        Check::new("dns-backup-rs1", dns(&b, RS1, VIP)),
        Check::new("dns-rs2", dns("", RS2, VIP)),
    ];
    bed.write_config(&bed.toml(TIMING, &checks));
    let mut d = bed.start(&tb, "lb", &[]);
    wait_started(&bed, &d, checks.len());
    let up = ["dns-rs1", "dns6-rs1", "dns-rs3", "dns-backup-rs1"];
    let limit = TIMING.limit(TIMING.rise + 1, timeout(), SLACK);
    wait_all(&bed, &d, &up, "1\n", limit, "DNS checks up");
    assert_one_change_each(&d, 0, &up, true, " OK - ");
    assert_eq!(bed.state("dns-rs2").as_deref(), Some("0\n"), "{}", d.diag());
    assert_no_change(&d, 0, &["dns-rs2"]);
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
}

/// A check's own interval, rise and fall override the file's: `fast`
/// (200 ms, rise 1, fall 1) and `slow` (the file's 400 ms, rise 3, fall
/// 3) on the same real server change after 1 and 3 results, and `fast`
/// runs about twice as often (`-v`).
#[test]
fn a_check_s_own_interval_rise_and_fall_apply() {
    require!(Need::Testbed);
    let tb = healthy_testbed();
    let bed = ServeBed::new();
    assert_built(&bed);
    let file = Timing {
        rise: 3,
        fall: 3,
        ..TIMING
    };
    let fast = Timing {
        interval: Duration::from_millis(200),
        rise: 1,
        fall: 1,
    };
    let checks = [
        Check::new(
            "fast",
            format!("check_raw_tcp -t 150 {IFACE} {RS3} {VIP} {PORT}"),
        )
        .own(fast),
        Check::new("slow", tcp(RS3, VIP, PORT)),
    ];
    bed.write_config(&bed.toml(file, &checks));
    let mut d = bed.start(&tb, "lb", &["-v"]);
    wait_started(&bed, &d, 2);
    let limit = file.limit(file.rise + 1, timeout(), SLACK);
    wait_all(&bed, &d, &["fast", "slow"], "1\n", limit, "both up");
    assert_one_change_after(&d, 0, &["fast"], true, 1, " OK - ");
    assert_one_change_after(&d, 0, &["slow"], true, 3, " OK - ");
    let count = |name: &str| d.lines_starting(&format!("{name}: RAW_TCP ")).len();
    let (fast0, slow0) = (count("fast"), count("slow"));
    thread::sleep(Duration::from_millis(2000));
    let (fast_runs, slow_runs) = (count("fast") - fast0, count("slow") - slow0);
    println!("in 2 s: fast {fast_runs} runs, slow {slow_runs}");
    assert!(
        fast_runs * 10 >= slow_runs * 14 && slow_runs >= 3,
        "fast (200 ms) should run about twice as often as slow (400 ms): {fast_runs} and {slow_runs} runs in 2 s\n{}",
        d.diag()
    );

    let skip = d.line_count();
    tb.remove_vip("rs3");
    let limit = file.limit(file.fall, timeout(), SLACK);
    wait_all(&bed, &d, &["fast", "slow"], "0\n", limit, "both down");
    assert_one_change_after(&d, skip, &["fast"], false, 1, " CRITICAL - ");
    assert_one_change_after(&d, skip, &["slow"], false, 3, " CRITICAL - ");
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
}

/// SIGHUPs in a burst, the file switching between two versions under
/// them, then SIGTERM right after the last: the kept check never flaps,
/// the daemon ends on the last version's checks (coalesced signals are
/// fine), and stops within 1 s.
#[test]
fn a_burst_of_reloads_then_sigterm() {
    require!(Need::Testbed);
    let tb = healthy_testbed();
    let bed = ServeBed::new();
    assert_built(&bed);
    let keep = Check::new("keep", tcp(RS1, VIP, PORT));
    let a = bed.toml(
        TIMING,
        &[keep.clone(), Check::new("a", tcp(RS2, VIP, PORT))],
    );
    let b = bed.toml(TIMING, &[keep, Check::new("b", http(RS3, HTTP_PORT))]);
    bed.write_config(&a);
    let mut d = bed.start(&tb, "lb", &[]);
    wait_started(&bed, &d, 2);
    let limit = TIMING.limit(TIMING.rise + 1, timeout(), SLACK);
    wait_all(&bed, &d, &["keep", "a"], "1\n", limit, "keep and a up");
    let watch = bed.watch(&["keep"]);
    for text in [&b, &a, &b, &a, &b] {
        bed.write_config(text);
        d.signal(libc::SIGHUP);
        thread::sleep(Duration::from_millis(30));
    }
    let want = [("keep", Some("1\n")), ("a", None), ("b", Some("1\n"))];
    bed.wait_states(&want, limit, &d, "on the last version");
    d.assert_running_for("the burst");
    let reloads = d.lines_starting("reloaded ").len();
    assert!(reloads >= 1, "no reload logged\n{}", d.diag());
    assert_never_flapped(&watch.stop(), "keep, across the burst", &d.diag());
    bed.write_config(&a);
    d.signal(libc::SIGHUP);
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
}

/// A check removed by SIGHUP while its flow is open on a server that
/// never answers: the flow still ends with RST (at its `-t` at the
/// latest), nothing is left established, the file is gone.
#[test]
fn a_check_removed_mid_flow_leaves_nothing_open() {
    require!(Need::Testbed);
    let tb = healthy_testbed();
    let mute_port = 8081;
    let mute = tb.serve("rs1", mute_port, Behaviour::Silent);
    let bed = ServeBed::new();
    assert_built(&bed);
    let keep = Check::new("keep", tcp(RS1, VIP, PORT));
    let long = 1500;
    let mute_check = Check::new(
        "mute",
        format!("check_raw_http -S 200 -t {long} {IFACE} {RS1} {VIP} {mute_port} {VHOST} /"),
    );
    let timing = Timing {
        interval: Duration::from_millis(2000),
        ..TIMING
    };
    bed.write_config(&bed.toml(timing, &[keep.clone(), mute_check]));
    let mut d = bed.start(&tb, "lb", &[]);
    wait_started(&bed, &d, 2);
    let limit = timing.interval * 2 + SLACK;
    let start = std::time::Instant::now();
    while tb.established_on("rs1", mute_port) == 0 {
        assert!(
            start.elapsed() < limit,
            "no flow on rs1:{mute_port}\n{}",
            d.diag()
        );
        thread::sleep(POLL);
    }
    bed.write_config(&bed.toml(timing, &[keep]));
    let skip = d.line_count();
    d.signal(libc::SIGHUP);
    d.wait_line(skip, "reloaded ", &["(0 added, 1 removed, 1 kept)"], SLACK);
    let settle = Duration::from_millis(long) + SETTLE;
    let open = tb.wait_none_established("rs1", mute_port, settle);
    assert_eq!(
        open,
        0,
        "the removed check's flow is still open ({mute:?})\n{}",
        d.diag()
    );
    let ends = mute.wait_ends(mute.accepted(), SETTLE);
    assert!(
        ends.iter()
            .all(|e| matches!(e, ConnEnd::Reset | ConnEnd::Error(_))),
        "every flow ended with RST ({mute:?})\n{}",
        d.diag()
    );
    assert_eq!(bed.state("mute"), None, "{}", bed.show_states());
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
}

/// The state directory is deleted under the daemon (a careless cleanup):
/// a change cannot be written. The daemon says so and lives on; once the
/// directory is back, the next change is written.
#[test]
fn a_state_dir_deleted_under_the_daemon_is_survived() {
    require!(Need::Testbed);
    let tb = healthy_testbed();
    let bed = ServeBed::new();
    assert_built(&bed);
    bed.write_config(&bed.toml(TIMING, &[Check::new("web", tcp(RS3, VIP, PORT))]));
    let mut d = bed.start(&tb, "lb", &[]);
    wait_started(&bed, &d, 1);
    let limit = TIMING.limit(TIMING.rise + 1, timeout(), SLACK);
    wait_all(&bed, &d, &["web"], "1\n", limit, "up");
    fs::remove_dir_all(&bed.state_dir).expect("remove the state dir");
    let skip = d.line_count();
    tb.remove_vip("rs3");
    d.wait_line(
        skip,
        "web: DOWN after ",
        &[],
        TIMING.limit(TIMING.fall, timeout(), SLACK),
    );
    thread::sleep(TIMING.interval * 2);
    d.assert_running_for("its state dir gone");
    let web = bed.state_file("web");
    d.wait_line(
        skip,
        "cannot write the state file ",
        &[path_str(&web)],
        SLACK,
    );
    fs::create_dir(&bed.state_dir).expect("make the state dir again");
    put_vips_back(&tb, "rs3");
    let limit = TIMING.limit(TIMING.rise, timeout(), SLACK);
    wait_all(&bed, &d, &["web"], "1\n", limit, "up, written again");
    assert_stops_on(&mut d, libc::SIGTERM, "SIGTERM");
}
