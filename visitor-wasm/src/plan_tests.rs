//! The planner against a fake tree: a small DOM that records mutations the
//! way a `MutationObserver` does, and a strict model of the agent's console
//! that applies each planned batch and must end up showing exactly the
//! mirrored part of the fake tree.

use super::*;
use std::collections::HashMap;

type Ix = usize;

#[derive(Debug, Default, Clone)]
struct FakeNode {
    label: String,
    parent: Option<Ix>,
    children: Vec<Ix>,
    id: Option<NodeId>,
    ignored: bool,
    hides: bool,
}

/// The page: index 0 is the document.
struct Page {
    nodes: Vec<FakeNode>,
    records: Changes<Ix>,
    next_id: u32,
}

impl DomView for Page {
    type Node = Ix;

    fn key(&self, node: &Ix) -> usize {
        *node
    }
    fn parent(&self, node: &Ix) -> Option<Ix> {
        self.nodes[*node].parent
    }
    fn next_sibling(&self, node: &Ix) -> Option<Ix> {
        let parent = self.nodes[*node].parent?;
        let siblings = &self.nodes[parent].children;
        let at = siblings.iter().position(|c| c == node)?;
        siblings.get(at + 1).copied()
    }
    fn id(&self, node: &Ix) -> Option<NodeId> {
        self.nodes[*node].id
    }
    fn is_document(&self, node: &Ix) -> bool {
        *node == 0
    }
    fn is_ignored(&self, node: &Ix) -> bool {
        self.nodes[*node].ignored
    }
    fn hides_children(&self, node: &Ix) -> bool {
        self.nodes[*node].hides
    }
}

impl Page {
    fn new() -> Page {
        Page {
            nodes: vec![FakeNode {
                label: "#document".into(),
                ..FakeNode::default()
            }],
            records: Changes::default(),
            next_id: 1,
        }
    }

    fn create(&mut self, label: &str) -> Ix {
        self.nodes.push(FakeNode {
            label: label.into(),
            ..FakeNode::default()
        });
        self.nodes.len() - 1
    }

    fn detach(&mut self, node: Ix) {
        if let Some(parent) = self.nodes[node].parent.take() {
            self.nodes[parent].children.retain(|c| *c != node);
            self.records.removed.push(Removed {
                node,
                old_parent: parent,
            });
        }
    }

    fn insert_before(&mut self, parent: Ix, node: Ix, before: Option<Ix>) {
        self.detach(node);
        let at = before
            .and_then(|b| self.nodes[parent].children.iter().position(|c| *c == b))
            .unwrap_or(self.nodes[parent].children.len());
        self.nodes[parent].children.insert(at, node);
        self.nodes[node].parent = Some(parent);
        self.records.added.push(node);
    }

    fn append(&mut self, parent: Ix, node: Ix) {
        self.insert_before(parent, node, None);
    }

    fn remove(&mut self, node: Ix) {
        self.detach(node);
    }

    fn set_attr(&mut self, node: Ix, name: &str) {
        self.records.attrs.push((node, name.into()));
    }

    fn set_text(&mut self, node: Ix) {
        self.records.texts.push(node);
    }

    /// What serializing a node does: ids for it and every mirrored
    /// descendant (existing ids kept), and the subtree the console gets.
    fn serialize(&mut self, node: Ix) -> Option<Sent> {
        if self.nodes[node].ignored {
            return None;
        }
        let id = match self.nodes[node].id {
            Some(id) => id,
            None => {
                let id = NodeId(self.next_id);
                self.next_id += 1;
                self.nodes[node].id = Some(id);
                id
            }
        };
        let children = if self.nodes[node].hides {
            Vec::new()
        } else {
            self.nodes[node]
                .children
                .clone()
                .into_iter()
                .filter_map(|c| self.serialize(c))
                .collect()
        };
        Some(Sent { id, children })
    }

    /// The mirrored part of the tree, as labels, for comparison.
    fn mirrored(&self, node: Ix) -> Option<Shape> {
        let n = &self.nodes[node];
        if n.ignored {
            return None;
        }
        let children = if n.hides {
            Vec::new()
        } else {
            n.children
                .iter()
                .filter_map(|c| self.mirrored(*c))
                .collect()
        };
        Some(Shape { id: n.id, children })
    }
}

#[derive(Debug)]
struct Sent {
    id: NodeId,
    children: Vec<Sent>,
}

