//! An agent's connection: authenticate, join by code, wait for consent,
//! receive the page's events, ask for a fresh snapshot, point, ask for a
//! mode, control the page (in shared mode), leave.
//!
//! Owns: the agent's side of the session flow, and passing its pointing,
//! control and mode requests on to the visitor. Does not own: socket
//! mechanics (`connection.rs`), token checks (`auth.rs`), session records
//! (`SessionStore`), delivery (`Bus`) or what may pass (`gate.rs`). Events
//! reach this agent's socket straight from the bus through its mailbox;
//! this task only reads what the agent sends and handles the agent's own
//! coming and going.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{Stream, StreamExt};
use protocol::{
    AgentId, AgentMsg, Control, EndReason, FromAgent, Hello, Mode, SessionId, ToAgent, ToVisitor,
};

use crate::auth::AgentSubject;
use crate::bus::{Bus, Delivery, Topic};
use crate::connection::{next_frame, Conn, Inbound, WriterEnd};
use crate::gate::{Budget, DropReason, Standing};
use crate::invitations::{self, BeforeJoin};
use crate::liveness;
use crate::metrics::{AgentKind, Role};
use crate::resources::store::ResourceStore;
use crate::scale_metrics::Limited;
use crate::server::{read_hello, App};
use crate::sessions::{AgentState, ModeChange, SessionStore};
use crate::shutdown::Shutdown;
use crate::RelayError;

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
                claim: Claim { held: None },
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
    let claim = match Claim::take(&app, &identity.subject).await {
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
        tracing::info!(%session, agent = agent.0, "agent moved off this draining relay");
    } else if broke {
        // The socket closed or failed without `Leave`: the console may
        // come back with its rejoin token.
        crate::rejoin::hold_place(
            Arc::clone(app),
            (session.clone(), agent),
            generation,
            shutdown.clone(),
        );
    } else {
        leave(app, &session, agent).await;
    }
    // Before the agent hears the end, so it may join another session at once.
    claim.release(app).await;
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
/// until it is out of the session again.
struct Claim {
    /// `None` for the dev token: everyone holding it shares one identity,
    /// so each connection counts as its own agent there (the demo and tests
    /// run several dev agents at once).
    held: Option<(String, String)>,
}

impl Claim {
    async fn take<S: SessionStore, B: Bus>(
        app: &App<S, B>,
        subject: &AgentSubject,
    ) -> Result<Claim, RelayError> {
        let AgentSubject::Signed(who) = subject else {
            return Ok(Claim { held: None });
        };
        let holder = format!("{:032x}", rand::random::<u128>());
        if !app.store.claim_agent(who, &holder).await? {
            tracing::info!(subject = %who, "agent refused: already in a session");
            return Err(RelayError::AgentBusy);
        }
        Ok(Claim {
            held: Some((who.clone(), holder)),
        })
    }

