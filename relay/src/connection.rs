//! One WebSocket, whatever its role: the writer task that drains the
//! connection's bounded [`Mailbox`], reading binary frames with the relay's
//! rules, and ending a connection cleanly (error frame, close code, close
//! handshake).
//!
//! Owns: socket mechanics. Does not own: what the frames mean (`visitor/`,
//! `agent/`).
//!
//! Reading and writing are split so that a peer that does not read can never
//! stop the relay from reading it, and so that nobody else ever waits on this
//! socket: everything reaches it through the mailbox, which never blocks.
//! The socket halves are generic `Sink`/`Stream`s (as in axum's
//! testing-websockets example), so the writer is unit-tested without a
//! network.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use protocol::{ErrorFrame, ToAgent, ToVisitor};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::bus::{mailbox, Delivery, Mailbox, MailboxReceiver};
use crate::idle::Activity;
use crate::metrics::{Metrics, Role};
use crate::takeover::Tenure;
use crate::RelayError;

/// How long the last words (error frame, close frame, close handshake) may
/// take before the socket is simply dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// How long a socket whose input we cannot read any more stays open after
/// our close frame; see [`Conn::finish`].
const LINGER: Duration = Duration::from_millis(500);

/// A close reason may carry at most 123 bytes (RFC 6455, 5.5: control frame
/// payloads are 125 bytes, two of them the code).
const MAX_CLOSE_REASON: usize = 123;

/// How a writer task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterEnd {
    /// It wrote a closing delivery and the close frame.
    Closed,
    /// Its queue overflowed; it told the peer and closed.
    Overflowed,
    /// The socket failed, or every mailbox sender went away.
    Gone,
}

/// What a read produced.
#[derive(Debug)]
pub enum Inbound {
    Frame(Bytes),
    /// The peer closed, vanished or went silent.
    Closed,
}

/// The relay's side of one connection.
pub struct Conn {
    role: Role,
    peer: SocketAddr,
    mailbox: Mailbox,
    writer: JoinHandle<WriterEnd>,
    writer_end: Option<WriterEnd>,
    metrics: Arc<Metrics>,
}

