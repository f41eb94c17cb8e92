//! check_raw_serve with its listener on, for the tests of its real
//! consumers (`tests/it/serve_prometheus.rs`: Prometheus; `tests/it/serve_page.rs`:
//! Chromium): a serve.toml with `listen`, the checks of rs1 and rs2 and a
//! `[[module]]` for `/probe`, the daemon started in `lb` and waited for
//! until its listener answers.

use std::fmt::Write as _;
use std::io::Write as _;
use std::thread;
use std::time::{Duration, Instant};

use super::prometheus::http_get;
use super::serve::{Check, ServeBed, ServeProc};
use super::serve_cases::{http_health, tcp, wait_started, SLACK, T, TIMING};
use super::testbed::{Testbed, IFACE, PORT, RS1, RS2, VIP};
use super::{HTTP_PORT, VHOST};

/// Where the daemon listens in `lb` (its own loopback): the packaged
/// serve.toml's address.
pub const LISTEN: &str = "127.0.0.1:10117";
/// The `/probe` module of the shipped prometheus.yml.
pub const MODULE: &str = "http_vip";

/// The module's command line: the HTTP health check of the checks, with
/// `{target}` where the real server goes.
pub fn module_command() -> String {
    format!(
        "check_raw_http -S 200 -s ok -t {T} {IFACE} {{target}} {VIP} {HTTP_PORT} {VHOST} /health"
    )
}

/// rs1's and rs2's checks: HTTP (`web-*`, the pool `VIP:HTTP_PORT`), TCP
/// on `PORT`, and whether rs2 holds the VIP (`vip-rs2`, no port).
pub fn web_checks() -> Vec<Check> {
    vec![
        Check::new("web-rs1", http_health(RS1, HTTP_PORT)),
        Check::new("web-rs2", http_health(RS2, HTTP_PORT)),
        Check::new("tcp-rs1", tcp(RS1, VIP, PORT)),
        Check::new(
            "vip-rs2",
            format!("check_raw_vip -t {T} {IFACE} {RS2} {VIP}"),
        ),
    ]
}

/// serve.toml: `listen` first (a top-level key), the bed's timing and
/// checks, then the module.
pub fn web_toml(bed: &ServeBed, checks: &[Check]) -> String {
    let mut text = format!("listen = \"{LISTEN}\"\n");
    text.push_str(&bed.toml(TIMING, checks));
    let _ = write!(
        text,
        "\n[[module]]\nname = \"{MODULE}\"\ncommand = \"{}\"\n",
        module_command()
    );
    text
}

/// False, after one `skipping ...` line on stderr (under CI=true: a
/// panic), when the binary refuses the `listen` key: a tree without the
/// listener yet (issue 22's pieces land one by one). The daemon's own
/// errors are not judged here: `launch_listening` does.
pub fn listener_built(bed: &ServeBed, tb: &Testbed) -> bool {
    bed.write_config(&web_toml(bed, &web_checks()));
    let r = bed.run(tb, "lb", &["--check"]);
    if !r.stderr.contains(": listen: unknown key") {
        return true;
    }
    let name = std::thread::current().name().unwrap_or("test").to_owned();
    let why = "check_raw_serve has no listener yet (its --check says `listen: unknown key`): \
               build a tree with issue 22's listener";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{name}: {why}");
    }
    let _ = writeln!(std::io::stderr(), "skipping {name}: {why}");
    false
}

/// Writes the config, starts the daemon in `lb` with `args`, waits for its
/// `started:` line and for `GET /metrics` to answer 200.
pub fn launch_listening(
    bed: &ServeBed,
    tb: &Testbed,
    args: &[&str],
    checks: &[Check],
) -> ServeProc {
    bed.write_config(&web_toml(bed, checks));
    let d = bed.start(tb, "lb", args);
    wait_started(bed, &d, checks.len());
    let start = Instant::now();
    let ns = tb.ns("lb").to_owned();
    // Bounded: SLACK, polled every 50 ms.
    loop {
        match http_get(&ns, LISTEN, "/metrics", &[]) {
            Ok(r) if r.status == 200 => break,
            other if start.elapsed() > SLACK => {
                panic!("GET /metrics on {LISTEN}: {other:?}\n{}", d.diag())
            }
            _ => {}
        }
        d.assert_running_for("waiting for the listener");
        thread::sleep(Duration::from_millis(50));
    }
    d
}
