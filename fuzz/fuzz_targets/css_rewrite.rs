//! The relay and the console rewrite stylesheets the visitor's page
//! supplied: any text rewrites without a panic, and with no URL replaced
//! and no interaction pseudo-class in it, the text comes back unchanged
//! (the rewriter edits only what it must).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(css) = std::str::from_utf8(data) else {
        return;
    };
    let _ = css_sync::references(css);
    let mut replace = |url: &str, _kind| Some(format!("/res/{}", url.len()));
    let _ = css_sync::rewrite_stylesheet(css, &mut replace);
    let _ = css_sync::rewrite_declarations(css, &mut replace);
    let mut keep = |_: &str, _kind| None;
    let kept = css_sync::rewrite_stylesheet(css, &mut keep);
    // `@charset` rules are dropped (any case, and spelled with escapes:
    // `@charse\t` is `@charset` too); pseudo-classes need a colon.
    let maybe_charset =
        css.to_ascii_lowercase().contains("charset") || (css.contains('@') && css.contains('\\'));
    if !css.contains(':') && !maybe_charset {
        assert_eq!(kept, css, "nothing to rewrite, yet the text changed");
    }
});
