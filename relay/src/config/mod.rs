//! What the relay is told at start-up: limits (from `--config` TOML, then
//! command-line overrides), the origin policy, agent authentication, where the
//! static files live and which backend holds sessions.
//!
//! Owns: the [`Config`] the relay runs with, the origin policy and the
//! backend choice. The limits and their defaults are `limits.rs`; the
//! `--config` file's format and its validation are `file.rs`. Does not own:
//! flag parsing (the binary does that with clap) or acting on the settings.

mod file;
mod limits;
#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::AgentAuth;
use crate::resources::settings::ResourceSettings;
use crate::RelayError;

pub use file::LimitsFile;
pub use limits::Limits;

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
