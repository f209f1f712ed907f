//! What the relay keeps about a session's resources, and the shared level of
//! the cache: the [`ResourceStore`] seam, implemented in process
//! (`resources/memory.rs`) and in Redis (`resources/redis.rs`).
//!
//! Owns: the trait and its value types. Does not own: the rules (what may be
//! uploaded, what is wanted, what is served: `resources/mod.rs` and the
//! routes) or the local level (`cache.rs`).
//!
//! Everything about a session lives with the session: it is opened when the
//! visitor's session starts and closed when it ends, and in Redis its keys
//! share the session's TTL. Only the shared level outlives sessions: bytes by
//! hash, for `cache.ttl`.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use axum::body::Bytes;
use protocol::{ResourceHash, ResourcePolicy, SessionId};
use rand::RngCore;

use crate::RelayError;

/// A random secret of 256 bits, base64url without padding.
fn secret() -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The capability in an agent's resource URLs (`/res/s/{key}/...`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResourceKey(pub String);

/// The bearer secret of a session's uploads.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UploadToken(pub String);

// Secrets are never printed whole, so neither reaches a log line.
impl fmt::Debug for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourceKey({}…)", self.0.get(..4).unwrap_or(""))
    }
}

impl fmt::Debug for UploadToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UploadToken(<redacted>)")
    }
}

/// A session's two resource secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub key: ResourceKey,
    pub token: UploadToken,
}

impl Grant {
    pub fn random() -> Self {
        Grant {
            key: ResourceKey(secret()),
            token: UploadToken(secret()),
        }
    }

    /// What `Admitted.resources` tells the agent.
    pub fn path(&self) -> String {
        format!("/res/s/{}/", self.key.0)
    }
}

/// A session found by one of its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionResources {
    pub session: SessionId,
    pub policy: ResourcePolicy,
}

/// What the session's history says about one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryEntry {
    /// The visitor read it (or the relay fetched it): these bytes, this type.
    Body {
        hash: ResourceHash,
        size: u64,
        content_type: String,
    },
    /// The visitor could not read it or it was refused: the fallback chain
    /// serves it.
    Unavailable,
}

impl HistoryEntry {
    /// One line, as the Redis store keeps it.
    pub fn encode(&self) -> String {
        match self {
            HistoryEntry::Body {
                hash,
                size,
                content_type,
            } => format!("{hash} {size} {content_type}"),
            HistoryEntry::Unavailable => "-".to_owned(),
        }
    }

    pub fn decode(text: &str) -> Option<Self> {
        if text == "-" {
            return Some(HistoryEntry::Unavailable);
        }
        let mut parts = text.splitn(3, ' ');
        let hash = ResourceHash::from_hex(parts.next()?)?;
        let size = parts.next()?.parse().ok()?;
        let content_type = parts.next().unwrap_or("").to_owned();
        Some(HistoryEntry::Body {
            hash,
            size,
            content_type,
        })
    }
}

/// A hash the session offered: its size, the type it was offered as and
/// (one of) the URLs it was offered under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedHash {
    pub size: u64,
    pub content_type: String,
    pub url: String,
}

impl OfferedHash {
    /// One line, as the Redis store keeps it (a serialized URL has no
    /// spaces).
    pub fn encode(&self) -> String {
        format!("{} {} {}", self.size, self.url, self.content_type)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, ' ');
        Some(OfferedHash {
            size: parts.next()?.parse().ok()?,
            url: parts.next()?.to_owned(),
            content_type: parts.next().unwrap_or("").to_owned(),
        })
    }
}

/// Whether an upload fits the session's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// Charged now, or already charged for this hash.
    Fits,
    /// Charging would pass the budget; `used` is what is charged already.
    OverBudget { used: u64 },
}

/// The answer to one upload chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Append {
    /// Appended; this many bytes are held now.
    Received(u64),
    /// The chunk does not start where the held bytes end.
    WrongOffset { received: u64 },
}

/// Most URLs one session's history holds; offers beyond it are ignored (a
/// page with more resources than this is not a page).
pub const MAX_HISTORY: usize = 20_000;

