//! Each rewriting rule on its own, named after the behaviour it pins.

use css_sync::{references, rewrite_declarations, rewrite_stylesheet, RefKind, Reference};

fn states(css: &str) -> String {
    rewrite_stylesheet(css, &mut |_, _| None)
}

fn urls(css: &str) -> String {
    rewrite_stylesheet(css, &mut |url, _| Some(format!("R:{url}")))
}

fn refs(css: &str) -> Vec<(String, RefKind)> {
    references(css)
        .into_iter()
        .map(|r| (r.url, r.kind))
        .collect()
}

fn url(u: &str) -> (String, RefKind) {
    (u.to_owned(), RefKind::Url)
}

fn import(u: &str) -> (String, RefKind) {
    (u.to_owned(), RefKind::Import)
}

#[test]
fn hover_becomes_an_attribute_selector() {
    assert_eq!(states("a:hover{}"), "a[data-cobrowse-hover]{}");
    assert_eq!(
        states("a:focus-visible,b:focus{}"),
        "a[data-cobrowse-focus],b[data-cobrowse-focus]{}"
    );
}

#[test]
fn state_inside_functional_pseudo_classes_is_rewritten() {
    assert_eq!(
        states(":is(a:hover):where(b:active):not(:focus):has(c:focus-within){}"),
        ":is(a[data-cobrowse-hover]):where(b[data-cobrowse-active]):not([data-cobrowse-focus]):has(c[data-cobrowse-focus-within]){}"
    );
}

#[test]
fn state_before_a_pseudo_element_is_rewritten() {
    assert_eq!(
        states("a:hover::before{}"),
        "a[data-cobrowse-hover]::before{}"
    );
}

#[test]
fn state_names_are_case_insensitive() {
    assert_eq!(states("a:HOVER{}"), "a[data-cobrowse-hover]{}");
    assert_eq!(
        states("a:Focus-Within{}"),
        "a[data-cobrowse-focus-within]{}"
    );
}

#[test]
fn states_in_group_rules_are_rewritten() {
    for (open, close) in [
        ("@media screen{", "}"),
        ("@supports (display:grid){", "}"),
        ("@layer x{", "}"),
        ("@container (min-width:1px){", "}"),
        ("@media print{@supports (x:y){", "}}"),
    ] {
        let css = format!("{open}a:hover{{x:y}}{close}");
        let want = format!("{open}a[data-cobrowse-hover]{{x:y}}{close}");
        assert_eq!(states(&css), want);
    }
}

#[test]
fn states_in_nested_rules_are_rewritten() {
    assert_eq!(
        states(".x{&:hover{c:d}}"),
        ".x{&[data-cobrowse-hover]{c:d}}"
    );
    assert_eq!(
        states(".x{a:hover{c:d}}"),
        ".x{a[data-cobrowse-hover]{c:d}}"
    );
    assert_eq!(states(".x{:hover{c:d}}"), ".x{[data-cobrowse-hover]{c:d}}");
    assert_eq!(
        states(".x{color:red;.y:focus{c:d}}"),
        ".x{color:red;.y[data-cobrowse-focus]{c:d}}"
    );
}

#[test]
fn hover_media_feature_is_not_a_pseudo_class() {
    let css = "@media (hover: hover) { a { x: y } } @media (any-hover:hover){}";
    assert_eq!(states(css), css);
}

#[test]
fn pseudo_elements_are_not_rewritten() {
    assert_eq!(states("a::hover{}"), "a::hover{}");
}

#[test]
fn declaration_values_are_not_selectors() {
    for css in [
        "a{--state:hover;}",
        "a{--state:hover}",
        "a{content:\":hover\"}",
        ".x{--s:a:hover{};}",
        ".x{--s:hover{x:y}}",
        "a{grid-area:a:hover}",
    ] {
        assert_eq!(states(css), css);
    }
}

#[test]
fn hover_in_strings_comments_and_urls_is_untouched() {
    for css in [
        "a[title=\"a:hover\"]{}",
        "/* a:hover{} */",
        "a{background:url(a:hover.png)}",
    ] {
        assert_eq!(states(css), css);
    }
}

#[test]
fn unknown_at_rules_pass_through_untouched() {
    let css = "@whatever a:hover { b:hover { background: url(x.png) } }";
    assert_eq!(urls(css), css);
    assert_eq!(refs(css), vec![]);
}

#[test]
fn declaration_blocks_never_rewrite_states() {
    let css = "@font-face{a:hover{x:y}} @page{a:hover{x:y}}";
    assert_eq!(states(css), css);
}

