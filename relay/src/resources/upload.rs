//! `PUT /res/up/{hash}?offset=N&total=T` and `GET /res/up/{hash}`: the
//! visitor's browser uploads the resources the relay wanted, in chunks, and
//! resumes a dropped upload from what the relay holds.
//!
//! Owns: the upload rules, in the order a request meets them — origin,
//! bearer token, hash, offered, offset and total, type, budget, chunk, then
//! on the last chunk the SHA-256 check and the HTML sniff before the bytes
//! enter the cache. Every refusal is a JSON sentence (`error.rs`). Does not
//! own: storage (the store and the cache) or CORS headers beyond the layer
//! set up here.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, ORIGIN};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use protocol::ResourceHash;
use sha2::{Digest, Sha256};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::kinds::{self, Kind};
use super::store::{Append, Charge, OfferedHash, ResourceStore, SessionResources};
use crate::bus::Bus;
use crate::server::App;
use crate::sessions::SessionStore;
use crate::RelayError;

/// Largest chunk one request may carry.
pub const MAX_CHUNK: usize = 512 * 1024;

/// The upload routes, with CORS for the relay's site origins (the same
/// policy as `/ws/visitor`): the visitor's page uploads from its own origin.
pub fn routes<S: SessionStore, B: Bus>(app: Arc<App<S, B>>) -> Router {
    let origins = app.config.origins.clone();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin: &HeaderValue, _| {
            origins.allows(origin.to_str().ok())
        }))
        .allow_methods([Method::GET, Method::PUT])
        .allow_headers([AUTHORIZATION, CONTENT_TYPE])
        .max_age(Duration::from_secs(600));
    Router::new()
        .route("/res/up/{hash}", get(progress::<S, B>).put(upload::<S, B>))
        .layer(cors)
        .with_state(app)
}

/// `{"received": n}` with `status`, plus `more` when given.
fn answer(status: StatusCode, received: u64, more: Option<Vec<String>>) -> Response {
    let mut body = serde_json::json!({ "received": received });
    if let Some(more) = more {
        body["more"] = serde_json::json!(more);
    }
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn refuse<S, B>(app: &App<S, B>, err: RelayError) -> Response {
    let reason = err.refusal_reason();
    match reason {
        crate::RefusalReason::Internal => tracing::error!("resource upload failed: {err}"),
        _ => tracing::debug!(reason = reason.label(), "resource upload refused: {err}"),
    }
    app.resources.metrics().refused(reason);
    err.json_response()
}

async fn progress<S: SessionStore, B: Bus>(
    State(app): State<Arc<App<S, B>>>,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Response {
    match progress_of(&app, &hash, &headers).await {
        Ok(received) => answer(StatusCode::OK, received, None),
        Err(err) => refuse(&app, err),
    }
}

async fn progress_of<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    hash: &str,
    headers: &HeaderMap,
) -> Result<u64, RelayError> {
    let (owner, hash) = authorize(app, hash, headers).await?;
    let store = app.store.resources();
    let offered =
        store
            .offered(&owner.session, &hash)
            .await?
            .ok_or_else(|| RelayError::NotOffered {
                hash: hash.to_hex(),
            })?;
    if app.resources.local.get(&hash).is_some() || store.blob_get(&hash).await?.is_some() {
        return Ok(offered.size);
    }
    store.received(&owner.session, &hash).await
}

async fn upload<S: SessionStore, B: Bus>(
    State(app): State<Arc<App<S, B>>>,
    Path(hash): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match receive(&app, &hash, query.as_deref(), &headers, body).await {
        Ok(response) => response,
        Err(err) => refuse(&app, err),
    }
}

/// The request's origin (when a browser sent one) and token, then the hash.
async fn authorize<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    hash: &str,
    headers: &HeaderMap,
) -> Result<(SessionResources, ResourceHash), RelayError> {
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().ok();
        if !app.config.origins.allows(origin) {
            return Err(RelayError::OriginNotAllowed {
                origin: origin.unwrap_or("(unreadable)").to_owned(),
            });
        }
    }
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .ok_or(RelayError::UploadUnauthorized)?;
    let owner = app
        .store
        .resources()
        .by_token(token)
        .await?
        .ok_or(RelayError::UploadUnauthorized)?;
    let hash = ResourceHash::from_hex(hash).ok_or_else(|| {
        RelayError::BadResourceRequest(
            "the upload's path must end in the resource's SHA-256 as 64 hex digits".into(),
        )
    })?;
    Ok((owner, hash))
}

