//! A TCP exchange as a sans-IO flow: SYN, then the server's SYN/ACK; for
//! check_raw_tcp that is the whole answer (RST alone follows), for an
//! exchange with a request (check_raw_http) the request goes out with the
//! handshake's ACK and the server's bytes are handed to the caller until
//! it says the answer is complete (then RST). A RST from the server, an
//! ICMP error about the SYN or the deadline end it early. Frames in and
//! out, time passed in.
//!
//! The blocking [`Conn`](super::conn::Conn) drives the plugin's runs over
//! a `Wire`; an [`Exchange`] is the same exchange for a driver that owns
//! the socket and the clock and carries many at once (check_raw_serve's
//! loop, `serve::direct`), so no thread waits per run. Both run the same
//! `Tcp` machine and match frames with the same [`FlowMatch`]: the
//! exchange is written once, only its driving differs. What the bytes
//! mean (an HTTP response) is the caller's: this layer knows no protocol
//! above TCP.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use pnet_datalink::MacAddr;

use super::datagram::icmp_about;
use super::tcp::{Segment, Seq, Tcp, TcpParams, TcpState};
use super::wire::{self, Flow, Link, Parsed, TcpFrame, IPPROTO_TCP};
use crate::failure::{Failure, IcmpErrorKind, Step};

/// Which received frames belong to one TCP flow of ours.
#[derive(Debug, Clone, Copy)]
pub struct FlowMatch {
    /// Our direction of the flow, and our MAC.
    ours: (Flow, MacAddr),
    /// Our SYN's sequence number, which an ICMP error about it quotes.
    isn: Seq,
}

/// What a received frame is to a flow.
#[derive(Debug)]
pub enum Incoming<'p> {
    /// A segment of the flow, for the TCP machine.
    Segment(&'p TcpFrame),
    /// An ICMP error about a packet of ours (the SYN, by its ISN).
    IcmpError { kind: IcmpErrorKind, from: IpAddr },
    /// Not ours: why, for `-v`.
    Ignored(&'static str),
}

impl FlowMatch {
    pub fn new(flow: Flow, our_mac: MacAddr, isn: Seq) -> FlowMatch {
        FlowMatch {
            ours: (flow, our_mac),
            isn,
        }
    }

    pub fn of<'p>(&self, parsed: &'p Parsed) -> Incoming<'p> {
        let (flow, our_mac) = self.ours;
        match parsed {
            Parsed::Tcp(f) if f.flow == flow.reversed() && f.link.dst == our_mac => {
                Incoming::Segment(f)
            }
            Parsed::Tcp(_) => Incoming::Ignored("not our flow"),
            // About our SYN: its sequence number is the ISN, which only a
            // host that saw the SYN knows (RFC 5927 4.1).
            Parsed::IcmpError(e) => {
                let syn = self.isn.0.to_be_bytes();
                match icmp_about(e, self.ours, IPPROTO_TCP, |h| h[4..] == syn) {
                    Ok((kind, from)) => Incoming::IcmpError { kind, from },
                    Err(why) => Incoming::Ignored(why),
                }
            }
            _ => Incoming::Ignored("not TCP"),
        }
    }
}

/// Whether an ICMP error about our SYN ends the connection attempt in
/// `state`, as it ends the kernel's connect (RFC 1122 4.2.3.9; Linux's
/// `tcp_v4_err`): a port unreachable or a firewall's REJECT answers the
/// SYN at once, and waiting out `-t` would only hide why. Err: why not.
pub fn icmp_ends_connect(state: TcpState, kind: IcmpErrorKind) -> Result<(), &'static str> {
    match (state, kind) {
        // A SYN is far below any MTU; the retransmission timer goes on.
        (_, IcmpErrorKind::MtuExceeded { .. }) => Err("packet too big, for a SYN"),
        (TcpState::SynSent, _) => Ok(()),
        // A soft error once connected (RFC 5461): TCP's own timers decide.
        _ => Err("the connection is past its SYN"),
    }
}

