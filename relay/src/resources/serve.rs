//! `GET /res/s/{key}/{base64url(url)}`: an agent's browser loads a resource
//! of the page it mirrors, through its session's key.
//!
//! Owns: finding the resource through the session's history, waiting
//! (bounded) for an upload that is coming or asking the visitor for a URL
//! it never offered, the fallback chain (the relay's own fetch from allowed
//! domains, else a redirect to the original unless strict, else 404), and
//! the answer's headers. Does not own: the rules of the cache or what an
//! offer records (`resources/mod.rs`), or CSS (`css.rs`).
//!
//! Waits poll the store rather than a local signal, so an upload that lands
//! on another relay ends the wait too.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_RANGE, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    IF_NONE_MATCH, IF_RANGE, LOCATION, RANGE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use protocol::{ResourceHash, SessionId, ToVisitor};
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use url::Url;

use super::kinds::{self, Kind};
use super::metrics::Fallback;
use super::store::{HistoryEntry, OfferedHash, ResourceStore, SessionResources};
use super::{css, range, resource_url};
use crate::bus::{Bus, Delivery, Topic};
use crate::server::App;
use crate::sessions::SessionStore;
use crate::RelayError;

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);

/// Harmless for an image or a font; defuses an SVG (or anything else)
/// opened directly on the relay's origin.
const RESOURCE_CSP: &str = "sandbox; default-src 'none'";

pub fn routes<S: SessionStore, B: Bus>(app: Arc<App<S, B>>) -> Router {
    Router::new()
        .route("/res/s/{key}/{encoded}", get(serve::<S, B>))
        .with_state(app)
}

async fn serve<S: SessionStore, B: Bus>(
    State(app): State<Arc<App<S, B>>>,
    Path((key, encoded)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match answer(&app, &key, &encoded, &headers).await {
        Ok(response) => response,
        Err(err) => {
            let reason = err.refusal_reason();
            match reason {
                crate::RefusalReason::Internal => tracing::error!("resource request failed: {err}"),
                _ => tracing::debug!(reason = reason.label(), "resource request refused: {err}"),
            }
            app.resources.metrics().refused(reason);
            err.json_response()
        }
    }
}

/// The absolute URL that `encoded` names.
fn decode_url(encoded: &str) -> Result<Url, RelayError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .map_err(|_| {
            RelayError::BadResourceRequest(
                "the path must end in the resource's URL as base64url".into(),
            )
        })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        RelayError::BadResourceRequest("the base64url in the path is not a UTF-8 URL".into())
    })?;
    resource_url(&text).ok_or_else(|| {
        RelayError::NoSuchResource("only absolute http(s) URLs are resources".into())
    })
}

async fn answer<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    key: &str,
    encoded: &str,
    headers: &HeaderMap,
) -> Result<Response, RelayError> {
    let store = app.store.resources();
    let owner = if key.len() <= 64 {
        store.by_key(key).await?
    } else {
        None
    };
    let owner = owner.ok_or_else(|| {
        RelayError::NoSuchResource("no live session has this resource key".into())
    })?;
    let url = decode_url(encoded)?;
    let prefix = format!("/res/s/{key}/");
    let deadline = Instant::now() + app.resources.settings.wait;

    let mut entry = store.entry(&owner.session, url.as_str()).await?;
    if entry.is_none() && owner.policy.upload {
        entry = ask_for_url(app, &owner.session, &url, deadline).await?;
    }
    if let Some(HistoryEntry::Body {
        hash, content_type, ..
    }) = &entry
    {
        if let Some(bytes) = wait_for_bytes(app, &owner, hash, deadline).await? {
            return Ok(respond(
                app,
                headers,
                &url,
                &prefix,
                hash,
                content_type,
                bytes,
            ));
        }
    }
    fall_back(app, &owner, headers, &url, &prefix).await
}

