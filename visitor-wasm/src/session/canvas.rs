//! Wiring canvas and media capture into the session: their callbacks into
//! the session state, and their events into the numbered event stream.
//!
//! Owns: the hops between timers, animation frames, the async encoder and
//! [`Inner`]. Does not own: when or what to capture (`canvas/`, `media.rs`)
//! or sending (`session.rs`).

use std::rc::Rc;

use protocol::{Event, NodeId};
use web_sys::Element;

use super::{with, Inner};
use crate::canvas::{self, Canvases};
use crate::media::{self, MediaWatch};

impl Inner {
    /// The canvas capture, started with the session's limits; its timers
    /// and frames come back through `with`, so dropping it (with `Live`)
    /// stops everything.
    pub(super) fn start_canvases(&self) -> Option<Canvases> {
        let (due, frame) = (self.me.clone(), self.me.clone());
        Canvases::start(
            &self.window,
            &self.document,
            self.options.canvas,
            Rc::new(move || with(&due, Inner::canvas_due)),
            Rc::new(move || with(&frame, Inner::canvas_frame)),
        )
    }

    pub(super) fn start_media(&self) -> MediaWatch {
        let me = self.me.clone();
        MediaWatch::start(
            &self.document,
            Rc::new(move |el, kind| with(&me, |i| i.on_media(&el, &kind))),
        )
    }

    fn canvases(&mut self) -> Option<&mut Canvases> {
        self.live.as_mut().and_then(|l| l.canvases.as_mut())
    }

    fn canvas_due(&mut self) {
        if let Some(c) = self.canvases() {
            c.due();
        }
    }

    /// In the animation frame: read, report unreadable canvases at once,
    /// and encode the rest off this frame.
    fn canvas_frame(&mut self) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let Some(c) = live.canvases.as_mut() else {
            return;
        };
        let tracker = &live.tracker;
        let read = c.read(&self.capture, &|| tracker.all_shadow_roots());
        for id in read.unreadable {
            self.send_event(&Event::CanvasUnreadable { id });
        }
        let Some(batch) = read.batch else {
            if let Some(c) = self.canvases() {
                c.arm();
            }
            return;
        };
        let me = self.me.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let encoded = canvas::encode(batch).await;
            with(&me, move |i| i.canvas_encoded(encoded));
        });
    }

    fn canvas_encoded(&mut self, encoded: canvas::Encoded) {
        let Some(c) = self.canvases() else { return };
        for frame in c.finished(encoded) {
            self.send_event(&Event::Canvas(frame));
        }
    }

    /// After a snapshot: every canvas again in full, every media element's
    /// state now.
    pub(super) fn resend_pixels_and_media(&mut self) {
        if let Some(c) = self.canvases() {
            c.reset();
        }
        if let Some(m) = self.live.as_mut().and_then(|l| l.media.as_mut()) {
            m.reset();
        }
        for el in media::all(&self.document) {
            if let Some(id) = self.capture.ids.get(&el) {
                self.send_media(&el, id, "snapshot");
            }
        }
    }

    fn on_media(&mut self, el: &Element, kind: &str) {
        let Some(id) = self.capture.ids.get(el) else {
            return;
        };
        self.send_media(el, id, kind);
    }

    fn send_media(&mut self, el: &Element, id: NodeId, kind: &str) {
        let now = self.window.performance().map_or(0.0, |p| p.now());
        let send = match self.live.as_mut().and_then(|l| l.media.as_mut()) {
            // After a snapshot every element is sent, whatever the throttle.
            Some(m) if kind == "snapshot" => m.should_send(id, "play", now),
            Some(m) => m.should_send(id, kind, now),
            None => false,
        };
        if !send {
            return;
        }
        // The element's node must be on the agent's side first.
        self.flush();
        if let Some(state) = media::state_of(el, id) {
            self.send_event(&Event::Media(state));
        }
    }
}
