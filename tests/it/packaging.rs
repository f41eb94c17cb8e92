//! What an operator installs: `make install` (into a DESTDIR), the RPM
//! built from `packaging/rpm/check_raw.spec` and the Debian package of
//! `make deb` put the binary, its names, the links in PATH and (the
//! plugins') in the monitoring plugin directory, the scripts, the man
//! pages, check_raw_serve's systemd unit and user and its Prometheus files
//! (scrape configuration, alert rules, dashboard), the role file's
//! directory and the examples where the man pages (FILES) say; the RPM
//! carries `cap_net_raw` on the binary. Also that the real servers' sysctl
//! example sets what check_raw_vip asks for, that check_raw_serve's unit
//! passes `systemd-analyze verify` and matches the configuration's
//! defaults, that its example configuration parses, and that every man
//! page renders without a warning.
//!
//! No root and no network namespace. Each test needs its tools (`rpmbuild`
//! of the Debian package `rpm`; `dpkg-buildpackage` and `dh`; `man`;
//! `systemd-analyze`) and skips with a `skipping ...` line without them
//! (under CI=true it fails); all need `make` and `tar`. Each works in a
//! temporary directory that is removed even when the test fails. The .deb
//! is built from the binary cargo built for the tests (`make deb
//! CHECK_RAW_BIN=`), not by a second release build; debian/rules checks
//! its own install.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::{Need, TempDir, CHECK_RAW, REPO};

mod serve;

/// The plugin names of the binary, as the Makefile's PLUGINS and the
/// spec's: linked into the monitoring plugin directory too.
const PLUGINS: [&str; 5] = [
    "check_raw_tcp",
    "check_raw_http_get",
    "check_raw_http",
    "check_raw_dns",
    "check_raw_vip",
];

/// The daemon's name: beside the binary and in PATH, not a plugin.
const SERVE: &str = "check_raw_serve";

/// Every name of the binary, as the Makefile's NAMES and the spec's.
fn names() -> impl Iterator<Item = &'static str> {
    PLUGINS.into_iter().chain(std::iter::once(SERVE))
}

/// check_raw_serve's unit, its user, and where it starts the daemon.
const UNIT: &str = "check_raw_serve.service";
const SYSUSERS: &str = "/usr/lib/sysusers.d/check_raw.conf";
const EXEC_START: &str = "ExecStart=/usr/lib/check_raw/check_raw_serve ";

/// The scripts installed next to the binary.
const SCRIPTS: [&str; 4] = [
    "check_raw-role-notify",
    "check_raw_tcp-ldirectord",
    "check_raw_http-ldirectord",
    "check_raw_https-ldirectord",
];

/// The examples, installed (never applied) under the doc directory.
const EXAMPLES: [&str; 6] = [
    "keepalived.conf.example",
    "ldirectord.cf.example",
    "check_raw.cfg",
    "check_raw.conf",
    "90-check_raw-real-server.conf",
    "serve.toml",
];

/// check_raw_serve's Prometheus files, installed as they are (data a
/// Prometheus may use in place, so not compressed) in PROMETHEUS_DIR.
const PROMETHEUS: [&str; 5] = [
    "prometheus.yml",
    "check_raw.rules.yml",
    "check_raw.rules.test.yml",
    "grafana-dashboard.json",
    "README.md",
];
const PROMETHEUS_DIR: &str = "/usr/share/check_raw/prometheus";

const MAKE: Need = Need::Program("make", "make");
const TAR: Need = Need::Program("tar", "tar");
const RPMBUILD: Need = Need::Program("rpmbuild", "rpm");
const DPKG_BUILDPACKAGE: Need = Need::Program("dpkg-buildpackage", "dpkg-dev");
const DH: Need = Need::Program("dh", "debhelper");
const MAN: Need = Need::Program("man", "man-db");
const GROFF: Need = Need::Program("groff", "groff-base");
const SYSTEMD_ANALYZE: Need = Need::Program("systemd-analyze", "systemd");

/// Runs `cmd`, panicking with its output unless it exits 0.
fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&run(cmd).stdout).into_owned()
}

