//! What the relay is told at start-up: limits (from `--config` TOML, then
//! command-line overrides), the origin policy, agent authentication, where the
//! static files live and which backend holds sessions.
//!
//! Owns: parsing and validating those settings. Does not own: flag parsing
//! (the binary does that with clap) or acting on the settings.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth::AgentAuth;
use crate::resources::settings::{self, CacheTable, ResourceSettings, ResourcesTable};
use crate::token::AgentSecret;
use crate::RelayError;

/// Limits that protect the relay and its peers from one another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest WebSocket message accepted from a peer. A full snapshot of a
    /// big page is the largest thing that travels, hence the generous default.
    pub max_frame_bytes: usize,
    /// Agents (waiting or admitted) one session may have at once.
    pub max_agents_per_session: usize,
    /// Frames queued for one connection before it counts as too slow and is
    /// dropped: the fan-out never waits for a slow reader.
    pub agent_queue_frames: usize,
    /// How long a join code admits an agent if nobody uses it. A used code
    /// is gone at once (each code admits one agent; the visitor is sent a
    /// fresh one).
    pub code_ttl: Duration,
    /// Wrong join codes allowed per minute from one client address and
    /// from one agent identity; the next join attempt is refused.
    pub code_guesses_per_minute: u32,
    /// Messages one agent connection may send on to the visitor per second:
    /// pointing has this budget, and control plus mode requests another of
    /// the same size. The rest is dropped (and counted), so a runaway
    /// console cannot flood the visitor's page.
    pub agent_messages_per_second: u32,
    /// How long a session waits for its visitor after the visitor's socket
    /// closed without `End` (a navigation, a reload, a dropped network)
    /// before it ends. Zero turns resuming off: the session ends at once.
    pub resume_grace: Duration,
    /// Failed resume attempts (a wrong, ended or expired token) allowed
    /// per minute from one client address; the next is refused.
    pub resume_failures_per_minute: u32,
    /// A session with no visitor frame and no agent message for this long
    /// ends (agents are told the visitor is gone, the visitor that the
    /// session ended). Zero: never.
    pub idle_timeout: Duration,
    /// A session's replay buffer (the newest snapshot and every later
    /// frame, for a peer that reconnects): at most this many frames and
    /// this many bytes; past either the oldest frames go.
    pub replay_frames: usize,
    pub replay_bytes: usize,
    /// Live sessions (waiting for a resume included) one page origin may
    /// have at once, across every relay sharing the backend; the next new
    /// session from that origin is refused (`RateLimited`). A visitor
    /// continuing its session is never refused by it. Zero: no limit.
    pub max_sessions_per_origin: usize,
    /// Messages one visitor connection may send per second (with a burst of
    /// one second's worth); a connection past it is closed with
    /// `RateLimited` and its session ends. A page sends a few dozen a
    /// second at most (a mutation batch per animation frame, pointer and
    /// scroll updates), so this only stops a runaway or hostile client.
    pub visitor_messages_per_second: u32,
}

impl Limits {
    pub fn replay_bounds(&self) -> crate::replay::Bounds {
        crate::replay::Bounds {
            frames: self.replay_frames,
            bytes: self.replay_bytes,
        }
    }
}

