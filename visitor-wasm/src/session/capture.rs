//! Capturing the page while an admitted agent watches: the snapshot, the
//! observer and listeners started before it, and the flushes that turn
//! what changed into events in causal order.
//!
//! Owns: starting and stopping that machinery ([`super::Live`]) and the
//! resource service's start after a snapshot. Does not own: reading the
//! DOM (`serialize.rs`, `mutations.rs`, `snapshot.rs`), sequence numbers
//! and sending (`session.rs`).

use std::rc::Rc;

use crate::dom::Listener as EventListener;
use gloo_events::EventListenerOptions;
use protocol::Event;
use wasm_bindgen::JsCast;
use web_sys::Element;

use super::{twoway, with, Inner, Live};
use crate::error::{warn, VisitorError};
use crate::frames::RootEvent;
use crate::mutations::MutationTracker;
use crate::resources::Resources;
use crate::schedule::FlushTimer;
use crate::snapshot::viewport;

impl Inner {
    /// Sends a full snapshot as the next event, starting the observer first
    /// so nothing between the walk and the first batch is lost. A large
    /// page is walked in slices (`sliced.rs`); the snapshot goes out when
    /// the walk ends.
    pub(super) fn send_snapshot(&mut self) {
        match self.live.as_mut() {
            Some(live) => {
                // The snapshot shows these changes already.
                live.tracker.discard();
                live.timer.disarm();
                live.scrolls.clear();
                live.resized = false;
                // A new snapshot starts the console afresh: say focus again.
                live.pointer.forget_focus();
            }
            None => match self.start_capture() {
                Ok(live) => self.live = Some(live),
                Err(e) => return warn(&e.to_string()),
            },
        }
        // The snapshot shows every value: the next input is news.
        self.last_input = None;
        self.start_walk();
    }

    /// Right after a snapshot, first: the CSSOM state its markup does not
    /// carry (`shadow_roots`: the open ones the snapshot met). Then come
    /// [`Inner::send_top_layer`] and every canvas and media element in full
    /// (`resend_pixels_and_media`), each its own task on a large page
    /// (`sliced.rs`).
    pub(super) fn send_sheet_state(&mut self, shadow_roots: Vec<wasm_bindgen::JsValue>) {
        let sheets = self.live.as_ref().map_or_else(Vec::new, |live| {
            live.cssom
                .after_snapshot_in(&self.capture.ids, Some(shadow_roots))
        });
        for event in &sheets {
            self.send_event(event);
        }
    }

    /// Right after a snapshot: what is in the top layer, in its order.
    pub(super) fn send_top_layer(&mut self) {
        let top = self.live.as_mut().and_then(|live| {
            let now = crate::toplayer::read(&self.document, &self.capture.ids, &mut live.opened);
            live.top_layer.after_snapshot(now)
        });
        if let Some(entries) = top {
            self.send_event(&Event::TopLayer(entries));
        }
    }

    /// Starts (or resumes) the resource service after a snapshot went out;
    /// its first scan runs from its own timer, not in this turn.
    pub(super) fn watch_resources(&mut self) {
        // A snapshot being walked starts it when it is sent.
        if self.walking() {
            return;
        }
        if self.service.is_none() && self.resources.upload {
            let (Some(token), Some(socket)) = (&self.upload_token, &self.socket) else {
                return;
            };
            self.service = Some(Resources::new(
                &self.window,
                &self.document,
                self.rules.clone(),
                &self.relay,
                token,
                socket.sender(),
            ));
        }
        if let Some(service) = self.service.as_mut() {
            if let Some(live) = self.live.as_ref() {
                service.set_shadow_roots(live.tracker.shadow_roots());
            }
            service.watch();
        }
    }

