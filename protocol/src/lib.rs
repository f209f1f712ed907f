//! The wire contract shared by every peer: the visitor's script, the relay and
//! the agent console.
//!
//! Owns: message types, their MessagePack encoding, the handshake and its
//! version check, and the validation of small value types (join codes).
//! Does not own: any I/O, sockets, timers or DOM access. This crate builds for
//! native and `wasm32-unknown-unknown` alike.
//!
//! # Shape of a connection
//!
//! 1. The client's first frame is a [`Hello`], encoded by [`encode_hello`] as
//!    the two-element array `[protocol_version, body]`. That outer shape is
//!    frozen: whatever later versions change, a peer can always read the
//!    version and answer a mismatch with [`ErrorCode::VersionMismatch`]
//!    instead of a decoding error.
//! 2. After the hello, a visitor sends [`VisitorMsg`] and receives
//!    [`ToVisitor`]; an agent sends [`AgentMsg`] and receives [`ToAgent`].
//! 3. Everything the visitor's page shows travels as an [`EventFrame`]: a
//!    per-session sequence number plus an encoded [`Event`]. The relay
//!    forwards the frame without looking inside the payload; the console
//!    applies frames strictly in sequence order (see [`Seq`]).

mod dom;
mod ids;
mod messages;
mod node_wire;
mod presence;

pub use dom::*;
pub use ids::*;
pub use messages::*;
pub use presence::*;

use serde::{de::IgnoredAny, Deserialize, Serialize};

/// The protocol version. Bump it (and add a line to the history below) on
/// every change to an encoded type.
///
/// History:
/// - 1: first version.
/// - 2: static resources: `VisitorHello.resources`, `VisitorMsg::Offer`,
///   `ToVisitor::Want`, `Welcome.upload_token`, `Admitted.resources`.
/// - 3: two-way: `Event::Pointer`/`Event::Focus`, `AgentMsg::Point`/
///   `Control`/`RequestMode`, `ToVisitor::FromAgent`, `VisitorMsg::SetMode`,
///   `ToAgent::Mode`.
/// - 4: sessions survive navigation: `VisitorHello.resume`,
///   `Welcome.resume_token`/`resume_secs`, `ToVisitor::Resumed`,
///   `ToAgent::VisitorAway`.
/// - 5: `Node::ShadowRoot` and iframe documents, `Event::Sheet`/`Font`/
///   `Canvas`/`CanvasUnreadable`/`Media`/`Selection`, `Point::Selection`,
///   `VisitorHello.invitation`, `Welcome.masking`/`Resumed.masking`,
///   `ToAgent::Invited`, `EndReason::Idle`/`InvitationExpired`.
/// - 6: scale-out: `Hello::AgentRejoin`, `ToAgent::RejoinToken`,
///   `Resumed.last_seq`, `ToVisitor::Reconnect`/`ToAgent::Reconnect`,
///   `EndReason::InvitationCancelled`; fidelity: `Event::TopLayer`.
/// - 7: compact nodes: a `Node` is an array led by a small integer kind, `Ns`
///   an integer (or the URI), an element's attributes one flat array, and an
///   HTML element without form state has no `ns`/`state` slots
///   (`node_wire.rs`); about a quarter fewer snapshot bytes.
pub const PROTOCOL_VERSION: u16 = 7;

/// Everything that can go wrong turning bytes into messages.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("peer speaks protocol version {theirs}, this side speaks {ours}")]
    VersionMismatch { ours: u16, theirs: u16 },
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("could not encode message: {0}")]
    Encode(String),
    #[error("invalid join code: expected 6 digits")]
    InvalidJoinCode,
}

/// Encodes any protocol message as compact MessagePack (structs as arrays).
pub fn encode<T: Serialize + ?Sized>(msg: &T) -> Result<Vec<u8>, ProtocolError> {
    rmp_serde::to_vec(msg).map_err(|e| ProtocolError::Encode(e.to_string()))
}

/// Decodes a protocol message; any deviation is [`ProtocolError::Malformed`].
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ProtocolError> {
    rmp_serde::from_slice(bytes).map_err(|e| ProtocolError::Malformed(e.to_string()))
}

/// Encodes the first frame of a connection: `[PROTOCOL_VERSION, hello]`.
pub fn encode_hello(hello: &Hello) -> Result<Vec<u8>, ProtocolError> {
    encode(&(PROTOCOL_VERSION, hello))
}

/// Reads the version of a first frame before anything else, so that a peer of
/// another version gets [`ProtocolError::VersionMismatch`], not a decoding
/// error about fields it could not know.
pub fn decode_hello(bytes: &[u8]) -> Result<Hello, ProtocolError> {
    let (theirs, _): (u16, IgnoredAny) = decode(bytes)?;
    if theirs != PROTOCOL_VERSION {
        return Err(ProtocolError::VersionMismatch {
            ours: PROTOCOL_VERSION,
            theirs,
        });
    }
    let (_, hello): (u16, Hello) = decode(bytes)?;
    Ok(hello)
}