#[test]
fn url_forms_are_all_found_in_order() {
    let css = r#"@import "a.css"; @import url(b.css) screen; @import url('c.css');
        x { background: url(d.png), url("e.png"), url('f.png');
            mask: src("g.svg");
            background-image: image-set("h.png" 1x, url(i.png) 2x),
                -webkit-image-set('j.png' 1x); }"#;
    assert_eq!(
        refs(css),
        vec![
            import("a.css"),
            import("b.css"),
            import("c.css"),
            url("d.png"),
            url("e.png"),
            url("f.png"),
            url("g.svg"),
            url("h.png"),
            url("i.png"),
            url("j.png"),
        ]
    );
}

#[test]
fn references_inside_group_rules_and_font_face_are_found() {
    let css =
        "@media x{a{b:url(1)}} @supports (x:y){a{b:url(2)}} @font-face{src:url(3) format('woff')}
        @layer l{a{b:url(4)}} .n{&:hover{b:url(5)} .m{b:url(6)}}";
    let found: Vec<String> = references(css).into_iter().map(|r| r.url).collect();
    assert_eq!(found, ["1", "2", "3", "4", "5", "6"]);
}

#[test]
fn strings_that_are_not_urls_are_not_references() {
    let css = r#"@font-face{src:local("Font"),url(f.woff2) format("woff2")}
        a{content:"x.png";background:image-set("i.png" type("image/png"))}
        @namespace svg url(http://www.w3.org/2000/svg);"#;
    let found: Vec<String> = references(css).into_iter().map(|r| r.url).collect();
    assert_eq!(found, ["f.woff2", "i.png"]);
}

#[test]
fn url_escapes_are_decoded_before_map() {
    assert_eq!(refs(r"a{b:url(a\(b\).png)}"), vec![url("a(b).png")]);
    assert_eq!(refs(r#"a{b:url("q\"\26 .png")}"#), vec![url("q\"&.png")]);
    assert_eq!(refs(r"@import 'x\'y.css';"), vec![import("x'y.css")]);
}

#[test]
fn replacements_with_parens_and_quotes_stay_valid_css() {
    let tricky = "/res/a)b\"c'd\\e\nf.png";
    let out = rewrite_stylesheet("a{b:url(x.png)}c{d:url('y')}", &mut |_, _| {
        Some(tricky.to_owned())
    });
    assert_eq!(
        out,
        "a{b:url(\"/res/a)b\\\"c'd\\\\e\\a f.png\")}c{d:url(\"/res/a)b\\\"c'd\\\\e\\a f.png\")}"
    );
    assert_eq!(refs(&out), vec![url(tricky), url(tricky)]);
}

#[test]
fn map_returning_none_keeps_the_url_as_written() {
    let css = "a{b:url( 'keep.png' )} c{d:url(data:image/png;base64,AA==)} @import 'i.css';";
    let out = rewrite_stylesheet(css, &mut |url, kind| {
        (kind == RefKind::Import).then(|| format!("R:{url}"))
    });
    assert_eq!(
        out,
        "a{b:url( 'keep.png' )} c{d:url(data:image/png;base64,AA==)} @import \"R:i.css\";"
    );
}

#[test]
fn data_urls_are_passed_to_map() {
    let found = references("a{b:url(data:image/svg+xml;utf8,<svg/>)}");
    assert_eq!(
        found,
        vec![Reference {
            url: "data:image/svg+xml;utf8,<svg/>".into(),
            kind: RefKind::Url
        }]
    );
}

#[test]
fn empty_urls_are_not_references() {
    assert_eq!(refs("a{b:url();c:url('');d:url(\"  \")}"), vec![]);
}

#[test]
fn import_kind_covers_only_the_imported_url() {
    assert_eq!(
        refs("@import url(a.css) supports(background:url(b.png)) screen;"),
        vec![import("a.css")]
    );
}

#[test]
fn charset_rules_are_dropped() {
    assert_eq!(states("@charset \"x\";a{}"), "a{}");
    assert_eq!(states("a{} @CHARSET 'x'; b{}"), "a{}  b{}");
}

#[test]
fn comments_and_spacing_are_kept_byte_for_byte() {
    let css = "/* keep */\n  a  >  b:hover  /*x*/ {\r\n\tcolor : red ; }\n";
    assert_eq!(
        states(css),
        "/* keep */\n  a  >  b[data-cobrowse-hover]  /*x*/ {\r\n\tcolor : red ; }\n"
    );
}

#[test]
fn style_attribute_urls_are_rewritten() {
    let out = rewrite_declarations(
        "background:url(a.png);--s:hover;content:':hover';mask:image-set('m.svg' 1x)",
        &mut |url, _| Some(format!("R:{url}")),
    );
    assert_eq!(
        out,
        "background:url(\"R:a.png\");--s:hover;content:':hover';mask:image-set(\"R:m.svg\" 1x)"
    );
}

#[test]
fn style_attribute_has_no_selectors_to_rewrite() {
    let css = "a:hover{x:url(y.png)}; color: red";
    let out = rewrite_declarations(css, &mut |_, _| None);
    assert_eq!(out, css);
}
