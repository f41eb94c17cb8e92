//! The link: interface facts and the one AF_PACKET socket a check uses.
//!
//! Interface facts (index, MAC, addresses) come from pnet_datalink. The
//! socket is opened here with libc rather than through pnet_datalink's
//! channel, because that channel opens an unfiltered ETH_P_ALL socket and
//! binds it before we could attach a filter: every frame on the interface
//! would be copied to us (a flood would become our CPU load) and each
//! re-bind costs an RCU grace period. Here the order is: socket with
//! protocol 0 (receives nothing), attach the BPF filter, then bind once.
//!
//! Every `unsafe` block is a libc call on a descriptor we own, with pointers
//! to live, correctly sized locals (or, for the control messages, the cmsg
//! macros walking our own buffer within its length); each says why it is
//! sound.

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use pnet_datalink::MacAddr;

use super::bpf::Program;

/// Linux limits interface names to IFNAMSIZ - 1 bytes.
pub const MAX_IFNAME: usize = 15;

/// Largest frame we accept: a 64 KiB IP packet (GRO-merged segments) plus
/// the Ethernet header. Anything longer is reported as truncated.
const RECV_BUFFER: usize = 65_535 + 14;
/// Kernel receive buffer: room for a burst of full-size frames while we
/// are between two reads.
const SOCKET_RCVBUF: libc::c_int = 4 * 1024 * 1024;

/// What we need to know about the source interface.
#[derive(Debug, Clone)]
pub struct Interface {
    pub name: String,
    pub index: u32,
    pub mac: MacAddr,
    /// The primary IPv4 address (the first one the kernel lists).
    pub ipv4: Option<Ipv4Addr>,
    /// Every IPv6 address, in the kernel's order.
    pub ipv6: Vec<Ipv6Addr>,
}

/// Why the interface cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterfaceError {
    NotFound(String),
    NoMac(String),
    Down(String),
}

impl std::fmt::Display for InterfaceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InterfaceError::NotFound(n) => write!(f, "no such interface '{n}'"),
            InterfaceError::NoMac(n) => write!(f, "interface '{n}' has no Ethernet address"),
            InterfaceError::Down(n) => write!(f, "interface '{n}' is down"),
        }
    }
}

impl Interface {
    pub fn lookup(name: &str) -> Result<Interface, InterfaceError> {
        let found = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| InterfaceError::NotFound(name.to_string()))?;
        let mac = found
            .mac
            .filter(|m| *m != MacAddr::zero())
            .ok_or_else(|| InterfaceError::NoMac(name.to_string()))?;
        if !found.is_up() {
            return Err(InterfaceError::Down(name.to_string()));
        }
        let ipv4 = found.ips.iter().find_map(|net| match net.ip() {
            std::net::IpAddr::V4(v4) => Some(v4),
            std::net::IpAddr::V6(_) => None,
        });
        let ipv6 = found
            .ips
            .iter()
            .filter_map(|net| match net.ip() {
                std::net::IpAddr::V6(v6) => Some(v6),
                std::net::IpAddr::V4(_) => None,
            })
            .collect();
        Ok(Interface {
            name: found.name.clone(),
            index: found.index,
            mac,
            ipv4,
            ipv6,
        })
    }
}

/// The interface the kernel routes `dest` through (ldirectord gives only
/// addresses): the source address a connected UDP socket gets (no packet
/// is sent), then the interface that holds it.
pub fn route_interface(dest: std::net::IpAddr) -> Result<String, String> {
    use socket2::{Domain, Socket, Type};
    let no_route = |e: io::Error| format!("no route to {dest} to choose an interface by: {e}");
    let target = std::net::SocketAddr::new(dest, 9);
    let socket = Socket::new(Domain::for_address(target), Type::DGRAM, None).map_err(no_route)?;
    socket.connect(&target.into()).map_err(no_route)?;
    let local = socket
        .local_addr()
        .map_err(no_route)?
        .as_socket()
        .map(|a| a.ip())
        .ok_or_else(|| format!("no local address towards {dest}"))?;
    pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.ips.iter().any(|net| net.ip() == local))
        .map(|i| i.name)
        .ok_or_else(|| {
            format!("no interface holds {local}, the source towards {dest}; use --interface")
        })
}

/// Is `addr` assigned to any interface of this host (the VIP test of `-r auto`)?
pub fn is_local_address(addr: std::net::IpAddr) -> bool {
    pnet_datalink::interfaces()
        .iter()
        .any(|i| i.ips.iter().any(|net| net.ip() == addr))
}

/// One received frame, as the kernel described it.
#[derive(Debug)]
pub struct Received<'a> {
    pub frame: &'a [u8],
    /// The frame was longer than our buffer: never parse it.
    pub truncated: bool,
    /// Its original length on the wire.
    pub wire_len: usize,
    /// The kernel says the checksum was verified, or not yet computed
    /// (a locally generated, offloaded frame); either way do not verify.
    pub checksum_verified: bool,
}

