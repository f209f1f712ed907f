//! The memory backend's own rules, without the relay around it.

use super::*;
use crate::bus::mailbox;
use axum::body::Bytes;

const TTL: Duration = Duration::from_secs(1200);

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn codes_are_six_digits_and_unique_among_live_sessions() {
    block(async {
        let store = MemoryStore::new();
        let mut codes = std::collections::HashSet::new();
        for _ in 0..2000 {
            let s = store
                .create("https://x/".into(), TTL)
                .await
                .expect("created");
            assert_eq!(s.code.as_str().len(), 6);
            assert_eq!(s.session.0.len(), 32);
            assert!(codes.insert(s.code), "code reused while live");
        }
    });
}

#[test]
fn agent_ids_start_at_one_and_are_not_reused() {
    block(async {
        let store = MemoryStore::new();
        let s = store.create("u".into(), TTL).await.expect("created");
        let a = store
            .join(&s.code, Mode::ViewOnly, 8, TTL)
            .await
            .expect("a");
        assert_eq!(a.agent, AgentId(1));
        assert!(store.remove_agent(&s.session, a.agent).await.expect("rm"));
        let next = a.next_code.expect("a fresh code");
        let b = store.join(&next, Mode::ViewOnly, 8, TTL).await.expect("b");
        assert_eq!(b.agent, AgentId(2));
        assert_eq!(b.page_url, "u");
    });
}

#[test]
fn consent_rules() {
    block(async {
        let store = MemoryStore::new();
        let s = store.create("u".into(), TTL).await.expect("created");
        let a = store
            .join(&s.code, Mode::ViewOnly, 8, TTL)
            .await
            .expect("a")
            .agent;
        let c = |agent, ok| store.consent(&s.session, agent, ok);
        assert!(c(AgentId(9), true).await.is_err(), "never-issued id");
        assert_eq!(
            c(a, true).await.expect("ok"),
            ConsentOutcome::Admitted(Mode::ViewOnly)
        );
        assert_eq!(
            c(a, true).await.expect("ok"),
            ConsentOutcome::AlreadyAdmitted
        );
        assert_eq!(
            store.agent_state(&s.session, a).await.expect("ok"),
            Some(AgentState::Admitted)
        );
        assert_eq!(c(a, false).await.expect("ok"), ConsentOutcome::Declined);
        assert_eq!(c(a, true).await.expect("ok"), ConsentOutcome::AgentGone);
    });
}

#[test]
fn modes_are_asked_at_join_and_changed_only_once_admitted() {
    block(async {
        let store = MemoryStore::new();
        let s = store.create("u".into(), TTL).await.expect("created");
        let a = store.join(&s.code, Mode::Shared, 8, TTL).await.expect("a");
        let (sid, id) = (&s.session, a.agent);
        assert_eq!(
            store.agent_mode(sid, id).await.expect("ok"),
            Some(Mode::Shared)
        );
        assert_eq!(
            store.set_mode(sid, id, Mode::ViewOnly).await.expect("ok"),
            ModeChange::NotAdmitted
        );
        assert_eq!(
            store.consent(sid, id, true).await.expect("ok"),
            ConsentOutcome::Admitted(Mode::Shared)
        );
        let set = |m| store.set_mode(sid, id, m);
        assert_eq!(set(Mode::ViewOnly).await.expect("ok"), ModeChange::Changed);
        assert_eq!(
            set(Mode::ViewOnly).await.expect("ok"),
            ModeChange::Unchanged
        );
        assert_eq!(
            store.agent_mode(sid, id).await.expect("ok"),
            Some(Mode::ViewOnly)
        );
        assert_eq!(
            store
                .set_mode(sid, AgentId(7), Mode::Shared)
                .await
                .expect("ok"),
            ModeChange::Gone
        );
        assert!(store.remove_agent(sid, id).await.expect("rm"));
        assert_eq!(set(Mode::Shared).await.expect("ok"), ModeChange::Gone);
        assert_eq!(store.agent_mode(sid, id).await.expect("ok"), None);
    });
}

