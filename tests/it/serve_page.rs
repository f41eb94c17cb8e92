//! check_raw_serve's status page (`GET /`, issue 22) in a real browser:
//! Debian's headless Chromium, run in the testbed's `lb` namespace where
//! 127.0.0.1:10117 is the daemon's listener, loads the page with
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

use std::time::Duration;

use crate::harness::chromium::*;
use crate::harness::serve_cases::*;
use crate::harness::web_bed::*;
use crate::harness::*;

/// A page whose script replaces its text: the text says whether scripts
/// ran. A data: URL, so no server is needed.
const SCRIPTED: &str = "data:text/html,<p%20id=x>static</p><script>document.getElementById('x').textContent='script'</script>";

/// With scripts enabled the script rewrites the page; with them disabled
/// (the launch flag and the protocol's switch) the static text stays:
/// what `the_status_page...` reads without JavaScript is the page alone.
#[test]
fn chromium_runs_no_script_when_javascript_is_disabled() {
    require!(Need::Testbed, CHROMIUM);
    // Chromium's start loads the CPU: no other test's testbed is up meanwhile.
    let _alone = alone();
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

/// What each check must show with rs2 lacking the VIP.
const SHOWN: [(&str, &str); 4] = [
    ("web-rs1", "up"),
    ("tcp-rs1", "up"),
    ("web-rs2", "down"),
    ("vip-rs2", "down"),
];

/// Asserts each check's row in `dom` says `want` (`tr.check[data-check]
/// [data-state]`, the page's hooks for tests and scripts).
fn assert_shown(dom: &str, want: &[(&str, &str)], what: &str, diag: &str) {
    for (check, state) in want {
        let shown = attribute_of(dom, &format!("data-check=\"{check}\""), "data-state");
        assert_eq!(
            shown.as_deref(),
            Some(*state),
            "{what}: {check}'s shown state\n--- DOM ---\n{dom}\n{diag}"
        );
    }
}

/// rs2 without its VIP: the daemon in `lb` with rs1's and rs2's checks
/// (`web_checks`), rs1's up. Chromium, with JavaScript and then without,
/// loads `/`: each check's row shows its state, the pool of the HTTP
/// checks has a section, the totals count 2 up and 2 down; a screenshot
/// of each is kept. Then, JavaScript still off, rs2 gets its VIP back and
/// the page, left open, refreshes by itself (`<meta http-equiv=refresh>`)
/// until it shows rs2's checks up.
#[test]
fn the_status_page_shows_each_checks_state_with_and_without_javascript() {
    require!(Need::Testbed, CHROMIUM);
    // Chromium's start loads the CPU: no other test's testbed is up meanwhile.
    let _alone = alone();
    let (tb, bed) = healthy_bed();
    if !listener_built(&bed, &tb) {
        return;
    }
    tb.remove_vip("rs2");
    let checks = web_checks();
    let d = launch_listening(&bed, &tb, &[], &checks);
    wait_up(
        &bed,
        &d,
        &["web-rs1", "tcp-rs1"],
        up_limit(TIMING),
        "rs1's checks up",
    );
    // rs2's checks start down (fail closed) and stay so; `fall` runs make
    // sure each has run and failed (no "never run" row).
    std::thread::sleep(TIMING.interval * TIMING.fall + timeout());
    assert_stayed(&bed, &d, "web-rs2", "0\n");

    let url = format!("http://{LISTEN}/");
    let dir = screenshot_dir();
    let mut nojs = None;
    for javascript in [true, false] {
        let mut b = Browser::launch(&tb, "lb", javascript);
        let took = b.open(&url);
        let dom = b.dom();
        let what = format!("javascript {javascript}");
        assert_shown(&dom, &SHOWN, &what, &d.diag());
        let pool = format!("data-port=\"{HTTP_PORT}\"");
        assert_eq!(
            attribute_of(&dom, &pool, "data-vip").as_deref(),
            Some(VIP),
            "{what}: a section for the pool {VIP}:{HTTP_PORT}\n{dom}"
        );
        for (total, n) in [("up", "2"), ("down", "2")] {
            let shown = dom
                .split(&format!("data-total=\"{total}\">"))
                .nth(1)
                .and_then(|rest| rest.split('<').next());
            assert_eq!(shown, Some(n), "{what}: the {total} total\n{dom}");
        }
        let name = if javascript {
            "status-page.png"
        } else {
            "status-page-nojs.png"
        };
        let shot = dir.join(name);
        let bytes = b.screenshot(&shot);
        println!(
            "{what}: / loaded in {took:?}; screenshot {} ({bytes} bytes)",
            shot.display()
        );
        if !javascript {
            nojs = Some(b);
        }
    }

    // The page refreshes itself, scripts off: rs2's VIP back, its rows
    // turn up without the test navigating.
    let mut b = nojs.expect("the browser without JavaScript");
    put_vips_back(&tb, "rs2");
    wait_up(
        &bed,
        &d,
        &["web-rs2", "vip-rs2"],
        rise_limit(TIMING),
        "rs2's checks up",
    );
    let start = std::time::Instant::now();
    let limit = Duration::from_secs(15);
    let all_up: Vec<(&str, &str)> = SHOWN.iter().map(|(c, _)| (*c, "up")).collect();
    loop {
        let dom = b.dom();
        let shown: Vec<Option<String>> = all_up
            .iter()
            .map(|(c, _)| attribute_of(&dom, &format!("data-check=\"{c}\""), "data-state"))
            .collect();
        if shown.iter().all(|s| s.as_deref() == Some("up")) {
            break;
        }
        assert!(
            start.elapsed() < limit,
            "the page did not refresh to all up within {limit:?}: {shown:?}\n{dom}\n{}",
            d.diag()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let shot = dir.join("status-page-refreshed.png");
    b.screenshot(&shot);
    println!(
        "refreshed by itself to all up after {:?}; screenshot {}",
        start.elapsed(),
        shot.display()
    );
}
