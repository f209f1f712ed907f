//! [`RedisBus`]: the [`Bus`] over Redis pub/sub, one channel per [`Topic`].
//!
//! Owns: this relay's one pub/sub connection, the local table from channel to
//! the mailboxes subscribed here, and how a [`Delivery`] is put into a
//! message. Does not own: mailboxes or sockets.
//!
//! Publishing goes through the shared command connection (a
//! `ConnectionManager`, which reconnects by itself); `PUBLISH` answers how
//! many relays listen, which is what [`Bus::publish`] reports. Deliveries from
//! one publisher arrive in the order it published them, which is what keeps
//! `Admitted` ahead of the first event.
//!
//! Receiving: a task per pub/sub connection reads every message and hands it
//! to the local mailboxes of its channel without waiting (`Mailbox::deliver`).
//! SUBSCRIBE and UNSUBSCRIBE go out one at a time under the `control` lock, so
//! "is anyone here still listening to this channel?" and the command that
//! follows from the answer cannot interleave with another subscriber's.
//!
//! When the pub/sub connection is lost (closed, or a ping goes unanswered)
//! every local subscriber gets an error frame, which ends its connection: a
//! peer that silently stopped receiving would be worse. The next
//! subscription opens a new connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, PubSubSink, PubSubStream};
use ::redis::{Client, Msg};
use axum::body::Bytes;
use futures_util::StreamExt;
use protocol::{AgentId, Seq, ToAgent, ToVisitor};
use tokio::task::JoinHandle;

use super::{backend_error, channel, query, COMMAND_TIMEOUT};
use crate::bus::{Bus, Delivery, Mailbox, Stamped, Topic};
use crate::sessions::Attachment;
use crate::RelayError;

/// First byte of a message: what follows it.
const ENCODED: u8 = b'E';
const TO_VISITOR: u8 = b'V';
const TO_AGENT: u8 = b'A';
/// A visitor takeover: the new attachment, 8 bytes big-endian.
const SUPERSEDED: u8 = b'S';
/// An agent back (`rejoin.rs`): its id, 4 bytes big-endian, then its last
/// applied seq, 8 bytes big-endian, if it had one.
const REJOINED: u8 = b'J';
/// A visitor event: its seq, 8 bytes big-endian, when its relay received it
/// (microseconds since the epoch, 8 bytes big-endian; 0 for a replayed
/// frame), then the encoded frame.
const FRAME: u8 = b'F';

/// Deliveries between relays that share one Redis. Cheap to clone.
#[derive(Clone)]
pub struct RedisBus {
    shared: Arc<Shared>,
}

struct Shared {
    client: Client,
    publisher: ConnectionManager,
    health_interval: Duration,
    /// The live pub/sub connection, if any. Held across SUBSCRIBE and
    /// UNSUBSCRIBE round trips (hence tokio's mutex).
    control: tokio::sync::Mutex<Option<Control>>,
    /// Channel → the mailboxes subscribed to it on this relay. Only ever
    /// locked for a few map operations, never across an await.
    routes: Mutex<HashMap<String, Vec<Route>>>,
    next_id: AtomicU64,
    next_generation: AtomicU64,
}

struct Control {
    generation: u64,
    sink: PubSubSink,
    reader: JoinHandle<()>,
}

struct Route {
    id: u64,
    topic: Topic,
    mailbox: Mailbox,
}

