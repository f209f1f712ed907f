//! The resource service's decisions, natively: dedupe, batching, budgets,
//! held bytes, the "page references it" rule, and upload retries.

use super::*;
use crate::resources::rules::{self, css_refs, is_resource_type, without_fragment, CssRef};

const RELAY: &str = "https://relay.test";

fn h(n: u8) -> ResourceHash {
    ResourceHash([n; 32])
}

fn found(offer: &[&str]) -> Found {
    Found {
        offer: offer.iter().map(|s| s.to_string()).collect(),
        ..Found::default()
    }
}

fn body(n: u8, size: u64) -> Fetched<u8> {
    Fetched::Body {
        hash: h(n),
        size,
        content_type: "image/png".into(),
        bytes: n,
        sheet_refs: Vec::new(),
    }
}

/// Runs every queued fetch, answering with `answer(url)`.
fn fetch_all(p: &mut Planner<u8>, answer: impl Fn(&str) -> Fetched<u8>) -> Vec<String> {
    let mut urls = Vec::new();
    while let Some(job) = p.next_fetch() {
        let f = answer(&job.url);
        urls.push(job.url.clone());
        p.fetched(job.url, f);
    }
    urls
}

#[test]
fn a_url_is_fetched_and_offered_once_whatever_the_rounds_say() {
    let mut p = Planner::<u8>::new(RELAY);
    p.discovered(found(&[
        "https://a.test/x.png",
        "https://a.test/x.png#frag",
    ]));
    p.discovered(found(&["https://a.test/x.png"]));
    let urls = fetch_all(&mut p, |_| body(1, 10));
    assert_eq!(urls, ["https://a.test/x.png"]);
    let offer = p.take_offer().unwrap();
    assert_eq!(offer.len(), 1);
    p.discovered(found(&["https://a.test/x.png"]));
    assert!(p.next_fetch().is_none());
    assert!(p.take_offer().is_none());
}

#[test]
fn non_http_and_the_relays_own_urls_are_never_fetched() {
    let mut p = Planner::<u8>::new("https://relay.test/");
    p.discovered(found(&[
        "data:image/png;base64,AAAA",
        "blob:null/1",
        "javascript:alert(1)",
        "https://relay.test/sdk/cobrowse.js",
        "https://relay.test/res/s/k/abc",
        "HTTPS://a.test/ok.png",
    ]));
    assert_eq!(
        fetch_all(&mut p, |_| Fetched::Unavailable),
        ["HTTPS://a.test/ok.png"]
    );
}

#[test]
fn one_offer_per_round_not_per_resource() {
    let mut p = Planner::<u8>::new(RELAY);
    p.discovered(found(&[
        "https://a.test/1.png",
        "https://a.test/2.png",
        "https://a.test/3.png",
    ]));
    let a = p.next_fetch().unwrap();
    let b = p.next_fetch().unwrap();
    p.fetched(a.url, body(1, 10));
    assert!(p.take_offer().is_none(), "fetches still run");
    p.fetched(b.url, Fetched::Unavailable);
    assert!(p.take_offer().is_none(), "one still queued");
    let c = p.next_fetch().unwrap();
    p.fetched(c.url, body(3, 10));
    let offer = p.take_offer().unwrap();
    assert_eq!(offer.len(), 3);
    assert!(offer[0].body.is_some());
    assert!(
        offer[1].body.is_none(),
        "an unreadable resource is offered bodiless"
    );
    assert!(p.take_offer().is_none());
}

#[test]
fn at_most_four_fetches_run_at_once() {
    let mut p = Planner::<u8>::new(RELAY);
    let urls: Vec<String> = (0..10).map(|i| format!("https://a.test/{i}.png")).collect();
    p.discovered(Found {
        offer: urls,
        ..Found::default()
    });
    let running: Vec<_> = std::iter::from_fn(|| p.next_fetch()).collect();
    assert_eq!(running.len(), MAX_FETCHES);
    p.fetched(running[0].url.clone(), Fetched::Unavailable);
    assert!(p.next_fetch().is_some());
    assert!(p.next_fetch().is_none());
}

