//! Node ids: which DOM node the console knows by which [`NodeId`].
//!
//! Owns: the node → id map and the id counter. Ids are kept in a JS
//! `WeakMap`, so a node that leaves the page is garbage-collected as usual
//! and a node that comes back keeps its id; ids are never reused.
//! Does not own: deciding which nodes get ids (`serialize.rs`).

use protocol::NodeId;
use wasm_bindgen::JsValue;

pub struct Ids {
    map: js_sys::WeakMap,
    /// The next id to hand out; `0` is never used.
    next: u32,
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
        }
    }

    /// The node's id, if it was ever serialized.
    pub fn get(&self, node: &web_sys::Node) -> Option<NodeId> {
        self.map
            .get(node.as_ref())
            .as_f64()
            .map(|id| NodeId(id as u32))
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
