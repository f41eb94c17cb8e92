//! check_raw under Icinga 2, run in the foreground inside the testbed's
//! MASTER load balancer `lb` (see `harness::daemon`), with the packaged
//! CheckCommands included as they are. rs1 must come out OK and rs2 (no
//! VIP) CRITICAL in the state file Icinga writes when stopped
//! (`last_check_result`), once its log shows every check has run.
//! `icinga2 daemon -C` must accept the packaged definitions without a
//! warning.
//!
//! Tests skip, with a `skipping ...` line, when not root or icinga2 is
//! missing (under CI=true they fail).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Instant;

use crate::harness::*;

// ---- Icinga 2 --------------------------------------------------------------

const ICINGA2: &str = "/usr/sbin/icinga2";

/// (host, service name, check command, vars, expected state, output prefix):
/// the same services as Nagios runs, written with the CheckCommands' vars.
fn icinga_services(
    ca: &Path,
) -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    String,
    u8,
    &'static str,
)> {
    let base =
        format!("vars.raw_iface = \"eth0\"\n  vars.raw_vip = \"{VIP}\"\n  vars.raw_port = {PORT}");
    let http = format!(
        "{base}\n  vars.raw_host = \"{VHOST}\"\n  vars.raw_path = \"/health\"\n  vars.raw_status_code = \"200\"\n  vars.raw_string = \"ok\""
    );
    let vip =
        format!("vars.raw_iface = \"eth0\"\n  vars.raw_vip = \"{VIP}\"\n  vars.raw_timeout = 500");
    // HTTPS through the VIP: nginx's TLS port, the test CA, a day count.
    let tls = format!(
        "vars.raw_iface = \"eth0\"\n  vars.raw_vip = \"{VIP}\"\n  vars.raw_port = {}\n  vars.raw_host = \"{TLS_HOST}\"\n  vars.raw_path = \"/health\"\n  vars.raw_status_code = \"200\"\n  vars.raw_ssl = true\n  vars.raw_ca_file = \"{}\"\n  vars.raw_certificate_days = \"30,7\"",
        TlsPort::Good.port(),
        ca.display()
    );
    vec![
        (
            "rs1",
            "raw_https",
            "raw_http",
            tls.clone(),
            0,
            "RAW_HTTP OK - HTTP/1.1 200 OK over TLSv1.3",
        ),
        (
            "rs2",
            "raw_https",
            "raw_http",
            tls,
            2,
            "RAW_HTTP CRITICAL - ",
        ),
        (
            "rs1",
            "raw_tcp",
            "raw_tcp",
            base.clone(),
            0,
            "RAW_TCP OK - ",
        ),
        (
            "rs2",
            "raw_tcp",
            "raw_tcp",
            base.clone(),
            2,
            "RAW_TCP CRITICAL - ",
        ),
        (
            "rs1",
            "raw_tcp_warning",
            "raw_tcp",
            format!("{base}\n  vars.raw_warning = \"0\""),
            1,
            "RAW_TCP WARNING - ",
        ),
        (
            "rs1",
            "raw_http",
            "raw_http",
            http.clone(),
            0,
            "RAW_HTTP OK - ",
        ),
        (
            "rs2",
            "raw_http",
            "raw_http",
            http,
            2,
            "RAW_HTTP CRITICAL - ",
        ),
        (
            "rs1",
            "raw_dns",
            "raw_dns",
            format!(
                "vars.raw_iface = \"eth0\"\n  vars.raw_vip = \"{VIP}\"\n  vars.raw_name = \"www.{}\"\n  vars.raw_dns_expect = [ \"{}\" ]",
                crate::harness::dns::ZONE,
                crate::harness::dns::WWW_A[0]
            ),
            0,
            "RAW_DNS OK - ",
        ),
        (
            "rs2",
            "raw_dns",
            "raw_dns",
            format!(
                "vars.raw_iface = \"eth0\"\n  vars.raw_vip = \"{VIP}\"\n  vars.raw_name = \"www.{}\"",
                crate::harness::dns::ZONE
            ),
            2,
            "RAW_DNS CRITICAL - ",
        ),
        (
            "rs1",
            "raw_http_get",
            "raw_http_get",
            // raw_host and raw_path left to the CheckCommand's defaults:
            // the VIP and "/".
            format!("{base}\n  vars.raw_md5 = \"{BODY_MD5}\""),
            0,
            "RAW_HTTP_GET OK - ",
        ),
        // The VIP check has no port; an OK check takes its whole timeout.
        ("rs1", "raw_vip", "raw_vip", vip.clone(), 0, "RAW_VIP OK - "),
        ("rs2", "raw_vip", "raw_vip", vip, 2, "RAW_VIP CRITICAL - "),
    ]
}

