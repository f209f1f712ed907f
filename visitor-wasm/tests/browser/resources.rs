//! The static resource service in a real browser: discovery on a real DOM
//! (srcset's `currentSrc`, stylesheets, SVG, inline styles, blocked/masked
//! subtrees and the visitor UI left out), fetch + SHA-256 of real bytes
//! through `window.fetch` (replaced by a fake that records each request's
//! mode, credentials and cache, and plays the relay's upload endpoint), and
//! uploads in chunks that resume after a dropped connection.

use protocol::ResourceHash;
use visitor_wasm::mask::Rules;
use visitor_wasm::resources::plan::{Fetched, UploadEnd};
use visitor_wasm::resources::{discover_now, fetch_now, upload_now};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::util::*;

#[wasm_bindgen(module = "/tests/browser/support.js")]
extern "C" {
    type FakeFetch;
    fn install_fake_fetch() -> FakeFetch;
    #[wasm_bindgen(method)]
    fn restore(this: &FakeFetch);
    #[wasm_bindgen(method)]
    fn route(this: &FakeFetch, url: &str, content_type: &str, body: &[u8], cors: bool);
    #[wasm_bindgen(method, js_name = routeLying)]
    fn route_lying(this: &FakeFetch, url: &str, content_type: &str, body: &[u8], length: u32);
    #[wasm_bindgen(method, js_name = dropPuts)]
    fn drop_puts(this: &FakeFetch, n: u32);
    #[wasm_bindgen(method)]
    fn calls(this: &FakeFetch) -> String;
    #[wasm_bindgen(method)]
    fn stored(this: &FakeFetch, hex: &str) -> Vec<u8>;
}

/// The fake `fetch`, restored on drop.
struct Net(FakeFetch);

impl Net {
    fn install() -> Net {
        Net(install_fake_fetch())
    }

    /// Each request as `(url, method, mode, credentials, cache, auth)`.
    fn calls(&self) -> Vec<[String; 6]> {
        let parsed = js_sys::JSON::parse(&self.0.calls()).unwrap();
        js_sys::Array::from(&parsed)
            .iter()
            .map(|c| {
                let get = |k: &str| {
                    js_sys::Reflect::get(&c, &k.into())
                        .unwrap()
                        .as_string()
                        .unwrap_or_default()
                };
                [
                    get("url"),
                    get("method"),
                    get("mode"),
                    get("credentials"),
                    get("cache"),
                    get("auth"),
                ]
            })
            .collect()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.0.restore();
    }
}

fn origin() -> String {
    web_sys::window().unwrap().location().origin().unwrap()
}

fn abs(path: &str) -> String {
    format!("{}{path}", origin())
}

