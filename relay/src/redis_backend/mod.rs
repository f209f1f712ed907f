//! The shared backend: a [`SessionStore`](crate::SessionStore) and a
//! [`Bus`](crate::Bus) in one Redis, so several relays serve one session
//! together (a visitor on relay A, its agent on relay B).
//!
//! Owns: connecting to Redis at start-up, and the layout of everything the
//! relay puts there (the names below). Does not own: the session rules
//! (`sessions.rs` says what each step means; `store.rs` does it in Redis) or
//! sockets.
//!
//! # What lives in Redis
//!
//! Routing state, and for the session's life its replay buffer: the event
//! frames since the newest snapshot, as the visitor's script sent them
//! (already masked, never decoded here), so a peer continues after its
//! relay died (`replay/redis.rs` has those keys: `cobrowse:replay:{session}`,
//! `cobrowse:replay:{session}:meta`, `cobrowse:rejoin:{session}`). The
//! page's URL, which an agent is told on joining, is kept too (as the
//! memory store does).
//!
//! | key | type | holds |
//! |---|---|---|
//! | `cobrowse:code:{code}` | string | the session id; set with `NX`, so a code is unique across relays; deleted when an agent joins with it (single use), else expires after `code_ttl` |
//! | `cobrowse:session:{session}` | hash | `code`, `page_url`, `last_agent` (the agent id counter, `HINCRBY`), `resume` (the resume token), `visitor` (`here` or `away`) |
//! | `cobrowse:session:{session}:agents` | hash | agent id → `{state}:{mode}`: state `pending` or `admitted`, mode `view` or `shared` (asked for at join, the visitor's to change once admitted) |
//! | `cobrowse:session:{session}:names` | hash | agent id → the name its token carries (for a resumed session's list of who watches) |
//! | `cobrowse:agent:{sub}` | string | the holder id of the one connection in which the agent identity `sub` (a signed token's subject) is in a session; set with `NX` before joining, deleted when it leaves; the session TTL, renewed by the agent's relay |
//! | `cobrowse:session:{session}:away` | string | exists while the visitor is away; its TTL is the grace window, so every relay agrees when it is over |
//! | `cobrowse:origin:{sha256 of the page origin}` | set | ids of the origin's live sessions, for `max_sessions_per_origin` (see `origins.rs`); a session leaves it when it ends, an empty set is no key |
//! | `cobrowse:invite:{digest}`, `cobrowse:invite:code:{code}`, `cobrowse:invite:by:{inviter}` | hash, string, string | agents' open invitations (see `store/invitations.rs`); they expire with the code |
//!
//! The session's keys have a TTL ([`Settings::session_ttl`]) that the
//! visitor's relay renews while the session lives, so nothing lingers when a
//! relay dies; they are deleted when it ends. A code key has its own TTL
//! (the relay's `code_ttl`), never renewed: an unused code expires while its
//! session goes on.
//!
//! | channel | carries |
//! |---|---|
//! | `cobrowse:bus:{session}:visitor` | deliveries for the session's visitor |
//! | `cobrowse:bus:{session}:agent:{id}` | deliveries for one agent |
//!
//! # Invariants
//!
//! - Each store step is one Lua script (or one command), so it is atomic
//!   however many relays race on the session (`SessionStore`'s contract).
//! - A relay that loses Redis tells every peer whose messages travel through
//!   it (an error frame), rather than leaving them waiting in silence.

mod bus;
mod claims;
mod origins;
mod store;

use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::aio::ConnectionManagerConfig;
use ::redis::{Client, Cmd, FromRedisValue, ScriptInvocation};
use protocol::{AgentId, JoinCode, SessionId};

pub use bus::{RedisBus, RedisSubscription};
pub use origins::RedisOrigins;
pub use store::RedisStore;

use crate::bus::Topic;
use crate::config::RedisUrl;
use crate::RelayError;

/// Every key and channel starts with this, so the relay can share a Redis
/// with other applications.
pub const PREFIX: &str = "cobrowse:";

/// How long a connection attempt or a command may take before Redis counts
/// as unreachable. Generous for a 32 MiB snapshot on a slow link, short
/// enough that a relay does not sit silent for long when Redis hangs.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Tunables of the Redis backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How long a session's keys outlive the last sign of its relay. The
    /// relay renews them every third of this, so this is roughly how long
    /// the keys of a dead relay's sessions linger.
    pub session_ttl: Duration,
    /// How often the pub/sub connection is pinged, so a Redis that hangs
    /// (rather than closing the connection) is noticed too.
    pub health_interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            session_ttl: Duration::from_secs(60),
            health_interval: Duration::from_secs(10),
        }
    }
}

/// The `[redis]` table of the config file.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisTable {
    pub session_ttl_secs: Option<u64>,
}

