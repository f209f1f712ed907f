//! Two-way co-browsing through the relay: an agent's pointing reaches the
//! visitor once admitted, its control only in shared mode (as the visitor
//! granted it), mode requests and grants, refusals that leave the session
//! alone, the rate budget, and the counters. On every backend, so with two
//! relays the agent's relay enforces a mode the visitor's relay recorded.
//!
//! Agents here send raw frames, as a stale or hostile console could: the
//! relay, not the console, is what these tests hold to the rules.

use std::time::Duration;

use protocol::{
    AgentId, AgentMsg, Control, FromAgent, Mode, NodeId, Point, PointerKind, PointerPos, ToAgent,
    ToVisitor, VisitorMsg,
};

use crate::support::{admit, admit_in, Peer, Relay, Setup, TOKEN};

on_every_backend!(
    view_only_control_is_dropped_while_pointing_passes,
    the_visitor_grants_and_withdraws_shared_mode,
    an_agent_accepted_in_shared_mode_may_control_at_once,
    asking_for_shared_mode_changes_nothing_by_itself,
    stepping_down_to_view_only_applies_at_once,
    mode_changes_for_unknown_or_waiting_agents_are_refused_harmlessly,
    a_waiting_agents_messages_are_dropped,
);

const QUIET: Duration = Duration::from_millis(200);

fn point(n: u32) -> Point {
    Point::Pointer {
        pos: PointerPos {
            target: Some(NodeId(n)),
            fx: 0.25,
            fy: 0.75,
            x: n as f32,
            y: 10.0,
        },
        kind: PointerKind::Move,
    }
}

fn click(n: u32) -> Control {
    Control::Click {
        target: NodeId(n),
        fx: 0.5,
        fy: 0.5,
    }
}

/// The visitor's next frame must be `msg` from `agent`.
async fn expect_from(visitor: &mut Peer, agent: AgentId, msg: FromAgent) {
    assert_eq!(
        visitor.recv::<ToVisitor>().await,
        ToVisitor::FromAgent { agent, msg }
    );
}

/// A session with one admitted agent that asked for `mode`.
async fn session_with(relay: &Relay, mode: Mode) -> (Peer, Peer, AgentId) {
    let (mut visitor, _, mut code) = relay.start_session().await;
    let socket = relay.socket("/ws/agent").await;
    let (agent, id) = relay
        .join_asking(&mut visitor, &mut code, socket, TOKEN, mode)
        .await;
    let (agent, id) = admit_in(&mut visitor, agent, id, mode).await;
    (visitor, agent, id)
}

/// Sends a control, then a point: if the control had gone through, the
/// visitor would see it first.
async fn expect_control_dropped(visitor: &mut Peer, agent: &mut Peer, id: AgentId, n: u32) {
    agent.send(&AgentMsg::Control(click(n))).await;
    agent.send(&AgentMsg::Point(point(n))).await;
    expect_from(visitor, id, FromAgent::Point(point(n))).await;
}

async fn set_mode(visitor: &mut Peer, agent: &mut Peer, id: AgentId, mode: Mode) {
    visitor.send(&VisitorMsg::SetMode { agent: id, mode }).await;
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Mode(mode));
}

async fn view_only_control_is_dropped_while_pointing_passes(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, mut agent, id) = session_with(&relay, Mode::ViewOnly).await;
    expect_control_dropped(&mut visitor, &mut agent, id, 1).await;
    // Every kind of control, not only clicks; the socket stays open.
    for control in [
        Control::SetValue {
            target: NodeId(3),
            value: "secret".into(),
        },
        Control::Submit { form: NodeId(4) },
        Control::Navigate(protocol::Navigation::Back),
    ] {
        agent.send(&AgentMsg::Control(control)).await;
    }
    agent.send(&AgentMsg::Point(point(2))).await;
    expect_from(&mut visitor, id, FromAgent::Point(point(2))).await;
    visitor.expect_silence(QUIET).await;
    let agents = relay.agents();
    agents
        .wait_for_metric("agent_messages_dropped_total{reason=\"mode\"} 4")
        .await;
    agents
        .wait_for_metric("agent_messages_forwarded_total{kind=\"point\"} 2")
        .await;
    assert_eq!(
        agents
            .metric("agent_messages_forwarded_total{kind=\"control\"}")
            .await,
        0
    );
}