/// Unsubscribes on drop.
pub struct RedisSubscription {
    bus: Weak<Shared>,
    channel: String,
    id: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RedisBus {
    /// Opens the pub/sub connection at once, so an unreachable Redis is
    /// found at start-up rather than by the first visitor.
    pub(crate) async fn connect(
        client: Client,
        publisher: ConnectionManager,
        health_interval: Duration,
    ) -> Result<Self, RelayError> {
        let shared = Arc::new(Shared {
            client,
            publisher,
            health_interval,
            control: tokio::sync::Mutex::new(None),
            routes: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            next_generation: AtomicU64::new(0),
        });
        let control = Shared::open(&shared).await?;
        *shared.control.lock().await = Some(control);
        Ok(RedisBus { shared })
    }

    /// Warns when Redis would cut this relay's pub/sub connection (ending
    /// every session on it) for a frame the relay accepts. Redis's default
    /// hard `client-output-buffer-limit` for pub/sub clients is 32 MiB, the
    /// same as the relay's default frame limit, and a snapshot is one
    /// message. Best effort: a Redis that hides CONFIG is left alone.
    pub async fn check_limits(&self, max_frame_bytes: usize) {
        let answer: Result<Vec<String>, _> = query(
            &self.shared.publisher,
            ::redis::cmd("CONFIG")
                .arg("GET")
                .arg("client-output-buffer-limit"),
        )
        .await;
        let hard = match answer.as_deref() {
            Ok([_, limits]) => pubsub_hard_limit(limits),
            Ok(_) | Err(_) => None,
        };
        let Some(hard) = hard else {
            tracing::debug!("could not read Redis's pub/sub output buffer limit");
            return;
        };
        let needed = (max_frame_bytes as u64).saturating_mul(2);
        if hard != 0 && hard < needed {
            tracing::warn!(
                "Redis disconnects a pub/sub client whose output buffer exceeds {hard} bytes, \
                 which one large snapshot (up to max_frame_bytes = {max_frame_bytes}) can do, \
                 ending every session of this relay. Raise it on the Redis server, e.g. \
                 `CONFIG SET client-output-buffer-limit \"pubsub {needed} {max_frame_bytes} 60\"`, \
                 or lower max_frame_bytes."
            );
        }
    }

    /// Channels this relay listens to, for tests and diagnostics.
    pub fn channel_count(&self) -> usize {
        lock(&self.shared.routes).len()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The reader only holds a weak reference; without this it would keep
        // the connection open until Redis closed it.
        if let Some(control) = self.control.get_mut().take() {
            control.reader.abort();
        }
    }
}

impl Shared {
    async fn open(this: &Arc<Shared>) -> Result<Control, RelayError> {
        let pubsub = tokio::time::timeout(COMMAND_TIMEOUT, this.client.get_async_pubsub())
            .await
            .map_err(|_| backend_error("no answer to a pub/sub connection in time"))?
            .map_err(backend_error)?;
        let (sink, stream) = pubsub.split();
        let generation = this.next_generation.fetch_add(1, Ordering::Relaxed);
        let reader = tokio::spawn(read_loop(
            Arc::downgrade(this),
            generation,
            stream,
            sink.clone(),
            this.health_interval,
        ));
        Ok(Control {
            generation,
            sink,
            reader,
        })
    }

    /// Hands one message to this relay's subscribers of its channel.
    fn dispatch(this: &Arc<Shared>, msg: &Msg) {
        let channel = msg.get_channel_name();
        let delivery = match decode(msg.get_payload_bytes()) {
            Ok(delivery) => delivery,
            Err(err) => {
                tracing::error!(channel, "dropping a bus message: {err}");
                return;
            }
        };
        let emptied = {
            let mut routes = lock(&this.routes);
            let Some(subs) = routes.get_mut(channel) else {
                // Unsubscribed a moment ago.
                return;
            };
            // A mailbox that refuses (gone, or just overflowed) is dropped
            // here; its connection notices on its own and cleans up.
            subs.retain(|route| route.mailbox.deliver(delivery.clone()));
            let emptied = subs.is_empty();
            if emptied {
                routes.remove(channel);
            }
            emptied
        };
        if emptied {
            Shared::unsubscribe_later(this, channel.to_owned());
        }
    }

    /// Sends UNSUBSCRIBE from a task (this runs in `Drop` and in the reader,
    /// neither of which may wait), unless someone here subscribed to the
    /// channel again meanwhile.
    fn unsubscribe_later(this: &Arc<Shared>, channel: String) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(this);
        runtime.spawn(async move {
            let Some(shared) = weak.upgrade() else { return };
            let mut control = shared.control.lock().await;
            if lock(&shared.routes).contains_key(&channel) {
                return;
            }
            if let Some(control) = control.as_mut() {
                let done =
                    tokio::time::timeout(COMMAND_TIMEOUT, control.sink.unsubscribe(&channel)).await;
                if !matches!(done, Ok(Ok(()))) {
                    // Harmless: messages for a channel without routes are
                    // dropped, and a lost connection forgets it anyway.
                    tracing::debug!(channel, "UNSUBSCRIBE did not complete");
                }
            }
        });
    }

