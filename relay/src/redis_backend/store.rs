//! [`RedisStore`]: the [`SessionStore`] steps as Lua scripts over the keys
//! that `mod.rs` lays out, and the renewal of their TTLs.
//!
//! Owns: the scripts and reading their answers; which sessions this relay
//! keeps alive (their renewal is `store/renew.rs`). Does not own: what the steps mean (`sessions.rs`) or the bus.
//!
//! A session's keys live as long as a relay that holds it keeps renewing
//! them: the relay serving its visitor, or watching its grace window while
//! the visitor is away (a resume on another relay makes that one a holder
//! too; the watcher lets go once it sees the visitor back). If every holder
//! dies, the keys expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::Script;
use protocol::{AgentId, JoinCode, Mode, SessionId};
use rand::Rng;

use super::claims::Claims;
use super::{agents_key, away_key, code_key, invoke, names_key, query, session_key, PREFIX};
use crate::memory::new_session_id;
use crate::replay::redis::RedisReplay;
use crate::resources::redis::RedisResources;
use crate::resume::ResumeToken;
use crate::sessions::{
    AgentState, Attachment, Away, ConsentOutcome, Expiry, JoinedSession, Leaving, ModeChange,
    NewSession, Resumed, Resumption, SessionStore, Watching,
};
use crate::RelayError;

mod invitations;
mod renew;

/// Draws before giving up, as in the memory store.
const CODE_ATTEMPTS: usize = 64;
/// Fresh-code candidates sent with each join (a million codes: eight all
/// taken means the relay is nearly full anyway).
const FRESH_CANDIDATES: usize = 8;

const PENDING: &str = "pending";
const ADMITTED: &str = "admitted";
const VIEW: &str = "view";
const SHARED: &str = "shared";

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::ViewOnly => VIEW,
        Mode::Shared => SHARED,
    }
}

fn parse_mode(text: &str) -> Result<Mode, RelayError> {
    match text {
        VIEW => Ok(Mode::ViewOnly),
        SHARED => Ok(Mode::Shared),
        other => Err(unexpected("agent mode", &[other.to_owned()])),
    }
}

/// An agents-hash entry, `{state}:{mode}`.
fn parse_entry(entry: &str) -> Result<(AgentState, Mode), RelayError> {
    let (state, mode) = entry
        .split_once(':')
        .ok_or_else(|| unexpected("agent entry", &[entry.to_owned()]))?;
    let state = match state {
        PENDING => AgentState::Pending,
        ADMITTED => AgentState::Admitted,
        other => return Err(unexpected("agent state", &[other.to_owned()])),
    };
    Ok((state, parse_mode(mode)?))
}

/// Sessions in a Redis shared with other relays. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
    resources: RedisResources,
    replay: RedisReplay,
    origins: super::RedisOrigins,
}

struct Inner {
    conn: ConnectionManager,
    ttl: Duration,
    scripts: Scripts,
    /// Sessions held here (created or resumed here, or watched in their
    /// grace window) and not ended, with how many holders: the ones to renew.
    live: Mutex<HashMap<SessionId, u32>>,
    /// Agents' one-session claims held by this relay's connections.
    claims: Claims,
}

struct Scripts {
    create: Script,
    join: Script,
    consent: Script,
    set_mode: Script,
    end: Script,
    renew: Script,
    name: Script,
    away: Script,
    resume: Script,
    expire: Script,
}

/// A poisoned lock only means a panic elsewhere; the set is still sound.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RedisStore {
    /// Must be called inside a tokio runtime: it starts the renewing task,
    /// which stops once the last clone of the store is dropped.
    pub(crate) fn new(conn: ConnectionManager, ttl: Duration) -> Self {
        let resources = RedisResources::new(conn.clone(), ttl.max(Duration::from_millis(30)));
        let replay = RedisReplay::new(conn.clone(), ttl.max(Duration::from_millis(30)));
        let origins = super::RedisOrigins::new(conn.clone(), ttl.max(Duration::from_millis(30)));
        let inner = Arc::new(Inner {
            conn,
            // Below a few ms the keys could expire between two renewals.
            ttl: ttl.max(Duration::from_millis(30)),
            scripts: Scripts {
                create: Script::new(include_str!("lua/create.lua")),
                join: Script::new(include_str!("lua/join.lua")),
                consent: Script::new(include_str!("lua/consent.lua")),
                set_mode: Script::new(include_str!("lua/set_mode.lua")),
                end: Script::new(include_str!("lua/end.lua")),
                renew: Script::new(include_str!("lua/renew.lua")),
                name: Script::new(include_str!("lua/name.lua")),
                away: Script::new(include_str!("lua/away.lua")),
                resume: Script::new(include_str!("lua/resume.lua")),
                expire: Script::new(include_str!("lua/expire.lua")),
            },
            live: Mutex::new(HashMap::new()),
            claims: Claims::new(),
        });
        tokio::spawn(renew::renew_loop(Arc::downgrade(&inner), inner.ttl / 3));
        RedisStore {
            inner,
            resources,
            replay,
            origins,
        }
    }

    /// Sessions this relay keeps alive, for tests and diagnostics.
    pub fn live_sessions(&self) -> usize {
        lock(&self.inner.live).len()
    }

    /// One agent's entry, parsed; `None` once it is gone.
    async fn entry(
        &self,
        session: &SessionId,
        agent: AgentId,
    ) -> Result<Option<(AgentState, Mode)>, RelayError> {
        let entry: Option<String> = query(
            &self.inner.conn,
            ::redis::cmd("HGET").arg(agents_key(session)).arg(agent.0),
        )
        .await?;
        entry.as_deref().map(parse_entry).transpose()
    }

    /// One more holder of `session` here.
    fn hold(&self, session: &SessionId) {
        *lock(&self.inner.live).entry(session.clone()).or_insert(0) += 1;
        self.resources.hold(session);
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.inner.ttl.as_millis()).unwrap_or(u64::MAX)
    }
}

