//! An agent's connection: authenticate, join by code, wait for consent,
//! receive the page's events, ask for a fresh snapshot, leave.
//!
//! Owns: the agent's side of the session flow. Does not own: socket
//! mechanics (`connection.rs`), token checks (`auth.rs`), session records
//! (`SessionStore`) or delivery (`Bus`). Events reach this agent's socket
//! straight from the bus through its mailbox; this task only reads what the
//! agent sends and handles the agent's own coming and going.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{Stream, StreamExt};
use protocol::{AgentId, AgentMsg, EndReason, Hello, SessionId, ToAgent, ToVisitor};

use crate::bus::{Bus, Delivery, Topic};
use crate::connection::{next_frame, Conn, Inbound};
use crate::metrics::Role;
use crate::resources::store::ResourceStore;
use crate::server::{read_hello, App};
use crate::sessions::{AgentState, SessionStore};
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
    let Hello::Agent(hello) = hello else {
        let err = RelayError::WrongRole { expected: "agent" };
        return conn.fail(&mut stream, err).await;
    };
    let identity = match app.config.auth.verify(&hello.token) {
        Ok(identity) => identity,
        Err(err) => return conn.fail(&mut stream, err).await,
    };
    // Only authenticated agents get to try a code, and only while neither
    // their address nor their identity has used up its wrong codes.
    if let Err(err) = app.guesses.check(peer.ip(), &identity.subject) {
        return conn.fail(&mut stream, err).await;
    }
    let limits = &app.config.limits;
    let joined = match app
        .store
        .join(
            &hello.code,
            hello.mode,
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
            return conn.fail(&mut stream, err).await;
        }
    };
    let (session, agent) = (joined.session.clone(), joined.agent);
    let next_code = joined.next_code;
    conn.send(Delivery::Agent(ToAgent::Joined {
        session: joined.session,
        agent,
        page_url: joined.page_url,
    }));
    // Subscribed before the visitor hears of us, so its answer cannot miss us.
    let subscription = match app
        .bus
        .subscribe(Topic::Agent(session.clone(), agent), conn.mailbox())
        .await
    {
        Ok(sub) => sub,
        Err(err) => {
            leave(&app, &session, agent).await;
            return conn.fail(&mut stream, err).await;
        }
    };
    let _gauge = app.metrics.agent_joined();
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
        let welcome = Delivery::Visitor(ToVisitor::Welcome {
            session: session.clone(),
            code,
            upload_token,
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
        mode: hello.mode,
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
        let ended = Delivery::Agent(ToAgent::Ended {
            reason: EndReason::VisitorDisconnected,
        });
        return conn.finish(&mut stream, ended).await;
    }
    tracing::info!(%session, agent = agent.0, subject = %identity.subject, %peer, mode = ?hello.mode, "agent joined");

    let (last, error) =
        run_agent(&app, &mut conn, &mut stream, &mut shutdown, &session, agent).await;

    drop(subscription);
    leave(&app, &session, agent).await;
    tracing::info!(%session, agent = agent.0, "agent left");
    match (error, last) {
        (Some(err), _) => conn.fail(&mut stream, err).await,
        (None, Some(last)) => conn.finish(&mut stream, last).await,
        (None, None) => {
            let close = Delivery::Close {
                reason: String::new(),
            };
            conn.finish(&mut stream, close).await;
        }
    }
}

/// Takes the agent out of the session, and tells the visitor if it was
/// still there (not if the visitor ended the session or declined it).
async fn leave<S: SessionStore, B: Bus>(app: &App<S, B>, session: &SessionId, agent: AgentId) {
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
    session: &SessionId,
    agent: AgentId,
) -> (Option<Delivery>, Option<RelayError>)
where
    S: SessionStore,
    B: Bus,
    St: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let ended = |reason| Some(Delivery::Agent(ToAgent::Ended { reason }));
    loop {
        tokio::select! {
            () = shutdown.wait() => return (ended(EndReason::RelayShutdown), None),
            // The bus delivered an ending (visitor ended or declined), the
            // queue overflowed, or the socket failed: nothing more to say.
            _ = conn.writer_finished() => return (None, None),
            inbound = next_frame(stream, Role::Agent, app.config.limits.max_frame_bytes, app.idle_limit(), &app.metrics) => {
                let bytes = match inbound {
                    Ok(Inbound::Frame(bytes)) => bytes,
                    Ok(Inbound::Closed) => return (None, None),
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
                    AgentMsg::Point(_) | AgentMsg::Control(_) | AgentMsg::RequestMode(_) => {
                        // Two-way co-browsing is not forwarded yet.
                        tracing::debug!(%session, agent = agent.0, "agent pointing or control ignored");
                    }
                }
            }
        }
    }
}
