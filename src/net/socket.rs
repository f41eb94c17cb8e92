//! The one AF_PACKET socket a check uses: filtered, bound once, non-blocking.
//!
//! Opened here rather than through pnet_datalink's channel, because that
//! channel opens an unfiltered ETH_P_ALL socket and binds it before we could
//! attach a filter: every frame on the interface would be copied to us (a
//! flood would become our CPU load) and each re-bind costs an RCU grace
//! period. Here the order is: socket with protocol 0 (receives nothing),
//! attach the BPF filter, then bind once.
//!
//! socket2 creates the socket and attaches the filter. What it has no call
//! for is done with libc in a few `unsafe` blocks, each on a descriptor we
//! own with pointers to live, correctly sized locals, each saying why it is
//! sound: the bind to a `sockaddr_ll`, the MTU ioctl, `recvmmsg` with its
//! control messages, and integer socket options.
//!
//! Frames are read in batches: one `recvmmsg` fills up to [`BATCH`]
//! preallocated slots, and [`PacketSocket::recv`] hands them out one at a
//! time, in order, before asking the kernel again. A 4 MiB body is ~2,900
//! frames; one `recvmsg` each was the largest syscall count of a check.

use std::io;
use std::mem::{self, ManuallyDrop};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant, SystemTime};

use socket2::{Domain, Protocol, Socket, Type};

use super::bpf::Program;
use super::link::MAX_IFNAME;

/// Largest frame we accept whole: what GRO can merge of a server's
/// segments within the 64 KiB window we announce (no window scaling):
/// 65,535 bytes of data with its headers, Ethernet 14, IPv6 40, the
/// hop-by-hop jumbo option 8 (BIG TCP, gro_max_size above 64 KiB), TCP
/// 60: 65,657, rounded up to 66 KiB. A longer frame can hold nothing our
/// window lets the server send; it is reported as truncated.
pub const RECV_BUFFER: usize = 66 * 1024;
/// Frames read per `recvmmsg`. The slots are one allocation of
/// `BATCH * RECV_BUFFER` bytes (over malloc's mmap threshold, so pages the
/// kernel never writes stay unbacked): small frames touch one page per
/// slot, 64 KiB GRO-merged ones at most 528 KiB in all.
const BATCH: usize = 8;
/// Room per slot for the cmsgs carrying tpacket_auxdata (40 bytes with
/// its header) and, when asked, the arrival time (32), u64-aligned.
const CONTROL_WORDS: usize = 12;
/// An arrival time further back than this (or in the future) says the
/// wall clock stepped between the stamp and the read: not believed.
const MAX_STAMP_AGE: Duration = Duration::from_secs(10);
/// Kernel receive buffer: room for a burst of full-size frames while we
/// are between two reads.
const SOCKET_RCVBUF: usize = 4 * 1024 * 1024;

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
    /// When the kernel took the frame in, on the monotonic clock, if the
    /// socket was asked to stamp arrivals ([`PacketSocket::stamp_arrivals`]).
    pub arrived: Option<Instant>,
}

/// The check's one AF_PACKET socket: filtered, bound once, non-blocking.
/// Its drop hands it to [`crate::detach::close`]: the close waits one RCU
/// grace period, which `main` has paid after the verdict.
#[derive(Debug)]
pub struct PacketSocket {
    socket: ManuallyDrop<Socket>,
    /// `BATCH` receive slots of `RECV_BUFFER` bytes each.
    buf: Vec<u8>,
    /// What the last `recvmmsg` said of each slot, and the next to hand out.
    slots: [Slot; BATCH],
    filled: usize,
    next: usize,
}

/// One slot's frame as the kernel described it, kept between `recv` calls.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// The frame's full length (MSG_TRUNC), possibly over `RECV_BUFFER`.
    wire_len: usize,
    /// MSG_TRUNC was set in the message's flags.
    truncated: bool,
    /// tp_status from PACKET_AUXDATA, 0 if absent.
    status: u32,
    arrived: Option<Instant>,
}

impl Drop for PacketSocket {
    fn drop(&mut self) {
        // SAFETY: `socket` is taken once, here, and never used after: the
        // struct is being dropped.
        let socket = unsafe { ManuallyDrop::take(&mut self.socket) };
        crate::detach::close(OwnedFd::from(socket));
    }
}

impl PacketSocket {
    /// Open, filter, then bind to `ifindex`. Fails with EPERM without
    /// CAP_NET_RAW.
    pub fn open(ifindex: u32, filter: &Program) -> io::Result<PacketSocket> {
        // Protocol 0: no frame is queued before bind().
        let socket = Socket::new(
            Domain::PACKET,
            Type::RAW.nonblocking().cloexec(),
            Some(Protocol::from(0)),
        )?;
        filter.attach(&socket)?;
        let fd = socket.as_raw_fd();
        set_int_option(fd, libc::SOL_PACKET, libc::PACKET_AUXDATA, 1)?;
        // Our own transmitted frames would otherwise loop back to us
        // (Linux 4.20+; older kernels: the filter rejects them anyway).
        let _ = set_int_option(fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1);
        // Best effort: the default is enough for a small response.
        let _ = socket.set_recv_buffer_size(SOCKET_RCVBUF);
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
                fd,
                (&addr as *const libc::sockaddr_ll).cast(),
                mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(PacketSocket {
            socket: ManuallyDrop::new(socket),
            buf: vec![0u8; BATCH * RECV_BUFFER],
            slots: [Slot::default(); BATCH],
            filled: 0,
            next: 0,
        })
    }

