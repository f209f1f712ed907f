//! The metrics of running several relays: peers by role, what goes out,
//! fan-out latency, resyncs, rate limits and the drain; rendered after the
//! core counters of `metrics.rs` on `GET /metrics`.
//!
//! Owns: these counters, the latency histogram and their rendering. Does
//! not own: the session counters (`metrics.rs`, which embeds this as
//! `Metrics::scale`) or deciding what to count.
//!
//! Fan-out latency is "visitor frame received by its relay → written to an
//! agent's socket", labelled `path="local"` when it stayed in the process
//! (the memory backend) and `path="redis"` when it went through Redis pub/sub
//! (every frame with `--redis`, also to an agent on the visitor's own
//! relay). The two ends may be different processes, so the stamp is the wall
//! clock (microseconds since the epoch); relays of one deployment share
//! NTP-synchronised clocks, and a clock that runs backwards counts as zero.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::metrics::{labelled, metric, Role};

/// Upper bounds of the latency buckets, in microseconds (Prometheus `le`
/// is rendered in seconds).
const BUCKETS_US: [u64; 12] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
];

/// Why a peer was refused by a limit: the label of
/// `rate_limited_total{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// A new visitor session over the `[admission]` bucket.
    NewSession,
    /// An address over its failed resumes.
    ResumeFailures,
    /// An address or agent over its wrong join codes.
    JoinCodes,
}

impl Limited {
    pub const ALL: [Limited; 3] = [
        Limited::NewSession,
        Limited::ResumeFailures,
        Limited::JoinCodes,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Limited::NewSession => "new_session",
            Limited::ResumeFailures => "resume_failures",
            Limited::JoinCodes => "join_codes",
        }
    }
}

/// One latency histogram.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS_US.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, us: u64) {
        if let Some(i) = BUCKETS_US.iter().position(|&le| us <= le) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Cumulative buckets, as Prometheus wants them.
    fn render(&self, out: &mut String, name: &str, path: &str) {
        let mut cumulative = 0;
        for (le, bucket) in BUCKETS_US.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = *le as f64 / 1e6;
            let _ = writeln!(
                out,
                "{name}_bucket{{path=\"{path}\",le=\"{le}\"}} {cumulative}"
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{path=\"{path}\",le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{path=\"{path}\"}} {sum}");
        let _ = writeln!(out, "{name}_count{{path=\"{path}\"}} {count}");
    }
}

#[derive(Debug, Default)]
pub struct ScaleMetrics {
    peers: [AtomicI64; 2],
    frames_out: [AtomicU64; 2],
    bytes_out: [AtomicU64; 2],
    fanout_local: Histogram,
    fanout_redis: Histogram,
    resyncs: AtomicU64,
    rate_limited: [AtomicU64; Limited::ALL.len()],
    draining: AtomicI64,
    refused_draining: AtomicU64,
    reconnects_sent: [AtomicU64; 2],
}

fn index(role: Role) -> usize {
    match role {
        Role::Visitor => 0,
        Role::Agent => 1,
    }
}

/// Now, as the fan-out stamps travel (microseconds since the epoch).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

impl ScaleMetrics {
    /// A WebSocket of `role` opened (`true`) or closed.
    pub fn peer(&self, role: Role, open: bool) {
        let delta = if open { 1 } else { -1 };
        self.peers[index(role)].fetch_add(delta, Ordering::Relaxed);
    }

