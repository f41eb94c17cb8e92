//! The front door (argv[0], `check_raw NAME`, `check_raw --help`), help
//! and version texts.

use super::*;

#[test]
fn help_and_version() {
    assert!(matches!(
        parse(argv("check_raw_tcp --help")),
        Ok(Command::Help(Mode::Tcp, Protocol::Nagios))
    ));
    assert!(matches!(
        parse(argv("check_raw_tcp -h eth0")),
        Ok(Command::Help(Mode::Tcp, Protocol::Nagios))
    ));
    assert!(matches!(
        parse(argv("check_raw tcp -V")),
        Ok(Command::Version(Mode::Tcp, Protocol::Nagios))
    ));
    assert!(help(Mode::Tcp).contains("SOURCE_IFACE"));
    assert!(help(Mode::Tcp).contains("WHOLE check"));
    assert!(version(Mode::Tcp).starts_with("check_raw_tcp v"));
}

#[test]
fn program_names() {
    let e = parse(argv(&format!("check_raw_foo {GOOD}"))).unwrap_err();
    assert_eq!(e.mode, None);
    assert!(e.message.contains("check_raw_tcp"), "{}", e.message);
    let e = parse(argv("check_raw")).unwrap_err();
    assert!(
        e.message.contains("tcp, http_get, http, dns or vip"),
        "{}",
        e.message
    );
    assert_eq!(Mode::from_name("check_raw_dns"), Some(Mode::Dns));
    assert_eq!(Mode::from_name("check_raw_vip"), Some(Mode::Vip));
    let e = parse(argv("check_raw bogus")).unwrap_err();
    assert!(e.message.contains("'bogus'"), "{}", e.message);
    assert_eq!(Mode::from_name("check_raw_http_get"), Some(Mode::HttpGet));
    assert_eq!(Mode::from_name("http"), Some(Mode::Http));
    assert_eq!(Mode::from_name("check_raw_vip"), Some(Mode::Vip));
    assert_eq!(Mode::from_name("vip"), Some(Mode::Vip));
}

#[test]
fn the_binary_by_its_own_name_answers_help_and_version() {
    for line in [
        "check_raw --help",
        "check_raw -h",
        "/usr/lib/check_raw/check_raw --help",
    ] {
        assert!(
            matches!(parse(argv(line)), Ok(Command::Overview(Protocol::Nagios))),
            "{line}"
        );
    }
    for line in ["check_raw --version", "check_raw -V"] {
        assert!(
            matches!(parse(argv(line)), Ok(Command::OwnVersion(Protocol::Nagios))),
            "{line}"
        );
    }
    // Help and version exit UNKNOWN, as monitoring-plugins' do (main
    // prints them with the protocol's UNKNOWN code): 3 under Nagios, 1
    // under the daemons'.
    assert_eq!(Protocol::Nagios.exit_code(State::Unknown), 3);
    assert!(matches!(
        parse(argv("check_raw --help --protocol keepalived")),
        Ok(Command::Overview(Protocol::Keepalived))
    ));
    assert!(own_version().starts_with("check_raw v"));
    // A check named first still gets its own help.
    assert!(matches!(
        parse(argv("check_raw tcp --help")),
        Ok(Command::Help(Mode::Tcp, _))
    ));
}

#[test]
fn the_overview_names_every_check_in_one_line_each() {
    let text = overview();
    for mode in [Mode::Tcp, Mode::HttpGet, Mode::Http, Mode::Dns, Mode::Vip] {
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.trim_start().starts_with(&format!("{} ", mode.program())))
            .collect();
        assert_eq!(lines.len(), 1, "{}: {lines:?}", mode.program());
    }
    assert!(text.starts_with(&own_version()), "{text}");
    assert!(text.contains("check_raw NAME [options] ARGS"), "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
}

