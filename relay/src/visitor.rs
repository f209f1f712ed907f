//! A visitor's connection: create the session, relay consent answers and
//! mode grants, fan the page's events out to admitted agents, end the
//! session.
//!
//! Owns: the visitor's side of the session flow and the list of agents this
//! visitor admitted. Does not own: socket mechanics (`connection.rs`), the
//! session records (`SessionStore`) or delivery (`Bus`).
//!
//! Whatever way the connection ends, the session ends with it and every agent
//! still in it is told why, exactly once, in [`serve`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket};
use futures_util::{Stream, StreamExt};
use protocol::{AgentId, EndReason, Hello, SessionId, ToAgent, ToVisitor, VisitorMsg};

use crate::bus::{Bus, Delivery, Topic};
use crate::connection::{next_frame, Conn, Inbound};
use crate::metrics::Role;
use crate::resources::store::{Grant, ResourceStore};
use crate::server::{read_hello, App};
use crate::sessions::{ConsentOutcome, ModeChange, SessionStore};
use crate::shutdown::Shutdown;
use crate::RelayError;

pub async fn serve<S: SessionStore, B: Bus>(
    app: Arc<App<S, B>>,
    socket: WebSocket,
    peer: SocketAddr,
    mut shutdown: Shutdown,
) {
    let (sink, mut stream) = socket.split();
    let mut conn = app.start_conn(sink, Role::Visitor, peer);

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
    if hello.resume.is_some() {
        let err = RelayError::OutOfTurn("this relay cannot resume sessions yet".into());
        return conn.fail(&mut stream, err).await;
    }
    let created = match app
        .store
        .create(hello.page_url, app.config.limits.code_ttl)
        .await
    {
        Ok(created) => created,
        Err(err) => return conn.fail(&mut stream, err).await,
    };
    let session = created.session.clone();
    let grant = match app
        .resources
        .open(app.store.resources(), &session, hello.resources)
        .await
    {
        Ok(grant) => grant,
        Err(err) => {
            end_session(&app, &session, EndReason::Error).await;
            return conn.fail(&mut stream, err).await;
        }
    };
    let subscription = match app
        .bus
        .subscribe(Topic::Visitor(session.clone()), conn.mailbox())
        .await
    {
        Ok(sub) => sub,
        Err(err) => {
            end_session(&app, &session, EndReason::Error).await;
            return conn.fail(&mut stream, err).await;
        }
    };
    conn.send(Delivery::Visitor(ToVisitor::Welcome {
        session: created.session,
        code: created.code,
        upload_token: grant.token.0.clone(),
        // Resuming is not built yet: no token, no grace.
        resume_token: String::new(),
        resume_secs: 0,
    }));
    let _gauge = app.metrics.session_started();
    tracing::info!(%session, %peer, "visitor session started");

    let (reason, error) = run_session(
        &app,
        &mut conn,
        &mut stream,
        &mut shutdown,
        &session,
        &grant,
    )
    .await;

    // Stop hearing about agents before telling them: nothing new can arrive
    // for a session that is going away.
    drop(subscription);
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

/// Removes the session (and what it knew of its resources) and tells each
/// agent still in it.
async fn end_session<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    session: &SessionId,
    reason: EndReason,
) {
    if let Err(err) = app.store.resources().close(session).await {
        tracing::error!(%session, "could not forget the session's resources: {err}");
    }
    let agents = match app.store.end(session).await {
        Ok(agents) => agents,
        Err(err) => {
            tracing::error!(%session, "could not end session: {err}");
            return;
        }
    };
    for agent in agents {
        let topic = Topic::Agent(session.clone(), agent);
        let ended = Delivery::Agent(ToAgent::Ended { reason });
        if let Err(err) = app.bus.publish(&topic, ended).await {
            tracing::error!(%session, agent = agent.0, "could not tell agent: {err}");
        }
    }
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
    session: &SessionId,
    grant: &Grant,
) -> (EndReason, Option<RelayError>)
where
    S: SessionStore,
    B: Bus,
    St: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let mut admitted: Vec<AgentId> = Vec::new();
    loop {
        tokio::select! {
            () = shutdown.wait() => return (EndReason::RelayShutdown, None),
            _ = conn.writer_finished() => return (EndReason::VisitorDisconnected, None),
            inbound = next_frame(stream, Role::Visitor, app.config.limits.max_frame_bytes, app.idle_limit(), &app.metrics) => {
                let bytes = match inbound {
                    Ok(Inbound::Frame(bytes)) => bytes,
                    Ok(Inbound::Closed) => return (EndReason::VisitorDisconnected, None),
                    Err(err) => return (EndReason::Error, Some(err)),
                };
                match handle(app, conn, session, grant, &mut admitted, &bytes).await {
                    Ok(Flow::Continue) => {}
                    Ok(Flow::End) => return (EndReason::VisitorEnded, None),
                    Err(err) => return (EndReason::Error, Some(err)),
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
    match protocol::decode::<VisitorMsg>(bytes)? {
        VisitorMsg::Event(frame) => {
            if admitted.is_empty() {
                // Normal around consent and after agents leave: the page is
                // never forwarded to anyone the visitor has not admitted.
                tracing::trace!(%session, seq = frame.seq.0, "event with no admitted agent dropped");
                return Ok(Flow::Continue);
            }
            // Encoded once; every agent's queue shares these bytes.
            let encoded = Bytes::from(protocol::encode(&ToAgent::Event(frame))?);
            let mut still_here = Vec::with_capacity(admitted.len());
            for &agent in admitted.iter() {
                let topic = Topic::Agent(session.clone(), agent);
                if app
                    .bus
                    .publish(&topic, Delivery::Encoded(encoded.clone()))
                    .await?
                    > 0
                {
                    still_here.push(agent);
                }
            }
            app.metrics.forwarded(still_here.len() as u64);
            *admitted = still_here;
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
