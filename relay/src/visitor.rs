//! A visitor's connection: create the session, relay consent answers and
//! mode grants, fan the page's events out to admitted agents, end the
//! session.
//!
//! Owns: the visitor's side of the session flow and the list of agents this
//! visitor admitted. Does not own: socket mechanics (`connection.rs`), the
//! session records (`SessionStore`) or delivery (`Bus`).
//!
//! A visitor's hello either opens a session or (with a resume token)
//! continues one whose visitor left without ending it. However the
//! connection ends, the session ends with it and every agent still in it is
//! told why, exactly once, in [`serve`] — unless the socket merely closed and
//! resuming is on: then the session waits for the visitor's next page
//! (`resume.rs`), or a newer connection of the visitor took the session
//! over: then this one just closes (`takeover.rs`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket};
use futures_util::{Stream, StreamExt};
use protocol::{
    AgentId, EndReason, Hello, MaskRules, ResourcePolicy, SessionId, ToAgent, ToVisitor,
    VisitorMsg, WatchingAgent,
};

use crate::bus::{Bus, Delivery, Stamped, Topic};
use crate::connection::{next_frame, Conn, Inbound};
use crate::gate::Budget;
use crate::idle::{self, Activity};
use crate::invitations::{self, InvitationSecret};
use crate::metrics::{GaugeGuard, ResumeRefusal, Role};
use crate::origins::{self, OriginKey, OriginSlots};
use crate::rejoin::{self, Returning};
use crate::replay::{Entry, ReplayStore};
use crate::resources::store::{Grant, ResourceStore};
use crate::resume::{self, ResumeToken};
use crate::scale_metrics::{now_us, Limited};
use crate::server::{read_hello, App};
use crate::sessions::{
    Attachment, ConsentOutcome, ModeChange, NewSession, Resumption, SessionStore,
};
use crate::shutdown::Shutdown;
use crate::takeover::{self, Tenure};
use crate::RelayError;

pub async fn serve<S: SessionStore, B: Bus>(
    app: Arc<App<S, B>>,
    socket: WebSocket,
    (peer, origin): (SocketAddr, OriginKey),
    mut shutdown: Shutdown,
) {
    let (sink, mut stream) = socket.split();
    let mut conn = app.start_conn(sink, Role::Visitor, peer);
    // Before the session is opened, so every subscription notes it.
    let activity = Activity::new();
    conn.note_activity(Arc::clone(&activity));
    // Likewise: an agent may come back as soon as the session is open.
    let returning = Arc::new(Returning::default());
    conn.hear_returning(Arc::clone(&returning));
    let tenure = Arc::new(Tenure::default());
    conn.hold_tenure(Arc::clone(&tenure));

    let hello = match read_hello(&app, &mut conn, &mut stream, &mut shutdown).await {
        Ok(Some(hello)) => hello,
        Ok(None) => return,
        Err(err) => return conn.fail(&mut stream, err).await,
    };
    let Hello::Visitor(hello) = hello else {
        let err = RelayError::WrongRole {
            expected: "visitor",
        };
        return conn.fail(&mut stream, err).await;
    };
    // The page's rules from the relay's config, for this page's URL (a
    // resumed session's next page has its own).
    let masking = app.config.masking.rules_for(&hello.page_url);
    // Resumes bypass the bucket of new sessions: in a reconnect storm the
    // sessions people are in come back first.
    if hello.resume.is_none() {
        if let Err(err) = app.admission.new_session() {
            app.metrics.scale.rate_limited(Limited::NewSession);
            return conn.fail(&mut stream, err).await;
        }
    }
    let opened = match (hello.resume, hello.invitation) {
        (Some(token), _) => continue_session(&app, &conn, &tenure, &token, masking, &origin).await,
        (None, Some(secret)) => {
            let page = (hello.page_url, hello.resources);
            open_invited(&app, &conn, &tenure, &secret, page, (masking, &origin)).await
        }
        (None, None) => {
            let page = (hello.page_url, hello.resources);
            open_session(&app, &conn, &tenure, page, (masking, &origin)).await
        }
    };
    let Open {
        session,
        grant,
        subscription,
        admitted,
        gauge,
    } = match opened {
        Ok(open) => open,
        Err(err) => return conn.fail(&mut stream, err).await,
    };

    let ending = run_session(
        &app,
        &mut conn,
        &mut stream,
        &mut shutdown,
        (&session, &grant, &activity, &tenure),
        (admitted, &returning),
    )
    .await;
    let (reason, error) = match ending {
        // However it ended, a connection that was taken over has no say
        // in the session any more.
        _ if tenure.is_over() => {
            drop((subscription, gauge));
            return taken_over(&app, conn, &mut stream, &session).await;
        }
        Ending::Superseded => {
            drop((subscription, gauge));
            return taken_over(&app, conn, &mut stream, &session).await;
        }
        Ending::Closed(reason, error) => (reason, error),
        Ending::Idle => {
            drop(subscription);
            drop(gauge);
            return end_idle(&app, conn, &mut stream, &session).await;
        }
    };

    // Stop hearing about agents before telling them: nothing new can arrive
    // for a session that is going away (or waiting for the next page, whose
    // connection subscribes on its own).
    drop(subscription);
    drop(gauge);
    let keep =
        reason == EndReason::VisitorDisconnected && !app.config.limits.resume_grace.is_zero();
    let attachment = tenure.attachment().unwrap_or(Attachment::FIRST);
    if keep && resume::visitor_left(&app, &session, attachment, shutdown.clone()).await {
        let reason = if shutdown.is_draining() {
            // A page that missed the Reconnect still learns what to do.
            "The relay is restarting: reconnect with the resume token to continue.".to_owned()
        } else {
            String::new()
        };
        let last = Delivery::Close { reason };
        return conn.finish(&mut stream, last).await;
    }
    end_session(&app, &session, reason).await;
    tracing::info!(%session, ?reason, "visitor session ended");
    match error {
        Some(err) => conn.fail(&mut stream, err).await,
        None => {
            let last = match reason {
                EndReason::RelayShutdown => Delivery::Visitor(ToVisitor::Ended { reason }),
                _ => Delivery::Close {
                    reason: reason.describe().to_owned(),
                },
            };
            conn.finish(&mut stream, last).await;
        }
    }
}

