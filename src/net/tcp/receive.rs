//! What the client does with a segment from the server: one decision per
//! state (SYN-SENT, or any synchronized state), then the ACK, the window
//! and the data, each checked against our sequence space before it is
//! believed. Anything not accepted comes back as `Ignored`, saying why.

use std::time::Instant;

use super::{Flags, Ignored, Segment, Tcp, TcpState, DEFAULT_PEER_MSS};

/// Most duplicate ACKs owed at once: three start a fast retransmit, and
/// each more lets a NewReno sender send one new segment (RFC 6582); a
/// 64 KiB window holds fewer than this many full segments.
const MAX_DUP_ACKS: usize = 64;

impl Tcp {
    /// Feed one segment from the server (already matched to our 4-tuple).
    pub fn on_segment(&mut self, seg: &Segment, now: Instant) -> Result<(), Ignored> {
        match self.state {
            TcpState::Closed | TcpState::TimeWait | TcpState::Reset | TcpState::Aborted => {
                Err(Ignored::Finished)
            }
            TcpState::SynSent => self.on_segment_syn_sent(seg, now),
            _ => self.on_segment_synchronized(seg, now),
        }
    }

    fn on_segment_syn_sent(&mut self, seg: &Segment, now: Instant) -> Result<(), Ignored> {
        let acks_our_syn = seg.flags.has(Flags::ACK) && seg.ack == self.cfg.isn + 1;
        if seg.flags.has(Flags::ACK) && !acks_our_syn && !seg.flags.has(Flags::RST) {
            // The server still holds an old connection on this 4-tuple (a
            // previous check's port, its last ACK lost): it answers our SYN
            // with that connection's ACK. RFC 9293 3.10.7.3: reset it with
            // <SEQ=SEG.ACK><CTL=RST>, then try again at once (only once at
            // once; later repeats wait for the timer, so a server cannot
            // make us flood it).
            self.stale_rst = Some(Segment {
                seq: seg.ack,
                flags: Flags::RST,
                ..Segment::default()
            });
            if !self.stale_reset_done {
                self.stale_reset_done = true;
                self.retransmit_at = Some(now);
            }
            return Ok(());
        }
        if !acks_our_syn {
            // An RST without a matching ACK could be anyone's (RFC 9293 3.10.7.3).
            return Err(Ignored::NotSynAck);
        }
        if seg.flags.has(Flags::RST) {
            self.state = TcpState::Reset;
            self.retransmit_at = None;
            return Ok(());
        }
        if !seg.flags.has(Flags::SYN) {
            return Err(Ignored::NotSynAck);
        }
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq + 1;
        self.snd_una = seg.ack;
        self.peer_window = seg.window;
        self.snd_wl1 = seg.seq;
        self.snd_wl2 = seg.ack;
        self.peer_mss = seg.mss.unwrap_or(DEFAULT_PEER_MSS).max(1);
        self.sack_ok = self.cfg.sack && seg.sack_permitted;
        self.state = TcpState::Established;
        self.established_at = Some(now);
        self.retransmit_at = None;
        self.rto = self.cfg.rto_initial;
        // A retransmitted SYN set it; the request starts a fresh window, so
        // its first partial ACK is no sign of loss.
        self.recovering = false;
        self.ack_pending = true;
        Ok(())
    }

    fn on_segment_synchronized(&mut self, seg: &Segment, now: Instant) -> Result<(), Ignored> {
        if seg.flags.has(Flags::SYN) {
            // Our ACK of the SYN/ACK was lost and the server repeats it.
            if seg.seq == self.irs && seg.flags.has(Flags::ACK) && seg.ack == self.cfg.isn + 1 {
                self.ack_pending = true;
                return Ok(());
            }
            return Err(Ignored::UnexpectedSyn);
        }
        let window = u32::from(self.advertised_window());
        let offset = seg.seq - self.rcv_nxt;
        if seg.flags.has(Flags::RST) {
            // RFC 5961 asks for an exact match; any in-window RST is accepted
            // here because a server's RST after our lost ACK may trail.
            if offset < 0 || offset >= i64::from(window.max(1)) {
                return Err(Ignored::RstOutOfWindow);
            }
            self.state = TcpState::Reset;
            self.retransmit_at = None;
            self.ack_pending = false;
            return Ok(());
        }
        if !seg.flags.has(Flags::ACK) {
            return Err(Ignored::NoAck);
        }
        // Acceptable ACK: not beyond what we sent, not older than a window.
        let oldest = self.snd_una - u32::from(u16::MAX);
        if !seg.ack.is_within(oldest, self.snd_nxt) {
            return Err(Ignored::AckOutOfRange);
        }
        let end = offset + i64::from(seg.seq_len());
        if end <= 0 && seg.seq_len() > 0 {
            // A retransmission of data we already have: our ACK was lost.
            self.ack_pending = true;
            self.process_ack(seg, now);
            return Ok(());
        }
        if offset > i64::from(window) || (offset == i64::from(window) && seg.seq_len() > 0) {
            return Err(Ignored::OutOfWindow);
        }
        self.process_ack(seg, now);
        self.process_data(seg, offset)
    }