/// The longest `idle_timeout_secs` (30 days).
const MAX_IDLE_SECS: u64 = 30 * 24 * 3600;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 32 * 1024 * 1024,
            max_agents_per_session: 8,
            agent_queue_frames: 1024,
            code_ttl: Duration::from_secs(20 * 60),
            code_guesses_per_minute: 5,
            agent_messages_per_second: 60,
            resume_grace: Duration::from_secs(30),
            resume_failures_per_minute: 10,
            idle_timeout: Duration::from_secs(30 * 60),
            replay_frames: crate::replay::Bounds::default().frames,
            replay_bytes: crate::replay::Bounds::default().bytes,
            max_sessions_per_origin: 1000,
            visitor_messages_per_second: 300,
        }
    }
}

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
        let limits = Limits {
            max_frame_bytes: overrides
                .max_frame_bytes
                .or(self.max_frame_bytes)
                .unwrap_or(defaults.max_frame_bytes),
            max_agents_per_session: overrides
                .max_agents_per_session
                .or(self.max_agents_per_session)
                .unwrap_or(defaults.max_agents_per_session),
            agent_queue_frames: overrides
                .agent_queue_frames
                .or(self.agent_queue_frames)
                .unwrap_or(defaults.agent_queue_frames),
            code_ttl: overrides
                .code_ttl_secs
                .or(self.code_ttl_secs)
                .map_or(defaults.code_ttl, Duration::from_secs),
            code_guesses_per_minute: overrides
                .code_guesses_per_minute
                .or(self.code_guesses_per_minute)
                .unwrap_or(defaults.code_guesses_per_minute),
            agent_messages_per_second: overrides
                .agent_messages_per_second
                .or(self.agent_messages_per_second)
                .unwrap_or(defaults.agent_messages_per_second),
            resume_grace: overrides
                .resume_grace_secs
                .or(self.resume_grace_secs)
                .map_or(defaults.resume_grace, Duration::from_secs),
            resume_failures_per_minute: overrides
                .resume_failures_per_minute
                .or(self.resume_failures_per_minute)
                .unwrap_or(defaults.resume_failures_per_minute),
            idle_timeout: overrides
                .idle_timeout_secs
                .or(self.idle_timeout_secs)
                .map_or(defaults.idle_timeout, Duration::from_secs),
            replay_frames: overrides
                .replay_frames
                .or(self.replay_frames)
                .unwrap_or(defaults.replay_frames),
            replay_bytes: overrides
                .replay_bytes
                .or(self.replay_bytes)
                .unwrap_or(defaults.replay_bytes),
            max_sessions_per_origin: overrides
                .max_sessions_per_origin
                .or(self.max_sessions_per_origin)
                .unwrap_or(defaults.max_sessions_per_origin),
            visitor_messages_per_second: overrides
                .visitor_messages_per_second
                .or(self.visitor_messages_per_second)
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

/// Which pages may open a visitor session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPolicy {
    /// Development default: any page may.
    Any,
    /// Only pages whose `Origin` is one of these (compared without a
    /// trailing slash).
    Only(Vec<String>),
}

impl OriginPolicy {
    pub fn from_list(origins: Vec<String>) -> Self {
        if origins.is_empty() {
            OriginPolicy::Any
        } else {
            OriginPolicy::Only(
                origins
                    .into_iter()
                    .map(|o| o.trim_end_matches('/').to_owned())
                    .collect(),
            )
        }
    }

    /// `origin` is the request's `Origin` header, if any. Browsers always
    /// send one on WebSocket upgrades, so its absence is refused when a list
    /// is configured.
    pub fn allows(&self, origin: Option<&str>) -> bool {
        match self {
            OriginPolicy::Any => true,
            OriginPolicy::Only(list) => {
                origin.is_some_and(|o| list.iter().any(|a| a == o.trim_end_matches('/')))
            }
        }
    }
}

/// Where sessions and the message bus live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// In this process: one relay serves a session alone.
    Memory,
    /// In one Redis shared by every relay (`--redis`): a visitor on one relay
    /// and an agent on another share a session.
    Redis(RedisUrl),
}

impl Backend {
    /// From `--redis`: no flag means the in-process backend. The URL is only
    /// checked for form here; whether Redis answers is checked at start-up.
    pub fn from_redis_flag(redis: Option<&str>) -> Result<Self, RelayError> {
        match redis {
            None => Ok(Backend::Memory),
            Some(url) => RedisUrl::parse(url).map(Backend::Redis),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Memory => f.write_str("in this process"),
            Backend::Redis(url) => write!(f, "Redis at {url}"),
        }
    }
}

/// A `redis://` URL. Shown (`Display`, `Debug`) without its password, so it
/// can go into logs and error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    pub fn parse(url: &str) -> Result<Self, RelayError> {
        let url = RedisUrl(url.trim().to_owned());
        if !url.0.starts_with("redis://") && !url.0.starts_with("redis+unix://") {
            return Err(RelayError::Config(format!(
                "--redis {url}: expected a URL like redis://127.0.0.1:6379"
            )));
        }
        redis::IntoConnectionInfo::into_connection_info(url.0.as_str())
            .map_err(|e| RelayError::Config(format!("--redis {url}: {e}")))?;
        Ok(url)
    }

    /// The URL with its password, for connecting only.
    pub(crate) fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A password sits in the user info (redis://:pw@host) or, for unix
        // sockets, in the query (?pass=pw); neither is shown.
        let (url, query) = match self.0.split_once('?') {
            Some((url, _)) => (url, "?***"),
            None => (self.0.as_str(), ""),
        };
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        let authority_end = rest.find('/').unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => write!(f, "{scheme}://***@{}{query}", &rest[at + 1..]),
            None => write!(f, "{url}{query}"),
        }
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

