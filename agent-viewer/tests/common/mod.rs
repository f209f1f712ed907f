//! What the console's browser tests share: a sandboxed iframe in the test
//! page with a mirror writing into it, readers of the mirrored document, and
//! builders of the visitor's nodes. Each test binary uses part of it.
#![allow(dead_code)] // each test file uses only some of these helpers
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use agent_viewer::mirror::dom::WebDom;
use agent_viewer::mirror::Mirror;
use protocol::{Attr, Event, Node, NodeId, Ns, Snapshot, Viewport};
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlIFrameElement};

/// An iframe sandboxed as the console's is (`allow-same-origin`, never
/// scripts), in the test page.
pub fn new_frame() -> HtmlIFrameElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let frame: HtmlIFrameElement = document
        .create_element("iframe")
        .unwrap()
        .dyn_into()
        .unwrap();
    frame.set_attribute("sandbox", "allow-same-origin").unwrap();
    document.body().unwrap().append_child(&frame).unwrap();
    frame
}

/// A mirror writing into a new iframe.
pub fn mirror() -> (Mirror<WebDom>, HtmlIFrameElement) {
    let frame = new_frame();
    (Mirror::new(WebDom::new(frame.clone())), frame)
}

pub fn doc(frame: &HtmlIFrameElement) -> Document {
    frame.content_document().expect("iframe document")
}

pub fn by_id(frame: &HtmlIFrameElement, id: &str) -> Element {
    doc(frame)
        .get_element_by_id(id)
        .unwrap_or_else(|| panic!("#{id} in the mirror"))
}

pub fn el(id: u32, tag: &str, attrs: &[(&str, &str)], children: Vec<Node>) -> Node {
    el_ns(id, tag, Ns::Html, attrs, children)
}

pub fn el_ns(id: u32, tag: &str, ns: Ns, attrs: &[(&str, &str)], children: Vec<Node>) -> Node {
    Node::Element {
        id: NodeId(id),
        tag: tag.into(),
        ns,
        attrs: attrs.iter().map(|(n, v)| Attr::new(*n, *v)).collect(),
        state: None,
        children,
    }
}

pub fn text(id: u32, t: &str) -> Node {
    Node::Text {
        id: NodeId(id),
        text: t.into(),
    }
}

/// A snapshot of a document (of `shop.example`, in a 1024×640 viewport)
/// holding `children`.
pub fn snapshot(quirks: bool, children: Vec<Node>) -> Event {
    Event::Snapshot(Snapshot {
        url: "https://shop.example/".into(),
        base_url: "https://shop.example/".into(),
        viewport: Viewport {
            width: 1024,
            height: 640,
            device_pixel_ratio: 1.0,
        },
        root: Node::Document {
            id: NodeId(1),
            quirks,
            children,
        },
        scrolls: vec![],
    })
}