/// `dir/link`, a symbolic link's target taken relative to `dir`, with `.`
/// and `..` resolved by the text only (the target need not exist here:
/// it is a path of the installed system).
fn resolve(dir: &Path, target: &Path) -> PathBuf {
    let mut out = if target.is_absolute() {
        PathBuf::new()
    } else {
        dir.to_path_buf()
    };
    for c in target.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

// ---- make install ----------------------------------------------------------

/// `make install DESTDIR=TMP PREFIX=/usr`, the Debian package's layout: the
/// binary built already (this test's CARGO_BIN_EXE, hence `RELEASE=` its
/// directory and `CARGO=true`, so that make install's cargo build neither
/// rebuilds nor waits on the cargo running this test).
#[test]
fn make_install_puts_every_file_where_the_man_page_says() {
    require!(MAKE);
    let tmp = TempDir::new();
    let root = tmp.path().join("root");
    let bin_dir = Path::new(CHECK_RAW)
        .parent()
        .expect("the binary's directory");
    let out = run(Command::new("make")
        .current_dir(REPO)
        .arg("--no-print-directory")
        .arg("install")
        .arg(format!("DESTDIR={}", root.display()))
        .arg("PREFIX=/usr")
        .arg(format!("RELEASE={}", bin_dir.display()))
        .arg("CARGO=true"));
    let log = || String::from_utf8_lossy(&out.stdout).into_owned();
    let at = |p: &str| root.join(p.trim_start_matches('/'));
    let link = |p: &str| -> PathBuf {
        let path = at(p);
        let target = fs::read_link(&path).unwrap_or_else(|e| {
            panic!("{p} is not a symbolic link ({e}); make install:\n{}", log())
        });
        resolve(Path::new(p).parent().unwrap(), &target)
    };

    let binary = at("/usr/lib/check_raw/check_raw");
    let meta = fs::symlink_metadata(&binary).expect("/usr/lib/check_raw/check_raw");
    assert!(meta.is_file(), "the binary is a regular file");
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o755,
        "the binary's mode"
    );
    for name in names() {
        let beside = format!("/usr/lib/check_raw/{name}");
        assert_eq!(link(&beside), Path::new("/usr/lib/check_raw/check_raw"));
        assert_eq!(
            fs::read_link(at(&beside)).unwrap(),
            Path::new("check_raw"),
            "{beside}: a relative link in the binary's own directory (keepalived)"
        );
    }
    for name in PLUGINS {
        let beside = format!("/usr/lib/check_raw/{name}");
        assert_eq!(
            link(&format!("/usr/lib/nagios/plugins/{name}")),
            Path::new(&beside)
        );
    }
    assert!(
        fs::symlink_metadata(at(&format!("/usr/lib/nagios/plugins/{SERVE}"))).is_err(),
        "{SERVE} is no plugin: not in the plugin directory"
    );
    for name in std::iter::once("check_raw").chain(names()) {
        let target = format!("/usr/lib/check_raw/{name}");
        assert_eq!(link(&format!("/usr/bin/{name}")), Path::new(&target));
    }
    for script in SCRIPTS {
        let path = at(&format!("/usr/lib/check_raw/{script}"));
        let mode = fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755, "{script} is executable");
    }
    for page in fs::read_dir(Path::new(REPO).join("man")).expect("man/") {
        let name = page.unwrap().file_name();
        let installed = at("/usr/share/man/man8").join(&name);
        assert!(installed.is_file(), "{} is installed", installed.display());
    }
    for example in EXAMPLES {
        let path = at(&format!("/usr/share/doc/check_raw/examples/{example}"));
        assert!(path.is_file(), "{} is installed", path.display());
    }
    for file in PROMETHEUS {
        let path = at(&format!("{PROMETHEUS_DIR}/{file}"));
        assert!(path.is_file(), "{} is installed", path.display());
    }
    assert!(
        at("/usr/lib/tmpfiles.d/check_raw.conf").is_file(),
        "the tmpfiles.d file"
    );
    assert!(at(SYSUSERS).is_file(), "the sysusers.d file");
    let unit = fs::read_to_string(at(&format!("/usr/lib/systemd/system/{UNIT}")))
        .unwrap_or_else(|e| panic!("the unit: {e}; make install:\n{}", log()));
    assert!(
        unit.lines().any(|l| l.starts_with(EXEC_START)),
        "the unit starts /usr/lib/check_raw/check_raw_serve"
    );
    let run_dir = fs::symlink_metadata(at("/run/check_raw")).expect("/run/check_raw");
    assert!(run_dir.is_dir(), "the role file's directory");
    assert_eq!(
        run_dir.permissions().mode() & 0o777,
        0o755,
        "/run/check_raw's mode"
    );
    // Nothing is applied: no sysctl.d file outside the examples.
    assert!(!at("/etc").exists(), "make install writes nothing to /etc");
}

