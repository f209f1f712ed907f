//! The frames this page sent since its last snapshot, so that after a
//! dropped connection (or its relay going away) the page resends only what
//! the relay lacks (`Resumed.last_seq`) and carries on without a new
//! snapshot. Plain Rust, tested natively.
//!
//! Owns: the bounded list of encoded frames and the decision whether it can
//! fill the relay's gap. Does not own: sending (`session.rs`) or when a
//! snapshot is taken.
//!
//! Bounded like the relay's replay buffer: past [`MAX_FRAMES`] or
//! [`MAX_BYTES`] the oldest frames go, and a gap reaching back past them
//! is answered with a fresh snapshot instead.

use std::collections::VecDeque;

/// The relay's own defaults (`replay_frames`, `replay_bytes`).
pub const MAX_FRAMES: usize = 2000;
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Default)]
pub struct Outbox {
    /// `(seq, encoded VisitorMsg::Event)`, oldest first.
    frames: VecDeque<(u64, Vec<u8>)>,
    bytes: usize,
}

impl Outbox {
    /// Keeps the frame numbered `seq` as sent (a snapshot starts afresh).
    pub fn push(&mut self, seq: u64, snapshot: bool, encoded: Vec<u8>) {
        if snapshot {
            self.frames.clear();
            self.bytes = 0;
        }
        self.bytes += encoded.len();
        self.frames.push_back((seq, encoded));
        while self.frames.len() > MAX_FRAMES || self.bytes > MAX_BYTES {
            match self.frames.pop_front() {
                Some((_, dropped)) => self.bytes -= dropped.len(),
                None => break,
            }
        }
    }

    /// The frames to send again for a relay whose newest frame is `last`:
    /// every one after it, if they are all still here; `None` when the
    /// relay holds nothing or the gap reaches back past what is kept (then
    /// a fresh snapshot is the way on).
    pub fn after(&self, last: Option<u64>) -> Option<Vec<&[u8]>> {
        let last = last?;
        let first = self.frames.front().map(|(seq, _)| *seq)?;
        if first > last.saturating_add(1) {
            return None;
        }
        Some(
            self.frames
                .iter()
                .filter(|(seq, _)| *seq > last)
                .map(|(_, bytes)| bytes.as_slice())
                .collect(),
        )
    }

    pub fn clear(&mut self) {
        self.frames.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn filled(seqs: impl IntoIterator<Item = u64>, snapshot_at: u64) -> Outbox {
        let mut outbox = Outbox::default();
        for seq in seqs {
            outbox.push(seq, seq == snapshot_at, vec![seq as u8]);
        }
        outbox
    }

    #[test]
    fn resends_exactly_what_the_relay_lacks() {
        let outbox = filled(1..=6, 1);
        let again = outbox.after(Some(3)).expect("all there");
        assert_eq!(again, vec![&[4u8][..], &[5], &[6]]);
        assert_eq!(outbox.after(Some(6)).expect("nothing"), Vec::<&[u8]>::new());
    }

    #[test]
    fn a_snapshot_starts_afresh_and_an_older_gap_needs_a_new_one() {
        let outbox = filled(1..=6, 4);
        assert_eq!(outbox.after(Some(3)).expect("from 4").len(), 3);
        assert!(outbox.after(Some(1)).is_none(), "2 and 3 are gone");
    }

    #[test]
    fn a_relay_that_holds_nothing_gets_a_snapshot() {
        assert!(filled(1..=3, 1).after(None).is_none());
        assert!(Outbox::default().after(Some(3)).is_none());
    }

    #[test]
    fn past_its_bounds_the_oldest_frames_go() {
        let mut outbox = Outbox::default();
        for seq in 1..=(MAX_FRAMES as u64 + 10) {
            outbox.push(seq, seq == 1, vec![0]);
        }
        assert!(outbox.after(Some(5)).is_none());
        let tail = outbox.after(Some(MAX_FRAMES as u64)).expect("recent");
        assert_eq!(tail.len(), 10);
        outbox.push(1, false, vec![0; MAX_BYTES + 1]);
        assert!(outbox.after(Some(0)).is_none(), "too big to keep");
    }
}