#[test]
fn bare_check_raw_is_a_usage_error_with_the_overview() {
    let e = parse(argv("check_raw")).unwrap_err();
    assert_eq!((e.mode, e.protocol), (None, Protocol::Nagios));
    let text = usage_error_text(&e);
    assert!(text.starts_with("check_raw: "), "{text}");
    assert!(text.contains(&overview()), "{text}");
    // An unknown name gets the overview too.
    let e = parse(argv("check_raw bogus")).unwrap_err();
    assert!(usage_error_text(&e).contains("check_raw_vip "));
    // A check's own usage error keeps its short usage.
    let e = parse(argv("check_raw_tcp eth0")).unwrap_err();
    let text = usage_error_text(&e);
    assert!(text.starts_with("check_raw_tcp: missing"), "{text}");
    assert!(text.contains("Usage: check_raw_tcp"), "{text}");
}

/// Every option a help text names, as typed there: `--long` and `-x`.
fn options_named(help: &str) -> Vec<String> {
    let mut found = Vec::new();
    let chars: Vec<char> = help.chars().collect();
    for at in 0..chars.len() {
        let before = if at == 0 { ' ' } else { chars[at - 1] };
        if chars[at] != '-' || !matches!(before, ' ' | '\n' | '(' | '/' | ',') {
            continue;
        }
        let word: String = chars[at..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == '-')
            .collect();
        let option = if word.starts_with("--") && word.len() > 2 {
            word
        } else if word.len() >= 2 && chars[at + 1].is_ascii_alphanumeric() {
            // -vvv is -v; -t is -t.
            word[..2].to_string()
        } else {
            continue;
        };
        if !found.contains(&option) {
            found.push(option);
        }
    }
    found
}

/// A value each option accepts, so that parsing gets past it.
fn sample_args(option: &str) -> Vec<&'static str> {
    match option {
        "-r" | "--role-file" => vec![option_str(option), "auto"],
        "-t" | "--timeout" => vec![option_str(option), "2000"],
        "--source" => vec!["--source", "198.51.100.1"],
        "--source-port" => vec!["--source-port", "40000"],
        "--warning" | "--critical" => vec![option_str(option), "0.5"],
        "--protocol" => vec!["--protocol", "keepalived"],
        "--weight" => vec!["--protocol", "keepalived-dynamic", "--weight", "5"],
        "--interface" => vec!["--interface", "eth1"],
        "--vip" => vec!["--vip", "203.0.113.10"],
        "--url" => vec!["--url", "/health"],
        "--host" => vec!["--host", "www.example.org"],
        "--md5" => vec!["--md5", "0cc175b9c0f1b6a831c399e269772661"],
        "-l" | "--query" => vec![option_str(option), "www.example.org"],
        "-m" | "--max-bytes" => vec![option_str(option), "1000"],
        "-M" | "--method" => vec![option_str(option), "HEAD"],
        "-H" | "--header" => vec![option_str(option), "X-A: b"],
        "-S" | "--status-code" => vec![option_str(option), "200"],
        "-R" | "--response-header" => vec![option_str(option), "Server:"],
        "-A" | "--hash" => vec![option_str(option), "0cc175b9c0f1b6a831c399e269772661"],
        "-B" | "--body" | "-s" | "--string" => vec![option_str(option), "ok"],
        "--regex" => vec!["--regex", "o+k"],
        "--invert-regex" => vec!["--regex", "x", "--invert-regex"],
        "--sni" => vec!["--ssl", "--sni", "www.example.org"],
        "--no-sni" | "--verify" => vec!["--ssl", option_str(option)],
        "--ca-file" => vec!["--ssl", "--ca-file", "/etc/hostname"],
        "--certificate-days" => vec!["--ssl", "--certificate-days", "30,10"],
        "--fingerprint" => vec![
            "--ssl",
            "--fingerprint",
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ],
        "-T" | "--type" => vec![option_str(option), "AAAA"],
        "--rcode" => vec!["--rcode", "NOERROR,NXDOMAIN"],
        "-a" | "--expect" => vec![option_str(option), "192.0.2.1"],
        "--expect-count" => vec!["--expect-count", "1"],
        "-p" | "--port" => vec![option_str(option), "80"],
        "--arp-leak" => vec!["--arp-leak", "critical"],
        _ => vec![option_str(option)],
    }
}

