//! The userspace TCP client, as a pure state machine (sans-IO).
//!
//! Segments and the current time go in (`on_segment`, `poll_transmit`), and
//! segments to send come out; nothing here touches a socket or reads a clock.
//! That is what lets loss, reordering, duplicates and retransmission be tested
//! deterministically and without a network (`tcp/tests`), the way smoltcp
//! tests its TCP socket.
//!
//! One `Tcp` state, three files along its two directions: this one holds
//! the types, the state and the calls a connection makes; `receive` the
//! acceptance of the server's segments (`on_segment`); `send` what goes out
//! (`poll_transmit`). Each direction's helpers are private to its file.
//!
//! Scope: one active open to one server, a small request, a response of up to
//! a few MiB. So: no window scaling, no congestion control (the request is
//! a handful of segments); on a timeout the first unacknowledged segment
//! is resent (only bytes sent before: never past `snd_nxt`), and after
//! that every partial ACK resends the next one at once (NewReno's rule),
//! so several lost segments cost one timeout. The send window comes from
//! the newest segment only (SND.WL1/SND.WL2). The response is where loss
//! costs: the receiver signals it the way Linux does, a duplicate ACK per
//! out-of-order segment and SACK blocks (`sack`), so the server repairs a
//! hole in a round trip, not a backed-off timeout; and a hole in the
//! request that the server's SACK shows is resent at once. What it does
//! insist on is validation: a segment is accepted only if it fits our
//! sequence space, and everything else is ignored and reported as such, so
//! spoofed or stale segments cannot end a check.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

pub use super::seq::Seq;

/// TCP control flags, in header bit order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(pub u8);

impl Flags {
    pub const FIN: Flags = Flags(0x01);
    pub const SYN: Flags = Flags(0x02);
    pub const RST: Flags = Flags(0x04);
    pub const PSH: Flags = Flags(0x08);
    pub const ACK: Flags = Flags(0x10);

    pub fn has(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl fmt::Display for Flags {
    /// tcpdump's notation: `[S.]` is SYN/ACK, `[R.]` RST/ACK.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (0x01, 'F'),
            (0x02, 'S'),
            (0x04, 'R'),
            (0x08, 'P'),
            (0x20, 'U'),
            (0x40, 'E'),
            (0x80, 'W'),
            (0x10, '.'),
        ];
        let mut text: String = names
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, c)| *c)
            .collect();
        if text.is_empty() {
            text.push_str("none");
        }
        write!(f, "[{text}]")
    }
}

/// The TCP part of a segment; addresses and ports live in `net::wire`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Segment {
    pub seq: Seq,
    pub ack: Seq,
    pub flags: Flags,
    pub window: u16,
    /// The MSS option, sent in our SYN and read from the SYN/ACK.
    pub mss: Option<u16>,
    /// The SACK-permitted option (RFC 2018), on SYNs.
    pub sack_permitted: bool,
    /// SACK blocks: the out-of-order data we hold, on our ACKs.
    pub sack: SackBlocks,
    pub payload: Vec<u8>,
}

/// Most SACK blocks one segment carries: four fill 34 of the 40 option
/// bytes when no timestamps are sent (RFC 2018 3), as ours never are.
pub const MAX_SACK_BLOCKS: usize = 4;

/// The SACK blocks of a segment, each `[left, right)` in sequence space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SackBlocks {
    blocks: [(Seq, Seq); MAX_SACK_BLOCKS],
    len: usize,
}

impl SackBlocks {
    /// Add a block; `false` when all four are taken.
    pub fn push(&mut self, left: Seq, right: Seq) -> bool {
        let Some(slot) = self.blocks.get_mut(self.len) else {
            return false;
        };
        *slot = (left, right);
        self.len += 1;
        true
    }

