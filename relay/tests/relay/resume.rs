//! Sessions that survive the visitor's navigation: the visitor's socket
//! closing without `End` keeps the session for the grace window (agents are
//! told the visitor is away), a resume with the session's token continues
//! it (same session, same agents and modes, events flowing on), a resume
//! while an older connection of the visitor is still attached takes the
//! session over (the newer page wins; the old socket is told and closed,
//! the agents notice nothing), and everything else — a wrong, ended or
//! expired token, resuming turned off — is refused without ever creating a
//! session. With two relays the resume lands on the other one.

use std::time::Duration;

use protocol::{
    AgentId, AgentMsg, EndReason, ErrorCode, FromAgent, Mode, NodeId, Point, PointerKind,
    PointerPos, ToAgent, ToVisitor, VisitorMsg, WatchingAgent,
};

use relay::sessions::{Attachment, Expiry, Leaving, Resumption, SessionStore};

use crate::flow::event;
use crate::support::{admit_in, Peer, Relay, Setup, Welcome, TOKEN};

on_every_backend!(
    a_resume_within_the_window_continues_the_session,
    without_a_resume_the_session_ends_after_the_window,
    end_still_ends_at_once_and_its_token_is_dead,
    a_resume_takes_over_from_a_socket_left_open,
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
const TAKEN_OVER: &str = "This session continued in another page.";

/// The older socket of a session taken over: the error frame with the
/// sentence, then the close.
async fn expect_taken_over(old: &mut Peer) {
    let frame = old.expect_visitor_error().await;
    assert_eq!(frame.code, ErrorCode::NotAllowed, "{frame:?}");
    assert_eq!(frame.message, TAKEN_OVER);
}

/// The page resumed: its Welcome for `welcome`'s session, then Resumed.
async fn expect_resumed(next: &mut Peer, welcome: &Welcome) -> Vec<WatchingAgent> {
    let again = Welcome::expect(next).await;
    assert_eq!(again.session, welcome.session);
    assert_eq!(again.resume_token, welcome.resume_token);
    match next.recv::<ToVisitor>().await {
        ToVisitor::Resumed { agents, .. } => agents,
        other => panic!("expected Resumed, got {other:?}"),
    }
}

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
            }],
            masking: protocol::MaskRules::default(),
            // The newest event the relay holds: the old page's last.
            last_seq: Some(protocol::Seq(2)),
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

/// After a network drop the relay may still hold the page's old socket
/// (half-open: it notices only at the ping timeout). The page's resume
/// must not wait for that: it takes the session over, on either relay.
async fn a_resume_takes_over_from_a_socket_left_open(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut old, welcome, mut agent, id) = watched(&relay, Mode::Shared).await;
    old.send(&VisitorMsg::Event(event(1))).await;
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Event(event(1)));

    // The old socket stays open; the page resumes (on the other relay when
    // there are two).
    let other = relay.agents();
    let mut next = other
        .visitor_at(other.addr, Some(welcome.resume_token.clone()))
        .await;
    let agents = expect_resumed(&mut next, &welcome).await;
    assert_eq!(
        agents,
        vec![WatchingAgent {
            agent: id,
            name: format!("Agent {}", id.0),
            mode: Mode::Shared,
        }]
    );
    expect_taken_over(&mut old).await;
    drop(old);
    // The old connection's end is not the session's: the agent hears
    // nothing of it (no VisitorAway, no Ended), only the new page.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for seq in 2..=3 {
        next.send(&VisitorMsg::Event(event(seq))).await;
    }
    for seq in 2..=3 {
        assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Event(event(seq)));
    }
    agent.send(&AgentMsg::Point(point(4))).await;
    assert_eq!(
        next.recv::<ToVisitor>().await,
        ToVisitor::FromAgent {
            agent: id,
            msg: FromAgent::Point(point(4))
        }
    );
    other.wait_for_metric("sessions_taken_over_total 1").await;
    other.wait_for_metric("sessions_resumed_total 1").await;
    for relay in [&relay, other] {
        let text = relay.metrics().await;
        assert!(
            text.lines().any(|l| l == "sessions_waiting 0"),
            "nobody waits: {text}"
        );
        assert!(
            text.lines()
                .any(|l| l == "sessions_ended_total{reason=\"visitor_disconnected\"} 0"),
            "{text}"
        );
    }
    relay.wait_for_metric("sessions_created_total 1").await;

    // And the session ends as usual from the new page.
    next.send(&VisitorMsg::End).await;
    expect_ended(&mut agent, EndReason::VisitorEnded).await;
}

