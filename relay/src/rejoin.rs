//! An admitted agent whose connection broke (its relay went away, its
//! network dropped) continues its place in the session on any relay that
//! shares the session's store: same agent id, same mode, no code and no
//! new consent, and nothing of the page lost or shown twice.
//!
//! Owns: the rejoin token (its form, minting it on admission, its
//! constant-time check), the rejoining connection's start, the visitor
//! connection's side ([`Returning`], [`welcome_back`]) and the grace an
//! agent's place is kept after its socket closed ([`hold_place`]). Does not
//! own: the buffer (`replay/`) or the agent's life in the session once back
//! (`agent/`).
//!
//! # The token
//!
//! `base64url(session id (16 bytes) ‖ agent id (4 bytes) ‖ secret (24
//! bytes))`, sent to the agent right after `Admitted`. The store keeps only
//! the SHA-256 of the secret, with a generation that each rejoin and the end
//! of the grace window move on atomically, so two claims on one place (a
//! copied console, a rejoin racing the grace's end) cannot both win.
//!
//! # Order
//!
//! The rejoining connection subscribes to its topic, then asks the
//! visitor's connection (through the bus) to take it back. That connection
//! is the session's one writer of frames: between two of the visitor's
//! frames it publishes what the agent missed from the buffer, then forwards
//! to it again, so the console sees every frame once, in order. With the
//! visitor away (nobody to ask), the rejoining connection replays the buffer
//! itself; the visitor's next page continues after it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use protocol::{AgentId, AgentRejoin, Seq, SessionId, ToAgent, ToVisitor};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Notify;

use crate::agent::Claim;
use crate::bus::{Bus, Delivery, Stamped, Topic};
use crate::connection::Conn;
use crate::gate::Standing;
use crate::replay::{catch_up, CatchUp, RejoinRecord, ReplayStore};
use crate::resources::store::ResourceStore;
use crate::server::App;
use crate::sessions::{AgentState, SessionStore};
use crate::shutdown::Shutdown;
use crate::RelayError;

const SESSION_BYTES: usize = 16;
const AGENT_BYTES: usize = 4;
const SECRET_BYTES: usize = 24;

/// A rejoin secret taken apart.
struct Presented {
    session: SessionId,
    agent: AgentId,
    secret: [u8; SECRET_BYTES],
}

fn digest(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

fn session_bytes(session: &SessionId) -> Option<[u8; SESSION_BYTES]> {
    let hex = session.0.as_bytes();
    if hex.len() != SESSION_BYTES * 2 {
        return None;
    }
    let mut out = [0u8; SESSION_BYTES];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = std::str::from_utf8(&hex[i * 2..i * 2 + 2]).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

fn parse(text: &str) -> Option<Presented> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    if bytes.len() != SESSION_BYTES + AGENT_BYTES + SECRET_BYTES {
        return None;
    }
    let (session, rest) = bytes.split_at(SESSION_BYTES);
    let (agent, secret) = rest.split_at(AGENT_BYTES);
    let session = session.iter().map(|b| format!("{b:02x}")).collect();
    Some(Presented {
        session: SessionId(session),
        agent: AgentId(u32::from_be_bytes(agent.try_into().ok()?)),
        secret: secret.try_into().ok()?,
    })
}

/// On admission (by the visitor's relay, right after `Admitted` and
/// `Mode`): a fresh secret for `agent`, its digest stored, the token sent.
pub(crate) async fn grant<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    session: &SessionId,
    agent: AgentId,
) -> Result<(), RelayError> {
    let Some(id) = session_bytes(session) else {
        return Err(RelayError::Internal(
            "session id is not 32 hex digits".into(),
        ));
    };
    let mut secret = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut secret);
    let record = RejoinRecord {
        generation: 0,
        digest: digest(&secret),
    };
    app.store
        .replay()
        .set_rejoin(session, agent, record)
        .await?;
    let mut token = Vec::with_capacity(SESSION_BYTES + AGENT_BYTES + SECRET_BYTES);
    token.extend_from_slice(&id);
    token.extend_from_slice(&agent.0.to_be_bytes());
    token.extend_from_slice(&secret);
    let token = ToAgent::RejoinToken(URL_SAFE_NO_PAD.encode(token));
    app.bus
        .publish(
            &Topic::Agent(session.clone(), agent),
            Delivery::Agent(token),
        )
        .await?;
    Ok(())
}

/// Agents asking a visitor's connection to take them back, noted by its
/// mailbox as the bus delivers, taken by its session loop between frames.
#[derive(Debug, Default)]
pub struct Returning {
    waiting: Mutex<Vec<(AgentId, Option<Seq>)>>,
    notify: Notify,
}

impl Returning {
    pub fn note(&self, agent: AgentId, after: Option<Seq>) {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((agent, after));
        self.notify.notify_one();
    }

