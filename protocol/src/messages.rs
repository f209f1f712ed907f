//! The envelopes: who says what to whom around the [`EventFrame`]s.

use serde::{Deserialize, Serialize};

use crate::{
    AgentId, Control, EventFrame, FromAgent, JoinCode, Point, ResourceHash, Seq, SessionId,
};

/// The first frame of every connection (see [`crate::encode_hello`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Hello {
    Visitor(VisitorHello),
    Agent(AgentHello),
    /// An admitted agent whose connection broke (its relay went away, its
    /// network dropped) continues its place in the session, on any relay
    /// sharing the session's store, without a code or the visitor's consent.
    AgentRejoin(AgentRejoin),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorHello {
    /// `location.href` of the page starting the session.
    pub page_url: String,
    /// How the page's static resources reach the agent.
    pub resources: ResourcePolicy,
    /// The visitor moved to another page of the site (or reloaded, or lost
    /// its connection): the resume token of the session to continue. The
    /// relay continues it — same agents, same modes, no new consent — or
    /// refuses with [`ErrorCode::NotAllowed`] if it is gone; it never starts
    /// a new session from a resume.
    pub resume: Option<String>,
    /// The page accepts an agent's invitation (the secret the integrator
    /// API gave out, see the relay's `POST /api/invitations`): the relay
    /// starts the session under the invitation's code and the inviting
    /// agent joins it at once — still only after the visitor's consent.
    pub invitation: Option<String>,
}

/// Masking rules the relay's configuration adds for a page, by URL pattern,
/// on top of the site's own (`mask`/`block` start options and markup).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskRules {
    /// CSS selectors whose text and values never leave the page.
    pub mask: Vec<String>,
    /// CSS selectors replaced by empty boxes of the same size.
    pub block: Vec<String>,
}

/// The site's choices for its static resources (the start options
/// `enableStaticResourceService` and `css.server`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourcePolicy {
    /// The visitor's browser fetches the page's resources with the
    /// visitor's credentials and uploads them to the relay's cache
    /// ([`VisitorMsg::Offer`]).
    pub upload: bool,
    /// A resource that could not be cached may be fetched by the relay
    /// itself (only from the relay's `allowed_external_domains`, never with
    /// the visitor's cookies). Off: the agent's browser loads it from its
    /// original location (unless the relay is strict).
    pub server_fetch: bool,
}

impl Default for ResourcePolicy {
    fn default() -> Self {
        ResourcePolicy {
            upload: true,
            server_fetch: true,
        }
    }
}

/// One resource the page uses, as the visitor's browser found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offered {
    /// The absolute URL the page uses (without its fragment).
    pub url: String,
    /// What the visitor's browser could read of it: `None` when it could not
    /// fetch the bytes (a cross-origin file without CORS, an error status),
    /// which leaves the resource to the relay's fallback chain.
    pub body: Option<OfferedBody>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedBody {
    pub hash: ResourceHash,
    pub size: u64,
    /// The response's `Content-Type`, charset included.
    pub content_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentHello {
    /// A development token or a signed agent token.
    pub token: String,
    pub code: JoinCode,
    pub mode: Mode,
}

/// See [`Hello::AgentRejoin`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRejoin {
    /// The agent's credentials, checked again as in [`AgentHello::token`].
    pub token: String,
    /// The secret of [`ToAgent::RejoinToken`]: it names the session and the
    /// agent's place in it.
    pub rejoin: String,
    /// The newest event the console applied: the relay replays what came
    /// after it from the session's replay buffer, or from the newest
    /// snapshot when that gap is gone (`None`: from the newest snapshot).
    pub last_seq: Option<Seq>,
}

/// What the agent may do on the visitor's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mode {
    /// See, point and highlight; never click or type.
    ViewOnly,
    /// Also click, type and navigate, with the visitor's consent.
    Shared,
}

