//! [`RedisReplay`]: the replay buffer as a Redis list per session, written
//! by the relay that receives the visitor's frame, and agents' rejoin
//! records as a hash; both with the session's TTL (renewed with its other
//! keys), deleted when it ends.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `cobrowse:replay:{session}` | list | the buffered frames (already masked, encoded for agents), oldest first |
//! | `cobrowse:replay:{session}:meta` | hash | `bytes` (the list's size), `last` (the newest seq) |
//! | `cobrowse:rejoin:{session}` | hash | agent id → `{generation}:{SHA-256 of its rejoin secret, hex}` |

use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::Script;
use axum::body::Bytes;
use protocol::{AgentId, Seq, SessionId};

use super::{Bounds, Entry, RejoinRecord, ReplayStore};
use crate::redis_backend::{invoke, query, PREFIX};
use crate::RelayError;

pub(crate) fn buffer_key(session: &SessionId) -> String {
    format!("{PREFIX}replay:{session}")
}

pub(crate) fn meta_key(session: &SessionId) -> String {
    format!("{PREFIX}replay:{session}:meta")
}

pub(crate) fn rejoin_key(session: &SessionId) -> String {
    format!("{PREFIX}rejoin:{session}")
}

/// Buffers and records in a Redis shared with other relays. Cheap to clone.
#[derive(Clone)]
pub struct RedisReplay {
    conn: ConnectionManager,
    ttl_ms: u64,
    append: Script,
    advance: Script,
}

impl RedisReplay {
    pub(crate) fn new(conn: ConnectionManager, ttl: Duration) -> RedisReplay {
        RedisReplay {
            conn,
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            append: Script::new(include_str!("lua/append.lua")),
            advance: Script::new(include_str!("lua/advance.lua")),
        }
    }
}

impl ReplayStore for RedisReplay {
    async fn append(
        &self,
        session: &SessionId,
        entry: Entry,
        bounds: Bounds,
    ) -> Result<(), RelayError> {
        let snapshot = if entry.is_snapshot() { "1" } else { "0" };
        let _: i64 = invoke(
            &self.conn,
            self.append
                .key(buffer_key(session))
                .key(meta_key(session))
                .arg(entry.as_bytes().as_ref())
                .arg(snapshot)
                .arg(entry.seq().0)
                .arg(bounds.frames)
                .arg(bounds.bytes)
                .arg(self.ttl_ms),
        )
        .await?;
        Ok(())
    }

    async fn entries(&self, session: &SessionId) -> Result<Vec<Entry>, RelayError> {
        let raw: Vec<Vec<u8>> = query(
            &self.conn,
            ::redis::cmd("LRANGE")
                .arg(buffer_key(session))
                .arg(0)
                .arg(-1),
        )
        .await?;
        Ok(raw
            .into_iter()
            .filter_map(|bytes| Entry::from_stored(Bytes::from(bytes)))
            .collect())
    }

    async fn last_seq(&self, session: &SessionId) -> Result<Option<Seq>, RelayError> {
        let last: Option<u64> = query(
            &self.conn,
            ::redis::cmd("HGET").arg(meta_key(session)).arg("last"),
        )
        .await?;
        Ok(last.map(Seq))
    }

    async fn set_rejoin(
        &self,
        session: &SessionId,
        agent: AgentId,
        record: RejoinRecord,
    ) -> Result<(), RelayError> {
        let key = rejoin_key(session);
        let mut pipe = ::redis::pipe();
        pipe.atomic()
            .hset(&key, agent.0, record.to_text())
            .ignore()
            .pexpire(&key, i64::try_from(self.ttl_ms).unwrap_or(i64::MAX))
            .ignore();
        pipe.query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(crate::redis_backend::backend_error)
    }

    async fn rejoin(
        &self,
        session: &SessionId,
        agent: AgentId,
    ) -> Result<Option<RejoinRecord>, RelayError> {
        let text: Option<String> = query(
            &self.conn,
            ::redis::cmd("HGET").arg(rejoin_key(session)).arg(agent.0),
        )
        .await?;
        Ok(text.as_deref().and_then(RejoinRecord::parse))
    }

    async fn advance_rejoin(
        &self,
        session: &SessionId,
        agent: AgentId,
        from: u64,
        delete: bool,
    ) -> Result<bool, RelayError> {
        let moved: i64 = invoke(
            &self.conn,
            self.advance
                .key(rejoin_key(session))
                .arg(agent.0)
                .arg(from)
                .arg(if delete { "1" } else { "0" }),
        )
        .await?;
        Ok(moved == 1)
    }

    async fn forget(&self, session: &SessionId) -> Result<(), RelayError> {
        query::<i64>(
            &self.conn,
            ::redis::cmd("DEL")
                .arg(buffer_key(session))
                .arg(meta_key(session))
                .arg(rejoin_key(session)),
        )
        .await?;
        Ok(())
    }
}