    /// Resolves once an agent is waiting (at once if one already is).
    pub async fn arrived(&self) {
        self.notify.notified().await;
    }

    fn take(&self) -> Vec<(AgentId, Option<Seq>)> {
        std::mem::take(
            &mut *self
                .waiting
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

/// The visitor's connection takes its returning agents back: each is sent
/// what it missed from the buffer (or told to wait for a fresh snapshot,
/// which the visitor is asked for), then forwarded to like any admitted
/// agent.
pub(crate) async fn welcome_back<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    conn: &Conn,
    session: &SessionId,
    returning: &Returning,
    admitted: &mut Vec<AgentId>,
) -> Result<(), RelayError> {
    for (agent, after) in returning.take() {
        let entries = app.store.replay().entries(session).await?;
        let topic = Topic::Agent(session.clone(), agent);
        let frames = match catch_up(entries, after) {
            CatchUp::Complete(frames) | CatchUp::FromSnapshot(frames) => frames,
            CatchUp::SnapshotNeeded => {
                conn.send(Delivery::Visitor(ToVisitor::SnapshotNeeded));
                Vec::new()
            }
        };
        let count = frames.len();
        for entry in frames {
            let frame = Delivery::Frame(entry.seq(), Stamped::replayed(entry.forwarded()));
            app.bus.publish(&topic, frame).await?;
        }
        if !admitted.contains(&agent) {
            admitted.push(agent);
        }
        tracing::info!(%session, agent = agent.0, replayed = count, "agent back in the session");
    }
    Ok(())
}

/// What a rejoin leads to: the agent back in its session, its topic
/// subscribed, its standing set.
pub(crate) struct Back<Sub> {
    pub session: SessionId,
    pub agent: AgentId,
    pub standing: Arc<Standing>,
    pub subscription: Sub,
    /// The turn of the agent's place this connection holds.
    pub generation: u64,
    /// The identity's one-session claim, taken over from the place.
    pub claim: Claim,
}

/// A rejoining agent's connection, from its hello to being back in the
/// session (the caller then serves it as any admitted agent).
pub(crate) async fn rejoin<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    conn: &Conn,
    peer: SocketAddr,
    hello: AgentRejoin,
) -> Result<Back<B::Subscription>, RelayError> {
    let identity = app.config.auth.verify(&hello.token)?;
    // Made-up secrets are counted like wrong resume tokens: by address.
    app.resume_guesses.check_addr(peer.ip())?;
    let refuse = |why: &str| {
        app.metrics.rejoin_refused();
        app.resume_guesses.miss_addr(peer.ip());
        tracing::info!(%peer, why, "agent rejoin refused");
        RelayError::ResumeRefused
    };
    let Some(presented) = parse(&hello.rejoin) else {
        return Err(refuse("not a rejoin token"));
    };
    let Presented {
        session,
        agent,
        secret,
    } = presented;
    let replay = app.store.replay();
    let Some(record) = replay.rejoin(&session, agent).await? else {
        return Err(refuse("no such place"));
    };
    if !bool::from(digest(&secret).ct_eq(&record.digest)) {
        return Err(refuse("wrong secret"));
    }
    // The identity's one session at a time: the place's claim (still a
    // dead relay's, perhaps) passes to this connection; an identity that
    // joined another session meanwhile is refused.
    let claim = crate::agent::Claim::take_over(app, &identity.subject, &session, agent).await?;
    match continue_place(app, conn, peer, (session, agent), &record, &hello).await {
        Ok((session, agent, standing, subscription, generation)) => Ok(Back {
            session,
            agent,
            standing,
            subscription,
            generation,
            claim,
        }),
        Err(err) => {
            claim.release(app).await;
            Err(err)
        }
    }
}

/// The rest of a rejoin once the secret matched and the claim is taken:
/// the place itself, then being back in the session.
async fn continue_place<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    conn: &Conn,
    peer: SocketAddr,
    (session, agent): (SessionId, AgentId),
    record: &RejoinRecord,
    hello: &AgentRejoin,
) -> Result<(SessionId, AgentId, Arc<Standing>, B::Subscription, u64), RelayError> {
    let refuse = |why: &str| {
        app.metrics.rejoin_refused();
        app.resume_guesses.miss_addr(peer.ip());
        tracing::info!(%peer, why, "agent rejoin refused");
        RelayError::ResumeRefused
    };
    let replay = app.store.replay();
    // Claims the place: a second connection presenting the same secret at
    // the same moment, or the grace window's end, loses.
    if !replay
        .advance_rejoin(&session, agent, record.generation, false)
        .await?
    {
        return Err(refuse("place taken meanwhile"));
    }
    if app.store.agent_state(&session, agent).await? != Some(AgentState::Admitted) {
        return Err(refuse("no longer admitted"));
    }
    let Some(mode) = app.store.agent_mode(&session, agent).await? else {
        return Err(refuse("no longer in the session"));
    };
    let Some(grant) = app.store.resources().grant(&session).await? else {
        return Err(refuse("session gone"));
    };
    let standing = Arc::new(Standing::default());
    let admitted = Delivery::Agent(ToAgent::Admitted {
        resources: grant.path(),
    });
    let mode = Delivery::Agent(ToAgent::Mode(mode));
    standing.observe(&admitted);
    standing.observe(&mode);
    // What the console applied is never written to it again.
    standing.applied_up_to(hello.last_seq);
    // Before subscribing: nothing the visitor's relay publishes to this
    // agent can overtake them.
    conn.send(admitted);
    conn.send(mode);
    let mailbox = conn.mailbox().following(Arc::clone(&standing));
    let subscription = app
        .bus
        .subscribe(Topic::Agent(session.clone(), agent), mailbox.clone())
        .await?;
    let back = Delivery::Rejoined {
        agent,
        after: hello.last_seq,
    };
    let heard = app
        .bus
        .publish(&Topic::Visitor(session.clone()), back)
        .await?;
    if heard == 0 {
        // The visitor is away: nobody else will replay; its next page
        // continues after what the buffer holds.
        let entries = replay.entries(&session).await?;
        if let CatchUp::Complete(frames) | CatchUp::FromSnapshot(frames) =
            catch_up(entries, hello.last_seq)
        {
            for entry in frames {
                mailbox.deliver(Delivery::Frame(
                    entry.seq(),
                    Stamped::replayed(entry.forwarded()),
                ));
            }
        }
    }
    app.metrics.agent_rejoined();
    tracing::info!(%session, agent = agent.0, %peer, visitor_here = heard > 0, "agent rejoined");
    Ok((
        session,
        agent,
        standing,
        subscription,
        record.generation + 1,
    ))
}

