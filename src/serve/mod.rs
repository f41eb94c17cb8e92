//! check_raw_serve: every check of a pool from one long-running process,
//! each the plugin command line it replaces. This layer sits above
//! `checks` (a check's run is the plugins' run) and below `main`. Its
//! modules are pure, the pieces the daemon is built from: time is passed
//! in, never read, and nothing here decides how a run is carried out
//! (that is the packet engine's, still to come).
//!
//! - `config`: the configuration file, read, checked and summed up;
//! - `state`: each check's rise/fall state and counters;
//! - `statefile`: keepalived's FILE_CHECK files, written atomically;
//! - `schedule`: when each check runs, spread over its interval;
//! - `keepalived`: the keepalived.conf fragments for these checks, and
//!   what keepalived 2.2.7 does with the state files (measured).

pub mod config;
pub mod keepalived;
pub mod schedule;
pub mod state;
pub mod statefile;
