//! The crate's one error type, and the one place it becomes a JavaScript
//! `Error` (what a rejected `start()` promise carries).
//!
//! Owns: error kinds and messages, logging helpers. Does not own: deciding
//! which errors end a session (`session.rs`).

use wasm_bindgen::{JsCast, JsValue};

#[derive(Debug, thiserror::Error)]
pub enum VisitorError {
    #[error("options.relay is required: the relay's base URL, e.g. \"https://relay.example.com\"")]
    MissingRelay,
    #[error("options.relay must be an http(s):// or ws(s):// URL, got \"{0}\"")]
    InvalidRelay(String),
    #[error("options.{name} must be {expected}")]
    InvalidOption {
        name: &'static str,
        expected: &'static str,
    },
    #[error("options.{option} has an invalid CSS selector: \"{selector}\"")]
    InvalidSelector {
        option: &'static str,
        selector: String,
    },
    #[error("no window or document: the visitor script must run in a web page")]
    NoDocument,
    #[error("could not reach the co-browsing relay at {0}")]
    Unreachable(String),
    #[error("the relay refused the session: {0}")]
    Refused(String),
    #[error("the session ended before it started")]
    Ended,
    #[error(
        "a co-browsing session is already running on this page: end it before starting another"
    )]
    AlreadyRunning,
    #[error("protocol error: {0}")]
    Protocol(#[from] protocol::ProtocolError),
    #[error("browser API failed: {0}")]
    Js(String),
}

impl VisitorError {
    /// Wraps a thrown JS value, keeping its message.
    pub fn js(err: JsValue) -> VisitorError {
        VisitorError::Js(describe(&err))
    }
}

impl From<VisitorError> for JsValue {
    fn from(err: VisitorError) -> JsValue {
        let mut msg = String::from("Cobrowse: ");
        msg.push_str(&err.to_string());
        js_sys::Error::new(&msg).into()
    }
}

/// A thrown JS value as text: an `Error`'s message, a string as is.
pub fn describe(err: &JsValue) -> String {
    if let Some(e) = err.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    err.as_string()
        .unwrap_or_else(|| String::from("unknown error"))
}

/// Logs without ever breaking the page: the capture carries on.
pub fn warn(msg: &str) {
    web_sys::console::warn_1(&JsValue::from_str(msg));
}

/// Logs a message with the JS value that explains it.
pub fn warn_js(msg: &str, value: &JsValue) {
    web_sys::console::warn_2(&JsValue::from_str(msg), value);
}
