//! Masking and rewriting decisions, as plain functions of strings: which
//! form controls carry which live state, when a value must be replaced by its
//! length, how masked text looks, and which attributes hold URLs.
//!
//! Owns: the decisions. Does not own: reading anything from the DOM (that is
//! `serialize.rs`), so every rule here is unit-tested natively.

/// The visitor's own UI element. It and everything inside it is never mirrored.
pub const UI_TAG: &str = "cobrowse-ui";

/// Elements (and their subtrees) whose text and values never leave the page,
/// whatever the options say.
pub const MASK_ATTR_SELECTOR: &str = "[data-cobrowse-mask]";

/// What the capture reads from an element's live (property) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Not a form control, or one whose state its attributes already show.
    None,
    /// The `value` property, sent as typed.
    Value,
    /// The `value` property's length only: passwords and masked controls.
    MaskedValue,
    /// The `checked` property (checkboxes, radio buttons).
    Checked,
    /// The `selected` property (`<option>`).
    Selected,
}

/// `type` attribute values are ASCII case-insensitive; `PassWord` is a
/// password field too.
pub fn is_password_type(input_type: &str) -> bool {
    input_type.eq_ignore_ascii_case("password")
}

/// Decides what to read from an HTML element's live state.
///
/// `tag` is the lower-case local name; `input_type` is the `type` attribute
/// (empty when absent); `password` is true when the element is, or ever was,
/// a password field (see `serialize.rs`: a "show password" toggle must not
/// unmask it); `masked` is true when a mask rule covers the element.
pub fn control_kind(tag: &str, input_type: &str, password: bool, masked: bool) -> Control {
    match tag {
        "input" => {
            if password || is_password_type(input_type) {
                return Control::MaskedValue;
            }
            let t = input_type.to_ascii_lowercase();
            match t.as_str() {
                "checkbox" | "radio" => Control::Checked,
                // A file input's value is a local path; buttons' and hidden
                // inputs' values are their attribute, already sent.
                "file" | "hidden" | "submit" | "reset" | "button" | "image" => Control::None,
                _ if masked => Control::MaskedValue,
                _ => Control::Value,
            }
        }
        "textarea" | "select" if masked => Control::MaskedValue,
        "textarea" | "select" => Control::Value,
        "option" => Control::Selected,
        _ => Control::None,
    }
}

/// Whether the `value` attribute of this element must be replaced by stars:
/// the attribute is the control's default value, as secret as the typed one.
pub fn masks_value_attr(tag: &str, control: Control) -> bool {
    control == Control::MaskedValue && (tag == "input" || tag == "textarea")
}

/// `n` placeholder characters.
pub fn stars(n: u32) -> String {
    "*".repeat(n as usize)
}

/// Masked text keeps its whitespace (so the layout stays close) and shows
/// every other character as `*`.
pub fn mask_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_whitespace() { c } else { '*' })
        .collect()
}

/// How an attribute's value is rewritten before it leaves the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlAttr {
    No,
    /// One URL, made absolute against the document's base URL.
    Single,
    /// A `srcset`: every candidate's URL is made absolute.
    Srcset,
}

/// Attributes that hold URLs. Names are as `Attr.name` gives them (HTML
/// attributes lower-case, `xlink:href` with its prefix).
pub fn url_attr(name: &str) -> UrlAttr {
    match name {
        "href" | "src" | "action" | "formaction" | "poster" | "cite" | "data" | "background"
        | "xlink:href" => UrlAttr::Single,
        "srcset" => UrlAttr::Srcset,
        _ => UrlAttr::No,
    }
}

/// Rewrites every candidate URL of a `srcset` with `resolve` (which returns
/// `None` for a URL it cannot parse: that one is kept as written).
///
/// Follows the HTML parsing rules closely enough for real pages: a URL is a
/// run of non-whitespace; a URL ending in commas ends its candidate; the
/// descriptors run to the next comma outside parentheses. This keeps data
/// URLs (which contain commas) whole.
pub fn absolutize_srcset(value: &str, mut resolve: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(value.len() + 32);
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
        if rest.is_empty() {
            break;
        }
        let url_end = rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let (raw_url, after) = rest.split_at(url_end);
        let url = raw_url.trim_end_matches(',');
        let ended = url.len() != raw_url.len();
        let mut descriptor = "";
        rest = after;
        if !ended {
            let mut depth = 0u32;
            let mut end = rest.len();
            for (i, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    ',' if depth == 0 => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            descriptor = rest[..end].trim();
            rest = &rest[end..];
        }
        if !out.is_empty() {
            out.push_str(", ");
        }
        match resolve(url) {
            Some(abs) => out.push_str(&abs),
            None => out.push_str(url),
        }
        if !descriptor.is_empty() {
            out.push(' ');
            out.push_str(descriptor);
        }
    }
    out
}

#[cfg(test)]
// Tests fail by panicking; that is their job.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
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
}
