//! Masking and rewriting decisions, as plain functions of strings: which
//! form controls carry which live state, when a value must be replaced by its
//! length, how masked text looks, which attributes of a masked element carry
//! content (and how each is rewritten), what a blocked element's box keeps,
//! and which attributes hold URLs.
//!
//! Owns: the decisions. Does not own: reading anything from the DOM (that is
//! `serialize.rs`), so every rule here is unit-tested natively.
//!
//! The rules, in the order they apply:
//! - a blocked element is sent as an empty box (same tag, `id`, `class`, a
//!   fixed size, `data-cobrowse-blocked`); nothing inside it is ever sent;
//! - an element is masked when the nearest element (itself or an ancestor)
//!   carrying a mask or unmask marker is a mask one, or, with no marker at
//!   all, when the page is private by default; a mask marker beats an unmask
//!   marker on the same element;
//! - password inputs are masked whatever the markers say.

/// The visitor's own UI element. It and everything inside it is never mirrored.
pub const UI_TAG: &str = "cobrowse-ui";

/// Elements (and their subtrees) whose text and values never leave the page,
/// whatever the options say.
pub const MASK_ATTR_SELECTOR: &str = "[data-cobrowse-mask]";

/// Markup counterparts of the `mask`/`block` options, and the unmask marker.
pub const BLOCK_ATTR_SELECTOR: &str = "[data-cobrowse-block]";
pub const UNMASK_ATTR_SELECTOR: &str = "[data-cobrowse-unmask]";
/// Carried by the box that stands in for a blocked element.
pub const BLOCKED_ATTR: &str = "data-cobrowse-blocked";

/// The page's masking configuration as selectors the DOM glue matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Matches every element carrying a mask marker.
    pub mask: String,
    /// Matches every element carrying an unmask marker.
    pub unmask: String,
    /// Matches every element to send as an empty box.
    pub block: String,
    /// Everything not under an unmask marker is masked.
    pub private_by_default: bool,
}

impl Rules {
    /// The markup attributes only, plus extra selectors from the options.
    pub fn new(mask: &[String], block: &[String], private_by_default: bool) -> Rules {
        Rules {
            mask: join_selectors(MASK_ATTR_SELECTOR, mask),
            unmask: UNMASK_ATTR_SELECTOR.to_owned(),
            block: join_selectors(BLOCK_ATTR_SELECTOR, block),
            private_by_default,
        }
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules::new(&[], &[], false)
    }
}

fn join_selectors(first: &str, rest: &[String]) -> String {
    let mut sel = String::from(first);
    for s in rest {
        sel.push(',');
        sel.push_str(s);
    }
    sel
}

/// A marker an element carries (through markup or an option's selector).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Mask,
    Unmask,
}

/// Whether an element is masked, from its own marker and its parent's
/// state: the nearest marker decides. `inherited` for the root of a walk is
/// [`masked_from_nearest`] of its parent, or `private_by_default` at the top.
pub fn masked_here(inherited: bool, own: Option<Marker>) -> bool {
    match own {
        Some(Marker::Mask) => true,
        Some(Marker::Unmask) => false,
        None => inherited,
    }
}

/// The same decision from a live element's point of view, as `closest()`
/// answers it: `mask`/`unmask` say whether a mask/unmask marker is on the
/// element or an ancestor; `unmask_is_nearer` whether the nearest unmask
/// marker sits strictly inside the nearest mask marker's element.
pub fn masked_from_nearest(
    mask: bool,
    unmask: bool,
    unmask_is_nearer: bool,
    private_by_default: bool,
) -> bool {
    match (mask, unmask) {
        (true, true) => !unmask_is_nearer,
        (true, false) => true,
        (false, true) => false,
        (false, false) => private_by_default,
    }
}

/// What the capture reads from an element's live (property) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Not a form control, or one whose state its attributes already show.
    None,
    /// The `value` property, sent as typed.
    Value,
    /// The `value` property's length only: passwords and masked controls.
    MaskedValue,
    /// The `checked` property (checkboxes, radio buttons).
    Checked,
    /// The `selected` property (`<option>`).
    Selected,
}

/// `type` attribute values are ASCII case-insensitive; `PassWord` is a
/// password field too.
pub fn is_password_type(input_type: &str) -> bool {
    input_type.eq_ignore_ascii_case("password")
}

