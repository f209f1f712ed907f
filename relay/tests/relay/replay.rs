//! Resuming in order: the session's replay buffer behind `Resumed.last_seq`
//! (a page that is still the one that sent the events resends only what
//! the relay lacks) and agents rejoining their place after their connection
//! broke, on the same relay or another one sharing the store: every frame
//! once, in order; a gap older than the buffer from the newest snapshot, or
//! a fresh one from the visitor.

use std::net::SocketAddr;
use std::time::Duration;

use protocol::{
    AgentId, AgentRejoin, ErrorCode, EventFrame, Hello, Mode, Seq, ToAgent, ToVisitor, VisitorMsg,
};

use crate::support::{admit_keeping_token, Peer, Relay, Setup, Welcome, TOKEN};

/// A frame whose payload differs per seq; `snapshot` marks a full page.
fn frame(seq: u64, snapshot: bool) -> EventFrame {
    EventFrame {
        seq: Seq(seq),
        snapshot,
        payload: format!("frame {seq}").into_bytes(),
    }
}

/// A session (visitor on the visitors' relay) with an agent on
/// `agent_addr`, admitted; returns its rejoin token too.
async fn watched_at(
    relay: &Relay,
    agent_addr: SocketAddr,
) -> (Peer, Welcome, Peer, AgentId, String) {
    let (mut visitor, welcome) = relay.welcomed().await;
    let mut code = welcome.code.clone();
    let socket = relay.agent_at(agent_addr).await;
    let (agent, id) = relay
        .join_asking(&mut visitor, &mut code, socket, TOKEN, Mode::Shared)
        .await;
    let (agent, id, token) = admit_keeping_token(&mut visitor, agent, id, Mode::Shared).await;
    (visitor, welcome, agent, id, token)
}

async fn send_frames(visitor: &mut Peer, seqs: impl IntoIterator<Item = u64>, snapshots: &[u64]) {
    for seq in seqs {
        let msg = VisitorMsg::Event(frame(seq, snapshots.contains(&seq)));
        visitor.send(&msg).await;
    }
}

/// The agent's next events are exactly `seqs`, in order (a `VisitorAway`
/// between them is fine: the page's connection broke).
async fn expect_seqs(agent: &mut Peer, seqs: impl IntoIterator<Item = u64>) {
    for want in seqs {
        loop {
            match agent.recv::<ToAgent>().await {
                ToAgent::Event(got) => {
                    assert_eq!(got.seq, Seq(want), "out of order or twice");
                    assert_eq!(got.payload, format!("frame {want}").into_bytes());
                    break;
                }
                ToAgent::VisitorAway { .. } => {}
                other => panic!("expected event {want}, got {other:?}"),
            }
        }
    }
}

/// A rejoining console's hello, on the relay at `addr`.
async fn rejoin_at(relay: &Relay, addr: SocketAddr, token: &str, last: Option<u64>) -> Peer {
    let mut agent = relay.agent_at(addr).await;
    agent
        .hello(Hello::AgentRejoin(AgentRejoin {
            token: TOKEN.into(),
            rejoin: token.into(),
            last_seq: last.map(Seq),
        }))
        .await;
    agent
}

/// Back in its place: admitted again, in its mode.
async fn expect_back(agent: &mut Peer, mode: Mode) {
    assert!(matches!(
        agent.recv::<ToAgent>().await,
        ToAgent::Admitted { .. }
    ));
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Mode(mode));
}

async fn resumed_names_the_newest_event_the_relay_holds(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (visitor, welcome, mut agent, _, _) = watched_at(&relay, relay.agents().addr).await;
    drop(visitor);
    let mut next = relay
        .visitor_at(relay.addr, Some(welcome.resume_token.clone()))
        .await;
    Welcome::expect(&mut next).await;
    match next.recv::<ToVisitor>().await {
        ToVisitor::Resumed { last_seq, .. } => assert_eq!(last_seq, None, "no event yet"),
        other => panic!("expected Resumed, got {other:?}"),
    }
    send_frames(&mut next, 1..=7, &[1]).await;
    expect_seqs(&mut agent, 1..=7).await;
    drop(next);
    let mut third = relay
        .visitor_at(relay.addr, Some(welcome.resume_token))
        .await;
    Welcome::expect(&mut third).await;
    match third.recv::<ToVisitor>().await {
        ToVisitor::Resumed { last_seq, .. } => assert_eq!(last_seq, Some(Seq(7))),
        other => panic!("expected Resumed, got {other:?}"),
    }
}

async fn a_page_resending_after_last_seq_reaches_the_agent_once_in_order(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, welcome, mut agent, _, _) = watched_at(&relay, relay.agents().addr).await;
    send_frames(&mut visitor, 1..=10, &[1]).await;
    expect_seqs(&mut agent, 1..=10).await;
    drop(visitor);
    // The same page, on a new socket: it resends what it sent after the
    // relay's newest frame (here nothing was lost) and goes on, no snapshot.
    let mut again = relay
        .visitor_at(relay.addr, Some(welcome.resume_token))
        .await;
    Welcome::expect(&mut again).await;
    let last = match again.recv::<ToVisitor>().await {
        ToVisitor::Resumed { last_seq, .. } => last_seq.expect("frames held").0,
        other => panic!("expected Resumed, got {other:?}"),
    };
    assert_eq!(last, 10);
    send_frames(&mut again, last + 1..=15, &[]).await;
    expect_seqs(&mut agent, 11..=15).await;
    agent.expect_silence(Duration::from_millis(300)).await;
}