impl Conn {
    /// Spawns the writer task over `sink`.
    pub fn start<Si>(
        sink: Si,
        role: Role,
        peer: SocketAddr,
        queue: usize,
        ping_every: Duration,
        metrics: Arc<Metrics>,
    ) -> Conn
    where
        Si: Sink<Message, Error = axum::Error> + Unpin + Send + 'static,
    {
        let (mailbox, inbox) = mailbox(queue);
        let writer = tokio::spawn(write_loop(
            sink,
            inbox,
            role,
            ping_every,
            Arc::clone(&metrics),
        ));
        Conn {
            role,
            peer,
            mailbox,
            writer,
            writer_end: None,
            metrics,
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// From now on every delivery to this connection (its own sends and
    /// every mailbox clone handed out after this) notes `activity`.
    pub(crate) fn note_activity(&mut self, activity: Arc<Activity>) {
        self.mailbox = self.mailbox.clone().noting(activity);
    }

    /// From now on every mailbox clone handed out ends `tenure` when the
    /// visitor's session is taken over by a newer connection.
    pub(crate) fn hold_tenure(&mut self, tenure: Arc<Tenure>) {
        self.mailbox = self.mailbox.clone().holding(tenure);
    }

    /// A visitor connection hears its agents coming back (`rejoin.rs`).
    pub(crate) fn hear_returning(&mut self, returning: Arc<crate::rejoin::Returning>) {
        self.mailbox = self.mailbox.clone().welcoming(returning);
    }

    /// A clone of this connection's mailbox, for subscribing it on the bus.
    pub fn mailbox(&self) -> Mailbox {
        self.mailbox.clone()
    }

    /// Queues `delivery`; `false` if the connection is ending anyway.
    pub fn send(&self, delivery: Delivery) -> bool {
        self.mailbox.deliver(delivery)
    }

    /// Resolves when the writer has stopped (the peer went away, the queue
    /// overflowed, or a closing delivery went out). Cancel-safe; once it has
    /// resolved it resolves at once.
    pub async fn writer_finished(&mut self) -> WriterEnd {
        if let Some(end) = self.writer_end {
            return end;
        }
        let end = (&mut self.writer).await.unwrap_or(WriterEnd::Gone);
        self.writer_end = Some(end);
        end
    }

    /// Refuses the peer: a warn line, the metric, the error frame and the
    /// close code that goes with it.
    pub async fn fail<St>(self, stream: &mut St, err: RelayError)
    where
        St: Stream<Item = Result<Message, axum::Error>> + Unpin,
    {
        if matches!(err, RelayError::NewSessionsLimited { .. }) {
            // A storm brings thousands: `admission.rs` logs them in one
            // line per window, the metric counts each.
            tracing::debug!(role = self.role.label(), peer = %self.peer, "refusing peer: {err}");
        } else {
            tracing::warn!(
                role = self.role.label(),
                peer = %self.peer,
                reason = err.reject_reason().label(),
                "refusing peer: {err}"
            );
        }
        self.metrics.rejected(err.reject_reason());
        let unreadable = matches!(err, RelayError::FrameTooLarge { .. });
        let delivery = error_delivery(self.role, err.frame());
        self.close(stream, delivery, unreadable).await;
    }

    /// Sends `last` (which should close the connection), waits for the
    /// writer, then lets the peer complete the close handshake.
    pub async fn finish<St>(self, stream: &mut St, last: Delivery)
    where
        St: Stream<Item = Result<Message, axum::Error>> + Unpin,
    {
        self.close(stream, last, false).await;
    }

    async fn close<St>(self, stream: &mut St, last: Delivery, unreadable: bool)
    where
        St: Stream<Item = Result<Message, axum::Error>> + Unpin,
    {
        self.mailbox.deliver(last);
        // Dropping our sender lets the writer end even if `last` could not be
        // queued.
        let Conn {
            mut writer,
            writer_end,
            mailbox,
            ..
        } = self;
        drop(mailbox);
        if writer_end.is_none()
            && tokio::time::timeout(CLOSE_GRACE, &mut writer)
                .await
                .is_err()
        {
            writer.abort();
            return;
        }
        if unreadable {
            // The rest of an oversized frame is still in the socket, and
            // reading it would mean buffering what the limit refused.
            // Closing a socket with unread input sends a reset, which would
            // destroy our close frame in the peer's buffer: give the peer a
            // moment to read it first.
            tokio::time::sleep(LINGER).await;
            return;
        }
        // Read until the peer's close frame (or silence), so the peer sees a
        // clean close rather than a reset.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(_)) = stream.next().await {}
        })
        .await;
    }
}

fn error_delivery(role: Role, frame: ErrorFrame) -> Delivery {
    match role {
        Role::Visitor => Delivery::Visitor(ToVisitor::Error(frame)),
        Role::Agent => Delivery::Agent(ToAgent::Error(frame)),
    }
}

/// Reads the next binary frame. Pings and pongs are skipped (tungstenite
/// answers pings itself); silence longer than `idle` counts as a dead peer.
pub async fn next_frame<St>(
    stream: &mut St,
    role: Role,
    max_frame_bytes: usize,
    idle: Duration,
    metrics: &Metrics,
) -> Result<Inbound, RelayError>
where
    St: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    loop {
        let Ok(next) = tokio::time::timeout(idle, stream.next()).await else {
            tracing::debug!(role = role.label(), "peer silent too long; closing");
            return Ok(Inbound::Closed);
        };
        match next {
            None | Some(Ok(Message::Close(_))) => return Ok(Inbound::Closed),
            Some(Ok(Message::Binary(bytes))) => {
                metrics.frame_in(role, bytes.len());
                return Ok(Inbound::Frame(bytes));
            }
            Some(Ok(Message::Text(_))) => return Err(RelayError::TextFrame),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Err(err)) => {
                if is_too_large(err) {
                    return Err(RelayError::FrameTooLarge {
                        limit: max_frame_bytes,
                    });
                }
                return Ok(Inbound::Closed);
            }
        }
    }
}

/// axum hides tungstenite's error type behind its own; the size limit is the
/// one read error the peer must be told about, so look underneath. (The
/// `oversized frame` integration test fails if axum's tungstenite and ours
/// ever differ.)
fn is_too_large(err: axum::Error) -> bool {
    let inner = err.into_inner();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&*inner);
    while let Some(e) = source {
        if let Some(tungstenite::Error::Capacity(_)) = e.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn close_message(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(MAX_CLOSE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason[..end].to_owned().into(),
    }))
}

