//! The session's replay buffer: the newest snapshot frame and every later
//! frame, so a peer whose connection broke (its relay went away, its
//! network dropped) continues from its last sequence number on any relay
//! sharing the store, with nothing lost and nothing twice.
//!
//! Owns: the [`ReplayStore`] seam (the buffer and agents' rejoin records),
//! the entry format, the bounds, and [`catch_up`], which decides what a
//! returning peer is sent. Does not own: the rejoin token and flow
//! (`rejoin.rs`) or the visitor's resume (`visitor/`, `resume.rs`).
//!
//! The relay never decodes the page: an entry is the encoded
//! `ToAgent::Event` the visitor's relay forwards anyway, behind the frame's
//! sequence number and snapshot flag (the envelope, never the payload).
//! A snapshot starts the buffer afresh; past the bounds the oldest frames
//! go, and a gap older than the buffer then means "from the newest
//! snapshot", or a fresh snapshot from the visitor when none is held.

pub mod memory;
pub mod redis;

use std::future::Future;

use axum::body::Bytes;
use protocol::{AgentId, Seq, SessionId};

use crate::RelayError;

/// How much one session's buffer holds (`replay_frames`, `replay_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub frames: usize,
    pub bytes: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            frames: 2000,
            bytes: 4 * 1024 * 1024,
        }
    }
}

/// Bytes before the forwarded frame: its sequence number and snapshot flag.
const HEADER: usize = 9;

/// One buffered frame: `seq (8 bytes, big-endian) ‖ snapshot (1 byte) ‖ the
/// encoded ToAgent::Event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry(Bytes);

impl Entry {
    pub fn new(seq: Seq, snapshot: bool, forwarded: &[u8]) -> Entry {
        let mut bytes = Vec::with_capacity(HEADER + forwarded.len());
        bytes.extend_from_slice(&seq.0.to_be_bytes());
        bytes.push(u8::from(snapshot));
        bytes.extend_from_slice(forwarded);
        Entry(Bytes::from(bytes))
    }

    /// An entry as a store kept it; `None` if it is too short to be one.
    pub fn from_stored(bytes: Bytes) -> Option<Entry> {
        (bytes.len() >= HEADER).then_some(Entry(bytes))
    }

    pub fn seq(&self) -> Seq {
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&self.0[..8]);
        Seq(u64::from_be_bytes(seq))
    }

    pub fn is_snapshot(&self) -> bool {
        self.0[8] == 1
    }

    /// The bytes an agent's socket is sent (an encoded `ToAgent::Event`).
    pub fn forwarded(&self) -> Bytes {
        self.0.slice(HEADER..)
    }

    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An agent's standing to rejoin: which turn of its place this is (each
/// rejoin, and the end of its grace window, moves it on, so two claims on
/// one place cannot both win) and the SHA-256 digest of its secret (the
/// secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejoinRecord {
    pub generation: u64,
    pub digest: [u8; 32],
}

impl RejoinRecord {
    /// `{generation}:{hex digest}`, as Redis keeps it.
    pub fn to_text(&self) -> String {
        let mut text = format!("{}:", self.generation);
        for byte in self.digest {
            text.push_str(&format!("{byte:02x}"));
        }
        text
    }

    pub fn parse(text: &str) -> Option<RejoinRecord> {
        let (generation, hex) = text.split_once(':')?;
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut digest = [0u8; 32];
        for (i, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(RejoinRecord {
            generation: generation.parse().ok()?,
            digest,
        })
    }
}

/// Where a session's replay buffer and its agents' rejoin records live:
/// with the session (memory or Redis), deleted when it ends.
pub trait ReplayStore: Send + Sync + 'static {
    /// Adds the visitor's newest frame (a snapshot first empties the
    /// buffer), then drops the oldest frames past `bounds` (never the
    /// newest one).
    fn append(
        &self,
        session: &SessionId,
        entry: Entry,
        bounds: Bounds,
    ) -> impl Future<Output = Result<(), RelayError>> + Send;

    /// Everything buffered, oldest first.
    fn entries(
        &self,
        session: &SessionId,
    ) -> impl Future<Output = Result<Vec<Entry>, RelayError>> + Send;

    /// The newest frame the relay holds for the session.
    fn last_seq(
        &self,
        session: &SessionId,
    ) -> impl Future<Output = Result<Option<Seq>, RelayError>> + Send;

    /// Sets `agent`'s rejoin record (on admission).
    fn set_rejoin(
        &self,
        session: &SessionId,
        agent: AgentId,
        record: RejoinRecord,
    ) -> impl Future<Output = Result<(), RelayError>> + Send;

    fn rejoin(
        &self,
        session: &SessionId,
        agent: AgentId,
    ) -> impl Future<Output = Result<Option<RejoinRecord>, RelayError>> + Send;