/// Initial sequence numbers and IP IDs for many flows without a syscall
/// each: a keyed hash (SipHash, std's `RandomState`, keys from the OS
/// once) of the flow and a counter, as RFC 6528 builds ISNs from a
/// secret and the 4-tuple. Unpredictable to whoever does not see our
/// frames, which is what an ISN must be (an ICMP error or a RST is only
/// believed when it quotes it). The plugin asks the OS for its one ISN.
#[derive(Debug)]
pub struct IsnSource {
    keys: std::hash::RandomState,
    counter: u64,
}

impl Default for IsnSource {
    fn default() -> IsnSource {
        IsnSource {
            keys: std::hash::RandomState::new(),
            counter: 0,
        }
    }
}

impl IsnSource {
    /// An ISN and a first IP ID for `flow`.
    pub fn next(&mut self, flow: &Flow) -> (Seq, u16) {
        use std::hash::{BuildHasher, Hash, Hasher};
        self.counter = self.counter.wrapping_add(1);
        let mut h = self.keys.build_hasher();
        (flow.src_ip, flow.dst_ip, flow.src_port, flow.dst_port).hash(&mut h);
        self.counter.hash(&mut h);
        let v = h.finish();
        (Seq(v as u32), (v >> 32) as u16)
    }
}

/// One exchange: connect, optionally send a request and read the answer,
/// reset.
#[derive(Debug)]
pub struct Exchange {
    link: Link,
    flow: Flow,
    matcher: FlowMatch,
    tcp: Tcp,
    ip_id: u16,
    deadline: Instant,
    /// Sent once connected; empty: the SYN/ACK is the whole answer.
    request: Vec<u8>,
    /// The request was handed to the machine.
    request_queued: bool,
    /// What the caller waits for once connected (for a timeout's or a
    /// reset's words).
    awaiting: Step,
    /// How it ended (the handshake time, or why it failed), once it has.
    end: Option<Result<Duration, Failure>>,
    /// A frame of the flow (or an ICMP error about it) arrived.
    heard: bool,
}

impl Exchange {
    /// The exchange from `flow.src` to `flow.dst` through `link`, given up
    /// at `deadline`, sending `request` once connected (empty: none); the
    /// SYN is in the first [`Exchange::transmit`].
    pub fn new(
        (link, flow): (Link, Flow),
        params: TcpParams,
        (ip_id, deadline): (u16, Instant),
        request: Vec<u8>,
    ) -> Exchange {
        let matcher = FlowMatch::new(flow, link.src, params.isn);
        let mut tcp = Tcp::new(params);
        tcp.connect();
        Exchange {
            link,
            flow,
            matcher,
            tcp,
            ip_id,
            deadline,
            request,
            request_queued: false,
            awaiting: Step::ResponseStart,
            end: None,
            heard: false,
        }
    }

    /// The frames due at `now`: the SYN, a retransmission, the request and
    /// ACKs of the answer, or, once the exchange ended, the RST that ends
    /// it on the server too (each frame is handed out once).
    pub fn transmit(&mut self, now: Instant, mut send: impl FnMut(&[u8])) {
        self.expire_by(now);
        if self.end.is_some() {
            // Answered or given up: RST alone, never the handshake's ACK
            // of a connect-only exchange, so the server's application
            // never sees the connection.
            for rst in self.tcp.abort() {
                send(&self.frame(&rst));
            }
            return;
        }
        // The machine emits a bounded number per call (a request of up to
        // 64 KiB in segments of a small MSS, an ACK); the bound, as
        // `Conn`'s, only guards it.
        for _ in 0..1024 {
            let Some(seg) = self.tcp.poll_transmit(now) else {
                break;
            };
            send(&self.frame(&seg));
        }
    }

    /// The deadline passed by `now`: the exchange ends, naming the step.
    fn expire_by(&mut self, now: Instant) {
        if self.end.is_none() && now >= self.deadline {
            let step = if self.tcp.is_connected() {
                self.awaiting
            } else {
                Step::SynAck
            };
            self.end = Some(Err(Failure::Timeout(step)));
        }
    }

