//! Sessions that outlive the visitor's page: the resume token, the grace
//! window after the visitor's socket closes without `End`, and the watcher
//! that ends the session if nobody resumes it in time.
//!
//! Owns: [`ResumeToken`] (its form, its constant-time check), telling the
//! agents that the visitor is away, and the grace watcher. Does not own:
//! what the store keeps (`SessionStore::visitor_away`, `resume`, `expire`)
//! or the resuming visitor's connection (`visitor/`).
//!
//! # The token
//!
//! `base64url(session id (16 bytes) ‖ secret (24 bytes))`: the session id
//! inside lets a relay find the session without an index keyed by the
//! secret, and the 192-bit secret is compared in constant time with the one
//! stored with the session. The session id is no secret (agents see it).
//!
//! # The window across relays
//!
//! The store is the clock: in Redis the window is a key whose TTL is the
//! grace, so every relay agrees on when it is over. The relay the visitor
//! left watches it (checks at most every [`CHECK_EVERY`]) and ends the
//! session once it passed without a resume; `expire` is one atomic step,
//! so a resume racing the end either wins or is refused, never both.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use protocol::{AgentId, EndReason, SessionId, ToAgent};
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::bus::{Bus, Delivery, Topic};
use crate::server::App;
use crate::sessions::{Attachment, Expiry, Leaving, SessionStore};
use crate::shutdown::Shutdown;

/// Bytes of the secret part: 192 bits.
const SECRET_BYTES: usize = 24;
/// Bytes of the session id part (a session id is 32 hex digits).
const SESSION_BYTES: usize = 16;

/// The longest the watcher sleeps between two looks at the store, so the
/// waiting-sessions gauge follows a resume on another relay within this.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// A session's resume secret, as the visitor holds it. Never printed whole.
#[derive(Clone, PartialEq, Eq)]
pub struct ResumeToken(String);

impl fmt::Debug for ResumeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResumeToken(<redacted>)")
    }
}

