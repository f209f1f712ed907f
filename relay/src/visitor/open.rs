//! Attaching a visitor's connection to its session: a new session, one an
//! agent invited, or one the visitor continues with its resume token.
//!
//! Owns: creating or resuming the session record, opening its resources,
//! subscribing the visitor and the welcome. Does not own: what happens once
//! the visitor is in (`live.rs`) or how the session ends (`mod.rs`).

use protocol::{
    AgentId, EndReason, MaskRules, ResourcePolicy, SessionId, ToVisitor, WatchingAgent,
};

use super::end_session;
use crate::bus::{Bus, Delivery, Topic};
use crate::connection::Conn;
use crate::invitations::{self, InvitationSecret};
use crate::metrics::{GaugeGuard, ResumeRefusal};
use crate::origins::{self, OriginKey, OriginSlots};
use crate::replay::ReplayStore;
use crate::resources::store::{Grant, ResourceStore};
use crate::resume::{self, ResumeToken};
use crate::scale_metrics::Limited;
use crate::server::App;
use crate::sessions::{Attachment, NewSession, Resumption, SessionStore};
use crate::takeover::{self, Tenure};
use crate::RelayError;

/// A visitor's connection attached to its session.
pub(super) struct Open<Sub> {
    pub(super) session: SessionId,
    pub(super) grant: Grant,
    pub(super) subscription: Sub,
    /// Agents the events go to from the start (a resumed session's).
    pub(super) admitted: Vec<AgentId>,
    pub(super) gauge: GaugeGuard,
}

/// A new session: created, its resources opened, the visitor subscribed and
/// welcomed.
pub(super) async fn open_session<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    conn: &Conn,
    tenure: &Tenure,
    (page_url, policy): (String, ResourcePolicy),
    (masking, origin): (MaskRules, &OriginKey),
) -> Result<Open<B::Subscription>, RelayError> {
    let created = app
        .store
        .create(page_url, app.config.limits.code_ttl)
        .await?;
    origins::take_slot(app, origin, &created.session).await?;
    attach_new(app, conn, tenure, created, policy, masking).await
}

/// A page taking an agent's invitation up: the session is created under
/// the invitation's code and the waiting inviter is woken (it joins as any
/// agent does, so the visitor is asked first). An unknown, used or expired
/// invitation is refused and counted like a wrong code: never a session.
pub(super) async fn open_invited<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    conn: &Conn,
    tenure: &Tenure,
    presented: &str,
    (page_url, policy): (String, ResourcePolicy),
    (masking, origin): (MaskRules, &OriginKey),
) -> Result<Open<B::Subscription>, RelayError> {
    let ip = conn.peer().ip();
    if let Err(err) = app.guesses.check_addr(ip) {
        app.metrics.scale.rate_limited(Limited::JoinCodes);
        return Err(err);
    }
    let taken = match InvitationSecret::parse(presented) {
        Some(secret) => app.store.take_invitation(&secret, page_url).await?,
        None => None,
    };
    let Some((created, invited)) = taken else {
        app.guesses.miss_addr(ip);
        tracing::info!(peer = %conn.peer(), "visitor presented an invitation that is not open");
        return Err(RelayError::InvitationRefused);
    };
    // The inviter keeps waiting if the origin is full: the invitation is
    // used, the page is told why.
    origins::take_slot(app, origin, &created.session).await?;
    let open = attach_new(app, conn, tenure, created, policy, masking).await?;
    // After the visitor is subscribed, so the inviter's join is heard.
    invitations::wake_inviter(&app.bus, &invited.session).await;
    Ok(open)
}

/// A session just created: its resources opened, the visitor subscribed
/// and welcomed.
async fn attach_new<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    conn: &Conn,
    tenure: &Tenure,
    created: NewSession,
    policy: ResourcePolicy,
    masking: MaskRules,
) -> Result<Open<B::Subscription>, RelayError> {
    let session = created.session.clone();
    // Nobody knows the session's token before the Welcome below.
    tenure.begin(Attachment::FIRST);
    let attached = async {
        let grant = app
            .resources
            .open(app.store.resources(), &session, policy)
            .await?;
        let subscription = app
            .bus
            .subscribe(Topic::Visitor(session.clone()), conn.mailbox())
            .await?;
        Ok::<_, RelayError>((grant, subscription))
    };
    let (grant, subscription) = match attached.await {
        Ok(attached) => attached,
        Err(err) => {
            end_session(app, &session, EndReason::Error).await;
            return Err(err);
        }
    };
    conn.send(Delivery::Visitor(ToVisitor::Welcome {
        session: created.session,
        code: created.code,
        upload_token: grant.token.0.clone(),
        resume_token: created.resume.into_string(),
        resume_secs: resume::grace_secs(app.config.limits.resume_grace),
        masking,
    }));
    let gauge = app.metrics.session_started();
    tracing::info!(%session, peer = %conn.peer(), "visitor session started");
    Ok(Open {
        session,
        grant,
        subscription,
        admitted: Vec::new(),
        gauge,
    })
}

