//! Every example command line in README.md and in the man pages' EXAMPLES
//! sections goes through check_raw's own parser (`cli::parse_with`) and
//! must not be refused as a usage error: an example a user copies must at
//! least be accepted. The README must also show one example per check and
//! one over TLS.
//!
//! No root, no network, no namespace: host names are answered by a fake
//! lookup, and a `--ca-file` an example names is replaced by a CA made
//! here (the parser reads it). Whether the testbed gives the verdict an
//! example shows is left to the integration tests.
//!
//! What counts as an example: in README.md, a line of a code block
//! (fenced, or indented four spaces) that starts with a check's name
//! (`$ ` prompt allowed); in a man page, a line of an `.EX`/`.nf` block or
//! a `.B`/`.BR` line of EXAMPLES, roff escapes undone. Continued lines
//! (`\` at the end) are joined; keepalived's `misc_path "..."` is read as
//! the command it quotes; a wrapper's `exec ... "$@"` gets the four
//! arguments ldirectord passes. Lines with other `$` macros (Nagios
//! `$ARG1$`), synopses (`[options] SOURCE_IFACE ...`) and a `.B` name
//! alone are not commands and are skipped.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use check_raw::cli::{self, Mode};

/// The names a command may start with (basename of its first word).
const NAMES: [&str; 6] = [
    "check_raw",
    "check_raw_tcp",
    "check_raw_http_get",
    "check_raw_http",
    "check_raw_dns",
    "check_raw_vip",
];

/// What ldirectord appends to a wrapper's `"$@"`: VIP VPORT RIP RPORT.
const LDIRECTORD_ARGS: [&str; 4] = ["203.0.113.10", "80", "198.51.100.11", "80"];

/// Examples known not to parse, each with why: the test fails while one
/// is listed here and parses (then delete its line), so the list cannot
/// outlive the fix.
const KNOWN_REFUSED: &[(&str, &str)] = &[];