#[test]
fn a_large_round_is_offered_in_batches() {
    let mut p = Planner::<u8>::new(RELAY);
    let urls: Vec<String> = (0..OFFER_BATCH + 5)
        .map(|i| format!("https://a.test/{i}.png"))
        .collect();
    p.discovered(Found {
        offer: urls,
        ..Found::default()
    });
    let mut offers = Vec::new();
    while let Some(job) = p.next_fetch() {
        p.fetched(job.url, Fetched::Unavailable);
        if let Some(o) = p.take_offer() {
            offers.push(o.len());
        }
    }
    assert_eq!(offers, [OFFER_BATCH, 5]);
}

#[test]
fn budgets_leave_big_resources_and_the_sessions_excess_bodiless() {
    let mut p = Planner::<u8>::new(RELAY);
    p.discovered(found(&["https://a.test/huge.png"]));
    let job = p.next_fetch().unwrap();
    assert_eq!(job.max_bytes, MAX_RESOURCE_BYTES);
    p.fetched(job.url, body(1, MAX_RESOURCE_BYTES + 1));
    assert!(p.take_offer().unwrap()[0].body.is_none());

    // Fill the session budget with 9.5 MiB resources.
    let size = MAX_RESOURCE_BYTES - (512 << 10);
    let n = (SESSION_BUDGET_BYTES / size) as u8;
    for i in 0..n {
        p.discovered(found(&[&format!("https://a.test/{i}.bin")]));
        let job = p.next_fetch().unwrap();
        p.fetched(job.url, body(10 + i, size));
    }
    let offer = p.take_offer().unwrap();
    assert!(offer.iter().all(|o| o.body.is_some()));
    p.discovered(found(&["https://a.test/one-more.png"]));
    let job = p.next_fetch().unwrap();
    assert!(job.max_bytes < size, "the fetch is told what is left");
    p.fetched(job.url, body(200, size));
    assert!(p.take_offer().unwrap()[0].body.is_none());
}

#[test]
fn wanted_hashes_upload_once_with_the_held_bytes() {
    let mut p = Planner::<u8>::new(RELAY);
    p.discovered(found(&[
        "https://a.test/a.png",
        "https://a.test/b.png",
        "https://a.test/a2.png",
    ]));
    fetch_all(&mut p, |u| match u {
        "https://a.test/b.png" => body(2, 20),
        _ => body(1, 10), // a.png and a2.png are the same bytes
    });
    p.take_offer().unwrap();
    assert_eq!(p.held_bytes(), 30, "one copy per hash is held");
    let refused = p.wanted(vec![h(1), h(1), h(9)], Vec::new());
    assert!(refused.is_empty());
    assert_eq!(p.held_bytes(), 10, "unwanted bytes go once answered");
    let job = p.next_upload().unwrap();
    assert_eq!(job.hash, h(1));
    assert_eq!(job.bytes, Some(1));
    assert!(p.next_upload().is_none(), "h(9) was never offered");
    p.uploaded(UploadEnd::Done { more: Vec::new() });
    p.wanted(vec![h(1)], Vec::new());
    assert!(p.next_upload().is_none(), "uploaded once");
}

#[test]
fn bytes_dropped_before_the_want_are_refetched() {
    let mut p = Planner::<u8>::new(RELAY);
    p.discovered(found(&["https://a.test/a.png"]));
    fetch_all(&mut p, |_| body(1, 10));
    p.take_offer().unwrap();
    p.wanted(Vec::new(), Vec::new()); // the answer to that offer: nothing
    assert_eq!(p.held_bytes(), 0);
    // An agent's page asks later: the bytes come from the URL again.
    p.wanted(vec![h(1)], Vec::new());
    let job = p.next_upload().unwrap();
    assert_eq!(job.url, "https://a.test/a.png");
    assert_eq!(job.bytes, None);
}

#[test]
fn bytes_of_an_offer_not_yet_answered_are_kept() {
    let mut p = Planner::<u8>::new(RELAY);
    p.discovered(found(&["https://a.test/a.png"]));
    fetch_all(&mut p, |_| body(1, 10));
    p.take_offer().unwrap();
    p.discovered(found(&["https://a.test/b.png"]));
    fetch_all(&mut p, |_| body(2, 10));
    p.take_offer().unwrap();
    p.wanted(vec![], Vec::new()); // answers the first offer only
    assert_eq!(p.held_bytes(), 10);
    p.wanted(vec![h(2)], Vec::new());
    assert_eq!(p.next_upload().unwrap().bytes, Some(2));
}

