//! Graceful drain: a relay that shares its sessions with other relays
//! (Redis backend) leaves without losing one.
//!
//! Owns: the drain's settings, the count of connected peers, the drain
//! itself (from the first stop signal to "every peer moved", the grace
//! running out, or a second signal) and what a draining relay answers over
//! HTTP. Does not own: what each connection says (`visitor/` and
//! `agent/` send `Reconnect` when [`Shutdown::draining`] resolves) or the
//! final stop (`shutdown.rs`).
//!
//! # The sequence
//!
//! 1. First SIGTERM (or Ctrl-C): `/healthz` answers 503, so a load balancer
//!    stops sending; new WebSockets are refused with a sentence and
//!    `Retry-After`; every connected peer is told `Reconnect { within_ms }`
//!    and picks a random moment in that window, so they do not all land on
//!    the other relays at once.
//! 2. A visitor resumes on another relay with its resume token (taking the
//!    session over from this relay's connection, or after it closed: the
//!    session waits in its resume grace window either way). An agent
//!    rejoins. Events keep flowing here until each peer has moved.
//! 3. When no peer is connected, or `grace_secs` passed, or a second signal
//!    came, the relay stops. Sessions still attached here are left waiting
//!    for a resume (never ended): the other relays carry them on.
//!
//! The in-process backend has no other relay to take over: it stops at once
//! and ends its sessions with `RelayShutdown`, as before. So does a grace of
//! zero.
//!
//! [`Shutdown::draining`]: crate::shutdown::Shutdown::draining

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::header::RETRY_AFTER;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::{watch, Notify};

use crate::metrics::Metrics;
use crate::RelayError;

/// The `[drain]` table of the config file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrainTable {
    pub grace_secs: Option<u64>,
}

/// How a relay on a shared backend leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainSettings {
    /// The longest a drain waits for its peers to move; zero turns draining
    /// off (the relay ends its sessions at once, as the memory backend does).
    pub grace: Duration,
}

/// The longest `grace_secs` (an hour: past that a deploy is stuck anyway).
const MAX_GRACE_SECS: u64 = 3600;

impl Default for DrainSettings {
    fn default() -> Self {
        DrainSettings {
            grace: Duration::from_secs(30),
        }
    }
}

impl DrainSettings {
    pub fn from_table(table: Option<&DrainTable>) -> Result<DrainSettings, RelayError> {
        let mut settings = DrainSettings::default();
        if let Some(secs) = table.and_then(|t| t.grace_secs) {
            if secs > MAX_GRACE_SECS {
                return Err(RelayError::Config(format!(
                    "[drain] grace_secs must be at most {MAX_GRACE_SECS} (0 = no drain)"
                )));
            }
            settings.grace = Duration::from_secs(secs);
        }
        Ok(settings)
    }

    /// The window peers spread their reconnects over: two thirds of the
    /// grace, so the last of them still has a third of it to arrive before
    /// the relay gives up waiting.
    pub fn within_ms(&self) -> u32 {
        let ms = self.grace.as_millis().saturating_mul(2) / 3;
        u32::try_from(ms).unwrap_or(u32::MAX).max(1)
    }
}

/// Peers (visitor and agent WebSockets) connected to this relay. A drain is
/// over when this reaches zero.
#[derive(Debug, Default)]
pub struct Peers {
    count: AtomicUsize,
    changed: Notify,
}

/// One connected peer; dropping it (however the connection ends) counts it
/// out.
#[must_use]
pub struct PeerGuard(Arc<Peers>);