/// A visitor's connection attached to its session.
struct Open<Sub> {
    session: SessionId,
    grant: Grant,
    subscription: Sub,
    /// Agents the events go to from the start (a resumed session's).
    admitted: Vec<AgentId>,
    gauge: GaugeGuard,
}

/// A new session: created, its resources opened, the visitor subscribed and
/// welcomed.
async fn open_session<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    conn: &Conn,
    tenure: &Tenure,
    (page_url, policy): (String, ResourcePolicy),
    (masking, origin): (MaskRules, &OriginKey),
) -> Result<Open<B::Subscription>, RelayError> {
    let created = app
        .store
        .create(page_url, app.config.limits.code_ttl)
        .await?;
    origins::take_slot(app, origin, &created.session).await?;
    attach_new(app, conn, tenure, created, policy, masking).await
}

/// A page taking an agent's invitation up: the session is created under
/// the invitation's code and the waiting inviter is woken (it joins as any
/// agent does, so the visitor is asked first). An unknown, used or expired
/// invitation is refused and counted like a wrong code: never a session.
async fn open_invited<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    conn: &Conn,
    tenure: &Tenure,
    presented: &str,
    (page_url, policy): (String, ResourcePolicy),
    (masking, origin): (MaskRules, &OriginKey),
) -> Result<Open<B::Subscription>, RelayError> {
    let ip = conn.peer().ip();
    if let Err(err) = app.guesses.check_addr(ip) {
        app.metrics.scale.rate_limited(Limited::JoinCodes);
        return Err(err);
    }
    let taken = match InvitationSecret::parse(presented) {
        Some(secret) => app.store.take_invitation(&secret, page_url).await?,
        None => None,
    };
    let Some((created, invited)) = taken else {
        app.guesses.miss_addr(ip);
        tracing::info!(peer = %conn.peer(), "visitor presented an invitation that is not open");
        return Err(RelayError::InvitationRefused);
    };
    // The inviter keeps waiting if the origin is full: the invitation is
    // used, the page is told why.
    origins::take_slot(app, origin, &created.session).await?;
    let open = attach_new(app, conn, tenure, created, policy, masking).await?;
    // After the visitor is subscribed, so the inviter's join is heard.
    invitations::wake_inviter(&app.bus, &invited.session).await;
    Ok(open)
}