    /// Moves `agent`'s record from generation `from` to the next one, or
    /// deletes it (`delete`), only if it still is at `from`: `false` if
    /// someone else moved it first (or it is gone). Atomic.
    fn advance_rejoin(
        &self,
        session: &SessionId,
        agent: AgentId,
        from: u64,
        delete: bool,
    ) -> impl Future<Output = Result<bool, RelayError>> + Send;

    /// The session ended: its buffer and rejoin records go.
    fn forget(&self, session: &SessionId) -> impl Future<Output = Result<(), RelayError>> + Send;
}

/// What a peer that applied everything up to `after` is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatchUp {
    /// Every frame after `after` the relay holds, none missing (maybe
    /// none at all).
    Complete(Vec<Entry>),
    /// The gap is older than the buffer: from the newest snapshot on.
    FromSnapshot(Vec<Entry>),
    /// The gap is older than the buffer and it holds no snapshot: the
    /// visitor must send one.
    SnapshotNeeded,
}

/// Decides what to replay from `entries` (oldest first) to a peer whose
/// newest applied frame is `after`.
pub fn catch_up(entries: Vec<Entry>, after: Option<Seq>) -> CatchUp {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        // Nothing held: a peer that had something has all there is; one
        // that had nothing needs the page.
        return match after {
            Some(_) => CatchUp::Complete(Vec::new()),
            None => CatchUp::SnapshotNeeded,
        };
    };
    if let Some(after) = after {
        if after >= last.seq() {
            return CatchUp::Complete(Vec::new());
        }
        if after.0.saturating_add(1) >= first.seq().0 {
            let newer = entries.into_iter().filter(|e| e.seq() > after).collect();
            return CatchUp::Complete(newer);
        }
    }
    match entries.iter().rposition(Entry::is_snapshot) {
        Some(start) => CatchUp::FromSnapshot(entries.into_iter().skip(start).collect()),
        None => CatchUp::SnapshotNeeded,
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn entry(seq: u64, snapshot: bool) -> Entry {
        Entry::new(Seq(seq), snapshot, &[0xAA, seq as u8])
    }

    fn seqs(entries: &[Entry]) -> Vec<u64> {
        entries.iter().map(|e| e.seq().0).collect()
    }

    #[test]
    fn an_entry_keeps_its_seq_flag_and_forwarded_bytes() {
        let e = Entry::new(Seq(0x0102_0304_0506), true, b"frame");
        assert_eq!(e.seq(), Seq(0x0102_0304_0506));
        assert!(e.is_snapshot());
        assert_eq!(&e.forwarded()[..], b"frame");
        let again = Entry::from_stored(e.as_bytes().clone()).expect("entry");
        assert_eq!(again, e);
        assert!(Entry::from_stored(Bytes::from_static(b"short")).is_none());
    }

    #[test]
    fn a_peer_behind_by_a_few_frames_gets_exactly_those() {
        let buffer = vec![entry(5, true), entry(6, false), entry(7, false)];
        match catch_up(buffer, Some(Seq(5))) {
            CatchUp::Complete(frames) => assert_eq!(seqs(&frames), vec![6, 7]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_peer_just_before_the_snapshot_gets_everything_as_complete() {
        let buffer = vec![entry(5, true), entry(6, false)];
        match catch_up(buffer, Some(Seq(4))) {
            CatchUp::Complete(frames) => assert_eq!(seqs(&frames), vec![5, 6]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_peer_up_to_date_gets_nothing() {
        let buffer = vec![entry(5, true), entry(6, false)];
        assert_eq!(catch_up(buffer, Some(Seq(6))), CatchUp::Complete(vec![]));
    }

    #[test]
    fn a_gap_older_than_the_buffer_starts_from_the_newest_snapshot() {
        let buffer = vec![entry(9, false), entry(10, true), entry(11, false)];
        match catch_up(buffer, Some(Seq(2))) {
            CatchUp::FromSnapshot(frames) => assert_eq!(seqs(&frames), vec![10, 11]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_gap_with_no_snapshot_held_needs_one_from_the_visitor() {
        let buffer = vec![entry(9, false), entry(10, false)];
        assert_eq!(catch_up(buffer, Some(Seq(2))), CatchUp::SnapshotNeeded);
        assert_eq!(catch_up(vec![], None), CatchUp::SnapshotNeeded);
    }

    #[test]
    fn a_rejoin_record_survives_its_text_form() {
        let record = RejoinRecord {
            generation: 42,
            digest: [0xAB; 32],
        };
        assert_eq!(RejoinRecord::parse(&record.to_text()), Some(record));
        assert_eq!(RejoinRecord::parse("1:zz"), None);
        assert_eq!(RejoinRecord::parse("x"), None);
    }
}
