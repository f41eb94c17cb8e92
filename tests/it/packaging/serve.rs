//! check_raw_serve's packaging, part of tests/it/packaging.rs (split for
//! length): its unit against `systemd-analyze verify` and against the
//! configuration's defaults, its example configuration parsed by the
//! daemon's own parser, and every man page rendered without a warning.

use std::fs;
use std::path::Path;
use std::process::Command;

use super::{run, GROFF, MAKE, MAN, SYSTEMD_ANALYZE, UNIT};
use crate::harness::{TempDir, CHECK_RAW, REPO};

fn unit_text() -> String {
    let path = Path::new(REPO).join("packaging/systemd").join(UNIT);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The values of `key=` in the unit, in order (a key may repeat).
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().to_owned())
        .collect()
}

/// `systemd-analyze verify` of the unit as `make install` writes it, with
/// PREFIX a temporary directory so that its ExecStart (rewritten to that
/// PREFIX) names a real file, and the man pages it names exist too. Any
/// line it prints about our unit fails the test: an unknown key, a typo in
/// a value, a missing executable.
#[test]
fn the_unit_passes_systemd_analyze_verify() {
    require!(MAKE, SYSTEMD_ANALYZE);
    let tmp = TempDir::new();
    let prefix = tmp.path().join("usr");
    let bin_dir = Path::new(CHECK_RAW)
        .parent()
        .expect("the binary's directory");
    run(Command::new("make")
        .current_dir(REPO)
        .arg("--no-print-directory")
        .arg("install-files")
        .arg(format!("PREFIX={}", prefix.display()))
        .arg(format!("RELEASE={}", bin_dir.display()))
        .args(["RUNDIR=", "SETCAP=no"]));
    let unit = prefix.join("lib/systemd/system").join(UNIT);
    let text = fs::read_to_string(&unit).expect("the installed unit");
    let exec = format!(
        "ExecStart={}/lib/check_raw/check_raw_serve ",
        prefix.display()
    );
    assert!(
        text.lines().any(|l| l.starts_with(&exec)),
        "make install rewrites ExecStart to its PREFIX:\n{text}"
    );
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit)
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .output()
        .expect("systemd-analyze");
    let said =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    // Other units of this host (keepalived's, ldirectord's) may have their
    // own complaints; ours must have none.
    let ours: Vec<&str> = said.lines().filter(|l| l.contains(UNIT)).collect();
    assert!(
        ours.is_empty(),
        "systemd-analyze verify {}:\n{said}",
        unit.display()
    );
}

/// What the unit promises, held against the configuration's defaults and
/// the contract: the default configuration file and state_dir, notify,
/// watchdog, reload by SIGHUP, the one capability, the state directory
/// kept across restarts and writable, files keepalived can read.
#[test]
fn the_unit_matches_check_raw_serves_defaults() {
    use check_raw::serve::config::{DEFAULT_PATH, DEFAULT_STATE_DIR};
    let unit = unit_text();
    let one = |key: &str| -> String {
        let values = unit_values(&unit, key);
        assert_eq!(values.len(), 1, "one {key}= in the unit: {values:?}");
        values[0].clone()
    };
    assert_eq!(
        one("ExecStart"),
        format!("/usr/lib/check_raw/check_raw_serve --config {DEFAULT_PATH}")
    );
    assert_eq!(one("Type"), "notify");
    assert_eq!(one("ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(one("WatchdogSec"), "30s");
    assert_eq!(one("Restart"), "on-failure");
    assert_eq!(one("User"), "check_raw");
    assert_eq!(one("Group"), "check_raw");
    assert_eq!(one("AmbientCapabilities"), "CAP_NET_RAW");
    assert_eq!(one("CapabilityBoundingSet"), "CAP_NET_RAW");
    assert_eq!(one("NoNewPrivileges"), "yes");
    assert_eq!(one("UMask"), "0022");
    assert_eq!(
        format!("/run/{}", one("RuntimeDirectory")),
        DEFAULT_STATE_DIR
    );
    assert_eq!(one("RuntimeDirectoryPreserve"), "yes");
    assert_eq!(one("ReadWritePaths"), DEFAULT_STATE_DIR);
    assert_eq!(one("ProtectSystem"), "strict");
    assert!(
        unit_values(&unit, "DynamicUser").is_empty(),
        "no DynamicUser"
    );
    let families = one("RestrictAddressFamilies");
    for family in ["AF_PACKET", "AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"] {
        assert!(families.split(' ').any(|f| f == family), "{family}");
    }
    // The user the unit names is the one sysusers.d creates.
    let sysusers =
        fs::read_to_string(Path::new(REPO).join("packaging/sysusers/check_raw.conf")).unwrap();
    assert!(
        sysusers
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["u", "check_raw"])),
        "sysusers.d creates check_raw:\n{sysusers}"
    );
}

