//! Signed agent tokens: what an integrator's backend hands its agents so the
//! relay can tell who they are without calling anyone.
//!
//! Owns: the token format, minting and verifying, and the secret that signs
//! them. Does not own: choosing between token schemes (`auth.rs`) or what an
//! identity is allowed to do (join codes, consent).
//!
//! # Format
//!
//! `base64url(payload) "." base64url(mac)`, both without padding, where
//! `payload` is JSON `{"sub":"agent-42","name":"Ann Smith","exp":1767225600}`
//! (`exp` in Unix seconds; other keys are ignored) and `mac` is
//! HMAC-SHA256 over the *encoded* payload text with the integrator's secret.
//! The MAC is checked (in constant time) before the payload is parsed, so a
//! forged payload is never even read.

use std::fmt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::RelayError;

type HmacSha256 = Hmac<Sha256>;

/// Shortest secret accepted: 32 bytes, the size of the MAC itself.
pub const MIN_SECRET_BYTES: usize = 32;
/// Longer tokens are refused before any decoding (a real one is ~150 bytes).
const MAX_TOKEN_BYTES: usize = 2048;
const MAX_SUB_CHARS: usize = 128;
const MAX_NAME_CHARS: usize = 100;

/// The integrator's signing secret, kept as a keyed MAC ready to clone.
/// Never shown by `Debug`.
#[derive(Clone)]
pub struct AgentSecret(HmacSha256);

impl fmt::Debug for AgentSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AgentSecret(<redacted>)")
    }
}

impl AgentSecret {
    /// Surrounding whitespace is dropped, so a file ending in a newline and
    /// the same secret typed into TOML sign alike.
    pub fn new(secret: &str) -> Result<Self, RelayError> {
        let secret = secret.trim();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(RelayError::Config(format!(
                "the agent secret must be at least {MIN_SECRET_BYTES} bytes long \
                 (generate one with `openssl rand -hex 32`)"
            )));
        }
        <HmacSha256 as Mac>::new_from_slice(secret.as_bytes())
            .map(AgentSecret)
            .map_err(|e| RelayError::Config(format!("unusable agent secret: {e}")))
    }

    pub fn read_file(path: &Path) -> Result<Self, RelayError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            RelayError::Config(format!(
                "cannot read agent secret file {}: {e}",
                path.display()
            ))
        })?;
        Self::new(&text).map_err(|e| RelayError::Config(format!("in {}: {e}", path.display())))
    }

    fn mac(&self) -> HmacSha256 {
        self.0.clone()
    }
}

/// What a token vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The agent's id in the integrator's system.
    pub sub: String,
    /// The name the visitor is shown when asked for consent.
    pub name: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
}

/// Why a token was refused. Each says what to do, and none says anything
/// about the secret or how close a forgery came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
    BadClaims,
}

impl TokenError {
    pub fn message(self) -> &'static str {
        match self {
            TokenError::Malformed => {
                "The agent token is not a signed token (expected payload.signature)"
            }
            TokenError::BadSignature => "The agent token's signature is not valid for this relay",
            TokenError::Expired => "The agent token has expired; sign in again to get a new one",
            TokenError::BadClaims => {
                "The agent token's contents are invalid (sub and name must be non-empty and short)"
            }
        }
    }
}