/// Everything [`crate::run`] needs besides the listener and the shutdown signal.
#[derive(Debug, Clone)]
pub struct Config {
    /// Holds `sdk/` and `agent/` (usually `target/dist`).
    pub static_dir: PathBuf,
    pub limits: Limits,
    pub auth: AgentAuth,
    pub origins: OriginPolicy,
    pub backend: Backend,
    /// An idle socket is pinged this often; a peer silent for three of these
    /// (not even a pong) is taken for dead.
    pub ping_interval: Duration,
    /// A connection that has not said hello by then is closed.
    pub hello_timeout: Duration,
    /// The resource cache and how resources are served.
    pub resources: ResourceSettings,
    /// Masking rules the visitor's script applies, by page URL.
    pub masking: crate::masking::Masking,
    /// How the relay leaves when it shares sessions with others.
    pub drain: crate::drain::DrainSettings,
    /// The bucket of new sessions (resumes bypass it).
    pub admission: crate::admission::AdmissionSettings,
    /// Tunables of the Redis backend (with `--redis`).
    pub redis: crate::redis_backend::Settings,
}

impl Config {
    /// Development defaults: no agent can authenticate, any origin.
    pub fn new(static_dir: impl Into<PathBuf>) -> Self {
        Config {
            static_dir: static_dir.into(),
            limits: Limits::default(),
            auth: AgentAuth::none(),
            origins: OriginPolicy::Any,
            backend: Backend::Memory,
            ping_interval: Duration::from_secs(20),
            hello_timeout: Duration::from_secs(10),
            resources: ResourceSettings::default(),
            masking: crate::masking::Masking::default(),
            drain: crate::drain::DrainSettings::default(),
            admission: crate::admission::AdmissionSettings::default(),
            redis: crate::redis_backend::Settings::default(),
        }
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn drain_admission_and_redis_tables_are_read_and_checked_by_name() {
        let file = LimitsFile::parse(
            "[drain]\ngrace_secs = 12\n[admission]\nnew_sessions_per_second = 7\nnew_sessions_burst = 9\n[redis]\nsession_ttl_secs = 5\n",
        )
        .expect("valid file");
        let (drain, admission, redis) = file.scale_settings().expect("valid tables");
        assert_eq!(drain.grace, Duration::from_secs(12));
        assert_eq!((admission.per_second, admission.burst), (7, 9));
        assert_eq!(redis.session_ttl, Duration::from_secs(5));
        let defaults = LimitsFile::default().scale_settings().expect("defaults");
        assert_eq!(defaults.0.grace, Duration::from_secs(30));
        for (text, named) in [
            ("[redis]\nsession_ttl_secs = 1\n", "session_ttl_secs"),
            (
                "[admission]\nnew_sessions_burst = 0\n",
                "new_sessions_burst",
            ),
            ("[drain]\ngrace_secs = 99999\n", "grace_secs"),
        ] {
            let err = LimitsFile::parse(text)
                .and_then(|f| f.scale_settings())
                .expect_err(text);
            assert!(err.to_string().contains(named), "{err}");
        }
        assert!(
            LimitsFile::parse("[drain]\ngrace = 1\n").is_err(),
            "unknown key"
        );
    }

    #[test]
    fn file_values_apply_and_flags_override_them() {
        let file = LimitsFile::parse("max_frame_bytes = 4096\nagent_queue_frames = 16\n")
            .expect("valid file");
        let flags = LimitsFile {
            agent_queue_frames: Some(4),
            ..LimitsFile::default()
        };
        let limits = file.into_limits(&flags).expect("valid limits");
        assert_eq!(limits.max_frame_bytes, 4096);
        assert_eq!(limits.agent_queue_frames, 4);
        assert_eq!(limits.max_agents_per_session, 8);
        assert_eq!(limits.code_ttl, Duration::from_secs(1200));
        assert_eq!(limits.code_guesses_per_minute, 5);
    }

    #[test]
    fn access_keys_are_read_and_checked() {
        let file = LimitsFile::parse(
            "code_ttl_secs = 90\ncode_guesses_per_minute = 3\nagent_secret = \"0123456789abcdef0123456789abcdef\"\n",
        )
        .expect("valid file");
        assert!(file.agent_secret().expect("long enough").is_some());
        assert!(!format!("{file:?}").contains("0123456789abcdef"));
        let limits = file.into_limits(&LimitsFile::default()).expect("valid");
        assert_eq!(limits.code_ttl, Duration::from_secs(90));
        assert_eq!(limits.code_guesses_per_minute, 3);
        let short = LimitsFile::parse("agent_secret = \"short\"").expect("parses");
        let err = short.agent_secret().expect_err("too short");
        assert!(err.to_string().contains("agent_secret"), "{err}");
        let zero = LimitsFile::parse("code_ttl_secs = 0").expect("parses");
        assert!(zero.into_limits(&LimitsFile::default()).is_err());
    }

    #[test]
    fn the_agent_message_budget_is_read_and_checked() {
        let defaults = LimitsFile::default();
        let limits = defaults.into_limits(&LimitsFile::default()).expect("ok");
        assert_eq!(limits.agent_messages_per_second, 60);
        let file = LimitsFile::parse("agent_messages_per_second = 20").expect("parses");
        let limits = file.into_limits(&LimitsFile::default()).expect("ok");
        assert_eq!(limits.agent_messages_per_second, 20);
        let zero = LimitsFile::parse("agent_messages_per_second = 0").expect("parses");
        let err = zero
            .into_limits(&LimitsFile::default())
            .expect_err("zero refused");
        assert!(
            err.to_string().contains("agent_messages_per_second"),
            "{err}"
        );
    }

    #[test]
    fn the_idle_timeout_defaults_to_half_an_hour_and_zero_means_never() {
        let limits = LimitsFile::default()
            .into_limits(&LimitsFile::default())
            .expect("ok");
        assert_eq!(limits.idle_timeout, Duration::from_secs(1800));
        let file = LimitsFile::parse("idle_timeout_secs = 0").expect("parses");
        let limits = file.into_limits(&LimitsFile::default()).expect("ok");
        assert_eq!(limits.idle_timeout, Duration::ZERO);
        let huge = LimitsFile::parse("idle_timeout_secs = 18446744073709551615").expect("parses");
        let err = huge
            .into_limits(&LimitsFile::default())
            .expect_err("too long");
        assert!(err.to_string().contains("idle_timeout_secs"), "{err}");
    }

    #[test]
    fn the_resume_window_is_read_and_zero_turns_it_off() {
        let limits = LimitsFile::default()
            .into_limits(&LimitsFile::default())
            .expect("ok");
        assert_eq!(limits.resume_grace, Duration::from_secs(30));
        assert_eq!(limits.resume_failures_per_minute, 10);
        let file = LimitsFile::parse(
            "resume_grace_secs = 0
resume_failures_per_minute = 3",
        )
        .expect("parses");
        let limits = file.into_limits(&LimitsFile::default()).expect("ok");
        assert_eq!(limits.resume_grace, Duration::ZERO);
        assert_eq!(limits.resume_failures_per_minute, 3);
        let huge = LimitsFile::parse("resume_grace_secs = 100000").expect("parses");
        let err = huge
            .into_limits(&LimitsFile::default())
            .expect_err("too long");
        assert!(err.to_string().contains("resume_grace_secs"), "{err}");
    }

    #[test]
    fn the_origin_and_visitor_rate_limits_are_read_and_checked() {
        let limits = LimitsFile::default()
            .into_limits(&LimitsFile::default())
            .expect("ok");
        assert_eq!(limits.max_sessions_per_origin, 1000);
        assert_eq!(limits.visitor_messages_per_second, 300);
        let file =
            LimitsFile::parse("max_sessions_per_origin = 0\nvisitor_messages_per_second = 50")
                .expect("parses");
        let limits = file.into_limits(&LimitsFile::default()).expect("ok");
        assert_eq!(limits.max_sessions_per_origin, 0, "0 turns the limit off");
        assert_eq!(limits.visitor_messages_per_second, 50);
        let low = LimitsFile::parse("visitor_messages_per_second = 2").expect("parses");
        let err = low
            .into_limits(&LimitsFile::default())
            .expect_err("too low");
        assert!(
            err.to_string().contains("visitor_messages_per_second"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_are_an_error_that_names_the_key() {
        let err = LimitsFile::parse("max_agents = 3\n").expect_err("unknown key");
        assert!(err.to_string().contains("max_agents"), "{err}");
    }

    #[test]
    fn resource_tables_are_read_with_their_aliases() {
        let file = LimitsFile::parse(
            "max_frame_bytes = 4096\n[cache]\nttl = \"2h\"\nlocal_max_bytes = 1000\n\
             [resources]\nallowedExternalDomains = [\"cdn.example.com\", \"*.example.net\"]\n\
             strict = true\nmax_resource_bytes = 10\nsession_budget_bytes = 20\n",
        )
        .expect("valid file");
        let s = file.resource_settings().expect("valid");
        assert_eq!(s.cache_ttl, Duration::from_secs(7200));
        assert_eq!(s.local_max_bytes, 1000);
        assert!(s.strict);
        assert!(s.fetch_allowed("cdn.example.com") && s.fetch_allowed("a.example.net"));
        assert!(!s.fetch_allowed("example.org"));
        assert_eq!((s.max_resource_bytes, s.session_budget_bytes), (10, 20));
        let defaults = LimitsFile::parse("").expect("empty").resource_settings();
        assert_eq!(defaults.expect("ok").cache_ttl, Duration::from_secs(3600));
        let err = LimitsFile::parse("[cache]\nttl_secs = 3\n").expect_err("unknown key");
        assert!(err.to_string().contains("ttl_secs"), "{err}");
        let seconds = LimitsFile::parse("[cache]\nttl = 90\n").expect("parses");
        let s = seconds.resource_settings().expect("ok");
        assert_eq!(s.cache_ttl, Duration::from_secs(90));
    }

    #[test]
    fn zero_queue_is_refused() {
        let file = LimitsFile::parse("agent_queue_frames = 0").expect("parses");
        let err = file
            .into_limits(&LimitsFile::default())
            .expect_err("zero queue");
        assert!(err.to_string().contains("agent_queue_frames"), "{err}");
    }

    #[test]
    fn origin_list_is_exact_but_ignores_a_trailing_slash() {
        let policy = OriginPolicy::from_list(vec!["http://127.0.0.1:8081/".into()]);
        assert!(policy.allows(Some("http://127.0.0.1:8081")));
        assert!(!policy.allows(Some("http://127.0.0.1:8082")));
        assert!(!policy.allows(Some("http://127.0.0.1:8081.evil.example")));
        assert!(!policy.allows(None));
        assert!(OriginPolicy::from_list(vec![]).allows(None));
    }

    #[test]
    fn redis_urls_are_checked_for_form() {
        assert_eq!(
            Backend::from_redis_flag(None).expect("memory"),
            Backend::Memory
        );
        let ok = Backend::from_redis_flag(Some("redis://127.0.0.1:6379")).expect("valid");
        assert_eq!(ok.to_string(), "Redis at redis://127.0.0.1:6379");
        let err = Backend::from_redis_flag(Some("127.0.0.1:6379")).expect_err("no scheme");
        assert!(err.to_string().contains("redis://"), "{err}");
        let err = Backend::from_redis_flag(Some("redis://:pw@[::1")).expect_err("bad host");
        assert!(!err.to_string().contains("pw"), "{err}");
    }

    #[test]
    fn redis_passwords_stay_out_of_logs() {
        let url = RedisUrl::parse("redis://user:s3cret@db.internal:6380/2").expect("valid");
        assert_eq!(url.to_string(), "redis://***@db.internal:6380/2");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(url.secret(), "redis://user:s3cret@db.internal:6380/2");
        let plain = RedisUrl::parse("redis://127.0.0.1/0").expect("valid");
        assert_eq!(plain.to_string(), "redis://127.0.0.1/0");
        let unix = RedisUrl::parse("redis+unix:///run/redis.sock?pass=s3cret").expect("valid");
        assert_eq!(unix.to_string(), "redis+unix:///run/redis.sock?***");
    }
}
