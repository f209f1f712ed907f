//! The in-process [`InvitationStore`]: open invitations beside the sessions
//! they become, under the same lock, so reserving a code, taking an
//! invitation and creating its session are each one step.
//!
//! Owns: the invitation maps. Does not own: what an invitation means
//! (`invitations.rs`) or the sessions (`memory.rs`).
//!
//! Expired invitations are dropped lazily, whenever the maps are touched; an
//! expired one admits nobody meanwhile.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use protocol::{JoinCode, Mode, SessionId};
use tokio::time::Instant;

use super::{lock, new_session_id, MemoryStore, Presence, Session, Sessions};
use crate::invitations::{
    Cancelled, Invitation, InvitationDigest, InvitationSecret, InvitationStore, Invited, Inviter,
};
use crate::resume::ResumeToken;
use crate::sessions::{Attachment, NewSession};
use crate::RelayError;

#[derive(Debug, Default)]
pub(super) struct Invitations {
    by_digest: HashMap<InvitationDigest, Open>,
    by_code: HashMap<JoinCode, InvitationDigest>,
    by_inviter: HashMap<Inviter, InvitationDigest>,
}

#[derive(Debug, Clone)]
struct Open {
    inviter: Inviter,
    code: JoinCode,
    session: SessionId,
    mode: Mode,
    taken: bool,
    until: Instant,
}

impl Open {
    fn invited(&self, digest: &InvitationDigest, now: Instant) -> Invited {
        Invited {
            digest: digest.clone(),
            inviter: self.inviter.clone(),
            code: self.code.clone(),
            session: self.session.clone(),
            mode: self.mode,
            taken: self.taken,
            expires_in: self.until.saturating_duration_since(now),
        }
    }
}

impl Invitations {
    fn remove(&mut self, digest: &InvitationDigest) -> Option<Open> {
        let open = self.by_digest.remove(digest)?;
        if self.by_code.get(&open.code) == Some(digest) {
            self.by_code.remove(&open.code);
        }
        if self.by_inviter.get(&open.inviter) == Some(digest) {
            self.by_inviter.remove(&open.inviter);
        }
        Some(open)
    }
}

impl Sessions {
    /// Drops invitations that expired, and taken ones whose session ended
    /// before the inviter joined it (they must not keep the inviter from
    /// inviting again).
    fn prune_invitations(&mut self, now: Instant) {
        let stale: Vec<InvitationDigest> = self
            .invitations
            .by_digest
            .iter()
            .filter(|(_, o)| o.until <= now || (o.taken && !self.by_id.contains_key(&o.session)))
            .map(|(d, _)| d.clone())
            .collect();
        for digest in stale {
            self.invitations.remove(&digest);
        }
    }
}

impl InvitationStore for MemoryStore {
    async fn invite(
        &self,
        inviter: &Inviter,
        claim: Option<&str>,
        mode: Mode,
        ttl: Duration,
    ) -> Result<Invitation, RelayError> {
        // The claim map's lock first, then the sessions', as nowhere else
        // holds both.
        let busy = claim.is_some_and(|who| lock(&self.busy).contains_key(who));
        let mut sessions = lock(&self.inner);
        let now = Instant::now();
        sessions.prune_invitations(now);
        if busy || sessions.invitations.by_inviter.contains_key(inviter) {
            return Err(RelayError::InvitationBusy);
        }
        let session = new_session_id();
        let code = sessions
            .issue_code(&session, ttl)
            .ok_or_else(|| RelayError::Internal("no free join code".into()))?;
        let secret = InvitationSecret::new();
        let digest = secret.digest();
        let invitations = &mut sessions.invitations;
        invitations.by_code.insert(code.clone(), digest.clone());
        invitations
            .by_inviter
            .insert(inviter.clone(), digest.clone());
        invitations.by_digest.insert(
            digest,
            Open {
                inviter: inviter.clone(),
                code: code.clone(),
                session: session.clone(),
                mode,
                taken: false,
                until: now + ttl,
            },
        );
        Ok(Invitation {
            secret,
            code,
            session,
            expires_in: ttl,
        })
    }

    async fn invitation_for_code(&self, code: &JoinCode) -> Result<Option<Invited>, RelayError> {
        let mut sessions = lock(&self.inner);
        let now = Instant::now();
        sessions.prune_invitations(now);
        let invitations = &sessions.invitations;
        Ok(invitations
            .by_code
            .get(code)
            .and_then(|d| invitations.by_digest.get(d).map(|o| o.invited(d, now))))
    }

    async fn take_invitation(
        &self,
        secret: &InvitationSecret,
        page_url: String,
    ) -> Result<Option<(NewSession, Invited)>, RelayError> {
        let mut guard = lock(&self.inner);
        let sessions = &mut *guard;
        let now = Instant::now();
        sessions.prune_invitations(now);
        let digest = secret.digest();
        let Some(open) = sessions.invitations.by_digest.get_mut(&digest) else {
            return Ok(None);
        };
        // The code must still name the reserved session.
        let reserved = sessions
            .by_code
            .get(&open.code)
            .is_some_and(|(s, until)| *s == open.session && *until > now);
        if open.taken || !reserved {
            return Ok(None);
        }
        open.taken = true;
        let invited = open.invited(&digest, now);
        let resume = ResumeToken::new(&invited.session)
            .ok_or_else(|| RelayError::Internal("session id without a token".into()))?;
        sessions.by_id.insert(
            invited.session.clone(),
            Session {
                code: Some(invited.code.clone()),
                page_url,
                last_agent: 0,
                agents: BTreeMap::new(),
                resume: resume.clone(),
                visitor: Presence::Here,
                attachment: Attachment::FIRST,
            },
        );
        let created = NewSession {
            session: invited.session.clone(),
            code: invited.code.clone(),
            resume,
        };
        Ok(Some((created, invited)))
    }

