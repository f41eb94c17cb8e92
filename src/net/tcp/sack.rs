//! The SACK blocks our ACKs carry (RFC 2018): the out-of-order data held
//! for reassembly, merged into runs, so the server resends only the holes
//! and can tell a lost tail by its probe (Linux's RACK-TLP needs SACK).

use super::{SackBlocks, Tcp};

impl Tcp {
    /// The runs of out-of-order data, the newest arrival's first (RFC 2018
    /// 4: the block that changed tells the most), then the rest from the
    /// lowest; empty unless both sides offered SACK.
    pub(super) fn sack_blocks(&self) -> SackBlocks {
        let mut blocks = SackBlocks::default();
        if !self.sack_ok || self.out_of_order.is_empty() {
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

    /// `[start, end)` offsets of the out-of-order data, adjacent and
    /// overlapping segments merged (the map is ordered by start).
    fn out_of_order_runs(&self) -> Vec<(u32, u32)> {
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for (&key, data) in &self.out_of_order {
            let end = key.saturating_add(u32::try_from(data.len()).unwrap_or(u32::MAX));
            match runs.last_mut() {
                Some(last) if key <= last.1 => last.1 = last.1.max(end),
                _ => runs.push((key, end)),
            }
        }
        runs
    }
}
