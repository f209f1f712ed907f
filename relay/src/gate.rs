//! What an agent may send on to the visitor's page, decided per message
//! without asking the session store: the agent's standing (admitted? in
//! which mode?) as its own connection last heard it, and a rate budget.
//!
//! Owns: [`Standing`], [`Budget`] and the reasons a message is dropped.
//! Does not own: the recorded modes (the `SessionStore` is the truth; a
//! Control is checked there too before it goes on) or the forwarding itself
//! (`agent/`).
//!
//! The standing follows the `ToAgent::Admitted` and `ToAgent::Mode`
//! deliveries on the agent's own bus topic, in the order they are published
//! (the visitor's relay publishes `Admitted` before the first `Mode`), so a
//! mode the visitor sets on another relay reaches it without a store round
//! trip per message.

use protocol::{Mode, Seq, ToAgent};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use tokio::time::Instant;

use crate::bus::Delivery;

/// Why an agent's message did not reach the visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Control while the agent's mode is view-only.
    Mode,
    /// The visitor has not admitted the agent (yet).
    NotAdmitted,
    /// Over the connection's per-second budget.
    Rate,
}

impl DropReason {
    pub const ALL: [DropReason; 3] = [DropReason::Mode, DropReason::NotAdmitted, DropReason::Rate];

    pub fn label(self) -> &'static str {
        match self {
            DropReason::Mode => "mode",
            DropReason::NotAdmitted => "not_admitted",
            DropReason::Rate => "rate",
        }
    }
}

const ADMITTED: u8 = 1;
const SHARED: u8 = 2;

/// An agent connection's standing, as the deliveries to it say. Shared
/// between the bus (which writes it as it delivers) and the connection's
/// task (which reads it per message): atomics, never a lock. It also
/// remembers the newest event written to the agent, so none is written
/// twice.
#[derive(Debug, Default)]
pub struct Standing(AtomicU8, AtomicU64);

impl Standing {
    /// Notes what `delivery` says about the agent's standing, if anything.
    pub fn observe(&self, delivery: &Delivery) {
        match delivery {
            // Admission is for good: an agent the visitor sends away is
            // ended, its connection closes.
            Delivery::Agent(ToAgent::Admitted { .. }) => {
                self.0.fetch_or(ADMITTED, Ordering::AcqRel);
            }
            Delivery::Agent(ToAgent::Mode(mode)) => self.set_mode(*mode),
            _ => {}
        }
    }

    fn set_mode(&self, mode: Mode) {
        match mode {
            Mode::Shared => self.0.fetch_or(SHARED, Ordering::AcqRel),
            Mode::ViewOnly => self.0.fetch_and(!SHARED, Ordering::AcqRel),
        };
    }

    /// Whether event `seq` is newer than every one this connection was
    /// given (and notes it): a session's numbers only grow, so an older or
    /// equal one is a copy.
    pub fn first_time(&self, seq: Seq) -> bool {
        // Stored plus one: zero means none yet.
        let mark = seq.0.saturating_add(1);
        self.1.fetch_max(mark, Ordering::AcqRel) < mark
    }

    /// A rejoining console already applied everything up to `seq`.
    pub fn applied_up_to(&self, seq: Option<Seq>) {
        if let Some(seq) = seq {
            self.first_time(seq);
        }
    }

    pub fn admitted(&self) -> bool {
        self.0.load(Ordering::Acquire) & ADMITTED != 0
    }

    /// View-only until a `Mode(Shared)` came: the safe default.
    pub fn mode(&self) -> Mode {
        if self.0.load(Ordering::Acquire) & SHARED != 0 {
            Mode::Shared
        } else {
            Mode::ViewOnly
        }
    }
}

#[cfg(test)]
mod standing_tests {
    use super::*;

    #[test]
    fn each_event_is_written_once_and_never_an_older_one() {
        let standing = Standing::default();
        assert!(standing.first_time(Seq(1)));
        assert!(standing.first_time(Seq(2)));
        assert!(!standing.first_time(Seq(2)), "a copy");
        assert!(!standing.first_time(Seq(1)), "older");
        assert!(standing.first_time(Seq(5)));
        let rejoined = Standing::default();
        rejoined.applied_up_to(Some(Seq(7)));
        assert!(!rejoined.first_time(Seq(7)));
        assert!(rejoined.first_time(Seq(8)));
    }
}

/// A token bucket: up to `per_second` messages a second, with a burst of
/// one second's worth. Uses tokio's clock, so tests can pause time.
#[derive(Debug)]
pub struct Budget {
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl Budget {
    pub fn new(per_second: u32) -> Budget {
        let per_second = f64::from(per_second.max(1));
        Budget {
            per_second,
            tokens: per_second,
            last: Instant::now(),
        }
    }

    /// A bucket that starts `extra` tokens over its burst, once (they are
    /// spent first and never refilled): a page that resumes resends what
    /// the relay lacks from its outbox in one go.
    pub fn with_head_start(per_second: u32, extra: u32) -> Budget {
        let mut budget = Budget::new(per_second);
        budget.tokens += f64::from(extra);
        budget
    }

    /// Spends one token; `false` (and nothing spent) when there is none.
    pub fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * self.per_second;
        // Refilling never raises the bucket past its burst, nor takes away
        // a head start still above it.
        self.tokens = (self.tokens + refill).min(self.per_second.max(self.tokens));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use protocol::{EndReason, ToVisitor};
    use std::time::Duration;

    #[test]
    fn standing_follows_admission_and_mode_deliveries() {
        let s = Standing::default();
        assert!(!s.admitted());
        assert_eq!(s.mode(), Mode::ViewOnly);
        s.observe(&Delivery::Agent(ToAgent::Admitted {
            resources: "/r/".into(),
        }));
        assert!(s.admitted());
        assert_eq!(s.mode(), Mode::ViewOnly);
        s.observe(&Delivery::Agent(ToAgent::Mode(Mode::Shared)));
        assert_eq!(s.mode(), Mode::Shared);
        // Other deliveries say nothing about it.
        s.observe(&Delivery::Visitor(ToVisitor::SnapshotNeeded));
        s.observe(&Delivery::Agent(ToAgent::Ended {
            reason: EndReason::VisitorEnded,
        }));
        assert_eq!(s.mode(), Mode::Shared);
        s.observe(&Delivery::Agent(ToAgent::Mode(Mode::ViewOnly)));
        assert_eq!(s.mode(), Mode::ViewOnly);
        assert!(s.admitted());
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_allows_a_seconds_burst_then_refills_steadily() {
        let mut b = Budget::new(60);
        assert_eq!((0..100).filter(|_| b.take()).count(), 60);
        assert!(!b.take());
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!((0..100).filter(|_| b.take()).count(), 6);
        assert!(!b.take());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(
            (0..100).filter(|_| b.take()).count(),
            60,
            "capped at a burst"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_start_is_spent_once_then_the_bucket_is_as_usual() {
        let mut b = Budget::with_head_start(60, 2000);
        assert_eq!((0..5000).filter(|_| b.take()).count(), 2060);
        assert!(!b.take());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!((0..5000).filter(|_| b.take()).count(), 60);
    }
}
