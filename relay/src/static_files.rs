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
//! Both routes serve the brotli or gzip copies dist writes beside each file
//! to browsers that accept them ([`precompressed`]).
//!
//! `/agent/` carries a strict Content-Security-Policy ([`console_csp`]):
//! the console runs only its own files, and the mirrored page (rebuilt in an
//! `about:blank` iframe, which inherits this policy) may show images, styles,
//! fonts and media from anywhere but can never run a script. The one inline
//! script of `index.html` (the module bootstrap) is allowed by its SHA-256
//! hash, computed from the file when the relay starts.

use std::path::Path;

use axum::extract::Request;
use axum::http::header::{
    HeaderName, HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_SECURITY_POLICY, REFERRER_POLICY,
    VARY, X_CONTENT_TYPE_OPTIONS,
};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
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
        .layer(vary_encoding())
        .service(precompressed(ServeDir::new(static_dir.join("sdk"))));
    let agent_dir = static_dir.join("agent");
    let csp = console_csp(&inline_script_hashes(&agent_dir.join("index.html")));
    let agent = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static(FALLBACK_CSP)),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(vary_encoding())
        .service(precompressed(ServeDir::new(agent_dir)));
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/agent/") }))
        .nest_service("/sdk", sdk)
        .nest_service("/agent", agent)
        .layer(axum::middleware::from_fn(agent_needs_its_slash))
}

/// Answers with `FILE.br` or `FILE.gz` where the browser accepts it and
/// `cargo xtask dist` wrote one (the same bytes as FILE, compressed once at
/// build time): the visitor's wasm goes out at about a third of its size.
/// Without such a file, FILE as it is.
fn precompressed(dir: ServeDir) -> ServeDir {
    dir.precompressed_br().precompressed_gzip()
}

/// The answer depends on Accept-Encoding: caches between must keep the
/// compressed and plain copies apart.
fn vary_encoding() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(VARY, HeaderValue::from_static("accept-encoding"))
}

/// What mirrored pages may load into the console's iframe: any web or
/// inline-data source, never script.
const MIRROR_SOURCES: &str = "'self' http: https: data: blob:";

/// The policy without an inline-script hash: only if a hash could not make
/// a header value (it always can: base64 is header-safe).
const FALLBACK_CSP: &str = "default-src 'none'";

/// The console's policy, allowing the inline scripts whose hashes
/// (`sha256-…`) are given.
///
/// - `script-src`: the console's own files, its bootstrap by hash, and
///   `'wasm-unsafe-eval'` (compiling WebAssembly needs it); no
///   `'unsafe-inline'`, so a `<script>` or `on*=` that slipped into the
///   mirror (whose iframe inherits this policy) still would not run.
/// - `style-src` / `img-src` / `font-src` / `media-src`: the mirrored page's
///   stylesheets and inline styles, images, fonts and media, wherever they
///   live (its own site, the relay's resource cache, `data:`, `blob:`).
/// - `connect-src`: the relay's WebSocket and the `.wasm` fetch.
/// - `frame-ancestors 'none'`: nobody frames the console (clickjacking).
pub fn console_csp(inline_hashes: &[String]) -> String {
    let mut script = String::from("'self' 'wasm-unsafe-eval'");
    for hash in inline_hashes {
        script.push_str(&format!(" '{hash}'"));
    }
    format!(
        "default-src 'self'; script-src {script}; \
         style-src {MIRROR_SOURCES} 'unsafe-inline'; img-src {MIRROR_SOURCES}; \
         font-src {MIRROR_SOURCES}; media-src {MIRROR_SOURCES}; \
         connect-src 'self' ws: wss:; frame-src 'self' blob: data:; \
         frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"
    )
}

/// `sha256-…` of each inline `<script>` (one without `src`) in `index`.
/// A missing file has none (the relay warns about the missing directory).
fn inline_script_hashes(index: &Path) -> Vec<String> {
    let Ok(html) = std::fs::read_to_string(index) else {
        return Vec::new();
    };
    let mut hashes = Vec::new();
    let mut rest = html.as_str();
    while let Some(open) = rest.find("<script") {
        let after = &rest[open..];
        let Some(tag_end) = after.find('>') else {
            break;
        };
        let tag = &after[..tag_end];
        let body_start = &after[tag_end + 1..];
        let Some(close) = body_start.find("</script") else {
            break;
        };
        let body = &body_start[..close];
        if !tag.contains("src=") && !body.is_empty() {
            let digest = Sha256::digest(body.as_bytes());
            hashes.push(format!("sha256-{}", STANDARD.encode(digest)));
        }
        rest = &body_start[close..];
    }
    hashes
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

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn inline_bootstraps_are_hashed_and_external_scripts_are_not() {
        let dir = std::env::temp_dir().join(format!("cobrowse-csp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let index = dir.join("index.html");
        std::fs::write(
            &index,
            "<script src=\"a.js\"></script>\n<script type=\"module\">init();</script>",
        )
        .expect("write");
        let hashes = inline_script_hashes(&index);
        // printf 'init();' | openssl dgst -sha256 -binary | base64
        assert_eq!(
            hashes,
            ["sha256-".to_owned() + &STANDARD.encode(Sha256::digest(b"init();"))]
        );
        let csp = console_csp(&hashes);
        assert!(csp.contains(&format!(
            "script-src 'self' 'wasm-unsafe-eval' '{}'",
            hashes[0]
        )));
        assert!(!csp.contains("script-src 'self' 'unsafe-inline'"));
        assert!(HeaderValue::from_str(&csp).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
        assert!(inline_script_hashes(&dir.join("missing.html")).is_empty());
    }
}
