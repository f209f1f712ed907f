//! Stylesheets as the agent gets them: decoded to UTF-8 whatever their
//! charset, every `url()`/`@import` pointing back at this session's
//! resource path, interaction pseudo-classes turned into the attributes the
//! viewer sets (all by the `css-sync` crate); and the references a
//! stylesheet makes, for asking the visitor to offer them too.
//!
//! Owns: resolving references against the stylesheet's own URL and what
//! they become. Does not own: CSS parsing (`css-sync`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use url::Url;

/// Most references taken from one stylesheet.
const MAX_REFERENCES: usize = 1000;

/// The stylesheet's text, whatever encoding its bytes are in.
pub fn decode(bytes: &[u8], content_type: &str) -> String {
    css_sync::decode(bytes, Some(content_type), None)
}

/// `reference` resolved against `base`: an absolute http(s) URL without
/// fragment, and the fragment it had.
fn resolve(base: &Url, reference: &str) -> Option<(Url, Option<String>)> {
    let mut url = base.join(reference.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let fragment = url.fragment().map(str::to_owned);
    url.set_fragment(None);
    Some((url, fragment))
}

/// The absolute http(s) URLs `css` refers to, each once, in source order.
pub fn references(css: &str, base: &Url) -> Vec<Url> {
    let mut seen = std::collections::HashSet::new();
    css_sync::references(css)
        .into_iter()
        .filter_map(|r| resolve(base, &r.url).map(|(url, _)| url))
        .filter(|url| seen.insert(url.as_str().to_owned()))
        .take(MAX_REFERENCES)
        .collect()
}

/// The path an agent loads `url` from: `{prefix}{base64url(url)}`.
pub fn resource_path(prefix: &str, url: &Url) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(url.as_str()))
}

/// `css` as served to the agent: references through `prefix` (the
/// session's `/res/s/{key}/`), states as attributes, no `@charset`.
pub fn rewrite(css: &str, base: &Url, prefix: &str) -> String {
    css_sync::rewrite_stylesheet(css, &mut |reference, _kind| {
        let (url, fragment) = resolve(base, reference)?;
        let mut path = resource_path(prefix, &url);
        if let Some(fragment) = fragment {
            path.push('#');
            path.push_str(&fragment);
        }
        Some(path)
    })
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://shop.example/css/site.css").expect("url")
    }

    #[test]
    fn references_resolve_against_the_stylesheet_and_skip_data_urls() {
        let css = "@import 'print.css'; a { background: url(../img/a.png#x) } \
                   b { background: url(data:image/png;base64,AA==) } \
                   c { background: url(/img/a.png) }";
        let found: Vec<String> = references(css, &base())
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(
            found,
            [
                "https://shop.example/css/print.css",
                "https://shop.example/img/a.png"
            ]
        );
    }

    #[test]
    fn rewritten_references_go_through_the_prefix_and_keep_fragments() {
        let css = "a:hover { background: url(\"../img/a.svg#icon\") }";
        let out = rewrite(css, &base(), "/res/s/KEY/");
        let b64 = URL_SAFE_NO_PAD.encode("https://shop.example/img/a.svg");
        assert!(out.contains(&format!("/res/s/KEY/{b64}#icon")), "{out}");
        assert!(out.contains("[data-cobrowse-hover]"), "{out}");
        assert!(!out.contains(":hover"), "{out}");
    }
}
