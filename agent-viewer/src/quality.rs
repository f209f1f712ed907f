//! The connection-quality indicator: how long a round trip to the relay
//! takes from the agent's browser, as the median of the last few. Owns:
//! when to measure next and how a median reads (good, fair, poor). Does not
//! own: measuring (the browser layer times a `GET /healthz`).

use std::collections::VecDeque;

/// Measured this often while live (ms).
pub const EVERY_MS: f64 = 5_000.0;
/// A round trip that has not answered in this long counts as this long.
pub const GAVE_UP_MS: f64 = 10_000.0;
const KEPT: usize = 5;

/// How a round trip reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Good,
    Fair,
    Poor,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Good => "good",
            Level::Fair => "fair",
            Level::Poor => "poor",
        }
    }
}

#[derive(Debug, Default)]
pub struct Quality {
    samples: VecDeque<f64>,
    /// When the measurement in flight started, if one is.
    pending_since: Option<f64>,
    last_start: Option<f64>,
}

impl Quality {
    /// Whether to start a measurement at `now` (ms); if so it is marked as
    /// started.
    pub fn start_if_due(&mut self, now: f64) -> bool {
        if let Some(since) = self.pending_since {
            if now - since < GAVE_UP_MS {
                return false;
            }
            // No answer: that is what the connection is like.
            self.record(GAVE_UP_MS);
        }
        let due = self.last_start.is_none_or(|last| now - last >= EVERY_MS);
        if due {
            self.pending_since = Some(now);
            self.last_start = Some(now);
        }
        due
    }

    /// A measurement's answer: the round trip in ms.
    pub fn finished(&mut self, rtt_ms: f64) {
        if self.pending_since.take().is_some() {
            self.record(rtt_ms);
        }
    }

    fn record(&mut self, rtt_ms: f64) {
        if !rtt_ms.is_finite() || rtt_ms < 0.0 {
            return;
        }
        self.pending_since = None;
        if self.samples.len() == KEPT {
            self.samples.pop_front();
        }
        self.samples.push_back(rtt_ms.min(GAVE_UP_MS));
    }

    /// The median of the last round trips, if any were measured.
    pub fn median_ms(&self) -> Option<f64> {
        let mut sorted: Vec<f64> = self.samples.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        sorted.get(sorted.len() / 2).copied()
    }

    /// What the header shows: the median and how it reads.
    pub fn reading(&self) -> Option<(String, Level)> {
        let ms = self.median_ms()?;
        let level = if ms < 150.0 {
            Level::Good
        } else if ms < 400.0 {
            Level::Fair
        } else {
            Level::Poor
        };
        Some((format!("{} ms", ms.round() as u64), level))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_every_five_seconds_one_at_a_time() {
        let mut q = Quality::default();
        assert!(q.start_if_due(0.0));
        assert!(!q.start_if_due(100.0), "one in flight");
        q.finished(40.0);
        assert!(!q.start_if_due(4_000.0), "not due yet");
        assert!(q.start_if_due(5_000.0));
        q.finished(60.0);
        assert_eq!(q.reading(), Some(("60 ms".into(), Level::Good)));
    }

    #[test]
    fn the_median_of_the_last_five_reads_good_fair_or_poor() {
        let mut q = Quality::default();
        for (i, rtt) in [30.0, 500.0, 35.0, 40.0, 600.0].into_iter().enumerate() {
            assert!(q.start_if_due(i as f64 * EVERY_MS));
            q.finished(rtt);
        }
        assert_eq!(
            q.reading(),
            Some(("40 ms".into(), Level::Good)),
            "one slow answer is not the link"
        );
        for i in 5..8 {
            assert!(q.start_if_due(i as f64 * EVERY_MS));
            q.finished(450.0);
        }
        assert_eq!(q.reading().map(|r| r.1), Some(Level::Poor));
        assert_eq!(Quality::default().reading(), None);
    }

    #[test]
    fn a_round_trip_that_never_answers_counts_as_slow() {
        let mut q = Quality::default();
        assert!(q.start_if_due(0.0));
        assert!(
            q.start_if_due(GAVE_UP_MS),
            "gave up on the first, started another"
        );
        assert_eq!(q.median_ms(), Some(GAVE_UP_MS));
        // A late answer to nothing in flight is ignored.
        q.finished(5.0);
        q.finished(5.0);
        assert_eq!(q.reading().map(|r| r.1), Some(Level::Poor));
    }
}
