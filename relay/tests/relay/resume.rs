//! Sessions that survive the visitor's navigation: the visitor's socket
//! closing without `End` keeps the session for the grace window (agents are
//! told the visitor is away), a resume with the session's token continues
//! it (same session, same agents and modes, events flowing on), and
//! everything else — a wrong, ended or expired token, a second page while
//! the first is connected, resuming turned off — is refused without ever
//! creating a session. With two relays the resume lands on the other one.

use std::time::Duration;

use protocol::{
    AgentId, AgentMsg, EndReason, ErrorCode, FromAgent, Mode, NodeId, Point, PointerKind,
    PointerPos, ToAgent, ToVisitor, VisitorMsg, WatchingAgent,
};

use crate::flow::event;
use crate::support::{admit_in, Peer, Relay, Setup, Welcome, TOKEN};

on_every_backend!(
    a_resume_within_the_window_continues_the_session,
    without_a_resume_the_session_ends_after_the_window,
    end_still_ends_at_once_and_its_token_is_dead,
);

const ONE_SECOND: Duration = Duration::from_secs(1);

fn point(n: u32) -> Point {
    Point::Pointer {
        pos: PointerPos {
            target: Some(NodeId(n)),
            fx: 0.5,
            fy: 0.5,
            x: n as f32,
            y: 1.0,
        },
        kind: PointerKind::Move,
    }
}

/// A session with an admitted agent in `mode`, and the visitor's Welcome
/// with the session's current code (the first one admitted the agent).
async fn watched(relay: &Relay, mode: Mode) -> (Peer, Welcome, Peer, AgentId) {
    let (mut visitor, mut welcome) = relay.welcomed().await;
    let mut code = welcome.code.clone();
    let socket = relay.socket("/ws/agent").await;
    let (agent, id) = relay
        .join_asking(&mut visitor, &mut code, socket, TOKEN, mode)
        .await;
    let (agent, id) = admit_in(&mut visitor, agent, id, mode).await;
    welcome.code = code;
    (visitor, welcome, agent, id)
}

async fn expect_away(agent: &mut Peer, grace_secs: u32) {
    assert_eq!(
        agent.recv::<ToAgent>().await,
        ToAgent::VisitorAway { grace_secs }
    );
}

async fn expect_ended(agent: &mut Peer, reason: EndReason) {
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Ended { reason });
    assert_eq!(agent.expect_close().await.0, 1000);
}

/// A refused resume: NotAllowed with `message`, then the close.
async fn expect_refused(visitor: &mut Peer, message: &str) {
    let frame = visitor.expect_visitor_error().await;
    assert_eq!(frame.code, ErrorCode::NotAllowed, "{frame:?}");
    assert!(
        frame.message.to_lowercase().starts_with(message),
        "{frame:?}"
    );
}

const ENDED: &str = "the session to resume has ended";
const ELSEWHERE: &str = "the session to resume is open in another tab";

async fn a_resume_within_the_window_continues_the_session(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, welcome, mut agent, id) = watched(&relay, Mode::Shared).await;
    assert_eq!(welcome.resume_secs, 30);
    assert!(welcome.resume_token.len() >= 22, "≥ 128 bits");
    // The visitor grants nothing new but steps the agent down: the resumed
    // session must list the mode as it is now.
    visitor
        .send(&VisitorMsg::SetMode {
            agent: id,
            mode: Mode::ViewOnly,
        })
        .await;
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Mode(Mode::ViewOnly));
    // A second agent still waiting for consent when the page goes.
    let mut code = welcome.code.clone();
    let (mut waiting, _) = relay.join(&mut visitor, &mut code).await;
    for seq in 1..=2 {
        visitor.send(&VisitorMsg::Event(event(seq))).await;
        assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Event(event(seq)));
    }

    drop(visitor);
    expect_away(&mut agent, 30).await;
    expect_ended(&mut waiting, EndReason::VisitorDisconnected).await;

    let mut next = relay
        .visitor_at(relay.addr, Some(welcome.resume_token.clone()))
        .await;
    let again = Welcome::expect(&mut next).await;
    assert_eq!(again.session, welcome.session);
    assert_eq!(again.upload_token, welcome.upload_token);
    assert_eq!(again.resume_token, welcome.resume_token);
    assert_eq!(again.resume_secs, 30);
    assert_eq!(again.code, code, "the session's current code");
    assert_eq!(
        next.recv::<ToVisitor>().await,
        ToVisitor::Resumed {
            agents: vec![WatchingAgent {
                agent: id,
                name: format!("Agent {}", id.0),
                mode: Mode::ViewOnly,
            }]
        }
    );
    // The new page numbers on from the old one's last event.
    for seq in 3..=5 {
        next.send(&VisitorMsg::Event(event(seq))).await;
    }
    for seq in 3..=5 {
        assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Event(event(seq)));
    }
    // And the agent reaches the new page.
    agent.send(&AgentMsg::Point(point(7))).await;
    assert_eq!(
        next.recv::<ToVisitor>().await,
        ToVisitor::FromAgent {
            agent: id,
            msg: FromAgent::Point(point(7))
        }
    );
    // The agent's code still works and the fresh code's Welcome carries
    // the same resume token (whichever relay sends it).
    let mut joining = relay.agent_hello(TOKEN, &code, Mode::ViewOnly).await;
    assert!(matches!(
        joining.recv::<ToAgent>().await,
        ToAgent::Joined { .. }
    ));
    let fresh = Welcome::expect(&mut next).await;
    assert_eq!(fresh.resume_token, welcome.resume_token);
    assert_eq!(fresh.resume_secs, 30);
    relay.wait_for_metric("sessions_resumed_total 1").await;
    relay.wait_for_metric("sessions_created_total 1").await;

    // An explicit End on the new page ends it for good.
    next.send(&VisitorMsg::End).await;
    expect_ended(&mut agent, EndReason::VisitorEnded).await;
}

