//! Relay forwarding: one visitor fanning out to 1 and 5 agents through the
//! real relay (its release build), against a bare tokio-tungstenite
//! forwarder written here as the limit. The same Rust clients, the same
//! messages, the same handshake for both; loopback only.
//!
//! Owns: the clients, the bare forwarder and the section's rows. Does not
//! own: the relay (started as a process, measured from outside).
//!
//! Two phases per session: paced (one event per millisecond, so the figure
//! is latency, not queueing) and then a flood bounded by a window of frames
//! in flight (the relay drops an agent whose queue of 1024 frames fills, so
//! an unbounded flood would measure that rule, not forwarding).

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use protocol::{
    AgentHello, EventFrame, Hello, Mode, Seq, ToAgent, ToVisitor, VisitorHello, VisitorMsg,
};
use tokio::{net::TcpStream, sync::Notify};
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

use crate::report::{percentile, ratios, Row, Runs, Section, Target, Unit};

/// Payload bytes per event: about a small mutation batch.
pub const PAYLOAD: usize = 512;
/// Paced phase: this many events, one per millisecond.
const PACED: u64 = 2_000;
/// Flood phase: this many events, at most `WINDOW` not yet at every agent.
const FLOOD: u64 = 20_000;
const WINDOW: u64 = 256;
pub const FANOUT: [usize; 2] = [1, 5];
const WAIT: Duration = Duration::from_secs(30);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Nagle off on the clients' side, as browsers have it: the figures are
/// then the servers' own.
async fn connect(
    url: &str,
) -> Result<(
    Ws,
    tokio_tungstenite::tungstenite::handshake::client::Response,
)> {
    Ok(tokio_tungstenite::connect_async_with_config(url, None, true).await?)
}

async fn send<T: serde::Serialize>(ws: &mut Ws, msg: &T) -> Result<()> {
    ws.send(Message::binary(protocol::encode(msg)?)).await?;
    Ok(())
}

async fn recv<T: serde::de::DeserializeOwned>(ws: &mut Ws) -> Result<T> {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .context("no message within the wait")?
        {
            Some(Ok(Message::Binary(b))) => return Ok(protocol::decode(&b)?),
            Some(Ok(Message::Close(c))) => bail!("closed: {c:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("closed"),
        }
    }
}

/// A visitor with `agents` admitted agents, through the server at `base`
/// (`ws://127.0.0.1:port`).
async fn session(base: &str, token: &str, agents: usize) -> Result<(Ws, Vec<Ws>)> {
    let (mut visitor, _) = connect(&format!("{base}/ws/visitor")).await?;
    let hello = Hello::Visitor(VisitorHello {
        page_url: "http://127.0.0.1/bench".into(),
        resources: protocol::ResourcePolicy::default(),
        resume: None,
        invitation: None,
    });
    visitor
        .send(Message::binary(protocol::encode_hello(&hello)?))
        .await?;
    let mut code = match recv::<ToVisitor>(&mut visitor).await? {
        ToVisitor::Welcome { code, .. } => code,
        other => bail!("visitor expected Welcome, got {other:?}"),
    };
    let mut out = Vec::new();
    for _ in 0..agents {
        let (mut agent, _) = connect(&format!("{base}/ws/agent")).await?;
        let hello = Hello::Agent(AgentHello {
            token: token.into(),
            code: code.clone(),
            mode: Mode::ViewOnly,
        });
        agent
            .send(Message::binary(protocol::encode_hello(&hello)?))
            .await?;
        match recv::<ToAgent>(&mut agent).await? {
            ToAgent::Joined { .. } => {}
            other => bail!("agent expected Joined, got {other:?}"),
        }
        // Codes are single-use: the relay sends a fresh one before the
        // announcement; SnapshotNeeded answers the previous consent.
        let id = loop {
            match recv::<ToVisitor>(&mut visitor).await? {
                ToVisitor::AgentJoined { agent, .. } => break agent,
                ToVisitor::Welcome { code: fresh, .. } => code = fresh,
                ToVisitor::SnapshotNeeded => {}
                other => bail!("visitor expected AgentJoined, got {other:?}"),
            }
        };
        send(
            &mut visitor,
            &VisitorMsg::Consent {
                agent: id,
                accepted: true,
            },
        )
        .await?;
        match recv::<ToAgent>(&mut agent).await? {
            ToAgent::Admitted { .. } => {}
            other => bail!("agent expected Admitted, got {other:?}"),
        }
        out.push(agent);
    }
    Ok((visitor, out))
}

