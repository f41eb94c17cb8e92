//! A real nginx as the real server's web server, for HTTP checks against
//! the web server LVS-DR setups actually run.
//!
//! `tb.nginx("rs1", 80)` starts `nginx` (Debian package `nginx-light`) in the
//! foreground, as one process (`master_process off`), inside `rs1`'s network
//! namespace. Its configuration, pid file, logs, temp paths and document
//! root all live in a temp dir of its own; nothing under /etc, /var or /run
//! is read or written. Dropping the returned [`Nginx`] kills the process by
//! its pid, reaps it and removes the directory, also when a test panics.
//!
//! The testbed's default listeners hold rs1:80 and rs2:80, so use
//! `Testbed::without_servers()` to run nginx there.
//!
//! What it serves (any Host header):
//! - `/health`: `ok\n` ([`HEALTH_BODY`], MD5 [`HEALTH_MD5`]), with
//!   Content-Length;
//! - `/big`: [`BIG_LEN`] bytes of [`big_body`], with Content-Length;
//! - `/chunked`: [`CHUNKED_BODY`] with `Transfer-Encoding: chunked` (passed
//!   through `sub_filter`, which drops the length);
//! - anything else: nginx's own 404 page.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::files::TempDir;
use super::testbed::Testbed;

/// The body of `/health`.
pub const HEALTH_BODY: &[u8] = b"ok\n";
/// MD5 of [`HEALTH_BODY`], as `printf 'ok\n' | md5sum` prints it.
pub const HEALTH_MD5: &str = "eff5bc1ef8ec9d03e640fc4370f5eacd";

/// A 200 response carrying [`HEALTH_BODY`], for our own listeners
/// (`Behaviour::Respond`) where a test wants nginx's /health answer
/// without nginx.
pub fn health_reply() -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n",
        HEALTH_BODY.len()
    )
    .into_bytes();
    r.extend_from_slice(HEALTH_BODY);
    r
}
/// Length of `/big`.
pub const BIG_LEN: usize = 64 * 1024;
/// The body of `/chunked` (sent chunked by nginx).
pub const CHUNKED_BODY: &[u8] = b"a body of unknown length, sent chunked by nginx\n";

/// nginx must answer within this after it is started.
const START_LIMIT: Duration = Duration::from_secs(10);
/// After SIGTERM, nginx gets this long before SIGKILL.
const STOP_LIMIT: Duration = Duration::from_secs(3);

/// The deterministic pseudo-random content of `/big` (xorshift64, fixed
/// seed): the same bytes in every run, no compressible pattern.
pub fn big_body() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut body = Vec::with_capacity(BIG_LEN);
    while body.len() < BIG_LEN {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        body.extend_from_slice(&x.to_le_bytes());
    }
    body.truncate(BIG_LEN);
    body
}

/// MD5 of `data` as 32 lowercase hex digits (OpenSSL's, as the tests'
/// oracle; [`HEALTH_MD5`] pins it to `md5sum`).
pub fn md5_hex(data: &[u8]) -> String {
    let digest = openssl::hash::hash(openssl::hash::MessageDigest::md5(), data)
        .unwrap_or_else(|e| panic!("MD5 unavailable in OpenSSL: {e}"));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A running nginx. Dropping it stops it (SIGTERM, then SIGKILL), reaps it
/// and removes its directory.
pub struct Nginx {
    host: String,
    port: u16,
    /// Our own child: its pid cannot be reused until we reap it, so killing
    /// by this pid always hits this nginx.
    child: Child,
    dir: TempDir,
}

impl Nginx {
    /// The host (`rs1`, ...) it runs in.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port it listens on (all addresses, so the VIP too).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its directory (config, logs, docroot under `www/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The access log so far, for failure messages.
    pub fn access_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// Polls the access log (at most `timeout`: nginx writes a line just
    /// after the response, maybe after the client is done) until it contains
    /// `needle`; returns the log either way. Lines read
    /// `CLIENT -> SERVER_ADDR:PORT "REQUEST" STATUS BODY_BYTES`, e.g.
    /// `198.51.100.1 -> 203.0.113.10:80 "GET /health HTTP/1.1" 200 3`.
    pub fn wait_access_log(&self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        for _ in 0..10_000 {
            let log = self.access_log();
            if log.contains(needle) || start.elapsed() >= timeout {
                return log;
            }
            thread::sleep(Duration::from_millis(5));
        }
        self.access_log()
    }

    /// The error log so far (nginx's own stderr included), for failure
    /// messages.
    pub fn error_log(&self) -> String {
        read_logs(self.dir.path())
    }

    /// Stops nginx and waits for it: SIGTERM, then SIGKILL after
    /// `STOP_LIMIT`. Safe to call twice.
    fn stop(&mut self) {
        super::process::terminate(&mut self.child, STOP_LIMIT);
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
        // `dir` is removed after this, when the fields drop.
    }
}

impl std::fmt::Debug for Nginx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "nginx pid {} on {}:{} in {}",
            self.child.id(),
            self.host,
            self.port,
            self.dir.path().display()
        )
    }
}

impl Testbed {
    /// Starts nginx on `0.0.0.0:port` in `host` (see the module doc for what
    /// it serves) and returns once it has answered a request. Panics, with
    /// nginx's error log, if it cannot start (e.g. a harness server holds
    /// the port: use `Testbed::without_servers()`).
    pub fn nginx(&self, host: &str, port: u16) -> Nginx {
        self.nginx_with(host, port, "")
    }

