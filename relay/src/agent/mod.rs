//! An agent's connection: authenticate, join by code, wait for consent,
//! receive the page's events, ask for a fresh snapshot, point, ask for a
//! mode, control the page (in shared mode), leave.
//!
//! Owns: the agent's side of the session flow from the hello to the close:
//! joining, the one-session-at-a-time claim, leaving or holding its place.
//! Does not own: socket mechanics (`connection.rs`), token checks
//! (`auth.rs`), session records (`SessionStore`), delivery (`Bus`) or what
//! may pass (`gate.rs`). Events reach this agent's socket straight from the
//! bus through its mailbox; this task only reads what the agent sends
//! (`live.rs`), passes it on (`forward.rs`) and handles the agent's own
//! coming and going.

mod forward;
mod live;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{Stream, StreamExt};
use protocol::{AgentId, EndReason, Hello, SessionId, ToAgent, ToVisitor};

use crate::auth::AgentSubject;
use crate::bus::{Bus, Delivery, Topic};
use crate::connection::Conn;
use crate::gate::Standing;
use crate::invitations::{self, BeforeJoin};
use crate::metrics::Role;
use crate::resources::store::ResourceStore;
use crate::scale_metrics::Limited;
use crate::server::{read_hello, App};
use crate::sessions::SessionStore;
use crate::shutdown::Shutdown;
use crate::RelayError;

use forward::Gate;
use live::run_agent;

pub async fn serve<S: SessionStore, B: Bus>(
    app: Arc<App<S, B>>,
    socket: WebSocket,
    peer: SocketAddr,
    mut shutdown: Shutdown,
) {
    let (sink, mut stream) = socket.split();
    let mut conn = app.start_conn(sink, Role::Agent, peer);

    let hello = match read_hello(&app, &mut conn, &mut stream, &mut shutdown).await {
        Ok(Some(hello)) => hello,
        Ok(None) => return,
        Err(err) => return conn.fail(&mut stream, err).await,
    };
    let hello = match hello {
        Hello::Agent(hello) => hello,
        Hello::AgentRejoin(rejoin) => {
            let back = match crate::rejoin::rejoin(&app, &conn, peer, rejoin).await {
                Ok(back) => back,
                Err(err) => return conn.fail(&mut stream, err).await,
            };
            let _gauge = app.metrics.agent_joined();
            let place = (back.session, back.agent);
            let held = Held {
                standing: back.standing,
                subscription: back.subscription,
                claim: back.claim,
                generation: back.generation,
            };
            return in_session(&app, conn, &mut stream, shutdown, place, held).await;
        }
        Hello::Visitor(_) => {
            let err = RelayError::WrongRole { expected: "agent" };
            return conn.fail(&mut stream, err).await;
        }
    };
    let identity = match app.config.auth.verify(&hello.token) {
        Ok(identity) => identity,
        Err(err) => return conn.fail(&mut stream, err).await,
    };
    // Only authenticated agents get to try a code, and only while neither
    // their address nor their identity has used up its wrong codes.
    if let Err(err) = app.guesses.check(peer.ip(), &identity.subject) {
        app.metrics.scale.rate_limited(Limited::JoinCodes);
        return conn.fail(&mut stream, err).await;
    }
    // Taken before the join, which spends the visitor's code: a refused
    // agent must not cost the visitor its code.
    let mut claim = match Claim::take(&app, &identity.subject).await {
        Ok(claim) => claim,
        Err(err) => return conn.fail(&mut stream, err).await,
    };
    // An invitation's code is its inviter's alone; before the visitor
    // came, the inviter waits here (`invitations.rs`).
    let before = invitations::before_join(
        &app,
        &mut conn,
        &mut stream,
        &mut shutdown,
        &identity.subject,
        &hello.code,
    )
    .await;
    let invited = match before {
        Ok(BeforeJoin::Join(invited)) => invited,
        Ok(BeforeJoin::Over(last)) => {
            claim.release(&app).await;
            let last = last.unwrap_or(Delivery::Close {
                reason: String::new(),
            });
            return conn.finish(&mut stream, last).await;
        }
        Err(err) => {
            if matches!(err, RelayError::UnknownCode) {
                app.guesses.miss(peer.ip(), &identity.subject);
            }
            claim.release(&app).await;
            return conn.fail(&mut stream, err).await;
        }
    };
    // The inviter joins in the mode the integrator invited it in.
    let mode = invited.as_ref().map_or(hello.mode, |i| i.mode);
    let limits = &app.config.limits;
    let joined = match app
        .store
        .join(
            &hello.code,
            mode,
            limits.max_agents_per_session,
            limits.code_ttl,
        )
        .await
    {
        Ok(joined) => joined,
        Err(err) => {
            if matches!(err, RelayError::UnknownCode) {
                app.guesses.miss(peer.ip(), &identity.subject);
            }
            claim.release(&app).await;
            return conn.fail(&mut stream, err).await;
        }
    };
    if let Some(invited) = &invited {
        // Its code is spent: the inviter may invite again once out.
        if let Err(err) = app.store.close_invitation(invited).await {
            tracing::error!(session = %joined.session, "could not close the invitation: {err}");
        }
    }
    let (session, agent) = (joined.session.clone(), joined.agent);
    claim.name_place(&app, &session, agent).await;
    let next_code = joined.next_code;
    conn.send(Delivery::Agent(ToAgent::Joined {
        session: joined.session,
        agent,
        page_url: joined.page_url,
    }));
    // Subscribed before the visitor hears of us, so its answer cannot miss
    // us; the standing follows the Admitted and Mode deliveries it brings.
    let standing = Arc::new(Standing::default());
    let mailbox = conn.mailbox().following(Arc::clone(&standing));
    let subscription = match app
        .bus
        .subscribe(Topic::Agent(session.clone(), agent), mailbox)
        .await
    {
        Ok(sub) => sub,
        Err(err) => {
            leave(&app, &session, agent).await;
            claim.release(&app).await;
            return conn.fail(&mut stream, err).await;
        }
    };
    let _gauge = app.metrics.agent_joined();
    if let Some(name) = &identity.name {
        if let Err(err) = app.store.name_agent(&session, agent, name).await {
            tracing::error!(%session, agent = agent.0, "could not record the agent's name: {err}");
        }
    }
    // The code this agent used is spent; the visitor shows the fresh one
    // (a second Welcome only updates the code it displays) for whoever
    // comes next.
    if let Some(code) = next_code {
        // The session's token again (this relay may not be the visitor's):
        // the visitor takes every Welcome at its word.
        let upload_token = match app.store.resources().grant(&session).await {
            Ok(grant) => grant.map(|g| g.token.0).unwrap_or_default(),
            Err(err) => {
                tracing::error!(%session, "could not read the session's upload token: {err}");
                String::new()
            }
        };
        let resume_token = match app.store.resume_token(&session).await {
            Ok(token) => token.map(|t| t.into_string()).unwrap_or_default(),
            Err(err) => {
                tracing::error!(%session, "could not read the session's resume token: {err}");
                String::new()
            }
        };
        let welcome = Delivery::Visitor(ToVisitor::Welcome {
            session: session.clone(),
            code,
            upload_token,
            resume_token,
            resume_secs: crate::resume::grace_secs(app.config.limits.resume_grace),
            masking: protocol::MaskRules::default(),
        });
        if let Err(err) = app
            .bus
            .publish(&Topic::Visitor(session.clone()), welcome)
            .await
        {
            tracing::error!(%session, "could not send the visitor its fresh code: {err}");
        }
    }
    let announce = Delivery::Visitor(ToVisitor::AgentJoined {
        agent,
        name: identity.display_name(agent),
        mode,
    });
    let heard = app
        .bus
        .publish(&Topic::Visitor(session.clone()), announce)
        .await;
    if !matches!(heard, Ok(n) if n > 0) {
        // The visitor went away between our join and now; its goodbye may
        // have been published before we subscribed.
        drop(subscription);
        leave(&app, &session, agent).await;
        claim.release(&app).await;
        let ended = Delivery::Agent(ToAgent::Ended {
            reason: EndReason::VisitorDisconnected,
        });
        return conn.finish(&mut stream, ended).await;
    }
    tracing::info!(%session, agent = agent.0, subject = %identity.subject, %peer, ?mode, invited = invited.is_some(), "agent joined");

    let held = Held {
        standing,
        subscription,
        claim,
        generation: 0,
    };
    in_session(&app, conn, &mut stream, shutdown, (session, agent), held).await;
}

