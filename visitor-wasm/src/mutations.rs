//! The `MutationObserver` and the thin glue that turns its records into a
//! protocol [`MutationBatch`].
//!
//! Owns: observing (disconnected on drop), queueing records until a flush,
//! and answering the planner's questions about live DOM nodes. Does not own:
//! the order of the batch (`plan.rs`), node serialization (`serialize.rs`),
//! when to flush (`session.rs`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use protocol::{AddedNode, AttrChange, MutationBatch, NodeId, TextChange};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, MutationObserver, MutationRecord};

use crate::error::VisitorError;
use crate::frames::{self, Nested, RootEvent};
use crate::ids::Ids;
use crate::plan::{self, Changes, DomView, Removed};
use crate::serialize::{text_of, Capture, Walk};
use crate::snapshot::base_url;

/// Observes the whole document until dropped.
pub struct MutationTracker {
    document: Document,
    observer: MutationObserver,
    /// The private frame a pristine observer came from, if the page had
    /// replaced `MutationObserver`; removed with the tracker.
    pristine_host: Option<Element>,
    /// The observer's record lists as it handed them over: kept whole, so
    /// a record is fetched from JS once, when the flush reads it.
    queue: Rc<RefCell<Vec<js_sys::Array>>>,
    /// Shadow roots and frame documents (`frames.rs`).
    nested: Nested,
    /// The planner's keys of known nodes, kept from flush to flush.
    keys: RefCell<KeyTable>,
    /// Whether the last flush's changes may change the page's resources.
    resources_touched: Cell<bool>,
    _callback: Closure<dyn FnMut(js_sys::Array, MutationObserver)>,
}

impl MutationTracker {
    /// Starts observing `document`. `on_records` runs whenever records are
    /// queued (the session schedules a flush); it must not flush re-entrantly
    /// from inside the observer callback.
    pub fn start(document: &Document, on_records: Box<dyn Fn()>) -> Result<Self, VisitorError> {
        let queue: Rc<RefCell<Vec<js_sys::Array>>> = Rc::default();
        let sink = Rc::clone(&queue);
        let on_records: Rc<dyn Fn()> = Rc::from(on_records);
        let on_nested = Rc::clone(&on_records);
        let callback = Closure::<dyn FnMut(js_sys::Array, MutationObserver)>::new(
            move |records: js_sys::Array, _: MutationObserver| {
                if let Ok(mut q) = sink.try_borrow_mut() {
                    q.push(records);
                }
                on_records();
            },
        );
        let (constructor, pristine_host) = observer_constructor(document)?;
        let observer = js_sys::Reflect::construct(
            &constructor,
            &js_sys::Array::of1(callback.as_ref().unchecked_ref()),
        )
        .map_err(VisitorError::js)?
        .unchecked_into::<MutationObserver>();
        observer
            .observe_with_options(document, &frames::observe_init())
            .map_err(VisitorError::js)?;
        let nested = Nested::start(document, &observer, on_nested);
        Ok(MutationTracker {
            document: document.clone(),
            observer,
            pristine_host,
            queue,
            nested,
            keys: RefCell::default(),
            resources_touched: Cell::new(false),
            _callback: callback,
        })
    }

    /// Takes every record so far, queued or still inside the observer.
    fn take(&self) -> Vec<js_sys::Array> {
        let mut records = self
            .queue
            .try_borrow_mut()
            .map(|mut q| std::mem::take(&mut *q))
            .unwrap_or_default();
        records.push(self.observer.take_records());
        records
    }

    /// Drops pending records: a fresh snapshot is about to show their effect.
    pub fn discard(&self) {
        drop(self.take());
        self.nested.clear();
    }

    /// Observes the shadow roots and frame documents the last snapshot (or
    /// flush) met: call right after a snapshot, before the page runs again.
    pub fn observe_found(&self, capture: &mut Capture) {
        self.nested.observe_found(capture);
    }

    /// The open shadow roots of the document (not its frames) observed so
    /// far and still in it.
    pub fn shadow_roots(&self) -> Vec<JsValue> {
        self.nested.shadow_roots_in(&self.document)
    }

    /// Every open shadow root observed so far, in the document and its
    /// frames, still on the page.
    pub fn all_shadow_roots(&self) -> Vec<JsValue> {
        self.nested.all_shadow_roots()
    }