fn encode(delivery: Delivery) -> Result<Option<Bytes>, RelayError> {
    Ok(match delivery {
        Delivery::Visitor(msg) => Some(protocol::encode(&msg)?.into()),
        Delivery::Agent(msg) => Some(protocol::encode(&msg)?.into()),
        Delivery::Encoded(bytes) => Some(bytes),
        Delivery::Frame(_, stamped) => Some(stamped.bytes),
        Delivery::Close { .. } | Delivery::Superseded(_) | Delivery::Rejoined { .. } => None,
    })
}

enum Step {
    Deliver(Delivery),
    Ping,
    Overflow,
    Stop,
}

/// The writer task: drains the mailbox into the socket, pings every
/// `ping_every`, and on overflow tells the peer it was too slow and closes.
pub async fn write_loop<Si>(
    mut sink: Si,
    mut inbox: MailboxReceiver,
    role: Role,
    ping_every: Duration,
    metrics: Arc<Metrics>,
) -> WriterEnd
where
    Si: Sink<Message, Error = axum::Error> + Unpin,
{
    let overflowed = inbox.overflow_signal();
    let capacity = inbox.capacity();
    let mut ping = tokio::time::interval(ping_every);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ping.reset(); // the first tick would otherwise fire at once
    loop {
        let step = tokio::select! {
            biased;
            () = overflowed.wait() => Step::Overflow,
            next = inbox.recv() => next.map_or(Step::Stop, Step::Deliver),
            _ = ping.tick() => Step::Ping,
        };
        // When a visitor event was received, for the fan-out latency.
        let mut stamp = None;
        let (message, closes) = match step {
            Step::Deliver(delivery) => {
                let closes = delivery.closes();
                if let Delivery::Frame(_, stamped) = &delivery {
                    if stamped.received_us > 0 {
                        stamp = Some((stamped.received_us, stamped.crossed));
                    }
                }
                match encode(delivery) {
                    Ok(bytes) => (bytes.map(Message::Binary), closes),
                    Err(err) => {
                        tracing::error!(role = role.label(), "could not encode: {err}");
                        continue;
                    }
                }
            }
            Step::Ping => (Some(Message::Ping(Bytes::new())), None),
            Step::Overflow => return overflow(&mut sink, capacity, role, &metrics).await,
            Step::Stop => {
                let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(close_message(1000, ""))).await;
                return WriterEnd::Gone;
            }
        };
        if let Some(message) = message {
            let size = match &message {
                Message::Binary(bytes) => Some(bytes.len()),
                _ => None,
            };
            // A slow socket may hold this send for long; an overflow meanwhile
            // must still end the connection promptly.
            let sent = tokio::select! {
                biased;
                () = overflowed.wait() => None,
                sent = sink.send(message) => Some(sent),
            };
            match sent {
                None => return overflow(&mut sink, capacity, role, &metrics).await,
                Some(Err(_)) => return WriterEnd::Gone,
                Some(Ok(())) => {
                    if let Some(size) = size {
                        metrics.scale.frame_out(role, size);
                    }
                    if let Some((received_us, crossed)) = stamp {
                        metrics.scale.fanned_out(received_us, crossed);
                    }
                }
            }
        }
        if let Some((code, reason)) = closes {
            let _ =
                tokio::time::timeout(CLOSE_GRACE, sink.send(close_message(code, &reason))).await;
            return WriterEnd::Closed;
        }
    }
}

