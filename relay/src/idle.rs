//! Idle sessions: when a session last saw a sign of life, and the wait
//! that ends it after `idle_timeout` without one.
//!
//! Owns: [`Activity`] (one per visitor connection) and [`idle`]. Does not
//! own: ending the session (`visitor/`) or where activity is noted: the
//! visitor's connection touches it for each frame it reads, and its mailbox
//! for each delivery it takes (every message an agent sends the visitor —
//! pointing, control, mode requests, resyncs, joining, leaving — arrives
//! there). That costs one atomic store per message and no store write.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

/// The last sign of life, as milliseconds since the connection began.
#[derive(Debug)]
pub(crate) struct Activity {
    origin: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
        })
    }

    pub(crate) fn touch(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        // Monotonic even if two touches race.
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    pub(crate) fn last(&self) -> Instant {
        self.origin + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// Resolves once `timeout` passed since the last activity; never if
/// `timeout` is zero. One timer at a time, re-armed only when it fires
/// early, so busy sessions cost no timer per message.
pub(crate) async fn idle(activity: &Activity, timeout: Duration) {
    if timeout.is_zero() {
        return std::future::pending().await;
    }
    loop {
        let deadline = activity.last() + timeout;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_touch_postpones_the_end_and_zero_never_ends() {
        let activity = Activity::new();
        let ended = idle(&activity, Duration::from_secs(10));
        tokio::pin!(ended);
        tokio::time::sleep(Duration::from_secs(8)).await;
        activity.touch();
        assert!(
            tokio::time::timeout(Duration::from_secs(9), &mut ended)
                .await
                .is_err(),
            "ended although touched 9 s ago"
        );
        assert!(tokio::time::timeout(Duration::from_secs(2), &mut ended)
            .await
            .is_ok());
        let never = idle(&activity, Duration::ZERO);
        assert!(tokio::time::timeout(Duration::from_secs(86_400), never)
            .await
            .is_err());
    }
}