    /// The pub/sub connection of `generation` is gone: forget it, and end
    /// every local subscriber (they would otherwise wait in silence).
    async fn lost(&self, generation: u64, why: &str) {
        let mut control = self.control.lock().await;
        if control.as_ref().map(|c| c.generation) != Some(generation) {
            return;
        }
        *control = None;
        // Drained under the control lock, so no subscription made on the
        // lost connection can slip in after this.
        let routes = std::mem::take(&mut *lock(&self.routes));
        drop(control);
        let peers: usize = routes.values().map(Vec::len).sum();
        tracing::error!(
            peers,
            "lost the Redis pub/sub connection ({why}); ending the connections that relied on it"
        );
        let err = RelayError::Backend(why.to_owned()).frame();
        for route in routes.into_values().flatten() {
            let error = match route.topic {
                Topic::Visitor(_) => Delivery::Visitor(ToVisitor::Error(err.clone())),
                Topic::Agent(..) => Delivery::Agent(ToAgent::Error(err.clone())),
            };
            route.mailbox.deliver(error);
        }
    }
}

impl Bus for RedisBus {
    type Subscription = RedisSubscription;

    async fn subscribe(
        &self,
        topic: Topic,
        mailbox: Mailbox,
    ) -> Result<RedisSubscription, RelayError> {
        let shared = &self.shared;
        let channel = channel(&topic);
        let mut guard = shared.control.lock().await;
        let control = match &mut *guard {
            Some(control) => control,
            empty => empty.insert(Shared::open(shared).await?),
        };
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let first = {
            let mut routes = lock(&shared.routes);
            let subs = routes.entry(channel.clone()).or_default();
            subs.push(Route { id, topic, mailbox });
            subs.len() == 1
        };
        let subscription = RedisSubscription {
            bus: Arc::downgrade(shared),
            channel,
            id,
        };
        if first {
            // Confirmed before returning: callers rely on hearing everything
            // published after this (an agent subscribes before the visitor
            // hears of it). The command is queued on the connection by the
            // first poll, still under the lock, so this relay's SUBSCRIBE and
            // UNSUBSCRIBE of a channel reach Redis in the order it decided
            // them; the confirmation is awaited without the lock, so a
            // reconnect storm's thousands of subscribes share round trips
            // instead of taking one each in turn.
            let mut sink = control.sink.clone();
            let channel = subscription.channel.clone();
            let mut confirmed = Box::pin(async move { sink.subscribe(channel).await });
            let first_poll = futures_util::poll!(&mut confirmed);
            drop(guard);
            let done = match first_poll {
                std::task::Poll::Ready(done) => Ok(done),
                std::task::Poll::Pending => tokio::time::timeout(COMMAND_TIMEOUT, confirmed).await,
            };
            match done {
                Ok(Ok(())) => {}
                // Dropping the subscription takes the route out again.
                Ok(Err(err)) => return Err(backend_error(err)),
                Err(_) => return Err(backend_error("no answer to SUBSCRIBE in time")),
            }
        }
        Ok(subscription)
    }

    async fn publish(&self, topic: &Topic, delivery: Delivery) -> Result<usize, RelayError> {
        let payload = encode(delivery)?;
        query(
            &self.shared.publisher,
            ::redis::cmd("PUBLISH").arg(channel(topic)).arg(payload),
        )
        .await
    }
}

impl Drop for RedisSubscription {
    fn drop(&mut self) {
        let Some(shared) = self.bus.upgrade() else {
            return;
        };
        let emptied = {
            let mut routes = lock(&shared.routes);
            match routes.get_mut(&self.channel) {
                Some(subs) => {
                    subs.retain(|route| route.id != self.id);
                    let emptied = subs.is_empty();
                    if emptied {
                        routes.remove(&self.channel);
                    }
                    emptied
                }
                None => false,
            }
        };
        if emptied {
            Shared::unsubscribe_later(&shared, std::mem::take(&mut self.channel));
        }
    }
}