    /// A failure is logged: the Redis key then expires on its own.
    async fn release<S: SessionStore, B: Bus>(self, app: &App<S, B>) {
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

/// The agent's life in the session; returns the last delivery to send (if
/// any) and the error if the agent misbehaved.
async fn run_agent<S, B, St>(
    app: &App<S, B>,
    conn: &mut Conn,
    stream: &mut St,
    shutdown: &mut Shutdown,
    (session, agent): (&SessionId, AgentId),
    gate: &mut Gate,
    broke: &mut bool,
) -> (Option<Delivery>, Option<RelayError>)
where
    S: SessionStore,
    B: Bus,
    St: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let ended = |reason| Some(Delivery::Agent(ToAgent::Ended { reason }));
    let mut told_to_move = false;
    let draining = shutdown.draining();
    tokio::pin!(draining);
    let mut liveness = tokio::time::interval(liveness::CHECK_EVERY);
    liveness.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    liveness.reset(); // the first tick would otherwise fire at once
    loop {
        tokio::select! {
            () = shutdown.wait() => {
                if shutdown.is_draining() {
                    // The session goes on elsewhere: a close, not an end.
                    let reason = "The relay is restarting: rejoin to continue.".to_owned();
                    return (Some(Delivery::Close { reason }), None);
                }
                return (ended(EndReason::RelayShutdown), None);
            }
            () = &mut draining, if !told_to_move => {
                told_to_move = true;
                let within_ms = app.config.drain.within_ms();
                conn.send(Delivery::Agent(ToAgent::Reconnect { within_ms }));
                app.metrics.scale.reconnect_sent(Role::Agent);
            }
            _ = liveness.tick() => {
                if let Some(reason) = liveness::check(app, session).await {
                    return (ended(reason), None);
                }
            }
            // The bus delivered an ending (visitor ended or declined), the
            // queue overflowed, or the socket failed: nothing more to say.
            end = conn.writer_finished() => {
                // A socket that failed under us broke; one the relay ended
                // (the session's end, a queue overflow) did not.
                *broke = matches!(end, WriterEnd::Gone);
                return (None, None);
            }
            inbound = next_frame(stream, Role::Agent, app.config.limits.max_frame_bytes, app.idle_limit(), &app.metrics) => {
                let bytes = match inbound {
                    Ok(Inbound::Frame(bytes)) => bytes,
                    Ok(Inbound::Closed) => {
                        *broke = true;
                        return (None, None);
                    }
                    Err(err) => return (None, Some(err)),
                };
                let msg = match protocol::decode::<AgentMsg>(&bytes) {
                    Ok(msg) => msg,
                    Err(err) => return (None, Some(err.into())),
                };
                match msg {
                    AgentMsg::Leave => return (ended(EndReason::AgentLeft), None),
                    AgentMsg::Resync => match app.store.agent_state(session, agent).await {
                        Ok(Some(AgentState::Admitted)) => {
                            app.metrics.scale.resync();
                            let topic = Topic::Visitor(session.clone());
                            let snapshot = Delivery::Visitor(ToVisitor::SnapshotNeeded);
                            if let Err(err) = app.bus.publish(&topic, snapshot).await {
                                return (None, Some(err));
                            }
                        }
                        Ok(Some(AgentState::Pending)) => {
                            let err = RelayError::OutOfTurn(
                                "resync before the visitor admitted this agent".into(),
                            );
                            return (None, Some(err));
                        }
                        // The session is ending; its goodbye is on the way.
                        Ok(None) => {}
                        Err(err) => return (None, Some(err)),
                    },
                    AgentMsg::Point(point) => {
                        if gate.pass(app, session, agent, AgentKind::Point) {
                            let msg = FromAgent::Point(point);
                            if let Err(err) = to_visitor(app, session, agent, msg).await {
                                return (None, Some(err));
                            }
                        }
                    }
                    AgentMsg::Control(control) => {
                        if let Err(err) = control_page(app, session, agent, gate, control).await {
                            return (None, Some(err));
                        }
                    }
                    AgentMsg::RequestMode(mode) => {
                        if let Err(err) = request_mode(app, session, agent, gate, mode).await {
                            return (None, Some(err));
                        }
                    }
                }
            }
        }
    }
}

/// This connection's part in deciding what reaches the visitor.
struct Gate {
    standing: Arc<Standing>,
    /// Pointing has a budget of its own, so a flood of it cannot starve
    /// control.
    points: Budget,
    /// Control and mode requests.
    acts: Budget,
    /// Drops this connection logged at warn; later ones go to debug (the
    /// metric counts them all), so a runaway console cannot flood the log.
    warned: u32,
}

/// Warn lines per connection about its dropped messages.
const DROP_WARNINGS: u32 = 5;

impl Gate {
    fn new(standing: Arc<Standing>, per_second: u32) -> Gate {
        Gate {
            standing,
            points: Budget::new(per_second),
            acts: Budget::new(per_second),
            warned: 0,
        }
    }

    /// Whether a message of `kind` may go on by the agent's standing and
    /// budget (not its mode: see [`control_page`]); counts what it drops.
    fn pass<S, B>(
        &mut self,
        app: &App<S, B>,
        session: &SessionId,
        agent: AgentId,
        kind: AgentKind,
    ) -> bool {
        let refusal = if !self.standing.admitted() {
            Some(DropReason::NotAdmitted)
        } else {
            let budget = match kind {
                AgentKind::Point => &mut self.points,
                AgentKind::Control | AgentKind::ModeRequest => &mut self.acts,
            };
            (!budget.take()).then_some(DropReason::Rate)
        };
        match refusal {
            None => true,
            Some(reason) => {
                // Pointing before admission or too fast is harmless noise.
                let notable = kind != AgentKind::Point;
                self.dropped(app, session, agent, reason, (kind.label(), notable));
                false
            }
        }
    }

