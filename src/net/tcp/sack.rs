//! SACK (RFC 2018) both ways. The blocks our ACKs carry: the out-of-order
//! data held for reassembly, merged into runs, so the server resends only
//! the holes and can tell a lost tail by its probe (Linux's RACK-TLP
//! needs SACK). And the server's blocks, which show a hole in our request.

use super::{SackBlocks, Segment, Tcp};

impl Tcp {
    /// The runs of out-of-order data, the newest arrival's first (RFC 2018
    /// 4: the block that changed tells the most), then the rest from the
    /// lowest; empty when nothing is held or unless both sides offered
    /// SACK.
    pub(super) fn sack_blocks(&self) -> SackBlocks {
        let mut blocks = SackBlocks::default();
        if !self.sack_ok {
            return blocks;
        }
        let runs = self.out_of_order_runs();
        let newest = self
            .newest_out_of_order
            .and_then(|key| runs.iter().position(|&(lo, hi)| lo <= key && key < hi));
        let first = newest.map(|at| runs[at]);
        let rest = runs
            .iter()
            .enumerate()
            .filter(|&(at, _)| Some(at) != newest);
        let base = self.irs + 1;
        for (lo, hi) in first.into_iter().chain(rest.map(|(_, &run)| run)) {
            if !blocks.push(base + lo, base + hi) {
                break;
            }
        }
        blocks
    }

    /// `[start, end)` offsets of the out-of-order data, and of a FIN
    /// beyond a hole (Linux SACKs it: its sequence number counts),
    /// adjacent and overlapping ones merged (the map is ordered by start,
    /// and a FIN comes after all data).
    fn out_of_order_runs(&self) -> Vec<(u32, u32)> {
        let base = self.irs + 1;
        let data = self.out_of_order.iter().map(|(&key, data)| {
            (
                key,
                key.saturating_add(u32::try_from(data.len()).unwrap_or(u32::MAX)),
            )
        });
        let fin = self
            .peer_fin
            .filter(|_| !self.peer_fin_received)
            .map(|fin| fin.offset_from(base))
            .map(|at| (at, at.saturating_add(1)));
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for (key, end) in data.chain(fin) {
            match runs.last_mut() {
                Some(last) if key <= last.1 => last.1 = last.1.max(end),
                _ => runs.push((key, end)),
            }
        }
        runs
    }

    /// The server's ACK stops at `snd_una` but a SACK block of it holds
    /// data we sent after that: the segment at `snd_una` was lost.
    pub(super) fn sack_shows_a_hole(&self, seg: &Segment) -> bool {
        let (una, nxt) = (self.snd_una, self.snd_nxt);
        let beyond = |&(left, right): &(super::Seq, super::Seq)| {
            left.is_after(una) && right.is_within(left, nxt)
        };
        self.sack_ok && seg.ack == una && una != nxt && seg.sack.as_slice().iter().any(beyond)
    }
}