/// Reads one pub/sub connection until it is lost or the bus is dropped,
/// pinging it when idle so a hung Redis is noticed too.
async fn read_loop(
    bus: Weak<Shared>,
    generation: u64,
    mut stream: PubSubStream,
    mut sink: PubSubSink,
    health_interval: Duration,
) {
    let mut health = tokio::time::interval(health_interval);
    health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    health.reset();
    let why = loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(msg) = msg else { break "Redis closed the connection".to_owned() };
                let Some(shared) = bus.upgrade() else { return };
                Shared::dispatch(&shared, &msg);
                health.reset();
            }
            _ = health.tick() => {
                let pong = tokio::time::timeout(COMMAND_TIMEOUT, sink.ping::<::redis::Value>()).await;
                match pong {
                    Ok(Ok(_)) => {}
                    Ok(Err(err)) => break format!("ping failed: {err}"),
                    Err(_) => break "no answer to a ping".to_owned(),
                }
            }
        }
    };
    // Closes the socket (and the connection's driver task) before anyone is
    // told, so nothing more arrives on it.
    drop(stream);
    if let Some(shared) = bus.upgrade() {
        shared.lost(generation, &why).await;
    }
}

/// The hard limit of the `pubsub` class in `client-output-buffer-limit`'s
/// value ("normal 0 0 0 replica 268435456 67108864 60 pubsub 33554432 8388608 60").
fn pubsub_hard_limit(limits: &str) -> Option<u64> {
    let words: Vec<&str> = limits.split_whitespace().collect();
    words
        .chunks(4)
        .find(|class| class.first() == Some(&"pubsub"))
        .and_then(|class| class.get(1))
        .and_then(|hard| hard.parse().ok())
}

/// One byte saying what follows, then the frame. Events stay the bytes the
/// visitor's relay encoded once; only the small control messages are
/// decoded again on arrival (a relay must know that `Ended` closes).
fn encode(delivery: Delivery) -> Result<Vec<u8>, RelayError> {
    let (tag, body) = match delivery {
        Delivery::Encoded(bytes) => (ENCODED, bytes.to_vec()),
        Delivery::Frame(seq, stamped) => {
            let mut body = Vec::with_capacity(16 + stamped.bytes.len());
            body.extend_from_slice(&seq.0.to_be_bytes());
            body.extend_from_slice(&stamped.received_us.to_be_bytes());
            body.extend_from_slice(&stamped.bytes);
            (FRAME, body)
        }
        Delivery::Visitor(msg) => (TO_VISITOR, protocol::encode(&msg)?),
        Delivery::Agent(msg) => (TO_AGENT, protocol::encode(&msg)?),
        Delivery::Superseded(by) => (SUPERSEDED, by.0.to_be_bytes().to_vec()),
        Delivery::Rejoined { agent, after } => {
            let mut body = agent.0.to_be_bytes().to_vec();
            if let Some(after) = after {
                body.extend_from_slice(&after.0.to_be_bytes());
            }
            (REJOINED, body)
        }
        Delivery::Close { .. } => {
            return Err(RelayError::Internal(
                "a Close delivery never travels on the bus".into(),
            ))
        }
    };
    let mut payload = Vec::with_capacity(body.len() + 1);
    payload.push(tag);
    payload.extend_from_slice(&body);
    Ok(payload)
}

fn decode(payload: &[u8]) -> Result<Delivery, RelayError> {
    match payload.split_first() {
        Some((&ENCODED, body)) => Ok(Delivery::Encoded(Bytes::copy_from_slice(body))),
        Some((&TO_VISITOR, body)) => Ok(Delivery::Visitor(protocol::decode(body)?)),
        Some((&TO_AGENT, body)) => Ok(Delivery::Agent(protocol::decode(body)?)),
        Some((&SUPERSEDED, body)) => <[u8; 8]>::try_from(body)
            .map(|by| Delivery::Superseded(Attachment(u64::from_be_bytes(by))))
            .map_err(|_| RelayError::Malformed("bad takeover message".into())),
        Some((&REJOINED, body)) => decode_rejoined(body),
        Some((&FRAME, body)) => match body.split_first_chunk::<16>() {
            Some((head, frame)) => {
                let (seq, stamp) = head.split_at(8);
                let number = |b: &[u8]| {
                    <[u8; 8]>::try_from(b)
                        .map(u64::from_be_bytes)
                        .map_err(|_| RelayError::Malformed("bad frame message".into()))
                };
                Ok(Delivery::Frame(
                    Seq(number(seq)?),
                    Stamped {
                        bytes: Bytes::copy_from_slice(frame),
                        received_us: number(stamp)?,
                        crossed: true,
                    },
                ))
            }
            None => Err(RelayError::Malformed("bad frame message".into())),
        },
        _ => Err(RelayError::Malformed("unknown bus message tag".into())),
    }
}

