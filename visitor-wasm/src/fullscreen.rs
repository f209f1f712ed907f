//! `<cobrowse-ui>` over the page's fullscreen element. While an element of
//! the page is fullscreen (a video, a map, a slide deck), the browser draws
//! only that element and the top layer above it: the panel that says an
//! agent is watching, the frame around the page and the agents' cursors
//! would all vanish, and the visitor would not know the session goes on.
//! So while the page is fullscreen, our host element is a manual popover
//! shown after the fullscreen element entered the top layer: it is drawn
//! above it, and, unlike a modal, makes nothing of the page inert, so the
//! fullscreen page works as without us. (Chromium hit-tests nothing outside
//! the fullscreen element, the top layer included: End is in sight, and
//! reached after Escape ends fullscreen. A modal of ours would take the
//! clicks, but would freeze the fullscreen page, a video's controls too.)
//!
//! Owns: the host's `popover` attribute and its showing, following
//! `fullscreenchange`; all undone on drop. Does not own: the panel (`ui.rs`)
//! or the page's modal dialogs (`modal.rs`). Never mirrored: the host has
//! no node id, so the top-layer capture (`toplayer.rs`) leaves it out.

use crate::dom::Listener as EventListener;
use js_sys::{Function, Reflect};
use wasm_bindgen::{intern, JsCast, JsValue};
use web_sys::{Document, Element};

use crate::error::warn_js;

/// Keeps the host above the page's fullscreen element.
pub struct AboveFullscreen {
    host: Element,
    _change: EventListener,
}

impl AboveFullscreen {
    pub fn new(document: &Document, host: &Element) -> AboveFullscreen {
        let (doc, el) = (document.clone(), host.clone());
        let change = EventListener::new(document, "fullscreenchange", move |_| {
            follow(&doc, &el);
        });
        // A session may start (or a page continue) while already fullscreen.
        follow(document, host);
        AboveFullscreen {
            host: host.clone(),
            _change: change,
        }
    }
}

impl Drop for AboveFullscreen {
    fn drop(&mut self) {
        leave_top_layer(&self.host);
    }
}

fn follow(document: &Document, host: &Element) {
    match crate::dom::fullscreen_element(document) {
        Some(full) if full != *host => {
            // Shown again even if open: only the newest entry is on top.
            leave_top_layer(host);
            if let Err(e) = crate::dom::set_attribute(host, intern("popover"), intern("manual")) {
                return warn_js("cobrowse: cannot keep the panel over a fullscreen page", &e);
            }
            if let Err(e) = call(host, "showPopover") {
                warn_js("cobrowse: cannot keep the panel over a fullscreen page", &e);
                let _ = crate::dom::remove_attribute(host, intern("popover"));
            }
        }
        _ => leave_top_layer(host),
    }
}

fn leave_top_layer(host: &Element) {
    if crate::dom::has_attribute(host, intern("popover")) {
        if is_open(host) {
            let _ = call(host, "hidePopover");
        }
        let _ = crate::dom::remove_attribute(host, intern("popover"));
    }
}

fn is_open(host: &Element) -> bool {
    matches!(crate::dom::matches(host, intern(":popover-open")), Ok(true))
}

/// `host.<method>()`: the popover methods are newer than web-sys's stable
/// bindings; a browser without them leaves the host where it was.
fn call(host: &Element, method: &str) -> Result<JsValue, JsValue> {
    let f = Reflect::get(host, &JsValue::from_str(intern(method)))?;
    let f: Function = f
        .dyn_into()
        .map_err(|_| JsValue::from_str(&format!("no {method} in this browser")))?;
    f.call0(host)
}
