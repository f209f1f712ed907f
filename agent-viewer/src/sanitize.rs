//! What of the visitor's page may exist in the console. Owns: every decision
//! that keeps the mirror data, never code (event-handler attributes, script
//! URLs, inert scripts, meta refresh, attribute namespaces, masked values).
//! Does not own: touching the DOM (the mirror asks, the backend does).
//!
//! The iframe's sandbox already blocks scripts; these rules are the second
//! wall, so that a sandbox mistake alone never runs the visitor's code in the
//! agent's console. Tag names are kept as they are: the mirror's DOM must
//! have the visitor's shape.

use protocol::Ns;

/// The `type` an inert script gets: no browser runs a script of this type.
pub const INERT_SCRIPT_TYPE: &str = "application/x-cobrowse-inert";

/// What replaces a URL that would run code.
pub const BLANK_URL: &str = "about:blank";

/// The tag of the element that stands in for one whose tag the DOM refused.
pub const PLACEHOLDER_TAG: &str = "cobrowse-placeholder";

/// A masked value never shows more placeholder characters than this, so a
/// bogus length cannot make the console allocate gigabytes.
pub const MAX_MASKED_LEN: u32 = 256;

const XLINK_URI: &str = "http://www.w3.org/1999/xlink";
const XML_URI: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_URI: &str = "http://www.w3.org/2000/xmlns/";

/// The few element kinds the rules treat differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementKind {
    /// `<script>` in any namespace: kept, but empty and inert.
    Script,
    /// HTML `<meta>`: loses `http-equiv` when it would act (a refresh would
    /// navigate the mirror; set-cookie would write cookies); keeps harmless
    /// ones (`X-UA-Compatible`, `content-type`) so the page keeps its shape.
    Meta,
    /// HTML `<template>`: its children go into its content fragment.
    Template,
    /// Elements that load a document of their own (`iframe`, `frame`,
    /// `object`, `embed`): no `data:` URL either.
    Embedder,
    Other,
}

impl ElementKind {
    pub fn of(tag: &str, ns: &Ns) -> ElementKind {
        let html = *ns == Ns::Html;
        if tag.eq_ignore_ascii_case("script") {
            ElementKind::Script
        } else if html && tag.eq_ignore_ascii_case("meta") {
            ElementKind::Meta
        } else if html && tag.eq_ignore_ascii_case("template") {
            ElementKind::Template
        } else if html
            && ["iframe", "frame", "object", "embed"]
                .iter()
                .any(|t| tag.eq_ignore_ascii_case(t))
        {
            ElementKind::Embedder
        } else {
            ElementKind::Other
        }
    }

    /// Whether children may be added under this element. A script's source
    /// never reaches the console.
    pub fn keeps_children(self) -> bool {
        self != ElementKind::Script
    }
}

/// What to do with one attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrDecision {
    Keep,
    Drop,
    /// Set it, but to this value instead.
    Replace(&'static str),
}

/// Attributes whose value is a URL a browser may load or navigate to.
fn is_url_attr(name: &str) -> bool {
    [
        "href",
        "src",
        "action",
        "formaction",
        "xlink:href",
        "data",
        "poster",
        "background",
        "codebase",
        "cite",
        "ping",
    ]
    .iter()
    .any(|a| name.eq_ignore_ascii_case(a))
}

/// Decides about one attribute of an element of `kind`.
pub fn attr_decision(kind: ElementKind, name: &str, value: &str) -> AttrDecision {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("on") || lower == "srcdoc" {
        return AttrDecision::Drop;
    }
    match kind {
        ElementKind::Script if lower == "type" => return AttrDecision::Replace(INERT_SCRIPT_TYPE),
        ElementKind::Script if is_url_attr(&lower) => return AttrDecision::Drop,
        ElementKind::Meta if lower == "http-equiv" && meta_acts(value) => {
            return AttrDecision::Drop
        }
        _ => {}
    }
    if is_url_attr(&lower) && is_code_url(value, kind == ElementKind::Embedder) {
        return AttrDecision::Replace(BLANK_URL);
    }
    AttrDecision::Keep
}

/// `http-equiv` values that make a document do something (navigate, set
/// cookies) rather than describe itself.
fn meta_acts(value: &str) -> bool {
    let v = value.trim();
    v.eq_ignore_ascii_case("refresh") || v.eq_ignore_ascii_case("set-cookie")
}

