//! [`SheetBackend`] for the iframe: stylesheet and font operations on the
//! mirrored document through its own CSSOM.
//!
//! Owns: those DOM calls. Constructed sheets and fonts are made with the
//! IFRAME's window classes (`CSSStyleSheet`, `FontFace`): a sheet from the
//! console's own realm could not be adopted there. As in `dom.rs`, nothing
//! is cast with `dyn_into` (other realm) and every property goes through
//! `Reflect`. Does not own: which sheet gets what (`sheets.rs`).

use std::cell::RefCell;

use gloo_events::{EventListener, EventListenerOptions};
use js_sys::{Array, Function, Object, Reflect};
use protocol::FontFaceDesc;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Node;

use super::dom::{js_error, WebDom};
use super::sheets::{SheetBackend, SheetOp};
use crate::log;
use crate::ViewerError;

thread_local! {
    /// Sheets this backend made, to tell them from the console's own
    /// adopted sheet (which stays).
    static MINE: js_sys::WeakSet = js_sys::WeakSet::new();
    /// One-shot `load` listeners of `<link>`s whose sheet is not there yet.
    static WAITING: RefCell<Vec<EventListener>> = const { RefCell::new(Vec::new()) };
}

/// Links waiting for their sheet at most (older waits are dropped).
const MAX_WAITING: usize = 64;

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn call(obj: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, ViewerError> {
    let f = get(obj, method);
    if !f.is_function() {
        return Err(ViewerError::Dom(format!("no {method}()")));
    }
    let args: Array = args.iter().collect();
    Reflect::apply(f.unchecked_ref::<Function>(), obj, &args).map_err(js_error)
}

/// The rule list holding the last index of `path`, walking grouping rules.
fn holder(sheet: &JsValue, path: &[u32]) -> Result<JsValue, ViewerError> {
    let mut at = sheet.clone();
    for index in path.iter().take(path.len().saturating_sub(1)) {
        let list = get(&at, "cssRules");
        at = Reflect::get_u32(&list, *index).map_err(js_error)?;
        if !at.is_object() {
            return Err(ViewerError::Dom(format!("no rule at {path:?}")));
        }
    }
    Ok(at)
}

fn rule_count(holder: &JsValue) -> u32 {
    get(&get(holder, "cssRules"), "length")
        .as_f64()
        .map_or(0, |n| n as u32)
}

/// Applies `op` to a sheet of the iframe; a refused rule is logged and
/// skipped.
fn apply(sheet: &JsValue, op: &SheetOp) {
    let result = match op {
        SheetOp::Rules(rules) => {
            for i in (0..rule_count(sheet)).rev() {
                let _ = call(sheet, "deleteRule", &[i.into()]);
            }
            for rule in rules {
                let end = rule_count(sheet);
                if let Err(e) = call(sheet, "insertRule", &[rule.into(), end.into()]) {
                    log::warn(&format!(
                        "a rule the browser refused was skipped ({e}): {rule}"
                    ));
                }
            }
            Ok(())
        }
        SheetOp::Insert { path, rule } => holder(sheet, path).and_then(|h| {
            let at = path.last().copied().unwrap_or(0);
            call(&h, "insertRule", &[rule.into(), at.into()]).map(drop)
        }),
        SheetOp::Delete { path } => holder(sheet, path).and_then(|h| {
            let at = path.last().copied().unwrap_or(0);
            call(&h, "deleteRule", &[at.into()]).map(drop)
        }),
    };
    if let Err(e) = result {
        log::warn(&format!("a stylesheet change was skipped: {e}"));
    }
}

impl WebDom {
    fn window(&self) -> Result<JsValue, ViewerError> {
        self.frame()
            .content_window()
            .map(JsValue::from)
            .ok_or_else(|| ViewerError::Dom("the iframe has no window".into()))
    }

    fn construct(&self, name: &str, args: &[JsValue]) -> Result<JsValue, ViewerError> {
        let class = get(&self.window()?, name);
        if !class.is_function() {
            return Err(ViewerError::Dom(format!("no {name} in the iframe")));
        }
        let args: Array = args.iter().collect();
        Reflect::construct(class.unchecked_ref::<Function>(), &args).map_err(js_error)
    }
}

impl SheetBackend<Node> for WebDom {
    type Sheet = JsValue;
    type Font = JsValue;

    fn new_sheet(&mut self) -> Result<JsValue, ViewerError> {
        let sheet = self.construct("CSSStyleSheet", &[])?;
        MINE.with(|mine| mine.add(sheet.unchecked_ref()));
        Ok(sheet)
    }

    fn owner_op(&mut self, owner: &Node, op: SheetOp) {
        // The owner's sheet exists once its queued writes are in.
        self.flush();
        let sheet = get(owner, "sheet");
        if sheet.is_object() {
            return apply(&sheet, &op);
        }
        // A `<link>` whose file has not loaded yet: apply once it has.
        let element = owner.clone();
        let listener = EventListener::once_with_options(
            owner,
            "load",
            EventListenerOptions::default(),
            move |_| {
                let sheet = get(&element, "sheet");
                if sheet.is_object() {
                    apply(&sheet, &op);
                }
            },
        );
        WAITING.with(|waiting| {
            let mut waiting = waiting.borrow_mut();
            if waiting.len() >= MAX_WAITING {
                drop(waiting.remove(0));
            }
            waiting.push(listener);
        });
    }

    fn sheet_op(&mut self, sheet: &JsValue, op: &SheetOp) {
        apply(sheet, op);
    }

    fn adopt(&mut self, root: &Node, sheets: &[JsValue]) -> Result<(), ViewerError> {
        self.flush();
        let key = JsValue::from_str("adoptedStyleSheets");
        let current = Reflect::get(root, &key).map_err(js_error)?;
        let list: Array = MINE.with(|mine| {
            (0..get(&current, "length").as_f64().map_or(0, |n| n as u32))
                .filter_map(|i| Reflect::get_u32(&current, i).ok())
                .filter(|s| s.is_object() && !mine.has(s.unchecked_ref()))
                .chain(sheets.iter().cloned())
                .collect()
        });
        Reflect::set(root, &key, &list).map_err(js_error)?;
        Ok(())
    }

    fn add_font(&mut self, font: &FontFaceDesc) -> Result<JsValue, ViewerError> {
        let descriptors = Object::new();
        for d in &font.descriptors {
            let _ = Reflect::set(
                &descriptors,
                &JsValue::from_str(&camel(&d.name)),
                &JsValue::from_str(&d.value),
            );
        }
        let face = self.construct(
            "FontFace",
            &[
                font.family.as_str().into(),
                font.source.as_str().into(),
                descriptors.into(),
            ],
        )?;
        let document = self
            .frame()
            .content_document()
            .ok_or_else(|| ViewerError::Dom("the iframe has no document".into()))?;
        call(&get(&document, "fonts"), "add", std::slice::from_ref(&face))?;
        // Loaded now rather than when text first needs it, so the page
        // does not flash a fallback font; a failed load is only logged.
        if let Ok(promise) = call(&face, "load", &[]) {
            let family = font.family.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let promise: js_sys::Promise = promise.unchecked_into();
                if let Err(e) = wasm_bindgen_futures::JsFuture::from(promise).await {
                    log::warn(&format!("font \"{family}\" did not load: {}", js_error(e)));
                }
            });
        }
        Ok(face)
    }

    fn remove_font(&mut self, font: &JsValue) {
        if let Some(document) = self.frame().content_document() {
            let _ = call(
                &get(&document, "fonts"),
                "delete",
                std::slice::from_ref(font),
            );
        }
    }
}

/// `unicode-range` → `unicodeRange`: the `FontFace` descriptor's key.
fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}
