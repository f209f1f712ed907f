//! The visitor's capture script, compiled to WebAssembly and loaded on a
//! customer's page (by the `cobrowse.js` script tag or the npm package).
//!
//! Owns: the JS API (`start()` → [`Session`] with `code` and `end()`), the
//! visitor's consent UI, and capturing the page for admitted agents only:
//! snapshot, mutation batches, input, scroll and viewport events, with
//! passwords and masked elements never leaving the page.
//! Does not own: the wire format (`protocol`), relaying, rebuilding the page.
//!
//! Map: `mask.rs`, `plan.rs`, `pointing.rs`, `policy.rs` and `wire/` are
//! plain Rust (decisions, mutation order, pointer arithmetic and
//! throttling, modes and refusals, the MessagePack the visitor speaks),
//! tested natively;
//! `serialize.rs`, `snapshot.rs`, `mutations.rs` read the DOM (`shadow.rs`
//! and `frames.rs`: open shadow roots and same-origin frames); `resources/`
//! offers and uploads the page's static resources (its `plan.rs` and
//! `rules.rs` plain Rust too); `resume.rs` (plain Rust) keeps the tab's
//! `sessionStorage` entry so the next page continues the session
//! (`session/resume.rs` wires it); `session.rs` runs the conversation
//! (`session/twoway.rs`: agents' pointing, modes and control, the visitor's
//! pointer and focus); `toplayer.rs` reads modal dialogs, open popovers and the fullscreen
//! element; `pointer.rs` reads the pointer's element,
//! `presence.rs` draws agents' cursors and highlights, `remote.rs` carries
//! out an agent's control; `modal.rs` keeps the panel usable over the
//! page's modal dialog; `ui.rs`, `transport.rs`, `schedule.rs` are RAII
//! wrappers over browser registrations.
//!
//! Invariants: nothing is read from the page before the visitor accepts an
//! agent; an agent's control acts only if this script itself granted that
//! agent shared mode, and never types into password, masked or blocked
//! fields nor touches the visitor's panel; a password's value never enters Rust memory (only its length);
//! no `Closure::forget`: every registration is dropped by `Session::end`.

mod attr_value;
pub mod canvas;
mod cover_deps;
pub mod cssom;
pub mod dom;
pub mod error;
pub mod frames;
pub mod ids;
pub mod mask;
pub mod media;
pub mod mutations;
pub mod options;
pub mod outbox;
pub mod plan;
pub mod pointing;
pub mod policy;
mod read;
pub mod resources;
pub mod resume;
pub mod serialize;
pub mod shadow;
pub mod snapshot;
pub mod toplayer;

mod fullscreen;
mod modal;
mod patch;
mod pointer;
mod presence;
mod remote;
mod schedule;
mod selection;
mod session;
mod transport;
mod ui;
mod walk;
pub mod wire;

use wasm_bindgen::prelude::*;

pub use cssom::Cssom;
pub use error::VisitorError;
pub use ids::Ids;
pub use mutations::MutationTracker;
pub use options::Options;
#[doc(hidden)]
pub use schedule::set_slice_budget_ms;
pub use serialize::Capture;
pub use snapshot::{snapshot, SlicedSnapshot};

/// A running co-browsing session, as JS sees it.
#[wasm_bindgen]
pub struct Session {
    inner: session::Shared,
    code: String,
}

#[wasm_bindgen]
impl Session {
    /// The 6-digit code the visitor reads out to the agent. Codes are single
    /// use: after an agent joins, the relay issues a fresh one, and this
    /// follows it (the last code is kept once the session has ended).
    #[wasm_bindgen(getter)]
    pub fn code(&self) -> String {
        session::code_of(&self.inner).unwrap_or_else(|| self.code.clone())
    }

    /// Ends the session: tells the relay, closes the socket, and removes
    /// every listener, observer, timer and the visitor UI. Idempotent.
    pub fn end(&self) {
        session::shutdown(&self.inner, true);
    }
}

/// Continues, on a page just loaded, the session this tab's previous page
/// left (same relay, same origin, within the relay's grace window): no
/// `start()` call, no code panel, no new consent. `relay` is the relay's
/// base URL (`undefined`: whichever relay the entry names). Returns the
/// [`Session`] (its panel appears once the relay confirms), or `undefined`
/// when there is nothing to resume or a session already runs. A refused
/// resume shows nothing and leaves no entry.
#[wasm_bindgen]
pub fn resume(relay: Option<String>) -> Option<Session> {
    let inner = session::resume::on_load(relay)?;
    Some(Session {
        inner,
        code: String::new(),
    })
}

/// The session running on this page (started or resumed), or `undefined`.
#[wasm_bindgen]
pub fn current() -> Option<Session> {
    let inner = session::current()?;
    let code = session::code_of(&inner).unwrap_or_default();
    Some(Session { inner, code })
}

/// Starts a session: shows the visitor UI, connects to `options.relay`, and
/// resolves with the [`Session`] once the relay has given it a code.
/// Nothing of the page is captured until the visitor accepts an agent.
#[wasm_bindgen]
pub async fn start(options: JsValue) -> Result<Session, JsValue> {
    let options = Options::from_js(&options)?;
    let mut settle = None;
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        settle = Some(session::Settle { resolve, reject });
    });
    let settle = settle.ok_or(VisitorError::Js("Promise executor did not run".into()))?;
    let inner = session::open(&options, Some(settle), None)?;
    if let Err(e) = wasm_bindgen_futures::JsFuture::from(promise).await {
        session::shutdown(&inner, false);
        return Err(e);
    }
    let code = session::code_of(&inner).ok_or(VisitorError::Ended)?;
    Ok(Session { inner, code })
}
