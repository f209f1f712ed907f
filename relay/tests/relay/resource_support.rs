//! What the resource tests share: a visitor session with its upload token,
//! an admitted agent with its resource path, offers, chunked uploads and
//! the agent's URLs.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use protocol::{
    JoinCode, Offered, OfferedBody, ResourceHash, ResourcePolicy, ToAgent, ToVisitor, VisitorMsg,
};
use sha2::{Digest, Sha256};

use crate::support::{http_request, HttpResponse, Peer, Relay, PAGE};

pub const CHUNK: usize = 512 * 1024;

/// A visitor's session and its upload token.
pub struct Site {
    pub visitor: Peer,
    pub code: JoinCode,
    pub token: String,
}

pub async fn open_session(relay: &Relay, policy: ResourcePolicy) -> Site {
    let mut visitor = relay.socket("/ws/visitor").await;
    visitor
        .hello(protocol::Hello::Visitor(protocol::VisitorHello {
            page_url: PAGE.into(),
            resources: policy,
            resume: None,
            invitation: None,
        }))
        .await;
    match visitor.recv::<ToVisitor>().await {
        ToVisitor::Welcome {
            code, upload_token, ..
        } => {
            assert!(
                upload_token.len() >= 22,
                "at least 128 bits: {upload_token}"
            );
            Site {
                visitor,
                code,
                token: upload_token,
            }
        }
        other => panic!("expected Welcome, got {other:?}"),
    }
}

/// An agent the visitor admitted, and its resource path.
pub async fn admitted(relay: &Relay, site: &mut Site) -> (Peer, String) {
    let (mut agent, id) = relay.join(&mut site.visitor, &mut site.code).await;
    site.visitor
        .send(&VisitorMsg::Consent {
            agent: id,
            accepted: true,
        })
        .await;
    let resources = match agent.recv::<ToAgent>().await {
        ToAgent::Admitted { resources } => resources,
        other => panic!("expected Admitted, got {other:?}"),
    };
    assert_eq!(
        agent.recv::<ToAgent>().await,
        ToAgent::Mode(protocol::Mode::ViewOnly)
    );
    assert_eq!(
        site.visitor.recv::<ToVisitor>().await,
        ToVisitor::SnapshotNeeded
    );
    assert!(
        resources.starts_with("/res/s/") && resources.ends_with('/'),
        "{resources}"
    );
    (agent, resources)
}

pub fn sha(bytes: &[u8]) -> ResourceHash {
    ResourceHash(Sha256::digest(bytes).into())
}

pub fn offered(url: &str, bytes: &[u8], content_type: &str) -> Offered {
    Offered {
        url: url.into(),
        body: Some(OfferedBody {
            hash: sha(bytes),
            size: bytes.len() as u64,
            content_type: content_type.into(),
        }),
    }
}

pub fn unreadable(url: &str) -> Offered {
    Offered {
        url: url.into(),
        body: None,
    }
}

/// Sends one offer; returns the relay's want.
pub async fn offer(site: &mut Site, offers: Vec<Offered>) -> (Vec<ResourceHash>, Vec<String>) {
    site.visitor.send(&VisitorMsg::Offer(offers)).await;
    match site.visitor.recv::<ToVisitor>().await {
        ToVisitor::Want { hashes, more } => (hashes, more),
        other => panic!("expected Want, got {other:?}"),
    }
}

pub async fn put(
    relay: &Relay,
    token: &str,
    hash: &str,
    offset: usize,
    total: usize,
    chunk: &[u8],
) -> HttpResponse {
    let auth = format!("Bearer {token}");
    http_request(
        relay.addr,
        "PUT",
        &format!("/res/up/{hash}?offset={offset}&total={total}"),
        &[("Authorization", &auth)],
        chunk,
    )
    .await
}

/// Uploads `bytes` in chunks; returns the last answer.
pub async fn upload(relay: &Relay, token: &str, bytes: &[u8]) -> HttpResponse {
    let hash = sha(bytes).to_hex();
    let mut offset = 0;
    loop {
        let end = (offset + CHUNK).min(bytes.len());
        let answer = put(
            relay,
            token,
            &hash,
            offset,
            bytes.len(),
            &bytes[offset..end],
        )
        .await;
        offset = end;
        if answer.status != 200 || offset == bytes.len() {
            return answer;
        }
    }
}

pub fn json(response: &HttpResponse) -> serde_json::Value {
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "status {}",
        response.status
    );
    serde_json::from_slice(&response.body).expect("json")
}

/// The agent's path for `url` under its session's `resources` path.
pub fn res_path(resources: &str, url: &str) -> String {
    format!("{resources}{}", URL_SAFE_NO_PAD.encode(url))
}

/// Not quite random bytes that no sniffing takes for HTML.
pub fn png(len: usize, seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut x = u32::from(seed) + 1;
    while bytes.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        bytes.push((x >> 16) as u8);
    }
    bytes
}