#[test]
fn held_bytes_are_bounded() {
    let mut p = Planner::<u8>::new(RELAY);
    let size = 4 << 20;
    for i in 0..10u8 {
        p.discovered(found(&[&format!("https://a.test/{i}.png")]));
        let job = p.next_fetch().unwrap();
        p.fetched(job.url, body(i, size));
    }
    assert!(p.held_bytes() <= HELD_BYTES);
    p.take_offer().unwrap();
    p.wanted((0..10).map(h).collect(), Vec::new());
    let first = p.next_upload().unwrap();
    assert_eq!(first.bytes, None, "the oldest went first");
}

#[test]
fn at_most_two_uploads_run_at_once_and_a_refused_token_stops_them() {
    let mut p = Planner::<u8>::new(RELAY);
    for i in 0..5u8 {
        p.discovered(found(&[&format!("https://b.test/{i}.png")]));
        let job = p.next_fetch().unwrap();
        p.fetched(job.url, body(i, 1));
    }
    p.take_offer().unwrap();
    p.wanted((0..5).map(h).collect(), Vec::new());
    assert!(p.next_upload().is_some());
    assert!(p.next_upload().is_some());
    assert!(p.next_upload().is_none());
    p.uploaded(UploadEnd::Unauthorized);
    assert!(p.is_unauthorized());
    assert!(p.next_upload().is_none());
    p.wanted(vec![h(4)], Vec::new());
    assert!(p.next_upload().is_none());
}

#[test]
fn the_relay_cannot_make_the_visitor_fetch_what_the_page_does_not_reference() {
    let mut p = Planner::<u8>::new(RELAY);
    p.discovered(Found {
        offer: vec!["https://a.test/site.css".into()],
        referenced: vec!["https://a.test/img@2x.png".into()],
        ..Found::default()
    });
    fetch_all(&mut p, |_| Fetched::Body {
        hash: h(1),
        size: 100,
        content_type: "text/css".into(),
        bytes: 1,
        sheet_refs: vec!["https://a.test/fonts/a.woff2".into()],
    });
    p.take_offer().unwrap();
    let refused = p.wanted(
        Vec::new(),
        vec![
            "https://a.test/fonts/a.woff2".into(),
            "https://a.test/img@2x.png#x".into(),
            "https://a.test/account/export".into(),
            "https://evil.test/steal".into(),
            "file:///etc/passwd".into(),
        ],
    );
    assert_eq!(
        refused,
        [
            "https://a.test/account/export",
            "https://evil.test/steal",
            "file:///etc/passwd"
        ]
    );
    let fetched = fetch_all(&mut p, |_| Fetched::Unavailable);
    assert_eq!(
        fetched,
        ["https://a.test/fonts/a.woff2", "https://a.test/img@2x.png"]
    );
    // An upload's `more` follows the same rule.
    p.discovered(found(&["https://a.test/b.png"]));
    fetch_all(&mut p, |_| body(2, 1));
    p.take_offer();
    p.wanted(vec![h(2)], Vec::new());
    p.next_upload().unwrap();
    let refused = p.uploaded(UploadEnd::Done {
        more: vec!["https://a.test/private.json".into()],
    });
    assert_eq!(refused, ["https://a.test/private.json"]);
}

#[test]
fn a_stylesheet_that_could_not_be_read_vouches_for_nothing() {
    let mut p = Planner::<u8>::new(RELAY);
    p.discovered(found(&["https://cdn.test/site.css"]));
    fetch_all(&mut p, |_| Fetched::Unavailable);
    let refused = p.wanted(Vec::new(), vec!["https://cdn.test/font.woff2".into()]);
    assert_eq!(refused.len(), 1);
    assert!(!p.is_referenced("https://cdn.test/font.woff2"));
    assert!(p.is_referenced("https://cdn.test/site.css#whatever"));
}

#[test]
fn only_http_urls_are_candidates_and_fragments_go() {
    assert_eq!(
        without_fragment(" https://a.test/x.svg#icon "),
        Some("https://a.test/x.svg")
    );
    assert_eq!(without_fragment("HTTP://a.test/"), Some("HTTP://a.test/"));
    assert_eq!(
        without_fragment("blob:https://a.test/5c1d#x"),
        Some("blob:https://a.test/5c1d"),
        "a blob: URL means nothing outside the page: its bytes are sent"
    );
    for bad in [
        "data:,x",
        "blob:null/1",
        "blob:",
        "ftp://a.test/x",
        "/rel.png",
        "",
        "http",
    ] {
        assert_eq!(without_fragment(bad), None, "{bad}");
    }
}