/// A session just created: its resources opened, the visitor subscribed
/// and welcomed.
async fn attach_new<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    conn: &Conn,
    tenure: &Tenure,
    created: NewSession,
    policy: ResourcePolicy,
    masking: MaskRules,
) -> Result<Open<B::Subscription>, RelayError> {
    let session = created.session.clone();
    // Nobody knows the session's token before the Welcome below.
    tenure.begin(Attachment::FIRST);
    let attached = async {
        let grant = app
            .resources
            .open(app.store.resources(), &session, policy)
            .await?;
        let subscription = app
            .bus
            .subscribe(Topic::Visitor(session.clone()), conn.mailbox())
            .await?;
        Ok::<_, RelayError>((grant, subscription))
    };
    let (grant, subscription) = match attached.await {
        Ok(attached) => attached,
        Err(err) => {
            end_session(app, &session, EndReason::Error).await;
            return Err(err);
        }
    };
    conn.send(Delivery::Visitor(ToVisitor::Welcome {
        session: created.session,
        code: created.code,
        upload_token: grant.token.0.clone(),
        resume_token: created.resume.into_string(),
        resume_secs: resume::grace_secs(app.config.limits.resume_grace),
        masking,
    }));
    let gauge = app.metrics.session_started();
    tracing::info!(%session, peer = %conn.peer(), "visitor session started");
    Ok(Open {
        session,
        grant,
        subscription,
        admitted: Vec::new(),
        gauge,
    })
}

/// A visitor's next page continues its session: checked, re-attached
/// (taking it over from an older connection still attached: the newer page
/// wins), welcomed with the same secrets, told who is watching. Never
/// creates a session.
async fn continue_session<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    conn: &Conn,
    tenure: &Tenure,
    presented: &str,
    masking: MaskRules,
    origin: &OriginKey,
) -> Result<Open<B::Subscription>, RelayError> {
    let limits = &app.config.limits;
    let peer = conn.peer();
    let ended = RelayError::ResumeRefused;
    if let Err(err) = app.resume_guesses.check_addr(peer.ip()) {
        app.metrics.resume_refused(ResumeRefusal::RateLimited);
        app.metrics.scale.rate_limited(Limited::ResumeFailures);
        return Err(err);
    }
    let refuse = |reason: ResumeRefusal| {
        app.metrics.resume_refused(reason);
        if reason == ResumeRefusal::Unknown {
            app.resume_guesses.miss_addr(peer.ip());
        }
        tracing::info!(%peer, reason = reason.label(), "resume refused");
        RelayError::ResumeRefused
    };
    if limits.resume_grace.is_zero() {
        app.metrics.resume_refused(ResumeRefusal::Unknown);
        return Err(ended);
    }
    let token = ResumeToken::parse(presented);
    let (Some(token), Some(session)) = (token.clone(), token.and_then(|t| t.session())) else {
        return Err(refuse(ResumeRefusal::Unknown));
    };
    // The token is checked before this connection hears anything meant for
    // the session's visitor.
    let stored = app.store.resume_token(&session).await?;
    if !stored.is_some_and(|stored| token.matches(&stored)) {
        return Err(refuse(ResumeRefusal::Unknown));
    }
    // Subscribed before re-attaching, so nothing published to the visitor
    // once the session is attached again is missed.
    let subscription = app
        .bus
        .subscribe(Topic::Visitor(session.clone()), conn.mailbox())
        .await?;
    let resumed = match app.store.resume(&token, limits.code_ttl).await? {
        Resumption::Resumed(resumed) => resumed,
        Resumption::Unknown => return Err(refuse(ResumeRefusal::Unknown)),
    };
    // Before the announcement, which this connection hears too.
    tenure.begin(resumed.attachment);
    // The session holds its origin's slot already (a resume is never
    // refused for it); this relay only learns which, to free it at the end.
    app.store.origins().note(origin, &session);
    if resumed.took_over {
        // An older connection (a dead socket the relay has not noticed
        // yet, or another copy of the page) is still attached: it goes,
        // the session and its agents stay.
        takeover::announce(&app.bus, &session, resumed.attachment).await;
        app.metrics.session_taken_over();
    }
    let grant = match app.store.resources().grant(&session).await {
        Ok(Some(grant)) => grant,
        Ok(None) => {
            end_session(app, &session, EndReason::Error).await;
            return Err(RelayError::Internal(
                "resumed session without resources".into(),
            ));
        }
        Err(err) => {
            end_session(app, &session, EndReason::Error).await;
            return Err(err);
        }
    };
    let Some(code) = resumed.code else {
        end_session(app, &session, EndReason::Error).await;
        return Err(RelayError::Internal("no free join code".into()));
    };
    conn.send(Delivery::Visitor(ToVisitor::Welcome {
        session: session.clone(),
        code,
        upload_token: grant.token.0.clone(),
        resume_token: token.into_string(),
        resume_secs: resume::grace_secs(limits.resume_grace),
        masking: masking.clone(),
    }));
    let agents = resumed
        .agents
        .iter()
        .map(|w| WatchingAgent {
            agent: w.agent,
            name: w
                .name
                .clone()
                .unwrap_or_else(|| format!("Agent {}", w.agent.0)),
            mode: w.mode,
        })
        .collect();
    // A page that is still the one that sent the events resends what the
    // relay lacks after this; a new page numbers its snapshot after it.
    let last_seq = match app.store.replay().last_seq(&session).await {
        Ok(last) => last,
        Err(err) => {
            end_session(app, &session, EndReason::Error).await;
            return Err(err);
        }
    };
    conn.send(Delivery::Visitor(ToVisitor::Resumed {
        agents,
        masking,
        last_seq,
    }));
    let gauge = app.metrics.session_resumed();
    tracing::info!(%session, %peer, agents = resumed.agents.len(), took_over = resumed.took_over, "visitor session resumed");
    Ok(Open {
        session,
        grant,
        subscription,
        admitted: resumed.agents.iter().map(|w| w.agent).collect(),
        gauge,
    })
}

