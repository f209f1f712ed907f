//! The fan-out bus: how a message for "the visitor of session S" or "agent A
//! of session S" reaches the connection that serves it, wherever it is.
//!
//! Owns: the [`Bus`] trait, the addresses ([`Topic`]), what travels
//! ([`Delivery`]) and a connection's bounded inbox ([`Mailbox`]). Does not
//! own: session state (`sessions.rs`) or sockets (`connection.rs`).
//!
//! Visitor events are published to each admitted agent's own topic, never to
//! a session-wide one: the visitor's connection knows whom it admitted, so an
//! agent that is still waiting for consent cannot receive the page even by
//! accident, and one publisher per topic keeps `Admitted` ahead of the first
//! event.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use protocol::{AgentId, Seq, SessionId, ToAgent, ToVisitor};
use tokio::sync::{mpsc, Notify};

use crate::gate::Standing;
use crate::idle::Activity;
use crate::rejoin::Returning;
use crate::sessions::Attachment;
use crate::takeover::Tenure;
use crate::RelayError;

/// An address on the bus.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    Visitor(SessionId),
    Agent(SessionId, AgentId),
}

/// One thing for a connection to write, cheap to clone for fan-out.
#[derive(Debug, Clone)]
pub enum Delivery {
    Visitor(ToVisitor),
    Agent(ToAgent),
    /// A frame encoded once and shared by every agent it goes to.
    Encoded(Bytes),
    /// A visitor event encoded once for agents (`ToAgent::Event`), with its
    /// sequence number: an agent's connection writes each number once (a
    /// replay overlapping what came live, a page resending after its relay
    /// died), see `gate.rs`. Stamped for the fan-out latency metric.
    Frame(Seq, Stamped),
    /// The session's visitor attached again as this (`takeover.rs`): every
    /// older connection of that visitor ends. Read by the mailbox, never
    /// written to a socket.
    Superseded(Attachment),
    /// An admitted agent continues its place after its connection broke
    /// (`rejoin.rs`), having applied everything up to `after`: the
    /// visitor's connection replays the rest and forwards to it again.
    /// Read by the mailbox, never written to a socket.
    Rejoined {
        agent: AgentId,
        after: Option<Seq>,
    },
    /// Close the socket normally after what is queued; only a connection
    /// puts this in its own mailbox, it never travels on the bus.
    Close {
        reason: String,
    },
}

impl Delivery {
    /// The close frame that must follow this delivery, if it ends the
    /// connection: `(close code, reason)`.
    pub fn closes(&self) -> Option<(u16, String)> {
        match self {
            Delivery::Visitor(ToVisitor::Error(e)) | Delivery::Agent(ToAgent::Error(e)) => {
                Some((e.code.close_code(), e.message.clone()))
            }
            Delivery::Visitor(ToVisitor::Ended { reason })
            | Delivery::Agent(ToAgent::Ended { reason }) => {
                Some((NORMAL_CLOSE, reason.describe().to_owned()))
            }
            Delivery::Close { reason } => Some((NORMAL_CLOSE, reason.clone())),
            Delivery::Visitor(_)
            | Delivery::Agent(_)
            | Delivery::Encoded(_)
            | Delivery::Frame(..)
            | Delivery::Superseded(_)
            | Delivery::Rejoined { .. } => None,
        }
    }
}

/// A visitor event on its way to an agent: the bytes, when the visitor's
/// relay received it (wall clock, microseconds since the epoch: it may be
/// written by another relay; 0 for a frame replayed from the buffer, which
/// the fan-out latency does not count) and whether it came through Redis
/// pub/sub.
#[derive(Debug, Clone)]
pub struct Stamped {
    pub bytes: Bytes,
    pub received_us: u64,
    pub crossed: bool,
}

impl Stamped {
    /// A frame replayed from the buffer (not timed).
    pub fn replayed(bytes: Bytes) -> Stamped {
        Stamped {
            bytes,
            received_us: 0,
            crossed: false,
        }
    }
}

/// RFC 6455 "normal closure".
pub const NORMAL_CLOSE: u16 = 1000;

