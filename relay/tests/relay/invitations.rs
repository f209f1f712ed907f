//! Agent-initiated sessions: the integrator API (`POST`/`DELETE
//! /api/invitations`), the inviting agent waiting on its socket, the
//! visitor's page taking the invitation up, and every refusal. On every
//! backend: with two relays the invitation is made and waited for on the
//! agents' relay and taken up on the visitors' one.

use std::time::Duration;

use protocol::{
    AgentMsg, EndReason, ErrorCode, Hello, JoinCode, Mode, ToAgent, ToVisitor, VisitorHello,
    VisitorMsg,
};
use relay::{token, AgentAuth, AgentSecret, Claims, Config};

use crate::support::{
    admit_in, http_request, join_hello, HttpResponse, Peer, Relay, Setup, PAGE, TOKEN,
};

on_every_backend!(
    an_invited_agent_waits_and_joins_when_the_visitor_takes_the_invitation,
    an_agent_arriving_after_the_visitor_joins_at_once,
    one_open_invitation_per_agent_and_cancelling_frees_it,
    a_stale_or_made_up_invitation_never_starts_a_session,
    cancelling_tells_the_waiting_agent,
    a_waiting_agent_is_told_when_the_invitation_expires,
    only_the_inviting_agent_may_use_the_code,
);

const SECRET: &str = "an-integrator-secret-of-32-bytes-at-least";

fn signed_and_dev(config: &mut Config) {
    config.auth = AgentAuth::signed(AgentSecret::new(SECRET).expect("secret"))
        .with_dev_token(TOKEN.into())
        .expect("dev token");
}

fn mint(sub: &str) -> String {
    let secret = AgentSecret::new(SECRET).expect("secret");
    let claims = Claims {
        sub: sub.into(),
        name: format!("Agent {sub}"),
        exp: token::unix_now() + 3600,
    };
    token::mint(&secret, &claims).expect("minted")
}

/// What `POST /api/invitations` answered.
struct Created {
    secret: String,
    code: JoinCode,
}

