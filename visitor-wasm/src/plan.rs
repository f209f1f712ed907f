//! Turning a frame's worth of DOM mutation records into the order the agent's
//! console can apply: which ids to remove, which subtrees to add where and in
//! what order, which attribute and text changes still matter.
//!
//! Owns: that decision, over any tree seen through [`DomView`], so it is
//! unit-tested natively with a fake tree (`plan_tests.rs`). Does not own:
//! reading `MutationRecord`s or serializing nodes (`mutations.rs`,
//! `serialize.rs`).
//!
//! The planner works from the tree as it is *now*, not by replaying records:
//! records only say which nodes to look at. A node is classified by its
//! [`Place`] in the current tree, computed once per node and memoized, so a
//! batch that touches many siblings walks each ancestor chain once.

use protocol::NodeId;

/// The few questions the planner asks about the page's tree.
pub trait DomView {
    type Node: Clone;

    /// Identity of a node within one flush: small integers handed out
    /// densely from 0 (the DOM glue numbers JS objects as it meets them),
    /// because the planner indexes vectors with them.
    fn key(&self, node: &Self::Node) -> usize;
    fn parent(&self, node: &Self::Node) -> Option<Self::Node>;
    fn next_sibling(&self, node: &Self::Node) -> Option<Self::Node>;
    /// The id the console already knows this node by (assigned by an earlier
    /// snapshot or batch). Planning never assigns ids.
    fn id(&self, node: &Self::Node) -> Option<NodeId>;
    /// [`DomView::key`] and [`DomView::id`] at once (a DOM glue that finds
    /// the key through the id answers both with one question).
    fn key_id(&self, node: &Self::Node) -> (usize, Option<NodeId>) {
        (self.key(node), self.id(node))
    }
    /// The observed document itself: the root of everything mirrored.
    fn is_document(&self, node: &Self::Node) -> bool;
    /// Never mirrored, nor anything inside (the visitor's own UI). Never
    /// true of a node that has an id, so the planner need not ask then.
    fn is_ignored(&self, node: &Self::Node) -> bool;
    /// Mirrored without its children (`<script>`: its source never leaves).
    fn hides_children(&self, node: &Self::Node) -> bool;
}

/// What the mutation records of one flush pointed at, in record order.
/// Duplicates are fine: the planner removes them.
#[derive(Debug)]
pub struct Changes<N> {
    /// Every node of every record's `addedNodes`.
    pub added: Vec<N>,
    /// Every node of every record's `removedNodes`, with the record's target.
    pub removed: Vec<Removed<N>>,
    /// An element and the qualified name of an attribute that changed on it.
    pub attrs: Vec<(N, String)>,
    /// Text, CDATA and comment nodes whose data changed.
    pub texts: Vec<N>,
}

impl<N> Default for Changes<N> {
    fn default() -> Self {
        Changes {
            added: Vec::new(),
            removed: Vec::new(),
            attrs: Vec::new(),
            texts: Vec::new(),
        }
    }
}

impl<N> Changes<N> {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.attrs.is_empty()
            && self.texts.is_empty()
    }
}

#[derive(Debug)]
pub struct Removed<N> {
    pub node: N,
    pub old_parent: N,
}

/// A subtree to serialize and send, in the order [`Plan::adds`] lists them.
#[derive(Debug)]
pub struct PlannedAdd<N> {
    pub parent: NodeId,
    /// The nearest following sibling the console will know when this add is
    /// applied: either a node it already had, or the root of an earlier add.
    pub next_sibling: Option<N>,
    pub node: N,
}

/// The batch to build, in the console's application order.
#[derive(Debug)]
pub struct Plan<N> {
    pub removes: Vec<NodeId>,
    pub adds: Vec<PlannedAdd<N>>,
    /// Attribute changes on nodes the console keeps (not on added subtrees,
    /// which carry their current attributes).
    pub attrs: Vec<(NodeId, N, String)>,
    /// A text's id, the text, and its parent as the planner read it, when
    /// it did (the flush asks the parent whether it was sent masked).
    pub texts: Vec<(NodeId, N, Option<N>)>,
}

/// Where a node stands in the current tree, relative to what the console has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In the document, known to the console, and not moving: its children
    /// can be placed relative to it.
    Kept,
    /// In the document, inside (or the root of) a subtree this batch sends
    /// whole.
    Added,
    /// Not mirrored: detached, ignored, under a `<script>`, or under a node
    /// the console never got.
    Outside,
}

struct Planner<'a, D: DomView> {
    dom: &'a D,
    candidates: Dense<()>,
    places: Dense<Place>,
    /// Candidates whose parent is [`Place::Kept`]: the subtrees to send.
    roots: Dense<()>,
    /// Memos of the DOM's answers, each asked once per node in a flush
    /// (a storm asks them of every child of one parent): the ids of kept
    /// nodes, and whether a kept node hides its children.
    kept_ids: Dense<NodeId>,
    hides: Dense<bool>,
}

