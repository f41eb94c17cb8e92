//! check_raw under keepalived (MISC_CHECK, plain and `misc_dynamic`), run
//! in the foreground inside the testbed's MASTER load balancer `lb` (see
//! `harness::daemon`).
//!
//! The checks run as MISC_CHECKs: check_raw_tcp and check_raw_http,
//! check_raw_dns for a UDP service on port 53 (NSD on the real servers),
//! and check_raw_http --ssl for HTTPS.
//!
//! rs1 (VIP, listener) must come out up and rs2 (listener, no VIP) down, as
//! keepalived itself judges it: its log ("Misc check ... succeeded" /
//! "failed ... (exited with status 1)") and the IPVS table it programs. The
//! kernel may have no IPVS, so keepalived runs with
//! `tests/daemons/ipvs_stub.c` preloaded: it answers keepalived's IPVS
//! sockopts and records every change. Starting keepalived, its
//! configuration snippets and the IPVS table read back are
//! `harness::keepalived`.
//!
//! One test runs the packaged keepalived.conf.example itself (paths and
//! intervals substituted): VRRP makes `lb` MASTER, the packaged
//! check_raw-role-notify writes the role file, and the checks run as an
//! unprivileged user with the file capability `make install` sets.
//!
//! Tests skip, with a `skipping ...` line, when not root or when
//! keepalived, gcc or setcap is missing (under CI=true they fail).

use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::harness::keepalived::*;
use crate::harness::*;

/// Plain MISC_CHECK, `--protocol keepalived`: rs1 is added to IPVS, rs2
/// never is. `alpha` starts every real server down, so only a passing
/// check adds one; TCP on port 80 and HTTP (`-S 200 -s ok`) on 8080.
#[test]
fn keepalived_misc_check_adds_only_the_real_server_with_the_vip() {
    if skip_unless(&KEEPALIVED_NEEDS) {
        return;
    }
    let tb = daemon_testbed();
    let checks = install_checks();
    let dir = TempDir::new();
    let tcp = checks.path().join("check_raw_tcp");
    let http = checks.path().join("check_raw_http");
    let tcp_cmd = |rs: &str| {
        format!(
            "{} --protocol keepalived eth0 {rs} {VIP} {PORT}",
            tcp.display()
        )
    };
    let http_cmd = |rs: &str| {
        format!(
            "{} --protocol keepalived -S 200 -s ok eth0 {rs} {VIP} {HTTP_PORT} {VHOST} /health",
            http.display()
        )
    };
    let alpha = "            alpha\n";
    let vs = [
        keepalived_virtual(
            PORT,
            &[
                keepalived_real(RS1, PORT, &tcp_cmd(RS1), alpha),
                keepalived_real(RS2, PORT, &tcp_cmd(RS2), alpha),
            ],
        ),
        keepalived_virtual(
            HTTP_PORT,
            &[
                keepalived_real(RS1, HTTP_PORT, &http_cmd(RS1), alpha),
                keepalived_real(RS2, HTTP_PORT, &http_cmd(RS2), alpha),
            ],
        ),
    ]
    .concat();
    let mut k = Keepalived::start(&tb, &dir, &vs);

    let expected = [
        misc_verdict(RS1, PORT, &tcp, "succeeded."),
        misc_verdict(
            RS2,
            PORT,
            &tcp,
            "failed with retry disabled (exited with status 1).",
        ),
        misc_verdict(RS1, HTTP_PORT, &http, "succeeded."),
        misc_verdict(
            RS2,
            HTTP_PORT,
            &http,
            "failed with retry disabled (exited with status 1).",
        ),
    ];
    wait_for(
        VERDICT_LIMIT,
        "keepalived's verdicts on rs1 and rs2 (and rs1 added to IPVS)",
        || {
            k.daemon.assert_running();
            let log = k.daemon.log();
            let table = ipvs_table(&k.ipvs_log());
            let done = expected.iter().all(|e| log.contains(e.as_str()))
                && table.contains_key(&key(PORT, RS1, PORT))
                && table.contains_key(&key(HTTP_PORT, RS1, HTTP_PORT));
            done.then_some(())
        },
        || k.diag(),
    );
    let (calls, table, diag) = k.settle_and_stop();

    assert_eq!(
        table.get(&key(PORT, RS1, PORT)),
        Some(&1),
        "rs1:80 up, weight 1\n{diag}"
    );
    assert_eq!(
        table.get(&key(HTTP_PORT, RS1, HTTP_PORT)),
        Some(&1),
        "rs1:8080 up, weight 1\n{diag}"
    );
    assert!(
        !calls.contains(&format!("rs={RS2}:")),
        "rs2 (no VIP) must never be added to IPVS\n{diag}"
    );
    assert!(
        calls.contains(&format!("ADD {VIP}:{PORT} sched=wlc")),
        "the virtual server itself must be created\n{diag}"
    );
    for e in &expected {
        assert!(
            diag.contains(e.as_str()),
            "keepalived should log {e:?}\n{diag}"
        );
    }
}

