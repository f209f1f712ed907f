//! The snapshot taken a slice at a time, so that a large page never stops
//! for the whole walk: each slice reads nodes for ~8 ms (`schedule.rs`),
//! then the page runs, then the next slice goes on.
//!
//! Owns: the walk in progress ([`Walking`]), its generation (a walk that was
//! replaced or cancelled finds it changed and stops), the events held while
//! it runs, and the tasks after the walk: mending what changed meanwhile;
//! encoding the mended snapshot in slices too (`wire/stream.rs`) and
//! sending it; then, in the next, what follows every snapshot and what
//! waited. Does not own: the walk itself (`walk.rs`), the mending
//! (`patch.rs`), what follows every snapshot (`capture.rs`).
//!
//! The snapshot is the page at the moment it was mended. A change made
//! while it is encoded is left in the observer's records (the flush waits
//! for the walk), so it goes out once, as a mutation after the snapshot;
//! input then marks nothing to read again but is held as an event.
//!
//! Between slices the page runs. Nothing of this session goes on the wire
//! before the snapshot: flushes wait (their records mend the snapshot
//! instead), input only marks its control to be read again, and any other
//! event is held and sent right after the snapshot, except canvas frames
//! and media states, which the snapshot's own resend covers.

use std::rc::Rc;

use gloo_timers::callback::Timeout;
use protocol::Event;
use wasm_bindgen::JsValue;
use web_sys::Element;

use super::{with, Inner};
use crate::error::warn;
use crate::patch::Dirty;
use crate::schedule;
use crate::snapshot::SlicedSnapshot;
use crate::wire::SnapshotEncoder;

/// How many nodes a slice reads between looks at the clock.
const CHECK_EVERY: u32 = 32;

/// How many nodes an encoding slice writes between looks at the clock
/// (writing one is much quicker than reading one).
const ENCODE_CHECK_EVERY: u32 = 256;

/// A snapshot being walked, then sent and followed.
pub(super) struct Walking {
    generation: u32,
    /// `None` only while a slice runs.
    stage: Option<Stage>,
    /// Events produced meanwhile, in order, sent after the snapshot.
    held: Vec<Event>,
    /// Form controls the visitor changed meanwhile: read again at the end.
    touched: Vec<Element>,
    /// Slices run so far.
    slices: u32,
    /// The open shadow roots met, for the CSSOM's look after the snapshot.
    shadow_roots: Vec<web_sys::Node>,
    /// How the next slice comes (dropped with the walk: nothing comes).
    next: Next,
}

enum Stage {
    Walk(SlicedSnapshot),
    /// The mended snapshot being encoded, a slice at a time. It is the
    /// page as it was when mended: changes made meanwhile are ordinary
    /// mutations after it (the flush that sends them waits for it).
    Encode {
        encoder: SnapshotEncoder,
        shadow_roots: Vec<JsValue>,
    },
    /// The snapshot went out; what follows it goes one part per task (on
    /// a page of 100k nodes each part asks the whole document something:
    /// 5–30 ms apiece, too much for one task together).
    After(After),
}

/// What follows every snapshot, in the order it goes out.
enum After {
    /// The CSSOM state its markup does not carry (`shadow_roots`: the open
    /// ones the snapshot met).
    Sheets(Vec<JsValue>),
    /// What is in the top layer.
    TopLayer,
    /// Every canvas's pixels and media element's state.
    Media,
    /// What was held while the snapshot was taken; then flushes and the
    /// resource service resume.
    Held,
}

/// The way back after a slice: a channel message, or a timer where the
/// browser has no `MessageChannel`.
enum Next {
    Channel(schedule::Yielder),
    Timer(Option<Timeout>, Rc<dyn Fn()>),
}

impl Next {
    fn new(continue_walk: Rc<dyn Fn()>) -> Next {
        match schedule::Yielder::new(Rc::clone(&continue_walk)) {
            Some(y) => Next::Channel(y),
            None => Next::Timer(None, continue_walk),
        }
    }

    fn post(&mut self) {
        match self {
            Next::Channel(y) => y.post(),
            Next::Timer(timer, f) => {
                let f = Rc::clone(f);
                *timer = Some(Timeout::new(0, move || f()));
            }
        }
    }
}

