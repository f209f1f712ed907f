//! What only the Redis backend has to prove: codes unique across relays,
//! what is (and is not) kept in Redis and for how long, and a Redis that
//! goes away. The page's frames are kept only in the session's replay
//! buffer (already masked by the visitor's script), for the session's life. The session flow itself runs on two relays in `flow.rs`.

use std::collections::HashSet;
use std::time::Duration;

use protocol::{EndReason, ErrorCode, EventFrame, Mode, Seq, ToAgent, ToVisitor, VisitorMsg};
use relay::redis_backend::{self, Settings};
use relay::sessions::SessionStore;
use relay::{Backend, Config, RedisUrl, RelayError};
use tokio::net::{TcpListener, TcpStream};

use crate::redis_server::RedisServer;
use crate::support::{admit, Relay, Setup, WAIT};

/// A payload no key should ever contain.
fn secret_event(seq: u64) -> EventFrame {
    EventFrame {
        seq: Seq(seq),
        snapshot: seq == 1,
        payload: format!("<input value=\"card 4111-1111-1111-{seq:04}\">").into_bytes(),
    }
}

/// Every byte stored under `cobrowse:*`: key names, strings, hash fields
/// and values, set members.
async fn stored_bytes(redis: &RedisServer) -> Vec<u8> {
    let mut conn = redis.conn().await;
    let mut all = Vec::new();
    for key in redis.keys().await {
        all.extend_from_slice(key.as_bytes());
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .expect("type");
        match kind.as_str() {
            "string" => {
                let value: Vec<u8> = redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .expect("get");
                all.extend(value);
            }
            "hash" => {
                let pairs: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .expect("hgetall");
                for (field, value) in pairs {
                    all.extend(field);
                    all.extend(value);
                }
            }
            "list" => {
                let items: Vec<Vec<u8>> = redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut conn)
                    .await
                    .expect("lrange");
                all.extend(items.into_iter().flatten());
            }
            "set" => {
                let members: Vec<Vec<u8>> = redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .expect("smembers");
                all.extend(members.concat());
            }
            other => panic!("unexpected key type {other} for {key}"),
        }
    }
    all
}

