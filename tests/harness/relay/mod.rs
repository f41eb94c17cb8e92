//! Fault injection for the testbed. netem is not available on the kernels we
//! test on, so loss and delay come from a relay of our own: a thread of the
//! test process in a `relay` namespace spliced between the LB and the switch,
//! forwarding every frame between two AF_PACKET sockets and dropping or
//! holding back the ones its `FaultPlan` names.
//!
//! ```text
//!   lb:eth0 <-veth-> relay:lbside [relay thread] relay:swside <-veth-> sw:prelay (br0)
//! ```
//!
//! Also here: `Flood`, an `iperf3` UDP flood at the LB's interface from a
//! `flood` namespace on the bridge.
//!
//! Everything is bounded and owned: the relay stops and is joined, its
//! namespace deleted, and flood processes killed when their owner drops,
//! also when a test panics.
//!
//! Files: `plan` (the `FaultPlan`, what it decides for each frame, and what
//! the relay saw), `forward` (the relay thread and its sockets), `flood`
//! (the iperf3 flood). This file splices the relay into a testbed.

mod flood;
mod forward;
mod plan;

use std::ops::Deref;
use std::thread;
use std::time::{Duration, Instant};

use super::netns;
use super::testbed::{Testbed, IFACE, SWITCH};

pub use flood::{lb_rx_packets, Flood, FLOOD_IP};
pub use forward::Relay;
pub use plan::{Dir, DirStats, Event, FaultPlan, Faults, Kind, Stats, TcpInfo};

/// Links must be up within this after rewiring.
const LINK_UP_LIMIT: Duration = Duration::from_secs(5);

// ---- the testbed with a relay ----------------------------------------------

/// A `Testbed` whose LB reaches the switch only through the relay. Derefs to
/// the `Testbed`, so `run`, `serve`, `established_on`... work as usual.
pub struct RelayBed {
    relay: Option<Relay>,
    relay_ns: String,
    tb: Testbed,
}

impl Testbed {
    /// The default testbed (listeners on rs1 and rs2) with the relay
    /// between `lb` and the switch, applying `plan`.
    pub fn with_relay(plan: FaultPlan) -> RelayBed {
        RelayBed::new(Testbed::new(), plan)
    }
}

impl RelayBed {
    /// Splices a relay into `tb`: `lb`'s veth peer moves out of the switch
    /// into the relay namespace as `lbside`, and a new veth `swside`/`prelay` joins
    /// the relay to the bridge. `lb`'s own eth0 (address, MAC) is untouched.
    pub fn new(tb: Testbed, plan: FaultPlan) -> RelayBed {
        let relay_ns = format!("{}relay", netns::unique_stem());
        netns::create(std::slice::from_ref(&relay_ns));
        // From here on a panic drops `bed`, which removes what was made.
        let mut bed = RelayBed {
            relay: None,
            relay_ns,
            tb,
        };
        bed.rewire();
        let relay = Relay::start(&bed.relay_ns, plan)
            .unwrap_or_else(|e| panic!("cannot start the relay: {e}"));
        bed.relay = Some(relay);
        bed
    }

    fn rewire(&self) {
        let (relay, sw, lb) = (
            self.relay_ns.as_str(),
            self.tb.ns(SWITCH).to_owned(),
            self.tb.ns("lb").to_owned(),
        );
        // The relay's kernel must stay silent: no IPv6 autoconfiguration
        // frames of its own on lbside or swside.
        netns::in_netns(relay, || {
            for conf in ["all", "default"] {
                std::fs::write(format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6"), "1")?;
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("sysctls in {relay}: {e}"));
        netns::ip_batch(
            Some(&sw),
            &[
                "link set plb nomaster".to_owned(),
                format!("link set plb netns {relay}"),
            ],
        );
        netns::ip_batch(
            None,
            &[format!(
                "link add name swside netns {relay} type veth peer name prelay netns {sw}"
            )],
        );
        netns::ip_batch(
            Some(relay),
            &[
                "link set lo up".to_owned(),
                "link set dev plb name lbside".to_owned(),
                "link set dev lbside promisc on".to_owned(),
                "link set dev swside promisc on".to_owned(),
                "link set dev lbside up".to_owned(),
                "link set dev swside up".to_owned(),
            ],
        );
        netns::ip_batch(
            Some(&sw),
            &[
                "link set prelay master br0".to_owned(),
                "link set prelay up".to_owned(),
            ],
        );
        for (ns, dev) in [
            (relay, "lbside"),
            (relay, "swside"),
            (sw.as_str(), "prelay"),
        ] {
            offloads_off(ns, dev);
        }
        wait_until("relay links up", || {
            let up = |ns: &str, dev: &str| {
                netns::output("ip", &["-o", "-n", ns, "link", "show", dev])
                    .is_ok_and(|l| l.contains("LOWER_UP"))
            };
            let forwarding =
                netns::output("ip", &["-d", "-o", "-n", &sw, "link", "show", "prelay"])
                    .is_ok_and(|l| l.contains("LOWER_UP") && l.contains("state forwarding"));
            forwarding && up(relay, "lbside") && up(relay, "swside") && up(&lb, IFACE)
        });
    }

    pub fn relay(&self) -> &Relay {
        self.relay.as_ref().expect("relay running")
    }
}

impl Deref for RelayBed {
    type Target = Testbed;
    fn deref(&self) -> &Testbed {
        &self.tb
    }
}

impl Drop for RelayBed {
    fn drop(&mut self) {
        // Relay thread first (it lives in the namespace), then the
        // namespace (its veths go with it); the Testbed drops after this.
        self.relay = None;
        netns::destroy(std::slice::from_ref(&self.relay_ns));
    }
}

/// Checksum and segmentation offloads off, as on every testbed veth.
fn offloads_off(ns: &str, dev: &str) {
    let args = [
        "-K", dev, "rx", "off", "tx", "off", "tso", "off", "gso", "off", "gro", "off",
    ];
    netns::output_in(ns, "ethtool", &args)
        .unwrap_or_else(|e| panic!("turning offloads off failed: {e}"));
}

/// Polls `ready` every 2 ms for at most `LINK_UP_LIMIT`.
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    for _ in 0..10_000 {
        if ready() {
            return;
        }
        if start.elapsed() > LINK_UP_LIMIT {
            break;
        }
        thread::sleep(Duration::from_millis(2));
    }
    panic!("{what}: not ready after {:?}", start.elapsed());
}
