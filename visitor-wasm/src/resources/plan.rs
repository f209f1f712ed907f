//! The resource service's bookkeeping, as plain Rust: which URLs the page
//! references, which were offered, what to fetch and upload next, the
//! budgets, when a batch of offers goes out, and which bytes are still held.
//!
//! Owns: every decision of the resource service (unit-tested natively in
//! `plan_tests.rs`). Does not own: reading the DOM (`discover.rs`), the
//! network (`fetch.rs`, `upload.rs`), or running tasks (`mod.rs`). `B` is
//! how the bytes are held (a JS `Uint8Array` in the browser: resource bytes
//! never enter wasm memory).
//!
//! The rule that guards the visitor's cookies: a URL the relay names
//! (`Want.more`, an upload's `more`) is fetched only if the page itself
//! references it — its unmasked DOM, its resource timing entries, or the
//! text of a stylesheet the visitor fetched itself — and no blocked or
//! masked element is the only one to use it. When discovery could not check
//! every masked element (a very large masked area), stylesheets vouch for
//! nothing: fail closed.

use std::collections::VecDeque;

use super::set::Set;

use protocol::{Offered, OfferedBody, ResourceHash};

pub use super::rules::{after_get, after_put, backoff_ms, PutAnswer, Step};

/// Fetches running at once.
pub const MAX_FETCHES: usize = 4;
/// Uploads running at once.
pub const MAX_UPLOADS: usize = 2;
/// A resource larger than this is offered without a body.
pub const MAX_RESOURCE_BYTES: u64 = 10 << 20;
/// Bodies offered in one session, in all.
pub const SESSION_BUDGET_BYTES: u64 = 100 << 20;
/// Bytes kept while waiting for the relay's `Want`; beyond this the oldest
/// are dropped (an upload then refetches from the HTTP cache).
pub const HELD_BYTES: u64 = 24 << 20;
/// An offer goes out early once it holds this many resources.
pub const OFFER_BATCH: usize = 64;

/// What one discovery round found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Absolute URLs to fetch and offer (the page uses them now).
    pub offer: Vec<String>,
    /// Absolute URLs unmasked elements name without loading them yet
    /// (other `srcset` candidates): fetched only if the relay asks.
    pub referenced: Vec<String>,
    /// Absolute URLs the page's `<style>` elements name: like a fetched
    /// stylesheet's, they vouch only for what no masked element uses.
    pub sheet_refs: Vec<String>,
    /// Resource timing's stylesheet and `<link>` loads: offered once a
    /// stylesheet names them (timing outlives the element that caused the
    /// load, so on its own it vouches for nothing).
    pub timed: Vec<String>,
    /// Absolute URLs only blocked or masked elements use: never fetched.
    pub private: Vec<String>,
    /// Every blocked or masked element was checked for `private`.
    pub private_complete: bool,
}

impl Default for Found {
    /// Nothing found, and nothing masked left unchecked.
    fn default() -> Self {
        Found {
            offer: Vec::new(),
            referenced: Vec::new(),
            sheet_refs: Vec::new(),
            timed: Vec::new(),
            private: Vec::new(),
            private_complete: true,
        }
    }
}

/// What a fetch gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched<B> {
    Body {
        hash: ResourceHash,
        size: u64,
        content_type: String,
        bytes: B,
        /// For a stylesheet: the absolute URLs its text mentions.
        sheet_refs: Vec<String>,
    },
    /// Cross-origin without CORS, an error status, a refused type, too big,
    /// or no `crypto.subtle`: offered without a body.
    Unavailable,
}

/// One fetch to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchJob {
    pub url: String,
    /// The most bytes this body may have (resource cap and session budget).
    pub max_bytes: u64,
}

/// One upload to start. `bytes` is `None` when they were dropped: refetch
/// `url` (from the HTTP cache) and check it still hashes to `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadJob<B> {
    pub hash: ResourceHash,
    pub url: String,
    pub bytes: Option<B>,
}

/// How an upload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadEnd {
    /// Stored; `more` as in `Want.more`.
    Done { more: Vec<String> },
    /// Refused or given up on: this resource stays with the relay's fallback.
    Dropped,
    /// The upload token was refused: no upload can succeed.
    Unauthorized,
}

struct Held<B> {
    hash: ResourceHash,
    bytes: B,
    size: u64,
    /// The number of the offer that carried it.
    offer: u64,
}

