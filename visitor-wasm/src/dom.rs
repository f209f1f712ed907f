//! The DOM members the capture asks of any page element, taken from
//! `Element.prototype` instead of the element: a `<form>`'s controls shadow
//! its members by name (`<input name="localName">` makes `form.localName`
//! that input; `name="matches"` makes `form.matches` not a function), so
//! asking the element itself would misread the form, or throw in the middle
//! of a walk.
//!
//! Owns: those bindings. Use them wherever the element may be the page's.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, NamedNodeMap};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = Element)]
    type ProtoElement;

    #[wasm_bindgen(method, final, getter, js_class = "Element", js_name = localName)]
    fn local_name(this: &ProtoElement) -> String;

    #[wasm_bindgen(method, final, getter, js_class = "Element", js_name = namespaceURI)]
    fn namespace_uri(this: &ProtoElement) -> Option<String>;

    #[wasm_bindgen(method, final, getter, js_class = "Element", js_name = attributes)]
    fn attributes(this: &ProtoElement) -> NamedNodeMap;

    #[wasm_bindgen(method, final, catch, js_class = "Element", js_name = matches)]
    fn matches(this: &ProtoElement, selector: &str) -> Result<bool, JsValue>;

    #[wasm_bindgen(method, final, catch, js_class = "Element", js_name = closest)]
    fn closest(this: &ProtoElement, selector: &str) -> Result<Option<Element>, JsValue>;
}

fn proto(el: &Element) -> &ProtoElement {
    el.unchecked_ref()
}

/// `el.localName`.
pub fn local_name(el: &Element) -> String {
    proto(el).local_name()
}

/// `el.namespaceURI`.
pub fn namespace_uri(el: &Element) -> Option<String> {
    proto(el).namespace_uri()
}

/// `el.attributes`.
pub fn attributes(el: &Element) -> NamedNodeMap {
    proto(el).attributes()
}

/// `el.matches(selector)`; `Err` for a selector the browser refuses.
pub fn matches(el: &Element, selector: &str) -> Result<bool, JsValue> {
    proto(el).matches(selector)
}

/// `el.closest(selector)`; `Err` for a selector the browser refuses.
pub fn closest(el: &Element, selector: &str) -> Result<Option<Element>, JsValue> {
    proto(el).closest(selector)
}