#[test]
fn only_resource_types_are_cached() {
    for (ct, url) in [
        ("image/png", "https://a.test/x"),
        ("image/svg+xml; charset=utf-8", "https://a.test/x.svg"),
        ("font/woff2", "https://a.test/x"),
        ("text/css; charset=iso-8859-1", "https://a.test/x.css"),
        ("TEXT/CSS", "https://a.test/x.css"),
        ("application/font-woff", "https://a.test/x"),
        ("application/x-font-ttf", "https://a.test/x"),
        ("application/vnd.ms-fontobject", "https://a.test/x.eot"),
        ("application/octet-stream", "https://a.test/f/x.WOFF2?v=3"),
        ("", "https://a.test/x.ttf"),
        ("video/webm", "https://a.test/clip.webm"),
        ("audio/mpeg", "https://a.test/song.mp3"),
    ] {
        assert!(is_resource_type(ct, url), "{ct} {url}");
    }
    for (ct, url) in [
        ("text/html", "https://a.test/x.png"),
        ("application/json", "https://a.test/x.woff"),
        ("text/javascript", "https://a.test/x.css"),
        ("application/xhtml+xml", "https://a.test/x"),
        ("application/octet-stream", "https://a.test/x.exe"),
        ("application/octet-stream", "https://a.test/woff/x"),
        ("", "https://a.test/x.png"),
        ("text/plain", "https://a.test/x.css"),
    ] {
        assert!(!is_resource_type(ct, url), "{ct} {url}");
    }
}

fn texts(css: &str) -> Vec<(String, bool)> {
    css_refs(css)
        .into_iter()
        .map(|CssRef { text, in_url }| (text, in_url))
        .collect()
}

