//! Where the mirrored page's static resources come from. Owns: which
//! attributes of which elements name a resource, and turning a resource's
//! absolute URL into the relay's URL for it in this session
//! (`{relay}/res/s/{key}/{base64url(url)}`), so the agent's browser never
//! needs the customer site's cookies and, with the relay's resource history,
//! never talks to the site at all. Does not own: resolving relative URLs
//! (the DOM backend does, as the browser would), parsing CSS (`css-sync`
//! does; this module only calls it for `<style>` text and `style`
//! attributes), or deciding what is safe to keep (`sanitize` runs first).

use protocol::Ns;

/// What an element loads through its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Loads nothing the resource cache holds (links, forms, iframes…).
    None,
    /// `<img>`: `src`, `srcset`.
    Img,
    /// `<source>` in `<picture>`, `<video>`, `<audio>`: `src`, `srcset`.
    Source,
    /// `<link>`: `href` (stylesheets, icons, preloads).
    Link,
    /// `<input type=image>`: `src`.
    Input,
    /// `<video>`: `src`, `poster`.
    Video,
    /// `<audio>`: `src`.
    Audio,
    /// SVG `<image>`, `<feImage>`: `href`, `xlink:href`.
    SvgImage,
    /// SVG `<use>`: `href`, `xlink:href`, keeping the `#fragment` that
    /// names the symbol.
    SvgUse,
    /// `<style>`: its text is a stylesheet.
    Style,
    /// `<body>`, `<table>`, `<td>`, `<th>`: the legacy `background` attribute.
    Background,
}

impl Role {
    pub fn of(tag: &str, ns: &Ns) -> Role {
        let is = |t: &str| tag.eq_ignore_ascii_case(t);
        match ns {
            Ns::Html if is("img") => Role::Img,
            Ns::Html if is("source") => Role::Source,
            Ns::Html if is("link") => Role::Link,
            Ns::Html if is("input") => Role::Input,
            Ns::Html if is("video") => Role::Video,
            Ns::Html if is("audio") => Role::Audio,
            Ns::Html if is("style") => Role::Style,
            Ns::Html if is("body") || is("table") || is("td") || is("th") => Role::Background,
            Ns::Svg if is("image") || is("feImage") => Role::SvgImage,
            Ns::Svg if is("use") => Role::SvgUse,
            Ns::Svg if is("style") => Role::Style,
            _ => Role::None,
        }
    }

    /// How attribute `name` of this element names resources, if it does.
    pub fn attr(self, name: &str) -> Option<UrlForm> {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        match self {
            Role::Img | Role::Source if is("srcset") => Some(UrlForm::Srcset),
            Role::Img | Role::Source | Role::Input if is("src") => Some(UrlForm::Single),
            Role::Link if is("href") => Some(UrlForm::Single),
            // The media the visitor's page plays: uploaded by the
            // visitor like an image, served with byte ranges for seeking.
            Role::Video if is("poster") || is("src") => Some(UrlForm::Single),
            Role::Audio if is("src") => Some(UrlForm::Single),
            Role::SvgImage if is("href") || is("xlink:href") => Some(UrlForm::Single),
            Role::SvgUse if is("href") || is("xlink:href") => Some(UrlForm::Single),
            Role::Background if is("background") => Some(UrlForm::Single),
            _ => None,
        }
    }
}

/// The shape of a resource attribute's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlForm {
    Single,
    /// `url 1x, url 2x` / `url 480w, …`.
    Srcset,
}

/// The session's resource path on the relay, once the agent is admitted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceUrls {
    /// `{relay origin}/res/s/{key}/`; `None` before admission (URLs are then
    /// left as the visitor's page has them).
    base: Option<String>,
}

impl ResourceUrls {
    pub fn new(base: Option<String>) -> Self {
        ResourceUrls { base }
    }

    pub fn is_active(&self) -> bool {
        self.base.is_some()
    }

