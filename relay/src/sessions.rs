//! Session state: join codes → sessions, which agents are in a session,
//! whether the visitor admitted them, and each one's mode.
//!
//! Owns: the [`SessionStore`] trait and its small value types. Does not own:
//! moving frames (that is the [`crate::bus::Bus`]) or any socket. The
//! in-process implementation is in `memory.rs`, the Redis one in
//! `redis_backend/store.rs`, which is why every method is async and returns
//! a `Result` even though the memory store never waits and rarely fails.
//!
//! Each method is one atomic step (the Redis store makes each a Lua
//! script), so two relays racing on one session see a consistent state.

use std::future::Future;
use std::time::Duration;

use protocol::{AgentId, JoinCode, Mode, SessionId};

use crate::invitations::InvitationStore;
use crate::origins::OriginSlots;
use crate::replay::ReplayStore;
use crate::resources::store::ResourceStore;
use crate::resume::ResumeToken;
use crate::RelayError;

/// A session just created for a visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub session: SessionId,
    pub code: JoinCode,
    /// What a later page of the visitor presents to continue the session.
    pub resume: ResumeToken,
}

/// Which of a session's visitor connections is the current one: the
/// session's first connection is [`Attachment::FIRST`] and each resume
/// takes the next, so a connection whose session was taken over by a newer
/// one (a network drop the relay has not noticed yet, a duplicated tab)
/// can tell, on any relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attachment(pub u64);

impl Attachment {
    pub const FIRST: Attachment = Attachment(0);
}

/// What the visitor's leaving did to the session's agents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Away {
    /// Stay, and are told the visitor is away.
    pub admitted: Vec<AgentId>,
    /// Were waiting for consent: removed (the next page does not know
    /// them), and are told the session ended.
    pub dropped: Vec<AgentId>,
}

/// What a visitor connection's closing (without `End`) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaving {
    /// It was the session's connection: the session waits for a resume.
    Away(Away),
    /// A newer connection took the session over: nothing changed.
    Superseded,
    /// The session is gone.
    Gone,
}

/// A session a visitor continued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resumed {
    pub session: SessionId,
    /// The resuming connection's turn: it is the session's connection now.
    pub attachment: Attachment,
    /// An older connection of the visitor was still attached and is no
    /// longer the session's: it must be told to close.
    pub took_over: bool,
    /// The session's live code (a fresh one if the old one expired).
    pub code: Option<JoinCode>,
    /// Admitted agents, by id.
    pub agents: Vec<Watching>,
}

/// An admitted agent of a resumed session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watching {
    pub agent: AgentId,
    pub mode: Mode,
    /// The name its token carried (see [`SessionStore::name_agent`]).
    pub name: Option<String>,
}

/// The answer to a resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resumption {
    Resumed(Resumed),
    /// No session in its grace window has this token (never was, ended,
    /// the window passed): indistinguishable on purpose.
    Unknown,
}

/// Where a waiting session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expiry {
    /// The window passed: the session is gone; these agents were in it.
    Ended(Vec<AgentId>),
    /// Still waiting, for about this long.
    Waiting(Duration),
    /// A visitor resumed it.
    Back,
    /// It ended some other way.
    Gone,
}

/// An agent that found the session by its code and has an id in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedSession {
    pub session: SessionId,
    pub agent: AgentId,
    pub page_url: String,
    /// The join consumed the code; this one now names the session (for the
    /// next agent, sent to the visitor as a new Welcome). `None` only if no
    /// free code could be drawn.
    pub next_code: Option<JoinCode>,
}

/// Where an agent stands in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentState {
    /// Waiting for the visitor's answer.
    Pending,
    /// The visitor accepted; events flow to this agent.
    Admitted,
}

/// What a visitor's consent answer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentOutcome {
    /// Admitted in the mode the agent asked for when it joined: the visitor
    /// was shown that mode, so accepting is consent to it.
    Admitted(Mode),
    /// The agent is no longer in the session.
    Declined,
    /// The agent was already admitted; nothing changed.
    AlreadyAdmitted,
    /// The agent left before the answer came; nothing to do.
    AgentGone,
}

/// What a mode change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeChange {
    /// The agent's mode is now the new one.
    Changed,
    /// It already was; nothing to tell anyone.
    Unchanged,
    /// The agent still waits for consent: modes belong to admitted agents
    /// (the visitor accepts the mode it was shown, nothing else).
    NotAdmitted,
    /// The agent (or the whole session) is gone, or was never in it.
    Gone,
}

impl ModeChange {
    pub fn label(self) -> &'static str {
        match self {
            ModeChange::Changed => "changed",
            ModeChange::Unchanged => "unchanged",
            ModeChange::NotAdmitted => "not_admitted",
            ModeChange::Gone => "gone",
        }
    }
}

