//! Uploading one resource's bytes to the relay's cache, in chunks, resuming
//! after a dropped connection from what the relay says it holds.
//!
//! Owns: the `PUT/GET {relay}/res/up/{hash}` requests and reading their
//! small JSON answers (with the browser's `JSON.parse`: no JSON code in the
//! wasm). Does not own: the retry decisions (`rules.rs`) or which hashes
//! to upload (`plan.rs`).

use js_sys::Uint8Array;
use protocol::ResourceHash;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestCache, RequestCredentials, RequestInit, RequestMode, Response};

use super::plan::UploadEnd;
use super::rules::{after_get, after_put, PutAnswer, Step};
use super::task::{sleep, AbortOnDrop};
use super::Env;
use crate::error::warn;

/// Largest chunk per request.
pub const CHUNK_BYTES: u32 = 512 << 10;
/// A request that takes longer is treated as a dropped connection.
const REQUEST_TIMEOUT_MS: u32 = 60_000;

/// One answer, with what it carried.
struct Answer {
    kind: PutAnswer,
    more: Vec<String>,
    error: Option<String>,
}

/// Uploads `bytes` (which hash to `hash`).
pub(crate) async fn upload(env: &Env, hash: ResourceHash, bytes: &Uint8Array) -> UploadEnd {
    let base = format!("{}/res/up/{}", env.relay, hash.to_hex());
    let total = u64::from(bytes.length());
    let mut offset = 0u64;
    let mut failures = 0u32;
    loop {
        let end = offset.saturating_add(u64::from(CHUNK_BYTES)).min(total);
        // Offsets never exceed `total`, which came from a u32 length.
        let chunk = bytes.subarray(offset as u32, end as u32);
        let url = format!("{base}?offset={offset}&total={total}");
        let answer = request(env, "PUT", &url, Some(&chunk)).await;
        let mut step = after_put(answer.kind, offset, total, failures);
        if matches!(step, Step::Send { .. }) {
            // The relay took bytes: the connection works again.
            failures = 0;
        }
        let mut last = answer;
        // After a failure: wait, ask the relay how far it got, resume there.
        while let Step::Retry { after_ms } = step {
            failures += 1;
            sleep(after_ms).await;
            last = request(env, "GET", &base, None).await;
            step = after_get(last.kind, total, failures);
        }
        match step {
            Step::Send { offset: next } => offset = next,
            Step::Done => return UploadEnd::Done { more: last.more },
            Step::Retry { .. } | Step::Drop => {
                let why = last.error.unwrap_or_else(|| "no answer".to_owned());
                warn(&format!("cobrowse: resource {hash} not uploaded: {why}"));
                return UploadEnd::Dropped;
            }
            Step::Unauthorized => {
                warn("cobrowse: the relay refused the upload token; resources are not uploaded");
                return UploadEnd::Unauthorized;
            }
        }
    }
}

async fn request(env: &Env, method: &str, url: &str, body: Option<&Uint8Array>) -> Answer {
    let failed = || Answer {
        kind: PutAnswer::Failed,
        more: Vec::new(),
        error: None,
    };
    let Some(abort) = AbortOnDrop::new(REQUEST_TIMEOUT_MS) else {
        return failed();
    };
    let Ok(headers) = Headers::new() else {
        return failed();
    };
    let mut bearer = String::with_capacity(env.token.len() + 7);
    bearer.push_str("Bearer ");
    bearer.push_str(&env.token);
    if headers.set("authorization", &bearer).is_err() {
        return failed();
    }
    let init = RequestInit::new();
    init.set_method(method);
    init.set_mode(RequestMode::Cors);
    // The relay authenticates by the token; the visitor's cookies stay home.
    init.set_credentials(RequestCredentials::Omit);
    init.set_cache(RequestCache::NoStore);
    init.set_headers(&headers);
    if let Some(body) = body {
        init.set_body(body);
    }
    init.set_signal(Some(&abort.signal()));
    let promise = env.window.fetch_with_str_and_init(url, &init);
    let Some(response) = JsFuture::from(promise)
        .await
        .ok()
        .and_then(|r| r.dyn_into::<Response>().ok())
    else {
        return failed();
    };
    let status = response.status();
    let json = match response.text() {
        Ok(p) => JsFuture::from(p)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .and_then(|t| js_sys::JSON::parse(&t).ok()),
        Err(_) => None,
    };
    let json = json.unwrap_or(JsValue::UNDEFINED);
    let field = |name: &str| js_sys::Reflect::get(&json, &JsValue::from_str(name)).ok();
    let error = field("error").and_then(|e| e.as_string());
    let kind = match status {
        201 => PutAnswer::Complete,
        200 => match field("received").and_then(|r| r.as_f64()) {
            Some(m) if m >= 0.0 && m.fract() == 0.0 => PutAnswer::Received(m as u64),
            _ => PutAnswer::Failed,
        },
        s => PutAnswer::Status(s),
    };
    let more = field("more")
        .and_then(|m| m.dyn_into::<js_sys::Array>().ok())
        .map(|a| a.iter().filter_map(|u| u.as_string()).collect())
        .unwrap_or_default();
    Answer { kind, more, error }
}
