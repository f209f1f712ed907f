//! A visitor's session after the welcome: the page's frames fanned out to
//! admitted agents (and into the replay buffer), consent answers, mode
//! grants, the idle clock, the drain and takeover signals.
//!
//! Owns: the visitor's live loop and what each of its messages leads to.
//! Does not own: opening the session (`open.rs`) or ending it, and telling
//! its agents (`mod.rs`).

use axum::body::Bytes;
use axum::extract::ws::Message;
use futures_util::Stream;
use protocol::{AgentId, EndReason, SessionId, ToAgent, ToVisitor, VisitorMsg};

use crate::bus::{Bus, Delivery, Stamped, Topic};
use crate::connection::{next_frame, Conn, Inbound};
use crate::gate::Budget;
use crate::idle::{self, Activity};
use crate::metrics::Role;
use crate::rejoin::{self, Returning};
use crate::replay::{Entry, ReplayStore};
use crate::resources::store::Grant;
use crate::scale_metrics::now_us;
use crate::server::App;
use crate::sessions::{ConsentOutcome, ModeChange, SessionStore};
use crate::shutdown::Shutdown;
use crate::takeover::Tenure;
use crate::RelayError;

/// How the session's connection ended.
pub(super) enum Ending {
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
pub(super) async fn run_session<S, B, St>(
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
