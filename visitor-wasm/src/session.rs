//! One co-browsing session from the visitor's side: the relay conversation,
//! consent, and capture only while an admitted agent watches.
//!
//! Owns: the session state machine, the sequence numbers, and teardown.
//! `session/twoway.rs` adds what agents do on the page (pointing, modes,
//! control) and the visitor's own pointer and focus.
//! Every JS callback holds a `Weak` to the state, and every registration
//! (socket, UI, observer, listeners, timers) is an RAII guard owned here, so
//! dropping the pieces — `end()` — stops everything. Does not own: reading
//! the DOM (`serialize.rs`, `mutations.rs`), the socket or UI mechanics.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo_events::{EventListener, EventListenerOptions};
use protocol::{Event, FormState, JoinCode, NodeId, ScrollPos, Seq, ToVisitor};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, Window};

use crate::error::{warn, warn_js, VisitorError};
use crate::mask::Rules;
use crate::mutations::MutationTracker;
use crate::options::Options;
use crate::policy::Roster;
use crate::presence::Presence;
use crate::remote::Action;
use crate::resources::Resources;
use crate::schedule::FlushTimer;
use crate::serialize::Capture;
use crate::snapshot::{snapshot, viewport, window_scroll};
use crate::transport::{Socket, SocketEvent};
use crate::ui::{Ui, UiAction, View};
use crate::wire;

mod twoway;

pub(crate) type Shared = Rc<RefCell<Inner>>;

/// `start()`'s promise, settled on Welcome or on failure.
pub(crate) struct Settle {
    pub resolve: js_sys::Function,
    pub reject: js_sys::Function,
}

/// Capture machinery, alive only while an admitted agent watches.
struct Live {
    tracker: MutationTracker,
    timer: FlushTimer,
    _listeners: Vec<EventListener>,
    /// Scroll positions since the last flush, one per target.
    scrolls: Vec<ScrollPos>,
    resized: bool,
    /// The visitor's pointer and focus, as last seen and sent.
    pointer: twoway::PointerState,
}

pub(crate) struct Inner {
    me: Weak<RefCell<Inner>>,
    relay: String,
    resources: protocol::ResourcePolicy,
    rules: Rules,
    /// The relay's bearer secret for uploads (from Welcome).
    upload_token: Option<String>,
    /// The resource service, from the first snapshot on (if the site
    /// enabled it); paused while nobody watches.
    service: Option<Resources>,
    window: Window,
    document: Document,
    capture: Capture,
    socket: Option<Socket>,
    ui: Option<Ui>,
    live: Option<Live>,
    next_seq: Seq,
    code: Option<JoinCode>,
    /// Agents asking and watching, and the mode each was granted.
    roster: Roster,
    /// Agents' cursors and marks on the page, while anyone watches.
    presence: Option<Presence>,
    /// Controls that passed every check, to run once the state is no
    /// longer borrowed (they dispatch events the capture listens to).
    deferred: Vec<Action>,
    settle: Option<Settle>,
    last_input: Option<(NodeId, FormState)>,
    ended: bool,
}

thread_local! {
    /// The page's session, if one is starting or running: a page has one
    /// visitor, one code and one panel, however often `start()` is called.
    static CURRENT: RefCell<Weak<RefCell<Inner>>> = const { RefCell::new(Weak::new()) };
}

fn running() -> bool {
    CURRENT.with(|current| {
        current
            .borrow()
            .upgrade()
            .is_some_and(|s| s.try_borrow().map_or(true, |inner| !inner.ended))
    })
}

/// Builds the session, shows the UI and connects; the returned `Settle`
/// fires on Welcome (resolve) or failure (reject).
pub(crate) fn open(options: &Options, settle: Settle) -> Result<Shared, VisitorError> {
    if running() {
        return Err(VisitorError::AlreadyRunning);
    }
    let window = web_sys::window().ok_or(VisitorError::NoDocument)?;
    let document = window.document().ok_or(VisitorError::NoDocument)?;
    options.check_selectors(&document)?;
    let url = crate::options::socket_url(&options.relay)?;
    let shared = Rc::new_cyclic(|me: &Weak<RefCell<Inner>>| {
        RefCell::new(Inner {
            me: me.clone(),
            relay: options.relay.clone(),
            resources: options.resource_policy(),
            rules: options.rules(),
            upload_token: None,
            service: None,
            capture: Capture::with_rules(options.rules()),
            window,
            document,
            socket: None,
            ui: None,
            live: None,
            next_seq: Seq::FIRST,
            code: None,
            roster: Roster::default(),
            presence: None,
            deferred: Vec::new(),
            settle: Some(settle),
            last_input: None,
            ended: false,
        })
    });
    let result = (|| {
        let mut inner = shared.borrow_mut();
        let me = inner.me.clone();
        let ui = Ui::create(
            &inner.document,
            Rc::new(move |a| with(&me, |i| i.on_action(a))),
        )?;
        ui.render(&View::Connecting, false)?;
        inner.ui = Some(ui);
        let me = inner.me.clone();
        inner.socket = Some(Socket::connect(
            &url,
            Rc::new(move |e| with(&me, |i| i.on_socket(e))),
        )?);
        Ok(())
    })();
    if let Err(e) = result {
        // start() returns this error itself: rejecting the promise nobody
        // awaits would only log an unhandled rejection on the page.
        if let Ok(mut inner) = shared.try_borrow_mut() {
            inner.settle = None;
        }
        shutdown(&shared, false);
        return Err(e);
    }
    CURRENT.with(|current| *current.borrow_mut() = Rc::downgrade(&shared));
    Ok(shared)
}

