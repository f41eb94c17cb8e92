//! check_raw: LVS-DR real-server health checks that follow the real traffic's path.
//!
//! A check sends hand-built Ethernet frames to the real server's MAC with the
//! VIP as destination IP, so a real server that lost the VIP fails it. The
//! crate is a library so that tests and fuzz targets reach every layer; the
//! binary (`src/main.rs`) only dispatches, prints and exits.
//!
//! Read top-down, a check is: `cli` (argv to a checked config) -> `checks`
//! (the role, then the probe over a `channel`: raw frames through `net`
//! as MASTER, the kernel's TCP or UDP from `transport` as BACKUP) ->
//! `outcome` (one status line, an exit code). Nothing below `main` prints
//! or exits.
//!
//! # Layers
//!
//! Each layer uses only the layers below it (and its own); nothing points
//! up or sideways. `tests/architecture.rs` keeps this true from the table
//! it holds, which mirrors this list. Bottom to top:
//!
//! 1. base: what every layer shares, no I/O policy of its own:
//!    `text` (words for the status line), `threshold` (Nagios ranges),
//!    `trace` (the `-v` lines), `wait` (signal-aware waits, the process
//!    clock), `detach` (closing sockets off the critical path), `failure`
//!    (how an exchange fails, and at which step), `outcome` (the status
//!    line and exit code), `role` (MASTER or BACKUP), `resolve` (names to
//!    addresses), `channel` (what a probe talks through: `Transport`,
//!    `Datagram`, `Peer`), `resend` (the request loop with backoff) and
//!    `privilege` (who may send what, and dropping the capability).
//! 2. `net`: the raw-frame engine (wire formats, the packet socket, BPF,
//!    links, neighbours, ports, the sans-IO TCP client, the raw path and
//!    the channels over it).
//! 3. `transport`: the kernel's stream and datagram, TLS over any stream.
//! 4. `http`, `dns`: sans-IO protocol codecs; they use base only.
//! 5. `cli`: argv to a checked config.
//! 6. `checks`: the probes, one per check, over a channel the role picks.
//! 7. `serve`: check_raw_serve's configuration, rise/fall state,
//!    schedule and keepalived fragments (many checks, one process).
//! 8. `main` (the binary): dispatch, print, exit.

// Layer 1, base.
pub mod channel;
pub mod detach;
pub mod failure;
pub mod outcome;
pub mod privilege;
pub mod resend;
pub mod resolve;
pub mod role;
pub mod text;
pub mod threshold;
pub mod trace;
pub mod wait;

// Layer 2.
pub mod net;

// Layer 3.
pub mod transport;

// Layer 4.
pub mod dns;
pub mod http;

// Layer 5.
pub mod cli;

// Layer 6.
pub mod checks;

// Layer 7, serve.
pub mod serve;
