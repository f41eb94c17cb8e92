//! check_raw_serve: many checks, one process. This layer holds the pure
//! pieces the daemon is built from (time passed in, no packet engine):
//! the rise/fall state of each check, keepalived's state files and the
//! schedule that spreads the checks over their interval.

pub mod schedule;
pub mod state;
pub mod statefile;