    /// A `PacketSocket` over any datagram socket, for tests: one end of a
    /// Unix datagram pair stands for the wire (what the test writes to the
    /// other end arrives as frames; what we send, it reads), so the code
    /// above the socket runs as it does on a real one, without root.
    #[cfg(test)]
    pub(crate) fn from_socket(socket: Socket) -> io::Result<PacketSocket> {
        socket.set_nonblocking(true)?;
        Ok(PacketSocket {
            socket: ManuallyDrop::new(socket),
            buf: vec![0u8; BATCH * RECV_BUFFER],
            slots: [Slot::default(); BATCH],
            filled: 0,
            next: 0,
        })
    }

    /// A second descriptor of this socket, for the engine's senders while
    /// its reader owns the socket (a send is one syscall on either).
    pub(crate) fn dup_fd(&self) -> io::Result<OwnedFd> {
        Ok(OwnedFd::from(self.socket.try_clone()?))
    }

    pub fn raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }

    /// Ask the kernel to stamp each frame's arrival ([`Received::arrived`]):
    /// a loop that reads its frames some time after they came (it was
    /// starting other runs) still times the real server's answer. Not
    /// asked by the plugin, which reads as soon as a frame comes and whose
    /// start-up would pay for enabling the kernel's stamping.
    pub fn stamp_arrivals(&self) -> io::Result<()> {
        set_int_option(self.raw_fd(), libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1)
    }

    /// The interface MTU, asked of the kernel through our own socket (so it
    /// is right in any network namespace, unlike /sys).
    pub fn mtu(&self, ifname: &str) -> io::Result<u32> {
        mtu(self.socket.as_raw_fd(), ifname)
    }

    /// Send one complete frame out of the bound interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        send(self.socket.as_raw_fd(), frame)
    }

    /// Frames already read from the kernel and not yet handed out: while
    /// there are, the socket may poll as empty although `recv` has more.
    pub fn has_queued(&self) -> bool {
        self.next < self.filled
    }

    /// Whether a `recv` may find more: frames in hand, or a last batch
    /// that filled every slot (the kernel may hold more). A loop that
    /// polls anyway stops here instead of paying a `recvmmsg` that
    /// finds nothing.
    pub fn may_have_more(&self) -> bool {
        self.has_queued() || self.filled == BATCH
    }

    /// The next frame, from the last batch or a new `recvmmsg`, or `None`
    /// if nothing is waiting.
    pub fn recv(&mut self) -> io::Result<Option<Received<'_>>> {
        if !self.has_queued() {
            self.filled = self.fill()?;
            self.next = 0;
            if self.filled == 0 {
                return Ok(None);
            }
        }
        let i = self.next;
        self.next += 1;
        let slot = self.slots[i];
        let at = i * RECV_BUFFER;
        let verified = libc::TP_STATUS_CSUM_VALID | libc::TP_STATUS_CSUMNOTREADY;
        Ok(Some(Received {
            frame: &self.buf[at..at + slot.wire_len.min(RECV_BUFFER)],
            truncated: slot.truncated || slot.wire_len > RECV_BUFFER,
            wire_len: slot.wire_len,
            checksum_verified: slot.status & verified != 0,
            arrived: slot.arrived,
        }))
    }

    /// One non-blocking `recvmmsg` into every slot: how many it filled
    /// (0 when nothing is queued or the call was interrupted).
    fn fill(&mut self) -> io::Result<usize> {
        // SAFETY: iovec is plain old data; all-zero is a valid value.
        let mut iov: [libc::iovec; BATCH] = unsafe { mem::zeroed() };
        for (v, chunk) in iov.iter_mut().zip(self.buf.chunks_exact_mut(RECV_BUFFER)) {
            v.iov_base = chunk.as_mut_ptr().cast();
            v.iov_len = chunk.len();
        }
        let mut control = [[0u64; CONTROL_WORDS]; BATCH];
        // SAFETY: mmsghdr (a msghdr and a length) is plain old data;
        // all-zero is a valid value.
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { mem::zeroed() };
        let iov_at = iov.as_mut_ptr();
        for (i, (msg, ctl)) in msgs.iter_mut().zip(control.iter_mut()).enumerate() {
            let hdr = &mut msg.msg_hdr;
            hdr.msg_iov = iov_at.wrapping_add(i);
            hdr.msg_iovlen = 1;
            hdr.msg_control = ctl.as_mut_ptr().cast();
            hdr.msg_controllen = mem::size_of_val(ctl);
        }
        // SAFETY: `msgs` is a live array of BATCH mmsghdr, each pointing at
        // its own live iovec (a disjoint RECV_BUFFER-byte chunk of
        // `self.buf`) and its own live control buffer, with their sizes;
        // with MSG_TRUNC the kernel reports a frame's full length but
        // writes at most iov_len bytes. No timeout: MSG_DONTWAIT.
        let n = unsafe {
            libc::recvmmsg(
                self.socket.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            return match err.kind() {
                io::ErrorKind::WouldBlock => Ok(0),
                io::ErrorKind::Interrupted => Ok(0),
                _ => Err(err),
            };
        }
        let n = (n as usize).min(BATCH);
        // The kernel stamps arrivals on the wall clock; the frame's age
        // against the wall clock now, taken from the monotonic clock now,
        // is its arrival on the clock every deadline uses.
        let clocks = (Instant::now(), SystemTime::now());
        for (slot, msg) in self.slots.iter_mut().zip(&msgs[..n]) {
            let (status, stamp) = control_data(&msg.msg_hdr);
            *slot = Slot {
                wire_len: msg.msg_len as usize,
                truncated: msg.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
                status,
                arrived: stamp.and_then(|stamp| arrival(stamp, clocks)),
            };
        }
        Ok(n)
    }
}

