//! Plain HTTP: health, metrics, static files and the origin check that runs
//! before a visitor's socket exists.

use protocol::VisitorMsg;

use crate::flow::event;
use crate::support::{http_request, visitor_hello, Relay};

#[tokio::test]
async fn healthz_answers_ok() {
    let relay = Relay::start().await;
    let response = relay.get("/healthz").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"ok");
}

#[tokio::test]
async fn metrics_count_sessions_frames_and_forwards() {
    // Resuming off, so the visitor's leaving ends the session at once.
    let relay = Relay::with(|c| c.limits.resume_grace = std::time::Duration::ZERO).await;
    let (mut visitor, _, mut code) = relay.start_session().await;
    let (mut agent, _) = relay.admitted_agent(&mut visitor, &mut code).await;
    visitor.send(&VisitorMsg::Event(event(1))).await;
    let _: protocol::ToAgent = agent.recv().await;

    let response = relay.get("/metrics").await;
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain")));
    let text = relay.metrics().await;
    for line in [
        "sessions_active 1",
        "sessions_created_total 1",
        "agents_active 1",
        "frames_forwarded_total 1",
        // hello, consent, event
        "frames_in_total{role=\"visitor\"} 3",
        // hello
        "frames_in_total{role=\"agent\"} 1",
        "rejected_total{reason=\"origin\"} 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(text.contains("# TYPE sessions_active gauge"));
    assert!(text.contains("bytes_in_total{role=\"visitor\"} "));

    drop(visitor);
    relay.wait_for_metric("sessions_active 0").await;
    relay.wait_for_metric("agents_active 0").await;
}

#[tokio::test]
async fn sdk_is_served_cross_origin_with_the_wasm_type() {
    let relay = Relay::start().await;
    let js = relay.get("/sdk/cobrowse.js").await;
    assert_eq!(js.status, 200);
    assert_eq!(js.header("access-control-allow-origin"), Some("*"));
    assert!(js
        .header("content-type")
        .is_some_and(|t| t.contains("javascript")));
    let wasm = relay.get("/sdk/visitor_wasm_bg.wasm").await;
    assert_eq!(wasm.status, 200);
    assert_eq!(wasm.header("access-control-allow-origin"), Some("*"));
    assert_eq!(wasm.header("content-type"), Some("application/wasm"));
    assert_eq!(wasm.body, b"\0asm\x01\0\0\0");
    assert_eq!(
        wasm.header("cross-origin-resource-policy"),
        Some("cross-origin")
    );
}

#[tokio::test]
async fn sdk_files_go_out_precompressed_to_browsers_that_accept_it() {
    let relay = Relay::start().await;
    let path = "/sdk/visitor_wasm_bg.wasm";
    let fetch = |accept: &'static str| async move {
        http_request(relay.addr, "GET", path, &[("Accept-Encoding", accept)], &[]).await
    };
    let br = fetch("gzip, deflate, br").await;
    assert_eq!(br.status, 200);
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(br.header("content-type"), Some("application/wasm"));
    assert_eq!(br.header("access-control-allow-origin"), Some("*"));
    assert_eq!(br.body, b"brotli bytes");
    assert_eq!(br.header("vary"), Some("accept-encoding"));
    let gz = fetch("gzip").await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.body, b"gzip bytes");
    // Nothing accepted, or no compressed copy: the file as it is.
    let plain = fetch("identity").await;
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body, b"\0asm\x01\0\0\0");
    let js = http_request(
        relay.addr,
        "GET",
        "/sdk/cobrowse.js",
        &[("Accept-Encoding", "br")],
        &[],
    )
    .await;
    assert_eq!(js.status, 200);
    assert_eq!(js.header("content-encoding"), None);
}

