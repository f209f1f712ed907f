//! Reading DOM nodes into protocol nodes: tags, namespaces, attributes (URLs
//! made absolute, secrets masked), form state, text, and ids.
//!
//! Owns: [`Capture`], the state every serialization needs (ids, the mask
//! selector, which inputs were ever passwords), and the rules for what of a
//! node may leave the page. Does not own: the decisions themselves
//! (`mask.rs`), the order of mutations (`plan.rs`).
//!
//! A password's value is never read into Rust: its length is read in JS
//! (`JsString::length`) and only that number crosses over.

use protocol::{Attr, FormState, Node, NodeId, Ns, ScrollPos};
use wasm_bindgen::{intern, JsCast, JsValue};
use web_sys::Element;

use crate::error::warn;
use crate::ids::Ids;
use crate::mask::{self, Control, UrlAttr};

/// Deeper subtrees are cut: the console's decoder and both sides' stacks
/// have limits, and no real page nests this deep.
const MAX_DEPTH: u32 = 400;

/// What every serialization of this page shares.
pub struct Capture {
    pub ids: Ids,
    mask_selector: String,
    /// Inputs that were `type=password` when we looked: a "show password"
    /// toggle must not unmask them.
    was_password: js_sys::WeakSet,
}

/// One walk's settings.
pub(crate) struct Walk<'a> {
    base: &'a str,
    /// Collects scrolled elements during a snapshot.
    scrolls: Option<&'a mut Vec<ScrollPos>>,
    /// The element whose scroll is the window's (not reported twice).
    scrolling_element: Option<Element>,
    cut: bool,
}

impl<'a> Walk<'a> {
    pub(crate) fn new(base: &'a str) -> Self {
        Walk {
            base,
            scrolls: None,
            scrolling_element: None,
            cut: false,
        }
    }

    pub(crate) fn with_scrolls(
        base: &'a str,
        scrolls: &'a mut Vec<ScrollPos>,
        scrolling_element: Option<Element>,
    ) -> Self {
        Walk {
            base,
            scrolls: Some(scrolls),
            scrolling_element,
            cut: false,
        }
    }
}

impl Capture {
    /// `mask_selector` matches every element whose text and values never
    /// leave the page (see [`crate::options::Options::mask_selector`]).
    pub fn new(mask_selector: String) -> Capture {
        Capture {
            ids: Ids::new(),
            mask_selector,
            was_password: js_sys::WeakSet::new(),
        }
    }

    /// Whether a mask rule covers this element (itself or an ancestor).
    pub fn is_masked(&self, el: &Element) -> bool {
        matches!(el.closest(&self.mask_selector), Ok(Some(_)))
    }

    /// Whether a mask rule covers the node's parent element.
    pub fn is_parent_masked(&self, node: &web_sys::Node) -> bool {
        node.parent_element().is_some_and(|p| self.is_masked(&p))
    }

    /// Serializes `node` and its subtree, assigning ids. `masked`: an
    /// ancestor is masked. `None` for nodes never mirrored (the visitor UI,
    /// processing instructions).
    pub(crate) fn serialize(
        &mut self,
        node: &web_sys::Node,
        walk: &mut Walk<'_>,
        masked: bool,
    ) -> Option<Node> {
        self.walk(node, walk, masked, 0)
    }

