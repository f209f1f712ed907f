//! The shared [`InvitationStore`]: invitations in Redis, so the agent may
//! wait on one relay while the visitor's page takes the invitation up on
//! another.
//!
//! Owns: the invitation keys and their scripts (`lua/invite*.lua`). Does
//! not own: what an invitation means (`invitations.rs`).
//!
//! | key | type | holds |
//! |---|---|---|
//! | `cobrowse:invite:{digest}` | hash | `inviter`, `code`, `session` (the id drawn for the session to come), `mode`, `taken` (`0`/`1`); TTL the code's |
//! | `cobrowse:invite:code:{code}` | string | the digest: which invitation a join code belongs to |
//! | `cobrowse:invite:by:{inviter}` | string | the digest of the inviter's one open invitation |
//!
//! The invitation's code is also a session code (`cobrowse:code:{code}` →
//! the session id), set with `NX` at invitation time so no visitor draws it;
//! until the visitor comes there is no session hash, so a join with it finds
//! nothing. `{digest}` is the SHA-256 of the secret: Redis never holds a
//! usable secret. All keys expire with the code (`code_ttl`); the session
//! the invitation becomes is renewed like any other.

use std::time::Duration;

use ::redis::Script;
use protocol::{JoinCode, Mode, SessionId};
use rand::Rng;

use super::super::claims::agent_key;
use super::{lock, millis, mode_name, parse_mode, unexpected, RedisStore, CODE_ATTEMPTS};
use crate::invitations::{
    Cancelled, Invitation, InvitationDigest, InvitationSecret, InvitationStore, Invited, Inviter,
};
use crate::memory::new_session_id;
use crate::redis_backend::{code_key, invoke, session_key, PREFIX};
use crate::resume::ResumeToken;
use crate::sessions::NewSession;
use crate::RelayError;

fn invite_key(digest: &InvitationDigest) -> String {
    format!("{PREFIX}invite:{}", digest.0)
}

fn invite_code_key(code: &JoinCode) -> String {
    format!("{PREFIX}invite:code:{code}")
}

fn inviter_key(inviter: &Inviter) -> String {
    format!("{PREFIX}invite:by:{}", inviter.0)
}

fn script(text: &'static str) -> Script {
    Script::new(text)
}

fn parse_found(answer: &[String]) -> Result<Option<Invited>, RelayError> {
    match answer {
        [] => Ok(None),
        [digest, inviter, code, session, mode, taken, pttl] => {
            let ms: i64 = pttl.parse().map_err(|_| unexpected("invitation", answer))?;
            // -1 (no expiry) cannot happen for keys this relay wrote; -2
            // (gone between the reads) cannot within one script.
            let expires_in = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
            Ok(Some(Invited {
                digest: InvitationDigest(digest.clone()),
                inviter: Inviter(inviter.clone()),
                code: JoinCode::parse(code)?,
                session: SessionId(session.clone()),
                mode: parse_mode(mode)?,
                taken: taken == "1",
                expires_in,
            }))
        }
        other => Err(unexpected("invitation", other)),
    }
}

impl RedisStore {
    async fn find(&self, key: String, by_code: bool) -> Result<Option<Invited>, RelayError> {
        let find = script(include_str!("../lua/invite_find.lua"));
        let answer: Vec<String> = invoke(
            &self.inner.conn,
            find.key(key)
                .arg(PREFIX)
                .arg(if by_code { "1" } else { "0" }),
        )
        .await?;
        parse_found(&answer)
    }

    async fn close(
        &self,
        digest: &InvitationDigest,
        inviter: &Inviter,
        cancelling: bool,
    ) -> Result<Vec<String>, RelayError> {
        let close = script(include_str!("../lua/invite_close.lua"));
        invoke(
            &self.inner.conn,
            close
                .key(invite_key(digest))
                .key(inviter_key(inviter))
                .arg(PREFIX)
                .arg(if cancelling { "1" } else { "0" })
                .arg(&inviter.0)
                .arg(&digest.0),
        )
        .await
    }
}

impl InvitationStore for RedisStore {
    async fn invite(
        &self,
        inviter: &Inviter,
        claim: Option<&str>,
        mode: Mode,
        ttl: Duration,
    ) -> Result<Invitation, RelayError> {
        let invite = script(include_str!("../lua/invite.lua"));
        let secret = InvitationSecret::new();
        let digest = secret.digest();
        for _ in 0..CODE_ATTEMPTS {
            let code = JoinCode::from_number(rand::rng().random_range(0..1_000_000))?;
            let session = new_session_id();
            let answer: String = invoke(
                &self.inner.conn,
                invite
                    .key(inviter_key(inviter))
                    .key(agent_key(claim.unwrap_or("")))
                    .key(code_key(&code))
                    .key(invite_code_key(&code))
                    .key(invite_key(&digest))
                    .arg(PREFIX)
                    .arg(&digest.0)
                    .arg(&inviter.0)
                    .arg(code.as_str())
                    .arg(&session.0)
                    .arg(mode_name(mode))
                    .arg(millis(ttl))
                    .arg(if claim.is_some() { "1" } else { "0" }),
            )
            .await?;
            match answer.as_str() {
                "ok" => {
                    return Ok(Invitation {
                        secret,
                        code,
                        session,
                        expires_in: ttl,
                    })
                }
                "busy" => return Err(RelayError::InvitationBusy),
                "taken" => continue,
                other => return Err(unexpected("invite", &[other.to_owned()])),
            }
        }
        Err(RelayError::Internal("no free join code".into()))
    }

    async fn invitation_for_code(&self, code: &JoinCode) -> Result<Option<Invited>, RelayError> {
        self.find(invite_code_key(code), true).await
    }

    async fn take_invitation(
        &self,
        secret: &InvitationSecret,
        page_url: String,
    ) -> Result<Option<(NewSession, Invited)>, RelayError> {
        let digest = secret.digest();
        let Some(mut invited) = self.find(invite_key(&digest), false).await? else {
            return Ok(None);
        };
        if invited.taken {
            return Ok(None);
        }
        let session = invited.session.clone();
        let resume = ResumeToken::new(&session)
            .ok_or_else(|| RelayError::Internal("session id without a token".into()))?;
        let take = script(include_str!("../lua/invite_take.lua"));
        let taken: i64 = invoke(
            &self.inner.conn,
            take.key(invite_key(&digest))
                .key(code_key(&invited.code))
                .key(session_key(&session))
                .arg(&session.0)
                .arg(&page_url)
                .arg(self.ttl_ms())
                .arg(resume.as_str()),
        )
        .await?;
        if taken != 1 {
            return Ok(None);
        }
        // Kept alive from here like a session created on this relay.
        lock(&self.inner.live).insert(session.clone(), 1);
        invited.taken = true;
        let created = NewSession {
            session,
            code: invited.code.clone(),
            resume,
        };
        Ok(Some((created, invited)))
    }

    async fn close_invitation(&self, invited: &Invited) -> Result<(), RelayError> {
        self.close(&invited.digest, &invited.inviter, false).await?;
        Ok(())
    }

    async fn cancel_invitation(
        &self,
        inviter: &Inviter,
        secret: &InvitationSecret,
    ) -> Result<Cancelled, RelayError> {
        let answer = self.close(&secret.digest(), inviter, true).await?;
        match answer.as_slice() {
            [] => Ok(Cancelled::Unknown),
            [session, taken] => Ok(Cancelled::Cancelled {
                session: SessionId(session.clone()),
                taken: taken == "1",
            }),
            other => Err(unexpected("cancel invitation", other)),
        }
    }
}
