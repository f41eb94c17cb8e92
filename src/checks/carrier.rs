//! What a probe talks through, for either role: a [`Carrier`] is the part
//! of the role dispatch ([`CheckRun::over`]) that differs between a byte
//! stream ([`ByteStream`]: TCP) and a datagram exchange ([`Datagrams`]:
//! UDP): the frames the raw path awaits, and how each role opens the
//! channel. Apart from `mod.rs` so that the dispatch reads on its own.

use crate::channel::{Datagram, Peer, Transport};
use crate::net::path::{Awaited, PathError, Proto, RawPath};
use crate::outcome::Outcome;
use crate::trace::Trace;
use crate::transport::kernel::{KernelStream, KernelTarget};
use crate::transport::kernel_udp::KernelDatagram;

use super::CheckRun;

/// What a probe talks through, opened for either role: the part of the
/// role dispatch ([`CheckRun::over`]) that differs between a byte stream
/// and a datagram exchange.
pub trait Carrier {
    /// What the probe gets: `dyn Transport` or `dyn Datagram`, living
    /// as long as the probe's borrow of it.
    type Channel<'a>: ?Sized + 'a;
    /// The kernel's carrier, for `-v`: "kernel connection", "kernel UDP".
    const KERNEL: &'static str;
    /// The frames the raw path must let through for a target on `port`.
    fn expect(port: u16) -> Vec<Awaited>;
    fn peer<'a>(channel: &'a Self::Channel<'_>) -> &'a Peer;
    /// Run `f` over the raw channel to VIP:PORT on `path` (MASTER).
    fn over_raw(
        run: &CheckRun,
        path: &mut RawPath,
        f: impl for<'b> FnOnce(&'b mut Self::Channel<'b>) -> Outcome,
    ) -> Result<Outcome, PathError>;
    /// Run `f` over the kernel's channel to `target` (BACKUP).
    fn over_kernel(
        run: &CheckRun,
        target: KernelTarget,
        trace: &mut Trace,
        f: impl for<'b> FnOnce(&'b mut Self::Channel<'b>) -> Outcome,
    ) -> Outcome;
}

/// TCP: our client over raw frames, or the kernel's.
pub struct ByteStream;

impl Carrier for ByteStream {
    type Channel<'a> = dyn Transport + 'a;
    const KERNEL: &'static str = "kernel connection";

    /// The segments of our flow, and the ICMP errors about them (a port
    /// unreachable or a firewall's REJECT answering the SYN).
    fn expect(port: u16) -> Vec<Awaited> {
        flow_and_errors(Proto::Tcp, port)
    }

    fn peer<'a>(channel: &'a Self::Channel<'_>) -> &'a Peer {
        channel.peer()
    }

    fn over_raw(
        run: &CheckRun,
        path: &mut RawPath,
        f: impl for<'b> FnOnce(&'b mut Self::Channel<'b>) -> Outcome,
    ) -> Result<Outcome, PathError> {
        let t = &run.common.target;
        let mut conn = path.tcp(t.port, run.common.timeout)?;
        Ok(f(&mut conn))
    }

    fn over_kernel(
        run: &CheckRun,
        target: KernelTarget,
        trace: &mut Trace,
        f: impl for<'b> FnOnce(&'b mut Self::Channel<'b>) -> Outcome,
    ) -> Outcome {
        let mut stream =
            KernelStream::new(target, run.waiter, run.deadline, run.common.timeout, trace);
        f(&mut stream)
    }
}

/// UDP: a request and its reply, with the ICMP errors about it on the raw
/// path.
pub struct Datagrams;

impl Carrier for Datagrams {
    type Channel<'a> = dyn Datagram + 'a;
    const KERNEL: &'static str = "kernel UDP";

    fn expect(port: u16) -> Vec<Awaited> {
        flow_and_errors(Proto::Udp, port)
    }

    fn peer<'a>(channel: &'a Self::Channel<'_>) -> &'a Peer {
        channel.peer()
    }

    fn over_raw(
        run: &CheckRun,
        path: &mut RawPath,
        f: impl for<'b> FnOnce(&'b mut Self::Channel<'b>) -> Outcome,
    ) -> Result<Outcome, PathError> {
        Ok(f(&mut path.udp(run.common.target.port)))
    }

    fn over_kernel(
        run: &CheckRun,
        target: KernelTarget,
        trace: &mut Trace,
        f: impl for<'b> FnOnce(&'b mut Self::Channel<'b>) -> Outcome,
    ) -> Outcome {
        f(&mut KernelDatagram::new(
            target,
            run.waiter,
            run.deadline,
            trace,
        ))
    }
}

/// Our `proto` flow with VIP:`port`, and the ICMP errors that quote it:
/// what either carrier's raw path lets through.
fn flow_and_errors(proto: Proto, port: u16) -> Vec<Awaited> {
    vec![
        Awaited::Flow {
            proto,
            remote_port: port,
        },
        Awaited::IcmpErrors {
            proto,
            remote_port: port,
        },
    ]
}