#[derive(Debug, PartialEq)]
struct Shape {
    id: Option<NodeId>,
    children: Vec<Shape>,
}

/// A strict console: every id it is told about must make sense when applied.
#[derive(Default)]
struct Console {
    parent: HashMap<NodeId, Option<NodeId>>,
    children: HashMap<NodeId, Vec<NodeId>>,
}

impl Console {
    fn insert(&mut self, sent: &Sent, parent: Option<NodeId>) {
        assert!(
            !self.parent.contains_key(&sent.id),
            "console already has {:?}: it would hold two copies",
            sent.id
        );
        self.parent.insert(sent.id, parent);
        self.children
            .insert(sent.id, sent.children.iter().map(|c| c.id).collect());
        for c in &sent.children {
            self.insert(c, Some(sent.id));
        }
    }

    fn forget(&mut self, id: NodeId) {
        self.parent.remove(&id);
        for c in self.children.remove(&id).unwrap_or_default() {
            self.forget(c);
        }
    }

    fn remove(&mut self, id: NodeId) {
        // Removing a node whose ancestor went earlier in the batch is allowed
        // (and a no-op); anything else unknown is a planner bug.
        let Some(parent) = self.parent.get(&id).copied() else {
            return;
        };
        if let Some(p) = parent {
            if let Some(siblings) = self.children.get_mut(&p) {
                siblings.retain(|c| *c != id);
            }
        }
        self.forget(id);
    }

    fn add(&mut self, parent: NodeId, next: Option<NodeId>, sent: &Sent) {
        let siblings = self
            .children
            .get(&parent)
            .unwrap_or_else(|| panic!("add under {parent:?}, which the console does not have"))
            .clone();
        let at = match next {
            None => siblings.len(),
            Some(next) => siblings.iter().position(|c| *c == next).unwrap_or_else(|| {
                panic!("add before {next:?}, which is not a child of {parent:?} yet")
            }),
        };
        self.insert(sent, Some(parent));
        if let Some(s) = self.children.get_mut(&parent) {
            s.insert(at, sent.id);
        }
    }

    fn shape(&self, id: NodeId) -> Shape {
        Shape {
            id: Some(id),
            children: self.children[&id].iter().map(|c| self.shape(*c)).collect(),
        }
    }
}

/// A page already snapshotted into a console: `html > body`.
struct World {
    page: Page,
    console: Console,
    body: Ix,
}

impl World {
    fn new() -> World {
        let mut page = Page::new();
        let html = page.create("html");
        let body = page.create("body");
        page.append(0, html);
        page.append(html, body);
        let mut world = World {
            page,
            console: Console::default(),
            body,
        };
        world.snapshot();
        world
    }

    /// A fresh snapshot replaces everything the console has.
    fn snapshot(&mut self) {
        self.page.records = Changes::default();
        self.console = Console::default();
        let sent = self.page.serialize(0).expect("the document is mirrored");
        self.console.insert(&sent, None);
    }

    fn id(&self, node: Ix) -> Option<NodeId> {
        self.page.nodes[node].id
    }

    /// Plans, serializes and applies one batch; returns the plan's shape.
    fn flush(&mut self) -> Batch {
        let changes = std::mem::take(&mut self.page.records);
        let plan = plan(&self.page, changes);
        let mut batch = Batch {
            removes: plan.removes.clone(),
            ..Batch::default()
        };
        for id in &plan.removes {
            self.console.remove(*id);
        }
        for add in &plan.adds {
            let sent = self
                .page
                .serialize(add.node)
                .expect("planned adds are mirrored");
            let next = add.next_sibling.map(|n| {
                self.page.nodes[n]
                    .id
                    .expect("a next sibling is known before the add that names it")
            });
            self.console.add(add.parent, next, &sent);
            batch
                .adds
                .push((self.page.nodes[add.node].label.clone(), add.parent, next));
        }
        for (id, _, name) in &plan.attrs {
            assert!(
                self.console.parent.contains_key(id),
                "attr on unknown {id:?}"
            );
            batch.attrs.push((*id, name.clone()));
        }
        for (id, node, parent) in &plan.texts {
            // The parent handed back is the text's own (the flush asks it
            // whether it was sent masked).
            if let Some(parent) = parent {
                assert_eq!(Some(*parent), self.page.parent(node), "text {id:?}");
            }
            assert!(
                self.console.parent.contains_key(id),
                "text on unknown {id:?}"
            );
            batch.texts.push(*id);
        }
        self.assert_in_sync();
        batch
    }

