//! Small decisions of the resource service as pure functions of strings and
//! numbers: which URLs are candidates, which content types are resources,
//! what a stylesheet's text mentions, and what to do after each upload
//! answer.
//!
//! Owns: those decisions (tested natively in `plan_tests.rs`). Does not own:
//! state (`plan.rs`) or any browser call.

/// An upload is given up after this many failed attempts in a row.
pub const MAX_ATTEMPTS: u32 = 5;

/// `url` without its fragment, if it is an absolute http(s) URL or a
/// `blob:` URL of an http(s) page (its bytes exist only in the page, which
/// can fetch them: they go through the relay's cache like any resource).
pub fn without_fragment(url: &str) -> Option<&str> {
    let url = url.trim();
    let head = url.get(..13).unwrap_or(url).to_ascii_lowercase();
    let inner = head.strip_prefix("blob:").unwrap_or(&head);
    if !(inner.starts_with("http://") || inner.starts_with("https://")) {
        return None;
    }
    Some(url.split('#').next().unwrap_or(url))
}

/// Whether a response of this `Content-Type` at this URL is a static
/// resource the relay may cache: images, fonts, stylesheets, media. Documents,
/// scripts, JSON and anything unknown are not (offered without a body).
pub fn is_resource_type(content_type: &str, url: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    // Media too: the console's `<video>`/`<audio>` plays the page's own
    // source (same-origin media behind a login, or a loopback address the
    // relay must not fetch from, reaches the agent only this way).
    let media = mime.starts_with("video/") || mime.starts_with("audio/");
    if mime.starts_with("image/") || mime.starts_with("font/") || mime == "text/css" || media {
        return true;
    }
    if let Some(sub) = mime.strip_prefix("application/") {
        if sub.contains("font") || sub == "vnd.ms-fontobject" {
            return true;
        }
    }
    // Font files are often served as bytes of no particular type.
    matches!(
        mime.as_str(),
        "" | "application/octet-stream" | "binary/octet-stream"
    ) && has_font_extension(url)
}

/// Whether the `Content-Type` is video or audio.
pub fn is_media(content_type: &str) -> bool {
    let mime = content_type.trim_start().to_ascii_lowercase();
    mime.starts_with("video/") || mime.starts_with("audio/")
}

fn has_font_extension(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
    [".woff", ".woff2", ".ttf", ".otf", ".eot"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Whether the `Content-Type` is a stylesheet's (its text is then read for
/// the URLs it mentions).
pub fn is_stylesheet(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/css"))
}

/// Something a piece of CSS mentions that may be a URL, as written
/// (relative or absolute, unresolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CssRef {
    pub text: String,
    /// Inside `url(...)`; otherwise a bare string (`@import "a.css"`,
    /// `image-set("a.png" 1x)`, or just a font name: resolving it does no
    /// harm, it only names a URL the page never loads).
    pub in_url: bool,
}

/// Longest reference kept: longer strings are not URLs a page loads.
const MAX_REF_LEN: usize = 4096;

/// Every `url(...)` and quoted string in a stylesheet's (or a `style`
/// attribute's) text, comments skipped.
pub fn css_refs(css: &str) -> Vec<CssRef> {
    let bytes = css.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = css[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |end| i + 2 + end + 2);
            }
            b'"' | b'\'' => {
                let (text, next) = string_at(css, i);
                push(&mut out, text, false);
                i = next;
            }
            b'u' | b'U'
                if css
                    .get(i..i + 4)
                    .is_some_and(|s| s.eq_ignore_ascii_case("url(")) =>
            {
                let mut j = i + 4;
                while bytes.get(j).is_some_and(u8::is_ascii_whitespace) {
                    j += 1;
                }
                if matches!(bytes.get(j), Some(b'"' | b'\'')) {
                    let (text, next) = string_at(css, j);
                    push(&mut out, text, true);
                    i = css[next..]
                        .find(')')
                        .map_or(bytes.len(), |end| next + end + 1);
                } else {
                    let end = css[j..].find(')').map_or(bytes.len(), |end| j + end);
                    push(&mut out, css[j..end].trim().to_owned(), true);
                    i = end + 1;
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// The quoted string starting at `start`: its text (backslash escapes of
/// single characters undone) and the index after its closing quote.
fn string_at(css: &str, start: usize) -> (String, usize) {
    let quote = css.as_bytes()[start];
    let mut text = String::new();
    let mut chars = css[start + 1..].char_indices();
    while let Some((k, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, escaped)) = chars.next() {
                    text.push(escaped);
                }
            }
            '\n' => return (text, start + 1 + k),
            c if c as u32 == u32::from(quote) => return (text, start + 1 + k + 1),
            c => text.push(c),
        }
    }
    (text, css.len())
}

fn push(out: &mut Vec<CssRef>, text: String, in_url: bool) {
    if !text.is_empty() && text.len() <= MAX_REF_LEN && !text.starts_with('#') {
        out.push(CssRef { text, in_url });
    }
}

/// What the relay answered to an upload request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutAnswer {
    /// `200 {"received": M}` (a chunk stored, or the state asked for).
    Received(u64),
    /// `201`: complete and verified.
    Complete,
    /// Any other status.
    Status(u16),
    /// No answer: the network failed, or the JSON was unreadable.
    Failed,
}

/// What to do next with an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send the chunk starting at this offset.
    Send {
        offset: u64,
    },
    Done,
    /// Wait, then ask the relay how much it has (`GET`) and resume there.
    Retry {
        after_ms: u32,
    },
    /// Give up on this resource.
    Drop,
    /// The token is refused: give up on every upload.
    Unauthorized,
}

/// The wait before retry number `failures + 1`.
pub fn backoff_ms(failures: u32) -> u32 {
    500u32.saturating_mul(1 << failures.min(4))
}

/// After a `PUT` of bytes from `sent_from`, given `failures` in a row
/// before it.
pub fn after_put(answer: PutAnswer, sent_from: u64, total: u64, failures: u32) -> Step {
    match answer {
        PutAnswer::Complete => Step::Done,
        PutAnswer::Received(m) if m > sent_from && m < total => Step::Send { offset: m },
        // No progress, or a count beyond the file: ask again.
        PutAnswer::Received(_) | PutAnswer::Failed => failed(failures),
        PutAnswer::Status(status) => refused(status, failures),
    }
}

/// After a `GET` of the upload's state.
pub fn after_get(answer: PutAnswer, total: u64, failures: u32) -> Step {
    match answer {
        PutAnswer::Received(m) if m < total => Step::Send { offset: m },
        // The relay holds it all (the 201 was lost on the way).
        PutAnswer::Received(_) | PutAnswer::Complete => Step::Done,
        PutAnswer::Failed => failed(failures),
        PutAnswer::Status(status) => refused(status, failures),
    }
}

fn refused(status: u16, failures: u32) -> Step {
    match status {
        401 => Step::Unauthorized,
        // Timeouts and rate limits pass; other 4xx are the relay's final
        // word on this resource.
        408 | 429 => failed(failures),
        400..=499 => Step::Drop,
        _ => failed(failures),
    }
}

fn failed(failures: u32) -> Step {
    if failures + 1 >= MAX_ATTEMPTS {
        Step::Drop
    } else {
        Step::Retry {
            after_ms: backoff_ms(failures),
        }
    }
}