/// Runs `f` on the session if it is still alive and not busy. A callback
/// that arrives while the state is borrowed (it never should: nothing here
/// dispatches events synchronously) is dropped with a warning, not a panic.
fn with(me: &Weak<RefCell<Inner>>, f: impl FnOnce(&mut Inner)) {
    let Some(shared) = me.upgrade() else { return };
    let Ok(mut inner) = shared.try_borrow_mut() else {
        warn("cobrowse: re-entrant callback ignored");
        return;
    };
    if !inner.ended {
        f(&mut inner);
    }
    let parts = if inner.ended {
        inner.take_parts()
    } else {
        None
    };
    let deferred = std::mem::take(&mut inner.deferred);
    drop(inner);
    drop(parts);
    for action in deferred {
        twoway::report(action.run());
    }
}

/// Ends the session: optionally tells the relay, then drops every guard.
pub(crate) fn shutdown(shared: &Shared, send_end: bool) {
    let parts = {
        let Ok(mut inner) = shared.try_borrow_mut() else {
            warn("cobrowse: end() called while busy; ignored");
            return;
        };
        if !inner.ended && send_end {
            inner.send(&wire::encode_end());
        }
        inner.finish(None);
        inner.take_parts()
    };
    drop(parts);
}

pub(crate) fn code_of(shared: &Shared) -> Option<String> {
    let inner = shared.try_borrow().ok()?;
    inner.code.as_ref().map(|c| c.as_str().to_owned())
}

type Parts = (
    Option<Resources>,
    Option<Live>,
    Option<Presence>,
    Option<Ui>,
    Option<Socket>,
);

impl Inner {
    /// Marks the session over and rejects a pending `start()`.
    fn finish(&mut self, error: Option<VisitorError>) {
        self.ended = true;
        self.deferred.clear();
        if let Some(settle) = self.settle.take() {
            let err: JsValue = error.unwrap_or(VisitorError::Ended).into();
            let _ = settle.reject.call1(&JsValue::UNDEFINED, &err);
        }
    }

    /// Moves every guard out, to be dropped once the borrow is released.
    fn take_parts(&mut self) -> Option<Parts> {
        Some((
            self.service.take(),
            self.live.take(),
            self.presence.take(),
            self.ui.take(),
            self.socket.take(),
        ))
    }

    fn send(&self, bytes: &[u8]) -> bool {
        self.socket.as_ref().is_some_and(|s| s.send(bytes))
    }

    /// Sends one event with the next sequence number; a number is only used
    /// up when the frame went out, so the agent never sees a gap.
    fn send_event(&mut self, event: &Event) {
        if self.send(&wire::encode_event(self.next_seq, event)) {
            self.next_seq = self.next_seq.next();
        }
    }

    fn render(&self) {
        let Some(ui) = &self.ui else { return };
        let view = if let Some(a) = self.roster.asking() {
            View::Asking {
                agent: a.id,
                name: &a.name,
                mode: a.mode,
            }
        } else if let Some(a) = self.roster.requesting() {
            View::AskingControl {
                agent: a.id,
                name: &a.name,
            }
        } else if self.roster.is_watched() {
            View::Live {
                agents: self.roster.watching(),
            }
        } else if let Some(code) = &self.code {
            View::Waiting {
                code: code.as_str(),
            }
        } else {
            View::Connecting
        };
        if let Err(e) = ui.render(&view, self.roster.is_watched()) {
            warn(&e.to_string());
        }
    }

    fn on_socket(&mut self, event: SocketEvent) {
        match event {
            SocketEvent::Open => {
                let page_url = self.document.url().unwrap_or_default();
                self.send(&wire::encode_hello(&page_url, self.resources, None));
            }
            SocketEvent::Message(bytes) => match wire::decode_to_visitor(&bytes) {
                Ok(msg) => self.on_message(msg),
                Err(e) => warn(&e.to_string()),
            },
            SocketEvent::Closed { reason } => {
                // Before Welcome, a close is start()'s failure; after it, the
                // session is simply over.
                let error = self.settle.is_some().then(|| {
                    if reason.is_empty() {
                        VisitorError::Unreachable(self.relay.clone())
                    } else {
                        VisitorError::Refused(reason)
                    }
                });
                self.finish(error);
            }
        }
    }

