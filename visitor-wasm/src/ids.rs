//! Node ids: which DOM node the console knows by which [`NodeId`].
//!
//! Owns: the node → id map, the id counter, and finding a node by its id
//! (for what agents point at and act on). Ids are kept in a JS
//! `WeakMap`, so a node that leaves the page is garbage-collected as usual
//! and a node that comes back keeps its id; ids are never reused.
//! Does not own: deciding which nodes get ids (`serialize.rs`).

use protocol::NodeId;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

#[wasm_bindgen]
extern "C" {
    /// The id map seen as holding numbers: `get` hands its answer back as
    /// an `f64` in one call (through `js_sys::WeakMap` an id costs a second
    /// call to read the number out of the returned value; every storm asks
    /// this several times per record).
    #[wasm_bindgen(js_name = WeakMap)]
    type IdMap;
    #[wasm_bindgen(method, js_name = get)]
    fn get_number(this: &IdMap, key: &web_sys::Node) -> f64;
}

pub struct Ids {
    map: js_sys::WeakMap,
    /// The next id to hand out; `0` is never used.
    next: u32,
    /// The last node found by id: an agent's pointer names the same element
    /// many times in a row, and a search walks the page.
    found: std::cell::RefCell<Option<(NodeId, web_sys::Node)>>,
}

impl Default for Ids {
    fn default() -> Self {
        Ids::new()
    }
}

impl Ids {
    pub fn new() -> Ids {
        Ids {
            map: js_sys::WeakMap::new(),
            next: 1,
            found: std::cell::RefCell::new(None),
        }
    }

    /// The node's id, if it was ever serialized.
    pub fn get(&self, node: &web_sys::Node) -> Option<NodeId> {
        let id = self.map.unchecked_ref::<IdMap>().get_number(node);
        // `undefined` (no id) arrives as NaN; the map holds only ids.
        (!id.is_nan()).then_some(NodeId(id as u32))
    }

    /// The element (or the document) of `document` that has `id`, if it is
    /// still in the page. Ids live in a `WeakMap` (node → id), so this
    /// searches; the last answer is remembered.
    pub fn find(&self, document: &web_sys::Document, id: NodeId) -> Option<web_sys::Node> {
        let cached = self.found.borrow().clone();
        if let Some((cached_id, node)) = cached {
            if cached_id == id && crate::dom::is_connected(&node) && self.get(&node) == Some(id) {
                return Some(node);
            }
        }
        let node = if self.get(document) == Some(id) {
            Some(document.clone().into())
        } else {
            let all = crate::dom::query_selector_all(&document, "*").ok()?;
            (0..all.length())
                .filter_map(|i| all.item(i))
                .find(|n| self.get(n) == Some(id))
        }?;
        *self.found.borrow_mut() = Some((id, node.clone()));
        Some(node)
    }

    /// An id for something the console shows that is no node of the page
    /// (the notice that a snapshot was cut): never any node's.
    pub fn fresh(&mut self) -> NodeId {
        let id = NodeId(self.next);
        self.next = self.next.saturating_add(1);
        id
    }

    /// The node's id, handing out a new one the first time.
    pub fn get_or_assign(&mut self, node: &web_sys::Node) -> NodeId {
        if let Some(id) = self.get(node) {
            return id;
        }
        let id = NodeId(self.next);
        // Four billion nodes in one page's lifetime would be a leak
        // elsewhere; saturating keeps this from ever panicking.
        self.next = self.next.saturating_add(1);
        self.map.set(node.as_ref(), &JsValue::from(id.0));
        id
    }
}