async fn without_a_resume_the_session_ends_after_the_window(setup: Setup) {
    let relay = Relay::on_with(setup, |c| c.limits.resume_grace = ONE_SECOND).await;
    let (visitor, welcome, mut agent, _) = watched(&relay, Mode::ViewOnly).await;
    let left = tokio::time::Instant::now();
    drop(visitor);
    expect_away(&mut agent, 1).await;
    relay.wait_for_metric("sessions_waiting 1").await;
    expect_ended(&mut agent, EndReason::VisitorDisconnected).await;
    let waited = left.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "ended early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(4), "ended late: {waited:?}");
    relay.wait_for_metric("sessions_waiting 0").await;
    relay
        .wait_for_metric("sessions_ended_total{reason=\"visitor_disconnected\"} 1")
        .await;
    // Its token is dead now.
    let mut late = relay
        .visitor_at(relay.addr, Some(welcome.resume_token))
        .await;
    expect_refused(&mut late, ENDED).await;
    relay
        .wait_for_metric("resume_refused_total{reason=\"unknown\"} 1")
        .await;
}

async fn end_still_ends_at_once_and_its_token_is_dead(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, welcome, mut agent, _) = watched(&relay, Mode::ViewOnly).await;
    visitor.send(&VisitorMsg::End).await;
    expect_ended(&mut agent, EndReason::VisitorEnded).await;
    let mut next = relay
        .visitor_at(relay.addr, Some(welcome.resume_token))
        .await;
    expect_refused(&mut next, ENDED).await;
    relay.wait_for_metric("sessions_created_total 1").await;
}

