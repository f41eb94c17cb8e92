//! The kernel's carriers and TLS: the BACKUP role's stream
//! ([`kernel::KernelStream`], the kernel's TCP to REAL_SERVER:PORT) and
//! datagram exchange ([`kernel_udp::KernelDatagram`]), and
//! [`tls::TlsStream`], TLS over any `Transport` (raw or kernel), itself a
//! `Transport`.
//!
//! The contracts they implement (`Transport`, `Datagram`, `Peer`, `Io`)
//! live in `crate::channel`, below both this layer and `net`, which
//! implements them for the MASTER role: a check holds either without
//! knowing which.

pub mod kernel;
pub mod kernel_udp;
pub mod tls;

#[cfg(test)]
mod tests;