/// The check's one AF_PACKET socket: filtered, bound once, non-blocking.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl PacketSocket {
    /// Open, filter, then bind to `ifindex`. Fails with EPERM without
    /// CAP_NET_RAW.
    pub fn open(ifindex: u32, filter: &Program) -> io::Result<PacketSocket> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0, // protocol 0: no frame is queued before bind()
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        filter.attach(fd.as_raw_fd())?;
        set_int_option(fd.as_raw_fd(), libc::SOL_PACKET, libc::PACKET_AUXDATA, 1)?;
        // Our own transmitted frames would otherwise loop back to us
        // (Linux 4.20+; older kernels: the filter rejects them anyway).
        let _ = set_int_option(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_IGNORE_OUTGOING,
            1,
        );
        // Best effort: the default is enough for a small response.
        let _ = set_int_option(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            SOCKET_RCVBUF,
        );
        let ifindex = libc::c_int::try_from(ifindex)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface index"))?;
        // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as libc::c_ushort;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex = ifindex;
        // SAFETY: `addr` is a live sockaddr_ll and we pass its exact size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(PacketSocket {
            fd,
            buf: vec![0u8; RECV_BUFFER],
        })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The interface MTU, asked of the kernel through our own socket (so it
    /// is right in any network namespace, unlike /sys).
    pub fn mtu(&self, ifname: &str) -> io::Result<u32> {
        #[repr(C)]
        struct IfreqMtu {
            name: [u8; libc::IFNAMSIZ],
            mtu: libc::c_int,
            _pad: [u8; 20], // struct ifreq is 40 bytes
        }
        let mut req = IfreqMtu {
            name: [0; libc::IFNAMSIZ],
            mtu: 0,
            _pad: [0; 20],
        };
        let bytes = ifname.as_bytes();
        if bytes.len() > MAX_IFNAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "interface name",
            ));
        }
        req.name[..bytes.len()].copy_from_slice(bytes);
        // SAFETY: SIOCGIFMTU reads the NUL-terminated name and writes one
        // c_int into our 40-byte, ifreq-shaped, live struct.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::SIOCGIFMTU, &mut req) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        u32::try_from(req.mtu).map_err(|_| io::Error::other("negative MTU"))
    }

    /// Send one complete frame out of the bound interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: the pointer and length describe `frame`, which outlives the call.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != frame.len() {
            return Err(io::Error::other("short send on packet socket"));
        }
        Ok(())
    }

    /// Read the next queued frame, or `None` if nothing is waiting.
    pub fn recv(&mut self) -> io::Result<Option<Received<'_>>> {
        let mut iov = libc::iovec {
            iov_base: self.buf.as_mut_ptr().cast(),
            iov_len: self.buf.len(),
        };
        // Room for one cmsg carrying tpacket_auxdata, u64-aligned.
        let mut control = [0u64; 8];
        // SAFETY: msghdr is plain old data; all-zero is a valid value.
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = mem::size_of_val(&control);
        // SAFETY: msg points at live iov/buffers of the sizes given; with
        // MSG_TRUNC the kernel returns the frame's full length but writes
        // at most iov_len bytes.
        let n = unsafe {
            libc::recvmsg(
                self.fd.as_raw_fd(),
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock => Ok(None),
                io::ErrorKind::Interrupted => Ok(None),
                _ => Err(err),
            };
        }
        let wire_len = n as usize;
        let truncated = wire_len > self.buf.len() || msg.msg_flags & libc::MSG_TRUNC != 0;
        let status = auxdata_status(&msg);
        let verified = libc::TP_STATUS_CSUM_VALID | libc::TP_STATUS_CSUMNOTREADY;
        Ok(Some(Received {
            frame: &self.buf[..wire_len.min(self.buf.len())],
            truncated,
            wire_len,
            checksum_verified: status & verified != 0,
        }))
    }
}

/// tp_status from the PACKET_AUXDATA control message, 0 if absent.
fn auxdata_status(msg: &libc::msghdr) -> u32 {
    // SAFETY: CMSG_FIRSTHDR/CMSG_NXTHDR walk the control buffer the kernel
    // filled, within msg_controllen; each header is checked for level and
    // type, and the payload read unaligned because cmsg data may not be
    // aligned for tpacket_auxdata.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let header = &*cmsg;
            if header.cmsg_level == libc::SOL_PACKET && header.cmsg_type == libc::PACKET_AUXDATA {
                let data = libc::CMSG_DATA(cmsg).cast::<libc::tpacket_auxdata>();
                return std::ptr::read_unaligned(data).tp_status;
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    0
}

pub(crate) fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    set_option(fd, level, name, &value)
}

/// setsockopt(2) with a value of any plain-old-data type `T`.
pub(crate) fn set_option<T>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    let len = libc::socklen_t::try_from(mem::size_of::<T>())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "option too large"))?;
    // SAFETY: `value` is a live `T` and we pass exactly its size; the
    // kernel copies it during the call.
    let rc = unsafe { libc::setsockopt(fd, level, name, (value as *const T).cast(), len) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
