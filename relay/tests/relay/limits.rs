//! Issue 6's input limits: live sessions per page origin, and the message
//! rate of a visitor connection. Each refusal is an error frame with
//! `RateLimited`, a `rejected_total{reason="rate_limited"}` count and a
//! log line, and leaves every other session alone.

use std::time::Duration;

use futures_util::SinkExt;
use protocol::{AgentMsg, EndReason, ErrorCode, ToAgent, ToVisitor, VisitorMsg};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use crate::flow::event;
use crate::support::{visitor_hello, Peer, Relay, Setup, Welcome, WAIT};

const SHOP: &str = "https://shop.example";
const OTHER: &str = "https://other.example";
const RATE_LIMITED: &str = "rejected_total{reason=\"rate_limited\"}";

on_every_backend!(
    sessions_past_an_origins_limit_are_refused_but_a_resume_never_is,
    a_flooding_visitor_is_closed_as_rate_limited_and_other_sessions_go_on,
);

/// A visitor's hello from a page of `origin` (a new session, or resuming
/// with `resume`).
async fn visitor_from(relay: &Relay, origin: &str, resume: Option<String>) -> Peer {
    let addr = relay.addr;
    let mut request = format!("ws://{addr}/ws/visitor")
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("origin", HeaderValue::from_str(origin).expect("header"));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut visitor = relay.socket_over(request, tcp).await.expect("upgrade");
    visitor.hello(visitor_hello(resume)).await;
    visitor
}

async fn refused(relay: &Relay, origin: &str) {
    let mut visitor = visitor_from(relay, origin, None).await;
    let frame = visitor.expect_visitor_error().await;
    assert_eq!(frame.code, ErrorCode::RateLimited, "{frame:?}");
    assert!(
        frame.message.contains("live co-browsing sessions"),
        "{frame:?}"
    );
}

async fn sessions_past_an_origins_limit_are_refused_but_a_resume_never_is(setup: Setup) {
    let relay = Relay::on_with(setup, |c| c.limits.max_sessions_per_origin = 2).await;
    let mut first = visitor_from(&relay, SHOP, None).await;
    let first_welcome = Welcome::expect(&mut first).await;
    let mut second = visitor_from(&relay, SHOP, None).await;
    Welcome::expect(&mut second).await;

    refused(&relay, SHOP).await;
    relay.wait_for_metric(&format!("{RATE_LIMITED} 1")).await;
    // Another site has a count of its own.
    let mut other = visitor_from(&relay, OTHER, None).await;
    Welcome::expect(&mut other).await;

    // The first page goes away without ending: its session waits for the
    // next page and keeps its slot meanwhile...
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    refused(&relay, SHOP).await;
    // ...and the next page continues it although the site is full.
    let mut next_page = visitor_from(&relay, SHOP, Some(first_welcome.resume_token)).await;
    let resumed = Welcome::expect(&mut next_page).await;
    assert_eq!(resumed.session, first_welcome.session);

    // A session that ends frees its slot.
    second.send(&VisitorMsg::End).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut visitor = visitor_from(&relay, SHOP, None).await;
        match visitor.recv::<ToVisitor>().await {
            ToVisitor::Welcome { .. } => break,
            ToVisitor::Error(frame) => assert_eq!(frame.code, ErrorCode::RateLimited),
            other => panic!("expected Welcome or Error, got {other:?}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ended session's slot was never freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_origin_limit_can_be_turned_off() {
    let relay = Relay::with(|c| c.limits.max_sessions_per_origin = 0).await;
    let mut visitors = Vec::new();
    for _ in 0..5 {
        let mut visitor = visitor_from(&relay, SHOP, None).await;
        Welcome::expect(&mut visitor).await;
        visitors.push(visitor);
    }
    assert_eq!(relay.metric(RATE_LIMITED).await, 0);
}

#[tokio::test]
async fn ended_sessions_leave_no_origin_key_in_redis() {
    let relay = Relay::on_with(Setup::Redis, |c| c.limits.max_sessions_per_origin = 3).await;
    let redis = relay.redis.as_ref().expect("redis");
    let mut visitor = visitor_from(&relay, SHOP, None).await;
    Welcome::expect(&mut visitor).await;
    let keys = redis.keys().await;
    assert!(
        keys.iter().any(|k| k.starts_with("cobrowse:origin:")),
        "no origin set while a session lives: {keys:?}"
    );
    assert!(
        !keys.iter().any(|k| k.contains("shop.example")),
        "an origin is a hash in a key name, never the header itself: {keys:?}"
    );
    visitor.send(&VisitorMsg::End).await;
    redis.wait_for_no_keys_but_blobs().await;
}

async fn a_flooding_visitor_is_closed_as_rate_limited_and_other_sessions_go_on(setup: Setup) {
    // The one-time head start a resuming page gets is the replay bound.
    let relay = Relay::on_with(setup, |c| {
        c.limits.visitor_messages_per_second = 20;
        c.limits.replay_frames = 50;
    })
    .await;
    let (mut calm, _, mut calm_code) = relay.start_session().await;
    let (mut calm_agent, _) = relay.admitted_agent(&mut calm, &mut calm_code).await;
    let (mut flood, _, mut flood_code) = relay.start_session().await;
    let (mut flood_agent, _) = relay.admitted_agent(&mut flood, &mut flood_code).await;

    // Well past a second's burst and the head start, as fast as the socket
    // takes them (the relay may close the socket before the last ones are
    // written).
    for seq in 1..=200 {
        let bytes = protocol::encode(&VisitorMsg::Event(event(seq))).expect("encode");
        if flood.ws.feed(Message::Binary(bytes.into())).await.is_err() {
            break;
        }
    }
    let _ = flood.ws.flush().await;
    let frame = flood.expect_visitor_error().await;
    assert_eq!(frame.code, ErrorCode::RateLimited, "{frame:?}");
    assert!(frame.message.contains("20 messages a second"), "{frame:?}");
    relay.wait_for_metric(&format!("{RATE_LIMITED} 1")).await;
    // Its agent got what came within the budget, then the end.
    loop {
        match flood_agent.recv::<ToAgent>().await {
            ToAgent::Event(_) => continue,
            ToAgent::Ended { reason } => {
                assert_eq!(reason, EndReason::Error);
                break;
            }
            other => panic!("expected events then Ended, got {other:?}"),
        }
    }

    // The calm session goes on both ways.
    calm.send(&VisitorMsg::Event(event(1))).await;
    assert_eq!(calm_agent.recv::<ToAgent>().await, ToAgent::Event(event(1)));
    calm_agent.send(&AgentMsg::Resync).await;
    assert_eq!(calm.recv::<ToVisitor>().await, ToVisitor::SnapshotNeeded);
    // And a visitor within the budget is never cut off.
    for seq in 2..=10 {
        calm.send(&VisitorMsg::Event(event(seq))).await;
    }
    for seq in 2..=10 {
        assert_eq!(
            calm_agent.recv::<ToAgent>().await,
            ToAgent::Event(event(seq))
        );
    }
}
