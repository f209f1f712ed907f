//! Static resources on the shared backend: the Redis level of the cache
//! outlives a relay and expires after `cache.ttl`; two relays share uploads
//! (even one upload's chunks) and on-demand requests; a session's resource
//! keys go with the session, the cached bytes stay.

use std::time::Duration;

use protocol::{Mode, ResourcePolicy, ToAgent, ToVisitor, VisitorMsg};

use crate::redis_server::RedisServer;
use crate::resource_support::{
    admitted, json, offer, offered, open_session, png, put, res_path, sha, upload, CHUNK,
};
use crate::support::{Relay, Setup, TOKEN, WAIT};

const LOGO: &str = "https://shop.example/img/logo.png";

#[tokio::test]
async fn the_cache_survives_a_relay_restart_and_expires_after_cache_ttl() {
    let redis = RedisServer::start().await;
    let ttl = Duration::from_secs(2);
    let short = |c: &mut relay::Config| c.resources.cache_ttl = ttl;
    let logo = png(10_000, 20);

    let first = Relay::with_redis(&redis, short).await;
    let mut site = open_session(&first, ResourcePolicy::default()).await;
    offer(&mut site, vec![offered(LOGO, &logo, "image/png")]).await;
    assert_eq!(upload(&first, &site.token, &logo).await.status, 201);
    let blob = format!("cobrowse:res:blob:{}", sha(&logo).to_hex());
    assert!(redis.keys().await.contains(&blob));
    drop(site);
    first.stop().await.expect("stopped");

    // A new relay process on the same Redis: nothing to upload, and the
    // agent reads the bytes from the shared level.
    let second = Relay::with_redis(&redis, short).await;
    let mut site = open_session(&second, ResourcePolicy::default()).await;
    let (_agent, resources) = admitted(&second, &mut site).await;
    let (hashes, _) = offer(&mut site, vec![offered(LOGO, &logo, "image/png")]).await;
    assert!(hashes.is_empty(), "still cached in Redis: {hashes:?}");
    let served = second.get(&res_path(&resources, LOGO)).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.body, logo);
    second
        .wait_for_metric("resource_cache_hits_total{level=\"redis\"} 1")
        .await;

    // After cache.ttl both levels have let it go: a new offer wants it.
    tokio::time::sleep(ttl + Duration::from_millis(300)).await;
    assert!(!redis.keys().await.contains(&blob));
    let mut late = open_session(&second, ResourcePolicy::default()).await;
    let (hashes, _) = offer(&mut late, vec![offered(LOGO, &logo, "image/png")]).await;
    assert_eq!(hashes, vec![sha(&logo)]);
}

#[tokio::test]
async fn two_relays_share_uploads_and_requests() {
    let relay = Relay::on_with(Setup::TwoRelays, |c| {
        c.resources.wait = WAIT;
    })
    .await;
    let redis = relay.redis.as_ref().expect("redis");
    let other = relay.agents();
    let mut site = open_session(&relay, ResourcePolicy::default()).await;

    // The agent joins on the other relay; the visitor's fresh code comes
    // from there, with the same upload token.
    let mut agent = relay.agent_hello(TOKEN, &site.code, Mode::ViewOnly).await;
    let id = match agent.recv::<ToAgent>().await {
        ToAgent::Joined { agent, .. } => agent,
        other => panic!("expected Joined, got {other:?}"),
    };
    match site.visitor.recv::<ToVisitor>().await {
        ToVisitor::Welcome { upload_token, .. } => assert_eq!(upload_token, site.token),
        other => panic!("expected Welcome, got {other:?}"),
    }
    assert!(matches!(
        site.visitor.recv::<ToVisitor>().await,
        ToVisitor::AgentJoined { .. }
    ));
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
    crate::support::expect_rejoin_token(&mut agent).await;
    assert_eq!(
        site.visitor.recv::<ToVisitor>().await,
        ToVisitor::SnapshotNeeded
    );

    // One upload, its chunks through both relays.
    let logo = png(CHUNK + 5000, 21);
    let hash = sha(&logo).to_hex();
    offer(&mut site, vec![offered(LOGO, &logo, "image/png")]).await;
    let first = put(&relay, &site.token, &hash, 0, logo.len(), &logo[..CHUNK]).await;
    assert_eq!(json(&first)["received"], CHUNK);
    let last = put(other, &site.token, &hash, CHUNK, logo.len(), &logo[CHUNK..]).await;
    assert_eq!(last.status, 201);
    let served = other.get(&res_path(&resources, LOGO)).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.body, logo);

    // The agent's relay asks the visitor on the first relay for a URL.
    let late = "https://shop.example/img/late.png";
    let path = res_path(&resources, late);
    let addr = other.addr;
    let request =
        tokio::spawn(
            async move { crate::support::http_request(addr, "GET", &path, &[], &[]).await },
        );
    match site.visitor.recv::<ToVisitor>().await {
        ToVisitor::Want { more, .. } => assert_eq!(more, vec![late.to_owned()]),
        other => panic!("expected Want, got {other:?}"),
    }
    let bytes = png(700, 22);
    offer(&mut site, vec![offered(late, &bytes, "image/png")]).await;
    assert_eq!(upload(&relay, &site.token, &bytes).await.status, 201);
    assert_eq!(request.await.expect("request").body, bytes);

    // The session's resource keys end with it; the cached bytes stay.
    site.visitor.send(&VisitorMsg::End).await;
    assert!(matches!(
        agent.recv::<ToAgent>().await,
        ToAgent::Ended { .. }
    ));
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let keys = redis.keys().await;
        let session_keys: Vec<_> = keys
            .iter()
            .filter(|k| !k.starts_with("cobrowse:res:blob:"))
            .collect();
        if session_keys.is_empty() {
            assert_eq!(keys.len(), 2, "both blobs stay: {keys:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "left behind: {session_keys:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(other.get(&res_path(&resources, LOGO)).await.status, 404);
}
