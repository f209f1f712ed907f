//! [`RedisResources`]: the [`ResourceStore`] in the Redis that the relays
//! share, so an upload on one relay serves an agent on another, and the
//! shared level of the cache outlives any one relay.
//!
//! Owns: the resource keys below, their scripts (`resources/lua/`) and the
//! renewal of the session keys this relay opened. Does not own: the rules.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `cobrowse:res:session:{session}` | hash | `key`, `token`, `policy`, `used` (budget), `u:{url}` → history line, `h:{hash}` → size and type offered, `c:{hash}` charged bytes, `w:{hash}`/`a:{url}` asked for, `p:{hash}` an upload is held |
//! | `cobrowse:res:key:{sha256(key)}`, `cobrowse:res:token:{sha256(token)}` | string | the session id (the secrets themselves are not key names, which show up in monitoring) |
//! | `cobrowse:res:up:{session}:{hash}` | string | an upload's bytes so far |
//! | `cobrowse:res:blob:{hash}` | string | the bytes, for `cache.ttl`: the shared level |
//!
//! Session keys share the session's TTL (renewed here while the session
//! lives, deleted when it ends); an upload key lives a TTL past its last
//! chunk; blobs live `cache.ttl` from their upload or the last offer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::Script;
use axum::body::Bytes;
use protocol::{ResourceHash, ResourcePolicy, SessionId};
use sha2::{Digest, Sha256};

use super::store::{
    Append, Charge, Grant, HistoryEntry, OfferedHash, ResourceKey, ResourceStore, SessionResources,
    UploadToken, MAX_HISTORY,
};
use crate::redis_backend::{invoke, query, PREFIX};
use crate::RelayError;

/// Sessions' resource state in a shared Redis. Cheap to clone.
#[derive(Clone)]
pub struct RedisResources {
    inner: Arc<Inner>,
}

struct Inner {
    conn: ConnectionManager,
    ttl: Duration,
    scripts: Scripts,
    /// Sessions held here (opened here, or resumed or watched here; see
    /// `redis_backend/store.rs`) with their holders: the ones to renew.
    live: Mutex<HashMap<SessionId, u32>>,
}

struct Scripts {
    open: Script,
    find: Script,
    close: Script,
    renew: Script,
    record: Script,
    mark: Script,
    charge: Script,
    refund: Script,
    append: Script,
    take: Script,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn session_key(session: &SessionId) -> String {
    format!("{PREFIX}res:session:{session}")
}

fn sessions_prefix() -> String {
    format!("{PREFIX}res:session:")
}

fn digest(secret: &str) -> String {
    ResourceHash(Sha256::digest(secret.as_bytes()).into()).to_hex()
}

fn key_index(key: &str) -> String {
    format!("{PREFIX}res:key:{}", digest(key))
}

fn token_index(token: &str) -> String {
    format!("{PREFIX}res:token:{}", digest(token))
}

fn uploads_prefix(session: &SessionId) -> String {
    format!("{PREFIX}res:up:{session}:")
}

fn upload_key(session: &SessionId, hash: &ResourceHash) -> String {
    format!("{}{hash}", uploads_prefix(session))
}

pub(crate) fn blob_key(hash: &ResourceHash) -> String {
    format!("{PREFIX}res:blob:{hash}")
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn encode_policy(policy: ResourcePolicy) -> String {
    let bit = |b: bool| if b { '1' } else { '0' };
    [bit(policy.upload), bit(policy.server_fetch)]
        .iter()
        .collect()
}

fn decode_policy(text: &str) -> ResourcePolicy {
    let mut bits = text.chars().map(|c| c == '1');
    ResourcePolicy {
        upload: bits.next().unwrap_or(false),
        server_fetch: bits.next().unwrap_or(false),
    }
}

impl RedisResources {
    /// Must be called inside a tokio runtime: it starts the renewing task,
    /// which stops once the last clone is dropped.
    pub(crate) fn new(conn: ConnectionManager, ttl: Duration) -> Self {
        let inner = Arc::new(Inner {
            conn,
            ttl,
            scripts: Scripts {
                open: Script::new(include_str!("lua/open.lua")),
                find: Script::new(include_str!("lua/find.lua")),
                close: Script::new(include_str!("lua/close.lua")),
                renew: Script::new(include_str!("lua/renew.lua")),
                record: Script::new(include_str!("lua/record.lua")),
                mark: Script::new(include_str!("lua/mark.lua")),
                charge: Script::new(include_str!("lua/charge.lua")),
                refund: Script::new(include_str!("lua/refund.lua")),
                append: Script::new(include_str!("lua/append.lua")),
                take: Script::new(include_str!("lua/take.lua")),
            },
            live: Mutex::new(HashMap::new()),
        });
        tokio::spawn(renew_loop(Arc::downgrade(&inner), inner.ttl / 3));
        RedisResources { inner }
    }

    /// One more holder of the session's keys here.
    pub(crate) fn hold(&self, session: &SessionId) {
        *lock(&self.inner.live).entry(session.clone()).or_insert(0) += 1;
    }

    /// One holder fewer; renewal stops with the last.
    pub(crate) fn let_go(&self, session: &SessionId) {
        let mut live = lock(&self.inner.live);
        if let Some(count) = live.get_mut(session) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                live.remove(session);
            }
        }
    }