impl Settings {
    pub fn from_table(table: Option<&RedisTable>) -> Result<Settings, RelayError> {
        let mut settings = Settings::default();
        if let Some(secs) = table.and_then(|t| t.session_ttl_secs) {
            // Renewed every third of it: below 3 s one slow round trip to
            // Redis could let a live session's keys expire.
            if !(3..=86_400).contains(&secs) {
                return Err(RelayError::Config(
                    "[redis] session_ttl_secs must be between 3 and 86400".into(),
                ));
            }
            settings.session_ttl = Duration::from_secs(secs);
        }
        Ok(settings)
    }
}

/// Connects with the default [`Settings`]. A Redis that does not answer is
/// a [`RelayError::Config`] that names the (password-free) URL.
pub async fn connect(url: &RedisUrl) -> Result<(RedisStore, RedisBus), RelayError> {
    connect_with(url, Settings::default()).await
}

pub async fn connect_with(
    url: &RedisUrl,
    settings: Settings,
) -> Result<(RedisStore, RedisBus), RelayError> {
    let unreachable = |e: &dyn std::fmt::Display| {
        RelayError::Config(format!(
            "cannot reach Redis at {url}: {e}. Is redis-server running there? \
             (Without --redis the relay keeps sessions in its own memory.)"
        ))
    };
    let client = Client::open(url.secret()).map_err(|e| unreachable(&e))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        // One short round of attempts is answer enough: at start-up the
        // relay then refuses to start, later the next command tries again.
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(1));
    let connecting = async {
        let mut conn = ConnectionManager::new_with_config(client.clone(), config).await?;
        ::redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await?;
        Ok::<_, ::redis::RedisError>(conn)
    };
    let conn = match tokio::time::timeout(COMMAND_TIMEOUT * 2, connecting).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Err(unreachable(&e)),
        Err(_) => return Err(unreachable(&"no answer in time")),
    };
    let bus = RedisBus::connect(client, conn.clone(), settings.health_interval)
        .await
        .map_err(|e| unreachable(&e))?;
    let store = RedisStore::new(conn, settings.session_ttl);
    Ok((store, bus))
}

pub(crate) fn code_key(code: &JoinCode) -> String {
    format!("{PREFIX}code:{code}")
}

pub(crate) fn session_key(session: &SessionId) -> String {
    format!("{PREFIX}session:{session}")
}

pub(crate) fn agents_key(session: &SessionId) -> String {
    format!("{PREFIX}session:{session}:agents")
}

pub(crate) fn names_key(session: &SessionId) -> String {
    format!("{PREFIX}session:{session}:names")
}

pub(crate) fn away_key(session: &SessionId) -> String {
    format!("{PREFIX}session:{session}:away")
}

pub(crate) fn channel(topic: &Topic) -> String {
    match topic {
        Topic::Visitor(session) => format!("{PREFIX}bus:{session}:visitor"),
        Topic::Agent(session, AgentId(id)) => format!("{PREFIX}bus:{session}:agent:{id}"),
    }
}

/// Runs `cmd`, and once more if the first attempt never reached Redis: the
/// connection manager hands back its last failed reconnection once before
/// trying again, which after a Redis restart would fail one peer for
/// nothing. Only then: a command that may have run is never repeated (a
/// second PUBLISH would deliver an event twice).
pub(crate) async fn query<T: FromRedisValue>(
    conn: &ConnectionManager,
    cmd: &Cmd,
) -> Result<T, RelayError> {
    match cmd.query_async(&mut conn.clone()).await {
        Err(err) if err.is_connection_refusal() => cmd
            .query_async(&mut conn.clone())
            .await
            .map_err(backend_error),
        other => other.map_err(backend_error),
    }
}

/// [`query`] for a script.
pub(crate) async fn invoke<T: FromRedisValue>(
    conn: &ConnectionManager,
    script: &ScriptInvocation<'_>,
) -> Result<T, RelayError> {
    match script.invoke_async(&mut conn.clone()).await {
        Err(err) if err.is_connection_refusal() => script
            .invoke_async(&mut conn.clone())
            .await
            .map_err(backend_error),
        other => other.map_err(backend_error),
    }
}

/// Redis's own error text is for the log; peers see a generic message.
pub(crate) fn backend_error(err: impl std::fmt::Display) -> RelayError {
    RelayError::Backend(err.to_string())
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn names_are_namespaced_and_distinct_per_role() {
        let s = SessionId("ab12".into());
        let code = JoinCode::parse("012345").expect("code");
        assert_eq!(code_key(&code), "cobrowse:code:012345");
        assert_eq!(session_key(&s), "cobrowse:session:ab12");
        assert_eq!(agents_key(&s), "cobrowse:session:ab12:agents");
        assert_eq!(
            channel(&Topic::Visitor(s.clone())),
            "cobrowse:bus:ab12:visitor"
        );
        assert_eq!(
            channel(&Topic::Agent(s, AgentId(3))),
            "cobrowse:bus:ab12:agent:3"
        );
    }
}
