//! check_raw_serve, the daemon (issue 21), as an operator meets it: run in
//! the testbed's MASTER load balancer `lb` on a serve.toml the test writes
//! (`harness::serve`, `harness::serve_cases`), against the harness's real
//! servers, its state files read every 20 ms: the daemon's contract. The
//! network under it (many checks, dead servers, TLS and DNS, `-r auto`, a
//! new MAC, the interface bouncing) is in `tests/it/serve_network.rs`; a bad
//! config, `--once`, `--check` and systemd's notify in `tests/it/serve_modes.rs`.
//!
//! - many checks (TCP, HTTP and VIP, IPv4 and IPv6, two ports, three real
//!   servers) come up; one real server losing the VIP takes exactly its
//!   checks down, with one DOWN line each, and back up with one UP line;
//! - a role file flipped to BACKUP moves a check onto the kernel path;
//! - SIGHUP adds, removes, keeps and restarts checks (no flap), moves the
//!   state_dir, survives a burst, and refuses a broken file while the old
//!   checks keep running;
//! - a restart on healthy servers never shows a `0`; files a previous run
//!   left are the starting state; a check's own interval, rise and fall;
//! - SIGTERM or SIGINT while flows are open: RST to the server, exit 0
//!   within 1 s.
//!
//! Intervals of 400 ms with rise and fall 2 keep the file fast; the time
//! limits carry seconds of slack, since the machine is loaded: the timing
//! goals are the bench's, not these tests'. Each test builds its own
//! testbed; tests skip, with a message, when not root (under CI=true they
//! fail).

use std::fs;
use std::path::Path;
use std::thread;
use std::time::Duration;

use crate::harness::serve::*;
use crate::harness::serve_cases::*;
use crate::harness::*;

/// Twelve checks over three real servers, two ports, both address
/// families, TCP, HTTP and VIP: all come up. rs3 loses its VIPs: its four
/// checks go down within fall intervals (plus one run's `-t` and slack),
/// one DOWN line each, the eight others stay up throughout; the VIPs back,
/// rs3's checks come up within rise intervals, one UP line each.
#[test]
fn state_files_follow_a_real_server_losing_and_regaining_the_vip() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let mut checks = Vec::new();
    for (host, rs, rs6) in [
        ("rs1", RS1, RS1_6),
        ("rs2", RS2, RS2_6),
        ("rs3", RS3, RS3_6),
    ] {
        checks.push(Check::new(&format!("tcp-{host}"), tcp(rs, VIP, PORT)));
        checks.push(Check::new(
            &format!("http-{host}"),
            http_health(rs, HTTP_PORT),
        ));
        checks.push(Check::new(&format!("tcp6-{host}"), tcp(rs6, VIP6, PORT)));
        checks.push(Check::new(
            &format!("vip-{host}"),
            format!("check_raw_vip -t {T} {IFACE} {rs} {VIP}"),
        ));
    }
    let names = names(&checks);
    let (rs3, others): (Vec<&str>, Vec<&str>) = names.iter().partition(|n| n.ends_with("-rs3"));
    let mut d = launch(&bed, &tb, "lb", &[], TIMING, &checks);
    // No file yet: every check starts at 0 (fail closed), up after rise.
    wait_up(&bed, &d, &names, up_limit(TIMING), "all twelve up");
    assert_one_change_each(&d, 0, &names, true, " OK - ");

    let watch = bed.watch(&others);
    let skip = d.line_count();
    tb.remove_vip("rs3");
    let what = "rs3's checks down after its VIPs went";
    wait_down(&bed, &d, &rs3, fall_limit(TIMING), what);
    assert_one_change_each(&d, skip, &rs3, false, " CRITICAL - ");

    let skip = d.line_count();
    put_vips_back(&tb, "rs3");
    let what = "rs3's checks up with its VIPs back";
    wait_up(&bed, &d, &rs3, rise_limit(TIMING), what);
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
    assert_stops(&mut d);
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
    let bed = serve_bed();
    let role = RoleFile::master();
    let r = role.path();
    let role_tcp = |rs: &str| format!("check_raw_tcp -r {r} -t {T} {IFACE} {rs} {VIP} {PORT}");
    let checks = [
        Check::new("flip", role_tcp(RS2)),
        Check::new("steady", role_tcp(RS1)),
    ];
    let mut d = launch(&bed, &tb, "lb", &["-v"], TIMING, &checks);
    let limit = up_limit(TIMING);
    wait_up(&bed, &d, &["steady"], limit, "steady up as MASTER");
    let line = d.wait_line(0, "flip: RAW_TCP CRITICAL - ", &["lack the VIP"], limit);
    let steady = d.wait_line(0, "steady: RAW_TCP OK - ", &[], limit);
    for line in [line, steady] {
        assert!(
            !line.contains("BACKUP"),
            "MASTER expected: {line}\n{}",
            d.diag()
        );
    }
    assert_eq!(bed.state("flip").as_deref(), Some("0\n"), "{}", d.diag());

    let watch = bed.watch(&["steady"]);
    let skip = d.line_count();
    set_role(&role, "0\n");
    let limit = rise_limit(TIMING);
    wait_up(&bed, &d, &["flip"], limit, "flip up as BACKUP");
    assert_one_change_each(&d, skip, &["flip"], true, "BACKUP role");
    d.wait_line(skip, "steady: RAW_TCP OK - ", &["BACKUP role", RS1], limit);

    let skip = d.line_count();
    set_role(&role, "1\n");
    wait_down(
        &bed,
        &d,
        &["flip"],
        fall_limit(TIMING),
        "flip down as MASTER again",
    );
    assert_one_change_each(&d, skip, &["flip"], false, "lack the VIP");
    assert_never_flapped(&watch.stop(), "steady, on both paths", &d.diag());
    assert_stops(&mut d);
}