    /// Where input and scroll events inside shadow roots and frames go.
    pub fn on_root_event(&self, f: Rc<dyn Fn(RootEvent)>) {
        self.nested.on_event(f);
    }

    /// Every change since the last flush, unplanned: what a snapshot taken
    /// in slices mends itself with before it is sent (`patch.rs`).
    pub(crate) fn take_changes(&self, capture: &Capture) -> Changes<web_sys::Node> {
        let (mut changes, _) = changes_of(&self.take(), None);
        self.nested.take_changes(&capture.ids, &mut changes);
        recheck_covers(capture, &mut changes, None);
        if !capture.sent_states_hold() {
            recheck_trees(capture, &mut changes);
        }
        changes
    }

    /// Whether the last [`MutationTracker::flush`] saw a change that may
    /// change the resources the page uses (an add or removal, an attribute
    /// other than a class no rule matches on, text in a `<style>`).
    pub fn resources_touched(&self) -> bool {
        self.resources_touched.get()
    }

    /// Everything that changed since the last flush, as one batch (empty
    /// when nothing mirrored changed).
    pub fn flush(&self, capture: &mut Capture) -> MutationBatch {
        let records = self.take();
        if records.iter().all(|r| r.length() == 0) && !self.nested.has_changes() {
            return MutationBatch::default();
        }
        let (mut changes, settled) = changes_of(&records, capture.named_classes());
        self.nested.take_changes(&capture.ids, &mut changes);
        // Whether the sent states answer for the elements this flush does
        // not re-check (see `Capture::sent_states_hold`): asked before the
        // re-check, which does not change it.
        let hold = capture.sent_states_hold();
        recheck_covers(capture, &mut changes, hold.then_some(&settled));
        if !hold {
            recheck_trees(capture, &mut changes);
        }
        // Class changes that no rule matches on and text outside a
        // `<style>` (checked while planning) change no URL, nothing's
        // masking, hence nothing resource discovery finds; a class that
        // makes the page load something is seen by its own observer.
        let mut quiet = hold
            && changes.added.is_empty()
            && changes.removed.is_empty()
            && changes.attrs.iter().enumerate().all(|(i, (_, name))| {
                name == "class" && (!capture.cover_may_change(name) || settled.get(i))
            });
        let texts = changes.texts.len();
        let style_parent = Cell::new(false);
        let plan = {
            if let Ok(mut table) = self.keys.try_borrow_mut() {
                table.next_flush();
            }
            let view = LiveDom {
                document: self.document.as_ref(),
                capture,
                table: &self.keys,
                keys: js_sys::Map::new(),
                next_key: Cell::new(0),
                style_parent: &style_parent,
            };
            plan::plan(&view, changes)
        };
        quiet = quiet && plan.texts.len() == texts && !style_parent.get();
        self.resources_touched.set(!quiet);
        let base = base_url(&self.document);
        let mut batch = MutationBatch {
            removes: plan.removes,
            ..MutationBatch::default()
        };
        for add in plan.adds {
            let masked = capture.is_parent_masked(&add.node);
            let own_base = frames::base_for(&add.node, &self.document, &base);
            let mut walk = Walk::new(own_base.as_deref().unwrap_or(&base));
            let Some(node) = capture.serialize(&add.node, &mut walk, masked) else {
                continue;
            };
            let next_sibling = add.next_sibling.and_then(|s| first_known(&capture.ids, s));
            batch.adds.push(AddedNode {
                parent: add.parent,
                next_sibling,
                node,
            });
        }
        for (id, node, name) in plan.attrs {
            // An `attributes` record's target is always an element.
            let el: &Element = node.unchecked_ref();
            // The console's box keeps the size it was sent with; nothing
            // of the element's own attributes follows it.
            if capture.sent_blocked(el) {
                continue;
            }
            // Re-checked or not, a kept element sent unmasked is unmasked
            // now when the sent states hold; one sent masked is asked again
            // (it may have been unmasked since).
            let masked = (!hold || capture.sent_masked(el)) && capture.is_masked(el);
            let value = capture.attr_value(el, &name, masked, || {
                frames::base_for(el, &self.document, &base).unwrap_or_else(|| base.clone())
            });
            batch.attrs.push(AttrChange { id, name, value });
        }
        for (id, node, parent) in plan.texts {
            // The parent the planner read is the containing element when it
            // is an element (`nodeType`, a cheaper question than asking for
            // the parent element again); a shadow root or a document is not.
            let parent = match parent {
                Some(p) if crate::dom::node_type(&p) == web_sys::Node::ELEMENT_NODE => {
                    Some(p.unchecked_into::<Element>())
                }
                _ => crate::shadow::containing_element(&node),
            };
            let masked = match parent {
                Some(p) if hold && !capture.sent_masked(&p) => false,
                _ => capture.is_parent_masked(&node),
            };
            batch.texts.push(TextChange {
                id,
                text: text_of(&node, masked),
            });
        }
        self.nested.observe_found(capture);
        batch
    }
}

