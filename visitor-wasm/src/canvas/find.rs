//! Finding the page's canvases and asking about one: where they are
//! (documents, open shadow roots, same-origin frames), whether one is on
//! screen, and how it draws.
//!
//! Owns: those DOM queries. Does not own: what is read or sent (`mod.rs`).

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, HtmlCanvasElement, Window};

/// How a canvas draws, learnt only when it matters (see [`Canvases::read`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    TwoD,
    /// WebGL (or another context) whose buffer is cleared once shown: a
    /// blank read means "read too late", not "the page cleared it".
    Cleared,
}

/// Whether a canvas that read blank after showing content is one whose
/// buffer is cleared once presented. Only asked of a canvas that already
/// has a context (it showed content), so `getContext` creates nothing: it
/// returns the existing context of that kind, or null for another kind.
pub(super) fn kind_of(el: &HtmlCanvasElement) -> Kind {
    if matches!(el.get_context("2d"), Ok(Some(_))) {
        return Kind::TwoD;
    }
    for name in ["webgl2", "webgl", "experimental-webgl"] {
        if let Ok(Some(ctx)) = el.get_context(name) {
            let preserved = js_sys::Reflect::get(&ctx, &JsValue::from_str("getContextAttributes"))
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
                .and_then(|f| f.call0(&ctx).ok())
                .and_then(|a| {
                    js_sys::Reflect::get(&a, &JsValue::from_str("preserveDrawingBuffer")).ok()
                })
                .and_then(|p| p.as_bool())
                .unwrap_or(false);
            return if preserved { Kind::TwoD } else { Kind::Cleared };
        }
    }
    // A bitmaprenderer or a transferred canvas: never take blank for news.
    Kind::Cleared
}

/// The loader's latest copy of a WebGL canvas whose buffer is not
/// preserved (`js/cobrowse.js`, `keepWebglPictures`): made at the end of
/// each task that drew, so it holds what the page last showed even after
/// the buffer was cleared. `None` for every other canvas, or where the
/// page loaded the SDK without the loader.
pub(super) fn kept_copy(window: &Window, el: &HtmlCanvasElement) -> Option<HtmlCanvasElement> {
    let key = js_sys::Symbol::for_("cobrowse.webgl.copies");
    let copies = js_sys::Reflect::get(window, &key).ok()?;
    let copies: js_sys::WeakMap = copies.dyn_into().ok()?;
    copies
        .get(el.unchecked_ref())
        .dyn_into::<HtmlCanvasElement>()
        .ok()
}

/// On screen: a box of some size that overlaps the viewport. Checked on
/// the element's box, so `display: none` (an empty box) and scrolled-away
/// canvases are skipped without a style query.
pub(super) fn visible(window: &Window, el: &Element) -> bool {
    let r = crate::dom::get_bounding_client_rect(el);
    let vw = window
        .inner_width()
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    let vh = window
        .inner_height()
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    r.width() > 0.0
        && r.height() > 0.0
        && r.bottom() > 0.0
        && r.right() > 0.0
        && r.top() < vh
        && r.left() < vw
}

/// The canvases under `root` (a document or a shadow root) and, through
/// same-origin frames, in their documents: one native query per root, no
/// walk. Elements of a frame belong to another realm, hence the unchecked
/// casts (the tag is checked instead).
pub(super) fn canvases(root: &JsValue, out: &mut Vec<HtmlCanvasElement>, depth: u32) {
    if depth > 8 {
        return;
    }
    let Ok(found) = query_all(root, "canvas, iframe, frame") else {
        return;
    };
    for i in 0..found.length() {
        let Some(node) = found.item(i) else { continue };
        let el: &Element = node.unchecked_ref();
        if crate::dom::local_name(el) == "canvas" {
            out.push(node.clone().unchecked_into());
        } else if let Some(doc) = frame_document(el) {
            canvases(&doc, out, depth + 1);
        }
    }
}

/// A frame's document if it is same-origin (null otherwise: its canvases
/// are not ours to read).
fn frame_document(el: &Element) -> Option<JsValue> {
    if !matches!(crate::dom::local_name(el).as_str(), "iframe" | "frame") {
        return None;
    }
    js_sys::Reflect::get(el, &JsValue::from_str("contentDocument"))
        .ok()
        .filter(JsValue::is_object)
}

fn query_all(root: &JsValue, selector: &str) -> Result<web_sys::NodeList, JsValue> {
    let f = js_sys::Reflect::get(root, &JsValue::from_str("querySelectorAll"))?
        .dyn_into::<js_sys::Function>()?;
    Ok(f.call1(root, &JsValue::from_str(selector))?
        .unchecked_into())
}