/// The real-server example sets exactly what check_raw_vip(8) tells the
/// operator to set, and nothing else.
#[test]
fn the_sysctl_example_sets_arp_ignore_and_arp_announce() {
    let path = Path::new(REPO).join("packaging/sysctl/90-check_raw-real-server.conf");
    let text = fs::read_to_string(&path).expect("packaging/sysctl/90-check_raw-real-server.conf");
    let mut settings: Vec<(String, String)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("not key = value: {l}"));
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    settings.sort();
    let want = [
        ("net.ipv4.conf.all.arp_announce", "2"),
        ("net.ipv4.conf.all.arp_ignore", "1"),
        ("net.ipv4.conf.lo.arp_announce", "2"),
        ("net.ipv4.conf.lo.arp_ignore", "1"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(settings, want);
}

// ---- the RPM ---------------------------------------------------------------

/// The source tarball `rpmbuild` unpacks in %prep: what the spec packages
/// besides the binary (man pages, packaging/, README, licence files), under
/// `check_raw-VERSION/`. A real build's tarball holds the whole tree.
fn source_tarball(sources: &Path, version: &str) -> PathBuf {
    let mut licences: Vec<String> = fs::read_dir(REPO)
        .expect("the repository")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("LICENSE"))
        .collect();
    licences.sort();
    assert!(
        !licences.is_empty(),
        "no LICENSE* file in {REPO}: the spec's %license needs the licence texts"
    );
    fs::create_dir_all(sources).expect("SOURCES");
    let tarball = sources.join(format!("check_raw-{version}.tar.gz"));
    run(Command::new("tar")
        .current_dir(REPO)
        .arg("-czf")
        .arg(&tarball)
        .arg(format!("--transform=s,^,check_raw-{version}/,"))
        .args(["man", "packaging", "README.md"])
        .args(&licences));
    tarball
}

