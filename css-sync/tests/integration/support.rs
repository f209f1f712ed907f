//! Helpers shared by the integration tests: the mapping the goldens use and checks that a
//! rewritten stylesheet still parses as the same stylesheet.

use css_sync::{references, rewrite_declarations, rewrite_stylesheet, RefKind};

/// The goldens' mapping: every URL but `data:` becomes `/res/<kind>/<url as written>`, so the
/// expected files show both what was found and how it was written back.
pub fn golden_map(url: &str, kind: RefKind) -> Option<String> {
    if url.starts_with("data:") {
        return None;
    }
    let kind = match kind {
        RefKind::Import => "import",
        RefKind::Url => "url",
    };
    Some(format!("/res/{kind}/{url}"))
}

pub fn rewrite_with_golden_map(css: &str) -> String {
    rewrite_stylesheet(css, &mut golden_map)
}

/// Every reference `rewrite_declarations` reports, in order.
pub fn declaration_references(css: &str) -> Vec<(String, RefKind)> {
    let mut found = Vec::new();
    rewrite_declarations(css, &mut |url, kind| {
        found.push((url.to_owned(), kind));
        None
    });
    found
}

pub fn stylesheet_references(css: &str) -> Vec<(String, RefKind)> {
    references(css)
        .into_iter()
        .map(|r| (r.url, r.kind))
        .collect()
}

/// The references a rewrite should leave: each mapped to what `golden_map` said.
pub fn mapped(refs: Vec<(String, RefKind)>) -> Vec<(String, RefKind)> {
    refs.into_iter()
        .map(|(url, kind)| (golden_map(&url, kind).unwrap_or(url), kind))
        .collect()
}

/// The block structure of a stylesheet as cssparser reads it: every `{}`, `()` and `;`, at every
/// depth. A rewrite that changed how the text parses (an unescaped quote or `)` in a URL, a
/// selector edit that swallowed a bracket) changes this. `[]` blocks and `url()` are left out:
/// rewriting adds attribute selectors and turns `url(x)` into `url("x")`, both on purpose.
pub fn skeleton(css: &str) -> String {
    let mut out = String::new();
    let mut parser = cssparser::Parser::new(css);
    walk(&mut parser, &mut out);
    out
}

fn walk(p: &mut cssparser::Parser, out: &mut String) {
    use cssparser::Token;
    while let Ok(token) = p.next_including_whitespace() {
        let close = match token {
            Token::CurlyBracketBlock => Some(('{', '}')),
            Token::Function(name) if name.eq_ignore_ascii_case("url") => None,
            Token::ParenthesisBlock | Token::Function(_) => Some(('(', ')')),
            Token::Semicolon => {
                out.push(';');
                None
            }
            _ => None,
        };
        if let Some((open, close)) = close {
            out.push(open);
            let _ = p.parse_nested_block(|p| -> Result<(), cssparser::ParseError<()>> {
                walk(p, out);
                Ok(())
            });
            out.push(close);
        }
    }
}
