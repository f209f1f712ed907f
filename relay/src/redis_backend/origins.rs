//! [`RedisOrigins`]: live sessions per page origin in Redis, so every relay
//! sharing it counts the same sessions.
//!
//! Owns: the `cobrowse:origin:{key}` sets. Does not own: when slots are
//! taken or freed (`origins.rs`).
//!
//! A set holds the ids of the origin's live sessions. A slot is taken by
//! one script that first drops members whose session key is gone, so a
//! relay that died without freeing its sessions' slots leaves nothing that
//! counts; a session that ends is removed (`SREM`) by the relay where it
//! ends, and an empty set is no key at all. Like a session's keys, a set
//! has a TTL that every relay serving one of its sessions renews, so the
//! sets of a relay that died go too.

use std::sync::{Arc, Weak};
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::Script;
use protocol::SessionId;

use super::{invoke, query, PREFIX};
use crate::origins::{Book, OriginKey, OriginSlots};
use crate::RelayError;

pub(crate) fn origin_key(origin: &OriginKey) -> String {
    format!("{PREFIX}origin:{}", origin.as_str())
}

/// Cheap to clone.
#[derive(Clone)]
pub struct RedisOrigins {
    conn: ConnectionManager,
    take: Arc<Script>,
    /// Origins of the sessions served here: the sets this relay renews.
    book: Arc<Book>,
    ttl: Duration,
}

impl RedisOrigins {
    /// Must be called inside a tokio runtime: it starts the renewing task,
    /// which stops once the last clone is dropped.
    pub(crate) fn new(conn: ConnectionManager, ttl: Duration) -> Self {
        let origins = RedisOrigins {
            conn,
            take: Arc::new(Script::new(include_str!("lua/origin_take.lua"))),
            book: Arc::default(),
            ttl,
        };
        tokio::spawn(renew_loop(
            origins.conn.clone(),
            Arc::downgrade(&origins.book),
            ttl,
        ));
        origins
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

/// Renews the sets of the origins served here every third of `ttl`.
async fn renew_loop(conn: ConnectionManager, book: Weak<Book>, ttl: Duration) {
    let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    let mut tick = tokio::time::interval(ttl / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.reset();
    loop {
        tick.tick().await;
        let Some(book) = book.upgrade() else { return };
        for origin in book.origins() {
            let renewed: Result<i64, _> = query(
                &conn,
                ::redis::cmd("PEXPIRE").arg(origin_key(&origin)).arg(ms),
            )
            .await;
            if let Err(err) = renewed {
                tracing::error!("could not renew origin counts in Redis: {err}");
                break;
            }
        }
    }
}

impl OriginSlots for RedisOrigins {
    async fn take(
        &self,
        origin: &OriginKey,
        session: &SessionId,
        max: usize,
    ) -> Result<bool, RelayError> {
        let taken: i64 = invoke(
            &self.conn,
            self.take
                .key(origin_key(origin))
                .arg(PREFIX)
                .arg(&session.0)
                .arg(max)
                .arg(self.ttl_ms()),
        )
        .await?;
        if taken == 1 {
            self.book.note(origin, session);
        }
        Ok(taken == 1)
    }

    fn note(&self, origin: &OriginKey, session: &SessionId) {
        self.book.note(origin, session);
    }

    async fn release(&self, session: &SessionId) -> Result<(), RelayError> {
        let Some(origin) = self.book.forget(session) else {
            return Ok(());
        };
        let _: i64 = query(
            &self.conn,
            ::redis::cmd("SREM")
                .arg(origin_key(&origin))
                .arg(&session.0),
        )
        .await?;
        Ok(())
    }
}