/// Send one complete frame on the bound packet socket `fd` (a run's own,
/// or the engine's shared one, which many runs send on at once: each send
/// is one syscall, so frames never interleave).
pub(crate) fn send(fd: RawFd, frame: &[u8]) -> io::Result<()> {
    // SAFETY: the pointer and length describe `frame`, which outlives the call.
    let n = unsafe { libc::send(fd, frame.as_ptr().cast(), frame.len(), libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != frame.len() {
        return Err(io::Error::other("short send on packet socket"));
    }
    Ok(())
}

/// The MTU of interface `ifname`, asked through socket `fd` (any socket of
/// the namespace the interface lives in).
pub(crate) fn mtu(fd: RawFd, ifname: &str) -> io::Result<u32> {
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
    let rc = unsafe { libc::ioctl(fd, libc::SIOCGIFMTU, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    u32::try_from(req.mtu).map_err(|_| io::Error::other("negative MTU"))
}

/// tp_status from the PACKET_AUXDATA control message (0 if absent), and
/// the SCM_TIMESTAMPNS arrival stamp, if any.
fn control_data(msg: &libc::msghdr) -> (u32, Option<libc::timespec>) {
    let (mut status, mut stamp) = (0, None);
    // SAFETY: CMSG_FIRSTHDR/CMSG_NXTHDR walk the control buffer the kernel
    // filled, within msg_controllen; each header is checked for level and
    // type, and the payload read unaligned because cmsg data may not be
    // aligned for tpacket_auxdata or timespec.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let header = &*cmsg;
            match (header.cmsg_level, header.cmsg_type) {
                (libc::SOL_PACKET, libc::PACKET_AUXDATA) => {
                    let data = libc::CMSG_DATA(cmsg).cast::<libc::tpacket_auxdata>();
                    status = std::ptr::read_unaligned(data).tp_status;
                }
                (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) => {
                    let data = libc::CMSG_DATA(cmsg).cast::<libc::timespec>();
                    stamp = Some(std::ptr::read_unaligned(data));
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    (status, stamp)
}

/// The monotonic instant of a wall-clock `stamp`, given both clocks read
/// together (`clocks`); `None` if the stamp is implausible.
fn arrival(stamp: libc::timespec, (mono, wall): (Instant, SystemTime)) -> Option<Instant> {
    let secs = u64::try_from(stamp.tv_sec).ok()?;
    let nanos = u32::try_from(stamp.tv_nsec)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    let at = SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))?;
    let age = wall
        .duration_since(at)
        .ok()
        .filter(|age| *age <= MAX_STAMP_AGE)?;
    mono.checked_sub(age)
}

/// setsockopt(2) with an `int` value, the type of every option we set
/// by hand (socket2 covers the rest).
pub(crate) fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` is a live c_int and we pass exactly its size; the
    // kernel copies it during the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(at: SystemTime) -> libc::timespec {
        let since = at.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        libc::timespec {
            tv_sec: since.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(since.subsec_nanos() as i32),
        }
    }

    #[test]
    fn an_arrival_stamp_is_placed_on_the_monotonic_clock_or_refused() {
        let clocks = (Instant::now(), SystemTime::now());
        let (mono, wall) = clocks;
        let ago = Duration::from_micros(2500);
        assert_eq!(arrival(stamp(wall - ago), clocks), Some(mono - ago));
        assert_eq!(arrival(stamp(wall), clocks), Some(mono));
        // The wall clock stepped: a stamp in the future, or far back.
        assert_eq!(arrival(stamp(wall + ago), clocks), None);
        let stale = wall - MAX_STAMP_AGE - ago;
        assert_eq!(arrival(stamp(stale), clocks), None);
        let garbage = libc::timespec {
            tv_sec: -1,
            tv_nsec: 0,
        };
        assert_eq!(arrival(garbage, clocks), None);
    }
}
