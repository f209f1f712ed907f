//! The whole page at one moment: the node tree plus the address, viewport
//! and scroll positions the tree does not carry.
//!
//! Owns: assembling a [`Snapshot`] and reading the window's geometry. Does
//! not own: serializing nodes (`serialize.rs`), when to snapshot
//! (`session.rs`).

use protocol::{Attr, Node, NodeId, Ns, ScrollPos, Snapshot, Viewport};
use web_sys::{Document, Window};

use crate::error::{warn, VisitorError};
use crate::patch::Dirty;
use crate::serialize::Capture;
use crate::walk::{DocCtx, Walker};

/// Walks `document` into a snapshot in one go. Nodes keep the ids they
/// already have (a second snapshot of the same page reuses them); new nodes
/// get new ids.
pub fn snapshot(document: &Document, capture: &mut Capture) -> Result<Snapshot, VisitorError> {
    let mut walk = SlicedSnapshot::begin(document, capture)?;
    walk.step(capture, &mut || true);
    walk.finish(capture, &Dirty::default())
}

/// A snapshot read a slice at a time: [`SlicedSnapshot::step`] until it
/// says done, then [`SlicedSnapshot::finish`] with what changed meanwhile,
/// in the same task as the snapshot is sent (`patch.rs`).
pub struct SlicedSnapshot {
    document: Document,
    window: Window,
    url: String,
    base_url: String,
    walker: Walker,
}

impl SlicedSnapshot {
    /// Starts the walk of `document`; the node cap starts counting.
    pub fn begin(document: &Document, capture: &mut Capture) -> Result<Self, VisitorError> {
        let window = crate::dom::default_view(document)
            .or_else(web_sys::window)
            .ok_or(VisitorError::NoDocument)?;
        let base_url = base_url(document);
        let url = crate::dom::url(document);
        let ctx = DocCtx {
            base: base_url.clone(),
            scrolling_element: crate::dom::scrolling_element(document),
        };
        capture.begin_snapshot();
        Ok(SlicedSnapshot {
            walker: Walker::new(document, ctx, false, true),
            document: document.clone(),
            window,
            url,
            base_url,
        })
    }

    /// Reads nodes until the walk is done (`true`) or `more` (asked after
    /// every node) says stop.
    pub fn step(&mut self, capture: &mut Capture, more: &mut dyn FnMut() -> bool) -> bool {
        self.walker.step(capture, more)
    }

    /// The snapshot, its stale parts read again (`dirty`), the cut notice
    /// added if the node cap was met. Call once `step` said done.
    pub(crate) fn finish(
        self,
        capture: &mut Capture,
        dirty: &Dirty,
    ) -> Result<Snapshot, VisitorError> {
        let (root, mut scrolls) = self.walker.finish();
        let mut root = root.ok_or(VisitorError::NoDocument);
        if let Ok(root) = root.as_mut() {
            crate::patch::mend(root, dirty, capture, &self.document, &mut scrolls);
        }
        let cut = capture.end_snapshot();
        if cut.is_none() {
            capture.snapshot_complete();
        }
        if let Some(cap) = cut {
            warn(&format!(
                "cobrowse: this page has more than {cap} nodes (the maxNodes option); the agent sees the first {cap} and a notice"
            ));
            if let Ok(root) = root.as_mut() {
                let ids = [capture.ids.fresh(), capture.ids.fresh()];
                add_cut_notice(root, ids, cap);
            }
        }
        let root = root?;
        scrolls.insert(0, window_scroll(&self.window, root.id()));
        Ok(Snapshot {
            url: self.url,
            base_url: self.base_url,
            viewport: viewport(&self.window),
            root,
            scrolls,
        })
    }

    /// [`SlicedSnapshot::finish`] with the changes a tracker recorded
    /// since the walk began, and the form controls the visitor changed
    /// meanwhile (no record says so), for tests driving the slices.
    pub fn finish_with(
        self,
        capture: &mut Capture,
        tracker: &crate::mutations::MutationTracker,
        touched: &[web_sys::Element],
    ) -> Result<Snapshot, VisitorError> {
        let changes = tracker.take_changes(capture);
        let mut dirty = Dirty::from_changes(&changes, &capture.ids);
        for el in touched {
            dirty.touched(&capture.ids, el);
        }
        self.finish(capture, &dirty)
    }
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
    crate::dom::base_uri(document).unwrap_or_default()
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
