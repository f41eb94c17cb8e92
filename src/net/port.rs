//! Kernel sockets that serve the raw path: reserving our TCP or UDP source
//! port for the life of the check, and asking the kernel which source
//! address its route to the real server uses.
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

/// The source address the kernel's route to `dest` uses (`ip route get`):
/// a UDP socket "connected" to it (no packet is sent), bound to `device`
/// (name, index) when given, as the raw path leaves through it. `None`:
/// no route (out of that device).
pub fn kernel_source(device: Option<(&str, u32)>, dest: IpAddr) -> Option<IpAddr> {
    let target = with_scope(dest, 9, device.map_or(0, |(_, index)| index));
    let socket = Socket::new(Domain::for_address(target), Type::DGRAM.cloexec(), None).ok()?;
    if let Some((name, _)) = device {
        socket.bind_device(Some(name.as_bytes())).ok()?;
    }
    socket.connect(&target.into()).ok()?;
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
        // A held port cannot be claimed again...
        assert!(reserve(Ipv4Addr::LOCALHOST.into(), 1, Some(a.port), Proto::Tcp).is_err());
        // ...and a fixed one is ours once free: the one `b` held, released.
        let port = b.port;
        drop(b);
        let fixed = reserve(Ipv4Addr::LOCALHOST.into(), 1, Some(port), Proto::Tcp)
            .expect("a released port can be claimed as a fixed one");
        assert_eq!(fixed.port, port);
        assert!(reserve(Ipv4Addr::LOCALHOST.into(), 1, Some(port), Proto::Tcp).is_err());
    }

    #[test]
    fn udp_and_tcp_ports_are_reserved_apart() {
        let udp = reserve(Ipv4Addr::LOCALHOST.into(), 1, None, Proto::Udp).unwrap();
        assert_ne!(udp.port, 0);
        assert!(reserve(Ipv4Addr::LOCALHOST.into(), 1, Some(udp.port), Proto::Udp).is_err());
    }

    #[test]
    fn kernel_source_for_loopback() {
        // `lo` is index 1 in every network namespace.
        for local in [
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ] {
            assert_eq!(kernel_source(Some(("lo", 1)), local), Some(local));
            assert_eq!(kernel_source(None, local), Some(local));
        }
    }
}