    fn dropped<S, B>(
        &mut self,
        app: &App<S, B>,
        session: &SessionId,
        agent: AgentId,
        reason: DropReason,
        (what, notable): (&str, bool),
    ) {
        app.metrics.agent_dropped(reason);
        if notable && self.warned < DROP_WARNINGS {
            self.warned += 1;
            let last = self.warned == DROP_WARNINGS;
            tracing::warn!(
                %session,
                agent = agent.0,
                message = what,
                reason = reason.label(),
                "agent message dropped{}",
                if last { " (this agent's further drops are logged at debug level)" } else { "" }
            );
        } else {
            tracing::debug!(%session, agent = agent.0, message = what, reason = reason.label(), "agent message dropped");
        }
    }
}

/// Passes `msg` on to the session's visitor.
async fn to_visitor<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    session: &SessionId,
    agent: AgentId,
    msg: FromAgent,
) -> Result<(), RelayError> {
    let kind = match &msg {
        FromAgent::Point(_) => AgentKind::Point,
        FromAgent::Control(_) => AgentKind::Control,
        FromAgent::ModeRequest(_) => AgentKind::ModeRequest,
    };
    let delivery = Delivery::Visitor(ToVisitor::FromAgent { agent, msg });
    // Nobody took it: the visitor is gone and the session's end is on its
    // way to this agent.
    if app
        .bus
        .publish(&Topic::Visitor(session.clone()), delivery)
        .await?
        > 0
    {
        app.metrics.agent_forwarded(kind);
    }
    Ok(())
}

/// Control goes on only while the agent is admitted and its mode is
/// Shared: first as this connection last heard it (no store round trip for
/// a console that keeps clicking in view-only mode), then as the store
/// records it (a withdrawal may be on its way here from another relay).
/// A dropped control does not end the connection: a console may send one
/// just before it hears that its mode changed.
async fn control_page<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    session: &SessionId,
    agent: AgentId,
    gate: &mut Gate,
    control: Control,
) -> Result<(), RelayError> {
    let what = control_kind(&control);
    if !gate.standing.admitted() {
        gate.dropped(app, session, agent, DropReason::NotAdmitted, (what, true));
        return Ok(());
    }
    if gate.standing.mode() != Mode::Shared {
        gate.dropped(app, session, agent, DropReason::Mode, (what, true));
        return Ok(());
    }
    // Before the store is asked, so a flood costs no round trips.
    if !gate.acts.take() {
        gate.dropped(app, session, agent, DropReason::Rate, (what, true));
        return Ok(());
    }
    if app.store.agent_mode(session, agent).await? != Some(Mode::Shared) {
        gate.dropped(app, session, agent, DropReason::Mode, (what, true));
        return Ok(());
    }
    to_visitor(app, session, agent, FromAgent::Control(control)).await
}

/// Shared mode is the visitor's to grant: the request goes to the visitor
/// and changes nothing here. View-only takes effect at once (recorded,
/// confirmed to the agent) and the visitor hears of it too.
async fn request_mode<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    session: &SessionId,
    agent: AgentId,
    gate: &mut Gate,
    mode: Mode,
) -> Result<(), RelayError> {
    if !gate.pass(app, session, agent, AgentKind::ModeRequest) {
        return Ok(());
    }
    if mode == Mode::ViewOnly {
        let change = app.store.set_mode(session, agent, mode).await?;
        app.metrics.mode_change(change);
        if change == ModeChange::Changed {
            tracing::info!(%session, agent = agent.0, "agent stepped down to view-only");
        }
        if matches!(change, ModeChange::Changed | ModeChange::Unchanged) {
            // Through the bus, not straight into our mailbox: the standing
            // then follows this and the visitor's grants in one order.
            let topic = Topic::Agent(session.clone(), agent);
            app.bus
                .publish(&topic, Delivery::Agent(ToAgent::Mode(mode)))
                .await?;
        }
    }
    to_visitor(app, session, agent, FromAgent::ModeRequest(mode)).await
}

/// A control's kind for the log; never its content (a typed value may be
/// anything the visitor would not want in a log).
fn control_kind(control: &Control) -> &'static str {
    match control {
        Control::Click { .. } => "control:click",
        Control::SetValue { .. } => "control:set_value",
        Control::SetChecked { .. } => "control:set_checked",
        Control::SelectOptions { .. } => "control:select_options",
        Control::Submit { .. } => "control:submit",
        Control::Navigate(_) => "control:navigate",
    }
}
