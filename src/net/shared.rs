//! check_raw_serve's packet engine: one AF_PACKET socket per interface
//! for every flow of every check, demultiplexed to the runs in flight.
//! (To be filled: see docs/ARCHITECTURE.md.)

/// The shared packet engine of one check_raw_serve process.
#[derive(Debug, Default)]
pub struct Engine {
    _private: (),
}
