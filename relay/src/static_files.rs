//! The built front-ends: the visitor SDK under `/sdk/` and the agent console
//! under `/agent/`, both read from the `--static` directory.
//!
//! Owns: those routes and their headers. Does not own: building the files
//! (`cargo xtask dist` does) or anything under `/ws/`.
//!
//! `/sdk/` is loaded by customers' pages on other origins (an ES module
//! import and a `fetch` of the `.wasm`), so every answer there carries
//! `Access-Control-Allow-Origin: *` (the files are public and no credentials
//! are involved) and `Cross-Origin-Resource-Policy: cross-origin` (for pages
//! that enable cross-origin isolation). `.wasm` gets `application/wasm`
//! from `ServeDir`'s type table, which streaming compilation requires.

use std::path::Path;

use axum::extract::Request;
use axum::http::header::{HeaderName, HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

const CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

/// The static routes, for merging into the relay's router.
pub fn routes<S: Clone + Send + Sync + 'static>(static_dir: &Path) -> Router<S> {
    let sdk = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            CORP,
            HeaderValue::from_static("cross-origin"),
        ))
        .service(ServeDir::new(static_dir.join("sdk")));
    let agent = ServeDir::new(static_dir.join("agent"));
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/agent/") }))
        .nest_service("/sdk", sdk)
        .nest_service("/agent", agent)
        .layer(axum::middleware::from_fn(agent_needs_its_slash))
}

/// `/agent` must become `/agent/`: the console's `index.html` loads its
/// script and `.wasm` by relative URL, which would otherwise resolve against
/// `/`. (The login fragment survives: browsers keep it across redirects.)
async fn agent_needs_its_slash(req: Request, next: Next) -> Response {
    if req.uri().path() == "/agent" {
        let target = match req.uri().query() {
            Some(q) => format!("/agent/?{q}"),
            None => "/agent/".to_owned(),
        };
        return Redirect::permanent(&target).into_response();
    }
    next.run(req).await
}