/// The resource service's state for one session.
pub struct Planner<B> {
    /// URLs under this prefix are the relay's own (the SDK, uploads).
    relay_prefix: String,
    /// Offered, or queued to be.
    seen: Set<String>,
    /// What unmasked elements and resource timing show.
    public: Set<String>,
    /// What the stylesheets the visitor read name.
    sheet_refs: Set<String>,
    private: Set<String>,
    private_complete: bool,
    /// Timing entries waiting for a stylesheet to name them.
    timed: Set<String>,
    queue: VecDeque<String>,
    fetching: usize,
    batch: Vec<Offered>,
    /// One URL per offered hash, to refetch bytes that were dropped.
    urls: Vec<(ResourceHash, String)>,
    held: VecDeque<Held<B>>,
    held_bytes: u64,
    offered_bytes: u64,
    offers_sent: u64,
    wants_seen: u64,
    uploads: VecDeque<ResourceHash>,
    uploading: usize,
    /// Uploaded, uploading or queued: a hash is uploaded once.
    claimed: Set<ResourceHash>,
    unauthorized: bool,
}

impl<B> Planner<B> {
    /// `relay` is the relay's base URL (its own URLs are never offered).
    pub fn new(relay: &str) -> Self {
        let mut relay_prefix = relay.trim_end_matches('/').to_owned();
        relay_prefix.push('/');
        Planner {
            relay_prefix,
            seen: Set::default(),
            public: Set::default(),
            sheet_refs: Set::default(),
            private: Set::default(),
            private_complete: true,
            timed: Set::default(),
            queue: VecDeque::new(),
            fetching: 0,
            batch: Vec::new(),
            urls: Vec::new(),
            held: VecDeque::new(),
            held_bytes: 0,
            offered_bytes: 0,
            offers_sent: 0,
            wants_seen: 0,
            uploads: VecDeque::new(),
            uploading: 0,
            claimed: Set::default(),
            unauthorized: false,
        }
    }

    /// Adds a discovery round: new URLs are queued for fetching.
    pub fn discovered(&mut self, found: Found) {
        self.private_complete = found.private_complete;
        for url in found.private {
            if let Some(url) = self.usable(&url) {
                self.private.insert(url);
            }
        }
        for url in found.sheet_refs {
            if let Some(url) = self.usable(&url) {
                self.sheet_refs.insert(url);
            }
        }
        for url in found.referenced {
            if let Some(url) = self.usable(&url) {
                self.private.remove(&url);
                self.public.insert(url);
            }
        }
        for url in found.offer {
            if let Some(url) = self.usable(&url) {
                self.private.remove(&url);
                self.public.insert(url.clone());
                self.enqueue(url);
            }
        }
        for url in found.timed {
            if let Some(url) = self.usable(&url) {
                if !self.seen.contains(&url) {
                    self.timed.insert(url);
                }
            }
        }
        self.promote_timed();
    }

    /// Queues the timing entries a stylesheet now names.
    fn promote_timed(&mut self) {
        let vouched: Vec<String> = self
            .timed
            .iter()
            .filter(|u| self.is_referenced(u))
            .cloned()
            .collect();
        for url in vouched {
            self.timed.remove(&url);
            self.enqueue(url);
        }
    }

    /// Whether the page itself references `url` (see the module's rule).
    pub fn is_referenced(&self, url: &str) -> bool {
        super::rules::without_fragment(url).is_some_and(|u| {
            self.public.contains(u)
                || (self.private_complete
                    && self.sheet_refs.contains(u)
                    && !self.private.contains(u))
        })
    }

    /// URLs the relay asks for: those the page references are queued; the
    /// others are returned, refused.
    pub fn asked(&mut self, urls: Vec<String>) -> Vec<String> {
        let mut refused = Vec::new();
        for url in urls {
            match self.usable(&url) {
                // Offered URLs are referenced too: asking again is a no-op.
                Some(u) if self.is_referenced(&u) => self.enqueue(u),
                _ => refused.push(url),
            }
        }
        refused
    }

    /// The next fetch to start, if one may start now.
    pub fn next_fetch(&mut self) -> Option<FetchJob> {
        if self.fetching >= MAX_FETCHES {
            return None;
        }
        let url = self.queue.pop_front()?;
        self.fetching += 1;
        let left = SESSION_BUDGET_BYTES.saturating_sub(self.offered_bytes);
        Some(FetchJob {
            url,
            max_bytes: left.min(MAX_RESOURCE_BYTES),
        })
    }

