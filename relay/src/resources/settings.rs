//! The resource cache's settings: the `[cache]` and `[resources]` tables of
//! `cobrowse.toml`, parsed and checked, and the values the relay runs with.
//!
//! Owns: [`ResourceSettings`], the two TOML tables, durations written as
//! `"90s"`/`"30m"`/`"1h"`/`"1d"` or plain seconds, and host patterns
//! (`cdn.example.com`, `*.example.net`). Does not own: the rest of the config
//! file (`config/`) or acting on these values.

use std::time::Duration;

use serde::Deserialize;

use crate::RelayError;

/// The local level never keeps an entry longer than this, whatever
/// `cache.ttl` says: it is memory of one process, and the shared level (if
/// any) holds the longer copy.
pub const LOCAL_TTL_CAP: Duration = Duration::from_secs(30 * 60);

/// How the relay stores and serves static resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSettings {
    /// How long a resource lives in the shared (Redis) level; the local
    /// level keeps it for `min(30 min, ttl)`.
    pub cache_ttl: Duration,
    /// Bytes the local level may hold before it evicts the least recently
    /// used resources.
    pub local_max_bytes: usize,
    /// Hosts the relay itself may fetch from when the visitor's browser could
    /// not supply a resource.
    pub allowed_external_domains: Vec<HostPattern>,
    /// The agent's browser talks only to the relay: an unavailable resource
    /// is 404, never a redirect to its original URL.
    pub strict: bool,
    /// Largest single resource accepted (upload or server-side fetch).
    pub max_resource_bytes: u64,
    /// Bytes one session may upload in all.
    pub session_budget_bytes: u64,
    /// How long a request for a resource waits for the visitor to offer or
    /// upload it before falling back. Not in the file: a test knob.
    pub wait: Duration,
    /// Time limit of one server-side fetch. Not in the file.
    pub fetch_timeout: Duration,
}

impl Default for ResourceSettings {
    fn default() -> Self {
        ResourceSettings {
            cache_ttl: Duration::from_secs(60 * 60),
            local_max_bytes: 256 * 1024 * 1024,
            allowed_external_domains: Vec::new(),
            strict: false,
            max_resource_bytes: 10 * 1024 * 1024,
            session_budget_bytes: 100 * 1024 * 1024,
            wait: Duration::from_secs(10),
            fetch_timeout: Duration::from_secs(10),
        }
    }
}

impl ResourceSettings {
    /// How long an entry lives in the local level.
    pub fn local_ttl(&self) -> Duration {
        self.cache_ttl.min(LOCAL_TTL_CAP)
    }

    /// Whether the relay may fetch from `host` itself.
    pub fn fetch_allowed(&self, host: &str) -> bool {
        self.allowed_external_domains
            .iter()
            .any(|pattern| pattern.matches(host))
    }
}

/// `[cache]` in `cobrowse.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheTable {
    pub ttl: Option<DurationValue>,
    pub local_max_bytes: Option<usize>,
}

/// `[resources]` in `cobrowse.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesTable {
    #[serde(alias = "allowedExternalDomains")]
    pub allowed_external_domains: Option<Vec<String>>,
    pub strict: Option<bool>,
    pub max_resource_bytes: Option<u64>,
    pub session_budget_bytes: Option<u64>,
}

/// A duration as written in the file: seconds, or a number with a unit.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DurationValue {
    Seconds(u64),
    Text(String),
}

impl DurationValue {
    pub fn to_duration(&self, key: &str) -> Result<Duration, RelayError> {
        let bad = || {
            RelayError::Config(format!(
                "{key}: expected seconds or a number with s, m, h or d (like \"90s\", \"30m\", \"1h\", \"1d\")"
            ))
        };
        match self {
            DurationValue::Seconds(s) => Ok(Duration::from_secs(*s)),
            DurationValue::Text(text) => {
                let text = text.trim();
                let split = text
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(text.len());
                let (number, unit) = text.split_at(split);
                let number: u64 = number.parse().map_err(|_| bad())?;
                let scale = match unit.trim() {
                    "" | "s" => 1,
                    "m" => 60,
                    "h" => 60 * 60,
                    "d" => 24 * 60 * 60,
                    _ => return Err(bad()),
                };
                Ok(Duration::from_secs(number.saturating_mul(scale)))
            }
        }
    }
}

