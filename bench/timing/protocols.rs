//! The protocol rows of `make bench`: check_raw_dns against check_dig,
//! and the TLS rows (check_raw_http --ssl against check_http --ssl and
//! curl -k), each in one hyperfine run of its own in the testbed.

use super::*;

/// check_dig, monitoring-plugins' DNS check (it runs dig), the yardstick.
const CHECK_DIG: &str = "/usr/lib/nagios/plugins/check_dig";

/// check_raw_dns through the VIP next to check_dig to the real server's
/// own address, in one hyperfine run in `lb` (wall time), then each one's
/// peak RSS (its own and its children's, from wait4). Goal: no slower, no
/// larger. Skipped without NSD, check_dig or hyperfine.
pub fn dns_vs_check_dig() {
    if skip_unless(&[
        NSD,
        Need::Program(CHECK_DIG, "monitoring-plugins-standard"),
        Need::Program("hyperfine", "hyperfine"),
    ]) {
        return;
    }
    let tb = Testbed::without_servers();
    let _nsd = tb.nsd("rs1", &[RS1, VIP]);
    let dns = check_raw_bin("check_raw_dns");
    let name = format!("www.{}", harness::dns::ZONE);
    let ours = format!("{} {IFACE} {RS1} {VIP} 53 {name}", dns.display());
    let theirs = format!("{CHECK_DIG} -H {RS1} -l {name} -T A");
    let json = TempDir::new();
    let out = json.path().join("dns.json");
    let out_s = out.display().to_string();
    let r = tb.run_in(
        "lb",
        &[
            "hyperfine",
            "-N",
            "--warmup",
            "5",
            "--runs",
            "50",
            "--export-json",
            &out_s,
            &ours,
            &theirs,
        ],
    );
    println!("check_raw_dns (via the VIP) vs check_dig (to the real server):");
    println!("{}", r.stdout);
    let _ = std::fs::read_to_string(&out);
    // The TCP check to the same port, and a bare start, for scale.
    let tcp = check_raw_bin("check_raw_tcp");
    let tcp_cmd = format!("{} {IFACE} {RS1} {VIP} 53", tcp.display());
    let version = format!("{} --version", dns.display());
    for (what, cmd) in [
        ("check_raw_dns", &ours),
        ("check_dig", &theirs),
        ("check_raw_tcp (same port, for scale)", &tcp_cmd),
        ("check_raw_dns --version (a bare start)", &version),
    ] {
        let argv: Vec<String> = cmd.split_whitespace().map(String::from).collect();
        let ns = tb.ns("lb").to_string();
        let rss = netns_peak_rss(&ns, &argv);
        println!("{what}: peak RSS {rss}");
    }
}

/// Run `argv` in `ns` (a thread that entered it spawns the process)
/// under GNU time and return its peak RSS. Not wait4's `ru_maxrss` of a
/// child spawned from here: Linux carries the high-water mark of the
/// address space a child had before exec into it, and a vfork-spawned
/// child's is the bench's own (~10 MiB), which every row then read.
fn netns_peak_rss(ns: &str, argv: &[String]) -> String {
    let ns = ns.to_string();
    let argv = argv.to_vec();
    let out = std::env::temp_dir().join(format!("check_raw-bench-rss-{}", std::process::id()));
    let path = out.clone();
    let got = std::thread::spawn(move || -> std::io::Result<String> {
        harness::netns::enter(&ns)?;
        let status = std::process::Command::new(TIME)
            .arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(&path)
            .args(&argv)
            .stdout(std::process::Stdio::null())
            .status()?;
        let text = std::fs::read_to_string(&path)?;
        // GNU time writes "Command exited with non-zero status N" first
        // when the program fails: the figure is the last line.
        let kib = text.lines().last().unwrap_or("?").trim().to_string();
        Ok(format!("{kib} KiB (exit {})", status.code().unwrap_or(-1)))
    })
    .join();
    let _ = std::fs::remove_file(&out);
    match got {
        Ok(Ok(text)) => text,
        Ok(Err(e)) => format!("not measured: {e}"),
        Err(_) => "not measured: the thread panicked".into(),
    }
}

