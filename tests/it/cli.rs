//! What the binary does as a program, whichever check it runs: the program
//! names (`check_raw_foo` lists the valid ones, the `check_raw tcp` form),
//! usage errors (exit 3, a first line naming the bad argument, nothing
//! sent), `--help` and `--version`, a panic reported UNKNOWN (never a death
//! by signal), and the one-line UNKNOWN without CAP_NET_RAW. Tested through
//! `check_raw_tcp` (module `tcp`) and the HTTP checks (module `http`).
//!
//! Tests that run a check build their own testbed, so a binary that wrongly
//! accepted an argument sends nothing on the host; they skip, with a
//! message, when not run as root. `--help` and `--version` need neither.

use crate::harness::*;

/// Through `check_raw_tcp`.
mod tcp {
    use std::path::Path;

    use super::*;

    const OK: &str = "RAW_TCP OK - ";
    const UNKNOWN: &str = "RAW_TCP UNKNOWN - ";

    /// Usage errors are worded as monitoring-plugins word them.
    const USAGE: &str = "check_raw_tcp: ";

    fn vip_port() -> String {
        format!("{VIP}:{PORT}")
    }

    /// Every rejected argument gives exit 3 and a first line naming it (any of
    /// the given words, case-insensitive): `check_raw_tcp: ...` for a usage
    /// error, a `RAW_TCP UNKNOWN` status line for one found at run time (no
    /// such interface). Run inside the testbed: a binary that wrongly accepted
    /// one must not send frames on the host.
    #[test]
    fn bad_arguments_are_unknown() {
        require!(Need::Testbed);
        let long_iface = "abcdefghijklmnop"; // 16 bytes; IFNAMSIZ allows 15
        let cases: [(&str, Vec<&str>, &[&str]); 11] = [
            ("port 0", vec![IFACE, RS1, VIP, "0"], &["port"]),
            ("port 70000", vec![IFACE, RS1, VIP, "70000"], &["70000"]),
            ("port http", vec![IFACE, RS1, VIP, "http"], &["http"]),
            (
                "long interface",
                vec![long_iface, RS1, VIP, "80"],
                &[long_iface, "iface", "interface"],
            ),
            (
                "no such interface",
                vec!["nosuch0", RS1, VIP, "80"],
                &["nosuch0"], // found at run time: a status line
            ),
            (
                "bad real server",
                vec![IFACE, "300.1.1.1", VIP, "80"],
                &["300.1.1.1"],
            ),
            (
                "bad virtual ip",
                vec![IFACE, RS1, "300.1.1.1", "80"],
                &["300.1.1.1"],
            ),
            (
                "too few",
                vec![IFACE, RS1, VIP],
                &["port", "argument", "usage", "missing"],
            ),
            (
                "too many",
                vec![IFACE, RS1, VIP, "80", "81"],
                &["81", "argument", "usage", "unexpected"],
            ),
            (
                "unknown option",
                vec!["--bogus", IFACE, RS1, VIP, "80"],
                &["--bogus"],
            ),
            (
                "bad timeout",
                vec!["-t", "abc", IFACE, RS1, VIP, "80"],
                &["abc"],
            ),
        ];
        let tb = Testbed::new();
        let bin = check_raw_bin("check_raw_tcp");
        let mut failures = Vec::new();
        for (what, args, names) in &cases {
            let r = tb.run("lb", &bin, args);
            let line = r.status_line().to_lowercase();
            let named = names.iter().any(|n| line.contains(&n.to_lowercase()));
            let prefix = if *what == "no such interface" {
                UNKNOWN
            } else {
                USAGE
            };
            if r.code != Some(3) || !r.status_line().starts_with(prefix) || !named {
                failures.push(format!(
                    "[{what}] expected exit 3, {prefix:?} naming one of {names:?}\n{r}"
                ));
            }
        }
        assert_all_ok(&failures);
    }

    #[test]
    fn unknown_program_name_lists_valid_names() {
        require!(Need::Testbed);
        let tb = Testbed::new();
        let port = PORT.to_string();
        let r = tb.run(
            "lb",
            &check_raw_bin("check_raw_foo"),
            &[IFACE, RS1, VIP, &port],
        );
        assert_eq!(r.code, Some(3), "{r}");
        let line = r.status_line();
        assert!(
            line.starts_with("check_raw: unknown program name")
                && r.stdout.contains("check_raw_tcp"),
            "should list the valid names\n{r}"
        );
    }