impl Drop for MutationTracker {
    fn drop(&mut self) {
        self.observer.disconnect();
        if let Some(host) = self.pristine_host.take() {
            host.remove();
        }
    }
}

/// The page's `MutationObserver`, unless the page replaced it (some
/// frameworks do, and a replacement may throw or drop records): then a
/// pristine one from a private `about:blank` frame, kept inside a
/// `<cobrowse-ui>` host that is never mirrored.
fn observer_constructor(
    document: &Document,
) -> Result<(js_sys::Function, Option<Element>), VisitorError> {
    let global = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("MutationObserver"))
        .unwrap_or(JsValue::UNDEFINED);
    if let Some(native) = global
        .dyn_ref::<js_sys::Function>()
        .filter(|f| is_native(f))
    {
        return Ok((native.clone(), None));
    }
    let host =
        crate::dom::create_element(document, crate::mask::UI_TAG).map_err(VisitorError::js)?;
    let root = host
        .attach_shadow(&web_sys::ShadowRootInit::new(
            web_sys::ShadowRootMode::Closed,
        ))
        .map_err(VisitorError::js)?;
    let frame = crate::dom::create_element(document, "iframe").map_err(VisitorError::js)?;
    crate::dom::set_attribute(&frame, "style", "display:none").map_err(VisitorError::js)?;
    crate::dom::append_child(&root, &frame).map_err(VisitorError::js)?;
    let top = crate::dom::document_element(document).ok_or(VisitorError::NoDocument)?;
    crate::dom::append_child(&top, &host).map_err(VisitorError::js)?;
    let window = js_sys::Reflect::get(&frame, &JsValue::from_str("contentWindow"))
        .map_err(VisitorError::js)?;
    let constructor = js_sys::Reflect::get(&window, &JsValue::from_str("MutationObserver"))
        .map_err(VisitorError::js)?
        .dyn_into::<js_sys::Function>()
        .map_err(|_| VisitorError::Js("this browser has no MutationObserver".into()))?;
    Ok((constructor, Some(host)))
}

fn is_native(f: &js_sys::Function) -> bool {
    f.to_string()
        .as_string()
        .is_some_and(|s| s.contains("[native code]"))
}

/// An element whose masking or blocking changed since it was sent (a marker
/// or a class a rule matches was set or removed), or that has descendants a
/// rule covers now, is sent again whole, as a move in place: the console's
/// copy is replaced by one serialized under the current rules.
///
/// `skip` (given when the sent states hold): leave out the changes of
/// attributes no rule can match on (`Capture::cover_may_change`) and the
/// class changes it marks settled.
fn recheck_covers(capture: &Capture, changes: &mut Changes<web_sys::Node>, skip: Option<&Settled>) {
    if changes.attrs.is_empty() {
        return;
    }
    let seen = js_sys::Set::new(&JsValue::UNDEFINED);
    let mut resend = Vec::new();
    for (i, (node, name)) in changes.attrs.iter().enumerate() {
        if let Some(settled) = skip {
            if !capture.cover_may_change(name) || settled.get(i) {
                continue;
            }
        }
        if seen.has(node) {
            continue;
        }
        seen.add(node);
        let Some(el) = frames::as_element(node) else {
            continue;
        };
        if capture.ids.get(el).is_none() {
            continue;
        }
        if capture.cover_changed(el) {
            resend.push(node.clone());
        } else {
            resend.extend(capture.newly_covered_inside(el));
        }
    }
    changes.added.extend(resend);
}