    /// The relay's URL for the resource at `absolute` (its fragment kept
    /// after the relay URL). Only http(s) resources and `blob:` URLs of
    /// http(s) pages (the visitor uploads their bytes) go through the
    /// relay: `data:` stays inline, anything else is left alone.
    pub fn url(&self, absolute: &str) -> Option<String> {
        let base = self.base.as_deref()?;
        let trimmed = absolute.trim();
        let lower = trimmed.get(..13).unwrap_or(trimmed).to_ascii_lowercase();
        let inner = lower.strip_prefix("blob:").unwrap_or(&lower);
        if !(inner.starts_with("http://") || inner.starts_with("https://")) {
            return None;
        }
        let (url, fragment) = match trimmed.find('#') {
            Some(at) => trimmed.split_at(at),
            None => (trimmed, ""),
        };
        let mut out = String::with_capacity(base.len() + url.len() * 4 / 3 + 4 + fragment.len());
        out.push_str(base);
        base64url(url.as_bytes(), &mut out);
        out.push_str(fragment);
        Some(out)
    }

    /// A resource attribute's value with every URL in it replaced by the
    /// relay's, each first resolved by `resolve`. `None`: keep the value.
    pub fn attr_value(
        &self,
        form: UrlForm,
        value: &str,
        resolve: &mut dyn FnMut(&str) -> Option<String>,
    ) -> Option<String> {
        // An empty URL loads nothing (`<link href>`, `<img src="">`);
        // resolved, it would become the page's own address.
        if !self.is_active() || value.trim().is_empty() || same_document(value) {
            return None;
        }
        match form {
            UrlForm::Single => self.url(&resolve(value.trim())?),
            UrlForm::Srcset => {
                let mut changed = false;
                let candidates: Vec<String> = split_srcset(value)
                    .map(|(url, descriptor)| {
                        let relay = resolve(url).and_then(|abs| self.url(&abs));
                        changed |= relay.is_some();
                        let url = relay.unwrap_or_else(|| url.to_owned());
                        if descriptor.is_empty() {
                            url
                        } else {
                            format!("{url} {descriptor}")
                        }
                    })
                    .collect();
                changed.then(|| candidates.join(", "))
            }
        }
    }
}

/// Whether a URL is only a fragment (`#icon`): a reference into the
/// mirrored document itself (an SVG `<use>` of a symbol on the page, CSS
/// `fill: url(#gradient)`, which CSS never resolves against a base).
/// Resolved, it would name the visitor's page as another document, and the
/// console would draw nothing.
fn same_document(url: &str) -> bool {
    url.trim_start().starts_with('#')
}

/// Whether a stylesheet may need rewriting: it names a URL or uses an
/// interaction pseudo-class. Most `<style>` elements and nearly all `style`
/// attributes do neither, and skip the parser.
fn css_needs_rewrite(css: &str, selectors: bool) -> bool {
    let lower = css.to_ascii_lowercase();
    lower.contains("url(")
        || lower.contains("image-set(")
        || lower.contains("@import")
        || (selectors
            && css_sync::STATES
                .iter()
                .any(|(pseudo, _)| lower.contains(&format!(":{pseudo}"))))
        || lower.contains('\\')
}

impl ResourceUrls {
    /// A `<style>` element's text for the console: URLs through the relay,
    /// `:hover`-style rules keyed to the attributes the console sets where
    /// the visitor's pointer and focus are. `None`: keep the text.
    pub fn stylesheet(
        &self,
        css: &str,
        resolve: &mut dyn FnMut(&str) -> Option<String>,
    ) -> Option<String> {
        if !css_needs_rewrite(css, true) {
            return None;
        }
        let out = css_sync::rewrite_stylesheet(css, &mut |url, _| self.css_url(url, resolve));
        (out != css).then_some(out)
    }

    /// A `style` attribute for the console: its URLs through the relay (or
    /// at least absolute).
    pub fn declarations(
        &self,
        css: &str,
        resolve: &mut dyn FnMut(&str) -> Option<String>,
    ) -> Option<String> {
        if !css_needs_rewrite(css, false) {
            return None;
        }
        let out = css_sync::rewrite_declarations(css, &mut |url, _| self.css_url(url, resolve));
        (out != css).then_some(out)
    }

    /// A URL in the visitor's CSS for the console: the relay's copy, or
    /// (no resource cache) the original made absolute — relative to the
    /// console it would point nowhere.
    fn css_url(
        &self,
        url: &str,
        resolve: &mut dyn FnMut(&str) -> Option<String>,
    ) -> Option<String> {
        if url.trim_start().to_ascii_lowercase().starts_with("data:") || same_document(url) {
            return None;
        }
        let absolute = resolve(url.trim())?;
        self.url(&absolute).or(Some(absolute))
    }
}