/// A host the relay may fetch from: an exact name, or `*.` and a domain
/// (any name under it, not the domain itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    Under(String),
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<Self, RelayError> {
        let text = text.trim().trim_end_matches('.').to_ascii_lowercase();
        let bad = |why: &str| {
            RelayError::Config(format!(
                "allowed_external_domains: {text:?} {why}; write a host like \"cdn.example.com\" or \"*.example.net\""
            ))
        };
        let (under, name) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest.to_owned()),
            None => (false, text.clone()),
        };
        if name.is_empty() {
            return Err(bad("is empty"));
        }
        if name.contains(['/', ':', '*', '@', ' ']) && !name.starts_with('[') {
            return Err(bad("is not a host name"));
        }
        Ok(if under {
            HostPattern::Under(name)
        } else {
            HostPattern::Exact(name)
        })
    }

    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self {
            HostPattern::Exact(name) => host == *name,
            HostPattern::Under(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|head| head.ends_with('.') && head.len() > 1),
        }
    }
}

/// Builds the settings from the file's two tables (either may be absent).
pub fn from_tables(
    cache: Option<&CacheTable>,
    resources: Option<&ResourcesTable>,
) -> Result<ResourceSettings, RelayError> {
    let mut settings = ResourceSettings::default();
    if let Some(cache) = cache {
        if let Some(ttl) = &cache.ttl {
            settings.cache_ttl = ttl.to_duration("cache.ttl")?;
        }
        if let Some(max) = cache.local_max_bytes {
            settings.local_max_bytes = max;
        }
    }
    if let Some(res) = resources {
        if let Some(domains) = &res.allowed_external_domains {
            settings.allowed_external_domains = domains
                .iter()
                .map(|d| HostPattern::parse(d))
                .collect::<Result<_, _>>()?;
        }
        if let Some(strict) = res.strict {
            settings.strict = strict;
        }
        if let Some(max) = res.max_resource_bytes {
            settings.max_resource_bytes = max;
        }
        if let Some(budget) = res.session_budget_bytes {
            settings.session_budget_bytes = budget;
        }
    }
    if settings.cache_ttl.is_zero() {
        return Err(RelayError::Config(
            "cache.ttl must be at least 1 second".into(),
        ));
    }
    if settings.max_resource_bytes == 0 || settings.session_budget_bytes == 0 {
        return Err(RelayError::Config(
            "resources.max_resource_bytes and resources.session_budget_bytes must be at least 1"
                .into(),
        ));
    }
    Ok(settings)
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_or_units() {
        let d = |v: DurationValue| v.to_duration("cache.ttl");
        assert_eq!(d(DurationValue::Seconds(90)).expect("ok").as_secs(), 90);
        for (text, secs) in [
            ("90s", 90),
            ("30m", 1800),
            ("1h", 3600),
            ("1d", 86400),
            ("7", 7),
        ] {
            assert_eq!(
                d(DurationValue::Text(text.into())).expect(text).as_secs(),
                secs
            );
        }
        for bad in ["", "h", "1w", "-1s", "1.5h"] {
            let err = d(DurationValue::Text(bad.into())).expect_err(bad);
            assert!(err.to_string().contains("cache.ttl"), "{err}");
        }
    }

    #[test]
    fn host_patterns_match_names_and_subdomains_only() {
        let exact = HostPattern::parse("CDN.example.com").expect("ok");
        assert!(exact.matches("cdn.example.com"));
        assert!(exact.matches("cdn.example.com."));
        assert!(!exact.matches("x.cdn.example.com"));
        let under = HostPattern::parse("*.example.net").expect("ok");
        assert!(under.matches("a.example.net"));
        assert!(under.matches("a.b.example.net"));
        assert!(!under.matches("example.net"));
        assert!(!under.matches("evilexample.net"));
        assert!(HostPattern::parse("https://x.com/").is_err());
        assert!(HostPattern::parse("*.").is_err());
    }

    #[test]
    fn local_level_lives_at_most_thirty_minutes() {
        let mut s = ResourceSettings::default();
        assert_eq!(s.local_ttl(), LOCAL_TTL_CAP);
        s.cache_ttl = Duration::from_secs(2);
        assert_eq!(s.local_ttl(), Duration::from_secs(2));
    }
}