/// Under rules `cover_deps.rs` does not vouch for, an element can start
/// being covered through a change beside or below it (`.flag + p`,
/// `:has(…)`), which the per-element re-check above never looks at: each
/// tree (document, shadow root, frame document) this flush changed is
/// searched once for elements a rule covers now that were sent uncovered,
/// and those are sent again. Under rules it does vouch for (descendant and
/// child combinators only) no such change exists, and the search is skipped.
fn recheck_trees(capture: &Capture, changes: &mut Changes<web_sys::Node>) {
    let roots = js_sys::Set::new(&JsValue::UNDEFINED);
    let mut resend = Vec::new();
    let touched = changes
        .added
        .iter()
        .chain(changes.removed.iter().map(|r| &r.old_parent))
        .chain(changes.attrs.iter().map(|(node, _)| node))
        .chain(changes.texts.iter());
    for node in touched {
        let root = crate::dom::get_root_node(&node);
        if roots.has(&root) {
            continue;
        }
        roots.add(&root);
        resend.extend(capture.newly_covered_in_tree(&root));
    }
    changes.added.extend(resend);
}

/// The planned next sibling, or (if its serialization failed) the first
/// later sibling the console knows.
fn first_known(ids: &Ids, from: web_sys::Node) -> Option<NodeId> {
    let mut node = Some(from);
    while let Some(n) = node {
        if let Some(id) = ids.get(&n) {
            return Some(id);
        }
        node = crate::dom::next_sibling(&n);
    }
    None
}

/// Which attribute changes of a flush (by their index in
/// [`Changes::attrs`]) are class changes that added or removed none of the
/// classes the rules name: they cannot change a match.
#[derive(Default)]
struct Settled(Vec<bool>);

impl Settled {
    fn get(&self, i: usize) -> bool {
        self.0.get(i).copied().unwrap_or(false)
    }
}

/// The records' changes. `classes`: the class names the rules name
/// ([`Capture::named_classes`]), to tell which class changes are
/// [`Settled`]; `None` settles none.
fn changes_of(
    lists: &[js_sys::Array],
    classes: Option<&[String]>,
) -> (Changes<web_sys::Node>, Settled) {
    let mut changes = Changes::default();
    let mut settled = Settled::default();
    let records = lists
        .iter()
        .flat_map(|list| list.iter().map(JsCast::unchecked_into::<MutationRecord>));
    for record in records {
        let Some(target) = record.target() else {
            continue;
        };
        // The record's type follows from its target, asked with one cheap
        // number instead of a string: a `childList` record's target can
        // have children (an element, a document, a fragment), an
        // `attributes` record's is an element and names an attribute, and
        // anything else (text, comment, CDATA, processing instruction) can
        // only be the target of a `characterData` record.
        if !matches!(
            crate::dom::node_type(&target),
            web_sys::Node::ELEMENT_NODE
                | web_sys::Node::DOCUMENT_NODE
                | web_sys::Node::DOCUMENT_FRAGMENT_NODE
        ) {
            changes.texts.push(target);
            continue;
        }
        if let Some(local) = record.attribute_name() {
            let (name, plain) = match record.attribute_namespace().as_deref() {
                None => (local, true),
                Some(ns) => (qualified(ns, local), false),
            };
            if let Some(classes) = classes {
                // Only the class attribute in no namespace is the one class
                // selectors read; its value now against the record's old one.
                let quiet = plain && name == "class" && {
                    let el: &Element = target.unchecked_ref();
                    let now = crate::dom::get_attribute_ns(el, None, wasm_bindgen::intern("class"));
                    let old = record.old_value();
                    !crate::cover_deps::class_change_matters(
                        classes,
                        old.as_deref(),
                        now.as_deref(),
                    )
                };
                settled.0.resize(changes.attrs.len(), false);
                settled.0.push(quiet);
            }
            changes.attrs.push((target, name));
            continue;
        }
        let removed = record.removed_nodes();
        for i in 0..removed.length() {
            if let Some(node) = removed.item(i) {
                changes.removed.push(Removed {
                    node,
                    old_parent: target.clone(),
                });
            }
        }
        let added = record.added_nodes();
        for i in 0..added.length() {
            if let Some(node) = added.item(i) {
                changes.added.push(node);
            }
        }
    }
    (changes, settled)
}

/// A namespaced attribute's name as `Attr.name` spells it in practice.
fn qualified(ns: &str, local: String) -> String {
    let prefix = match ns {
        "http://www.w3.org/1999/xlink" => "xlink:",
        "http://www.w3.org/XML/1998/namespace" => "xml:",
        "http://www.w3.org/2000/xmlns/" if local != "xmlns" => "xmlns:",
        _ => return local,
    };
    let mut name = String::with_capacity(prefix.len() + local.len());
    name.push_str(prefix);
    name.push_str(&local);
    name
}