#[wasm_bindgen_test]
async fn discovery_finds_what_the_page_shows_and_nothing_blocked_masked_or_ours() {
    let f = Fixture::new(
        "res",
        r##"<img id="plain" src="/r/a.png">
        <img id="chosen" srcset="/r/s1.png 1x, /r/s2.png 2x" src="/r/fallback.png">
        <picture><source srcset="/r/wide.webp" media="(min-width: 9999px)"><img src="/r/pic.png"></picture>
        <link rel="stylesheet" href="/r/site.css">
        <link rel="preload" as="font" href="/r/font.woff2" crossorigin>
        <link rel="canonical" href="/r/page.html">
        <video poster="/r/poster.jpg"></video>
        <input type="image" src="/r/button.png">
        <svg><image href="/r/svgimg.png"/><use href="/r/sprite.svg#icon"/><use href="#local"/></svg>
        <div style="background: url('/r/bg.png'); font-family: 'Brand Sans'"></div>
        <style>.x:hover { background: url(/r/hover.png) }</style>
        <img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
        <div data-cobrowse-mask><img src="/r/masked.png"><div style="background:url(/r/masked-bg.png)"></div></div>
        <div data-cobrowse-block><img src="/r/blocked.png"><link rel="stylesheet" href="/r/blocked.css"></div>
        <div class="secret"><p><img src="/r/option-masked.png" srcset="/r/option-masked-2x.png 2x"></p></div>
        <div data-cobrowse-mask><div data-cobrowse-unmask><img src="/r/unmasked.png"></div></div>
        <style>.avatar { display: block; width: 4px; height: 4px; background: url(/r/rule-masked.png) }</style>
        <div data-cobrowse-mask><i class="avatar"></i></div>"##,
    );
    let ui = document().create_element("cobrowse-ui").unwrap();
    ui.set_inner_html("<img src='/r/ui.png'>");
    document().body().unwrap().append_child(&ui).unwrap();
    // Let the image selection run (currentSrc) and the backgrounds load
    // (they 404: no matter, they still get resource timing entries).
    sleep(200).await;
    let timed = |path: &str| {
        let perf = web_sys::window().unwrap().performance().unwrap();
        perf.get_entries_by_name(&abs(path)).length() > 0
    };
    assert!(
        timed("/r/masked-bg.png") && timed("/r/rule-masked.png"),
        "the browser loaded the masked backgrounds"
    );

    let rules = Rules::new(&[".secret".to_owned()], &[], false);
    let found = discover_now(&rules);
    ui.remove();
    drop(f);

    for path in [
        "/r/a.png",
        "/r/s1.png",
        "/r/pic.png",
        "/r/site.css",
        "/r/font.woff2",
        "/r/poster.jpg",
        "/r/button.png",
        "/r/svgimg.png",
        "/r/sprite.svg",
        "/r/bg.png",
        "/r/unmasked.png",
    ] {
        assert!(
            found.offer.contains(&abs(path)),
            "{path} offered: {found:?}"
        );
    }
    // The browser's choice is offered; the other candidates and rules not
    // applied yet are only referenced.
    for path in ["/r/s2.png", "/r/wide.webp"] {
        assert!(!found.offer.contains(&abs(path)), "{path} not offered");
        assert!(found.referenced.contains(&abs(path)), "{path} referenced");
    }
    assert!(!found.offer.contains(&abs("/r/hover.png")));
    assert!(found.sheet_refs.contains(&abs("/r/hover.png")));
    // What only covered elements use is marked private: never fetched,
    // whatever a stylesheet or the relay says.
    for path in [
        "/r/masked.png",
        "/r/masked-bg.png",
        "/r/blocked.png",
        "/r/option-masked.png",
        "/r/option-masked-2x.png",
        "/r/rule-masked.png",
    ] {
        assert!(
            found.private.contains(&abs(path)),
            "{path} private: {found:?}"
        );
    }
    assert!(found.private_complete);
    assert!(
        !found.offer.contains(&abs("/r/fallback.png")),
        "currentSrc wins"
    );
    let everything: Vec<&String> = found.offer.iter().chain(&found.referenced).collect();
    assert!(!everything.contains(&&abs("/r/rule-masked.png")));
    for never in [
        "/r/masked",
        "-masked",
        "blocked",
        "option-masked",
        "ui.png",
        "page.html",
        "data:",
        "#",
        "Brand",
    ] {
        assert!(
            everything.iter().all(|u| !u.contains(never)),
            "{never} must not be found: {everything:?}"
        );
    }
}

const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

#[wasm_bindgen_test]
async fn fetches_carry_cookies_only_home_and_hash_the_real_bytes() {
    let net = Net::install();
    let own = abs("/r/hello.png");
    net.0.route(&own, "image/png", b"hello", true);
    net.0
        .route("https://cdn.test/hello.woff2", "font/woff2", b"hello", true);

    let Fetched::Body {
        hash,
        size,
        content_type,
        ..
    } = fetch_now(&own, 1 << 20).await
    else {
        panic!("same-origin image is read");
    };
    assert_eq!(hash.to_hex(), HELLO_SHA256);
    assert_eq!((size, content_type.as_str()), (5, "image/png"));
    assert!(matches!(
        fetch_now("https://cdn.test/hello.woff2", 1 << 20).await,
        Fetched::Body { hash, .. } if hash.to_hex() == HELLO_SHA256
    ));

    let calls = net.calls();
    assert_eq!(
        calls[0][..5],
        [
            own.clone(),
            "GET".into(),
            "cors".into(),
            "include".into(),
            "force-cache".into()
        ]
    );
    assert_eq!(
        calls[1][3], "omit",
        "a third party never gets the visitor's cookies"
    );
    assert_eq!(calls[1][4], "force-cache");
}

