//! [`MemoryResources`]: the [`ResourceStore`] in this process, for a relay
//! without `--redis`. There is no shared level: the blob methods hold
//! nothing, and the local cache is the only copy.
//!
//! Owns: the per-session maps. Does not own: the rules (`resources/mod.rs`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use protocol::{ResourceHash, ResourcePolicy, SessionId};

use super::store::{
    Append, Charge, Grant, HistoryEntry, OfferedHash, ResourceStore, SessionResources, MAX_HISTORY,
};
use crate::RelayError;

#[derive(Debug, Clone, Default)]
pub struct MemoryResources {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    by_key: HashMap<String, SessionId>,
    by_token: HashMap<String, SessionId>,
    sessions: HashMap<SessionId, Record>,
}

#[derive(Debug)]
struct Record {
    grant: Grant,
    policy: ResourcePolicy,
    history: HashMap<String, HistoryEntry>,
    offered: HashMap<ResourceHash, OfferedHash>,
    wanted: HashSet<ResourceHash>,
    asked: HashSet<String>,
    charged: HashMap<ResourceHash, u64>,
    used: u64,
    uploads: HashMap<ResourceHash, Vec<u8>>,
}

/// A poisoned lock only means a panic elsewhere; each update is a complete
/// map step, so the maps are still sound.
fn lock(m: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MemoryResources {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sessions with resource state, for tests and diagnostics.
    pub fn len(&self) -> usize {
        lock(&self.inner).sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn with<T>(&self, session: &SessionId, f: impl FnOnce(&mut Record) -> T) -> Option<T> {
        lock(&self.inner).sessions.get_mut(session).map(f)
    }

    fn find(&self, map: impl Fn(&Inner) -> Option<&SessionId>) -> Option<SessionResources> {
        let inner = lock(&self.inner);
        let session = map(&inner)?;
        let record = inner.sessions.get(session)?;
        Some(SessionResources {
            session: session.clone(),
            policy: record.policy,
        })
    }
}

impl ResourceStore for MemoryResources {
    async fn open(
        &self,
        session: &SessionId,
        grant: &Grant,
        policy: ResourcePolicy,
    ) -> Result<(), RelayError> {
        let mut inner = lock(&self.inner);
        inner.by_key.insert(grant.key.0.clone(), session.clone());
        inner
            .by_token
            .insert(grant.token.0.clone(), session.clone());
        inner.sessions.insert(
            session.clone(),
            Record {
                grant: grant.clone(),
                policy,
                history: HashMap::new(),
                offered: HashMap::new(),
                wanted: HashSet::new(),
                asked: HashSet::new(),
                charged: HashMap::new(),
                used: 0,
                uploads: HashMap::new(),
            },
        );
        Ok(())
    }

    async fn close(&self, session: &SessionId) -> Result<(), RelayError> {
        let mut inner = lock(&self.inner);
        if let Some(record) = inner.sessions.remove(session) {
            inner.by_key.remove(&record.grant.key.0);
            inner.by_token.remove(&record.grant.token.0);
        }
        Ok(())
    }

    async fn by_key(&self, key: &str) -> Result<Option<SessionResources>, RelayError> {
        Ok(self.find(|inner| inner.by_key.get(key)))
    }

    async fn by_token(&self, token: &str) -> Result<Option<SessionResources>, RelayError> {
        Ok(self.find(|inner| inner.by_token.get(token)))
    }

    async fn grant(&self, session: &SessionId) -> Result<Option<Grant>, RelayError> {
        Ok(self.with(session, |r| r.grant.clone()))
    }

    async fn record(
        &self,
        session: &SessionId,
        entries: Vec<(String, HistoryEntry)>,
        hashes: Vec<(ResourceHash, OfferedHash)>,
    ) -> Result<(), RelayError> {
        self.with(session, |r| {
            for (url, entry) in entries {
                if r.history.len() >= MAX_HISTORY && !r.history.contains_key(&url) {
                    continue;
                }
                r.history.insert(url, entry);
            }
            for (hash, offered) in hashes {
                if r.offered.len() < MAX_HISTORY || r.offered.contains_key(&hash) {
                    r.offered.insert(hash, offered);
                }
            }
        });
        Ok(())
    }

    async fn entry(
        &self,
        session: &SessionId,
        url: &str,
    ) -> Result<Option<HistoryEntry>, RelayError> {
        Ok(self
            .with(session, |r| r.history.get(url).cloned())
            .flatten())
    }

    async fn known(&self, session: &SessionId, urls: &[String]) -> Result<Vec<bool>, RelayError> {
        Ok(self
            .with(session, |r| {
                urls.iter().map(|u| r.history.contains_key(u)).collect()
            })
            .unwrap_or_else(|| vec![false; urls.len()]))
    }

    async fn offered(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
    ) -> Result<Option<OfferedHash>, RelayError> {
        Ok(self
            .with(session, |r| r.offered.get(hash).cloned())
            .flatten())
    }

    async fn mark_wanted(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
    ) -> Result<bool, RelayError> {
        Ok(self
            .with(session, |r| r.wanted.insert(*hash))
            .unwrap_or(false))
    }

    async fn mark_asked(&self, session: &SessionId, url: &str) -> Result<bool, RelayError> {
        Ok(self
            .with(session, |r| {
                r.asked.len() < MAX_HISTORY && r.asked.insert(url.to_owned())
            })
            .unwrap_or(false))
    }

    async fn charge(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
        bytes: u64,
        budget: u64,
    ) -> Result<Charge, RelayError> {
        Ok(self
            .with(session, |r| {
                if r.charged.contains_key(hash) {
                    return Charge::Fits;
                }
                if r.used.saturating_add(bytes) > budget {
                    return Charge::OverBudget { used: r.used };
                }
                r.used += bytes;
                r.charged.insert(*hash, bytes);
                Charge::Fits
            })
            .unwrap_or(Charge::OverBudget { used: 0 }))
    }

    async fn refund(&self, session: &SessionId, hash: &ResourceHash) -> Result<(), RelayError> {
        self.with(session, |r| {
            if let Some(bytes) = r.charged.remove(hash) {
                r.used = r.used.saturating_sub(bytes);
            }
        });
        Ok(())
    }

    async fn append(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
        offset: u64,
        chunk: Bytes,
    ) -> Result<Append, RelayError> {
        Ok(self
            .with(session, |r| {
                let held = r.uploads.entry(*hash).or_default();
                let received = held.len() as u64;
                if received != offset {
                    return Append::WrongOffset { received };
                }
                held.extend_from_slice(&chunk);
                Append::Received(held.len() as u64)
            })
            .unwrap_or(Append::WrongOffset { received: 0 }))
    }

    async fn received(&self, session: &SessionId, hash: &ResourceHash) -> Result<u64, RelayError> {
        Ok(self
            .with(session, |r| {
                r.uploads.get(hash).map_or(0, |b| b.len() as u64)
            })
            .unwrap_or(0))
    }

    async fn take_upload(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
    ) -> Result<Bytes, RelayError> {
        Ok(self
            .with(session, |r| r.uploads.remove(hash).map(Bytes::from))
            .flatten()
            .unwrap_or_default())
    }

    async fn blob_get(&self, _hash: &ResourceHash) -> Result<Option<Bytes>, RelayError> {
        Ok(None)
    }

    async fn blob_put(
        &self,
        _hash: &ResourceHash,
        _bytes: Bytes,
        _ttl: Duration,
    ) -> Result<(), RelayError> {
        Ok(())
    }

    async fn blob_refresh(&self, _hash: &ResourceHash, _ttl: Duration) -> Result<bool, RelayError> {
        Ok(false)
    }
}
