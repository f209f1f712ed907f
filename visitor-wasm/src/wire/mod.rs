//! The visitor's own MessagePack reader and writer for the messages it
//! exchanges with the relay (`agent.rs`: what agents send it).
//!
//! Owns: byte-exact encoding of what the visitor sends (hello, events,
//! consent, end, offers) and decoding of what the relay sends it. Why not
//! `protocol::encode`/`decode`: serde's generic (de)serializers are
//! monomorphized per type and drag in formatting code; here they were about
//! 100 KB of a script that ships on customers' pages. The format stays
//! `protocol`'s, pinned by tests that compare every byte with
//! `protocol::encode` and decode whatever it produces. Does not own: the
//! message types (`protocol`).

mod agent;
mod decode;
mod encode;
mod stream;

pub use decode::decode_to_visitor;
pub use encode::{
    encode_consent, encode_end, encode_event, encode_hello, encode_offer, encode_set_mode,
    event_frame,
};
pub use stream::SnapshotEncoder;
