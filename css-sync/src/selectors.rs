//! Interaction pseudo-classes in selectors: `:hover` → `[data-cobrowse-hover]` and the rest of
//! `STATES`. Owns the token-level reading of a selector (pseudo-class vs pseudo-element, into
//! `:is()`/`:not()`/`:has()` and any other functional pseudo, never into `[attr="..."]`). It is
//! only ever handed selector text by `rules`; deciding that text is a selector is not its job.

use cssparser::{Parser, Token};

use crate::edits::Edit;
use crate::state_attribute;
use crate::tokens::{enter, next, pass, skip_block, PreludeEnd, Tok};

/// What the token before the current one was, as far as pseudo-classes care.
#[derive(Clone, Copy)]
enum Before {
    Other,
    /// A single `:` starting at this byte: the next identifier is a pseudo-class.
    Colon(usize),
    /// `::`: the next identifier is a pseudo-element (never rewritten).
    DoubleColon,
}

/// Reads a selector prelude up to its `{` (or its `;` when `stop_at_semicolon`, for preludes in
/// nested blocks where a `;` ends a broken rule) and pushes an edit for every state pseudo-class.
/// The caller keeps the edits only if the prelude turned out to belong to a rule.
pub(crate) fn scan_prelude(
    p: &mut Parser,
    edits: &mut Vec<Edit>,
    stop_at_semicolon: bool,
) -> PreludeEnd {
    let mut before = Before::Other;
    while let Some(tok) = next(p) {
        match tok.token {
            Token::CurlyBracketBlock => return PreludeEnd::Block,
            Token::Semicolon if stop_at_semicolon => return PreludeEnd::Semicolon,
            _ => before = step(p, edits, before, tok),
        }
    }
    PreludeEnd::End
}

/// Selector text inside parentheses (`:is(...)`, `@scope (...)`), read to the end of the block.
fn scan_nested(p: &mut Parser, edits: &mut Vec<Edit>) {
    let mut before = Before::Other;
    while let Some(tok) = next(p) {
        before = step(p, edits, before, tok);
    }
}

/// One selector token: rewrites a state pseudo-class, descends into functions and parentheses.
fn step(p: &mut Parser, edits: &mut Vec<Edit>, before: Before, tok: Tok) -> Before {
    match &tok.token {
        Token::Colon => match before {
            Before::Colon(_) | Before::DoubleColon => Before::DoubleColon,
            Before::Other => Before::Colon(tok.start),
        },
        // A comment between `:` and the name does not separate them once tokenized.
        Token::Comment(_) => before,
        Token::Ident(name) => {
            if let (Before::Colon(colon), Some(attribute)) =
                (before, state_attribute(name.as_ref()))
            {
                edits.push(Edit {
                    start: colon,
                    end: tok.end,
                    text: format!("[{attribute}]"),
                });
            }
            Before::Other
        }
        // Functional pseudo-classes and pseudo-elements take selectors (`:is`, `:not`,
        // `:has`, `:where`, `:nth-child(… of S)`, `:host()`, `::slotted()`); those that take
        // something else hold no `:ident` for this to match.
        Token::Function(_) | Token::ParenthesisBlock => {
            enter(p, |p| scan_nested(p, edits));
            Before::Other
        }
        // `[title=":hover"]` is an attribute value, not a pseudo-class.
        Token::SquareBracketBlock | Token::CurlyBracketBlock => {
            skip_block(p);
            Before::Other
        }
        _ => {
            pass(p, &tok);
            Before::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edits::apply;

    fn rewrite(selector: &str) -> String {
        let mut p = Parser::new(selector);
        let mut edits = Vec::new();
        scan_prelude(&mut p, &mut edits, false);
        apply(selector, &edits)
    }

    #[test]
    fn rewrites_state_pseudo_classes_in_a_prelude() {
        assert_eq!(rewrite("a:hover"), "a[data-cobrowse-hover]");
        assert_eq!(rewrite("a:HOVER::before"), "a[data-cobrowse-hover]::before");
        assert_eq!(
            rewrite(":is(a:focus, b):not(:active) > c:focus-within"),
            ":is(a[data-cobrowse-focus], b):not([data-cobrowse-active]) > c[data-cobrowse-focus-within]"
        );
        assert_eq!(rewrite("a:/**/hover"), "a[data-cobrowse-hover]");
    }

    #[test]
    fn leaves_pseudo_elements_attributes_and_other_pseudos() {
        for same in [
            "a::hover",
            "a:::hover",
            "[title=\":hover\"]",
            "a:visited",
            "a: hover",
            "a:hovered",
            "a:hover-ish",
        ] {
            assert_eq!(rewrite(same), same);
        }
    }
}
