//! The whole page at one moment: the node tree plus the address, viewport
//! and scroll positions the tree does not carry.
//!
//! Owns: assembling a [`Snapshot`] and reading the window's geometry. Does
//! not own: serializing nodes (`serialize.rs`), when to snapshot
//! (`session.rs`).

use protocol::{NodeId, ScrollPos, Snapshot, Viewport};
use web_sys::{Document, Window};

use crate::error::VisitorError;
use crate::serialize::{Capture, Walk};

/// Walks `document` into a snapshot. Nodes keep the ids they already have
/// (a second snapshot of the same page reuses them); new nodes get new ids.
pub fn snapshot(document: &Document, capture: &mut Capture) -> Result<Snapshot, VisitorError> {
    let window = document
        .default_view()
        .or_else(web_sys::window)
        .ok_or(VisitorError::NoDocument)?;
    let base_url = base_url(document);
    let url = document.url().map_err(VisitorError::js)?;
    let mut scrolls = Vec::new();
    let root = {
        let mut walk = Walk::with_scrolls(&base_url, &mut scrolls, document.scrolling_element());
        capture
            .serialize(document, &mut walk, false)
            .ok_or(VisitorError::NoDocument)?
    };
    scrolls.insert(0, window_scroll(&window, root.id()));
    Ok(Snapshot {
        url,
        base_url,
        viewport: viewport(&window),
        root,
        scrolls,
    })
}

/// The URL relative URLs on the page resolve against.
pub fn base_url(document: &Document) -> String {
    document.base_uri().ok().flatten().unwrap_or_default()
}

pub fn viewport(window: &Window) -> Viewport {
    let px = |v: Result<wasm_bindgen::JsValue, _>| {
        v.ok().and_then(|v| v.as_f64()).unwrap_or(0.0).max(0.0) as u32
    };
    Viewport {
        width: px(window.inner_width()),
        height: px(window.inner_height()),
        device_pixel_ratio: window.device_pixel_ratio() as f32,
    }
}

/// The window's scroll position, reported against the document's id.
pub fn window_scroll(window: &Window, document: NodeId) -> ScrollPos {
    ScrollPos {
        target: document,
        x: window.scroll_x().unwrap_or(0.0),
        y: window.scroll_y().unwrap_or(0.0),
    }
}
