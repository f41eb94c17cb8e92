//! What `Wire` sends and receives frames through: the plugin's own packet
//! socket, or a run's flow in check_raw_serve's shared engine (its
//! mailbox to receive, the interface's one socket to send). The probes
//! above `Wire` cannot tell them apart; the plugin pays one `match`.

use std::io;
use std::os::fd::RawFd;

use super::Lease;
use crate::net::socket::{PacketSocket, Received};

/// A frame source and sink for one run.
#[derive(Debug)]
pub enum FramePort {
    /// The plugin's (or a fallback run's) own filtered socket.
    Own(PacketSocket),
    /// A flow of the shared engine.
    Shared(Lease),
}

impl FramePort {
    /// Send one complete frame out of the interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        match self {
            FramePort::Own(sock) => sock.send(frame),
            FramePort::Shared(lease) => lease.send(frame),
        }
    }

    /// Readable (POLLIN) while frames wait.
    pub fn raw_fd(&self) -> RawFd {
        match self {
            FramePort::Own(sock) => sock.raw_fd(),
            FramePort::Shared(lease) => lease.raw_fd(),
        }
    }

    /// Frames in hand that `recv` returns although the descriptor may
    /// poll empty.
    pub fn has_queued(&self) -> bool {
        match self {
            FramePort::Own(sock) => sock.has_queued(),
            FramePort::Shared(lease) => lease.has_queued(),
        }
    }

    /// The next frame, or `None` if nothing waits.
    pub fn recv(&mut self) -> io::Result<Option<Received<'_>>> {
        match self {
            FramePort::Own(sock) => sock.recv(),
            FramePort::Shared(lease) => lease.recv(),
        }
    }

    /// The MTU of `ifname` (the interface this port sends on).
    pub fn mtu(&self, ifname: &str) -> io::Result<u32> {
        match self {
            FramePort::Own(sock) => sock.mtu(ifname),
            FramePort::Shared(lease) => lease.mtu(ifname),
        }
    }
}
