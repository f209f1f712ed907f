//! The browser backend's node pool: before the mirror builds a subtree,
//! every element, text and comment in it is created in one call into the
//! iframe's document, and `WebDom::create_*` hands them out. Owns: walking
//! the visitor's subtree in the order the mirror builds it, and the JS
//! helper that creates the nodes. Does not own: any decision about the
//! nodes (they leave the pool bare: no attribute, no child).
//!
//! A pooled node is handed out only for the same kind, tag and namespace
//! (or the same text) as asked for, so a pool that is out of step with the
//! build (a `<style>` text the mirror rewrites, a refused tag) costs a
//! direct creation, never a wrong node.

use std::collections::VecDeque;

use js_sys::Array;
use protocol::{Node, Ns};
use wasm_bindgen::prelude::*;
use web_sys::Document;

use crate::sanitize::ElementKind;

// Creates nodes from `kinds` (0 element, 1 element in the namespace that
// follows, 2 text, 3 comment) with their strings back to back in `text`
// (lengths in UTF-16 units in `lens`). A name the browser refuses gives
// `null` in its place.
#[wasm_bindgen(inline_js = r#"
// Through Document.prototype: an <img name="createElement"> in the mirror
// shadows the document's own (see proto_dom.rs).
const D = Document.prototype;
const createElement = D.createElement, createElementNS = D.createElementNS;
const createTextNode = D.createTextNode, createComment = D.createComment;
export function create_nodes(doc, kinds, lens, text) {
  const out = new Array(kinds.length);
  let at = 0, l = 0;
  const take = () => { const n = lens[l++]; const s = text.substring(at, at + n); at += n; return s; };
  for (let i = 0; i < kinds.length; i++) {
    const kind = kinds[i];
    if (kind === 0) {
      const tag = take();
      try { out[i] = createElement.call(doc, tag); } catch (e) { out[i] = null; }
    } else if (kind === 1) {
      const ns = take(), tag = take();
      try { out[i] = createElementNS.call(doc, ns, tag); } catch (e) { out[i] = null; }
    } else if (kind === 2) {
      out[i] = createTextNode.call(doc, take());
    } else {
      out[i] = createComment.call(doc, take());
    }
  }
  return out;
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    fn create_nodes(
        doc: &Document,
        kinds: &[u8],
        lens: &[u32],
        text: &str,
    ) -> Result<Array, JsValue>;
}

/// What a pooled node was made as.
#[derive(PartialEq, Eq)]
enum Made {
    Element(String, Ns),
    Text(String),
    Comment(String),
}

/// Nodes made ahead, in build order.
#[derive(Default)]
pub(super) struct Pool {
    made: VecDeque<(Made, usize)>,
    nodes: Option<Array>,
}

impl Pool {
    /// Creates every node of `root`'s subtree the mirror will build, in
    /// the order it builds them (children of script-like elements and
    /// frames' documents are not built with it; shadow roots' are).
    pub fn fill(&mut self, doc: &Document, root: &Node) {
        self.clear();
        let (mut kinds, mut lens, mut text) = (Vec::new(), Vec::new(), String::new());
        let mut string = |s: &str, lens: &mut Vec<u32>| {
            lens.push(u32::try_from(s.encode_utf16().count()).unwrap_or(u32::MAX));
            text.push_str(s);
        };
        let mut made = VecDeque::new();
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            match node {
                Node::Element {
                    tag, ns, children, ..
                } => {
                    match ns {
                        Ns::Html => kinds.push(0),
                        other => {
                            kinds.push(1);
                            string(other.uri(), &mut lens);
                        }
                    }
                    string(tag, &mut lens);
                    made.push_back((Made::Element(tag.clone(), ns.clone()), made.len()));
                    if ElementKind::of(tag, ns).keeps_children() {
                        stack.extend(children.iter().rev());
                    }
                }
                Node::ShadowRoot { children, .. } => stack.extend(children.iter().rev()),
                Node::Text { text: t, .. } => {
                    kinds.push(2);
                    string(t, &mut lens);
                    made.push_back((Made::Text(t.clone()), made.len()));
                }
                Node::Comment { text: t, .. } => {
                    kinds.push(3);
                    string(t, &mut lens);
                    made.push_back((Made::Comment(t.clone()), made.len()));
                }
                Node::Document { .. } | Node::Doctype { .. } => {}
            }
        }
        // One node is not worth the batch.
        if made.len() < 2 {
            return;
        }
        match create_nodes(doc, &kinds, &lens, &text) {
            Ok(nodes) => {
                self.made = made;
                self.nodes = Some(nodes);
            }
            Err(e) => crate::log::debug(&format!(
                "nodes not made ahead: {}",
                super::dom::js_error(e)
            )),
        }
    }

    pub fn clear(&mut self) {
        self.made.clear();
        self.nodes = None;
    }

    pub fn element(&mut self, tag: &str, ns: &Ns) -> Option<web_sys::Node> {
        self.take(|made| matches!(made, Made::Element(t, n) if t == tag && n == ns))
    }

    pub fn text(&mut self, text: &str) -> Option<web_sys::Node> {
        if matches!(self.made.front(), Some((Made::Text(t), _)) if t != text) {
            // A `<style>`'s text the mirror rewrote: its slot goes unused.
            self.made.pop_front();
            return None;
        }
        self.take(|made| matches!(made, Made::Text(t) if t == text))
    }

    pub fn comment(&mut self, text: &str) -> Option<web_sys::Node> {
        self.take(|made| matches!(made, Made::Comment(t) if t == text))
    }

    /// The next pooled node if it is what is asked for. A mismatch leaves
    /// the pool as it is: the build may only have skipped a node.
    fn take(&mut self, is: impl Fn(&Made) -> bool) -> Option<web_sys::Node> {
        let (made, at) = self.made.front()?;
        if !is(made) {
            return None;
        }
        let at = *at;
        self.made.pop_front();
        let node = self.nodes.as_ref()?.get(u32::try_from(at).ok()?);
        if self.made.is_empty() {
            self.nodes = None;
        }
        // `null`: the browser refused the name; the caller asks directly
        // and gets the error.
        node.is_object().then(|| node.unchecked_into())
    }
}
