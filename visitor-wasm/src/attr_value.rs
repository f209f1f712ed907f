//! An attribute's value as the console must see it: URLs made absolute
//! against the document's base (so the console, on another origin, loads
//! the same resources), masked URLs cut to origin and path, masked text and
//! values as stars, SVG references into the page left as they are.
//!
//! Owns: applying a [`mask::AttrRule`] to a live attribute. Does not own:
//! choosing the rule (`mask.rs`), reading the element (`serialize.rs`).

use web_sys::Element;

use crate::mask::{self, AttrRule, UrlAttr};
use crate::serialize::js_len;

/// An attribute's value after its rule (`None`: not sent).
pub(crate) fn apply_rule(
    rule: AttrRule,
    el: &Element,
    attr: &web_sys::Attr,
    base: &str,
) -> Option<String> {
    match rule {
        // Its length is read in JS: the value never enters Rust.
        AttrRule::Stars => Some(mask::stars(js_len(attr, "value"))),
        AttrRule::Drop => None,
        rule => {
            let value = attr.value();
            // Asked only where it matters: one call fewer per attribute.
            let svg = matches!(rule, AttrRule::Url(_)) && is_fragment(&value) && is_svg(el);
            apply_rule_to(rule, value, svg, base)
        }
    }
}

/// [`apply_rule`] on a value read already (`svg`: whether the element is
/// SVG's; it matters only for a URL). Never given [`AttrRule::Stars`]: a value
/// that must not enter Rust is not read whole (that rule gives no stars
/// here rather than a length read from it).
pub(crate) fn apply_rule_to(
    rule: AttrRule,
    value: String,
    svg: bool,
    base: &str,
) -> Option<String> {
    Some(match rule {
        AttrRule::Keep => value,
        AttrRule::Url(_) if svg && is_fragment(&value) => value,
        AttrRule::Url(kind) => rewrite(kind, value, base),
        AttrRule::MaskedUrl(kind) => masked_url(kind, &value, base),
        AttrRule::Stars => String::new(),
        AttrRule::MaskText => mask::mask_text(&value),
        AttrRule::MaskedStyle => mask::mask_style(&value, |u| {
            mask::strip_url(&absolute(u, base).unwrap_or_default())
        }),
        AttrRule::Drop => return None,
    })
}

/// Whether a URL is a reference into the page itself. On an SVG element
/// (`<use href="#icon">`, a gradient's `href="#base"`) it stays as it is:
/// made absolute, it would name the visitor's page as another document,
/// which SVG loads as an external resource: the console (another
/// document) would draw nothing.
fn is_fragment(value: &str) -> bool {
    value.trim_start().starts_with('#')
}

fn is_svg(el: &Element) -> bool {
    crate::dom::namespace_uri(el).is_some_and(|ns| ns == protocol::Ns::SVG_URI)
}

/// URL attributes made absolute against the document's base URL, so the
/// console (on another origin) loads the same resources.
fn rewrite(kind: UrlAttr, value: String, base: &str) -> String {
    match kind {
        UrlAttr::No => value,
        UrlAttr::Single => absolute(&value, base).unwrap_or(value),
        UrlAttr::Srcset => mask::absolutize_srcset(&value, |u| absolute(u, base)),
    }
}

/// A masked element's URL: absolute, then origin and path only. One that
/// does not parse is dropped rather than sent as written.
fn masked_url(kind: UrlAttr, value: &str, base: &str) -> String {
    let strip = |u: &str| Some(mask::strip_url(&absolute(u, base).unwrap_or_default()));
    match kind {
        UrlAttr::No => mask::mask_text(value),
        UrlAttr::Single => strip(value).unwrap_or_default(),
        UrlAttr::Srcset => mask::absolutize_srcset(value, strip),
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
