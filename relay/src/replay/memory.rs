//! [`MemoryReplay`]: the replay buffer and rejoin records in this relay's
//! memory (the memory backend's, so a single relay needs nothing else).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use protocol::{AgentId, Seq, SessionId};

use super::{Bounds, Entry, RejoinRecord, ReplayStore};
use crate::RelayError;

/// Buffers and records of this relay's sessions. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct MemoryReplay {
    inner: Arc<Mutex<HashMap<SessionId, Held>>>,
}

#[derive(Debug, Default)]
struct Held {
    ring: VecDeque<Entry>,
    bytes: usize,
    rejoins: HashMap<AgentId, RejoinRecord>,
}

/// A poisoned lock only means a panic elsewhere mid-update; each update
/// leaves the map sound.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Held {
    fn push(&mut self, entry: Entry, bounds: Bounds) {
        if entry.is_snapshot() {
            self.ring.clear();
            self.bytes = 0;
        }
        self.bytes += entry.len();
        self.ring.push_back(entry);
        while self.ring.len() > 1 && (self.ring.len() > bounds.frames || self.bytes > bounds.bytes)
        {
            if let Some(dropped) = self.ring.pop_front() {
                self.bytes -= dropped.len();
            }
        }
    }
}

impl ReplayStore for MemoryReplay {
    async fn append(
        &self,
        session: &SessionId,
        entry: Entry,
        bounds: Bounds,
    ) -> Result<(), RelayError> {
        lock(&self.inner)
            .entry(session.clone())
            .or_default()
            .push(entry, bounds);
        Ok(())
    }

    async fn entries(&self, session: &SessionId) -> Result<Vec<Entry>, RelayError> {
        Ok(lock(&self.inner)
            .get(session)
            .map(|held| held.ring.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn last_seq(&self, session: &SessionId) -> Result<Option<Seq>, RelayError> {
        Ok(lock(&self.inner)
            .get(session)
            .and_then(|held| held.ring.back().map(Entry::seq)))
    }

    async fn set_rejoin(
        &self,
        session: &SessionId,
        agent: AgentId,
        record: RejoinRecord,
    ) -> Result<(), RelayError> {
        lock(&self.inner)
            .entry(session.clone())
            .or_default()
            .rejoins
            .insert(agent, record);
        Ok(())
    }

    async fn rejoin(
        &self,
        session: &SessionId,
        agent: AgentId,
    ) -> Result<Option<RejoinRecord>, RelayError> {
        Ok(lock(&self.inner)
            .get(session)
            .and_then(|held| held.rejoins.get(&agent).cloned()))
    }

    async fn advance_rejoin(
        &self,
        session: &SessionId,
        agent: AgentId,
        from: u64,
        delete: bool,
    ) -> Result<bool, RelayError> {
        let mut all = lock(&self.inner);
        let Some(held) = all.get_mut(session) else {
            return Ok(false);
        };
        match held.rejoins.get_mut(&agent) {
            Some(record) if record.generation == from => {
                if delete {
                    held.rejoins.remove(&agent);
                } else {
                    record.generation += 1;
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn forget(&self, session: &SessionId) -> Result<(), RelayError> {
        lock(&self.inner).remove(session);
        Ok(())
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn entry(seq: u64, snapshot: bool, size: usize) -> Entry {
        Entry::new(Seq(seq), snapshot, &vec![0u8; size])
    }

    async fn seqs(replay: &MemoryReplay, session: &SessionId) -> Vec<u64> {
        let entries = replay.entries(session).await.expect("entries");
        entries.iter().map(|e| e.seq().0).collect()
    }

    #[tokio::test]
    async fn a_snapshot_starts_the_buffer_afresh() {
        let replay = MemoryReplay::default();
        let s = SessionId("s".into());
        let bounds = Bounds::default();
        for (seq, snap) in [(1, true), (2, false), (3, true), (4, false)] {
            replay
                .append(&s, entry(seq, snap, 4), bounds)
                .await
                .expect("append");
        }
        assert_eq!(seqs(&replay, &s).await, vec![3, 4]);
        assert_eq!(replay.last_seq(&s).await.expect("last"), Some(Seq(4)));
    }

    #[tokio::test]
    async fn past_the_bounds_the_oldest_frames_go_but_never_the_newest() {
        let replay = MemoryReplay::default();
        let s = SessionId("s".into());
        let bounds = Bounds {
            frames: 3,
            bytes: 1000,
        };
        for seq in 1..=5 {
            replay
                .append(&s, entry(seq, seq == 1, 10), bounds)
                .await
                .expect("append");
        }
        assert_eq!(seqs(&replay, &s).await, vec![3, 4, 5]);
        let tiny = Bounds {
            frames: 10,
            bytes: 5,
        };
        replay
            .append(&s, entry(6, false, 50), tiny)
            .await
            .expect("append");
        assert_eq!(seqs(&replay, &s).await, vec![6]);
    }

    #[tokio::test]
    async fn a_rejoin_record_moves_on_once_per_generation() {
        let replay = MemoryReplay::default();
        let s = SessionId("s".into());
        let record = RejoinRecord {
            generation: 0,
            digest: [1; 32],
        };
        replay
            .set_rejoin(&s, AgentId(1), record)
            .await
            .expect("set");
        assert!(replay
            .advance_rejoin(&s, AgentId(1), 0, false)
            .await
            .expect("a"));
        assert!(!replay
            .advance_rejoin(&s, AgentId(1), 0, false)
            .await
            .expect("b"));
        assert!(replay
            .advance_rejoin(&s, AgentId(1), 1, true)
            .await
            .expect("c"));
        assert_eq!(replay.rejoin(&s, AgentId(1)).await.expect("get"), None);
        replay.forget(&s).await.expect("forget");
        assert!(replay.entries(&s).await.expect("entries").is_empty());
    }
}