#[wasm_bindgen_test]
async fn what_is_not_a_readable_resource_is_offered_without_a_body() {
    let net = Net::install();
    net.0
        .route("https://a.test/page.png", "text/html", b"<html>", true);
    net.0
        .route("https://a.test/data.woff", "application/json", b"{}", true);
    net.0.route(
        "https://a.test/app.css",
        "text/javascript",
        b"alert(1)",
        true,
    );
    net.0
        .route("https://nocors.test/x.png", "image/png", b"x", false);
    net.0
        .route("https://a.test/big.png", "image/png", &[0u8; 2048], true);
    net.0
        .route_lying("https://a.test/says-big.png", "image/png", b"x", 1 << 30);
    for url in [
        "https://a.test/page.png",
        "https://a.test/data.woff",
        "https://a.test/app.css",
        "https://nocors.test/x.png",
        "https://a.test/missing.png",
        "https://a.test/big.png",
        "https://a.test/says-big.png",
    ] {
        assert!(
            matches!(fetch_now(url, 1024).await, Fetched::Unavailable),
            "{url}"
        );
    }
}

#[wasm_bindgen_test]
async fn a_stylesheet_vouches_for_the_urls_its_text_names() {
    let net = Net::install();
    let css = "@import 'base.css'; .a { background: url(../img/a.png#x) } \
               @font-face { src: url(\"/fonts/f.woff2\") } .b { background: url(data:,x) }";
    net.0.route(
        "https://cdn.test/css/site.css",
        "text/css; charset=utf-8",
        css.as_bytes(),
        true,
    );
    let Fetched::Body { sheet_refs, .. } =
        fetch_now("https://cdn.test/css/site.css", 1 << 20).await
    else {
        panic!("stylesheet read");
    };
    for url in [
        "https://cdn.test/css/base.css",
        "https://cdn.test/img/a.png",
        "https://cdn.test/fonts/f.woff2",
    ] {
        assert!(
            sheet_refs.iter().any(|r| r == url),
            "{url} in {sheet_refs:?}"
        );
    }
    assert!(sheet_refs.iter().all(|r| !r.starts_with("data:")));
}

#[wasm_bindgen_test]
async fn uploads_go_in_chunks_and_resume_after_a_dropped_connection() {
    let net = Net::install();
    let bytes: Vec<u8> = (0..1_200_000u32).map(|i| (i % 251) as u8).collect();
    let data = js_sys::Uint8Array::from(bytes.as_slice());
    let hash = ResourceHash([7; 32]);
    net.0.drop_puts(1);
    let end = upload_now("http://relay.test/", "t0k3n", hash, &data).await;
    assert_eq!(
        end,
        UploadEnd::Done {
            more: vec!["https://page.test/more.png".into()]
        }
    );
    assert_eq!(
        net.0.stored(&hash.to_hex()),
        bytes,
        "every byte once, in order"
    );
    let calls = net.calls();
    let hex = hash.to_hex();
    let seen: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c[1].as_str(), c[0].as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "PUT",
                format!("http://relay.test/res/up/{hex}?offset=0&total=1200000").as_str()
            ),
            ("GET", format!("http://relay.test/res/up/{hex}").as_str()),
            (
                "PUT",
                format!("http://relay.test/res/up/{hex}?offset=524288&total=1200000").as_str()
            ),
            (
                "PUT",
                format!("http://relay.test/res/up/{hex}?offset=1048576&total=1200000").as_str()
            ),
        ]
    );
    for c in &calls {
        assert_eq!(c[5], "Bearer t0k3n");
        assert_eq!(c[3], "omit", "no cookies to the relay");
    }
}

