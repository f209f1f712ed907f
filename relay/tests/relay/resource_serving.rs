//! Static resources, the agent's side: stylesheets served decoded and
//! rewritten, resources waited for or asked of the visitor on demand, and
//! the fallback chain (the relay's own fetch from allowed domains only, a
//! redirect to the original, 404 when strict).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use protocol::{ResourcePolicy, ToVisitor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::resource_support::{
    admitted, offer, offered, open_session, png, res_path, sha, unreadable, upload,
};
use crate::support::Relay;

const SITE_CSS: &str = "https://shop.example/css/site.css";

#[tokio::test]
async fn stylesheets_are_served_rewritten_and_decoded_to_utf8() {
    let relay = Relay::start().await;
    let mut site = open_session(&relay, ResourcePolicy::default()).await;
    let (_agent, resources) = admitted(&relay, &mut site).await;
    let css = b"@import \"print.css\";\n.btn:hover { background: url(../img/bg.png#x) }\n".to_vec();
    let (hashes, _) = offer(&mut site, vec![offered(SITE_CSS, &css, "text/css")]).await;
    assert_eq!(hashes, vec![sha(&css)]);
    let done = upload(&relay, &site.token, &css).await;
    assert_eq!(done.status, 201);
    // What the stylesheet refers to that the visitor has not offered yet.
    assert_eq!(
        crate::resource_support::json(&done)["more"],
        serde_json::json!([
            "https://shop.example/css/print.css",
            "https://shop.example/img/bg.png"
        ])
    );

    let served = relay.get(&res_path(&resources, SITE_CSS)).await;
    assert_eq!(served.status, 200);
    assert_eq!(
        served.header("content-type"),
        Some("text/css; charset=utf-8")
    );
    let text = String::from_utf8(served.body).expect("utf-8");
    let bg = URL_SAFE_NO_PAD.encode("https://shop.example/img/bg.png");
    let print = URL_SAFE_NO_PAD.encode("https://shop.example/css/print.css");
    assert!(text.contains(&format!("{resources}{bg}#x")), "{text}");
    assert!(text.contains(&format!("{resources}{print}")), "{text}");
    assert!(text.contains("[data-cobrowse-hover]"), "{text}");
    assert!(!text.contains(":hover"), "{text}");

    // Shift_JIS, named by @charset: served as UTF-8, the @charset gone.
    let jp_url = "https://shop.example/css/jp.css";
    let mut jp = b"@charset \"Shift_JIS\";\n.jp::after { content: \"".to_vec();
    jp.extend_from_slice(&[0x93, 0xFA, 0x96, 0x7B]); // 日本
    jp.extend_from_slice(b"\" }\n");
    offer(&mut site, vec![offered(jp_url, &jp, "text/css")]).await;
    assert_eq!(upload(&relay, &site.token, &jp).await.status, 201);
    let served = relay.get(&res_path(&resources, jp_url)).await;
    assert_eq!(
        served.header("content-type"),
        Some("text/css; charset=utf-8")
    );
    let text = String::from_utf8(served.body).expect("utf-8");
    assert!(text.contains("content: \"日本\""), "{text}");
    assert!(!text.contains("@charset"), "{text}");

    // A second session offering the cached stylesheet is asked for what it
    // refers to, minus what it offered alongside.
    let mut second = open_session(&relay, ResourcePolicy::default()).await;
    let bg_bytes = png(100, 9);
    let (hashes, more) = offer(
        &mut second,
        vec![
            offered(SITE_CSS, &css, "text/css"),
            offered("https://shop.example/img/bg.png", &bg_bytes, "image/png"),
        ],
    )
    .await;
    assert_eq!(hashes, vec![sha(&bg_bytes)]);
    assert_eq!(more, vec!["https://shop.example/css/print.css".to_owned()]);
}

#[tokio::test]
async fn an_unknown_url_requested_by_the_agent_is_asked_of_the_visitor() {
    let relay = Relay::start().await;
    let mut site = open_session(&relay, ResourcePolicy::default()).await;
    let (_agent, resources) = admitted(&relay, &mut site).await;
    let late = "https://shop.example/img/late.png";
    let path = res_path(&resources, late);
    let addr = relay.addr;
    let request =
        tokio::spawn(
            async move { crate::support::http_request(addr, "GET", &path, &[], &[]).await },
        );
    match site.visitor.recv::<ToVisitor>().await {
        ToVisitor::Want { hashes, more } => {
            assert!(hashes.is_empty());
            assert_eq!(more, vec![late.to_owned()]);
        }
        other => panic!("expected Want, got {other:?}"),
    }
    let bytes = png(4000, 10);
    let (hashes, _) = offer(&mut site, vec![offered(late, &bytes, "image/png")]).await;
    assert_eq!(hashes, vec![sha(&bytes)]);
    assert_eq!(upload(&relay, &site.token, &bytes).await.status, 201);
    let served = request.await.expect("request");
    assert_eq!(served.status, 200);
    assert_eq!(served.body, bytes);
}

