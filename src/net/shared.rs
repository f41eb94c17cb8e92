//! check_raw_serve's packet engine: what the runs of a long-running
//! process share. Today, the rule that the process keeps CAP_NET_RAW and
//! each run opens its own filtered socket through [`Engine::open`]; next,
//! one AF_PACKET socket per interface for every flow of every check,
//! demultiplexed to the runs in flight (docs/ARCHITECTURE.md).

use super::bpf::Program;
use super::path::PathError;
use super::socket::PacketSocket;

/// The shared packet engine of one check_raw_serve process.
#[derive(Debug, Default)]
pub struct Engine {
    _private: (),
}

impl Engine {
    pub fn new() -> Engine {
        Engine::default()
    }

    /// A packet socket on `ifindex` that passes what `filter` passes, for
    /// one run. The process holds CAP_NET_RAW throughout (no raise, no
    /// drop: capabilities are per thread, and a worker runs many checks).
    pub fn open(&self, ifindex: u32, filter: &Program) -> Result<PacketSocket, PathError> {
        PacketSocket::open(ifindex, filter).map_err(PathError::Socket)
    }
}
