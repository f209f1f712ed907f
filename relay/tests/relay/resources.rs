//! Static resources, the visitor's side and the cache: offers and wants,
//! chunked and resumed uploads, every refusal, and what an agent reads
//! through its session's key.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use protocol::{ResourcePolicy, ToVisitor};

use crate::resource_support::{
    admitted, json, offer, offered, open_session, png, put, res_path, sha, upload, CHUNK,
};
use crate::support::{http_request, HttpResponse, Relay};

const LOGO: &str = "https://shop.example/img/logo.png";

#[tokio::test]
async fn an_offer_is_wanted_uploaded_in_chunks_and_read_by_the_admitted_agent() {
    let relay = Relay::start().await;
    let mut site = open_session(&relay, ResourcePolicy::default()).await;
    let (_agent, resources) = admitted(&relay, &mut site).await;
    let logo = png(CHUNK + 100_000, 1);
    let (hashes, more) = offer(&mut site, vec![offered(LOGO, &logo, "image/png")]).await;
    assert_eq!(hashes, vec![sha(&logo)]);
    assert!(more.is_empty());

    let hash = sha(&logo).to_hex();
    let first = put(&relay, &site.token, &hash, 0, logo.len(), &logo[..CHUNK]).await;
    assert_eq!(first.status, 200);
    assert_eq!(json(&first)["received"], CHUNK);
    let last = put(
        &relay,
        &site.token,
        &hash,
        CHUNK,
        logo.len(),
        &logo[CHUNK..],
    )
    .await;
    assert_eq!(last.status, 201);
    assert_eq!(json(&last)["received"], logo.len());
    assert_eq!(json(&last)["more"], serde_json::json!([]));

    // The URL's fragment is not part of the resource.
    let served = relay
        .get(&format!("{}#frag", res_path(&resources, LOGO)))
        .await;
    assert_eq!(served.status, 200);
    assert_eq!(served.body, logo);
    assert_eq!(served.header("content-type"), Some("image/png"));
    assert_eq!(served.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        served.header("content-security-policy"),
        Some("sandbox; default-src 'none'")
    );
    assert_eq!(served.header("cache-control"), Some("no-cache"));
    let etag = served.header("etag").expect("etag").to_owned();
    assert_eq!(etag, format!("\"{hash}\""));
    let again = http_request(
        relay.addr,
        "GET",
        &res_path(&resources, LOGO),
        &[("If-None-Match", &etag)],
        &[],
    )
    .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());

    let text = relay.metrics().await;
    for line in [
        format!("resource_bytes_uploaded_total {}", logo.len()),
        "resource_uploads_total 1".to_owned(),
        format!("resource_bytes_served_total {}", logo.len()),
        "resource_cache_hits_total{level=\"local\"} 2".to_owned(),
        "resource_cache_hits_total{level=\"redis\"} 0".to_owned(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
}

#[tokio::test]
async fn a_second_session_offering_the_same_bytes_uploads_nothing() {
    let relay = Relay::start().await;
    let logo = png(2000, 2);
    let mut first = open_session(&relay, ResourcePolicy::default()).await;
    let (hashes, _) = offer(&mut first, vec![offered(LOGO, &logo, "image/png")]).await;
    assert_eq!(hashes.len(), 1);
    assert_eq!(upload(&relay, &first.token, &logo).await.status, 201);

    let mut second = open_session(&relay, ResourcePolicy::default()).await;
    let (_agent, resources) = admitted(&relay, &mut second).await;
    // Another URL, the same bytes: content addressed.
    let copy = "https://cdn.example/logo-copy.png";
    let (hashes, more) = offer(&mut second, vec![offered(copy, &logo, "image/png")]).await;
    assert!(hashes.is_empty(), "already cached: {hashes:?}");
    assert!(more.is_empty());
    let served = relay.get(&res_path(&resources, copy)).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.body, logo);
    relay
        .wait_for_metric(&format!("resource_bytes_uploaded_total {}", logo.len()))
        .await;
}