    async fn close_invitation(&self, invited: &Invited) -> Result<(), RelayError> {
        lock(&self.inner).invitations.remove(&invited.digest);
        Ok(())
    }

    async fn cancel_invitation(
        &self,
        inviter: &Inviter,
        secret: &InvitationSecret,
    ) -> Result<Cancelled, RelayError> {
        let mut sessions = lock(&self.inner);
        sessions.prune_invitations(Instant::now());
        let digest = secret.digest();
        let owned = sessions
            .invitations
            .by_digest
            .get(&digest)
            .is_some_and(|o| &o.inviter == inviter);
        if !owned {
            return Ok(Cancelled::Unknown);
        }
        let Some(open) = sessions.invitations.remove(&digest) else {
            return Ok(Cancelled::Unknown);
        };
        // An untaken invitation's code goes back to the pool; a taken one
        // is its session's code now.
        if !open.taken
            && sessions
                .by_code
                .get(&open.code)
                .is_some_and(|(s, _)| *s == open.session)
        {
            sessions.by_code.remove(&open.code);
        }
        Ok(Cancelled::Cancelled {
            session: open.session,
            taken: open.taken,
        })
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::sessions::SessionStore;

    const TTL: Duration = Duration::from_secs(60);

    fn ann() -> Inviter {
        Inviter("sub:ann".into())
    }

    #[tokio::test]
    async fn one_open_invitation_per_inviter_and_none_while_in_a_session() {
        let store = MemoryStore::new();
        store
            .invite(&ann(), Some("ann"), Mode::ViewOnly, TTL)
            .await
            .expect("first");
        let second = store.invite(&ann(), Some("ann"), Mode::ViewOnly, TTL).await;
        assert!(matches!(second, Err(RelayError::InvitationBusy)));
        let bob = Inviter("sub:bob".into());
        assert!(store.claim_agent("bob", "h").await.expect("claim"));
        let busy = store.invite(&bob, Some("bob"), Mode::ViewOnly, TTL).await;
        assert!(matches!(busy, Err(RelayError::InvitationBusy)));
    }

    #[tokio::test]
    async fn the_code_is_reserved_but_joins_nothing_until_the_visitor_takes_it() {
        let store = MemoryStore::new();
        let inv = store
            .invite(&ann(), None, Mode::Shared, TTL)
            .await
            .expect("invite");
        let early = store.join(&inv.code, Mode::ViewOnly, 8, TTL).await;
        assert!(matches!(early, Err(RelayError::UnknownCode)));
        let found = store
            .invitation_for_code(&inv.code)
            .await
            .expect("ok")
            .expect("found");
        assert!(!found.taken);
        assert_eq!(found.mode, Mode::Shared);
        let (created, invited) = store
            .take_invitation(&inv.secret, "https://shop.example/".into())
            .await
            .expect("ok")
            .expect("taken");
        assert_eq!(created.code, inv.code);
        assert_eq!(created.session, inv.session);
        assert!(invited.taken);
        let again = store
            .take_invitation(&inv.secret, "x".into())
            .await
            .expect("ok");
        assert!(again.is_none(), "an invitation starts one session");
        let joined = store
            .join(&inv.code, Mode::Shared, 8, TTL)
            .await
            .expect("join");
        assert_eq!(joined.session, inv.session);
        store.close_invitation(&invited).await.expect("close");
        store
            .invite(&ann(), None, Mode::ViewOnly, TTL)
            .await
            .expect("may invite again");
    }

    #[tokio::test]
    async fn cancelled_and_expired_invitations_are_refused() {
        tokio::time::pause();
        let store = MemoryStore::new();
        let inv = store
            .invite(&ann(), None, Mode::ViewOnly, TTL)
            .await
            .expect("invite");
        let stranger = Inviter("sub:eve".into());
        assert_eq!(
            store
                .cancel_invitation(&stranger, &inv.secret)
                .await
                .expect("ok"),
            Cancelled::Unknown
        );
        assert_eq!(
            store
                .cancel_invitation(&ann(), &inv.secret)
                .await
                .expect("ok"),
            Cancelled::Cancelled {
                session: inv.session.clone(),
                taken: false
            }
        );
        assert!(store
            .take_invitation(&inv.secret, "x".into())
            .await
            .expect("ok")
            .is_none());
        let inv = store
            .invite(&ann(), None, Mode::ViewOnly, TTL)
            .await
            .expect("again");
        tokio::time::advance(TTL + Duration::from_secs(1)).await;
        assert!(store
            .take_invitation(&inv.secret, "x".into())
            .await
            .expect("ok")
            .is_none());
        assert!(store
            .invitation_for_code(&inv.code)
            .await
            .expect("ok")
            .is_none());
        store
            .invite(&ann(), None, Mode::ViewOnly, TTL)
            .await
            .expect("expiry frees the inviter");
    }

    #[tokio::test]
    async fn a_session_that_ended_before_the_inviter_joined_frees_the_inviter() {
        let store = MemoryStore::new();
        let inv = store
            .invite(&ann(), None, Mode::ViewOnly, TTL)
            .await
            .expect("invite");
        store
            .take_invitation(&inv.secret, "x".into())
            .await
            .expect("ok")
            .expect("taken");
        store.end(&inv.session).await.expect("end");
        store
            .invite(&ann(), None, Mode::ViewOnly, TTL)
            .await
            .expect("free again");
    }
}