/// Every session backend keeps invitations too: an invitation reserves a
/// session code and becomes a session.
pub trait SessionStore: InvitationStore + Send + Sync + 'static {
    /// Where this backend keeps what sessions know about their static
    /// resources (and the shared level of the resource cache): with the
    /// sessions, so it lives and ends with them.
    type Resources: ResourceStore;

    fn resources(&self) -> &Self::Resources;

    /// Where this backend keeps sessions' replay buffers and agents'
    /// rejoin records (`replay/`): with the sessions, ending with them.
    type Replay: ReplayStore;

    fn replay(&self) -> &Self::Replay;
    /// Where live sessions are counted per page origin
    /// (`max_sessions_per_origin`): with the sessions, so relays sharing
    /// them share the count.
    type Origins: OriginSlots;

    fn origins(&self) -> &Self::Origins;

    /// Creates a session with a fresh code, unique among live codes, that
    /// expires if unused for `code_ttl`.
    fn create(
        &self,
        page_url: String,
        code_ttl: Duration,
    ) -> impl Future<Output = Result<NewSession, RelayError>> + Send;

    /// Adds an agent to the session that `code` names, giving it the next id
    /// (ids start at 1 and are never reused within a session), waiting for
    /// consent, with `mode` (what it asked for) as its mode if admitted. Codes are
    /// single use: a successful join retires `code` and gives the session a
    /// fresh one (valid for `code_ttl`). Fails with
    /// [`RelayError::UnknownCode`] (never issued, used, expired or ended:
    /// indistinguishable on purpose) or [`RelayError::TooManyAgents`] (the
    /// code stays valid).
    fn join(
        &self,
        code: &JoinCode,
        mode: Mode,
        max_agents: usize,
        code_ttl: Duration,
    ) -> impl Future<Output = Result<JoinedSession, RelayError>> + Send;

    /// Records the visitor's answer. A declined agent leaves the session.
    /// An id the session never gave out is [`RelayError::OutOfTurn`].
    fn consent(
        &self,
        session: &SessionId,
        agent: AgentId,
        accepted: bool,
    ) -> impl Future<Output = Result<ConsentOutcome, RelayError>> + Send;

    /// Sets an admitted agent's mode (the visitor's grant or withdrawal, or
    /// the agent stepping down to view-only). Refusals are outcomes, not
    /// errors: a mode change racing an agent's leaving is normal.
    fn set_mode(
        &self,
        session: &SessionId,
        agent: AgentId,
        mode: Mode,
    ) -> impl Future<Output = Result<ModeChange, RelayError>> + Send;

    /// The agent's recorded mode (the asked-for one while pending); `None`
    /// once the agent or its session is gone. Connections do not ask this
    /// per message: they follow the `ToAgent::Mode` deliveries instead.
    fn agent_mode(
        &self,
        session: &SessionId,
        agent: AgentId,
    ) -> impl Future<Output = Result<Option<Mode>, RelayError>> + Send;

    /// `None` once the agent or its session is gone.
    fn agent_state(
        &self,
        session: &SessionId,
        agent: AgentId,
    ) -> impl Future<Output = Result<Option<AgentState>, RelayError>> + Send;

    /// Removes the agent; `true` if it was still in the session (so the
    /// visitor should hear that it left).
    fn remove_agent(
        &self,
        session: &SessionId,
        agent: AgentId,
    ) -> impl Future<Output = Result<bool, RelayError>> + Send;

    /// Records the name the agent's token carries, so a resumed session
    /// can tell the next page who is watching.
    fn name_agent(
        &self,
        session: &SessionId,
        agent: AgentId,
        name: &str,
    ) -> impl Future<Output = Result<(), RelayError>> + Send;

    /// The session's resume token (for a Welcome sent by another relay than
    /// the visitor's); `None` once the session is gone.
    fn resume_token(
        &self,
        session: &SessionId,
    ) -> impl Future<Output = Result<Option<ResumeToken>, RelayError>> + Send;

    /// The visitor's connection `attachment` closed without `End`: if it is
    /// still the session's connection, the session waits `grace` for a
    /// resume and pending agents are removed; if a resume took the session
    /// over meanwhile, nothing changes.
    fn visitor_away(
        &self,
        session: &SessionId,
        grace: Duration,
        attachment: Attachment,
    ) -> impl Future<Output = Result<Leaving, RelayError>> + Send;

    /// A visitor presents `token`: if it is the token of a session in its
    /// grace window, or of a live session (compared in constant time), the
    /// presenting connection becomes the session's, taking it over from any
    /// older connection still attached (the newer page wins: the old socket
    /// may be a dead one the relay has not noticed yet). A missing or
    /// expired code is replaced (valid `code_ttl`).
    fn resume(
        &self,
        token: &ResumeToken,
        code_ttl: Duration,
    ) -> impl Future<Output = Result<Resumption, RelayError>> + Send;

    /// Ends the session if its grace window passed without a resume.
    fn expire(
        &self,
        session: &SessionId,
    ) -> impl Future<Output = Result<Expiry, RelayError>> + Send;

    /// A holder of the session on this relay (a resumed visitor's
    /// connection counts one, a grace watcher another) lets go: a store that
    /// keeps sessions alive while held (Redis renews their keys) stops when
    /// nobody here holds it. Ending the session lets go of everything.
    fn release(&self, session: &SessionId) {
        let _ = session;
    }

    /// An agent identity (`who`, the token's subject) takes its one
    /// session at a time for the connection `holder` names: `false` if it
    /// already holds one (admitted or waiting in a live session). Atomic,
    /// so two joins racing across relays cannot both win.
    fn claim_agent(
        &self,
        who: &str,
        holder: &str,
    ) -> impl Future<Output = Result<bool, RelayError>> + Send;

    /// Gives `who`'s claim to `holder` if it is free or its holder's name
    /// starts with `from`: `false` if another holds it. Atomic. A joined
    /// agent's claim is renamed after its place this way, and a rejoining
    /// connection takes over the claim of the place it continues, which a
    /// dead relay's connection may still hold until it expires.
    fn hand_over_agent(
        &self,
        who: &str,
        from: &str,
        holder: &str,
    ) -> impl Future<Output = Result<bool, RelayError>> + Send;

    /// Lets go of `who`'s claim if `holder` still holds it (a claim that
    /// expired and was taken by another connection stays).
    fn release_agent(
        &self,
        who: &str,
        holder: &str,
    ) -> impl Future<Output = Result<(), RelayError>> + Send;

    /// Removes the session and frees its code; returns the agents it still
    /// had, so the caller can tell them.
    fn end(
        &self,
        session: &SessionId,
    ) -> impl Future<Output = Result<Vec<AgentId>, RelayError>> + Send;
}