fn decode_rejoined(body: &[u8]) -> Result<Delivery, RelayError> {
    let bad = || RelayError::Malformed("bad rejoin message".into());
    let (agent, after) = body.split_at_checked(4).ok_or_else(bad)?;
    let agent = AgentId(u32::from_be_bytes(agent.try_into().map_err(|_| bad())?));
    let after = match after.len() {
        0 => None,
        8 => Some(Seq(u64::from_be_bytes(
            after.try_into().map_err(|_| bad())?,
        ))),
        _ => return Err(bad()),
    };
    Ok(Delivery::Rejoined { agent, after })
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use protocol::{EndReason, EventFrame, Seq};

    #[test]
    fn events_cross_the_bus_byte_for_byte() {
        let frame = protocol::encode(&ToAgent::Event(EventFrame {
            seq: Seq(7),
            snapshot: false,
            payload: vec![0xc1, 0, 255],
        }))
        .expect("encode");
        let payload = encode(Delivery::Encoded(Bytes::from(frame.clone()))).expect("encode");
        match decode(&payload).expect("decode") {
            Delivery::Encoded(bytes) => assert_eq!(bytes, frame),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn control_messages_keep_their_meaning() {
        let ended = Delivery::Agent(ToAgent::Ended {
            reason: EndReason::VisitorEnded,
        });
        let back = decode(&encode(ended).expect("encode")).expect("decode");
        assert!(back.closes().is_some(), "Ended still closes: {back:?}");
        let back = decode(&encode(Delivery::Visitor(ToVisitor::SnapshotNeeded)).expect("e"))
            .expect("decode");
        assert!(matches!(back, Delivery::Visitor(ToVisitor::SnapshotNeeded)));
    }

    #[test]
    fn reads_the_pubsub_hard_limit() {
        let defaults = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";
        assert_eq!(pubsub_hard_limit(defaults), Some(33_554_432));
        assert_eq!(pubsub_hard_limit("pubsub 0 0 0"), Some(0));
        assert_eq!(pubsub_hard_limit("normal 0 0 0"), None);
    }

    #[test]
    fn close_never_travels_and_junk_is_refused() {
        assert!(encode(Delivery::Close { reason: "x".into() }).is_err());
        let back = decode(&encode(Delivery::Superseded(Attachment(258))).expect("e")).expect("d");
        assert!(matches!(back, Delivery::Superseded(Attachment(258))));
        let stamped = Delivery::Frame(
            Seq(9),
            Stamped {
                bytes: Bytes::from_static(b"frame"),
                received_us: 1_700_000_000_000_001,
                crossed: false,
            },
        );
        match decode(&encode(stamped).expect("e")).expect("d") {
            Delivery::Frame(Seq(9), back) => {
                assert_eq!(back.bytes, Bytes::from_static(b"frame"));
                assert_eq!(back.received_us, 1_700_000_000_000_001);
                assert!(back.crossed, "what came through Redis says so");
            }
            other => panic!("{other:?}"),
        }
        for after in [None, Some(Seq(7))] {
            let rejoined = Delivery::Rejoined {
                agent: AgentId(3),
                after,
            };
            let back = decode(&encode(rejoined).expect("e")).expect("d");
            assert!(
                matches!(back, Delivery::Rejoined { agent: AgentId(3), after: a } if a == after)
            );
        }
        assert!(decode(b"S\x01").is_err());
        assert!(decode(b"").is_err());
        assert!(decode(b"Zabc").is_err());
        assert!(decode(b"A\xc1").is_err());
    }
}
