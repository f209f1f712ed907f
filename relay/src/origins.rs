//! Live sessions per page origin (`max_sessions_per_origin`): one site, or
//! a script that claims its `Origin`, cannot fill the relay with sessions.
//!
//! Owns: [`OriginKey`], the [`OriginSlots`] seam and its in-process
//! implementation, and the two steps the visitor's connection calls
//! ([`take_slot`] for a new session, [`free_slot`] when a session ends).
//! Does not own: sessions themselves (`SessionStore`) or the Redis
//! implementation (`redis_backend/origins.rs`).
//!
//! A slot is taken only by a *new* session (after it is created, so the
//! count and the session agree; a refused one is removed at once). A
//! visitor continuing its session (the next page, a reconnect) never takes
//! or is refused one: its session already holds its slot until it ends,
//! waiting for a resume included. The relay where a session ends gives
//! the slot back; that relay always served the visitor (created, resumed
//! or watched the session), so it knows the origin ([`OriginSlots::note`]).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use protocol::SessionId;
use sha2::{Digest, Sha256};

use crate::bus::Bus;
use crate::server::App;
use crate::sessions::SessionStore;
use crate::RelayError;

/// A page origin as a bounded, opaque name: the hex SHA-256 of the
/// `Origin` header (`(none)` when absent). The header is the client's to
/// choose, so it never becomes a key name of its own length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OriginKey(String);

impl OriginKey {
    pub fn new(origin: Option<&str>) -> OriginKey {
        let origin = origin.map_or("(none)", |o| o.trim_end_matches('/'));
        let digest = Sha256::digest(origin.as_bytes());
        OriginKey(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OriginKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Twelve hex digits are plenty to tell origins apart in a log.
        f.write_str(&self.0[..12.min(self.0.len())])
    }
}

/// Where sessions are counted per origin: beside the sessions, so relays
/// sharing a backend share the count.
pub trait OriginSlots: Send + Sync + 'static {
    /// Gives `session` a slot of `origin` unless `max` live sessions of
    /// that origin hold one: `Ok(false)` then. Atomic across relays.
    fn take(
        &self,
        origin: &OriginKey,
        session: &SessionId,
        max: usize,
    ) -> impl Future<Output = Result<bool, RelayError>> + Send;

    /// `session` (which holds a slot of `origin`) is served here now: a
    /// resumed visitor. Only so this relay can give the slot back.
    fn note(&self, origin: &OriginKey, session: &SessionId);

    /// The session ended: its slot is free. Nothing if this relay never
    /// knew it.
    fn release(&self, session: &SessionId) -> impl Future<Output = Result<(), RelayError>> + Send;
}

/// Which origin each session served here belongs to.
#[derive(Debug, Default)]
pub struct Book(Mutex<HashMap<SessionId, OriginKey>>);

impl Book {
    pub fn note(&self, origin: &OriginKey, session: &SessionId) {
        lock(&self.0).insert(session.clone(), origin.clone());
    }

    pub fn forget(&self, session: &SessionId) -> Option<OriginKey> {
        lock(&self.0).remove(session)
    }

    /// Every origin with a session here, once each.
    pub fn origins(&self) -> Vec<OriginKey> {
        let mut origins: Vec<OriginKey> = lock(&self.0).values().cloned().collect();
        origins.sort_by(|a, b| a.0.cmp(&b.0));
        origins.dedup();
        origins
    }
}

/// A poisoned lock only means a panic elsewhere; the maps are still sound.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The in-process count, for the memory backend. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct MemoryOrigins {
    inner: Arc<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    live: Mutex<HashMap<OriginKey, HashSet<SessionId>>>,
    book: Book,
}

impl MemoryOrigins {
    /// Live sessions of `origin`, for tests.
    pub fn count(&self, origin: &OriginKey) -> usize {
        lock(&self.inner.live).get(origin).map_or(0, HashSet::len)
    }
}

