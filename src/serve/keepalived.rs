//! What `check_raw_serve --print-keepalived` prints: a section of
//! keepalived.conf (keepalived >= 2.2.0) that takes a real server out of
//! IPVS while its check's state file says `0`, through keepalived's
//! `FILE_CHECK`, so keepalived forks nothing per check (MISC_CHECK does).
//!
//! The section holds one `track_file` block per check and, per VIP and
//! port, a `virtual_server VIP PORT { lb_kind DR ... }` whose
//! `real_server RS PORT` blocks each hold the `FILE_CHECK` of their
//! check(s). An operator includes it whole, or copies the `track_file`
//! blocks and the `FILE_CHECK`s into their own blocks. A check without a
//! port (check_raw_vip's: is the VIP on the real server at all) belongs to
//! every service of its VIP on its real server: its `FILE_CHECK` goes into
//! each `real_server` block of that VIP and real server in the section
//! (keepalived keeps a real server only while all its checkers are up), and
//! a comment says where to put it when the section has no such block.
//!
//! # Why `weight 0 reverse`
//!
//! A `track_file` value counts through its weight: a non-zero weight adds
//! value x weight to the real server's IPVS weight and only a result at or
//! below -2^31 is a failure, so neither `0` nor `1` can ever fail; with
//! `weight 0` the value is a verdict: zero is up, non-zero is down, and
//! `reverse` turns that round to our files' meaning (`1` up, `0` down).
//!
//! # What keepalived 2.2.7 does (measured)
//!
//! Measured with the real daemon (checker only, IPVS stubbed:
//! tests/it/serve_keepalived.rs asserts every row, so a keepalived that
//! changes shows) with `weight 0 reverse`; "in"/"out" is the real server in
//! the IPVS table. The state file is replaced atomically (rename), as
//! check_raw_serve writes it; keepalived reads it on inotify's
//! IN_CLOSE_WRITE / IN_MOVED_TO / IN_DELETE, without polling.
//!
//! | file | when keepalived starts | while it runs |
//! |---|---|---|
//! | `1` (any non-zero) | **out**, until the file goes to `0` and back | in |
//! | `0` | **in**, until the file goes to `1` and back to `0` | out |
//! | missing | **in** (as `0` above) | out (deletion counts as `0`) |
//! | empty, garbage (`strtol` reads 0) | **in** (as `0`) | out |
//! | its directory missing | **in**, for good: the track_file is dropped ("Track file directory ... does not exist - removing") | - |
//! | same value rewritten | - | nothing (only a change of value counts) |
//!
//! So while keepalived runs, the section fails closed: `0`, a deleted
//! file, an empty or garbage file all take the server out. At keepalived's
//! start it does not, and no option of 2.2.7 makes it: its start-up code
//! (`set_track_file_checkers_down`, keepalived/check/check_file.c) marks
//! the checker down for a non-zero value with weight 0 and ignores
//! `reverse`, so the start-up verdict is the inverse of the running one:
//! a healthy server stays out and a failed one stays in until its file
//! changes twice. A reload (SIGHUP) puts the non-zero case right (the
//! server is added) but not the zero case. Without `reverse` the start-up
//! is right but the meaning is `0` up, and a missing file is up for good.
//!
//! `init_file [VALUE] [overwrite]` exists in 2.2.7 (on the `track_file`):
//! it writes VALUE (default 0) at keepalived's start if the file is
//! missing, or always with `overwrite`. `init_file 0` makes a missing
//! file `0` (still **in** at start, by the inversion above).
//! `init_file 2 overwrite` (measured) starts every server **out** (fail
//! closed), but a healthy server then stays out until its file goes to
//! `0` and back to `1`: only a daemon that rewrites a file it finds
//! holding another value could use it, so the section does not use it.
//!
//! What keepalived does not allow, then, and the operator must know:
//! - at keepalived's start, the state files are read inverted (table
//!   above): restart keepalived only while check_raw_serve runs, and expect
//!   each server to be right only after its file's next two changes, or
//!   reload keepalived once after start (fixes healthy servers only);
//! - state_dir must exist before keepalived starts, or the checks are
//!   silently dropped and their servers stay in;
//! - the FILE_CHECK has no alpha/retry/delay: it follows the file at once,
//!   so rise and fall live in check_raw_serve alone.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One check as keepalived sees it: the real server it vouches for, in the
/// virtual service `vip`:`port`, and the file that holds its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepalivedTarget {
    /// The check's name, also the `track_file` name ([A-Za-z0-9_.-]+).
    pub name: String,
    pub vip: IpAddr,
    /// None: a check of the VIP alone (check_raw_vip), no service port.
    pub port: Option<u16>,
    pub real_server: IpAddr,
    /// `state_dir/NAME`, absolute.
    pub state_file: PathBuf,
}