    /// [`Testbed::nginx`] with `extra` added to the `http` block (more
    /// `server` blocks: TLS ones, see `harness::tls`).
    pub fn nginx_with(&self, host: &str, port: u16, extra: &str) -> Nginx {
        let dir = TempDir::new();
        write_site(&dir, port, extra);
        let log = File::create(dir.path().join("stderr.log"))
            .unwrap_or_else(|e| panic!("create nginx's stderr log: {e}"));
        let log2 = log
            .try_clone()
            .unwrap_or_else(|e| panic!("dup nginx's stderr log: {e}"));
        let mut cmd = Command::new("nginx");
        cmd.arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            // The error log before the config is read (the build's default
            // may be a file under /var/log).
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .process_group(0);
        let child = super::netns::spawn_in(self.ns(host), &mut cmd).unwrap_or_else(|e| {
            panic!("cannot start nginx in {host} (apt-get install -y nginx-light?): {e}")
        });
        let mut nginx = Nginx {
            host: host.to_owned(),
            port,
            child,
            dir,
        };
        nginx.wait_ready(self);
        nginx
    }
}

impl Nginx {
    /// Polls until this nginx answers `GET /health` on 127.0.0.1 inside its
    /// namespace with its own `Server: nginx` header (so a harness server
    /// that still holds the port does not count), or panics with its logs.
    fn wait_ready(&mut self, tb: &Testbed) {
        let start = Instant::now();
        let mut last = String::from("no attempt");
        for _ in 0..1000 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "nginx on {}:{} exited at start ({status}); \
                     a harness server on the port? use Testbed::without_servers()\n{}",
                    self.host,
                    self.port,
                    self.error_log()
                );
            }
            let port = self.port;
            match tb.in_ns(&self.host, move || probe(port)) {
                Ok(reply)
                    if reply.starts_with(b"HTTP/1.1 200") && ends_with(&reply, HEALTH_BODY) =>
                {
                    let head = String::from_utf8_lossy(&reply).to_ascii_lowercase();
                    if head.contains("\r\nserver: nginx") {
                        return;
                    }
                    last = format!("not nginx: {}", String::from_utf8_lossy(&reply));
                }
                Ok(reply) => last = format!("unexpected: {}", String::from_utf8_lossy(&reply)),
                Err(e) => last = e.to_string(),
            }
            if start.elapsed() > START_LIMIT {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "nginx on {}:{} not ready after {:?} (last probe: {last})\n{}",
            self.host,
            self.port,
            start.elapsed(),
            self.error_log()
        );
    }
}

/// One `GET /health` with `Connection: close` to 127.0.0.1:port; the whole
/// reply (bounded in time and size).
fn probe(port: u16) -> io::Result<Vec<u8>> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    s.set_read_timeout(Some(Duration::from_millis(1000)))?;
    s.set_write_timeout(Some(Duration::from_millis(1000)))?;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")?;
    let mut reply = Vec::new();
    (&mut s).take(64 * 1024).read_to_end(&mut reply)?;
    let _ = s.shutdown(Shutdown::Both);
    Ok(reply)
}

fn ends_with(data: &[u8], tail: &[u8]) -> bool {
    data.len() >= tail.len() && &data[data.len() - tail.len()..] == tail
}

fn read_logs(dir: &Path) -> String {
    let mut text = String::new();
    for name in ["error.log", "stderr.log"] {
        let body = fs::read_to_string(dir.join(name)).unwrap_or_default();
        text.push_str(&format!("--- nginx {name} ---\n{}\n", body.trim_end()));
    }
    text
}

/// Writes the docroot and `nginx.conf` into `dir`.
fn write_site(dir: &TempDir, port: u16, extra: &str) {
    let root = dir.path();
    let www = root.join("www");
    let tmp = root.join("tmp");
    for d in [&www, &tmp] {
        fs::create_dir(d).unwrap_or_else(|e| panic!("create {}: {e}", d.display()));
    }
    let write = |p: PathBuf, data: &[u8]| {
        fs::write(&p, data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    };
    write(www.join("health"), HEALTH_BODY);
    write(www.join("big"), &big_body());
    write(www.join("chunked"), CHUNKED_BODY);
    let r = root.display();
    // `user root`: the tests run as root, so whatever the temp dir's mode,
    // nginx can read the docroot (with `master_process off` it does not
    // switch users anyway).
    let conf = format!(
        r#"# check_raw test nginx: everything under {r}
user root;
daemon off;
master_process off;
worker_processes 1;
pid {r}/nginx.pid;
error_log {r}/error.log info;
events {{ worker_connections 64; }}
http {{
    # The server address shows that a request came in for the VIP.
    log_format lvs '$remote_addr -> $server_addr:$server_port "$request" $status $body_bytes_sent';
    access_log {r}/access.log lvs;
    client_body_temp_path {r}/tmp/body;
    proxy_temp_path {r}/tmp/proxy;
    fastcgi_temp_path {r}/tmp/fastcgi;
    uwsgi_temp_path {r}/tmp/uwsgi;
    scgi_temp_path {r}/tmp/scgi;
    default_type application/octet-stream;
    server_tokens off;
    gzip off;
    sendfile off;
    server {{
        listen {port};
        root {r}/www;
        # sub_filter drops Content-Length, so this goes out chunked.
        location = /chunked {{
            default_type text/html;
            sub_filter 'no-such-text' 'x';
        }}
    }}
{extra}
}}
"#
    );
    write(root.join("nginx.conf"), conf.as_bytes());
}