    pub fn as_slice(&self) -> &[(Seq, Seq)] {
        &self.blocks[..self.len]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Segment {
    /// Sequence space the segment occupies (SYN and FIN count one each).
    fn seq_len(&self) -> u32 {
        let controls =
            u32::from(self.flags.has(Flags::SYN)) + u32::from(self.flags.has(Flags::FIN));
        // Payloads are bounded by the 64 KiB receive buffer, so this fits.
        u32::try_from(self.payload.len()).unwrap_or(u32::MAX) + controls
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags {}, seq {}", self.flags, self.seq)?;
        if self.flags.has(Flags::ACK) {
            write!(f, ", ack {}", self.ack)?;
        }
        write!(f, ", win {}", self.window)?;
        // tcpdump's words for the options.
        let mut options = Vec::new();
        if let Some(mss) = self.mss {
            options.push(format!("mss {mss}"));
        }
        if self.sack_permitted {
            options.push("sackOK".to_string());
        }
        if !self.sack.is_empty() {
            let blocks: String = self
                .sack
                .as_slice()
                .iter()
                .map(|(left, right)| format!(" {{{left}:{right}}}"))
                .collect();
            options.push(format!("sack {}{blocks}", self.sack.as_slice().len()));
        }
        if !options.is_empty() {
            write!(f, ", options [{}]", options.join(","))?;
        }
        write!(f, ", length {}", self.payload.len())
    }
}

/// Connection states; `Display` prints the RFC 9293 names (`SYN-SENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    /// Created, SYN not sent yet.
    Closed,
    SynSent,
    Established,
    /// We sent FIN, waiting for its ACK.
    FinWait1,
    /// Our FIN is acknowledged, waiting for the server's FIN.
    FinWait2,
    /// Both sides sent FIN at once; waiting for the ACK of ours.
    Closing,
    /// The server sent FIN first; we may still send.
    CloseWait,
    /// The server closed, then we sent FIN; waiting for its ACK.
    LastAck,
    /// Clean close complete (we do not linger: the process ends).
    TimeWait,
    /// The server sent an acceptable RST.
    Reset,
    /// We sent RST.
    Aborted,
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcpState::Closed => "CLOSED",
            TcpState::SynSent => "SYN-SENT",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::Closing => "CLOSING",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::LastAck => "LAST-ACK",
            TcpState::TimeWait => "TIME-WAIT",
            TcpState::Reset => "RESET",
            TcpState::Aborted => "ABORTED",
        })
    }
}

/// Why a segment was not accepted; shown at `-vvv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// The connection is over; nothing more is wanted.
    Finished,
    /// In SYN-SENT, only a SYN/ACK or RST acknowledging our SYN counts.
    NotSynAck,
    /// The ACK number acknowledges something we never sent (or is ancient).
    AckOutOfRange,
    /// The sequence number lies outside our receive window.
    OutOfWindow,
    /// An RST whose sequence number is outside the window (spoofed or stale).
    RstOutOfWindow,
    /// A synchronized-state segment without the ACK flag.
    NoAck,
    /// A SYN that is not a retransmission of the server's SYN/ACK.
    UnexpectedSyn,
    /// Out-of-order data with the reassembly buffer full: the data is
    /// dropped (the server resends it), the ACK and FIN it carried count.
    ReassemblyFull,
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ignored::Finished => "connection already finished",
            Ignored::NotSynAck => "not a SYN/ACK or RST for our SYN",
            Ignored::AckOutOfRange => "ack outside what we sent",
            Ignored::OutOfWindow => "sequence outside the receive window",
            Ignored::RstOutOfWindow => "RST outside the receive window",
            Ignored::NoAck => "no ACK flag",
            Ignored::UnexpectedSyn => "unexpected SYN",
            Ignored::ReassemblyFull => "out-of-order buffer full: its data dropped, its ACK taken",
        })
    }
}

/// Tunables of one connection; `TcpParams::new` has the LAN defaults.
#[derive(Debug, Clone)]
pub struct TcpParams {
    /// Our initial sequence number (from the OS CSPRNG in production).
    pub isn: Seq,
    /// MSS we announce: interface MTU minus IP and TCP headers.
    pub mss: u16,
    /// Receive window we announce when our buffer is empty.
    pub recv_window: u16,
    /// First retransmission timeout; doubled on every retransmission.
    pub rto_initial: Duration,
    pub rto_max: Duration,
    /// Out-of-order segments kept for reassembly.
    pub max_out_of_order: usize,
    /// Offer SACK (RFC 2018) in our SYN.
    pub sack: bool,
}

impl TcpParams {
    pub fn new(isn: Seq, mss: u16) -> TcpParams {
        TcpParams {
            isn,
            mss,
            recv_window: u16::MAX,
            // A LAN answers in well under a millisecond; 200 ms is Linux's
            // minimum RTO and leaves room for a few retries in a 1 s check.
            rto_initial: Duration::from_millis(200),
            rto_max: Duration::from_secs(2),
            // A 64 KiB window holds 45 full segments of a 1500-byte
            // MTU: all of them can wait for one lost segment.
            max_out_of_order: 64,
            // Without SACK, Linux neither probes a lost tail (TLP) nor
            // sees more than one loss per round trip: a tail lost
            // twice then costs 200 ms and 400 ms of backed-off timeout.
            sack: true,
        }
    }
}

/// MSS assumed when the server sends none (RFC 9293 3.7.1).
const DEFAULT_PEER_MSS: u16 = 536;