/// One example: where it was found, and its argv (program name first).
#[derive(Debug)]
struct Example {
    place: String,
    line: String,
    argv: Vec<String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_example_parses() {
    let ca = ScratchCa::new();
    let mut examples = markdown_examples(&root().join("README.md"));
    let readme_count = examples.len();
    let mut man_pages: Vec<PathBuf> = std::fs::read_dir(root().join("man"))
        .expect("man/")
        .map(|e| e.expect("man/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "8"))
        .collect();
    man_pages.sort();
    for page in &man_pages {
        examples.extend(man_examples(page));
    }
    assert!(
        readme_count >= 6,
        "only {readme_count} examples found in README.md: is the extraction broken?"
    );
    assert!(
        examples.len() > readme_count,
        "no example found in man/*.8: is the extraction broken?"
    );

    let mut refused = Vec::new();
    let mut fixed = Vec::new();
    for example in &examples {
        let result = parse(&example.argv, &ca.path);
        let known = KNOWN_REFUSED.iter().find(|(line, _)| *line == example.line);
        match (result, known) {
            (Ok(()), None) | (Err(_), Some(_)) => {}
            (Ok(()), Some(_)) => fixed.push(format!("{}: {}", example.place, example.line)),
            (Err(message), None) => refused.push(format!(
                "{}: {}\n    refused: {message}",
                example.place, example.line
            )),
        }
    }
    assert!(
        fixed.is_empty(),
        "these examples parse now: delete them from KNOWN_REFUSED\n{}",
        fixed.join("\n")
    );
    assert!(
        refused.is_empty(),
        "{} of {} examples are refused by the parser:\n{}",
        refused.len(),
        examples.len(),
        refused.join("\n")
    );
}

/// A user reading the README finds each check, and HTTPS, shown once.
#[test]
fn readme_shows_every_check_and_tls() {
    let examples = markdown_examples(&root().join("README.md"));
    let mode = |e: &Example| {
        let name = cli::program_name(&OsString::from(&e.argv[0]));
        match name.as_str() {
            "check_raw" => e.argv.get(1).and_then(|sub| Mode::from_name(sub)),
            _ => Mode::from_name(&name),
        }
    };
    for wanted in [Mode::Tcp, Mode::HttpGet, Mode::Http, Mode::Dns, Mode::Vip] {
        assert!(
            examples.iter().any(|e| mode(e) == Some(wanted)),
            "README.md has no example of {}",
            wanted.program()
        );
    }
    assert!(
        examples
            .iter()
            .any(|e| e.argv.iter().any(|a| a.starts_with("--ssl"))),
        "README.md has no --ssl example"
    );
}

/// The extraction itself: roff escapes, continuations, quotes, comments,
/// misc_path and a wrapper's "$@".
#[test]
fn extraction_reads_what_a_shell_would() {
    let page = [
        ".SH EXAMPLES",
        ".EX",
        "# a comment",
        "check_raw_http \\-S 200 \\-R \\(aqContent\\-Type: text/plain\\(aq \\e",
        "    eth0 198.51.100.11 203.0.113.10 80 www.example.org /health   # why",
        "    misc_path \"/usr/lib/check_raw/check_raw_tcp \\-\\-protocol keepalived eth0 a b 80\"",
        "exec /usr/lib/check_raw/check_raw_tcp \\-t 2000 \"$@\"",
        "    command_line    $USER1$/check_raw_tcp $ARG1$",
        "check_raw_http\\-ldirectord 203.0.113.10 80 198.51.100.11 80",
        ".EE",
        ".SH \"SEE ALSO\"",
        ".EX",
        "check_raw_tcp not an example",
        ".EE",
    ]
    .join("\n");
    let argvs: Vec<Vec<String>> = roff_examples(&page, "x.8")
        .into_iter()
        .map(|e| e.argv)
        .collect();
    let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    assert_eq!(
        argvs,
        vec![
            vec![
                "check_raw_http",
                "-S",
                "200",
                "-R",
                "Content-Type: text/plain",
                "eth0",
                "198.51.100.11",
                "203.0.113.10",
                "80",
                "www.example.org",
                "/health",
            ]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>(),
            words("/usr/lib/check_raw/check_raw_tcp --protocol keepalived eth0 a b 80"),
            words("/usr/lib/check_raw/check_raw_tcp -t 2000 203.0.113.10 80 198.51.100.11 80"),
        ]
    );
    let md = "text\n\n```sh\n$ check_raw_vip -t 500 eth0 a b\nRAW_VIP OK - x\n```\n\n    check_raw dns x\n";
    let argvs: Vec<Vec<String>> = markdown_lines(md, "x.md")
        .into_iter()
        .map(|e| e.argv)
        .collect();
    assert_eq!(
        argvs,
        vec![
            words("check_raw_vip -t 500 eth0 a b"),
            words("check_raw dns x")
        ]
    );
}

/// `Ok` when the parser accepts the argv (a check, help or version).
fn parse(argv: &[String], ca_file: &Path) -> Result<(), String> {
    let mut argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
    // The parser reads a CA file: the example's path is the operator's.
    for i in 0..argv.len() {
        if argv[i] == "--ca-file" && i + 1 < argv.len() {
            argv[i + 1] = ca_file.into();
        } else if argv[i].to_string_lossy().starts_with("--ca-file=") {
            let mut arg = OsString::from("--ca-file=");
            arg.push(ca_file);
            argv[i] = arg;
        }
    }
    let lookup = |name: &str, _: Duration| -> std::io::Result<Vec<IpAddr>> {
        let _ = name;
        Ok(vec![
            "192.0.2.1".parse().expect("v4"),
            "2001:db8::1".parse().expect("v6"),
        ])
    };
    cli::parse_with(argv, &lookup)
        .map(|_| ())
        .map_err(|e| e.message)
}

// ---- README.md -------------------------------------------------------------

fn markdown_examples(path: &Path) -> Vec<Example> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    markdown_lines(&text, &file_name(path))
}

/// Commands in fenced code blocks and in blocks indented four spaces.
fn markdown_lines(text: &str, file: &str) -> Vec<Example> {
    let mut code = Vec::new();
    let mut fenced = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if fenced || line.starts_with("    ") || line.starts_with('\t') {
            code.push((n + 1, line.to_string()));
        } else {
            code.push((n + 1, String::new()));
        }
    }
    commands(code, file)
}

// ---- man pages ---------------------------------------------------------------

fn man_examples(path: &Path) -> Vec<Example> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    roff_examples(&text, &file_name(path))
}

/// Lines of `.EX`/`.EE` and `.nf`/`.fi` blocks in the EXAMPLES section,
/// and `.B`/`.BR` lines there, roff escapes undone.
fn roff_examples(text: &str, file: &str) -> Vec<Example> {
    let mut code = Vec::new();
    let mut in_examples = false;
    let mut in_block = false;
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        let request = line.split_whitespace().next().unwrap_or("");
        match request {
            ".SH" => {
                in_examples = line.contains("EXAMPLE");
                in_block = false;
                code.push((n, String::new()));
            }
            ".EX" | ".nf" => {
                in_block = true;
                code.push((n, String::new()));
            }
            ".EE" | ".fi" => {
                in_block = false;
                code.push((n, String::new()));
            }
            ".B" | ".BR" if in_examples => {
                let rest = line[request.len()..].trim();
                let rest = rest
                    .strip_prefix('"')
                    .map_or(rest, |r| r.split_once('"').map_or(r, |(quoted, _)| quoted));
                // A name alone is a mention in prose, not a command.
                let rest = unroff(rest);
                let words = rest.split_whitespace().count();
                code.push((n, if words > 1 { rest } else { String::new() }));
            }
            _ if in_examples && in_block && !line.starts_with('.') => {
                code.push((n, unroff(line)));
            }
            _ => code.push((n, String::new())),
        }
    }
    commands(code, file)
}