/// check_raw_dns as a MISC_CHECK of a UDP virtual service on port 53: NSD
/// runs on rs1 (VIP) and rs2 (own address only); with `alpha` only rs1,
/// whose answer through the VIP carries the expected address, is added.
#[test]
fn keepalived_misc_check_runs_the_dns_check() {
    if skip_unless(&[&KEEPALIVED_NEEDS[..], &[NSD]].concat()) {
        return;
    }
    let tb = Testbed::without_servers();
    let _nsd = [tb.nsd("rs1", &[RS1, VIP]), tb.nsd("rs2", &[RS2])];
    let checks = install_checks();
    let dir = TempDir::new();
    let dns = checks.path().join("check_raw_dns");
    let cmd = |rs: &str| {
        format!(
            "{} --protocol keepalived -a {} eth0 {rs} {VIP} 53 www.{}",
            dns.display(),
            crate::harness::dns::WWW_A[0],
            crate::harness::dns::ZONE
        )
    };
    let alpha = "            alpha\n";
    let vs = keepalived_virtual(
        53,
        &[
            keepalived_real(RS1, 53, &cmd(RS1), alpha),
            keepalived_real(RS2, 53, &cmd(RS2), alpha),
        ],
    )
    .replace("protocol TCP", "protocol UDP");
    let mut k = Keepalived::start(&tb, &dir, &vs);
    wait_for(
        VERDICT_LIMIT,
        "rs1:53 added to IPVS and rs2's DNS check failed",
        || {
            k.daemon.assert_running();
            let log = k.daemon.log();
            let table = ipvs_table(&k.ipvs_log());
            let done =
                table.contains_key(&key(53, RS1, 53)) && log.contains("(exited with status 1)");
            done.then_some(())
        },
        || k.diag(),
    );
    let (calls, table, diag) = k.settle_and_stop();
    assert_eq!(table.get(&key(53, RS1, 53)), Some(&1), "rs1:53 up\n{diag}");
    assert!(
        !calls.contains(&format!("rs={RS2}:")),
        "rs2 (no VIP) must never be added to IPVS\n{diag}"
    );
}

/// `misc_dynamic` with `--protocol keepalived-dynamic --weight 7`: rs1's
/// weight goes from its configured 1 to 7 (exit 9), rs2 is removed (exit
/// 1). Without `alpha` both start up, so both changes are visible.
#[test]
fn keepalived_misc_dynamic_sets_the_weight_and_removes_the_real_server_without_vip() {
    if skip_unless(&KEEPALIVED_NEEDS) {
        return;
    }
    let tb = daemon_testbed();
    let checks = install_checks();
    let dir = TempDir::new();
    let tcp = checks.path().join("check_raw_tcp");
    let cmd = |rs: &str| {
        format!(
            "{} --protocol keepalived-dynamic --weight 7 eth0 {rs} {VIP} {PORT}",
            tcp.display()
        )
    };
    let dynamic = "            misc_dynamic\n";
    let vs = keepalived_virtual(
        PORT,
        &[
            keepalived_real(RS1, PORT, &cmd(RS1), dynamic),
            keepalived_real(RS2, PORT, &cmd(RS2), dynamic),
        ],
    );
    let mut k = Keepalived::start(&tb, &dir, &vs);

    let rs1_done = misc_verdict(RS1, PORT, &tcp, "succeeded.");
    let rs2_done = misc_verdict(
        RS2,
        PORT,
        &tcp,
        "failed with retry disabled (exited with status 1).",
    );
    wait_for(
        VERDICT_LIMIT,
        "rs1 at weight 7 and rs2 removed from IPVS",
        || {
            k.daemon.assert_running();
            let log = k.daemon.log();
            let table = ipvs_table(&k.ipvs_log());
            let done = log.contains(&rs1_done)
                && log.contains(&rs2_done)
                && table.get(&key(PORT, RS1, PORT)) == Some(&7)
                && !table.contains_key(&key(PORT, RS2, PORT));
            done.then_some(())
        },
        || k.diag(),
    );
    let (calls, table, diag) = k.settle_and_stop();

    assert_eq!(
        table.get(&key(PORT, RS1, PORT)),
        Some(&7),
        "rs1 weight 7\n{diag}"
    );
    assert!(
        !table.contains_key(&key(PORT, RS2, PORT)),
        "rs2 removed\n{diag}"
    );
    assert!(
        calls.contains(&format!(
            "EDITDEST {VIP}:{PORT} rs={RS1}:{PORT} weight=7 fwd=DR"
        )),
        "the weight change is an IPVS edit of rs1\n{diag}"
    );
    assert!(
        calls.contains(&format!("DELDEST {VIP}:{PORT} rs={RS2}:{PORT}")),
        "rs2 is deleted from IPVS\n{diag}"
    );
}