/// Decides what to read from an HTML element's live state.
///
/// `tag` is the lower-case local name; `input_type` is the `type` attribute
/// (empty when absent); `password` is true when the element is, or ever was,
/// a password field (see `serialize.rs`: a "show password" toggle must not
/// unmask it); `masked` is true when a mask rule covers the element.
pub fn control_kind(tag: &str, input_type: &str, password: bool, masked: bool) -> Control {
    match tag {
        "input" => {
            if password || is_password_type(input_type) {
                return Control::MaskedValue;
            }
            let t = input_type.to_ascii_lowercase();
            match t.as_str() {
                // Which box is ticked is an answer too ("any medical
                // condition?"): under a mask it stays on the page.
                "checkbox" | "radio" if masked => Control::None,
                "checkbox" | "radio" => Control::Checked,
                // A file input's value is a local path; buttons' and hidden
                // inputs' values are their attribute, already sent.
                "file" | "hidden" | "submit" | "reset" | "button" | "image" => Control::None,
                _ if masked => Control::MaskedValue,
                _ => Control::Value,
            }
        }
        "textarea" | "select" if masked => Control::MaskedValue,
        "textarea" | "select" => Control::Value,
        "option" if masked => Control::None,
        "option" => Control::Selected,
        _ => Control::None,
    }
}

/// Whether the `value` attribute of this element must be replaced by stars:
/// the attribute is the control's default value, as secret as the typed one.
pub fn masks_value_attr(tag: &str, control: Control) -> bool {
    control == Control::MaskedValue && (tag == "input" || tag == "textarea")
}

/// `n` placeholder characters.
pub fn stars(n: u32) -> String {
    "*".repeat(n as usize)
}

/// Masked text keeps its whitespace (so the layout stays close) and shows
/// every other character as `*`.
pub fn mask_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_whitespace() { c } else { '*' })
        .collect()
}

/// Elements whose text is the site's code, not the visitor's data: it is
/// sent as is even under a mask (a `<style>` turned to stars would unstyle
/// the mirror; a `<script>`'s text is never sent at all).
pub fn text_is_code(parent_tag: &str) -> bool {
    parent_tag.eq_ignore_ascii_case("style")
}

/// What happens to one attribute before it leaves the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrRule {
    /// Sent as written.
    Keep,
    /// A URL attribute, made absolute (see [`UrlAttr`]).
    Url(UrlAttr),
    /// A URL attribute of a masked element: made absolute, then only its
    /// origin and path are kept (see [`strip_url`]).
    MaskedUrl(UrlAttr),
    /// `n` stars, `n` the value's length read in JS (a password's value
    /// attribute never enters Rust).
    Stars,
    /// Masked as text: every non-whitespace character becomes `*`.
    MaskText,
    /// A masked element's `style` attribute: its `url()`s keep only origin
    /// and path, its quoted strings become stars (see [`mask_style`]).
    MaskedStyle,
    /// Not sent at all (its presence alone says something).
    Drop,
}

/// `aria-*` attributes whose values are tokens, numbers of the widget's
/// structure or id references, never the visitor's words: they style and
/// lay out the page, so they stay even under a mask. Every other `aria-*`
/// (label, description, valuetext, valuenow…) is masked.
const ARIA_TOKENS: &[&str] = &[
    "aria-activedescendant",
    "aria-atomic",
    "aria-autocomplete",
    "aria-busy",
    "aria-checked",
    "aria-colcount",
    "aria-colindex",
    "aria-colspan",
    "aria-controls",
    "aria-current",
    "aria-describedby",
    "aria-details",
    "aria-disabled",
    "aria-dropeffect",
    "aria-errormessage",
    "aria-expanded",
    "aria-flowto",
    "aria-grabbed",
    "aria-haspopup",
    "aria-hidden",
    "aria-invalid",
    "aria-labelledby",
    "aria-level",
    "aria-live",
    "aria-modal",
    "aria-multiline",
    "aria-multiselectable",
    "aria-orientation",
    "aria-owns",
    "aria-posinset",
    "aria-pressed",
    "aria-readonly",
    "aria-relevant",
    "aria-required",
    "aria-rowcount",
    "aria-rowindex",
    "aria-rowspan",
    "aria-selected",
    "aria-setsize",
    "aria-sort",
];