#[tokio::test]
async fn agent_console_and_redirects() {
    let relay = Relay::start().await;
    let index = relay.get("/agent/").await;
    assert_eq!(index.status, 200);
    assert!(String::from_utf8_lossy(&index.body).contains("console"));
    // The console is same-origin; it gets no CORS header.
    assert_eq!(index.header("access-control-allow-origin"), None);

    let root = relay.get("/").await;
    assert!((300..400).contains(&root.status));
    assert_eq!(root.header("location"), Some("/agent/"));

    let bare = relay.get("/agent").await;
    assert!((300..400).contains(&bare.status));
    assert_eq!(bare.header("location"), Some("/agent/"));

    assert_eq!(relay.get("/agent/missing.js").await.status, 404);
}

#[tokio::test]
async fn the_console_has_a_strict_content_security_policy() {
    use base64::Engine as _;
    use sha2::Digest as _;

    let relay = Relay::start().await;
    let index = relay.get("/agent/").await;
    let csp = index
        .header("content-security-policy")
        .expect("a CSP on the console")
        .to_owned();
    let directive = |name: &str| {
        csp.split(';')
            .map(str::trim)
            .find(|d| d.split(' ').next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in {csp}"))
            .to_owned()
    };
    // Scripts: own files, WebAssembly, the bootstrap by hash; never inline
    // at large, so markup planted in the mirror cannot run.
    let boot = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(
        crate::support::CONSOLE_BOOT.as_bytes(),
    ));
    assert_eq!(
        directive("script-src"),
        format!("script-src 'self' 'wasm-unsafe-eval' 'sha256-{boot}'")
    );
    assert_eq!(directive("default-src"), "default-src 'self'");
    assert_eq!(directive("object-src"), "object-src 'none'");
    assert_eq!(directive("base-uri"), "base-uri 'none'");
    assert_eq!(directive("frame-ancestors"), "frame-ancestors 'none'");
    assert_eq!(directive("connect-src"), "connect-src 'self' ws: wss:");
    // The mirrored page's own resources load from wherever they live.
    for name in ["img-src", "style-src", "font-src"] {
        let d = directive(name);
        for source in ["http:", "https:", "data:", "blob:"] {
            assert!(d.split(' ').any(|s| s == source), "{d}");
        }
    }
    assert!(directive("style-src").contains("'unsafe-inline'"));
    assert_eq!(index.header("x-content-type-options"), Some("nosniff"));
    // Every file of the console carries it; the SDK (loaded into customers'
    // pages, which have their own policy) does not.
    let css = relay.get("/agent/missing.css").await;
    assert!(css.header("content-security-policy").is_some());
    let sdk = relay.get("/sdk/cobrowse.js").await;
    assert_eq!(sdk.header("content-security-policy"), None);
}

#[tokio::test]
async fn missing_static_dir_still_serves_sessions() {
    let relay = Relay::with(|c| c.static_dir = "/nonexistent/cobrowse-dist".into()).await;
    assert_eq!(relay.get("/sdk/cobrowse.js").await.status, 404);
    assert_eq!(relay.get("/healthz").await.status, 200);
    let (_visitor, _, _) = relay.start_session().await;
}

#[tokio::test]
async fn disallowed_origin_is_refused_before_upgrade() {
    let allowed = "http://127.0.0.1:8081";
    let relay =
        Relay::with(|c| c.origins = relay::OriginPolicy::from_list(vec![allowed.into()])).await;
    let refused = relay
        .socket_with_origin("/ws/visitor", Some("http://evil.example"))
        .await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
        }
        Err(other) => panic!("expected HTTP 403, got {other:?}"),
        Ok(_) => panic!("upgrade from a disallowed origin succeeded"),
    }
    assert!(relay.socket_with_origin("/ws/visitor", None).await.is_err());
    relay
        .wait_for_metric("rejected_total{reason=\"origin\"} 2")
        .await;

    let mut visitor = relay
        .socket_with_origin("/ws/visitor", Some(allowed))
        .await
        .expect("allowed origin upgrades");
    visitor.hello(visitor_hello(None)).await;
    assert!(matches!(
        visitor.recv::<protocol::ToVisitor>().await,
        protocol::ToVisitor::Welcome { .. }
    ));
}