/// A map from dense keys to values: a vector rather than a hash table,
/// because hashing code costs a script shipped on customers' pages
/// kilobytes.
struct Dense<T> {
    slots: Vec<Option<T>>,
}

impl<T> Dense<T> {
    fn new() -> Self {
        Dense { slots: Vec::new() }
    }

    fn get(&self, key: usize) -> Option<&T> {
        self.slots.get(key).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        self.slots.get_mut(key).and_then(Option::as_mut)
    }

    fn contains(&self, key: usize) -> bool {
        self.get(key).is_some()
    }

    /// Inserts; returns false (and keeps the old value) if present.
    fn insert(&mut self, key: usize, value: T) -> bool {
        if key >= self.slots.len() {
            self.slots.resize_with(key + 1, || None);
        }
        match &mut self.slots[key] {
            Some(_) => false,
            slot => {
                *slot = Some(value);
                true
            }
        }
    }

    fn remove(&mut self, key: usize) -> Option<T> {
        self.slots.get_mut(key).and_then(Option::take)
    }
}

impl<D: DomView> Planner<'_, D> {
    /// The node's place, from its parent's (memoized along the way).
    fn place(&mut self, node: &D::Node) -> Place {
        self.place_keyed(node).0
    }

    /// The node's place and key, and the parent it was placed through
    /// when this call placed it (`None` if it had been placed before).
    fn place_keyed(&mut self, node: &D::Node) -> (Place, usize, Option<D::Node>) {
        let mut chain: Vec<(usize, Option<NodeId>, D::Node)> = Vec::new();
        let mut cur = node.clone();
        let mut above: Option<(Place, usize, D::Node)> = loop {
            let (key, id) = self.dom.key_id(&cur);
            if let Some(&place) = self.places.get(key) {
                break Some((place, key, cur));
            }
            let parent = self.dom.parent(&cur);
            chain.push((key, id, cur));
            match parent {
                Some(p) => cur = p,
                None => break None,
            }
        };
        let mut parent = None;
        while let Some((key, id, n)) = chain.pop() {
            let place = self.step(&n, key, id, above.as_ref());
            self.places.insert(key, place);
            parent = above.take().map(|(_, _, p)| p);
            above = Some((place, key, n));
        }
        match above {
            Some((place, key, _)) => (place, key, parent),
            None => (Place::Outside, self.dom.key(node), None),
        }
    }

    /// The id of a node whose place is [`Place::Kept`], as the step that
    /// placed it read it.
    fn kept_id(&self, key: usize) -> Option<NodeId> {
        self.kept_ids.get(key).copied()
    }

    /// `id`: the node's, as [`DomView::key_id`] read it.
    fn step(
        &mut self,
        node: &D::Node,
        key: usize,
        id: Option<NodeId>,
        above: Option<&(Place, usize, D::Node)>,
    ) -> Place {
        // `is_ignored` is asked only where it decides: a node the console
        // knows (it has an id) was never the ignored UI, whose serialization
        // hands out no id.
        match above {
            Some((Place::Outside, _, _)) => Place::Outside,
            Some((Place::Added, _, _)) if self.dom.is_ignored(node) => Place::Outside,
            Some((Place::Added, _, _)) => Place::Added,
            Some((Place::Kept, parent_key, parent)) => {
                let hides = match self.hides.get(*parent_key) {
                    Some(&h) => h,
                    None => {
                        let h = self.dom.hides_children(parent);
                        self.hides.insert(*parent_key, h);
                        h
                    }
                };
                if hides {
                    Place::Outside
                } else if self.candidates.contains(key) {
                    if self.dom.is_ignored(node) {
                        return Place::Outside;
                    }
                    self.roots.insert(key, ());
                    Place::Added
                } else if let Some(id) = id {
                    self.kept_ids.insert(key, id);
                    Place::Kept
                } else {
                    // In the document but never sent (a serialization that
                    // failed, say): nothing below it can be placed either.
                    Place::Outside
                }
            }
            None if self.dom.is_document(node) => match id {
                Some(id) => {
                    self.kept_ids.insert(key, id);
                    Place::Kept
                }
                None => Place::Outside,
            },
            None => Place::Outside,
        }
    }

    /// The nearest following sibling that will be known to the console once
    /// the batch's earlier adds are applied.
    fn next_known_sibling(&mut self, node: &D::Node) -> Option<D::Node> {
        let mut sibling = self.dom.next_sibling(node);
        while let Some(s) = sibling {
            match self.place(&s) {
                Place::Kept => return Some(s),
                Place::Added if self.roots.contains(self.dom.key(&s)) => return Some(s),
                _ => sibling = self.dom.next_sibling(&s),
            }
        }
        None
    }
}