/// Attributes that hold words a person reads (or a page stores) rather than
/// structure.
const TEXT_ATTRS: &[&str] = &[
    "value",
    "placeholder",
    "title",
    "alt",
    "label",
    "summary",
    "abbr",
    "content",
    "srcdoc",
    "download",
];

/// Decides how an attribute is sent. `name` is as `Attr.name` gives it;
/// `star_value`: the element is a masked input/textarea (see
/// [`masks_value_attr`]); `masked`: a mask covers the element.
pub fn attr_rule(name: &str, star_value: bool, masked: bool) -> AttrRule {
    if star_value && name == "value" {
        return AttrRule::Stars;
    }
    let url = url_attr(name);
    if !masked {
        return match url {
            UrlAttr::No => AttrRule::Keep,
            kind => AttrRule::Url(kind),
        };
    }
    if url != UrlAttr::No {
        return AttrRule::MaskedUrl(url);
    }
    let lower = name.to_ascii_lowercase();
    if lower == "checked" || lower == "selected" {
        return AttrRule::Drop;
    }
    if lower == "style" {
        return AttrRule::MaskedStyle;
    }
    if lower.starts_with("data-")
        || lower.starts_with("on")
        || (lower.starts_with("aria-") && !ARIA_TOKENS.contains(&lower.as_str()))
        || TEXT_ATTRS.contains(&lower.as_str())
    {
        return AttrRule::MaskText;
    }
    AttrRule::Keep
}

/// A masked element's URL, made absolute already: only `http(s)` origin and
/// path survive; the query and fragment (where sites put ids, names, tokens)
/// do not. Any other scheme (`data:`, `blob:`, `mailto:`, `tel:`,
/// `javascript:`) carries its content in what would be the path, so it
/// becomes empty.
pub fn strip_url(url: &str) -> String {
    let url = url.trim();
    let lower_start: String = url.chars().take(8).collect::<String>().to_ascii_lowercase();
    if !(lower_start.starts_with("http://") || lower_start.starts_with("https://")) {
        return String::new();
    }
    let end = url.find(['?', '#']).unwrap_or(url.len());
    url[..end].to_owned()
}

/// A masked element's `style` attribute: the declarations stay (the layout
/// needs them), but a background's `url(/avatar.png?user=jane)` keeps only
/// its origin and path (as a masked `src` does: `strip` is [`strip_url`]
/// after resolving), and a custom property's quoted strings
/// (`--name: "Jane"`, where scripts keep data) become stars of their
/// length; other properties' strings are the site's (`font-family: "Open
/// Sans"`) and stay, so the mirror keeps its fonts. Comments are dropped. Never fails: text it does
/// not understand is copied, and an unterminated `url(` or string runs to
/// the end, masked.
pub fn mask_style(style: &str, strip: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(style.len());
    // Where the current declaration starts in `out`.
    let mut declaration = 0;
    let mut rest = style;
    while !rest.is_empty() {
        let lower_start = rest.get(..4).map(str::to_ascii_lowercase);
        if rest.starts_with("/*") {
            rest = rest[2..].find("*/").map_or("", |end| &rest[2 + end + 2..]);
        } else if lower_start.as_deref() == Some("url(") {
            let inner = &rest[4..];
            let (raw, after) = match url_end(inner) {
                Some(end) => (&inner[..end], &inner[end + 1..]),
                None => (inner, ""),
            };
            let url = raw.trim().trim_matches(['"', '\'']);
            out.push_str("url(\"");
            out.push_str(&strip(url).replace(['"', '\\', '\n'], ""));
            out.push_str("\")");
            rest = after;
        } else if let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
            let body = &rest[1..];
            let end = body.find(quote).unwrap_or(body.len());
            let custom = out
                .get(declaration..)
                .and_then(|d| d.split(':').next())
                .is_some_and(|p| p.trim().starts_with("--"));
            out.push(quote);
            if custom {
                out.push_str(&mask_text(&body[..end]));
            } else {
                out.push_str(&body[..end]);
            }
            out.push(quote);
            rest = body.get(end + 1..).unwrap_or("");
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            if c == ';' {
                declaration = out.len();
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Where the `)` closing a `url(` is, in the text after `url(`; quotes
/// inside are skipped over.
fn url_end(inner: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in inner.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ')') => return Some(i),
            _ => {}
        }
    }
    None
}