/// Largest request a check may send (the CLI refuses larger ones). A
/// check sends one small request.
pub const MAX_SEND_BYTES: usize = 64 * 1024;

/// What a protocol layered on the stream may add to the request: TLS's
/// handshake (a ClientHello with post-quantum key shares stays under
/// 2 KiB), its record headers and tags (under 100 bytes a 16 KiB record)
/// and close_notify. `transport::tls` holds itself to this bound.
pub const MAX_FRAMING_BYTES: usize = 16 * 1024;

/// All a connection may queue: the request and its framing.
pub const SEND_BUFFER: usize = MAX_SEND_BYTES + MAX_FRAMING_BYTES;

/// Why `len` bytes could not be queued ([`Tcp::send`] took fewer): the
/// words of the plugin's `Conn` and of the daemon's `Exchange` alike.
pub fn too_many_to_send(len: usize) -> crate::failure::Failure {
    crate::failure::Failure::Local(format!(
        "{len} bytes are too many to send (at most {SEND_BUFFER} in all)"
    ))
}

/// The client connection.
#[derive(Debug)]
pub struct Tcp {
    cfg: TcpParams,
    state: TcpState,

    // Send side: `tx` holds every byte queued; offsets count from ISN + 1.
    tx: Vec<u8>,
    snd_una: Seq,
    /// Next new sequence number, and also the highest ever sent (BSD's
    /// SND.MAX): a retransmission resends from `snd_una` without moving it
    /// back, and never goes past it, so an ACK up to `snd_nxt` covers
    /// exactly what we really sent and nothing beyond it can be valid.
    snd_nxt: Seq,
    /// SND.WND: the window from the newest segment, per `snd_wl1/2`.
    peer_window: u16,
    /// SND.WL1 and SND.WL2: sequence and ACK numbers of the segment the
    /// window came from, so an older, reordered one cannot change it.
    snd_wl1: Seq,
    snd_wl2: Seq,
    peer_mss: u16,
    close_requested: bool,
    fin_sent: bool,

    // Receive side.
    irs: Seq,
    rcv_nxt: Seq,
    /// In-order bytes not yet taken by the application.
    rx: Vec<u8>,
    /// Out-of-order segments, keyed by sequence offset from IRS + 1.
    out_of_order: BTreeMap<u32, Vec<u8>>,
    /// Sequence number of the server's FIN once seen (maybe ahead of data).
    peer_fin: Option<Seq>,
    peer_fin_received: bool,

    // Timers.
    rto: Duration,
    retransmit_at: Option<Instant>,
    retransmissions: u32,
    /// A retransmission happened and not everything is acknowledged yet.
    recovering: bool,
    ack_pending: bool,
    /// Duplicate ACKs owed: one for each out-of-order segment since the
    /// last in-order one (RFC 5681 4.2), so a server's fast retransmit
    /// sees its three even when a whole flight arrives in one wake-up.
    dup_acks_owed: usize,
    /// The server offered SACK too: our ACKs carry blocks.
    sack_ok: bool,
    /// Where the newest out-of-order segment starts (offset from IRS +
    /// 1): its block goes first in our SACK option (RFC 2018 4).
    newest_out_of_order: Option<u32>,
    /// The `snd_una` whose segment a SACK block already had resent: one
    /// resend per hole, however many ACKs repeat the block.
    sack_resent: Option<Seq>,
    /// RST for an old connection that answered our SYN, to send next.
    stale_rst: Option<Segment>,
    stale_reset_done: bool,
    first_syn_at: Option<Instant>,
    established_at: Option<Instant>,
}

impl Tcp {
    pub fn new(cfg: TcpParams) -> Tcp {
        let isn = cfg.isn;
        let rto = cfg.rto_initial;
        Tcp {
            cfg,
            state: TcpState::Closed,
            tx: Vec::new(),
            snd_una: isn,
            snd_nxt: isn,
            peer_window: 0,
            snd_wl1: Seq(0),
            snd_wl2: isn,
            peer_mss: DEFAULT_PEER_MSS,
            close_requested: false,
            fin_sent: false,
            irs: Seq(0),
            rcv_nxt: Seq(0),
            rx: Vec::new(),
            out_of_order: BTreeMap::new(),
            peer_fin: None,
            peer_fin_received: false,
            rto,
            retransmit_at: None,
            retransmissions: 0,
            recovering: false,
            ack_pending: false,
            dup_acks_owed: 0,
            sack_ok: false,
            newest_out_of_order: None,
            sack_resent: None,
            stale_rst: None,
            stale_reset_done: false,
            first_syn_at: None,
            established_at: None,
        }
    }