    fn walk(
        &mut self,
        node: &web_sys::Node,
        walk: &mut Walk<'_>,
        masked: bool,
        depth: u32,
    ) -> Option<Node> {
        match node.node_type() {
            web_sys::Node::ELEMENT_NODE => {
                let el = node.unchecked_ref::<Element>();
                self.element(el, walk, masked, depth)
            }
            web_sys::Node::TEXT_NODE | web_sys::Node::CDATA_SECTION_NODE => {
                let id = self.ids.get_or_assign(node);
                Some(Node::Text {
                    id,
                    text: text_of(node, masked),
                })
            }
            web_sys::Node::COMMENT_NODE => {
                let id = self.ids.get_or_assign(node);
                Some(Node::Comment {
                    id,
                    text: text_of(node, masked),
                })
            }
            web_sys::Node::DOCUMENT_NODE => {
                let id = self.ids.get_or_assign(node);
                let doc = node.unchecked_ref::<web_sys::Document>();
                let quirks = doc.compat_mode() == "BackCompat";
                let children = self.children(node.first_child(), walk, masked, depth);
                Some(Node::Document {
                    id,
                    quirks,
                    children,
                })
            }
            web_sys::Node::DOCUMENT_TYPE_NODE => {
                let id = self.ids.get_or_assign(node);
                let dt = node.unchecked_ref::<web_sys::DocumentType>();
                Some(Node::Doctype {
                    id,
                    name: dt.name(),
                    public_id: dt.public_id(),
                    system_id: dt.system_id(),
                })
            }
            _ => None,
        }
    }

    fn children(
        &mut self,
        first: Option<web_sys::Node>,
        walk: &mut Walk<'_>,
        masked: bool,
        depth: u32,
    ) -> Vec<Node> {
        if depth >= MAX_DEPTH {
            if first.is_some() && !walk.cut {
                walk.cut = true;
                warn("cobrowse: the page nests too deeply; the innermost nodes are not shown");
            }
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut child = first;
        while let Some(c) = child {
            if let Some(n) = self.walk(&c, walk, masked, depth + 1) {
                out.push(n);
            }
            child = c.next_sibling();
        }
        out
    }

    fn element(
        &mut self,
        el: &Element,
        walk: &mut Walk<'_>,
        masked: bool,
        depth: u32,
    ) -> Option<Node> {
        let local = el.local_name();
        if local.eq_ignore_ascii_case(mask::UI_TAG) {
            return None;
        }
        let ns = Ns::from_uri(el.namespace_uri().as_deref());
        let tag = if ns == Ns::Html { lower(local) } else { local };
        let id = self.ids.get_or_assign(el);
        let masked = masked || matches!(el.matches(&self.mask_selector), Ok(true));
        let control = if ns == Ns::Html {
            self.control(el, &tag, masked)
        } else {
            Control::None
        };
        let attrs = self.attrs(el, &tag, control, walk.base);
        let state = form_state(el, control);

        if let Some(scrolls) = walk.scrolls.as_deref_mut() {
            let (x, y) = (el.scroll_left(), el.scroll_top());
            if (x != 0 || y != 0) && walk.scrolling_element.as_ref() != Some(el) {
                scrolls.push(ScrollPos {
                    target: id,
                    x: f64::from(x),
                    y: f64::from(y),
                });
            }
        }

        let children = if tag == "script" {
            // A script's source never leaves the page.
            Vec::new()
        } else if ns == Ns::Html && tag == "template" {
            let content = el
                .dyn_ref::<web_sys::HtmlTemplateElement>()
                .and_then(|t| t.content().first_child());
            self.children(content, walk, masked, depth)
        } else {
            self.children(el.first_child(), walk, masked, depth)
        };
        Some(Node::Element {
            id,
            tag,
            ns,
            attrs,
            state,
            children,
        })
    }

    /// What to read from an HTML element's live state. Remembers password
    /// inputs, so they stay masked whatever their `type` becomes.
    pub(crate) fn control(&self, el: &Element, tag: &str, masked: bool) -> Control {
        if tag != "input" {
            return mask::control_kind(tag, "", false, masked);
        }
        let ty = el.get_attribute(intern("type")).unwrap_or_default();
        let mut password = self.was_password.has(el.as_ref());
        if !password && mask::is_password_type(&ty) {
            self.was_password.add(el.as_ref());
            password = true;
        }
        mask::control_kind(tag, &ty, password, masked)
    }

    fn attrs(&self, el: &Element, tag: &str, control: Control, base: &str) -> Vec<Attr> {
        let map = el.attributes();
        let star_value = mask::masks_value_attr(tag, control);
        let mut out = Vec::with_capacity(map.length() as usize);
        for i in 0..map.length() {
            let Some(attr) = map.item(i) else { continue };
            let name = attr.name();
            let value = if star_value && name == "value" {
                mask::stars(js_len(&attr, "value"))
            } else {
                rewrite_url(&name, attr.value(), base)
            };
            out.push(Attr { name, value });
        }
        out
    }

    /// An attribute's current value as the console must see it (`None`:
    /// removed), for mutation batches.
    pub(crate) fn attr_value(&self, el: &Element, name: &str, base: &str) -> Option<String> {
        if name == "value" {
            let tag = lower(el.local_name());
            let control = self.control(el, &tag, self.is_masked(el));
            if mask::masks_value_attr(&tag, control) {
                let attr = el.get_attribute_node(name)?;
                return Some(mask::stars(js_len(&attr, "value")));
            }
        }
        let value = el.get_attribute(name)?;
        Some(rewrite_url(name, value, base))
    }

    /// The live states an `input`/`change` event on `target` changed: the
    /// control's own, or every option's for a multiple `<select>`.
    pub fn input_states(&self, target: &Element) -> Vec<(NodeId, FormState)> {
        let Some(id) = self.ids.get(target) else {
            return Vec::new();
        };
        let tag = lower(target.local_name());
        let masked = self.is_masked(target);
        if tag == "select" && !masked && reflect(target, "multiple").as_bool() == Some(true) {
            let mut out = Vec::new();
            if let Ok(options) = target.query_selector_all(intern("option")) {
                for i in 0..options.length() {
                    let Some(opt) = options.item(i) else { continue };
                    let (Some(oid), Some(el)) = (self.ids.get(&opt), opt.dyn_ref::<Element>())
                    else {
                        continue;
                    };
                    if let Some(state) = form_state(el, Control::Selected) {
                        out.push((oid, state));
                    }
                }
            }
            return out;
        }
        let control = self.control(target, &tag, masked);
        form_state(target, control)
            .map(|state| vec![(id, state)])
            .unwrap_or_default()
    }
}

fn reflect(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &JsValue::from_str(intern(key))).unwrap_or(JsValue::UNDEFINED)
}

