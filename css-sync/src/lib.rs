//! The co-browsing CSS rewriter, shared by the relay (stylesheets it serves to agents from
//! `/res/`) and the agent console (`<style>` text and `style` attributes in the mirror).
//!
//! This file owns the public API and the tables callers rely on (`STATES`). The work is split:
//! `decode` turns stylesheet bytes into text, `rules` walks a stylesheet knowing which block is a
//! rule list and which a declaration list, `selectors` rewrites interaction pseudo-classes in
//! selectors, `values` finds URL references in values, `tokens` is the cursor they all read with,
//! and `edits` splices the changes into the original text. Nothing here does I/O, resolves URLs or decides what a URL becomes: callers do
//! that in `map`.
//!
//! Every entry point is total: any input, however broken, yields a result and never panics,
//! because the same code runs inside the agent's page and on relay connections.

mod decode;
mod edits;
mod rules;
mod selectors;
mod tokens;
mod values;

pub use decode::decode;

/// What a URL reference is, so callers can treat imports differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefKind {
    /// The stylesheet named by an `@import` rule.
    Import,
    /// Any other resource: `url()`, `src()`, `image-set()` strings.
    Url,
}

/// One URL reference found in a stylesheet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The URL as written, escapes decoded, not resolved against any base.
    pub url: String,
    pub kind: RefKind,
}

/// The pseudo-class → attribute the viewer sets on mirrored elements to show the visitor's state.
///
/// The agent's pointer must not trigger the page's `:hover` rules, and the visitor's must; so the
/// rewritten stylesheets match attributes the viewer sets from the visitor's events instead.
pub const STATES: &[(&str, &str)] = &[
    ("hover", "data-cobrowse-hover"),
    ("focus", "data-cobrowse-focus"),
    ("focus-visible", "data-cobrowse-focus"),
    ("focus-within", "data-cobrowse-focus-within"),
    ("active", "data-cobrowse-active"),
];

/// The attribute that stands in for a state pseudo-class (ASCII case-insensitive), if it is one.
pub fn state_attribute(pseudo_class: &str) -> Option<&'static str> {
    STATES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(pseudo_class))
        .map(|(_, attribute)| *attribute)
}

/// Every url()/image-set/@import reference in a stylesheet, in source order (including inside
/// @media, @supports, @font-face src, @layer and nested rules). Empty URLs (`url()`, `url("")`)
/// refer to nothing and are left out; `@namespace` URLs are names, not resources, and are too.
pub fn references(css: &str) -> Vec<Reference> {
    let mut found = Vec::new();
    let mut collect = |url: &str, kind: RefKind| {
        found.push(Reference {
            url: url.to_owned(),
            kind,
        });
        None
    };
    rules::walk_stylesheet(css, &mut collect);
    found
}

/// A stylesheet rewritten: each reference's URL replaced by `map(url_as_written, kind)` when it
/// returns Some (None keeps it), interaction pseudo-classes in selectors rewritten to attribute
/// selectors (see [`STATES`]), `@charset` rules dropped; everything else byte-for-byte as it was.
pub fn rewrite_stylesheet(
    css: &str,
    map: &mut dyn FnMut(&str, RefKind) -> Option<String>,
) -> String {
    let found = rules::walk_stylesheet(css, map);
    edits::apply(css, &found)
}

/// The same for a `style` attribute's declaration list (no selectors, no at-rules).
pub fn rewrite_declarations(
    css: &str,
    map: &mut dyn FnMut(&str, RefKind) -> Option<String>,
) -> String {
    let found = rules::walk_declarations(css, map);
    edits::apply(css, &found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_attribute_is_case_insensitive_and_exact() {
        assert_eq!(state_attribute("HoVeR"), Some("data-cobrowse-hover"));
        assert_eq!(
            state_attribute("focus-visible"),
            Some("data-cobrowse-focus")
        );
        assert_eq!(state_attribute("hovering"), None);
        assert_eq!(state_attribute("visited"), None);
    }
}
