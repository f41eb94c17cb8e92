//! What the installed, capability-bearing binary gives a local user: the
//! check, and nothing else.
//!
//! Each test copies the release binary into its own temp dir, gives the
//! copy `cap_net_raw+ep` as `make install` and the packages do, and runs it
//! as `nobody` (setpriv) on the testbed's MASTER `lb`:
//!
//! - towards the VIP `lb` holds (the MASTER's case) the check runs, and
//!   `-v` says the capability went once the packet socket was open;
//! - towards an address `lb` does not hold, a UDP (check_raw_dns) or TCP
//!   (check_raw_tcp) check is refused with one UNKNOWN line and no frame
//!   reaches the real server (an nftables counter on rs1's ingress, which
//!   counts ARP too; the same check as root is the control that the
//!   counter counts);
//! - while a check waits on a real server that never answers, its
//!   `CapEff` and `CapPrm` are 0 (/proc/PID/status);
//! - the self-test switches (`CHECK_RAW_SELF_TEST_*`) change nothing for
//!   `nobody`; and the detached child that closes the socket after the
//!   verdict holds no capability (as root, whose switch keeps it alive
//!   long enough to look at).
//!
//! Needs root, the testbed's programs, setcap, setpriv and nft; skips with
//! a message otherwise.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::*;

const SETCAP: Need = Need::Program("setcap", "libcap2-bin");
const NFT: Need = Need::Program("nft", "nftables");

/// An address no host of the testbed holds: the VIP of a balancer this
/// host is not (TEST-NET-1).
const FOREIGN_VIP: &str = "192.0.2.53";

/// The release binary's copy with the file capability, in a directory
/// `nobody` can reach.
struct Installed {
    _dir: TempDir,
    bin: PathBuf,
}

fn install() -> Installed {
    let dir = TempDir::new();
    let bin = dir.write("check_raw", &std::fs::read(CHECK_RAW).expect("read binary"));
    for path in [dir.path(), bin.as_path()] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let out = std::process::Command::new("setcap")
        .arg("cap_net_raw+ep")
        .arg(&bin)
        .output()
        .expect("run setcap");
    assert!(
        out.status.success(),
        "setcap: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Installed { _dir: dir, bin }
}

/// `setpriv` as `nobody` (uid and gid 65534, no groups, no inheritable
/// capabilities): the file capability is all it has.
fn as_nobody<'a>(bin: &'a Path, env: &[&'a str], args: &[&'a str]) -> Vec<&'a str> {
    let mut cmd = vec!["env"];
    cmd.extend(env);
    cmd.extend([
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        bin.to_str().expect("UTF-8 path"),
    ]);
    cmd.extend(args);
    cmd
}

/// As root, the same binary.
fn as_root<'a>(bin: &'a Path, env: &[&'a str], args: &[&'a str]) -> Vec<&'a str> {
    let mut cmd = vec!["env"];
    cmd.extend(env);
    cmd.push(bin.to_str().expect("UTF-8 path"));
    cmd.extend(args);
    cmd
}

/// Counts the ARP and IPv4 frames from `lb`'s MAC arriving on rs1's eth0
/// (netdev ingress: before anything of rs1's could drop them). IPv6 is
/// left out: `lb` sends router solicitations of its own.
struct Counter<'t> {
    tb: &'t Testbed,
}