/// `rpmbuild -bb` of the spec with the binary cargo built for this test
/// (`check_raw_bin`), everything under a temporary `_topdir`; then the
/// package's files, links, licence and capability as `rpm -qp` reads them.
/// `--nodeps`: this is a Debian host, whose rpm database knows none of the
/// BuildRequires (cargo, rust, openssl-devel).
#[test]
fn rpmbuild_packages_the_binary_its_links_and_the_capability() {
    require!(RPMBUILD, TAR);
    let spec = Path::new(REPO).join("packaging/rpm/check_raw.spec");
    let text = fs::read_to_string(&spec).expect("packaging/rpm/check_raw.spec");
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Version:", version]),
        "the spec's Version: is not Cargo.toml's {version}"
    );

    let top = TempDir::new();
    source_tarball(&top.path().join("SOURCES"), version);
    let built = run(Command::new("rpmbuild")
        .arg("-bb")
        .arg("--nodeps")
        .arg("--define")
        .arg(format!("_topdir {}", top.path().display()))
        .arg("--define")
        .arg(format!("_tmppath {}", top.path().join("tmp").display()))
        .arg("--define")
        .arg(format!("check_raw_bin {CHECK_RAW}"))
        .arg(&spec));
    let log = String::from_utf8_lossy(&built.stderr).into_owned();
    assert!(!log.contains("warning:"), "rpmbuild warned:\n{log}");
    let rpms: Vec<PathBuf> = fs::read_dir(top.path().join("RPMS"))
        .expect("RPMS/")
        .flat_map(|arch| fs::read_dir(arch.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(rpms.len(), 1, "one package: {rpms:?}");
    let rpm = &rpms[0];

    let libdir = stdout(Command::new("rpm").args(["--eval", "%{_libdir}"]));
    let plugins = format!("{}/nagios/plugins", libdir.trim());
    let listing = stdout(
        Command::new("rpm")
            .args([
                "-qp",
                "--qf",
                "[%{FILENAMES}\t%{FILEMODES:perms}\t%{FILELINKTOS}\n]",
            ])
            .arg(rpm),
    );
    let files: Vec<(&str, &str, &str)> = listing
        .lines()
        .map(|l| {
            let mut f = l.splitn(3, '\t');
            (
                f.next().unwrap(),
                f.next().unwrap_or(""),
                f.next().unwrap_or(""),
            )
        })
        .collect();
    let find = |path: &str| {
        files
            .iter()
            .find(|(p, _, _)| *p == path)
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{listing}"))
    };
    let link = |path: &str| {
        let (_, perms, target) = find(path);
        assert!(perms.starts_with('l'), "{path} is a symbolic link: {perms}");
        resolve(Path::new(path).parent().unwrap(), Path::new(target))
    };

    let (_, perms, _) = find("/usr/lib/check_raw/check_raw");
    assert_eq!(*perms, "-rwxr-xr-x", "the binary");
    for name in names() {
        let beside = format!("/usr/lib/check_raw/{name}");
        assert_eq!(
            find(&beside).2,
            "check_raw",
            "{beside}: a link in the binary's directory"
        );
    }
    assert!(
        !files
            .iter()
            .any(|(p, _, _)| p.ends_with(&format!("/plugins/{SERVE}"))),
        "{SERVE} is no plugin:\n{listing}"
    );
    for name in PLUGINS {
        let beside = format!("/usr/lib/check_raw/{name}");
        assert_eq!(link(&format!("{plugins}/{name}")), Path::new(&beside));
        assert!(
            !find(&format!("{plugins}/{name}")).2.starts_with('/'),
            "plugin links are relative"
        );
    }
    for name in std::iter::once("check_raw").chain(names()) {
        let target = format!("/usr/lib/check_raw/{name}");
        assert_eq!(link(&format!("/usr/bin/{name}")), Path::new(&target));
    }
    for script in SCRIPTS {
        let (_, perms, _) = find(&format!("/usr/lib/check_raw/{script}"));
        assert_eq!(*perms, "-rwxr-xr-x", "{script}");
    }
    for page in fs::read_dir(Path::new(REPO).join("man")).expect("man/") {
        let name = page.unwrap().file_name().into_string().unwrap();
        let path = format!("/usr/share/man/man8/{name}");
        assert!(
            files
                .iter()
                .any(|(p, _, _)| *p == path || *p == format!("{path}.gz")),
            "{path} is not in the package:\n{listing}"
        );
    }
    // RHEL's doc directory is /usr/share/doc/check_raw, Debian's rpm adds
    // the version: either will do.
    for example in EXAMPLES {
        let suffix = format!("/examples/{example}");
        assert!(
            files
                .iter()
                .any(|(p, _, _)| p.starts_with("/usr/share/doc/check_raw") && p.ends_with(&suffix)),
            "no {suffix} in the package's doc directory:\n{listing}"
        );
    }
    assert!(
        files
            .iter()
            .any(|(p, _, _)| p.starts_with("/usr/share/licenses/check_raw")),
        "no licence file in the package:\n{listing}"
    );
    for file in PROMETHEUS {
        find(&format!("{PROMETHEUS_DIR}/{file}"));
    }
    find("/usr/lib/tmpfiles.d/check_raw.conf");
    find(SYSUSERS);
    find(&format!("/usr/lib/systemd/system/{UNIT}"));
    assert!(find("/run/check_raw").1.starts_with('d'), "/run/check_raw");
    let scripts = stdout(Command::new("rpm").args(["-qp", "--scripts"]).arg(rpm));
    assert!(
        scripts.contains("useradd -r -g check_raw"),
        "%pre creates the check_raw user:\n{scripts}"
    );
    assert!(
        !scripts.contains("systemctl"),
        "the unit is neither enabled nor started:\n{scripts}"
    );

    let licence = stdout(
        Command::new("rpm")
            .args(["-qp", "--qf", "%{LICENSE}"])
            .arg(rpm),
    );
    assert_eq!(licence, "MIT OR Apache-2.0");

    // The capability, on the binary and on nothing else.
    let caps = stdout(Command::new("rpm").args(["-qp", "--filecaps"]).arg(rpm));
    let with_caps: Vec<(&str, &str)> = caps
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, cap)| !cap.trim().is_empty())
        .collect();
    assert_eq!(
        with_caps,
        [("/usr/lib/check_raw/check_raw", "cap_net_raw=ep")],
        "rpm -qp --filecaps:\n{caps}"
    );
}

// ---- the Debian package ------------------------------------------------------

