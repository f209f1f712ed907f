//! The first step of the fallback chain: the relay fetches a resource
//! itself, only from the operator's `allowed_external_domains`, never with
//! anyone's cookies.
//!
//! Owns: the HTTP client and its rules (http(s) only, allowed hosts only,
//! also after each redirect, a size limit, a short timeout, no cookies, no
//! proxy from the environment). Does not own: whether to fetch (the serving
//! route decides, from the session's policy) or storing the result.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use url::Url;

use super::settings::{HostPattern, ResourceSettings};

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;

/// Why a fetch gave nothing; for the relay's log only.
#[derive(Debug)]
pub struct FetchFailed(pub String);

/// What a fetch brought back.
#[derive(Debug)]
pub struct Fetched {
    pub bytes: Bytes,
    pub content_type: String,
}

pub struct Fetcher {
    client: reqwest::Client,
    allowed: Arc<Vec<HostPattern>>,
    max_bytes: u64,
}

fn allowed_url(allowed: &[HostPattern], url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
        && url
            .host_str()
            .is_some_and(|host| allowed.iter().any(|p| p.matches(host)))
}

impl Fetcher {
    /// `None` when no domain is allowed (then nothing is ever fetched) or
    /// the client cannot be built (logged).
    pub fn new(settings: &ResourceSettings) -> Option<Fetcher> {
        if settings.allowed_external_domains.is_empty() {
            return None;
        }
        let allowed = Arc::new(settings.allowed_external_domains.clone());
        let for_redirects = Arc::clone(&allowed);
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS
                || !allowed_url(&for_redirects, attempt.url())
            {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let Some(tls) = tls_config() else {
            tracing::error!("server-side resource fetching is off: no TLS configuration");
            return None;
        };
        let built = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(policy)
            .timeout(settings.fetch_timeout)
            .connect_timeout(settings.fetch_timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("cobrowse-relay/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .build();
        match built {
            Ok(client) => Some(Fetcher {
                client,
                allowed,
                max_bytes: settings.max_resource_bytes,
            }),
            Err(err) => {
                tracing::error!("server-side resource fetching is off: {err}");
                None
            }
        }
    }

    /// Whether `url` may be fetched at all.
    pub fn allows(&self, url: &Url) -> bool {
        allowed_url(&self.allowed, url)
    }

    /// Fetches `url` (which [`Fetcher::allows`]): a 2xx answer within the
    /// size limit, else why not.
    pub async fn fetch(&self, url: &Url) -> Result<Fetched, FetchFailed> {
        if !self.allows(url) {
            return Err(FetchFailed(format!(
                "{} is not an allowed host",
                url.host_str().unwrap_or("?")
            )));
        }
        let failed = |e: reqwest::Error| FetchFailed(e.to_string());
        let mut response = self.client.get(url.as_str()).send().await.map_err(failed)?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchFailed(format!("answered {status}")));
        }
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes)
        {
            return Err(FetchFailed(format!("larger than {} bytes", self.max_bytes)));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if (body.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(FetchFailed(format!("larger than {} bytes", self.max_bytes)));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            bytes: Bytes::from(body),
            content_type,
        })
    }
}

/// rustls with ring and the webpki roots: the same trust on every machine,
/// no system OpenSSL.
fn tls_config() -> Option<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?;
    Some(builder.with_root_certificates(roots).with_no_client_auth())
}