/// The sending half of a connection's bounded queue. Delivering never waits:
/// a full queue marks the connection as too slow instead, so one slow reader
/// cannot hold up the visitor or the other agents.
#[derive(Debug, Clone)]
pub struct Mailbox {
    tx: mpsc::Sender<Delivery>,
    overflow: Arc<Overflow>,
    /// An agent connection's standing, kept up to date from what is
    /// delivered to it (see `gate.rs`).
    standing: Option<Arc<Standing>>,
    /// A visitor connection's last sign of life: each delivery to the
    /// visitor is an agent's doing or an answer to the visitor.
    activity: Option<Arc<Activity>>,
    /// A visitor connection's turn as its session's connection, ended by a
    /// newer one's takeover.
    tenure: Option<Arc<Tenure>>,
    /// A visitor connection's agents coming back (`rejoin.rs`).
    returning: Option<Arc<Returning>>,
}

/// The connection's side: its writer task drains this.
#[derive(Debug)]
pub struct MailboxReceiver {
    rx: mpsc::Receiver<Delivery>,
    overflow: Arc<Overflow>,
    capacity: usize,
}

/// See [`MailboxReceiver::overflow_signal`].
#[derive(Debug, Clone)]
pub struct OverflowSignal(Arc<Overflow>);

impl OverflowSignal {
    pub async fn wait(&self) {
        if self.0.tripped.load(Ordering::Acquire) {
            return;
        }
        self.0.notify.notified().await;
    }
}

#[derive(Debug, Default)]
struct Overflow {
    tripped: AtomicBool,
    notify: Notify,
}

/// Creates a connection's queue of `capacity` (at least 1) deliveries.
pub fn mailbox(capacity: usize) -> (Mailbox, MailboxReceiver) {
    let capacity = capacity.max(1);
    let (tx, rx) = mpsc::channel(capacity);
    let overflow = Arc::new(Overflow::default());
    (
        Mailbox {
            tx,
            overflow: Arc::clone(&overflow),
            standing: None,
            activity: None,
            tenure: None,
            returning: None,
        },
        MailboxReceiver {
            rx,
            overflow,
            capacity,
        },
    )
}

impl Mailbox {
    /// `false` when the connection no longer takes deliveries: it has gone,
    /// or its queue just overflowed (which ends it).
    pub fn deliver(&self, delivery: Delivery) -> bool {
        if self.overflow.tripped.load(Ordering::Acquire) {
            return false;
        }
        if let Delivery::Superseded(by) = delivery {
            // For the connection, not its peer; not a sign of life either.
            if let Some(tenure) = &self.tenure {
                tenure.observe(by);
            }
            return true;
        }
        if let Delivery::Rejoined { agent, after } = delivery {
            // For the visitor's connection, which replays and forwards.
            if let Some(returning) = &self.returning {
                returning.note(agent, after);
            }
            return true;
        }
        // Before it is queued: a withdrawn mode takes effect as soon as it
        // is published, not once the agent has read what is ahead of it.
        if let Some(standing) = &self.standing {
            if let Delivery::Frame(seq, _) = &delivery {
                if !standing.first_time(*seq) {
                    // The agent has it already: taken, not written again.
                    return true;
                }
            }
            standing.observe(&delivery);
        }
        if let Some(activity) = &self.activity {
            activity.touch();
        }
        match self.tx.try_send(delivery) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflow.tripped.store(true, Ordering::Release);
                // notify_one keeps a permit if the writer is not waiting yet.
                self.overflow.notify.notify_one();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// The same mailbox, also noting into `standing` the admission and mode
    /// deliveries that pass through it.
    pub(crate) fn following(mut self, standing: Arc<Standing>) -> Mailbox {
        self.standing = Some(standing);
        self
    }

    /// The same mailbox, also ending `tenure` when a newer connection of
    /// the visitor takes the session over.
    pub(crate) fn holding(mut self, tenure: Arc<Tenure>) -> Mailbox {
        self.tenure = Some(tenure);
        self
    }

    /// The same mailbox, also noting agents that come back into
    /// `returning`.
    pub(crate) fn welcoming(mut self, returning: Arc<Returning>) -> Mailbox {
        self.returning = Some(returning);
        self
    }

    /// The same mailbox, also noting each delivery into `activity`.
    pub(crate) fn noting(mut self, activity: Arc<Activity>) -> Mailbox {
        self.activity = Some(activity);
        self
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed() || self.overflow.tripped.load(Ordering::Acquire)
    }
}

impl MailboxReceiver {
    pub async fn recv(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }

