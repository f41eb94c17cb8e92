//! Headless Chromium (Debian's `chromium`) as the real browser of the
//! status page (`tests/it/serve_page.rs`), driven over the DevTools protocol
//! on a pipe (`--remote-debugging-pipe`: fd 3 in, fd 4 out, one JSON
//! message per NUL-terminated chunk). Not `--dump-dom` or `--screenshot`:
//! both run JavaScript in the page to do their work, so with scripts
//! disabled (`--blink-settings=scriptEnabled=false`) they print and write
//! nothing (measured with Chromium 156). Over the protocol, with
//! `Emulation.setScriptExecutionDisabled`, the DOM (`DOM.getOuterHTML`)
//! and the screenshot (`Page.captureScreenshot`) need no script.
//!
//! Chromium runs in a testbed namespace (`ip netns exec`, so 127.0.0.1 is
//! the daemon's loopback), as root hence `--no-sandbox`, in its own
//! process group with a temporary `--user-data-dir` and `HOME`. Every call
//! waits at most `CALL_LIMIT`; dropping a `Browser` SIGKILLs the group,
//! reaps it and removes the profile, also when a test panics.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::daemon::{tail, REPO};
use super::files::TempDir;
use super::testbed::Testbed;
use super::Need;

pub const CHROMIUM: Need = Need::Program("chromium", "chromium");

/// One protocol call (a navigation included) may take this long: Chromium
/// starts in ~3 s on this loaded machine.
const CALL_LIMIT: Duration = Duration::from_secs(30);
/// A message larger than this (a screenshot is ~100 KiB of base64) ends
/// the session.
const MAX_MESSAGE: usize = 64 << 20;
/// The viewport's width; its height follows the page, up to `MAX_HEIGHT`.
pub const WIDTH: u32 = 1280;
const MAX_HEIGHT: u32 = 4000;

/// Where screenshots are kept after the test: `target/serve_page/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(REPO).join("target/serve_page");
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// A headless Chromium with one page, attached to over the pipe.
pub struct Browser {
    child: Option<Child>,
    pid: libc::pid_t,
    to: File,
    from: Receiver<Value>,
    next_id: u64,
    session: String,
    stderr: PathBuf,
    javascript: bool,
    // Last: removed after the process is gone.
    profile: TempDir,
}

/// Two pipes for fds 3 and 4 of the child: (ours to write, its to read),
/// (its to write, ours to read).
fn pipes() -> ((OwnedFd, OwnedFd), (OwnedFd, OwnedFd)) {
    let mut a = [0; 2];
    let mut b = [0; 2];
    // SAFETY: pipe2 fills the arrays with two new fds each on success;
    // O_CLOEXEC keeps them out of every other child (dup2 in the child
    // makes fds 3 and 4 without it).
    unsafe {
        assert_eq!(libc::pipe2(a.as_mut_ptr(), libc::O_CLOEXEC), 0, "pipe2");
        assert_eq!(libc::pipe2(b.as_mut_ptr(), libc::O_CLOEXEC), 0, "pipe2");
        (
            (OwnedFd::from_raw_fd(a[1]), OwnedFd::from_raw_fd(a[0])),
            (OwnedFd::from_raw_fd(b[1]), OwnedFd::from_raw_fd(b[0])),
        )
    }
}

