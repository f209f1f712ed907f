//! Splicing changes into the original text. Owns `Edit`, the one way the crate changes a
//! stylesheet (a byte range and its replacement), and how a replacement URL is written back.
//! Everything outside an edit is copied byte for byte, which is what keeps comments, odd spacing
//! and CSS this crate does not understand exactly as the author wrote them.

/// Replace `source[start..end]` with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// The source with its edits applied. Edits come in source order from the walker; one that
/// overlaps an earlier edit or does not fall on character boundaries is ignored rather than
/// trusted, so a walker bug can lose a rewrite but never corrupt or panic.
pub(crate) fn apply(source: &str, edits: &[Edit]) -> String {
    let extra: usize = edits.iter().map(|e| e.text.len()).sum();
    let mut out = String::with_capacity(source.len() + extra);
    let mut copied = 0;
    for edit in edits {
        if edit.start < copied || edit.end < edit.start {
            continue;
        }
        let (Some(kept), Some(_)) = (
            source.get(copied..edit.start),
            source.get(edit.start..edit.end),
        ) else {
            continue;
        };
        out.push_str(kept);
        out.push_str(&edit.text);
        copied = edit.end;
    }
    out.push_str(source.get(copied..).unwrap_or_default());
    out
}

/// `value` as a double-quoted CSS string: quotes, backslashes and control characters escaped,
/// so a URL containing `)`, quotes or newlines still reads back as exactly that URL.
pub(crate) fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    // Writing into a String cannot fail.
    let _ = cssparser::serialize_string(value, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(start: usize, end: usize, text: &str) -> Edit {
        Edit {
            start,
            end,
            text: text.to_owned(),
        }
    }

    #[test]
    fn applies_edits_in_order_and_keeps_the_rest() {
        let out = apply("a:hover{}", &[edit(1, 7, "[x]")]);
        assert_eq!(out, "a[x]{}");
        assert_eq!(apply("abc", &[]), "abc");
        assert_eq!(apply("abc", &[edit(0, 3, "")]), "");
        assert_eq!(apply("abc", &[edit(3, 3, "d")]), "abcd");
    }

    #[test]
    fn overlapping_or_misplaced_edits_are_ignored() {
        let out = apply(
            "abcdef",
            &[edit(1, 4, "X"), edit(2, 5, "Y"), edit(5, 6, "Z")],
        );
        assert_eq!(out, "aXeZ");
        // Not a char boundary: inside the two-byte "é".
        assert_eq!(apply("é", &[edit(1, 2, "x")]), "é");
        assert_eq!(apply("ab", &[edit(1, 9, "x")]), "ab");
        assert_eq!(apply("ab", &[edit(2, 1, "x")]), "ab");
    }

    #[test]
    fn quoted_escapes_what_would_end_the_string() {
        assert_eq!(quoted("a)b"), r#""a)b""#);
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quoted("a\nb"), "\"a\\a b\"");
    }
}