/// Plans one batch from the records of one flush.
pub fn plan<D: DomView>(dom: &D, changes: Changes<D::Node>) -> Plan<D::Node> {
    let mut planner = Planner {
        dom,
        candidates: Dense::new(),
        places: Dense::new(),
        roots: Dense::new(),
        kept_ids: Dense::new(),
        hides: Dense::new(),
    };

    let mut candidates = Vec::with_capacity(changes.added.len());
    for node in changes.added {
        if planner.candidates.insert(dom.key(&node), ()) {
            candidates.push(node);
        }
    }
    // Every candidate must be known before any place is computed: whether a
    // node is a root or covered depends on its ancestors being candidates.
    let mut roots = Vec::new();
    for node in candidates {
        if planner.place(&node) == Place::Added && planner.roots.contains(dom.key(&node)) {
            roots.push(node);
        }
    }

    // Only a removal from a kept parent tells the console something: a
    // parent that is gone or re-sent whole takes its old children with it.
    // Deduplicated by node: one node, one id.
    let mut removes = Vec::new();
    let mut removed = Dense::new();
    for Removed { node, old_parent } in changes.removed {
        if let Some(id) = dom.id(&node) {
            if planner.place(&old_parent) == Place::Kept && removed.insert(dom.key(&node), ()) {
                removes.push(id);
            }
        }
    }
    // A re-sent node the console already has must go first, whatever its
    // removal record said, or the console would hold two copies.
    for node in &roots {
        if let Some(id) = dom.id(node) {
            if removed.insert(dom.key(node), ()) {
                removes.push(id);
            }
        }
    }

    let adds = order_adds(&mut planner, roots);

    let mut attrs = Vec::new();
    // Per node, the names already listed (an element rarely has many).
    let mut seen_attrs: Dense<Vec<String>> = Dense::new();
    for (node, name) in changes.attrs {
        let (place, key, _) = planner.place_keyed(&node);
        if place != Place::Kept {
            continue;
        }
        let Some(id) = planner.kept_id(key) else {
            continue;
        };
        seen_attrs.insert(key, Vec::new());
        let Some(seen) = seen_attrs.get_mut(key) else {
            continue;
        };
        if !seen.contains(&name) {
            seen.push(name.clone());
            attrs.push((id, node, name));
        }
    }

    let mut texts = Vec::new();
    let mut seen_texts = Dense::new();
    for node in changes.texts {
        let (place, key, parent) = planner.place_keyed(&node);
        if place != Place::Kept {
            continue;
        }
        if let Some(id) = planner.kept_id(key) {
            if seen_texts.insert(key, ()) {
                texts.push((id, node, parent));
            }
        }
    }

    Plan {
        removes,
        adds,
        attrs,
        texts,
    }
}

/// Orders the roots so that each one's next sibling, when it is itself a
/// root, is added before it: follow each chain of root siblings to its end
/// and emit it backwards.
fn order_adds<D: DomView>(
    planner: &mut Planner<'_, D>,
    roots: Vec<D::Node>,
) -> Vec<PlannedAdd<D::Node>> {
    let dom = planner.dom;
    let mut pending: Dense<(NodeId, Option<D::Node>)> = Dense::new();
    let mut order = Vec::with_capacity(roots.len());
    for node in roots {
        let parent_id = dom.parent(&node).and_then(|p| dom.id(&p));
        let Some(parent_id) = parent_id else {
            // A root's parent is kept, so it has an id; a tree that says
            // otherwise is skipped rather than trusted.
            continue;
        };
        let next = planner.next_known_sibling(&node);
        pending.insert(dom.key(&node), (parent_id, next));
        order.push(node);
    }

    let mut adds = Vec::with_capacity(order.len());
    let mut stack: Vec<D::Node> = Vec::new();
    // Which chain (by its starting index) last visited a key.
    let mut on_stack: Dense<usize> = Dense::new();
    for (chain, node) in order.into_iter().enumerate() {
        let mut cur = node;
        // Collect the chain of not-yet-emitted roots that follow `cur`.
        loop {
            let key = dom.key(&cur);
            let next_root = match pending.get(key) {
                Some((_, Some(next))) if pending.contains(dom.key(next)) => Some(next.clone()),
                Some(_) => None,
                // Already emitted through an earlier chain.
                None => break,
            };
            stack.push(cur);
            on_stack.remove(key);
            on_stack.insert(key, chain);
            match next_root {
                // Siblings only ever point forward, so this ends; the stack
                // check guards against a tree that lies.
                Some(next) if on_stack.get(dom.key(&next)) != Some(&chain) => cur = next,
                _ => break,
            }
        }
        while let Some(n) = stack.pop() {
            if let Some((parent, next_sibling)) = pending.remove(dom.key(&n)) {
                adds.push(PlannedAdd {
                    parent,
                    next_sibling,
                    node: n,
                });
            }
        }
    }
    adds
}

#[cfg(test)]
// Tests fail by panicking; that is their job.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "plan_tests.rs"]
mod tests;
