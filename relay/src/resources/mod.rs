//! Static resources (issue 4): the visitor's browser offers the resources
//! the page uses and uploads the ones the relay lacks; agents read them back
//! through their session's capability path, stylesheets rewritten.
//!
//! Owns: the rules that join the pieces — what an offer records and which
//! hashes and URLs the relay wants in return ([`Resources::offer`]), the two
//! cache levels read and written as one ([`Resources::lookup`],
//! [`Resources::keep`]). The pieces:
//!
//! - `settings.rs`: `[cache]` and `[resources]` of `cobrowse.toml`.
//! - `store.rs`: the [`store::ResourceStore`] seam (a session's secrets,
//!   history, budget and uploads, and the shared cache level), implemented
//!   in `memory.rs` and `redis.rs` (with `lua/`).
//! - `cache.rs`: the local level (size-bounded LRU with a TTL).
//! - `kinds.rs`: which types are accepted; HTML sniffing. `range.rs`:
//!   `Range` requests on served resources (media seeking).
//! - `upload.rs`: `PUT`/`GET /res/up/{hash}`; `serve.rs`:
//!   `GET /res/s/{key}/{b64url}` and the fallback chain; `fetch.rs`: the
//!   relay's own fetch from allowed domains; `css.rs`: stylesheets through
//!   `css-sync`; `metrics.rs`: the counters.
//!
//! Does not own: the visitor's socket (`visitor/` hands offers here) or
//! the wire format.
//!
//! # Invariants
//!
//! - A session reads only what its own history names: bytes are found by
//!   hash, but a hash is reached only through a URL the session offered (or
//!   the relay fetched for it).
//! - Bytes enter the cache only after their SHA-256 was checked.
//! - Nothing HTML, script or XML-document is ever served from `/res/`.

pub mod cache;
pub mod css;
pub mod fetch;
pub mod kinds;
pub mod memory;
pub mod metrics;
pub mod range;
pub mod redis;
pub mod serve;
pub mod settings;
pub mod store;
pub mod upload;

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use protocol::{Offered, ResourceHash, ResourcePolicy, SessionId};
use url::Url;

use self::cache::LocalCache;
use self::fetch::Fetcher;
use self::kinds::Kind;
use self::metrics::Level;
use self::settings::ResourceSettings;
use self::store::{Grant, HistoryEntry, OfferedHash, ResourceStore};
use crate::metrics::Metrics;
use crate::RelayError;

/// Longest resource URL kept; longer ones are not offered by real pages.
const MAX_URL_BYTES: usize = 8 * 1024;

/// Most `more` URLs in one answer.
const MAX_MORE: usize = 1000;

/// This relay's resource service: settings, the local cache level and the
/// fetcher. The store (history and the shared level) comes with the
/// session store, passed in.
pub struct Resources {
    pub settings: ResourceSettings,
    pub local: LocalCache,
    fetcher: Option<Fetcher>,
    metrics: Arc<Metrics>,
}

/// What the relay asks of the visitor after an offer or an upload.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub hashes: Vec<ResourceHash>,
    pub more: Vec<String>,
}

/// `text` as a resource URL: absolute http(s), or a `blob:` URL of an
/// http(s) page (bytes only the visitor's page has, which it uploads),
/// without its fragment.
pub fn resource_url(text: &str) -> Option<Url> {
    if text.len() > MAX_URL_BYTES {
        return None;
    }
    let mut url = Url::parse(text).ok()?;
    let web = |u: &Url| matches!(u.scheme(), "http" | "https") && u.host_str().is_some();
    let ok = match url.scheme() {
        "blob" => Url::parse(url.path()).is_ok_and(|inner| web(&inner)),
        _ => web(&url),
    };
    if !ok {
        return None;
    }
    url.set_fragment(None);
    Some(url)
}

impl Resources {
    pub fn new(settings: ResourceSettings, metrics: Arc<Metrics>) -> Self {
        Resources {
            local: LocalCache::new(settings.local_max_bytes, settings.local_ttl()),
            fetcher: Fetcher::new(&settings),
            settings,
            metrics,
        }
    }

    pub fn metrics(&self) -> &metrics::ResourceMetrics {
        &self.metrics.resources
    }

    /// Gives a new session its secrets.
    pub async fn open<R: ResourceStore>(
        &self,
        store: &R,
        session: &SessionId,
        policy: ResourcePolicy,
    ) -> Result<Grant, RelayError> {
        let grant = Grant::random();
        store.open(session, &grant, policy).await?;
        Ok(grant)
    }

    /// Whether a resource offered as `body` is accepted: its type, then its
    /// size.
    fn acceptable(&self, url: &Url, content_type: &str, size: u64) -> Option<Kind> {
        let kind = kinds::check(content_type, Some(url))?;
        (size <= self.settings.max_resource_bytes).then_some(kind)
    }

