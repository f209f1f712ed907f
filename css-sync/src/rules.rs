//! The block structure of a stylesheet: which blocks hold rules, which hold declarations, and
//! which hold both (CSS nesting). Owns the choice, for every item of a block, between an at-rule,
//! a style rule (whose prelude goes to `selectors`) and a declaration (whose value goes to
//! `values`), following the CSS Syntax "consume a block's contents" rules so `a:hover{}` nested
//! in a rule is a rule and `--state:hover;` is a declaration. Unknown at-rules are passed over
//! untouched, prelude and block.

use cssparser::{Parser, Token};

use crate::edits::Edit;
use crate::selectors;
use crate::tokens::{
    enter, is_trivia, next, pass, skip_block, skip_prelude, skip_to_semicolon, PreludeEnd, Tok,
};
use crate::values::{scan_import, scan_value, Rewriter};
use crate::RefKind;

/// What a block may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// A rule list: the stylesheet, and group rules (`@media` …) outside style rules.
    Rules,
    /// A style rule's block, and group rules inside one: declarations and nested rules.
    Mixed,
    /// Declarations only: `@font-face`, `@page`, keyframe blocks, `style` attributes.
    Declarations,
    /// `@keyframes`: rules whose preludes are keyframe selectors (`from`, `50%`), not selectors.
    Keyframes,
}

/// Walks a whole stylesheet and returns the edits, in source order.
pub(crate) fn walk_stylesheet(
    css: &str,
    map: &mut dyn FnMut(&str, RefKind) -> Option<String>,
) -> Vec<Edit> {
    let mut rw = Rewriter::new(map);
    let mut p = Parser::new(css);
    walk_body(&mut p, &mut rw, Body::Rules);
    rw.edits
}

/// Walks a `style` attribute's declaration list and returns the edits, in source order.
pub(crate) fn walk_declarations(
    css: &str,
    map: &mut dyn FnMut(&str, RefKind) -> Option<String>,
) -> Vec<Edit> {
    let mut rw = Rewriter::new(map);
    let mut p = Parser::new(css);
    walk_body(&mut p, &mut rw, Body::Declarations);
    rw.edits
}

/// Walks the items of one block (or the stylesheet) to its end.
fn walk_body(p: &mut Parser, rw: &mut Rewriter, body: Body) {
    loop {
        let before = p.state();
        let Some(tok) = next(p) else {
            return;
        };
        match &tok.token {
            t if is_trivia(t) => {}
            Token::Semicolon => {}
            // `<!--` and `-->` are ignored in a stylesheet's rule list (old HTML-hiding habit).
            Token::CDO | Token::CDC if body == Body::Rules => {}
            Token::AtKeyword(name) => at_rule(p, rw, &name.clone(), tok.start, body),
            Token::Ident(_) if body == Body::Declarations => {
                p.reset(&before);
                declaration(p, rw);
            }
            Token::Ident(_) if body == Body::Mixed => {
                p.reset(&before);
                let is_declaration = looks_like_declaration(p);
                p.reset(&before);
                if is_declaration {
                    declaration(p, rw);
                } else {
                    style_rule(p, rw, body);
                }
            }
            // In a declaration list, anything else is a broken declaration: skip it.
            _ if body == Body::Declarations => {
                pass(p, &tok);
                skip_to_semicolon(p);
            }
            _ => {
                p.reset(&before);
                style_rule(p, rw, body);
            }
        }
    }
}

/// The CSS Syntax test for an item of a mixed block that starts with an identifier: it is a
/// declaration when `ident :` follows, unless (for a non-custom property) its value holds a
/// `{}` block alongside anything else, as `a:hover{…}` does. Stops as soon as the answer is
/// known, so a block of many nested rules is still read in linear time. Moves the parser; the
/// caller resets it.
fn looks_like_declaration(p: &mut Parser) -> bool {
    let Some(Tok {
        token: Token::Ident(name),
        ..
    }) = next(p)
    else {
        return false;
    };
    let custom = name.starts_with("--");
    loop {
        match next(p).map(|t| t.token) {
            Some(t) if is_trivia(&t) => {}
            Some(Token::Colon) => break,
            _ => return false,
        }
    }
    if custom {
        return true;
    }
    let mut seen_other = false;
    let mut seen_block = false;
    while let Some(tok) = next(p) {
        match tok.token {
            t if is_trivia(&t) => {}
            Token::Semicolon => return true,
            Token::CurlyBracketBlock => {
                if seen_other || seen_block {
                    return false;
                }
                seen_block = true;
                skip_block(p);
            }
            _ => {
                if seen_block {
                    return false;
                }
                seen_other = true;
                pass(p, &tok);
            }
        }
    }
    true
}