/// Removes the session (and what it knew of its resources) and tells each
/// agent still in it.
pub(crate) async fn end_session<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    session: &SessionId,
    reason: EndReason,
) {
    let agents = match app.store.end(session).await {
        Ok(agents) => agents,
        Err(err) => {
            tracing::error!(%session, "could not end session: {err}");
            Vec::new()
        }
    };
    finish_ended(app, session, agents, reason).await;
}

/// After the store removed the session: forgets its resources, tells
/// `agents`, counts the end.
pub(crate) async fn finish_ended<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    session: &SessionId,
    agents: Vec<AgentId>,
    reason: EndReason,
) {
    if let Err(err) = app.store.resources().close(session).await {
        tracing::error!(%session, "could not forget the session's resources: {err}");
    }
    if let Err(err) = app.store.replay().forget(session).await {
        tracing::error!(%session, "could not forget the session's replay buffer: {err}");
    }
    origins::free_slot(app, session).await;
    app.metrics.session_ended(reason);
    for agent in agents {
        let topic = Topic::Agent(session.clone(), agent);
        let ended = Delivery::Agent(ToAgent::Ended { reason });
        if let Err(err) = app.bus.publish(&topic, ended).await {
            tracing::error!(%session, agent = agent.0, "could not tell agent: {err}");
        }
    }
}

/// A newer connection of the visitor took the session over: this one
/// closes with the reason and leaves the session (and its agents) alone.
async fn taken_over<S, B, St>(app: &App<S, B>, conn: Conn, stream: &mut St, session: &SessionId)
where
    S: SessionStore,
    B: Bus,
    St: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    // The newer connection holds the session now.
    app.store.release(session);
    tracing::info!(%session, peer = %conn.peer(), "visitor connection taken over by a newer one");
    conn.finish(stream, takeover::farewell()).await;
}

/// A session nobody used for `idle_timeout` ends at once (no resume
/// window: nobody is away); both sides are told why, the visitor also in
/// the close reason (with the configured minutes).
async fn end_idle<S, B, St>(app: &App<S, B>, conn: Conn, stream: &mut St, session: &SessionId)
where
    S: SessionStore,
    B: Bus,
    St: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let minutes = app.config.limits.idle_timeout.as_secs().div_ceil(60);
    tracing::info!(%session, idle_timeout_secs = app.config.limits.idle_timeout.as_secs(), "visitor session ended: idle");
    let reason = EndReason::Idle;
    end_session(app, session, reason).await;
    // Encoded by hand: an `Ended` delivery would close with its reason's
    // own text.
    match protocol::encode(&ToVisitor::Ended { reason }) {
        Ok(bytes) => {
            conn.send(Delivery::Encoded(Bytes::from(bytes)));
        }
        Err(err) => tracing::error!(%session, "could not encode the visitor's end: {err}"),
    }
    let why = format!(
        "The session ended after {minutes} minute{} without activity.",
        if minutes == 1 { "" } else { "s" }
    );
    conn.finish(stream, Delivery::Close { reason: why }).await;
}

