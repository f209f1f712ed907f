//! Mending a snapshot walked in slices, so that it shows the page as it is
//! when it is sent, not as it was when each part was read.
//!
//! Owns: deciding from the mutation records which serialized nodes are
//! stale ([`Dirty`]) and reading those parts again from the live DOM. Does
//! not own: taking the records (`mutations.rs`), the walk (`walk.rs`), when
//! this runs (`snapshot.rs`, `session/sliced.rs`).
//!
//! Why it is enough: a node's serialized children can differ from its live
//! ones only if they changed after it was entered, and every such change
//! leaves a `childList` record on it (or, for a shadow root attached or a
//! frame that loaded, an entry `frames.rs` queues for its host or frame).
//! Such a node's child list is rebuilt from the live one: a child it had
//! and still has keeps what was read of it (mended in turn), any other is
//! read afresh, so what moved out of it or into it is where it is now, and
//! a node moved from an early part of the walk to a later one appears once.
//! A node named by a record as added (or whose masking changed) is always
//! read afresh. An attribute record re-reads the element's attributes and
//! form state; a text record its data.

use std::collections::HashMap;

use protocol::{Node, NodeId, Ns, ScrollPos};
use wasm_bindgen::{intern, JsCast};
use web_sys::{Document, Element};

use crate::ids::Ids;
use crate::plan::Changes;
use crate::serialize::{text_of, Capture, Walk};
use crate::walk::children_mut;
use crate::{frames, shadow};

/// What of a serialized node is stale.
#[derive(Clone, Copy, Default, Debug)]
struct Marks {
    text: bool,
    /// Attributes and form state.
    shell: bool,
    /// The list of children.
    children: bool,
    /// Everything: read it again whole.
    fresh: bool,
}

/// The serialized nodes the page changed after they were read.
#[derive(Default)]
pub(crate) struct Dirty {
    nodes: HashMap<NodeId, (web_sys::Node, Marks)>,
}

impl Dirty {
    /// What `changes` (records since the walk began) leave stale. Nodes
    /// without an id were never read: they are covered by their parent.
    pub(crate) fn from_changes(changes: &Changes<web_sys::Node>, ids: &Ids) -> Dirty {
        let mut dirty = Dirty::default();
        // The visitor's own panel coming or going changes nothing mirrored.
        let ours =
            |n: &web_sys::Node| crate::dom::node_name(&n).eq_ignore_ascii_case(crate::mask::UI_TAG);
        for removed in changes.removed.iter().filter(|r| !ours(&r.node)) {
            dirty.mark(ids, &removed.old_parent, |m| m.children = true);
        }
        for added in changes.added.iter().filter(|n| !ours(n)) {
            dirty.mark(ids, added, |m| m.fresh = true);
            // Its parent now (the record's target is the parent then: if
            // the node moved on since, that one has a removal record).
            if let Some(parent) = shadow::composed_parent(added) {
                dirty.mark(ids, &parent, |m| m.children = true);
            }
        }
        for (el, _) in &changes.attrs {
            dirty.mark(ids, el, |m| m.shell = true);
        }
        for text in &changes.texts {
            dirty.mark(ids, text, |m| m.text = true);
        }
        dirty
    }

