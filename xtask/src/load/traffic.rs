//! The simulated peers of `cargo xtask load`: one visitor and one agent per
//! session, speaking the real protocol over real WebSockets.
//!
//! Owns: opening a session the way the page and the console do (hello,
//! join by code, consent) and the traffic that follows. Does not own:
//! starting or measuring the relays (`load.rs`).
//!
//! The traffic, per session, is a support call's: a 40 KB snapshot, then a
//! mutation batch (600 B) about three times a second and the visitor's
//! pointer (40 B) ten times a second, while the agent points five times a
//! second. Every visitor event carries the moment it was sent (8 bytes,
//! microseconds on this process's clock) so the agent's side measures
//! visitor → agent latency without trusting another clock.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use protocol::{
    AgentHello, AgentId, AgentMsg, EventFrame, Hello, Mode, NodeId, Point, PointerKind, PointerPos,
    Seq, ToAgent, ToVisitor, VisitorHello, VisitorMsg,
};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const TOKEN: &str = "load-dev-token";
const SNAPSHOT_BYTES: usize = 40 * 1024;
const MUTATION_BYTES: usize = 600;
const POINTER_BYTES: usize = 40;
/// The visitor's clock: one tick per pointer event; a mutation every third.
const VISITOR_TICK: Duration = Duration::from_millis(100);
const AGENT_TICK: Duration = Duration::from_millis(200);
/// How long one step of opening a session may take before it counts as failed.
const STEP: Duration = Duration::from_secs(20);

/// A session with its visitor and its admitted agent.
pub struct Established {
    visitor: Ws,
    agent: Ws,
}

/// What one session's traffic amounted to.
#[derive(Default)]
pub struct Report {
    /// The session was still whole at the end (neither side closed).
    pub held: bool,
    /// Frames the agent received (events) and the visitor received
    /// (the agent's pointing).
    pub messages: u64,
    /// Visitor → agent latency of each event, microseconds.
    pub latencies_us: Vec<u32>,
}

async fn connect(addr: SocketAddr, path: &str) -> Result<Ws> {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
        .await
        .with_context(|| format!("connecting to ws://{addr}{path}"))?;
    Ok(ws)
}

async fn send(ws: &mut Ws, bytes: Vec<u8>) -> Result<()> {
    ws.send(Message::Binary(bytes.into()))
        .await
        .context("sending")
}

async fn recv<T: serde::de::DeserializeOwned>(ws: &mut Ws) -> Result<T> {
    loop {
        let next = tokio::time::timeout(STEP, ws.next())
            .await
            .context("no answer from the relay in time")?;
        match next {
            Some(Ok(Message::Binary(bytes))) => return Ok(protocol::decode(&bytes)?),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => bail!("the relay closed or sent {other:?}"),
        }
    }
}

/// Opens one session: the visitor on `visitor_at`, the agent on `agent_at`
/// (another relay when there are several, so events cross Redis).
pub async fn establish(visitor_at: SocketAddr, agent_at: SocketAddr) -> Result<Established> {
    let mut visitor = connect(visitor_at, "/ws/visitor").await?;
    let hello = Hello::Visitor(VisitorHello {
        page_url: "https://shop.example/load".into(),
        resources: protocol::ResourcePolicy::default(),
        resume: None,
        invitation: None,
    });
    send(&mut visitor, protocol::encode_hello(&hello)?).await?;
    let code = match recv::<ToVisitor>(&mut visitor).await? {
        ToVisitor::Welcome { code, .. } => code,
        other => bail!("expected Welcome, got {other:?}"),
    };
    let mut agent = connect(agent_at, "/ws/agent").await?;
    let hello = Hello::Agent(AgentHello {
        token: TOKEN.into(),
        code,
        mode: Mode::ViewOnly,
    });
    send(&mut agent, protocol::encode_hello(&hello)?).await?;
    let id: AgentId = match recv::<ToAgent>(&mut agent).await? {
        ToAgent::Joined { agent, .. } => agent,
        other => bail!("expected Joined, got {other:?}"),
    };
    loop {
        match recv::<ToVisitor>(&mut visitor).await? {
            ToVisitor::AgentJoined { agent, .. } if agent == id => break,
            ToVisitor::Welcome { .. } => {}
            other => bail!("expected AgentJoined, got {other:?}"),
        }
    }
    let consent = VisitorMsg::Consent {
        agent: id,
        accepted: true,
    };
    send(&mut visitor, protocol::encode(&consent)?).await?;
    match recv::<ToAgent>(&mut agent).await? {
        ToAgent::Admitted { .. } => {}
        other => bail!("expected Admitted, got {other:?}"),
    }
    match recv::<ToVisitor>(&mut visitor).await? {
        ToVisitor::SnapshotNeeded => {}
        other => bail!("expected SnapshotNeeded, got {other:?}"),
    }
    Ok(Established { visitor, agent })
}

