//! Who gets in: signed agent tokens (and the dev token only with its flag),
//! single-use expiring join codes, and the wrong-code rate limit per client
//! address and per agent, which never touches sessions already running.
//! Every refusal is checked for its error frame, close code and metric.

use std::time::Duration;

use protocol::{ErrorCode, ErrorFrame, JoinCode, Mode, ToAgent, ToVisitor, VisitorMsg};
use relay::{token, AgentAuth, AgentSecret, Claims, Config};
use tokio::net::TcpSocket;

use crate::flow::event;
use crate::support::{admit, expect_fresh_code, join_hello, Peer, Relay, Setup, TOKEN};

const SECRET: &str = "an-integrator-secret-of-32-bytes-at-least";

fn secret() -> AgentSecret {
    AgentSecret::new(SECRET).expect("valid secret")
}

/// Signed tokens and the dev token, both accepted.
fn signed_and_dev(config: &mut Config) {
    config.auth = AgentAuth::signed(secret())
        .with_dev_token(TOKEN.into())
        .expect("dev token");
}

fn signed_only(config: &mut Config) {
    config.auth = AgentAuth::signed(secret());
}

fn mint_with(secret: &AgentSecret, sub: &str, name: &str, exp: u64) -> String {
    let claims = Claims {
        sub: sub.into(),
        name: name.into(),
        exp,
    };
    token::mint(secret, &claims).expect("minted")
}

/// A token for `sub`, valid for an hour.
fn mint(sub: &str) -> String {
    mint_with(&secret(), sub, "Ann Smith", token::unix_now() + 3600)
}

/// An agent socket whose TCP connection comes from `ip` (any 127.x.y.z
/// works on Linux loopback), so tests can act as different client addresses.
async fn agent_from(relay: &Relay, ip: &str) -> Peer {
    let addr = relay.agents().addr;
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{ip}:0").parse().expect("addr"))
        .expect("bind");
    let tcp = socket.connect(addr).await.expect("connect");
    relay
        .socket_over(format!("ws://{addr}/ws/agent"), tcp)
        .await
        .expect("upgrade")
}

async fn hello(agent: &mut Peer, token: &str, code: &JoinCode) {
    agent.hello(join_hello(token, code, Mode::ViewOnly)).await;
}

/// An agent from `ip` presenting `token` and `code`; its refusal.
async fn refused(relay: &Relay, ip: &str, token: &str, code: &JoinCode) -> ErrorFrame {
    let mut agent = agent_from(relay, ip).await;
    hello(&mut agent, token, code).await;
    agent.expect_agent_error().await
}

/// Six digits no session holds (every draw avoids `live`).
fn wrong_code(live: &JoinCode, n: u32) -> JoinCode {
    let mut x = n;
    loop {
        let code = JoinCode::from_number(x % 1_000_000).expect("code");
        if &code != live {
            return code;
        }
        x += 1;
    }
}

on_every_backend!(
    a_signed_token_names_the_agent_to_the_visitor,
    a_used_code_admits_nobody_else,
    an_unused_code_expires_but_the_session_goes_on,
);

async fn a_signed_token_names_the_agent_to_the_visitor(setup: Setup) {
    let relay = Relay::on_with(setup, signed_and_dev).await;
    let (mut visitor, _, code) = relay.start_session().await;
    let mut agent = relay
        .agent_hello(&mint("agent-42"), &code, Mode::Shared)
        .await;
    let id = match agent.recv::<ToAgent>().await {
        ToAgent::Joined { agent, .. } => agent,
        other => panic!("expected Joined, got {other:?}"),
    };
    expect_fresh_code(&mut visitor, &code).await;
    assert_eq!(
        visitor.recv::<ToVisitor>().await,
        ToVisitor::AgentJoined {
            agent: id,
            name: "Ann Smith".into(),
            mode: Mode::Shared
        }
    );
}

async fn a_used_code_admits_nobody_else(setup: Setup) {
    let relay = Relay::on(setup).await;
    let (mut visitor, _, first_code) = relay.start_session().await;
    let mut code = first_code.clone();
    let (_first, _) = relay.join(&mut visitor, &mut code).await;
    let err = refused(&relay, "127.0.0.1", TOKEN, &first_code).await;
    assert_eq!(err.code, ErrorCode::UnknownCode);
    assert_eq!(err.code.close_code(), 4004);
    // The visitor heard nothing of the refused agent; the fresh code works.
    visitor.expect_silence(Duration::from_millis(200)).await;
    let (_second, id) = relay.join(&mut visitor, &mut code).await;
    assert_eq!(id.0, 2);
    relay
        .agents()
        .wait_for_metric("rejected_total{reason=\"unknown_code\"} 1")
        .await;
}

