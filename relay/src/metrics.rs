//! The counters behind `GET /metrics`, rendered in the Prometheus text format.
//!
//! Owns: the counters and gauges of this relay process and their rendering.
//! Does not own: deciding what to count (callers do) or any cross-relay
//! totals (each relay reports its own; Prometheus sums them).
//!
//! Plain atomics: the hot path (one increment per forwarded frame) must not
//! take a lock, and a hand-written renderer is a few lines.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::RejectReason;
use crate::gate::DropReason;
use crate::resources::metrics::ResourceMetrics;
use crate::scale_metrics::ScaleMetrics;
use crate::sessions::ModeChange;
use protocol::EndReason;

/// Which side of a session a frame came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Visitor,
    Agent,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Visitor => "visitor",
            Role::Agent => "agent",
        }
    }

    fn index(self) -> usize {
        match self {
            Role::Visitor => 0,
            Role::Agent => 1,
        }
    }
}

/// What an agent sent towards the visitor's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentKind {
    Point,
    Control,
    ModeRequest,
}

impl AgentKind {
    pub const ALL: [AgentKind; 3] = [AgentKind::Point, AgentKind::Control, AgentKind::ModeRequest];

    pub fn label(self) -> &'static str {
        match self {
            AgentKind::Point => "point",
            AgentKind::Control => "control",
            AgentKind::ModeRequest => "mode_request",
        }
    }
}

/// Why a resume was refused: the label of `resume_refused_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeRefusal {
    /// No session in its grace window has the token (wrong, ended, expired).
    Unknown,
    /// The address used up its failed attempts.
    RateLimited,
}

impl ResumeRefusal {
    pub const ALL: [ResumeRefusal; 2] = [ResumeRefusal::Unknown, ResumeRefusal::RateLimited];

    pub fn label(self) -> &'static str {
        match self {
            ResumeRefusal::Unknown => "unknown",
            ResumeRefusal::RateLimited => "rate_limited",
        }
    }
}

const END_REASONS: [EndReason; 9] = EndReason::ALL;

fn end_label(reason: EndReason) -> &'static str {
    match reason {
        EndReason::VisitorEnded => "visitor_ended",
        EndReason::VisitorDeclined => "visitor_declined",
        EndReason::VisitorDisconnected => "visitor_disconnected",
        EndReason::AgentLeft => "agent_left",
        EndReason::RelayShutdown => "relay_shutdown",
        EndReason::Error => "error",
        EndReason::Idle => "idle",
        EndReason::InvitationExpired => "invitation_expired",
        EndReason::InvitationCancelled => "invitation_cancelled",
    }
}

const MODE_CHANGES: [ModeChange; 4] = [
    ModeChange::Changed,
    ModeChange::Unchanged,
    ModeChange::NotAdmitted,
    ModeChange::Gone,
];

#[derive(Debug, Default)]
pub struct Metrics {
    sessions_active: AtomicI64,
    sessions_created: AtomicU64,
    sessions_waiting: AtomicI64,
    sessions_resumed: AtomicU64,
    sessions_taken_over: AtomicU64,
    resume_refused: [AtomicU64; ResumeRefusal::ALL.len()],
    sessions_ended: [AtomicU64; END_REASONS.len()],
    agents_active: AtomicI64,
    frames_in: [AtomicU64; 2],
    bytes_in: [AtomicU64; 2],
    frames_forwarded: AtomicU64,
    rejected: [AtomicU64; RejectReason::ALL.len()],
    agent_forwarded: [AtomicU64; AgentKind::ALL.len()],
    agent_dropped: [AtomicU64; DropReason::ALL.len()],
    mode_changes: [AtomicU64; MODE_CHANGES.len()],
    agents_rejoined: AtomicU64,
    rejoin_refused: AtomicU64,
    /// The resource cache's counters.
    pub resources: ResourceMetrics,
    /// Several relays: peers, what goes out, fan-out latency, limits, drain.
    pub scale: ScaleMetrics,
}

/// Keeps a gauge raised for as long as it lives, so every way a connection
/// ends (including an early return) lowers it again.
#[must_use]
pub struct GaugeGuard {
    metrics: Arc<Metrics>,
    which: Gauge,
}

#[derive(Clone, Copy)]
enum Gauge {
    Sessions,
    Waiting,
    Agents,
}

impl Metrics {
    fn gauge(&self, which: Gauge) -> &AtomicI64 {
        match which {
            Gauge::Sessions => &self.sessions_active,
            Gauge::Waiting => &self.sessions_waiting,
            Gauge::Agents => &self.agents_active,
        }
    }

    pub fn session_started(self: &Arc<Self>) -> GaugeGuard {
        self.sessions_created.fetch_add(1, Ordering::Relaxed);
        self.raise(Gauge::Sessions)
    }

