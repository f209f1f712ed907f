//! Draining a relay that shares its sessions through Redis: real
//! `cobrowse-relay` processes, stopped with SIGTERM. Peers are told to move,
//! the relay refuses newcomers and says so on `/healthz`, sessions survive
//! on the other relay, and the relay exits once its peers are gone (or at
//! once on a second signal).

use std::time::{Duration, Instant};

use protocol::{Hello, JoinCode, Mode, ToAgent, ToVisitor, VisitorHello, VisitorMsg};
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::flow::event;
use crate::processes::{self, metric, RelayProcess};
use crate::redis_server::RedisServer;
use crate::support::{join_hello, PAGE, TOKEN};

/// A drain of 10 s, and a resume window longer than any test step.
const CONFIG: &str = "resume_grace_secs = 60\n[drain]\ngrace_secs = 10\n";

#[tokio::test]
async fn sigterm_moves_every_peer_to_another_relay_and_loses_no_session() {
    let redis = RedisServer::start().await;
    let mut a = RelayProcess::start(&redis, "a", CONFIG).await;
    let b = RelayProcess::start(&redis, "b", CONFIG).await;

    // The visitor and one agent on A (the relay going away), a second agent
    // on B.
    let (mut visitor, mut code, resume) = processes::session(a.addr).await;
    let (mut agent_a, id_a, _) = processes::admitted_agent(a.addr, &mut visitor, &mut code).await;
    let (mut agent_b, id_b, _) = processes::admitted_agent(b.addr, &mut visitor, &mut code).await;
    visitor.send(&VisitorMsg::Event(event(1))).await;
    assert_eq!(agent_a.recv::<ToAgent>().await, ToAgent::Event(event(1)));
    assert_eq!(agent_b.recv::<ToAgent>().await, ToAgent::Event(event(1)));

    a.signal("-TERM").await;
    // Both of A's peers are told to move, within the drain's window.
    let ToVisitor::Reconnect { within_ms } = visitor.recv::<ToVisitor>().await else {
        panic!("the visitor was not told to reconnect");
    };
    assert!((1..=10_000).contains(&within_ms), "{within_ms}");
    assert!(matches!(
        agent_a.recv::<ToAgent>().await,
        ToAgent::Reconnect { .. }
    ));
    // A load balancer stops sending, and whoever still comes is refused.
    let (status, body) = processes::get(a.addr, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("shutting down"), "{body}");
    match processes::socket(a.addr, "/ws/visitor").await {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), 503);
            assert_eq!(
                response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()),
                Some("1")
            );
        }
        Err(other) => panic!("refused for the wrong reason: {other}"),
        Ok(_) => panic!("a draining relay accepted a new visitor"),
    }
    assert_eq!(metric(a.addr, "relay_draining").await, 1);
    assert_eq!(
        metric(a.addr, "reconnects_sent_total{role=\"visitor\"}").await,
        1
    );
    assert_eq!(
        metric(a.addr, "reconnects_sent_total{role=\"agent\"}").await,
        1
    );
    assert_eq!(metric(a.addr, "peers_connected{role=\"agent\"}").await, 1);
    // With Redis every event goes through it, also to an agent on the
    // visitor's own relay.
    assert!(metric(a.addr, "fanout_latency_seconds_count{path=\"redis\"}").await >= 1);
    assert!(metric(b.addr, "fanout_latency_seconds_count{path=\"redis\"}").await >= 1);
    // Until the visitor moves, its events still reach both agents.
    visitor.send(&VisitorMsg::Event(event(2))).await;
    assert_eq!(agent_a.recv::<ToAgent>().await, ToAgent::Event(event(2)));
    assert_eq!(agent_b.recv::<ToAgent>().await, ToAgent::Event(event(2)));

    // The visitor resumes on B: the same session, both agents still in it.
    let mut moved = processes::visitor(b.addr, Some(resume)).await;
    assert!(matches!(
        moved.recv::<ToVisitor>().await,
        ToVisitor::Welcome { .. }
    ));
    let ToVisitor::Resumed { agents, .. } = moved.recv::<ToVisitor>().await else {
        panic!("not resumed");
    };
    let mut ids: Vec<_> = agents.iter().map(|w| w.agent).collect();
    ids.sort();
    assert_eq!(ids, vec![id_a, id_b], "no agent lost its place");
    // Its old connection on A is closed as taken over (the session is not
    // ended: the newer connection holds it).
    let farewell = visitor.expect_visitor_error().await;
    assert!(farewell.message.contains("continued"), "{farewell:?}");
    drop(visitor);
    // The agent on A moves too (its console rejoins elsewhere): A is empty
    // and exits well before its grace.
    let started = Instant::now();
    drop(agent_a);
    let status = a.exits_within(Duration::from_secs(8)).await;
    assert!(status.success(), "{status:?}\n{}", a.log());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "exit took {:?}",
        started.elapsed()
    );
    assert!(a.log().contains("drained: every peer moved"), "{}", a.log());

    // The session goes on through B.
    moved.send(&VisitorMsg::Event(event(3))).await;
    assert_eq!(agent_b.recv::<ToAgent>().await, ToAgent::Event(event(3)));
    assert_eq!(metric(b.addr, "sessions_resumed_total").await, 1);
}