/// A visitor event stamped with `base`'s clock in its first 8 bytes.
fn event(seq: u64, size: usize, base: Instant) -> Result<Vec<u8>> {
    let now = u64::try_from(base.elapsed().as_micros()).unwrap_or(u64::MAX);
    let mut payload = vec![0x5a; size.max(8)];
    payload[..8].copy_from_slice(&now.to_be_bytes());
    let frame = EventFrame {
        seq: Seq(seq),
        snapshot: seq == 1,
        payload,
    };
    Ok(protocol::encode(&VisitorMsg::Event(frame))?)
}

fn pointer(step: u32) -> Result<Vec<u8>> {
    let at = (step % 500) as f32;
    let point = Point::Pointer {
        pos: PointerPos {
            target: Some(NodeId(1)),
            fx: 0.5,
            fy: 0.5,
            x: at,
            y: at / 2.0,
        },
        kind: PointerKind::Move,
    };
    Ok(protocol::encode(&AgentMsg::Point(point))?)
}

/// Runs the session's traffic until `until`; `base` is the clock the
/// stamps are read with.
pub async fn run(session: Established, base: Instant, until: Instant) -> Report {
    let (mut visitor_tx, mut visitor_rx) = session.visitor.split();
    let (mut agent_tx, mut agent_rx) = session.agent.split();
    let visitor_writes = async {
        let mut seq = 1u64;
        let snapshot = event(seq, SNAPSHOT_BYTES, base)?;
        visitor_tx.send(Message::Binary(snapshot.into())).await?;
        let mut tick = tokio::time::interval(VISITOR_TICK);
        let mut n = 0u64;
        while tokio::time::timeout_at(until, tick.tick()).await.is_ok() {
            n += 1;
            seq += 1;
            let size = if n.is_multiple_of(3) {
                MUTATION_BYTES
            } else {
                POINTER_BYTES
            };
            visitor_tx
                .send(Message::Binary(event(seq, size, base)?.into()))
                .await?;
        }
        anyhow::Ok(())
    };
    let agent_writes = async {
        let mut tick = tokio::time::interval(AGENT_TICK);
        let mut n = 0u32;
        while tokio::time::timeout_at(until, tick.tick()).await.is_ok() {
            n += 1;
            agent_tx.send(Message::Binary(pointer(n)?.into())).await?;
        }
        anyhow::Ok(())
    };
    let agent_reads = async {
        let mut latencies = Vec::new();
        let mut count = 0u64;
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(until, agent_rx.next()).await {
            let Message::Binary(bytes) = message else {
                continue;
            };
            match protocol::decode::<ToAgent>(&bytes) {
                Ok(ToAgent::Event(frame)) => {
                    count += 1;
                    if let Some(stamp) = frame.payload.first_chunk::<8>() {
                        let sent = u64::from_be_bytes(*stamp);
                        let now = u64::try_from(base.elapsed().as_micros()).unwrap_or(u64::MAX);
                        let us = now.saturating_sub(sent);
                        latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
                    }
                }
                // Ended or an error: the session is not whole any more.
                Ok(ToAgent::Ended { .. } | ToAgent::Error(_)) | Err(_) => {
                    return (count, latencies, false)
                }
                // Its mode, and the like.
                Ok(_) => {}
            }
        }
        (count, latencies, Instant::now() >= until)
    };
    let visitor_reads = async {
        let mut count = 0u64;
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(until, visitor_rx.next()).await {
            if let Message::Binary(bytes) = message {
                match protocol::decode::<ToVisitor>(&bytes) {
                    Ok(ToVisitor::FromAgent { .. }) => count += 1,
                    Ok(ToVisitor::Ended { .. } | ToVisitor::Error(_)) | Err(_) => {
                        return (count, false)
                    }
                    Ok(_) => {}
                }
            }
        }
        (count, Instant::now() >= until)
    };
    let (sent_v, sent_a, (events, latencies_us, agent_whole), (pointed, visitor_whole)) =
        tokio::join!(visitor_writes, agent_writes, agent_reads, visitor_reads);
    Report {
        held: sent_v.is_ok() && sent_a.is_ok() && agent_whole && visitor_whole,
        messages: events + pointed,
        latencies_us,
    }
}
