//! The walk over a live subtree as an explicit stack, so that it can stop
//! after any node and continue later (a snapshot in slices, `slices.rs`)
//! or run to the end at once (every other serialization).
//!
//! Owns: the order nodes are visited in (an open shadow root first among
//! its host's children, a frame's document as its frame's only child), the
//! depth cap, and the per-document context (base URL, scrolling element,
//! a frame's window scroll). Does not own: what one node becomes
//! (`serialize.rs`, [`Capture::open`]).
//!
//! While it is stopped, the page may change: the walk then goes on from
//! the next sibling it read when it entered the last node. What it built
//! meanwhile may be stale; `patch.rs` mends that from the mutation records
//! before anything is sent.

use std::rc::Rc;

use protocol::{Node, ScrollPos};
use wasm_bindgen::JsCast;
use web_sys::{Document, Element};

use crate::error::warn;
use crate::serialize::{Capture, Opened};

/// Deeper subtrees are cut: the console's decoder and both sides' stacks
/// have limits, and no real page nests this deep.
const MAX_DEPTH: u32 = 400;

/// What the nodes of one document share.
pub(crate) struct DocCtx {
    pub base: String,
    /// The element whose scroll is the window's (not reported twice).
    pub scrolling_element: Option<Element>,
}

/// A node whose children are being read.
struct Level {
    node: Node,
    /// Read before `next`: a host's open shadow root.
    shadow: Option<web_sys::Node>,
    /// The next child to read.
    next: Option<web_sys::Node>,
    /// Whether a mask covers the children.
    masked: bool,
    depth: u32,
    ctx: Rc<DocCtx>,
}

/// One walk from a root to the end of its subtree.
pub(crate) struct Walker {
    /// The root, until the first step reads it.
    start: Option<(web_sys::Node, bool)>,
    root_ctx: Rc<DocCtx>,
    stack: Vec<Level>,
    /// Scrolled elements and frame windows, when a snapshot collects them.
    scrolls: Option<Vec<ScrollPos>>,
    /// Whether the depth cap was met (warned once per walk).
    cut: bool,
    done: Option<Node>,
}

impl Walker {
    /// A walk of `root` (`masked`: an ancestor is masked) in a document
    /// described by `ctx`; `scrolls` collects scroll positions.
    pub(crate) fn new(root: &web_sys::Node, ctx: DocCtx, masked: bool, scrolls: bool) -> Walker {
        Walker {
            start: Some((root.clone(), masked)),
            root_ctx: Rc::new(ctx),
            stack: Vec::new(),
            scrolls: scrolls.then(Vec::new),
            cut: false,
            done: None,
        }
    }

    /// Reads nodes until the subtree is done (`true`) or `more` says stop
    /// (`false`; asked after every node).
    pub(crate) fn step(&mut self, capture: &mut Capture, more: &mut dyn FnMut() -> bool) -> bool {
        if let Some((root, masked)) = self.start.take() {
            let ctx = Rc::clone(&self.root_ctx);
            self.visit(capture, &root, masked, 0, ctx, true);
        }
        loop {
            let Some(level) = self.stack.last_mut() else {
                return true;
            };
            let child = match level.shadow.take() {
                Some(root) => Some(root),
                None => level.next.take().inspect(|c| {
                    // Read now: if `c` moves away meanwhile, its old
                    // parent's record gets that parent read again.
                    level.next = crate::dom::next_sibling(&c);
                }),
            };
            let Some(child) = child else {
                if let Some(done) = self.stack.pop() {
                    self.attach(done.node);
                }
                continue;
            };
            let (masked, depth, ctx) = (level.masked, level.depth + 1, Rc::clone(&level.ctx));
            self.visit(capture, &child, masked, depth, ctx, false);
            if !more() {
                return self.stack.is_empty();
            }
        }
    }

    /// The serialized root (`None`: never mirrored) and the scrolls met.
    pub(crate) fn finish(self) -> (Option<Node>, Vec<ScrollPos>) {
        (self.done, self.scrolls.unwrap_or_default())
    }

    fn visit(
        &mut self,
        capture: &mut Capture,
        node: &web_sys::Node,
        masked: bool,
        depth: u32,
        ctx: Rc<DocCtx>,
        root: bool,
    ) {
        let Some(opened) = capture.open(node, &ctx, self.scrolls.as_mut(), masked) else {
            return;
        };
        let (node_out, children) = match opened {
            Opened::Leaf(n) => return self.attach(n),
            Opened::Parent { node: n, children } => (n, children),
        };
        let ctx = if !root && crate::dom::node_type(&node) == web_sys::Node::DOCUMENT_NODE {
            self.enter_frame_document(node, &node_out)
        } else {
            ctx
        };
        if depth >= MAX_DEPTH {
            if (children.first.is_some() || children.shadow.is_some()) && !self.cut {
                self.cut = true;
                warn("cobrowse: the page nests too deeply; the innermost nodes are not shown");
            }
            return self.attach(node_out);
        }
        self.stack.push(Level {
            node: node_out,
            shadow: children.shadow,
            next: children.first,
            masked: children.masked,
            depth,
            ctx,
        });
    }

    /// A frame's document: its own base URL and scrolling element, and its
    /// window's scroll in a snapshot.
    fn enter_frame_document(&mut self, node: &web_sys::Node, out: &Node) -> Rc<DocCtx> {
        let doc: &Document = node.unchecked_ref();
        if let (Some(window), Some(scrolls)) =
            (crate::dom::default_view(doc), self.scrolls.as_mut())
        {
            let pos = crate::snapshot::window_scroll(&window, out.id());
            if pos.x != 0.0 || pos.y != 0.0 {
                scrolls.push(pos);
            }
        }
        Rc::new(DocCtx {
            base: crate::snapshot::base_url(doc),
            scrolling_element: crate::dom::scrolling_element(doc),
        })
    }

    fn attach(&mut self, node: Node) {
        match self.stack.last_mut() {
            Some(parent) => {
                if let Some(children) = children_mut(&mut parent.node) {
                    children.push(node);
                }
            }
            None => self.done = Some(node),
        }
    }
}

/// A node's children, to fill or mend.
pub(crate) fn children_mut(node: &mut Node) -> Option<&mut Vec<Node>> {
    match node {
        Node::Element { children, .. }
        | Node::Document { children, .. }
        | Node::ShadowRoot { children, .. } => Some(children),
        _ => None,
    }
}
