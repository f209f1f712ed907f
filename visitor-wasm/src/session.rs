//! One co-browsing session from the visitor's side: the relay conversation,
//! consent, and capture only while an admitted agent watches.
//!
//! Owns: the session state machine, the sequence numbers, and teardown.
//! `session/capture.rs` runs the capture itself; `session/resume.rs` keeps
//! the session going across page loads and dropped connections;
//! `session/twoway.rs` adds what agents do on the page (pointing, modes,
//! control) and the visitor's own pointer and focus.
//! Every JS callback holds a `Weak` to the state, and every registration
//! (socket, UI, observer, listeners, timers) is an RAII guard owned here, so
//! dropping the pieces — `end()` — stops everything. Does not own: reading
//! the DOM (`serialize.rs`, `mutations.rs`), the socket or UI mechanics.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use crate::dom::Listener as EventListener;
use protocol::{Event, FormState, JoinCode, NodeId, ScrollPos, Seq, ToVisitor};
use wasm_bindgen::JsValue;
use web_sys::{Document, Window};

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
use crate::transport::{Socket, SocketEvent};
use crate::ui::{Ui, UiAction, View};
use crate::wire;

mod canvas;
mod capture;
mod masking;
pub(crate) mod resume;
mod sliced;
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
    /// Canvas pixels (`None` where the browser cannot capture them).
    canvases: Option<crate::canvas::Canvases>,
    media: Option<crate::media::MediaWatch>,
    /// Stylesheet and font changes made in script (`cssom/`).
    cssom: crate::cssom::Cssom,
    /// The top layer as last sent, and the order elements entered it
    /// (`toplayer.rs`).
    top_layer: crate::toplayer::TopLayer,
    opened: crate::toplayer::Opened,
}

