//! The DOM members the browser backend asks of the mirror's nodes, taken
//! from the prototypes (`Node`, `Element`, `Document`) instead of the node.
//! The mirror rebuilds the visitor's markup, so it holds whatever forms the
//! page had: a form's controls shadow its members by name (once an
//! `<input name="appendChild">` is in the mirrored form, `form.appendChild`
//! is that input and the form's later children were lost), and an
//! `<img name="createElement">` does the same to the mirror's document
//! (`HTMLFormElement` and `Document` are `[LegacyOverrideBuiltIns]`).
//!
//! The console's own prototypes serve the iframe's nodes: a DOM member
//! checks what the object is, not which window made it. `writes_dom.rs`
//! and `create_dom.rs` keep the same members in their own JS.
//!
//! Owns: those bindings, for `dom.rs`, `toplayer_dom.rs`, `selection_dom.rs`.

use wasm_bindgen::prelude::*;
use web_sys::{Document, Element, Node};

#[wasm_bindgen(inline_js = r#"
const d = (p, n) => Object.getOwnPropertyDescriptor(p, n);
const N = Node.prototype, E = Element.prototype, D = Document.prototype;
const firstChild = d(N, "firstChild").get, parentNode = d(N, "parentNode").get;
const childNodes = d(N, "childNodes").get;
const insertBefore = N.insertBefore, removeChild = N.removeChild;
const setAttribute = E.setAttribute, setAttributeNS = E.setAttributeNS;
const removeAttribute = E.removeAttribute, hasAttribute = E.hasAttribute;
const matches = E.matches;
const documentElement = d(D, "documentElement").get;
const createElement = D.createElement, createElementNS = D.createElementNS;
const createTextNode = D.createTextNode, createComment = D.createComment;
export function cb_first_child(n) { return firstChild.call(n); }
export function cb_parent_node(n) { return parentNode.call(n); }
export function cb_child_count(n) { return childNodes.call(n).length; }
export function cb_insert_before(p, c, b) { return insertBefore.call(p, c, b); }
export function cb_remove_child(p, c) { return removeChild.call(p, c); }
export function cb_set_attribute(e, n, v) { setAttribute.call(e, n, v); }
export function cb_set_attribute_ns(e, ns, n, v) { setAttributeNS.call(e, ns, n, v); }
export function cb_remove_attribute(e, n) { removeAttribute.call(e, n); }
export function cb_has_attribute(e, n) { return hasAttribute.call(e, n); }
export function cb_matches(e, s) { return matches.call(e, s); }
export function cb_document_element(doc) { return documentElement.call(doc); }
export function cb_create_element(doc, t) { return createElement.call(doc, t); }
export function cb_create_element_ns(doc, ns, t) { return createElementNS.call(doc, ns, t); }
export function cb_create_text_node(doc, t) { return createTextNode.call(doc, t); }
export function cb_create_comment(doc, t) { return createComment.call(doc, t); }
"#)]
extern "C" {
    #[wasm_bindgen(js_name = cb_first_child)]
    pub(super) fn first_child(n: &Node) -> Option<Node>;
    #[wasm_bindgen(js_name = cb_parent_node)]
    pub(super) fn parent_node(n: &Node) -> Option<Node>;
    #[wasm_bindgen(js_name = cb_child_count)]
    pub(super) fn child_count(n: &Node) -> u32;
    #[wasm_bindgen(catch, js_name = cb_insert_before)]
    pub(super) fn insert_before(p: &Node, c: &Node, before: Option<&Node>)
        -> Result<Node, JsValue>;
    #[wasm_bindgen(catch, js_name = cb_remove_child)]
    pub(super) fn remove_child(p: &Node, c: &Node) -> Result<Node, JsValue>;
    #[wasm_bindgen(catch, js_name = cb_set_attribute)]
    pub(super) fn set_attribute(e: &Element, name: &str, value: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = cb_set_attribute_ns)]
    pub(super) fn set_attribute_ns(
        e: &Element,
        ns: Option<&str>,
        name: &str,
        value: &str,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = cb_remove_attribute)]
    pub(super) fn remove_attribute(e: &Element, name: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = cb_has_attribute)]
    pub(super) fn has_attribute(e: &Element, name: &str) -> bool;
    #[wasm_bindgen(catch, js_name = cb_matches)]
    pub(super) fn matches(e: &Element, selector: &str) -> Result<bool, JsValue>;
    #[wasm_bindgen(js_name = cb_document_element)]
    pub(super) fn document_element(doc: &Document) -> Option<Element>;
    #[wasm_bindgen(catch, js_name = cb_create_element)]
    pub(super) fn create_element(doc: &Document, tag: &str) -> Result<Element, JsValue>;
    #[wasm_bindgen(catch, js_name = cb_create_element_ns)]
    pub(super) fn create_element_ns(
        doc: &Document,
        ns: Option<&str>,
        tag: &str,
    ) -> Result<Element, JsValue>;
    #[wasm_bindgen(js_name = cb_create_text_node)]
    pub(super) fn create_text_node(doc: &Document, text: &str) -> web_sys::Text;
    #[wasm_bindgen(js_name = cb_create_comment)]
    pub(super) fn create_comment(doc: &Document, text: &str) -> web_sys::Comment;
}
