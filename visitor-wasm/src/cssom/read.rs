//! Reading the page's CSSOM: a sheet's rules as text, where a rule sits in
//! its sheet, which roots have adopted which sheets, and whether a
//! `<style>`'s rules still say what its text says.
//!
//! Owns: those reads, every one of which survives what the page can throw
//! at it (a cross-origin sheet's rules raise `SecurityError`: that sheet is
//! skipped). Does not own: deciding what to send (`cssom/mod.rs`).
//! Everything goes through `Reflect`: sheets and rules are plain JS objects
//! here, and a missing property means "not this kind", never an error.

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element};

use super::text::absolute_urls;
use crate::mask::UI_TAG;

/// A JS object compared by identity (`Object.is`), as sheets and roots must
/// be.
#[derive(Clone, Debug)]
pub(crate) struct Js(pub JsValue);

impl PartialEq for Js {
    fn eq(&self, other: &Self) -> bool {
        js_sys::Object::is(&self.0, &other.0)
    }
}

pub(crate) fn get(obj: &JsValue, key: &str) -> JsValue {
    // Classes are functions, which `is_object` does not count.
    if !obj.is_object() && !obj.is_function() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn len(list: &JsValue) -> u32 {
    get(list, "length").as_f64().map_or(0, |n| n as u32)
}

fn item(list: &JsValue, i: u32) -> JsValue {
    Reflect::get_u32(list, i).unwrap_or(JsValue::UNDEFINED)
}

/// A rule list (`cssRules`) as a Vec, or `None` if it cannot be read.
fn rules(holder: &JsValue) -> Option<Vec<JsValue>> {
    // A cross-origin sheet throws on `cssRules`: not ours to read.
    let list = Reflect::get(holder, &JsValue::from_str("cssRules")).ok()?;
    if !list.is_object() {
        return None;
    }
    Some((0..len(&list)).map(|i| item(&list, i)).collect())
}

/// The base URL a sheet's relative URLs resolve against: its own address
/// for a linked sheet, else the document's.
pub(crate) fn base_of(sheet: &JsValue, document_base: &str) -> String {
    get(sheet, "href")
        .as_string()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| document_base.to_owned())
}

/// A rule's text with its URLs absolute against `base`.
pub(crate) fn rule_text(rule: &JsValue, base: &str) -> Option<String> {
    let text = get(rule, "cssText").as_string()?;
    Some(absolute_urls(&text, &mut |url| {
        web_sys::Url::new_with_base(url, base)
            .ok()
            .map(|u| u.href())
    }))
}

/// Every rule of `sheet` as text (URLs absolute), or `None` when its rules
/// cannot be read.
pub(crate) fn rules_of(sheet: &JsValue, document_base: &str) -> Option<Vec<String>> {
    let base = base_of(sheet, document_base);
    Some(
        rules(sheet)?
            .iter()
            .filter_map(|r| rule_text(r, &base))
            .collect(),
    )
}

/// The `cssText` of the rule at `index` of a sheet or grouping rule.
pub(crate) fn rule_at(holder: &JsValue, index: u32, base: &str) -> Option<String> {
    let list = Reflect::get(holder, &JsValue::from_str("cssRules")).ok()?;
    let rule = item(&list, index);
    rule.is_object().then(|| rule_text(&rule, base)).flatten()
}

/// The sheet a rule belongs to and the indexes of `rule` itself from the
/// sheet down. `None` for a rule that is no longer in a sheet.
pub(crate) fn path_of(rule: &JsValue) -> Option<(JsValue, Vec<u32>)> {
    let sheet = get(rule, "parentStyleSheet");
    if !sheet.is_object() {
        return None;
    }
    let mut path = Vec::new();
    let mut at = rule.clone();
    // Grouping rules nest a few deep; the bound only guards a broken page.
    for _ in 0..64 {
        let parent = get(&at, "parentRule");
        let holder = if parent.is_object() {
            parent.clone()
        } else {
            sheet.clone()
        };
        let index = rules(&holder)?
            .iter()
            .position(|r| js_sys::Object::is(r, &at))?;
        path.push(u32::try_from(index).ok()?);
        if !parent.is_object() {
            path.reverse();
            return Some((sheet, path));
        }
        at = parent;
    }
    None
}