/// Visitor → relay, after the hello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VisitorMsg {
    /// Forwarded to every agent the visitor admitted.
    Event(EventFrame),
    /// The visitor's answer to [`ToVisitor::AgentJoined`].
    Consent { agent: AgentId, accepted: bool },
    /// The visitor ended the session.
    End,
    /// Resources the page uses (the session's resource history grows by
    /// these URLs). The relay answers with [`ToVisitor::Want`].
    Offer(Vec<Offered>),
    /// The visitor sets an admitted agent's mode: grants shared mode (the
    /// answer to [`FromAgent::ModeRequest`]) or drops back to view-only.
    SetMode { agent: AgentId, mode: Mode },
}

/// Relay → visitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToVisitor {
    /// The session exists; show the visitor its code.
    Welcome {
        session: SessionId,
        code: JoinCode,
        /// The bearer secret for this session's resource uploads
        /// (`PUT /res/up/{hash}`). Sent to the visitor only.
        upload_token: String,
        /// The secret a later page of the same visitor presents to continue
        /// this session (`VisitorHello.resume`), and how long after the
        /// visitor's connection drops the relay keeps the session for it.
        resume_token: String,
        resume_secs: u32,
        /// The relay's masking rules for this page.
        masking: MaskRules,
    },
    /// A resumed session: the agents that were watching (they stay admitted
    /// with their modes, no new consent). Capture starts again at once with
    /// a snapshot, numbered after the last event the old page sent.
    Resumed {
        agents: Vec<WatchingAgent>,
        /// The relay's masking rules for the new page.
        masking: MaskRules,
        /// The newest event of this session the relay holds (`None`: none
        /// yet). A page that is still the one that sent the events (its
        /// connection dropped, or its relay went away) sends again what it
        /// sent after this and carries on; a new page starts with a snapshot
        /// numbered after it.
        last_seq: Option<Seq>,
    },
    /// An agent asks to see the page; the visitor must accept or decline.
    AgentJoined {
        agent: AgentId,
        name: String,
        mode: Mode,
    },
    AgentLeft {
        agent: AgentId,
    },
    /// Someone needs a full snapshot (an agent was admitted or lost its
    /// place); the visitor sends one as its next event.
    SnapshotNeeded,
    Ended {
        reason: EndReason,
    },
    Error(ErrorFrame),
    /// The answer to an [`VisitorMsg::Offer`]: the hashes the cache does not
    /// hold yet (upload them), and URLs that offered stylesheets refer to
    /// (`url()`, `@import`) which the session has not offered (fetch and
    /// offer them too).
    Want {
        hashes: Vec<ResourceHash>,
        more: Vec<String>,
    },
    /// An admitted agent points, asks for a mode, or (relay-checked: only
    /// in shared mode) controls the page. The visitor's script checks again.
    FromAgent {
        agent: AgentId,
        msg: FromAgent,
    },
    /// The relay is going away (draining): reconnect, with the resume token,
    /// within `within_ms` (a random moment in that window, so that a relay's
    /// visitors do not all arrive at once); the session waits for it.
    Reconnect {
        within_ms: u32,
    },
}

/// An agent watching a resumed session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchingAgent {
    pub agent: AgentId,
    pub name: String,
    pub mode: Mode,
}

/// Agent → relay, after the hello.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AgentMsg {
    /// The console saw a gap it cannot fill and needs a fresh snapshot.
    Resync,
    /// The agent leaves; the session goes on for the visitor.
    Leave,
    /// Pointing (either mode).
    Point(Point),
    /// Acting on the page (shared mode only; the relay drops it otherwise).
    Control(Control),
    /// Asks for a mode (shared needs the visitor's consent).
    RequestMode(Mode),
}