async fn overflow<Si>(sink: &mut Si, capacity: usize, role: Role, metrics: &Metrics) -> WriterEnd
where
    Si: Sink<Message, Error = axum::Error> + Unpin,
{
    let err = RelayError::TooSlow { capacity };
    tracing::warn!(
        role = role.label(),
        reason = err.reject_reason().label(),
        "dropping connection: {err}"
    );
    metrics.rejected(err.reject_reason());
    let frame = err.frame();
    let close = close_message(frame.code.close_code(), &frame.message);
    // The error frame jumps the queue: what was queued is dropped with the
    // connection anyway.
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        if let Ok(Some(bytes)) = encode(error_delivery(role, frame)) {
            sink.send(Message::Binary(bytes)).await?;
        }
        sink.send(close).await
    })
    .await;
    WriterEnd::Overflowed
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use protocol::{EndReason, ErrorCode};
    use tokio::sync::mpsc as tmpsc;

    /// A sink like the socket's, with the same error type.
    fn test_sink() -> (
        impl Sink<Message, Error = axum::Error> + Unpin,
        tmpsc::UnboundedReceiver<Message>,
    ) {
        let (tx, rx) = tmpsc::unbounded_channel();
        let sink = futures_util::sink::unfold(tx, |tx, msg: Message| async move {
            tx.send(msg).map_err(axum::Error::new)?;
            Ok::<_, axum::Error>(tx)
        });
        (Box::pin(sink), rx)
    }

    async fn sent(mut out: tmpsc::UnboundedReceiver<Message>) -> Vec<Message> {
        let mut got = Vec::new();
        while let Some(m) = out.recv().await {
            got.push(m);
        }
        got
    }

    #[tokio::test]
    async fn writes_in_order_and_closes_after_an_ending_delivery() {
        let (sink, out) = test_sink();
        let (mb, inbox) = mailbox(8);
        let metrics = Arc::new(Metrics::default());
        let writer = tokio::spawn(write_loop(
            sink,
            inbox,
            Role::Agent,
            Duration::from_secs(20),
            metrics,
        ));
        assert!(mb.deliver(Delivery::Encoded(Bytes::from_static(b"one"))));
        assert!(mb.deliver(Delivery::Agent(ToAgent::Admitted {
            resources: "/res/s/k/".into()
        })));
        assert!(mb.deliver(Delivery::Agent(ToAgent::Ended {
            reason: EndReason::VisitorEnded
        })));
        assert_eq!(writer.await.expect("writer"), WriterEnd::Closed);
        let got = sent(out).await;
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0], Message::Binary(Bytes::from_static(b"one")));
        let admitted: ToAgent = match &got[1] {
            Message::Binary(b) => protocol::decode(b).expect("decodes"),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            admitted,
            ToAgent::Admitted {
                resources: "/res/s/k/".into()
            }
        );
        assert!(matches!(&got[3], Message::Close(Some(f)) if f.code == 1000));
    }

    #[tokio::test]
    async fn overflow_sends_rate_limited_error_and_close() {
        let (sink, out) = test_sink();
        let (mb, inbox) = mailbox(1);
        let metrics = Arc::new(Metrics::default());
        // Fill and overflow before the writer runs at all.
        assert!(mb.deliver(Delivery::Encoded(Bytes::from_static(b"a"))));
        assert!(!mb.deliver(Delivery::Encoded(Bytes::from_static(b"b"))));
        let end = write_loop(
            sink,
            inbox,
            Role::Agent,
            Duration::from_secs(20),
            Arc::clone(&metrics),
        )
        .await;
        assert_eq!(end, WriterEnd::Overflowed);
        let got = sent(out).await;
        let Message::Binary(first) = &got[0] else {
            panic!("{got:?}")
        };
        let err: ToAgent = protocol::decode(first).expect("decodes");
        assert!(matches!(
            err,
            ToAgent::Error(ErrorFrame {
                code: ErrorCode::RateLimited,
                ..
            })
        ));
        assert!(matches!(&got[1], Message::Close(Some(f)) if f.code == 4007));
        assert!(metrics
            .render()
            .contains("rejected_total{reason=\"too_slow\"} 1"));
    }

    #[tokio::test(start_paused = true)]
    async fn pings_on_a_fixed_interval() {
        let (sink, out) = test_sink();
        let (mb, inbox) = mailbox(8);
        let writer = tokio::spawn(write_loop(
            sink,
            inbox,
            Role::Visitor,
            Duration::from_secs(20),
            Arc::new(Metrics::default()),
        ));
        tokio::time::sleep(Duration::from_secs(41)).await;
        drop(mb);
        assert_eq!(writer.await.expect("writer"), WriterEnd::Gone);
        let got = sent(out).await;
        let pings = got.iter().filter(|m| matches!(m, Message::Ping(_))).count();
        assert_eq!(pings, 2, "{got:?}");
    }

    #[test]
    fn close_reasons_are_cut_at_a_char_boundary() {
        let long = "é".repeat(100);
        let Message::Close(Some(frame)) = close_message(4002, &long) else {
            panic!("not a close")
        };
        assert!(frame.reason.len() <= MAX_CLOSE_REASON);
        assert!(frame.reason.as_str().chars().all(|c| c == 'é'));
    }
}
