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
    Some(match rule {
        AttrRule::Keep => attr.value(),
        AttrRule::Url(_) if svg_self_reference(el, attr) => attr.value(),
        AttrRule::Url(kind) => rewrite(kind, attr.value(), base),
        AttrRule::MaskedUrl(kind) => masked_url(kind, &attr.value(), base),
        AttrRule::Stars => mask::stars(js_len(attr, "value")),
        AttrRule::MaskText => mask::mask_text(&attr.value()),
        AttrRule::MaskedStyle => mask::mask_style(&attr.value(), |u| {
            mask::strip_url(&absolute(u, base).unwrap_or_default())
        }),
        AttrRule::Drop => return None,
    })
}

/// An SVG reference into the page itself (`<use href="#icon">`, a
/// gradient's `href="#base"`). Made absolute, it would name the visitor's
/// page as another document, which SVG loads as an external resource: the
/// console (another document) would draw nothing.
fn svg_self_reference(el: &Element, attr: &web_sys::Attr) -> bool {
    attr.value().trim_start().starts_with('#')
        && crate::dom::namespace_uri(el).is_some_and(|ns| ns == protocol::Ns::SVG_URI)
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