/// The planner's keys of nodes the console knows, found through their ids
/// (one question to the page, which the planner asks anyway): a slot per
/// id, stamped with the flush it was numbered in, so the table is reused
/// and never cleared. It grows to the largest id met, up to [`KeyTable::MAX_ID`].
#[derive(Default)]
struct KeyTable {
    flush: u32,
    slots: Vec<(u32, u32)>,
}

impl KeyTable {
    /// Past this many ids (8 bytes of table each), keys come from the
    /// per-flush map like an unknown node's.
    const MAX_ID: usize = 1 << 21;

    fn next_flush(&mut self) {
        self.flush = self.flush.wrapping_add(1);
        if self.flush == 0 {
            self.slots.clear();
            self.flush = 1;
        }
    }
}

/// The live document as the planner sees it. Keys number JS objects for
/// the duration of one flush: known nodes through [`KeyTable`], others
/// through a JS map.
struct LiveDom<'a> {
    document: &'a web_sys::Node,
    capture: &'a Capture,
    table: &'a RefCell<KeyTable>,
    keys: js_sys::Map,
    next_key: Cell<usize>,
    /// Set when a `<style>` was asked about as a parent.
    style_parent: &'a Cell<bool>,
}

impl LiveDom<'_> {
    fn fresh_key(&self) -> usize {
        let k = self.next_key.get();
        self.next_key.set(k + 1);
        k
    }

    fn table_key(&self, id: NodeId) -> Option<usize> {
        let slot = usize::try_from(id.0)
            .ok()
            .filter(|&i| i < KeyTable::MAX_ID)?;
        let mut table = self.table.try_borrow_mut().ok()?;
        let flush = table.flush;
        if slot >= table.slots.len() {
            table.slots.resize(slot + 1, (0, 0));
        }
        let entry = table.slots.get_mut(slot)?;
        if entry.0 == flush {
            return Some(entry.1 as usize);
        }
        let k = self.fresh_key();
        *entry = (flush, u32::try_from(k).ok()?);
        Some(k)
    }

    fn map_key(&self, node: &web_sys::Node) -> usize {
        if let Some(k) = self.keys.get(node).as_f64() {
            return k as usize;
        }
        let k = self.fresh_key();
        self.keys.set(node, &JsValue::from(k));
        k
    }
}

impl DomView for LiveDom<'_> {
    type Node = web_sys::Node;

    fn key(&self, node: &web_sys::Node) -> usize {
        self.key_id(node).0
    }

    fn key_id(&self, node: &web_sys::Node) -> (usize, Option<NodeId>) {
        let id = self.capture.ids.get(node);
        let key = id
            .and_then(|id| self.table_key(id))
            .unwrap_or_else(|| self.map_key(node));
        (key, id)
    }

    /// Across roots: a shadow root's parent is its host, a frame's
    /// document's its `<iframe>`.
    fn parent(&self, node: &web_sys::Node) -> Option<web_sys::Node> {
        // A node with a parent is not the document: asked first, it spares
        // the comparison for every other node.
        if let Some(p) = crate::dom::parent_node(&node) {
            return Some(p);
        }
        if node == self.document {
            return None;
        }
        crate::shadow::composed_parent(node)
    }

    fn next_sibling(&self, node: &web_sys::Node) -> Option<web_sys::Node> {
        crate::dom::next_sibling(&node)
    }

    fn id(&self, node: &web_sys::Node) -> Option<NodeId> {
        self.capture.ids.get(node)
    }

    fn is_document(&self, node: &web_sys::Node) -> bool {
        node == self.document
    }

    // `nodeName` is `#text`, `#comment`… for non-elements, so one call
    // tells both the kind and the tag.
    fn is_ignored(&self, node: &web_sys::Node) -> bool {
        crate::dom::node_name(&node).eq_ignore_ascii_case(crate::mask::UI_TAG)
    }

    /// A script's source and a blocked element's content never leave.
    fn hides_children(&self, node: &web_sys::Node) -> bool {
        let name = crate::dom::node_name(&node);
        if name.eq_ignore_ascii_case("style") {
            self.style_parent.set(true);
        }
        name.eq_ignore_ascii_case("script") || self.capture.sent_blocked(node)
    }
}
