//! Kernel sockets that serve the raw path: reserving our TCP or UDP source
//! port for the life of the check, and asking the kernel which IPv6 source
//! address it would use.
//!
//! The kernel knows nothing of our userspace connection, so another
//! program's connect() could pick the same port and the two flows would mix.
//! A kernel socket of the flow's protocol, bound (TCP: not listening) to the
//! source address and port 0, gets a free ephemeral port from the kernel's
//! own (randomised) allocator and keeps it ours until this value is
//! dropped. For UDP the bound socket also makes the kernel deliver the
//! real server's datagrams to a socket (which we never read) rather than
//! answer them with ICMP port unreachable.
//!
//! Why the kernel does not reset the connection we drive by hand, although
//! the server's replies reach it too: they come from the VIP, which the
//! MASTER holds itself. IPv4 drops a packet from a local source as a
//! martian; for IPv6 the kernel's RST goes to the VIP, i.e. to itself. That
//! is also why a BACKUP, without the VIP, must use the kernel path.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

use socket2::{Domain, Socket, Type};

use super::bpf::Proto;

#[derive(Debug)]
pub struct ReservedPort {
    _socket: Socket,
    pub port: u16,
}

/// fe80::/10: such an address means something only with its interface.
pub fn is_link_local(addr: Ipv6Addr) -> bool {
    addr.segments()[0] & 0xffc0 == 0xfe80
}

/// IPv6 link-local addresses need the interface as scope.
fn with_scope(addr: IpAddr, port: u16, ifindex: u32) -> SocketAddr {
    match addr {
        IpAddr::V6(v6) if is_link_local(v6) => {
            SocketAddr::V6(SocketAddrV6::new(v6, port, 0, ifindex))
        }
        other => SocketAddr::new(other, port),
    }
}

/// Reserve a `proto` port on `source` (on interface `ifindex`): `port`, or
/// a free ephemeral one when `None`.
pub fn reserve(
    source: IpAddr,
    ifindex: u32,
    port: Option<u16>,
    proto: Proto,
) -> io::Result<ReservedPort> {
    let addr = with_scope(source, port.unwrap_or(0), ifindex);
    let kind = match proto {
        Proto::Tcp => Type::STREAM,
        Proto::Udp => Type::DGRAM,
    };
    let socket = Socket::new(Domain::for_address(addr), kind.cloexec(), None)?;
    socket.bind(&addr.into())?;
    let port = socket
        .local_addr()?
        .as_socket()
        .map(|a| a.port())
        .ok_or_else(|| io::Error::other("reserved socket has no port"))?;
    Ok(ReservedPort {
        _socket: socket,
        port,
    })
}

/// The source address the kernel would pick for `dest` out of `ifname`:
/// a UDP socket bound to the device and "connected" (no packet is sent).
pub fn kernel_source(ifname: &str, ifindex: u32, dest: Ipv6Addr) -> Option<IpAddr> {
    let socket = Socket::new(Domain::IPV6, Type::DGRAM, None).ok()?;
    socket.bind_device(Some(ifname.as_bytes())).ok()?;
    socket
        .connect(&with_scope(IpAddr::V6(dest), 9, ifindex).into())
        .ok()?;
    socket.local_addr().ok()?.as_socket().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn reserved_ports_are_distinct_while_held() {
        let a = reserve(Ipv4Addr::LOCALHOST.into(), 1, None, Proto::Tcp).unwrap();
        let b = reserve(Ipv4Addr::LOCALHOST.into(), 1, None, Proto::Tcp).unwrap();
        assert_ne!(a.port, 0);
        assert_ne!(a.port, b.port);
        // A fixed port is ours while held; a second claim fails.
        let fixed = reserve(Ipv4Addr::LOCALHOST.into(), 1, Some(a.port + 1), Proto::Tcp);
        if let Ok(fixed) = fixed {
            assert!(reserve(Ipv4Addr::LOCALHOST.into(), 1, Some(fixed.port), Proto::Tcp).is_err());
        }
    }

    #[test]
    fn udp_and_tcp_ports_are_reserved_apart() {
        let udp = reserve(Ipv4Addr::LOCALHOST.into(), 1, None, Proto::Udp).unwrap();
        assert_ne!(udp.port, 0);
        assert!(reserve(Ipv4Addr::LOCALHOST.into(), 1, Some(udp.port), Proto::Udp).is_err());
    }

    #[test]
    fn kernel_source_for_loopback() {
        if let Some(src) = kernel_source("lo", 1, Ipv6Addr::LOCALHOST) {
            assert_eq!(src, IpAddr::V6(Ipv6Addr::LOCALHOST));
        }
    }
}