async fn an_unused_code_expires_but_the_session_goes_on(setup: Setup) {
    let relay = Relay::on_with(setup, |c| {
        c.limits.code_ttl = Duration::from_millis(300);
    })
    .await;
    let (mut visitor, _, code) = relay.start_session().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let err = refused(&relay, "127.0.0.1", TOKEN, &code).await;
    assert_eq!(err.code, ErrorCode::UnknownCode);
    // The session itself is alive: the visitor can still end it cleanly.
    visitor.send(&VisitorMsg::End).await;
    assert_eq!(visitor.expect_close().await.0, 1000);
}

#[tokio::test]
async fn expired_forged_foreign_and_malformed_tokens_are_refused() {
    let relay = Relay::with(signed_only).await;
    let (mut visitor, _, code) = relay.start_session().await;
    let now = token::unix_now();
    let expired = mint_with(&secret(), "agent-42", "Ann", now - 1);
    let foreign = AgentSecret::new("another-integrators-secret-32-bytes!!").expect("valid");
    let wrong_secret = mint_with(&foreign, "agent-42", "Ann", now + 3600);
    // A real token with its payload swapped for a more powerful one.
    let real = mint("agent-42");
    let boss = mint_with(&foreign, "boss", "Boss", now + 3600);
    let (_, mac) = real.split_once('.').expect("two parts");
    let (payload, _) = boss.split_once('.').expect("two parts");
    let forged = format!("{payload}.{mac}");
    let cases = [
        (expired, "expired"),
        (wrong_secret, "signature"),
        (forged, "signature"),
        ("not-a-token".to_owned(), "not a signed token"),
        // The dev token without --dev-agent-token is just a malformed token.
        (TOKEN.to_owned(), "not a signed token"),
    ];
    for (token, says) in &cases {
        let err = refused(&relay, "127.0.0.1", token, &code).await;
        assert_eq!(err.code, ErrorCode::Unauthorized, "{token}");
        assert_eq!(err.code.close_code(), 4005);
        assert!(err.message.contains(says), "{token}: {err:?}");
        assert!(!err.message.contains(SECRET), "{err:?}");
    }
    // Nobody reached the visitor, and no refused token spent a wrong-code try.
    visitor.expect_silence(Duration::from_millis(200)).await;
    relay
        .wait_for_metric(&format!(
            "rejected_total{{reason=\"unauthorized\"}} {}",
            cases.len()
        ))
        .await;
    let agent = agent_from(&relay, "127.0.0.1").await;
    let mut code = code;
    relay
        .join_with(&mut visitor, &mut code, agent, &mint("agent-42"))
        .await;
}

#[tokio::test]
async fn wrong_codes_say_nothing_about_which_codes_exist() {
    let relay = Relay::with(|c| {
        c.limits.code_ttl = Duration::from_millis(300);
        c.limits.code_guesses_per_minute = 100;
    })
    .await;
    let (mut visitor, _, used) = relay.start_session().await;
    let mut fresh = used.clone();
    let (_agent, _) = relay.join(&mut visitor, &mut fresh).await;
    let (_other, _, expiring) = relay.start_session().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let never = (424_242..)
        .map(|n| JoinCode::from_number(n).expect("code"))
        .find(|c| ![&used, &fresh, &expiring].contains(&c))
        .expect("a code nobody holds");
    let mut messages = Vec::new();
    for code in [&never, &used, &expiring] {
        let err = refused(&relay, "127.0.0.1", TOKEN, code).await;
        assert_eq!(err.code, ErrorCode::UnknownCode);
        messages.push(err.message);
    }
    assert_eq!(messages[0], messages[1], "used vs never issued");
    assert_eq!(messages[0], messages[2], "expired vs never issued");
}