impl Peers {
    pub fn enter(self: &Arc<Self>) -> PeerGuard {
        self.count.fetch_add(1, Ordering::SeqCst);
        PeerGuard(Arc::clone(self))
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// Resolves once no peer is connected.
    pub async fn gone(&self) {
        loop {
            // Registered before the check, so a drop in between still wakes us.
            let changed = self.changed.notified();
            if self.count() == 0 {
                return;
            }
            changed.await;
        }
    }
}

impl Drop for PeerGuard {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainEnd {
    /// Every peer moved to another relay.
    Empty,
    /// The grace ran out with peers still here.
    GraceOver,
    /// A second signal: stop now.
    Hurried,
}

/// Runs the drain: flips `begin` (connections tell their peers to move,
/// `/healthz` and upgrades answer 503), then waits for the peers to go, the
/// grace to pass, or `hurry`.
pub async fn drain(
    begin: &watch::Sender<bool>,
    peers: &Peers,
    metrics: &Metrics,
    settings: &DrainSettings,
    hurry: impl Future<Output = ()>,
) -> DrainEnd {
    let at_start = peers.count();
    tracing::info!(
        peers = at_start,
        grace_secs = settings.grace.as_secs(),
        within_ms = settings.within_ms(),
        "draining: refusing new connections and telling every peer to reconnect elsewhere \
         (a second signal stops at once)"
    );
    metrics.scale.set_draining(true);
    begin.send_replace(true);
    let started = tokio::time::Instant::now();
    let end = tokio::select! {
        () = peers.gone() => DrainEnd::Empty,
        () = tokio::time::sleep(settings.grace) => DrainEnd::GraceOver,
        () = hurry => DrainEnd::Hurried,
    };
    let left = peers.count();
    let took_ms = started.elapsed().as_millis();
    match end {
        DrainEnd::Empty => {
            tracing::info!(peers = at_start, took_ms, "drained: every peer moved");
        }
        DrainEnd::GraceOver => tracing::warn!(
            left,
            took_ms,
            "drain grace over with peers still connected; their sessions wait for a resume elsewhere"
        ),
        DrainEnd::Hurried => tracing::warn!(
            left,
            took_ms,
            "second stop signal: stopping now; sessions still here wait for a resume elsewhere"
        ),
    }
    end
}

/// What a draining (or stopping) relay answers a new WebSocket or a health
/// check: 503 with a sentence, and when to try again.
pub fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(RETRY_AFTER, "1")],
        "This relay is shutting down and accepts no new connections; \
         connect again and you will reach another relay.",
    )
        .into_response()
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_drain_ends_when_the_last_peer_leaves() {
        let peers = Arc::new(Peers::default());
        let metrics = Metrics::default();
        let (begin, mut told) = watch::channel(false);
        let a = peers.enter();
        let b = peers.enter();
        let leaving = tokio::spawn(async move {
            told.wait_for(|d| *d).await.expect("told");
            drop(a);
            tokio::time::sleep(Duration::from_secs(2)).await;
            drop(b);
        });
        let settings = DrainSettings::default();
        let end = drain(&begin, &peers, &metrics, &settings, std::future::pending()).await;
        assert_eq!(end, DrainEnd::Empty);
        assert_eq!(peers.count(), 0);
        assert!(metrics.render().contains("\nrelay_draining 1\n"));
        leaving.await.expect("task");
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_gives_up_after_its_grace_or_a_second_signal() {
        let peers = Arc::new(Peers::default());
        let _stuck = peers.enter();
        let metrics = Metrics::default();
        let (begin, _told) = watch::channel(false);
        let settings = DrainSettings {
            grace: Duration::from_secs(3),
        };
        let started = tokio::time::Instant::now();
        let end = drain(&begin, &peers, &metrics, &settings, std::future::pending()).await;
        assert_eq!(end, DrainEnd::GraceOver);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        let end = drain(&begin, &peers, &metrics, &settings, async {}).await;
        assert_eq!(end, DrainEnd::Hurried);
    }

    #[test]
    fn peers_spread_over_two_thirds_of_the_grace() {
        let settings = DrainSettings::from_table(Some(&DrainTable {
            grace_secs: Some(30),
        }))
        .expect("valid");
        assert_eq!(settings.within_ms(), 20_000);
        assert!(DrainSettings::from_table(Some(&DrainTable {
            grace_secs: Some(MAX_GRACE_SECS + 1)
        }))
        .is_err());
    }
}
