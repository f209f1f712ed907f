//! The DOM members the visitor asks of the page's nodes, taken from the
//! prototypes (`Node`, `Element`, `Document`, `DocumentFragment`,
//! `EventTarget`) instead of the node: `HTMLFormElement` and `Document` are
//! `[LegacyOverrideBuiltIns]`, so a form's controls shadow its members by
//! name or id (`<input name="firstChild">` makes `form.firstChild` that
//! input; `name="matches"` makes `form.matches` not a function) and
//! `<img name="createElement">` does the same to the document. web-sys
//! looks members up on the object, so asking through it would misread
//! such a form or document, skip what follows it, or throw in the middle
//! of a walk.
//!
//! The members are kept once by `js/dom.js` (a getter or method per
//! member, called on the node): one call into JS each, as web-sys costs,
//! with no property lookup on the node and none of the descriptor lookup
//! per call that wasm-bindgen's `final` does.
//!
//! Owns: those bindings. Use them wherever the node may be the page's (or
//! a same-origin frame's) form or document, or any node a walk passes.
//! Members no form control or named element can shadow in practice (a
//! node's `nodeValue` on a text node, the members of the visitor's own UI
//! elements) may still be asked through web-sys.

use std::borrow::Cow;

use gloo_events::{EventListenerOptions, EventListenerPhase};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Attr, Document, DomRect, Element, NamedNodeMap, Node, NodeList, Window};