#[tokio::test]
async fn a_second_sigterm_stops_at_once_and_the_session_still_resumes_elsewhere() {
    let redis = RedisServer::start().await;
    let mut a = RelayProcess::start(&redis, "a", CONFIG).await;
    let b = RelayProcess::start(&redis, "b", CONFIG).await;
    let (mut visitor, mut code, resume) = processes::session(a.addr).await;
    let (mut agent, _, _) = processes::admitted_agent(b.addr, &mut visitor, &mut code).await;

    a.signal("-TERM").await;
    assert!(matches!(
        visitor.recv::<ToVisitor>().await,
        ToVisitor::Reconnect { .. }
    ));
    // The visitor does not move; the operator is in a hurry.
    let started = Instant::now();
    a.signal("-TERM").await;
    let status = a.exits_within(Duration::from_secs(5)).await;
    assert!(status.success(), "{status:?}\n{}", a.log());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The session was left waiting, not ended: the agent hears the visitor
    // is away, and the visitor's next page resumes on B.
    assert!(matches!(
        agent.recv::<ToAgent>().await,
        ToAgent::VisitorAway { .. }
    ));
    let mut moved = processes::visitor(b.addr, Some(resume)).await;
    assert!(matches!(
        moved.recv::<ToVisitor>().await,
        ToVisitor::Welcome { .. }
    ));
    assert!(matches!(
        moved.recv::<ToVisitor>().await,
        ToVisitor::Resumed { .. }
    ));
    moved.send(&VisitorMsg::Event(event(1))).await;
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Event(event(1)));
}

#[tokio::test]
async fn an_agent_learns_its_session_vanished_when_the_visitors_relay_was_killed() {
    let redis = RedisServer::start().await;
    // Session keys live 3 s past their relay's last renewal.
    let config = "resume_grace_secs = 2\n[redis]\nsession_ttl_secs = 3\n";
    let a = RelayProcess::start(&redis, "a", config).await;
    let b = RelayProcess::start(&redis, "b", config).await;
    let (mut visitor, mut code, _resume) = processes::session(a.addr).await;
    let (mut agent, _, _) = processes::admitted_agent(b.addr, &mut visitor, &mut code).await;

    // Nobody is left to announce anything; the visitor never comes back.
    a.signal("-KILL").await;
    drop(visitor);
    let started = Instant::now();
    let told = tokio::time::timeout(Duration::from_secs(15), agent.recv::<ToAgent>())
        .await
        .expect("the agent's relay noticed within the key TTL and its check interval");
    assert_eq!(
        told,
        ToAgent::Ended {
            reason: protocol::EndReason::VisitorDisconnected
        }
    );
    // Not before the keys could have expired (the check does not guess).
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(agent.expect_close().await.0, 1000);
    drop(b);
}

#[tokio::test]
async fn an_inviting_agent_is_sent_on_and_keeps_waiting_on_another_relay() {
    let redis = RedisServer::start().await;
    let mut a = RelayProcess::start(&redis, "a", CONFIG).await;
    let b = RelayProcess::start(&redis, "b", CONFIG).await;
    let auth = format!("Bearer {TOKEN}");
    let created = crate::support::http_request(
        a.addr,
        "POST",
        "/api/invitations",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        b"",
    )
    .await;
    assert_eq!(
        created.status,
        201,
        "{:?}",
        String::from_utf8_lossy(&created.body)
    );
    let created: serde_json::Value = serde_json::from_slice(&created.body).expect("JSON");
    let code = JoinCode::parse(created["code"].as_str().expect("code")).expect("6 digits");
    let invitation = created["invitation"].as_str().expect("secret").to_owned();
    let hello = join_hello(TOKEN, &code, Mode::ViewOnly);

    let mut inviter = processes::socket(a.addr, "/ws/agent")
        .await
        .expect("upgrade");
    inviter.hello(hello.clone()).await;
    assert!(matches!(
        inviter.recv::<ToAgent>().await,
        ToAgent::Invited { .. }
    ));
    a.signal("-TERM").await;
    assert!(matches!(
        inviter.recv::<ToAgent>().await,
        ToAgent::Reconnect { .. }
    ));
    drop(inviter);
    let status = a.exits_within(Duration::from_secs(8)).await;
    assert!(status.success(), "{status:?}");

    // On B it waits for the same invitation, and the visitor's page wakes it.
    let mut inviter = processes::socket(b.addr, "/ws/agent")
        .await
        .expect("upgrade");
    inviter.hello(hello).await;
    assert!(matches!(
        inviter.recv::<ToAgent>().await,
        ToAgent::Invited { .. }
    ));
    let mut visitor = processes::socket(b.addr, "/ws/visitor")
        .await
        .expect("upgrade");
    visitor
        .hello(Hello::Visitor(VisitorHello {
            page_url: PAGE.into(),
            resources: protocol::ResourcePolicy::default(),
            resume: None,
            invitation: Some(invitation),
        }))
        .await;
    assert!(matches!(
        visitor.recv::<ToVisitor>().await,
        ToVisitor::Welcome { .. }
    ));
    assert!(matches!(
        inviter.recv::<ToAgent>().await,
        ToAgent::Joined { .. }
    ));
}