/// Asks the visitor to offer `url` (once per session and URL), then waits
/// for it to enter the history.
async fn ask_for_url<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    session: &SessionId,
    url: &Url,
    deadline: Instant,
) -> Result<Option<HistoryEntry>, RelayError> {
    let store = app.store.resources();
    if store.mark_asked(session, url.as_str()).await? {
        let want = Delivery::Visitor(ToVisitor::Want {
            hashes: Vec::new(),
            more: vec![url.as_str().to_owned()],
        });
        if app
            .bus
            .publish(&Topic::Visitor(session.clone()), want)
            .await?
            == 0
        {
            // Nobody to ask: the visitor has gone.
            return Ok(None);
        }
    }
    loop {
        if let Some(entry) = store.entry(session, url.as_str()).await? {
            return Ok(Some(entry));
        }
        if Instant::now() + POLL > deadline {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The bytes of `hash`, waiting until `deadline` for an upload if the cache
/// does not hold them; the visitor is asked (again) for them if no upload
/// is known to be coming.
async fn wait_for_bytes<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    owner: &SessionResources,
    hash: &ResourceHash,
    deadline: Instant,
) -> Result<Option<Bytes>, RelayError> {
    let store = app.store.resources();
    if let Some(bytes) = app.resources.lookup(store, hash, true).await? {
        return Ok(Some(bytes));
    }
    // Cached when offered but expired since: nobody is uploading it.
    if owner.policy.upload && store.mark_wanted(&owner.session, hash).await? {
        let want = Delivery::Visitor(ToVisitor::Want {
            hashes: vec![*hash],
            more: Vec::new(),
        });
        if app
            .bus
            .publish(&Topic::Visitor(owner.session.clone()), want)
            .await?
            == 0
        {
            return Ok(None);
        }
    }
    loop {
        if Instant::now() + POLL > deadline {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
        if let Some(bytes) = app.resources.lookup(store, hash, false).await? {
            return Ok(Some(bytes));
        }
    }
}

/// The fallback chain for a resource the cache cannot serve.
async fn fall_back<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    owner: &SessionResources,
    headers: &HeaderMap,
    url: &Url,
    prefix: &str,
) -> Result<Response, RelayError> {
    let metrics = app.resources.metrics();
    if url.scheme() == "blob" {
        // Only the visitor's page has these bytes: nothing to fetch or
        // redirect to.
        metrics.fell_back(Fallback::NotFound);
        return Err(RelayError::NoSuchResource(
            "the visitor's page did not supply this blob: resource".into(),
        ));
    }
    if owner.policy.server_fetch {
        if let Some(fetcher) = app.resources.fetcher().filter(|f| f.allows(url)) {
            match fetch_and_keep(app, owner, fetcher, url).await {
                Ok((hash, content_type, bytes)) => {
                    metrics.fell_back(Fallback::ServerFetch);
                    return Ok(respond(
                        app,
                        headers,
                        url,
                        prefix,
                        &hash,
                        &content_type,
                        bytes,
                    ));
                }
                Err(why) => tracing::info!(%url, "server-side fetch failed: {why}"),
            }
        }
    }
    if app.resources.settings.strict {
        metrics.fell_back(Fallback::NotFound);
        return Err(RelayError::NoSuchResource(
            "the visitor's browser did not supply this resource, and this relay is strict".into(),
        ));
    }
    metrics.fell_back(Fallback::Redirect);
    Ok((
        StatusCode::FOUND,
        [
            (LOCATION, url.as_str().to_owned()),
            (CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response())
}

/// The relay's own fetch: checked like an upload, then cached and entered
/// into the session's history as if the visitor had offered it.
async fn fetch_and_keep<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    owner: &SessionResources,
    fetcher: &super::fetch::Fetcher,
    url: &Url,
) -> Result<(ResourceHash, String, Bytes), String> {
    let fetched = fetcher.fetch(url).await.map_err(|e| e.0)?;
    let kind = kinds::check(&fetched.content_type, Some(url))
        .ok_or_else(|| format!("refused content type {:?}", fetched.content_type))?;
    if kind == Kind::Plain && kinds::sniffs_as_html(&fetched.bytes) {
        return Err(format!("{:?} that is HTML", fetched.content_type));
    }
    let hash = ResourceHash(Sha256::digest(&fetched.bytes).into());
    let store = app.store.resources();
    let size = fetched.bytes.len() as u64;
    app.resources.metrics().fetched(size);
    let stored = async {
        app.resources
            .keep(store, hash, fetched.bytes.clone())
            .await?;
        let entry = HistoryEntry::Body {
            hash,
            size,
            content_type: fetched.content_type.clone(),
        };
        let offered = OfferedHash {
            size,
            content_type: fetched.content_type.clone(),
            url: url.as_str().to_owned(),
        };
        store
            .record(
                &owner.session,
                vec![(url.as_str().to_owned(), entry)],
                vec![(hash, offered)],
            )
            .await
    };
    if let Err(err) = stored.await {
        // Served anyway; only the next request misses the cache.
        tracing::error!(%url, "could not cache a fetched resource: {err}");
    }
    Ok((hash, fetched.content_type, fetched.bytes))
}

/// 200 with the resource (a stylesheet decoded and rewritten; a part of
/// another resource with 206 when a `Range` asks for one), or 304 when
/// the agent's browser has this version; 404 for a type that must never be
/// served (a second line of defence: such offers never reach the cache).
fn respond<S, B>(
    app: &App<S, B>,
    headers: &HeaderMap,
    url: &Url,
    prefix: &str,
    hash: &ResourceHash,
    content_type: &str,
    bytes: Bytes,
) -> Response {
    let Some(kind) = kinds::check(content_type, Some(url)) else {
        return RelayError::NoSuchResource("this resource's type is never served".into())
            .json_response();
    };
    let etag = match kind {
        // The rewritten text, not the uploaded bytes.
        Kind::Stylesheet => format!("\"{hash}-css1\""),
        Kind::Plain => format!("\"{hash}\""),
    };
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let common = [
        (X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (CONTENT_SECURITY_POLICY, RESOURCE_CSP.to_owned()),
        (CACHE_CONTROL, "no-cache".to_owned()),
        (ETAG, etag.clone()),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let (content_type, body) = match kind {
        Kind::Stylesheet => {
            let text = css::decode(&bytes, content_type);
            let rewritten = css::rewrite(&text, url, prefix);
            ("text/css; charset=utf-8".to_owned(), Bytes::from(rewritten))
        }
        Kind::Plain => {
            return plain(app, headers, &etag, common, content_type, bytes);
        }
    };
    app.resources.metrics().served(body.len() as u64);
    (StatusCode::OK, common, [(CONTENT_TYPE, content_type)], body).into_response()
}

/// A resource served as stored, whole or the one byte range asked for (a
/// media element seeking; see `range.rs`). An `If-Range` that names
/// another version gets the whole resource, as RFC 9110 says.
fn plain<S, B>(
    app: &App<S, B>,
    headers: &HeaderMap,
    etag: &str,
    common: [(axum::http::HeaderName, String); 4],
    content_type: &str,
    bytes: Bytes,
) -> Response {
    let same_version = headers
        .get(IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim() == etag);
    let asked = headers
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| same_version);
    let len = bytes.len() as u64;
    let typed = [
        (CONTENT_TYPE, content_type.to_owned()),
        (ACCEPT_RANGES, "bytes".to_owned()),
    ];
    match range::answer(asked, len) {
        range::Answer::Whole => {
            app.resources.metrics().served(len);
            (StatusCode::OK, common, typed, bytes).into_response()
        }
        range::Answer::Part { start, end } => {
            // `answer` keeps both ends inside the resource.
            let part = bytes.slice(start as usize..=end as usize);
            app.resources.metrics().served(part.len() as u64);
            (
                StatusCode::PARTIAL_CONTENT,
                common,
                typed,
                [(CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))],
                part,
            )
                .into_response()
        }
        range::Answer::Unsatisfiable => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            common,
            [(CONTENT_RANGE, format!("bytes */{len}"))],
        )
            .into_response(),
    }
}
