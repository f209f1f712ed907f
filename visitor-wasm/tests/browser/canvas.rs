//! Canvas and media capture in a real browser, through whole sessions
//! against the fake relay: what is read, what is sent, what never is.

use protocol::{AgentId, CanvasFrame, Event, ImageFormat, Mode, ToVisitor};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use crate::session::{started_with, Relay};
use crate::util::*;

fn ctx(el: &web_sys::Element) -> CanvasRenderingContext2d {
    el.dyn_ref::<HtmlCanvasElement>()
        .unwrap()
        .get_context("2d")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap()
}

fn fill(el: &web_sys::Element, color: &str, x: f64, y: f64, w: f64, h: f64) {
    let c = ctx(el);
    c.set_fill_style_str(color);
    c.fill_rect(x, y, w, h);
}

/// A session an agent watches, its snapshot sent.
pub(crate) async fn watched(relay: &Relay) -> visitor_wasm::Session {
    watched_with(relay, "").await
}

/// [`watched`], for a session whose relay gave `upload_token` (resources).
pub(crate) async fn watched_with(relay: &Relay, upload_token: &str) -> visitor_wasm::Session {
    let session = started_with(relay, upload_token).await;
    relay.say(&ToVisitor::AgentJoined {
        agent: AgentId(3),
        name: "Ann".into(),
        mode: Mode::ViewOnly,
    });
    ui_button("data-cobrowse-accept").unwrap().click();
    relay.say(&ToVisitor::SnapshotNeeded);
    session
}

fn canvas_frames(relay: &Relay, width: u32) -> Vec<CanvasFrame> {
    relay
        .events()
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::Canvas(f) if f.width == width => Some(f),
            _ => None,
        })
        .collect()
}

#[wasm_bindgen_test]
async fn changed_tiles_only_and_nothing_for_an_unchanged_canvas() {
    let relay = Relay::install();
    let f = Fixture::new(
        "cv1",
        "<canvas id='a' width='320' height='192'></canvas><canvas id='b' width='130' height='70'></canvas>",
    );
    fill(&f.get("#a"), "#123456", 0.0, 0.0, 320.0, 192.0);
    fill(&f.get("#b"), "#ff0000", 0.0, 0.0, 130.0, 70.0);
    let session = watched(&relay).await;
    sleep(600).await;
    let first = canvas_frames(&relay, 320);
    assert_eq!(first.len(), 1, "one whole frame first");
    assert_eq!(first[0].tiles.len(), 1);
    assert_eq!(
        (first[0].tiles[0].width, first[0].tiles[0].height),
        (320, 192)
    );
    assert_eq!(canvas_frames(&relay, 130).len(), 1);

    // Nothing changes for a while: nothing is sent.
    sleep(500).await;
    assert_eq!(canvas_frames(&relay, 320).len(), 1);
    assert_eq!(canvas_frames(&relay, 130).len(), 1);

    // One small change: one tile, clipped to the change's 64 px tile.
    fill(&f.get("#a"), "#ffffff", 200.0, 70.0, 10.0, 10.0);
    sleep(500).await;
    let frames = canvas_frames(&relay, 320);
    assert_eq!(frames.len(), 2, "{frames:?}");
    let t = &frames[1].tiles;
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].x, t[0].y, t[0].width, t[0].height), (192, 64, 64, 64));
    assert_eq!(t[0].format, ImageFormat::Png, "flat colours stay PNG");
    assert_eq!(&t[0].data[1..4], b"PNG");
    assert_eq!(canvas_frames(&relay, 130).len(), 1, "b never changed");

    // A new snapshot: every canvas again, in full.
    relay.say(&ToVisitor::SnapshotNeeded);
    sleep(500).await;
    assert_eq!(canvas_frames(&relay, 320).len(), 3);
    assert_eq!(canvas_frames(&relay, 130).len(), 2);
    session.end();
}

