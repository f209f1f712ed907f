//! Unit tests of the masking decisions (`mask.rs`).

use super::*;

fn fake_resolve(url: &str) -> Option<String> {
    if url.starts_with("http") || url.starts_with("data:") {
        Some(url.to_owned())
    } else if url.contains(' ') {
        None
    } else {
        Some(format!("https://site.test/{}", url.trim_start_matches('/')))
    }
}

#[test]
fn password_inputs_are_masked_whatever_the_case_of_their_type() {
    for ty in ["password", "PASSWORD", "PassWord"] {
        assert_eq!(
            control_kind("input", ty, false, false),
            Control::MaskedValue
        );
    }
}

#[test]
fn an_input_that_was_a_password_stays_masked_after_its_type_changes() {
    assert_eq!(
        control_kind("input", "text", true, false),
        Control::MaskedValue
    );
}

#[test]
fn text_like_inputs_send_their_value_unless_masked() {
    for ty in ["", "text", "email", "search", "number", "TEL"] {
        assert_eq!(
            control_kind("input", ty, false, false),
            Control::Value,
            "{ty}"
        );
        assert_eq!(
            control_kind("input", ty, false, true),
            Control::MaskedValue,
            "{ty}"
        );
    }
    assert_eq!(control_kind("textarea", "", false, false), Control::Value);
    assert_eq!(
        control_kind("textarea", "", false, true),
        Control::MaskedValue
    );
    assert_eq!(
        control_kind("select", "", false, true),
        Control::MaskedValue
    );
}

#[test]
fn checkboxes_radios_and_options_send_their_flags() {
    assert_eq!(
        control_kind("input", "checkbox", false, false),
        Control::Checked
    );
    assert_eq!(
        control_kind("input", "Radio", false, false),
        Control::Checked
    );
    assert_eq!(control_kind("option", "", false, false), Control::Selected);
}

#[test]
fn file_inputs_and_non_controls_send_no_state() {
    assert_eq!(control_kind("input", "file", false, false), Control::None);
    assert_eq!(control_kind("input", "hidden", false, false), Control::None);
    assert_eq!(control_kind("div", "", false, true), Control::None);
}

#[test]
fn value_attribute_is_starred_only_on_masked_inputs_and_textareas() {
    assert!(masks_value_attr("input", Control::MaskedValue));
    assert!(masks_value_attr("textarea", Control::MaskedValue));
    assert!(!masks_value_attr("input", Control::Value));
    assert!(!masks_value_attr("select", Control::MaskedValue));
}

#[test]
fn masked_text_keeps_whitespace_and_length() {
    assert_eq!(mask_text("Jane Doe\n 42"), "**** ***\n **");
    assert_eq!(mask_text("héllo").chars().count(), 5);
    assert_eq!(stars(3), "***");
    assert_eq!(stars(0), "");
}

#[test]
fn url_attributes_are_recognised() {
    for name in [
        "href",
        "src",
        "action",
        "formaction",
        "poster",
        "cite",
        "data",
        "background",
        "xlink:href",
    ] {
        assert_eq!(url_attr(name), UrlAttr::Single, "{name}");
    }
    assert_eq!(url_attr("srcset"), UrlAttr::Srcset);
    assert_eq!(url_attr("class"), UrlAttr::No);
    assert_eq!(url_attr("data-src"), UrlAttr::No);
}

#[test]
fn every_srcset_candidate_is_made_absolute() {
    assert_eq!(
        absolutize_srcset("a.png 1x, /b.png 2x", fake_resolve),
        "https://site.test/a.png 1x, https://site.test/b.png 2x"
    );
    assert_eq!(
        absolutize_srcset("  small.jpg   480w ,large.jpg 1080w  ", fake_resolve),
        "https://site.test/small.jpg 480w, https://site.test/large.jpg 1080w"
    );
    assert_eq!(
        absolutize_srcset("one.png", fake_resolve),
        "https://site.test/one.png"
    );
    assert_eq!(
        absolutize_srcset("one.png, two.png 2x", fake_resolve),
        "https://site.test/one.png, https://site.test/two.png 2x"
    );
    // A comma inside a URL does not split it (only a trailing one does).
    assert_eq!(
        absolutize_srcset("a.png?x=1,2 1x,b.png, c.png", fake_resolve),
        "https://site.test/a.png?x=1,2 1x, https://site.test/b.png, https://site.test/c.png"
    );
    assert_eq!(absolutize_srcset("", fake_resolve), "");
}

