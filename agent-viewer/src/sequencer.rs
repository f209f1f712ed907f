//! Puts the visitor's event frames back in order. Owns: the rule that frames
//! are applied strictly by [`Seq`], never twice, and when a gap is given up
//! on (then the console asks for a fresh snapshot). Does not own: decoding or
//! applying frames, sockets or timers (the caller passes the time in).
//!
//! Frames can overtake each other when a session's visitor and agent sit on
//! different relays, so a frame that arrives early is buffered until the ones
//! before it arrive. A snapshot replaces everything the console shows, so it
//! needs no predecessors: it is taken as soon as it arrives and everything
//! older than it is dropped.

use std::collections::BTreeMap;

use protocol::{EventFrame, Seq};

/// When a gap is given up on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// A gap with this many frames waiting behind it is not going to close.
    pub max_buffered: usize,
    /// Nor is one that stayed open this long (milliseconds).
    pub max_gap_ms: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_buffered: 64,
            max_gap_ms: 2000.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing can be applied until a snapshot arrives: before the first one,
    /// and after the console asked for a fresh one.
    AwaitingSnapshot,
    /// Applying frames in order; `expected` is the next one.
    Live { expected: Seq },
}

/// What [`Sequencer::push`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Kept until its turn (which may be right away: see [`Sequencer::pop_ready`]).
    Buffered,
    /// Already applied, already buffered, or older than what was applied.
    Dropped,
}

#[derive(Debug)]
pub struct Sequencer {
    phase: Phase,
    /// The last frame handed out: nothing at or below it is handed out again.
    last_applied: Option<Seq>,
    buffer: BTreeMap<Seq, EventFrame>,
    /// When the current gap was first seen (milliseconds, caller's clock).
    gap_since: Option<f64>,
    limits: Limits,
}

impl Default for Sequencer {
    fn default() -> Self {
        Sequencer::new(Limits::default())
    }
}

impl Sequencer {
    pub fn new(limits: Limits) -> Self {
        Sequencer {
            phase: Phase::AwaitingSnapshot,
            last_applied: None,
            buffer: BTreeMap::new(),
            gap_since: None,
            limits,
        }
    }

    /// The newest frame handed out (what a rejoin continues after).
    pub fn last_applied(&self) -> Option<Seq> {
        self.last_applied
    }

    /// True until a snapshot has been handed out (and again after a resync).
    pub fn awaiting_snapshot(&self) -> bool {
        self.phase == Phase::AwaitingSnapshot
    }

    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Takes a frame as it arrived. Call [`Sequencer::pop_ready`] until it
    /// returns `None`, then [`Sequencer::check_gap`].
    pub fn push(&mut self, frame: EventFrame) -> Pushed {
        if self.last_applied.is_some_and(|last| frame.seq <= last) {
            return Pushed::Dropped;
        }
        if self.buffer.contains_key(&frame.seq) {
            return Pushed::Dropped;
        }
        self.buffer.insert(frame.seq, frame);
        if self.phase == Phase::AwaitingSnapshot {
            // Only frames newer than the coming snapshot will matter, and the
            // snapshot is taken as soon as it is pushed, so the oldest go.
            while self.buffer.len() > self.limits.max_buffered {
                self.buffer.pop_first();
            }
        }
        Pushed::Buffered
    }

    /// The next frame to apply, if its turn has come.
    pub fn pop_ready(&mut self) -> Option<EventFrame> {
        // The newest buffered snapshot wins over everything before it,
        // whatever the phase: applying what comes before it would be wasted.
        let newest_snapshot = self
            .buffer
            .iter()
            .rev()
            .find(|(_, frame)| frame.snapshot)
            .map(|(seq, _)| *seq);
        let next = match (self.phase, newest_snapshot) {
            (Phase::Live { expected }, Some(snap)) if snap > expected => Some(snap),
            (Phase::Live { expected }, _) => Some(expected),
            (Phase::AwaitingSnapshot, snap) => snap,
        }?;
        let frame = self.buffer.remove(&next)?;
        // Everything older than the frame handed out is now stale.
        self.buffer = self.buffer.split_off(&next);
        self.last_applied = Some(next);
        self.phase = Phase::Live {
            expected: next.next(),
        };
        Some(frame)
    }

