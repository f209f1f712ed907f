//! The whole page at one moment: the node tree plus the address, viewport
//! and scroll positions the tree does not carry.
//!
//! Owns: assembling a [`Snapshot`] and reading the window's geometry. Does
//! not own: serializing nodes (`serialize.rs`), when to snapshot
//! (`session.rs`).

use protocol::{Attr, Node, NodeId, Ns, ScrollPos, Snapshot, Viewport};
use web_sys::{Document, Window};

use crate::error::{warn, VisitorError};
use crate::serialize::{Capture, Walk};

/// Walks `document` into a snapshot. Nodes keep the ids they already have
/// (a second snapshot of the same page reuses them); new nodes get new ids.
pub fn snapshot(document: &Document, capture: &mut Capture) -> Result<Snapshot, VisitorError> {
    let window = document
        .default_view()
        .or_else(web_sys::window)
        .ok_or(VisitorError::NoDocument)?;
    let base_url = base_url(document);
    let url = document.url().map_err(VisitorError::js)?;
    let mut scrolls = Vec::new();
    let root = {
        let mut walk = Walk::with_scrolls(&base_url, &mut scrolls, document.scrolling_element());
        capture.begin_snapshot();
        let mut root = capture.serialize(document, &mut walk, false);
        if let Some(cap) = capture.end_snapshot() {
            warn(&format!(
                "cobrowse: this page has more than {cap} nodes (the maxNodes option); the agent sees the first {cap} and a notice"
            ));
            if let Some(root) = &mut root {
                let ids = [capture.ids.fresh(), capture.ids.fresh()];
                add_cut_notice(root, ids, cap);
            }
        }
        root.ok_or(VisitorError::NoDocument)?
    };
    scrolls.insert(0, window_scroll(&window, root.id()));
    Ok(Snapshot {
        url,
        base_url,
        viewport: viewport(&window),
        root,
        scrolls,
    })
}

/// The attribute that marks the notice of a cut snapshot (the console
/// recognises nothing by it; it is for tests and the curious).
pub const CUT_NOTICE_ATTR: &str = "data-cobrowse-truncated";

/// Appends to the page's `<body>` (else its root element) a banner saying
/// the snapshot stops after `cap` nodes, so the agent sees that the page is
/// incomplete rather than a silently wrong one. It has an id of its own
/// (and its text one) that no node of the page has; nothing the visitor
/// sends refers to them.
fn add_cut_notice(root: &mut Node, [id, text_id]: [NodeId; 2], cap: u32) {
    let notice = Node::Element {
        id,
        tag: "div".into(),
        ns: Ns::Html,
        attrs: vec![
            Attr::new(CUT_NOTICE_ATTR, cap.to_string()),
            Attr::new(
                "style",
                "position:fixed;left:0;right:0;bottom:0;z-index:2147483647;\
                 padding:8px 12px;background:#fef3c7;color:#78350f;\
                 font:14px/1.4 sans-serif;border-top:2px solid #d97706",
            ),
        ],
        state: None,
        children: vec![Node::Text {
            id: text_id,
            text: format!(
                "This page is too large to share whole: only its first {cap} nodes are shown here."
            ),
        }],
    };
    let Node::Document { children, .. } = root else {
        return;
    };
    let Some(Node::Element {
        children: html_children,
        ..
    }) = children
        .iter_mut()
        .find(|n| matches!(n, Node::Element { .. }))
    else {
        return;
    };
    let body = html_children
        .iter_mut()
        .find(|n| matches!(n, Node::Element { tag, .. } if tag == "body"));
    match body {
        Some(Node::Element { children, .. }) => children.push(notice),
        _ => html_children.push(notice),
    }
}

/// The URL relative URLs on the page resolve against.
pub fn base_url(document: &Document) -> String {
    document.base_uri().ok().flatten().unwrap_or_default()
}

pub fn viewport(window: &Window) -> Viewport {
    let px = |v: Result<wasm_bindgen::JsValue, _>| {
        v.ok().and_then(|v| v.as_f64()).unwrap_or(0.0).max(0.0) as u32
    };
    Viewport {
        width: px(window.inner_width()),
        height: px(window.inner_height()),
        device_pixel_ratio: window.device_pixel_ratio() as f32,
    }
}

/// The window's scroll position, reported against the document's id.
pub fn window_scroll(window: &Window, document: NodeId) -> ScrollPos {
    ScrollPos {
        target: document,
        x: window.scroll_x().unwrap_or(0.0),
        y: window.scroll_y().unwrap_or(0.0),
    }
}