async fn the_visitor_grants_and_withdraws_shared_mode(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, mut agent, id) = session_with(&relay, Mode::ViewOnly).await;
    expect_control_dropped(&mut visitor, &mut agent, id, 1).await;

    set_mode(&mut visitor, &mut agent, id, Mode::Shared).await;
    agent.send(&AgentMsg::Control(click(2))).await;
    expect_from(&mut visitor, id, FromAgent::Control(click(2))).await;

    set_mode(&mut visitor, &mut agent, id, Mode::ViewOnly).await;
    expect_control_dropped(&mut visitor, &mut agent, id, 3).await;
    visitor.expect_silence(QUIET).await;

    relay
        .agents()
        .wait_for_metric("agent_messages_dropped_total{reason=\"mode\"} 2")
        .await;
    relay
        .agents()
        .wait_for_metric("agent_messages_forwarded_total{kind=\"control\"} 1")
        .await;
    relay
        .wait_for_metric("mode_changes_total{result=\"changed\"} 2")
        .await;
}

async fn an_agent_accepted_in_shared_mode_may_control_at_once(setup: Setup) {
    let relay = Relay::on(setup).await;
    // session_with checks Admitted then Mode(Shared).
    let (mut visitor, mut agent, id) = session_with(&relay, Mode::Shared).await;
    agent.send(&AgentMsg::Control(click(1))).await;
    expect_from(&mut visitor, id, FromAgent::Control(click(1))).await;
    // A grant of what it already has changes nothing and tells nobody.
    visitor
        .send(&VisitorMsg::SetMode {
            agent: id,
            mode: Mode::Shared,
        })
        .await;
    agent.expect_silence(QUIET).await;
    relay
        .wait_for_metric("mode_changes_total{result=\"unchanged\"} 1")
        .await;
}

async fn asking_for_shared_mode_changes_nothing_by_itself(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, mut agent, id) = session_with(&relay, Mode::ViewOnly).await;
    agent.send(&AgentMsg::RequestMode(Mode::Shared)).await;
    expect_from(&mut visitor, id, FromAgent::ModeRequest(Mode::Shared)).await;
    agent.expect_silence(QUIET).await;
    expect_control_dropped(&mut visitor, &mut agent, id, 1).await;
    // The visitor allows it: now control passes.
    set_mode(&mut visitor, &mut agent, id, Mode::Shared).await;
    agent.send(&AgentMsg::Control(click(2))).await;
    expect_from(&mut visitor, id, FromAgent::Control(click(2))).await;
}

async fn stepping_down_to_view_only_applies_at_once(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, mut agent, id) = session_with(&relay, Mode::Shared).await;
    agent.send(&AgentMsg::RequestMode(Mode::ViewOnly)).await;
    // Without waiting for the confirmation: the very next control is
    // already refused.
    agent.send(&AgentMsg::Control(click(1))).await;
    agent.send(&AgentMsg::Point(point(1))).await;
    // The visitor hears of it too, so its page drops control as well.
    expect_from(&mut visitor, id, FromAgent::ModeRequest(Mode::ViewOnly)).await;
    expect_from(&mut visitor, id, FromAgent::Point(point(1))).await;
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Mode(Mode::ViewOnly));
    let agents = relay.agents();
    agents
        .wait_for_metric("agent_messages_dropped_total{reason=\"mode\"} 1")
        .await;
    agents
        .wait_for_metric("mode_changes_total{result=\"changed\"} 1")
        .await;
    // Shared again only with the visitor's consent.
    set_mode(&mut visitor, &mut agent, id, Mode::Shared).await;
    agent.send(&AgentMsg::Control(click(2))).await;
    expect_from(&mut visitor, id, FromAgent::Control(click(2))).await;
}

async fn mode_changes_for_unknown_or_waiting_agents_are_refused_harmlessly(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut waiting, id) = relay.join(&mut visitor, &mut code).await;
    for agent in [AgentId(9), id] {
        visitor
            .send(&VisitorMsg::SetMode {
                agent,
                mode: Mode::Shared,
            })
            .await;
    }
    // Nobody is told anything, nobody is closed.
    visitor.expect_silence(QUIET).await;
    waiting.expect_silence(QUIET).await;
    relay
        .wait_for_metric("mode_changes_total{result=\"gone\"} 1")
        .await;
    relay
        .wait_for_metric("mode_changes_total{result=\"not_admitted\"} 1")
        .await;
    // The session goes on, and the refused grant left no trace: the agent
    // is admitted in the mode it asked for (view-only), and control is
    // still dropped.
    let (mut agent, id) = admit(&mut visitor, waiting, id).await;
    visitor
        .send(&VisitorMsg::Event(crate::flow::event(1)))
        .await;
    assert_eq!(
        agent.recv::<ToAgent>().await,
        ToAgent::Event(crate::flow::event(1))
    );
    expect_control_dropped(&mut visitor, &mut agent, id, 1).await;
}

