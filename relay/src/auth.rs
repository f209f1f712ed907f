//! Who may join a session as an agent.
//!
//! Owns: checking the token of an agent's hello and naming the agent. Does not
//! own: the signed-token format (`token.rs`), join codes (`sessions.rs`) or
//! the visitor's consent, which an agent needs on top of a valid token.
//!
//! Two schemes, either or both configured: signed tokens (the integrator's
//! secret, for production) and one shared development token (only with
//! `--dev-agent-token`). The rest of the relay only sees [`AgentIdentity`].

use std::fmt;

use protocol::AgentId;
use subtle::ConstantTimeEq;

use crate::token::{self, AgentSecret};
use crate::RelayError;

/// How agents authenticate. The default accepts nobody.
#[derive(Clone, Default)]
pub struct AgentAuth {
    /// `--dev-agent-token`. Development only.
    dev: Option<String>,
    /// `agent_secret` / `--agent-secret-file`: signed tokens.
    secret: Option<AgentSecret>,
}

// Hand-written so the token never reaches a log line.
impl fmt::Debug for AgentAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentAuth")
            .field("dev_token", &self.dev.as_ref().map(|_| "<redacted>"))
            .field("signed", &self.secret.is_some())
            .finish()
    }
}

/// Who an agent is, in the integrator's terms; the key the relay counts an
/// agent's wrong join codes under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AgentSubject {
    /// The `sub` of a signed token.
    Signed(String),
    /// Anyone holding the shared development token: one subject for all.
    Dev,
}

impl fmt::Display for AgentSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentSubject::Signed(sub) => f.write_str(sub),
            AgentSubject::Dev => f.write_str("(dev token)"),
        }
    }
}

/// An agent whose token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentIdentity {
    pub subject: AgentSubject,
    /// The name the token vouches for; `None` for the dev token.
    pub name: Option<String>,
}

impl AgentIdentity {
    /// What the visitor is shown when asked for consent.
    pub fn display_name(&self, agent: AgentId) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None => format!("Agent {}", agent.0),
        }
    }
}

impl AgentAuth {
    /// Accepts nobody, and says so.
    pub fn none() -> Self {
        Self::default()
    }

    /// Only the development token.
    pub fn dev_token(token: String) -> Result<Self, RelayError> {
        Self::none().with_dev_token(token)
    }

    /// Only tokens signed with `secret`.
    pub fn signed(secret: AgentSecret) -> Self {
        Self::none().with_secret(secret)
    }

    /// Also accepts the development token. An empty one would let an agent
    /// in with nothing at all.
    pub fn with_dev_token(mut self, token: String) -> Result<Self, RelayError> {
        if token.trim().is_empty() {
            return Err(RelayError::Config(
                "--dev-agent-token must not be empty".into(),
            ));
        }
        self.dev = Some(token);
        Ok(self)
    }

    /// Also accepts tokens signed with `secret`.
    pub fn with_secret(mut self, secret: AgentSecret) -> Self {
        self.secret = Some(secret);
        self
    }

    pub fn verify(&self, token: &str) -> Result<AgentIdentity, RelayError> {
        self.verify_at(token, token::unix_now())
    }

    /// [`AgentAuth::verify`] at `now` (Unix seconds).
    pub fn verify_at(&self, token: &str, now: u64) -> Result<AgentIdentity, RelayError> {
        if let Some(expected) = &self.dev {
            // Constant time, so response timing does not reveal how much of
            // a guess was right. (A length mismatch returns early; the
            // length of the token is not the secret.)
            if bool::from(token.as_bytes().ct_eq(expected.as_bytes())) {
                return Ok(AgentIdentity {
                    subject: AgentSubject::Dev,
                    name: None,
                });
            }
        }
        match (&self.secret, &self.dev) {
            (Some(secret), _) => {
                let claims = token::verify(secret, token, now)?;
                Ok(AgentIdentity {
                    subject: AgentSubject::Signed(claims.sub),
                    name: Some(claims.name),
                })
            }
            (None, Some(_)) => Err(RelayError::Unauthorized(
                "The agent token was not accepted".into(),
            )),
            (None, None) => Err(RelayError::Unauthorized(
                "This relay has no agent token scheme configured, so no agent can join. \
                 Configure agent_secret (or --agent-secret-file), or --dev-agent-token \
                 for development"
                    .into(),
            )),
        }
    }

    pub fn is_dev(&self) -> bool {
        self.dev.is_some()
    }

    pub fn accepts_signed(&self) -> bool {
        self.secret.is_some()
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn dev_token_accepts_exactly_the_token() {
        let auth = AgentAuth::dev_token("s3cret".into()).expect("valid");
        assert!(auth.verify("s3cret").is_ok());
        assert!(auth.verify("s3cre").is_err());
        assert!(auth.verify("s3cret ").is_err());
        assert!(auth.verify("").is_err());
    }

    #[test]
    fn no_scheme_says_so() {
        let err = AgentAuth::none().verify("anything").expect_err("refused");
        assert_eq!(err.frame().code, protocol::ErrorCode::Unauthorized);
        assert!(err.to_string().contains("no agent token scheme"), "{err}");
    }

    #[test]
    fn dev_agents_are_named_after_their_id() {
        let id = AgentIdentity {
            subject: AgentSubject::Dev,
            name: None,
        };
        assert_eq!(id.display_name(AgentId(3)), "Agent 3");
    }

    #[test]
    fn debug_output_hides_the_token() {
        let shown = format!("{:?}", AgentAuth::dev_token("s3cret".into()).expect("ok"));
        assert!(!shown.contains("s3cret"));
    }

    fn secret() -> AgentSecret {
        AgentSecret::new(&"k".repeat(40)).expect("valid")
    }

    fn signed_token(exp: u64) -> String {
        let claims = token::Claims {
            sub: "agent-42".into(),
            name: "Ann Smith".into(),
            exp,
        };
        token::mint(&secret(), &claims).expect("minted")
    }

    #[test]
    fn signed_tokens_name_the_agent() {
        let auth = AgentAuth::signed(secret());
        let id = auth.verify_at(&signed_token(100), 50).expect("valid");
        assert_eq!(id.subject, AgentSubject::Signed("agent-42".into()));
        assert_eq!(id.display_name(AgentId(1)), "Ann Smith");
        let err = auth
            .verify_at(&signed_token(100), 100)
            .expect_err("expired");
        assert!(err.to_string().contains("expired"), "{err}");
    }

    #[test]
    fn the_dev_token_needs_its_flag_and_both_schemes_may_coexist() {
        let signed_only = AgentAuth::signed(secret());
        let err = signed_only.verify_at("devtoken", 1).expect_err("no flag");
        assert_eq!(err.frame().code, protocol::ErrorCode::Unauthorized);
        let both = AgentAuth::signed(secret())
            .with_dev_token("devtoken".into())
            .expect("valid");
        assert_eq!(
            both.verify_at("devtoken", 1).expect("dev").subject,
            AgentSubject::Dev
        );
        assert!(both.verify_at(&signed_token(100), 1).is_ok());
        assert!(both.verify_at("devtoke", 1).is_err());
    }
}