/// Undo the roff escapes man pages use in command lines.
fn unroff(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('e') | Some('\\') => out.push('\\'),
            Some('-') => out.push('-'),
            Some('~') | Some(' ') => out.push(' '),
            Some('&') | Some(':') | Some('c') => {}
            Some('f') => {
                // A font change: \fB, \f(CW, \f[R].
                match chars.next() {
                    Some('(') => {
                        chars.next();
                        chars.next();
                    }
                    Some('[') => while chars.next().is_some_and(|c| c != ']') {},
                    _ => {}
                }
            }
            Some('(') => {
                let name: String = chars.by_ref().take(2).collect();
                out.push_str(special(&name));
            }
            Some('[') => {
                let name: String = chars.by_ref().take_while(|&c| c != ']').collect();
                out.push_str(special(&name));
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn special(name: &str) -> &'static str {
    match name {
        "aq" => "'",
        "dq" => "\"",
        "ga" => "`",
        "ti" => "~",
        "ha" => "^",
        "rs" => "\\",
        "em" => "--",
        "en" => "-",
        "bu" => "*",
        _ => "?",
    }
}

// ---- lines to commands -------------------------------------------------------

/// Code lines (line number, text; empty outside code) to the commands in
/// them: continuations joined, prompts, `misc_path` and `exec` undone.
fn commands(code: Vec<(usize, String)>, file: &str) -> Vec<Example> {
    let mut examples = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (n, text) in code {
        let (start, mut joined) = match pending.take() {
            Some((start, head)) => (start, head + " " + text.trim()),
            None => (n, text.trim().to_string()),
        };
        if ends_continued(&joined) {
            joined.pop();
            pending = Some((start, joined));
            continue;
        }
        if let Some(example) = command(&joined, format!("{file}:{start}")) {
            examples.push(example);
        }
    }
    examples
}

/// An odd number of trailing backslashes continues the line.
fn ends_continued(line: &str) -> bool {
    line.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

fn command(line: &str, place: String) -> Option<Example> {
    let mut line = line.trim();
    line = line.strip_prefix("$ ").unwrap_or(line);
    let quoted;
    if let Some(rest) = line.strip_prefix("misc_path") {
        let rest = rest.trim();
        let inner = rest.strip_prefix('"')?;
        quoted = inner[..inner.rfind('"')?].to_string();
        line = &quoted;
    }
    let line = line.strip_prefix("exec ").unwrap_or(line).trim();
    let words = shell_words(line)?;
    let first = words.first()?;
    let name = Path::new(first).file_name()?.to_str()?;
    if !NAMES.contains(&name) {
        return None;
    }
    // A synopsis (`check_raw_tcp [options] SOURCE_IFACE ...`) shows the
    // form, not a command to run.
    let placeholder = |w: &String| {
        w.starts_with('[')
            || ["SOURCE_IFACE", "REAL_SERVER", "VIRTUAL_IP", "..."].contains(&w.as_str())
    };
    if words.iter().any(placeholder) {
        return None;
    }
    let mut argv = Vec::new();
    for word in words {
        match word.as_str() {
            "$@" => argv.extend(LDIRECTORD_ARGS.map(String::from)),
            // A template's macro (Nagios $ARG1$): not a command yet.
            w if w.contains('$') => return None,
            _ => argv.push(word),
        }
    }
    Some(Example {
        place,
        line: line.to_string(),
        argv,
    })
}

/// Words as sh splits them (quotes, backslashes), up to an unquoted `#`
/// comment or a `|`, `;`, `<`, `>`, `&` (what follows is not our argv).
/// `None` for an unterminated quote.
fn shell_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                words.extend(word.take());
            }
            '#' if word.is_none() => break,
            '|' | ';' | '<' | '>' | '&' => break,
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => w.push(c),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => w.push(chars.next()?),
                        c => w.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).push(chars.next()?),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Some(words)
}

fn file_name(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

// ---- a CA for --ca-file -------------------------------------------------------

/// A self-signed certificate in a PEM file of its own, removed on drop.
struct ScratchCa {
    path: PathBuf,
}

impl ScratchCa {
    fn new() -> ScratchCa {
        use openssl::{asn1::Asn1Time, ec, hash::MessageDigest, nid::Nid, pkey::PKey, x509};
        let group = ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("curve");
        let key = PKey::from_ec_key(ec::EcKey::generate(&group).expect("key")).expect("pkey");
        let mut name = x509::X509NameBuilder::new().expect("name");
        name.append_entry_by_text("CN", "examples test CA")
            .expect("CN");
        let name = name.build();
        let mut cert = x509::X509Builder::new().expect("cert");
        cert.set_version(2).expect("version");
        cert.set_subject_name(&name).expect("subject");
        cert.set_issuer_name(&name).expect("issuer");
        cert.set_pubkey(&key).expect("pubkey");
        cert.set_not_before(&Asn1Time::days_from_now(0).expect("now"))
            .expect("not before");
        cert.set_not_after(&Asn1Time::days_from_now(1).expect("later"))
            .expect("not after");
        cert.sign(&key, MessageDigest::sha256()).expect("sign");
        let pem = cert.build().to_pem().expect("pem");
        let path =
            std::env::temp_dir().join(format!("check_raw-examples-ca-{}.pem", std::process::id()));
        std::fs::write(&path, pem).expect("write the CA file");
        ScratchCa { path }
    }
}

impl Drop for ScratchCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
