//! Text selection in the mirror, both ways. Owns: turning the visitor's
//! [`TextRange`] (node ids and offsets) into mirrored nodes for the backend
//! to show, and naming a mirrored node back by the visitor's id, so the
//! agent's own selection can be sent. Does not own: how a selection is drawn
//! (the backend: a CSS custom highlight in the browser, so the page's DOM and
//! the agent's own selection stay untouched) or when the agent's is sent
//! (`pointing.rs`).

use protocol::{NodeId, TextRange};

use super::{DomBackend, Mirror};

/// One end of a selection: a mirrored node and an offset in it (characters
/// in a text node, children in an element), as the DOM counts them.
pub type End<'a, N> = (&'a N, u32);

/// A selection's anchor and focus (either may come first in the page).
pub type Ends<'a, N> = (End<'a, N>, End<'a, N>);

impl<B: DomBackend> Mirror<B> {
    /// The visitor selected text (`None`: nothing). A range naming a node
    /// the mirror does not hold (not arrived yet, or already removed) shows
    /// nothing rather than a wrong range.
    pub(super) fn apply_selection(&mut self, range: Option<TextRange>) {
        self.presence.selection = range;
        let ends = range.and_then(|r| {
            let anchor = self.nodes.get(&r.anchor)?;
            let focus = self.nodes.get(&r.focus)?;
            Some((
                (anchor.node.clone(), r.anchor_offset),
                (focus.node.clone(), r.focus_offset),
            ))
        });
        match &ends {
            Some(((a, ao), (f, fo))) => self
                .backend
                .show_visitor_selection(Some(((a, *ao), (f, *fo)))),
            None => self.backend.show_visitor_selection(None),
        }
    }

    /// The visitor's selection as last sent (also when the mirror could not
    /// show it).
    pub fn visitor_selection(&self) -> Option<TextRange> {
        self.presence.selection
    }

    /// The id of the child of `parent` for which `is` holds: how a text
    /// node, which the backend does not tag, is named back (only when the
    /// agent's selection changes, so a scan of one element's children).
    pub fn child_id(&self, parent: NodeId, is: impl Fn(&B::Node) -> bool) -> Option<NodeId> {
        let entry = self.nodes.get(&parent)?;
        entry
            .children
            .iter()
            .copied()
            .find(|child| self.nodes.get(child).is_some_and(|e| is(&e.node)))
    }
}