/// Relay → agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToAgent {
    /// The code was right; the visitor is being asked for consent.
    Joined {
        session: SessionId,
        agent: AgentId,
        page_url: String,
    },
    /// The visitor accepted; events follow, starting with a snapshot.
    Admitted {
        /// The path, on the relay, under which this session's resources are
        /// served: `{resources}{base64url(absolute url)}`. A capability: it
        /// serves only URLs this session offered.
        resources: String,
    },
    Event(EventFrame),
    Ended {
        reason: EndReason,
    },
    Error(ErrorFrame),
    /// The agent's mode as the visitor granted it: sent after `Admitted` and
    /// on every change.
    Mode(Mode),
    /// The visitor's page went away (a navigation, a reload, a dropped
    /// network); the session waits up to `grace_secs` for it to come back,
    /// then ends with [`EndReason::VisitorDisconnected`]. The next snapshot
    /// means it is back.
    VisitorAway {
        grace_secs: u32,
    },
    /// The agent joined with the code of its own invitation and the
    /// visitor's page has not taken it up yet; it stays open for
    /// `expires_secs` more, then ends with [`EndReason::InvitationExpired`].
    Invited {
        expires_secs: u32,
    },
    /// Sent once the agent is admitted: the secret that continues this
    /// agent's place with [`Hello::AgentRejoin`] if the connection breaks.
    RejoinToken(String),
    /// The relay is going away (draining): rejoin within `within_ms` (a
    /// random moment in that window).
    Reconnect {
        within_ms: u32,
    },
}

/// Why a session (or one agent's part in it) ended. Each has a sentence the
/// console shows the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndReason {
    VisitorEnded,
    VisitorDeclined,
    VisitorDisconnected,
    AgentLeft,
    RelayShutdown,
    Error,
    /// Nothing happened for the relay's `idle_timeout_secs`.
    Idle,
    /// The agent's invitation was not taken up in time.
    InvitationExpired,
    /// The agent's invitation was cancelled (`DELETE /api/invitations/…`).
    InvitationCancelled,
}

impl EndReason {
    pub fn describe(self) -> &'static str {
        match self {
            EndReason::VisitorEnded => "The visitor ended the session.",
            EndReason::VisitorDeclined => "The visitor declined the session.",
            EndReason::VisitorDisconnected => "The visitor's page closed or lost its connection.",
            EndReason::AgentLeft => "You left the session.",
            EndReason::RelayShutdown => "The relay is shutting down.",
            EndReason::Error => "The session ended after an error.",
            EndReason::Idle => "The session ended after a long time without activity.",
            EndReason::InvitationExpired => {
                "The invitation expired before the visitor accepted it."
            }
            EndReason::InvitationCancelled => "The invitation was cancelled.",
        }
    }

    /// Every reason, for metrics labels and for tests that each has its own
    /// sentence.
    pub const ALL: [EndReason; 9] = [
        EndReason::VisitorEnded,
        EndReason::VisitorDeclined,
        EndReason::VisitorDisconnected,
        EndReason::AgentLeft,
        EndReason::RelayShutdown,
        EndReason::Error,
        EndReason::Idle,
        EndReason::InvitationExpired,
        EndReason::InvitationCancelled,
    ];
}

/// A refusal, always with a sentence a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    pub code: ErrorCode,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    VersionMismatch,
    /// The frame could not be decoded, or came out of turn.
    BadFrame,
    FrameTooLarge,
    UnknownCode,
    Unauthorized,
    /// The message is not allowed for this peer right now.
    NotAllowed,
    RateLimited,
    Internal,
}

impl ErrorCode {
    /// The WebSocket close code that accompanies this error (4000–4999 are
    /// for applications).
    pub fn close_code(self) -> u16 {
        match self {
            ErrorCode::VersionMismatch => 4001,
            ErrorCode::BadFrame => 4002,
            ErrorCode::FrameTooLarge => 4003,
            ErrorCode::UnknownCode => 4004,
            ErrorCode::Unauthorized => 4005,
            ErrorCode::NotAllowed => 4006,
            ErrorCode::RateLimited => 4007,
            ErrorCode::Internal => 4500,
        }
    }
}