#[wasm_bindgen(module = "/js/dom.js")]
extern "C" {
    #[wasm_bindgen(js_name = cbDomNodeType)]
    fn js_node_type(n: &Node) -> u16;
    #[wasm_bindgen(js_name = cbDomNodeName)]
    fn js_node_name(n: &Node) -> String;
    #[wasm_bindgen(js_name = cbDomFirstChild)]
    fn js_first_child(n: &Node) -> Option<Node>;
    #[wasm_bindgen(js_name = cbDomNextSibling)]
    fn js_next_sibling(n: &Node) -> Option<Node>;
    #[wasm_bindgen(js_name = cbDomParentNode)]
    fn js_parent_node(n: &Node) -> Option<Node>;
    #[wasm_bindgen(js_name = cbDomParentElement)]
    fn js_parent_element(n: &Node) -> Option<Element>;
    #[wasm_bindgen(js_name = cbDomChildNodes)]
    fn js_child_nodes(n: &Node) -> NodeList;
    #[wasm_bindgen(js_name = cbDomOwnerDocument)]
    fn js_owner_document(n: &Node) -> Option<Document>;
    #[wasm_bindgen(js_name = cbDomIsConnected)]
    fn js_is_connected(n: &Node) -> bool;
    #[wasm_bindgen(js_name = cbDomTextContent)]
    fn js_text_content(n: &Node) -> Option<String>;
    #[wasm_bindgen(js_name = cbDomBaseURI)]
    fn js_base_uri(n: &Node) -> Option<String>;
    #[wasm_bindgen(js_name = cbDomGetRootNode)]
    fn js_get_root_node(n: &Node) -> Node;
    #[wasm_bindgen(js_name = cbDomContains)]
    fn js_contains(n: &Node, other: Option<&Node>) -> bool;
    #[wasm_bindgen(catch, js_name = cbDomAppendChild)]
    fn js_append_child(n: &Node, child: &Node) -> Result<Node, JsValue>;

    #[wasm_bindgen(js_name = cbDomLocalName)]
    fn js_local_name(e: &Element) -> String;
    #[wasm_bindgen(js_name = cbDomNamespaceURI)]
    fn js_namespace_uri(e: &Element) -> Option<String>;
    #[wasm_bindgen(js_name = cbDomAttributes)]
    fn js_attributes(e: &Element) -> NamedNodeMap;
    #[wasm_bindgen(js_name = cbDomShadowRoot)]
    fn js_shadow_root(e: &Element) -> Option<web_sys::ShadowRoot>;
    #[wasm_bindgen(js_name = cbDomFirstElementChild)]
    fn js_first_element_child(e: &Element) -> Option<Element>;
    #[wasm_bindgen(js_name = cbDomScrollLeft)]
    fn js_scroll_left(e: &Element) -> f64;
    #[wasm_bindgen(js_name = cbDomScrollTop)]
    fn js_scroll_top(e: &Element) -> f64;
    #[wasm_bindgen(catch, js_name = cbDomMatches)]
    fn js_matches(e: &Element, selector: &str) -> Result<bool, JsValue>;
    #[wasm_bindgen(catch, js_name = cbDomClosest)]
    fn js_closest(e: &Element, selector: &str) -> Result<Option<Element>, JsValue>;
    #[wasm_bindgen(js_name = cbDomGetAttribute)]
    fn js_get_attribute(e: &Element, name: &str) -> Option<String>;
    #[wasm_bindgen(js_name = cbDomGetAttributeNS)]
    fn js_get_attribute_ns(e: &Element, ns: Option<&str>, name: &str) -> Option<String>;
    #[wasm_bindgen(js_name = cbDomGetAttributeNode)]
    fn js_get_attribute_node(e: &Element, name: &str) -> Option<Attr>;
    #[wasm_bindgen(js_name = cbDomHasAttribute)]
    fn js_has_attribute(e: &Element, name: &str) -> bool;
    #[wasm_bindgen(catch, js_name = cbDomSetAttribute)]
    fn js_set_attribute(e: &Element, name: &str, value: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = cbDomRemoveAttribute)]
    fn js_remove_attribute(e: &Element, name: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = cbDomRect)]
    fn js_rect(e: &Element) -> DomRect;

    #[wasm_bindgen(catch, js_name = cbDomQuery)]
    fn js_query(n: &Node, selector: &str) -> Result<Option<Element>, JsValue>;
    #[wasm_bindgen(catch, js_name = cbDomQueryAll)]
    fn js_query_all(n: &Node, selector: &str) -> Result<NodeList, JsValue>;

    #[wasm_bindgen(js_name = cbDomDocumentElement)]
    fn js_document_element(d: &Document) -> Option<Element>;
    #[wasm_bindgen(js_name = cbDomScrollingElement)]
    fn js_scrolling_element(d: &Document) -> Option<Element>;
    #[wasm_bindgen(js_name = cbDomDefaultView)]
    fn js_default_view(d: &Document) -> Option<Window>;
    #[wasm_bindgen(js_name = cbDomCompatMode)]
    fn js_compat_mode(d: &Document) -> String;
    #[wasm_bindgen(js_name = cbDomURL)]
    fn js_url(d: &Document) -> String;
    #[wasm_bindgen(js_name = cbDomFullscreenElement)]
    fn js_fullscreen_element(d: &Document) -> Option<Element>;
    #[wasm_bindgen(catch, js_name = cbDomCreateElement)]
    fn js_create_element(d: &Document, tag: &str) -> Result<Element, JsValue>;
    #[wasm_bindgen(js_name = cbDomCreateTextNode)]
    fn js_create_text_node(d: &Document, text: &str) -> web_sys::Text;
    #[wasm_bindgen(js_name = cbDomCreateFragment)]
    fn js_create_fragment(d: &Document) -> web_sys::DocumentFragment;
    #[wasm_bindgen(catch, js_name = cbDomGetSelection)]
    fn js_get_selection(d: &Document) -> Result<Option<web_sys::Selection>, JsValue>;

    #[wasm_bindgen(js_name = cbDomAddListener)]
    fn js_add_listener(t: &web_sys::EventTarget, ty: &str, f: &js_sys::Function, options: &JsValue);
    #[wasm_bindgen(js_name = cbDomRemoveListener)]
    fn js_remove_listener(
        t: &web_sys::EventTarget,
        ty: &str,
        f: &js_sys::Function,
        options: &JsValue,
    );
}

// Node members: any node, including a form or a document.