/// After an agent's socket closed without `Leave`: an admitted agent's
/// place (the connection held turn `generation` of it: 0 from the join, the
/// next one from each rejoin) is kept for the resume grace, then, unless it
/// rejoined meanwhile, it leaves the session as if it had said so. An agent
/// never admitted leaves at once. Runs on its own task.
pub(crate) fn hold_place<S: SessionStore, B: Bus>(
    app: Arc<App<S, B>>,
    (session, agent): (SessionId, AgentId),
    generation: u64,
    claim: Claim,
    shutdown: Shutdown,
) {
    tokio::spawn(async move {
        keep_place(&app, (&session, agent), generation, shutdown).await;
        // The place is given up, or a rejoin took its claim over (which
        // this release then leaves alone: the holder changed).
        claim.release(&app).await;
    });
}

async fn keep_place<S: SessionStore, B: Bus>(
    app: &Arc<App<S, B>>,
    (session, agent): (&SessionId, AgentId),
    generation: u64,
    mut shutdown: Shutdown,
) {
    let record = match app.store.replay().rejoin(session, agent).await {
        Ok(record) => record,
        Err(err) => {
            tracing::error!(%session, agent = agent.0, "could not read the agent's rejoin record: {err}");
            None
        }
    };
    let Some(record) = record else {
        // Never admitted (or the session ended): nothing to keep.
        return crate::agent::leave(app, session, agent).await;
    };
    if record.generation != generation {
        // A newer connection holds the place already.
        return;
    }
    let grace = app.config.limits.resume_grace;
    tokio::select! {
        () = tokio::time::sleep(grace) => {}
        // The relay is stopping: the place stays for a rejoin elsewhere
        // (the session's end removes it otherwise).
        () = shutdown.wait() => return,
    }
    match app
        .store
        .replay()
        .advance_rejoin(session, agent, generation, true)
        .await
    {
        Ok(true) => {
            tracing::info!(%session, agent = agent.0, "agent did not come back in time");
            crate::agent::leave(app, session, agent).await;
        }
        Ok(false) => {}
        Err(err) => {
            tracing::error!(%session, agent = agent.0, "could not end the agent's place: {err}");
        }
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_session_and_agent_and_hides_a_long_secret() {
        let session = SessionId("00112233445566778899aabbccddeeff".into());
        let id = session_bytes(&session).expect("hex id");
        let mut token = id.to_vec();
        token.extend_from_slice(&7u32.to_be_bytes());
        token.extend_from_slice(&[9u8; SECRET_BYTES]);
        let presented = parse(&URL_SAFE_NO_PAD.encode(token)).expect("parses");
        assert_eq!(presented.session, session);
        assert_eq!(presented.agent, AgentId(7));
        assert_eq!(presented.secret, [9u8; SECRET_BYTES]);
        assert!(parse("not-a-token").is_none());
        assert!(parse(&URL_SAFE_NO_PAD.encode([0u8; 20])).is_none());
    }
}