/// What one session measured.
pub struct Measured {
    /// Visitor events per second delivered to every agent (flood phase).
    pub per_second: f64,
    /// Send → receipt latency over every delivery of the paced phase, ms.
    pub p50: f64,
    pub p99: f64,
}

/// One session's two phases against the server at `base`.
pub async fn measure(base: &str, token: &str, agents: usize) -> Result<Measured> {
    let (visitor, sockets) = session(base, token, agents).await?;
    let epoch = Instant::now();
    let total = PACED + FLOOD;
    let counts: Arc<Vec<AtomicU64>> = Arc::new((0..agents).map(|_| AtomicU64::new(0)).collect());
    let progress = Arc::new(Notify::new());
    let mut readers = Vec::new();
    for (i, mut ws) in sockets.into_iter().enumerate() {
        let counts = Arc::clone(&counts);
        let progress = Arc::clone(&progress);
        readers.push(tokio::spawn(async move {
            let mut paced = Vec::with_capacity(PACED as usize);
            let mut got = 0;
            while got < total {
                let frame = match recv::<ToAgent>(&mut ws).await? {
                    ToAgent::Event(frame) => frame,
                    // The relay says the agent's mode after admitting it,
                    // and hands it its rejoin token.
                    ToAgent::Mode(_) | ToAgent::RejoinToken(_) => continue,
                    other => bail!("agent expected Event, got {other:?}"),
                };
                let now = epoch.elapsed().as_nanos() as u64;
                let stamp = frame
                    .payload
                    .get(..8)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_le_bytes)
                    .context("payload without a time stamp")?;
                if frame.seq.0 <= PACED {
                    paced.push(now.saturating_sub(stamp) as f64 / 1e6);
                }
                got += 1;
                counts[i].store(got, Ordering::Release);
                progress.notify_one();
            }
            anyhow::Ok((paced, epoch.elapsed()))
        }));
    }
    // The visitor's own inbox (SnapshotNeeded and the like) is drained so
    // it never backs up.
    let (mut sink, mut stream) = visitor.split();
    let drain = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
    let frame = |seq: u64| -> Result<Message> {
        let mut payload = vec![0x5a; PAYLOAD];
        let stamp = epoch.elapsed().as_nanos() as u64;
        payload[..8].copy_from_slice(&stamp.to_le_bytes());
        let msg = VisitorMsg::Event(EventFrame {
            seq: Seq(seq),
            snapshot: false,
            payload,
        });
        Ok(Message::binary(protocol::encode(&msg)?))
    };
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for seq in 1..=PACED {
        tick.tick().await;
        sink.send(frame(seq)?).await?;
    }
    let slowest = |c: &[AtomicU64]| {
        c.iter()
            .map(|a| a.load(Ordering::Acquire))
            .min()
            .unwrap_or(0)
    };
    // Start the flood once the paced phase has landed everywhere.
    while slowest(&counts) < PACED {
        tokio::time::timeout(WAIT, progress.notified())
            .await
            .context("the paced events never all arrived")?;
    }
    let flood_start = epoch.elapsed();
    for seq in PACED + 1..=total {
        while seq - slowest(&counts) > WINDOW {
            tokio::time::timeout(WAIT, progress.notified())
                .await
                .context("the flood stalled")?;
        }
        sink.send(frame(seq)?).await?;
    }
    let mut latencies = Vec::new();
    let mut last = flood_start;
    for r in readers {
        let (paced, done) = tokio::time::timeout(WAIT, r)
            .await
            .context("an agent never got every event")???;
        latencies.extend(paced);
        last = last.max(done);
    }
    let _ = sink.close().await;
    drain.abort();
    latencies.sort_by(f64::total_cmp);
    Ok(Measured {
        per_second: FLOOD as f64 / (last - flood_start).as_secs_f64(),
        p50: percentile(&latencies, 50.0),
        p99: percentile(&latencies, 99.0),
    })
}

/// The release `bench-forwarder` process; ends when dropped.
struct Forwarder(Child);

