//! A snapshot event encoded a slice at a time, so that the walk's last
//! task does not also encode megabytes in one go (`session/sliced.rs`).
//!
//! Owns: the encoding in progress: the bytes so far and the children still
//! to write, innermost last. The tree is consumed as it goes, so what was
//! written is freed slice by slice too. Does not own: the bytes' shape
//! (`encode.rs`, whose whole-event encoding this equals byte for byte) or
//! when slices run.

use protocol::{Node, ScrollPos, Snapshot};

use super::encode::Out;
use crate::walk::children_mut;

/// A snapshot's event payload being written.
pub struct SnapshotEncoder {
    out: Out,
    /// The child lists being written, innermost last.
    stack: Vec<std::vec::IntoIter<Node>>,
    /// Written after the tree.
    scrolls: Vec<ScrollPos>,
}

impl SnapshotEncoder {
    /// Starts with everything before the tree (the address and viewport).
    pub fn new(snapshot: Snapshot) -> SnapshotEncoder {
        let Snapshot {
            url,
            base_url,
            viewport,
            root,
            scrolls,
        } = snapshot;
        let mut out = Out::new();
        out.variant("Snapshot");
        out.array(5);
        out.str(&url);
        out.str(&base_url);
        out.viewport(&viewport);
        SnapshotEncoder {
            out,
            stack: vec![vec![root].into_iter()],
            scrolls,
        }
    }

    /// Writes nodes until the tree is done (`true`) or `more` (asked after
    /// every node) says stop (`false`).
    pub fn step(&mut self, more: &mut dyn FnMut() -> bool) -> bool {
        loop {
            let Some(level) = self.stack.last_mut() else {
                return true;
            };
            let Some(mut node) = level.next() else {
                self.stack.pop();
                continue;
            };
            self.out.node_head(&node);
            if let Some(children) = children_mut(&mut node) {
                if !children.is_empty() {
                    self.stack.push(std::mem::take(children).into_iter());
                }
            }
            if !more() {
                return self.stack.is_empty();
            }
        }
    }

    /// The event's payload, for [`super::event_frame`], once
    /// [`SnapshotEncoder::step`] said done (what is left of the tree, if
    /// not, is written first).
    pub fn finish(mut self) -> Vec<u8> {
        self.step(&mut || true);
        self.out.array(self.scrolls.len());
        for p in &self.scrolls {
            self.out.scroll(p);
        }
        self.out.buf
    }
}
