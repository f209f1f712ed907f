//! The co-browsing relay: visitors open sessions, agents join them by code,
//! and the visitor's page flows to the agents the visitor admitted.
//!
//! Owns: the relay's HTTP and WebSocket server, sessions and join codes, the
//! fan-out, agent authentication, limits, metrics and the static front-ends.
//! Does not own: the wire format (the `protocol` crate) or what the frames
//! say about the page (the relay never looks inside an event's payload).
//!
//! # Code map
//!
//! - `server.rs`: routes, upgrade checks, [`run`] / [`serve`], the hello.
//! - `visitor/`, `agent/`: each role's part of the session flow (opening
//!   or joining, the live loop, leaving); `agent/forward.rs` passes an
//!   agent's pointing, control and mode requests on to the visitor.
//! - `gate.rs`: whether an agent's pointing, control or mode request goes
//!   on to the visitor (its standing, its mode, its rate budget).
//! - `connection.rs`: one socket: writer task, reading rules, closing.
//! - `sessions.rs` ([`SessionStore`]) and `bus.rs` ([`Bus`]): the two seams
//!   a multi-relay backend implements; `memory.rs` is the in-process one,
//!   `redis_backend/` the one several relays share.
//! - `invitations.rs`: agent-initiated sessions (the integrator API, the
//!   inviting agent's wait for the visitor).
//! - `idle.rs`: when a session last showed a sign of life (it ends after
//!   `idle_timeout`).
//! - `resume.rs`: sessions that outlive the visitor's page (the resume
//!   token, the grace window and its watcher); `takeover.rs`: a resume
//!   while an older connection of the visitor is still attached (the
//!   newer page wins; the old socket is told and closed).
//! - `replay/`: the session's replay buffer (the newest snapshot and every
//!   later frame, opaque) and agents' rejoin records; `rejoin.rs`: an
//!   admitted agent continuing its place on any relay after its
//!   connection broke.
//! - `resources/`: static resources — offers, uploads, the two-level
//!   cache, serving to agents with CSS rewriting, the fallback chain.
//! - `auth.rs` (which scheme), `token.rs` (signed agent tokens),
//!   `guesses.rs` (wrong join codes per address and agent), `origins.rs`
//!   (live sessions per page origin), `config/` (limits and their
//!   defaults apart from the `--config` file and its checks),
//!   `metrics.rs`, `static_files.rs` (incl. the console's CSP),
//!   `logging.rs` (the log filter: never a WebSocket payload),
//!   `shutdown.rs`, `error.rs`: one concern each.
//! - `drain.rs`: leaving a shared backend without losing a session (peers
//!   told to reconnect elsewhere, `/healthz` 503); `admission.rs`: the
//!   bucket of new sessions, which resumes bypass in a reconnect storm;
//!   `scale_metrics.rs`: peers, bytes out, fan-out latency, limits, drain.
//!
//! # Invariants
//!
//! - Nothing waits on a peer it does not serve: every delivery is a
//!   `try_send` into a bounded queue, and a full queue drops that peer.
//! - A visitor event reaches only agents that visitor admitted.
//! - An agent's Control reaches the visitor only while the agent is
//!   admitted and its recorded mode is Shared; pointing only once admitted.
//! - A bad peer ends its own connection (and, for a visitor, its own
//!   session), never another session.
//! - Errors become frames and close codes only in `error.rs`.
//! - An agent identity (a signed token's `sub`) is admitted or waiting in
//!   at most one live session, across relays; dev-token agents are one
//!   identity per connection.
//! - A session with no visitor frame and no agent message for
//!   `idle_timeout` ends.
//! - A join code admits one agent; only an authenticated agent under its
//!   wrong-code limit gets to try one.
//! - An agent reads only resources its own session offered, through its
//!   session's key; the relay never serves HTML or script from `/res/`.

pub mod admission;
mod agent;
pub mod auth;
pub mod bus;
pub mod config;
mod connection;
pub mod drain;
mod error;
mod gate;
pub mod guesses;
mod idle;
pub mod invitations;
mod liveness;
pub mod logging;
pub mod masking;
pub mod memory;
pub mod metrics;
pub mod origins;
pub mod redis_backend;
mod rejoin;
pub mod replay;
pub mod resources;
pub mod resume;
pub mod scale_metrics;
mod server;
pub mod sessions;
mod shutdown;
mod static_files;
mod takeover;
pub mod token;
mod visitor;

pub use auth::{AgentAuth, AgentIdentity, AgentSubject};
pub use bus::Bus;
pub use config::{Backend, Config, Limits, LimitsFile, OriginPolicy, RedisUrl};
pub use error::{RefusalReason, RejectReason, RelayError};
pub use server::{run, run_connected, run_signalled, serve, serve_signalled, Connected};
pub use sessions::SessionStore;
pub use token::{AgentSecret, Claims};