    /// A form control the visitor typed into or toggled (no record says
    /// so): its live state is read again, with what changed along with it
    /// (a select's options, the other radio buttons of its group).
    pub(crate) fn touched(&mut self, ids: &Ids, el: &Element) {
        self.mark(ids, el.as_ref(), |m| m.shell = true);
        let tag = crate::dom::local_name(el);
        let related = if tag.eq_ignore_ascii_case("select") {
            crate::dom::query_selector_all(&el, intern("option")).ok()
        } else if tag.eq_ignore_ascii_case("input")
            && crate::dom::get_attribute(el, intern("type"))
                .is_some_and(|t| t.eq_ignore_ascii_case("radio"))
        {
            let name = crate::dom::get_attribute(el, intern("name")).unwrap_or_default();
            crate::dom::owner_document(&el)
                .filter(|_| !name.is_empty())
                .map(|d| d.get_elements_by_name(&name))
        } else {
            None
        };
        if let Some(list) = related {
            for i in 0..list.length() {
                if let Some(node) = list.item(i) {
                    self.mark(ids, &node, |m| m.shell = true);
                }
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn mark(&mut self, ids: &Ids, node: &web_sys::Node, set: impl FnOnce(&mut Marks)) {
        let Some(id) = ids.get(node) else { return };
        let entry = self
            .nodes
            .entry(id)
            .or_insert_with(|| (node.clone(), Marks::default()));
        set(&mut entry.1);
    }

    fn is_fresh(&self, id: NodeId) -> bool {
        self.nodes.get(&id).is_some_and(|(_, m)| m.fresh)
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
        let Some((live, marks)) = self.dirty.nodes.get(&node.id()) else {
            if let Some(children) = children_mut(node) {
                children.retain_mut(|c| self.node(c));
            }
            return true;
        };
        let (live, marks) = (live.clone(), *marks);
        if marks.fresh {
            return self.subtree(node, &live);
        }
        if marks.shell {
            self.shell(node, &live);
        }
        if marks.text {
            self.text(node, &live);
        }
        if marks.children {
            return self.children(node, &live);
        }
        if let Some(children) = children_mut(node) {
            children.retain_mut(|c| self.node(c));
        }
        true
    }

    /// Rebuilds `node`'s children from `live`'s: those it had keep what was
    /// read of them (mended), the others are read now.
    fn children(&mut self, node: &mut Node, live: &web_sys::Node) -> bool {
        let Some(kids) = live_children(self.capture, node, live) else {
            // A blocked box (its size may have changed) or a node of a
            // kind the walk gives no children: read it again whole.
            return self.subtree(node, live);
        };
        let Some(old) = children_mut(node) else {
            return true;
        };
        let mut had: HashMap<NodeId, Node> = std::mem::take(old)
            .into_iter()
            .map(|c| (c.id(), c))
            .collect();
        let mut out = Vec::with_capacity(kids.len());
        for kid in kids {
            let reused = self.capture.ids.get(&kid).and_then(|id| had.remove(&id));
            let keep = match reused {
                Some(mut child) => {
                    let kept = if self.dirty.is_fresh(child.id()) {
                        self.subtree(&mut child, &kid)
                    } else {
                        self.node(&mut child)
                    };
                    kept.then_some(child)
                }
                None => self.read(&kid),
            };
            out.extend(keep);
        }
        // What left counts no more against the cap.
        let gone: usize = had.values().map(Node::count).sum();
        self.capture.refund(u32::try_from(gone).unwrap_or(u32::MAX));
        if let Some(children) = children_mut(node) {
            *children = out;
        }
        true
    }

    /// Replaces `node` by a fresh serialization of `live`.
    fn subtree(&mut self, node: &mut Node, live: &web_sys::Node) -> bool {
        // The stale nodes are read again: they count once against the cap.
        self.capture
            .refund(u32::try_from(node.count()).unwrap_or(u32::MAX));
        match self.read(live) {
            Some(fresh) => {
                *node = fresh;
                true
            }
            None => false,
        }
    }

    /// Serializes `live` and its subtree as the walk would have.
    fn read(&mut self, live: &web_sys::Node) -> Option<Node> {
        let masked = self.capture.is_parent_masked(live);
        let own_base = frames::base_for(live, self.document, &self.base);
        let base = own_base.as_deref().unwrap_or(&self.base);
        let scrolling = match crate::dom::node_type(&live) {
            web_sys::Node::DOCUMENT_NODE => {
                crate::dom::scrolling_element(live.unchecked_ref::<Document>())
            }
            _ => crate::dom::owner_document(&live).and_then(|d| crate::dom::scrolling_element(&d)),
        };
        let mut walk = Walk::with_scrolls(base, self.scrolls, scrolling);
        self.capture.serialize(live, &mut walk, masked)
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

/// `live`'s children in the order the walk reads them (`walk.rs`,
/// [`Capture::open`]); `None` where the walk gives it none of its own to
/// keep (a blocked box, a script, anything not a parent).
fn live_children(
    capture: &Capture,
    node: &Node,
    live: &web_sys::Node,
) -> Option<Vec<web_sys::Node>> {
    let first = match node {
        Node::Document { .. } | Node::ShadowRoot { .. } => crate::dom::first_child(&live),
        Node::Element { tag, ns, .. } => {
            let el = frames::as_element(live)?;
            if capture.sent_blocked(el.as_ref()) || tag == "script" {
                return None;
            }
            let html = *ns == Ns::Html;
            if html && tag == "template" {
                crate::dom::first_child(
                    &el.unchecked_ref::<web_sys::HtmlTemplateElement>().content(),
                )
            } else if html && frames::is_frame(tag) {
                return Some(
                    frames::content_document(el)
                        .map(web_sys::Node::from)
                        .into_iter()
                        .collect(),
                );
            } else {
                let mut out: Vec<web_sys::Node> = Vec::new();
                if html {
                    out.extend(shadow::open_root(el, tag).map(web_sys::Node::from));
                }
                let mut child = crate::dom::first_child(&el);
                while let Some(c) = child {
                    child = crate::dom::next_sibling(&c);
                    out.push(c);
                }
                return Some(out);
            }
        }
        _ => return None,
    };
    let mut out = Vec::new();
    let mut child = first;
    while let Some(c) = child {
        child = crate::dom::next_sibling(&c);
        out.push(c);
    }
    Some(out)
}