    pub fn state(&self) -> TcpState {
        self.state
    }

    /// Start the active open; the SYN comes out of the next `poll_transmit`.
    pub fn connect(&mut self) {
        if self.state == TcpState::Closed {
            self.state = TcpState::SynSent;
        }
    }

    /// Queue request bytes. Returns how many were taken (bounded buffer).
    pub fn send(&mut self, data: &[u8]) -> usize {
        if self.close_requested || self.is_finished() {
            return 0;
        }
        let room = SEND_BUFFER.saturating_sub(self.tx.len());
        let n = data.len().min(room);
        self.tx.extend_from_slice(&data[..n]);
        n
    }

    /// Ask for a clean close: FIN after all queued data.
    pub fn close(&mut self) {
        if !self.is_finished() {
            self.close_requested = true;
        }
    }

    /// Abort: the RSTs to send, if the server may hold state for us.
    ///
    /// Linux accepts a RST only at exactly the sequence number it expects
    /// (RFC 5961) and answers any other in-window one with a challenge ACK,
    /// which nobody would answer: the VIP is local on the MASTER, so its
    /// kernel drops it. With data or a FIN in flight the server expects
    /// either `snd_una` (it has not received them) or `snd_nxt` (it has,
    /// its ACK is on the way or lost), so both get a RST.
    pub fn abort(&mut self) -> Vec<Segment> {
        let rst_at = |seq: Seq| Segment {
            seq,
            ack: self.rcv_nxt,
            flags: Flags::RST | Flags::ACK,
            ..Segment::default()
        };
        let rsts = match self.state {
            // The server may have answered a SYN we sent: a bare RST with
            // the sequence number it expects clears its SYN-RECV entry.
            TcpState::SynSent if self.first_syn_at.is_some() => vec![Segment {
                seq: self.cfg.isn + 1,
                flags: Flags::RST,
                ..Segment::default()
            }],
            TcpState::Established
            | TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::Closing
            | TcpState::CloseWait
            | TcpState::LastAck => {
                let mut rsts = vec![rst_at(self.snd_una)];
                if self.snd_nxt != self.snd_una {
                    rsts.push(rst_at(self.snd_nxt));
                }
                rsts
            }
            _ => Vec::new(),
        };
        if !self.is_finished() {
            self.state = TcpState::Aborted;
        }
        self.retransmit_at = None;
        self.ack_pending = false;
        rsts
    }

    /// True once nothing more will be sent or accepted.
    pub fn is_finished(&self) -> bool {
        matches!(
            self.state,
            TcpState::TimeWait | TcpState::Reset | TcpState::Aborted
        )
    }

    /// The SYN/ACK arrived: the server holds the VIP and listens.
    pub fn is_connected(&self) -> bool {
        self.established_at.is_some()
    }

    /// Time from our first SYN to the SYN/ACK (what the check reports).
    pub fn handshake_time(&self) -> Option<Duration> {
        Some(self.established_at? - self.first_syn_at?)
    }

    /// All queued request bytes were acknowledged by the server.
    #[cfg(test)]
    pub fn all_sent_acked(&self) -> bool {
        self.is_connected() && self.snd_una - (self.cfg.isn + 1) >= self.tx.len() as i64
    }

    /// The server's FIN arrived and every byte before it was delivered.
    pub fn peer_closed(&self) -> bool {
        self.peer_fin_received
    }

    pub fn retransmissions(&self) -> u32 {
        self.retransmissions
    }

    #[cfg(test)]
    pub fn peer_mss(&self) -> u16 {
        self.peer_mss
    }

    /// Take the in-order data received so far.
    pub fn take_received(&mut self) -> Vec<u8> {
        let window_was_small = self.advertised_window() < self.cfg.recv_window / 2;
        let data = std::mem::take(&mut self.rx);
        // Tell a server stalled on a small window that room opened up.
        if window_was_small && !data.is_empty() && !self.is_finished() {
            self.ack_pending = true;
        }
        data
    }

    /// When `poll_transmit` next has something to do without new input.
    pub fn poll_at(&self) -> Option<Instant> {
        if self.is_finished() {
            return None;
        }
        self.retransmit_at
    }

    /// Room left in the receive buffer; out-of-order bytes lie inside this
    /// window already, so only unread in-order data shrinks it.
    fn advertised_window(&self) -> u16 {
        let free = usize::from(self.cfg.recv_window).saturating_sub(self.rx.len());
        u16::try_from(free).unwrap_or(u16::MAX)
    }
}

mod receive;
mod sack;
mod send;

#[cfg(test)]
mod tests;