/// The packaged keepalived.conf.example as it is, but for paths (checks
/// and role file in temp dirs), the check user (`nobody`: the example's
/// `keepalived_script` is created by the Debian package, not by CI) and
/// `delay_loop 1` instead of 5. keepalived runs VRRP too: it becomes MASTER
/// on its own, its notify_master runs the packaged check_raw-role-notify,
/// which writes `1` to the role file, and the checks (`-r ROLE_FILE`, run as
/// `nobody` with the file capability `make install` sets) then send raw
/// frames. Expected, from the real servers the example names: rs1 (VIP,
/// HTTP 200 `ok`) up on 80 and 443 at weight 100; rs3 (VIP, answering
/// `Content-Type: text/plain`, the single-quoted argument) up on 80; rs2
/// (no VIP) down on 80 (misc_dynamic) and 443.
#[test]
fn keepalived_runs_the_packaged_example_with_vrrp_and_the_role_file() {
    if skip_unless(&[&KEEPALIVED_NEEDS[..], &[SETCAP]].concat()) {
        return;
    }
    let tb = Testbed::without_servers();
    for (host, port) in [
        ("rs1", PORT),
        ("rs2", PORT),
        ("rs3", PORT),
        ("rs1", 443),
        ("rs2", 443),
    ] {
        tb.serve(host, port, Behaviour::Respond(HTTP_REPLY.to_vec()));
    }
    let checks = install_checks();
    let setcap = Command::new("setcap")
        .arg("cap_net_raw+ep")
        .arg(checks.path().join("check_raw"))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run setcap ({e}): run .ci/run, or apt-get install -y libcap2-bin")
        });
    assert!(
        setcap.status.success(),
        "setcap cap_net_raw+ep failed: {}",
        String::from_utf8_lossy(&setcap.stderr)
    );
    let notify = read(&packaging("keepalived/check_raw-role-notify"));
    write_executable(&checks.path().join("check_raw-role-notify"), &notify);

    let dir = TempDir::new();
    let role = dir.path().join("run/role");
    let mut conf = read(&packaging("keepalived/keepalived.conf.example"));
    for (from, to) in [
        ("/run/check_raw/role", role.display().to_string()),
        (
            "/usr/lib/check_raw/",
            format!("{}/", checks.path().display()),
        ),
        (
            "script_user keepalived_script",
            "script_user nobody".to_owned(),
        ),
        ("delay_loop 5", "delay_loop 1".to_owned()),
    ] {
        assert!(
            conf.contains(from),
            "packaging/keepalived/keepalived.conf.example no longer contains {from:?}: update this test"
        );
        conf = conf.replace(from, &to);
    }
    // Strip the comment lines: the config is the test's input, the comments
    // only make failure output longer.
    let conf: String = conf
        .lines()
        .filter(|l| !l.trim_start().starts_with('!'))
        .map(|l| format!("{l}\n"))
        .collect();

    let mut k = Keepalived::start_conf(&tb, &dir, &conf, Checkers::AndVrrp);
    let diag = || {
        format!(
            "{}\n--- role file ---\n{:?}\n--- keepalived.conf ---\n{conf}",
            k.diag(),
            read(&role)
        )
    };
    let up = [
        (key(PORT, RS1, PORT), 100),
        (key(PORT, RS3, PORT), 100),
        (key(443, RS1, 443), 100),
    ];
    let down = [key(PORT, RS2, PORT), key(443, RS2, 443)];
    wait_for(
        Duration::from_secs(30),
        "MASTER, role file 1, rs1 and rs3 up at weight 100, rs2 down",
        || {
            k.daemon.assert_running();
            let table = ipvs_table(&k.ipvs_log());
            let done = read(&role) == "1\n"
                && up.iter().all(|(key, w)| table.get(key) == Some(w))
                && down.iter().all(|key| !table.contains_key(key));
            done.then_some(())
        },
        diag,
    );
    // rs2 is removed by its first raw check after MASTER; give rs1 and rs3
    // two more rounds of raw checks to prove they pass them.
    thread::sleep(Duration::from_millis(2500));
    let msg = diag();
    let calls = k.ipvs_log();
    let table = ipvs_table(&calls);
    let log = k.daemon.log();
    k.daemon.stop();

    for (key, w) in &up {
        assert_eq!(table.get(key), Some(w), "{key:?} up at weight {w}\n{msg}");
        let del = format!("DELDEST {} rs={} ", key.0, key.1);
        assert!(
            !calls.contains(&del),
            "{key:?} must never be removed\n{msg}"
        );
    }
    for key in &down {
        assert!(!table.contains_key(key), "{key:?} down\n{msg}");
    }
    assert!(log.contains("Entering MASTER STATE"), "VRRP MASTER\n{msg}");
    for bad in [
        "Unsafe permissions",
        "disabling",
        "SECURITY VIOLATION",
        "not executable",
    ] {
        assert!(!log.contains(bad), "keepalived complains: {bad:?}\n{msg}");
    }
}

