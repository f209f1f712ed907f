//! The in-process backend: a [`SessionStore`] and a [`Bus`] in this relay's
//! memory. The default, and all a single relay needs.
//!
//! Owns: the maps behind both traits. Does not own: anything shared between
//! relays (that is what `redis_backend/` is for).
//!
//! Both use a `std::sync::Mutex`, not tokio's: no critical section awaits, they
//! are a few map operations long, and a std mutex is cheaper when uncontended.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use protocol::{AgentId, JoinCode, Mode, SessionId};
use rand::Rng;
use tokio::time::Instant;

use crate::bus::{Bus, Delivery, Mailbox, Topic};
use crate::replay::memory::MemoryReplay;
use crate::resources::memory::MemoryResources;
use crate::resume::ResumeToken;
use crate::sessions::{
    AgentState, Attachment, Away, ConsentOutcome, Expiry, JoinedSession, Leaving, ModeChange,
    NewSession, Resumed, Resumption, SessionStore, Watching,
};
use crate::RelayError;

mod invitations;

/// Sessions in this process.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Sessions>>,
    resources: MemoryResources,
    replay: MemoryReplay,
    origins: crate::origins::MemoryOrigins,
    /// Agent identity → the connection holding its one session. No expiry:
    /// a connection always lets go when it ends, and this process is the
    /// only one that could hold it.
    busy: Arc<Mutex<HashMap<String, String>>>,
}

#[derive(Debug, Default)]
struct Sessions {
    /// Every issued code not yet used or ended, with when it stops
    /// admitting anyone. An expired entry stays until it is looked up or its
    /// session ends; it admits nobody meanwhile.
    by_code: HashMap<JoinCode, (SessionId, Instant)>,
    by_id: HashMap<SessionId, Session>,
    /// Open invitations (`memory/invitations.rs`); their codes are in
    /// `by_code`, reserved for sessions not created yet.
    invitations: invitations::Invitations,
}

#[derive(Debug)]
struct Session {
    /// The code that names this session now; `None` once it was used and
    /// no fresh one could be drawn.
    code: Option<JoinCode>,
    page_url: String,
    /// The last id given out; ids are never reused, so a late consent for an
    /// agent that left cannot admit a newcomer by mistake.
    last_agent: u32,
    agents: BTreeMap<AgentId, Member>,
    resume: ResumeToken,
    visitor: Presence,
    /// The visitor connection that is the session's (the latest to attach).
    attachment: Attachment,
}

/// Whether the session's visitor is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Here,
    /// Gone without `End`; a resume is taken until then.
    Away {
        until: Instant,
    },
}

/// One agent in a session.
#[derive(Debug, Clone)]
struct Member {
    state: AgentState,
    /// Asked for at join; the visitor's to change once admitted.
    mode: Mode,
    /// The name the agent's token carries, if any.
    name: Option<Arc<str>>,
}

/// Draws before giving up: with a million codes this fails only when the
/// relay is nearly full, and then retrying longer would not help much.
const CODE_ATTEMPTS: usize = 64;

/// A poisoned lock means a panic elsewhere mid-update; the maps are still
/// structurally sound (each update is a single insert or remove), so serving
/// the other sessions beats failing them all.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn new_session_id() -> SessionId {
    SessionId(format!("{:032x}", rand::random::<u128>()))
}

