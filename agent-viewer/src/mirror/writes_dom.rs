//! The browser backend's write queue: attribute writes, appends of freshly
//! built children and id tags, held in wasm memory and carried into the
//! iframe's document in one call. Owns: the queue's encoding and the one JS
//! helper that replays it. Does not own: what is written (the mirror and
//! `sanitize` decide) nor when it must be flushed (`dom.rs`: before every
//! call that reads or places nodes, and at the end of every applied event).
//!
//! Why: a snapshot of ~44k nodes made ~8 calls from wasm into the browser
//! per element (each with its own string decoding); building a large page
//! took seconds. Creating nodes stays a call each (the mirror keeps every
//! node), everything else about a node rides in the batch.

use js_sys::WeakMap;
use wasm_bindgen::prelude::*;
use web_sys::Node;

// Replays a queue. `ops` is a flat list of codes and operands, `nodes` the
// nodes the ops name in order, `text` every string back to back (lengths in
// UTF-16 units, as JavaScript slices). Returns how many writes the browser
// refused (an invalid attribute name), so the caller can say so.
#[wasm_bindgen(inline_js = r#"
// Through the prototypes: a mirrored form's controls shadow its members by
// name (an <input name="appendChild"> in it makes form.appendChild that
// input), see proto_dom.rs.
const setAttribute = Element.prototype.setAttribute;
const setAttributeNS = Element.prototype.setAttributeNS;
const appendChild = Node.prototype.appendChild;
export function replay_writes(ops, nodes, text, ids) {
  let n = 0, at = 0, refused = 0;
  const take = (len) => { const s = text.substring(at, at + len); at += len; return s; };
  for (let i = 0; i < ops.length; ) {
    const op = ops[i++];
    if (op === 0) {
      const el = nodes[n++], name = take(ops[i++]), value = take(ops[i++]);
      try { setAttribute.call(el, name, value); } catch (e) { refused++; }
    } else if (op === 1) {
      const el = nodes[n++], ns = take(ops[i++]), name = take(ops[i++]), value = take(ops[i++]);
      try { setAttributeNS.call(el, ns, name, value); } catch (e) { refused++; }
    } else if (op === 2) {
      const parent = nodes[n++], child = nodes[n++];
      try { appendChild.call(parent, child); } catch (e) { refused++; }
    } else if (op === 3) {
      ids.set(nodes[n++], ops[i++]);
    } else {
      throw new Error("unknown write " + op);
    }
  }
  return refused;
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    fn replay_writes(
        ops: &[u32],
        nodes: Vec<JsValue>,
        text: &str,
        ids: &WeakMap,
    ) -> Result<u32, JsValue>;
}

const SET_ATTRIBUTE: u32 = 0;
const SET_ATTRIBUTE_NS: u32 = 1;
const APPEND: u32 = 2;
const TAG: u32 = 3;

/// Writes waiting for the next flush, in the order they were asked for.
#[derive(Default)]
pub(super) struct Writes {
    ops: Vec<u32>,
    nodes: Vec<JsValue>,
    text: String,
}

impl Writes {
    fn string(&mut self, s: &str) {
        // Lengths in UTF-16 units: JavaScript's `substring` counts those.
        let units = s.encode_utf16().count();
        self.ops.push(u32::try_from(units).unwrap_or(u32::MAX));
        self.text.push_str(s);
    }

    pub fn set_attribute(&mut self, element: &Node, ns: Option<&str>, name: &str, value: &str) {
        self.nodes.push(element.into());
        match ns {
            Some(ns) => {
                self.ops.push(SET_ATTRIBUTE_NS);
                self.string(ns);
            }
            None => self.ops.push(SET_ATTRIBUTE),
        }
        self.string(name);
        self.string(value);
    }

    pub fn append(&mut self, parent: &Node, child: &Node) {
        self.ops.push(APPEND);
        self.nodes.push(parent.into());
        self.nodes.push(child.into());
    }

    pub fn tag(&mut self, node: &Node, id: u32) {
        self.ops.push(TAG);
        self.ops.push(id);
        self.nodes.push(node.into());
    }

    /// Carries every waiting write into the document and empties the queue.
    pub fn flush(&mut self, ids: &WeakMap) {
        if self.ops.is_empty() {
            return;
        }
        let ops = std::mem::take(&mut self.ops);
        let nodes = std::mem::take(&mut self.nodes);
        let text = std::mem::take(&mut self.text);
        match replay_writes(&ops, nodes, &text, ids) {
            Ok(0) => {}
            Ok(refused) => crate::log::warn(&format!(
                "{refused} attribute(s) or children skipped: the browser refused them"
            )),
            Err(e) => crate::log::warn(&format!(
                "part of the mirror's writes were not applied: {}",
                super::dom::js_error(e)
            )),
        }
    }
}
