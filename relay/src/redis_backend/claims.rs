//! One session at a time per agent identity, across relays: a key per
//! identity, `cobrowse:agent:{sub}`, holding the claiming connection's
//! random holder id.
//!
//! Owns: the claim key, taking it (`SET NX`, atomic across relays), handing
//! it over (to a place's new name, or to a rejoining connection), letting
//! go of it and renewing it (both only while this connection still holds
//! it, as a script). Does not own: when an agent claims or lets go
//! (`agent/`) or the renewal timer (`store.rs`'s renew loop, which also
//! renews these).
//!
//! The key has the session keys' TTL and is renewed with them by the relay
//! serving the agent, so a relay that dies frees its agents within a TTL.

use std::collections::HashMap;
use std::sync::Mutex;

use ::redis::aio::ConnectionManager;
use ::redis::Script;

use super::{invoke, query, PREFIX};
use crate::RelayError;

pub(crate) fn agent_key(who: &str) -> String {
    format!("{PREFIX}agent:{who}")
}

/// Deletes the key only if `holder` still holds it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Renews the key only if `holder` still holds it; 0 if it is gone or
/// someone else's.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Gives the key to `ARGV[2]` (with the TTL `ARGV[3]`) if it is free or
/// its holder starts with `ARGV[1]`; 0 if another holds it.
const HAND_OVER: &str = r"
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, string.len(ARGV[1])) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
";

/// The claims this relay holds (key → holder), for renewal.
pub(crate) struct Claims {
    held: Mutex<HashMap<String, String>>,
    release: Script,
    renew: Script,
    hand_over: Script,
}

impl Claims {
    pub(crate) fn new() -> Self {
        Claims {
            held: Mutex::new(HashMap::new()),
            release: Script::new(RELEASE),
            renew: Script::new(RENEW),
            hand_over: Script::new(HAND_OVER),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) async fn claim(
        &self,
        conn: &ConnectionManager,
        who: &str,
        holder: &str,
        ttl_ms: u64,
    ) -> Result<bool, RelayError> {
        let key = agent_key(who);
        // A fresh key has a whole TTL, so noting it after cannot miss a renewal.
        let set: Option<String> = query(
            conn,
            ::redis::cmd("SET")
                .arg(&key)
                .arg(holder)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms),
        )
        .await?;
        let taken = set.is_some();
        if taken {
            self.held().insert(key, holder.to_owned());
        }
        Ok(taken)
    }

    pub(crate) async fn hand_over(
        &self,
        conn: &ConnectionManager,
        who: &str,
        from: &str,
        holder: &str,
        ttl_ms: u64,
    ) -> Result<bool, RelayError> {
        let key = agent_key(who);
        let taken: i64 = invoke(
            conn,
            self.hand_over.key(&key).arg(from).arg(holder).arg(ttl_ms),
        )
        .await?;
        if taken == 1 {
            // The previous holder, if it was here, is no longer renewed.
            self.held().insert(key, holder.to_owned());
        }
        Ok(taken == 1)
    }

    pub(crate) async fn release(
        &self,
        conn: &ConnectionManager,
        who: &str,
        holder: &str,
    ) -> Result<(), RelayError> {
        let key = agent_key(who);
        {
            let mut held = self.held();
            if held.get(&key).is_some_and(|h| h == holder) {
                held.remove(&key);
            }
        }
        let _: i64 = invoke(conn, self.release.key(&key).arg(holder)).await?;
        Ok(())
    }

    /// One renewal round over every claim held here.
    pub(crate) async fn renew_all(
        &self,
        conn: &ConnectionManager,
        ttl_ms: u64,
    ) -> Result<(), RelayError> {
        let held: Vec<(String, String)> = self
            .held()
            .iter()
            .map(|(k, h)| (k.clone(), h.clone()))
            .collect();
        for (key, holder) in held {
            let renewed: i64 = invoke(conn, self.renew.key(&key).arg(&holder).arg(ttl_ms)).await?;
            if renewed == 0 {
                // Expired before its renewal, or handed over to a rejoining
                // connection on another relay.
                tracing::info!("an agent's session claim is no longer this relay's");
                let mut held = self.held();
                if held.get(&key).is_some_and(|h| *h == holder) {
                    held.remove(&key);
                }
            }
        }
        Ok(())
    }
}