async fn post(relay: &Relay, token: &str, body: &str) -> HttpResponse {
    let auth = format!("Bearer {token}");
    http_request(
        relay.agents().addr,
        "POST",
        "/api/invitations",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .await
}

fn json(response: &HttpResponse) -> serde_json::Value {
    serde_json::from_slice(&response.body).expect("JSON body")
}

async fn invite(relay: &Relay, token: &str, body: &str) -> Created {
    let response = post(relay, token, body).await;
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let v = json(&response);
    assert_eq!(v["expires_in"], 1200, "the code's expiry: {v}");
    let secret = v["invitation"].as_str().expect("secret").to_owned();
    assert!(secret.len() >= 43, "a long random secret");
    Created {
        secret,
        code: JoinCode::parse(v["code"].as_str().expect("code")).expect("6 digits"),
    }
}

async fn cancel(relay: &Relay, token: &str, secret: &str) -> HttpResponse {
    let auth = format!("Bearer {token}");
    let path = format!("/api/invitations/{secret}");
    http_request(
        relay.agents().addr,
        "DELETE",
        &path,
        &[("Authorization", &auth)],
        b"",
    )
    .await
}

/// A visitor's page starting with `invitation`; nothing read yet.
async fn visitor_with(relay: &Relay, invitation: &str) -> Peer {
    let mut visitor = relay.socket("/ws/visitor").await;
    visitor
        .hello(Hello::Visitor(VisitorHello {
            page_url: PAGE.into(),
            resources: protocol::ResourcePolicy::default(),
            resume: None,
            invitation: Some(invitation.into()),
        }))
        .await;
    visitor
}

async fn agent_with(relay: &Relay, token: &str, code: &JoinCode) -> Peer {
    let mut agent = relay.socket("/ws/agent").await;
    agent.hello(join_hello(token, code, Mode::ViewOnly)).await;
    agent
}

async fn expect_invited(agent: &mut Peer) {
    match agent.recv::<ToAgent>().await {
        ToAgent::Invited { expires_secs } => {
            assert!((1100..=1200).contains(&expires_secs), "{expires_secs}")
        }
        other => panic!("expected Invited, got {other:?}"),
    }
}

/// The visitor's welcome carries the invitation's code.
async fn expect_welcome(visitor: &mut Peer, code: &JoinCode) {
    match visitor.recv::<ToVisitor>().await {
        ToVisitor::Welcome { code: got, .. } => assert_eq!(&got, code),
        other => panic!("expected Welcome, got {other:?}"),
    }
}

/// The agent joins, the visitor is asked (with a fresh code for the next
/// agent), accepts, and the agent is admitted in `mode`.
async fn joins_and_is_admitted(visitor: &mut Peer, mut agent: Peer, mode: Mode) -> Peer {
    let id = match agent.recv::<ToAgent>().await {
        ToAgent::Joined {
            agent, page_url, ..
        } => {
            assert_eq!(page_url, PAGE);
            agent
        }
        other => panic!("expected Joined, got {other:?}"),
    };
    // The fresh code for a next agent, then the question.
    assert!(matches!(
        visitor.recv::<ToVisitor>().await,
        ToVisitor::Welcome { .. }
    ));
    match visitor.recv::<ToVisitor>().await {
        ToVisitor::AgentJoined {
            agent: got,
            mode: asked,
            ..
        } => {
            assert_eq!(got, id);
            assert_eq!(asked, mode, "the invitation's mode");
        }
        other => panic!("expected AgentJoined, got {other:?}"),
    }
    admit_in(visitor, agent, id, mode).await.0
}

async fn an_invited_agent_waits_and_joins_when_the_visitor_takes_the_invitation(setup: Setup) {
    let relay = Relay::on(setup).await;
    let inv = invite(&relay, TOKEN, r#"{"mode":"shared"}"#).await;
    let mut agent = agent_with(&relay, TOKEN, &inv.code).await;
    expect_invited(&mut agent).await;
    // Waiting is quiet: no session, nothing to see.
    agent.expect_silence(Duration::from_millis(200)).await;
    let mut visitor = visitor_with(&relay, &inv.secret).await;
    expect_welcome(&mut visitor, &inv.code).await;
    let mut agent = joins_and_is_admitted(&mut visitor, agent, Mode::Shared).await;
    // A session like any other: the visitor's End reaches the agent.
    visitor.send(&VisitorMsg::End).await;
    assert_eq!(
        agent.recv::<ToAgent>().await,
        ToAgent::Ended {
            reason: EndReason::VisitorEnded
        }
    );
    // The invitation is spent: it starts no second session.
    let mut again = visitor_with(&relay, &inv.secret).await;
    assert_eq!(
        again.expect_visitor_error().await.code,
        ErrorCode::NotAllowed
    );
}

async fn an_agent_arriving_after_the_visitor_joins_at_once(setup: Setup) {
    let relay = Relay::on(setup).await;
    let inv = invite(&relay, TOKEN, "").await;
    let mut visitor = visitor_with(&relay, &inv.secret).await;
    expect_welcome(&mut visitor, &inv.code).await;
    let agent = agent_with(&relay, TOKEN, &inv.code).await;
    joins_and_is_admitted(&mut visitor, agent, Mode::ViewOnly).await;
}

async fn one_open_invitation_per_agent_and_cancelling_frees_it(setup: Setup) {
    let relay = Relay::on_with(setup, signed_and_dev).await;
    let ann = mint("ann");
    let first = invite(&relay, &ann, "").await;
    let second = post(&relay, &ann, "").await;
    assert_eq!(second.status, 409);
    let message = json(&second)["error"]
        .as_str()
        .expect("sentence")
        .to_owned();
    assert!(message.contains("open invitation"), "{message}");
    // Another agent is not affected.
    invite(&relay, &mint("bob"), "").await;
    // Someone else cannot cancel Ann's; Ann can, once.
    assert_eq!(
        cancel(&relay, &mint("eve"), &first.secret).await.status,
        404
    );
    assert_eq!(cancel(&relay, &ann, &first.secret).await.status, 204);
    assert_eq!(cancel(&relay, &ann, &first.secret).await.status, 404);
    let third = invite(&relay, &ann, "").await;
    // The cancelled one is dead for the visitor too.
    let mut visitor = visitor_with(&relay, &first.secret).await;
    assert_eq!(
        visitor.expect_visitor_error().await.code,
        ErrorCode::NotAllowed
    );
    // While Ann is in a live session she cannot invite either.
    let mut visitor = visitor_with(&relay, &third.secret).await;
    expect_welcome(&mut visitor, &third.code).await;
    let agent = agent_with(&relay, &ann, &third.code).await;
    let _agent = joins_and_is_admitted(&mut visitor, agent, Mode::ViewOnly).await;
    assert_eq!(post(&relay, &ann, "").await.status, 409);
    // Refusals are JSON sentences.
    assert_eq!(post(&relay, "wrong-token", "").await.status, 401);
    assert_eq!(
        post(&relay, &mint("carl"), r#"{"mode":"admin"}"#)
            .await
            .status,
        400
    );
}

async fn a_stale_or_made_up_invitation_never_starts_a_session(setup: Setup) {
    let relay = Relay::on(setup).await;
    for made_up in ["", "not-a-secret", &"A".repeat(43)] {
        let mut visitor = visitor_with(&relay, made_up).await;
        let err = visitor.expect_visitor_error().await;
        assert_eq!(err.code, ErrorCode::NotAllowed);
        assert!(err.message.contains("invitation"), "{}", err.message);
    }
    // Guessing is limited like codes (5 a minute per address by default).
    let mut visitor = visitor_with(&relay, &"B".repeat(43)).await;
    visitor.expect_visitor_error().await;
    let mut visitor = visitor_with(&relay, &"C".repeat(43)).await;
    visitor.expect_visitor_error().await;
    let inv = invite(&relay, TOKEN, "").await;
    let mut visitor = visitor_with(&relay, &inv.secret).await;
    assert_eq!(
        visitor.expect_visitor_error().await.code,
        ErrorCode::RateLimited
    );
}

async fn cancelling_tells_the_waiting_agent(setup: Setup) {
    let relay = Relay::on(setup).await;
    let inv = invite(&relay, TOKEN, "").await;
    let mut agent = agent_with(&relay, TOKEN, &inv.code).await;
    expect_invited(&mut agent).await;
    assert_eq!(cancel(&relay, TOKEN, &inv.secret).await.status, 204);
    assert_eq!(
        agent.recv::<ToAgent>().await,
        ToAgent::Ended {
            reason: EndReason::InvitationCancelled
        }
    );
    // And the code no longer waits for anyone.
    let mut late = agent_with(&relay, TOKEN, &inv.code).await;
    assert_eq!(late.expect_agent_error().await.code, ErrorCode::UnknownCode);
}

async fn a_waiting_agent_is_told_when_the_invitation_expires(setup: Setup) {
    let relay = Relay::on_with(setup, |c| c.limits.code_ttl = Duration::from_secs(2)).await;
    let response = post(&relay, TOKEN, "").await;
    assert_eq!(response.status, 201);
    let v = json(&response);
    let code = JoinCode::parse(v["code"].as_str().expect("code")).expect("code");
    let mut agent = agent_with(&relay, TOKEN, &code).await;
    assert!(
        matches!(agent.recv::<ToAgent>().await, ToAgent::Invited { expires_secs } if expires_secs <= 2)
    );
    assert_eq!(
        agent.recv::<ToAgent>().await,
        ToAgent::Ended {
            reason: EndReason::InvitationExpired
        }
    );
    let (code, reason) = agent.expect_close().await;
    assert_eq!(code, 1000);
    assert!(reason.contains("invitation expired"), "{reason}");
    // Leaving while waiting is heard too.
    let inv = invite_secret(&relay).await;
    let mut agent = agent_with(&relay, TOKEN, &inv).await;
    assert!(matches!(
        agent.recv::<ToAgent>().await,
        ToAgent::Invited { .. }
    ));
    agent.send(&AgentMsg::Leave).await;
    assert_eq!(
        agent.recv::<ToAgent>().await,
        ToAgent::Ended {
            reason: EndReason::AgentLeft
        }
    );
}

/// A fresh invitation's code (any TTL).
async fn invite_secret(relay: &Relay) -> JoinCode {
    let response = post(relay, TOKEN, "").await;
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    JoinCode::parse(json(&response)["code"].as_str().expect("code")).expect("code")
}

async fn only_the_inviting_agent_may_use_the_code(setup: Setup) {
    let relay = Relay::on_with(setup, signed_and_dev).await;
    let inv = invite(&relay, &mint("ann"), "").await;
    // Before the visitor came and after: the answer to a wrong code.
    let mut bob = agent_with(&relay, &mint("bob"), &inv.code).await;
    assert_eq!(bob.expect_agent_error().await.code, ErrorCode::UnknownCode);
    let mut visitor = visitor_with(&relay, &inv.secret).await;
    expect_welcome(&mut visitor, &inv.code).await;
    let mut bob = agent_with(&relay, &mint("bob"), &inv.code).await;
    assert_eq!(bob.expect_agent_error().await.code, ErrorCode::UnknownCode);
    visitor.expect_silence(Duration::from_millis(200)).await;
    let ann = agent_with(&relay, &mint("ann"), &inv.code).await;
    joins_and_is_admitted(&mut visitor, ann, Mode::ViewOnly).await;
}