    fn assert_in_sync(&self) {
        let page = self.page.mirrored(0).expect("document");
        let root = self.page.nodes[0].id.expect("document id");
        assert_eq!(
            self.console.shape(root),
            page,
            "console out of sync with the page"
        );
    }
}

#[derive(Debug, Default, PartialEq)]
struct Batch {
    removes: Vec<NodeId>,
    /// (label, parent, next sibling)
    adds: Vec<(String, NodeId, Option<NodeId>)>,
    attrs: Vec<(NodeId, String)>,
    texts: Vec<NodeId>,
}

#[test]
fn appended_siblings_are_added_last_first_so_each_next_sibling_is_known() {
    let mut w = World::new();
    let (a, b, c) = (w.page.create("a"), w.page.create("b"), w.page.create("c"));
    w.page.append(w.body, a);
    w.page.append(w.body, b);
    w.page.append(w.body, c);
    let batch = w.flush();
    let labels: Vec<_> = batch.adds.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(labels, ["c", "b", "a"]);
    assert_eq!(batch.adds[0].2, None);
    assert_eq!(batch.adds[1].2, w.id(c));
    assert_eq!(batch.adds[2].2, w.id(b));
}

#[test]
fn an_insert_before_a_kept_node_names_it_as_next_sibling() {
    let mut w = World::new();
    let kept = w.page.create("kept");
    w.page.append(w.body, kept);
    w.flush();
    let new = w.page.create("new");
    w.page.insert_before(w.body, new, Some(kept));
    let batch = w.flush();
    assert_eq!(
        batch.adds,
        [("new".to_owned(), w.id(w.body).unwrap(), w.id(kept))]
    );
}

#[test]
fn nested_adds_are_sent_once_as_the_outermost_subtree() {
    let mut w = World::new();
    let outer = w.page.create("outer");
    let inner = w.page.create("inner");
    let leaf = w.page.create("leaf");
    w.page.append(w.body, outer);
    w.page.append(outer, inner);
    w.page.append(inner, leaf);
    let batch = w.flush();
    assert_eq!(batch.adds.len(), 1);
    assert_eq!(batch.adds[0].0, "outer");
}

#[test]
fn a_child_added_before_its_parent_joins_the_document_is_still_covered() {
    let mut w = World::new();
    let parent = w.page.create("parent");
    let child = w.page.create("child");
    w.page.append(parent, child); // detached: the observer does not see it...
    w.page.records = Changes::default();
    w.page.append(w.body, parent); // ...but it comes with its parent.
    let _ = child;
    let batch = w.flush();
    assert_eq!(batch.adds.len(), 1);
}

#[test]
fn a_node_added_then_removed_in_one_batch_yields_nothing() {
    let mut w = World::new();
    let temp = w.page.create("temp");
    w.page.append(w.body, temp);
    w.page.set_attr(temp, "class");
    w.page.remove(temp);
    let batch = w.flush();
    assert_eq!(batch, Batch::default());
}

#[test]
fn a_move_is_a_remove_and_an_add_of_the_same_id() {
    let mut w = World::new();
    let (from, to, moved) = (
        w.page.create("from"),
        w.page.create("to"),
        w.page.create("moved"),
    );
    w.page.append(w.body, from);
    w.page.append(w.body, to);
    w.page.append(from, moved);
    w.flush();
    let id = w.id(moved);
    w.page.append(to, moved);
    let batch = w.flush();
    assert_eq!(batch.removes, [id.unwrap()]);
    assert_eq!(batch.adds, [("moved".to_owned(), w.id(to).unwrap(), None)]);
    assert_eq!(w.id(moved), id, "a moved node keeps its id");
}

#[test]
fn a_node_moved_twice_is_added_once_at_its_final_place() {
    let mut w = World::new();
    let (a, b, c, x) = (
        w.page.create("a"),
        w.page.create("b"),
        w.page.create("c"),
        w.page.create("x"),
    );
    for n in [a, b, c] {
        w.page.append(w.body, n);
    }
    w.page.append(a, x);
    w.flush();
    w.page.append(b, x);
    w.page.append(c, x);
    let batch = w.flush();
    assert_eq!(batch.removes, [w.id(x).unwrap()]);
    assert_eq!(batch.adds, [("x".to_owned(), w.id(c).unwrap(), None)]);
}