/// SIGHUP with `gone` removed and `added` added: its file goes, the new
/// one comes (and comes up), `keep` keeps its state (1 at every read, no
/// second UP line), `moved` (a new command, a closed port) stays 1 until
/// its fall, then goes down. A broken file then: `reload refused`, and the running
/// checks go on (rs2 losing its VIPs still takes `added` down).
#[test]
fn sighup_adds_removes_keeps_and_refuses_a_broken_file() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let keep = Check::new("keep", tcp(RS1, VIP, PORT));
    let gone = Check::new("gone", tcp(RS3, VIP, PORT));
    let added = Check::new("added", http_health(RS2, HTTP_PORT));
    let moved = Check::new("moved", tcp(RS1, VIP, PORT));
    // Nothing listens on rs1:81: refused at once.
    let moved_away = Check::new("moved", tcp(RS1, VIP, 81));
    let mut d = launch(&bed, &tb, "lb", &[], TIMING, &[keep.clone(), gone, moved]);
    let limit = up_limit(TIMING);
    let names = ["keep", "gone", "moved"];
    wait_up(&bed, &d, &names, limit, "keep, gone and moved up");
    let watch = bed.watch(&["keep"]);
    let moved_watch = bed.watch(&["moved"]);

    let good = bed.toml(TIMING, &[keep, added, moved_away]);
    bed.write_config(&good);
    let reloaded = format!(
        "reloaded {}: 3 checks (1 added, 1 removed, 2 kept)",
        bed.config.display()
    );
    let skip = reload(&d, &reloaded, &[]);
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
    let moved_seen = contents(&moved_watch.stop()["moved"]);
    assert_eq!(
        moved_seen,
        some(&["1\n", "0\n"]),
        "moved: 1 until its fall, then 0\n{}",
        d.diag()
    );

    let broken = good.replacen("rise = 2\n", "rise = 0\n", 1);
    assert_ne!(broken, good);
    bed.write_config(&broken);
    let refused = format!(
        "reload refused, still running the previous configuration: {}:2: rise: ",
        bed.config.display()
    );
    let skip = reload(&d, &refused, &[]);
    tb.remove_vip("rs2");
    let want = [
        ("gone", None),
        ("added", Some("0\n")),
        ("keep", Some("1\n")),
    ];
    let what = "the old checks still running after the refusal";
    bed.wait_states(&want, fall_limit(TIMING), &d, what);
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
    assert_stops(&mut d);
}

/// What a watch saw of one file, in order.
fn contents(seen: &[Seen]) -> Vec<Option<String>> {
    seen.iter().map(|s| s.content.clone()).collect()
}

/// Each of `v` as a file's content.
fn some(v: &[&str]) -> Vec<Option<String>> {
    v.iter().map(|s| Some((*s).to_owned())).collect()
}

/// Healthy servers, files at 1; SIGTERM, start again: read every 20 ms
/// from before the stop to rise intervals after the new start, no file
/// ever reads anything but 1, and the new run logs no change.
#[test]
fn a_restart_on_healthy_servers_never_shows_a_0() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let checks = [
        Check::new("tcp-rs1", tcp(RS1, VIP, PORT)),
        Check::new("http-rs2", http_health(RS2, HTTP_PORT)),
        Check::new("tcp6-rs3", tcp(RS3_6, VIP6, PORT)),
    ];
    let names = names(&checks);
    let mut first = launch(&bed, &tb, "lb", &[], TIMING, &checks);
    let what = "all up before the restart";
    wait_up(&bed, &first, &names, up_limit(TIMING), what);

    let watch = bed.watch(&names);
    thread::sleep(POLL * 3);
    assert_stops(&mut first);
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
    let bed = serve_bed();
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
        wait_flows(&tb, "rs1", mute_port, 2, timing.interval * 2 + SLACK, &d);
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
            new.len() >= 2 && all_reset(new),
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

