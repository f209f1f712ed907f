//! The demo customer site: serves `www/site/` on its own origin, as a real
//! customer's web server would, separate from the relay.
//!
//! Owns: static serving and one substitution — `{{RELAY}}` in `.html` files
//! becomes the relay's base URL, so the pages' script tag points at whichever
//! relay `cargo xtask demo` or the test harness started. With `--inject-sdk`
//! it serves any folder of pages (third-party ones included) with the SDK's
//! script tag added to each, as a site owner would add it.
//!
//! Like a real customer's site it has a signed-in area: `POST /login` (any
//! password) sets a session cookie, and everything under `/account/` —
//! pages, images, stylesheets, fonts — answers 401 without it. An agent's
//! browser has no such cookie; it sees those resources only through the
//! relay's cache, uploaded by the visitor's browser.
//! Does not own: anything co-browsing; the pages load the SDK like any site.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context;
use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::post,
    Router,
};
use clap::Parser;
use tower_http::services::ServeDir;

#[derive(Parser)]
#[command(about = "Serves the demo customer site")]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// The folder of pages (www/site).
    #[arg(long)]
    root: PathBuf,
    /// The relay's base URL, written into the pages' script tag.
    #[arg(long)]
    relay: String,
    /// Add the SDK's script tag to every HTML page (for pages not written
    /// for this project).
    #[arg(long)]
    inject_sdk: bool,
}

struct Site {
    root: PathBuf,
    relay: String,
    inject_sdk: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.root.join("index.html").is_file() || (args.inject_sdk && args.root.is_dir()),
        "{} has no index.html: pass --root www/site",
        args.root.display()
    );
    let site = Arc::new(Site {
        root: args.root.clone(),
        relay: args.relay.trim_end_matches('/').to_owned(),
        inject_sdk: args.inject_sdk,
    });
    let app = Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .fallback_service(ServeDir::new(&args.root).fallback(axum::routing::get(not_found)))
        .layer(axum::middleware::from_fn_with_state(
            site.clone(),
            html_pages,
        ))
        // Outermost: nothing under /account/ is served without the cookie.
        .layer(axum::middleware::from_fn(signed_in_area))
        .with_state(site);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    // The harness reads this line to learn the port.
    println!("demo-site listening on http://{addr}");
    axum::serve(listener, app).await?;
    Ok(())
}

/// The login cookie's name and (demo) value.
const SESSION_COOKIE: &str = "northwind_session";
const SESSION_VALUE: &str = "signed-in-demo-customer";
/// The signed-in area.
const PRIVATE_PREFIX: &str = "/account/";

/// Any password signs in: this is a demo of a site behind a login, not of
/// a login.
async fn login() -> Response {
    let cookie = format!("{SESSION_COOKIE}={SESSION_VALUE}; Path=/; HttpOnly; SameSite=Lax");
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to("/account/index.html"),
    )
        .into_response()
}

async fn logout() -> Response {
    let cookie = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login.html")).into_response()
}

fn signed_in(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|pair| pair.trim() == format!("{SESSION_COOKIE}={SESSION_VALUE}"))
}

/// 401 for anything under `/account/` without the session cookie, as a
/// site behind authentication answers the agent's cookie-less browser.
async fn signed_in_area(req: Request, next: axum::middleware::Next) -> Response {
    let private = req
        .uri()
        .path()
        .to_ascii_lowercase()
        .starts_with(PRIVATE_PREFIX);
    if !private || signed_in(req.headers()) {
        return next.run(req).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!DOCTYPE html><title>401</title><h1>401 unauthorized</h1><p><a href=\"/login.html\">Sign in</a> first.</p>",
    )
        .into_response()
}

/// Serves `.html` pages (and `/`) with `{{RELAY}}` filled in; everything else
/// goes on to the static files.
async fn html_pages(
    State(site): State<Arc<Site>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path().to_owned();
    let file = match path.as_str() {
        "/" => "index.html".to_owned(),
        p if p.ends_with(".html") => p.trim_start_matches('/').to_owned(),
        _ => return next.run(req).await,
    };
    // Only plain file names below the root: no `..`, no absolute paths.
    if file.split('/').any(|part| part.is_empty() || part == "..") {
        return not_found().await.into_response();
    }
    match tokio::fs::read(site.root.join(&file)).await {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes).replace("{{RELAY}}", &site.relay);
            let text = if site.inject_sdk {
                inject_sdk(&text, &site.relay)
            } else {
                text
            };
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], text).into_response()
        }
        Err(_) => not_found().await.into_response(),
    }
}

/// The SDK's tag as a site owner adds it: early in `<head>` (after the
/// doctype and any `<head>` tag, so the parser's mode is not changed).
fn inject_sdk(page: &str, relay: &str) -> String {
    let tag = format!(r#"<script src="{relay}/sdk/cobrowse.js" data-relay="{relay}"></script>"#);
    let lower = page.to_ascii_lowercase();
    let at = lower
        .find("<head")
        .and_then(|i| lower[i..].find('>').map(|j| i + j + 1))
        .or_else(|| {
            lower
                .find("<!doctype")
                .and_then(|i| lower[i..].find('>').map(|j| i + j + 1))
        })
        .unwrap_or(0);
    format!("{}{tag}{}", &page[..at], &page[at..])
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found")
}
