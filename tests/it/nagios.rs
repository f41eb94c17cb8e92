//! check_raw under Nagios 4, run in the foreground inside the testbed's
//! MASTER load balancer `lb` (see `harness::daemon`), with the packaged
//! command definitions included as they are. rs1 must come out OK and rs2
//! (no VIP) CRITICAL in `status.dat` (`current_state`, `plugin_output`);
//! `nagios4 -v` must accept the packaged definitions without a warning.
//!
//! Tests skip, with a `skipping ...` line, when not root or nagios4 is
//! missing (under CI=true they fail).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::harness::*;

// ---- Nagios 4 --------------------------------------------------------------

const NAGIOS: &str = "/usr/sbin/nagios4";

/// One service: (host, description, check_command, expected state, expected
/// start of the plugin output).
type ServiceCase = (&'static str, &'static str, String, u8, &'static str);

/// The services both monitoring daemons run, against hosts rs1 and rs2
/// whose address is the real server's. Nagios writes them with `!`
/// arguments of the packaged commands; Icinga with vars (below).
fn nagios_services() -> Vec<ServiceCase> {
    let tcp = format!("check_raw_tcp!eth0!{VIP}!{PORT}");
    let http = format!("check_raw_http!eth0!{VIP}!{PORT}!{VHOST}!/health!-S 200 -s ok");
    let vip = format!("check_raw_vip!eth0!{VIP}!-t 500");
    vec![
        ("rs1", "raw_tcp", tcp.clone(), 0, "RAW_TCP OK - "),
        ("rs2", "raw_tcp", tcp.clone(), 2, "RAW_TCP CRITICAL - "),
        // Any response time is above 0 s: WARNING, exit 1.
        (
            "rs1",
            "raw_tcp_warning",
            format!("{tcp}!--warning 0"),
            1,
            "RAW_TCP WARNING - ",
        ),
        ("rs1", "raw_http", http.clone(), 0, "RAW_HTTP OK - "),
        ("rs2", "raw_http", http, 2, "RAW_HTTP CRITICAL - "),
        (
            "rs1",
            "raw_http_get",
            format!("check_raw_http_get!eth0!{VIP}!{PORT}!{VHOST}!/health!{BODY_MD5}"),
            0,
            "RAW_HTTP_GET OK - ",
        ),
        // No port: the VIP itself, with a short -t (an OK check takes it all).
        ("rs1", "raw_vip", vip.clone(), 0, "RAW_VIP OK - "),
        ("rs2", "raw_vip", vip, 2, "RAW_VIP CRITICAL - "),
    ]
}

/// A Nagios 4 instance whose every file is in `dir`.
fn nagios_config(dir: &Path, checks: &Path) -> PathBuf {
    let d = dir.display();
    mkdirs(dir, &["checkresults"]);
    fs::write(
        dir.join("resource.cfg"),
        format!("$USER1$={}\n", checks.display()),
    )
    .unwrap();

    let mut objects = String::from(
        "define timeperiod {
    timeperiod_name always
    alias           always
    sunday          00:00-24:00
    monday          00:00-24:00
    tuesday         00:00-24:00
    wednesday       00:00-24:00
    thursday        00:00-24:00
    friday          00:00-24:00
    saturday        00:00-24:00
}
define contact {
    contact_name                  nobody
    host_notifications_enabled    0
    service_notifications_enabled 0
    host_notification_period      always
    service_notification_period   always
    host_notification_options     n
    service_notification_options  n
    host_notification_commands    notify-nobody
    service_notification_commands notify-nobody
}
define command {
    command_name notify-nobody
    command_line /bin/true
}
",
    );
    for (host, addr) in [("rs1", RS1), ("rs2", RS2)] {
        // No host check: the services are what is tested.
        objects.push_str(&format!(
            "define host {{
    host_name             {host}
    address               {addr}
    max_check_attempts    1
    check_period          always
    active_checks_enabled 0
    contacts              nobody
    notification_period   always
}}
"
        ));
    }
    for (host, desc, command, _, _) in nagios_services() {
        objects.push_str(&format!(
            "define service {{
    host_name             {host}
    service_description   {desc}
    check_command         {command}
    check_interval        1
    retry_interval        1
    max_check_attempts    1
    check_period          always
    contacts              nobody
    notification_period   always
}}
"
        ));
    }
    fs::write(dir.join("objects.cfg"), objects).unwrap();

    let conf = format!(
        "cfg_file={cmds}
cfg_file={d}/objects.cfg
resource_file={d}/resource.cfg
log_file={d}/nagios.log
object_cache_file={d}/objects.cache
precached_object_file={d}/objects.precache
status_file={d}/status.dat
status_update_interval=1
temp_file={d}/nagios.tmp
temp_path={d}
lock_file={d}/nagios.lock
command_file={d}/nagios.cmd
query_socket={d}/nagios.qh
check_result_path={d}/checkresults
state_retention_file={d}/retention.dat
retain_state_information=0
debug_file={d}/nagios.debug
debug_level=0
log_archive_path={d}
log_rotation_method=n
use_syslog=0
nagios_user=root
nagios_group=root
check_external_commands=0
enable_notifications=0
enable_event_handlers=0
enable_flap_detection=0
process_performance_data=0
interval_length=1
service_inter_check_delay_method=n
host_inter_check_delay_method=n
max_service_check_spread=1
max_host_check_spread=1
check_result_reaper_frequency=1
service_check_timeout=10
illegal_macro_output_chars=`~$&|'\"<>
",
        cmds = packaging("nagios/check_raw.cfg").display()
    );
    let path = dir.join("nagios.cfg");
    fs::write(&path, conf).unwrap();
    path
}

/// The `servicestatus` blocks of a status.dat: (host, service) -> fields.
fn nagios_status(text: &str) -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for block in text.split("servicestatus {").skip(1) {
        let body = block.split('}').next().unwrap_or("");
        let fields: BTreeMap<String, String> = body
            .lines()
            .filter_map(|l| l.trim().split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        if let (Some(h), Some(s)) = (fields.get("host_name"), fields.get("service_description")) {
            out.insert((h.clone(), s.clone()), fields.clone());
        }
    }
    out
}

/// `nagios4 -v` accepts the packaged command definitions (0 errors; the
/// warnings are listed on failure).
#[test]
fn nagios_accepts_the_packaged_command_definitions() {
    require!(Need::Root, Need::Program(NAGIOS, "nagios4-core"));
    let checks = install_checks();
    let dir = TempDir::new();
    let cfg = nagios_config(dir.path(), checks.path());
    let r = run_local(Path::new(NAGIOS), &["-v", &cfg.display().to_string()]);
    assert_eq!(r.code, Some(0), "nagios4 -v failed\n{r}");
    assert!(r.stdout.contains("Total Errors:   0"), "{r}");
    assert!(r.stdout.contains("Total Warnings: 0"), "{r}");
    // Every packaged definition, and the test's notify-nobody.
    let packaged = std::fs::read_to_string(packaging("nagios/check_raw.cfg"))
        .expect("read the packaged Nagios definitions")
        .matches("define command")
        .count();
    assert!(
        packaged >= 5,
        "the packaged file defines {packaged} commands"
    );
    let checked = format!("Checked {} commands.", packaged + 1);
    assert!(r.stdout.contains(&checked), "expected '{checked}'\n{r}");
}

/// Nagios 4 runs the packaged commands (checks every second): rs1 OK, rs2
/// CRITICAL, a `--warning 0` WARNING, the HTTP checks and the VIP check.
#[test]
fn nagios_runs_the_packaged_commands() {
    require!(Need::Testbed, Need::Program(NAGIOS, "nagios4-core"));
    let tb = daemon_testbed();
    let checks = install_checks();
    let dir = TempDir::new();
    let cfg = nagios_config(dir.path(), checks.path())
        .display()
        .to_string();
    let d = Daemon::start(
        &tb,
        "lb",
        "nagios4",
        &[NAGIOS, &cfg],
        &[],
        dir.path(),
        dir.path().join("nagios.out"),
    );
    let status_path = dir.path().join("status.dat");
    let cases = nagios_services();
    let diag = || {
        format!(
            "--- nagios4 output ---\n{}\n--- nagios.log ---\n{}\n--- status.dat (services) ---\n{:#?}",
            tail(&d.log(), 30),
            tail(&read(&dir.path().join("nagios.log")), 40),
            nagios_status(&read(&status_path))
        )
    };
    let status = wait_for(
        VERDICT_LIMIT,
        "every service checked by Nagios",
        || {
            d.assert_running();
            let st = nagios_status(&read(&status_path));
            let all = cases.iter().all(|(h, s, ..)| {
                st.get(&(h.to_string(), s.to_string()))
                    .is_some_and(|f| f.get("has_been_checked").map(String::as_str) == Some("1"))
            });
            all.then_some(st)
        },
        diag,
    );
    let msg = diag();
    drop(d);
    for (host, desc, command, state, prefix) in &cases {
        let f = &status[&(host.to_string(), desc.to_string())];
        let output = f.get("plugin_output").map(String::as_str).unwrap_or("");
        assert_eq!(
            f.get("current_state").map(String::as_str),
            Some(state.to_string().as_str()),
            "{host}/{desc} ({command}): state {state} expected, output {output:?}\n{msg}"
        );
        assert!(
            output.starts_with(prefix),
            "{host}/{desc} ({command}): output should start with {prefix:?}: {output:?}\n{msg}"
        );
    }
}