#[tokio::test]
async fn refusals_say_why_with_their_status() {
    let relay = Relay::with(|c| {
        c.resources.session_budget_bytes = 5000;
        c.resources.max_resource_bytes = 4000;
    })
    .await;
    let mut site = open_session(&relay, ResourcePolicy::default()).await;
    let small = png(1000, 3);
    let other = png(3000, 4);
    let big = png(4001, 5);
    let disguised = b"<!DOCTYPE html><html><title>Please log in</title></html>".to_vec();
    let declared_html = b"<p>hello</p>".to_vec();
    let (hashes, _) = offer(
        &mut site,
        vec![
            offered("https://shop.example/a.png", &small, "image/png"),
            offered("https://shop.example/b.png", &other, "image/png"),
            offered("https://shop.example/big.png", &big, "image/png"),
            offered("https://shop.example/trap.png", &disguised, "image/png"),
            offered("https://shop.example/page", &declared_html, "text/html"),
        ],
    )
    .await;
    // Oversized and refused types are not even asked for.
    assert_eq!(hashes, vec![sha(&small), sha(&other), sha(&disguised)]);
    let expect = |response: HttpResponse, status: u16, words: &str| {
        assert_eq!(
            response.status,
            status,
            "{:?}",
            String::from_utf8_lossy(&response.body)
        );
        let error = json(&response)["error"].as_str().expect("error").to_owned();
        assert!(error.contains(words), "{error:?} lacks {words:?}");
        assert!(error.ends_with('.'), "a sentence: {error:?}");
    };
    let h = sha(&small).to_hex();

    // 401: no token, a wrong one.
    let none = http_request(
        relay.addr,
        "PUT",
        &format!("/res/up/{h}?offset=0&total=1000"),
        &[],
        &small,
    )
    .await;
    expect(none, 401, "upload token");
    expect(
        put(&relay, "not-the-token", &h, 0, 1000, &small).await,
        401,
        "upload token",
    );
    // 404: a hash this session never offered.
    let stranger = sha(b"never offered").to_hex();
    expect(
        put(&relay, &site.token, &stranger, 0, 5, b"never").await,
        404,
        "did not offer",
    );
    // 400: not a hash, bad positions.
    expect(
        put(&relay, &site.token, "xyz", 0, 5, b"never").await,
        400,
        "64 hex digits",
    );
    expect(put(&relay, &site.token, &h, 5, 2, b"").await, 400, "offset");
    expect(
        put(&relay, &site.token, &h, 0, 999, &small).await,
        400,
        "offered with 1000",
    );
    let wrong_offset = put(&relay, &site.token, &h, 10, 1000, &small[10..20]).await;
    assert_eq!(json(&wrong_offset)["received"], 0);
    expect(wrong_offset, 400, "resume from 0");
    // 409: bytes that are not the hash's.
    let mut forged = small.clone();
    forged[500] ^= 1;
    expect(
        put(&relay, &site.token, &h, 0, 1000, &forged).await,
        409,
        "another file's hash",
    );
    // The refused upload is not charged: the real one still fits.
    assert_eq!(
        put(&relay, &site.token, &h, 0, 1000, &small).await.status,
        201
    );
    // 413: over the per-resource limit, then over the session's budget.
    expect(
        put(&relay, &site.token, &sha(&big).to_hex(), 0, 4001, &big).await,
        413,
        "limit of 4000 bytes",
    );
    let trap = sha(&disguised).to_hex();
    // 415: HTML posing as an image, and a declared HTML page.
    expect(
        put(&relay, &site.token, &trap, 0, disguised.len(), &disguised).await,
        415,
        "HTML document",
    );
    expect(
        put(
            &relay,
            &site.token,
            &sha(&declared_html).to_hex(),
            0,
            declared_html.len(),
            &declared_html,
        )
        .await,
        415,
        "text/html",
    );
    let b = sha(&other).to_hex();
    let half = put(&relay, &site.token, &b, 0, 3000, &other[..1500]).await;
    assert_eq!(half.status, 200, "1000 + 3000 fits 5000");
    let mut site2 = open_session(&relay, ResourcePolicy::default()).await;
    let more = png(4000, 6);
    let third = "https://shop.example/c.png";
    offer(&mut site, vec![offered(third, &more, "image/png")]).await;
    expect(
        put(
            &relay,
            &site.token,
            &sha(&more).to_hex(),
            0,
            4000,
            &more[..100],
        )
        .await,
        413,
        "budget of 5000 bytes",
    );
    // Budgets are per session.
    offer(&mut site2, vec![offered(third, &more, "image/png")]).await;
    assert_eq!(upload(&relay, &site2.token, &more).await.status, 201);
    // 413: a chunk over 512 KiB.
    let huge = vec![0u8; CHUNK + 1];
    expect(
        put(&relay, &site.token, &b, 1500, 3000, &huge).await,
        413,
        "at most 524288 bytes",
    );

    let text = relay.metrics().await;
    for reason in [
        "unauthorized",
        "not_offered",
        "bad_request",
        "hash_mismatch",
        "too_large",
        "over_budget",
        "refused_type",
    ] {
        assert!(
            text.lines().any(|l| l
                .starts_with(&format!("resource_refusals_total{{reason=\"{reason}\"}} "))
                && !l.ends_with(" 0")),
            "{reason} not counted:\n{text}"
        );
    }
}

