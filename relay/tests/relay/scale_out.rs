//! Relays as separate processes (the `cobrowse-relay` binary) on one
//! Redis: a relay is killed (SIGKILL, no goodbye) with ten sessions live,
//! and every visitor resumes and every agent rejoins on the surviving relay
//! with its events complete, once each, in order.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use protocol::{AgentRejoin, EventFrame, Hello, Mode, Seq, ToAgent, ToVisitor, VisitorMsg};
use tokio_tungstenite::tungstenite::Message;

use crate::processes::{self, RelayProcess};
use crate::redis_server::RedisServer;
use crate::support::{Peer, TOKEN, WAIT};

const SESSIONS: usize = 10;
/// Events every agent must see: 1..=LAST.
const LAST: u64 = 40;

fn frame(seq: u64) -> EventFrame {
    EventFrame {
        seq: Seq(seq),
        snapshot: seq == 1,
        payload: format!("frame {seq}").into_bytes(),
    }
}

/// The next message, or `None` once the socket is closed or broken (its
/// relay died).
async fn next_or_closed<T: serde::de::DeserializeOwned>(peer: &mut Peer) -> Option<T> {
    loop {
        match tokio::time::timeout(WAIT, peer.ws.next()).await {
            Ok(Some(Ok(Message::Binary(bytes)))) => {
                return Some(protocol::decode(&bytes).expect("decodes"));
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) => return None,
            Ok(Some(Ok(other))) => panic!("unexpected {other:?}"),
            Err(_) => panic!("no message within the wait"),
        }
    }
}

/// One session of the test, as its two test clients know it.
struct Session {
    visitor: Peer,
    visitor_on: usize,
    resume: String,
    agent: Peer,
    agent_on: usize,
    rejoin: String,
    /// Every event the agent received, over all its connections.
    seen: Vec<u64>,
    /// The visitor's next seq.
    next: u64,
}

impl Session {
    async fn open(addrs: [SocketAddr; 2], visitor_on: usize, agent_on: usize) -> Session {
        let (mut visitor, mut code, resume) = processes::session(addrs[visitor_on]).await;
        let (agent, _, rejoin) =
            processes::admitted_agent(addrs[agent_on], &mut visitor, &mut code).await;
        Session {
            visitor,
            visitor_on,
            resume,
            agent,
            agent_on,
            rejoin,
            seen: Vec::new(),
            next: 1,
        }
    }

    async fn send_until(&mut self, last: u64) {
        while self.next <= last {
            self.visitor
                .send(&VisitorMsg::Event(frame(self.next)))
                .await;
            self.next += 1;
        }
    }

    /// Reads the agent's events until it has seen `upto`; `false` if its
    /// socket broke first.
    async fn receive_until(&mut self, upto: u64) -> bool {
        while self.seen.last().copied().unwrap_or(0) < upto {
            match next_or_closed::<ToAgent>(&mut self.agent).await {
                Some(ToAgent::Event(frame)) => self.seen.push(frame.seq.0),
                Some(_) => {}
                None => return false,
            }
        }
        true
    }
}

#[tokio::test]
async fn a_relay_killed_mid_session_loses_no_event_of_ten_sessions() {
    let redis = RedisServer::start().await;
    let mut doomed = RelayProcess::start(&redis, "doomed", "").await;
    let survivor = RelayProcess::start(&redis, "survivor", "").await;
    let addrs = [doomed.addr, survivor.addr];
    const A: usize = 0;
    const B: usize = 1;

    // Most visitors on A with their agents on B; some the other way.
    let mut sessions = Vec::new();
    for i in 0..SESSIONS {
        let (visitor_on, agent_on) = if i % 3 == 2 { (B, A) } else { (A, B) };
        sessions.push(Session::open(addrs, visitor_on, agent_on).await);
    }
    for s in &mut sessions {
        s.send_until(20).await;
    }
    for s in &mut sessions {
        assert!(s.receive_until(20).await, "live before the kill");
    }
    // Everyone keeps going while A dies: frames in flight on A may have
    // reached agents, the buffer, both or neither; agents on A miss what
    // visitors on B send.
    for s in &mut sessions {
        s.send_until(25).await;
    }

    doomed.signal("-KILL").await;
    doomed.exits_within(WAIT).await;

    for s in sessions.iter_mut().filter(|s| s.visitor_on == B) {
        s.send_until(30).await;
    }
    for s in &mut sessions {
        if s.visitor_on == A {
            // The page notices its socket died and resumes on B: it resends
            // what it sent after the relay's newest frame, then goes on.
            while next_or_closed::<ToVisitor>(&mut s.visitor).await.is_some() {}
            let mut next = processes::visitor(survivor.addr, Some(s.resume.clone())).await;
            assert!(matches!(
                next.recv::<ToVisitor>().await,
                ToVisitor::Welcome { .. }
            ));
            let last = match next.recv::<ToVisitor>().await {
                ToVisitor::Resumed { last_seq, .. } => last_seq.map_or(0, |s| s.0),
                other => panic!("expected Resumed, got {other:?}"),
            };
            assert!((20..=25).contains(&last), "the relay's newest: {last}");
            s.visitor = next;
            s.visitor_on = B;
            // Resends what the relay lacks; its agent may have some of it
            // already and must still see each once.
            let sent = s.next;
            s.next = last + 1;
            s.send_until(sent - 1).await;
        }
        if s.agent_on == A {
            // The console notices and rejoins on B from what it applied.
            assert!(!s.receive_until(LAST).await, "its relay is dead");
            let mut back = processes::socket(survivor.addr, "/ws/agent")
                .await
                .expect("upgrade");
            back.hello(Hello::AgentRejoin(AgentRejoin {
                token: TOKEN.into(),
                rejoin: s.rejoin.clone(),
                last_seq: s.seen.last().map(|&seq| Seq(seq)),
            }))
            .await;
            assert!(matches!(
                back.recv::<ToAgent>().await,
                ToAgent::Admitted { .. }
            ));
            assert_eq!(back.recv::<ToAgent>().await, ToAgent::Mode(Mode::ViewOnly));
            s.agent = back;
            s.agent_on = B;
        }
    }
    for s in &mut sessions {
        s.send_until(LAST).await;
    }
    for (i, s) in sessions.iter_mut().enumerate() {
        assert!(s.receive_until(LAST).await, "session {i} on the survivor");
        let want: Vec<u64> = (1..=LAST).collect();
        assert_eq!(s.seen, want, "session {i}: every event once, in order");
    }
    // Nothing more, nothing twice.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for s in &mut sessions {
        s.agent.expect_silence(Duration::from_millis(50)).await;
    }
    drop(sessions);
    drop(survivor);
}