/// HTTPS through the VIP under keepalived: MISC_CHECK runs `check_raw_http
/// --ssl` (certificate verified against the test CA) on 443; rs1 is added
/// to IPVS, rs2 (nginx with TLS, no VIP) never is.
#[test]
fn keepalived_misc_check_over_tls_adds_only_the_real_server_with_the_vip() {
    if skip_unless(&KEEPALIVED_NEEDS) || skip_unless(&[NGINX]) {
        return;
    }
    let pki = Pki::new();
    let tb = Testbed::without_servers();
    let _rs1 = tb.nginx_tls("rs1", &pki);
    let _rs2 = tb.nginx_tls("rs2", &pki);
    let checks = install_checks();
    let dir = TempDir::new();
    let http = checks.path().join("check_raw_http");
    let port = TlsPort::Good.port();
    let cmd = |rs: &str| {
        format!(
            "{} --protocol keepalived --ssl --ca-file {} -S 200 -s ok eth0 {rs} {VIP} {port} {TLS_HOST} /health",
            http.display(),
            pki.ca.display()
        )
    };
    let alpha = "            alpha\n";
    let vs = keepalived_virtual(
        port,
        &[
            keepalived_real(RS1, port, &cmd(RS1), alpha),
            keepalived_real(RS2, port, &cmd(RS2), alpha),
        ],
    );
    let mut k = Keepalived::start(&tb, &dir, &vs);
    let expected = [
        misc_verdict(RS1, port, &http, "succeeded."),
        misc_verdict(
            RS2,
            port,
            &http,
            "failed with retry disabled (exited with status 1).",
        ),
    ];
    wait_for(
        VERDICT_LIMIT,
        "keepalived's TLS verdicts on rs1 and rs2 (and rs1 added to IPVS)",
        || {
            k.daemon.assert_running();
            let log = k.daemon.log();
            let table = ipvs_table(&k.ipvs_log());
            let done = expected.iter().all(|e| log.contains(e.as_str()))
                && table.contains_key(&key(port, RS1, port));
            done.then_some(())
        },
        || k.diag(),
    );
    let diag = k.diag();
    let calls = k.ipvs_log();
    k.daemon.stop();
    assert_eq!(
        ipvs_table(&calls).get(&key(port, RS1, port)),
        Some(&1),
        "rs1:443 up\n{diag}"
    );
    assert!(
        !calls.contains(&format!("rs={RS2}:")),
        "rs2 (no VIP) must never be added to IPVS\n{diag}"
    );
    assert_nothing_left_open(&tb, "rs1", port, &diag);
}