#[wasm_bindgen_test]
async fn a_refused_token_stops_the_upload() {
    let _net = Net::install();
    let data = js_sys::Uint8Array::from(&b"x"[..]);
    let end = upload_now("http://relay.test", "wrong", ResourceHash([1; 32]), &data).await;
    assert_eq!(end, UploadEnd::Unauthorized);
}

/// Every URL the page has offered the relay so far.
fn offered(relay: &crate::session::Relay) -> Vec<String> {
    relay
        .messages()
        .into_iter()
        .filter_map(|m| match m {
            protocol::VisitorMsg::Offer(o) => Some(o),
            _ => None,
        })
        .flatten()
        .map(|o| o.url)
        .collect()
}

#[wasm_bindgen_test]
async fn a_session_offers_after_the_snapshot_uploads_what_is_wanted_and_refuses_the_rest() {
    use crate::session::{started_with, Relay};
    use protocol::{AgentId, Event, Mode, ToVisitor, VisitorMsg};

    let net = Net::install();
    net.0
        .route(&abs("/r/live.png"), "image/png", b"hello", true);
    net.0
        .route(&abs("/r/hover.png"), "image/png", b"hover!", true);
    net.0
        .route(&abs("/r/masked.png"), "image/png", b"secret", true);
    let f = Fixture::new(
        "res-live",
        "<img src='/r/live.png'><div data-cobrowse-mask><img src='/r/masked.png'></div>\
         <style>.q:hover { background: url(/r/hover.png) }</style>",
    );
    let relay = Relay::install();
    let session = started_with(&relay, "t0k3n").await;
    relay.say(&ToVisitor::AgentJoined {
        agent: AgentId(3),
        name: "Ann".into(),
        mode: Mode::ViewOnly,
    });
    sleep(100).await;
    assert!(net.calls().is_empty(), "nothing is fetched before consent");

    ui_button("data-cobrowse-accept").unwrap().click();
    relay.say(&ToVisitor::SnapshotNeeded);
    sleep(300).await;
    let messages = relay.messages();
    let snapshot_at = messages
        .iter()
        .position(
            |m| matches!(m, VisitorMsg::Event(e) if matches!(e.event(), Ok(Event::Snapshot(_)))),
        )
        .expect("a snapshot");
    let offers: Vec<(usize, &Vec<protocol::Offered>)> = messages
        .iter()
        .enumerate()
        .filter_map(|(i, m)| match m {
            VisitorMsg::Offer(o) => Some((i, o)),
            _ => None,
        })
        .collect();
    assert_eq!(offers.len(), 1, "one offer for the round: {messages:?}");
    assert!(offers[0].0 > snapshot_at, "the snapshot goes first");
    let live = offers[0]
        .1
        .iter()
        .find(|o| o.url == abs("/r/live.png"))
        .expect("the image is offered");
    let body = live.body.as_ref().expect("with a body");
    assert_eq!((body.hash.to_hex().as_str(), body.size), (HELLO_SHA256, 5));
    for o in offers[0].1 {
        assert!(
            !o.url.contains("masked") && !o.url.contains("hover"),
            "{o:?}"
        );
    }

    // The relay wants the bytes, plus a URL the page references and one it
    // does not.
    relay.say(&ToVisitor::Want {
        hashes: vec![body.hash],
        more: vec![abs("/r/hover.png"), "https://evil.test/steal".into()],
    });
    sleep(300).await;
    let calls = net.calls();
    let put = format!("http://127.0.0.1:9/res/up/{HELLO_SHA256}?offset=0&total=5");
    assert!(
        calls
            .iter()
            .any(|c| c[0] == put && c[1] == "PUT" && c[5] == "Bearer t0k3n"),
        "{calls:?}"
    );
    assert_eq!(net.0.stored(HELLO_SHA256), b"hello");
    for c in &calls {
        assert!(
            !c[0].contains("masked") && !c[0].contains("evil.test") && !c[0].contains("page.test"),
            "never fetched: {c:?}"
        );
    }
    let later = offered(&relay);
    assert!(later.contains(&abs("/r/hover.png")), "{later:?}");

    session.end();
    let n = net.calls().len();
    f.get("img")
        .set_attribute("src", "/r/after-end.png")
        .unwrap();
    sleep(700).await;
    assert_eq!(net.calls().len(), n, "nothing runs after end()");
}