impl Walking {
    /// Keeps `event` for after the snapshot, unless the snapshot's resend
    /// of every canvas and media element says it anew.
    fn hold(&mut self, event: &Event) {
        if !matches!(event, Event::Canvas(_) | Event::Media(_)) {
            self.held.push(event.clone());
        }
    }
}

impl Inner {
    /// Whether a snapshot is being walked (nothing else is sent meanwhile).
    pub(super) fn walking(&self) -> bool {
        self.walk.is_some()
    }

    /// Holds `event` while a snapshot is walked; `false` if none is.
    pub(super) fn hold_event(&mut self, event: &Event) -> bool {
        match self.walk.as_mut() {
            Some(w) => {
                w.hold(event);
                true
            }
            None => false,
        }
    }

    /// The visitor typed into `el` while a snapshot is walked; `false` if
    /// none is (or it was sent: the input then follows it as an event).
    pub(super) fn touch_during_walk(&mut self, el: &Element) -> bool {
        match self.walk.as_mut() {
            Some(w) if matches!(w.stage, Some(Stage::Walk(_))) => {
                w.touched.push(el.clone());
                true
            }
            _ => false,
        }
    }

    /// Stops the walk in progress, if any; nothing of it is sent.
    pub(super) fn cancel_walk(&mut self) {
        if let Some(walking) = self.walk.take() {
            if matches!(walking.stage, Some(Stage::Walk(_))) {
                // The node cap counted for that snapshot alone: later
                // batches are not capped.
                let _ = self.capture.end_snapshot();
            }
        }
    }

    /// Starts walking a snapshot (replacing one in progress) and runs its
    /// first slice now: a page read within one slice goes out in this task.
    pub(super) fn start_walk(&mut self) {
        // Events held for a replaced walk wait for this one.
        let held = self.walk.take().map(|w| w.held).unwrap_or_default();
        let snap = match SlicedSnapshot::begin(&self.document, &mut self.capture) {
            Ok(snap) => snap,
            Err(e) => {
                warn(&e.to_string());
                return self.watch_resources();
            }
        };
        // Resource offers wait for the snapshot too (`watch_resources`
        // after it starts them again).
        if let Some(service) = self.service.as_mut() {
            service.pause();
        }
        self.walk_generation = self.walk_generation.wrapping_add(1);
        let generation = self.walk_generation;
        let me = self.me.clone();
        let next = Next::new(Rc::new(move || {
            with(&me, |i| i.continue_walk(generation));
        }));
        self.walk = Some(Walking {
            generation,
            stage: Some(Stage::Walk(snap)),
            held,
            touched: Vec::new(),
            slices: 0,
            shadow_roots: Vec::new(),
            next,
        });
        self.continue_walk(generation);
    }

    /// One slice of the walk numbered `generation`, if it is still the
    /// current one; then the next slice is posted, or the snapshot sent.
    fn continue_walk(&mut self, generation: u32) {
        if self.walk.as_ref().map(|w| w.generation) != Some(generation) {
            return;
        }
        if self.live.is_none() || self.resume.leaving() {
            // Nobody watches any more, or the page is going: nothing is sent.
            return self.cancel_walk();
        }
        let Some(mut walking) = self.walk.take() else {
            return;
        };
        match walking.stage.take() {
            Some(Stage::Walk(snap)) => self.slice(walking, snap),
            Some(Stage::Encode {
                encoder,
                shadow_roots,
            }) => self.encode_slice(walking, encoder, shadow_roots),
            Some(Stage::After(step)) => self.after_walk(walking, step),
            None => {}
        }
    }

    /// Reads nodes for one slice's budget; then posts the next slice, or
    /// sends the snapshot.
    fn slice(&mut self, mut walking: Walking, mut snap: SlicedSnapshot) {
        walking.slices += 1;
        let deadline = schedule::now(&self.window) + schedule::slice_ms();
        let window = self.window.clone();
        let mut read = 0u32;
        let done = snap.step(&mut self.capture, &mut || {
            read = read.wrapping_add(1);
            !read.is_multiple_of(CHECK_EVERY) || schedule::now(&window) < deadline
        });
        walking
            .shadow_roots
            .extend(self.capture.found_shadow_roots().cloned());
        if let Some(live) = self.live.as_ref() {
            // Shadow roots and frames met: observed before the page runs
            // again, so their changes mend the snapshot too.
            live.tracker.observe_found(&mut self.capture);
        }
        if done {
            return self.send_walked(walking, snap);
        }
        walking.stage = Some(Stage::Walk(snap));
        walking.next.post();
        self.walk = Some(walking);
    }

