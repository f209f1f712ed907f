//! The iframe's top layer, for `WebDom`: `showModal()`/`showPopover()` and
//! `close()`/`hidePopover()` called on the mirror's copies from the
//! console's script (the iframe's elements are another realm's, so through
//! their own methods), and holding them there: the agent's Escape or a click
//! outside an auto popover (light dismiss) in the console would otherwise
//! close the copy while the visitor's stays open. A modal's `cancel` is
//! refused; a popover closed by the browser is shown again. Only what the
//! visitor's events ask for ([`Held::hide`]) takes them out.
//!
//! Owns: those calls and listeners. Does not own: which elements and in
//! which order (`toplayer.rs`).

use gloo_events::{EventListener, EventListenerOptions};
use js_sys::Reflect;
use protocol::TopLayerKind;
use web_sys::Node;

use super::dom::{element, function, js_error};
use super::proto_dom as proto;
use crate::ViewerError;

/// The copies in the top layer and the listeners holding each there.
#[derive(Default)]
pub struct Held {
    guards: Vec<(Node, EventListener)>,
}

/// For a top-layer kind: the pseudo-class an element in it matches, and
/// the methods that put it there and take it out (`None`: not re-created,
/// see `toplayer.rs`).
fn calls(kind: TopLayerKind) -> Option<(&'static str, &'static str, &'static str)> {
    match kind {
        TopLayerKind::ModalDialog => Some((":modal", "showModal", "close")),
        TopLayerKind::Popover => Some((":popover-open", "showPopover", "hidePopover")),
        TopLayerKind::Fullscreen => None,
    }
}

/// Calls the element's own `method` (no arguments).
fn call(node: &Node, method: &str) -> Result<(), ViewerError> {
    let f = function(Reflect::get(node, &method.into()).map_err(js_error)?).map_err(js_error)?;
    f.call0(node).map(drop).map_err(js_error)
}

impl Held {
    pub fn show(&mut self, node: &Node, kind: TopLayerKind) -> Result<(), ViewerError> {
        let Some((state, show, _)) = calls(kind) else {
            return Ok(());
        };
        let el = element(node);
        if !proto::matches(el, state).unwrap_or(false) {
            if kind == TopLayerKind::ModalDialog && proto::has_attribute(el, "open") {
                // The visitor's `open` came with the batch before this
                // event; `showModal()` refuses a dialog that is open
                // already, and sets `open` again itself.
                proto::remove_attribute(el, "open").map_err(js_error)?;
            }
            call(node, show)?;
        }
        if !self.guards.iter().any(|(held, _)| held == node) {
            let guard = match kind {
                // Escape (or `requestClose()`): refused in the console.
                TopLayerKind::ModalDialog => EventListener::new_with_options(
                    node,
                    "cancel",
                    EventListenerOptions::enable_prevent_default(),
                    |e| e.prevent_default(),
                ),
                // Light dismiss cannot be refused: show it again.
                _ => {
                    let held = node.clone();
                    EventListener::new(node, "toggle", move |e| {
                        let closed = Reflect::get(e, &"newState".into())
                            .ok()
                            .and_then(|s| s.as_string())
                            .is_some_and(|s| s == "closed");
                        if closed {
                            let _ = call(&held, show);
                        }
                    })
                }
            };
            self.guards.push((node.clone(), guard));
        }
        Ok(())
    }

    pub fn hide(&mut self, node: &Node, kind: TopLayerKind) {
        // Let go first: this close is the visitor's.
        self.guards.retain(|(held, _)| held != node);
        let Some((state, _, hide)) = calls(kind) else {
            return;
        };
        let el = element(node);
        if !proto::matches(el, state).unwrap_or(false) {
            return;
        }
        if kind == TopLayerKind::ModalDialog && !proto::has_attribute(el, "open") {
            // The visitor's batch removed `open` first; `close()` does
            // nothing to a dialog without it, leaving it modal. It takes
            // `open` away again itself.
            let _ = proto::set_attribute(el, "open", "");
        }
        let _ = call(node, hide);
    }
}