#[tokio::test]
async fn wrong_tokens_are_refused_and_a_second_page_takes_over() {
    let relay = Relay::start().await;
    let (mut first, welcome, mut agent, _) = watched(&relay, Mode::ViewOnly).await;
    // While the first page is connected, the right token takes over: the
    // newer page wins, the first is told and closed, the session goes on.
    let mut second = relay
        .visitor_at(relay.addr, Some(welcome.resume_token.clone()))
        .await;
    expect_resumed(&mut second, &welcome).await;
    expect_taken_over(&mut first).await;
    // And once more: the second page is the older one now.
    let mut third = relay
        .visitor_at(relay.addr, Some(welcome.resume_token.clone()))
        .await;
    expect_resumed(&mut third, &welcome).await;
    expect_taken_over(&mut second).await;
    third.send(&VisitorMsg::Event(event(1))).await;
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Event(event(1)));
    for token in [
        forged(&welcome.resume_token),
        "not a token".to_owned(),
        String::new(),
    ] {
        let mut bad = relay.visitor_at(relay.addr, Some(token)).await;
        expect_refused(&mut bad, ENDED).await;
    }
    drop(third);
    expect_away(&mut agent, 30).await;
    let mut bad = relay
        .visitor_at(relay.addr, Some(forged(&welcome.resume_token)))
        .await;
    expect_refused(&mut bad, ENDED).await;
    let text = relay.metrics().await;
    for line in [
        "sessions_created_total 1",
        "sessions_resumed_total 2",
        "sessions_taken_over_total 2",
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
    // The next page's hello arrives before the old page's close: it takes
    // over at once, and the old page's close changes nothing.
    let mut next = relay
        .visitor_at(relay.addr, Some(welcome.resume_token.clone()))
        .await;
    expect_resumed(&mut next, &welcome).await;
    visitor.ws.close(None).await.expect("close");
    tokio::time::sleep(Duration::from_millis(200)).await;
    next.send(&VisitorMsg::Event(event(1))).await;
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Event(event(1)));
    relay.wait_for_metric("sessions_waiting 0").await;
}

/// The old socket closing on its own after the takeover (before or after
/// it heard of it) leaves the session to the new page: no grace window
/// starts, and the new page leaving still starts one.
#[tokio::test]
async fn the_taken_over_socket_closing_does_not_start_a_grace_window() {
    let relay = Relay::with(|c| c.limits.resume_grace = ONE_SECOND).await;
    let (old, welcome, mut agent, _) = watched(&relay, Mode::ViewOnly).await;
    let mut next = relay
        .visitor_at(relay.addr, Some(welcome.resume_token.clone()))
        .await;
    expect_resumed(&mut next, &welcome).await;
    drop(old);
    // Past the window the old socket would have opened.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    next.send(&VisitorMsg::Event(event(1))).await;
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Event(event(1)));
    drop(next);
    expect_away(&mut agent, 1).await;
    expect_ended(&mut agent, EndReason::VisitorDisconnected).await;
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
            }],
            masking: protocol::MaskRules::default(),
            last_seq: Some(protocol::Seq(1)),
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

/// The store decides whose leaving counts, on both backends: a resume
/// while a connection is attached takes over with the next attachment,
/// and only the session's current connection can leave it.
async fn attachments_decide_whose_leaving_counts<S: SessionStore>(store: S) {
    let ttl = Duration::from_secs(60);
    let grace = Duration::from_secs(30);
    let created = store.create("u".into(), ttl).await.expect("created");
    let session = &created.session;
    let resumed = |answer: Resumption| match answer {
        Resumption::Resumed(r) => (r.attachment, r.took_over),
        other => panic!("expected a resume, got {other:?}"),
    };
    let token = &created.resume;
    let answer = store.resume(token, ttl).await.expect("resume");
    assert_eq!(resumed(answer), (Attachment(1), true));
    let first = store.visitor_away(session, grace, Attachment::FIRST).await;
    assert_eq!(first.expect("away"), Leaving::Superseded);
    let current = store.visitor_away(session, grace, Attachment(1)).await;
    assert!(matches!(current.expect("away"), Leaving::Away(_)));
    let answer = store.resume(token, ttl).await.expect("resume");
    assert_eq!(resumed(answer), (Attachment(2), false));
    let late = store.visitor_away(session, grace, Attachment(1)).await;
    assert_eq!(late.expect("away"), Leaving::Superseded);
    assert_eq!(store.expire(session).await.expect("expire"), Expiry::Back);
    store.end(session).await.expect("end");
    let gone = store.visitor_away(session, grace, Attachment(2)).await;
    assert_eq!(gone.expect("away"), Leaving::Gone);
}

#[tokio::test]
async fn attachments_decide_whose_leaving_counts_in_memory() {
    attachments_decide_whose_leaving_counts(relay::memory::MemoryStore::new()).await;
}

#[tokio::test]
async fn attachments_decide_whose_leaving_counts_in_redis() {
    let redis = crate::redis_server::RedisServer::start().await;
    let url = relay::RedisUrl::parse(&redis.url()).expect("url");
    let (store, _bus) = relay::redis_backend::connect(&url).await.expect("store");
    attachments_decide_whose_leaving_counts(store).await;
}
