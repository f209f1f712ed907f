//! A visitor's connection: create the session, relay consent answers and
//! mode grants, fan the page's events out to admitted agents, end the
//! session.
//!
//! Owns: the visitor's side of the session flow from the hello to the
//! close, and ending a session (removing it, telling its agents). Does not
//! own: socket mechanics (`connection.rs`), the session records
//! (`SessionStore`) or delivery (`Bus`).
//!
//! A visitor's hello either opens a session or (with a resume token)
//! continues one whose visitor left without ending it (`open.rs`). The live
//! session, the page's frames and the agents' answers, is `live.rs`.
//! However the connection ends, the session ends with it and every agent
//! still in it is told why, exactly once, in [`serve`] — unless the socket
//! merely closed and resuming is on: then the session waits for the
//! visitor's next page (`resume.rs`), or a newer connection of the visitor
//! took the session over: then this one just closes (`takeover.rs`).

mod live;
mod open;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket};
use futures_util::{Stream, StreamExt};
use protocol::{AgentId, EndReason, Hello, SessionId, ToAgent, ToVisitor};

use crate::bus::{Bus, Delivery, Topic};
use crate::connection::Conn;
use crate::idle::Activity;
use crate::metrics::Role;
use crate::origins::{self, OriginKey};
use crate::rejoin::Returning;
use crate::replay::ReplayStore;
use crate::resources::store::ResourceStore;
use crate::resume;
use crate::scale_metrics::Limited;
use crate::server::{read_hello, App};
use crate::sessions::{Attachment, SessionStore};
use crate::shutdown::Shutdown;
use crate::takeover::{self, Tenure};
use crate::RelayError;

use live::{run_session, Ending};
use open::{continue_session, open_invited, open_session, Open};

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