/// Whether a URL would run code (or, for an element that embeds a document,
/// load one from `data:`). Browsers ignore ASCII whitespace and control
/// characters inside a scheme (`java\tscript:`) and its case, so this does too.
pub fn is_code_url(value: &str, embedder: bool) -> bool {
    let squeezed: String = value
        .chars()
        .filter(|c| !(c.is_ascii_whitespace() || c.is_ascii_control()))
        .take(32)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    const CODE_SCHEMES: [&str; 6] = [
        "javascript:",
        "vbscript:",
        "data:text/html",
        "data:application/xhtml",
        "data:text/xml",
        "data:application/xml",
    ];
    CODE_SCHEMES.iter().any(|s| squeezed.starts_with(s))
        || (embedder && squeezed.starts_with("data:"))
}

/// The namespace an attribute must be set in: `xlink:href` on an SVG element
/// means nothing to the browser unless it is in the XLink namespace. HTML
/// elements take every attribute without one, as the HTML parser does.
pub fn attr_namespace(element_ns: &Ns, name: &str) -> Option<&'static str> {
    if *element_ns == Ns::Html {
        return None;
    }
    if name.starts_with("xlink:") {
        Some(XLINK_URI)
    } else if name.starts_with("xml:") {
        Some(XML_URI)
    } else if name == "xmlns" || name.starts_with("xmlns:") {
        Some(XMLNS_URI)
    } else {
        None
    }
}

/// What a masked form value shows: one `•` per character, never the value.
pub fn masked_value(len: u32) -> String {
    "•".repeat(len.min(MAX_MASKED_LEN) as usize)
}