    fn on_message(&mut self, msg: ToVisitor) {
        match msg {
            ToVisitor::Welcome {
                code, upload_token, ..
            } => {
                self.code = Some(code);
                if !upload_token.is_empty() {
                    self.upload_token = Some(upload_token);
                }
                self.render();
                if let Some(settle) = self.settle.take() {
                    let _ = settle.resolve.call0(&JsValue::UNDEFINED);
                }
            }
            ToVisitor::AgentJoined { agent, name, mode } => {
                self.roster.joined(agent, name, mode);
                self.render();
            }
            ToVisitor::AgentLeft { agent } => {
                self.roster.left(agent);
                if let Some(presence) = self.presence.as_mut() {
                    presence.remove_agent(agent);
                }
                if !self.roster.is_watched() {
                    // Nobody watches: stop capturing at once.
                    self.live = None;
                    self.presence = None;
                    if let Some(service) = self.service.as_mut() {
                        service.pause();
                    }
                }
                self.render();
            }
            ToVisitor::SnapshotNeeded => {
                if !self.roster.is_watched() {
                    // Nothing is captured without an admitted agent.
                    return;
                }
                self.send_snapshot();
            }
            ToVisitor::Want { hashes, more } => {
                if let Some(service) = self.service.as_mut() {
                    service.on_want(hashes, more);
                }
            }
            ToVisitor::FromAgent { agent, msg } => self.on_agent(agent, msg),
            ToVisitor::Resumed { .. } => {
                // Resuming is not built yet: this script never asks for it.
            }
            ToVisitor::Ended { .. } => self.finish(None),
            ToVisitor::Error(frame) => {
                warn_js(
                    "cobrowse: the relay reported an error:",
                    &JsValue::from_str(&frame.message),
                );
                self.finish(Some(VisitorError::Refused(frame.message)));
            }
        }
    }

    fn on_action(&mut self, action: UiAction) {
        match action {
            UiAction::Accept(agent) => {
                if !self.roster.accept(agent) {
                    return;
                }
                self.send(&wire::encode_consent(agent, true));
                self.render();
            }
            UiAction::Decline(agent) => {
                self.roster.decline(agent);
                self.send(&wire::encode_consent(agent, false));
                if !self.roster.is_watched() {
                    self.send(&wire::encode_end());
                    self.finish(None);
                } else {
                    // Others already watch with consent: only this one is
                    // turned away.
                    self.render();
                }
            }
            UiAction::AllowControl(_) | UiAction::DenyControl(_) | UiAction::ViewOnly(_) => {
                self.on_mode_action(action);
            }
            UiAction::End => {
                self.send(&wire::encode_end());
                self.finish(None);
            }
        }
    }

    /// Sends a full snapshot as the next event, starting the observer first
    /// so nothing between the walk and the first batch is lost.
    fn send_snapshot(&mut self) {
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
        match snapshot(&self.document, &mut self.capture) {
            Ok(snap) => self.send_event(&Event::Snapshot(snap)),
            Err(e) => warn(&e.to_string()),
        }
        self.watch_resources();
    }

    /// Starts (or resumes) the resource service after a snapshot went out;
    /// its first scan runs from its own timer, not in this turn.
    fn watch_resources(&mut self) {
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
            service.watch();
        }
    }

    fn start_capture(&self) -> Result<Live, VisitorError> {
        let me = self.me.clone();
        let tracker = MutationTracker::start(
            &self.document,
            Box::new(move || with(&me, Inner::arm_flush)),
        )?;
        let capture_phase = EventListenerOptions::run_in_capture_phase();
        let mut listeners = Vec::with_capacity(9);
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
        Ok(Live {
            tracker,
            timer: FlushTimer::default(),
            _listeners: listeners,
            scrolls: Vec::new(),
            resized: false,
            pointer: twoway::PointerState::default(),
        })
    }

    fn arm_flush(&mut self) {
        let me = self.me.clone();
        if let Some(live) = self.live.as_mut() {
            live.timer
                .arm(&self.window, Rc::new(move || with(&me, Inner::flush)));
        }
    }

    /// Sends what changed since the last flush: the mutation batch first,
    /// then scroll positions and the viewport, in that causal order.
    fn flush(&mut self) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        live.timer.disarm();
        let batch = live.tracker.flush(&mut self.capture);
        let scrolls = std::mem::take(&mut live.scrolls);
        let resized = std::mem::replace(&mut live.resized, false);
        if !batch.is_empty() {
            self.send_event(&Event::Mutations(batch));
            if let Some(service) = self.service.as_mut() {
                service.page_changed();
            }
        }
        for s in scrolls {
            self.send_event(&Event::Scroll(s));
        }
        if resized {
            let v = viewport(&self.window);
            self.send_event(&Event::Viewport(v));
        }
    }

    fn on_input(&mut self, target: &Element) {
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

    fn on_scroll(&mut self, target: &web_sys::EventTarget) {
        let pos = if target.has_type::<Document>() {
            self.capture
                .ids
                .get(&self.document)
                .map(|id| window_scroll(&self.window, id))
        } else {
            target.dyn_ref::<Element>().and_then(|el| {
                self.capture.ids.get(el).map(|id| ScrollPos {
                    target: id,
                    x: f64::from(el.scroll_left()),
                    y: f64::from(el.scroll_top()),
                })
            })
        };
        let Some(pos) = pos else { return };
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