#[test]
fn stylesheet_text_yields_its_urls_and_strings() {
    let css = r#"
        @import "base.css";
        @import url(print.css) print;
        /* url(commented.png) it's a comment */
        @font-face { font-family: "Brand Sans"; src: url( 'fonts/a.woff2' ) format("woff2"); }
        .x { background: URL(../img/bg.png) no-repeat; }
        .y { background-image: image-set("a.png" 1x, "a@2x.png" 2x); }
        .z { content: "say \"hi\""; mask: url(#local); }
        .w { background: url("data:image/svg+xml,<svg xmlns='x'></svg>"); }
    "#;
    assert_eq!(
        texts(css),
        [
            ("base.css".to_string(), false),
            ("print.css".to_string(), true),
            ("Brand Sans".to_string(), false),
            ("fonts/a.woff2".to_string(), true),
            ("woff2".to_string(), false),
            ("../img/bg.png".to_string(), true),
            ("a.png".to_string(), false),
            ("a@2x.png".to_string(), false),
            ("say \"hi\"".to_string(), false),
            ("data:image/svg+xml,<svg xmlns='x'></svg>".to_string(), true),
        ]
    );
}

#[test]
fn broken_css_ends_the_scan_without_panicking() {
    for css in [
        "url(",
        "url(  ",
        "'open",
        "/* open",
        "url('a",
        "é url(é.png) \"é",
        "u",
        "/",
    ] {
        let _ = css_refs(css);
    }
    assert_eq!(texts("a{b:url(é.png)}"), [("é.png".to_string(), true)]);
}

#[test]
fn uploads_resume_from_what_the_relay_holds() {
    let t = 1_500_000;
    assert_eq!(
        after_put(PutAnswer::Received(524_288), 0, t, 0),
        Step::Send { offset: 524_288 }
    );
    assert_eq!(after_put(PutAnswer::Complete, 1_048_576, t, 0), Step::Done);
    // A network failure: wait, ask, resume where the relay is.
    assert_eq!(
        after_put(PutAnswer::Failed, 0, t, 0),
        Step::Retry { after_ms: 500 }
    );
    assert_eq!(
        after_put(PutAnswer::Failed, 0, t, 2),
        Step::Retry { after_ms: 2000 }
    );
    assert_eq!(
        after_get(PutAnswer::Received(700_000), t, 1),
        Step::Send { offset: 700_000 }
    );
    assert_eq!(
        after_get(PutAnswer::Received(t), t, 1),
        Step::Done,
        "the 201 was lost"
    );
    assert_eq!(
        after_get(PutAnswer::Failed, t, 1),
        Step::Retry { after_ms: 1000 }
    );
    // Server errors and rate limits are retried; the retries are bounded.
    assert!(matches!(
        after_put(PutAnswer::Status(503), 0, t, 0),
        Step::Retry { .. }
    ));
    assert!(matches!(
        after_put(PutAnswer::Status(429), 0, t, 0),
        Step::Retry { .. }
    ));
    assert_eq!(
        after_put(PutAnswer::Failed, 0, t, rules::MAX_ATTEMPTS - 1),
        Step::Drop
    );
    assert!(backoff_ms(30) <= 8000);
    // No progress counts as a failure, so it cannot loop forever.
    assert!(matches!(
        after_put(PutAnswer::Received(0), 0, t, 0),
        Step::Retry { .. }
    ));
    assert!(matches!(
        after_put(PutAnswer::Received(t + 1), 0, t, 0),
        Step::Retry { .. }
    ));
}

#[test]
fn refusals_drop_the_resource_and_a_bad_token_stops_everything() {
    for status in [400, 404, 409, 413, 415] {
        assert_eq!(
            after_put(PutAnswer::Status(status), 0, 10, 0),
            Step::Drop,
            "{status}"
        );
    }
    assert_eq!(
        after_put(PutAnswer::Status(401), 0, 10, 0),
        Step::Unauthorized
    );
    assert_eq!(after_get(PutAnswer::Status(401), 10, 0), Step::Unauthorized);
    assert_eq!(after_get(PutAnswer::Status(404), 10, 0), Step::Drop);
}

#[test]
fn what_only_masked_elements_use_is_never_fetched_even_if_a_stylesheet_names_it() {
    let mut p = Planner::<u8>::new(RELAY);
    p.discovered(Found {
        offer: vec![
            "https://a.test/site.css".into(),
            "https://a.test/shared.png".into(),
        ],
        private: vec![
            "https://a.test/avatar/42.png".into(),
            "https://a.test/shared.png".into(),
        ],
        private_complete: true,
        ..Found::default()
    });
    fetch_all(&mut p, |u| match u {
        "https://a.test/site.css" => Fetched::Body {
            hash: h(1),
            size: 10,
            content_type: "text/css".into(),
            bytes: 1,
            sheet_refs: vec![
                "https://a.test/avatar/42.png".into(),
                "https://a.test/hover.png".into(),
            ],
        },
        _ => Fetched::Unavailable,
    });
    p.take_offer().unwrap();
    let refused = p.wanted(
        Vec::new(),
        vec![
            "https://a.test/avatar/42.png".into(),
            "https://a.test/hover.png".into(),
        ],
    );
    assert_eq!(refused, ["https://a.test/avatar/42.png"]);
    assert!(
        p.is_referenced("https://a.test/shared.png"),
        "an unmasked element uses it too"
    );
    // A round that could not check every masked element: stylesheets vouch
    // for nothing until one can.
    p.discovered(Found {
        private_complete: false,
        ..Found::default()
    });
    assert!(!p.is_referenced("https://a.test/hover.png"));
    assert!(p.is_referenced("https://a.test/shared.png"));
}

#[test]
fn timing_entries_are_offered_once_a_stylesheet_names_them() {
    let mut p = Planner::<u8>::new(RELAY);
    p.discovered(Found {
        offer: vec!["https://a.test/site.css".into()],
        timed: vec![
            "https://a.test/font.woff2".into(),
            "https://a.test/removed-avatar.png".into(),
        ],
        ..Found::default()
    });
    let first = p.next_fetch().unwrap();
    assert!(p.next_fetch().is_none(), "timing alone vouches for nothing");
    p.fetched(
        first.url,
        Fetched::Body {
            hash: h(1),
            size: 10,
            content_type: "text/css".into(),
            bytes: 1,
            sheet_refs: vec!["https://a.test/font.woff2".into()],
        },
    );
    let next = p.next_fetch().unwrap();
    assert_eq!(next.url, "https://a.test/font.woff2");
    p.fetched(next.url, body(2, 5));
    assert!(p.next_fetch().is_none());
    assert_eq!(p.take_offer().unwrap().len(), 2, "one offer for both");
}
