//! The visitor's top layer in the mirror: modal dialogs and open popovers
//! are put into the iframe's own top layer by calling `showModal()` /
//! `showPopover()` on their copies (the console's script acts on the
//! iframe's DOM; the iframe itself runs nothing), so the `::backdrop`, the
//! centring, the stacking and the inert rest of the page are the browser's
//! own, as on the visitor's screen.
//!
//! Owns: the list the mirror has shown, and the fewest hide/show steps
//! from it to the visitor's list (the top layer's order is the order
//! elements entered it, so changing the order means showing again). Does
//! not own: the DOM calls (`DomBackend::show_top_layer`/`hide_top_layer`).
//! A fullscreen element is not re-created: the console cannot go
//! fullscreen without the agent's gesture, and would leave its own UI.

use protocol::{NodeId, TopLayerEntry, TopLayerKind};

use super::{DomBackend, Mirror};
use crate::log;

impl<B: DomBackend> Mirror<B> {
    pub(super) fn apply_top_layer(&mut self, entries: &[TopLayerEntry]) {
        let wanted: Vec<(NodeId, TopLayerKind)> = entries
            .iter()
            .filter(|e| e.kind != TopLayerKind::Fullscreen)
            .filter(|e| self.element(e.node).is_some())
            .map(|e| (e.node, e.kind))
            .collect();
        let shown = std::mem::take(&mut self.top_layer);
        let keep = shown
            .iter()
            .zip(&wanted)
            .take_while(|(a, b)| a == b)
            .count();
        // Top down, so that closing one never reorders those below.
        for (id, kind) in shown[keep..].iter().rev() {
            if let Some(node) = self.element(*id) {
                self.backend.hide_top_layer(&node, *kind);
            }
        }
        for (id, kind) in &wanted[keep..] {
            if let Some(node) = self.element(*id) {
                if let Err(e) = self.backend.show_top_layer(&node, *kind) {
                    log::debug(&format!("{kind:?} {id:?} not shown in the top layer: {e}"));
                }
            }
        }
        self.top_layer = wanted;
    }

    /// What the mirror put in the iframe's top layer, bottom to top.
    pub fn top_layer(&self) -> &[(NodeId, TopLayerKind)] {
        &self.top_layer
    }
}
