//! What the resource service must know of the CSSOM: the rule text of
//! sheets whose markup does not say what they hold, and the sources of
//! fonts the page added with the `FontFace` API, so the URLs they name are
//! fetched and offered like any stylesheet's (their text is not in the DOM
//! for discovery to read).
//!
//! Owns: the registry the live [`super::Cssom`] keeps for that (a
//! thread-local: discovery runs from the resource service's own timer,
//! which does not hold the capture), and reading it. Does not own: what is
//! offered (`resources/`).

use std::cell::RefCell;

use wasm_bindgen::JsValue;
use web_sys::Document;

use super::read;

pub(crate) struct Registry {
    /// Sheets changed through the CSSOM since the capture began.
    pub touched: js_sys::WeakSet,
    /// `src` values of fonts the page added.
    pub fonts: Vec<String>,
}

thread_local! {
    pub(crate) static REGISTRY: RefCell<Option<Registry>> = const { RefCell::new(None) };
}

/// The CSS the DOM does not show, as texts to read URLs from: rules of
/// `<style>`s with no text or with CSSOM changes, of changed `<link>`s and
/// of adopted sheets; and the fonts' `src` values. Nothing while no
/// capture runs. `shadow_roots`: the open shadow roots to read besides the
/// document (`None`: every element is asked for one).
pub fn page_css(
    document: &Document,
    shadow_roots: Option<&[JsValue]>,
) -> (Vec<String>, Vec<String>) {
    let Some((touched, fonts)) = REGISTRY.with(|r| {
        r.borrow()
            .as_ref()
            .map(|r| (r.touched.clone(), r.fonts.clone()))
    }) else {
        return (Vec::new(), Vec::new());
    };
    let base = crate::snapshot::base_url(document);
    let mut css = Vec::new();
    let roots = match shadow_roots {
        Some(known) => std::iter::once(JsValue::from(document.clone()))
            .chain(known.iter().cloned())
            .collect(),
        None => read::roots(document),
    };
    for root in roots {
        for (sheet, owner) in read::owned_sheets(&root) {
            if read::in_ui(&owner) {
                continue;
            }
            let silent = crate::dom::local_name(&owner) == "style"
                && crate::dom::text_content(&owner).is_none_or(|t| t.trim().is_empty());
            if silent || touched.has(wasm_bindgen::JsCast::unchecked_ref(&sheet)) {
                css.extend(read::rules_of(&sheet, &base).unwrap_or_default());
            }
        }
        for sheet in read::adopted_of(&root) {
            css.extend(read::rules_of(&sheet.0, &base).unwrap_or_default());
        }
    }
    (css, fonts)
}
