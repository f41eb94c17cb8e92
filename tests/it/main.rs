//! The integration tests, as one test binary (`cargo test --release --test
//! it`): one module per subject, each the file of the same name here, and
//! the harness (tests/harness/) once for all of them. One binary instead
//! of one per file: each binary compiled the harness again and was linked
//! with the release profile's thin LTO, which made `cargo test --release`
//! spend most of CI's time compiling.
//!
//! libtest runs two tests at once, in the order of their names
//! (`cli::...`, `datagram::...`, ...), so tests of different modules run
//! side by side. What makes that safe: every namespace, temp dir and
//! symlink directory of the harness has a name of its own
//! (`crt<pid>n<k>`, `crt-<pid>-<n>`); namespaces are created under one
//! lock (`netns`); a test that loads the CPU on purpose (a UDP flood,
//! fifty checks at once, the listener flooded, Chromium) runs alone
//! (`harness::alone()`, `harness::load`), because other tests' time bounds
//! (a signal answered within 300 ms, a deadline) cannot stand it. No test
//! changes the process's environment, directory or signal handlers, and a
//! namespace is entered by a thread of its own (`netns`), never by the
//! process (`serve_web` raises the open-file limit, which harms none).
//! tests/detach.rs stays a binary of its own: it makes its process a child
//! subreaper, which would collect every test's orphans here. tests/vm.rs
//! too (tests/with_vm.sh builds and starts it before the others), and
//! tests/architecture.rs (it reads src/ only) and tests/demo.rs (a
//! program, `harness = false`, `make demo`).
//!
//! One module's tests: `cargo test --release --test it -- MODULE::`;
//! tests skip, with a `skipping ...` line, when not root (under CI=true a
//! missing need fails).

#[macro_use]
#[path = "../harness/mod.rs"]
mod harness;

mod cli;
mod datagram;
mod dns;
mod engine;
mod examples;
mod faults;
mod http;
mod http_wire;
mod icinga2;
mod keepalived;
mod ldirectord;
mod nagios;
mod packaging;
mod privilege;
mod roles;
mod sack_recovery;
mod serve;
mod serve_cli;
mod serve_direct;
mod serve_keepalived;
mod serve_modes;
mod serve_network;
mod serve_page;
mod serve_probe;
mod serve_prometheus;
mod serve_web;
mod signals;
mod source;
mod tcp;
mod tls;
mod tls_certificates;
mod vip;