/// An Icinga 2 instance in `dir`: the packaged CheckCommands included as
/// they are, PluginDir the installed checks, a checker, hosts rs1/rs2.
/// Returns the arguments after `icinga2 daemon`.
fn icinga_config(dir: &Path, checks: &Path, ca: &Path) -> Vec<String> {
    mkdirs(dir, &["data", "log", "cache", "spool", "run"]);
    let mut conf = format!(
        "const PluginDir = \"{plugins}\"
include <itl>
include \"{commands}\"

object CheckerComponent \"checker\" {{ }}
",
        plugins = checks.display(),
        commands = packaging("icinga2/check_raw.conf").display()
    );
    for (host, addr) in [("rs1", RS1), ("rs2", RS2)] {
        conf.push_str(&format!(
            "object Host \"{host}\" {{
  address = \"{addr}\"
  check_command = \"dummy\"
  enable_active_checks = false
}}
"
        ));
    }
    for (host, name, command, vars, _, _) in icinga_services(ca) {
        conf.push_str(&format!(
            "object Service \"{name}\" {{
  host_name = \"{host}\"
  check_command = \"{command}\"
  check_interval = 1s
  retry_interval = 1s
  max_check_attempts = 1
  {vars}
}}
"
        ));
    }
    let main = dir.join("icinga2.conf");
    fs::write(&main, conf).unwrap();
    let d = dir.display();
    vec![
        "-c".into(),
        main.display().to_string(),
        format!("-DDataDir={d}/data"),
        format!("-DLogDir={d}/log"),
        format!("-DCacheDir={d}/cache"),
        format!("-DSpoolDir={d}/spool"),
        format!("-DInitRunDir={d}/run"),
        "-DRunAsUser=root".into(),
        "-DRunAsGroup=root".into(),
    ]
}

/// The objects of an Icinga 2 state file (netstrings of JSON):
/// "host!service" -> its JSON text.
fn icinga_state(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = text;
    while let Some((len, after)) = rest.split_once(':') {
        let Ok(len) = len.trim().parse::<usize>() else {
            break;
        };
        if after.len() < len {
            break;
        }
        let json = &after[..len];
        rest = after[len..].strip_prefix(',').unwrap_or(&after[len..]);
        if json.contains("\"type\":\"Service\"") {
            if let Some(name) = json_string_after(json, "\"name\":") {
                out.insert(name, json.to_owned());
            }
        }
    }
    out
}

/// The JSON string value right after `key` (e.g. `"output":`), unescaped
/// enough for a status line.
fn json_string_after(json: &str, key: &str) -> Option<String> {
    let start = json.find(key)? + key.len();
    let s = json[start..].strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                c => out.push(c),
            },
            c => out.push(c),
        }
    }
    None
}