#[tokio::test]
async fn guessing_is_rate_limited_per_address() {
    let relay = Relay::with(|c| {
        signed_only(c);
        c.limits.code_guesses_per_minute = 3;
    })
    .await;
    let (mut visitor, _, code) = relay.start_session().await;
    // Three agents from one address each guess once.
    for n in 0..3 {
        let err = refused(
            &relay,
            "127.0.0.2",
            &mint(&format!("guesser-{n}")),
            &wrong_code(&code, n),
        )
        .await;
        assert_eq!(err.code, ErrorCode::UnknownCode);
    }
    // Now even a new agent with the right code is refused from there...
    let err = refused(&relay, "127.0.0.2", &mint("newcomer"), &code).await;
    assert_eq!(err.code, ErrorCode::RateLimited);
    assert_eq!(err.code.close_code(), 4007);
    assert!(err.message.contains("wrong join codes"), "{err:?}");
    relay
        .wait_for_metric("rejected_total{reason=\"rate_limited\"} 1")
        .await;
    visitor.expect_silence(Duration::from_millis(200)).await;
    // ...while from another address it joins.
    let agent = agent_from(&relay, "127.0.0.3").await;
    let mut code = code;
    relay
        .join_with(&mut visitor, &mut code, agent, &mint("newcomer"))
        .await;
}

#[tokio::test]
async fn guessing_is_rate_limited_per_agent_whatever_its_address() {
    let relay = Relay::with(|c| {
        signed_only(c);
        c.limits.code_guesses_per_minute = 3;
    })
    .await;
    let (mut visitor, _, code) = relay.start_session().await;
    let mallory = mint("mallory");
    for (n, ip) in ["127.0.0.4", "127.0.0.5", "127.0.0.6"].iter().enumerate() {
        let err = refused(&relay, ip, &mallory, &wrong_code(&code, n as u32)).await;
        assert_eq!(err.code, ErrorCode::UnknownCode);
    }
    let err = refused(&relay, "127.0.0.7", &mallory, &code).await;
    assert_eq!(err.code, ErrorCode::RateLimited);
    // Another agent from that fresh address is not affected.
    let agent = agent_from(&relay, "127.0.0.7").await;
    let mut code = code;
    relay
        .join_with(&mut visitor, &mut code, agent, &mint("alice"))
        .await;
}

#[tokio::test]
async fn ongoing_sessions_are_not_affected_by_the_guess_limit() {
    let relay = Relay::with(|c| c.limits.code_guesses_per_minute = 2).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut watching, _) = relay.admitted_agent(&mut visitor, &mut code).await;
    // Someone on the same address (the dev token: the same agent identity,
    // too) burns through the limit.
    for n in 0..3 {
        let err = refused(&relay, "127.0.0.1", TOKEN, &wrong_code(&code, n)).await;
        assert_ne!(err.code, ErrorCode::Unauthorized);
    }
    assert_eq!(
        refused(&relay, "127.0.0.1", TOKEN, &code).await.code,
        ErrorCode::RateLimited
    );
    // The running session goes on: events flow, the agent can resync.
    for seq in 1..=5 {
        visitor.send(&VisitorMsg::Event(event(seq))).await;
    }
    for seq in 1..=5 {
        assert_eq!(watching.recv::<ToAgent>().await, ToAgent::Event(event(seq)));
    }
    watching.send(&protocol::AgentMsg::Resync).await;
    assert_eq!(visitor.recv::<ToVisitor>().await, ToVisitor::SnapshotNeeded);
    // And visitors from that address still start sessions.
    let (_another, _, _) = relay.start_session().await;
}

#[tokio::test]
async fn a_second_agent_joins_with_the_fresh_code_the_visitor_was_sent() {
    let relay = Relay::start().await;
    let (mut visitor, session, mut code) = relay.start_session().await;
    let first_code = code.clone();
    let (agent, id) = relay.join(&mut visitor, &mut code).await;
    assert_ne!(code, first_code);
    let (_first, _) = admit(&mut visitor, agent, id).await;
    let (_second, second) = relay.admitted_agent(&mut visitor, &mut code).await;
    assert_eq!(second.0, 2);
    // The Welcome names the same session.
    let mut third = relay.agent_hello(TOKEN, &code, Mode::ViewOnly).await;
    match third.recv::<ToAgent>().await {
        ToAgent::Joined { session: s, .. } => assert_eq!(s, session),
        other => panic!("expected Joined, got {other:?}"),
    }
}
