//! A resume that takes a session over from an older connection of its
//! visitor that is still attached: the newer page wins.
//!
//! Owns: a visitor connection's [`Tenure`] (which attachment it is, and
//! whether a newer one took over), telling older connections to go
//! ([`announce`]), and the sentence they close with. Does not own: the
//! attachment numbers (the store hands them out in `SessionStore::resume`)
//! or the connection's ending (`visitor/`).
//!
//! # Why
//!
//! After a network drop the relay may still hold the visitor's old socket
//! (half-open TCP: it only notices at the ping timeout), while the page
//! already resumes on a new one. Refusing that resume would lose the
//! session; so the resume takes over and the old connection is told to
//! close, without ending the session or telling agents anything.
//!
//! # Across relays
//!
//! The takeover is published on the session's visitor topic as
//! [`Delivery::Superseded`] with the new attachment: every connection of
//! that session's visitor (on any relay) hears it, and each one whose own
//! attachment is older ends. The store is the judge when the old
//! connection closes on its own first: `visitor_away` with an attachment
//! that is no longer the session's changes nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use protocol::{ErrorCode, ErrorFrame, SessionId, ToVisitor};
use tokio::sync::Notify;

use crate::bus::{Bus, Delivery, Topic};
use crate::sessions::Attachment;

/// What an older connection of the visitor is told before its close.
pub const SUPERSEDED: &str = "This session continued in another page.";

/// Not attached yet: no takeover concerns it.
const UNATTACHED: u64 = u64::MAX;

/// One visitor connection's turn as its session's connection.
#[derive(Debug)]
pub struct Tenure {
    mine: AtomicU64,
    /// The newest takeover heard, so one heard before [`Tenure::begin`]
    /// still counts.
    seen: AtomicU64,
    over: AtomicBool,
    notify: Notify,
}

impl Default for Tenure {
    fn default() -> Self {
        Tenure {
            mine: AtomicU64::new(UNATTACHED),
            seen: AtomicU64::new(0),
            over: AtomicBool::new(false),
            notify: Notify::new(),
        }
    }
}

impl Tenure {
    /// The connection is now the session's as `attachment`. Before the
    /// takeover is announced, so its own announcement never ends it.
    pub fn begin(&self, attachment: Attachment) {
        // SeqCst here and in `observe`: of a takeover heard while this
        // runs, at least one side sees the other's write.
        self.mine.store(attachment.0, Ordering::SeqCst);
        if self.seen.load(Ordering::SeqCst) > attachment.0 {
            self.end();
        }
    }

    /// The connection's attachment, once it has one.
    pub fn attachment(&self) -> Option<Attachment> {
        let mine = self.mine.load(Ordering::SeqCst);
        (mine != UNATTACHED).then_some(Attachment(mine))
    }

    /// Heard that `by` took the session over: ends this tenure if `by` is
    /// newer than it (takeovers by older ones arrive late or not at all).
    pub fn observe(&self, by: Attachment) {
        self.seen.fetch_max(by.0, Ordering::SeqCst);
        let mine = self.mine.load(Ordering::SeqCst);
        if mine != UNATTACHED && by.0 > mine {
            self.end();
        }
    }

    fn end(&self) {
        if !self.over.swap(true, Ordering::AcqRel) {
            // notify_one keeps a permit if nobody waits yet.
            self.notify.notify_one();
        }
    }

    pub fn is_over(&self) -> bool {
        self.over.load(Ordering::Acquire)
    }

    /// Resolves once a newer connection took the session over.
    pub async fn ended(&self) {
        while !self.is_over() {
            self.notify.notified().await;
        }
    }
}

/// Tells every older connection of `session`'s visitor, on any relay, that
/// `attachment` took over.
pub async fn announce<B: Bus>(bus: &B, session: &SessionId, attachment: Attachment) {
    let topic = Topic::Visitor(session.clone());
    if let Err(err) = bus.publish(&topic, Delivery::Superseded(attachment)).await {
        // The old connection then ends at its ping timeout, as before, and
        // the store keeps it from touching the session.
        tracing::error!(%session, "could not tell the older visitor connection to go: {err}");
    }
}

/// The older connection's last words.
pub fn farewell() -> Delivery {
    Delivery::Visitor(ToVisitor::Error(ErrorFrame {
        code: ErrorCode::NotAllowed,
        message: SUPERSEDED.to_owned(),
    }))
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn only_a_newer_attachment_ends_a_tenure() {
        let tenure = Tenure::default();
        tenure.observe(Attachment(2));
        assert!(!tenure.is_over(), "not attached yet");
        tenure.begin(Attachment(3));
        assert_eq!(tenure.attachment(), Some(Attachment(3)));
        tenure.observe(Attachment(3));
        tenure.observe(Attachment(2));
        assert!(!tenure.is_over(), "its own or an older takeover");
        tenure.observe(Attachment(4));
        assert!(tenure.is_over());
        let early = Tenure::default();
        early.observe(Attachment(5));
        early.begin(Attachment(4));
        assert!(early.is_over(), "taken over before it began");
    }

    #[tokio::test]
    async fn the_end_wakes_a_waiter_even_if_it_came_first() {
        let tenure = Tenure::default();
        tenure.begin(Attachment::FIRST);
        tenure.observe(Attachment(1));
        tokio::time::timeout(Duration::from_secs(1), tenure.ended())
            .await
            .expect("ended");
    }
}