    /// Resolves once a delivery found the queue full.
    pub async fn overflowed(&self) {
        self.overflow_signal().wait().await;
    }

    /// The overflow signal on its own, to wait on while also receiving.
    pub fn overflow_signal(&self) -> OverflowSignal {
        OverflowSignal(Arc::clone(&self.overflow))
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Moves deliveries between connections, possibly across relays.
///
/// Implementations never wait on a subscriber: a publish hands the delivery to
/// each subscriber's [`Mailbox`] and moves on.
pub trait Bus: Send + Sync + 'static {
    /// Dropping it ends the subscription.
    type Subscription: Send + 'static;

    /// Routes deliveries for `topic` into `mailbox` until the returned
    /// subscription is dropped or the mailbox stops taking deliveries.
    fn subscribe(
        &self,
        topic: Topic,
        mailbox: Mailbox,
    ) -> impl Future<Output = Result<Self::Subscription, RelayError>> + Send;

    /// Returns how many subscribers took the delivery: 0 means nobody serves
    /// that topic any more (the agent left, the visitor is gone).
    fn publish(
        &self,
        topic: &Topic,
        delivery: Delivery,
    ) -> impl Future<Output = Result<usize, RelayError>> + Send;
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use protocol::{EndReason, ErrorCode, ErrorFrame};

    #[test]
    fn a_full_mailbox_trips_once_and_refuses_further_deliveries() {
        let (mb, mut rx) = mailbox(2);
        let frame = || Delivery::Encoded(Bytes::from_static(b"x"));
        assert!(mb.deliver(frame()));
        assert!(mb.deliver(frame()));
        assert!(!mb.deliver(frame()), "third delivery overflows");
        assert!(mb.is_closed());
        // Draining does not reopen it: the connection is already condemned.
        assert!(rx.rx.try_recv().is_ok());
        assert!(!mb.deliver(frame()));
    }

    #[test]
    fn a_takeover_ends_an_older_tenure_and_is_never_queued() {
        let (mb, mut rx) = mailbox(1);
        let tenure = Arc::new(Tenure::default());
        tenure.begin(Attachment(1));
        let mb = mb.holding(Arc::clone(&tenure));
        assert!(mb.deliver(Delivery::Superseded(Attachment(1))));
        assert!(!tenure.is_over(), "its own announcement");
        assert!(mb.deliver(Delivery::Superseded(Attachment(2))));
        assert!(tenure.is_over());
        assert!(rx.rx.try_recv().is_err(), "nothing for the socket");
        assert!(mb.deliver(Delivery::Encoded(Bytes::from_static(b"x"))));
    }

    #[tokio::test]
    async fn overflow_wakes_the_receiver_even_if_it_was_not_waiting_yet() {
        let (mb, rx) = mailbox(1);
        assert!(mb.deliver(Delivery::Close { reason: "a".into() }));
        assert!(!mb.deliver(Delivery::Close { reason: "b".into() }));
        tokio::time::timeout(std::time::Duration::from_secs(1), rx.overflowed())
            .await
            .expect("overflow is signalled");
    }

    #[test]
    fn errors_and_ends_close_the_socket_with_their_codes() {
        let err = Delivery::Agent(ToAgent::Error(ErrorFrame {
            code: ErrorCode::UnknownCode,
            message: "no".into(),
        }));
        assert_eq!(err.closes(), Some((4004, "no".into())));
        let ended = Delivery::Visitor(ToVisitor::Ended {
            reason: EndReason::RelayShutdown,
        });
        assert_eq!(ended.closes().map(|c| c.0), Some(NORMAL_CLOSE));
        assert_eq!(Delivery::Visitor(ToVisitor::SnapshotNeeded).closes(), None);
    }
}