    /// The session ended: nobody here holds it any more.
    pub(crate) fn let_go_all(&self, session: &SessionId) {
        lock(&self.inner.live).remove(session);
    }

    async fn find(&self, index: String) -> Result<Option<SessionResources>, RelayError> {
        let found: Option<(String, String)> = invoke(
            &self.inner.conn,
            self.inner.scripts.find.key(index).arg(sessions_prefix()),
        )
        .await?;
        Ok(found.map(|(session, policy)| SessionResources {
            session: SessionId(session),
            policy: decode_policy(&policy),
        }))
    }

    async fn mark(&self, session: &SessionId, field: String) -> Result<bool, RelayError> {
        let set: i64 = invoke(
            &self.inner.conn,
            self.inner.scripts.mark.key(session_key(session)).arg(field),
        )
        .await?;
        Ok(set == 1)
    }
}

/// Renews every session opened here each `every`, until the store is
/// dropped (as `redis_backend/store.rs` does for the session's own keys).
async fn renew_loop(store: Weak<Inner>, every: Duration) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.reset();
    loop {
        tick.tick().await;
        let Some(inner) = store.upgrade() else { return };
        let sessions: Vec<SessionId> = lock(&inner.live).keys().cloned().collect();
        for session in sessions {
            let renewed: Result<i64, _> = invoke(
                &inner.conn,
                inner
                    .scripts
                    .renew
                    .key(session_key(&session))
                    .arg(millis(inner.ttl)),
            )
            .await;
            match renewed {
                Ok(1) => {}
                Ok(_) => {
                    lock(&inner.live).remove(&session);
                }
                Err(err) => {
                    tracing::error!("could not renew resource keys in Redis: {err}");
                    break;
                }
            }
        }
    }
}

impl ResourceStore for RedisResources {
    async fn open(
        &self,
        session: &SessionId,
        grant: &Grant,
        policy: ResourcePolicy,
    ) -> Result<(), RelayError> {
        let _: i64 = invoke(
            &self.inner.conn,
            self.inner
                .scripts
                .open
                .key(session_key(session))
                .key(key_index(&grant.key.0))
                .key(token_index(&grant.token.0))
                .arg(&session.0)
                .arg(&grant.key.0)
                .arg(&grant.token.0)
                .arg(encode_policy(policy))
                .arg(millis(self.inner.ttl)),
        )
        .await?;
        lock(&self.inner.live).insert(session.clone(), 1);
        Ok(())
    }

    async fn close(&self, session: &SessionId) -> Result<(), RelayError> {
        lock(&self.inner.live).remove(session);
        let _: i64 = invoke(
            &self.inner.conn,
            self.inner
                .scripts
                .close
                .key(session_key(session))
                .arg(uploads_prefix(session)),
        )
        .await?;
        Ok(())
    }

    async fn by_key(&self, key: &str) -> Result<Option<SessionResources>, RelayError> {
        self.find(key_index(key)).await
    }

    async fn by_token(&self, token: &str) -> Result<Option<SessionResources>, RelayError> {
        self.find(token_index(token)).await
    }

    async fn grant(&self, session: &SessionId) -> Result<Option<Grant>, RelayError> {
        let (key, token): (Option<String>, Option<String>) = query(
            &self.inner.conn,
            ::redis::cmd("HMGET")
                .arg(session_key(session))
                .arg("key")
                .arg("token"),
        )
        .await?;
        Ok(key.zip(token).map(|(key, token)| Grant {
            key: ResourceKey(key),
            token: UploadToken(token),
        }))
    }

    async fn record(
        &self,
        session: &SessionId,
        entries: Vec<(String, HistoryEntry)>,
        hashes: Vec<(ResourceHash, OfferedHash)>,
    ) -> Result<(), RelayError> {
        if entries.is_empty() && hashes.is_empty() {
            return Ok(());
        }
        let mut script = self.inner.scripts.record.key(session_key(session));
        // Each URL may bring its hash's field too.
        script.arg(MAX_HISTORY * 2 + 16);
        for (hash, offered) in &hashes {
            script.arg(format!("h:{hash}")).arg(offered.encode());
        }
        for (url, entry) in &entries {
            script.arg(format!("u:{url}")).arg(entry.encode());
        }
        let _: i64 = invoke(&self.inner.conn, &script).await?;
        Ok(())
    }