/// A declaration: `name: value;`. Only the value is looked at, for URLs; the `:hover`-like text
/// a value may hold (`--state:hover`, `content:":hover"`) is never a selector.
fn declaration(p: &mut Parser, rw: &mut Rewriter) {
    let mut named = false;
    while let Some(tok) = next(p) {
        match &tok.token {
            Token::Ident(_) if !named => named = true,
            t if is_trivia(t) => {}
            Token::Colon if named => {
                scan_value(p, rw, true);
                return;
            }
            Token::Semicolon => return,
            _ => {
                pass(p, &tok);
                skip_to_semicolon(p);
                return;
            }
        }
    }
}

/// A style rule (or a keyframe rule in `@keyframes`): its prelude, then its block. Edits in the
/// prelude are kept only when a block follows; without one the tokens were never a rule.
fn style_rule(p: &mut Parser, rw: &mut Rewriter, parent: Body) {
    // In nested blocks a `;` ends a broken rule; at the top level it is just part of one.
    let stop_at_semicolon = parent != Body::Rules;
    let mut prelude_edits = Vec::new();
    let (end, block) = if parent == Body::Keyframes {
        (skip_prelude(p), Body::Declarations)
    } else {
        (
            selectors::scan_prelude(p, &mut prelude_edits, stop_at_semicolon),
            Body::Mixed,
        )
    };
    if end == PreludeEnd::Block {
        rw.edits.append(&mut prelude_edits);
        enter(p, |p| walk_body(p, rw, block));
    }
}

/// An at-rule, just after its at-keyword (which started at byte `start`).
fn at_rule(p: &mut Parser, rw: &mut Rewriter, name: &str, start: usize, parent: Body) {
    let name = name.to_ascii_lowercase();
    // Group rules hold what their parent holds: rules at the top, rules and declarations
    // when nested in a style rule.
    let group = if parent == Body::Rules {
        Body::Rules
    } else {
        Body::Mixed
    };
    match name.as_str() {
        // The text is UTF-8 once decoded; a leftover `@charset` would only mislead.
        "charset" => {
            if skip_prelude(p) == PreludeEnd::Block {
                skip_block(p);
            }
            rw.edits.push(Edit {
                start,
                end: p.position().byte_index(),
                text: String::new(),
            });
        }
        "import" => {
            if scan_import(p, rw) == PreludeEnd::Block {
                skip_block(p);
            }
        }
        "media" | "supports" | "layer" | "container" | "starting-style" => {
            after_prelude(p, rw, group);
        }
        // `@scope (.card:hover) to (.content)`: its prelude is selectors.
        "scope" => {
            let mut prelude_edits = Vec::new();
            let end = selectors::scan_prelude(p, &mut prelude_edits, true);
            if end == PreludeEnd::Block {
                rw.edits.append(&mut prelude_edits);
            }
            with_block(p, rw, end, Body::Mixed);
        }
        "keyframes" | "-webkit-keyframes" | "-moz-keyframes" | "-o-keyframes" => {
            after_prelude(p, rw, Body::Keyframes);
        }
        _ if declaration_at_rule(&name) => {
            after_prelude(p, rw, Body::Declarations);
        }
        // Unknown (and `@namespace`, whose URL is a name, not a resource): untouched.
        _ => {
            if skip_prelude(p) == PreludeEnd::Block {
                skip_block(p);
            }
        }
    }
}

/// Skips an at-rule's prelude and walks its block, if it has one.
fn after_prelude(p: &mut Parser, rw: &mut Rewriter, body: Body) {
    let end = skip_prelude(p);
    with_block(p, rw, end, body);
}

/// Walks the block a prelude ended at, if it ended at one.
fn with_block(p: &mut Parser, rw: &mut Rewriter, end: PreludeEnd, body: Body) {
    if end == PreludeEnd::Block {
        enter(p, |p| walk_body(p, rw, body));
    }
}

/// At-rules whose block is a declaration list (which may hold URLs: `@font-face { src }`).
fn declaration_at_rule(name: &str) -> bool {
    const MARGIN_BOXES: &[&str] = &[
        "top-left-corner",
        "top-left",
        "top-center",
        "top-right",
        "top-right-corner",
        "bottom-left-corner",
        "bottom-left",
        "bottom-center",
        "bottom-right",
        "bottom-right-corner",
        "left-top",
        "left-middle",
        "left-bottom",
        "right-top",
        "right-middle",
        "right-bottom",
    ];
    matches!(
        name,
        "font-face"
            | "page"
            | "property"
            | "counter-style"
            | "font-palette-values"
            | "font-feature-values"
            | "view-transition"
            | "position-try"
            | "swash"
            | "annotation"
            | "ornaments"
            | "stylistic"
            | "styleset"
            | "character-variant"
    ) || MARGIN_BOXES.contains(&name)
}