#[test]
fn agent_limit_and_ending_free_the_code() {
    block(async {
        let store = MemoryStore::new();
        let s = store.create("u".into(), TTL).await.expect("created");
        let first = store
            .join(&s.code, Mode::Shared, 1, TTL)
            .await
            .expect("first");
        let next = first.next_code.expect("a fresh code");
        assert!(matches!(
            store.join(&next, Mode::Shared, 1, TTL).await,
            Err(RelayError::TooManyAgents { limit: 1 })
        ));
        assert_eq!(store.end(&s.session).await.expect("end"), vec![AgentId(1)]);
        assert!(matches!(
            store.join(&next, Mode::Shared, 1, TTL).await,
            Err(RelayError::UnknownCode)
        ));
        assert!(store.is_empty());
        assert!(lock(&store.inner).by_code.is_empty());
    });
}

#[test]
fn a_code_admits_one_agent_and_the_session_gets_a_fresh_one() {
    block(async {
        let store = MemoryStore::new();
        let s = store.create("u".into(), TTL).await.expect("created");
        let a = store
            .join(&s.code, Mode::ViewOnly, 8, TTL)
            .await
            .expect("a");
        assert!(matches!(
            store.join(&s.code, Mode::ViewOnly, 8, TTL).await,
            Err(RelayError::UnknownCode)
        ));
        let next = a.next_code.expect("fresh");
        assert_ne!(next, s.code);
        let b = store.join(&next, Mode::ViewOnly, 8, TTL).await.expect("b");
        assert_eq!(b.session, s.session);
        assert_eq!(lock(&store.inner).by_code.len(), 1);
    });
}

#[tokio::test(start_paused = true)]
async fn an_unused_code_expires_but_the_session_lives_on() {
    let store = MemoryStore::new();
    let ttl = Duration::from_secs(60);
    let s = store.create("u".into(), ttl).await.expect("created");
    tokio::time::advance(Duration::from_secs(59)).await;
    let a = store
        .join(&s.code, Mode::ViewOnly, 8, ttl)
        .await
        .expect("in time");
    let next = a.next_code.expect("fresh");
    tokio::time::advance(ttl).await;
    assert!(matches!(
        store.join(&next, Mode::ViewOnly, 8, ttl).await,
        Err(RelayError::UnknownCode)
    ));
    assert_eq!(
        store.agent_state(&s.session, a.agent).await.expect("ok"),
        Some(AgentState::Pending)
    );
}

#[test]
fn publish_reaches_subscribers_until_they_unsubscribe() {
    block(async {
        let bus = MemoryBus::new();
        let topic = Topic::Visitor(SessionId("s".into()));
        let (mb, mut rx) = mailbox(4);
        let sub = bus.subscribe(topic.clone(), mb).await.expect("sub");
        let d = Delivery::Encoded(Bytes::from_static(b"hi"));
        assert_eq!(bus.publish(&topic, d.clone()).await.expect("pub"), 1);
        assert!(matches!(rx.recv().await, Some(Delivery::Encoded(b)) if b == "hi"));
        drop(sub);
        assert_eq!(bus.publish(&topic, d).await.expect("pub"), 0);
        assert_eq!(bus.topic_count(), 0);
    });
}

#[test]
fn an_overflowing_subscriber_is_dropped_and_others_still_receive() {
    block(async {
        let bus = MemoryBus::new();
        let topic = Topic::Agent(SessionId("s".into()), AgentId(1));
        let (slow, _slow_rx) = mailbox(1);
        let (fast, mut fast_rx) = mailbox(8);
        let _a = bus.subscribe(topic.clone(), slow).await.expect("sub");
        let _b = bus.subscribe(topic.clone(), fast).await.expect("sub");
        let d = || Delivery::Encoded(Bytes::from_static(b"e"));
        assert_eq!(bus.publish(&topic, d()).await.expect("pub"), 2);
        assert_eq!(bus.publish(&topic, d()).await.expect("pub"), 1);
        assert_eq!(bus.publish(&topic, d()).await.expect("pub"), 1);
        for _ in 0..3 {
            assert!(fast_rx.recv().await.is_some());
        }
    });
}
