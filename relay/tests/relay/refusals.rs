//! Every way a peer is refused: an error frame a person can act on, then a
//! close with the matching code, and the `rejected_total` counter. Refusals
//! that depend on session state run on every backend.

use std::time::Duration;

use protocol::{AgentId, AgentMsg, ErrorCode, JoinCode, Mode, VisitorMsg};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{join_hello, visitor_hello, Relay, Setup, TOKEN};

on_every_backend!(
    unknown_code,
    bad_token,
    garbage_after_hello_ends_the_visitors_session,
    consent_for_an_agent_that_never_joined,
    resync_before_admission_is_out_of_turn,
    too_many_agents,
);

async fn unknown_code(setup: Setup) {
    let relay = Relay::on(setup).await;
    let code = JoinCode::parse("000000").expect("code");
    let mut agent = relay.agent_hello(TOKEN, &code, Mode::ViewOnly).await;
    let err = agent.expect_agent_error().await;
    assert_eq!(err.code, ErrorCode::UnknownCode);
    assert!(err.message.contains("code"), "{err:?}");
    relay
        .agents()
        .wait_for_metric("rejected_total{reason=\"unknown_code\"} 1")
        .await;
}

async fn bad_token(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, _, code) = relay.start_session().await;
    let mut agent = relay.agent_hello("wrong", &code, Mode::ViewOnly).await;
    assert_eq!(
        agent.expect_agent_error().await.code,
        ErrorCode::Unauthorized
    );
    // The visitor never heard of it.
    visitor.expect_silence(Duration::from_millis(200)).await;
    relay
        .agents()
        .wait_for_metric("rejected_total{reason=\"unauthorized\"} 1")
        .await;
}

#[tokio::test]
async fn no_token_scheme_configured() {
    let relay = Relay::with(|c| c.auth = relay::AgentAuth::none()).await;
    let (_visitor, _, code) = relay.start_session().await;
    let mut agent = relay.agent_hello(TOKEN, &code, Mode::ViewOnly).await;
    let err = agent.expect_agent_error().await;
    assert_eq!(err.code, ErrorCode::Unauthorized);
    assert!(err.message.contains("no agent token scheme"), "{err:?}");
}

#[tokio::test]
async fn version_mismatch_names_both_versions() {
    let relay = Relay::start().await;
    let mut visitor = relay.socket("/ws/visitor").await;
    let future = protocol::PROTOCOL_VERSION + 1;
    let hello = visitor_hello(None);
    visitor
        .send_bytes(protocol::encode(&(future, hello)).expect("encode"))
        .await;
    let err = visitor.expect_visitor_error().await;
    assert_eq!(err.code, ErrorCode::VersionMismatch);
    assert_eq!(err.code.close_code(), 4001);
    assert!(
        err.message
            .contains(&format!("version {}", protocol::PROTOCOL_VERSION)),
        "{err:?}"
    );
    assert!(
        err.message.contains(&format!("version {future}")),
        "{err:?}"
    );
}

#[tokio::test]
async fn garbage_hello() {
    let relay = Relay::start().await;
    let mut agent = relay.socket("/ws/agent").await;
    agent
        .send_bytes(b"\xc1 definitely not msgpack".to_vec())
        .await;
    assert_eq!(agent.expect_agent_error().await.code, ErrorCode::BadFrame);
    relay
        .wait_for_metric("rejected_total{reason=\"bad_frame\"} 1")
        .await;
}

async fn garbage_after_hello_ends_the_visitors_session(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut agent, _) = relay.admitted_agent(&mut visitor, &mut code).await;
    visitor.send_bytes(vec![0x93, 0xff, 0x00]).await;
    assert_eq!(
        visitor.expect_visitor_error().await.code,
        ErrorCode::BadFrame
    );
    assert_eq!(
        agent.recv::<protocol::ToAgent>().await,
        protocol::ToAgent::Ended {
            reason: protocol::EndReason::Error
        }
    );
}

#[tokio::test]
async fn text_frames_are_refused() {
    let relay = Relay::start().await;
    let mut visitor = relay.socket("/ws/visitor").await;
    futures_util::SinkExt::send(&mut visitor.ws, Message::Text("hello".into()))
        .await
        .expect("send");
    let err = visitor.expect_visitor_error().await;
    assert_eq!(err.code, ErrorCode::BadFrame);
    assert!(err.message.contains("binary"), "{err:?}");
}

#[tokio::test]
async fn oversized_frame() {
    let relay = Relay::with(|c| c.limits.max_frame_bytes = 4096).await;
    let (mut visitor, _, _) = relay.start_session().await;
    visitor.send_bytes(vec![0u8; 300_000]).await;
    let err = visitor.expect_visitor_error().await;
    assert_eq!(err.code, ErrorCode::FrameTooLarge);
    assert!(err.message.contains("4096"), "{err:?}");
    relay
        .wait_for_metric("rejected_total{reason=\"frame_too_large\"} 1")
        .await;
}

async fn consent_for_an_agent_that_never_joined(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, _, _) = relay.start_session().await;
    visitor
        .send(&VisitorMsg::Consent {
            agent: AgentId(42),
            accepted: true,
        })
        .await;
    let err = visitor.expect_visitor_error().await;
    assert_eq!(err.code, ErrorCode::BadFrame);
    assert!(err.message.contains("42"), "{err:?}");
}

async fn resync_before_admission_is_out_of_turn(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut agent, id) = relay.join(&mut visitor, &mut code).await;
    agent.send(&AgentMsg::Resync).await;
    assert_eq!(agent.expect_agent_error().await.code, ErrorCode::BadFrame);
    // The visitor learns the agent is gone; its session lives on.
    assert_eq!(
        visitor.recv::<protocol::ToVisitor>().await,
        protocol::ToVisitor::AgentLeft { agent: id }
    );
    let (_other, _) = relay.admitted_agent(&mut visitor, &mut code).await;
}

#[tokio::test]
async fn visitor_hello_on_the_agent_endpoint() {
    let relay = Relay::start().await;
    let mut agent = relay.socket("/ws/agent").await;
    agent.hello(visitor_hello(None)).await;
    assert_eq!(agent.expect_agent_error().await.code, ErrorCode::BadFrame);
}

async fn too_many_agents(setup: Setup) {
    let relay = Relay::on_with(setup, |c| c.limits.max_agents_per_session = 1).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (_first, _) = relay.join(&mut visitor, &mut code).await;
    let mut second = relay.socket("/ws/agent").await;
    second.hello(join_hello(TOKEN, &code, Mode::ViewOnly)).await;
    let err = second.expect_agent_error().await;
    assert_eq!(err.code, ErrorCode::NotAllowed);
    assert!(err.message.contains("limit of 1"), "{err:?}");
}

#[tokio::test]
async fn silent_connection_is_closed_after_the_hello_timeout() {
    let relay = Relay::with(|c| c.hello_timeout = Duration::from_millis(200)).await;
    let mut visitor = relay.socket("/ws/visitor").await;
    let err = visitor.expect_visitor_error().await;
    assert_eq!(err.code, ErrorCode::BadFrame);
    assert!(err.message.contains("hello"), "{err:?}");
}
