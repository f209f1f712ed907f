//! Keeping this relay's sessions alive in Redis: every live session's keys
//! (and the agents' one-session claims held here) get their TTL renewed a
//! few times per TTL, so they vanish on their own if this relay dies.
//!
//! Owns: the renewal round and what a failed or late one means. Does not
//! own: which sessions are live here (`store.rs` adds and removes them) or
//! the keys' layout (`mod.rs`).

use std::sync::Weak;
use std::time::Duration;

use protocol::SessionId;

use super::{lock, Inner};
use crate::redis_backend::{agents_key, invoke, names_key, session_key};
use crate::replay::redis::{buffer_key, meta_key, rejoin_key};

/// Renews every live session of this relay each `every`, until the store is
/// dropped. A failed round is logged and retried at the next one: the TTL
/// leaves room for two misses.
pub(super) async fn renew_loop(store: Weak<Inner>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.reset();
    loop {
        tick.tick().await;
        let Some(inner) = store.upgrade() else { return };
        let sessions: Vec<SessionId> = lock(&inner.live).keys().cloned().collect();
        let ttl = u64::try_from(inner.ttl.as_millis()).unwrap_or(u64::MAX);
        if let Err(err) = inner.claims.renew_all(&inner.conn, ttl).await {
            tracing::error!("could not renew agents' session claims in Redis: {err}");
        }
        for session in sessions {
            let renewed: Result<i64, _> = invoke(
                &inner.conn,
                inner
                    .scripts
                    .renew
                    .key(session_key(&session))
                    .key(agents_key(&session))
                    .key(names_key(&session))
                    .key(buffer_key(&session))
                    .key(meta_key(&session))
                    .key(rejoin_key(&session))
                    .arg(ttl),
            )
            .await;
            match renewed {
                Ok(1) => {}
                // Gone: ended meanwhile (then it is no longer live), or
                // expired while Redis was unreachable for longer than the
                // TTL, so new agents can no longer find it by its code.
                Ok(_) => {
                    if lock(&inner.live).remove(&session).is_some() {
                        tracing::warn!(%session, "session keys expired in Redis before their renewal");
                    }
                }
                Err(err) => {
                    tracing::error!("could not renew session keys in Redis: {err}");
                    break;
                }
            }
        }
    }
}
