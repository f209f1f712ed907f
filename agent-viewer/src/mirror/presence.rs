//! The visitor's pointer and focus in the mirror. Owns: the state attributes
//! the rewritten `:hover`/`:focus`/`:focus-within` rules match
//! (`css-sync`'s [`css_sync::STATES`]) — set on the element under the
//! visitor's pointer and its ancestors, on the focused element, and on the
//! focused element's ancestors — and the visitor's last pointer position
//! and clicks for the console to draw. Does not own: drawing the cursor
//! (`app`), or where the agent points (the console sends that).

use protocol::{NodeId, PointerKind, PointerPos};

use super::{DomBackend, Kind, Mirror};

/// `:hover` (also `:active` while a click shows).
pub const HOVER: &str = "data-cobrowse-hover";
pub const FOCUS: &str = "data-cobrowse-focus";
pub const FOCUS_WITHIN: &str = "data-cobrowse-focus-within";

/// What the mirror knows of the visitor's pointer and focus.
#[derive(Debug, Default)]
pub(super) struct Presence {
    hover: Vec<NodeId>,
    focus: Vec<NodeId>,
    focus_within: Vec<NodeId>,
    pointer: Option<PointerPos>,
    clicks: Vec<PointerPos>,
    /// The visitor's text selection (`selection.rs`).
    pub(super) selection: Option<protocol::TextRange>,
}

impl<B: DomBackend> Mirror<B> {
    pub(super) fn apply_pointer(&mut self, pos: &PointerPos, kind: PointerKind) {
        let hovered = match (kind, pos.target) {
            (PointerKind::Leave, _) | (_, None) => Vec::new(),
            (_, Some(target)) => self.element_chain(target),
        };
        let old = std::mem::take(&mut self.presence.hover);
        self.mark(HOVER, &old, &hovered);
        self.presence.hover = hovered;
        self.presence.pointer = (kind != PointerKind::Leave).then_some(*pos);
        if kind == PointerKind::Click {
            // Bounded: the console drains these every frame.
            if self.presence.clicks.len() < 16 {
                self.presence.clicks.push(*pos);
            }
        }
    }

    pub(super) fn apply_focus(&mut self, target: Option<NodeId>) {
        let chain = target.map(|t| self.element_chain(t)).unwrap_or_default();
        let (focused, within) = match chain.split_first() {
            Some((first, _)) => (vec![*first], chain.clone()),
            None => (Vec::new(), Vec::new()),
        };
        let old = std::mem::take(&mut self.presence.focus);
        self.mark(FOCUS, &old, &focused);
        self.presence.focus = focused;
        let old = std::mem::take(&mut self.presence.focus_within);
        self.mark(FOCUS_WITHIN, &old, &within);
        self.presence.focus_within = within;
    }

    /// Where the visitor's pointer is, if it is over the page.
    pub fn visitor_pointer(&self) -> Option<PointerPos> {
        self.presence.pointer
    }

    /// The visitor's clicks since the last call, oldest first.
    pub fn take_visitor_clicks(&mut self) -> Vec<PointerPos> {
        std::mem::take(&mut self.presence.clicks)
    }

    /// `target` and its element ancestors, innermost first.
    fn element_chain(&self, target: NodeId) -> Vec<NodeId> {
        let mut chain = Vec::new();
        let mut at = Some(target);
        while let Some(id) = at {
            let Some(entry) = self.nodes.get(&id) else {
                break;
            };
            if matches!(entry.kind, Kind::Element(..)) {
                chain.push(id);
            }
            at = entry.parent;
            if chain.len() > 4096 {
                break;
            }
        }
        chain
    }

    /// Moves `attr` from the nodes in `old` to those in `new`, touching only
    /// the ones that change.
    fn mark(&mut self, attr: &str, old: &[NodeId], new: &[NodeId]) {
        for id in old.iter().filter(|id| !new.contains(id)) {
            if let Some(node) = self.element(*id) {
                let _ = self.backend.remove_attribute(&node, None, attr);
            }
        }
        for id in new.iter().filter(|id| !old.contains(id)) {
            if let Some(node) = self.element(*id) {
                let _ = self.backend.set_attribute(&node, None, attr, "");
            }
        }
    }
}