pub(crate) struct Inner {
    me: Weak<RefCell<Inner>>,
    /// The start options, kept for the next page (see `resume.rs`).
    options: Options,
    url: String,
    /// Surviving navigation and reconnecting (`session/resume.rs`).
    resume: resume::State,
    relay: String,
    resources: protocol::ResourcePolicy,
    rules: Rules,
    /// Selectors the relay's config adds for this page (`session/masking.rs`).
    relay_masking: protocol::MaskRules,
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
    /// Frames sent since the last snapshot, to resend what a relay lacks
    /// after a dropped connection (`outbox.rs`).
    outbox: crate::outbox::Outbox,
    /// Reconnecting at a draining relay's request (`session/resume.rs`).
    draining: Option<gloo_timers::callback::Timeout>,
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
    /// The snapshot being walked, if any (`session/sliced.rs`), and the
    /// number of the last walk started.
    walk: Option<sliced::Walking>,
    walk_generation: u32,
    ended: bool,
    /// Why the relay ended the session, for the panel to say as it goes
    /// (`None`: the panel just goes).
    farewell: Option<&'static str>,
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

/// The page's running session, if any.
pub(crate) fn current() -> Option<Shared> {
    if !running() {
        return None;
    }
    CURRENT.with(|current| current.borrow().upgrade())
}

/// Builds the session, shows the UI and connects; the returned `Settle`
/// fires on Welcome (resolve) or failure (reject). With `resume` (an entry
/// the previous page left), nothing is shown until the relay says the
/// session continues.
pub(crate) fn open(
    options: &Options,
    settle: Option<Settle>,
    resume: Option<crate::resume::Entry>,
) -> Result<Shared, VisitorError> {
    if running() {
        return Err(VisitorError::AlreadyRunning);
    }
    // The last session's "why it ended" makes way for this one's panel.
    crate::ui::clear_farewell();
    let window = web_sys::window().ok_or(VisitorError::NoDocument)?;
    let document = window.document().ok_or(VisitorError::NoDocument)?;
    options.check_selectors(&document)?;
    let url = crate::options::socket_url(&options.relay)?;
    let shared = Rc::new_cyclic(|me: &Weak<RefCell<Inner>>| {
        RefCell::new(Inner {
            me: me.clone(),
            options: options.clone(),
            url,
            resume: resume::State::new(resume.as_ref()),
            relay: options.relay.clone(),
            resources: options.resource_policy(),
            rules: options.rules(),
            relay_masking: protocol::MaskRules::default(),
            upload_token: None,
            service: None,
            capture: Capture::with_rules(options.rules()).max_nodes(options.max_nodes),
            window,
            document,
            socket: None,
            ui: None,
            live: None,
            next_seq: resume.as_ref().map_or(Seq::FIRST, |e| Seq(e.next_seq)),
            outbox: crate::outbox::Outbox::default(),
            draining: None,
            code: None,
            roster: Roster::default(),
            presence: None,
            deferred: Vec::new(),
            settle,
            last_input: None,
            walk: None,
            walk_generation: 0,
            ended: false,
            farewell: None,
        })
    });
    let result = (|| {
        let mut inner = shared.borrow_mut();
        if resume.is_none() {
            inner.show_ui()?;
        }
        inner.connect()
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
    Option<gloo_timers::callback::Timeout>,
    resume::Timers,
    Option<Resources>,
    Option<Live>,
    Option<Presence>,
    Option<Ui>,
    Option<Socket>,
);

impl Inner {
    /// Marks the session over and rejects a pending `start()`. Unless the
    /// page is going away, nothing is left to resume either.
    fn finish(&mut self, error: Option<VisitorError>) {
        self.ended = true;
        self.cancel_walk();
        self.deferred.clear();
        self.resume.finish();
        if let Some(settle) = self.settle.take() {
            let err: JsValue = error.unwrap_or(VisitorError::Ended).into();
            let _ = settle.reject.call1(&JsValue::UNDEFINED, &err);
        }
    }

    /// Moves every guard out, to be dropped once the borrow is released.
    fn take_parts(&mut self) -> Option<Parts> {
        Some((
            self.draining.take(),
            self.resume.take_timers(),
            self.service.take(),
            self.live.take(),
            self.presence.take(),
            self.take_ui(),
            self.socket.take(),
        ))
    }

    /// The panel to drop, unless it stays a moment to say why the relay
    /// ended the session.
    fn take_ui(&mut self) -> Option<Ui> {
        let ui = self.ui.take()?;
        match self.farewell.take() {
            Some(sentence) => {
                ui.farewell(sentence);
                None
            }
            None => Some(ui),
        }
    }

    /// Shows `<cobrowse-ui>`, its clicks routed to [`Inner::on_action`].
    fn show_ui(&mut self) -> Result<(), VisitorError> {
        let me = self.me.clone();
        let ui = Ui::create(
            &self.document,
            Rc::new(move |a| with(&me, |i| i.on_action(a))),
        )?;
        self.ui = Some(ui);
        self.render();
        Ok(())
    }

    /// Opens a socket to the relay; its hello goes out on `open`.
    fn connect(&mut self) -> Result<(), VisitorError> {
        let me = self.me.clone();
        self.socket = Some(Socket::connect(
            &self.url,
            Rc::new(move |e| with(&me, |i| i.on_socket(e))),
        )?);
        Ok(())
    }

    fn send(&self, bytes: &[u8]) -> bool {
        self.socket.as_ref().is_some_and(|s| s.send(bytes))
    }

    /// Sends one event with the next sequence number; a number is only used
    /// up when the frame went out (or, while reconnecting, waits in the
    /// outbox for the resumed socket), so the agent never sees a gap.
    fn send_event(&mut self, event: &Event) {
        // While a snapshot is walked, nothing goes before it.
        if self.hold_event(event) {
            return;
        }
        self.resume.before_send(self.next_seq);
        let bytes = wire::encode_event(self.next_seq, event);
        self.send_numbered(matches!(event, Event::Snapshot(_)), bytes);
    }

    /// Sends a snapshot event encoded already (`payload`, in slices:
    /// `session/sliced.rs`) as the next frame.
    fn send_snapshot_payload(&mut self, payload: Vec<u8>) {
        self.resume.before_send(self.next_seq);
        let bytes = wire::event_frame(self.next_seq, true, &payload);
        drop(payload);
        self.send_numbered(true, bytes);
    }

    /// Sends a frame numbered `next_seq` and keeps it for a resume.
    fn send_numbered(&mut self, snapshot: bool, bytes: Vec<u8>) {
        // While reconnecting nothing goes on the socket before the relay
        // says where it stands (`Resumed`): the frame only waits.
        if self.resume.is_reconnecting() || self.send(&bytes) {
            self.outbox.push(self.next_seq.0, snapshot, bytes);
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
        } else if self.resume.is_reconnecting() {
            View::Reconnecting
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
                let page_url = crate::dom::url(&self.document);
                let resume = self.resume.hello_token();
                // An invitation starts a session; a resume continues one.
                let invitation = match resume {
                    Some(_) => None,
                    None => self.options.invitation.as_deref(),
                };
                self.send(&wire::encode_hello(
                    &page_url,
                    self.resources,
                    resume,
                    invitation,
                ));
            }
            SocketEvent::Message(bytes) => match wire::decode_to_visitor(&bytes) {
                Ok(msg) => self.on_message(msg),
                Err(e) => warn(&e.to_string()),
            },
            SocketEvent::Closed { reason } => {
                if self.resume.leaving() {
                    // The page is going away: the relay keeps the session
                    // for the next page, whose entry stays.
                    return self.finish(None);
                }
                if self.settle.is_none() && self.reconnect(&reason) {
                    return;
                }
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
                code,
                upload_token,
                resume_token,
                resume_secs,
                masking,
                ..
            } => {
                self.adopt_relay_masking(masking);
                self.code = Some(code);
                if !upload_token.is_empty() {
                    self.upload_token = Some(upload_token);
                }
                self.on_welcome(&resume_token, resume_secs);
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
                    self.cancel_walk();
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
            ToVisitor::Resumed {
                agents,
                masking,
                last_seq,
            } => {
                // Before the snapshot `on_resumed` may send.
                self.adopt_relay_masking(masking);
                self.on_resumed(agents, last_seq);
            }
            // A draining relay: reconnect, with the resume token, at a
            // random moment in its window.
            ToVisitor::Reconnect { within_ms } => self.reconnect_within(within_ms),
            ToVisitor::Ended { reason } => {
                self.farewell = crate::ui::ended_sentence(reason);
                self.finish(None);
            }
            ToVisitor::Error(frame) if self.resume.is_resuming() => self.refused(&frame.message),
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
}