impl Browser {
    /// Starts Chromium in `host` with one blank page, scripts enabled or
    /// not (both the launch flag and the protocol's switch), the viewport
    /// `WIDTH` wide.
    pub fn launch(tb: &Testbed, host: &str, javascript: bool) -> Browser {
        let profile = TempDir::new();
        let stderr = profile.path().join("chromium.stderr");
        let data = profile.path().join("user-data");
        let ((to_child, child_in), (child_out, from_child)) = pipes();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", tb.ns(host), "chromium"])
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--remote-debugging-pipe",
                &format!("--user-data-dir={}", data.display()),
                &format!("--window-size={WIDTH},900"),
            ])
            .args((!javascript).then_some("--blink-settings=scriptEnabled=false"))
            .arg("about:blank")
            .env("HOME", profile.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr).expect("chromium.stderr"))
            .process_group(0);
        let (cin, cout) = (child_in.as_raw_fd(), child_out.as_raw_fd());
        // SAFETY: only fcntl and dup2, async-signal-safe, between fork and
        // exec; the fds stay open in the parent until spawn returns. Both
        // are first copied above 9, since either may be fd 3 or 4 itself
        // (a dup2 onto itself would keep O_CLOEXEC, or one would overwrite
        // the other); the dup2 copies lack O_CLOEXEC and survive the exec.
        unsafe {
            cmd.pre_exec(move || {
                let high_in = libc::fcntl(cin, libc::F_DUPFD_CLOEXEC, 10);
                let high_out = libc::fcntl(cout, libc::F_DUPFD_CLOEXEC, 10);
                if high_in < 0
                    || high_out < 0
                    || libc::dup2(high_in, 3) < 0
                    || libc::dup2(high_out, 4) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromium: {e}"));
        // Ours closed: Chromium's end of each pipe is its alone, so EOF
        // comes when it exits.
        drop((child_in, child_out));
        let (tx, from) = mpsc::channel();
        let mut reader = File::from(from_child);
        thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 65536];
            // Bounded: ends at EOF (Chromium gone), an error, a message
            // over MAX_MESSAGE or when the receiver is dropped.
            loop {
                let n = match reader.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.iter().position(|&b| b == 0) {
                    let msg: Vec<u8> = buf.drain(..=end).collect();
                    let Ok(v) = serde_json::from_slice::<Value>(&msg[..end]) else {
                        continue;
                    };
                    if tx.send(v).is_err() {
                        return;
                    }
                }
                if buf.len() > MAX_MESSAGE {
                    return;
                }
            }
        });
        let mut b = Browser {
            pid: child.id() as libc::pid_t,
            child: Some(child),
            to: File::from(to_child),
            from,
            next_id: 0,
            session: String::new(),
            stderr,
            javascript,
            profile,
        };
        let target = b.browser_call("Target.createTarget", json!({"url": "about:blank"}));
        let target = target["targetId"].clone();
        let attached = b.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        b.session = attached["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId: {attached}\n{}", b.diag()))
            .to_owned();
        if !javascript {
            b.call(
                "Emulation.setScriptExecutionDisabled",
                json!({"value": true}),
            );
        }
        b.viewport(900);
        b.call("Page.enable", json!({}));
        b
    }

    /// A call to the browser itself (no session).
    fn browser_call(&mut self, method: &str, params: Value) -> Value {
        self.send(None, method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}\n{}", self.diag()))
    }

    /// A call to the page's session; panics with Chromium's error.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(Some(&session), method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}\n{}", self.diag()))
    }

    /// `call`, Chromium's error returned (a node gone with a reload).
    pub fn try_call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        let session = self.session.clone();
        self.send(Some(&session), method, params)
    }

    fn send(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).expect("JSON");
        bytes.push(0);
        if let Err(e) = self.to.write_all(&bytes) {
            panic!("{method}: write to chromium: {e}\n{}", self.diag());
        }
        let reply = self.wait_message(&format!("the reply to {method}"), |m| m["id"] == id);
        if !reply["error"].is_null() {
            return Err(reply["error"].to_string());
        }
        Ok(reply["result"].clone())
    }

    /// The first message that `want` accepts (events before it are
    /// dropped), within `CALL_LIMIT`.
    fn wait_message(&mut self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        // Bounded: CALL_LIMIT, whatever the number of events.
        loop {
            let left = CALL_LIMIT.saturating_sub(start.elapsed());
            match self.from.recv_timeout(left) {
                Ok(m) if want(&m) => return m,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {what} within {CALL_LIMIT:?}\n{}", self.diag())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("chromium closed the pipe before {what}\n{}", self.diag())
                }
            }
        }
    }

    /// The viewport `WIDTH` x `height` CSS pixels, scale 1.
    fn viewport(&mut self, height: u32) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
    }

    /// Loads `url` and waits for its load event; returns how long it took.
    pub fn open(&mut self, url: &str) -> Duration {
        let start = Instant::now();
        let nav = self.call("Page.navigate", json!({"url": url}));
        if let Some(e) = nav["errorText"].as_str() {
            panic!("{url}: {e}\n{}", self.diag());
        }
        self.wait_message(&format!("the load of {url}"), |m| {
            m["method"] == "Page.loadEventFired"
        });
        start.elapsed()
    }

    /// The document as the browser holds it now (no script needed). A
    /// page that reloads itself (`<meta http-equiv=refresh>`) can replace
    /// the document between the two calls: then both are asked again.
    pub fn dom(&mut self) -> String {
        let mut last = String::new();
        // Bounded: 10 tries, 100 ms apart.
        for _ in 0..10 {
            let html = self
                .try_call("DOM.getDocument", json!({"depth": 0}))
                .and_then(|doc| {
                    let root = doc["root"]["nodeId"].clone();
                    self.try_call("DOM.getOuterHTML", json!({"nodeId": root}))
                });
            match html {
                Ok(h) => return h["outerHTML"].as_str().unwrap_or("").to_owned(),
                Err(e) => last = e,
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!("DOM.getOuterHTML: {last}\n{}", self.diag())
    }

    /// A PNG of the whole page (the viewport grown to the page's height,
    /// up to `MAX_HEIGHT`) written to `path`; returns its size in bytes.
    pub fn screenshot(&mut self, path: &Path) -> usize {
        let metrics = self.call("Page.getLayoutMetrics", json!({}));
        let height = metrics["cssContentSize"]["height"]
            .as_f64()
            .unwrap_or(900.0)
            .ceil()
            .clamp(100.0, f64::from(MAX_HEIGHT)) as u32;
        self.viewport(height);
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64_decode(shot["data"].as_str().unwrap_or(""))
            .unwrap_or_else(|e| panic!("the screenshot's base64: {e}"));
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "the screenshot is no PNG ({} bytes)",
            png.len()
        );
        fs::write(path, &png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        png.len()
    }

    pub fn javascript(&self) -> bool {
        self.javascript
    }

    /// Chromium's stderr, for failure messages.
    pub fn diag(&self) -> String {
        let log = fs::read_to_string(&self.stderr).unwrap_or_default();
        // Its D-Bus complaints (no session bus in a test) are noise.
        let log: Vec<&str> = log.lines().filter(|l| !l.contains("dbus")).collect();
        format!("--- chromium stderr ---\n{}", tail(&log.join("\n"), 30))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: the child is not reaped yet, so its pid and process
        // group are still ours; the group holds every Chromium process.
        unsafe { libc::kill(-self.pid, libc::SIGKILL) };
        let _ = child.wait();
    }
}

/// Standard base64 (with padding, no line breaks), as the protocol sends
/// binary data.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = value(c).ok_or_else(|| format!("byte {c:#x} is not base64"))?;
            n |= v << (18 - 6 * i);
        }
        let keep = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return Err("a lone base64 digit at the end".into()),
        };
        out.extend_from_slice(&n.to_be_bytes()[1..=keep]);
    }
    Ok(out)
}

/// The attribute `name` of the first element whose start tag holds
/// `needle` (`data-check="web-rs2"`), as the serialised DOM has it; `None`
/// if no tag holds it or it lacks the attribute.
pub fn attribute_of(dom: &str, needle: &str, name: &str) -> Option<String> {
    let at = dom.find(needle)?;
    let start = dom[..at].rfind('<')?;
    let end = at + dom[at..].find('>')?;
    let tag = &dom[start..end];
    let key = format!(" {name}=\"");
    let from = tag.find(&key)? + key.len();
    let len = tag[from..].find('"')?;
    Some(tag[from..from + len].to_owned())
}