/// Every method is one step (a Lua script or one command in Redis), so two
/// relays serving one session see a consistent state. Methods on a session
/// that is gone answer as for an empty session.
pub trait ResourceStore: Send + Sync + 'static {
    /// Records a new session's secrets and policy.
    fn open(
        &self,
        session: &SessionId,
        grant: &Grant,
        policy: ResourcePolicy,
    ) -> impl Future<Output = Result<(), RelayError>> + Send;

    /// Forgets everything about the session (the shared level stays).
    fn close(&self, session: &SessionId) -> impl Future<Output = Result<(), RelayError>> + Send;

    fn by_key(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<SessionResources>, RelayError>> + Send;

    fn by_token(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Option<SessionResources>, RelayError>> + Send;

    /// The session's secrets, for a relay that did not open it.
    fn grant(
        &self,
        session: &SessionId,
    ) -> impl Future<Output = Result<Option<Grant>, RelayError>> + Send;

    /// Adds (or replaces) history entries, and notes the hashes the session
    /// offered (which it may then upload, even those its history marks
    /// unavailable: their upload is refused with the reason).
    fn record(
        &self,
        session: &SessionId,
        entries: Vec<(String, HistoryEntry)>,
        hashes: Vec<(ResourceHash, OfferedHash)>,
    ) -> impl Future<Output = Result<(), RelayError>> + Send;

    fn entry(
        &self,
        session: &SessionId,
        url: &str,
    ) -> impl Future<Output = Result<Option<HistoryEntry>, RelayError>> + Send;

    /// For each URL, whether the history has it.
    fn known(
        &self,
        session: &SessionId,
        urls: &[String],
    ) -> impl Future<Output = Result<Vec<bool>, RelayError>> + Send;

    fn offered(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
    ) -> impl Future<Output = Result<Option<OfferedHash>, RelayError>> + Send;

    /// Notes that the visitor was asked to upload `hash`; `false` if it had
    /// been already.
    fn mark_wanted(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
    ) -> impl Future<Output = Result<bool, RelayError>> + Send;

    /// Notes that the visitor was asked to offer `url`; `false` if it had
    /// been already.
    fn mark_asked(
        &self,
        session: &SessionId,
        url: &str,
    ) -> impl Future<Output = Result<bool, RelayError>> + Send;

    /// Charges `bytes` for `hash` against `budget`, once per hash.
    fn charge(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
        bytes: u64,
        budget: u64,
    ) -> impl Future<Output = Result<Charge, RelayError>> + Send;

    /// Takes back the charge for `hash` (its upload failed verification).
    fn refund(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
    ) -> impl Future<Output = Result<(), RelayError>> + Send;

    /// Appends an upload chunk that starts at `offset`.
    fn append(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
        offset: u64,
        chunk: Bytes,
    ) -> impl Future<Output = Result<Append, RelayError>> + Send;

    /// Bytes of `hash` held for the session's upload so far.
    fn received(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
    ) -> impl Future<Output = Result<u64, RelayError>> + Send;

    /// Removes and returns the upload's bytes.
    fn take_upload(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
    ) -> impl Future<Output = Result<Bytes, RelayError>> + Send;

    /// The shared level: `None` if it does not hold `hash` (or there is no
    /// shared level).
    fn blob_get(
        &self,
        hash: &ResourceHash,
    ) -> impl Future<Output = Result<Option<Bytes>, RelayError>> + Send;

    fn blob_put(
        &self,
        hash: &ResourceHash,
        bytes: Bytes,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), RelayError>> + Send;

    /// Restarts the life of `hash` in the shared level; `false` if absent.
    fn blob_refresh(
        &self,
        hash: &ResourceHash,
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, RelayError>> + Send;
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn history_lines_round_trip() {
        let body = HistoryEntry::Body {
            hash: ResourceHash([9; 32]),
            size: 12,
            content_type: "text/css; charset=Shift_JIS".into(),
        };
        assert_eq!(HistoryEntry::decode(&body.encode()), Some(body));
        let gone = HistoryEntry::Unavailable;
        assert_eq!(HistoryEntry::decode(&gone.encode()), Some(gone));
        assert_eq!(HistoryEntry::decode("zz 1 x"), None);
        let offered = OfferedHash {
            size: 3,
            content_type: "image/png".into(),
            url: "https://x.example/a%20b.png".into(),
        };
        assert_eq!(OfferedHash::decode(&offered.encode()), Some(offered));
    }

    #[test]
    fn secrets_are_long_random_and_url_safe() {
        let a = Grant::random();
        let b = Grant::random();
        assert_ne!(a, b);
        assert_eq!(a.key.0.len(), 43);
        assert!(a
            .token
            .0
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(a.path(), format!("/res/s/{}/", a.key.0));
        assert!(!format!("{a:?}").contains(&a.token.0));
    }
}