#[test]
fn srcset_keeps_data_urls_with_commas_whole() {
    assert_eq!(
        absolutize_srcset("data:image/png;base64,AAA= 1x, b.png 2x", fake_resolve),
        "data:image/png;base64,AAA= 1x, https://site.test/b.png 2x"
    );
}

#[test]
fn the_nearest_marker_decides_and_private_by_default_fills_the_rest() {
    // Inheritance during a walk.
    assert!(masked_here(false, Some(Marker::Mask)));
    assert!(!masked_here(true, Some(Marker::Unmask)));
    assert!(masked_here(true, None));
    assert!(!masked_here(false, None));
    // The same from closest() answers.
    assert!(masked_from_nearest(true, false, false, false));
    assert!(!masked_from_nearest(false, true, false, true));
    assert!(
        !masked_from_nearest(true, true, true, false),
        "unmask inside mask"
    );
    assert!(
        masked_from_nearest(true, true, false, false),
        "mask inside unmask"
    );
    assert!(
        masked_from_nearest(false, false, false, true),
        "private by default"
    );
    assert!(!masked_from_nearest(false, false, false, false));
}

#[test]
fn masked_checkboxes_radios_and_options_send_no_state() {
    assert_eq!(
        control_kind("input", "checkbox", false, true),
        Control::None
    );
    assert_eq!(control_kind("input", "radio", false, true), Control::None);
    assert_eq!(control_kind("option", "", false, true), Control::None);
    // A password stays a masked value whatever the markers say.
    assert_eq!(
        control_kind("input", "password", false, false),
        Control::MaskedValue
    );
}

#[test]
fn unmasked_attributes_are_kept_and_urls_made_absolute() {
    assert_eq!(attr_rule("title", false, false), AttrRule::Keep);
    assert_eq!(attr_rule("data-user", false, false), AttrRule::Keep);
    assert_eq!(
        attr_rule("href", false, false),
        AttrRule::Url(UrlAttr::Single)
    );
    assert_eq!(
        attr_rule("srcset", false, false),
        AttrRule::Url(UrlAttr::Srcset)
    );
    // A password's value attribute is starred wherever it is.
    assert_eq!(attr_rule("value", true, false), AttrRule::Stars);
    assert_eq!(attr_rule("value", false, false), AttrRule::Keep);
}

#[test]
fn every_content_carrying_attribute_of_a_masked_element_is_masked() {
    for name in [
        "value",
        "placeholder",
        "title",
        "alt",
        "label",
        "aria-label",
        "aria-description",
        "aria-valuetext",
        "aria-valuenow",
        "aria-placeholder",
        "ARIA-LABEL",
        "data-customer",
        "data-cobrowse-mask",
        "onclick",
        "srcdoc",
        "content",
    ] {
        assert_eq!(attr_rule(name, false, true), AttrRule::MaskText, "{name}");
    }
    for name in ["href", "src", "action", "xlink:href", "poster"] {
        assert_eq!(
            attr_rule(name, false, true),
            AttrRule::MaskedUrl(UrlAttr::Single),
            "{name}"
        );
    }
    assert_eq!(
        attr_rule("srcset", false, true),
        AttrRule::MaskedUrl(UrlAttr::Srcset)
    );
    assert_eq!(attr_rule("checked", false, true), AttrRule::Drop);
    assert_eq!(attr_rule("selected", false, true), AttrRule::Drop);
    assert_eq!(attr_rule("value", true, true), AttrRule::Stars);
}

#[test]
fn structure_attributes_of_a_masked_element_are_kept() {
    // `style` is kept too, with its URLs and strings masked (below).
    for name in [
        "id",
        "class",
        "type",
        "name",
        "role",
        "width",
        "aria-hidden",
        "aria-expanded",
        "aria-labelledby",
    ] {
        assert_eq!(attr_rule(name, false, true), AttrRule::Keep, "{name}");
    }
}

