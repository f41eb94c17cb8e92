//! `Flood`: an `iperf3` UDP flood at the LB's interface from a `flood`
//! namespace on the bridge, and `lb_rx_packets` to measure it.

use std::io;
use std::process::Command;
use std::thread;
use std::time::Duration;

use super::{offloads_off, wait_until};
use crate::harness::netns;
use crate::harness::process::{self, Spawned};
use crate::harness::testbed::{Testbed, IFACE, LB_IP, SWITCH};

/// The flood host's address on the testbed LAN.
pub const FLOOD_IP: &str = "198.51.100.50";
const IPERF_PORT: &str = "5201";

/// An `iperf3 -u -b 0 -l 64` flood from a `flood` namespace on the bridge
/// (`FLOOD_IP`) at an `iperf3 -s` in `lb`: small UDP datagrams at whatever
/// rate one sender reaches, none of them for check_raw's socket. Dropping it
/// kills both iperf3 processes and removes the namespace.
pub struct Flood {
    client: Option<Spawned>,
    server: Option<Spawned>,
    ns: String,
    lb_ns: String,
}

impl Flood {
    /// Starts the flood and returns once `lb` receives it. Panics if
    /// iperf3 is missing: a flood test that floods nothing proves nothing.
    pub fn start(tb: &Testbed, seconds: u32) -> Flood {
        if let Err(e) = Command::new("iperf3").arg("--version").output() {
            panic!("iperf3 is needed for the flood (apt-get install -y iperf3): {e}");
        }
        let ns = format!("{}flood", netns::unique_stem());
        netns::create(std::slice::from_ref(&ns));
        let sw = tb.ns(SWITCH).to_owned();
        let mut flood = Flood {
            client: None,
            server: None,
            ns,
            lb_ns: tb.ns("lb").to_owned(),
        };
        let ns = flood.ns.clone();
        netns::ip_batch(
            None,
            &[format!(
                "link add {IFACE} netns {ns} type veth peer name pflood netns {sw}"
            )],
        );
        netns::ip_batch(
            Some(&sw),
            &[
                "link set pflood master br0".to_owned(),
                "link set pflood up".to_owned(),
            ],
        );
        netns::ip_batch(
            Some(&ns),
            &[
                "link set lo up".to_owned(),
                format!("addr add {FLOOD_IP}/24 dev {IFACE}"),
                format!("link set {IFACE} up"),
            ],
        );
        offloads_off(&ns, IFACE);
        offloads_off(&sw, "pflood");
        wait_until("flood link up", || {
            netns::output("ip", &["-d", "-o", "-n", &sw, "link", "show", "pflood"])
                .is_ok_and(|l| l.contains("LOWER_UP") && l.contains("state forwarding"))
        });

        flood.server = Some(flood.iperf3(&flood.lb_ns, &["-s", "-p", IPERF_PORT]));
        let lb_ns = flood.lb_ns.clone();
        wait_until("iperf3 -s listening in lb", || {
            netns::output(
                "ss",
                &["-N", &lb_ns, "-Hltn", &format!("( sport = :{IPERF_PORT} )")],
            )
            .is_ok_and(|o| !o.trim().is_empty())
        });
        let t = seconds.to_string();
        let args = [
            "-u", "-b", "0", "-l", "64", "-c", LB_IP, "-p", IPERF_PORT, "-t", &t,
        ];
        flood.client = Some(flood.iperf3(&ns, &args));
        // Started once lb counts a burst of frames in 50 ms.
        let mut last = lb_rx_packets(tb);
        wait_until("flood reaching lb", || {
            thread::sleep(Duration::from_millis(50));
            let now = lb_rx_packets(tb);
            let burst = now.saturating_sub(last) > 1000;
            last = now;
            burst
        });
        flood
    }

    fn iperf3(&self, ns: &str, args: &[&str]) -> Spawned {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, "iperf3"]).args(args);
        process::spawn(cmd)
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        // Spawned's Drop SIGKILLs each process group and reaps it.
        self.client = None;
        self.server = None;
        netns::destroy(std::slice::from_ref(&self.ns));
    }
}

/// Frames received so far on `lb`'s eth0, from /proc/thread-self/net/dev
/// read by a thread inside `lb` (that file follows the thread's namespace).
pub fn lb_rx_packets(tb: &Testbed) -> u64 {
    tb.in_ns("lb", || {
        let text = std::fs::read_to_string("/proc/thread-self/net/dev")?;
        text.lines()
            .find_map(|l| {
                l.trim_start()
                    .strip_prefix(&format!("{IFACE}:"))
                    .map(str::to_owned)
            })
            .and_then(|rest| rest.split_whitespace().nth(1)?.parse().ok())
            .ok_or_else(|| io::Error::other(format!("no {IFACE} in net/dev:\n{text}")))
    })
    .unwrap_or_else(|e| panic!("reading lb's rx_packets: {e}"))
}