impl OriginSlots for MemoryOrigins {
    async fn take(
        &self,
        origin: &OriginKey,
        session: &SessionId,
        max: usize,
    ) -> Result<bool, RelayError> {
        let mut live = lock(&self.inner.live);
        let sessions = live.entry(origin.clone()).or_default();
        if sessions.len() >= max && !sessions.contains(session) {
            return Ok(false);
        }
        sessions.insert(session.clone());
        drop(live);
        self.inner.book.note(origin, session);
        Ok(true)
    }

    fn note(&self, origin: &OriginKey, session: &SessionId) {
        self.inner.book.note(origin, session);
    }

    async fn release(&self, session: &SessionId) -> Result<(), RelayError> {
        let Some(origin) = self.inner.book.forget(session) else {
            return Ok(());
        };
        let mut live = lock(&self.inner.live);
        if let Some(sessions) = live.get_mut(&origin) {
            sessions.remove(session);
            if sessions.is_empty() {
                live.remove(&origin);
            }
        }
        Ok(())
    }
}

/// A new session of `origin` takes its slot, or is removed again and
/// refused with [`RelayError::TooManySessions`] (the caller's `fail` sends
/// the error frame, counts `rejected_total{reason="rate_limited"}` and
/// logs it). A limit of zero is off.
pub(crate) async fn take_slot<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    origin: &OriginKey,
    session: &SessionId,
) -> Result<(), RelayError> {
    let max = app.config.limits.max_sessions_per_origin;
    if max == 0 {
        return Ok(());
    }
    let taken = match app.store.origins().take(origin, session, max).await {
        Ok(taken) => taken,
        Err(err) => {
            remove_refused(app, session).await;
            return Err(err);
        }
    };
    if taken {
        return Ok(());
    }
    remove_refused(app, session).await;
    tracing::warn!(%origin, limit = max, "new visitor session refused: its origin has the most live sessions allowed");
    Err(RelayError::TooManySessions { limit: max })
}

/// A session that never started: its code and keys go at once.
async fn remove_refused<S: SessionStore, B: Bus>(app: &App<S, B>, session: &SessionId) {
    if let Err(err) = app.store.end(session).await {
        tracing::error!(%session, "could not remove a refused session: {err}");
    }
}

/// The session ended: its origin's slot is free again.
pub(crate) async fn free_slot<S: SessionStore, B: Bus>(app: &App<S, B>, session: &SessionId) {
    if let Err(err) = app.store.origins().release(session).await {
        tracing::error!(%session, "could not free the session's origin slot: {err}");
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn origin_keys_are_bounded_and_ignore_a_trailing_slash() {
        let a = OriginKey::new(Some("https://shop.example"));
        assert_eq!(a, OriginKey::new(Some("https://shop.example/")));
        assert_ne!(a, OriginKey::new(Some("https://other.example")));
        assert_ne!(a, OriginKey::new(None));
        let long = "x".repeat(10_000);
        assert_eq!(OriginKey::new(Some(&long)).as_str().len(), 64);
    }

    #[tokio::test]
    async fn memory_slots_refuse_past_the_limit_and_free_on_release() {
        let slots = MemoryOrigins::default();
        let shop = OriginKey::new(Some("https://shop.example"));
        let other = OriginKey::new(Some("https://other.example"));
        let s = |n: u8| SessionId(format!("s{n}"));
        assert!(slots.take(&shop, &s(1), 2).await.unwrap());
        assert!(slots.take(&shop, &s(2), 2).await.unwrap());
        assert!(!slots.take(&shop, &s(3), 2).await.unwrap());
        assert!(
            slots.take(&other, &s(3), 2).await.unwrap(),
            "another origin has its own count"
        );
        slots.release(&s(1)).await.unwrap();
        assert_eq!(slots.count(&shop), 1);
        assert!(slots.take(&shop, &s(4), 2).await.unwrap());
        // Releasing what this relay never knew changes nothing.
        slots.release(&s(9)).await.unwrap();
        assert_eq!(slots.count(&shop), 2);
    }
}