/// HTTPS `/health` (nginx, TLS 1.3, unverified) from `lb`: check_raw
/// through the VIP (MASTER) and over the kernel (BACKUP) in one hyperfine
/// run with the yardsticks `check_http --ssl` and `curl -k`, both to the
/// real server's own address. Then each one's peak RSS (GNU time's %M,
/// largest of 5 runs). Target: no slower than either, no more memory than
/// check_http --ssl.
pub fn tls_rows() {
    const HYPERFINE: &str = "/usr/bin/hyperfine";
    const CHECK_HTTP: &str = "/usr/lib/nagios/plugins/check_http";
    const GNU_TIME: &str = "/usr/bin/time";
    if skip_unless(&[
        NGINX,
        Need::Program(HYPERFINE, "hyperfine"),
        Need::Program(CHECK_HTTP, "monitoring-plugins-basic"),
        Need::Program("/usr/bin/curl", "curl"),
        Need::Program(GNU_TIME, "time"),
    ]) {
        return;
    }
    let pki = Pki::new();
    let tb = Testbed::without_servers();
    let _nginx = tb.nginx_tls("rs1", &pki);
    let http = check_raw_bin("check_raw_http");
    let role = RoleFile::backup();
    let port = TlsPort::Good.port().to_string();
    let raw = |extra: &str| {
        format!(
            "{} --ssl -S 200 {extra}{IFACE} {RS1} {VIP} {port} {TLS_HOST} /health",
            http.display()
        )
    };
    let backup = format!("-r {} ", role.path());
    let commands = [
        ("check_raw_http --ssl (MASTER, VIP)", raw("")),
        ("check_raw_http --ssl (BACKUP, kernel)", raw(&backup)),
        (
            "check_raw_http, plain HTTP (MASTER, VIP)",
            format!(
                "{} -S 200 {IFACE} {RS1} {VIP} {PORT} {TLS_HOST} /health",
                http.display()
            ),
        ),
        (
            "check_http --ssl",
            format!("{CHECK_HTTP} --ssl -I {RS1} -H {TLS_HOST} -p {port} -u /health -e 200"),
        ),
        (
            "curl -k",
            format!(
                "/usr/bin/curl -k -s -o /dev/null --resolve {TLS_HOST}:{port}:{RS1} https://{TLS_HOST}:{port}/health"
            ),
        ),
    ];
    for (name, cmd) in &commands {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let r = tb.run_in("lb", &words);
        assert_eq!(r.code, Some(0), "{name} must pass before it is timed\n{r}");
    }
    let json = pki.dir().join("hyperfine.json");
    let json_s = json.display().to_string();
    let mut argv = vec![
        HYPERFINE,
        "-N",
        "--warmup",
        "5",
        "--runs",
        "100",
        "--export-json",
        &json_s,
    ];
    for (name, cmd) in &commands {
        argv.extend(["-n", name, cmd.as_str()]);
    }
    let r = tb.run_in("lb", &argv);
    assert_eq!(
        r.code,
        Some(0),
        "hyperfine failed
{r}"
    );
    println!("TLS: HTTPS /health from lb, hyperfine -N, 100 runs each (inside ip netns exec)");
    print!("{}", r.stdout);
    let results = std::fs::read_to_string(&json).unwrap_or_default();
    for (name, cmd) in &commands {
        let mut words = vec![GNU_TIME, "-f", "%M"];
        words.extend(cmd.split_whitespace());
        let peak = (0..5)
            .filter_map(|_| {
                let r = tb.run_in("lb", &words);
                r.stderr.lines().last()?.trim().parse::<u64>().ok()
            })
            .max()
            .unwrap_or(0);
        let mean = hyperfine_mean_ms(&results, name)
            .map(|m| format!("{m:.2} ms"))
            .unwrap_or_else(|| "?".into());
        println!("TLS row: {name:40} mean {mean:>10}, peak RSS {peak} KiB");
    }
}

/// The mean, in ms, hyperfine's JSON gives the command named `name`.
fn hyperfine_mean_ms(json: &str, name: &str) -> Option<f64> {
    let at = json.find(&format!("\"command\": \"{name}\""))?;
    let rest = &json[at..];
    let mean = rest.find("\"mean\":")? + "\"mean\":".len();
    let n: String = rest[mean..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == 'e' || *c == '-')
        .collect();
    n.parse::<f64>().ok().map(|s| s * 1e3)
}
