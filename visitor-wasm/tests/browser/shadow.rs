//! Shadow roots and same-origin frames in the capture: snapshots, roots
//! attached after load, mutations inside roots and frames, masking through
//! hosts, frames that load a new document, cross-origin frames.

use protocol::{Event, Node};
use visitor_wasm::{snapshot, Capture, MutationTracker};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::util::*;

fn capture() -> Capture {
    Capture::new("[data-cobrowse-mask]".into())
}

/// Snapshot + tracker, roots observed, like the session on admission.
fn observed(id: &str, html: &str) -> (Fixture, Capture, MutationTracker) {
    let f = Fixture::new(id, html);
    let mut cap = capture();
    let t = MutationTracker::start(&document(), Box::new(|| {})).unwrap();
    snapshot(&document(), &mut cap).unwrap();
    t.observe_found(&mut cap);
    (f, cap, t)
}

fn shadow_of(node: &Node) -> &Node {
    match node.children().first() {
        Some(root @ Node::ShadowRoot { .. }) => root,
        other => panic!("the host's first child is its shadow root, got {other:?}"),
    }
}

fn attach(host: &web_sys::Element, html: &str) -> web_sys::ShadowRoot {
    let root = host
        .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
        .unwrap();
    root.set_inner_html(html);
    root
}

async fn frame_loaded(frame: &web_sys::Element) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = frame.add_event_listener_with_callback("load", &resolve);
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

#[wasm_bindgen_test]
fn open_roots_come_first_under_their_host_and_closed_ones_stay_hidden() {
    let f = Fixture::new(
        "sr-snap",
        "<x-card id='card'><span id='light'>light text</span></x-card><div id='closed'></div>",
    );
    attach(
        &f.get("#card"),
        "<style>b{color:red}</style><b id='inner'>shadow text</b><slot></slot>",
    );
    f.get("#closed")
        .attach_shadow(&web_sys::ShadowRootInit::new(
            web_sys::ShadowRootMode::Closed,
        ))
        .unwrap()
        .set_inner_html("<i>closed secret</i>");
    let mut cap = capture();
    let snap = snapshot(&document(), &mut cap).unwrap();
    let card = find_id(&snap.root, "card");
    assert_eq!(tag(card), Some("x-card"), "custom tags go as they are");
    let root = shadow_of(card);
    assert_eq!(text(find_id(root, "inner")), "shadow text");
    assert!(find(root, &|n| tag(n) == Some("slot")).is_some());
    assert_eq!(text(&card.children()[1]), "light text", "light DOM follows");
    let bytes = protocol::encode(&Event::Snapshot(snap)).unwrap();
    assert!(!contains(&bytes, "closed secret"));
}

#[wasm_bindgen_test]
fn a_root_attached_after_load_is_an_add_under_its_host_and_observed() {
    let (f, mut cap, t) = observed("sr-late", "<div id='host'><p>light</p></div>");
    let host = f.get("#host");
    let root = attach(&host, "<b>first</b>");
    let batch = t.flush(&mut cap);
    assert_eq!(batch.adds.len(), 1, "{batch:?}");
    assert_eq!(batch.adds[0].parent, cap.ids.get(&host).unwrap());
    assert!(matches!(batch.adds[0].node, Node::ShadowRoot { .. }));
    assert_eq!(text(&batch.adds[0].node), "first");
    let root_id = batch.adds[0].node.id();

    // Changes inside the root now reach the tracker, named by the root.
    let b = document().create_element("i").unwrap();
    b.set_text_content(Some("second"));
    root.append_child(&b).unwrap();
    let batch = t.flush(&mut cap);
    assert_eq!(batch.adds.len(), 1, "{batch:?}");
    assert_eq!(batch.adds[0].parent, root_id);
    assert_eq!(text(&batch.adds[0].node), "second");
}

#[wasm_bindgen_test]
fn roots_in_the_snapshot_are_observed_for_adds_attributes_and_text() {
    let f = Fixture::new("sr-obs", "<div id='h'></div>");
    let root = attach(&f.get("#h"), "<p id='p'>one</p>");
    let mut cap = capture();
    let t = MutationTracker::start(&document(), Box::new(|| {})).unwrap();
    let snap = snapshot(&document(), &mut cap).unwrap();
    t.observe_found(&mut cap);
    let root_id = shadow_of(find_id(&snap.root, "h")).id();
    let p = root.get_element_by_id("p").unwrap();
    p.set_attribute("class", "on").unwrap();
    p.first_child().unwrap().set_node_value(Some("two"));
    let span = document().create_element("span").unwrap();
    root.append_child(&span).unwrap();
    let batch = t.flush(&mut cap);
    assert_eq!(batch.adds.len(), 1);
    assert_eq!(batch.adds[0].parent, root_id);
    assert!(batch.attrs.iter().any(|a| a.name == "class"));
    assert_eq!(batch.texts.len(), 1);
    assert_eq!(batch.texts[0].text, "two");
}