/// Length of a string property, read in JS so the string itself never
/// enters Rust's memory.
fn js_len(obj: &JsValue, key: &str) -> u32 {
    reflect(obj, key)
        .dyn_ref::<js_sys::JsString>()
        .map_or(0, |s| s.length())
}

pub(crate) fn form_state(el: &Element, control: Control) -> Option<FormState> {
    let mut state = FormState::default();
    match control {
        Control::None => return None,
        Control::Value => state.value = Some(reflect(el, "value").as_string().unwrap_or_default()),
        Control::MaskedValue => state.masked_len = Some(js_len(el, "value")),
        Control::Checked => state.checked = reflect(el, "checked").as_bool(),
        Control::Selected => state.selected = reflect(el, "selected").as_bool(),
    }
    Some(state)
}

/// A text or comment node's data, masked when a mask rule covers it.
pub(crate) fn text_of(node: &web_sys::Node, masked: bool) -> String {
    let text = node.node_value().unwrap_or_default();
    if masked {
        mask::mask_text(&text)
    } else {
        text
    }
}

fn lower(s: String) -> String {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        s.to_ascii_lowercase()
    } else {
        s
    }
}

/// URL attributes made absolute against the document's base URL, so the
/// console (on another origin) loads the same resources.
pub(crate) fn rewrite_url(name: &str, value: String, base: &str) -> String {
    match mask::url_attr(name) {
        UrlAttr::No => value,
        UrlAttr::Single => absolute(&value, base).unwrap_or(value),
        UrlAttr::Srcset => mask::absolutize_srcset(&value, |u| absolute(u, base)),
    }
}

fn absolute(url: &str, base: &str) -> Option<String> {
    let url = url.trim();
    if url.is_empty() || base.is_empty() {
        return None;
    }
    web_sys::Url::new_with_base(url, base)
        .ok()
        .map(|u| u.href())
}
