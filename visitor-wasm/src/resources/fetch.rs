//! Fetching one resource the way the page's own browser would, and hashing
//! it: with the visitor's cookies only on the page's own origin, from the
//! HTTP cache when it can, refusing what is not a static resource.
//!
//! Owns: the request's settings, the type and size checks on the response,
//! SHA-256 through `crypto.subtle`, and reading a stylesheet for the URLs it
//! mentions. Does not own: which URLs to fetch (`plan.rs`).

use js_sys::{ArrayBuffer, Uint8Array};
use protocol::ResourceHash;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{RequestCache, RequestCredentials, RequestInit, RequestMode, Response, Url};

use super::plan::{FetchJob, Fetched};
use super::rules::{css_refs, is_media, is_resource_type, is_stylesheet, without_fragment};
use super::task::AbortOnDrop;
use super::Env;

/// A resource that takes longer is left to the relay's fallback.
const FETCH_TIMEOUT_MS: u32 = 30_000;

/// Fetches and hashes `job.url`; anything that goes wrong is `Unavailable`
/// (offered without a body).
pub(crate) async fn fetch(env: &Env, job: &FetchJob) -> Fetched<Uint8Array> {
    let Some(subtle) = &env.subtle else {
        return Fetched::Unavailable;
    };
    let Some(got) = get(env, &job.url, job.max_bytes).await else {
        return Fetched::Unavailable;
    };
    let Some(hash) = sha256(subtle, &got.bytes).await else {
        return Fetched::Unavailable;
    };
    let sheet_refs = if is_stylesheet(&got.content_type) {
        sheet_refs(&got.bytes, &got.final_url)
    } else {
        Vec::new()
    };
    Fetched::Body {
        hash,
        size: u64::from(got.bytes.length()),
        content_type: got.content_type,
        bytes: got.bytes,
        sheet_refs,
    }
}

struct Got {
    bytes: Uint8Array,
    content_type: String,
    /// After redirects: what a stylesheet's relative URLs resolve against.
    final_url: String,
}

async fn get(env: &Env, url: &str, max_bytes: u64) -> Option<Got> {
    let same_origin = Url::new(url).ok().is_some_and(|u| u.origin() == env.origin);
    let abort = AbortOnDrop::new(FETCH_TIMEOUT_MS)?;
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_mode(RequestMode::Cors);
    // The page's own origin gets its cookies (the visitor sees what they
    // see); another origin's resource is fetched as a CDN would serve
    // anyone, so a cookie never unlocks a third party's content.
    init.set_credentials(if same_origin {
        RequestCredentials::Include
    } else {
        RequestCredentials::Omit
    });
    init.set_cache(RequestCache::ForceCache);
    init.set_signal(Some(&abort.signal()));
    let promise = env.window.fetch_with_str_and_init(url, &init);
    let response: Response = JsFuture::from(promise).await.ok()?.dyn_into().ok()?;
    if !response.ok() {
        return None;
    }
    let headers = response.headers();
    let content_type = headers
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    if !is_resource_type(&content_type, url) {
        return None;
    }
    let declared = headers
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|n| n.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_bytes) {
        return None;
    }
    // A film or a live stream may be far larger than the limit and is read
    // whole below: media is fetched only when its size is declared.
    if declared.is_none() && is_media(&content_type) {
        return None;
    }
    let buffer: ArrayBuffer = JsFuture::from(response.array_buffer().ok()?)
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    let bytes = Uint8Array::new(&buffer);
    if u64::from(bytes.length()) > max_bytes {
        return None;
    }
    let final_url = Some(response.url())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| url.to_owned());
    Some(Got {
        bytes,
        content_type,
        final_url,
    })
}

/// SHA-256 of `bytes` by the browser (no hashing code in the wasm).
pub(crate) async fn sha256(
    subtle: &web_sys::SubtleCrypto,
    bytes: &Uint8Array,
) -> Option<ResourceHash> {
    let promise = subtle
        .digest_with_str_and_buffer_source("SHA-256", bytes)
        .ok()?;
    let digest: ArrayBuffer = JsFuture::from(promise).await.ok()?.dyn_into().ok()?;
    let digest = Uint8Array::new(&digest);
    let mut out = [0u8; 32];
    if digest.length() != 32 {
        return None;
    }
    digest.copy_to(&mut out);
    Some(ResourceHash(out))
}

/// The absolute URLs a stylesheet's text mentions (decoded as UTF-8, lossy:
/// URLs are ASCII in practice whatever the sheet's charset).
fn sheet_refs(bytes: &Uint8Array, sheet_url: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(&bytes.to_vec()).into_owned();
    resolve_all(css_refs(&text).into_iter().map(|r| r.text), sheet_url)
}

/// Resolves every reference against `base`, keeping http(s) ones without
/// their fragments.
pub(crate) fn resolve_all(refs: impl Iterator<Item = String>, base: &str) -> Vec<String> {
    refs.filter_map(|r| resolve(&r, base)).collect()
}

/// One URL as the browser resolves it against `base`, without its fragment;
/// `None` if it is not http(s).
pub(crate) fn resolve(url: &str, base: &str) -> Option<String> {
    let href = Url::new_with_base(url.trim(), base).ok()?.href();
    without_fragment(&href).map(str::to_owned)
}