    /// Records a finished fetch: the resource joins the pending offer.
    pub fn fetched(&mut self, url: String, fetched: Fetched<B>) {
        self.fetching = self.fetching.saturating_sub(1);
        let body = match fetched {
            Fetched::Body {
                hash,
                size,
                content_type,
                bytes,
                sheet_refs,
            } if size <= MAX_RESOURCE_BYTES
                && self.offered_bytes.saturating_add(size) <= SESSION_BUDGET_BYTES =>
            {
                // A stylesheet the visitor read itself vouches for what it
                // names.
                for r in sheet_refs {
                    if let Some(r) = self.usable(&r) {
                        self.sheet_refs.insert(r);
                    }
                }
                self.promote_timed();
                self.offered_bytes += size;
                if self.url_of(&hash).is_none() {
                    self.urls.push((hash, url.clone()));
                }
                if !self.claimed.contains(&hash) && !self.held.iter().any(|h| h.hash == hash) {
                    self.hold(hash, bytes, size);
                }
                Some(OfferedBody {
                    hash,
                    size,
                    content_type,
                })
            }
            _ => None,
        };
        self.batch.push(Offered { url, body });
    }

    /// The offer to send now, if any: one per discovery round (when every
    /// queued fetch is done), or earlier once it is large.
    pub fn take_offer(&mut self) -> Option<Vec<Offered>> {
        let round_done = self.fetching == 0 && self.queue.is_empty();
        if self.batch.is_empty() || !(round_done || self.batch.len() >= OFFER_BATCH) {
            return None;
        }
        self.offers_sent += 1;
        Some(std::mem::take(&mut self.batch))
    }

    /// The relay's `Want`: queues the wanted hashes, lets go of bytes the
    /// relay has had its chance to ask for, and returns refused `more` URLs.
    pub fn wanted(&mut self, hashes: Vec<ResourceHash>, more: Vec<String>) -> Vec<String> {
        self.wants_seen += 1;
        if !self.unauthorized {
            for hash in hashes {
                if self.url_of(&hash).is_some() && self.claimed.insert(hash) {
                    self.uploads.push_back(hash);
                }
            }
        }
        // The relay answers offers in order: an offer numbered at most the
        // Wants seen has had its answer. Its unwanted bytes can go.
        let answered = self.wants_seen;
        let claimed = &self.claimed;
        let mut freed = 0;
        self.held.retain(|h| {
            let keep = h.offer > answered || claimed.contains(&h.hash);
            if !keep {
                freed += h.size;
            }
            keep
        });
        self.held_bytes -= freed;
        self.asked(more)
    }

    /// The next upload to start, if one may start now.
    pub fn next_upload(&mut self) -> Option<UploadJob<B>> {
        if self.unauthorized || self.uploading >= MAX_UPLOADS {
            return None;
        }
        let hash = self.uploads.pop_front()?;
        let url = self.url_of(&hash)?.to_owned();
        let bytes = match self.held.iter().position(|h| h.hash == hash) {
            Some(at) => self.held.remove(at).map(|h| {
                self.held_bytes -= h.size;
                h.bytes
            }),
            None => None,
        };
        self.uploading += 1;
        Some(UploadJob { hash, url, bytes })
    }

    /// Records a finished upload; returns refused `more` URLs.
    pub fn uploaded(&mut self, end: UploadEnd) -> Vec<String> {
        self.uploading = self.uploading.saturating_sub(1);
        match end {
            UploadEnd::Done { more } => self.asked(more),
            UploadEnd::Dropped => Vec::new(),
            UploadEnd::Unauthorized => {
                self.unauthorized = true;
                self.uploads.clear();
                Vec::new()
            }
        }
    }

    /// Whether uploads were stopped by a refused token.
    pub fn is_unauthorized(&self) -> bool {
        self.unauthorized
    }

    /// Bytes held now, waiting for a Want.
    pub fn held_bytes(&self) -> u64 {
        self.held_bytes
    }

    /// Whether any fetch or upload is queued or running.
    pub fn is_busy(&self) -> bool {
        self.fetching > 0
            || !self.queue.is_empty()
            || self.uploading > 0
            || !self.uploads.is_empty()
    }

    fn hold(&mut self, hash: ResourceHash, bytes: B, size: u64) {
        self.held.push_back(Held {
            hash,
            bytes,
            size,
            offer: self.offers_sent + 1,
        });
        self.held_bytes += size;
        while self.held_bytes > HELD_BYTES {
            let Some(old) = self.held.pop_front() else {
                break;
            };
            self.held_bytes -= old.size;
        }
    }

    fn url_of(&self, hash: &ResourceHash) -> Option<&str> {
        self.urls
            .iter()
            .find(|(h, _)| h == hash)
            .map(|(_, u)| u.as_str())
    }

    fn enqueue(&mut self, url: String) {
        if self.seen.insert(url.clone()) {
            self.queue.push_back(url);
        }
    }

    /// `url` without its fragment, if it is http(s) and not the relay's.
    fn usable(&self, url: &str) -> Option<String> {
        let url = super::rules::without_fragment(url)?;
        (!url.starts_with(&self.relay_prefix)).then(|| url.to_owned())
    }
}

#[cfg(test)]
// Tests fail by panicking; that is their job.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "plan_tests.rs"]
mod tests;