    /// Take one received frame (already parsed) that arrived at `now`.
    /// True: it was ours (a segment of the flow or an ICMP error about
    /// the SYN). The answer's bytes, if any came, wait in
    /// [`Exchange::take_received`]. A frame that arrived after the
    /// deadline is too late, as it is for the plugin's `Conn`.
    pub fn receive(&mut self, parsed: &Parsed, now: Instant) -> bool {
        self.expire_by(now);
        if self.end.is_some() {
            return false;
        }
        match self.matcher.of(parsed) {
            Incoming::Segment(f) => {
                self.heard = true;
                // An out-of-window segment is the machine's to ignore.
                let _ = self.tcp.on_segment(&f.segment, now);
                self.after_segment();
                true
            }
            Incoming::IcmpError { kind, from } => {
                self.heard = true;
                if icmp_ends_connect(self.tcp.state(), kind).is_ok() {
                    self.end = Some(Err(Failure::Icmp { kind, from }));
                }
                true
            }
            Incoming::Ignored(_) => false,
        }
    }

    /// What a segment changed: connected (the end of a connect-only
    /// exchange; else the request queued), or reset.
    fn after_segment(&mut self) {
        let connected = self.tcp.is_connected();
        if self.request.is_empty() {
            if connected || self.tcp.is_finished() {
                self.end = Some(self.tcp.handshake_time().ok_or(Failure::Refused));
            }
            return;
        }
        if self.tcp.state() == TcpState::Reset {
            let why = if connected {
                Failure::Reset(self.awaiting)
            } else {
                Failure::Refused
            };
            self.end = Some(Err(why));
            return;
        }
        if connected && !self.request_queued {
            self.request_queued = true;
            if self.tcp.send(&self.request) < self.request.len() {
                self.end = Some(Err(super::tcp::too_many_to_send(self.request.len())));
            }
        }
    }

    /// The answer's bytes received in order since the last call.
    pub fn take_received(&mut self) -> Vec<u8> {
        self.tcp.take_received()
    }

    /// The server closed its side (its FIN, after every byte before it).
    pub fn peer_closed(&self) -> bool {
        self.tcp.peer_closed()
    }

    /// What the caller waits for now (an HTTP response's start, its end):
    /// the words of a timeout or a reset from here on.
    pub fn awaiting(&mut self, step: Step) {
        self.awaiting = step;
    }

    /// The caller's verdict on the answer: complete (Ok) or not to be
    /// read further (Err). Either ends the exchange: the next
    /// [`Exchange::transmit`] sends RST.
    pub fn complete(&mut self, result: Result<(), Failure>) {
        if self.end.is_none() {
            let time = self.tcp.handshake_time().ok_or(Failure::Refused);
            self.end = Some(result.and(time));
        }
    }

    /// When [`Exchange::transmit`] next has work without new input: a
    /// retransmission, or the deadline; `None` once ended.
    pub fn poll_at(&self) -> Option<Instant> {
        if self.end.is_some() {
            return None;
        }
        Some(
            self.tcp
                .poll_at()
                .map_or(self.deadline, |at| at.min(self.deadline)),
        )
    }

    /// How it ended: the handshake time, or why it failed.
    pub fn end(&self) -> Option<&Result<Duration, Failure>> {
        self.end.as_ref()
    }

    /// How it ended, taken (the driver's last look at it).
    pub fn take_end(&mut self) -> Option<Result<Duration, Failure>> {
        self.end.take()
    }

    /// Give up now (a stop): the next [`Exchange::transmit`] sends RST.
    pub fn give_up(&mut self, why: Failure) {
        if self.end.is_none() {
            self.end = Some(Err(why));
        }
    }

    pub fn heard(&self) -> bool {
        self.heard
    }

    pub fn retransmissions(&self) -> u32 {
        self.tcp.retransmissions()
    }

    pub fn local_port(&self) -> u16 {
        self.flow.src_port
    }

    fn frame(&mut self, seg: &Segment) -> Vec<u8> {
        let bytes = wire::tcp_frame(self.link, self.flow, self.ip_id, seg);
        self.ip_id = self.ip_id.wrapping_add(1);
        bytes
    }
}

#[cfg(test)]
mod tests;