impl SessionStore for RedisStore {
    type Resources = RedisResources;

    type Replay = RedisReplay;

    fn replay(&self) -> &RedisReplay {
        &self.replay
    }

    fn resources(&self) -> &RedisResources {
        &self.resources
    }

    type Origins = super::RedisOrigins;

    fn origins(&self) -> &super::RedisOrigins {
        &self.origins
    }

    async fn create(&self, page_url: String, code_ttl: Duration) -> Result<NewSession, RelayError> {
        for _ in 0..CODE_ATTEMPTS {
            let code = JoinCode::from_number(rand::rng().random_range(0..1_000_000))?;
            let session = new_session_id();
            let resume = ResumeToken::new(&session)
                .ok_or_else(|| RelayError::Internal("session id without a token".into()))?;
            let created: i64 = invoke(
                &self.inner.conn,
                self.inner
                    .scripts
                    .create
                    .key(code_key(&code))
                    .key(session_key(&session))
                    .arg(&session.0)
                    .arg(code.as_str())
                    .arg(&page_url)
                    .arg(self.ttl_ms())
                    .arg(millis(code_ttl))
                    .arg(resume.as_str()),
            )
            .await?;
            if created == 1 {
                lock(&self.inner.live).insert(session.clone(), 1);
                return Ok(NewSession {
                    session,
                    code,
                    resume,
                });
            }
        }
        Err(RelayError::Internal("no free join code".into()))
    }

    async fn join(
        &self,
        code: &JoinCode,
        mode: Mode,
        max_agents: usize,
        code_ttl: Duration,
    ) -> Result<JoinedSession, RelayError> {
        let mut join = self.inner.scripts.join.key(code_key(code));
        join.arg(PREFIX)
            .arg(max_agents)
            .arg(self.ttl_ms())
            .arg(millis(code_ttl))
            .arg(mode_name(mode));
        for code in &candidates()? {
            join.arg(code.as_str());
        }
        let answer: Vec<String> = invoke(&self.inner.conn, &join).await?;
        match answer.as_slice() {
            [ok, session, agent, page_url, fresh] if ok == "ok" => Ok(JoinedSession {
                session: SessionId(session.clone()),
                agent: parse_agent(agent)?,
                page_url: page_url.clone(),
                next_code: match fresh.as_str() {
                    "" => None,
                    code => Some(JoinCode::parse(code)?),
                },
            }),
            [full] if full == "full" => Err(RelayError::TooManyAgents { limit: max_agents }),
            [unknown] if unknown == "unknown" => Err(RelayError::UnknownCode),
            other => Err(unexpected("join", other)),
        }
    }

    async fn consent(
        &self,
        session: &SessionId,
        agent: AgentId,
        accepted: bool,
    ) -> Result<ConsentOutcome, RelayError> {
        let answer: Vec<String> = invoke(
            &self.inner.conn,
            self.inner
                .scripts
                .consent
                .key(session_key(session))
                .key(agents_key(session))
                .arg(agent.0)
                .arg(if accepted { "1" } else { "0" }),
        )
        .await?;
        let answer: Vec<&str> = answer.iter().map(String::as_str).collect();
        match answer.as_slice() {
            ["admitted", mode] => Ok(ConsentOutcome::Admitted(parse_mode(mode)?)),
            ["declined"] => Ok(ConsentOutcome::Declined),
            ["already"] => Ok(ConsentOutcome::AlreadyAdmitted),
            ["gone"] => Ok(ConsentOutcome::AgentGone),
            ["never"] => Err(RelayError::OutOfTurn(format!(
                "consent for agent {} which never joined this session",
                agent.0
            ))),
            other => Err(unexpected(
                "consent",
                &other.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            )),
        }
    }