async fn a_rejoining_agent_gets_exactly_the_frames_it_missed(setup: Setup) {
    let relay = Relay::on(setup).await;
    // In the two-relay setup the agent starts on the agents' relay and
    // comes back on the visitors' one.
    let (mut visitor, _, mut agent, id, token) = watched_at(&relay, relay.agents().addr).await;
    send_frames(&mut visitor, 1..=5, &[1]).await;
    expect_seqs(&mut agent, 1..=5).await;
    drop(agent);
    send_frames(&mut visitor, 6..=10, &[]).await;
    let mut back = rejoin_at(&relay, relay.addr, &token, Some(5)).await;
    expect_back(&mut back, Mode::Shared).await;
    expect_seqs(&mut back, 6..=10).await;
    send_frames(&mut visitor, 11..=12, &[]).await;
    expect_seqs(&mut back, 11..=12).await;
    back.expect_silence(Duration::from_millis(300)).await;
    // The visitor never saw the agent leave, and it may still act.
    back.send(&protocol::AgentMsg::RequestMode(Mode::ViewOnly))
        .await;
    loop {
        match visitor.recv::<ToVisitor>().await {
            ToVisitor::FromAgent { agent, .. } => {
                assert_eq!(agent, id);
                break;
            }
            ToVisitor::AgentLeft { .. } => panic!("the agent's place was not kept"),
            _ => {}
        }
    }
}

async fn a_gap_older_than_the_buffer_starts_from_the_newest_snapshot(setup: Setup) {
    let relay = Relay::on_with(setup, |c| c.limits.replay_frames = 5).await;
    let (mut visitor, _, mut agent, _, token) = watched_at(&relay, relay.agents().addr).await;
    send_frames(&mut visitor, 1..=2, &[1]).await;
    expect_seqs(&mut agent, 1..=2).await;
    drop(agent);
    // A snapshot at 8 starts the buffer afresh; 5 frames fit: 8..=12.
    send_frames(&mut visitor, 3..=12, &[8]).await;
    let mut back = rejoin_at(&relay, relay.addr, &token, Some(2)).await;
    expect_back(&mut back, Mode::Shared).await;
    expect_seqs(&mut back, 8..=12).await;
    back.expect_silence(Duration::from_millis(300)).await;
}

async fn a_gap_with_no_snapshot_held_asks_the_visitor_for_one(setup: Setup) {
    let relay = Relay::on_with(setup, |c| c.limits.replay_frames = 3).await;
    let (mut visitor, _, mut agent, _, token) = watched_at(&relay, relay.agents().addr).await;
    send_frames(&mut visitor, 1..=2, &[1]).await;
    expect_seqs(&mut agent, 1..=2).await;
    drop(agent);
    send_frames(&mut visitor, 3..=9, &[]).await;
    let mut back = rejoin_at(&relay, relay.addr, &token, Some(2)).await;
    expect_back(&mut back, Mode::Shared).await;
    assert_eq!(visitor.recv::<ToVisitor>().await, ToVisitor::SnapshotNeeded);
    send_frames(&mut visitor, 10..=10, &[10]).await;
    expect_seqs(&mut back, 10..=10).await;
}

async fn made_up_rejoin_secrets_are_refused_and_counted(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (_visitor, _, _agent, _, token) = watched_at(&relay, relay.agents().addr).await;
    // Same session and agent, another secret: only the digest is stored and
    // it does not match.
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    for presented in ["not a token", forged.as_str()] {
        let mut agent = rejoin_at(&relay, relay.addr, presented, None).await;
        let frame = agent.expect_agent_error().await;
        assert_eq!(frame.code, ErrorCode::NotAllowed, "{frame:?}");
    }
    assert_eq!(relay.metric("rejoin_refused_total").await, 2);
}

async fn an_agent_that_does_not_come_back_leaves_after_the_grace(setup: Setup) {
    let relay = Relay::on_with(setup, |c| c.limits.resume_grace = Duration::from_secs(1)).await;
    let (mut visitor, _, agent, id, token) = watched_at(&relay, relay.agents().addr).await;
    drop(agent);
    visitor.expect_silence(Duration::from_millis(500)).await;
    assert_eq!(
        visitor.recv::<ToVisitor>().await,
        ToVisitor::AgentLeft { agent: id }
    );
    // Its place is gone with it.
    let mut late = rejoin_at(&relay, relay.addr, &token, None).await;
    assert_eq!(late.expect_agent_error().await.code, ErrorCode::NotAllowed);
}

on_every_backend!(
    resumed_names_the_newest_event_the_relay_holds,
    a_page_resending_after_last_seq_reaches_the_agent_once_in_order,
    a_rejoining_agent_gets_exactly_the_frames_it_missed,
    a_gap_older_than_the_buffer_starts_from_the_newest_snapshot,
    a_gap_with_no_snapshot_held_asks_the_visitor_for_one,
    made_up_rejoin_secrets_are_refused_and_counted,
    an_agent_that_does_not_come_back_leaves_after_the_grace,
);