/// A state file a previous run left is the check's starting state: `0`
/// for a healthy server stays until rise says UP (`was DOWN`), `1` for a
/// dead one (a closed port) stays until fall says DOWN (`was UP`). No
/// file, or one that is not ours (`x`), starts at `0` (fail closed),
/// written at the start.
#[test]
fn state_files_left_by_a_previous_run_are_the_starting_state() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let checks = [
        Check::new("was-down", tcp(RS1, VIP, PORT)),
        Check::new("was-up", tcp(RS1, VIP, 81)),
        Check::new("new", tcp(RS2, VIP, PORT)),
        Check::new("garbage", tcp(RS3, VIP, PORT)),
    ];
    let names = names(&checks);
    for (name, content) in [("was-down", "0\n"), ("was-up", "1\n"), ("garbage", "x\n")] {
        fs::write(bed.state_file(name), content).expect("write a state file");
    }
    let watch = bed.watch(&names);
    let mut d = launch(&bed, &tb, "lb", &[], TIMING, &checks);
    let limit = up_limit(TIMING);
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
    let seen = |n: &str| contents(&history[n]);
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
    assert_stops(&mut d);
}

/// SIGHUP with another state_dir: every check's current state is written
/// there at once (up and down alike, nothing recomputed), the old files
/// stay where they are, and nothing changes state.
#[test]
fn a_reload_to_a_new_state_dir_writes_every_state_there() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let checks = [
        Check::new("up", tcp(RS1, VIP, PORT)),
        // Nothing listens on rs1:81: down from the start, never up.
        Check::new("down", tcp(RS1, VIP, 81)),
    ];
    let mut d = launch(&bed, &tb, "lb", &[], TIMING, &checks);
    let want = [("up", Some("1\n")), ("down", Some("0\n"))];
    bed.wait_states(&want, up_limit(TIMING), &d, "up and down");

    let new_dir = bed.dir().join("state2");
    fs::create_dir(&new_dir).expect("mkdir state2");
    bed.write_config(&toml(&new_dir, TIMING, &checks));
    let reloaded = format!(
        "reloaded {}: 2 checks (0 added, 0 removed, 2 kept)",
        bed.config.display()
    );
    let skip = reload(&d, &reloaded, &[]);
    let read = |dir: &Path, n: &str| fs::read_to_string(dir.join(n)).ok();
    // At once: well within one interval of the reload line.
    thread::sleep(POLL * 5);
    let got = [read(&new_dir, "up"), read(&new_dir, "down")];
    let old = [bed.state("up"), bed.state("down")];
    let want = some(&["1\n", "0\n"]);
    assert!(
        got[..] == want[..] && old[..] == want[..],
        "new state_dir {got:?}, old {old:?}, both {want:?} expected\n{}",
        d.diag()
    );
    assert_no_change(&d, skip, &["up", "down"]);
    assert_stops(&mut d);
}

/// A check's own interval, rise and fall override the file's: `fast`
/// (200 ms, rise 1, fall 1) and `slow` (the file's 400 ms, rise 3, fall
/// 3) on the same real server change after 1 and 3 results, and `fast`
/// runs about twice as often (`-v`).
#[test]
fn a_check_s_own_interval_rise_and_fall_apply() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
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
    let both = ["fast", "slow"];
    let mut d = launch(&bed, &tb, "lb", &["-v"], file, &checks);
    wait_up(&bed, &d, &both, up_limit(file), "both up");
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
    wait_down(&bed, &d, &both, fall_limit(file), "both down");
    assert_one_change_after(&d, skip, &["fast"], false, 1, " CRITICAL - ");
    assert_one_change_after(&d, skip, &["slow"], false, 3, " CRITICAL - ");
    assert_stops(&mut d);
}

/// SIGHUPs in a burst, the file switching between two versions under
/// them, then SIGTERM right after the last: the kept check never flaps,
/// the daemon ends on the last version's checks (coalesced signals are
/// fine), and stops within 1 s.
#[test]
fn a_burst_of_reloads_then_sigterm() {
    require!(Need::Testbed);
    let (tb, bed) = healthy_bed();
    let keep = Check::new("keep", tcp(RS1, VIP, PORT));
    let a = [keep.clone(), Check::new("a", tcp(RS2, VIP, PORT))];
    let b = bed.toml(
        TIMING,
        &[keep, Check::new("b", http_health(RS3, HTTP_PORT))],
    );
    let mut d = launch(&bed, &tb, "lb", &[], TIMING, &a);
    let a = bed.toml(TIMING, &a);
    let limit = up_limit(TIMING);
    wait_up(&bed, &d, &["keep", "a"], limit, "keep and a up");
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
    assert_stops(&mut d);
}