impl Forwarder {
    fn start(bin: &Path) -> Result<(Forwarder, String)> {
        let mut child = Command::new(bin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let out = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line)?;
        let base = line
            .trim()
            .strip_prefix("bench-forwarder listening on ")
            .map(str::to_owned);
        let forwarder = Forwarder(child);
        Ok((
            forwarder,
            base.with_context(|| format!("bench-forwarder said {line:?}"))?,
        ))
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `relay_base`: the release relay's `ws://` address; `forwarder`: the
/// release `bench-forwarder` binary.
pub async fn section(
    relay_base: &str,
    token: &str,
    forwarder: &Path,
    runs: usize,
) -> Result<Section> {
    let (bare, bare_base) = Forwarder::start(forwarder)?;
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let result = async {
        for agents in FANOUT {
            let (mut ours, mut limit) = (Series::default(), Series::default());
            for run in 0..runs {
                eprintln!("[bench] relay forwarding to {agents} agent(s): run {}/{runs}", run + 1);
                let m = measure(relay_base, token, agents)
                    .await
                    .with_context(|| format!("through the relay to {agents} agent(s)"))?;
                ours.add(&m);
                let m = measure(&bare_base, token, agents)
                    .await
                    .with_context(|| format!("through the bare forwarder to {agents} agent(s)"))?;
                limit.add(&m);
            }
            let plural = if agents == 1 { "agent" } else { "agents" };
            rows.push(Row {
                what: format!("events/s to {agents} {plural} (flood)"),
                ours: ours.rate.show(Unit::PerSecond),
                rrweb: limit.rate.show(Unit::PerSecond),
                judged: ratios(&ours.rate, &limit.rate),
                unit: Unit::Ratio,
                target: Target::AtLeast(0.8),
                target_text: "≥ 0.8×".into(),
            });
            rows.push(Row {
                what: format!("p99 latency to {agents} {plural} (1 event/ms)"),
                ours: ours.p99.show(Unit::Ms),
                rrweb: limit.p99.show(Unit::Ms),
                judged: ratios(&ours.p99, &limit.p99),
                unit: Unit::Ratio,
                target: Target::None,
                target_text: String::new(),
            });
            notes.push(format!(
                "{agents} {plural}: p50 latency {} through the relay, {} through the bare forwarder.",
                ours.p50.show(Unit::Ms),
                limit.p50.show(Unit::Ms)
            ));
        }
        anyhow::Ok(())
    }
    .await;
    drop(bare);
    result?;
    notes.extend([
        "the rrweb column holds the limit: a bare tokio-tungstenite forwarder in the bench (the same handshake, then per event: decode the visitor's message, encode `ToAgent::Event` once, queue it to every admitted agent's writer; no bus, limits or metrics): its release build, in a process of its own with a 2-thread runtime. Ours is the release relay (`cargo build --release -p relay`), in-memory backend, its per-visitor flood limit (`visitor_messages_per_second`, 300 by default) raised out of the way.".into(),
        format!("the same Rust clients (tokio-tungstenite + the protocol crate: visitor hello → code → agents join → visitor consents) and the same events ({PAYLOAD}-byte payloads carrying the send time) for both, on 127.0.0.1. Flood: {FLOOD} events with at most {WINDOW} not yet at every agent (the relay drops an agent whose 1024-frame queue fills), timed from the first send to the last agent's last receipt; events/s counts visitor events, each delivered to every agent. Latency: {PACED} events one per millisecond, send → receipt on one clock, every delivery counted."),
        "clients, relay and forwarder share the machine's 2 cores, so both figures are lower than on a dedicated relay host; the ratio is the figure judged.".into(),
    ]);
    Ok(Section {
        title: "Relay forwarding (rrweb column: a bare forwarder)".into(),
        rows,
        notes,
    })
}

/// One server's figures over the runs.
#[derive(Default)]
struct Series {
    rate: Runs,
    p50: Runs,
    p99: Runs,
}

impl Series {
    fn add(&mut self, m: &Measured) {
        self.rate.push(m.per_second);
        self.p50.push(m.p50);
        self.p99.push(m.p99);
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::bare::Bare;

    /// The clients against the bare forwarder: every event reaches every
    /// agent and the figures are plausible.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bare_forwarder_delivers_to_every_agent() {
        let bare = Bare::start().expect("starts");
        let m = measure(&format!("ws://{}", bare.addr), "t", 2)
            .await
            .expect("measures");
        bare.stop();
        assert!(m.per_second > 100.0, "{}", m.per_second);
        assert!(m.p50 > 0.0 && m.p50 <= m.p99, "{} {}", m.p50, m.p99);
    }
}