async fn a_waiting_agents_messages_are_dropped(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut waiting, id) = relay.join(&mut visitor, &mut code).await;
    waiting.send(&AgentMsg::Point(point(1))).await;
    waiting.send(&AgentMsg::Control(click(1))).await;
    waiting.send(&AgentMsg::RequestMode(Mode::Shared)).await;
    relay
        .agents()
        .wait_for_metric("agent_messages_dropped_total{reason=\"not_admitted\"} 3")
        .await;
    visitor.expect_silence(QUIET).await;
    // Still in the session: once admitted, its pointing goes through.
    let (mut agent, id) = admit(&mut visitor, waiting, id).await;
    agent.send(&AgentMsg::Point(point(2))).await;
    expect_from(&mut visitor, id, FromAgent::Point(point(2))).await;
}

/// Pointing beyond the connection's budget is dropped silently and counted;
/// control has a budget of its own, so it still passes.
#[tokio::test]
async fn pointing_beyond_the_budget_is_dropped() {
    const BUDGET: u32 = 10;
    const SENT: u32 = 40;
    let relay = Relay::with(|c| c.limits.agent_messages_per_second = BUDGET).await;
    let (mut visitor, mut agent, id) = session_with(&relay, Mode::Shared).await;
    for n in 0..SENT {
        agent.send(&AgentMsg::Point(point(n))).await;
    }
    agent.send(&AgentMsg::Control(click(1))).await;
    let mut points = 0;
    loop {
        match visitor.recv::<ToVisitor>().await {
            ToVisitor::FromAgent {
                msg: FromAgent::Point(_),
                ..
            } => points += 1,
            ToVisitor::FromAgent {
                agent,
                msg: FromAgent::Control(control),
            } => {
                assert_eq!((agent, control), (id, click(1)));
                break;
            }
            other => panic!("expected FromAgent, got {other:?}"),
        }
    }
    // A second's burst, and what trickled in while the test was sending.
    assert!(
        (BUDGET..BUDGET + 5).contains(&points),
        "{points} of {SENT} points passed"
    );
    let dropped = relay
        .metric("agent_messages_dropped_total{reason=\"rate\"}")
        .await;
    assert_eq!(u64::from(SENT - points), dropped);
    assert_eq!(
        relay
            .metric("agent_messages_forwarded_total{kind=\"point\"}")
            .await,
        u64::from(points)
    );
    // The agent is not closed for it.
    agent.expect_silence(QUIET).await;
}

/// The agent's relay checks the store before passing control on: a
/// withdrawal already recorded (by the visitor's relay) but whose
/// `ToAgent::Mode` has not reached this relay yet still stops it. Here the
/// record is changed behind the relays' backs, so no Mode is ever published.
#[tokio::test]
async fn control_waits_for_the_store_not_only_the_last_mode_heard() {
    let relay = Relay::on(Setup::TwoRelays).await;
    let (mut visitor, mut agent, id) = session_with(&relay, Mode::Shared).await;
    agent.send(&AgentMsg::Control(click(1))).await;
    expect_from(&mut visitor, id, FromAgent::Control(click(1))).await;

    let redis = relay.redis.as_ref().expect("redis");
    let mut conn = redis.conn().await;
    let agents_key = redis
        .keys()
        .await
        .into_iter()
        .find(|k| k.ends_with(":agents"))
        .expect("the session's agents hash");
    let entry: String = redis::cmd("HGET")
        .arg(&agents_key)
        .arg(id.0)
        .query_async(&mut conn)
        .await
        .expect("hget");
    assert_eq!(entry, "admitted:shared");
    let _: () = redis::cmd("HSET")
        .arg(&agents_key)
        .arg(id.0)
        .arg("admitted:view")
        .query_async(&mut conn)
        .await
        .expect("hset");

    expect_control_dropped(&mut visitor, &mut agent, id, 2).await;
    agent.expect_silence(QUIET).await;
}