    /// Records a batch of offers in the session's history and says what the
    /// relay wants: the hashes neither cache level holds, and the URLs that
    /// cached stylesheets among them refer to which the session has not
    /// offered.
    pub async fn offer<R: ResourceStore>(
        &self,
        store: &R,
        session: &SessionId,
        offers: Vec<Offered>,
    ) -> Result<Wanted, RelayError> {
        let mut entries = Vec::with_capacity(offers.len());
        let mut hashes = Vec::new();
        for offer in offers.into_iter().take(store::MAX_HISTORY) {
            let Some(url) = resource_url(&offer.url) else {
                tracing::debug!(%session, "offer of a non-http(s) or unparsable URL ignored");
                continue;
            };
            let entry = match offer.body {
                None => HistoryEntry::Unavailable,
                Some(body) => {
                    hashes.push((
                        body.hash,
                        OfferedHash {
                            size: body.size,
                            content_type: body.content_type.clone(),
                            url: url.as_str().to_owned(),
                        },
                    ));
                    match self.acceptable(&url, &body.content_type, body.size) {
                        Some(_) => HistoryEntry::Body {
                            hash: body.hash,
                            size: body.size,
                            content_type: body.content_type,
                        },
                        // Refused types and oversized files go to the
                        // fallback chain at once rather than being waited for.
                        None => HistoryEntry::Unavailable,
                    }
                }
            };
            entries.push((url, entry));
        }
        let recorded = entries
            .iter()
            .map(|(url, entry)| (url.as_str().to_owned(), entry.clone()))
            .collect();
        store.record(session, recorded, hashes).await?;

        let mut wanted = Wanted::default();
        let mut seen = HashSet::new();
        let mut stylesheets = Vec::new();
        for (url, entry) in entries {
            let HistoryEntry::Body {
                hash, content_type, ..
            } = entry
            else {
                continue;
            };
            if !seen.insert(hash) {
                continue;
            }
            if self.holds(store, &hash).await? {
                if kinds::check(&content_type, None) == Some(Kind::Stylesheet) {
                    stylesheets.push((url, hash, content_type));
                }
            } else {
                store.mark_wanted(session, &hash).await?;
                wanted.hashes.push(hash);
            }
        }
        for (url, hash, content_type) in stylesheets {
            if let Some(bytes) = self.lookup(store, &hash, false).await? {
                let more = self.unoffered_references(store, session, &url, &bytes, &content_type);
                wanted.more.extend(more.await?);
            }
            if wanted.more.len() >= MAX_MORE {
                break;
            }
        }
        wanted.more.truncate(MAX_MORE);
        Ok(wanted)
    }

    /// The URLs the stylesheet at `url` refers to that the session's
    /// history does not name yet.
    pub async fn unoffered_references<R: ResourceStore>(
        &self,
        store: &R,
        session: &SessionId,
        url: &Url,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<Vec<String>, RelayError> {
        let text = css::decode(bytes, content_type);
        let urls: Vec<String> = css::references(&text, url)
            .into_iter()
            .map(String::from)
            .collect();
        let known = store.known(session, &urls).await?;
        Ok(urls
            .into_iter()
            .zip(known)
            .filter_map(|(url, known)| (!known).then_some(url))
            .collect())
    }

    /// Whether either level holds `hash`; if so its life starts again (it
    /// was just offered, so it is in use), and a copy only this relay had
    /// goes to the shared level.
    pub async fn holds<R: ResourceStore>(
        &self,
        store: &R,
        hash: &ResourceHash,
    ) -> Result<bool, RelayError> {
        let ttl = self.settings.cache_ttl;
        let shared = store.blob_refresh(hash, ttl).await?;
        if self.local.refresh(hash) {
            if !shared {
                if let Some(bytes) = self.local.get(hash) {
                    store.blob_put(hash, bytes, ttl).await?;
                }
            }
            return Ok(true);
        }
        Ok(shared)
    }

    /// The bytes of `hash` from the local level, else the shared one (which
    /// then fills the local one). `count`: whether this lookup goes into
    /// the hit/miss counters (not each poll of a wait).
    pub async fn lookup<R: ResourceStore>(
        &self,
        store: &R,
        hash: &ResourceHash,
        count: bool,
    ) -> Result<Option<Bytes>, RelayError> {
        if let Some(bytes) = self.local.get(hash) {
            if count {
                self.metrics().hit(Level::Local);
            }
            return Ok(Some(bytes));
        }
        match store.blob_get(hash).await? {
            Some(bytes) => {
                if count {
                    self.metrics().hit(Level::Redis);
                }
                self.local.insert(*hash, bytes.clone());
                Ok(Some(bytes))
            }
            None => {
                if count {
                    self.metrics().miss();
                }
                Ok(None)
            }
        }
    }

    /// Stores verified bytes in both levels.
    pub async fn keep<R: ResourceStore>(
        &self,
        store: &R,
        hash: ResourceHash,
        bytes: Bytes,
    ) -> Result<(), RelayError> {
        self.local.insert(hash, bytes.clone());
        store.blob_put(&hash, bytes, self.settings.cache_ttl).await
    }

    pub fn fetcher(&self) -> Option<&Fetcher> {
        self.fetcher.as_ref()
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn resource_urls_are_absolute_http_without_fragment() {
        let url = resource_url("https://x.example/a.svg#icon").expect("ok");
        assert_eq!(url.as_str(), "https://x.example/a.svg");
        assert!(resource_url("javascript:alert(1)").is_none());
        assert!(resource_url("data:image/png;base64,AA").is_none());
        let blob = resource_url("blob:https://x.example/3f2a#frag").expect("a page's blob");
        assert_eq!(blob.as_str(), "blob:https://x.example/3f2a");
        assert!(resource_url("blob:null/3f2a").is_none());
        assert!(resource_url("blob:file:///3f2a").is_none());
        assert!(resource_url("/relative.png").is_none());
        assert!(resource_url("file:///etc/passwd").is_none());
        assert!(resource_url(&format!("https://x.example/{}", "a".repeat(9000))).is_none());
    }
}
