//! Newtype identifiers: never a bare integer or string on the wire's API.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::ProtocolError;

/// A node's id, stable for as long as the node stays in the visitor's
/// document. Assigned by the visitor; `0` is never used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub u32);

/// A visitor→agent event's position in its session. The visitor numbers
/// events 1, 2, 3… with no gaps; the console applies them in that order,
/// whatever route each took through the relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seq(pub u64);

impl Seq {
    pub const FIRST: Seq = Seq(1);

    #[must_use]
    pub fn next(self) -> Seq {
        Seq(self.0.saturating_add(1))
    }
}

/// An agent's id within one session, assigned by the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgentId(pub u32);

/// A session's opaque id, assigned by the relay.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub String);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The 6-digit code a visitor reads out to the agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JoinCode(String);

impl JoinCode {
    /// Accepts exactly six ASCII digits (spaces and dashes a person may type
    /// between groups are ignored).
    pub fn parse(s: &str) -> Result<Self, ProtocolError> {
        let digits: String = s.chars().filter(|c| *c != ' ' && *c != '-').collect();
        if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(JoinCode(digits))
        } else {
            Err(ProtocolError::InvalidJoinCode)
        }
    }

    /// Builds a code from a number below 1,000,000 (zero-padded).
    pub fn from_number(n: u32) -> Result<Self, ProtocolError> {
        if n < 1_000_000 {
            Ok(JoinCode(format!("{n:06}")))
        } else {
            Err(ProtocolError::InvalidJoinCode)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JoinCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for JoinCode {
    type Error = ProtocolError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        JoinCode::parse(&s)
    }
}

impl From<JoinCode> for String {
    fn from(c: JoinCode) -> String {
        c.0
    }
}