/// The number right after `key` in `json`.
fn json_number_after(json: &str, key: &str) -> Option<f64> {
    let start = json.find(key)? + key.len();
    let n: String = json[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
        .collect();
    n.parse().ok()
}

/// `icinga2 daemon -C` accepts the packaged CheckCommands.
#[test]
fn icinga2_accepts_the_packaged_check_commands() {
    require!(Need::Root, Need::Program(ICINGA2, "icinga2-bin"));
    let checks = install_checks();
    let dir = TempDir::new();
    let mut args = vec!["daemon".to_owned(), "-C".to_owned()];
    args.extend(icinga_config(
        dir.path(),
        checks.path(),
        Path::new("/nonexistent/ca.pem"),
    ));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run_local(Path::new(ICINGA2), &args);
    assert_eq!(r.code, Some(0), "icinga2 daemon -C failed\n{r}");
    assert!(
        !r.stdout.contains("warning/") && !r.stdout.contains("critical/"),
        "icinga2 warns about the configuration\n{r}"
    );
    // The four CheckCommands exist, with PluginDir resolved.
    let mut list = vec![
        "object",
        "list",
        "--type",
        "CheckCommand",
        "--name",
        "raw_*",
    ];
    list.extend(args[2..].iter().filter(|a| a.starts_with("-D")));
    let r = run_local(Path::new(ICINGA2), &list);
    assert_eq!(r.code, Some(0), "icinga2 object list failed\n{r}");
    for name in ["raw_tcp", "raw_http_get", "raw_http", "raw_vip"] {
        let object = format!("Object '{name}' of type 'CheckCommand'");
        let command = format!("command = [ \"{}/check_{name}\" ]", checks.path().display());
        assert!(r.stdout.contains(&object), "{object} missing\n{r}");
        assert!(
            r.stdout.contains(&command),
            "{name}: {command} expected\n{r}"
        );
    }
}

/// Icinga 2 runs the packaged CheckCommands (checks every second): rs1 OK,
/// rs2 CRITICAL, `raw_warning = "0"` WARNING, and the HTTP checks. Read from
/// the state file Icinga writes when stopped, after its log shows every
/// check has finished.
#[test]
fn icinga2_runs_the_packaged_check_commands() {
    require!(
        Need::Testbed,
        Need::Program(ICINGA2, "icinga2-bin"),
        NSD,
        NGINX
    );
    let tb = daemon_testbed();
    // The DNS services' servers: rs1 on the VIP, rs2 on its own address.
    let _nsd = [tb.nsd("rs1", &[RS1, VIP]), tb.nsd("rs2", &[RS2])];
    // TLS beside the harness's plain listeners (which hold 80 and 8080).
    let pki = Pki::new();
    let _nginx: Vec<Nginx> = ["rs1", "rs2"]
        .iter()
        .map(|rs| tb.nginx_with(rs, 8090, &pki.server_blocks()))
        .collect();
    let checks = install_checks();
    let dir = TempDir::new();
    let mut args = vec![
        ICINGA2.to_owned(),
        "daemon".to_owned(),
        "-x".into(),
        "notice".into(),
    ];
    args.extend(icinga_config(dir.path(), checks.path(), &pki.ca));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut d = Daemon::start(
        &tb,
        "lb",
        "icinga2",
        &argv,
        &[("ICINGA2_USER", "root"), ("ICINGA2_GROUP", "root")],
        dir.path(),
        dir.path().join("icinga2.out"),
    );
    let cases = icinga_services(&pki.ca);
    // "PID n ('<plugins>/check_raw_tcp' ... '198.51.100.11' ...) terminated
    // with exit code N": one per service, told apart by program and address.
    // "PID n ('<plugins>/check_raw_tcp' ... '198.51.100.11' ...) terminated
    // with exit code N", told apart by program, address and --warning.
    let finished = |log: &str, command: &str, host: &str, name: &str| {
        let warning = name.ends_with("_warning");
        let tls = name.ends_with("_https");
        let program = format!("'{}/check_{command}'", checks.path().display());
        let addr = format!("'{}'", if host == "rs1" { RS1 } else { RS2 });
        log.lines()
            .filter(|l| {
                l.contains("terminated with exit code")
                    && l.contains(&program)
                    && l.contains(&addr)
                    && l.contains("'--warning'") == warning
                    && l.contains("'--ssl'") == tls
            })
            .count()
    };
    // Two runs of every check: the first result has surely been processed
    // (and the state file will hold a result) when the second has ended.
    wait_for(
        VERDICT_LIMIT,
        "every Icinga 2 check run twice",
        || {
            d.assert_running();
            let log = d.log();
            cases
                .iter()
                .all(|(host, name, command, ..)| finished(&log, command, host, name) >= 2)
                .then_some(())
        },
        || format!("--- icinga2 output ---\n{}", tail(&d.log(), 60)),
    );
    // The arguments Icinga built from the vars, defaults included.
    let get = format!(
        "'{}/check_raw_http_get' 'eth0' '{RS1}' '{VIP}' '{PORT}' '{VIP}' '/' '{BODY_MD5}')",
        checks.path().display()
    );
    assert!(
        d.log().contains(&get),
        "raw_http_get should run with the VIP as Host and / as path: {get}\n{}",
        tail(&d.log(), 60)
    );
    // Stop: Icinga writes its state file on the way out.
    let stopping = Instant::now();
    let status = d.stop();
    let log = d.log();
    let state_file = dir.path().join("data/icinga2.state");
    let state = icinga_state(&read(&state_file));
    let results: Vec<String> = state
        .iter()
        .map(|(name, json)| {
            let r = json
                .split_once("\"last_check_result\":")
                .map_or("", |(_, r)| r);
            format!("{name}: {}", &r[..r.len().min(400)])
        })
        .collect();
    let msg = format!(
        "icinga2 stopped with {status:?} in {:?}\n--- icinga2 output ---\n{}\n--- results in {} ---\n{}",
        stopping.elapsed(),
        tail(&log, 40),
        state_file.display(),
        results.join("\n")
    );
    for (host, name, _, _, expected, prefix) in &cases {
        let json = state
            .get(&format!("{host}!{name}"))
            .unwrap_or_else(|| panic!("no state for {host}!{name}\n{msg}"));
        let result = json
            .split_once("\"last_check_result\":")
            .map(|(_, r)| r)
            .filter(|r| !r.starts_with("null"))
            .unwrap_or_else(|| panic!("{host}!{name} has no check result\n{msg}"));
        let output = json_string_after(result, "\"output\":").unwrap_or_default();
        let exit = json_number_after(result, "\"exit_status\":");
        let st = json_number_after(result, "\"state\":");
        assert_eq!(
            st,
            Some(f64::from(*expected)),
            "{host}!{name}: state {expected} expected (exit {exit:?}, output {output:?})\n{msg}"
        );
        assert!(
            output.starts_with(prefix),
            "{host}!{name}: output should start with {prefix:?}: {output:?}\n{msg}"
        );
    }
}