impl Sessions {
    /// Draws a code no live session holds and gives it to `session`.
    fn issue_code(&mut self, session: &SessionId, ttl: Duration) -> Option<JoinCode> {
        let mut rng = rand::rng();
        let now = Instant::now();
        for _ in 0..CODE_ATTEMPTS {
            let code = JoinCode::from_number(rng.random_range(0..1_000_000)).ok()?;
            if let Some((holder, expires)) = self.by_code.get(&code) {
                if *expires > now {
                    continue;
                }
                // Expired: free it for reuse.
                let holder = holder.clone();
                if let Some(s) = self.by_id.get_mut(&holder) {
                    s.code = None;
                }
            }
            self.by_code
                .insert(code.clone(), (session.clone(), now + ttl));
            return Some(code);
        }
        None
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Live sessions, for tests and diagnostics.
    pub fn len(&self) -> usize {
        lock(&self.inner).by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn member(&self, session: &SessionId, agent: AgentId) -> Option<Member> {
        let sessions = lock(&self.inner);
        sessions
            .by_id
            .get(session)
            .and_then(|s| s.agents.get(&agent).cloned())
    }
}

impl SessionStore for MemoryStore {
    type Resources = MemoryResources;

    type Replay = MemoryReplay;

    fn replay(&self) -> &MemoryReplay {
        &self.replay
    }

    fn resources(&self) -> &MemoryResources {
        &self.resources
    }

    type Origins = crate::origins::MemoryOrigins;

    fn origins(&self) -> &crate::origins::MemoryOrigins {
        &self.origins
    }

    async fn create(&self, page_url: String, code_ttl: Duration) -> Result<NewSession, RelayError> {
        let mut sessions = lock(&self.inner);
        let session = new_session_id();
        let resume = ResumeToken::new(&session)
            .ok_or_else(|| RelayError::Internal("session id without a token".into()))?;
        let code = sessions
            .issue_code(&session, code_ttl)
            .ok_or_else(|| RelayError::Internal("no free join code".into()))?;
        sessions.by_id.insert(
            session.clone(),
            Session {
                code: Some(code.clone()),
                page_url,
                last_agent: 0,
                agents: BTreeMap::new(),
                resume: resume.clone(),
                visitor: Presence::Here,
                attachment: Attachment::FIRST,
            },
        );
        Ok(NewSession {
            session,
            code,
            resume,
        })
    }

    async fn join(
        &self,
        code: &JoinCode,
        mode: Mode,
        max_agents: usize,
        code_ttl: Duration,
    ) -> Result<JoinedSession, RelayError> {
        let mut guard = lock(&self.inner);
        let sessions = &mut *guard;
        let (id, expires) = sessions
            .by_code
            .get(code)
            .cloned()
            .ok_or(RelayError::UnknownCode)?;
        if expires <= Instant::now() {
            sessions.by_code.remove(code);
            if let Some(s) = sessions.by_id.get_mut(&id) {
                s.code = None;
            }
            return Err(RelayError::UnknownCode);
        }
        let session = sessions.by_id.get_mut(&id).ok_or(RelayError::UnknownCode)?;
        if session.agents.len() >= max_agents {
            return Err(RelayError::TooManyAgents { limit: max_agents });
        }
        session.last_agent = session.last_agent.saturating_add(1);
        let agent = AgentId(session.last_agent);
        session.agents.insert(
            agent,
            Member {
                state: AgentState::Pending,
                mode,
                name: None,
            },
        );
        let page_url = session.page_url.clone();
        // Single use: this code is spent; the session gets a fresh one.
        sessions.by_code.remove(code);
        let next_code = sessions.issue_code(&id, code_ttl);
        if let Some(s) = sessions.by_id.get_mut(&id) {
            s.code = next_code.clone();
        }
        Ok(JoinedSession {
            session: id,
            agent,
            page_url,
            next_code,
        })
    }

    async fn consent(
        &self,
        session: &SessionId,
        agent: AgentId,
        accepted: bool,
    ) -> Result<ConsentOutcome, RelayError> {
        let mut sessions = lock(&self.inner);
        let Some(s) = sessions.by_id.get_mut(session) else {
            return Ok(ConsentOutcome::AgentGone);
        };
        if agent.0 == 0 || agent.0 > s.last_agent {
            return Err(RelayError::OutOfTurn(format!(
                "consent for agent {} which never joined this session",
                agent.0
            )));
        }
        let outcome = match (s.agents.get_mut(&agent), accepted) {
            (None, _) => ConsentOutcome::AgentGone,
            (Some(m), true) if m.state == AgentState::Admitted => ConsentOutcome::AlreadyAdmitted,
            (Some(m), true) => {
                m.state = AgentState::Admitted;
                ConsentOutcome::Admitted(m.mode)
            }
            // Declining an admitted agent sends it away too: the visitor
            // changed their mind.
            (Some(_), false) => {
                s.agents.remove(&agent);
                ConsentOutcome::Declined
            }
        };
        Ok(outcome)
    }

    async fn set_mode(
        &self,
        session: &SessionId,
        agent: AgentId,
        mode: Mode,
    ) -> Result<ModeChange, RelayError> {
        let mut sessions = lock(&self.inner);
        let member = sessions
            .by_id
            .get_mut(session)
            .and_then(|s| s.agents.get_mut(&agent));
        Ok(match member {
            None => ModeChange::Gone,
            Some(m) if m.state == AgentState::Pending => ModeChange::NotAdmitted,
            Some(m) if m.mode == mode => ModeChange::Unchanged,
            Some(m) => {
                m.mode = mode;
                ModeChange::Changed
            }
        })
    }

    async fn agent_mode(
        &self,
        session: &SessionId,
        agent: AgentId,
    ) -> Result<Option<Mode>, RelayError> {
        Ok(self.member(session, agent).map(|m| m.mode))
    }

    async fn agent_state(
        &self,
        session: &SessionId,
        agent: AgentId,
    ) -> Result<Option<AgentState>, RelayError> {
        Ok(self.member(session, agent).map(|m| m.state))
    }

    async fn remove_agent(&self, session: &SessionId, agent: AgentId) -> Result<bool, RelayError> {
        let mut sessions = lock(&self.inner);
        Ok(sessions
            .by_id
            .get_mut(session)
            .is_some_and(|s| s.agents.remove(&agent).is_some()))
    }

    async fn name_agent(
        &self,
        session: &SessionId,
        agent: AgentId,
        name: &str,
    ) -> Result<(), RelayError> {
        let mut sessions = lock(&self.inner);
        if let Some(m) = sessions
            .by_id
            .get_mut(session)
            .and_then(|s| s.agents.get_mut(&agent))
        {
            m.name = Some(name.into());
        }
        Ok(())
    }

    async fn resume_token(&self, session: &SessionId) -> Result<Option<ResumeToken>, RelayError> {
        Ok(lock(&self.inner)
            .by_id
            .get(session)
            .map(|s| s.resume.clone()))
    }

    async fn visitor_away(
        &self,
        session: &SessionId,
        grace: Duration,
        attachment: Attachment,
    ) -> Result<Leaving, RelayError> {
        let mut sessions = lock(&self.inner);
        let Some(s) = sessions.by_id.get_mut(session) else {
            return Ok(Leaving::Gone);
        };
        if s.attachment != attachment {
            return Ok(Leaving::Superseded);
        }
        s.visitor = Presence::Away {
            until: Instant::now() + grace,
        };
        let mut away = Away::default();
        s.agents.retain(|&agent, member| match member.state {
            AgentState::Admitted => {
                away.admitted.push(agent);
                true
            }
            AgentState::Pending => {
                away.dropped.push(agent);
                false
            }
        });
        Ok(Leaving::Away(away))
    }

    async fn resume(
        &self,
        token: &ResumeToken,
        code_ttl: Duration,
    ) -> Result<Resumption, RelayError> {
        let Some(id) = token.session() else {
            return Ok(Resumption::Unknown);
        };
        let mut guard = lock(&self.inner);
        let sessions = &mut *guard;
        let Some(s) = sessions.by_id.get_mut(&id) else {
            return Ok(Resumption::Unknown);
        };
        if !token.matches(&s.resume) {
            return Ok(Resumption::Unknown);
        }
        let now = Instant::now();
        let took_over = match s.visitor {
            Presence::Here => true,
            // The watcher ends it (and tells the agents) shortly.
            Presence::Away { until } if until <= now => return Ok(Resumption::Unknown),
            Presence::Away { .. } => false,
        };
        s.visitor = Presence::Here;
        s.attachment = Attachment(s.attachment.0.saturating_add(1));
        let attachment = s.attachment;
        let agents = s
            .agents
            .iter()
            .filter(|(_, m)| m.state == AgentState::Admitted)
            .map(|(&agent, m)| Watching {
                agent,
                mode: m.mode,
                name: m.name.as_deref().map(str::to_owned),
            })
            .collect();
        let live = s.code.clone().filter(|code| {
            sessions
                .by_code
                .get(code)
                .is_some_and(|(holder, expires)| *holder == id && *expires > now)
        });
        let code = match live {
            Some(code) => Some(code),
            None => {
                if let Some(old) = s.code.take() {
                    if sessions.by_code.get(&old).is_some_and(|(h, _)| *h == id) {
                        sessions.by_code.remove(&old);
                    }
                }
                let fresh = sessions.issue_code(&id, code_ttl);
                if let Some(s) = sessions.by_id.get_mut(&id) {
                    s.code = fresh.clone();
                }
                fresh
            }
        };
        Ok(Resumption::Resumed(Resumed {
            session: id,
            attachment,
            took_over,
            code,
            agents,
        }))
    }

    async fn expire(&self, session: &SessionId) -> Result<Expiry, RelayError> {
        let until = match lock(&self.inner).by_id.get(session).map(|s| s.visitor) {
            None => return Ok(Expiry::Gone),
            Some(Presence::Here) => return Ok(Expiry::Back),
            Some(Presence::Away { until }) => until,
        };
        let now = Instant::now();
        if until > now {
            return Ok(Expiry::Waiting(until - now));
        }
        // Nothing can resume it between the look above and this: a resume
        // past `until` is refused.
        Ok(Expiry::Ended(self.end(session).await?))
    }

    async fn claim_agent(&self, who: &str, holder: &str) -> Result<bool, RelayError> {
        let mut busy = lock(&self.busy);
        if busy.contains_key(who) {
            return Ok(false);
        }
        busy.insert(who.to_owned(), holder.to_owned());
        Ok(true)
    }

    async fn hand_over_agent(
        &self,
        who: &str,
        from: &str,
        holder: &str,
    ) -> Result<bool, RelayError> {
        let mut busy = lock(&self.busy);
        if busy.get(who).is_some_and(|h| !h.starts_with(from)) {
            return Ok(false);
        }
        busy.insert(who.to_owned(), holder.to_owned());
        Ok(true)
    }

    async fn release_agent(&self, who: &str, holder: &str) -> Result<(), RelayError> {
        let mut busy = lock(&self.busy);
        if busy.get(who).is_some_and(|h| h == holder) {
            busy.remove(who);
        }
        Ok(())
    }

    async fn end(&self, session: &SessionId) -> Result<Vec<AgentId>, RelayError> {
        let mut sessions = lock(&self.inner);
        let Some(s) = sessions.by_id.remove(session) else {
            return Ok(Vec::new());
        };
        if let Some(code) = &s.code {
            sessions.by_code.remove(code);
        }
        Ok(s.agents.into_keys().collect())
    }
}

/// Deliveries between connections of this process.
#[derive(Debug, Clone, Default)]
pub struct MemoryBus {
    inner: Arc<BusInner>,
}

#[derive(Debug, Default)]
struct BusInner {
    next_id: AtomicU64,
    topics: Mutex<HashMap<Topic, Vec<(u64, Mailbox)>>>,
}

/// Unsubscribes on drop.
#[derive(Debug)]
pub struct MemorySubscription {
    bus: Weak<BusInner>,
    topic: Topic,
    id: u64,
}

impl Drop for MemorySubscription {
    fn drop(&mut self) {
        if let Some(bus) = self.bus.upgrade() {
            let mut topics = lock(&bus.topics);
            if let Some(subs) = topics.get_mut(&self.topic) {
                subs.retain(|(id, _)| *id != self.id);
                if subs.is_empty() {
                    topics.remove(&self.topic);
                }
            }
        }
    }
}

impl MemoryBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Topics with at least one subscriber, for tests and diagnostics.
    pub fn topic_count(&self) -> usize {
        lock(&self.inner.topics).len()
    }
}

impl Bus for MemoryBus {
    type Subscription = MemorySubscription;

    async fn subscribe(
        &self,
        topic: Topic,
        mailbox: Mailbox,
    ) -> Result<MemorySubscription, RelayError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&self.inner.topics)
            .entry(topic.clone())
            .or_default()
            .push((id, mailbox));
        Ok(MemorySubscription {
            bus: Arc::downgrade(&self.inner),
            topic,
            id,
        })
    }

    async fn publish(&self, topic: &Topic, delivery: Delivery) -> Result<usize, RelayError> {
        let mut topics = lock(&self.inner.topics);
        let Some(subs) = topics.get_mut(topic) else {
            return Ok(0);
        };
        // A subscriber that refuses (gone, or just overflowed) is dropped
        // here; its connection notices on its own and cleans up.
        subs.retain(|(_, mailbox)| mailbox.deliver(delivery.clone()));
        let taken = subs.len();
        if subs.is_empty() {
            topics.remove(topic);
        }
        Ok(taken)
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#[path = "memory_tests.rs"]
mod tests;
