//! Reserving our TCP source port for the life of the check.
//!
//! The kernel knows nothing of our userspace connection, so another
//! program's connect() could pick the same port and the two flows would mix.
//! A kernel TCP socket bound (not listening) to the source address and port
//! 0 gets a free ephemeral port from the kernel's own (randomised) allocator
//! and keeps it ours until this value is dropped. It does not listen, so it
//! never answers anything itself.

use std::io;
use std::net::{IpAddr, SocketAddr};

use socket2::{Domain, Socket, Type};

#[derive(Debug)]
pub struct ReservedPort {
    _socket: Socket,
    pub port: u16,
}

pub fn reserve(source: IpAddr) -> io::Result<ReservedPort> {
    let socket = Socket::new(
        Domain::for_address(SocketAddr::new(source, 0)),
        Type::STREAM,
        None,
    )?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn reserved_ports_are_distinct_while_held() {
        let a = reserve(Ipv4Addr::LOCALHOST.into()).unwrap();
        let b = reserve(Ipv4Addr::LOCALHOST.into()).unwrap();
        assert_ne!(a.port, 0);
        assert_ne!(a.port, b.port);
    }
}