/// What an agent's connection holds while in its session.
struct Held<Sub> {
    standing: Arc<Standing>,
    subscription: Sub,
    claim: Claim,
    /// The turn of the agent's place this connection holds (`rejoin.rs`).
    generation: u64,
}

/// An agent's connection in its session (joined, or back by a rejoin)
/// until it ends. A socket that closed without `Leave` keeps an admitted
/// agent's place for the resume grace (`rejoin::hold_place`).
async fn in_session<S, B, St>(
    app: &Arc<App<S, B>>,
    mut conn: Conn,
    stream: &mut St,
    mut shutdown: Shutdown,
    (session, agent): (SessionId, AgentId),
    held: Held<B::Subscription>,
) where
    S: SessionStore,
    B: Bus,
    St: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let Held {
        standing,
        subscription,
        claim,
        generation,
    } = held;
    let mut gate = Gate::new(standing, app.config.limits.agent_messages_per_second);
    let mut broke = false;
    let (last, error) = run_agent(
        app,
        &mut conn,
        stream,
        &mut shutdown,
        (&session, agent),
        &mut gate,
        &mut broke,
    )
    .await;

    drop(subscription);
    if shutdown.is_draining() && gate.standing.admitted() {
        // The agent was told to rejoin on another relay: its place in the
        // session stays for that (the visitor is not told it left). One
        // still waiting for consent has no place to rejoin and leaves.
        // Its claim stays too: the rejoining connection takes it over (or,
        // this relay gone, it expires unrenewed).
        tracing::info!(%session, agent = agent.0, "agent moved off this draining relay");
    } else if broke {
        // The socket closed or failed without `Leave`: the console may
        // come back with its rejoin token. The place keeps the claim.
        crate::rejoin::hold_place(
            Arc::clone(app),
            (session.clone(), agent),
            generation,
            claim,
            shutdown.clone(),
        );
    } else {
        leave(app, &session, agent).await;
        // Before the agent hears the end, so it may join another session at once.
        claim.release(app).await;
    }
    tracing::info!(%session, agent = agent.0, "agent left");
    match (error, last) {
        (Some(err), _) => conn.fail(stream, err).await,
        (None, Some(last)) => conn.finish(stream, last).await,
        (None, None) => {
            let close = Delivery::Close {
                reason: String::new(),
            };
            conn.finish(stream, close).await;
        }
    }
}

