//! `Range: bytes=…` on `/res/s/…`: a `<video>` or `<audio>` in the agent's
//! console seeks by asking for parts of its source, and Chromium treats a
//! source served without `206 Partial Content` as unseekable beyond what it
//! already downloaded.
//!
//! Owns: reading one `Range` header against a resource's length (plain
//! Rust, unit-tested below). Does not own: the response (`serve.rs`).
//!
//! Only a single range is honoured; a list of ranges (`bytes=0-1,5-6`) is
//! answered with the whole resource, which RFC 9110 allows (a server may
//! ignore `Range`) and which media elements never ask for.

/// What to answer for a request's `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// No usable range: `200` with the whole resource.
    Whole,
    /// `206` with bytes `start..=end` (both within the resource).
    Part { start: u64, end: u64 },
    /// `416`: the range starts past the end.
    Unsatisfiable,
}

/// The answer for `header` (the `Range` value, if any) on a resource of
/// `len` bytes.
pub fn answer(header: Option<&str>, len: u64) -> Answer {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Answer::Whole;
    };
    if spec.contains(',') {
        return Answer::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Answer::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if first.is_empty() {
        // `bytes=-N`: the last N bytes.
        return match number(last) {
            Some(0) => Answer::Unsatisfiable,
            Some(n) if len > 0 => Answer::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            },
            Some(_) => Answer::Unsatisfiable,
            None => Answer::Whole,
        };
    }
    let Some(start) = number(first) else {
        return Answer::Whole;
    };
    let end = if last.is_empty() {
        None
    } else {
        match number(last) {
            Some(end) => Some(end),
            None => return Answer::Whole,
        }
    };
    if end.is_some_and(|end| end < start) {
        // Syntactically invalid: ignored, as RFC 9110 says.
        return Answer::Whole;
    }
    if start >= len {
        return Answer::Unsatisfiable;
    }
    Answer::Part {
        start,
        end: end.map_or(len - 1, |end| end.min(len - 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::{answer, Answer};

    #[test]
    fn no_range_or_one_that_is_not_bytes_gets_the_whole_resource() {
        assert_eq!(answer(None, 10), Answer::Whole);
        assert_eq!(answer(Some("items=0-3"), 10), Answer::Whole);
        assert_eq!(answer(Some("bytes=abc-"), 10), Answer::Whole);
        assert_eq!(answer(Some("bytes=5-2"), 10), Answer::Whole);
        assert_eq!(answer(Some("bytes=0-1,4-5"), 10), Answer::Whole);
    }

    #[test]
    fn an_open_range_runs_to_the_end_and_a_long_one_is_cut_at_it() {
        assert_eq!(
            answer(Some("bytes=0-"), 10),
            Answer::Part { start: 0, end: 9 }
        );
        assert_eq!(
            answer(Some("bytes=4-"), 10),
            Answer::Part { start: 4, end: 9 }
        );
        assert_eq!(
            answer(Some("bytes=2-5"), 10),
            Answer::Part { start: 2, end: 5 }
        );
        assert_eq!(
            answer(Some("bytes=8-100"), 10),
            Answer::Part { start: 8, end: 9 }
        );
    }

    #[test]
    fn a_suffix_range_names_the_last_bytes() {
        assert_eq!(
            answer(Some("bytes=-3"), 10),
            Answer::Part { start: 7, end: 9 }
        );
        assert_eq!(
            answer(Some("bytes=-30"), 10),
            Answer::Part { start: 0, end: 9 }
        );
        assert_eq!(answer(Some("bytes=-0"), 10), Answer::Unsatisfiable);
    }

    #[test]
    fn a_range_past_the_end_is_unsatisfiable() {
        assert_eq!(answer(Some("bytes=10-"), 10), Answer::Unsatisfiable);
        assert_eq!(answer(Some("bytes=0-"), 0), Answer::Unsatisfiable);
        assert_eq!(answer(Some("bytes=-5"), 0), Answer::Unsatisfiable);
    }
}