#[test]
fn removing_an_ancestor_drops_changes_inside_it() {
    let mut w = World::new();
    let section = w.page.create("section");
    let text = w.page.create("#text");
    w.page.append(w.body, section);
    w.page.append(section, text);
    w.flush();
    w.page.set_text(text);
    w.page.set_attr(section, "class");
    w.page.remove(text);
    w.page.remove(section);
    let batch = w.flush();
    // The text left a parent that is itself gone: the section's removal
    // covers it.
    assert_eq!(batch.removes, [w.id(section).unwrap()]);
    assert!(batch.adds.is_empty() && batch.attrs.is_empty() && batch.texts.is_empty());
}

#[test]
fn removals_inside_an_already_detached_subtree_are_not_sent() {
    let mut w = World::new();
    let section = w.page.create("section");
    let inner = w.page.create("inner");
    w.page.append(w.body, section);
    w.page.append(section, inner);
    w.flush();
    w.page.remove(section);
    w.page.remove(inner);
    let batch = w.flush();
    assert_eq!(batch.removes, [w.id(section).unwrap()]);
}

#[test]
fn a_kept_node_moved_out_of_a_removed_parent_is_re_added() {
    let mut w = World::new();
    let section = w.page.create("section");
    let keep = w.page.create("keep");
    w.page.append(w.body, section);
    w.page.append(section, keep);
    w.flush();
    w.page.remove(section);
    w.page.append(w.body, keep);
    let batch = w.flush();
    assert_eq!(batch.removes, [w.id(section).unwrap(), w.id(keep).unwrap()]);
    assert_eq!(batch.adds.len(), 1);
}

#[test]
fn attribute_and_text_changes_on_kept_nodes_are_sent_once_each() {
    let mut w = World::new();
    let p = w.page.create("p");
    let text = w.page.create("#text");
    w.page.append(w.body, p);
    w.page.append(p, text);
    w.flush();
    w.page.set_attr(p, "class");
    w.page.set_attr(p, "class");
    w.page.set_attr(p, "title");
    w.page.set_text(text);
    w.page.set_text(text);
    let batch = w.flush();
    let pid = w.id(p).unwrap();
    assert_eq!(
        batch.attrs,
        [(pid, "class".to_owned()), (pid, "title".to_owned())]
    );
    assert_eq!(batch.texts, [w.id(text).unwrap()]);
}

#[test]
fn a_changed_text_comes_with_the_parent_it_was_placed_through() {
    let mut w = World::new();
    let p = w.page.create("p");
    let text = w.page.create("#text");
    w.page.append(w.body, p);
    w.page.append(p, text);
    w.flush();
    w.page.set_text(text);
    let changes = std::mem::take(&mut w.page.records);
    let plan = plan(&w.page, changes);
    assert_eq!(plan.texts.len(), 1);
    assert_eq!(plan.texts[0].2, Some(p));
}

#[test]
fn changes_on_a_node_added_in_the_same_batch_ride_with_the_add() {
    let mut w = World::new();
    let p = w.page.create("p");
    w.page.append(w.body, p);
    w.page.set_attr(p, "class");
    let batch = w.flush();
    assert_eq!(batch.adds.len(), 1);
    assert!(batch.attrs.is_empty());
}

#[test]
fn the_visitor_ui_is_never_added_and_is_skipped_as_a_next_sibling() {
    let mut w = World::new();
    let ui = w.page.create("cobrowse-ui");
    w.page.nodes[ui].ignored = true;
    w.page.append(w.body, ui);
    let inside = w.page.create("button");
    w.page.append(ui, inside);
    let batch = w.flush();
    assert_eq!(batch, Batch::default());

    let before_ui = w.page.create("before-ui");
    w.page.insert_before(w.body, before_ui, Some(ui));
    w.page.set_attr(ui, "style");
    let batch = w.flush();
    assert_eq!(
        batch.adds,
        [("before-ui".to_owned(), w.id(w.body).unwrap(), None)]
    );
    assert!(batch.attrs.is_empty());
    assert_eq!(w.id(ui), None);
}