    pub(super) fn start_capture(&self) -> Result<Live, VisitorError> {
        let me = self.me.clone();
        let tracker = MutationTracker::start(
            &self.document,
            Box::new(move || with(&me, Inner::arm_flush)),
        )?;
        let me = self.me.clone();
        tracker.on_root_event(Rc::new(move |event| {
            with(&me, |i| match event {
                RootEvent::Input(t) => i.on_input(&t),
                RootEvent::Scroll(t) => i.on_scroll(&t),
            })
        }));
        let capture_phase = EventListenerOptions::run_in_capture_phase();
        let mut listeners = Vec::with_capacity(14);
        for kind in ["input", "change"] {
            let me = self.me.clone();
            listeners.push(EventListener::new_with_options(
                &self.document,
                kind,
                capture_phase,
                move |e| {
                    let target = e.target().and_then(|t| t.dyn_into::<Element>().ok());
                    if let Some(t) = target {
                        with(&me, |i| i.on_input(&t));
                    }
                },
            ));
        }
        let me = self.me.clone();
        listeners.push(EventListener::new_with_options(
            &self.document,
            "scroll",
            capture_phase,
            move |e| {
                if let Some(t) = e.target() {
                    with(&me, |i| i.on_scroll(&t));
                }
            },
        ));
        // The top layer changes without a mutation when a popover opens
        // or closes (and a dialog's `close` may come with none): look at
        // the next flush. These events do not bubble; capture sees them.
        // `beforetoggle` fires as an element enters, in the order they do.
        let me = self.me.clone();
        listeners.push(EventListener::new_with_options(
            &self.document,
            "beforetoggle",
            capture_phase,
            move |e| {
                let opening = js_sys::Reflect::get(e, &"newState".into())
                    .ok()
                    .and_then(|s| s.as_string())
                    .is_some_and(|s| s == "open");
                let target = e.target().and_then(|t| t.dyn_into::<Element>().ok());
                if let (true, Some(el)) = (opening, target) {
                    with(&me, |i| {
                        if let Some(live) = i.live.as_mut() {
                            live.opened.entering(el);
                        }
                    });
                }
            },
        ));
        let me = self.me.clone();
        let document = self.document.clone();
        listeners.push(EventListener::new(
            &self.document,
            "fullscreenchange",
            move |_| {
                with(&me, |i| {
                    if let (Some(live), Some(el)) =
                        (i.live.as_mut(), crate::dom::fullscreen_element(&document))
                    {
                        live.opened.entering(el);
                    }
                    i.arm_flush();
                })
            },
        ));
        for kind in ["toggle", "close"] {
            let me = self.me.clone();
            listeners.push(EventListener::new_with_options(
                &self.document,
                kind,
                capture_phase,
                move |_| with(&me, Inner::arm_flush),
            ));
        }
        let me = self.me.clone();
        listeners.push(EventListener::new(&self.window, "resize", move |_| {
            with(&me, |i| {
                if let Some(live) = i.live.as_mut() {
                    live.resized = true;
                }
                i.arm_flush();
            })
        }));
        self.listen_pointer(&mut listeners);
        let me = self.me.clone();
        let cssom = crate::cssom::Cssom::install(
            &self.window,
            &self.document,
            Rc::new(move || with(&me, Inner::arm_flush)),
        );
        Ok(Live {
            cssom,
            tracker,
            timer: FlushTimer::default(),
            _listeners: listeners,
            scrolls: Vec::new(),
            resized: false,
            pointer: twoway::PointerState::default(),
            canvases: self.start_canvases(),
            media: Some(self.start_media()),
            top_layer: crate::toplayer::TopLayer::default(),
            opened: crate::toplayer::Opened::default(),
        })
    }

    pub(super) fn arm_flush(&mut self) {
        let me = self.me.clone();
        if let Some(live) = self.live.as_mut() {
            live.timer
                .arm(&self.window, Rc::new(move || with(&me, Inner::flush)));
        }
    }

    /// Sends what changed since the last flush: the mutation batch first,
    /// then scroll positions and the viewport, in that causal order.
    pub(super) fn flush(&mut self) {
        let walking = self.walking();
        let Some(live) = self.live.as_mut() else {
            return;
        };
        live.timer.disarm();
        if walking {
            // The records mend the snapshot being walked; its end flushes.
            return;
        }
        let batch = live.tracker.flush(&mut self.capture);
        let scrolls = std::mem::take(&mut live.scrolls);
        let resized = std::mem::replace(&mut live.resized, false);
        if !batch.is_empty() {
            if let Some(c) = live.canvases.as_mut() {
                c.page_changed();
            }
            let touched = live.tracker.resources_touched();
            let roots = touched.then(|| live.tracker.shadow_roots());
            self.send_event(&Event::Mutations(batch));
            if let (Some(service), Some(roots)) = (self.service.as_mut(), roots) {
                service.set_shadow_roots(roots);
                service.page_changed();
            }
        }
        // After the batch: a sheet's element has its id by now.
        let sheets = self
            .live
            .as_ref()
            .map_or_else(Vec::new, |live| live.cssom.flush(&self.capture.ids));
        for event in &sheets {
            self.send_event(event);
        }
        if !sheets.is_empty() {
            // Rules and fonts made in script name URLs discovery has not
            // seen: look again.
            if let Some(service) = self.service.as_mut() {
                service.page_changed();
            }
        }
        // After the batch too: `showModal()` sets `open`, and the batch
        // gives a newly added dialog its id.
        let top = self.live.as_mut().and_then(|live| {
            let now = crate::toplayer::read(&self.document, &self.capture.ids, &mut live.opened);
            live.top_layer.changed(now)
        });
        if let Some(entries) = top {
            self.send_event(&Event::TopLayer(entries));
        }
        for s in scrolls {
            self.send_event(&Event::Scroll(s));
        }
        if resized {
            let v = viewport(&self.window);
            self.send_event(&Event::Viewport(v));
        }
    }

    pub(super) fn on_input(&mut self, target: &Element) {
        // During a walk the snapshot reads the control again at its end.
        if self.touch_during_walk(target) {
            return;
        }
        // Mutations first: the agent must have the node before its value.
        self.flush();
        for (id, state) in self.capture.input_states(target) {
            let item = Some((id, state));
            // `change` after `input` with the same value says nothing new.
            if item == self.last_input {
                continue;
            }
            if let Some((id, state)) = &item {
                self.send_event(&Event::Input {
                    id: *id,
                    state: state.clone(),
                });
            }
            self.last_input = item;
        }
    }

    pub(super) fn on_scroll(&mut self, target: &web_sys::EventTarget) {
        // Any realm's document or element: frames scroll too.
        let Some(pos) = crate::frames::scroll_pos(&self.capture.ids, target) else {
            return;
        };
        let Some(live) = self.live.as_mut() else {
            return;
        };
        match live.scrolls.iter_mut().find(|s| s.target == pos.target) {
            Some(s) => *s = pos,
            None => live.scrolls.push(pos),
        }
        self.arm_flush();
    }
}