impl From<TokenError> for RelayError {
    fn from(err: TokenError) -> Self {
        RelayError::Unauthorized(err.message().to_owned())
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Signs `claims` with `secret`.
pub fn mint(secret: &AgentSecret, claims: &Claims) -> Result<String, RelayError> {
    let json = serde_json::to_vec(claims).map_err(|e| RelayError::Internal(e.to_string()))?;
    let payload = URL_SAFE_NO_PAD.encode(json);
    let mut mac = secret.mac();
    mac.update(payload.as_bytes());
    let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    Ok(format!("{payload}.{tag}"))
}

/// Checks `token` against `secret` at time `now` (Unix seconds).
pub fn verify(secret: &AgentSecret, token: &str, now: u64) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed);
    }
    let (payload, tag) = token.split_once('.').ok_or(TokenError::Malformed)?;
    if payload.is_empty() || tag.contains('.') {
        return Err(TokenError::Malformed);
    }
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| TokenError::Malformed)?;
    let mut mac = secret.mac();
    mac.update(payload.as_bytes());
    // `verify_slice` compares in constant time.
    mac.verify_slice(&tag)
        .map_err(|_| TokenError::BadSignature)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::BadClaims)?;
    if now >= claims.exp {
        return Err(TokenError::Expired);
    }
    let fits = |s: &str, max: usize| {
        !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
    };
    if !fits(&claims.sub, MAX_SUB_CHARS) || !fits(&claims.name, MAX_NAME_CHARS) {
        return Err(TokenError::BadClaims);
    }
    Ok(claims)
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn secret(s: &str) -> AgentSecret {
        AgentSecret::new(&s.repeat(32)).expect("long enough")
    }

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "agent-42".into(),
            name: "Ann Smith".into(),
            exp,
        }
    }

    #[test]
    fn a_minted_token_verifies_until_it_expires() {
        let key = secret("k");
        let token = mint(&key, &claims(1000)).expect("minted");
        assert_eq!(verify(&key, &token, 999), Ok(claims(1000)));
        assert_eq!(verify(&key, &token, 1000), Err(TokenError::Expired));
    }

    #[test]
    fn the_format_is_base64url_json_dot_base64url_mac() {
        let token = mint(&secret("k"), &claims(7)).expect("minted");
        let (payload, tag) = token.split_once('.').expect("two parts");
        let json = URL_SAFE_NO_PAD.decode(payload).expect("base64url");
        assert_eq!(json, br#"{"sub":"agent-42","name":"Ann Smith","exp":7}"#);
        assert_eq!(URL_SAFE_NO_PAD.decode(tag).expect("base64url").len(), 32);
    }

    #[test]
    fn another_secret_or_a_changed_payload_is_a_bad_signature() {
        let token = mint(&secret("k"), &claims(1000)).expect("minted");
        assert_eq!(
            verify(&secret("x"), &token, 1),
            Err(TokenError::BadSignature)
        );
        // Promote ourselves to another agent, keeping the old MAC.
        let (_, tag) = token.split_once('.').expect("two parts");
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"boss","name":"Boss","exp":1000}"#);
        assert_eq!(
            verify(&secret("k"), &format!("{forged}.{tag}"), 1),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        let key = secret("k");
        for token in ["", "no-dot", ".", "a.b.c", "a.!!!", &"a".repeat(5000)] {
            assert_eq!(
                verify(&key, token, 1),
                Err(TokenError::Malformed),
                "{token:?}"
            );
        }
    }

    #[test]
    fn signed_nonsense_is_refused_for_its_claims() {
        let key = secret("k");
        let sign = |json: &str| {
            let payload = URL_SAFE_NO_PAD.encode(json);
            let mut mac = key.mac();
            mac.update(payload.as_bytes());
            format!(
                "{payload}.{}",
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            )
        };
        let long = "x".repeat(101);
        for json in [
            "not json".to_owned(),
            r#"{"sub":"a","exp":99}"#.to_owned(),
            r#"{"sub":"","name":"A","exp":99}"#.to_owned(),
            format!(r#"{{"sub":"a","name":"{long}","exp":99}}"#),
            r#"{"sub":"a","name":"A\u0000","exp":99}"#.to_owned(),
        ] {
            assert_eq!(
                verify(&key, &sign(&json), 1),
                Err(TokenError::BadClaims),
                "{json}"
            );
        }
        // Unknown keys are fine (integrators may add an `iat`).
        let ok = sign(r#"{"sub":"a","name":"A","exp":99,"iat":1}"#);
        assert!(verify(&key, &ok, 1).is_ok());
    }

    #[test]
    fn short_secrets_are_refused_and_never_shown() {
        assert!(AgentSecret::new("short").is_err());
        let key = secret("s3cret");
        assert!(!format!("{key:?}").contains("s3cret"));
        // Trailing newline from a file does not change the key.
        let a = mint(&AgentSecret::new(&"k".repeat(32)).expect("ok"), &claims(5));
        let b = mint(
            &AgentSecret::new(&format!("{}\n", "k".repeat(32))).expect("ok"),
            &claims(5),
        );
        assert_eq!(a.expect("a"), b.expect("b"));
    }
}