/// The example configuration parses (no DNS: it holds addresses only),
/// its top-level values are the defaults it says they are, and it shows
/// every kind of check and every key.
#[test]
fn the_example_serve_toml_parses() {
    use check_raw::serve::config::{self, ServeConfig};
    let path = Path::new(REPO).join("packaging/serve.toml");
    let text = fs::read_to_string(&path).expect("packaging/serve.toml");
    let no_dns = |name: &str, _: std::time::Duration| -> std::io::Result<Vec<std::net::IpAddr>> {
        Err(std::io::Error::other(format!(
            "the example must not need DNS ({name})"
        )))
    };
    let parsed = ServeConfig::parse(&path, &text, &no_dns).unwrap_or_else(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("packaging/serve.toml:\n{}", lines.join("\n"))
    });
    assert_eq!(parsed.interval, config::DEFAULT_INTERVAL);
    assert_eq!(parsed.rise, config::DEFAULT_RISE);
    assert_eq!(parsed.fall, config::DEFAULT_FALL);
    assert_eq!(parsed.state_dir, Path::new(config::DEFAULT_STATE_DIR));
    let summary = config::summary(&parsed);
    for kind in ["tcp", "http", "http+tls", "dns", "vip"] {
        assert!(
            summary
                .lines()
                .skip(1)
                .any(|l| l.split_whitespace().nth(1) == Some(kind)),
            "the example has no {kind} check:\n{summary}"
        );
    }
    for key in ["interval =", "rise =", "fall =", "state_dir ="] {
        assert!(text.lines().any(|l| l.starts_with(key)), "top-level {key}");
    }
    let own = |f: fn(&config::CheckSpec) -> bool| parsed.checks.iter().any(f);
    assert!(
        own(|c| c.interval != config::DEFAULT_INTERVAL),
        "a check's interval"
    );
    assert!(own(|c| c.rise != config::DEFAULT_RISE), "a check's rise");
    assert!(own(|c| c.fall != config::DEFAULT_FALL), "a check's fall");
}

/// Every man page renders without a warning from man and groff (as `make
/// lint` checks), the `.so` alias pages included: man resolves them from
/// a directory whose man8/ is man/.
#[test]
fn every_man_page_renders_without_warnings() {
    require!(MAN, GROFF);
    let tmp = TempDir::new();
    std::os::unix::fs::symlink(Path::new(REPO).join("man"), tmp.path().join("man8"))
        .expect("man8 link");
    let mut pages: Vec<String> = fs::read_dir(Path::new(REPO).join("man"))
        .expect("man/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".8"))
        .collect();
    pages.sort();
    assert!(pages.iter().any(|p| p == "check_raw_serve.8"), "{pages:?}");
    let mut warned = Vec::new();
    for page in &pages {
        let out = Command::new("man")
            .current_dir(tmp.path())
            .args(["--warnings", "-E", "UTF-8", "-l"])
            .arg(format!("man8/{page}"))
            .env("LC_ALL", "C.UTF-8")
            .env("MANWIDTH", "80")
            .output()
            .expect("man");
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || !err.trim().is_empty() || text.trim().is_empty() {
            warned.push(format!("{page} ({}): {err}", out.status));
        }
    }
    assert!(warned.is_empty(), "{}", warned.join("\n"));
}
