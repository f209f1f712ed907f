//! Shadow roots in the mirror: a [`Node::ShadowRoot`] becomes the open
//! shadow root of the mirrored host, its children built into it, and
//! mutations that name the root's id land there.
//!
//! Owns: attaching, (re)filling and emptying mirrored shadow roots, and
//! taking any root (shadow root or frame document) out of the mirror.
//! Does not own: the DOM calls (`dom.rs` through [`DomBackend`]), frames
//! (`frames.rs`). Custom elements are plain elements of their tag here: the
//! mirror runs no script, so no definition ever upgrades them; their
//! shadow content is what the visitor's definitions rendered.
//!
//! `<style>` inside a root is rewritten like the document's (the text path
//! is the same: its parent is a style element), and the hover/focus marks
//! are attributes on mirrored elements wherever they are.

use protocol::{Node, NodeId};

use super::{DomBackend, Kind, Mirror};
use crate::log;
use crate::ViewerError;

impl<B: DomBackend> Mirror<B> {
    /// Builds `root` (a [`Node::ShadowRoot`]) as the shadow root of the
    /// mirrored `host`.
    pub(super) fn build_shadow(
        &mut self,
        host_id: NodeId,
        host: &B::Node,
        root: &Node,
    ) -> Result<(), ViewerError> {
        let Node::ShadowRoot { id, children } = root else {
            return Err(ViewerError::Dom("not a shadow root".into()));
        };
        let made = self.backend.attach_shadow(host)?;
        self.register(*id, made.clone(), Kind::Shadow, None, Some(host_id));
        for child in children {
            // One child that cannot be built is skipped, not the root.
            let inserted = match self.build(child, *id) {
                Ok(node) => self.backend.insert(&made, &node, None),
                Err(e) => Err(e),
            };
            if let Err(e) = inserted {
                self.forget(child.id());
                log::warn(&format!("a child of a shadow root was skipped: {e}"));
            }
        }
        Ok(())
    }

    /// Adds a root under `parent` (a mutation's add): a shadow root on its
    /// host, a document into its frame. `None`: `node` is no root.
    pub(super) fn add_root(
        &mut self,
        parent: NodeId,
        node: &Node,
    ) -> Option<Result<(), ViewerError>> {
        match node {
            Node::ShadowRoot { .. } => {
                let host = match self.nodes.get(&parent) {
                    Some(entry) if matches!(entry.kind, Kind::Element(..)) => entry.node.clone(),
                    _ => return Some(Err(ViewerError::UnknownParent(parent))),
                };
                Some(self.build_shadow(parent, &host, node))
            }
            Node::Document { .. } => Some(self.build_frame(parent, node)),
            _ => None,
        }
    }

    /// Takes a node out of the mirror: a shadow root is emptied (a host
    /// keeps its root for good), a frame's document gives way to the
    /// placeholder, anything else is detached. Then forgets it.
    pub(super) fn unmount(&mut self, id: NodeId) {
        let Some(entry) = self.nodes.get(&id) else {
            return;
        };
        match entry.kind {
            Kind::Shadow => {
                let children: Vec<B::Node> = entry
                    .children
                    .iter()
                    .filter_map(|c| self.nodes.get(c).map(|e| e.node.clone()))
                    .collect();
                for child in children {
                    self.backend.detach(&child);
                }
            }
            Kind::FrameDoc => {
                let frame = entry
                    .parent
                    .and_then(|p| self.nodes.get(&p))
                    .map(|e| e.node.clone());
                if let Some(frame) = frame {
                    self.backend.frame_placeholder(&frame);
                }
            }
            _ => {
                let node = entry.node.clone();
                self.backend.detach(&node);
            }
        }
        self.forget(id);
    }
}