#[tokio::test]
async fn keys_hold_routing_state_and_the_replay_buffer_only_and_vanish_when_the_session_ends() {
    let relay = Relay::on(Setup::TwoRelays).await;
    let redis = relay.redis.as_ref().expect("redis");
    let (mut visitor, session, mut code) = relay.start_session().await;
    let (mut agent, _) = relay.admitted_agent(&mut visitor, &mut code).await;
    for seq in 1..=20 {
        visitor.send(&VisitorMsg::Event(secret_event(seq))).await;
    }
    for seq in 1..=20 {
        assert_eq!(
            agent.recv::<ToAgent>().await,
            ToAgent::Event(secret_event(seq))
        );
    }

    // Really two relays: the agent is on the second one.
    relay.agents().wait_for_metric("agents_active 1").await;
    relay.wait_for_metric("agents_active 0").await;
    relay.wait_for_metric("sessions_active 1").await;

    let keys = redis.keys().await;
    let (resource_keys, session_keys): (Vec<&String>, Vec<&String>) =
        keys.iter().partition(|k| k.starts_with("cobrowse:res:"));
    // The count of the page origin's live sessions: a set of ids.
    let (origin_keys, session_keys): (Vec<&String>, Vec<&String>) = session_keys
        .into_iter()
        .partition(|k| k.starts_with("cobrowse:origin:"));
    assert_eq!(origin_keys.len(), 1, "{origin_keys:?}");
    let members: Vec<String> = redis::cmd("SMEMBERS")
        .arg(origin_keys[0])
        .query_async(&mut redis.conn().await)
        .await
        .expect("smembers");
    assert_eq!(members, vec![session.0.clone()]);
    assert_eq!(
        session_keys,
        vec![
            &format!("cobrowse:code:{code}"),
            &format!("cobrowse:rejoin:{session}"),
            &format!("cobrowse:replay:{session}"),
            &format!("cobrowse:replay:{session}:meta"),
            &format!("cobrowse:session:{session}"),
            &format!("cobrowse:session:{session}:agents"),
        ]
    );
    // The session's resource record and the indexes of its two secrets
    // (by digest: the secrets themselves are not key names).
    assert_eq!(resource_keys.len(), 3, "{resource_keys:?}");
    assert!(resource_keys[0].starts_with("cobrowse:res:key:"));
    assert_eq!(resource_keys[1], &format!("cobrowse:res:session:{session}"));
    assert!(resource_keys[2].starts_with("cobrowse:res:token:"));
    let mut conn = redis.conn().await;
    for key in &keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .expect("pttl");
        assert!(ttl > 0, "{key} has no TTL ({ttl})");
    }
    // The frames are in the replay buffer (the visitor's script masks
    // before anything leaves the page) and nowhere else.
    let stored = stored_bytes(redis).await;
    let needle = b"4111-1111";
    let count = stored.windows(needle.len()).filter(|w| w == needle).count();
    assert_eq!(count, 20, "each frame once, in the replay buffer only");
    let mut conn2 = redis.conn().await;
    let buffered: Vec<Vec<u8>> = redis::cmd("LRANGE")
        .arg(format!("cobrowse:replay:{session}"))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn2)
        .await
        .expect("lrange");
    assert_eq!(buffered.len(), 20);

    let channels = || async {
        let mut conn = redis.conn().await;
        let mut channels: Vec<String> = redis::cmd("PUBSUB")
            .arg("CHANNELS")
            .arg("cobrowse:*")
            .query_async(&mut conn)
            .await
            .expect("pubsub channels");
        channels.sort();
        channels
    };
    assert_eq!(
        channels().await,
        vec![
            format!("cobrowse:bus:{session}:agent:1"),
            format!("cobrowse:bus:{session}:visitor"),
        ]
    );

    visitor.send(&VisitorMsg::End).await;
    assert_eq!(
        agent.recv::<ToAgent>().await,
        ToAgent::Ended {
            reason: EndReason::VisitorEnded
        }
    );
    redis.wait_for_no_keys(WAIT).await;
    // Both relays stopped listening to the session's channels.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !channels().await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            channels().await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn codes_are_unique_across_relays() {
    let redis = RedisServer::start().await;
    let url = RedisUrl::parse(&redis.url()).expect("url");
    let (a, _bus_a) = redis_backend::connect(&url).await.expect("relay a");
    let (b, _bus_b) = redis_backend::connect(&url).await.expect("relay b");
    // Enough draws from a million codes that some collide (p > 0.98): only
    // SET NX keeps them apart.
    let many = |store: relay::redis_backend::RedisStore| async move {
        let mut codes = Vec::new();
        for _ in 0..1500 {
            codes.push(
                store
                    .create("u".into(), Duration::from_secs(60))
                    .await
                    .expect("created")
                    .code,
            );
        }
        codes
    };
    let (from_a, from_b) = tokio::join!(many(a), many(b));
    let all: HashSet<_> = from_a.iter().chain(&from_b).collect();
    assert_eq!(all.len(), 3000, "a code was handed out twice");
    let keys = redis.keys().await;
    assert_eq!(
        keys.iter()
            .filter(|k| k.starts_with("cobrowse:code:"))
            .count(),
        3000
    );
}

#[tokio::test]
async fn a_session_started_on_either_relay_is_joined_from_the_other() {
    let relay = Relay::on(Setup::TwoRelays).await;
    let (mut on_a, _, mut code_a) = relay.start_session().await;
    let (mut on_b, _, mut code_b) = relay.agents().start_session().await;
    assert_ne!(code_a, code_b);
    // An agent of relay B joins A's visitor, and one of relay A joins B's.
    let (mut agent_b, _) = relay.admitted_agent(&mut on_a, &mut code_a).await;
    let tcp = TcpStream::connect(relay.addr).await.expect("connect");
    let url = format!("ws://{}/ws/agent", relay.addr);
    let agent_a = relay.socket_over(url, tcp).await.expect("upgrade");
    let (agent_a, id) = relay.join_as(&mut on_b, &mut code_b, agent_a).await;
    let (mut agent_a, _) = admit(&mut on_b, agent_a, id).await;
    on_a.send(&VisitorMsg::Event(secret_event(1))).await;
    on_b.send(&VisitorMsg::Event(secret_event(2))).await;
    assert_eq!(
        agent_b.recv::<ToAgent>().await,
        ToAgent::Event(secret_event(1))
    );
    assert_eq!(
        agent_a.recv::<ToAgent>().await,
        ToAgent::Event(secret_event(2))
    );
}