    async fn set_mode(
        &self,
        session: &SessionId,
        agent: AgentId,
        mode: Mode,
    ) -> Result<ModeChange, RelayError> {
        let answer: String = invoke(
            &self.inner.conn,
            self.inner
                .scripts
                .set_mode
                .key(agents_key(session))
                .arg(agent.0)
                .arg(mode_name(mode)),
        )
        .await?;
        match answer.as_str() {
            "changed" => Ok(ModeChange::Changed),
            "unchanged" => Ok(ModeChange::Unchanged),
            "pending" => Ok(ModeChange::NotAdmitted),
            "gone" => Ok(ModeChange::Gone),
            other => Err(unexpected("set mode", &[other.to_owned()])),
        }
    }

    async fn agent_mode(
        &self,
        session: &SessionId,
        agent: AgentId,
    ) -> Result<Option<Mode>, RelayError> {
        Ok(self.entry(session, agent).await?.map(|(_, mode)| mode))
    }

    async fn agent_state(
        &self,
        session: &SessionId,
        agent: AgentId,
    ) -> Result<Option<AgentState>, RelayError> {
        Ok(self.entry(session, agent).await?.map(|(state, _)| state))
    }

    async fn remove_agent(&self, session: &SessionId, agent: AgentId) -> Result<bool, RelayError> {
        let removed: i64 = query(
            &self.inner.conn,
            ::redis::cmd("HDEL").arg(agents_key(session)).arg(agent.0),
        )
        .await?;
        Ok(removed > 0)
    }

    async fn name_agent(
        &self,
        session: &SessionId,
        agent: AgentId,
        name: &str,
    ) -> Result<(), RelayError> {
        let _: i64 = invoke(
            &self.inner.conn,
            self.inner
                .scripts
                .name
                .key(session_key(session))
                .key(names_key(session))
                .arg(agent.0)
                .arg(name)
                .arg(self.ttl_ms()),
        )
        .await?;
        Ok(())
    }

    async fn resume_token(&self, session: &SessionId) -> Result<Option<ResumeToken>, RelayError> {
        let token: Option<String> = query(
            &self.inner.conn,
            ::redis::cmd("HGET").arg(session_key(session)).arg("resume"),
        )
        .await?;
        Ok(token.map(ResumeToken::from_stored))
    }

    async fn visitor_away(
        &self,
        session: &SessionId,
        grace: Duration,
        attachment: Attachment,
    ) -> Result<Leaving, RelayError> {
        let answer: Vec<String> = invoke(
            &self.inner.conn,
            self.inner
                .scripts
                .away
                .key(session_key(session))
                .key(agents_key(session))
                .key(away_key(session))
                .arg(millis(grace))
                .arg(attachment.0),
        )
        .await?;
        let Some((first, entries)) = answer.split_first() else {
            return Err(unexpected("visitor away", &answer));
        };
        match first.as_str() {
            "gone" => return Ok(Leaving::Gone),
            "superseded" => return Ok(Leaving::Superseded),
            "ok" => {}
            _ => return Err(unexpected("visitor away", &answer)),
        }
        let mut away = Away::default();
        for entry in entries {
            match entry.split_at_checked(1) {
                Some(("a", id)) => away.admitted.push(parse_agent(id)?),
                Some(("p", id)) => away.dropped.push(parse_agent(id)?),
                _ => return Err(unexpected("visitor away", &answer)),
            }
        }
        Ok(Leaving::Away(away))
    }

    async fn resume(
        &self,
        token: &ResumeToken,
        code_ttl: Duration,
    ) -> Result<Resumption, RelayError> {
        let Some(session) = token.session() else {
            return Ok(Resumption::Unknown);
        };
        // Compared here, in constant time, not in the script.
        match self.resume_token(&session).await? {
            Some(stored) if token.matches(&stored) => {}
            _ => return Ok(Resumption::Unknown),
        }
        let mut resume = self.inner.scripts.resume.key(session_key(&session));
        resume
            .key(agents_key(&session))
            .key(names_key(&session))
            .key(away_key(&session))
            .arg(PREFIX)
            .arg(&session.0)
            .arg(millis(code_ttl));
        for code in &candidates()? {
            resume.arg(code.as_str());
        }
        let answer: Vec<String> = invoke(&self.inner.conn, &resume).await?;
        let (attachment, took_over, code, agents) = match answer.as_slice() {
            [unknown] if unknown == "unknown" => return Ok(Resumption::Unknown),
            [ok, attachment, took_over, code, agents @ ..]
                if ok == "ok" && agents.len() % 3 == 0 =>
            {
                let attachment = attachment
                    .parse()
                    .map_err(|_| unexpected("resume", &answer))?;
                (Attachment(attachment), took_over == "1", code, agents)
            }
            other => return Err(unexpected("resume", other)),
        };
        let agents = agents
            .chunks_exact(3)
            .map(|w| {
                Ok(Watching {
                    agent: parse_agent(&w[0])?,
                    mode: parse_mode(&w[1])?,
                    name: (!w[2].is_empty()).then(|| w[2].clone()),
                })
            })
            .collect::<Result<Vec<_>, RelayError>>()?;
        let mut agents = agents;
        agents.sort_unstable_by_key(|w| w.agent);
        // This relay now serves the visitor: it keeps the keys alive.
        self.hold(&session);
        Ok(Resumption::Resumed(Resumed {
            session,
            attachment,
            took_over,
            code: match code.as_str() {
                "" => None,
                code => Some(JoinCode::parse(code)?),
            },
            agents,
        }))
    }