    /// A visitor continued its session on this relay.
    pub fn session_resumed(self: &Arc<Self>) -> GaugeGuard {
        self.sessions_resumed.fetch_add(1, Ordering::Relaxed);
        self.raise(Gauge::Sessions)
    }

    /// A resume on this relay took its session over from an older
    /// connection of the visitor that was still attached.
    pub fn session_taken_over(&self) {
        self.sessions_taken_over.fetch_add(1, Ordering::Relaxed);
    }

    /// A session this relay watches in its grace window.
    pub fn session_waiting(self: &Arc<Self>) -> GaugeGuard {
        self.raise(Gauge::Waiting)
    }

    pub fn resume_refused(&self, reason: ResumeRefusal) {
        count(&self.resume_refused, &ResumeRefusal::ALL, reason);
    }

    /// An admitted agent continued its place on this relay (`rejoin.rs`).
    pub fn agent_rejoined(&self) {
        self.agents_rejoined.fetch_add(1, Ordering::Relaxed);
    }

    /// A rejoin refused: a wrong, made-up or spent secret, or its agent
    /// or session gone.
    pub fn rejoin_refused(&self) {
        self.rejoin_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub fn session_ended(&self, reason: EndReason) {
        count(&self.sessions_ended, &END_REASONS, reason);
    }

    pub fn agent_joined(self: &Arc<Self>) -> GaugeGuard {
        self.raise(Gauge::Agents)
    }

    fn raise(self: &Arc<Self>, which: Gauge) -> GaugeGuard {
        self.gauge(which).fetch_add(1, Ordering::Relaxed);
        GaugeGuard {
            metrics: Arc::clone(self),
            which,
        }
    }

    pub fn frame_in(&self, role: Role, bytes: usize) {
        self.frames_in[role.index()].fetch_add(1, Ordering::Relaxed);
        self.bytes_in[role.index()].fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn forwarded(&self, frames: u64) {
        self.frames_forwarded.fetch_add(frames, Ordering::Relaxed);
    }

    pub fn rejected(&self, reason: RejectReason) {
        if let Some(i) = RejectReason::ALL.iter().position(|r| *r == reason) {
            self.rejected[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn agent_forwarded(&self, kind: AgentKind) {
        count(&self.agent_forwarded, &AgentKind::ALL, kind);
    }

    pub(crate) fn agent_dropped(&self, reason: DropReason) {
        count(&self.agent_dropped, &DropReason::ALL, reason);
    }

    pub fn mode_change(&self, change: ModeChange) {
        count(&self.mode_changes, &MODE_CHANGES, change);
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let gauge = |a: &AtomicI64| a.load(Ordering::Relaxed);
        metric(
            &mut out,
            "sessions_active",
            "gauge",
            "Visitor sessions open on this relay.",
            &[("", gauge(&self.sessions_active).to_string())],
        );
        metric(
            &mut out,
            "sessions_created_total",
            "counter",
            "Visitor sessions created since start.",
            &[("", load(&self.sessions_created).to_string())],
        );
        metric(
            &mut out,
            "sessions_waiting",
            "gauge",
            "Sessions whose visitor left without ending them, waiting in their grace window for a resume (watched by this relay).",
            &[("", gauge(&self.sessions_waiting).to_string())],
        );
        metric(
            &mut out,
            "sessions_resumed_total",
            "counter",
            "Sessions a visitor's next page continued on this relay.",
            &[("", load(&self.sessions_resumed).to_string())],
        );
        metric(
            &mut out,
            "sessions_taken_over_total",
            "counter",
            "Resumes on this relay that took their session over from an older connection of the visitor still attached (a dropped network not noticed yet, a copied tab); the older one was closed.",
            &[("", load(&self.sessions_taken_over).to_string())],
        );
        let refused: Vec<(&str, String)> = ResumeRefusal::ALL
            .iter()
            .zip(&self.resume_refused)
            .map(|(r, c)| (r.label(), load(c).to_string()))
            .collect();
        labelled(
            &mut out,
            "resume_refused_total",
            "Resume attempts refused, by reason.",
            "reason",
            &refused,
        );
        metric(
            &mut out,
            "agents_rejoined_total",
            "counter",
            "Admitted agents whose connection broke and who continued their place on this relay.",
            &[("", load(&self.agents_rejoined).to_string())],
        );
        metric(
            &mut out,
            "rejoin_refused_total",
            "counter",
            "Agent rejoins refused on this relay (a wrong or spent secret, or the agent or session gone).",
            &[("", load(&self.rejoin_refused).to_string())],
        );
        let ended: Vec<(&str, String)> = END_REASONS
            .iter()
            .zip(&self.sessions_ended)
            .map(|(r, c)| (end_label(*r), load(c).to_string()))
            .collect();
        labelled(
            &mut out,
            "sessions_ended_total",
            "Sessions ended by this relay, by reason.",
            "reason",
            &ended,
        );
        metric(
            &mut out,
            "agents_active",
            "gauge",
            "Agents connected to a session on this relay.",
            &[("", gauge(&self.agents_active).to_string())],
        );
        let by_role = |counters: &[AtomicU64; 2]| {
            [Role::Visitor, Role::Agent]
                .map(|r| (r.label(), load(&counters[r.index()]).to_string()))
        };
        let frames = by_role(&self.frames_in);
        let bytes = by_role(&self.bytes_in);
        labelled(
            &mut out,
            "frames_in_total",
            "Binary frames received, by sender role.",
            "role",
            &frames,
        );
        labelled(
            &mut out,
            "bytes_in_total",
            "Bytes of binary frames received, by sender role.",
            "role",
            &bytes,
        );
        metric(
            &mut out,
            "frames_forwarded_total",
            "counter",
            "Visitor events delivered to an agent's queue (one per agent).",
            &[("", load(&self.frames_forwarded).to_string())],
        );
        let rejected: Vec<(&str, String)> = RejectReason::ALL
            .iter()
            .zip(&self.rejected)
            .map(|(r, c)| (r.label(), load(c).to_string()))
            .collect();
        labelled(
            &mut out,
            "rejected_total",
            "Connections or upgrades refused, by reason.",
            "reason",
            &rejected,
        );
        let per = |counters: &[AtomicU64], labels: Vec<&'static str>| {
            labels
                .into_iter()
                .zip(counters)
                .map(|(l, c)| (l, load(c).to_string()))
                .collect::<Vec<_>>()
        };
        labelled(
            &mut out,
            "agent_messages_forwarded_total",
            "Agent pointing, control and mode requests passed on to the visitor, by kind.",
            "kind",
            &per(
                &self.agent_forwarded,
                AgentKind::ALL.iter().map(|k| k.label()).collect(),
            ),
        );
        labelled(
            &mut out,
            "agent_messages_dropped_total",
            "Agent messages not passed on to the visitor: control in view-only mode, anything before admission, or over the rate budget.",
            "reason",
            &per(
                &self.agent_dropped,
                DropReason::ALL.iter().map(|r| r.label()).collect(),
            ),
        );
        labelled(
            &mut out,
            "mode_changes_total",
            "Mode changes asked of the session store (visitor's SetMode, agent stepping down), by result.",
            "result",
            &per(
                &self.mode_changes,
                MODE_CHANGES.iter().map(|c| c.label()).collect(),
            ),
        );
        self.resources.render(&mut out);
        self.scale.render(&mut out);
        out
    }
}

fn count<T: PartialEq>(counters: &[AtomicU64], all: &[T], which: T) {
    if let Some(i) = all.iter().position(|x| *x == which) {
        if let Some(c) = counters.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.metrics
            .gauge(self.which)
            .fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) fn metric(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    values: &[(&str, String)],
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (_, value) in values {
        let _ = writeln!(out, "{name} {value}");
    }
}

pub(crate) fn labelled(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    values: &[(&str, String)],
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for (key, value) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{key}\"}} {value}");
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn gauges_fall_when_guards_drop() {
        let m = Arc::new(Metrics::default());
        let a = m.session_started();
        let b = m.session_started();
        drop(a);
        let text = m.render();
        assert!(text.contains("\nsessions_active 1\n"), "{text}");
        assert!(text.contains("\nsessions_created_total 2\n"), "{text}");
        drop(b);
        assert!(m.render().contains("\nsessions_active 0\n"));
    }

    #[test]
    fn labelled_counters_render_per_label() {
        let m = Metrics::default();
        m.frame_in(Role::Visitor, 10);
        m.frame_in(Role::Visitor, 5);
        m.rejected(RejectReason::Origin);
        let text = m.render();
        assert!(
            text.contains("frames_in_total{role=\"visitor\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("bytes_in_total{role=\"visitor\"} 15\n"),
            "{text}"
        );
        assert!(
            text.contains("frames_in_total{role=\"agent\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("rejected_total{reason=\"origin\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE rejected_total counter\n"), "{text}");
    }

    #[test]
    fn agent_message_counters_render_every_label() {
        let m = Metrics::default();
        m.agent_dropped(DropReason::Mode);
        m.agent_dropped(DropReason::Mode);
        m.agent_forwarded(AgentKind::Point);
        m.mode_change(ModeChange::Gone);
        let text = m.render();
        for line in [
            "agent_messages_dropped_total{reason=\"mode\"} 2\n",
            "agent_messages_dropped_total{reason=\"not_admitted\"} 0\n",
            "agent_messages_dropped_total{reason=\"rate\"} 0\n",
            "agent_messages_forwarded_total{kind=\"point\"} 1\n",
            "agent_messages_forwarded_total{kind=\"control\"} 0\n",
            "mode_changes_total{result=\"gone\"} 1\n",
            "mode_changes_total{result=\"changed\"} 0\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
