//! A thin cursor over cssparser's `Parser`: tokens with their byte ranges, and entering or
//! skipping blocks. It owns one invariant the rest of the crate leans on: a block token is always
//! either entered or skipped before the next token is read, so every reported start offset is
//! the token's own (cssparser would otherwise skip the block silently inside the next read).

use cssparser::{ParseError, Parser, Token};

/// One token and where it sits in the source, in bytes.
pub(crate) struct Tok<'i> {
    pub start: usize,
    pub end: usize,
    pub token: Token<'i>,
}

/// The next token, whitespace and comments included; None at the end of the current block.
pub(crate) fn next<'i>(p: &mut Parser<'i>) -> Option<Tok<'i>> {
    let start = p.position().byte_index();
    let token = p.next_including_whitespace_and_comments().ok()?.clone();
    let end = p.position().byte_index();
    Some(Tok { start, end, token })
}

/// Whether `token` opens a block (a function, `(`, `[` or `{`) that must be entered or skipped.
pub(crate) fn opens_block(token: &Token) -> bool {
    matches!(
        token,
        Token::Function(_)
            | Token::ParenthesisBlock
            | Token::SquareBracketBlock
            | Token::CurlyBracketBlock
    )
}

/// Whitespace and comments, which never change what the surrounding tokens mean.
pub(crate) fn is_trivia(token: &Token) -> bool {
    matches!(token, Token::WhiteSpace(_) | Token::Comment(_))
}

/// Runs `walk` over the contents of the block whose opening token was just read, and leaves the
/// parser after its closing token. Only call it right after `next` returned a token for which
/// `opens_block` is true. Blocks nested deeper than cssparser's limit are passed over unvisited,
/// which bounds the recursion on hostile input.
pub(crate) fn enter<'i>(p: &mut Parser<'i>, walk: impl FnOnce(&mut Parser<'i>)) {
    let _ = p.parse_nested_block(|p| -> Result<(), ParseError<()>> {
        walk(p);
        Ok(())
    });
}

/// Moves past the block whose opening token was just read, without looking inside.
pub(crate) fn skip_block(p: &mut Parser) {
    enter(p, |_| {});
}

/// Skips the block `tok` opened, if it opened one; for match arms that do not care about it.
pub(crate) fn pass(p: &mut Parser, tok: &Tok) {
    if opens_block(&tok.token) {
        skip_block(p);
    }
}

/// How a prelude (the part of a rule before its block) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PreludeEnd {
    /// At a `{`, which has been read but not entered.
    Block,
    /// At a `;`, which has been read.
    Semicolon,
    /// At the end of the enclosing block or of the input.
    End,
}

/// Reads tokens up to the `{` or `;` that ends an at-rule prelude (or a keyframe selector),
/// looking at none of them.
pub(crate) fn skip_prelude(p: &mut Parser) -> PreludeEnd {
    while let Some(tok) = next(p) {
        match tok.token {
            Token::CurlyBracketBlock => return PreludeEnd::Block,
            Token::Semicolon => return PreludeEnd::Semicolon,
            _ => pass(p, &tok),
        }
    }
    PreludeEnd::End
}

/// Reads tokens up to and including the next `;` of this block: what is left of a declaration
/// this crate does not look into.
pub(crate) fn skip_to_semicolon(p: &mut Parser) {
    while let Some(tok) = next(p) {
        if tok.token == Token::Semicolon {
            return;
        }
        pass(p, &tok);
    }
}