/// The `&'static str` of a known option text.
fn option_str(option: &str) -> &'static str {
    Box::leak(option.to_string().into_boxed_str())
}

/// Each check's help names only options that check accepts: none of
/// another check's (check_raw_tcp once carried DNS's `-l/--query`).
#[test]
fn each_help_names_only_its_own_options() {
    // Names, so that -4 and -6 both find an address.
    let ldirectord = "rs1.example 80 rs1.example 80";
    let cases = [
        // Options in the ldirectord form need --protocol ldirectord.
        (Mode::Tcp, ldirectord, "--protocol ldirectord", "--protocol"),
        (
            Mode::HttpGet,
            ldirectord,
            "--protocol ldirectord",
            "--protocol",
        ),
        // check_raw_http needs an expectation, the ldirectord DNS a name.
        (
            Mode::Http,
            ldirectord,
            "--protocol ldirectord -S 200",
            "--protocol -S --status-code",
        ),
        (
            Mode::Dns,
            ldirectord,
            "--protocol ldirectord --query www.example.org",
            "--protocol -l --query",
        ),
        (Mode::Vip, "eth0 rs1.example rs1.example", "", ""),
    ];
    // --weight goes with another --protocol, so in the director form.
    let director = |mode: Mode| match mode {
        Mode::Tcp => "eth0 rs1.example rs1.example 80",
        Mode::HttpGet => "eth0 rs1.example rs1.example 80 www / 0cc175b9c0f1b6a831c399e269772661",
        Mode::Http => "-S 200 eth0 rs1.example rs1.example 80 www /",
        Mode::Dns => "eth0 rs1.example rs1.example 53 www.example.org",
        Mode::Vip => "eth0 rs1.example rs1.example",
    };
    for (mode, positional, base, covered) in cases {
        let text = help(mode);
        let named = options_named(&text);
        assert!(named.len() > 10, "{}: {named:?}", mode.program());
        for option in named {
            let mut line = vec![mode.program()];
            if option == "--weight" {
                line.extend(director(mode).split_whitespace());
            } else {
                line.extend(base.split_whitespace());
                line.extend(positional.split_whitespace());
            }
            // The base already proves what it carries. After the
            // positionals: `--ssl 203.0.113.10` would read as a version.
            if !covered.split_whitespace().any(|b| b == option) {
                line.extend(sample_args(&option));
            }
            // check_raw_vip has a source port only for its SYN probe.
            if mode == Mode::Vip && option == "--source-port" {
                line.extend(["--port", "80"]);
            }
            let args: Vec<OsString> = line.iter().map(OsString::from).collect();
            let result = parse_with(args, &|n, _| fake_resolver(n));
            // Reading the file proves the check took the option; no PEM
            // file is assumed to exist on the test machine.
            let file_read = |e: &UsageError| e.message.starts_with("cannot use --ca-file");
            assert!(
                result.as_ref().map_or_else(file_read, |_| true),
                "{} --help names {option}, which it refuses: {:?}",
                mode.program(),
                result.err().map(|e| e.message)
            );
        }
    }
}

#[test]
fn vip_help_says_what_the_role_defaults_to() {
    let text = help(Mode::Vip);
    assert!(!text.contains("Default: MASTER"), "{text}");
    assert!(text.contains("the default without -r"), "{text}");
    // The service checks do default to MASTER without -r.
    for mode in [Mode::Tcp, Mode::HttpGet, Mode::Http, Mode::Dns] {
        assert!(help(mode).contains("Default: MASTER"), "{}", mode.program());
    }
    assert_eq!(
        crate::role::decide(
            &crate::role::RoleSource::Default,
            "203.0.113.10".parse().unwrap(),
            |_| false
        )
        .unwrap()
        .role,
        crate::role::Role::Master
    );
}
