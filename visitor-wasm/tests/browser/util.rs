//! Helpers shared by the browser tests: fixtures in the test page, tree
//! searches over protocol nodes, byte scans.

use protocol::{Attr, Node};
use wasm_bindgen::JsCast;
use web_sys::{Document, Element};

pub fn document() -> Document {
    web_sys::window().unwrap().document().unwrap()
}

/// A `<div id=...>` holding `html`, appended to the body. Removed on drop.
pub struct Fixture {
    pub root: Element,
}

impl Fixture {
    pub fn new(id: &str, html: &str) -> Fixture {
        // Through the prototypes: a test that failed may have left named
        // elements that shadow the document's members (clobber.rs).
        let doc = document();
        let root = visitor_wasm::dom::create_element(&doc, "div").unwrap();
        root.set_id(id);
        root.set_inner_html(html);
        let body = visitor_wasm::dom::query_selector(&doc, "body")
            .unwrap()
            .unwrap();
        body.append_child(&root).unwrap();
        Fixture { root }
    }

    pub fn get(&self, selector: &str) -> Element {
        self.root
            .query_selector(selector)
            .unwrap()
            .unwrap_or_else(|| panic!("fixture has no {selector}"))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.root.remove();
    }
}

pub fn attr<'a>(node: &'a Node, name: &str) -> Option<&'a str> {
    match node {
        Node::Element { attrs, .. } => attrs
            .iter()
            .find(|a: &&Attr| a.name == name)
            .map(|a| a.value.as_str()),
        _ => None,
    }
}

pub fn tag(node: &Node) -> Option<&str> {
    match node {
        Node::Element { tag, .. } => Some(tag),
        _ => None,
    }
}

/// Depth-first search of a protocol tree.
pub fn find<'a>(node: &'a Node, pred: &dyn Fn(&Node) -> bool) -> Option<&'a Node> {
    if pred(node) {
        return Some(node);
    }
    node.children().iter().find_map(|c| find(c, pred))
}

pub fn find_id<'a>(node: &'a Node, id: &str) -> &'a Node {
    find(node, &|n| attr(n, "id") == Some(id)).unwrap_or_else(|| panic!("no #{id} in tree"))
}

/// The concatenated text of a subtree.
pub fn text(node: &Node) -> String {
    match node {
        Node::Text { text, .. } => text.clone(),
        _ => node.children().iter().map(text).collect(),
    }
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

pub fn set_value(el: &Element, value: &str) {
    js_sys::Reflect::set(el, &"value".into(), &value.into()).unwrap();
}

pub fn fire(el: &Element, kind: &str) {
    let event = web_sys::Event::new(kind).unwrap();
    el.dispatch_event(&event).unwrap();
}

pub fn origin() -> String {
    web_sys::window().unwrap().location().origin().unwrap()
}

pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

pub fn ui_button(attr: &str) -> Option<web_sys::HtmlElement> {
    let host = visitor_wasm::dom::query_selector(&document(), "cobrowse-ui").unwrap()?;
    let root = host.shadow_root()?;
    let sel = format!("[{attr}]");
    root.query_selector(&sel)
        .unwrap()
        .map(|b| b.unchecked_into::<web_sys::HtmlElement>())
}

/// A capture under these mask/block rules (the markup markers always apply).
pub fn capture_with(mask: &[&str], block: &[&str], private: bool) -> visitor_wasm::Capture {
    let owned = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    visitor_wasm::Capture::with_rules(visitor_wasm::mask::Rules::new(
        &owned(mask),
        &owned(block),
        private,
    ))
}

/// A fixture, snapshotted by `cap`, with a tracker observing it and the roots
/// the snapshot met, as the session does on admission.
pub fn observed(
    id: &str,
    html: &str,
    mut cap: visitor_wasm::Capture,
) -> (
    Fixture,
    visitor_wasm::Capture,
    visitor_wasm::MutationTracker,
) {
    let f = Fixture::new(id, html);
    let t = visitor_wasm::MutationTracker::start(&document(), Box::new(|| {})).unwrap();
    visitor_wasm::snapshot(&document(), &mut cap).unwrap();
    t.observe_found(&mut cap);
    (f, cap, t)
}

/// Small slices for the length of a test (every sliced task stops at its
/// first look at the clock), the default after it.
pub struct TinySlices;

impl TinySlices {
    pub fn on() -> TinySlices {
        visitor_wasm::set_slice_budget_ms(0.0);
        TinySlices
    }
}

impl Drop for TinySlices {
    fn drop(&mut self) {
        visitor_wasm::set_slice_budget_ms(8.0);
    }
}

/// Asserts no canary is anywhere in the batch's encoded bytes.
pub fn assert_absent_from_batch(batch: &protocol::MutationBatch, canaries: &[&str]) {
    let bytes = protocol::encode(&protocol::Event::Mutations(batch.clone())).unwrap();
    for c in canaries {
        assert!(!contains(&bytes, c), "{c} left the page: {batch:?}");
    }
}

/// The node `el` is sent again as in `batch`: removed, then added anew.
pub fn resent(
    cap: &visitor_wasm::Capture,
    batch: &protocol::MutationBatch,
    el: &web_sys::Node,
) -> Node {
    let id = cap.ids.get(el).expect("the element was sent");
    assert!(batch.removes.contains(&id), "{batch:?}");
    batch
        .adds
        .iter()
        .find(|a| a.node.id() == id)
        .unwrap_or_else(|| panic!("the element is sent again: {batch:?}"))
        .node
        .clone()
}

/// Sets the text of `el`'s first child (a text node).
pub fn set_text(el: &Element, text: &str) {
    el.first_child().unwrap().set_node_value(Some(text));
}