/// The parts of the `virtual_server` blocks that are the operator's choice,
/// not the checks'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentOptions {
    /// `lb_algo` (IPVS scheduler).
    pub lb_algo: String,
    /// Each real server's IPVS weight while it is up.
    pub weight: u32,
}

impl Default for FragmentOptions {
    fn default() -> Self {
        FragmentOptions {
            lb_algo: "wlc".to_owned(),
            weight: 1,
        }
    }
}

/// The `track_file` settings: see the module doc for why these.
const TRACK_WEIGHT: &str = "weight 0 reverse";

/// Why a path cannot stand in keepalived.conf, or `None` if it can.
/// keepalived reads the quoted string up to the next `"` with no escapes,
/// and `#` or `!` may start a comment; a relative path would be resolved
/// against keepalived's own working directory.
pub fn unfit_path(path: &Path) -> Option<String> {
    let Some(s) = path.to_str() else {
        return Some(format!("{}: not UTF-8", path.display()));
    };
    if !path.is_absolute() {
        return Some(format!("{s}: not an absolute path"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '#' | '!'))
    {
        return Some(format!(
            "{s}: keepalived.conf cannot hold {c:?} in a file name"
        ));
    }
    None
}

/// The keepalived.conf section for `targets`, in a deterministic order
/// (sorted by VIP, port, real server, then name), whatever order they come
/// in. Every state file must pass [`unfit_path`] (the configuration checks
/// it; the section would not parse otherwise).
pub fn fragment(targets: &[KeepalivedTarget], options: &FragmentOptions) -> String {
    let mut sorted: Vec<&KeepalivedTarget> = targets.iter().collect();
    sorted.sort_by(|a, b| {
        (a.vip, a.port, a.real_server, &a.name).cmp(&(b.vip, b.port, b.real_server, &b.name))
    });
    let mut out = String::new();
    let n = sorted.len();
    let _ = writeln!(
        out,
        "# check_raw_serve --print-keepalived: {n} check{} (keepalived >= 2.2.0).",
        if n == 1 { "" } else { "s" }
    );
    out.push_str(
        "# A real server is in IPVS while its check's state file says 1, out while it\n\
         # says 0, is missing or unreadable. But keepalived 2.2.7 reads them inverted\n\
         # when it starts: each server stays so until its file has changed twice.\n",
    );
    for t in &sorted {
        let _ = write!(
            out,
            "\ntrack_file {} {{\n    file \"{}\"\n    {TRACK_WEIGHT}\n}}\n",
            t.name,
            t.state_file.display()
        );
    }

    // (VIP, port) -> real server -> the checks in its block.
    let mut services: BTreeMap<(IpAddr, u16), BTreeMap<IpAddr, Vec<&str>>> = BTreeMap::new();
    for t in sorted.iter().filter(|t| t.port.is_some()) {
        let port = t.port.unwrap_or_default();
        services
            .entry((t.vip, port))
            .or_default()
            .entry(t.real_server)
            .or_default()
            .push(&t.name);
    }
    let mut unplaced = Vec::new();
    for t in sorted.iter().filter(|t| t.port.is_none()) {
        let mut placed = false;
        for ((vip, _), reals) in services.iter_mut() {
            if *vip != t.vip {
                continue;
            }
            if let Some(checks) = reals.get_mut(&t.real_server) {
                checks.push(&t.name);
                placed = true;
            }
        }
        if !placed {
            unplaced.push(*t);
        }
    }
    for t in unplaced {
        let _ = write!(
            out,
            "\n# {name}: checks VIP {vip} on {rs} for every port. Add\n\
             #     FILE_CHECK {{\n\
             #         track_file {name}\n\
             #     }}\n\
             # to each `real_server {rs} PORT` block of every virtual_server of {vip}.\n",
            name = t.name,
            vip = t.vip,
            rs = t.real_server
        );
    }
    for ((vip, port), reals) in &services {
        let _ = write!(
            out,
            "\nvirtual_server {vip} {port} {{\n    lb_algo {}\n    lb_kind DR\n    protocol TCP\n",
            options.lb_algo
        );
        for (rs, checks) in reals {
            let _ = write!(
                out,
                "    real_server {rs} {port} {{\n        weight {}\n",
                options.weight
            );
            for name in checks {
                let _ = write!(
                    out,
                    "        FILE_CHECK {{\n            track_file {name}\n        }}\n"
                );
            }
            out.push_str("    }\n");
        }
        out.push_str("}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str, vip: &str, port: Option<u16>, rs: &str) -> KeepalivedTarget {
        KeepalivedTarget {
            name: name.to_owned(),
            vip: vip.parse().unwrap(),
            port,
            real_server: rs.parse().unwrap(),
            state_file: PathBuf::from("/run/check_raw").join(name),
        }
    }

    /// The section without its opening comment.
    fn body(targets: &[KeepalivedTarget]) -> String {
        let text = fragment(targets, &FragmentOptions::default());
        text.split_once("\n\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn one_ipv4_check_gives_its_track_file_and_virtual_server() {
        let text = fragment(
            &[target("web-rs1", "203.0.113.10", Some(80), "198.51.100.11")],
            &FragmentOptions::default(),
        );
        assert!(text.starts_with("# check_raw_serve --print-keepalived: 1 check (keepalived"));
        assert_eq!(
            body(&[target("web-rs1", "203.0.113.10", Some(80), "198.51.100.11")]),
            "track_file web-rs1 {
    file \"/run/check_raw/web-rs1\"
    weight 0 reverse
}

virtual_server 203.0.113.10 80 {
    lb_algo wlc
    lb_kind DR
    protocol TCP
    real_server 198.51.100.11 80 {
        weight 1
        FILE_CHECK {
            track_file web-rs1
        }
    }
}
"
        );
    }

    #[test]
    fn ipv6_addresses_are_written_bare_as_keepalived_reads_them() {
        let text = body(&[target("v6", "2001:db8::10", Some(443), "2001:db8::11")]);
        assert!(
            text.contains("virtual_server 2001:db8::10 443 {\n"),
            "{text}"
        );
        assert!(
            text.contains("    real_server 2001:db8::11 443 {\n"),
            "{text}"
        );
        assert!(
            !text.contains('['),
            "no brackets: keepalived refuses them\n{text}"
        );
    }

    #[test]
    fn several_ports_and_servers_come_sorted_whatever_the_input_order() {
        let targets = [
            target("b-8080", "203.0.113.10", Some(8080), "198.51.100.12"),
            target("a-80", "203.0.113.10", Some(80), "198.51.100.12"),
            target("c-80", "203.0.113.10", Some(80), "198.51.100.11"),
            target("z-443", "203.0.113.9", Some(443), "198.51.100.11"),
            target("v6", "2001:db8::10", Some(80), "2001:db8::11"),
        ];
        let text = body(&targets);
        let mut reversed = targets.to_vec();
        reversed.reverse();
        assert_eq!(
            text,
            body(&reversed),
            "the order must not depend on the input"
        );
        let heads: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("_server ") || l.starts_with("track_file "))
            .collect();
        assert_eq!(
            heads,
            [
                "track_file z-443 {",
                "track_file c-80 {",
                "track_file a-80 {",
                "track_file b-8080 {",
                "track_file v6 {",
                "virtual_server 203.0.113.9 443 {",
                "    real_server 198.51.100.11 443 {",
                "virtual_server 203.0.113.10 80 {",
                "    real_server 198.51.100.11 80 {",
                "    real_server 198.51.100.12 80 {",
                "virtual_server 203.0.113.10 8080 {",
                "    real_server 198.51.100.12 8080 {",
                "virtual_server 2001:db8::10 80 {",
                "    real_server 2001:db8::11 80 {",
            ]
        );
        assert_eq!(text.matches("lb_kind DR").count(), 4);
    }

    #[test]
    fn two_checks_of_one_real_server_share_its_block() {
        let text = body(&[
            target("tcp", "203.0.113.10", Some(80), "198.51.100.11"),
            target("http", "203.0.113.10", Some(80), "198.51.100.11"),
        ]);
        assert_eq!(text.matches("real_server ").count(), 1, "{text}");
        let http = text.find("track_file http\n").expect("http's FILE_CHECK");
        let tcp = text.find("track_file tcp\n").expect("tcp's FILE_CHECK");
        assert!(http < tcp, "sorted by name within the block\n{text}");
    }

    #[test]
    fn a_vip_check_joins_every_block_of_its_real_server_on_that_vip() {
        let text = body(&[
            target("vip-rs1", "203.0.113.10", None, "198.51.100.11"),
            target("web-rs1", "203.0.113.10", Some(80), "198.51.100.11"),
            target("tls-rs1", "203.0.113.10", Some(443), "198.51.100.11"),
            target("web-rs2", "203.0.113.10", Some(80), "198.51.100.12"),
            target("other-vip", "203.0.113.20", Some(80), "198.51.100.11"),
        ]);
        assert!(text.contains("track_file vip-rs1 {\n"), "{text}");
        // rs1 on :80 and :443 of 203.0.113.10; not rs2, not the other VIP.
        assert_eq!(
            text.matches("            track_file vip-rs1\n").count(),
            2,
            "{text}"
        );
        let other = text.split("virtual_server 203.0.113.20 80").nth(1).unwrap();
        assert!(!other.contains("vip-rs1"), "{text}");
        assert!(!text.contains("# vip-rs1"), "placed, so no comment\n{text}");
    }

    #[test]
    fn a_vip_check_alone_is_a_track_file_and_a_comment_saying_where_it_goes() {
        let text = body(&[target("vip-rs3", "2001:db8::10", None, "2001:db8::13")]);
        assert!(text.contains("track_file vip-rs3 {\n"), "{text}");
        assert!(
            !text.contains("\nvirtual_server"),
            "no port, no service\n{text}"
        );
        assert!(
            text.contains("# to each `real_server 2001:db8::13 PORT` block of every virtual_server of 2001:db8::10."),
            "{text}"
        );
        // The comment's lines are all comments: the section still parses.
        let after = text.split_once("\n}\n").unwrap().1;
        assert!(
            after.lines().all(|l| l.is_empty() || l.starts_with('#')),
            "{text}"
        );
    }

    #[test]
    fn options_set_the_scheduler_and_weight() {
        let text = fragment(
            &[target("w", "203.0.113.10", Some(80), "198.51.100.11")],
            &FragmentOptions {
                lb_algo: "rr".to_owned(),
                weight: 5,
            },
        );
        assert!(text.contains("    lb_algo rr\n"), "{text}");
        assert!(text.contains("        weight 5\n"), "{text}");
    }

    #[test]
    fn no_targets_give_only_the_comment() {
        let text = fragment(&[], &FragmentOptions::default());
        assert!(text.lines().all(|l| l.starts_with('#')), "{text}");
        assert!(text.contains(": 0 checks ("), "{text}");
    }

    #[test]
    fn paths_keepalived_cannot_hold_are_named() {
        assert_eq!(unfit_path(Path::new("/run/check_raw/web-rs1")), None);
        for bad in ["run/x", "/run/a b", "/run/a\"b", "/run/a#b", "/run/a!b"] {
            assert!(unfit_path(Path::new(bad)).is_some(), "{bad}");
        }
    }
}
