//! Reading the visitor's pointer and focus off DOM events: which mirrored
//! element is under the pointer, and where in its box.
//!
//! Owns: the DOM side of that question. Does not own: the arithmetic
//! (`pointing.rs`), when to send (`session.rs` with its throttle).

use protocol::{NodeId, PointerPos};
use wasm_bindgen::JsCast;
use web_sys::{Element, Node};

use crate::ids::Ids;
use crate::mask::UI_TAG;
use crate::pointing::{self, Rect};

/// The element an event really happened on: the first node of its composed
/// path (inside open shadow roots too), or its target.
pub fn origin_of(event: &web_sys::Event) -> Option<Node> {
    let first = event.composed_path().get(0);
    first
        .dyn_into::<Node>()
        .ok()
        .or_else(|| event.target().and_then(|t| t.dyn_into::<Node>().ok()))
}

/// What the pointer or focus is on, as the agent can know it.
pub enum Spot {
    /// The visitor's own panel: nothing about it leaves the page.
    Ui,
    /// The nearest element (from the origin up) that has a mirrored id; a
    /// blocked element's inside resolves to the blocked box itself.
    Mirrored(NodeId, Element),
    /// Nothing mirrored (not yet flushed, or outside the document).
    Unknown,
}

/// Walks from `node` up (crossing shadow roots to their hosts) to the
/// nearest element with an id.
pub fn spot(ids: &Ids, node: Option<Node>) -> Spot {
    let mut at = node;
    let mut found = None;
    while let Some(node) = at {
        if let Some(el) = node.dyn_ref::<Element>() {
            if crate::dom::local_name(el) == UI_TAG {
                return Spot::Ui;
            }
            if found.is_none() {
                if let Some(id) = ids.get(&node) {
                    found = Some((id, el.clone()));
                }
            }
        }
        // Keep climbing even after a find: the UI check must see every
        // ancestor (the panel's inside has no ids, but be sure).
        at = match crate::dom::parent_node(&node) {
            Some(p) => Some(p),
            None => node
                .dyn_ref::<web_sys::ShadowRoot>()
                .map(|root| root.host().into()),
        };
    }
    match found {
        Some((id, el)) => Spot::Mirrored(id, el),
        None => Spot::Unknown,
    }
}

pub fn rect_of(el: &Element) -> Rect {
    let r = crate::dom::get_bounding_client_rect(el);
    Rect {
        left: r.left(),
        top: r.top(),
        width: r.width(),
        height: r.height(),
    }
}

/// The position to send for a pointer at `(x, y)` over `spot`.
pub fn position(spot: &Spot, x: f64, y: f64) -> PointerPos {
    let target = match spot {
        Spot::Mirrored(id, el) => Some((*id, rect_of(el))),
        _ => None,
    };
    pointing::pointer_pos(target, x, y)
}
