//! URL references inside component values: declaration values and the `@import` prelude.
//! Owns which tokens are URLs (`url(x)`, `url("x")`, `src("x")`, the bare strings of
//! `image-set()`/`-webkit-image-set()`) and how a replacement is written back. Which URL a
//! reference becomes is the caller's `map`; this module only finds and splices.

use cssparser::{Parser, Token};

use crate::edits::{quoted, Edit};
use crate::tokens::{enter, is_trivia, next, pass, PreludeEnd, Tok};
use crate::RefKind;

/// The caller's URL mapping and the edits found so far: what every walker carries.
pub(crate) struct Rewriter<'m> {
    pub edits: Vec<Edit>,
    map: &'m mut dyn FnMut(&str, RefKind) -> Option<String>,
}

/// How the reference was spelled, which decides how its replacement is written.
#[derive(Clone, Copy)]
enum Form {
    /// A whole `url(x)` token: replaced by `url("…")`.
    UrlToken,
    /// A string token (inside `url()`, `src()`, `image-set()` or after `@import`): replaced by
    /// a string.
    String,
}

impl<'m> Rewriter<'m> {
    pub(crate) fn new(map: &'m mut dyn FnMut(&str, RefKind) -> Option<String>) -> Self {
        Rewriter {
            edits: Vec::new(),
            map,
        }
    }

    /// Reports one reference to `map` and records its replacement, if any. Empty URLs name
    /// nothing (browsers treat them as invalid), so they are not references.
    fn reference(&mut self, url: &str, kind: RefKind, tok: &Tok, form: Form) {
        if url.trim().is_empty() {
            return;
        }
        let Some(replacement) = (self.map)(url, kind) else {
            return;
        };
        let text = match form {
            Form::UrlToken => format!("url({})", quoted(&replacement)),
            Form::String => quoted(&replacement),
        };
        self.edits.push(Edit {
            start: tok.start,
            end: tok.end,
            text,
        });
    }
}

/// Whether a function's strings are URLs: `url()`/`src()` (one string) and the image-set family.
fn url_function(name: &str) -> Option<UrlFunction> {
    if name.eq_ignore_ascii_case("url") || name.eq_ignore_ascii_case("src") {
        Some(UrlFunction::Single)
    } else if name.eq_ignore_ascii_case("image-set")
        || name.eq_ignore_ascii_case("-webkit-image-set")
    {
        Some(UrlFunction::ImageSet)
    } else {
        None
    }
}

#[derive(Clone, Copy)]
enum UrlFunction {
    Single,
    ImageSet,
}

/// Reads a value up to the `;` that ends it (when `stop_at_semicolon`) or the end of the block,
/// reporting every URL in it. Returns whether it stopped at a `;`.
pub(crate) fn scan_value(p: &mut Parser, rw: &mut Rewriter, stop_at_semicolon: bool) -> bool {
    while let Some(tok) = next(p) {
        match &tok.token {
            Token::Semicolon if stop_at_semicolon => return true,
            _ => component(p, rw, &tok, RefKind::Url),
        }
    }
    false
}

/// One component value: a URL token, a URL function, or a block to look inside.
fn component(p: &mut Parser, rw: &mut Rewriter, tok: &Tok, kind: RefKind) {
    match &tok.token {
        Token::UnquotedUrl(url) => rw.reference(url, kind, tok, Form::UrlToken),
        Token::Function(name) => match url_function(name) {
            Some(UrlFunction::Single) => enter(p, |p| single_url(p, rw, kind)),
            Some(UrlFunction::ImageSet) => enter(p, |p| image_set(p, rw)),
            None => enter(p, |p| {
                scan_value(p, rw, false);
            }),
        },
        Token::ParenthesisBlock | Token::SquareBracketBlock | Token::CurlyBracketBlock => {
            enter(p, |p| {
                scan_value(p, rw, false);
            })
        }
        _ => pass(p, tok),
    }
}

/// Inside `url(` or `src(` with a quoted argument: the first string is the URL; modifiers after
/// it are left alone.
fn single_url(p: &mut Parser, rw: &mut Rewriter, kind: RefKind) {
    while let Some(tok) = next(p) {
        match &tok.token {
            t if is_trivia(t) => continue,
            Token::QuotedString(url) => rw.reference(url, kind, &tok, Form::String),
            _ => pass(p, &tok),
        }
        return;
    }
}

/// Inside `image-set(`: every top-level string is a URL, and `url()`s may appear too; strings
/// inside its other functions (`type("image/avif")`) are not URLs.
fn image_set(p: &mut Parser, rw: &mut Rewriter) {
    while let Some(tok) = next(p) {
        match &tok.token {
            Token::QuotedString(url) => rw.reference(url, RefKind::Url, &tok, Form::String),
            _ => component(p, rw, &tok, RefKind::Url),
        }
    }
}

/// An `@import` prelude, just after the at-keyword: its first component is the imported URL
/// (a string, `url(x)` or `url("x")`); media queries, `layer()` and `supports()` after it are
/// not. Reads up to the end of the prelude and says how it ended.
pub(crate) fn scan_import(p: &mut Parser, rw: &mut Rewriter) -> PreludeEnd {
    let mut first = true;
    while let Some(tok) = next(p) {
        match &tok.token {
            Token::CurlyBracketBlock => return PreludeEnd::Block,
            Token::Semicolon => return PreludeEnd::Semicolon,
            t if is_trivia(t) => {}
            Token::QuotedString(url) if first => {
                rw.reference(url, RefKind::Import, &tok, Form::String);
                first = false;
            }
            Token::UnquotedUrl(_) if first => {
                component(p, rw, &tok, RefKind::Import);
                first = false;
            }
            Token::Function(name)
                if first && matches!(url_function(name), Some(UrlFunction::Single)) =>
            {
                enter(p, |p| single_url(p, rw, RefKind::Import));
                first = false;
            }
            _ => {
                pass(p, &tok);
                first = false;
            }
        }
    }
    PreludeEnd::End
}