    #[test]
    fn subcommand_form_is_ok() {
        require!(Need::Testbed);
        let tb = Testbed::new();
        let port = PORT.to_string();
        let r = tb.run("lb", Path::new(CHECK_RAW), &["tcp", IFACE, RS1, VIP, &port]);
        assert_verdict(&r, 0, OK, &[&vip_port(), RS1]);
    }

    #[test]
    fn help_shows_usage() {
        let r = run_local(&check_raw_bin("check_raw_tcp"), &["--help"]);
        assert!(matches!(r.code, Some(0 | 3)), "{r}");
        assert!(
            r.stdout.contains("SOURCE_IFACE"),
            "usage expected on stdout\n{r}"
        );
    }

    #[test]
    fn version_names_the_program() {
        let r = run_local(&check_raw_bin("check_raw_tcp"), &["--version"]);
        assert!(matches!(r.code, Some(0 | 3)), "{r}");
        assert!(
            r.stdout.lines().any(|l| l.contains("check_raw")),
            "version line expected\n{r}"
        );
    }

    /// A panic (provoked through the self-test variable) ends as UNKNOWN with
    /// the panic's message, exit 3, or 1 under a daemon's protocol: never a
    /// death by signal, which ldirectord would read as success.
    #[test]
    fn a_panic_is_reported_unknown_not_a_crash() {
        require!(Need::Testbed);
        let tb = Testbed::new();
        let bin = check_raw_bin("check_raw_tcp");
        let port = PORT.to_string();
        for (protocol, code) in [("nagios", 3), ("keepalived", 1), ("ldirectord", 1)] {
            let r = tb.run_in(
                "lb",
                &[
                    "env",
                    "CHECK_RAW_SELF_TEST_PANIC=1",
                    path_str(&bin),
                    "--protocol",
                    protocol,
                    IFACE,
                    RS1,
                    VIP,
                    &port,
                ],
            );
            assert_eq!(r.code, Some(code), "{protocol}\n{r}");
            assert_eq!(r.signal, None, "{r}");
            assert!(
                r.status_line()
                    .starts_with("RAW_TCP UNKNOWN - internal error, please report: "),
                "{r}"
            );
            assert!(r.status_line().contains("self-test panic"), "{r}");
            assert!(r.stderr.is_empty(), "nothing on stderr\n{r}");
        }
    }

    /// Without CAP_NET_RAW (an unprivileged user): one UNKNOWN line saying how
    /// to fix it, exit 3, or 1 under keepalived.
    #[test]
    fn without_cap_net_raw_says_how_to_fix_it() {
        require!(Need::Testbed, SETPRIV);
        let tb = Testbed::new();
        let port = PORT.to_string();
        // A copy the unprivileged user can reach wherever the tree is cloned
        // (and without any file capability a packaged binary might carry).
        let dir = TempDir::new();
        let bin = dir.write("check_raw", &std::fs::read(CHECK_RAW).expect("read binary"));
        use std::os::unix::fs::PermissionsExt;
        for path in [dir.path(), bin.as_path()] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        for (protocol, code) in [("nagios", 3), ("keepalived", 1)] {
            let r = tb.run_in(
                "lb",
                &[
                    "setpriv",
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    "--inh-caps=-all",
                    path_str(&bin),
                    "tcp",
                    "--protocol",
                    protocol,
                    IFACE,
                    RS1,
                    VIP,
                    &port,
                ],
            );
            assert_eq!(r.code, Some(code), "{protocol}\n{r}");
            let line = r.status_line();
            assert!(line.starts_with(UNKNOWN), "{r}");
            assert!(line.contains("setcap cap_net_raw+ep"), "{r}");
            assert!(line.contains("run as root"), "{r}");
            assert_eq!(r.stdout.lines().count(), 1, "{r}");
        }
    }
}

/// Through `check_raw_http` and `check_raw_http_get`.
mod http {
    use super::*;
    use crate::harness::http::*;