#[test]
fn children_of_a_script_are_never_added() {
    let mut w = World::new();
    let script = w.page.create("script");
    w.page.nodes[script].hides = true;
    w.page.append(w.body, script);
    w.flush();
    let source = w.page.create("#text");
    w.page.append(script, source);
    w.page.set_text(source);
    let batch = w.flush();
    assert_eq!(batch, Batch::default());
}

#[test]
fn a_fresh_snapshot_keeps_ids() {
    let mut w = World::new();
    let p = w.page.create("p");
    w.page.append(w.body, p);
    w.flush();
    let before = (w.id(w.body), w.id(p));
    w.snapshot();
    assert_eq!((w.id(w.body), w.id(p)), before);
}

/// A small deterministic generator, so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn random_edit_sequences_keep_the_console_in_sync() {
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut w = World::new();
        let mut all = vec![w.body];
        for round in 0..12 {
            for _ in 0..1 + rng.below(8) {
                let pick = all[rng.below(all.len())];
                match rng.below(10) {
                    0..=2 => {
                        let n = w.page.create("n");
                        match rng.below(12) {
                            0 => w.page.nodes[n].ignored = true,
                            1 => w.page.nodes[n].hides = true,
                            _ => {}
                        }
                        all.push(n);
                        w.page.append(pick, n);
                    }
                    3..=4 => {
                        // Insert or move `pick` somewhere, never into itself.
                        let parent = all[rng.below(all.len())];
                        let mut a = Some(parent);
                        while let Some(x) = a {
                            if x == pick {
                                break;
                            }
                            a = w.page.nodes[x].parent;
                        }
                        if a.is_none() && pick != w.body {
                            let kids = w.page.nodes[parent].children.clone();
                            let before = if kids.is_empty() {
                                None
                            } else {
                                kids.get(rng.below(kids.len() + 1)).copied()
                            };
                            w.page.insert_before(parent, pick, before);
                        }
                    }
                    5..=6 if pick != w.body => w.page.remove(pick),
                    7 => w.page.set_attr(pick, "class"),
                    8 => w.page.set_text(pick),
                    _ => {}
                }
            }
            w.flush();
            if round == 6 {
                w.snapshot();
            }
        }
    }
}

/// Counts the questions a plan asks that cost a crossing into JS per call
/// in the browser.
struct Counting<'a> {
    page: &'a Page,
    ignored: std::cell::Cell<usize>,
    hides: std::cell::Cell<usize>,
}

impl DomView for Counting<'_> {
    type Node = Ix;

    fn key(&self, node: &Ix) -> usize {
        self.page.key(node)
    }
    fn parent(&self, node: &Ix) -> Option<Ix> {
        self.page.parent(node)
    }
    fn next_sibling(&self, node: &Ix) -> Option<Ix> {
        self.page.next_sibling(node)
    }
    fn id(&self, node: &Ix) -> Option<NodeId> {
        self.page.id(node)
    }
    fn is_document(&self, node: &Ix) -> bool {
        self.page.is_document(node)
    }
    fn is_ignored(&self, node: &Ix) -> bool {
        self.ignored.set(self.ignored.get() + 1);
        self.page.is_ignored(node)
    }
    fn hides_children(&self, node: &Ix) -> bool {
        self.hides.set(self.hides.get() + 1);
        self.page.hides_children(node)
    }
}

#[test]
fn a_storm_on_kept_nodes_asks_each_parent_once_and_never_whether_a_kept_node_is_ignored() {
    let mut w = World::new();
    let mut cells = Vec::new();
    for _ in 0..3 {
        let row = w.page.create("tr");
        w.page.append(w.body, row);
        for _ in 0..10 {
            let cell = w.page.create("td");
            let text = w.page.create("#text");
            w.page.append(cell, text);
            w.page.append(row, cell);
            cells.push((cell, text));
        }
    }
    w.snapshot();
    for &(cell, text) in &cells {
        w.page.set_attr(cell, "class");
        w.page.set_text(text);
    }
    let changes = std::mem::take(&mut w.page.records);
    let counting = Counting {
        page: &w.page,
        ignored: Default::default(),
        hides: Default::default(),
    };
    let plan = plan(&counting, changes);
    assert_eq!(plan.attrs.len(), 30);
    assert_eq!(plan.texts.len(), 30);
    // document, html, body, three rows, thirty cells: each asked once as a
    // parent.
    assert_eq!(counting.hides.get(), 36);
    assert_eq!(counting.ignored.get(), 0);
}
