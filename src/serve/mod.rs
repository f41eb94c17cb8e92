//! check_raw_serve: every check of a pool from one long-running process,
//! each the plugin command line it replaces. This layer sits above
//! `checks` (a check's run is the plugins' run) and below `main`; its
//! modules are pure: time is passed in, never read, and nothing here
//! decides how a run is carried out.
//!
//! `config`: the configuration file, read, checked and summed up.

pub mod config;
