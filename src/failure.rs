//! How a check's exchange with the real server can fail, whichever path
//! carried it (raw frames or the kernel's TCP in the BACKUP role), and the
//! step it was waiting for. `checks` words each one once for both paths.

use std::fmt;
use std::net::IpAddr;

use crate::wait::{Interrupted, WaitError};

/// The step of a check that was under way when it ended; failures name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Arp,
    SynAck,
    /// Waiting for the server's part of a clean close (`-c`).
    Close,
    /// Request sent, no response byte yet.
    ResponseStart,
    /// Response begun, not complete.
    ResponseEnd,
    /// A datagram sent, no matching reply yet.
    Reply,
    /// TCP is up, the TLS handshake is not done (`--ssl`).
    TlsHandshake,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Arp => "ARP/NDP reply",
            Step::SynAck => "SYN/ACK",
            Step::Close => "FIN/ACK of the clean close",
            Step::ResponseStart => "response start",
            Step::ResponseEnd => "response end",
            Step::Reply => "reply",
            Step::TlsHandshake => "TLS handshake",
        })
    }
}

/// What an ICMP or ICMPv6 error says went wrong with the datagram it
/// quotes, in the terms a check reports: both families map onto one set
/// (`net::wire` maps ICMP and ICMPv6 types and codes onto it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpErrorKind {
    PortUnreachable,
    HostUnreachable,
    NetUnreachable,
    /// ICMPv6: Parameter Problem, unrecognized Next Header (RFC 4443 3.4).
    ProtocolUnreachable,
    AdminProhibited,
    /// IPv4 "fragmentation needed and DF set" or ICMPv6 Packet Too Big;
    /// `mtu` is the next-hop MTU, 0 when an old router leaves it out.
    MtuExceeded {
        mtu: u32,
    },
    TimeExceeded,
    /// Any other error type or code, as received.
    Other {
        icmp_type: u8,
        code: u8,
    },
}

impl fmt::Display for IcmpErrorKind {
    /// Words for a status line: "port unreachable", "time exceeded".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IcmpErrorKind::PortUnreachable => f.write_str("port unreachable"),
            IcmpErrorKind::HostUnreachable => f.write_str("host unreachable"),
            IcmpErrorKind::NetUnreachable => f.write_str("network unreachable"),
            IcmpErrorKind::ProtocolUnreachable => f.write_str("protocol unreachable"),
            IcmpErrorKind::AdminProhibited => f.write_str("administratively prohibited"),
            IcmpErrorKind::MtuExceeded { mtu: 0 } => f.write_str("packet too big"),
            IcmpErrorKind::MtuExceeded { mtu } => write!(f, "packet too big (MTU {mtu})"),
            IcmpErrorKind::TimeExceeded => f.write_str("time exceeded"),
            IcmpErrorKind::Other { icmp_type, code } => {
                write!(f, "error type {icmp_type} code {code}")
            }
        }
    }
}

/// How a raw exchange failed.
#[derive(Debug)]
pub enum Failure {
    /// The deadline passed while waiting for `Step`.
    Timeout(Step),
    /// RST in answer to our SYN: nothing listens on the port.
    Refused,
    /// RST from the server after the connection was up.
    Reset(Step),
    Interrupted(Interrupted),
    /// A local error (socket, send): not the real server's fault.
    Local(String),
    /// The server answered with something that is not a valid response.
    Invalid(String),
    /// The kernel's connect failed (BACKUP path): refused, unreachable...
    Connect(std::io::Error),
    /// An ICMP or ICMPv6 error from `from` about our datagram (e.g. port
    /// unreachable: the server holds the VIP but nothing listens).
    Icmp {
        kind: IcmpErrorKind,
        from: IpAddr,
    },
    /// The TLS handshake failed, or the certificate is not the one
    /// asked for; the text says why in one line.
    Tls(String),
    /// The source interface went down (or away) during the check: the
    /// path to the real server is broken, which is the check's business.
    LinkDown(std::io::Error),
}

impl From<WaitError> for Failure {
    fn from(e: WaitError) -> Failure {
        match e {
            WaitError::Interrupted(sig) => Failure::Interrupted(sig),
            WaitError::Io(err) => Failure::Local(format!("poll failed: {err}")),
        }
    }
}