/// How the session's connection ended.
enum Ending {
    /// The visitor ended it, left, misbehaved, or the relay is stopping.
    Closed(EndReason, Option<RelayError>),
    /// Nobody did anything for `idle_timeout`.
    Idle,
    /// A newer connection of the visitor took the session over.
    Superseded,
}

/// What one visitor frame led to.
enum Flow {
    Continue,
    End,
}

/// The session's life after the welcome; returns why it ended, and the error
/// to send the visitor if it was the visitor's fault.
async fn run_session<S, B, St>(
    app: &App<S, B>,
    conn: &mut Conn,
    stream: &mut St,
    shutdown: &mut Shutdown,
    (session, grant, activity, tenure): (&SessionId, &Grant, &Activity, &Tenure),
    (mut admitted, returning): (Vec<AgentId>, &Returning),
) -> Ending
where
    S: SessionStore,
    B: Bus,
    St: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let closed = |reason, error| Ending::Closed(reason, error);
    // A page sends a few dozen messages a second; a flood past the ceiling
    // closes this connection only (its session ends), never slowing others.
    // A page that continues its session first resends, at once, what the
    // relay lacks: up to its outbox, which is bounded like the replay buffer.
    let per_second = app.config.limits.visitor_messages_per_second;
    let head_start = u32::try_from(app.config.limits.replay_frames).unwrap_or(u32::MAX);
    let mut budget = Budget::with_head_start(per_second, head_start);
    // One long-lived wait, not a timer per frame.
    let idle = idle::idle(activity, app.config.limits.idle_timeout);
    tokio::pin!(idle);
    let mut told_to_move = false;
    let draining = shutdown.draining();
    tokio::pin!(draining);
    loop {
        tokio::select! {
            // After a drain the session waits for the visitor on another
            // relay; without one (memory backend) it ends with the relay.
            () = shutdown.wait() => {
                let reason = if shutdown.is_draining() {
                    EndReason::VisitorDisconnected
                } else {
                    EndReason::RelayShutdown
                };
                return closed(reason, None);
            }
            // Events keep flowing here until the visitor has moved.
            () = &mut draining, if !told_to_move => {
                told_to_move = true;
                let within_ms = app.config.drain.within_ms();
                conn.send(Delivery::Visitor(ToVisitor::Reconnect { within_ms }));
                app.metrics.scale.reconnect_sent(Role::Visitor);
            }
            _ = conn.writer_finished() => return closed(EndReason::VisitorDisconnected, None),
            () = &mut idle => return Ending::Idle,
            () = tenure.ended() => return Ending::Superseded,
            // Between two of the visitor's frames, so a returning agent
            // gets what it missed before anything newer.
            () = returning.arrived() => {
                if let Err(err) = rejoin::welcome_back(app, conn, session, returning, &mut admitted).await {
                    tracing::error!(%session, "could not take an agent back: {err}");
                }
            }
            inbound = next_frame(stream, Role::Visitor, app.config.limits.max_frame_bytes, app.idle_limit(), &app.metrics) => {
                let bytes = match inbound {
                    Ok(Inbound::Frame(bytes)) => bytes,
                    Ok(Inbound::Closed) => return closed(EndReason::VisitorDisconnected, None),
                    Err(err) => return closed(EndReason::Error, Some(err)),
                };
                if tenure.is_over() {
                    // Nothing the old page says counts once it was taken over.
                    return Ending::Superseded;
                }
                if !budget.take() {
                    tracing::warn!(%session, limit = per_second, "visitor flooding the relay: closing its connection");
                    let err = RelayError::TooManyMessages { limit: per_second };
                    return closed(EndReason::Error, Some(err));
                }
                activity.touch();
                match handle(app, conn, session, grant, &mut admitted, &bytes).await {
                    Ok(Flow::Continue) => {}
                    Ok(Flow::End) => return closed(EndReason::VisitorEnded, None),
                    Err(err) => return closed(EndReason::Error, Some(err)),
                }
            }
        }
    }
}