/// `n.nodeType`.
pub fn node_type(n: &impl AsRef<Node>) -> u16 {
    js_node_type(n.as_ref())
}
/// `n.nodeName`.
pub fn node_name(n: &impl AsRef<Node>) -> String {
    js_node_name(n.as_ref())
}
/// `n.firstChild`.
pub fn first_child(n: &impl AsRef<Node>) -> Option<Node> {
    js_first_child(n.as_ref())
}
/// `n.nextSibling`.
pub fn next_sibling(n: &impl AsRef<Node>) -> Option<Node> {
    js_next_sibling(n.as_ref())
}
/// `n.parentNode`.
pub fn parent_node(n: &impl AsRef<Node>) -> Option<Node> {
    js_parent_node(n.as_ref())
}
/// `n.parentElement`.
pub fn parent_element(n: &impl AsRef<Node>) -> Option<Element> {
    js_parent_element(n.as_ref())
}
/// `n.childNodes`.
pub fn child_nodes(n: &impl AsRef<Node>) -> NodeList {
    js_child_nodes(n.as_ref())
}
/// `n.ownerDocument`.
pub fn owner_document(n: &impl AsRef<Node>) -> Option<Document> {
    js_owner_document(n.as_ref())
}
/// `n.isConnected`.
pub fn is_connected(n: &impl AsRef<Node>) -> bool {
    js_is_connected(n.as_ref())
}
/// `n.textContent`.
pub fn text_content(n: &impl AsRef<Node>) -> Option<String> {
    js_text_content(n.as_ref())
}
/// `n.baseURI`.
pub fn base_uri(n: &impl AsRef<Node>) -> Option<String> {
    js_base_uri(n.as_ref())
}
/// `n.getRootNode()`.
pub fn get_root_node(n: &impl AsRef<Node>) -> Node {
    js_get_root_node(n.as_ref())
}
/// `n.contains(other)`.
pub fn contains(n: &impl AsRef<Node>, other: Option<&Node>) -> bool {
    js_contains(n.as_ref(), other)
}
/// `n.appendChild(child)`.
pub fn append_child(n: &impl AsRef<Node>, child: &Node) -> Result<Node, JsValue> {
    js_append_child(n.as_ref(), child)
}
/// `n.querySelector(selector)` on an element, a document or a fragment;
/// `Err` for a selector the browser refuses.
pub fn query_selector(n: &impl AsRef<Node>, selector: &str) -> Result<Option<Element>, JsValue> {
    js_query(n.as_ref(), selector)
}
/// `n.querySelectorAll(selector)` on an element, a document or a
/// fragment; `Err` for a selector the browser refuses.
pub fn query_selector_all(n: &impl AsRef<Node>, selector: &str) -> Result<NodeList, JsValue> {
    js_query_all(n.as_ref(), selector)
}

// Element members.

/// `el.localName`.
pub fn local_name(el: &Element) -> String {
    js_local_name(el)
}
/// `el.namespaceURI`.
pub fn namespace_uri(el: &Element) -> Option<String> {
    js_namespace_uri(el)
}
/// `el.attributes`.
pub fn attributes(el: &Element) -> NamedNodeMap {
    js_attributes(el)
}
/// `el.shadowRoot`.
pub fn shadow_root(el: &Element) -> Option<web_sys::ShadowRoot> {
    js_shadow_root(el)
}
/// `el.firstElementChild`.
pub fn first_element_child(el: &Element) -> Option<Element> {
    js_first_element_child(el)
}
/// `el.scrollLeft`, as web-sys gives it (whole pixels).
pub fn scroll_left(el: &Element) -> i32 {
    // Saturating: the getter gives a finite number of pixels.
    js_scroll_left(el) as i32
}
/// `el.scrollTop`, as web-sys gives it (whole pixels).
pub fn scroll_top(el: &Element) -> i32 {
    js_scroll_top(el) as i32
}
/// `el.matches(selector)`; `Err` for a selector the browser refuses.
pub fn matches(el: &Element, selector: &str) -> Result<bool, JsValue> {
    js_matches(el, selector)
}
/// `el.closest(selector)`; `Err` for a selector the browser refuses.
pub fn closest(el: &Element, selector: &str) -> Result<Option<Element>, JsValue> {
    js_closest(el, selector)
}
/// `el.getAttribute(name)`.
pub fn get_attribute(el: &Element, name: &str) -> Option<String> {
    js_get_attribute(el, name)
}
/// `el.getAttributeNS(ns, name)`.
pub fn get_attribute_ns(el: &Element, ns: Option<&str>, name: &str) -> Option<String> {
    js_get_attribute_ns(el, ns, name)
}
/// `el.getAttributeNode(name)`.
pub fn get_attribute_node(el: &Element, name: &str) -> Option<Attr> {
    js_get_attribute_node(el, name)
}
/// `el.hasAttribute(name)`.
pub fn has_attribute(el: &Element, name: &str) -> bool {
    js_has_attribute(el, name)
}
/// `el.setAttribute(name, value)`; `Err` for a name the browser refuses.
pub fn set_attribute(el: &Element, name: &str, value: &str) -> Result<(), JsValue> {
    js_set_attribute(el, name, value)
}
/// `el.removeAttribute(name)`; `Err` for a name the browser refuses.
pub fn remove_attribute(el: &Element, name: &str) -> Result<(), JsValue> {
    js_remove_attribute(el, name)
}
/// `el.getBoundingClientRect()`.
pub fn get_bounding_client_rect(el: &Element) -> DomRect {
    js_rect(el)
}

