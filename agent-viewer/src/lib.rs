//! The agent console: a single-page app that joins a co-browsing session and
//! rebuilds the visitor's page in a sandboxed iframe.
//!
//! Owns: the console's states and status line (`console`), putting event
//! frames back in order (`sequencer`), rebuilding the page (`mirror`), what of
//! the page may exist in the console (`sanitize`), the login link's
//! parameters (`params`) and fitting the page into the viewing area
//! (`layout`). The browser layer (`app`, `mirror::dom`) is thin and only
//! exists on wasm32; everything else is plain Rust, tested natively.
//! Does not own: the wire format (`protocol`), or serving the console (the
//! relay serves `target/dist/agent/`).
//!
//! Architecture invariant: only `mirror/dom.rs` writes into the iframe's
//! document, and nothing from the visitor is ever parsed as markup or run.

// Tests may expect: a failing expect is a failing test. The rule against
// panics is for code that runs in the console (STYLE habit 2).
#![cfg_attr(test, allow(clippy::expect_used, clippy::unwrap_used, clippy::panic))]

pub mod console;
mod error;
pub mod layout;
mod log;
pub mod mirror;
pub mod params;
pub mod quality;
pub mod rejoin;
pub mod resources;
pub mod sanitize;
pub mod sequencer;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
pub mod pointing;

pub use error::ViewerError;
