//! check_raw: LVS-DR real-server health checks that follow the real traffic's path.
//!
//! A check sends hand-built Ethernet frames to the real server's MAC with the
//! VIP as destination IP, so a real server that lost the VIP fails it. The
//! crate is a library so that tests and fuzz targets reach every layer; the
//! binary (`src/main.rs`) only dispatches, prints and exits.
//!
//! Read top-down, a check is: `cli` (argv to a checked config) -> `checks`
//! (the role, then the probe over a `transport`: raw frames through `net`
//! as MASTER, the kernel's TCP as BACKUP) -> `outcome` (one status line, an
//! exit code). Nothing below `main` prints or exits.

pub mod checks;
pub mod cli;
pub mod detach;
pub mod dns;
pub mod failure;
pub mod http;
pub mod net;
pub mod outcome;
pub mod resolve;
pub mod role;
pub mod text;
pub mod threshold;
pub mod trace;
pub mod transport;
pub mod wait;