#[tokio::test]
async fn a_dropped_upload_resumes_from_what_the_relay_holds() {
    let relay = Relay::start().await;
    let mut site = open_session(&relay, ResourcePolicy::default()).await;
    let (_agent, resources) = admitted(&relay, &mut site).await;
    let logo = png(300_000, 7);
    let hash = sha(&logo).to_hex();
    offer(&mut site, vec![offered(LOGO, &logo, "image/png")]).await;
    let auth = format!("Bearer {}", site.token);
    let progress = || async {
        json(
            &http_request(
                relay.addr,
                "GET",
                &format!("/res/up/{hash}"),
                &[("Authorization", &auth)],
                &[],
            )
            .await,
        )
    };
    assert_eq!(progress().await["received"], 0);
    let part = put(&relay, &site.token, &hash, 0, logo.len(), &logo[..123_456]).await;
    assert_eq!(part.status, 200);
    // The connection drops here; the visitor asks where to resume.
    assert_eq!(progress().await["received"], 123_456);
    let rest = put(
        &relay,
        &site.token,
        &hash,
        123_456,
        logo.len(),
        &logo[123_456..],
    )
    .await;
    assert_eq!(rest.status, 201);
    assert_eq!(progress().await["received"], logo.len());
    let served = relay.get(&res_path(&resources, LOGO)).await;
    assert_eq!(served.body, logo);
    // Without the token, progress is not told.
    let anonymous = http_request(relay.addr, "GET", &format!("/res/up/{hash}"), &[], &[]).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn an_agent_of_another_session_gets_404_for_the_first_sessions_url() {
    let relay = Relay::with(|c| {
        c.resources.strict = true;
        c.resources.wait = Duration::from_millis(300);
    })
    .await;
    let logo = png(5000, 8);
    let mut first = open_session(&relay, ResourcePolicy::default()).await;
    let (_a, first_path) = admitted(&relay, &mut first).await;
    offer(&mut first, vec![offered(LOGO, &logo, "image/png")]).await;
    assert_eq!(upload(&relay, &first.token, &logo).await.status, 201);
    assert_eq!(relay.get(&res_path(&first_path, LOGO)).await.status, 200);

    let mut second = open_session(&relay, ResourcePolicy::default()).await;
    let (_b, second_path) = admitted(&relay, &mut second).await;
    assert_ne!(first_path, second_path);
    let stolen = relay.get(&res_path(&second_path, LOGO)).await;
    assert_eq!(stolen.status, 404);
    assert_ne!(stolen.body, logo);
    // The relay asked the second visitor, who does not have it.
    match second.visitor.recv::<ToVisitor>().await {
        ToVisitor::Want { hashes, more } => {
            assert!(hashes.is_empty());
            assert_eq!(more, vec![LOGO.to_owned()]);
        }
        other => panic!("expected Want, got {other:?}"),
    }
    // A made-up key reads nothing either.
    let guessed = relay
        .get(&res_path(
            "/res/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
            LOGO,
        ))
        .await;
    assert_eq!(guessed.status, 404);
    assert!(json(&guessed)["error"]
        .as_str()
        .expect("error")
        .contains("resource key"));
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_never_hurts_the_relay() {
    let relay = Relay::start().await;
    let mut site = open_session(&relay, ResourcePolicy::default()).await;
    let (_agent, resources) = admitted(&relay, &mut site).await;
    let auth = format!("Bearer {}", site.token);
    let h = sha(b"x").to_hex();
    let not_utf8 = URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x80]);
    let long_key = "k".repeat(5000);
    let cases: Vec<(String, &str, u16)> = vec![
        (format!("{resources}{not_utf8}"), "GET", 400),
        (format!("{resources}!!!not-base64!!!"), "GET", 400),
        (res_path(&resources, "javascript:alert(1)"), "GET", 404),
        (res_path(&resources, "file:///etc/passwd"), "GET", 404),
        (res_path(&resources, "/relative.png"), "GET", 404),
        (format!("/res/s/{long_key}/{not_utf8}"), "GET", 404),
        (format!("/res/up/{}", "f".repeat(5000)), "GET", 400),
        (
            format!("/res/up/{h}?offset=18446744073709551615&total=18446744073709551615"),
            "PUT",
            413,
        ),
        (
            format!("/res/up/{h}?offset=99999999999999999999999&total=1"),
            "PUT",
            400,
        ),
        (format!("/res/up/{h}?offset=-1&total=1"), "PUT", 400),
        (format!("/res/up/{h}?offset&total"), "PUT", 400),
    ];
    offer(
        &mut site,
        vec![offered("https://shop.example/x", b"x", "image/png")],
    )
    .await;
    for (path, method, status) in cases {
        let response =
            http_request(relay.addr, method, &path, &[("Authorization", &auth)], b"x").await;
        assert_eq!(response.status, status, "{method} {path}");
        assert!(json(&response)["error"].is_string(), "{path}");
    }
    assert_eq!(relay.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn uploads_allow_cors_only_from_the_sites_origins() {
    let relay = Relay::with(|c| {
        c.origins = relay::OriginPolicy::from_list(vec!["http://shop.test".into()]);
    })
    .await;
    let h = sha(b"x").to_hex();
    let preflight = |origin: &'static str| {
        let path = format!("/res/up/{h}");
        let addr = relay.addr;
        async move {
            http_request(
                addr,
                "OPTIONS",
                &path,
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "PUT"),
                    ("Access-Control-Request-Headers", "authorization"),
                ],
                &[],
            )
            .await
        }
    };
    let allowed = preflight("http://shop.test").await;
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("http://shop.test")
    );
    let methods = allowed
        .header("access-control-allow-methods")
        .expect("methods");
    assert!(methods.contains("PUT"), "{methods}");
    let headers = allowed
        .header("access-control-allow-headers")
        .expect("headers");
    assert!(
        headers.to_ascii_lowercase().contains("authorization"),
        "{headers}"
    );
    let refused = preflight("http://evil.test").await;
    assert_eq!(refused.header("access-control-allow-origin"), None);
    // And the request itself, if a non-browser sends it anyway.
    let put = http_request(
        relay.addr,
        "PUT",
        &format!("/res/up/{h}?offset=0&total=1"),
        &[
            ("Origin", "http://evil.test"),
            ("Authorization", "Bearer x"),
        ],
        b"x",
    )
    .await;
    assert_eq!(put.status, 403);
}
