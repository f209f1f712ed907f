//! Storm limits: how many NEW sessions this relay opens per second.
//!
//! Owns: the token bucket for new visitor sessions, its settings (the
//! `[admission]` table) and its quiet log. Does not own: who bypasses it
//! (`visitor/` asks only for a hello without a resume token: a resume,
//! and an agent's join or rejoin, never waits here) or the refusal's frame
//! (`error.rs`).
//!
//! When a relay goes away, every client it had reconnects at once. Ongoing
//! sessions come back with their resume token and must get through first:
//! they are what the visitor and the agent are looking at. Brand-new
//! sessions can wait a second, so they share a bucket: `burst` at once,
//! then `new_sessions_per_second`. A refused page is told when to try again
//! (`RateLimited`, with the seconds in the sentence).

use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::RelayError;

/// The `[admission]` table of the config file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmissionTable {
    pub new_sessions_per_second: Option<u32>,
    pub new_sessions_burst: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionSettings {
    /// New sessions per second, on average, on this relay.
    pub per_second: u32,
    /// New sessions at once after a quiet spell.
    pub burst: u32,
}

impl Default for AdmissionSettings {
    fn default() -> Self {
        AdmissionSettings {
            per_second: 50,
            burst: 100,
        }
    }
}

impl AdmissionSettings {
    pub fn from_table(table: Option<&AdmissionTable>) -> Result<AdmissionSettings, RelayError> {
        let defaults = AdmissionSettings::default();
        let table = table.cloned().unwrap_or_default();
        let settings = AdmissionSettings {
            per_second: table.new_sessions_per_second.unwrap_or(defaults.per_second),
            burst: table.new_sessions_burst.unwrap_or(defaults.burst),
        };
        if settings.per_second == 0 {
            return Err(RelayError::Config(
                "[admission] new_sessions_per_second must be at least 1".into(),
            ));
        }
        if settings.burst == 0 {
            return Err(RelayError::Config(
                "[admission] new_sessions_burst must be at least 1".into(),
            ));
        }
        Ok(settings)
    }
}

/// How often the log says how many new sessions were refused meanwhile:
/// one line per window, however many pages a storm brings.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The relay's bucket of new sessions.
#[derive(Debug)]
pub struct Admission {
    settings: AdmissionSettings,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    at: Instant,
    /// Refused since the last log line, and when that line was written.
    refused: u64,
    logged: Option<Instant>,
}

impl Admission {
    pub fn new(settings: AdmissionSettings) -> Admission {
        let tokens = f64::from(settings.burst);
        Admission {
            settings,
            state: Mutex::new(State {
                tokens,
                at: Instant::now(),
                refused: 0,
                logged: None,
            }),
        }
    }

    /// Takes one new session from the bucket, or refuses with how long until
    /// the next one is free (whole seconds, at least one).
    pub fn new_session(&self) -> Result<(), RelayError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let rate = f64::from(self.settings.per_second);
        let elapsed = now.saturating_duration_since(state.at).as_secs_f64();
        state.tokens = (state.tokens + elapsed * rate).min(f64::from(self.settings.burst));
        state.at = now;
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - state.tokens) / rate).ceil().max(1.0);
        // The bucket holds at most `burst` (a u32), so this fits.
        let seconds = wait as u64;
        state.refused += 1;
        let due = state
            .logged
            .is_none_or(|at| now.saturating_duration_since(at) >= LOG_EVERY);
        if due {
            tracing::warn!(
                refused = state.refused,
                per_second = self.settings.per_second,
                burst = self.settings.burst,
                "new sessions rate-limited (resumes are not); at most one such line every {}s",
                LOG_EVERY.as_secs()
            );
            state.refused = 0;
            state.logged = Some(now);
        }
        Err(RelayError::NewSessionsLimited { seconds })
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_burst_goes_at_once_then_the_rate_refills() {
        let admission = Admission::new(AdmissionSettings {
            per_second: 2,
            burst: 3,
        });
        for _ in 0..3 {
            admission.new_session().expect("within the burst");
        }
        let err = admission.new_session().expect_err("past the burst");
        assert!(matches!(err, RelayError::NewSessionsLimited { seconds: 1 }));
        assert!(
            err.frame().message.contains("1 s"),
            "{}",
            err.frame().message
        );
        tokio::time::advance(Duration::from_millis(500)).await;
        admission.new_session().expect("one refilled");
        assert!(admission.new_session().is_err());
        tokio::time::advance(Duration::from_secs(60)).await;
        for _ in 0..3 {
            admission
                .new_session()
                .expect("refilled up to the burst only");
        }
        assert!(admission.new_session().is_err());
    }

    #[test]
    fn zero_rates_are_refused_by_name() {
        let table = AdmissionTable {
            new_sessions_per_second: Some(0),
            new_sessions_burst: None,
        };
        let err = AdmissionSettings::from_table(Some(&table)).expect_err("zero");
        assert!(err.to_string().contains("new_sessions_per_second"));
    }
}
