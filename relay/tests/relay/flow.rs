//! The session flow of CONTRACT.md / common.md, step by step, on every
//! backend: one relay in memory, one on Redis, and two relays sharing a Redis
//! with the visitor on one and its agents on the other.

use std::time::Duration;

use protocol::{AgentMsg, EndReason, EventFrame, Mode, Seq, ToAgent, ToVisitor, VisitorMsg};

use crate::support::{Relay, Setup, TOKEN};

on_every_backend!(
    happy_path_from_welcome_to_end,
    decline_sends_the_agent_away_and_end_closes_the_session,
    visitor_disconnect_ends_the_session_for_agents,
    events_before_consent_are_not_forwarded,
    waiting_agent_sees_nothing_while_an_admitted_one_does,
    agent_leave_and_resync_reach_the_visitor,
    agent_socket_closing_is_reported_as_left,
    shutdown_tells_every_peer,
);

/// Payloads whose bytes differ per event, including ones that are not valid
/// MessagePack: the relay must forward them untouched.
pub fn event(seq: u64) -> EventFrame {
    let len = (seq as usize * 37) % 300 + 1;
    EventFrame {
        seq: Seq(seq),
        snapshot: seq == 1,
        payload: (0..len).map(|i| (i as u64 * 31 + seq) as u8).collect(),
    }
}

async fn happy_path_from_welcome_to_end(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, _session, mut code) = relay.start_session().await;
    assert_eq!(code.as_str().len(), 6);
    assert!(code.as_str().bytes().all(|b| b.is_ascii_digit()));

    // First agent: joins, is announced with its name and mode, is admitted.
    let mut first = relay.agent_hello(TOKEN, &code, Mode::Shared).await;
    let id = match first.recv::<ToAgent>().await {
        ToAgent::Joined {
            agent, page_url, ..
        } => {
            assert_eq!(page_url, crate::support::PAGE);
            agent
        }
        other => panic!("expected Joined, got {other:?}"),
    };
    assert_eq!(id.0, 1);
    // The code is spent; the visitor is given a fresh one for the next agent.
    code = crate::support::expect_fresh_code(&mut visitor, &code).await;
    assert_eq!(
        visitor.recv::<ToVisitor>().await,
        ToVisitor::AgentJoined {
            agent: id,
            name: "Agent 1".into(),
            mode: Mode::Shared
        }
    );
    visitor
        .send(&VisitorMsg::Consent {
            agent: id,
            accepted: true,
        })
        .await;
    assert!(matches!(
        first.recv::<ToAgent>().await,
        ToAgent::Admitted { .. }
    ));
    // Accepting an agent that asked for shared mode is consent to it.
    assert_eq!(first.recv::<ToAgent>().await, ToAgent::Mode(Mode::Shared));
    crate::support::expect_rejoin_token(&mut first).await;
    assert_eq!(visitor.recv::<ToVisitor>().await, ToVisitor::SnapshotNeeded);

    // Events arrive in order, byte-exact.
    for seq in 1..=40 {
        visitor.send(&VisitorMsg::Event(event(seq))).await;
    }
    for seq in 1..=40 {
        assert_eq!(first.recv::<ToAgent>().await, ToAgent::Event(event(seq)));
    }

    // A second agent, with the fresh code.
    let (mut second, second_id) = relay.admitted_agent(&mut visitor, &mut code).await;
    assert_eq!(second_id.0, 2);
    for seq in 41..=60 {
        visitor.send(&VisitorMsg::Event(event(seq))).await;
    }
    for seq in 41..=60 {
        assert_eq!(first.recv::<ToAgent>().await, ToAgent::Event(event(seq)));
        assert_eq!(second.recv::<ToAgent>().await, ToAgent::Event(event(seq)));
    }

    visitor.send(&VisitorMsg::End).await;
    for agent in [&mut first, &mut second] {
        assert_eq!(
            agent.recv::<ToAgent>().await,
            ToAgent::Ended {
                reason: EndReason::VisitorEnded
            }
        );
        let (code, reason) = agent.expect_close().await;
        assert_eq!(code, 1000);
        assert_eq!(reason, EndReason::VisitorEnded.describe());
    }
    assert_eq!(visitor.expect_close().await.0, 1000);

    // The code died with the session.
    let mut late = relay.agent_hello(TOKEN, &code, Mode::ViewOnly).await;
    assert_eq!(
        late.expect_agent_error().await.code,
        protocol::ErrorCode::UnknownCode
    );
}