#[test]
fn masked_urls_keep_origin_and_path_only() {
    assert_eq!(
        strip_url("https://bank.test/statements/2024.pdf?account=12345#row-9"),
        "https://bank.test/statements/2024.pdf"
    );
    assert_eq!(strip_url("HTTP://a.test/x#frag"), "HTTP://a.test/x");
    assert_eq!(strip_url("https://a.test/"), "https://a.test/");
    for other in [
        "data:text/plain,secret",
        "blob:https://a.test/uuid",
        "mailto:jane@example.com",
        "tel:+441234",
        "javascript:alert(1)",
        "relative/secret?x=1",
        "",
    ] {
        assert_eq!(strip_url(other), "", "{other}");
    }
    // Idempotent: a stripped URL stripped again is the same.
    let once = strip_url("https://a.test/p?q=1");
    assert_eq!(strip_url(&once), once);
}

#[test]
fn masking_text_twice_changes_nothing() {
    let once = mask_text("Jane  Doe\t42");
    assert_eq!(mask_text(&once), once);
}

#[test]
fn style_text_is_code_not_data() {
    assert!(text_is_code("style"));
    assert!(text_is_code("STYLE"));
    assert!(!text_is_code("p"));
    assert!(!text_is_code("textarea"));
}

#[test]
fn a_blocked_box_keeps_layout_attributes_and_its_size_only() {
    let attrs = [
        ("id", "ssn"),
        ("class", "field wide"),
        ("title", "Jane's SSN"),
        ("data-ssn", "123-45-6789"),
        ("src", "https://a.test/scan.png?who=jane"),
        ("style", "color:red"),
    ];
    let out = blocked_box_attrs(attrs, 120.5, 30.0, false);
    let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["id", "class", "style", BLOCKED_ATTR]);
    let style = &out[2].1;
    assert!(
        style.starts_with("width:120.5px!important;height:30px!important;"),
        "{style}"
    );
    assert!(!style.contains("inline-block"));
    assert!(!out
        .iter()
        .any(|(_, v)| v.contains("jane") || v.contains("123")));

    let inline = blocked_box_attrs([], f64::NAN, -3.0, true);
    assert!(inline[0]
        .1
        .starts_with("width:0px!important;height:0px!important;"));
    assert!(inline[0].1.ends_with("display:inline-block!important"));
}

#[test]
fn a_masked_elements_style_keeps_layout_but_no_url_query_or_string() {
    assert_eq!(attr_rule("style", false, true), AttrRule::MaskedStyle);
    assert_eq!(attr_rule("style", false, false), AttrRule::Keep);
    let strip = |u: &str| strip_url(&format!("https://shop.test/{}", u.trim_start_matches('/')));
    let style = "width: 8px; background: url(/avatar.png?user=jane#x) no-repeat; \
                 --who: \"Jane Doe\"; /* jane */ mask-image: URL('a.svg?t=1'); \
                 font-family: 'Open Sans'";
    let out = mask_style(style, strip);
    assert_eq!(
        out,
        "width: 8px; background: url(\"https://shop.test/avatar.png\") no-repeat; \
         --who: \"**** ***\";  mask-image: url(\"https://shop.test/a.svg\"); \
         font-family: 'Open Sans'"
    );
    assert!(!out.contains("jane") && !out.contains("Jane"));
    // Other schemes carry their content in the path: nothing is left.
    assert_eq!(
        mask_style("background:url(data:image/png;base64,SECRET)", |u| {
            strip_url(u)
        }),
        "background:url(\"\")"
    );
    // Broken text never panics and never lets the string through.
    for broken in [
        "url(",
        "url('x?jane",
        "--a:\"jane",
        "/* jane",
        "a:b; url(\"jane\\\")",
    ] {
        let out = mask_style(broken, strip_url);
        assert!(!out.contains("jane"), "{broken:?} gave {out:?}");
    }
    assert_eq!(mask_style("color: ré;", strip_url), "color: ré;");
}

#[test]
fn css_px_prints_lengths_like_css_with_at_most_three_decimals() {
    let px = |v: f64| {
        let mut s = String::new();
        push_css_px(&mut s, v);
        s
    };
    assert_eq!(px(0.0), "0");
    assert_eq!(px(30.0), "30");
    assert_eq!(px(120.5), "120.5");
    assert_eq!(px(0.015625), "0.016");
    assert_eq!(px(10.05), "10.05");
    assert_eq!(px(7.0004), "7");
    assert_eq!(px(99.9996), "100");
    assert_eq!(px(-4.0), "0");
    assert_eq!(px(f64::INFINITY), "0");
    assert_eq!(px(1e12), "1000000000");
}