/// The attributes of the box that stands in for a blocked element: `id` and
/// `class` (so the page's CSS lays the box out where the element was), the
/// element's size, and [`BLOCKED_ATTR`]. `attrs` are the element's own
/// (name, value) pairs; `inline`: its computed `display` is `inline` (an
/// inline box ignores a width, so it becomes `inline-block`).
pub fn blocked_box_attrs<'a>(
    attrs: impl IntoIterator<Item = (&'a str, &'a str)>,
    width: f64,
    height: f64,
    inline: bool,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = attrs
        .into_iter()
        .filter(|(name, _)| *name == "id" || *name == "class")
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    let mut style = String::from("width:");
    push_css_px(&mut style, width);
    style.push_str("px!important;height:");
    push_css_px(&mut style, height);
    style.push_str(
        "px!important;box-sizing:border-box!important;\
         min-width:0!important;min-height:0!important;max-width:none!important;\
         max-height:none!important;overflow:hidden!important;\
         background:repeating-linear-gradient(45deg,#d5d8dc 0 6px,#eceef0 6px 12px)!important",
    );
    if inline {
        style.push_str(";display:inline-block!important");
    }
    out.push(("style".to_owned(), style));
    out.push((BLOCKED_ATTR.to_owned(), String::new()));
    out
}

/// Appends a non-negative CSS length in px with at most three decimals
/// (finer than a browser's 1/64 px layout unit); NaN, infinities and
/// negatives become 0. Written by hand because `f64`'s `Display` pulls
/// Rust's float formatting (~17 KB of wasm) into the visitor's script.
pub(crate) fn push_css_px(out: &mut String, v: f64) {
    let v = if v.is_finite() && v > 0.0 {
        v.min(1e9)
    } else {
        0.0
    };
    // Exact for v ≤ 1e9: the product stays well under 2^53.
    let thousandths = (v * 1000.0).round() as u64;
    out.push_str(&(thousandths / 1000).to_string());
    let mut frac = thousandths % 1000;
    if frac > 0 {
        out.push('.');
        let mut digits = 3;
        while frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
        let text = frac.to_string();
        for _ in text.len()..digits {
            out.push('0');
        }
        out.push_str(&text);
    }
}

/// How an attribute's value is rewritten before it leaves the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlAttr {
    No,
    /// One URL, made absolute against the document's base URL.
    Single,
    /// A `srcset`: every candidate's URL is made absolute.
    Srcset,
}

/// Attributes that hold URLs. Names are as `Attr.name` gives them (HTML
/// attributes lower-case, `xlink:href` with its prefix).
pub fn url_attr(name: &str) -> UrlAttr {
    match name {
        "href" | "src" | "action" | "formaction" | "poster" | "cite" | "data" | "background"
        | "xlink:href" => UrlAttr::Single,
        "srcset" => UrlAttr::Srcset,
        _ => UrlAttr::No,
    }
}

/// Rewrites every candidate URL of a `srcset` with `resolve` (which returns
/// `None` for a URL it cannot parse: that one is kept as written).
///
/// Follows the HTML parsing rules closely enough for real pages: a URL is a
/// run of non-whitespace; a URL ending in commas ends its candidate; the
/// descriptors run to the next comma outside parentheses. This keeps data
/// URLs (which contain commas) whole.
pub fn absolutize_srcset(value: &str, mut resolve: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(value.len() + 32);
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
        if rest.is_empty() {
            break;
        }
        let url_end = rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let (raw_url, after) = rest.split_at(url_end);
        let url = raw_url.trim_end_matches(',');
        let ended = url.len() != raw_url.len();
        let mut descriptor = "";
        rest = after;
        if !ended {
            let mut depth = 0u32;
            let mut end = rest.len();
            for (i, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    ',' if depth == 0 => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            descriptor = rest[..end].trim();
            rest = &rest[end..];
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        match resolve(url) {
            Some(abs) => out.push_str(&abs),
            None => out.push_str(url),
        }
        if !descriptor.is_empty() {
            out.push(' ');
            out.push_str(descriptor);
        }
    }
    out
}

#[cfg(test)]
// Tests fail by panicking; that is their job.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "mask_tests.rs"]
mod tests;