    /// Looks at the gap (if any) after the ready frames were taken. Returns
    /// true when the caller must send `AgentMsg::Resync`: the gap is given up
    /// on and the sequencer waits for the next snapshot. Returns true at most
    /// once per gap.
    pub fn check_gap(&mut self, now_ms: f64) -> bool {
        let Phase::Live { expected } = self.phase else {
            self.gap_since = None;
            return false;
        };
        if self.buffer.is_empty() || self.buffer.contains_key(&expected) {
            self.gap_since = None;
            return false;
        }
        let since = *self.gap_since.get_or_insert(now_ms);
        if self.buffer.len() >= self.limits.max_buffered || now_ms - since >= self.limits.max_gap_ms
        {
            self.gap_since = None;
            self.phase = Phase::AwaitingSnapshot;
            return true;
        }
        false
    }

    /// The caller could not apply a frame (it did not decode, or named nodes
    /// the mirror does not know). Returns true when the caller must send
    /// `AgentMsg::Resync`; false when a snapshot is already awaited.
    pub fn resync(&mut self) -> bool {
        self.gap_since = None;
        match self.phase {
            Phase::Live { .. } => {
                self.phase = Phase::AwaitingSnapshot;
                true
            }
            Phase::AwaitingSnapshot => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64, snapshot: bool) -> EventFrame {
        EventFrame {
            seq: Seq(seq),
            snapshot,
            payload: vec![seq as u8],
        }
    }

    fn snap(seq: u64) -> EventFrame {
        frame(seq, true)
    }

    fn ev(seq: u64) -> EventFrame {
        frame(seq, false)
    }

    fn drain(s: &mut Sequencer) -> Vec<u64> {
        std::iter::from_fn(|| s.pop_ready())
            .map(|f| f.seq.0)
            .collect()
    }

    fn push_all(s: &mut Sequencer, frames: Vec<EventFrame>) -> Vec<u64> {
        let mut out = Vec::new();
        for f in frames {
            s.push(f);
            out.extend(drain(s));
        }
        out
    }

    #[test]
    fn frames_in_order_are_applied_in_order() {
        let mut s = Sequencer::default();
        let out = push_all(&mut s, vec![snap(1), ev(2), ev(3), ev(4)]);
        assert_eq!(out, vec![1, 2, 3, 4]);
        assert!(!s.check_gap(0.0));
    }

    #[test]
    fn out_of_order_frames_wait_for_their_turn() {
        let mut s = Sequencer::default();
        assert_eq!(push_all(&mut s, vec![snap(1)]), vec![1]);
        assert_eq!(push_all(&mut s, vec![ev(4), ev(3)]), Vec::<u64>::new());
        assert!(!s.check_gap(0.0), "a fresh gap is not given up on");
        assert_eq!(push_all(&mut s, vec![ev(2)]), vec![2, 3, 4]);
        assert_eq!(s.buffered(), 0);
    }

    #[test]
    fn duplicates_are_never_applied_twice() {
        let mut s = Sequencer::default();
        let out = push_all(&mut s, vec![snap(1), ev(2), ev(2), snap(1), ev(3)]);
        assert_eq!(out, vec![1, 2, 3]);
        // A duplicate of a buffered frame is dropped too.
        assert_eq!(s.push(ev(5)), Pushed::Buffered);
        assert_eq!(s.push(ev(5)), Pushed::Dropped);
        assert_eq!(push_all(&mut s, vec![ev(4)]), vec![4, 5]);
    }

    #[test]
    fn frames_before_the_first_snapshot_are_dropped() {
        let mut s = Sequencer::default();
        assert_eq!(push_all(&mut s, vec![ev(3), ev(4)]), Vec::<u64>::new());
        assert!(s.awaiting_snapshot());
        assert!(
            !s.check_gap(10_000.0),
            "no resync before the first snapshot"
        );
        // The snapshot at 5 makes 3 and 4 stale; 6 follows it.
        assert_eq!(push_all(&mut s, vec![snap(5), ev(6)]), vec![5, 6]);
        assert_eq!(s.buffered(), 0);
    }

    #[test]
    fn a_frame_that_overtook_the_first_snapshot_is_kept() {
        let mut s = Sequencer::default();
        assert_eq!(push_all(&mut s, vec![ev(8), snap(7)]), vec![7, 8]);
    }

    #[test]
    fn a_snapshot_resets_the_expected_seq_and_drops_older_frames() {
        let mut s = Sequencer::default();
        assert_eq!(push_all(&mut s, vec![snap(1), ev(2)]), vec![1, 2]);
        // 3 went missing; 4 and 6 wait; the snapshot at 5 makes 4 stale.
        assert_eq!(push_all(&mut s, vec![ev(4), ev(6)]), Vec::<u64>::new());
        assert_eq!(push_all(&mut s, vec![snap(5)]), vec![5, 6]);
        assert_eq!(s.buffered(), 0);
        // The frames it replaced never come back.
        assert_eq!(push_all(&mut s, vec![ev(3), ev(4), ev(7)]), vec![7]);
    }

    #[test]
    fn a_gap_left_open_too_long_asks_for_a_resync_once() {
        let mut s = Sequencer::default();
        push_all(&mut s, vec![snap(1), ev(3)]);
        assert!(!s.check_gap(1000.0));
        assert!(!s.check_gap(2999.0));
        assert!(s.check_gap(3000.0), "2 s after the gap opened");
        assert!(s.awaiting_snapshot());
        assert!(!s.check_gap(9000.0), "only once");
        // Frames go on arriving; none is applied until the snapshot.
        assert_eq!(push_all(&mut s, vec![ev(4), ev(2)]), Vec::<u64>::new());
        assert!(!s.check_gap(20_000.0));
        assert_eq!(push_all(&mut s, vec![snap(10), ev(11)]), vec![10, 11]);
        assert!(!s.awaiting_snapshot());
    }

    #[test]
    fn a_gap_with_too_many_frames_behind_it_asks_for_a_resync() {
        let mut s = Sequencer::new(Limits {
            max_buffered: 4,
            max_gap_ms: 1e9,
        });
        push_all(&mut s, vec![snap(1)]);
        for seq in 3..6 {
            s.push(ev(seq));
            assert!(!s.check_gap(0.0));
        }
        s.push(ev(6));
        assert!(s.check_gap(0.0));
        assert!(!s.resync(), "already awaiting a snapshot");
    }

    #[test]
    fn a_gap_that_closes_in_time_does_not_resync() {
        let mut s = Sequencer::default();
        push_all(&mut s, vec![snap(1), ev(3)]);
        assert!(!s.check_gap(0.0));
        assert_eq!(push_all(&mut s, vec![ev(2)]), vec![2, 3]);
        assert!(!s.check_gap(5000.0));
        // A new gap starts its own clock.
        push_all(&mut s, vec![ev(5)]);
        assert!(!s.check_gap(6000.0));
        assert!(s.check_gap(8000.0));
    }

    #[test]
    fn a_failed_apply_asks_for_a_resync_once_and_waits_for_a_snapshot() {
        let mut s = Sequencer::default();
        push_all(&mut s, vec![snap(1), ev(2)]);
        assert!(s.resync());
        assert!(!s.resync());
        assert_eq!(push_all(&mut s, vec![ev(3), ev(4)]), Vec::<u64>::new());
        assert_eq!(push_all(&mut s, vec![snap(5)]), vec![5]);
        assert!(s.resync(), "a later failure asks again");
    }

    #[test]
    fn the_buffer_before_a_snapshot_is_bounded() {
        let mut s = Sequencer::new(Limits {
            max_buffered: 3,
            max_gap_ms: 1e9,
        });
        for seq in 1..100 {
            s.push(ev(seq));
        }
        assert_eq!(s.buffered(), 3);
    }
}