/// The sheets a document or shadow root has adopted, in order.
pub(crate) fn adopted_of(root: &JsValue) -> Vec<Js> {
    let list = get(root, "adoptedStyleSheets");
    (0..len(&list))
        .map(|i| Js(item(&list, i)))
        .filter(|s| s.0.is_object())
        .collect()
}

/// The sheets of a document or shadow root that belong to elements
/// (`<style>`, `<link>`), each with its element.
pub(crate) fn owned_sheets(root: &JsValue) -> Vec<(JsValue, Element)> {
    let list = get(root, "styleSheets");
    (0..len(&list))
        .map(|i| item(&list, i))
        .filter_map(|sheet| {
            let owner = get(&sheet, "ownerNode").dyn_into::<Element>().ok()?;
            Some((sheet, owner))
        })
        .collect()
}

/// The document and every open shadow root in it (not the visitor's own
/// UI), outermost first.
pub(crate) fn roots(document: &Document) -> Vec<JsValue> {
    let mut found: Vec<JsValue> = vec![document.clone().into()];
    let mut at = 0;
    // Each root's elements are searched for more roots; the bound only
    // guards a pathological page.
    while at < found.len() && found.len() < 10_000 {
        let all = Reflect::get(&found[at], &JsValue::from_str("querySelectorAll"))
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .and_then(|f| f.call1(&found[at], &JsValue::from_str("*")).ok());
        at += 1;
        let Some(all) = all else { continue };
        for i in 0..len(&all) {
            let el = item(&all, i);
            let shadow = get(&el, "shadowRoot");
            if shadow.is_object() && !is_ui(&el) {
                found.push(shadow);
            }
        }
    }
    found
}

fn is_ui(el: &JsValue) -> bool {
    get(el, "localName")
        .as_string()
        .is_some_and(|n| n.eq_ignore_ascii_case(UI_TAG))
}

/// Whether a node is inside the visitor's own UI (its sheets never leave).
pub(crate) fn in_ui(node: &JsValue) -> bool {
    let root = Reflect::get(node, &JsValue::from_str("getRootNode"))
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .and_then(|f| f.call0(node).ok());
    root.is_some_and(|r| is_ui(&get(&r, "host")))
}

/// Whether a `<style>`'s rules differ from what its text makes: rules
/// inserted into an empty `<style>` (CSS-in-JS "speedy" mode), or changed
/// since. The text is parsed into a detached constructed sheet with the
/// page's own (unwrapped) `replaceSync`.
pub(crate) fn differs_from_text(sheet: &JsValue, owner: &Element, replace_sync: &JsValue) -> bool {
    let Some(live) = rules(sheet) else {
        return false;
    };
    let text = crate::dom::text_content(&owner).unwrap_or_default();
    if text.trim().is_empty() {
        return !live.is_empty();
    }
    let parsed = (|| {
        let class = Reflect::get(&js_sys::global(), &JsValue::from_str("CSSStyleSheet")).ok()?;
        let fresh = Reflect::construct(class.dyn_ref::<Function>()?, &Array::new()).ok()?;
        replace_sync
            .dyn_ref::<Function>()?
            .call1(&fresh, &JsValue::from_str(&text))
            .ok()?;
        rules(&fresh)
    })();
    let Some(parsed) = parsed else {
        return false;
    };
    // A constructed sheet drops `@import`: compare everything else.
    let texts = |list: &[JsValue]| -> Vec<String> {
        list.iter()
            .filter_map(|r| get(r, "cssText").as_string())
            .filter(|t| !t.starts_with("@import"))
            .collect()
    };
    texts(&live) != texts(&parsed)
}
