//! Shadow DOM on the visitor's side: which shadow roots are captured, how
//! masking sees through them, and hearing about roots attached after load.
//!
//! Owns: finding an element's open shadow root, "composed" tree questions
//! (the element that contains a node across shadow-root and frame
//! boundaries, `closest` across them), and [`ShadowHook`], the wrapper of
//! `Element.prototype.attachShadow` that reports new open roots. Does not
//! own: serializing a root's children (`serialize.rs`), observing roots and
//! frames (`frames.rs`).
//!
//! Closed shadow roots stay invisible: the page chose to hide them from
//! every script, ours included, and `attachShadow` hands them only to the
//! caller. The visitor's own `<cobrowse-ui>` root is never captured.

use std::rc::Rc;

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{intern, JsCast, JsValue};
use web_sys::Element;

use crate::mask;

/// HTML elements that may host a shadow root, besides custom elements
/// (a name with a dash). Checked in Rust first so that the common element
/// costs no extra call into the browser during a snapshot.
const HOSTS: &[&str] = &[
    "div",
    "span",
    "section",
    "article",
    "aside",
    "main",
    "nav",
    "header",
    "footer",
    "p",
    "blockquote",
    "body",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
];

/// Whether an element of this (lower-case HTML) tag can have a shadow root.
pub fn can_host(tag: &str) -> bool {
    tag.contains('-') || HOSTS.contains(&tag)
}

/// The element's open shadow root, if it has one and is not the visitor UI.
pub(crate) fn open_root(el: &Element, tag: &str) -> Option<web_sys::ShadowRoot> {
    if !can_host(tag) || tag.eq_ignore_ascii_case(mask::UI_TAG) {
        return None;
    }
    crate::dom::shadow_root(el)
}

/// `node` is a shadow root: its host.
pub(crate) fn host_of(node: &web_sys::Node) -> Option<Element> {
    if crate::dom::node_type(&node) != web_sys::Node::DOCUMENT_FRAGMENT_NODE {
        return None;
    }
    Reflect::get(node, &JsValue::from_str(intern("host")))
        .ok()
        .filter(JsValue::is_object)
        .map(JsCast::unchecked_into)
}

/// The element a root (a shadow root, or a same-origin frame's document)
/// hangs from in the composed tree: its host or its `<iframe>`. The
/// visitor's own document has none, even when the page sits in a frame of
/// its own (that outer page is not captured).
pub(crate) fn root_owner(root: &web_sys::Node) -> Option<Element> {
    match crate::dom::node_type(&root) {
        web_sys::Node::DOCUMENT_FRAGMENT_NODE => host_of(root),
        web_sys::Node::DOCUMENT_NODE => {
            let top = web_sys::window().and_then(|w| w.document());
            if top.as_ref().map(AsRef::<web_sys::Node>::as_ref) == Some(root) {
                return None;
            }
            crate::frames::frame_of(root)
        }
        _ => None,
    }
}

/// The node's parent in the composed tree: its parent node, or for a root
/// the element it hangs from.
pub(crate) fn composed_parent(node: &web_sys::Node) -> Option<web_sys::Node> {
    match crate::dom::parent_node(&node) {
        Some(p) => Some(p),
        None => root_owner(node).map(Into::into),
    }
}

/// The element that contains `node` as far as masking goes: its parent
/// element, or the host / `<iframe>` above the root it is in (or it is).
pub(crate) fn containing_element(node: &web_sys::Node) -> Option<Element> {
    if let Some(p) = crate::dom::parent_element(&node) {
        return Some(p);
    }
    match crate::dom::parent_node(&node) {
        Some(root) => root_owner(&root),
        None => root_owner(node),
    }
}