/// `srcset`'s candidates as (url, descriptor). A URL may contain commas
/// (`data:` ones do); a candidate ends at a comma followed by whitespace or
/// after its descriptor, as the HTML parsing rules say.
pub fn split_srcset(value: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = value;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
        if rest.is_empty() {
            return None;
        }
        let url_end = rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let (mut url, after) = rest.split_at(url_end);
        let mut descriptor = "";
        let next;
        if let Some(stripped) = url.strip_suffix(',') {
            // `a.png, b.png`: no descriptor.
            url = stripped.trim_end_matches(',');
            next = after;
        } else {
            let end = after.find(',').unwrap_or(after.len());
            descriptor = after[..end].trim();
            next = &after[end..];
        }
        rest = next;
        Some((url, descriptor))
    })
}

/// URL-safe base64 without padding (RFC 4648 §5), as the relay decodes it.
pub fn base64url(bytes: &[u8], out: &mut String) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let index = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://relay/res/s/KEY/";

    fn urls() -> ResourceUrls {
        ResourceUrls::new(Some(BASE.into()))
    }

    fn b64(s: &str) -> String {
        let mut out = String::new();
        base64url(s.as_bytes(), &mut out);
        out
    }

    #[test]
    fn base64url_matches_the_rfc_vectors_without_padding() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64(input), expected);
        }
        // The URL-safe alphabet: 0xfb 0xff → "-_8".
        let mut out = String::new();
        base64url(&[0xfb, 0xff], &mut out);
        assert_eq!(out, "-_8");
    }

    #[test]
    fn fragment_only_references_stay_in_the_mirrored_document() {
        let u = urls();
        let mut resolve = |url: &str| Some(format!("https://shop.example/page.html{url}"));
        // rrweb's svg.html: `<use xlink:href="#MJMAIN-39">` of a path on the page.
        assert_eq!(
            u.attr_value(UrlForm::Single, " #MJMAIN-39", &mut resolve),
            None
        );
        assert_eq!(
            u.declarations("fill: url(#grad); background: url(a.png)", &mut resolve)
                .as_deref(),
            Some(
                format!(
                    "fill: url(#grad); background: url(\"{BASE}{}\")",
                    b64("https://shop.example/page.htmla.png")
                )
                .as_str()
            )
        );
        assert_eq!(
            u.stylesheet("circle { filter: url('#blur') }", &mut resolve),
            None
        );
    }

    #[test]
    fn http_urls_go_through_the_relay_with_their_fragment_kept() {
        let u = urls();
        assert_eq!(
            u.url("https://shop.example/a.png").as_deref(),
            Some(format!("{BASE}{}", b64("https://shop.example/a.png")).as_str())
        );
        assert_eq!(
            u.url("HTTP://shop.example/sprite.svg#cart").as_deref(),
            Some(format!("{BASE}{}#cart", b64("HTTP://shop.example/sprite.svg")).as_str())
        );
        assert_eq!(
            u.url("blob:https://shop.example/9e1c").as_deref(),
            Some(format!("{BASE}{}", b64("blob:https://shop.example/9e1c")).as_str()),
            "a blob: URL's bytes come from the relay"
        );
        for other in [
            "data:image/png;base64,AAAA",
            "blob:null/1",
            "about:blank",
            "",
        ] {
            assert_eq!(u.url(other), None, "{other}");
        }
        assert_eq!(
            ResourceUrls::default().url("https://shop.example/a.png"),
            None
        );
    }

    #[test]
    fn roles_name_the_attributes_that_load_resources() {
        assert_eq!(
            Role::of("IMG", &Ns::Html).attr("srcset"),
            Some(UrlForm::Srcset)
        );
        assert_eq!(
            Role::of("img", &Ns::Html).attr("src"),
            Some(UrlForm::Single)
        );
        assert_eq!(
            Role::of("link", &Ns::Html).attr("href"),
            Some(UrlForm::Single)
        );
        assert_eq!(
            Role::of("use", &Ns::Svg).attr("xlink:href"),
            Some(UrlForm::Single)
        );
        assert_eq!(
            Role::of("image", &Ns::Svg).attr("href"),
            Some(UrlForm::Single)
        );
        assert_eq!(
            Role::of("video", &Ns::Html).attr("poster"),
            Some(UrlForm::Single)
        );
        assert_eq!(
            Role::of("video", &Ns::Html).attr("src"),
            Some(UrlForm::Single)
        );
        assert_eq!(
            Role::of("audio", &Ns::Html).attr("src"),
            Some(UrlForm::Single)
        );
        assert_eq!(
            Role::of("td", &Ns::Html).attr("background"),
            Some(UrlForm::Single)
        );
        // Navigation and documents are not resources.
        assert_eq!(Role::of("a", &Ns::Html).attr("href"), None);
        assert_eq!(Role::of("iframe", &Ns::Html).attr("src"), None);
        assert_eq!(Role::of("img", &Ns::Html).attr("alt"), None);
        // An HTML <image> is not SVG's.
        assert_eq!(Role::of("image", &Ns::Html), Role::None);
        assert_eq!(Role::of("style", &Ns::Html), Role::Style);
    }

    #[test]
    fn srcset_candidates_are_each_rewritten_with_descriptors_kept() {
        let u = urls();
        let mut resolve = |s: &str| Some(format!("https://shop.example/{s}"));
        let got = u
            .attr_value(UrlForm::Srcset, " a.png 1x,b.png 2x ,  c.png", &mut resolve)
            .expect("rewritten");
        assert_eq!(
            got,
            format!(
                "{BASE}{} 1x, {BASE}{} 2x, {BASE}{}",
                b64("https://shop.example/a.png"),
                b64("https://shop.example/b.png"),
                b64("https://shop.example/c.png")
            )
        );
    }

    #[test]
    fn srcset_splitting_follows_the_html_rules() {
        let split: Vec<_> = split_srcset("a.png 480w, b.png 800w").collect();
        assert_eq!(split, [("a.png", "480w"), ("b.png", "800w")]);
        let split: Vec<_> = split_srcset("a.png, b.png").collect();
        assert_eq!(split, [("a.png", ""), ("b.png", "")]);
        // A data: URL keeps its comma.
        let split: Vec<_> = split_srcset("data:image/png;base64,AAA= 1x, b.png 2x").collect();
        assert_eq!(
            split,
            [("data:image/png;base64,AAA=", "1x"), ("b.png", "2x")]
        );
        assert_eq!(split_srcset(" , ,").count(), 0);
    }

    #[test]
    fn style_text_and_attributes_load_through_the_relay() {
        let u = urls();
        let mut resolve = |s: &str| Some(format!("https://shop.example/{s}"));
        let sheet = u
            .stylesheet(
                ".a { background: url(bg.png) } .b:hover { color: red }",
                &mut resolve,
            )
            .expect("rewritten");
        assert!(
            sheet.contains(&b64("https://shop.example/bg.png")),
            "{sheet}"
        );
        assert!(sheet.contains(".b[data-cobrowse-hover]"), "{sheet}");
        let style = u
            .declarations("background-image: url('p.png'); color: red", &mut resolve)
            .expect("rewritten");
        assert!(
            style.contains(&b64("https://shop.example/p.png")),
            "{style}"
        );
        assert!(style.ends_with("color: red"), "{style}");
        // Nothing to do: the text is kept (and the parser is not run).
        assert_eq!(u.stylesheet("p { color: red }", &mut resolve), None);
        assert_eq!(u.declarations("color: red", &mut resolve), None);
        assert_eq!(
            u.declarations("background: url(data:image/png;base64,AA)", &mut resolve),
            None
        );
        // Hover rules are rewritten even before resources are active.
        let off = ResourceUrls::default();
        assert!(off
            .stylesheet("a:hover{color:red}", &mut resolve)
            .is_some_and(|s| s.contains("a[data-cobrowse-hover]")));
        // Without a resource cache, relative URLs still become absolute: in
        // the console they would resolve against the console's address.
        assert_eq!(
            off.declarations("background: url(x.png)", &mut resolve)
                .as_deref(),
            Some("background: url(\"https://shop.example/x.png\")")
        );
    }

    #[test]
    fn data_urls_in_srcset_stay_inline_and_nothing_active_means_no_change() {
        let u = urls();
        let mut resolve = |s: &str| Some(s.to_owned());
        assert_eq!(
            u.attr_value(
                UrlForm::Srcset,
                "data:image/png;base64,AAA= 1x",
                &mut resolve
            ),
            None
        );
        let off = ResourceUrls::default();
        assert_eq!(
            off.attr_value(UrlForm::Single, "https://shop.example/a.png", &mut resolve),
            None
        );
        for empty in ["", "  "] {
            assert_eq!(u.attr_value(UrlForm::Single, empty, &mut resolve), None);
            assert_eq!(u.attr_value(UrlForm::Srcset, empty, &mut resolve), None);
        }
    }
}