// Document members: `<img name="body">` shadows `document.body`.

/// `d.documentElement`.
pub fn document_element(d: &Document) -> Option<Element> {
    js_document_element(d)
}
/// `d.scrollingElement`.
pub fn scrolling_element(d: &Document) -> Option<Element> {
    js_scrolling_element(d)
}
/// `d.defaultView`.
pub fn default_view(d: &Document) -> Option<Window> {
    js_default_view(d)
}
/// `d.compatMode`.
pub fn compat_mode(d: &Document) -> String {
    js_compat_mode(d)
}
/// `d.URL`.
pub fn url(d: &Document) -> String {
    js_url(d)
}
/// `d.fullscreenElement` (`None` where the browser has no such member).
pub fn fullscreen_element(d: &Document) -> Option<Element> {
    js_fullscreen_element(d)
}
/// `d.createElement(tag)`; `Err` for a name the browser refuses.
pub fn create_element(d: &Document, tag: &str) -> Result<Element, JsValue> {
    js_create_element(d, tag)
}
/// `d.createTextNode(text)`.
pub fn create_text_node(d: &Document, text: &str) -> web_sys::Text {
    js_create_text_node(d, text)
}
/// `d.createDocumentFragment()`.
pub fn create_document_fragment(d: &Document) -> web_sys::DocumentFragment {
    js_create_fragment(d)
}
/// `d.getSelection()`.
pub fn get_selection(d: &Document) -> Result<Option<web_sys::Selection>, JsValue> {
    js_get_selection(d)
}

/// A listener on an event target, added and removed through
/// `EventTarget.prototype` (the document's `addEventListener` can be an
/// `<img name="addEventListener">`); otherwise gloo's `EventListener`, whose
/// constructors it takes: removed when dropped.
#[must_use = "the listener is removed when this is dropped"]
pub struct Listener {
    target: web_sys::EventTarget,
    kind: Cow<'static, str>,
    capture: bool,
    callback: Closure<dyn FnMut(web_sys::Event)>,
}

impl Listener {
    /// Listens for `kind` on `target`, bubbling, passive.
    pub fn new<S, F>(target: &web_sys::EventTarget, kind: S, f: F) -> Listener
    where
        S: Into<Cow<'static, str>>,
        F: FnMut(&web_sys::Event) + 'static,
    {
        Listener::new_with_options(target, kind, EventListenerOptions::default(), f)
    }

    /// Listens for `kind` on `target` in the phase and passiveness `options` say.
    pub fn new_with_options<S, F>(
        target: &web_sys::EventTarget,
        kind: S,
        options: EventListenerOptions,
        mut f: F,
    ) -> Listener
    where
        S: Into<Cow<'static, str>>,
        F: FnMut(&web_sys::Event) + 'static,
    {
        let kind = kind.into();
        let capture = matches!(options.phase, EventListenerPhase::Capture);
        let callback = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| f(&e));
        js_add_listener(
            target,
            &kind,
            callback.as_ref().unchecked_ref(),
            &listener_options(capture, Some(options.passive)),
        );
        Listener {
            target: target.clone(),
            kind,
            capture,
            callback,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        js_remove_listener(
            &self.target,
            &self.kind,
            self.callback.as_ref().unchecked_ref(),
            &listener_options(self.capture, None),
        );
    }
}

/// `{ capture, passive }` for `addEventListener` (removal needs `capture` only).
fn listener_options(capture: bool, passive: Option<bool>) -> JsValue {
    let options = js_sys::Object::new();
    // Defining a property of a fresh plain object cannot fail.
    let _ = js_sys::Reflect::set(&options, &"capture".into(), &capture.into());
    if let Some(passive) = passive {
        let _ = js_sys::Reflect::set(&options, &"passive".into(), &passive.into());
    }
    options.into()
}
