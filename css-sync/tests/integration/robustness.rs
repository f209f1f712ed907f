//! Nothing a page or a relay is handed can make the rewriter panic, recurse without bound or go
//! quadratic: every prefix of every golden file, thousands of seeded random inputs (raw bytes and
//! CSS-flavoured token soup), pathological nesting, and multi-megabyte stylesheets.

use std::time::Instant;

use css_sync::{decode, references, rewrite_declarations, rewrite_stylesheet, RefKind};

use crate::golden::golden_inputs;
use crate::support::*;

/// A small seeded generator (xorshift64*), so failures reproduce without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Runs every entry point on `css`; the test fails if any panics.
fn exercise(css: &str) {
    let _ = rewrite_stylesheet(css, &mut golden_map);
    let _ = rewrite_stylesheet(css, &mut |_, _| None);
    let _ = rewrite_declarations(css, &mut golden_map);
    let _ = references(css);
}

#[test]
fn every_prefix_of_every_golden_file_is_survived() {
    for input in golden_inputs() {
        let css = std::fs::read_to_string(&input).expect("golden input is UTF-8");
        for (at, _) in css.char_indices() {
            exercise(&css[..at]);
            exercise(&css[at..]);
        }
    }
}

#[test]
fn random_bytes_are_survived() {
    let mut rng = Rng(0x5EED_0001);
    let labels = [
        None,
        Some("utf-8"),
        Some("shift_jis"),
        Some("euc-kr"),
        Some("bogus"),
    ];
    for _ in 0..3000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let content_type = labels[rng.below(labels.len())].map(|l| format!("text/css;charset={l}"));
        let text = decode(
            &bytes,
            content_type.as_deref(),
            labels[rng.below(labels.len())],
        );
        exercise(&text);
        exercise(&String::from_utf8_lossy(&bytes));
    }
}

/// Pieces that reach every branch of the walker when shuffled together.
const SOUP: &[&str] = &[
    "a",
    "b",
    ".x",
    "#y",
    "&",
    ">",
    "+",
    "~",
    "*",
    " ",
    "\n",
    ":",
    "::",
    ":hover",
    ":HOVER",
    ":focus",
    ":active",
    ":focus-within",
    ":focus-visible",
    ":is(",
    ":not(",
    ":has(",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ";",
    ",",
    "\"",
    "'",
    "\\",
    "/*",
    "*/",
    "url(",
    "url(\"",
    "src(",
    "image-set(",
    "-webkit-image-set(",
    "x.png",
    "\"q.png\"",
    "'s.png'",
    " 1x",
    "@import ",
    "@media ",
    "@supports ",
    "@layer ",
    "@container ",
    "@scope ",
    "@font-face",
    "@keyframes k",
    "@page",
    "@charset \"x\";",
    "@namespace ",
    "@foo ",
    "--v:",
    "color:",
    "!important",
    "<!--",
    "-->",
    "%",
    "50%",
    "from",
    "to",
    "data:x",
    "é",
    "\u{FFFD}",
    "\0",
    "\\a ",
    "\r\n",
];

fn soup(rng: &mut Rng, pieces: usize) -> String {
    (0..pieces).map(|_| SOUP[rng.below(SOUP.len())]).collect()
}

#[test]
fn random_css_soup_is_survived() {
    let mut rng = Rng(0x5EED_0002);
    for _ in 0..4000 {
        let pieces = 1 + rng.below(60);
        exercise(&soup(&mut rng, pieces));
    }
}

#[test]
fn random_css_soup_keeps_its_references_and_structure_through_a_rewrite() {
    // What `map` returned is what a re-parse finds, wherever a reference sat, and the blocks
    // are where they were: neither a quoted replacement nor an attribute selector changes how
    // the text around it parses.
    let mut rng = Rng(0x5EED_0003);
    for _ in 0..3000 {
        let pieces = 1 + rng.below(40);
        let css = soup(&mut rng, pieces);
        let out = rewrite_stylesheet(&css, &mut golden_map);
        assert_eq!(
            stylesheet_references(&out),
            mapped(stylesheet_references(&css)),
            "input: {css:?}\noutput: {out:?}"
        );
        if !css.to_ascii_lowercase().contains("@charset") {
            assert_eq!(
                skeleton(&out),
                skeleton(&css),
                "input: {css:?}\noutput: {out:?}"
            );
        }
    }
}

#[test]
fn deep_nesting_is_survived() {
    for open in [
        "(",
        "{",
        "[",
        ":is(",
        "a{",
        "@media x{",
        "url(",
        "image-set(",
        ".x{&:hover{",
    ] {
        let css = open.repeat(20_000);
        exercise(&css);
        exercise(&format!("{css}a:hover{{b:url(x.png)}}"));
    }
}

fn time<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    eprintln!("{what}: {:?}", start.elapsed());
    out
}

#[test]
fn a_five_megabyte_stylesheet_is_rewritten() {
    let rule = ".menu li:hover > a:focus, .x:is(.y:active) { background: url(img/a.png) no-repeat; color: red }\n";
    let css = rule.repeat(5 * 1024 * 1024 / rule.len());
    let out = time("5 MB of rules", || {
        rewrite_stylesheet(&css, &mut golden_map)
    });
    assert!(out.len() > css.len());
    assert!(!out.contains(":hover"));
    assert_eq!(references(&css).len(), css.len() / rule.len());
}

#[test]
fn one_rule_holding_megabytes_of_nested_rules_is_rewritten() {
    // Every nested `a:hover{}` is first tried as a declaration (CSS Syntax); that trial must
    // stop at the rule's block, not run on to the end of the parent block.
    let nested = "a:hover{b:url(x.png)} ";
    let css = format!(".p{{{}}}", nested.repeat(5 * 1024 * 1024 / nested.len()));
    let out = time("5 MB nested", || rewrite_stylesheet(&css, &mut golden_map));
    assert!(!out.contains(":hover"));
    assert!(out.contains("a[data-cobrowse-hover]{b:url(\"/res/url/x.png\")}"));
}

#[test]
fn megabyte_values_and_declaration_lists_are_rewritten() {
    let value = format!("a{{b:{}}}", "url(x.png), ".repeat(400_000));
    let out = time("5 MB value", || rewrite_stylesheet(&value, &mut golden_map));
    assert_eq!(references(&out).len(), 400_000);
    let decls = "background:url(x.png);--s:hover;".repeat(160_000);
    let out = time("5 MB style attribute", || {
        rewrite_declarations(&decls, &mut |_, _| Some("y".into()))
    });
    assert_eq!(out.matches("url(\"y\")").count(), 160_000);
    let garbage = "a:hover ".repeat(700_000);
    time("5 MB prelude without a block", || exercise(&garbage));
    let bytes = "a{content:\"日本語\"}".repeat(300_000);
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&bytes);
    let text = time("5 MB Shift_JIS decode", || {
        decode(&sjis, Some("text/css; charset=Shift_JIS"), None)
    });
    assert_eq!(text, bytes);
    let _ = RefKind::Url;
}
