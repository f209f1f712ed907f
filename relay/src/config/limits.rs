//! The relay's limits, the ones that protect it and its peers from one
//! another, and their defaults.
//!
//! Owns: the [`Limits`] type and what a relay uses when nothing is
//! configured. Does not own: reading them from the `--config` file or the
//! command line, or the checks on configured values (`file.rs`).

use std::time::Duration;

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
