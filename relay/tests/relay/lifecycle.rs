//! Session lifecycle: one session at a time per agent identity (on every
//! backend, and across two relays: the refused join goes to the other
//! relay than the first) — a place kept for a rejoin and the rejoined
//! connection included — and idle sessions ending.

use std::time::Duration;

use protocol::{
    AgentMsg, EndReason, ErrorCode, NodeId, Point, PointerKind, PointerPos, ToAgent, ToVisitor,
    VisitorMsg,
};
use relay::{token, AgentAuth, AgentSecret, Claims, Config};

use crate::flow::event;
use crate::support::{admit, admit_keeping_token, Peer, Relay, Setup, TOKEN, WAIT};

const SECRET: &str = "a-lifecycle-secret-of-at-least-32-bytes!";
const BUSY: &str = "You are already in a co-browsing session; leave it first.";

fn signed_and_dev(config: &mut Config) {
    config.auth = AgentAuth::signed(AgentSecret::new(SECRET).expect("secret"))
        .with_dev_token(TOKEN.into())
        .expect("dev token");
}

fn mint(sub: &str) -> String {
    let claims = Claims {
        sub: sub.into(),
        name: format!("Agent {sub}"),
        exp: token::unix_now() + 3600,
    };
    token::mint(&AgentSecret::new(SECRET).expect("secret"), &claims).expect("minted")
}

/// An agent socket on the visitors' relay: with two relays, the other one
/// than [`Relay::socket`] uses for agents.
async fn agent_on_visitors_relay(relay: &Relay) -> Peer {
    relay.agent_at(relay.addr).await
}

async fn refused_as_busy(mut agent: Peer) {
    let frame = agent.expect_agent_error().await;
    assert_eq!(frame.code, ErrorCode::NotAllowed);
    assert_eq!(frame.message, BUSY);
}

/// An agent's join hello with `token` for `code`, view-only.
fn ann_joins(token: &str, code: &protocol::JoinCode) -> protocol::Hello {
    protocol::Hello::Agent(protocol::AgentHello {
        token: token.into(),
        code: code.clone(),
        mode: protocol::Mode::ViewOnly,
    })
}

on_every_backend!(an_agent_is_in_one_session_at_a_time);

async fn an_agent_is_in_one_session_at_a_time(setup: Setup) {
    let relay = Relay::on_with(setup, signed_and_dev).await;
    let ann = mint("ann");
    let (mut visitor_a, _, mut code_a) = relay.start_session().await;
    let (mut visitor_b, _, mut code_b) = relay.start_session().await;

    let agent = relay.socket("/ws/agent").await;
    let (agent, id) = relay
        .join_with(&mut visitor_a, &mut code_a, agent, &ann)
        .await;
    let (mut in_a, _) = admit(&mut visitor_a, agent, id).await;

    // Ann again, for session B: refused, and B's code is not spent.
    let mut second = agent_on_visitors_relay(&relay).await;
    second.hello(ann_joins(&ann, &code_b)).await;
    refused_as_busy(second).await;
    visitor_b.expect_silence(Duration::from_millis(200)).await;

    // Session A goes on untouched.
    visitor_a.send(&VisitorMsg::Event(event(1))).await;
    assert_eq!(in_a.recv::<ToAgent>().await, ToAgent::Event(event(1)));

    // Another agent (and any dev-token agent) may join B meanwhile.
    let bob = relay.socket("/ws/agent").await;
    let (mut bob, _) = relay
        .join_with(&mut visitor_b, &mut code_b, bob, &mint("bob"))
        .await;

    // Ann leaves A: now she may join B, and then (waiting for consent
    // there) not A.
    in_a.send(&AgentMsg::Leave).await;
    assert_eq!(
        in_a.recv::<ToAgent>().await,
        ToAgent::Ended {
            reason: EndReason::AgentLeft
        }
    );
    assert!(matches!(
        visitor_a.recv::<ToVisitor>().await,
        ToVisitor::AgentLeft { .. }
    ));
    let again = agent_on_visitors_relay(&relay).await;
    let (_in_b, _) = relay
        .join_with(&mut visitor_b, &mut code_b, again, &ann)
        .await;
    let mut third = relay.socket("/ws/agent").await;
    third.hello(ann_joins(&ann, &code_a)).await;
    refused_as_busy(third).await;

    // The dev token is one identity per connection: two at once are fine.
    let dev1 = relay.socket("/ws/agent").await;
    let _dev1 = relay.join_as(&mut visitor_a, &mut code_a, dev1).await;
    let dev2 = agent_on_visitors_relay(&relay).await;
    let _dev2 = relay.join_as(&mut visitor_a, &mut code_a, dev2).await;

    // Bob's session ending frees him too.
    visitor_b.send(&VisitorMsg::End).await;
    assert_eq!(
        bob.recv::<ToAgent>().await,
        ToAgent::Ended {
            reason: EndReason::VisitorEnded
        }
    );
    let (mut visitor_c, _, mut code_c) = relay.start_session().await;
    let bob_again = agent_on_visitors_relay(&relay).await;
    let (bob_again, _) = relay
        .join_with(&mut visitor_c, &mut code_c, bob_again, &mint("bob"))
        .await;

    // In Redis, a claim is a key while its agent is in a session, and
    // gone once it is not.
    if let Some(redis) = &relay.redis {
        let claims = || async {
            let mut keys: Vec<String> = redis
                .keys()
                .await
                .into_iter()
                .filter(|k| k.starts_with("cobrowse:agent:"))
                .collect();
            keys.sort();
            keys
        };
        // (B's end freed Ann too.)
        assert_eq!(claims().await, ["cobrowse:agent:bob"]);
        drop(bob_again);
        let deadline = tokio::time::Instant::now() + WAIT;
        while !claims().await.is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "claims left behind");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn idle_after_a_second(config: &mut Config) {
    config.limits.idle_timeout = Duration::from_secs(1);
}

async fn expect_idle_end(visitor: &mut Peer, agent: &mut Peer) {
    assert_eq!(
        agent.recv::<ToAgent>().await,
        ToAgent::Ended {
            reason: EndReason::Idle
        }
    );
    assert!(matches!(
        visitor.recv::<ToVisitor>().await,
        ToVisitor::Ended {
            reason: EndReason::Idle
        }
    ));
    let (code, reason) = visitor.expect_close().await;
    assert_eq!(code, 1000);
    assert!(reason.contains("without activity"), "{reason}");
}

fn point() -> Point {
    Point::Pointer {
        pos: PointerPos {
            target: Some(NodeId(1)),
            fx: 0.5,
            fy: 0.5,
            x: 1.0,
            y: 1.0,
        },
        kind: PointerKind::Move,
    }
}

on_every_backend!(idle_sessions_end_and_busy_ones_do_not);

async fn idle_sessions_end_and_busy_ones_do_not(setup: Setup) {
    let relay = Relay::on_with(setup, idle_after_a_second).await;
    let (mut quiet_v, _, mut code) = relay.start_session().await;
    let (quiet_a, id) = relay.join(&mut quiet_v, &mut code).await;
    let (mut quiet_a, _) = admit(&mut quiet_v, quiet_a, id).await;

    // A visitor that keeps sending, and a silent visitor whose agent keeps
    // pointing: both count as activity.
    let (mut busy_v, _, mut code) = relay.start_session().await;
    let (busy_a, id) = relay.join(&mut busy_v, &mut code).await;
    let (mut busy_a, _) = admit(&mut busy_v, busy_a, id).await;
    let (mut watched_v, _, mut code) = relay.start_session().await;
    let (pointer, id) = relay.join(&mut watched_v, &mut code).await;
    let (mut pointer, _) = admit(&mut watched_v, pointer, id).await;

    let started = tokio::time::Instant::now();
    let mut seq = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        seq += 1;
        busy_v.send(&VisitorMsg::Event(event(seq))).await;
        assert_eq!(busy_a.recv::<ToAgent>().await, ToAgent::Event(event(seq)));
        pointer.send(&AgentMsg::Point(point())).await;
        assert!(matches!(
            watched_v.recv::<ToVisitor>().await,
            ToVisitor::FromAgent { .. }
        ));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The quiet one ended meanwhile, on both sides.
    expect_idle_end(&mut quiet_v, &mut quiet_a).await;
    // The busy ones once they fall quiet.
    expect_idle_end(&mut busy_v, &mut busy_a).await;
    expect_idle_end(&mut watched_v, &mut pointer).await;
    assert!(started.elapsed() < Duration::from_millis(5000));
}

#[tokio::test]
async fn idle_timeout_zero_never_ends_a_session() {
    let relay = Relay::with(|c| c.limits.idle_timeout = Duration::ZERO).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (agent, id) = relay.join(&mut visitor, &mut code).await;
    let (mut agent, _) = admit(&mut visitor, agent, id).await;
    agent.expect_silence(Duration::from_millis(1500)).await;
    visitor.send(&VisitorMsg::Event(event(1))).await;
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Event(event(1)));
}