impl<'t> Counter<'t> {
    fn on_rs1(tb: &'t Testbed, dir: &TempDir) -> Counter<'t> {
        let script = format!(
            "table netdev crt {{\n  chain in {{\n    type filter hook ingress device {IFACE} priority 0;\n    ether saddr {} ether type {{ arp, ip }} counter\n  }}\n}}\n",
            tb.mac("lb")
        );
        let file = dir.write("count.nft", script.as_bytes());
        let r = tb.run_in("rs1", &["nft", "-f", file.to_str().unwrap()]);
        assert_eq!(r.code, Some(0), "nft -f\n{r}");
        Counter { tb }
    }

    fn frames(&self) -> u64 {
        let r = self
            .tb
            .run_in("rs1", &["nft", "list", "chain", "netdev", "crt", "in"]);
        assert_eq!(r.code, Some(0), "nft list\n{r}");
        r.stdout
            .split_whitespace()
            .skip_while(|w| *w != "packets")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no counter in\n{r}"))
    }
}

#[test]
fn nobody_checks_the_local_vip_and_the_capability_goes() {
    require!(Need::Testbed, SETCAP, SETPRIV);
    let tb = Testbed::new();
    let i = install();
    let port = PORT.to_string();
    let r = tb.run_in(
        "lb",
        &as_nobody(&i.bin, &[], &["tcp", "-v", IFACE, RS1, VIP, &port]),
    );
    assert_eq!(r.code, Some(0), "{r}");
    assert!(r.status_line().starts_with("RAW_TCP OK - "), "{r}");
    assert!(
        r.stdout
            .contains("capabilities dropped: CAP_NET_RAW gone after the packet socket opened"),
        "-v names the drop\n{r}"
    );
}

/// A non-local target for `nobody`: one UNKNOWN line naming the rule, no
/// frame on rs1; the same as root reaches rs1 (the counter's control).
/// `held_elsewhere`: lb holds the target, but on an interface of its own
/// that the check does not send out of (as every Docker host holds
/// docker0's 172.17.0.1): not a VIP of this director either.
fn refused_with_nothing_sent(check: &[&str], service: &str, held_elsewhere: bool) {
    let tb = Testbed::new();
    if held_elsewhere {
        for cmd in [
            "ip link add crtx0 type veth peer name crtx1",
            &format!("ip addr add {FOREIGN_VIP}/24 dev crtx0"),
            "ip link set crtx0 up",
        ] {
            let args: Vec<&str> = cmd.split(' ').collect();
            let r = tb.run_in("lb", &args);
            assert_eq!(r.code, Some(0), "{cmd}\n{r}");
        }
    }
    let i = install();
    let dir = TempDir::new();
    let counter = Counter::on_rs1(&tb, &dir);
    let r = tb.run_in("lb", &as_nobody(&i.bin, &[], check));
    assert_eq!(r.code, Some(3), "{r}");
    assert_eq!(r.stdout.lines().count(), 1, "one line\n{r}");
    let line = r.status_line();
    assert!(line.starts_with(&format!("{service} UNKNOWN - ")), "{r}");
    assert!(
        line.contains("not root")
            && line.contains("holds on lo or on the interface it sends out of")
            && line.contains(FOREIGN_VIP),
        "the rule, named\n{r}"
    );
    // The detached close, if any, is long over; nothing may come late.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counter.frames(), 0, "no frame may reach rs1\n{r}");
    let control = tb.run_in("lb", &as_root(&i.bin, &[], check));
    assert!(
        counter.frames() > 0,
        "as root the same check reaches rs1 (the counter counts)\n{control}"
    );
}

#[test]
fn nobody_may_not_send_udp_to_an_address_this_host_lacks() {
    require!(Need::Testbed, SETCAP, SETPRIV, NFT);
    let check = [
        "dns",
        "-t",
        "500",
        IFACE,
        RS1,
        FOREIGN_VIP,
        "53",
        "x.example.com",
    ];
    refused_with_nothing_sent(&check, "RAW_DNS", false);
}

#[test]
fn nobody_may_not_send_tcp_to_an_address_this_host_lacks() {
    require!(Need::Testbed, SETCAP, SETPRIV, NFT);
    let check = ["tcp", "-t", "500", IFACE, RS1, FOREIGN_VIP, "22"];
    refused_with_nothing_sent(&check, "RAW_TCP", false);
}

#[test]
fn nobody_may_not_send_to_an_address_held_on_another_interface() {
    require!(Need::Testbed, SETCAP, SETPRIV, NFT);
    let check = ["tcp", "-t", "500", IFACE, RS1, FOREIGN_VIP, "22"];
    refused_with_nothing_sent(&check, "RAW_TCP", true);
}

/// `CapEff` and `CapPrm` of process `pid`, if it still lives.
fn caps_of(pid: i32) -> Option<(String, String)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
    };
    Some((field("CapEff:")?, field("CapPrm:")?))
}

#[test]
fn no_capability_is_held_while_the_check_waits() {
    require!(Need::Testbed, SETCAP, SETPRIV);
    let tb = Testbed::new();
    let i = install();
    let port = PORT.to_string();
    // rs2 lacks the VIP: it drops the SYN, and the check waits out -t.
    let cmd = as_nobody(&i.bin, &[], &["tcp", "-t", "3000", IFACE, RS2, VIP, &port]);
    let (program, args) = cmd.split_first().unwrap();
    let check = tb.spawn("lb", Path::new(program), args);
    let pid = check.pid();
    // ip netns exec, env and setpriv all exec: the pid becomes the check's.
    let exe = PathBuf::from(format!("/proc/{pid}/exe"));
    let mut seen = Vec::new();
    let until = Instant::now() + Duration::from_millis(2000);
    while Instant::now() < until {
        if std::fs::read_link(&exe).is_ok_and(|p| p == i.bin) {
            if let Some(caps) = caps_of(pid) {
                seen.push(caps);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = check.wait(Duration::from_secs(10));
    assert!(r.status_line().starts_with("RAW_TCP CRITICAL - "), "{r}");
    let zero = "0000000000000000".to_owned();
    let last = seen.last().cloned();
    assert_eq!(
        last,
        Some((zero.clone(), zero)),
        "CapEff and CapPrm 0 while the check waits (seen: {seen:?})\n{r}"
    );
}

#[test]
fn self_test_switches_change_nothing_for_nobody() {
    require!(Need::Testbed, SETCAP, SETPRIV);
    let tb = Testbed::new();
    let i = install();
    let port = PORT.to_string();
    let panic = ["CHECK_RAW_SELF_TEST_PANIC=1"];
    let check = ["tcp", IFACE, RS1, VIP, &port];
    let r = tb.run_in("lb", &as_nobody(&i.bin, &panic, &check));
    assert_eq!(r.code, Some(0), "nobody's switch is ignored\n{r}");
    assert!(r.status_line().starts_with("RAW_TCP OK - "), "{r}");
    let control = tb.run_in("lb", &as_root(&i.bin, &panic, &check));
    assert!(
        control.status_line().contains("internal error"),
        "root's switch works\n{control}"
    );
}

#[test]
fn the_detached_child_holds_no_capability() {
    require!(Need::Testbed, SETCAP);
    let tb = Testbed::new();
    let i = install();
    let port = PORT.to_string();
    // Root: full capabilities to start with, and the switch that keeps the
    // child alive 1.5 s after the parent's exit.
    let linger = ["CHECK_RAW_SELF_TEST_CHILD_MS=1500"];
    let r = tb.run_in(
        "lb",
        &as_root(&i.bin, &linger, &["tcp", IFACE, RS1, VIP, &port]),
    );
    assert_eq!(r.code, Some(0), "{r}");
    let children: Vec<(i32, Option<(String, String)>)> = std::fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == i.bin))
        .map(|pid| (pid, caps_of(pid)))
        .collect();
    assert_eq!(children.len(), 1, "one detached child\n{r}");
    let zero = "0000000000000000".to_owned();
    assert_eq!(
        children[0].1,
        Some((zero.clone(), zero)),
        "the child holds no capability\n{r}"
    );
}
