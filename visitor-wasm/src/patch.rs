//! Mending a snapshot walked in slices, so that it shows the page as it is
//! when it is sent, not as it was when each part was read.
//!
//! Owns: deciding from the mutation records which serialized nodes are
//! stale ([`Dirty`]) and reading those again from the live DOM, outermost
//! first. Does not own: taking the records (`mutations.rs`), the walk
//! (`walk.rs`), when this runs (`snapshot.rs`, `session/capture.rs`).
//!
//! Why it is enough: a node's serialized children can differ from its live
//! ones only if they changed after it was entered, and every such change
//! leaves a `childList` record on it (or, for a shadow root attached or a
//! frame that loaded, an entry `frames.rs` queues for its host or frame).
//! Such a node is read again whole, from the live DOM, with the walk's own
//! rules: what moved out of it, or into it, is then where it is now, and a
//! node moved from an early part of the walk to a later one appears once.
//! An attribute record re-reads the element's attributes and form state; a
//! text record its data. A node inside a subtree read again needs nothing
//! more.

use std::collections::HashMap;

use protocol::{Node, NodeId, ScrollPos};
use wasm_bindgen::JsCast;
use web_sys::{Document, Element};

use crate::ids::Ids;
use crate::plan::Changes;
use crate::serialize::{text_of, Capture, Walk};
use crate::walk::children_mut;
use crate::{frames, shadow};

/// How much of a serialized node is stale, least first.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Dirt {
    Text,
    Shell,
    Subtree,
}

/// The serialized nodes the page changed after they were read.
#[derive(Default)]
pub(crate) struct Dirty {
    nodes: HashMap<NodeId, (web_sys::Node, Dirt)>,
}

impl Dirty {
    /// What `changes` (records since the walk began) leave stale. Nodes
    /// without an id were never read: they are covered by their parent.
    pub(crate) fn from_changes(changes: &Changes<web_sys::Node>, ids: &Ids) -> Dirty {
        let mut dirty = Dirty::default();
        // The visitor's own panel coming or going changes nothing mirrored.
        let ours = |n: &web_sys::Node| n.node_name().eq_ignore_ascii_case(crate::mask::UI_TAG);
        for removed in changes.removed.iter().filter(|r| !ours(&r.node)) {
            dirty.mark(ids, &removed.old_parent, Dirt::Subtree);
        }
        for added in changes.added.iter().filter(|n| !ours(n)) {
            // Its parent now (the record's target is the parent then: if
            // the node moved on since, that one has a removal record).
            if let Some(parent) = shadow::composed_parent(added) {
                dirty.mark(ids, &parent, Dirt::Subtree);
            }
        }
        for (el, _) in &changes.attrs {
            dirty.mark(ids, el, Dirt::Shell);
        }
        for text in &changes.texts {
            dirty.mark(ids, text, Dirt::Text);
        }
        dirty
    }

    /// A form control the visitor typed into or toggled (no record says
    /// so): its live state is read again.
    pub(crate) fn touched(&mut self, ids: &Ids, el: &Element) {
        self.mark(ids, el.as_ref(), Dirt::Shell);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn mark(&mut self, ids: &Ids, node: &web_sys::Node, dirt: Dirt) {
        let Some(id) = ids.get(node) else { return };
        let entry = self.nodes.entry(id).or_insert_with(|| (node.clone(), dirt));
        entry.1 = entry.1.max(dirt);
    }
}

/// Reads every stale node of `root` again from the live DOM. `scrolls`
/// gets the scroll positions inside subtrees read again.
pub(crate) fn mend(
    root: &mut Node,
    dirty: &Dirty,
    capture: &mut Capture,
    document: &Document,
    scrolls: &mut Vec<ScrollPos>,
) {
    if dirty.is_empty() {
        return;
    }
    let mut cx = Mend {
        dirty,
        capture,
        document,
        base: crate::snapshot::base_url(document),
        scrolls,
    };
    if !cx.node(root) {
        // The document itself is never left out; keep what was read.
        crate::error::warn("cobrowse: the document could not be read again");
    }
}

struct Mend<'a> {
    dirty: &'a Dirty,
    capture: &'a mut Capture,
    document: &'a Document,
    base: String,
    scrolls: &'a mut Vec<ScrollPos>,
}

impl Mend<'_> {
    /// Mends `node` in place; `false` when it is no longer mirrored (left
    /// out for the node cap, or now something never sent).
    fn node(&mut self, node: &mut Node) -> bool {
        if let Some((live, dirt)) = self.dirty.nodes.get(&node.id()) {
            match dirt {
                Dirt::Subtree => return self.subtree(node, live),
                Dirt::Shell => self.shell(node, live),
                Dirt::Text => self.text(node, live),
            }
        }
        if let Some(children) = children_mut(node) {
            children.retain_mut(|c| self.node(c));
        }
        true
    }

    /// Replaces `node` by a fresh serialization of `live`.
    fn subtree(&mut self, node: &mut Node, live: &web_sys::Node) -> bool {
        let masked = self.capture.is_parent_masked(live);
        let own_base = frames::base_for(live, self.document, &self.base);
        let base = own_base.as_deref().unwrap_or(&self.base);
        let scrolling = match live.node_type() {
            web_sys::Node::DOCUMENT_NODE => live.unchecked_ref::<Document>().scrolling_element(),
            _ => live.owner_document().and_then(|d| d.scrolling_element()),
        };
        // The stale nodes are read again: they count once against the cap.
        self.capture
            .refund(u32::try_from(node.count()).unwrap_or(u32::MAX));
        let mut walk = Walk::with_scrolls(base, self.scrolls, scrolling);
        match self.capture.serialize(live, &mut walk, masked) {
            Some(fresh) => {
                *node = fresh;
                true
            }
            None => false,
        }
    }

    /// Re-reads an element's attributes and form state.
    fn shell(&mut self, node: &mut Node, live: &web_sys::Node) {
        let Node::Element {
            tag,
            ns,
            attrs,
            state,
            ..
        } = node
        else {
            return;
        };
        let Some(el) = frames::as_element(live) else {
            return;
        };
        // A blocked box keeps the size it was read with.
        if self.capture.sent_blocked(el.as_ref()) {
            return;
        }
        let masked = self.capture.is_masked(el);
        let own_base = frames::base_for(live, self.document, &self.base);
        let base = own_base.as_deref().unwrap_or(&self.base);
        (*attrs, *state) = self.capture.shell(el, tag, ns, masked, base);
    }

    fn text(&mut self, node: &mut Node, live: &web_sys::Node) {
        if let Node::Text { text, .. } | Node::Comment { text, .. } = node {
            *text = text_of(live, self.capture.is_parent_masked(live));
        }
    }
}