#[tokio::test]
async fn an_offered_resource_is_waited_for_until_its_upload_lands() {
    let relay = Relay::start().await;
    let mut site = open_session(&relay, ResourcePolicy::default()).await;
    let (_agent, resources) = admitted(&relay, &mut site).await;
    let url = "https://shop.example/img/slow.png";
    let bytes = png(3000, 11);
    offer(&mut site, vec![offered(url, &bytes, "image/png")]).await;
    let path = res_path(&resources, url);
    let addr = relay.addr;
    let request =
        tokio::spawn(
            async move { crate::support::http_request(addr, "GET", &path, &[], &[]).await },
        );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!request.is_finished(), "waits for the upload");
    assert_eq!(upload(&relay, &site.token, &bytes).await.status, 201);
    let served = request.await.expect("request");
    assert_eq!(served.status, 200);
    assert_eq!(served.body, bytes);
}

#[tokio::test]
async fn unavailable_resources_redirect_to_the_original_unless_strict() {
    let url = "https://other.example/widget.png";
    let relay = Relay::start().await;
    let mut site = open_session(&relay, ResourcePolicy::default()).await;
    let (_agent, resources) = admitted(&relay, &mut site).await;
    offer(&mut site, vec![unreadable(url)]).await;
    let answer = relay.get(&res_path(&resources, url)).await;
    assert_eq!(answer.status, 302);
    assert_eq!(answer.header("location"), Some(url));
    relay
        .wait_for_metric("resource_fallbacks_total{kind=\"redirect\"} 1")
        .await;

    let strict = Relay::with(|c| c.resources.strict = true).await;
    let mut site = open_session(&strict, ResourcePolicy::default()).await;
    let (_agent, resources) = admitted(&strict, &mut site).await;
    offer(&mut site, vec![unreadable(url)]).await;
    let answer = strict.get(&res_path(&resources, url)).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.header("location"), None);
    strict
        .wait_for_metric("resource_fallbacks_total{kind=\"not_found\"} 1")
        .await;
}

#[tokio::test]
async fn a_blob_url_is_served_from_the_visitors_upload_and_never_redirected_to() {
    let relay = Relay::start().await;
    let mut site = open_session(&relay, ResourcePolicy::default()).await;
    let (_agent, resources) = admitted(&relay, &mut site).await;
    // Bytes that exist only inside the visitor's page.
    let preview = "blob:https://shop.example/6f1e2d3c-aaaa-bbbb-cccc-0123456789ab";
    let bytes = png(2000, 12);
    let (hashes, _) = offer(&mut site, vec![offered(preview, &bytes, "image/png")]).await;
    assert_eq!(hashes, vec![sha(&bytes)], "the relay accepts the blob: URL");
    assert_eq!(upload(&relay, &site.token, &bytes).await.status, 201);
    let served = relay.get(&res_path(&resources, preview)).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.body, bytes);

    let gone = "blob:https://shop.example/00000000-0000-0000-0000-000000000000";
    offer(&mut site, vec![unreadable(gone)]).await;
    let answer = relay.get(&res_path(&resources, gone)).await;
    assert_eq!(
        answer.status, 404,
        "nothing to redirect to outside the page"
    );
    assert_eq!(answer.header("location"), None);
}

/// A tiny origin server: records (host, path) of every request.
struct Origin {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Origin {
    async fn start(logo: Vec<u8>) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let log = Arc::clone(&log);
                let logo = logo.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if tcp.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                    let host = head
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("host: ")
                                .or_else(|| l.strip_prefix("Host: "))
                        })
                        .unwrap_or("")
                        .to_owned();
                    log.lock().expect("log").push((host, path.clone()));
                    let (status, extra, body): (&str, String, Vec<u8>) = match path.as_str() {
                        "/logo.png" => ("200 OK", "Content-Type: image/png\r\n".into(), logo),
                        "/page.png" => (
                            "200 OK",
                            "Content-Type: text/html\r\n".into(),
                            b"<html>hi</html>".to_vec(),
                        ),
                        "/redirect.png" => (
                            "302 Found",
                            format!("Location: http://localhost:{}/logo.png\r\n", addr.port()),
                            Vec::new(),
                        ),
                        _ => ("404 Not Found", String::new(), Vec::new()),
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = tcp.write_all(response.as_bytes()).await;
                    let _ = tcp.write_all(&body).await;
                });
            }
        });
        Origin { addr, seen }
    }

    fn seen(&self) -> Vec<(String, String)> {
        self.seen.lock().expect("log").clone()
    }
}

