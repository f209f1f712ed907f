//! The `--config` file (`cobrowse.toml`): its keys, reading it, and turning
//! it (with the command line's overrides) into checked settings.
//!
//! Owns: the file format and every check on a configured value, so a bad
//! value stops the relay at start-up with a message naming the key. Does
//! not own: the defaults (`limits.rs`, and each table's own settings type)
//! or flag parsing (the binary).

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::resources::settings::{self, CacheTable, ResourceSettings, ResourcesTable};
use crate::token::AgentSecret;
use crate::RelayError;

use super::Limits;

/// The longest `idle_timeout_secs` (30 days).
const MAX_IDLE_SECS: u64 = 30 * 24 * 3600;

/// The `--config` file (`cobrowse.toml`). Every key is optional; unknown
/// keys are an error so a typo does not silently leave a default in force.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub max_frame_bytes: Option<usize>,
    pub max_agents_per_session: Option<usize>,
    pub agent_queue_frames: Option<usize>,
    pub code_ttl_secs: Option<u64>,
    pub code_guesses_per_minute: Option<u32>,
    pub agent_messages_per_second: Option<u32>,
    pub resume_grace_secs: Option<u64>,
    pub resume_failures_per_minute: Option<u32>,
    pub idle_timeout_secs: Option<u64>,
    pub replay_frames: Option<usize>,
    pub replay_bytes: Option<usize>,
    pub max_sessions_per_origin: Option<usize>,
    pub visitor_messages_per_second: Option<u32>,
    /// The secret signed agent tokens are checked with. A file the
    /// operator protects; never a command-line argument (`ps` shows those).
    pub agent_secret: Option<String>,
    /// `[cache]`: `ttl`, `local_max_bytes`.
    pub cache: Option<CacheTable>,
    /// `[resources]`: `allowed_external_domains`, `strict`,
    /// `max_resource_bytes`, `session_budget_bytes`.
    pub resources: Option<ResourcesTable>,
    /// `[[masking]]`: per URL pattern, selectors the visitor's script masks
    /// or blocks on top of the site's own (see `masking.rs`).
    pub masking: Option<Vec<crate::masking::MaskingTable>>,
    /// `[drain]`: `grace_secs` (see `drain.rs`).
    pub drain: Option<crate::drain::DrainTable>,
    /// `[admission]`: `new_sessions_per_second`, `new_sessions_burst`.
    pub admission: Option<crate::admission::AdmissionTable>,
    /// `[redis]`: `session_ttl_secs`.
    pub redis: Option<crate::redis_backend::RedisTable>,
}

// Hand-written so the secret never reaches a log line.
impl fmt::Debug for LimitsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimitsFile")
            .field("max_frame_bytes", &self.max_frame_bytes)
            .field("max_agents_per_session", &self.max_agents_per_session)
            .field("agent_queue_frames", &self.agent_queue_frames)
            .field("code_ttl_secs", &self.code_ttl_secs)
            .field("code_guesses_per_minute", &self.code_guesses_per_minute)
            .field("agent_messages_per_second", &self.agent_messages_per_second)
            .field("resume_grace_secs", &self.resume_grace_secs)
            .field(
                "resume_failures_per_minute",
                &self.resume_failures_per_minute,
            )
            .field("idle_timeout_secs", &self.idle_timeout_secs)
            .field("replay_frames", &self.replay_frames)
            .field("replay_bytes", &self.replay_bytes)
            .field("max_sessions_per_origin", &self.max_sessions_per_origin)
            .field(
                "visitor_messages_per_second",
                &self.visitor_messages_per_second,
            )
            .field(
                "agent_secret",
                &self.agent_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("cache", &self.cache)
            .field("resources", &self.resources)
            .field("masking", &self.masking)
            .field("drain", &self.drain)
            .field("admission", &self.admission)
            .field("redis", &self.redis)
            .finish()
    }
}

impl LimitsFile {
    pub fn parse(text: &str) -> Result<Self, RelayError> {
        toml::from_str(text).map_err(|e| RelayError::Config(e.to_string()))
    }