    fn process_ack(&mut self, seg: &Segment, now: Instant) {
        self.update_window(seg);
        if seg.ack.is_after(self.snd_una) {
            self.snd_una = seg.ack;
            self.rto = self.cfg.rto_initial;
            self.retransmit_at = if self.snd_una == self.snd_nxt {
                self.recovering = false;
                None
            } else if self.recovering {
                // A partial ACK after a retransmission (NewReno): the next
                // segment was lost too; resend it now, not a timeout later.
                Some(now)
            } else {
                Some(now + self.rto)
            };
        }
        if self.sack_shows_a_hole(seg) && self.sack_resent != Some(self.snd_una) {
            // The server holds our data beyond the segment at `snd_una`:
            // lost, on a path that does not reorder. Resend it now, once
            // per hole, not a timeout later (RFC 6675's rule with one
            // SACKed segment for three: a request is only a few).
            self.sack_resent = Some(self.snd_una);
            self.retransmit_at = Some(now);
        }
        let fin_acked = self.fin_sent && self.snd_una == self.snd_nxt;
        if fin_acked {
            self.state = match self.state {
                TcpState::FinWait1 => TcpState::FinWait2,
                TcpState::Closing | TcpState::LastAck => TcpState::TimeWait,
                other => other,
            };
        }
    }

    /// RFC 9293 3.10.7.4: take the segment's window only if it is not
    /// older than the one the current window came from, by sequence number
    /// first, then by ACK; and never from an ACK below `snd_una`.
    fn update_window(&mut self, seg: &Segment) {
        let newer = self.snd_wl1.is_before(seg.seq)
            || (self.snd_wl1 == seg.seq && seg.ack.is_at_or_after(self.snd_wl2));
        if newer && seg.ack.is_at_or_after(self.snd_una) {
            self.peer_window = seg.window;
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = seg.ack;
        }
    }

    fn process_data(&mut self, seg: &Segment, offset: i64) -> Result<(), Ignored> {
        if offset > 0 && seg.seq_len() > 0 {
            // Data or a FIN beyond a hole: a duplicate ACK at once (RFC
            // 5681 4.2), a FIN's too, as Linux does: behind a lost last
            // segment the FIN is the only thing that can tell the server.
            self.ack_pending = true;
            self.dup_acks_owed = (self.dup_acks_owed + 1).min(MAX_DUP_ACKS);
            self.newest_out_of_order = Some(seg.seq.offset_from(self.irs + 1));
        }
        if seg.flags.has(Flags::FIN) {
            self.peer_fin = Some(seg.seq + u32::try_from(seg.payload.len()).unwrap_or(0));
        }
        if !seg.payload.is_empty() {
            self.ack_pending = true;
            // Drop what we already have at the front (overlapping resend).
            let skip = usize::try_from(-offset.min(0)).unwrap_or(0);
            let fresh = &seg.payload[skip.min(seg.payload.len())..];
            let start = u32::try_from(offset.max(0)).unwrap_or(u32::MAX);
            let room = usize::from(self.advertised_window()).saturating_sub(start as usize);
            let fresh = &fresh[..fresh.len().min(room)];
            if start == 0 {
                if !fresh.is_empty() {
                    // The stream moved on: one ACK says so; the duplicates
                    // owed for the old edge would only confuse the server.
                    self.dup_acks_owed = 0;
                }
                self.rx.extend_from_slice(fresh);
                self.rcv_nxt = self.rcv_nxt + fresh.len() as u32;
                self.drain_out_of_order();
            } else if !fresh.is_empty() {
                if self.out_of_order.len() >= self.cfg.max_out_of_order {
                    return Err(Ignored::ReassemblyFull);
                }
                let key = (self.rcv_nxt - self.irs) as u32 - 1 + start;
                self.out_of_order
                    .entry(key)
                    .or_insert_with(|| fresh.to_vec());
            }
        }
        self.take_fin_if_in_order();
        Ok(())
    }

    /// Move out-of-order segments that now continue the stream into `rx`.
    fn drain_out_of_order(&mut self) {
        // Each pass removes one entry, so this ends within the map's size.
        while let Some((&key, _)) = self.out_of_order.first_key_value() {
            let next = (self.rcv_nxt - self.irs) as u32 - 1;
            if key > next {
                break;
            }
            let data = self.out_of_order.remove(&key).unwrap_or_default();
            let skip = (next - key) as usize;
            if skip < data.len() {
                self.rx.extend_from_slice(&data[skip..]);
                self.rcv_nxt = self.rcv_nxt + (data.len() - skip) as u32;
            }
        }
    }

    fn take_fin_if_in_order(&mut self) {
        if self.peer_fin_received || self.peer_fin != Some(self.rcv_nxt) {
            return;
        }
        self.peer_fin_received = true;
        self.rcv_nxt = self.rcv_nxt + 1;
        self.ack_pending = true;
        self.state = match self.state {
            TcpState::Established => TcpState::CloseWait,
            TcpState::FinWait1 => TcpState::Closing,
            TcpState::FinWait2 => TcpState::TimeWait,
            other => other,
        };
        // Our FIN may have been acknowledged by this very segment.
        if self.state == TcpState::Closing && self.snd_una == self.snd_nxt {
            self.state = TcpState::TimeWait;
        }
    }
}
