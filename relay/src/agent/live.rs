//! An agent's connection while it is in its session: what it sends, the
//! drain's move-elsewhere notice, the liveness check of its session.
//!
//! Owns: the agent's live loop and what each of its messages leads to.
//! Does not own: joining or leaving (`mod.rs`) or whether and how a
//! message goes on to the visitor (`forward.rs`).

use axum::extract::ws::Message;
use futures_util::Stream;
use protocol::{AgentId, AgentMsg, EndReason, FromAgent, SessionId, ToAgent, ToVisitor};

use super::forward::{control_page, request_mode, to_visitor, Gate};
use crate::bus::{Bus, Delivery, Topic};
use crate::connection::{next_frame, Conn, Inbound, WriterEnd};
use crate::liveness;
use crate::metrics::{AgentKind, Role};
use crate::server::App;
use crate::sessions::{AgentState, SessionStore};
use crate::shutdown::Shutdown;
use crate::RelayError;

/// The agent's life in the session; returns the last delivery to send (if
/// any) and the error if the agent misbehaved.
pub(super) async fn run_agent<S, B, St>(
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