    pub fn read(path: &Path) -> Result<Self, RelayError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            RelayError::Config(format!("cannot read config file {}: {e}", path.display()))
        })?;
        Self::parse(&text).map_err(|e| match e {
            RelayError::Config(m) => {
                RelayError::Config(format!("in config file {}: {m}", path.display()))
            }
            other => other,
        })
    }

    /// Applies the file, then `overrides` (the command line wins), and checks
    /// that every limit is usable.
    pub fn into_limits(self, overrides: &LimitsFile) -> Result<Limits, RelayError> {
        let defaults = Limits::default();
        // The command line wins over the file, the file over the default.
        macro_rules! chosen {
            ($key:ident) => {
                overrides.$key.or(self.$key)
            };
        }
        let limits = Limits {
            max_frame_bytes: chosen!(max_frame_bytes).unwrap_or(defaults.max_frame_bytes),
            max_agents_per_session: chosen!(max_agents_per_session)
                .unwrap_or(defaults.max_agents_per_session),
            agent_queue_frames: chosen!(agent_queue_frames).unwrap_or(defaults.agent_queue_frames),
            code_ttl: chosen!(code_ttl_secs).map_or(defaults.code_ttl, Duration::from_secs),
            code_guesses_per_minute: chosen!(code_guesses_per_minute)
                .unwrap_or(defaults.code_guesses_per_minute),
            agent_messages_per_second: chosen!(agent_messages_per_second)
                .unwrap_or(defaults.agent_messages_per_second),
            resume_grace: chosen!(resume_grace_secs)
                .map_or(defaults.resume_grace, Duration::from_secs),
            resume_failures_per_minute: chosen!(resume_failures_per_minute)
                .unwrap_or(defaults.resume_failures_per_minute),
            idle_timeout: chosen!(idle_timeout_secs)
                .map_or(defaults.idle_timeout, Duration::from_secs),
            replay_frames: chosen!(replay_frames).unwrap_or(defaults.replay_frames),
            replay_bytes: chosen!(replay_bytes).unwrap_or(defaults.replay_bytes),
            max_sessions_per_origin: chosen!(max_sessions_per_origin)
                .unwrap_or(defaults.max_sessions_per_origin),
            visitor_messages_per_second: chosen!(visitor_messages_per_second)
                .unwrap_or(defaults.visitor_messages_per_second),
        };
        if limits.replay_frames == 0 || limits.replay_bytes == 0 {
            return Err(RelayError::Config(
                "replay_frames and replay_bytes must be at least 1".into(),
            ));
        }
        // The wire carries the window in whole seconds as a u32; a day is
        // already far past any page load.
        if limits.resume_grace > Duration::from_secs(24 * 3600) {
            return Err(RelayError::Config(
                "resume_grace_secs must be at most 86400".into(),
            ));
        }
        // Bounded so a deadline never overflows the clock; a month is far
        // past any conversation.
        if limits.idle_timeout > Duration::from_secs(MAX_IDLE_SECS) {
            return Err(RelayError::Config(format!(
                "idle_timeout_secs must be at most {MAX_IDLE_SECS} (0 = never)"
            )));
        }
        if limits.resume_failures_per_minute == 0 {
            return Err(RelayError::Config(
                "resume_failures_per_minute must be at least 1".into(),
            ));
        }
        // Below this not even a hello with a long page URL fits.
        if limits.max_frame_bytes < 1024 {
            return Err(RelayError::Config(
                "max_frame_bytes must be at least 1024".into(),
            ));
        }
        if limits.max_agents_per_session == 0 {
            return Err(RelayError::Config(
                "max_agents_per_session must be at least 1".into(),
            ));
        }
        // A zero-capacity queue could hold no frame at all (and tokio's
        // bounded channel refuses it).
        if limits.agent_queue_frames == 0 {
            return Err(RelayError::Config(
                "agent_queue_frames must be at least 1".into(),
            ));
        }
        if limits.code_ttl.is_zero() {
            return Err(RelayError::Config(
                "code_ttl_secs must be at least 1".into(),
            ));
        }
        if limits.code_guesses_per_minute == 0 {
            return Err(RelayError::Config(
                "code_guesses_per_minute must be at least 1".into(),
            ));
        }
        if limits.agent_messages_per_second == 0 {
            return Err(RelayError::Config(
                "agent_messages_per_second must be at least 1".into(),
            ));
        }
        // Below this a page's ordinary pointer and mutation traffic would
        // be cut off.
        if limits.visitor_messages_per_second < 10 {
            return Err(RelayError::Config(
                "visitor_messages_per_second must be at least 10".into(),
            ));
        }
        Ok(limits)
    }

    /// The `[cache]` and `[resources]` tables, checked.
    pub fn resource_settings(&self) -> Result<ResourceSettings, RelayError> {
        settings::from_tables(self.cache.as_ref(), self.resources.as_ref())
    }

    /// The `[[masking]]` tables, checked.
    pub fn masking(&self) -> Result<crate::masking::Masking, RelayError> {
        crate::masking::Masking::from_tables(self.masking.as_deref().unwrap_or_default())
    }

    /// The `[drain]`, `[admission]` and `[redis]` tables, checked.
    pub fn scale_settings(
        &self,
    ) -> Result<
        (
            crate::drain::DrainSettings,
            crate::admission::AdmissionSettings,
            crate::redis_backend::Settings,
        ),
        RelayError,
    > {
        Ok((
            crate::drain::DrainSettings::from_table(self.drain.as_ref())?,
            crate::admission::AdmissionSettings::from_table(self.admission.as_ref())?,
            crate::redis_backend::Settings::from_table(self.redis.as_ref())?,
        ))
    }

    /// The `agent_secret` key, checked.
    pub fn agent_secret(&self) -> Result<Option<AgentSecret>, RelayError> {
        self.agent_secret
            .as_deref()
            .map(|s| {
                AgentSecret::new(s).map_err(|e| RelayError::Config(format!("agent_secret: {e}")))
            })
            .transpose()
    }
}
