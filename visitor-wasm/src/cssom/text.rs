//! Small text work on CSS the page wrote through the CSSOM: making the URLs
//! in a rule absolute against its sheet's base, and encoding a font's bytes
//! as a `data:` URL.
//!
//! Owns: those pure functions (tested natively). Does not own: resolving a
//! URL (the caller passes the browser's resolver) or reading rules.
//!
//! Rule text here is what the browser serializes (`CSSRule.cssText`:
//! `url("…")` with `"` and `\` escaped, `@import url("…")`), but a FontFace
//! source is the page's own string, so all three `url()` spellings are read.

/// `css` with every `url(…)` whose URL `resolve` makes absolute replaced by
/// `url("absolute")`; `data:` URLs and anything unresolvable are kept as
/// written. Never fails: unterminated input is copied as it is.
pub fn absolute_urls(css: &str, resolve: &mut dyn FnMut(&str) -> Option<String>) -> String {
    let lower = css.to_ascii_lowercase();
    let mut out = String::with_capacity(css.len() + 32);
    let mut at = 0;
    while let Some(found) = lower[at..].find("url(") {
        let open = at + found + 4;
        // `url(` inside an identifier (`myurl(`) is not a URL.
        let ident_before = css[..at + found]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let Some((raw, end)) = (!ident_before).then(|| url_body(css, open)).flatten() else {
            out.push_str(&css[at..open]);
            at = open;
            continue;
        };
        out.push_str(&css[at..at + found]);
        let url = raw.trim();
        let resolved = if url.is_empty()
            || url
                .get(..5)
                .is_some_and(|s| s.eq_ignore_ascii_case("data:"))
        {
            None
        } else {
            resolve(url)
        };
        match resolved {
            Some(abs) => {
                out.push_str("url(\"");
                for c in abs.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push_str("\")");
            }
            None => out.push_str(&css[at + found..end]),
        }
        at = end;
    }
    out.push_str(&css[at..]);
    out
}

/// The URL inside `url(` starting at byte `open` (escapes decoded) and the
/// byte just past the closing `)`, or `None` if it never closes.
fn url_body(css: &str, open: usize) -> Option<(String, usize)> {
    let rest = &css[open..];
    let trimmed = rest.trim_start();
    let skipped = rest.len() - trimmed.len();
    let mut chars = trimmed.char_indices();
    let quote = match trimmed.chars().next() {
        Some(q @ ('"' | '\'')) => {
            chars.next();
            Some(q)
        }
        _ => None,
    };
    let mut url = String::new();
    let mut escaped = false;
    for (i, c) in chars.by_ref() {
        if escaped {
            url.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if Some(c) == quote {
            // After the closing quote, only spaces before `)`.
            let tail = &trimmed[i + 1..];
            let close = tail.find(')')?;
            if !tail[..close].trim().is_empty() {
                return None;
            }
            return Some((url, open + skipped + i + 1 + close + 1));
        } else if quote.is_none() && c == ')' {
            return Some((url, open + skipped + i + 1));
        } else {
            url.push(c);
        }
    }
    None
}

/// `bytes` as a `data:` URL, or `None` above `cap` bytes (a font that large
/// would hold up every event behind it).
pub fn data_url(mime: &str, bytes: &[u8], cap: usize) -> Option<String> {
    if bytes.len() > cap {
        return None;
    }
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(mime.len() + 13 + bytes.len().div_ceil(3) * 4);
    out.push_str("data:");
    out.push_str(mime);
    out.push_str(";base64,");
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str) -> Option<String> {
        if url.contains("://") {
            Some(url.to_owned())
        } else {
            Some(format!(
                "https://site.test/css/{}",
                url.trim_start_matches("./")
            ))
        }
    }

    #[test]
    fn urls_in_browser_serialized_rules_become_absolute() {
        let rule = r#".a { background: url("img/x.png") no-repeat; }"#;
        assert_eq!(
            absolute_urls(rule, &mut base),
            r#".a { background: url("https://site.test/css/img/x.png") no-repeat; }"#
        );
    }

    #[test]
    fn every_spelling_of_url_is_read() {
        let src = "url(a.woff2) format(\"woff2\"), url('b.woff'), URL( \"c.ttf\" )";
        assert_eq!(
            absolute_urls(src, &mut base),
            "url(\"https://site.test/css/a.woff2\") format(\"woff2\"), \
             url(\"https://site.test/css/b.woff\"), url(\"https://site.test/css/c.ttf\")"
        );
    }

    #[test]
    fn data_urls_absolute_urls_and_broken_text_are_kept() {
        let data = ".a { background: url(\"data:image/png;base64,AA==\") }";
        assert_eq!(absolute_urls(data, &mut base), data);
        let abs = ".a { background: url(\"https://cdn.test/x.png\") }";
        assert_eq!(absolute_urls(abs, &mut base), abs);
        let broken = ".a { background: url(\"never-closed";
        assert_eq!(absolute_urls(broken, &mut base), broken);
        let ident = ".a { x: myurl(a) }";
        assert_eq!(absolute_urls(ident, &mut base), ident);
    }

    #[test]
    fn quotes_and_backslashes_in_a_resolved_url_are_escaped() {
        let mut odd = |_: &str| Some("https://s.test/a\"b\\c".to_owned());
        assert_eq!(
            absolute_urls("url(x)", &mut odd),
            r#"url("https://s.test/a\"b\\c")"#
        );
    }

    #[test]
    fn an_unresolvable_url_is_left_as_written() {
        let mut none = |_: &str| None;
        assert_eq!(absolute_urls("url( x.png )", &mut none), "url( x.png )");
    }

    #[test]
    fn font_bytes_become_a_base64_data_url_under_the_cap() {
        assert_eq!(
            data_url("font/woff2", b"Man", 10).as_deref(),
            Some("data:font/woff2;base64,TWFu")
        );
        assert_eq!(
            data_url("x/y", b"Ma", 10).as_deref(),
            Some("data:x/y;base64,TWE=")
        );
        assert_eq!(
            data_url("x/y", b"M", 10).as_deref(),
            Some("data:x/y;base64,TQ==")
        );
        assert_eq!(
            data_url("x/y", b"", 10).as_deref(),
            Some("data:x/y;base64,")
        );
        assert_eq!(data_url("x/y", &[0; 11], 10), None);
    }
}