/// A token of the right form for the session, with another secret.
fn forged(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let last = chars.len() - 2;
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn wrong_tokens_and_a_second_tab_are_refused_and_create_nothing() {
    let relay = Relay::start().await;
    let (visitor, welcome, mut agent, _) = watched(&relay, Mode::ViewOnly).await;
    // While the first page is connected, even the right token is refused
    // (after a short wait for that page's close, which never comes).
    let mut second = relay
        .visitor_at(relay.addr, Some(welcome.resume_token.clone()))
        .await;
    expect_refused(&mut second, ELSEWHERE).await;
    for token in [
        forged(&welcome.resume_token),
        "not a token".to_owned(),
        String::new(),
    ] {
        let mut bad = relay.visitor_at(relay.addr, Some(token)).await;
        expect_refused(&mut bad, ENDED).await;
    }
    drop(visitor);
    expect_away(&mut agent, 30).await;
    let mut bad = relay
        .visitor_at(relay.addr, Some(forged(&welcome.resume_token)))
        .await;
    expect_refused(&mut bad, ENDED).await;
    let text = relay.metrics().await;
    for line in [
        "sessions_created_total 1",
        "sessions_resumed_total 0",
        "resume_refused_total{reason=\"connected\"} 1",
        "resume_refused_total{reason=\"unknown\"} 4",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in {text}");
    }
    // The real token still works: the refusals did not end the session.
    let mut next = relay
        .visitor_at(relay.addr, Some(welcome.resume_token))
        .await;
    assert_eq!(Welcome::expect(&mut next).await.session, welcome.session);
    assert!(matches!(
        next.recv::<ToVisitor>().await,
        ToVisitor::Resumed { .. }
    ));
}

#[tokio::test]
async fn a_page_that_closes_just_after_the_next_connects_is_resumed() {
    let relay = Relay::start().await;
    let (mut visitor, welcome, mut agent, _) = watched(&relay, Mode::ViewOnly).await;
    // The next page's hello arrives before the old page's close.
    let mut next = relay
        .visitor_at(relay.addr, Some(welcome.resume_token.clone()))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    visitor.ws.close(None).await.expect("close");
    assert_eq!(Welcome::expect(&mut next).await.session, welcome.session);
    assert!(matches!(
        next.recv::<ToVisitor>().await,
        ToVisitor::Resumed { .. }
    ));
    expect_away(&mut agent, 30).await;
}

#[tokio::test]
async fn failed_resumes_are_limited_per_address() {
    let relay = Relay::with(|c| c.limits.resume_failures_per_minute = 2).await;
    let (visitor, welcome, mut agent, _) = watched(&relay, Mode::ViewOnly).await;
    drop(visitor);
    expect_away(&mut agent, 30).await;
    for _ in 0..2 {
        let mut bad = relay
            .visitor_at(relay.addr, Some(forged(&welcome.resume_token)))
            .await;
        expect_refused(&mut bad, ENDED).await;
    }
    // Even the right token waits out the minute now.
    let mut next = relay
        .visitor_at(relay.addr, Some(welcome.resume_token))
        .await;
    let frame = next.expect_visitor_error().await;
    assert_eq!(frame.code, ErrorCode::RateLimited, "{frame:?}");
    relay
        .wait_for_metric("resume_refused_total{reason=\"rate_limited\"} 1")
        .await;
}

#[tokio::test]
async fn with_a_grace_of_zero_nothing_is_kept() {
    let relay = Relay::with(|c| c.limits.resume_grace = Duration::ZERO).await;
    let (visitor, welcome, mut agent, _) = watched(&relay, Mode::ViewOnly).await;
    assert_eq!(welcome.resume_secs, 0);
    drop(visitor);
    expect_ended(&mut agent, EndReason::VisitorDisconnected).await;
    let mut next = relay
        .visitor_at(relay.addr, Some(welcome.resume_token))
        .await;
    expect_refused(&mut next, ENDED).await;
    relay.wait_for_metric("sessions_created_total 1").await;
}

/// The visitor leaves relay A (where its agent is) and comes back on relay
/// B: the agent on A keeps receiving, A's watcher lets the session be, and
/// B watches the next window.
#[tokio::test]
async fn a_visitor_resumes_on_another_relay() {
    let relay = Relay::on_with(Setup::TwoRelays, |c| c.limits.resume_grace = ONE_SECOND).await;
    let (a, b) = (relay.addr, relay.agents().addr);
    let (mut visitor, welcome) = relay.welcomed().await;
    let mut code = welcome.code.clone();
    let socket = relay.agent_at(a).await;
    let (agent, id) = relay
        .join_asking(&mut visitor, &mut code, socket, TOKEN, Mode::Shared)
        .await;
    let (mut agent, id) = admit_in(&mut visitor, agent, id, Mode::Shared).await;
    visitor.send(&VisitorMsg::Event(event(1))).await;
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Event(event(1)));

    drop(visitor);
    expect_away(&mut agent, 1).await;
    let mut next = relay.visitor_at(b, Some(welcome.resume_token)).await;
    assert_eq!(Welcome::expect(&mut next).await.session, welcome.session);
    assert_eq!(
        next.recv::<ToVisitor>().await,
        ToVisitor::Resumed {
            agents: vec![WatchingAgent {
                agent: id,
                name: format!("Agent {}", id.0),
                mode: Mode::Shared,
            }]
        }
    );
    // Past the first window: relay A must not have ended the session.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    next.send(&VisitorMsg::Event(event(2))).await;
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Event(event(2)));
    agent.send(&AgentMsg::Point(point(3))).await;
    assert_eq!(
        next.recv::<ToVisitor>().await,
        ToVisitor::FromAgent {
            agent: id,
            msg: FromAgent::Point(point(3))
        }
    );

    // Leaving B without a resume: B's watcher ends it for the agent on A.
    drop(next);
    expect_away(&mut agent, 1).await;
    expect_ended(&mut agent, EndReason::VisitorDisconnected).await;
}

/// In Redis the session's keys outlive the visitor's socket for the window
/// (the watching relay renews them; nothing expires under a resume), and
/// nothing is left once the window passed.
#[tokio::test]
async fn redis_keys_live_through_the_window_and_go_with_the_session() {
    let redis = crate::redis_server::RedisServer::start().await;
    let relay = Relay::with_redis(&redis, |c| {
        c.limits.resume_grace = Duration::from_secs(2);
    })
    .await;
    let (visitor, welcome, mut agent, _) = watched(&relay, Mode::ViewOnly).await;
    drop(visitor);
    expect_away(&mut agent, 2).await;
    let keys = redis.keys().await;
    let away = format!("cobrowse:session:{}:away", welcome.session);
    assert!(keys.contains(&away), "{keys:?}");
    assert!(
        !keys.iter().any(|k| k.contains(&welcome.resume_token)),
        "the token is never a key name: {keys:?}"
    );
    expect_ended(&mut agent, EndReason::VisitorDisconnected).await;
    redis.wait_for_no_keys_but_blobs().await;
}
