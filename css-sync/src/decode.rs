//! Stylesheet bytes to text, choosing the encoding the way CSS Syntax §3.2 "determine the
//! fallback encoding" does: a byte-order mark, then the HTTP Content-Type charset, then a leading
//! `@charset "…";`, then the referring document's encoding, then UTF-8. Owns label parsing;
//! the decoders themselves are encoding_rs's. Never fails: bad sequences become U+FFFD.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

/// Decodes stylesheet bytes to text: BOM first, then the Content-Type header's charset
/// (`content_type` like "text/css; charset=Shift_JIS"), then a leading `@charset "...";`, then
/// `fallback` (the referring document's encoding label), then UTF-8. Any label encoding_rs knows
/// (Shift_JIS, EUC-KR, windows-1252, GBK, ...). Never fails: invalid sequences become U+FFFD.
/// The BOM, if any, is not part of the text.
pub fn decode(bytes: &[u8], content_type: Option<&str>, fallback: Option<&str>) -> String {
    let encoding = choose(bytes, content_type, fallback);
    // `decode` sniffs the BOM again and strips it; a BOM already won in `choose`.
    let (text, _, _) = encoding.decode(bytes);
    text.into_owned()
}

/// The encoding the stylesheet's bytes are in.
fn choose(bytes: &[u8], content_type: Option<&str>, fallback: Option<&str>) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(bytes) {
        return encoding;
    }
    if let Some(encoding) = content_type
        .and_then(charset_parameter)
        .and_then(|label| Encoding::for_label(label.as_bytes()))
    {
        return encoding;
    }
    if let Some(encoding) = charset_rule(bytes).and_then(Encoding::for_label) {
        // A stylesheet that could read its own `@charset` is ASCII-compatible, so a UTF-16
        // label there is a lie; the spec says UTF-8.
        if encoding == UTF_16BE || encoding == UTF_16LE {
            return UTF_8;
        }
        return encoding;
    }
    fallback
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .unwrap_or(UTF_8)
}

/// The `charset` parameter of a Content-Type value, unquoted.
fn charset_parameter(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|parameter| {
        let (name, value) = parameter.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        Some(value)
    })
}

/// The label of a `@charset "…";` rule that starts the stylesheet byte for byte, as the spec
/// requires (lower case, one space, double quotes, within the first 1024 bytes).
fn charset_rule(bytes: &[u8]) -> Option<&[u8]> {
    const START: &[u8] = b"@charset \"";
    let head = &bytes[..bytes.len().min(1024)];
    let rest = head.strip_prefix(START)?;
    let close = rest.iter().position(|&b| b == b'"')?;
    if rest.get(close + 1) != Some(&b';') {
        return None;
    }
    rest.get(..close)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_charset_parameter() {
        assert_eq!(
            charset_parameter("text/css; charset=Shift_JIS"),
            Some("Shift_JIS")
        );
        assert_eq!(
            charset_parameter("text/css;foo=bar; CharSet=\"euc-kr\" "),
            Some("euc-kr")
        );
        assert_eq!(charset_parameter("text/css"), None);
        assert_eq!(charset_parameter("charset=utf-8"), None);
    }

    #[test]
    fn reads_only_an_exact_leading_charset_rule() {
        assert_eq!(
            charset_rule(b"@charset \"EUC-KR\"; a{}"),
            Some(&b"EUC-KR"[..])
        );
        assert_eq!(charset_rule(b" @charset \"EUC-KR\";"), None);
        assert_eq!(charset_rule(b"@charset 'EUC-KR';"), None);
        assert_eq!(charset_rule(b"@charset \"EUC-KR\" ;"), None);
        assert_eq!(charset_rule(b"@charset \"EUC-KR"), None);
        assert_eq!(charset_rule(b""), None);
    }

    #[test]
    fn utf16_charset_rule_means_utf8() {
        assert_eq!(choose(b"@charset \"utf-16\";", None, None), UTF_8);
    }
}