async fn decline_sends_the_agent_away_and_end_closes_the_session(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut agent, id) = relay.join(&mut visitor, &mut code).await;
    visitor
        .send(&VisitorMsg::Consent {
            agent: id,
            accepted: false,
        })
        .await;
    visitor.send(&VisitorMsg::End).await;
    assert_eq!(
        agent.recv::<ToAgent>().await,
        ToAgent::Ended {
            reason: EndReason::VisitorDeclined
        }
    );
    assert_eq!(agent.expect_close().await.0, 1000);
    assert_eq!(visitor.expect_close().await.0, 1000);
}

/// With resuming off (a grace of 0) the session ends as soon as the
/// visitor's socket closes; `resume.rs` covers the grace window.
async fn visitor_disconnect_ends_the_session_for_agents(setup: Setup) {
    let relay = Relay::on_with(setup, |c| c.limits.resume_grace = Duration::ZERO).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut admitted, _) = relay.admitted_agent(&mut visitor, &mut code).await;
    let (mut waiting, _) = relay.join(&mut visitor, &mut code).await;
    drop(visitor);
    for agent in [&mut admitted, &mut waiting] {
        assert_eq!(
            agent.recv::<ToAgent>().await,
            ToAgent::Ended {
                reason: EndReason::VisitorDisconnected
            }
        );
        assert_eq!(agent.expect_close().await.0, 1000);
    }
}

async fn events_before_consent_are_not_forwarded(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut agent, id) = relay.join(&mut visitor, &mut code).await;
    visitor.send(&VisitorMsg::Event(event(1))).await;
    agent.expect_silence(Duration::from_millis(300)).await;
    visitor
        .send(&VisitorMsg::Consent {
            agent: id,
            accepted: true,
        })
        .await;
    assert!(matches!(
        agent.recv::<ToAgent>().await,
        ToAgent::Admitted { .. }
    ));
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Mode(Mode::ViewOnly));
    crate::support::expect_rejoin_token(&mut agent).await;
    visitor.send(&VisitorMsg::Event(event(2))).await;
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Event(event(2)));
}

async fn waiting_agent_sees_nothing_while_an_admitted_one_does(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut admitted, _) = relay.admitted_agent(&mut visitor, &mut code).await;
    let (mut waiting, _) = relay.join(&mut visitor, &mut code).await;
    visitor.send(&VisitorMsg::Event(event(1))).await;
    assert_eq!(admitted.recv::<ToAgent>().await, ToAgent::Event(event(1)));
    waiting.expect_silence(Duration::from_millis(300)).await;
}

async fn agent_leave_and_resync_reach_the_visitor(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut agent, id) = relay.admitted_agent(&mut visitor, &mut code).await;
    agent.send(&AgentMsg::Resync).await;
    assert_eq!(visitor.recv::<ToVisitor>().await, ToVisitor::SnapshotNeeded);
    agent.send(&AgentMsg::Leave).await;
    assert_eq!(
        agent.recv::<ToAgent>().await,
        ToAgent::Ended {
            reason: EndReason::AgentLeft
        }
    );
    assert_eq!(
        visitor.recv::<ToVisitor>().await,
        ToVisitor::AgentLeft { agent: id }
    );
    // The session goes on: a new agent gets the next id.
    let (_again, next) = relay.admitted_agent(&mut visitor, &mut code).await;
    assert_eq!(next.0, id.0 + 1);
}

async fn agent_socket_closing_is_reported_as_left(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (agent, id) = relay.join(&mut visitor, &mut code).await;
    drop(agent);
    assert_eq!(
        visitor.recv::<ToVisitor>().await,
        ToVisitor::AgentLeft { agent: id }
    );
}

/// Without a drain (the memory backend, or `[drain] grace_secs = 0` on
/// Redis) a stopping relay ends its sessions; `drain.rs` tests the drain.
async fn shutdown_tells_every_peer(setup: Setup) {
    let relay = Relay::on_with(setup, |c| c.drain.grace = Duration::ZERO).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut agent, _) = relay.admitted_agent(&mut visitor, &mut code).await;
    let stopped = tokio::spawn(relay.stop());
    // The agent may be told first and leave first; the visitor may hear that.
    let mut told = visitor.recv::<ToVisitor>().await;
    if let ToVisitor::AgentLeft { .. } = told {
        told = visitor.recv::<ToVisitor>().await;
    }
    assert_eq!(
        told,
        ToVisitor::Ended {
            reason: EndReason::RelayShutdown
        }
    );
    assert_eq!(
        agent.recv::<ToAgent>().await,
        ToAgent::Ended {
            reason: EndReason::RelayShutdown
        }
    );
    assert_eq!(visitor.expect_close().await.0, 1000);
    assert_eq!(agent.expect_close().await.0, 1000);
    stopped.await.expect("joined").expect("run returned Ok");
}