#[tokio::test]
async fn the_relay_fetches_only_from_allowed_domains() {
    let logo = png(6000, 12);
    let origin = Origin::start(logo.clone()).await;
    let port = origin.addr.port();
    let relay = Relay::with(|c| {
        c.resources.allowed_external_domains =
            vec![relay::resources::settings::HostPattern::parse("127.0.0.1").expect("host")];
    })
    .await;
    let mut site = open_session(&relay, ResourcePolicy::default()).await;
    let (_agent, resources) = admitted(&relay, &mut site).await;
    let allowed = format!("http://127.0.0.1:{port}/logo.png");
    let elsewhere = format!("http://localhost:{port}/logo.png");
    let html = format!("http://127.0.0.1:{port}/page.png");
    let redirect = format!("http://127.0.0.1:{port}/redirect.png");
    offer(
        &mut site,
        vec![
            unreadable(&allowed),
            unreadable(&elsewhere),
            unreadable(&html),
            unreadable(&redirect),
        ],
    )
    .await;

    let fetched = relay.get(&res_path(&resources, &allowed)).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, logo);
    assert_eq!(fetched.header("content-type"), Some("image/png"));
    // Cached and in the history now: no second fetch.
    assert_eq!(relay.get(&res_path(&resources, &allowed)).await.body, logo);
    // Not an allowed host: the agent's browser goes to the original.
    let other = relay.get(&res_path(&resources, &elsewhere)).await;
    assert_eq!(other.status, 302);
    assert_eq!(other.header("location"), Some(elsewhere.as_str()));
    // HTML is never served, even from an allowed host.
    assert_eq!(relay.get(&res_path(&resources, &html)).await.status, 302);
    // A redirect to a host that is not allowed is not followed.
    assert_eq!(
        relay.get(&res_path(&resources, &redirect)).await.status,
        302
    );

    let seen = origin.seen();
    let hosts_and_paths: Vec<(String, String)> = seen.clone();
    assert_eq!(
        hosts_and_paths,
        vec![
            (format!("127.0.0.1:{port}"), "/logo.png".to_owned()),
            (format!("127.0.0.1:{port}"), "/page.png".to_owned()),
            (format!("127.0.0.1:{port}"), "/redirect.png".to_owned()),
        ],
        "one fetch of the logo, none through localhost"
    );
    relay
        .wait_for_metric("resource_fallbacks_total{kind=\"server_fetch\"} 1")
        .await;

    // A site that turned server-side fetching off (css.server: false).
    let mut private = open_session(
        &relay,
        ResourcePolicy {
            upload: true,
            server_fetch: false,
        },
    )
    .await;
    let (_agent, resources) = admitted(&relay, &mut private).await;
    let fresh = format!("http://127.0.0.1:{port}/logo.png?v=2");
    offer(&mut private, vec![unreadable(&fresh)]).await;
    assert_eq!(relay.get(&res_path(&resources, &fresh)).await.status, 302);
    assert_eq!(origin.seen().len(), seen.len(), "no fetch for that session");
}

#[tokio::test]
async fn media_is_served_in_byte_ranges_for_seeking() {
    let relay = Relay::start().await;
    let mut site = open_session(&relay, ResourcePolicy::default()).await;
    let (_agent, resources) = admitted(&relay, &mut site).await;
    let url = "https://shop.example/media/clip.webm";
    let bytes = png(5000, 12);
    let (hashes, _) = offer(&mut site, vec![offered(url, &bytes, "video/webm")]).await;
    assert_eq!(hashes, vec![sha(&bytes)], "media is wanted like an image");
    assert_eq!(upload(&relay, &site.token, &bytes).await.status, 201);
    let path = res_path(&resources, url);
    let get = |range: Vec<(&'static str, String)>| {
        let path = path.clone();
        async move {
            let headers: Vec<(&str, &str)> = range.iter().map(|(n, v)| (*n, v.as_str())).collect();
            crate::support::http_request(relay.addr, "GET", &path, &headers, &[]).await
        }
    };

    let whole = get(vec![]).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.header("content-type"), Some("video/webm"));
    assert_eq!(whole.body, bytes);
    let etag = whole.header("etag").expect("etag").to_owned();

    // Where a media element starts, and where it seeks to.
    let start = get(vec![("Range", "bytes=0-".into())]).await;
    assert_eq!(start.status, 206);
    assert_eq!(start.header("content-range"), Some("bytes 0-4999/5000"));
    assert_eq!(start.body, bytes);
    let middle = get(vec![("Range", "bytes=1000-1999".into())]).await;
    assert_eq!(middle.status, 206);
    assert_eq!(middle.header("content-range"), Some("bytes 1000-1999/5000"));
    assert_eq!(middle.body, &bytes[1000..2000]);
    let tail = get(vec![("Range", "bytes=-100".into())]).await;
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, &bytes[4900..]);

    let past = get(vec![("Range", "bytes=6000-".into())]).await;
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some("bytes */5000"));

    // A range of another version of the resource is not a part of this one.
    let stale = get(vec![
        ("Range", "bytes=0-9".into()),
        ("If-Range", "\"an-older-version\"".into()),
    ])
    .await;
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, bytes);
    let current = get(vec![("Range", "bytes=0-9".into()), ("If-Range", etag)]).await;
    assert_eq!(current.status, 206);
    assert_eq!(current.body, &bytes[..10]);
}