on_every_backend!(a_place_kept_for_a_rejoin_keeps_the_agents_one_session);

async fn a_place_kept_for_a_rejoin_keeps_the_agents_one_session(setup: Setup) {
    let relay = Relay::on_with(setup, signed_and_dev).await;
    let ann = mint("ann");
    let (mut visitor_a, _, mut code_a) = relay.start_session().await;
    let (mut visitor_b, _, mut code_b) = relay.start_session().await;
    let agent = relay.socket("/ws/agent").await;
    let (agent, id) = relay
        .join_with(&mut visitor_a, &mut code_a, agent, &ann)
        .await;
    let (in_a, _, rejoin) =
        admit_keeping_token(&mut visitor_a, agent, id, protocol::Mode::ViewOnly).await;

    // Her connection breaks: the place waits for her console, and so does
    // her one session — she cannot take B meanwhile.
    drop(in_a);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut elsewhere = agent_on_visitors_relay(&relay).await;
    elsewhere.hello(ann_joins(&ann, &code_b)).await;
    refused_as_busy(elsewhere).await;
    visitor_b.expect_silence(Duration::from_millis(200)).await;

    // Her console comes back (on the other relay, with two): she is in A
    // again, and still may not take B.
    let mut back = agent_on_visitors_relay(&relay).await;
    back.hello(protocol::Hello::AgentRejoin(protocol::AgentRejoin {
        token: ann.clone(),
        rejoin: rejoin.clone(),
        last_seq: None,
    }))
    .await;
    assert!(matches!(
        back.recv::<ToAgent>().await,
        ToAgent::Admitted { .. }
    ));
    assert_eq!(
        back.recv::<ToAgent>().await,
        ToAgent::Mode(protocol::Mode::ViewOnly)
    );
    let mut again = relay.socket("/ws/agent").await;
    again.hello(ann_joins(&ann, &code_b)).await;
    refused_as_busy(again).await;

    // She leaves A from the rejoined console: B is hers to join.
    back.send(&AgentMsg::Leave).await;
    assert_eq!(
        back.recv::<ToAgent>().await,
        ToAgent::Ended {
            reason: EndReason::AgentLeft
        }
    );
    let to_b = relay.socket("/ws/agent").await;
    let (_in_b, _) = relay
        .join_with(&mut visitor_b, &mut code_b, to_b, &ann)
        .await;
}