#[tokio::test]
async fn a_dead_relays_sessions_expire_and_a_live_ones_do_not() {
    let redis = RedisServer::start().await;
    let url = RedisUrl::parse(&redis.url()).expect("url");
    let settings = Settings {
        session_ttl: Duration::from_millis(400),
        ..Settings::default()
    };
    let (store, bus) = redis_backend::connect_with(&url, settings)
        .await
        .expect("connect");
    let code_ttl = Duration::from_millis(500);
    let s = store.create("u".into(), code_ttl).await.expect("created");
    let joined = store
        .join(&s.code, Mode::ViewOnly, 8, code_ttl)
        .await
        .expect("joined");
    let fresh = joined.next_code.expect("a fresh code");
    assert!(redis
        .keys()
        .await
        .contains(&format!("cobrowse:code:{fresh}")));
    // Renewed while the relay lives, well past the TTL; the unused fresh
    // code expired on its own meanwhile.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut keys = redis.keys().await;
    keys.sort();
    assert_eq!(
        keys,
        [
            format!("cobrowse:session:{}", s.session),
            format!("cobrowse:session:{}:agents", s.session)
        ],
        "live session kept, unused code gone"
    );
    // The relay dies without ending its session: the keys go by themselves.
    drop((store, bus));
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.wait_for_no_keys(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn an_unreachable_redis_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut config = Config::new("/nonexistent");
    config.backend =
        Backend::from_redis_flag(Some(&format!("redis://127.0.0.1:{port}"))).expect("url");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let result = tokio::time::timeout(WAIT, relay::run(listener, config, std::future::pending()))
        .await
        .expect("gives up in time");
    match result {
        Err(RelayError::Config(message)) => assert!(
            message.contains(&format!("cannot reach Redis at redis://127.0.0.1:{port}")),
            "{message}"
        ),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[tokio::test]
async fn losing_redis_mid_session_tells_both_peers_and_the_relays_recover() {
    let mut relay = Relay::on(Setup::TwoRelays).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut agent, _) = relay.admitted_agent(&mut visitor, &mut code).await;
    visitor.send(&VisitorMsg::Event(secret_event(1))).await;
    assert_eq!(
        agent.recv::<ToAgent>().await,
        ToAgent::Event(secret_event(1))
    );

    relay.redis.as_mut().expect("redis").kill();
    // Each relay notices on its own pub/sub connection.
    let err = visitor.expect_visitor_error().await;
    assert_eq!(err.code, ErrorCode::Internal);
    assert!(err.message.contains("session store"), "{err:?}");
    let err = agent.expect_agent_error().await;
    assert_eq!(err.code, ErrorCode::Internal);

    // Both relays are still up, and refuse new sessions with an error
    // frame rather than hanging.
    assert_eq!(relay.get("/healthz").await.status, 200);
    assert_eq!(relay.agents().get("/healthz").await.status, 200);
    let mut late = relay.socket("/ws/visitor").await;
    late.hello(protocol::Hello::Visitor(protocol::VisitorHello {
        page_url: crate::support::PAGE.into(),
        resources: protocol::ResourcePolicy::default(),
        resume: None,
        invitation: None,
    }))
    .await;
    assert_eq!(late.expect_visitor_error().await.code, ErrorCode::Internal);

    // Redis comes back (empty): new sessions work across both relays again.
    relay.redis.as_mut().expect("redis").restart().await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut agent, _) = relay.admitted_agent(&mut visitor, &mut code).await;
    visitor.send(&VisitorMsg::Event(secret_event(2))).await;
    assert_eq!(
        agent.recv::<ToAgent>().await,
        ToAgent::Event(secret_event(2))
    );
    visitor.send(&VisitorMsg::End).await;
    assert!(matches!(
        agent.recv::<ToAgent>().await,
        ToAgent::Ended { .. }
    ));
}

/// Redis (by default) disconnects a pub/sub client whose output buffer
/// passes 32 MiB, so a larger snapshot cuts the agent's relay off: its
/// peers are told (the relay warns about this limit at start-up), the
/// visitor hears the agent left, and nothing hangs.
#[tokio::test]
async fn a_snapshot_over_redis_pubsub_buffer_limit_ends_the_agent_with_an_error() {
    let relay = Relay::on_with(Setup::TwoRelays, |c| {
        c.limits.max_frame_bytes = 64 * 1024 * 1024;
    })
    .await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut agent, id) = relay.admitted_agent(&mut visitor, &mut code).await;
    let big = EventFrame {
        seq: Seq(1),
        snapshot: true,
        payload: vec![7; 40 * 1024 * 1024],
    };
    visitor.send(&VisitorMsg::Event(big)).await;
    let err = agent.expect_agent_error().await;
    assert_eq!(err.code, ErrorCode::Internal);
    assert_eq!(
        visitor.recv::<ToVisitor>().await,
        ToVisitor::AgentLeft { agent: id }
    );
}
