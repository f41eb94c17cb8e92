//! What the client sends: the next segment due at a given time (SYN, data
//! cut to the peer's MSS and window, FIN, ACKs, retransmissions after a
//! timeout with exponential backoff, zero-window probes).

use std::time::Instant;

use super::{Flags, Segment, Seq, Tcp, TcpState};

impl Tcp {
    /// The next segment to send now, if any. Call until it returns `None`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Segment> {
        let retransmit_due = self.retransmit_at.is_some_and(|at| now >= at);
        match self.state {
            TcpState::Closed | TcpState::Reset | TcpState::Aborted => None,
            TcpState::SynSent => {
                if let Some(rst) = self.stale_rst.take() {
                    return Some(rst);
                }
                if self.first_syn_at.is_some() && !retransmit_due {
                    return None;
                }
                if retransmit_due {
                    self.back_off();
                }
                self.first_syn_at.get_or_insert(now);
                self.snd_nxt = self.cfg.isn + 1;
                self.retransmit_at = Some(now + self.rto);
                Some(Segment {
                    seq: self.cfg.isn,
                    flags: Flags::SYN,
                    window: self.cfg.recv_window,
                    mss: Some(self.cfg.mss),
                    sack_permitted: self.cfg.sack,
                    ..Segment::default()
                })
            }
            _ => {
                if retransmit_due && self.in_flight() == 0 {
                    // Nothing in flight: either a zero-window probe is due,
                    // or a stale timer that must not spin the caller.
                    self.retransmit_at = None;
                    if let Some(probe) = self.window_probe(now) {
                        return Some(probe);
                    }
                }
                if retransmit_due && self.in_flight() > 0 {
                    self.back_off();
                    let seg = self.retransmission();
                    self.retransmit_at = Some(now + self.rto);
                    return Some(seg);
                }
                if let Some(seg) = self.next_new_segment(now) {
                    self.retransmit_at.get_or_insert(now + self.rto);
                    return Some(seg);
                }
                if self.ack_pending || self.dup_acks_owed > 0 {
                    self.ack_pending = false;
                    self.dup_acks_owed = self.dup_acks_owed.saturating_sub(1);
                    return Some(self.bare(Flags::ACK));
                }
                None
            }
        }
    }

    /// The server's window is closed with request bytes still unsent and
    /// nothing in flight: without a probe a lost window update would stall
    /// us until the deadline (RFC 9293 3.8.6.1). One byte past the window,
    /// retransmitted by the timer like any data until the window opens.
    fn window_probe(&mut self, now: Instant) -> Option<Segment> {
        let unsent = self.tx.len().saturating_sub(self.tx_offset(self.snd_nxt));
        if self.peer_window != 0
            || unsent == 0
            || !matches!(self.state, TcpState::Established | TcpState::CloseWait)
        {
            return None;
        }
        let start = self.tx_offset(self.snd_nxt);
        let seg = self.data_segment(start, start + 1, false);
        self.snd_nxt = self.snd_nxt + 1;
        self.back_off();
        self.retransmit_at = Some(now + self.rto);
        Some(seg)
    }

    fn back_off(&mut self) {
        self.retransmissions += 1;
        self.recovering = true;
        self.rto = (self.rto * 2).min(self.cfg.rto_max);
    }

    fn bare(&self, flags: Flags) -> Segment {
        Segment {
            seq: self.snd_nxt,
            ack: self.rcv_nxt,
            flags,
            window: self.advertised_window(),
            sack: self.sack_blocks(),
            ..Segment::default()
        }
    }

    /// Sequence space sent and not yet acknowledged (`snd_una` never
    /// passes `snd_nxt`: only ACKs up to `snd_nxt` are taken).
    fn in_flight(&self) -> u32 {
        self.snd_nxt.offset_from(self.snd_una)
    }

    /// Offset of `seq` into `tx` (sequence ISN + 1 is offset 0).
    fn tx_offset(&self, seq: Seq) -> usize {
        usize::try_from(seq - (self.cfg.isn + 1)).unwrap_or(0)
    }

    /// Most payload one segment may carry: the smaller of both MSSs.
    fn segment_limit(&self) -> usize {
        usize::from(self.peer_mss.min(self.cfg.mss.max(1)))
    }

    /// `tx[start..end]` at its sequence number, with FIN if `fin`.
    fn data_segment(&mut self, start: usize, end: usize, fin: bool) -> Segment {
        let end = end.min(self.tx.len());
        let start = start.min(end);
        let mut seg = self.bare(Flags::ACK);
        seg.seq = self.cfg.isn + 1 + start as u32;
        seg.payload = self.tx[start..end].to_vec();
        if !seg.payload.is_empty() {
            seg.flags = seg.flags | Flags::PSH;
        }
        if fin {
            seg.flags = seg.flags | Flags::FIN;
        }
        self.ack_pending = false;
        seg
    }

    /// The first unacknowledged segment again: up to one MSS from
    /// `snd_una`, but never past `snd_nxt`. Bytes never sent are new data,
    /// for `next_new_segment` under the window rules; resent here, they
    /// would draw an ACK beyond `snd_nxt` that we must reject.
    fn retransmission(&mut self) -> Segment {
        let start = self.tx_offset(self.snd_una);
        // With our FIN sent, `snd_nxt` counts it one past the data.
        let sent_end = self.tx_offset(self.snd_nxt).min(self.tx.len());
        let end = sent_end.min(start + self.segment_limit());
        let fin = self.fin_sent && end == self.tx.len();
        self.data_segment(start, end, fin)
    }

    /// New data (within the peer's window) or our FIN, if due.
    fn next_new_segment(&mut self, now: Instant) -> Option<Segment> {
        if !matches!(self.state, TcpState::Established | TcpState::CloseWait) {
            return None;
        }
        let unsent = self.tx.len().saturating_sub(self.tx_offset(self.snd_nxt));
        let in_flight = self.in_flight() as usize;
        // Zero-window probing is left to the retransmission timer.
        let window_room = usize::from(self.peer_window).saturating_sub(in_flight);
        if unsent > 0 && window_room == 0 && in_flight == 0 && self.retransmit_at.is_none() {
            // Zero window: the persist timer, answered by `window_probe`.
            self.retransmit_at = Some(now + self.rto);
        }
        if unsent > 0 && window_room > 0 {
            let start = self.tx_offset(self.snd_nxt);
            let end = start + unsent.min(window_room).min(self.segment_limit());
            let fin = self.close_requested && end == self.tx.len();
            let seg = self.data_segment(start, end, fin);
            self.snd_nxt = self.snd_nxt + seg.payload.len() as u32;
            if seg.flags.has(Flags::FIN) {
                self.mark_fin_sent();
            }
            return Some(seg);
        }
        if unsent == 0 && self.close_requested && !self.fin_sent {
            let seg = self.bare(Flags::FIN | Flags::ACK);
            self.ack_pending = false;
            self.mark_fin_sent();
            return Some(seg);
        }
        None
    }

    fn mark_fin_sent(&mut self) {
        self.fin_sent = true;
        self.snd_nxt = self.snd_nxt + 1;
        self.state = match self.state {
            TcpState::CloseWait => TcpState::LastAck,
            _ => TcpState::FinWait1,
        };
    }
}