    pub fn frame_out(&self, role: Role, bytes: usize) {
        self.frames_out[index(role)].fetch_add(1, Ordering::Relaxed);
        self.bytes_out[index(role)].fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A visitor frame stamped `received_us` was written to an agent's
    /// socket now; `crossed` if it came through Redis pub/sub.
    pub fn fanned_out(&self, received_us: u64, crossed: bool) {
        let us = now_us().saturating_sub(received_us);
        if crossed {
            self.fanout_redis.observe(us);
        } else {
            self.fanout_local.observe(us);
        }
    }

    /// An agent asked for a fresh snapshot.
    pub fn resync(&self) {
        self.resyncs.fetch_add(1, Ordering::Relaxed);
    }

    pub fn rate_limited(&self, kind: Limited) {
        if let Some(i) = Limited::ALL.iter().position(|k| *k == kind) {
            self.rate_limited[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn set_draining(&self, draining: bool) {
        self.draining.store(i64::from(draining), Ordering::Relaxed);
    }

    /// A WebSocket or health check refused because the relay drains.
    pub fn refused_while_draining(&self) {
        self.refused_draining.fetch_add(1, Ordering::Relaxed);
    }

    /// A peer of `role` was told to reconnect elsewhere.
    pub fn reconnect_sent(&self, role: Role) {
        self.reconnects_sent[index(role)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, out: &mut String) {
        let by_role = |counters: &[AtomicU64; 2]| {
            [Role::Visitor, Role::Agent].map(|r| {
                (
                    r.label(),
                    counters[index(r)].load(Ordering::Relaxed).to_string(),
                )
            })
        };
        let _ = writeln!(
            out,
            "# HELP peers_connected WebSockets open on this relay, by role.\n# TYPE peers_connected gauge"
        );
        for role in [Role::Visitor, Role::Agent] {
            let n = self.peers[index(role)].load(Ordering::Relaxed);
            let _ = writeln!(out, "peers_connected{{role=\"{}\"}} {n}", role.label());
        }
        labelled(
            out,
            "frames_out_total",
            "Frames written to peers' sockets, by receiving role.",
            "role",
            &by_role(&self.frames_out),
        );
        labelled(
            out,
            "bytes_out_total",
            "Bytes of frames written to peers' sockets, by receiving role.",
            "role",
            &by_role(&self.bytes_out),
        );
        let name = "fanout_latency_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Visitor frame received by its relay until written to an agent's socket; path=\"redis\" when it went through Redis pub/sub.\n# TYPE {name} histogram"
        );
        self.fanout_local.render(out, name, "local");
        self.fanout_redis.render(out, name, "redis");
        metric(
            out,
            "resyncs_total",
            "counter",
            "Fresh snapshots agents asked for (a gap their console could not fill).",
            &[("", self.resyncs.load(Ordering::Relaxed).to_string())],
        );
        let limited: Vec<(&str, String)> = Limited::ALL
            .iter()
            .zip(&self.rate_limited)
            .map(|(k, c)| (k.label(), c.load(Ordering::Relaxed).to_string()))
            .collect();
        labelled(
            out,
            "rate_limited_total",
            "Attempts refused by a rate limit, by kind (new_session: the [admission] bucket; resumes never count there).",
            "kind",
            &limited,
        );
        metric(
            out,
            "relay_draining",
            "gauge",
            "1 while this relay drains (telling its peers to move, refusing new ones).",
            &[("", self.draining.load(Ordering::Relaxed).to_string())],
        );
        metric(
            out,
            "drain_refused_total",
            "counter",
            "WebSocket upgrades refused because the relay was draining or stopping.",
            &[(
                "",
                self.refused_draining.load(Ordering::Relaxed).to_string(),
            )],
        );
        labelled(
            out,
            "reconnects_sent_total",
            "Peers told to reconnect to another relay (drain), by role.",
            "role",
            &by_role(&self.reconnects_sent),
        );
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn latency_buckets_are_cumulative_per_path() {
        let m = ScaleMetrics::default();
        let now = now_us();
        m.fanned_out(now, false);
        m.fanned_out(now.saturating_sub(30_000), true);
        m.fanned_out(now + 5_000_000, false); // a clock behind: zero
        let mut text = String::new();
        m.render(&mut text);
        assert!(
            text.contains("fanout_latency_seconds_bucket{path=\"local\",le=\"0.00025\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("fanout_latency_seconds_bucket{path=\"redis\",le=\"0.025\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("fanout_latency_seconds_bucket{path=\"redis\",le=\"0.05\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("fanout_latency_seconds_count{path=\"redis\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE fanout_latency_seconds histogram\n"));
    }

    #[test]
    fn peers_limits_and_drain_render_by_label() {
        let m = ScaleMetrics::default();
        m.peer(Role::Agent, true);
        m.peer(Role::Agent, true);
        m.peer(Role::Agent, false);
        m.rate_limited(Limited::NewSession);
        m.frame_out(Role::Visitor, 7);
        m.set_draining(true);
        let mut text = String::new();
        m.render(&mut text);
        for line in [
            "peers_connected{role=\"agent\"} 1\n",
            "peers_connected{role=\"visitor\"} 0\n",
            "rate_limited_total{kind=\"new_session\"} 1\n",
            "rate_limited_total{kind=\"resume_failures\"} 0\n",
            "bytes_out_total{role=\"visitor\"} 7\n",
            "relay_draining 1\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
