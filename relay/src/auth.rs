//! Who may join a session as an agent.
//!
//! Owns: checking the token of an agent's hello and naming the agent. Does not
//! own: join codes (`sessions.rs`) or the visitor's consent, which an agent
//! needs on top of a valid token.
//!
//! Signed (HMAC) tokens will be a second variant of [`AgentAuth`]; the rest
//! of the relay only sees [`AgentIdentity`].

use std::fmt;

use protocol::AgentId;
use subtle::ConstantTimeEq;

use crate::RelayError;

/// How agents authenticate.
#[derive(Clone)]
pub enum AgentAuth {
    /// No scheme configured: every agent is refused, with a message that
    /// says so (not a generic "bad token").
    None,
    /// One shared development token (`--dev-agent-token`). Development only.
    DevToken(String),
}

// Hand-written so the token never reaches a log line.
impl fmt::Debug for AgentAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentAuth::None => f.write_str("AgentAuth::None"),
            AgentAuth::DevToken(_) => f.write_str("AgentAuth::DevToken(<redacted>)"),
        }
    }
}

/// An agent whose token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentIdentity {
    /// The name the token vouches for; `None` when the scheme carries none.
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
    /// An empty token would let an agent in with nothing at all.
    pub fn dev_token(token: String) -> Result<Self, RelayError> {
        if token.trim().is_empty() {
            return Err(RelayError::Config(
                "--dev-agent-token must not be empty".into(),
            ));
        }
        Ok(AgentAuth::DevToken(token))
    }

    pub fn verify(&self, token: &str) -> Result<AgentIdentity, RelayError> {
        match self {
            AgentAuth::None => Err(RelayError::Unauthorized(
                "This relay has no agent token scheme configured, so no agent can join. \
                 Start it with --dev-agent-token for development"
                    .into(),
            )),
            AgentAuth::DevToken(expected) => {
                // Constant time, so response timing does not reveal how much of
                // a guess was right. (A length mismatch returns early; the
                // length of the token is not the secret.)
                if bool::from(token.as_bytes().ct_eq(expected.as_bytes())) {
                    Ok(AgentIdentity { name: None })
                } else {
                    Err(RelayError::Unauthorized(
                        "The agent token was not accepted".into(),
                    ))
                }
            }
        }
    }

    pub fn is_dev(&self) -> bool {
        matches!(self, AgentAuth::DevToken(_))
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn dev_token_accepts_exactly_the_token() {
        let auth = AgentAuth::DevToken("s3cret".into());
        assert!(auth.verify("s3cret").is_ok());
        assert!(auth.verify("s3cre").is_err());
        assert!(auth.verify("s3cret ").is_err());
        assert!(auth.verify("").is_err());
    }

    #[test]
    fn no_scheme_says_so() {
        let err = AgentAuth::None.verify("anything").expect_err("refused");
        assert_eq!(err.frame().code, protocol::ErrorCode::Unauthorized);
        assert!(err.to_string().contains("no agent token scheme"), "{err}");
    }

    #[test]
    fn dev_agents_are_named_after_their_id() {
        let id = AgentIdentity { name: None };
        assert_eq!(id.display_name(AgentId(3)), "Agent 3");
    }

    #[test]
    fn debug_output_hides_the_token() {
        let shown = format!("{:?}", AgentAuth::DevToken("s3cret".into()));
        assert!(!shown.contains("s3cret"));
    }
}
