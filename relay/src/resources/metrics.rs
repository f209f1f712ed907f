//! The resource cache's counters, rendered into `GET /metrics` after the
//! relay's own.
//!
//! Owns: [`ResourceMetrics`]. Does not own: deciding what to count.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::RefusalReason;
use crate::metrics::{labelled, metric};

/// Which level of the cache answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Local,
    Redis,
}

/// What the fallback chain did for a resource the cache could not serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The relay fetched it from an allowed external domain.
    ServerFetch,
    /// 302 to the original URL.
    Redirect,
    /// Strict: 404.
    NotFound,
}

impl Fallback {
    const ALL: [Fallback; 3] = [
        Fallback::ServerFetch,
        Fallback::Redirect,
        Fallback::NotFound,
    ];

    fn label(self) -> &'static str {
        match self {
            Fallback::ServerFetch => "server_fetch",
            Fallback::Redirect => "redirect",
            Fallback::NotFound => "not_found",
        }
    }
}

#[derive(Debug, Default)]
pub struct ResourceMetrics {
    bytes_uploaded: AtomicU64,
    uploads: AtomicU64,
    bytes_served: AtomicU64,
    bytes_fetched: AtomicU64,
    hits: [AtomicU64; 2],
    misses: AtomicU64,
    refusals: [AtomicU64; RefusalReason::ALL.len()],
    fallbacks: [AtomicU64; Fallback::ALL.len()],
}

impl ResourceMetrics {
    /// A verified, complete upload of `bytes`.
    pub fn uploaded(&self, bytes: u64) {
        self.uploads.fetch_add(1, Ordering::Relaxed);
        self.bytes_uploaded.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn served(&self, bytes: u64) {
        self.bytes_served.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn fetched(&self, bytes: u64) {
        self.bytes_fetched.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn hit(&self, level: Level) {
        let i = match level {
            Level::Local => 0,
            Level::Redis => 1,
        };
        self.hits[i].fetch_add(1, Ordering::Relaxed);
    }

    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    pub fn refused(&self, reason: RefusalReason) {
        if let Some(i) = RefusalReason::ALL.iter().position(|r| *r == reason) {
            self.refusals[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn fell_back(&self, kind: Fallback) {
        if let Some(i) = Fallback::ALL.iter().position(|k| *k == kind) {
            self.fallbacks[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn render(&self, out: &mut String) {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
        let counters = [
            (
                "resource_bytes_uploaded_total",
                "Bytes of verified resource uploads from visitors.",
                &self.bytes_uploaded,
            ),
            (
                "resource_uploads_total",
                "Resource uploads completed and verified.",
                &self.uploads,
            ),
            (
                "resource_bytes_served_total",
                "Bytes of resources served to agents.",
                &self.bytes_served,
            ),
            (
                "resource_bytes_fetched_total",
                "Bytes the relay fetched itself from allowed external domains.",
                &self.bytes_fetched,
            ),
            (
                "resource_cache_misses_total",
                "Resource lookups that neither cache level could answer.",
                &self.misses,
            ),
        ];
        for (name, help, counter) in counters {
            metric(out, name, "counter", help, &[("", load(counter))]);
        }
        labelled(
            out,
            "resource_cache_hits_total",
            "Resource lookups answered, by cache level.",
            "level",
            &[
                ("local", load(&self.hits[0])),
                ("redis", load(&self.hits[1])),
            ],
        );
        let refusals: Vec<(&str, String)> = RefusalReason::ALL
            .iter()
            .zip(&self.refusals)
            .map(|(r, c)| (r.label(), load(c)))
            .collect();
        labelled(
            out,
            "resource_refusals_total",
            "Resource uploads and requests refused, by reason.",
            "reason",
            &refusals,
        );
        let fallbacks: Vec<(&str, String)> = Fallback::ALL
            .iter()
            .zip(&self.fallbacks)
            .map(|(k, c)| (k.label(), load(c)))
            .collect();
        labelled(
            out,
            "resource_fallbacks_total",
            "Resources the cache could not serve, by what the fallback chain did.",
            "kind",
            &fallbacks,
        );
    }
}
