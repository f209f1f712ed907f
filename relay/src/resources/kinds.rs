//! Which resources the relay accepts and serves: images, fonts,
//! stylesheets and media (video, audio), never HTML, script or XML
//! documents, and never bytes that sniff as HTML whatever type they claim.
//!
//! Owns: the content-type allow-list and the HTML sniff. Does not own:
//! where the checks are applied (offers, uploads, fetches and serving all
//! call these).

/// What an accepted resource is, as far as serving goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `text/css`: decoded to UTF-8 and rewritten when served.
    Stylesheet,
    /// Served as stored.
    Plain,
}

/// The type without parameters, lower case: `text/css; charset=x` → `text/css`.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Font types that arrive as `application/*`.
const FONT_APPLICATION_TYPES: [&str; 9] = [
    "application/font-woff",
    "application/font-woff2",
    "application/x-font-woff",
    "application/x-font-ttf",
    "application/x-font-truetype",
    "application/x-font-opentype",
    "application/x-font-otf",
    "application/font-sfnt",
    "application/vnd.ms-fontobject",
];

const FONT_EXTENSIONS: [&str; 5] = [".woff", ".woff2", ".ttf", ".otf", ".eot"];

/// Whether a resource offered as `content_type` is accepted. `url` is its
/// address when known: a font served as `application/octet-stream` is
/// recognised by its extension (without a URL such a type is accepted,
/// the offer having been checked with one).
pub fn check(content_type: &str, url: Option<&url::Url>) -> Option<Kind> {
    let essence = essence(content_type);
    if essence == "text/css" {
        return Some(Kind::Stylesheet);
    }
    let (top, sub) = essence.split_once('/')?;
    let accepted = match top {
        // Media: the page's `<video>`/`<audio>` sources, which the
        // console's copy plays (and seeks in, see `range.rs`).
        "image" | "font" | "video" | "audio" => !sub.is_empty(),
        "application" if FONT_APPLICATION_TYPES.contains(&essence.as_str()) => true,
        "application" if sub == "octet-stream" => url.is_none_or(|url| {
            let path = url.path().to_ascii_lowercase();
            FONT_EXTENSIONS.iter().any(|ext| path.ends_with(ext))
        }),
        _ => false,
    };
    accepted.then_some(Kind::Plain)
}

/// The tags that make bytes HTML in a browser's sniffing (the WHATWG MIME
/// sniffing "HTML" patterns): after leading whitespace, one of these, case
/// insensitive, followed by a space or `>`.
const HTML_TAGS: [&[u8]; 17] = [
    b"<!doctype html",
    b"<html",
    b"<head",
    b"<script",
    b"<iframe",
    b"<h1",
    b"<div",
    b"<font",
    b"<table",
    b"<a",
    b"<style",
    b"<title",
    b"<b",
    b"<body",
    b"<br",
    b"<p",
    b"<!--",
];

/// Whether `bytes` look like an HTML document (an "image" that is really a
/// login page, or a page posing as a font).
pub fn sniffs_as_html(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b'\t' | b'\n' | b'\x0C' | b'\r' | b' '))
        .unwrap_or(bytes.len());
    let head = &bytes[start..];
    HTML_TAGS.iter().any(|tag| {
        head.len() > tag.len()
            && head[..tag.len()].eq_ignore_ascii_case(tag)
            && (tag == b"<!--" || matches!(head[tag.len()], b' ' | b'>'))
    })
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).expect("url")
    }

    #[test]
    fn images_fonts_stylesheets_and_media_only() {
        assert_eq!(
            check("text/css; charset=Shift_JIS", None),
            Some(Kind::Stylesheet)
        );
        assert_eq!(check("image/png", None), Some(Kind::Plain));
        assert_eq!(check("IMAGE/SVG+XML", None), Some(Kind::Plain));
        assert_eq!(check("font/woff2", None), Some(Kind::Plain));
        assert_eq!(check("video/webm", None), Some(Kind::Plain));
        assert_eq!(check("audio/mpeg", None), Some(Kind::Plain));
        assert_eq!(
            check("application/vnd.ms-fontobject", None),
            Some(Kind::Plain)
        );
        for refused in [
            "text/html",
            "application/xhtml+xml",
            "text/javascript",
            "application/javascript",
            "text/xml",
            "application/xml",
            "application/json",
            "text/plain",
            "",
            "image",
            "video/",
        ] {
            assert_eq!(check(refused, None), None, "{refused}");
        }
    }

    #[test]
    fn octet_stream_only_for_font_files() {
        let font = url("https://x.example/f/Inter.WOFF2?v=3");
        let page = url("https://x.example/index");
        assert_eq!(
            check("application/octet-stream", Some(&font)),
            Some(Kind::Plain)
        );
        assert_eq!(check("application/octet-stream", Some(&page)), None);
    }

    #[test]
    fn html_is_sniffed_whatever_it_claims() {
        assert!(sniffs_as_html(b"<!DOCTYPE html><title>Log in</title>"));
        assert!(sniffs_as_html(b"\xEF\xBB\xBF\n  <HTML>"));
        assert!(sniffs_as_html(b"<script>alert(1)</script>"));
        assert!(sniffs_as_html(b"<!-- x --><p>"));
        assert!(!sniffs_as_html(b"\x89PNG\r\n\x1a\n"));
        assert!(!sniffs_as_html(
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"
        ));
        assert!(!sniffs_as_html(b"<?xml version=\"1.0\"?><svg/>"));
        assert!(!sniffs_as_html(b"<a"), "needs the byte after the tag");
        assert!(!sniffs_as_html(b""));
    }
}