/// Discovery reads the sheets of the open shadow roots the capture met —
/// in the snapshot and attached later — without searching every element of
/// the page for them.
#[wasm_bindgen_test]
async fn a_session_offers_what_shadow_roots_adopted_sheets_use_met_in_the_snapshot_or_later() {
    use crate::session::Relay;

    let net = Net::install();
    net.0
        .route(&abs("/r/shadow.png"), "image/png", b"shadow", true);
    net.0
        .route(&abs("/r/later.png"), "image/png", b"later!", true);
    let f = Fixture::new("res-shadow", "<div id='early'></div><div id='late'></div>");
    let adopt = |host: &web_sys::Element, css: &str| {
        js_sys::Function::new_with_args(
            "host, css",
            "const root = host.attachShadow({ mode: 'open' }); \
             root.innerHTML = '<p class=\"x\">inside</p>'; \
             const sheet = new CSSStyleSheet(); sheet.replaceSync(css); \
             root.adoptedStyleSheets = [sheet];",
        )
        .call2(&wasm_bindgen::JsValue::NULL, host, &css.into())
        .unwrap();
    };
    adopt(&f.get("#early"), ".x { background: url(/r/shadow.png) }");
    let relay = Relay::install();
    let session = crate::canvas::watched_with(&relay, "t0k3n").await;
    sleep(300).await;
    assert!(
        offered(&relay).contains(&abs("/r/shadow.png")),
        "the snapshot's shadow root's sheet: {:?}",
        offered(&relay)
    );

    adopt(&f.get("#late"), ".x { background: url(/r/later.png) }");
    // The flush, then the rescan after it.
    sleep(1200).await;
    assert!(
        offered(&relay).contains(&abs("/r/later.png")),
        "a shadow root attached during the session: {:?}",
        offered(&relay)
    );
    session.end();
}

/// A page whose scan takes many slices (each reads a few elements, then
/// the page runs): every resource is still offered once, each query's and
/// the `style` attributes' alike, and nothing a mask covers.
#[wasm_bindgen_test]
async fn a_scan_read_in_slices_offers_every_resource_of_the_page_and_nothing_masked() {
    use crate::session::Relay;

    let _net = Net::install();
    let mut html = String::new();
    for i in 0..90 {
        let img = format!("<img src='/r/many-{i}.png'>");
        if i % 10 == 3 {
            html += &format!("<div data-cobrowse-mask>{img}</div>");
        } else {
            html += &img;
        }
    }
    html += "<p style='background: url(/r/bg-open.png)'>x</p>\
             <div data-cobrowse-mask><p style='background: url(/r/bg-masked.png)'>y</p></div>\
             <img src='/r/both-src.png' style='background: url(/r/both-bg.png)'>\
             <svg><image href='/r/svg.png'></image></svg>";
    let _f = Fixture::new("res-sliced", &html);
    let _tiny = TinySlices::on();
    let relay = Relay::install();
    let session = crate::canvas::watched_with(&relay, "t0k3n").await;
    let mut expected: Vec<String> = (0..90)
        .filter(|i| i % 10 != 3)
        .map(|i| abs(&format!("/r/many-{i}.png")))
        .chain(
            [
                "/r/bg-open.png",
                "/r/both-src.png",
                "/r/both-bg.png",
                "/r/svg.png",
            ]
            .into_iter()
            .map(abs),
        )
        .collect();
    expected.sort();
    let ours = |relay: &Relay| {
        let mut urls: Vec<String> = offered(relay)
            .into_iter()
            .filter(|u| u.contains("/r/"))
            .collect();
        urls.sort();
        urls
    };
    for _ in 0..60 {
        if ours(&relay).len() >= expected.len() {
            break;
        }
        sleep(50).await;
    }
    sleep(200).await;
    assert_eq!(ours(&relay), expected, "each once, none masked");
    session.end();
}