/// A visitor's next page continues its session: checked, re-attached
/// (taking it over from an older connection still attached: the newer page
/// wins), welcomed with the same secrets, told who is watching. Never
/// creates a session.
pub(super) async fn continue_session<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    conn: &Conn,
    tenure: &Tenure,
    presented: &str,
    masking: MaskRules,
    origin: &OriginKey,
) -> Result<Open<B::Subscription>, RelayError> {
    let limits = &app.config.limits;
    let peer = conn.peer();
    let ended = RelayError::ResumeRefused;
    if let Err(err) = app.resume_guesses.check_addr(peer.ip()) {
        app.metrics.resume_refused(ResumeRefusal::RateLimited);
        app.metrics.scale.rate_limited(Limited::ResumeFailures);
        return Err(err);
    }
    let refuse = |reason: ResumeRefusal| {
        app.metrics.resume_refused(reason);
        if reason == ResumeRefusal::Unknown {
            app.resume_guesses.miss_addr(peer.ip());
        }
        tracing::info!(%peer, reason = reason.label(), "resume refused");
        RelayError::ResumeRefused
    };
    if limits.resume_grace.is_zero() {
        app.metrics.resume_refused(ResumeRefusal::Unknown);
        return Err(ended);
    }
    let token = ResumeToken::parse(presented);
    let (Some(token), Some(session)) = (token.clone(), token.and_then(|t| t.session())) else {
        return Err(refuse(ResumeRefusal::Unknown));
    };
    // The token is checked before this connection hears anything meant for
    // the session's visitor.
    let stored = app.store.resume_token(&session).await?;
    if !stored.is_some_and(|stored| token.matches(&stored)) {
        return Err(refuse(ResumeRefusal::Unknown));
    }
    // Subscribed before re-attaching, so nothing published to the visitor
    // once the session is attached again is missed.
    let subscription = app
        .bus
        .subscribe(Topic::Visitor(session.clone()), conn.mailbox())
        .await?;
    let resumed = match app.store.resume(&token, limits.code_ttl).await? {
        Resumption::Resumed(resumed) => resumed,
        Resumption::Unknown => return Err(refuse(ResumeRefusal::Unknown)),
    };
    // Before the announcement, which this connection hears too.
    tenure.begin(resumed.attachment);
    // The session holds its origin's slot already (a resume is never
    // refused for it); this relay only learns which, to free it at the end.
    app.store.origins().note(origin, &session);
    if resumed.took_over {
        // An older connection (a dead socket the relay has not noticed
        // yet, or another copy of the page) is still attached: it goes,
        // the session and its agents stay.
        takeover::announce(&app.bus, &session, resumed.attachment).await;
        app.metrics.session_taken_over();
    }
    let grant = match app.store.resources().grant(&session).await {
        Ok(Some(grant)) => grant,
        Ok(None) => {
            end_session(app, &session, EndReason::Error).await;
            return Err(RelayError::Internal(
                "resumed session without resources".into(),
            ));
        }
        Err(err) => {
            end_session(app, &session, EndReason::Error).await;
            return Err(err);
        }
    };
    let Some(code) = resumed.code else {
        end_session(app, &session, EndReason::Error).await;
        return Err(RelayError::Internal("no free join code".into()));
    };
    conn.send(Delivery::Visitor(ToVisitor::Welcome {
        session: session.clone(),
        code,
        upload_token: grant.token.0.clone(),
        resume_token: token.into_string(),
        resume_secs: resume::grace_secs(limits.resume_grace),
        masking: masking.clone(),
    }));
    let agents = resumed
        .agents
        .iter()
        .map(|w| WatchingAgent {
            agent: w.agent,
            name: w
                .name
                .clone()
                .unwrap_or_else(|| format!("Agent {}", w.agent.0)),
            mode: w.mode,
        })
        .collect();
    // A page that is still the one that sent the events resends what the
    // relay lacks after this; a new page numbers its snapshot after it.
    let last_seq = match app.store.replay().last_seq(&session).await {
        Ok(last) => last,
        Err(err) => {
            end_session(app, &session, EndReason::Error).await;
            return Err(err);
        }
    };
    conn.send(Delivery::Visitor(ToVisitor::Resumed {
        agents,
        masking,
        last_seq,
    }));
    let gauge = app.metrics.session_resumed();
    tracing::info!(%session, %peer, agents = resumed.agents.len(), took_over = resumed.took_over, "visitor session resumed");
    Ok(Open {
        session,
        grant,
        subscription,
        admitted: resumed.agents.iter().map(|w| w.agent).collect(),
        gauge,
    })
}