    /// Every rejected argument gives exit 3 and a first line
    /// `check_raw_http[_get]: ...` naming it (any of the given words,
    /// case-insensitive), before anything is sent: the listener on rs1:80 never
    /// sees a connection. Run in `lb`, so a binary that wrongly accepted an
    /// argument could not send frames on the host.
    #[test]
    fn bad_arguments_are_unknown_and_send_nothing() {
        require!(Need::Testbed);
        let tb = Testbed::new();
        let server = tb.server("rs1", PORT);
        let long_path = format!("/{}", "a".repeat(2999));
        let port = PORT.to_string();
        let target = [IFACE, RS1, VIP, port.as_str(), HOST];
        let http_args = |opts: &[&str], path: &str| -> Vec<String> {
            opts.iter()
                .chain(target.iter())
                .chain([&path])
                .map(|s| s.to_string())
                .collect()
        };
        let get_args = |opts: &[&str], path: &str, md5: &str| -> Vec<String> {
            let mut a = http_args(opts, path);
            a.push(md5.to_owned());
            a
        };
        let cases: Vec<(&str, &str, Vec<String>, &[&str])> = vec![
            (
                "no expectation",
                "check_raw_http",
                http_args(&[], "/health"),
                &["nothing to verify", "expectation"],
            ),
            (
                "-M POST",
                "check_raw_http",
                http_args(&["-M", "POST", "-S", "200"], "/health"),
                &["POST"],
            ),
            (
                "3000-byte PATH",
                "check_raw_http",
                http_args(&["-S", "200"], &long_path),
                &["PATH", "too large", "long"],
            ),
            (
                "3000-byte PATH (http_get)",
                "check_raw_http_get",
                get_args(&[], &long_path, HEALTH_MD5),
                &["PATH", "too large", "long"],
            ),
            (
                "PATH without a leading slash",
                "check_raw_http",
                http_args(&["-S", "200"], "health"),
                &["PATH"],
            ),
            (
                "PATH without a leading slash (http_get)",
                "check_raw_http_get",
                get_args(&[], "health", HEALTH_MD5),
                &["PATH"],
            ),
            (
                "-H without a colon",
                "check_raw_http",
                http_args(&["-H", "NoColon", "-S", "200"], "/health"),
                &["NoColon"],
            ),
            (
                "MD5 too short",
                "check_raw_http_get",
                get_args(&[], "/health", "abc123"),
                &["MD5"],
            ),
            (
                "MD5 not hex",
                "check_raw_http_get",
                get_args(&[], "/health", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"),
                &["MD5"],
            ),
            (
                "-A not an MD5",
                "check_raw_http",
                http_args(&["-A", "abc"], "/health"),
                &["hash", "MD5"],
            ),
            (
                "-S 99",
                "check_raw_http",
                http_args(&["-S", "99"], "/health"),
                &["99"],
            ),
            (
                "bad regex",
                "check_raw_http",
                http_args(&["--regex", "("], "/health"),
                &["regex"],
            ),
            (
                "--invert-regex alone",
                "check_raw_http",
                http_args(&["-S", "200", "--invert-regex"], "/health"),
                &["invert-regex"],
            ),
            (
                "http_get: missing MD5",
                "check_raw_http_get",
                http_args(&[], "/health"),
                &["MD5", "argument", "usage", "missing"],
            ),
        ];
        let mut failures = Vec::new();
        for (what, program, args, names) in &cases {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let r = tb.run("lb", &check_raw_bin(program), &args);
            let prefix = if *program == "check_raw_http" {
                USAGE
            } else {
                GET_USAGE
            };
            let line = r.status_line().to_lowercase();
            let named = names.iter().any(|n| line.contains(&n.to_lowercase()));
            if r.code != Some(3) || !r.status_line().starts_with(prefix) || !named {
                // The 3000-byte path would fill the screen, twice.
                let shown = format!("{r}").replace(&long_path, "/aaa...(3000 bytes)");
                failures.push(format!(
                    "[{what}] expected exit 3, {prefix:?} naming one of {names:?}\n{shown}"
                ));
            }
        }
        assert_eq!(
            server.accepted(),
            0,
            "a rejected command line must send nothing ({server:?})"
        );
        assert_all_ok(&failures);
    }

    #[test]
    fn help_shows_usage() {
        for (program, needle) in [
            ("check_raw_http", "--status-code"),
            ("check_raw_http_get", "MD5"),
        ] {
            let r = run_local(&check_raw_bin(program), &["--help"]);
            assert!(matches!(r.code, Some(0 | 3)), "{r}");
            assert!(
                r.stdout.contains("SOURCE_IFACE") && r.stdout.contains(needle),
                "usage expected on stdout\n{r}"
            );
        }
    }
}
