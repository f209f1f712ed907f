//! The local level of the resource cache: bytes by content hash, in this
//! process, bounded in bytes (least recently used goes first) and in time
//! (an entry lives `min(30 min, cache.ttl)` from when it was stored or last
//! offered again).
//!
//! Owns: [`LocalCache`]. Does not own: the shared level (the resource store's
//! blob methods), which resources a session may read (the history), or
//! verifying that bytes match their hash (uploads and fetches do that before
//! storing).
//!
//! A std mutex, never held across an await: every operation is a few map
//! steps. Time is tokio's, so tests pause and advance it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use protocol::ResourceHash;
use tokio::time::Instant;

pub struct LocalCache {
    max_bytes: usize,
    ttl: Duration,
    inner: Mutex<Lru>,
}

#[derive(Default)]
struct Lru {
    entries: HashMap<ResourceHash, Slot>,
    /// Use stamp → hash; the first is the least recently used.
    order: BTreeMap<u64, ResourceHash>,
    next_stamp: u64,
    bytes: usize,
}

struct Slot {
    bytes: Bytes,
    expires: Instant,
    stamp: u64,
}

/// A poisoned lock only means a panic elsewhere; the map is still sound
/// (each step is a complete insert or remove).
fn lock(m: &Mutex<Lru>) -> MutexGuard<'_, Lru> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Lru {
    fn stamp(&mut self) -> u64 {
        self.next_stamp += 1;
        self.next_stamp
    }

    fn remove(&mut self, hash: &ResourceHash) {
        if let Some(slot) = self.entries.remove(hash) {
            self.order.remove(&slot.stamp);
            self.bytes -= slot.bytes.len();
        }
    }

    /// The live entry for `hash`, marked as just used; drops it if expired.
    fn touch(&mut self, hash: &ResourceHash, now: Instant) -> Option<&mut Slot> {
        let expired = self.entries.get(hash)?.expires <= now;
        if expired {
            self.remove(hash);
            return None;
        }
        let stamp = self.stamp();
        let slot = self.entries.get_mut(hash)?;
        self.order.remove(&slot.stamp);
        slot.stamp = stamp;
        self.order.insert(stamp, *hash);
        Some(slot)
    }
}

impl LocalCache {
    pub fn new(max_bytes: usize, ttl: Duration) -> Self {
        LocalCache {
            max_bytes,
            ttl,
            inner: Mutex::new(Lru::default()),
        }
    }

    /// The bytes stored under `hash`, if still there.
    pub fn get(&self, hash: &ResourceHash) -> Option<Bytes> {
        let mut lru = lock(&self.inner);
        lru.touch(hash, Instant::now())
            .map(|slot| slot.bytes.clone())
    }

    /// Whether `hash` is here; if so its life starts again (the resource was
    /// just offered again, so it is still in use).
    pub fn refresh(&self, hash: &ResourceHash) -> bool {
        let now = Instant::now();
        let mut lru = lock(&self.inner);
        match lru.touch(hash, now) {
            Some(slot) => {
                slot.expires = now + self.ttl;
                true
            }
            None => false,
        }
    }

    /// Stores `bytes` under `hash` (the caller verified they match), evicting
    /// the least recently used entries beyond the size bound. Something
    /// larger than the whole bound is not kept at all.
    pub fn insert(&self, hash: ResourceHash, bytes: Bytes) {
        if bytes.len() > self.max_bytes {
            return;
        }
        let now = Instant::now();
        let mut lru = lock(&self.inner);
        lru.remove(&hash);
        let stamp = lru.stamp();
        lru.bytes += bytes.len();
        lru.entries.insert(
            hash,
            Slot {
                bytes,
                expires: now + self.ttl,
                stamp,
            },
        );
        lru.order.insert(stamp, hash);
        while lru.bytes > self.max_bytes {
            let Some((_, oldest)) = lru.order.pop_first() else {
                break;
            };
            if let Some(slot) = lru.entries.remove(&oldest) {
                lru.bytes -= slot.bytes.len();
            }
        }
    }

    /// Bytes held (expired entries count until they are next looked at).
    pub fn size(&self) -> usize {
        lock(&self.inner).bytes
    }

    pub fn len(&self) -> usize {
        lock(&self.inner).entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::resources::settings::{ResourceSettings, LOCAL_TTL_CAP};

    fn h(n: u8) -> ResourceHash {
        ResourceHash([n; 32])
    }

    fn bytes(n: usize) -> Bytes {
        Bytes::from(vec![7u8; n])
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire_after_thirty_minutes_when_the_ttl_is_longer() {
        let settings = ResourceSettings::default();
        assert_eq!(settings.cache_ttl, Duration::from_secs(3600));
        let cache = LocalCache::new(1000, settings.local_ttl());
        cache.insert(h(1), bytes(10));
        tokio::time::advance(LOCAL_TTL_CAP - Duration::from_secs(1)).await;
        assert_eq!(cache.get(&h(1)), Some(bytes(10)));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(cache.get(&h(1)), None, "gone at 30 min, not at cache.ttl");
        assert_eq!(cache.size(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn entries_expire_after_the_ttl_when_it_is_shorter() {
        let settings = ResourceSettings {
            cache_ttl: Duration::from_secs(90),
            ..ResourceSettings::default()
        };
        let cache = LocalCache::new(1000, settings.local_ttl());
        cache.insert(h(1), bytes(10));
        tokio::time::advance(Duration::from_secs(89)).await;
        assert!(cache.get(&h(1)).is_some());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(cache.get(&h(1)).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn offering_again_restarts_an_entrys_life_but_reading_does_not() {
        let cache = LocalCache::new(1000, Duration::from_secs(60));
        cache.insert(h(1), bytes(10));
        cache.insert(h(2), bytes(10));
        tokio::time::advance(Duration::from_secs(50)).await;
        assert!(cache.refresh(&h(1)));
        assert!(cache.get(&h(2)).is_some());
        tokio::time::advance(Duration::from_secs(20)).await;
        assert!(cache.get(&h(1)).is_some(), "refreshed at 50 s");
        assert!(cache.get(&h(2)).is_none(), "read, not refreshed");
        assert!(!cache.refresh(&h(3)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_least_recently_used_goes_first_when_over_size() {
        let cache = LocalCache::new(100, Duration::from_secs(60));
        cache.insert(h(1), bytes(40));
        cache.insert(h(2), bytes(40));
        assert!(cache.get(&h(1)).is_some(), "1 is now the most recent");
        cache.insert(h(3), bytes(40));
        assert!(cache.get(&h(2)).is_none(), "2 was least recently used");
        assert!(cache.get(&h(1)).is_some());
        assert!(cache.get(&h(3)).is_some());
        assert_eq!(cache.size(), 80);
        cache.insert(h(4), bytes(100));
        assert_eq!(cache.len(), 1, "a full-size entry pushes out the rest");
        cache.insert(h(5), bytes(101));
        assert!(
            cache.get(&h(5)).is_none(),
            "larger than the bound: not kept"
        );
        assert!(cache.get(&h(4)).is_some(), "and nothing evicted for it");
    }

    #[tokio::test(start_paused = true)]
    async fn the_same_content_is_stored_once() {
        let cache = LocalCache::new(1000, Duration::from_secs(60));
        cache.insert(h(1), bytes(30));
        cache.insert(h(1), bytes(30));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.size(), 30);
        cache.insert(h(2), bytes(30));
        assert_eq!(cache.size(), 60);
    }
}
