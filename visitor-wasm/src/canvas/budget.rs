//! How often canvases may be captured and how many bytes they may send: a
//! frame-rate ceiling and a per-second byte budget for the whole session,
//! in plain Rust (times are milliseconds from any fixed origin).
//!
//! Owns: the limits, their defaults, and the token bucket. Does not own:
//! timers or measuring (`canvas/mod.rs`).
//!
//! Why these defaults: the visitor's upstream may be as thin as 750 kbit/s
//! (~94 KB/s). Canvases get about half of it, 48 KB/s, so the page's DOM
//! changes, input and pointer still go through at once; ten captures a
//! second is smooth enough to follow a chart or a drawing, and beyond
//! that an animation is sampled rather than streamed.

/// Captures per second, at most.
pub const DEFAULT_FPS: f64 = 10.0;
/// Encoded canvas bytes per second, on average.
pub const DEFAULT_BYTES_PER_SECOND: u32 = 48_000;

/// The canvas limits of a session (`start({ canvas: { fps, bytesPerSecond } })`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub fps: f64,
    pub bytes_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fps: DEFAULT_FPS,
            bytes_per_second: DEFAULT_BYTES_PER_SECOND,
        }
    }
}

impl Limits {
    /// The shortest time between two captures.
    pub fn interval_ms(&self) -> f64 {
        1000.0 / self.fps.clamp(0.1, 60.0)
    }
}

/// A token bucket of bytes plus a minimum interval between captures.
///
/// Encoded sizes are only known after the browser's encoder ran, so bytes
/// are paid after the fact: a frame may overdraw the bucket, and then no
/// capture starts until it has refilled. Over any long window the bytes
/// sent stay within the budget plus one bucket (half a second's worth).
#[derive(Debug, Clone)]
pub struct Budget {
    limits: Limits,
    tokens: f64,
    at_ms: Option<f64>,
    last_capture_ms: Option<f64>,
}

impl Budget {
    pub fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            tokens: Self::capacity_of(&limits),
            at_ms: None,
            last_capture_ms: None,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Half a second of budget: enough to send a chart's first frame at
    /// once, small enough that a burst cannot fill the upstream's buffers.
    fn capacity_of(limits: &Limits) -> f64 {
        f64::from(limits.bytes_per_second) / 2.0
    }

    fn refill(&mut self, now_ms: f64) {
        if let Some(at) = self.at_ms {
            let elapsed = (now_ms - at).max(0.0) / 1000.0;
            let rate = f64::from(self.limits.bytes_per_second);
            self.tokens = (self.tokens + elapsed * rate).min(Self::capacity_of(&self.limits));
        }
        self.at_ms = Some(now_ms);
    }

    /// Whether a capture may start now: the interval since the last one has
    /// passed and the bucket is not overdrawn.
    pub fn may_capture(&mut self, now_ms: f64) -> bool {
        self.refill(now_ms);
        let due = self
            .last_capture_ms
            // A little slack: timers fire a millisecond or two early or late.
            .is_none_or(|t| now_ms - t >= self.limits.interval_ms() - 2.0);
        due && self.tokens > 0.0
    }

    /// A capture started now.
    pub fn captured(&mut self, now_ms: f64) {
        self.last_capture_ms = Some(now_ms);
    }

    /// `bytes` went out.
    pub fn spent(&mut self, bytes: usize, now_ms: f64) {
        self.refill(now_ms);
        self.tokens -= bytes as f64;
    }

    /// How long until a capture may start, for the scheduler's next timer.
    pub fn wait_ms(&mut self, now_ms: f64) -> f64 {
        self.refill(now_ms);
        let interval = self
            .last_capture_ms
            .map_or(0.0, |t| (t + self.limits.interval_ms() - now_ms).max(0.0));
        let refill = if self.tokens > 0.0 {
            0.0
        } else {
            (-self.tokens + 1.0) / f64::from(self.limits.bytes_per_second.max(1)) * 1000.0
        };
        interval.max(refill)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail by panicking
mod tests {
    use super::*;

    #[test]
    fn captures_are_spaced_by_the_frame_rate() {
        let mut b = Budget::new(Limits {
            fps: 10.0,
            bytes_per_second: 1_000_000,
        });
        assert!(b.may_capture(0.0));
        b.captured(0.0);
        assert!(!b.may_capture(50.0));
        assert!(b.may_capture(100.0));
    }

    #[test]
    fn an_overdrawn_bucket_waits_until_it_refilled() {
        let mut b = Budget::new(Limits {
            fps: 60.0,
            bytes_per_second: 10_000,
        });
        assert!(b.may_capture(0.0));
        b.captured(0.0);
        b.spent(15_000, 0.0); // 5 000 in the bucket, so 10 000 overdrawn
        let wait = b.clone().wait_ms(0.0);
        assert!((1_000.0..1_001.0).contains(&wait), "{wait}");
        assert!(!b.may_capture(500.0));
        assert!(b.may_capture(1_050.0));
    }

    #[test]
    fn over_a_long_run_bytes_stay_within_the_budget_plus_one_bucket() {
        // A page whose every capture encodes to 9 KB, tried at 60 fps.
        let limits = Limits {
            fps: 60.0,
            bytes_per_second: 48_000,
        };
        let mut b = Budget::new(limits);
        let mut sent = 0usize;
        let mut frames = 0;
        let mut t = 0.0;
        while t < 10_000.0 {
            if b.may_capture(t) {
                b.captured(t);
                b.spent(9_000, t);
                sent += 9_000;
                frames += 1;
            }
            t += 1000.0 / 60.0;
        }
        assert!(sent <= 480_000 + 24_000 + 9_000, "{sent} bytes");
        // ...and it is not starved either: most of the budget is used.
        assert!(sent >= 400_000, "{sent} bytes in {frames} frames");
    }

    #[test]
    fn silly_frame_rates_are_clamped() {
        let l = Limits {
            fps: 0.0,
            bytes_per_second: 1,
        };
        assert_eq!(l.interval_ms(), 10_000.0);
        let l = Limits {
            fps: 1e9,
            bytes_per_second: 1,
        };
        assert!((l.interval_ms() - 1000.0 / 60.0).abs() < 1e-9);
    }
}