    /// The walk's last task: the changes made while it ran mend the
    /// snapshot, whose encoding starts in the next task (a page read
    /// within one slice is encoded and sent in this one, as before).
    fn send_walked(&mut self, mut walking: Walking, snap: SlicedSnapshot) {
        let Some(live) = self.live.as_ref() else {
            return;
        };
        // Taken here, the records go: the mended snapshot shows them.
        let changes = live.tracker.take_changes(&self.capture);
        let mut dirty = Dirty::from_changes(&changes, &self.capture.ids);
        for el in &walking.touched {
            dirty.touched(&self.capture.ids, el);
        }
        let snap = snap.finish(&mut self.capture, &dirty);
        let mut roots = std::mem::take(&mut walking.shadow_roots);
        roots.extend(self.capture.found_shadow_roots().cloned());
        // Roots met while mending.
        live.tracker.observe_found(&mut self.capture);
        let snapshot = match snap {
            Ok(snap) => snap,
            Err(e) => {
                warn(&e.to_string());
                return self.after_walk(walking, After::Sheets(Vec::new()));
            }
        };
        // Once each; those whose host left the page meanwhile are not in
        // the snapshot.
        let seen = js_sys::Set::new(&JsValue::UNDEFINED);
        let shadow_roots = roots
            .into_iter()
            .filter(|r| crate::dom::is_connected(&r) && !seen.has(r))
            .map(|r| {
                seen.add(&r);
                r.into()
            })
            .collect();
        let encoder = SnapshotEncoder::new(snapshot);
        if walking.slices == 1 {
            // A page read within one slice: all in this task, as before.
            self.send_snapshot_payload(encoder.finish());
            return self.after_walk(walking, After::Sheets(shadow_roots));
        }
        walking.stage = Some(Stage::Encode {
            encoder,
            shadow_roots,
        });
        walking.next.post();
        self.walk = Some(walking);
    }

    /// Encodes for one slice's budget; once all is written, sends the
    /// snapshot and posts what follows it.
    fn encode_slice(
        &mut self,
        mut walking: Walking,
        mut encoder: SnapshotEncoder,
        shadow_roots: Vec<JsValue>,
    ) {
        walking.slices += 1;
        let deadline = schedule::now(&self.window) + schedule::slice_ms();
        let window = self.window.clone();
        let mut written = 0u32;
        let done = encoder.step(&mut || {
            written = written.wrapping_add(1);
            !written.is_multiple_of(ENCODE_CHECK_EVERY) || schedule::now(&window) < deadline
        });
        walking.stage = Some(if done {
            self.send_snapshot_payload(encoder.finish());
            Stage::After(After::Sheets(shadow_roots))
        } else {
            Stage::Encode {
                encoder,
                shadow_roots,
            }
        });
        walking.next.post();
        self.walk = Some(walking);
    }

    /// What follows the snapshot, from `step` on: one part per task after
    /// a sliced walk, all in this task after a page read within one slice.
    /// Events made meanwhile are still held, so the order on the wire is
    /// the snapshot, what follows it, then what was held.
    fn after_walk(&mut self, mut walking: Walking, mut step: After) {
        loop {
            step = match step {
                After::Sheets(roots) => {
                    self.send_sheet_state(roots);
                    After::TopLayer
                }
                After::TopLayer => {
                    self.send_top_layer();
                    After::Media
                }
                After::Media => {
                    self.resend_pixels_and_media();
                    After::Held
                }
                After::Held => {
                    for event in std::mem::take(&mut walking.held) {
                        self.send_event(&event);
                    }
                    self.watch_resources();
                    // Scrolls, resizes and changes met meanwhile.
                    return self.arm_flush();
                }
            };
            if walking.slices > 1 {
                walking.stage = Some(Stage::After(step));
                walking.next.post();
                self.walk = Some(walking);
                return;
            }
        }
    }
}