impl ResumeToken {
    /// A fresh token for `session`; `None` if the id is not one this relay
    /// made (32 hex digits).
    pub fn new(session: &SessionId) -> Option<ResumeToken> {
        let id = hex16(&session.0)?;
        let mut bytes = [0u8; SESSION_BYTES + SECRET_BYTES];
        bytes[..SESSION_BYTES].copy_from_slice(&id);
        rand::rng().fill_bytes(&mut bytes[SESSION_BYTES..]);
        Some(ResumeToken(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// A token as a store keeps it (already checked once).
    pub fn from_stored(text: String) -> ResumeToken {
        ResumeToken(text)
    }

    /// What a visitor presented: `None` unless it has the token's form.
    pub fn parse(text: &str) -> Option<ResumeToken> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        (bytes.len() == SESSION_BYTES + SECRET_BYTES).then(|| ResumeToken(text.to_owned()))
    }

    /// The session this token names (whether it is that session's token is
    /// for [`ResumeToken::matches`] to say).
    pub fn session(&self) -> Option<SessionId> {
        let bytes = URL_SAFE_NO_PAD.decode(&self.0).ok()?;
        let id = bytes.get(..SESSION_BYTES)?;
        Some(SessionId(id.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// Constant-time equality with the token stored with the session.
    pub fn matches(&self, stored: &ResumeToken) -> bool {
        bool::from(self.0.as_bytes().ct_eq(stored.0.as_bytes()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn hex16(text: &str) -> Option<[u8; SESSION_BYTES]> {
    if text.len() != SESSION_BYTES * 2 {
        return None;
    }
    let mut out = [0u8; SESSION_BYTES];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The grace window as the wire carries it.
pub fn grace_secs(grace: Duration) -> u32 {
    u32::try_from(grace.as_secs()).unwrap_or(u32::MAX)
}

/// The visitor's socket (connection `attachment`) closed without `End` and
/// resuming is on: the session waits. Pending agents are told the session
/// ended (the next page does not know them), admitted ones that the visitor
/// is away; then the watcher runs until a resume or the end of the window.
/// A connection that a resume already took over changes nothing. Returns
/// `false` if the session could not be kept (it is then the caller's to
/// end).
pub async fn visitor_left<S: SessionStore, B: Bus>(
    app: &Arc<App<S, B>>,
    session: &SessionId,
    attachment: Attachment,
    shutdown: Shutdown,
) -> bool {
    let grace = app.config.limits.resume_grace;
    let away = match app.store.visitor_away(session, grace, attachment).await {
        Ok(Leaving::Away(away)) => away,
        Ok(Leaving::Gone) => return true, // already ended elsewhere: nothing to keep
        Ok(Leaving::Superseded) => {
            // The newer connection holds the session now.
            app.store.release(session);
            tracing::info!(%session, "taken-over visitor connection closed");
            return true;
        }
        Err(err) => {
            tracing::error!(%session, "could not keep the session for a resume: {err}");
            return false;
        }
    };
    let notice = Delivery::Agent(ToAgent::VisitorAway {
        grace_secs: grace_secs(grace),
    });
    tell(app, session, &away.admitted, notice).await;
    let ended = Delivery::Agent(ToAgent::Ended {
        reason: EndReason::VisitorDisconnected,
    });
    tell(app, session, &away.dropped, ended).await;
    tracing::info!(
        %session,
        admitted = away.admitted.len(),
        grace_secs = grace.as_secs(),
        "visitor away; session kept for a resume"
    );
    tokio::spawn(watch(Arc::clone(app), session.clone(), shutdown));
    true
}

async fn tell<S: SessionStore, B: Bus>(
    app: &App<S, B>,
    session: &SessionId,
    agents: &[AgentId],
    delivery: Delivery,
) {
    for &agent in agents {
        let topic = Topic::Agent(session.clone(), agent);
        if let Err(err) = app.bus.publish(&topic, delivery.clone()).await {
            tracing::error!(%session, agent = agent.0, "could not tell agent: {err}");
        }
    }
}

/// Waits out the session's grace window: ends it with `VisitorDisconnected`
/// once the window passed without a resume, stops when a visitor is back
/// (on any relay), and on shutdown ends it at once as a connected session
/// would end — unless the relay drained: then the session is left to the
/// other relays.
async fn watch<S: SessionStore, B: Bus>(
    app: Arc<App<S, B>>,
    session: SessionId,
    mut shutdown: Shutdown,
) {
    let _gauge = app.metrics.session_waiting();
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            () = shutdown.wait() => {
                if shutdown.is_draining() {
                    // Another relay resumes it, or (on the agents' relays)
                    // notices that its window passed: `liveness.rs`.
                    app.store.release(&session);
                } else {
                    crate::visitor::end_session(&app, &session, EndReason::RelayShutdown).await;
                }
                return;
            }
            () = tokio::time::sleep(wait) => {}
        }
        match app.store.expire(&session).await {
            Ok(Expiry::Waiting(left)) => wait = left.min(CHECK_EVERY),
            Ok(Expiry::Ended(agents)) => {
                tracing::info!(%session, "no resume within the grace window; session ended");
                crate::visitor::finish_ended(
                    &app,
                    &session,
                    agents,
                    EndReason::VisitorDisconnected,
                )
                .await;
                return;
            }
            Ok(Expiry::Back) => {
                app.store.release(&session);
                return;
            }
            Ok(Expiry::Gone) => {
                app.store.release(&session);
                return;
            }
            Err(err) => {
                tracing::error!(%session, "could not check the grace window: {err}");
                wait = CHECK_EVERY;
            }
        }
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::memory::new_session_id;

    #[test]
    fn tokens_name_their_session_and_compare_exactly() {
        let session = new_session_id();
        let token = ResumeToken::new(&session).expect("a relay-made id");
        assert_eq!(token.as_str().len(), 54, "40 bytes in base64url");
        assert!(token
            .as_str()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        let parsed = ResumeToken::parse(token.as_str()).expect("parses");
        assert_eq!(parsed.session(), Some(session.clone()));
        assert!(parsed.matches(&token));
        let other = ResumeToken::new(&session).expect("another");
        assert!(!other.matches(&token), "same session, other secret");
        assert!(!format!("{token:?}").contains(token.as_str()));
    }

    #[test]
    fn malformed_tokens_are_refused() {
        assert!(ResumeToken::parse("").is_none());
        assert!(ResumeToken::parse("not base64 !").is_none());
        assert!(ResumeToken::parse(&URL_SAFE_NO_PAD.encode([0u8; 39])).is_none());
        assert!(ResumeToken::new(&SessionId("short".into())).is_none());
    }
}