    async fn expire(&self, session: &SessionId) -> Result<Expiry, RelayError> {
        let answer: Vec<String> = invoke(
            &self.inner.conn,
            self.inner
                .scripts
                .expire
                .key(session_key(session))
                .key(agents_key(session))
                .key(names_key(session))
                .key(away_key(session))
                .arg(PREFIX)
                .arg(&session.0),
        )
        .await?;
        let Some((first, rest)) = answer.split_first() else {
            return Err(unexpected("expire", &answer));
        };
        match (first.as_str(), rest) {
            ("gone", []) => Ok(Expiry::Gone),
            ("back", []) => Ok(Expiry::Back),
            ("waiting", [ms]) => ms
                .parse()
                .map(|ms| Expiry::Waiting(Duration::from_millis(ms)))
                .map_err(|_| unexpected("expire", &answer)),
            ("ended", agents) => {
                lock(&self.inner.live).remove(session);
                self.resources.let_go_all(session);
                let mut agents = agents
                    .iter()
                    .map(|a| parse_agent(a))
                    .collect::<Result<Vec<_>, _>>()?;
                agents.sort_unstable();
                Ok(Expiry::Ended(agents))
            }
            _ => Err(unexpected("expire", &answer)),
        }
    }

    fn release(&self, session: &SessionId) {
        let mut live = lock(&self.inner.live);
        if let Some(count) = live.get_mut(session) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                live.remove(session);
            }
        }
        drop(live);
        self.resources.let_go(session);
    }

    async fn claim_agent(&self, who: &str, holder: &str) -> Result<bool, RelayError> {
        let inner = &self.inner;
        inner
            .claims
            .claim(&inner.conn, who, holder, self.ttl_ms())
            .await
    }

    async fn hand_over_agent(
        &self,
        who: &str,
        from: &str,
        holder: &str,
    ) -> Result<bool, RelayError> {
        let inner = &self.inner;
        inner
            .claims
            .hand_over(&inner.conn, who, from, holder, self.ttl_ms())
            .await
    }

    async fn release_agent(&self, who: &str, holder: &str) -> Result<(), RelayError> {
        let inner = &self.inner;
        inner.claims.release(&inner.conn, who, holder).await
    }

    async fn end(&self, session: &SessionId) -> Result<Vec<AgentId>, RelayError> {
        // Stop renewing first: even if Redis is unreachable now, the keys
        // then expire on their own.
        lock(&self.inner.live).remove(session);
        let agents: Vec<String> = invoke(
            &self.inner.conn,
            self.inner
                .scripts
                .end
                .key(session_key(session))
                .key(agents_key(session))
                .key(names_key(session))
                .key(away_key(session))
                .arg(PREFIX)
                .arg(&session.0),
        )
        .await?;
        let mut agents = agents
            .iter()
            .map(|a| parse_agent(a))
            .collect::<Result<Vec<_>, _>>()?;
        agents.sort_unstable();
        Ok(agents)
    }
}

/// Candidates for a session's fresh code, drawn here (scripts must be
/// deterministic); a script takes the first that is free.
fn candidates() -> Result<Vec<JoinCode>, RelayError> {
    let mut rng = rand::rng();
    (0..FRESH_CANDIDATES)
        .map(|_| JoinCode::from_number(rng.random_range(0..1_000_000)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(RelayError::from)
}

fn millis(d: Duration) -> u64 {
    // At least 1: Redis refuses a zero expiry.
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn parse_agent(text: &str) -> Result<AgentId, RelayError> {
    text.parse()
        .map(AgentId)
        .map_err(|_| unexpected("agent id", &[text.to_owned()]))
}

/// Something in Redis that this relay did not write: another program's key
/// under our prefix, or a relay of another version.
fn unexpected(step: &str, answer: &[String]) -> RelayError {
    RelayError::Backend(format!("unexpected answer to {step}: {answer:?}"))
}