/// `make deb` with the binary cargo built for this test (`CHECK_RAW_BIN`,
/// so no second release build) into a temporary `DEBDIR`; then the
/// package's files and links as `dpkg-deb -c` lists them and its
/// maintainer scripts: check_raw_serve's name, unit, user and example are
/// in, its unit is neither enabled nor started.
#[test]
fn make_deb_packages_check_raw_serve_its_unit_user_and_example() {
    require!(MAKE, TAR, DPKG_BUILDPACKAGE, DH);
    let tmp = TempDir::new();
    let out_dir = tmp.path().join("deb");
    run(Command::new("make")
        .current_dir(REPO)
        .arg("--no-print-directory")
        .arg("deb")
        .arg(format!("DEBDIR={}", out_dir.display()))
        .arg(format!("CHECK_RAW_BIN={CHECK_RAW}")));
    let debs: Vec<PathBuf> = fs::read_dir(&out_dir)
        .expect("DEBDIR")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "one package: {debs:?}");
    let deb = &debs[0];

    // "-rwxr-xr-x root/root 123 2026-11-25 00:00 ./usr/bin/x -> y"
    let listing = stdout(Command::new("dpkg-deb").arg("-c").arg(deb));
    let entries: Vec<(String, String, String)> = listing
        .lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let perms = (*fields.first()?).to_owned();
            let path = fields.get(5)?.trim_start_matches('.').to_owned();
            let target = match fields.get(6) {
                Some(&"->") => fields.get(7).copied().unwrap_or("").to_owned(),
                _ => String::new(),
            };
            Some((path, perms, target))
        })
        .collect();
    let find = |path: &str| {
        entries
            .iter()
            .find(|(p, _, _)| p == path)
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{listing}"))
    };
    let link = |path: &str| {
        let (_, perms, target) = find(path);
        assert!(perms.starts_with('l'), "{path} is a symbolic link: {perms}");
        resolve(Path::new(path).parent().unwrap(), Path::new(target))
    };

    let beside = format!("/usr/lib/check_raw/{SERVE}");
    assert_eq!(find(&beside).2, "check_raw", "{beside}");
    assert_eq!(link(&format!("/usr/bin/{SERVE}")), Path::new(&beside));
    for name in PLUGINS {
        let beside = format!("/usr/lib/check_raw/{name}");
        assert_eq!(
            link(&format!("/usr/lib/nagios/plugins/{name}")),
            Path::new(&beside)
        );
    }
    assert!(
        !listing.contains(&format!("/plugins/{SERVE}")),
        "{SERVE} is no plugin:\n{listing}"
    );
    // Where bookworm's dh_installsystemd finds it.
    let (_, perms, _) = find(&format!("/lib/systemd/system/{UNIT}"));
    assert_eq!(perms, "-rw-r--r--", "the unit");
    find(SYSUSERS);
    find("/usr/share/man/man8/check_raw_serve.8.gz");
    // Uncompressed, to be copied: dh_compress leaves examples/ alone.
    find("/usr/share/doc/check-raw/examples/serve.toml");
    // Uncompressed too: rule_files may name the rules where they are.
    for file in PROMETHEUS {
        find(&format!("{PROMETHEUS_DIR}/{file}"));
    }
    assert!(
        !listing.contains("./run/"),
        "nothing under /run:\n{listing}"
    );

    let control = tmp.path().join("control");
    run(Command::new("dpkg-deb").arg("-e").arg(deb).arg(&control));
    let postinst = fs::read_to_string(control.join("postinst")).expect("postinst");
    assert!(
        postinst.contains("adduser --system --group"),
        "postinst creates the check_raw user:\n{postinst}"
    );
    let user = postinst.find("adduser --system").unwrap();
    let invoke = postinst
        .find("deb-systemd-invoke")
        .expect("dh_installsystemd's restart on upgrade");
    assert!(
        user < invoke,
        "the user exists before any start:\n{postinst}"
    );
    // --no-enable: enabled again only if it was (an upgrade), and
    // deb-systemd-invoke starts only an enabled unit.
    let code: Vec<&str> = postinst
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for (i, line) in code.iter().enumerate() {
        if line.contains("deb-systemd-helper enable") {
            assert!(
                i > 0 && code[i - 1].ends_with("was-enabled 'check_raw_serve.service'; then"),
                "the unit is enabled only if it was: {line}\n{postinst}"
            );
        }
    }
    let depends = stdout(
        Command::new("dpkg-deb")
            .args(["-f"])
            .arg(deb)
            .arg("Depends"),
    );
    assert!(depends.contains("adduser"), "Depends: {depends}");
}