#[wasm_bindgen_test]
async fn masked_hidden_and_tainted_canvases_are_never_read() {
    let relay = Relay::install();
    let f = Fixture::new(
        "cv2",
        "<div data-cobrowse-mask><canvas id='m' width='111' height='50'></canvas></div>
         <canvas id='h' width='112' height='50' style='display:none'></canvas>
         <canvas id='t' width='113' height='50'></canvas>",
    );
    for id in ["#m", "#h", "#t"] {
        fill(&f.get(id), "#00ff00", 0.0, 0.0, 50.0, 50.0);
    }
    // A cross-origin image taints #t (an SVG from a data: URL would not).
    let img = web_sys::HtmlImageElement::new().unwrap();
    let loaded = js_sys::Promise::new(&mut |res, _| {
        img.set_onload(Some(&res));
        img.set_onerror(Some(&res));
    });
    let other = if origin().contains("127.0.0.1") {
        origin().replace("127.0.0.1", "localhost")
    } else {
        origin().replace("localhost", "127.0.0.1")
    };
    img.set_src(&format!("{other}/favicon.ico"));
    let _ = wasm_bindgen_futures::JsFuture::from(loaded).await;
    let tainted = img.natural_width() > 0;
    if tainted {
        ctx(&f.get("#t"))
            .draw_image_with_html_image_element(&img, 0.0, 0.0)
            .unwrap();
    }
    let session = watched(&relay).await;
    sleep(600).await;
    assert!(canvas_frames(&relay, 111).is_empty(), "masked: never read");
    assert!(
        canvas_frames(&relay, 112).is_empty(),
        "hidden: not captured"
    );
    let unreadable = relay
        .events()
        .into_iter()
        .filter(|(_, e)| matches!(e, Event::CanvasUnreadable { .. }))
        .count();
    if tainted {
        assert_eq!(unreadable, 1, "the tainted canvas, reported once");
        assert!(canvas_frames(&relay, 113).is_empty());
    } else {
        web_sys::console::log_1(&"no cross-origin image to taint with here".into());
    }
    session.end();
}

#[wasm_bindgen_test]
async fn media_state_is_sent_after_the_snapshot_and_on_changes() {
    let relay = Relay::install();
    let f = Fixture::new("md", "<video id='v' loop muted></video>");
    let session = watched(&relay).await;
    sleep(100).await;
    let media = |relay: &Relay| -> Vec<protocol::MediaState> {
        relay
            .events()
            .into_iter()
            .filter_map(|(_, e)| match e {
                Event::Media(m) => Some(m),
                _ => None,
            })
            .collect()
    };
    let first = media(&relay);
    assert_eq!(first.len(), 1);
    assert!(first[0].paused && first[0].looped && first[0].muted);
    let v: web_sys::HtmlMediaElement = f.get("#v").dyn_into().unwrap();
    v.set_playback_rate(2.0);
    sleep(100).await;
    let all = media(&relay);
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].rate, 2.0);
    session.end();
}

/// Canvases inside open shadow roots — one there at the snapshot, one in a
/// root attached during the session — are captured: the capture knows the
/// roots it met, without walking the page for them.
#[wasm_bindgen_test]
async fn canvases_in_shadow_roots_met_at_the_snapshot_or_later_are_sent() {
    let relay = Relay::install();
    let f = Fixture::new("cv-shadow", "<div id='h1'></div><div id='h2'></div>");
    let in_shadow = |host: &web_sys::Element, width: u32| -> web_sys::Element {
        let root = host
            .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
            .unwrap();
        let canvas = document().create_element("canvas").unwrap();
        canvas.set_attribute("width", &width.to_string()).unwrap();
        canvas.set_attribute("height", "40").unwrap();
        root.append_child(&canvas).unwrap();
        fill(&canvas, "#2266aa", 0.0, 0.0, f64::from(width), 40.0);
        canvas
    };
    in_shadow(&f.get("#h1"), 111);
    let session = watched(&relay).await;
    sleep(600).await;
    assert_eq!(
        canvas_frames(&relay, 111).len(),
        1,
        "the canvas in the snapshot's shadow root"
    );
    in_shadow(&f.get("#h2"), 97);
    sleep(1800).await;
    assert_eq!(
        canvas_frames(&relay, 97).len(),
        1,
        "the canvas in a shadow root attached during the session"
    );
    session.end();
}
