//! The visitor's text selection in the browser: a CSS custom highlight
//! (`CSS.highlights`, styled by `::highlight(cobrowse-visitor)` in the
//! console's own sheet) over a `Range` of the mirrored document. The page's
//! nodes are not touched, the agent's own selection stays theirs, and the
//! browser keeps the highlight on the text as the page scrolls, reflows or
//! changes. Owns: building that range and the registry entry. Does not own:
//! which nodes (`selection.rs`).
//!
//! The registry, the `Highlight` class and the range belong to the
//! iframe's realm: they are reached through `Reflect`, never `dyn_into`.

use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Node};

use super::selection::Ends;

/// The highlight's name; `CONSOLE_SHEET` in `dom.rs` styles it.
pub const VISITOR_HIGHLIGHT: &str = "cobrowse-visitor";

/// Shows (or with `None` clears) the visitor's selection in `doc`.
pub fn show(doc: &Document, ends: Option<Ends<'_, Node>>) -> Result<(), JsValue> {
    let window = Reflect::get(doc, &"defaultView".into())?;
    if !window.is_object() {
        // No window (the frame is being replaced): nothing to show in.
        return Ok(());
    }
    let css = Reflect::get(&window, &"CSS".into())?;
    let registry = if css.is_object() {
        Reflect::get(&css, &"highlights".into())?
    } else {
        JsValue::UNDEFINED
    };
    if !registry.is_object() {
        return Err(JsValue::from_str(
            "this browser has no CSS custom highlights",
        ));
    }
    let name = JsValue::from_str(VISITOR_HIGHLIGHT);
    let Some((anchor, focus)) = ends else {
        call(&registry, "delete", &[name])?;
        return Ok(());
    };
    let range = doc.create_range()?;
    let (a, ao) = (anchor.0, anchor.1.min(length(anchor.0)));
    let (f, fo) = (focus.0, focus.1.min(length(focus.0)));
    range.set_start(a, ao)?;
    range.set_end(f, fo)?;
    // A backwards selection (focus before anchor): setting the end before
    // the start collapsed the range at the focus, so go the other way.
    if range.collapsed() && !(a.is_same_node(Some(f)) && ao == fo) {
        range.set_start(f, fo)?;
        range.set_end(a, ao)?;
    }
    let class = Reflect::get(&window, &"Highlight".into())?;
    if !class.is_function() {
        return Err(JsValue::from_str("this browser has no Highlight class"));
    }
    let highlight = Reflect::construct(
        class.unchecked_ref::<js_sys::Function>(),
        &Array::of1(&range),
    )?;
    call(&registry, "set", &[name, highlight])?;
    Ok(())
}

/// A node's length as a range offset counts it.
fn length(node: &Node) -> u32 {
    match node.node_type() {
        Node::TEXT_NODE | Node::COMMENT_NODE | Node::CDATA_SECTION_NODE => {
            Reflect::get(node, &"length".into())
                .ok()
                .and_then(|l| l.as_f64())
                .map_or(0, |l| l as u32)
        }
        _ => node.child_nodes().length(),
    }
}

/// Calls `object[method](...args)` (a method of another realm's object).
fn call(object: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f = Reflect::get(object, &method.into())?;
    if !f.is_function() {
        return Err(JsValue::from_str(&format!("{method} is not a function")));
    }
    let f: &js_sys::Function = f.unchecked_ref();
    f.apply(object, &args.iter().collect::<Array>())
}