    async fn entry(
        &self,
        session: &SessionId,
        url: &str,
    ) -> Result<Option<HistoryEntry>, RelayError> {
        let line: Option<String> = query(
            &self.inner.conn,
            ::redis::cmd("HGET")
                .arg(session_key(session))
                .arg(format!("u:{url}")),
        )
        .await?;
        Ok(line.as_deref().and_then(HistoryEntry::decode))
    }

    async fn known(&self, session: &SessionId, urls: &[String]) -> Result<Vec<bool>, RelayError> {
        if urls.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = ::redis::cmd("HMGET");
        cmd.arg(session_key(session));
        for url in urls {
            cmd.arg(format!("u:{url}"));
        }
        let found: Vec<Option<String>> = query(&self.inner.conn, &cmd).await?;
        Ok(found.iter().map(Option::is_some).collect())
    }

    async fn offered(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
    ) -> Result<Option<OfferedHash>, RelayError> {
        let line: Option<String> = query(
            &self.inner.conn,
            ::redis::cmd("HGET")
                .arg(session_key(session))
                .arg(format!("h:{hash}")),
        )
        .await?;
        Ok(line.as_deref().and_then(OfferedHash::decode))
    }

    async fn mark_wanted(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
    ) -> Result<bool, RelayError> {
        self.mark(session, format!("w:{hash}")).await
    }

    async fn mark_asked(&self, session: &SessionId, url: &str) -> Result<bool, RelayError> {
        self.mark(session, format!("a:{url}")).await
    }

    async fn charge(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
        bytes: u64,
        budget: u64,
    ) -> Result<Charge, RelayError> {
        let answer: i64 = invoke(
            &self.inner.conn,
            self.inner
                .scripts
                .charge
                .key(session_key(session))
                .arg(format!("c:{hash}"))
                .arg(bytes)
                .arg(budget),
        )
        .await?;
        Ok(match u64::try_from(answer) {
            Ok(used) => Charge::OverBudget { used },
            Err(_) => Charge::Fits,
        })
    }

    async fn refund(&self, session: &SessionId, hash: &ResourceHash) -> Result<(), RelayError> {
        let _: i64 = invoke(
            &self.inner.conn,
            self.inner
                .scripts
                .refund
                .key(session_key(session))
                .arg(format!("c:{hash}")),
        )
        .await?;
        Ok(())
    }

    async fn append(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
        offset: u64,
        chunk: Bytes,
    ) -> Result<Append, RelayError> {
        let (appended, held): (i64, u64) = invoke(
            &self.inner.conn,
            self.inner
                .scripts
                .append
                .key(session_key(session))
                .key(upload_key(session, hash))
                .arg(format!("p:{hash}"))
                .arg(offset)
                .arg(chunk.as_ref())
                .arg(millis(self.inner.ttl)),
        )
        .await?;
        Ok(if appended == 1 {
            Append::Received(held)
        } else {
            Append::WrongOffset { received: held }
        })
    }

    async fn received(&self, session: &SessionId, hash: &ResourceHash) -> Result<u64, RelayError> {
        query(
            &self.inner.conn,
            ::redis::cmd("STRLEN").arg(upload_key(session, hash)),
        )
        .await
    }

    async fn take_upload(
        &self,
        session: &SessionId,
        hash: &ResourceHash,
    ) -> Result<Bytes, RelayError> {
        let bytes: Vec<u8> = invoke(
            &self.inner.conn,
            self.inner
                .scripts
                .take
                .key(session_key(session))
                .key(upload_key(session, hash))
                .arg(format!("p:{hash}")),
        )
        .await?;
        Ok(Bytes::from(bytes))
    }

    async fn blob_get(&self, hash: &ResourceHash) -> Result<Option<Bytes>, RelayError> {
        let bytes: Option<Vec<u8>> =
            query(&self.inner.conn, ::redis::cmd("GET").arg(blob_key(hash))).await?;
        Ok(bytes.map(Bytes::from))
    }

    async fn blob_put(
        &self,
        hash: &ResourceHash,
        bytes: Bytes,
        ttl: Duration,
    ) -> Result<(), RelayError> {
        let _: () = query(
            &self.inner.conn,
            ::redis::cmd("SET")
                .arg(blob_key(hash))
                .arg(bytes.as_ref())
                .arg("PX")
                .arg(millis(ttl)),
        )
        .await?;
        Ok(())
    }

    async fn blob_refresh(&self, hash: &ResourceHash, ttl: Duration) -> Result<bool, RelayError> {
        let set: i64 = query(
            &self.inner.conn,
            ::redis::cmd("PEXPIRE").arg(blob_key(hash)).arg(millis(ttl)),
        )
        .await?;
        Ok(set == 1)
    }
}
