//! `decode`: the order BOM > Content-Type charset > `@charset` > fallback > UTF-8, with
//! stylesheets built in the legacy encodings they are served in.

use css_sync::decode;
use encoding_rs::{EUC_KR, SHIFT_JIS, WINDOWS_1252};

fn shift_jis_sheet() -> Vec<u8> {
    let (bytes, _, unmappable) =
        SHIFT_JIS.encode("@charset \"Shift_JIS\";\na::after { content: \"日本語\"; }\n");
    assert!(!unmappable);
    bytes.into_owned()
}

#[test]
fn shift_jis_sheet_with_charset_rule_decodes() {
    let text = decode(&shift_jis_sheet(), None, None);
    assert!(text.contains("content: \"日本語\""), "{text}");
    assert!(text.starts_with("@charset \"Shift_JIS\";"));
}

#[test]
fn shift_jis_sheet_read_as_utf8_would_be_mojibake() {
    // The test above can fail: without the label the same bytes do not decode to the text.
    let text = decode(&shift_jis_sheet()[22..], None, None);
    assert!(!text.contains("日本語"));
}

#[test]
fn content_type_charset_wins_over_charset_rule() {
    let (bytes, _, _) = EUC_KR.encode("@charset \"Shift_JIS\"; a::after { content: \"한국어\" }");
    let text = decode(&bytes, Some("text/css; charset=EUC-KR"), Some("utf-8"));
    assert!(text.contains("한국어"), "{text}");
    // And read by the @charset it would not be.
    assert!(!decode(&bytes, None, None).contains("한국어"));
}

#[test]
fn bom_wins_over_content_type_and_charset_rule() {
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend_from_slice("@charset \"Shift_JIS\"; a::after { content: \"日本語\" }".as_bytes());
    let text = decode(&bytes, Some("text/css; charset=windows-1252"), None);
    assert_eq!(
        text,
        "@charset \"Shift_JIS\"; a::after { content: \"日本語\" }"
    );

    let mut utf16: Vec<u8> = vec![0xFF, 0xFE];
    for unit in "a{content:\"é\"}".encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    assert_eq!(
        decode(&utf16, Some("text/css; charset=utf-8"), None),
        "a{content:\"é\"}"
    );
}

#[test]
fn euc_kr_by_charset_rule() {
    let (bytes, _, _) = EUC_KR.encode("@charset \"euc-kr\";\nb::before{content:\"안녕\"}");
    assert!(decode(&bytes, None, None).contains("안녕"));
}

#[test]
fn windows_1252_by_content_type_and_by_latin1_label() {
    let (bytes, _, _) = WINDOWS_1252.encode("q::before{content:\"“café”\"}");
    assert!(bytes.contains(&0x93));
    let want = "q::before{content:\"“café”\"}";
    assert_eq!(
        decode(&bytes, Some("text/css;charset=\"windows-1252\""), None),
        want
    );
    // The web's iso-8859-1 is windows-1252.
    assert_eq!(
        decode(&bytes, Some("text/css; charset=ISO-8859-1"), None),
        want
    );
}

#[test]
fn fallback_label_is_the_referring_documents_encoding() {
    let (bytes, _, _) = SHIFT_JIS.encode("a::after{content:\"日本語\"}");
    assert!(decode(&bytes, None, Some("shift_jis")).contains("日本語"));
}

#[test]
fn unknown_labels_fall_through_to_the_next_source() {
    let (sjis, _, _) = SHIFT_JIS.encode("a::after{content:\"日本語\"}");
    // Unknown Content-Type label → fallback.
    assert!(decode(&sjis, Some("text/css; charset=klingon"), Some("Shift_JIS")).contains("日本語"));
    // Unknown everything → UTF-8.
    let text = decode(
        "a{content:\"ü\"}".as_bytes(),
        Some("text/css; charset=nope"),
        Some("nah"),
    );
    assert_eq!(text, "a{content:\"ü\"}");
    // Unknown @charset label → fallback.
    let mut bytes = b"@charset \"bogus\";".to_vec();
    bytes.extend_from_slice(&sjis);
    assert!(decode(&bytes, None, Some("Shift_JIS")).contains("日本語"));
}

#[test]
fn invalid_bytes_become_replacement_characters() {
    assert_eq!(decode(&[b'a', 0xFF, b'b'], None, None), "a\u{FFFD}b");
    assert_eq!(decode(&[], None, None), "");
}

#[test]
fn decoded_sheet_rewrites_without_its_charset_rule() {
    let text = decode(&shift_jis_sheet(), Some("text/css"), None);
    let out = css_sync::rewrite_stylesheet(&text, &mut |_, _| None);
    assert_eq!(out, "\na::after { content: \"日本語\"; }\n");
}