/// An agent identity's one session at a time, held from before its join
/// until it is out of the session again — a place kept for a rejoin
/// included, and taken over by the connection that rejoins.
///
/// The holder's name is random until the join; then it names the place,
/// `{session}:{agent}:{random}`, so that a rejoining connection can tell
/// the claim of the place it continues (perhaps still held by a dead
/// relay's connection until it expires) from one for another session.
pub(crate) struct Claim {
    /// `None` for the dev token: everyone holding it shares one identity,
    /// so each connection counts as its own agent there (the demo and tests
    /// run several dev agents at once).
    held: Option<(String, String)>,
}

fn place_prefix(session: &SessionId, agent: AgentId) -> String {
    format!("{session}:{}:", agent.0)
}

fn random_holder() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl Claim {
    /// Renames the claim after the place just joined.
    async fn name_place<S: SessionStore, B: Bus>(
        &mut self,
        app: &App<S, B>,
        session: &SessionId,
        agent: AgentId,
    ) {
        let Some((who, holder)) = &mut self.held else {
            return;
        };
        let named = format!("{}{}", place_prefix(session, agent), random_holder());
        match app.store.hand_over_agent(who, holder, &named).await {
            Ok(true) => *holder = named,
            // Still held under its first name: a rejoin will not find it
            // and takes it only once it expires.
            Ok(false) => {
                tracing::warn!(subject = %who, "the agent's claim changed hands during its join")
            }
            Err(err) => {
                tracing::error!(subject = %who, "could not name the agent's claim after its place: {err}")
            }
        }
    }

    /// A rejoining connection's claim: the place's own (whoever held it
    /// under the place's name) or a free one; refused while the identity
    /// is in another session.
    pub(crate) async fn take_over<S: SessionStore, B: Bus>(
        app: &App<S, B>,
        subject: &AgentSubject,
        session: &SessionId,
        agent: AgentId,
    ) -> Result<Claim, RelayError> {
        let AgentSubject::Signed(who) = subject else {
            return Ok(Claim { held: None });
        };
        let prefix = place_prefix(session, agent);
        let holder = format!("{prefix}{}", random_holder());
        if !app.store.hand_over_agent(who, &prefix, &holder).await? {
            tracing::info!(subject = %who, "agent rejoin refused: in another session meanwhile");
            return Err(RelayError::AgentBusy);
        }
        Ok(Claim {
            held: Some((who.clone(), holder)),
        })
    }

    async fn take<S: SessionStore, B: Bus>(
        app: &App<S, B>,
        subject: &AgentSubject,
    ) -> Result<Claim, RelayError> {
        let AgentSubject::Signed(who) = subject else {
            return Ok(Claim { held: None });
        };
        let holder = random_holder();
        if !app.store.claim_agent(who, &holder).await? {
            tracing::info!(subject = %who, "agent refused: already in a session");
            return Err(RelayError::AgentBusy);
        }
        Ok(Claim {
            held: Some((who.clone(), holder)),
        })
    }

    /// A failure is logged: the Redis key then expires on its own.
    pub(crate) async fn release<S: SessionStore, B: Bus>(self, app: &App<S, B>) {
        if let Some((who, holder)) = self.held {
            if let Err(err) = app.store.release_agent(&who, &holder).await {
                tracing::error!(subject = %who, "could not free the agent for another session: {err}");
            }
        }
    }
}

/// Takes the agent out of the session, and tells the visitor if it was
/// still there (not if the visitor ended the session or declined it).
pub(crate) async fn leave<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    session: &SessionId,
    agent: AgentId,
) {
    match app.store.remove_agent(session, agent).await {
        Ok(true) => {
            let left = Delivery::Visitor(ToVisitor::AgentLeft { agent });
            if let Err(err) = app
                .bus
                .publish(&Topic::Visitor(session.clone()), left)
                .await
            {
                tracing::error!(%session, agent = agent.0, "could not tell visitor: {err}");
            }
        }
        Ok(false) => {}
        Err(err) => tracing::error!(%session, agent = agent.0, "could not remove agent: {err}"),
    }
}
