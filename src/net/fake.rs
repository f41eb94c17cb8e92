//! A wire without a network, for the tests of `Wire` and `Conn`: our end
//! of a Unix datagram pair is the check's `PacketSocket`, the test holds
//! the other end. What the test `put`s arrives as received frames, what
//! the code under test sends the test reads back with `sent`. No root, no
//! namespace, and the same receive path (batches, `has_queued`) as a
//! real packet socket.

use std::io;

use socket2::{Domain, Socket, Type};

use super::socket::PacketSocket;

/// Our socket and the test's end of the pair.
pub(crate) fn pair() -> (PacketSocket, Socket) {
    let (ours, theirs) = Socket::pair(Domain::UNIX, Type::DGRAM, None).unwrap();
    theirs.set_nonblocking(true).unwrap();
    (PacketSocket::from_socket(ours).unwrap(), theirs)
}

/// Queue `frame` for our socket to receive.
pub(crate) fn put(theirs: &Socket, frame: &[u8]) {
    theirs.send(frame).unwrap();
}

/// Every frame sent so far, in order.
pub(crate) fn sent(theirs: &Socket) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut buf = vec![0u8; 70_000];
    loop {
        // SAFETY: `buf` is live and writable for its whole length.
        let n = unsafe { libc::recv(raw(theirs), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let err = io::Error::last_os_error();
            assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "{err}");
            return frames;
        }
        frames.push(buf[..n as usize].to_vec());
    }
}

fn raw(socket: &Socket) -> std::os::fd::RawFd {
    std::os::fd::AsRawFd::as_raw_fd(socket)
}