#[wasm_bindgen_test]
fn a_masked_host_masks_its_shadow_content() {
    let f = Fixture::new("sr-mask", "<div id='mh' data-cobrowse-mask></div>");
    let root = attach(&f.get("#mh"), "<p>shadow secret</p>");
    let mut cap = capture();
    let t = MutationTracker::start(&document(), Box::new(|| {})).unwrap();
    let snap = snapshot(&document(), &mut cap).unwrap();
    t.observe_found(&mut cap);
    let bytes = protocol::encode(&Event::Snapshot(snap)).unwrap();
    assert!(!contains(&bytes, "shadow secret"));
    let p = document().create_element("p").unwrap();
    p.set_text_content(Some("added secret"));
    root.append_child(&p).unwrap();
    let batch = t.flush(&mut cap);
    assert_eq!(batch.adds.len(), 1);
    let bytes = protocol::encode(&Event::Mutations(batch)).unwrap();
    assert!(!contains(&bytes, "added secret"));
}

#[wasm_bindgen_test]
fn the_attach_shadow_wrapper_goes_when_the_tracker_does() {
    let proto = js_sys::Reflect::get(&web_sys::window().unwrap(), &"Element".into())
        .and_then(|e| js_sys::Reflect::get(&e, &"prototype".into()))
        .unwrap();
    let before = js_sys::Reflect::get(&proto, &"attachShadow".into()).unwrap();
    let t = MutationTracker::start(&document(), Box::new(|| {})).unwrap();
    let during = js_sys::Reflect::get(&proto, &"attachShadow".into()).unwrap();
    assert_ne!(before, during, "wrapped while capturing");
    let shown = during
        .unchecked_ref::<js_sys::Function>()
        .to_string()
        .as_string()
        .unwrap();
    assert!(
        shown.contains("[native code]"),
        "still looks native: {shown}"
    );
    drop(t);
    let after = js_sys::Reflect::get(&proto, &"attachShadow".into()).unwrap();
    assert_eq!(before, after, "unwrapped on drop");
}

#[wasm_bindgen_test]
async fn same_origin_frames_are_documents_observed_and_resent_on_load() {
    let f = Fixture::new("fr", "<iframe id='fr1'></iframe>");
    let frame = f.get("#fr1");
    let doc = frames_doc(&frame);
    doc.body()
        .unwrap()
        .set_inner_html("<p id='in'>inside frame</p><iframe id='fr2'></iframe>");
    let inner = frames_doc(&doc.get_element_by_id("fr2").unwrap());
    inner.body().unwrap().set_inner_html("<b>nested</b>");

    let mut cap = capture();
    let t = MutationTracker::start(&document(), Box::new(|| {})).unwrap();
    let snap = snapshot(&document(), &mut cap).unwrap();
    t.observe_found(&mut cap);
    let fr = find_id(&snap.root, "fr1");
    assert_eq!(fr.children().len(), 1);
    let Node::Document { id: doc_id, .. } = &fr.children()[0] else {
        panic!("a frame's only child is its document")
    };
    assert_eq!(text(find_id(fr, "in")), "inside frame");
    let fr2 = find_id(fr, "fr2");
    assert!(matches!(fr2.children()[0], Node::Document { .. }));
    assert_eq!(text(fr2), "nested");

    // Mutations inside the frame name the frame's nodes as parents.
    let p = doc.get_element_by_id("in").unwrap();
    let em = doc.create_element("em").unwrap();
    em.set_text_content(Some("added in frame"));
    p.append_child(&em).unwrap();
    p.set_attribute("title", "t").unwrap();
    let batch = t.flush(&mut cap);
    assert_eq!(batch.adds.len(), 1, "{batch:?}");
    assert_eq!(batch.adds[0].parent, cap.ids.get(&p).unwrap());
    assert!(batch.attrs.iter().any(|a| a.name == "title"), "{batch:?}");

    // A frame that loads a new document: the old one goes, the new comes.
    frame.set_attribute("src", "about:blank").unwrap();
    frame_loaded(&frame).await;
    let batch = t.flush(&mut cap);
    assert!(batch.removes.contains(doc_id), "{batch:?}");
    assert!(
        batch
            .adds
            .iter()
            .any(|a| matches!(a.node, Node::Document { .. })
                && a.parent == cap.ids.get(&frame).unwrap()),
        "{batch:?}"
    );
}

#[wasm_bindgen_test]
fn cross_origin_frames_have_no_children() {
    let f = Fixture::new("fr-x", "<iframe id='sbx' sandbox></iframe>");
    let mut cap = capture();
    let snap = snapshot(&document(), &mut cap).unwrap();
    let _ = f;
    assert!(find_id(&snap.root, "sbx").children().is_empty());
}

fn frames_doc(frame: &web_sys::Element) -> web_sys::Document {
    let doc = js_sys::Reflect::get(frame, &"contentDocument".into()).unwrap();
    assert!(doc.is_object(), "same-origin frame");
    // Another realm's document: not an instance of this window's class.
    doc.unchecked_into()
}
