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

/// The SHA-256 of a static resource's bytes: the resource cache is content
/// addressed, so the same file offered by a thousand visitors is stored once.
/// On the wire it is 32 raw bytes; in URLs, 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResourceHash(#[serde(with = "serde_bytes")] pub [u8; 32]);

impl ResourceHash {
    /// Parses 64 hex digits (either case); anything else is `None`.
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(ResourceHash(out))
    }

    pub fn to_hex(&self) -> String {
        use fmt::Write;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}

impl fmt::Display for ResourceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ResourceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResourceHash({})", self.to_hex())
    }
}
