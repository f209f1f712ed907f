//! Frames in the mirror: a same-origin `<iframe>`'s document (a
//! [`Node::Document`] child of the frame) is built into the mirrored
//! frame's own `about:blank` document, with its doctype and rendering mode,
//! its scroll position and rewritten resources; a frame without one (the
//! visitor's was cross-origin or sandboxed) shows a labelled placeholder.
//!
//! Owns: which frame attributes the mirror never sets (`src`, `srcdoc`:
//! the mirrored frame must not load the visitor's address; `sandbox`: the
//! mirror sets its own), building frame documents once their frame is in
//! the mirror's document (a detached frame has no document yet), and frame
//! scrolling. Does not own: the DOM calls (`dom.rs`). Pointer and focus
//! inside frames are not shown yet.

use protocol::{Node, NodeId, Ns};

use super::{DomBackend, Kind, Mirror};
use crate::log;
use crate::sanitize::doctype_markup;
use crate::ViewerError;

/// The `sandbox` every mirrored frame gets: no scripts, and the console may
/// still write its document.
pub const FRAME_SANDBOX: &str = "allow-same-origin";

/// The text the console shows in place of a frame whose content the
/// visitor's browser does not let the page read.
pub const PLACEHOLDER_TEXT: &str = "Content from another site is not shared";

/// Whether an element of this tag shows a document of its own.
pub fn is_frame(tag: &str, ns: &Ns) -> bool {
    *ns == Ns::Html && (tag.eq_ignore_ascii_case("iframe") || tag.eq_ignore_ascii_case("frame"))
}

/// Attributes of a frame the mirror never sets from the visitor's page.
pub fn is_withheld(name: &str) -> bool {
    ["src", "srcdoc", "sandbox"]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n))
}

impl<B: DomBackend> Mirror<B> {
    /// After `node`'s subtree went into the mirror's document: builds every
    /// frame document in it (or the placeholder where there is none).
    pub(super) fn fill_frames(&mut self, node: &Node) {
        let Node::Element {
            id,
            tag,
            ns,
            children,
            ..
        } = node
        else {
            if let Node::ShadowRoot { children, .. } = node {
                for child in children {
                    self.fill_frames(child);
                }
            }
            return;
        };
        if !self.nodes.contains_key(id) {
            return;
        }
        if is_frame(tag, ns) {
            match children.iter().find(|c| matches!(c, Node::Document { .. })) {
                Some(doc) => {
                    if let Err(e) = self.build_frame(*id, doc) {
                        log::warn(&format!("a frame's document was not shown: {e}"));
                    }
                }
                None => {
                    if let Some(frame) = self.nodes.get(id).map(|e| e.node.clone()) {
                        self.backend.frame_placeholder(&frame);
                    }
                }
            }
            return;
        }
        for child in children {
            self.fill_frames(child);
        }
    }

    /// Builds `doc` into the mirrored frame `frame_id`, replacing what it
    /// showed.
    pub(super) fn build_frame(&mut self, frame_id: NodeId, doc: &Node) -> Result<(), ViewerError> {
        let Node::Document {
            id,
            quirks,
            children,
        } = doc
        else {
            return Err(ViewerError::NotADocument);
        };
        let frame = match self.nodes.get(&frame_id) {
            Some(entry) if matches!(entry.kind, Kind::Element(..)) => entry.node.clone(),
            _ => return Err(ViewerError::UnknownParent(frame_id)),
        };
        // The frame's earlier document, if any, goes with its ids.
        let old: Vec<NodeId> = self
            .nodes
            .get(&frame_id)
            .map(|e| e.children.iter().copied().collect())
            .unwrap_or_default();
        for child in old {
            if matches!(self.nodes.get(&child).map(|e| e.kind), Some(Kind::FrameDoc)) {
                self.forget(child);
            }
        }
        let doctype = children.iter().find_map(|child| match child {
            Node::Doctype {
                name,
                public_id,
                system_id,
                ..
            } => Some(doctype_markup(name, public_id, system_id)),
            _ => None,
        });
        let reset = self
            .backend
            .reset_frame(&frame, *quirks, doctype.as_deref())?;
        self.register(*id, reset.document, Kind::FrameDoc, None, Some(frame_id));
        let mut made_doctype = reset.doctype;
        for child in children {
            if let (Node::Doctype { id: child_id, .. }, Some(made)) = (child, &made_doctype) {
                self.register(*child_id, made.clone(), Kind::Leaf, None, Some(*id));
                made_doctype = None;
                continue;
            }
            if let Err(e) = self.add_child(*id, child, None) {
                log::warn(&format!("part of a frame's document was skipped: {e}"));
            }
        }
        Ok(())
    }

    /// Scrolls the frame showing the document `id`; false if `id` is no
    /// frame document.
    pub(super) fn scroll_frame(&mut self, id: NodeId, x: f64, y: f64) -> bool {
        match self.nodes.get(&id) {
            Some(entry) if entry.kind == Kind::FrameDoc => {
                let node = entry.node.clone();
                self.backend.scroll_frame(&node, x, y);
                true
            }
            _ => false,
        }
    }
}
