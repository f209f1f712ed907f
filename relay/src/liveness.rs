//! An agent's relay keeps an eye on the agent's session in the store, so a
//! session whose visitor's relay died cannot leave its agents waiting for
//! an announcement that will never come.
//!
//! Owns: the periodic look and what it concludes. Does not own: the
//! session's grace window (`resume.rs` watches it from the visitor's relay;
//! this is the fallback when that relay is gone) or telling the agent
//! (`agent/` ends the connection with the reason returned here).
//!
//! Two ways a session can vanish unannounced: the visitor's relay was
//! killed (SIGKILL, a lost machine) and its session keys expired in Redis
//! once nobody renewed them; or that relay stopped after a drain while the
//! visitor was away, and the visitor never came back within the grace.
//! `SessionStore::expire` is one atomic step on any relay, so the first
//! relay to look ends a session whose window passed, and tells every agent.

use std::time::Duration;

use protocol::{EndReason, SessionId};

use crate::bus::Bus;
use crate::server::App;
use crate::sessions::{Expiry, SessionStore};

/// How often an agent's relay looks at the agent's session. Each look is
/// one store round trip per agent connection, so not too often; an agent
/// learns of a vanished session within this after the store did.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// One look at `session`: `Some(reason)` when this agent's connection should
/// end because the session vanished with nobody to announce it.
pub async fn check<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    session: &SessionId,
) -> Option<EndReason> {
    match app.store.expire(session).await {
        // The session's keys are gone: ended (its announcement is on the
        // way, and a second Ended is dropped by the closed writer) or
        // expired with its relay.
        Ok(Expiry::Gone) => {
            tracing::info!(%session, "agent's session vanished from the store; telling the agent");
            Some(EndReason::VisitorDisconnected)
        }
        Ok(Expiry::Ended(agents)) => {
            tracing::info!(%session, "no resume within the grace window (noticed by an agent's relay); session ended");
            crate::visitor::finish_ended(app, session, agents, EndReason::VisitorDisconnected)
                .await;
            Some(EndReason::VisitorDisconnected)
        }
        Ok(Expiry::Waiting(_) | Expiry::Back) => None,
        Err(err) => {
            // Redis trouble reaches the agent through the bus's own error.
            tracing::debug!(%session, "could not check the agent's session: {err}");
            None
        }
    }
}