/// `offset` and `total` from the query string.
fn positions(query: Option<&str>) -> Result<(u64, u64), RelayError> {
    let bad = |what: &str| {
        RelayError::BadResourceRequest(format!(
            "{what}: an upload chunk needs ?offset=N&total=T (whole numbers of bytes)"
        ))
    };
    let (mut offset, mut total) = (None, None);
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value: u64 = value
            .parse()
            .map_err(|_| bad(&format!("{name} is not a number")))?;
        match name {
            "offset" => offset = Some(value),
            "total" => total = Some(value),
            _ => {}
        }
    }
    match (offset, total) {
        (Some(offset), Some(total)) if offset <= total => Ok((offset, total)),
        (Some(_), Some(_)) => Err(bad("offset is past total")),
        _ => Err(bad("offset or total missing")),
    }
}

async fn receive<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    hash: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, RelayError> {
    let (owner, hash) = authorize(app, hash, headers).await?;
    let session = &owner.session;
    let store = app.store.resources();
    let settings = &app.resources.settings;
    let offered = store
        .offered(session, &hash)
        .await?
        .ok_or_else(|| RelayError::NotOffered {
            hash: hash.to_hex(),
        })?;
    let (offset, total) = positions(query)?;
    if total > settings.max_resource_bytes {
        return Err(RelayError::ResourceTooLarge {
            size: total,
            limit: settings.max_resource_bytes,
        });
    }
    if total != offered.size {
        return Err(RelayError::BadResourceRequest(format!(
            "total is {total} bytes, but the resource was offered with {} bytes",
            offered.size
        )));
    }
    let kind =
        kinds::check(&offered.content_type, None).ok_or_else(|| RelayError::RefusedType {
            content_type: offered.content_type.clone(),
        })?;
    // Another session (or an earlier upload) may have supplied it meanwhile.
    if let Some(bytes) = app.resources.lookup(store, &hash, false).await? {
        drop(store.take_upload(session, &hash).await?);
        let more = stylesheet_references(app, &owner, &offered, kind, &bytes).await?;
        return Ok(answer(StatusCode::CREATED, total, Some(more)));
    }
    if let Charge::OverBudget { used } = store
        .charge(session, &hash, total, settings.session_budget_bytes)
        .await?
    {
        return Err(RelayError::OverBudget {
            budget: settings.session_budget_bytes,
            used,
        });
    }
    let chunk = read_chunk(headers, body).await?;
    if offset.saturating_add(chunk.len() as u64) > total {
        return Err(RelayError::BadResourceRequest(format!(
            "the chunk runs past total ({} bytes from offset {offset}, total {total})",
            chunk.len()
        )));
    }
    if offset == 0 && kind == Kind::Plain && kinds::sniffs_as_html(&chunk) {
        store.refund(session, &hash).await?;
        return Err(RelayError::DisguisedHtml {
            content_type: offered.content_type.clone(),
        });
    }
    let received = match store.append(session, &hash, offset, chunk).await? {
        Append::Received(received) => received,
        Append::WrongOffset { received } => {
            return Err(RelayError::WrongOffset { offset, received })
        }
    };
    if received < total {
        return Ok(answer(StatusCode::OK, received, None));
    }
    let bytes = store.take_upload(session, &hash).await?;
    let actual = ResourceHash(Sha256::digest(&bytes).into());
    if actual != hash {
        store.refund(session, &hash).await?;
        return Err(RelayError::HashMismatch {
            hash: hash.to_hex(),
        });
    }
    if kind == Kind::Plain && kinds::sniffs_as_html(&bytes) {
        store.refund(session, &hash).await?;
        return Err(RelayError::DisguisedHtml {
            content_type: offered.content_type.clone(),
        });
    }
    app.resources.keep(store, hash, bytes.clone()).await?;
    app.resources.metrics().uploaded(total);
    tracing::debug!(%session, %hash, bytes = total, "resource uploaded");
    let more = stylesheet_references(app, &owner, &offered, kind, &bytes).await?;
    Ok(answer(StatusCode::CREATED, total, Some(more)))
}

/// The chunk's bytes, refused beyond [`MAX_CHUNK`].
async fn read_chunk(headers: &HeaderMap, body: Body) -> Result<Bytes, RelayError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_CHUNK as u64) {
        return Err(RelayError::ChunkTooLarge { limit: MAX_CHUNK });
    }
    axum::body::to_bytes(body, MAX_CHUNK)
        .await
        .map_err(|_| RelayError::ChunkTooLarge { limit: MAX_CHUNK })
}

/// For a stylesheet: the URLs it refers to that the session has not
/// offered, resolved against the URL it was offered under.
async fn stylesheet_references<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    owner: &SessionResources,
    offered: &OfferedHash,
    kind: Kind,
    bytes: &[u8],
) -> Result<Vec<String>, RelayError> {
    let Some(base) = super::resource_url(&offered.url) else {
        return Ok(Vec::new());
    };
    if kind != Kind::Stylesheet {
        return Ok(Vec::new());
    }
    app.resources
        .unoffered_references(
            app.store.resources(),
            &owner.session,
            &base,
            bytes,
            &offered.content_type,
        )
        .await
}