async fn handle<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    conn: &Conn,
    session: &SessionId,
    grant: &Grant,
    admitted: &mut Vec<AgentId>,
    bytes: &[u8],
) -> Result<Flow, RelayError> {
    let received_us = now_us();
    match protocol::decode::<VisitorMsg>(bytes)? {
        VisitorMsg::Event(frame) => {
            let (seq, snapshot) = (frame.seq, frame.snapshot);
            // Encoded once; the buffer and every agent's queue share these
            // bytes.
            let encoded = Bytes::from(protocol::encode(&ToAgent::Event(frame))?);
            // Forwarded before it is buffered: if this relay dies between
            // the two, agents elsewhere have the frame and the page resends
            // it (it is after the buffer's newest); their connections write
            // each seq once. The other order would leave them a gap.
            let event = Delivery::Frame(
                seq,
                Stamped {
                    bytes: encoded.clone(),
                    received_us,
                    crossed: false,
                },
            );
            let mut still_here = Vec::with_capacity(admitted.len());
            for &agent in admitted.iter() {
                let topic = Topic::Agent(session.clone(), agent);
                if app.bus.publish(&topic, event.clone()).await? > 0 {
                    still_here.push(agent);
                }
            }
            if !admitted.is_empty() {
                app.metrics.forwarded(still_here.len() as u64);
            }
            // Nobody admitted is normal around consent and after agents
            // leave: the page is never forwarded to anyone the visitor has
            // not admitted, only kept for a replay.
            *admitted = still_here;
            let entry = Entry::new(seq, snapshot, &encoded);
            app.store
                .replay()
                .append(session, entry, app.config.limits.replay_bounds())
                .await?;
        }
        VisitorMsg::Consent { agent, accepted } => {
            let outcome = app.store.consent(session, agent, accepted).await?;
            let topic = Topic::Agent(session.clone(), agent);
            match outcome {
                ConsentOutcome::Admitted(mode) => {
                    let reached = app
                        .bus
                        .publish(
                            &topic,
                            Delivery::Agent(ToAgent::Admitted {
                                resources: grant.path(),
                            }),
                        )
                        .await?;
                    if reached > 0 {
                        // Right after Admitted, on the same topic from the
                        // same publisher: the agent's relay learns that it
                        // is admitted before it learns its mode.
                        app.bus
                            .publish(&topic, Delivery::Agent(ToAgent::Mode(mode)))
                            .await?;
                        admitted.push(agent);
                        conn.send(Delivery::Visitor(ToVisitor::SnapshotNeeded));
                        // Its way back if its connection breaks.
                        if let Err(err) = rejoin::grant(app, session, agent).await {
                            tracing::error!(%session, agent = agent.0, "could not give the agent a rejoin token: {err}");
                        }
                    }
                    tracing::info!(%session, agent = agent.0, ?mode, "agent admitted");
                }
                ConsentOutcome::Declined => {
                    admitted.retain(|a| *a != agent);
                    let ended = Delivery::Agent(ToAgent::Ended {
                        reason: EndReason::VisitorDeclined,
                    });
                    app.bus.publish(&topic, ended).await?;
                    tracing::info!(%session, agent = agent.0, "agent declined");
                }
                ConsentOutcome::AlreadyAdmitted | ConsentOutcome::AgentGone => {
                    tracing::debug!(%session, agent = agent.0, ?outcome, "consent changed nothing");
                }
            }
        }
        VisitorMsg::End => return Ok(Flow::End),
        VisitorMsg::SetMode { agent, mode } => {
            let change = app.store.set_mode(session, agent, mode).await?;
            app.metrics.mode_change(change);
            match change {
                ModeChange::Changed => {
                    let topic = Topic::Agent(session.clone(), agent);
                    app.bus
                        .publish(&topic, Delivery::Agent(ToAgent::Mode(mode)))
                        .await?;
                    tracing::info!(%session, agent = agent.0, ?mode, "visitor set agent's mode");
                }
                ModeChange::Unchanged => {}
                // Refused, but the session goes on: a grant racing the
                // agent's leaving is normal, and nothing changed.
                ModeChange::NotAdmitted | ModeChange::Gone => tracing::warn!(
                    %session,
                    agent = agent.0,
                    ?mode,
                    result = change.label(),
                    "mode change refused: only an admitted agent has a mode"
                ),
            }
        }
        VisitorMsg::Offer(offers) => {
            let count = offers.len();
            let wanted = app
                .resources
                .offer(app.store.resources(), session, offers)
                .await?;
            tracing::debug!(
                %session,
                offered = count,
                wanted = wanted.hashes.len(),
                more = wanted.more.len(),
                "resources offered"
            );
            conn.send(Delivery::Visitor(ToVisitor::Want {
                hashes: wanted.hashes,
                more: wanted.more,
            }));
        }
    }
    Ok(Flow::Continue)
}