/// The markup that gives the rebuilt document the visitor's doctype (and so
/// its rendering mode). Anything that could end the declaration early is
/// removed: this string is parsed, unlike the rest of the mirror.
pub fn doctype_markup(name: &str, public_id: &str, system_id: &str) -> String {
    fn clean(s: &str) -> String {
        s.chars()
            .filter(|c| !matches!(c, '<' | '>' | '"' | '\'') && !c.is_control())
            .collect()
    }
    let name: String = clean(name).chars().filter(|c| !c.is_whitespace()).collect();
    let name = if name.is_empty() {
        "html".to_owned()
    } else {
        name
    };
    let (public_id, system_id) = (clean(public_id), clean(system_id));
    match (public_id.is_empty(), system_id.is_empty()) {
        (true, true) => format!("<!DOCTYPE {name}>"),
        (false, true) => format!("<!DOCTYPE {name} PUBLIC \"{public_id}\">"),
        (false, false) => format!("<!DOCTYPE {name} PUBLIC \"{public_id}\" \"{system_id}\">"),
        (true, false) => format!("<!DOCTYPE {name} SYSTEM \"{system_id}\">"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OTHER: ElementKind = ElementKind::Other;

    #[test]
    fn event_handler_attributes_are_dropped_whatever_their_case() {
        for name in ["onclick", "ONLOAD", "onMouseOver", "onerror", "on"] {
            assert_eq!(
                attr_decision(OTHER, name, "alert(1)"),
                AttrDecision::Drop,
                "{name}"
            );
        }
        assert_eq!(attr_decision(OTHER, "class", "on"), AttrDecision::Keep);
        assert_eq!(attr_decision(OTHER, "data-on", "x"), AttrDecision::Keep);
    }

    #[test]
    fn script_urls_become_about_blank_in_every_spelling() {
        for value in [
            "javascript:alert(1)",
            " JaVaScRiPt:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "\u{1}javascript:alert(1)",
            "j a v a s c r i p t:alert(1)",
            "\u{7f}JAVASCRIPT:x",
            "vbscript:msgbox",
            "data:text/html,<script>alert(1)</script>",
            "DATA:Text/HTML;base64,PHNjcmlwdD4=",
        ] {
            for name in ["href", "src", "action", "formaction", "xlink:href", "HREF"] {
                assert_eq!(
                    attr_decision(OTHER, name, value),
                    AttrDecision::Replace(BLANK_URL),
                    "{name}={value:?}"
                );
            }
        }
    }

    #[test]
    fn ordinary_urls_are_kept() {
        for value in [
            "https://shop.example/cart",
            "/relative/javascript:no",
            "data:image/png;base64,AAAA",
            "data:image/svg+xml;base64,AAAA",
            "#javascript:",
            "",
        ] {
            assert_eq!(
                attr_decision(OTHER, "src", value),
                AttrDecision::Keep,
                "{value:?}"
            );
        }
        // A non-URL attribute may say anything.
        assert_eq!(
            attr_decision(OTHER, "title", "javascript:x"),
            AttrDecision::Keep
        );
    }

    #[test]
    fn embedded_documents_get_no_data_urls() {
        let iframe = ElementKind::of("iframe", &Ns::Html);
        assert_eq!(iframe, ElementKind::Embedder);
        assert_eq!(
            attr_decision(iframe, "src", "data:image/svg+xml,<svg onload=x>"),
            AttrDecision::Replace(BLANK_URL)
        );
        assert_eq!(
            attr_decision(ElementKind::Embedder, "data", "data:text/plain,hi"),
            AttrDecision::Replace(BLANK_URL)
        );
        assert_eq!(
            attr_decision(iframe, "src", "https://video.example/embed"),
            AttrDecision::Keep
        );
    }

    #[test]
    fn srcdoc_is_dropped() {
        let iframe = ElementKind::of("IFRAME", &Ns::Html);
        assert_eq!(
            attr_decision(iframe, "srcdoc", "<p>hi</p>"),
            AttrDecision::Drop
        );
        assert_eq!(attr_decision(iframe, "SrcDoc", ""), AttrDecision::Drop);
    }

    #[test]
    fn meta_refresh_loses_http_equiv() {
        let meta = ElementKind::of("meta", &Ns::Html);
        assert_eq!(meta, ElementKind::Meta);
        assert_eq!(
            attr_decision(meta, "http-equiv", "refresh"),
            AttrDecision::Drop
        );
        assert_eq!(
            attr_decision(meta, "HTTP-EQUIV", "Refresh"),
            AttrDecision::Drop
        );
        assert_eq!(
            attr_decision(meta, "content", "0;url=https://x"),
            AttrDecision::Keep
        );
        assert_eq!(attr_decision(meta, "charset", "utf-8"), AttrDecision::Keep);
        assert_eq!(
            attr_decision(meta, "http-equiv", " Set-Cookie "),
            AttrDecision::Drop
        );
        // Harmless ones stay, so the mirror keeps the page's shape.
        assert_eq!(
            attr_decision(meta, "http-equiv", "X-UA-Compatible"),
            AttrDecision::Keep
        );
    }

    #[test]
    fn scripts_are_kept_but_inert_and_empty() {
        for (tag, ns) in [
            ("script", Ns::Html),
            ("SCRIPT", Ns::Html),
            ("script", Ns::Svg),
        ] {
            let kind = ElementKind::of(tag, &ns);
            assert_eq!(kind, ElementKind::Script);
            assert!(!kind.keeps_children());
            assert_eq!(
                attr_decision(kind, "type", "module"),
                AttrDecision::Replace(INERT_SCRIPT_TYPE)
            );
            assert_eq!(
                attr_decision(kind, "src", "https://cdn/app.js"),
                AttrDecision::Drop
            );
            assert_eq!(
                attr_decision(kind, "xlink:href", "x.js"),
                AttrDecision::Drop
            );
            assert_eq!(attr_decision(kind, "id", "main"), AttrDecision::Keep);
        }
        assert!(ElementKind::of("div", &Ns::Html).keeps_children());
    }

    #[test]
    fn template_is_recognised_only_in_html() {
        assert_eq!(
            ElementKind::of("template", &Ns::Html),
            ElementKind::Template
        );
        assert_eq!(ElementKind::of("template", &Ns::Svg), ElementKind::Other);
        assert_eq!(ElementKind::of("meta", &Ns::Svg), ElementKind::Other);
    }

    #[test]
    fn foreign_attributes_get_their_namespace() {
        assert_eq!(attr_namespace(&Ns::Svg, "xlink:href"), Some(XLINK_URI));
        assert_eq!(attr_namespace(&Ns::Svg, "xml:lang"), Some(XML_URI));
        assert_eq!(attr_namespace(&Ns::MathMl, "xmlns:xlink"), Some(XMLNS_URI));
        assert_eq!(attr_namespace(&Ns::Svg, "viewBox"), None);
        assert_eq!(attr_namespace(&Ns::Html, "xlink:href"), None);
    }

    #[test]
    fn masked_values_show_only_their_length_and_stay_bounded() {
        assert_eq!(masked_value(4), "••••");
        assert_eq!(masked_value(0), "");
        assert_eq!(
            masked_value(u32::MAX).chars().count(),
            MAX_MASKED_LEN as usize
        );
    }

    #[test]
    fn doctype_markup_keeps_the_mode_and_cannot_break_out() {
        assert_eq!(doctype_markup("html", "", ""), "<!DOCTYPE html>");
        assert_eq!(
            doctype_markup("html", "-//W3C//DTD HTML 4.01//EN", "http://www.w3.org/TR/html4/strict.dtd"),
            "<!DOCTYPE html PUBLIC \"-//W3C//DTD HTML 4.01//EN\" \"http://www.w3.org/TR/html4/strict.dtd\">"
        );
        let evil = doctype_markup("html><script>x</script", "\"><img onerror=x>", "");
        assert!(!evil.contains("<script"), "{evil}");
        assert!(!evil[1..evil.len() - 1].contains(['<', '>']), "{evil}");
        assert_eq!(doctype_markup("", "", ""), "<!DOCTYPE html>");
    }
}
