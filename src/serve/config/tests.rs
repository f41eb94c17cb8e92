//! Unit tests of the configuration: a good file, and every error with its
//! file, line and key. No root, no network: names resolve by a fake.

use super::*;
use std::net::IpAddr;

const FILE: &str = "/etc/check_raw/serve.toml";

/// Names used here resolve without DNS.
fn fake(name: &str, _: Duration) -> std::io::Result<Vec<IpAddr>> {
    match name {
        "rs1.example" => Ok(vec!["198.51.100.11".parse().unwrap()]),
        _ => Err(std::io::Error::other("no such name")),
    }
}

fn parse(source: &str) -> Result<ServeConfig, Vec<ConfigError>> {
    ServeConfig::parse(Path::new(FILE), source, &fake)
}

fn good(source: &str) -> ServeConfig {
    match parse(source) {
        Ok(config) => config,
        Err(e) => panic!("{}", shown(&e)),
    }
}

/// The errors as printed, one per line.
fn errors(source: &str) -> Vec<String> {
    match parse(source) {
        Ok(c) => panic!("expected errors, parsed {} checks", c.checks.len()),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

fn shown(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The one error of `source`, which must start with `prefix`.
fn one_error(source: &str, prefix: &str) -> String {
    let all = errors(source);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(all[0].starts_with(prefix), "{}\nwanted {prefix}", all[0]);
    all[0].clone()
}

const TCP: &str = "check_raw_tcp eth0 198.51.100.11 203.0.113.10 80";

/// One check with `extra` lines in its table (line 1 `[[check]]`).
fn with(extra: &str) -> String {
    format!("[[check]]\nname = \"a\"\ncommand = \"{TCP}\"\n{extra}\n")
}

const GOOD: &str = r#"interval = "2s"
rise = 2
fall = 3
state_dir = "/run/check_raw"

[[check]]
name = "web-rs1"
command = "check_raw_http -S 200 -t 800 eth0 198.51.100.11 203.0.113.10 80 www.example.com /health"
interval = "1s"

[[check]]
name = "tcp.rs1_2"
command = "/usr/lib/check_raw/check_raw_tcp -t 300 eth0 rs1.example 203.0.113.10 443 # the TLS port"
rise = 1
fall = 5

[[check]]
name = "dns-rs1"
command = 'check_raw dns eth0 "2001:db8::11" "2001:db8::53" 53 www.example.com'
interval = "1m"
"#;

#[test]
fn a_good_file_parses_with_its_defaults_and_overrides() {
    let config = good(GOOD);
    assert_eq!(config.path, Path::new(FILE));
    assert_eq!(config.interval, Duration::from_secs(2));
    assert_eq!((config.rise, config.fall), (2, 3));
    assert_eq!(config.state_dir, Path::new("/run/check_raw"));
    assert_eq!(config.state_dir_line, 4);
    let names: Vec<&str> = config.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["web-rs1", "tcp.rs1_2", "dns-rs1"]);
    let [web, tcp, dns] = &config.checks[..] else {
        panic!()
    };
    assert_eq!((web.line, tcp.line, dns.line), (6, 11, 17));
    assert_eq!(web.interval, Duration::from_secs(1));
    assert_eq!((web.rise, web.fall), (2, 3));
    assert!(matches!(web.config, Config::Http(Mode::Http, _)));
    assert_eq!(web.config.common().timeout, Duration::from_millis(800));
    assert!(web.command.starts_with("check_raw_http -S 200"));
    // A path as argv[0], a name resolved by the lookup given, a comment.
    assert!(matches!(tcp.config, Config::Tcp(_)));
    assert_eq!(tcp.interval, Duration::from_secs(2));
    assert_eq!((tcp.rise, tcp.fall), (1, 5));
    let target = &tcp.config.common().target;
    assert_eq!(
        target.real_server,
        "198.51.100.11".parse::<IpAddr>().unwrap()
    );
    assert_eq!(target.port, 443);
    // `check_raw NAME`, quotes.
    assert!(matches!(dns.config, Config::Dns(_)));
    assert_eq!(dns.interval, Duration::from_secs(60));
}

#[test]
fn the_top_level_keys_have_defaults() {
    let config = good(&with(""));
    assert_eq!(config.interval, DEFAULT_INTERVAL);
    assert_eq!((config.rise, config.fall), (DEFAULT_RISE, DEFAULT_FALL));
    assert_eq!(config.state_dir, Path::new(DEFAULT_STATE_DIR));
    assert_eq!(config.state_dir_line, 0);
    assert_eq!(config.checks[0].line, 1);
}

#[test]
fn the_summary_has_the_counts_then_a_line_per_check() {
    let text = summary(&good(GOOD));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "/etc/check_raw/serve.toml: 3 checks (1 dns, 1 http, 1 tcp), state files in /run/check_raw"
    );
    assert_eq!(lines.len(), 4);
    assert!(lines[1].starts_with("web-rs1    http  "), "{}", lines[1]);
    assert!(
        lines[1].ends_with("203.0.113.10:80 via 198.51.100.11 on eth0, every 1s, rise 2 fall 3")
    );
    assert!(lines[2].contains(" tcp "), "{}", lines[2]);
    assert!(lines[2].ends_with("every 2s, rise 1 fall 5"));
    assert!(lines[3].contains("[2001:db8::53]:53 via 2001:db8::11"));
    assert!(lines[3].ends_with("every 1m, rise 2 fall 3"));
}

#[test]
fn an_error_prints_as_file_line_key_message() {
    let e = ConfigError {
        path: FILE.into(),
        line: 7,
        key: "check.a.rise".into(),
        message: "must be\nfrom 1 to 100".into(),
    };
    assert_eq!(
        e.to_string(),
        format!("{FILE}:7: check.a.rise: must be from 1 to 100")
    );
    let e = ConfigError {
        line: 0,
        key: String::new(),
        ..e
    };
    assert_eq!(e.to_string(), format!("{FILE}: must be from 1 to 100"));
}

#[test]
fn broken_toml_names_its_line_and_stops_there() {
    // Stops there: the unknown key and the missing [[check]] go unsaid.
    let all = errors("rise = 2\nfall = = 3\nbogus = 1\n");
    assert!(!all.is_empty());
    for e in &all {
        assert!(e.starts_with(&format!("{FILE}:2: invalid TOML: ")), "{e}");
    }
    one_error("rise = 2\nrise = 3\n", &format!("{FILE}:2: invalid TOML: "));
}

#[test]
fn unknown_keys_are_refused_at_top_level_and_in_a_check() {
    // `listen_on` is no key (`listen` is). A `[[module]]` is known
    // (serve::modules), this one lacks its command.
    let all = errors(&format!(
        "listen_on = \":9101\"\n{}\n[[module]]\nname = \"m\"\n",
        with("timeout = \"1s\"")
    ));
    assert_eq!(all.len(), 3, "{all:#?}");
    assert!(
        all[0].starts_with(&format!("{FILE}:1: listen_on: unknown key")),
        "{}",
        all[0]
    );
    assert!(all[1].starts_with(&format!("{FILE}:5: check.a.timeout: unknown key")));
    assert!(all[2].starts_with(&format!("{FILE}:7: module.m.command: missing")));
}

#[test]
fn a_duplicate_name_points_at_the_first() {
    let source = format!("{}{}", with(""), with(""));
    one_error(
        &source,
        &format!("{FILE}:6: check.a.name: duplicate name \"a\" (first at line 1)"),
    );
    let inline = format!(
        "check = [{{ name = \"a\", command = \"{TCP}\" }}, {{ name = \"a\", command = \"{TCP}\" }}]"
    );
    one_error(&inline, &format!("{FILE}:1: check.a.name: duplicate name"));
}

#[test]
fn a_bad_name_is_refused() {
    let check = |name: &str| format!("[[check]]\nname = {name}\ncommand = \"{TCP}\"\n");
    one_error(
        &check("\"web rs1\""),
        &format!("{FILE}:2: check[1].name: \"web rs1\" has \" \""),
    );
    one_error(
        &check("\"a/b\""),
        &format!("{FILE}:2: check[1].name: \"a/b\" has \"/\""),
    );
    one_error(
        &check("\"..\""),
        &format!("{FILE}:2: check[1].name: \"..\" is no file name"),
    );
    one_error(&check("\"\""), &format!("{FILE}:2: check[1].name: empty"));
    one_error(
        &check(&format!("\"{}\"", "x".repeat(65))),
        &format!("{FILE}:2: check[1].name: \""),
    );
    one_error(
        &check("3"),
        &format!("{FILE}:2: check[1].name: must be a string, not integer"),
    );
    let missing = format!("[[check]]\ncommand = \"{TCP}\"\n");
    one_error(&missing, &format!("{FILE}:1: check[1].name: missing"));
    assert!(valid_name(&"x".repeat(64)).is_ok());
    assert!(valid_name("A-z_0.9").is_ok());
}

#[test]
fn durations_take_ms_s_and_m() {
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
    assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
    for bad in [
        "2",
        "1.5s",
        "2 s",
        "s",
        "-1s",
        "2h",
        "1000000000ms",
        "",
        "2S",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
    assert_eq!(show(Duration::from_millis(1500)), "1500ms");
    assert_eq!(show(Duration::from_secs(120)), "2m");
    assert_eq!(show(Duration::from_secs(90)), "90s");
}

#[test]
fn a_bad_interval_is_refused_with_its_key() {
    let top = |v: &str| format!("interval = {v}\n{}", with(""));
    one_error(
        &top("\"1.5s\""),
        &format!("{FILE}:1: interval: invalid duration \"1.5s\""),
    );
    one_error(
        &top("2"),
        &format!("{FILE}:1: interval: must be a string with its unit"),
    );
    one_error(
        &top("\"50ms\""),
        &format!("{FILE}:1: interval: 50ms is below 100ms"),
    );
    one_error(
        &top("\"61m\""),
        &format!("{FILE}:1: interval: 61m is above 60m"),
    );
    good(&top("\"100ms\"").replace(TCP, &format!("{TCP} -t 50")));
    good(&top("\"1h\"").replace("1h", "60m"));
    one_error(
        &with("interval = \"5x\""),
        &format!("{FILE}:4: check.a.interval: invalid duration"),
    );
}

#[test]
fn rise_and_fall_are_from_1_to_100() {
    one_error(
        &format!("rise = 0\n{}", with("")),
        &format!("{FILE}:1: rise: must be from 1 to 100, not 0"),
    );
    one_error(
        &format!("fall = 101\n{}", with("")),
        &format!("{FILE}:1: fall: must be from 1 to 100"),
    );
    one_error(
        &with("rise = \"2\""),
        &format!("{FILE}:4: check.a.rise: must be a whole number, not string"),
    );
    one_error(
        &with("fall = -1"),
        &format!("{FILE}:4: check.a.fall: must be from 1 to 100"),
    );
    let config = good(&with("rise = 100\nfall = 1"));
    assert_eq!((config.checks[0].rise, config.checks[0].fall), (100, 1));
}

/// One check whose command is `command` (TOML literal string).
fn command(command: &str) -> String {
    format!("interval = \"5s\"\n[[check]]\nname = \"web\"\ncommand = '{command}'\n")
}

#[test]
fn a_bad_command_gets_the_plugins_own_message_naming_the_check() {
    one_error(
        &command("check_raw_tcp eth0 198.51.100.11 203.0.113.10 80x"),
        &format!("{FILE}:4: check.web.command: check_raw_tcp: invalid PORT '80x'"),
    );
    one_error(
        &command("check_tcp -H 10.0.0.1"),
        &format!("{FILE}:4: check.web.command: check_raw: unknown program name 'check_tcp'"),
    );
    one_error(
        &command("check_raw_tcp \"eth0"),
        &format!("{FILE}:4: check.web.command: does not split"),
    );
    one_error(
        &command("  "),
        &format!("{FILE}:4: check.web.command: empty"),
    );
    one_error(&command(""), &format!("{FILE}:4: check.web.command: empty"));
    // A name that does not resolve is the plugin's message too.
    one_error(
        &command("check_raw_tcp eth0 nowhere.example 203.0.113.10 80"),
        &format!("{FILE}:4: check.web.command: check_raw_tcp: "),
    );
    let missing = "[[check]]\nname = \"web\"\n";
    one_error(missing, &format!("{FILE}:1: check.web.command: missing"));
    one_error(
        "[[check]]\nname = \"web\"\ncommand = 5\n",
        &format!("{FILE}:3: check.web.command: must be a string"),
    );
}

#[test]
fn help_and_version_are_no_checks() {
    one_error(
        &command("check_raw_tcp --help"),
        &format!("{FILE}:4: check.web.command: check_raw_tcp: --help is not a check"),
    );
    one_error(
        &command("check_raw_http -V"),
        &format!("{FILE}:4: check.web.command: check_raw_http: --version is not a check"),
    );
    one_error(
        &command("check_raw --help"),
        &format!("{FILE}:4: check.web.command: check_raw: --help is not a check"),
    );
}

#[test]
fn check_raw_serve_is_no_check_of_its_own() {
    for own in [
        "check_raw_serve --once",
        "/usr/bin/check_raw_serve",
        "check_raw serve --check",
    ] {
        one_error(
            &command(own),
            &format!("{FILE}:4: check.web.command: check_raw_serve cannot be a check"),
        );
    }
}

#[test]
fn the_timeout_must_be_below_the_interval() {
    let at = |s: &str| format!("{FILE}:4: check.web.command: -t {s}");
    one_error(
        &command(&format!("{TCP} -t 5000")),
        &at("5000 ms is not below the check's interval 5s"),
    );
    let source = with("interval = \"1s\"");
    one_error(&source, &format!("{FILE}:3: check.a.command: -t 1000 ms (the default) is not below the check's interval 1s"));
    good(&command(&format!("{TCP} -t 4999")));
}

#[test]
fn state_dir_must_be_an_absolute_path() {
    let top = |v: &str| format!("state_dir = {v}\n{}", with(""));
    one_error(
        &top("\"run/check_raw\""),
        &format!("{FILE}:1: state_dir: \"run/check_raw\" is not an absolute path"),
    );
    one_error(
        &top("[]"),
        &format!("{FILE}:1: state_dir: must be a string, not array"),
    );
    // keepalived.conf cannot quote a path with a space or '#'.
    one_error(
        &top("\"/run/check raw\""),
        &format!(
            "{FILE}:1: state_dir: /run/check raw: keepalived.conf cannot hold ' ' in a file name"
        ),
    );
}

#[test]
fn a_check_gives_keepalived_its_target() {
    let cfg = good(&with(""));
    let t = cfg.checks[0].keepalived_target(Path::new("/run/check_raw"));
    assert_eq!(t.name, cfg.checks[0].name);
    assert_eq!(t.state_file, Path::new("/run/check_raw").join(&t.name));
    assert_eq!(t.port, Some(cfg.checks[0].config.common().target.port));
}

#[test]
fn no_check_or_a_check_that_is_no_table_is_refused() {
    one_error("rise = 2\n", &format!("{FILE}: check: no [[check]]"));
    one_error(
        "check = 1\n",
        &format!("{FILE}:1: check: must be [[check]] tables"),
    );
    one_error("check = []\n", &format!("{FILE}:1: check: no [[check]]"));
    one_error(
        "check = [1]\n",
        &format!("{FILE}:1: check: must be [[check]] tables"),
    );
}

#[test]
fn every_error_is_collected_in_file_order() {
    let source = format!(
        "rise = 0\nbogus = 1\n{}[[check]]\nname = \"b c\"\ncommand = 'check_raw_tcp eth0'\nfall = 0\n",
        with("interval = \"9\"")
    );
    let all = errors(&source);
    let lines: Vec<&str> = all.iter().map(|e| e.split(": ").next().unwrap()).collect();
    let want: Vec<String> = [1, 2, 6, 8, 9, 10]
        .iter()
        .map(|n| format!("{FILE}:{n}"))
        .collect();
    assert_eq!(lines, want, "{all:#?}");
    assert!(
        all[4].contains("check[2].command: check_raw_tcp: "),
        "{}",
        all[4]
    );
}

/// A fresh directory under the temporary one, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("check_raw-serveconf-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn host_errors(dir: &Path, iface: &str) -> Vec<String> {
    let source = format!(
        "state_dir = \"{}\"\n{}",
        dir.display(),
        with("").replace("eth0", iface)
    );
    good(&source)
        .check_host()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_host_has_the_interface_and_a_writable_state_dir() {
    let dir = TempDir::new("ok");
    assert_eq!(host_errors(&dir.0, "lo"), Vec::<String>::new());
    // The probe file is gone again.
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
    let e = host_errors(&dir.0, "nosuch0");
    assert_eq!(
        e,
        [format!(
            "{FILE}:2: check.a.command: interface 'nosuch0' does not exist here"
        )]
    );
}

#[test]
fn a_state_dir_that_cannot_be_written_is_named() {
    let dir = TempDir::new("bad");
    let missing = dir.0.join("missing");
    let e = host_errors(&missing, "lo");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with(&format!(
        "{FILE}:1: state_dir: {}: cannot be used",
        missing.display()
    )));
    let file = dir.0.join("file");
    std::fs::write(&file, "").unwrap();
    let e = host_errors(&file, "lo");
    assert!(e[0].ends_with("file: is not a directory"), "{e:?}");
    // Even root cannot create files in /proc.
    let e = host_errors(Path::new("/proc"), "lo");
    assert!(
        e[0].starts_with(&format!("{FILE}:1: state_dir: /proc: cannot create files")),
        "{e:?}"
    );
}

#[test]
fn load_reads_the_file_or_says_why_not() {
    let dir = TempDir::new("load");
    let path = dir.0.join("serve.toml");
    std::fs::write(&path, GOOD).unwrap();
    let config = ServeConfig::load(&path, &fake).unwrap();
    assert_eq!(config.checks.len(), 3);
    assert_eq!(config.path, path);
    let e = ServeConfig::load(&dir.0.join("none.toml"), &fake).unwrap_err();
    assert!(
        e[0].to_string().contains("none.toml: cannot read: "),
        "{}",
        e[0]
    );
    std::fs::write(&path, b"rise = \xff\n").unwrap();
    let e = ServeConfig::load(&path, &fake).unwrap_err();
    assert!(
        e[0].to_string().ends_with("serve.toml: not UTF-8"),
        "{}",
        e[0]
    );
}

#[test]
fn listen_is_an_address_and_port_or_nothing() {
    let c = good(&format!("listen = \"127.0.0.1:10117\"\n{}", with("")));
    assert_eq!(c.listen, Some("127.0.0.1:10117".parse().unwrap()));
    assert_eq!(c.listen_line, 1);
    let c = good(&format!("listen = \"[::1]:10117\"\n{}", with("")));
    assert_eq!(c.listen, Some("[::1]:10117".parse().unwrap()));
    assert_eq!(good(&format!("listen = \"\"\n{}", with(""))).listen, None);
    assert_eq!(good(&with("")).listen, None);
    one_error(
        &format!("rise = 2\nlisten = \"localhost:10117\"\n{}", with("")),
        &format!("{FILE}:2: listen: \"localhost:10117\" is not ADDRESS:PORT"),
    );
    one_error(
        &format!("listen = 10117\n{}", with("")),
        &format!("{FILE}:1: listen: must be a string"),
    );
    one_error(
        &format!("listen = \"127.0.0.1:0\"\n{}", with("")),
        &format!("{FILE}:1: listen: port 0"),
    );
}

#[test]
fn a_busy_listen_port_is_a_host_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = std::env::temp_dir();
    let c = good(&format!(
        "listen = \"{addr}\"\nstate_dir = \"{}\"\n{}",
        dir.display(),
        with("").replace("eth0", "lo")
    ));
    let errors: Vec<String> = c.check_host().iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(&format!("{FILE}:1: listen: cannot listen on {addr}: ")),
        "{}",
        errors[0]
    );
    drop(taken);
    assert!(c.check_host().is_empty());
}