/// For each tree from `el`'s outward (its shadow root's, then its host's…),
/// the nearest matches of `a` and `b` within that tree; the first tree that
/// has either decides. `(found a, found b, b nearer than a)`.
pub(crate) fn nearest_pair(el: &Element, a: &str, b: &str) -> (bool, bool, bool) {
    let mut cur = el.clone();
    // Shadow roots and frames nest only as deep as the page does.
    for _ in 0..64 {
        let ma = crate::dom::closest(&cur, a).ok().flatten();
        let mb = crate::dom::closest(&cur, b).ok().flatten();
        if ma.is_some() || mb.is_some() {
            let b_nearer = match (&ma, &mb) {
                (Some(m), Some(u)) => m != u && crate::dom::contains(m, Some(u.as_ref())),
                _ => false,
            };
            return (ma.is_some(), mb.is_some(), b_nearer);
        }
        let root = crate::dom::get_root_node(&cur);
        match root_owner(&root) {
            Some(owner) => cur = owner,
            None => break,
        }
    }
    (false, false, false)
}

/// `closest(selector)` that continues past shadow roots and frames.
pub(crate) fn composed_closest(el: &Element, selector: &str) -> Option<Element> {
    let mut cur = el.clone();
    for _ in 0..64 {
        if let Ok(Some(found)) = crate::dom::closest(&cur, selector) {
            return Some(found);
        }
        cur = root_owner(&crate::dom::get_root_node(&cur))?;
    }
    None
}

/// Reports every open shadow root attached through one realm's
/// `Element.prototype.attachShadow` while it lives.
///
/// The method is replaced by a `Proxy` of the original, so the page still
/// sees a native function (`toString`, `length`, `name` unchanged). On drop
/// the original goes back if nobody wrapped it after us; if someone did,
/// the proxy stays in their chain but loses its trap and forwards straight
/// to the original, so no call ever reaches a dropped closure.
#[must_use]
pub(crate) struct ShadowHook {
    proto: Object,
    original: JsValue,
    proxy: JsValue,
    handler: Object,
    _trap: Closure<dyn FnMut(JsValue, JsValue, Array) -> Result<JsValue, JsValue>>,
}

impl ShadowHook {
    /// Wraps `attachShadow` of the realm `window` belongs to; `on_open`
    /// gets each new open root (after the page's call returned it).
    pub(crate) fn install(
        window: &JsValue,
        on_open: Rc<dyn Fn(web_sys::ShadowRoot)>,
    ) -> Option<ShadowHook> {
        let element = Reflect::get(window, &JsValue::from_str("Element")).ok()?;
        let proto: Object = Reflect::get(&element, &JsValue::from_str("prototype"))
            .ok()
            .filter(JsValue::is_object)?
            .unchecked_into();
        let key = JsValue::from_str("attachShadow");
        let original = Reflect::get(&proto, &key).ok()?;
        let target: Function = original.clone().dyn_into().ok()?;
        let trap = Closure::<dyn FnMut(JsValue, JsValue, Array) -> Result<JsValue, JsValue>>::new(
            move |_target: JsValue, this: JsValue, args: Array| {
                let root = Reflect::apply(&target, &this, &args)?;
                let open = Reflect::get(&root, &JsValue::from_str(intern("mode")))
                    .ok()
                    .and_then(|m| m.as_string())
                    .is_some_and(|m| m == "open");
                let is_ui = Reflect::get(&this, &JsValue::from_str(intern("localName")))
                    .ok()
                    .and_then(|n| n.as_string())
                    .is_some_and(|n| n.eq_ignore_ascii_case(mask::UI_TAG));
                if open && !is_ui && root.is_object() {
                    on_open(root.clone().unchecked_into());
                }
                Ok(root)
            },
        );
        let handler = Object::new();
        Reflect::set(&handler, &JsValue::from_str("apply"), trap.as_ref()).ok()?;
        let proxy: JsValue = js_sys::Proxy::new(&original, &handler).into();
        Reflect::set(&proto, &key, &proxy).ok()?;
        Some(ShadowHook {
            proto,
            original,
            proxy,
            handler,
            _trap: trap,
        })
    }
}

impl Drop for ShadowHook {
    fn drop(&mut self) {
        let _ = Reflect::delete_property(&self.handler, &JsValue::from_str("apply"));
        let key = JsValue::from_str("attachShadow");
        let current = Reflect::get(&self.proto, &key).unwrap_or(JsValue::UNDEFINED);
        if current == self.proxy {
            let _ = Reflect::set(&self.proto, &key, &self.original);
        }
    }
}
