//! The two-way half of a session: agents' messages (pointing drawn on the
//! page, mode requests asked in the panel, control checked and carried out)
//! and the visitor's own pointer and focus sent to agents.
//!
//! Owns: routing those through the session's state. Does not own: the
//! decisions (`policy.rs`, `pointing.rs`), drawing (`presence.rs`), acting
//! (`remote.rs`), reading the DOM (`pointer.rs`).

use crate::dom::Listener as EventListener;
use gloo_events::EventListenerOptions;
use gloo_timers::callback::Timeout;
use protocol::{
    AgentId, Event, FromAgent, Mode, NodeId, Point, PointerKind, PointerPos, TextRange,
};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, MouseEvent, Node};

use super::{with, Inner};
use crate::error::warn;
use crate::pointer::{self, Spot};
use crate::pointing::{self, Step, Throttle};
use crate::policy::{Request, Verdict};
use crate::presence::Presence;
use crate::remote::{self, Outcome, Page};
use crate::selection::{self, Reading};
use crate::ui::UiAction;
use crate::wire;

/// The visitor's pointer between events.
#[derive(Default)]
pub(super) struct PointerState {
    throttle: Throttle,
    /// Fires for the last move of a burst.
    timer: Option<Timeout>,
    /// The latest move not sent yet: where the event happened, and where.
    pending: Option<(Option<Node>, f64, f64)>,
    /// The focus last sent (`Some(None)`: nothing has focus).
    focus: Option<Option<NodeId>>,
    /// The text selection last sent (`None`: nothing sent yet).
    selection: Option<Option<TextRange>>,
    /// Fires once a burst of `selectionchange` (a drag) settles.
    selection_timer: Option<Timeout>,
}

impl PointerState {
    pub(super) fn forget_focus(&mut self) {
        self.focus = None;
        self.selection = None;
    }
}

#[derive(Clone, Copy)]
enum PointerInput {
    Move,
    Down,
    Out,
}

/// Logs what became of a control that was carried out.
pub(super) fn report(outcome: Outcome) {
    match outcome {
        Outcome::Done => {}
        Outcome::Unknown(id) => web_sys::console::debug_2(
            &JsValue::from_str("cobrowse: an agent's control names an unknown node"),
            &JsValue::from(id.0),
        ),
        Outcome::Refused(what) => web_sys::console::warn_2(
            &JsValue::from_str("cobrowse: refused an agent's control on"),
            &JsValue::from_str(what),
        ),
        Outcome::Failed(why) => web_sys::console::warn_2(
            &JsValue::from_str("cobrowse: an agent's control failed:"),
            &JsValue::from_str(why),
        ),
    }
}

impl Inner {
    pub(super) fn on_agent(&mut self, agent: AgentId, msg: FromAgent) {
        let msg = match msg {
            FromAgent::Control(c) => return self.on_control(agent, &c),
            other => other,
        };
        // Only agents the visitor let in may point or ask; the relay checks
        // this too.
        let Some(name) = self
            .roster
            .watching()
            .iter()
            .find(|a| a.id == agent)
            .map(|a| a.name.clone())
        else {
            return;
        };
        match msg {
            FromAgent::Point(p) => self.on_point(agent, &name, p),
            FromAgent::ModeRequest(mode) => match self.roster.request(agent, mode) {
                Request::Ask | Request::Dropped => self.render(),
                Request::Ignored => {}
            },
            FromAgent::Control(_) => {}
        }
    }

    /// Checks a control against this script's own record of modes (not the
    /// relay's), then against the element; it runs once the session's
    /// state is released (see `with`).
    fn on_control(&mut self, agent: AgentId, control: &protocol::Control) {
        match self.roster.may_control(agent) {
            Verdict::Allowed => {
                let page = Page {
                    window: &self.window,
                    document: &self.document,
                    capture: &self.capture,
                };
                match remote::prepare(&page, control) {
                    Ok(action) => self.deferred.push(action),
                    Err(outcome) => report(outcome),
                }
            }
            Verdict::Refused { first: true } => warn(
                "cobrowse: refused control from an agent the visitor has not allowed to \
                 control this page",
            ),
            Verdict::Refused { first: false } => {}
        }
    }

    pub(super) fn on_mode_action(&mut self, action: UiAction) {
        match action {
            UiAction::AllowControl(agent) => {
                if self.roster.allow(agent) {
                    self.send(&wire::encode_set_mode(agent, Mode::Shared));
                }
            }
            UiAction::DenyControl(agent) => self.roster.deny(agent),
            UiAction::ViewOnly(agent) => {
                if self.roster.view_only(agent) {
                    self.send(&wire::encode_set_mode(agent, Mode::ViewOnly));
                }
            }
            _ => return,
        }
        self.render();
    }

    fn element(&self, id: NodeId) -> Option<Element> {
        self.capture
            .ids
            .find(&self.document, id)
            .and_then(|n| n.dyn_into::<Element>().ok())
    }

    fn presence(&mut self) -> Option<&mut Presence> {
        if self.presence.is_none() {
            let ui = self.ui.as_ref()?;
            self.presence = Some(Presence::new(&self.document, ui.layer()));
        }
        self.presence.as_mut()
    }

    fn on_point(&mut self, agent: AgentId, name: &str, point: Point) {
        let drawn = match point {
            Point::Pointer { pos, kind } => {
                let rect = pos
                    .target
                    .and_then(|id| self.element(id))
                    .map(|el| pointer::rect_of(&el));
                let v = crate::snapshot::viewport(&self.window);
                let at = pointing::place(&pos, rect, (f64::from(v.width), f64::from(v.height)));
                let Some(presence) = self.presence() else {
                    return;
                };
                match kind {
                    PointerKind::Move => presence.move_cursor(agent, name, at),
                    PointerKind::Click => presence
                        .move_cursor(agent, name, at)
                        .and_then(|()| presence.click(at)),
                    PointerKind::Leave => {
                        presence.hide_cursor(agent);
                        Ok(())
                    }
                }
            }
            Point::Highlight { target } | Point::Wiggle { target } => {
                let wiggle = matches!(point, Point::Wiggle { .. });
                let Some(el) = self.element(target) else {
                    return unknown(target);
                };
                let rect = pointer::rect_of(&el);
                let Some(presence) = self.presence() else {
                    return;
                };
                presence.highlight(rect, wiggle)
            }
            Point::Scroll { target, x, y } => {
                // Co-scrolling: the resulting scroll is captured and sent
                // like the visitor's own (the console needs the position
                // the page really reached); nothing else answers it, so
                // there is no loop on this side.
                if self.capture.ids.get(&self.document) == Some(target) {
                    self.window.scroll_to_with_x_and_y(x, y);
                } else if let Some(el) = self.element(target) {
                    el.scroll_to_with_x_and_y(x, y);
                } else {
                    unknown(target);
                }
                Ok(())
            }
            // Drawn over the page; the visitor's own selection stays.
            Point::Selection(range) => {
                // Made on first use, like the cursors' layer.
                if self.presence().is_none() {
                    return;
                }
                let (ids, document) = (&self.capture.ids, &self.document.clone());
                let find = |id| selection::find_node(ids, document, id);
                let Some(presence) = self.presence.as_mut() else {
                    return;
                };
                presence.selections.set(agent, range, &find)
            }
        };
        if let Err(e) = drawn {
            warn(&e.to_string());
        }
    }

    /// Registers the visitor's pointer and focus listeners (part of the
    /// capture: they exist only while an admitted agent watches).
    pub(super) fn listen_pointer(&self, listeners: &mut Vec<EventListener>) {
        let capture_phase = EventListenerOptions::run_in_capture_phase();
        for (kind, input) in [
            ("pointermove", PointerInput::Move),
            ("pointerdown", PointerInput::Down),
            ("pointerout", PointerInput::Out),
        ] {
            let me = self.me.clone();
            listeners.push(EventListener::new_with_options(
                &self.document,
                kind,
                capture_phase,
                move |e| with(&me, |i| i.on_pointer(input, e)),
            ));
        }
        let me = self.me.clone();
        listeners.push(EventListener::new(
            &self.document,
            "selectionchange",
            move |_| {
                with(&me, Inner::on_selection_change);
            },
        ));
        // An agent's selection follows the text it covers.
        let me = self.me.clone();
        listeners.push(EventListener::new_with_options(
            &self.document,
            "scroll",
            capture_phase,
            move |_| with(&me, Inner::replace_selections),
        ));
        let me = self.me.clone();
        listeners.push(EventListener::new(&self.window, "resize", move |_| {
            with(&me, Inner::replace_selections)
        }));
        for (kind, into) in [("focusin", true), ("focusout", false)] {
            let me = self.me.clone();
            listeners.push(EventListener::new_with_options(
                &self.document,
                kind,
                capture_phase,
                move |e| with(&me, |i| i.on_focus(into, e)),
            ));
        }
    }

    fn on_pointer(&mut self, input: PointerInput, e: &web_sys::Event) {
        let Some(mouse) = e.dyn_ref::<MouseEvent>() else {
            return;
        };
        let (x, y) = (f64::from(mouse.client_x()), f64::from(mouse.client_y()));
        let now = self.window.performance().map_or(0.0, |p| p.now());
        let me = self.me.clone();
        let origin = pointer::origin_of(e);
        let Some(state) = self.live.as_mut().map(|l| &mut l.pointer) else {
            return;
        };
        match input {
            PointerInput::Move => {
                state.pending = Some((origin, x, y));
                match state.throttle.on_move(now) {
                    Step::Send => self.send_pointer(PointerKind::Move),
                    Step::Wait(ms) => {
                        state.timer = Some(Timeout::new(ms, move || {
                            with(&me, Inner::on_pointer_timer);
                        }));
                    }
                    Step::Hold => {}
                }
            }
            PointerInput::Down => {
                state.throttle.cancel();
                state.timer = None;
                state.pending = Some((origin, x, y));
                self.send_pointer(PointerKind::Click);
            }
            PointerInput::Out => {
                // Out of the window: no element to go to.
                if mouse.related_target().is_some() {
                    return;
                }
                state.throttle.cancel();
                state.timer = None;
                state.pending = None;
                let pos = pointing::pointer_pos(None, x, y);
                self.send_event(&Event::Pointer {
                    pos,
                    kind: PointerKind::Leave,
                });
            }
        }
    }

    fn on_pointer_timer(&mut self) {
        let now = self.window.performance().map_or(0.0, |p| p.now());
        let Some(live) = self.live.as_mut() else {
            return;
        };
        live.pointer.timer = None;
        if live.pointer.throttle.on_timer(now) {
            self.send_pointer(PointerKind::Move);
        }
    }

    /// Sends the pending pointer position as `kind`, unless it is over the
    /// visitor's own panel.
    fn send_pointer(&mut self, kind: PointerKind) {
        let Some((origin, x, y)) = self.live.as_mut().and_then(|l| l.pointer.pending.take()) else {
            return;
        };
        // Mutations first: the element under the pointer may be new.
        self.flush();
        let spot = pointer::spot(&self.capture.ids, origin);
        if matches!(spot, Spot::Ui) {
            return;
        }
        let pos: PointerPos = pointer::position(&spot, x, y);
        self.send_event(&Event::Pointer { pos, kind });
    }

    fn on_focus(&mut self, into: bool, e: &web_sys::Event) {
        let target = if into {
            self.flush();
            match pointer::spot(&self.capture.ids, pointer::origin_of(e)) {
                Spot::Mirrored(id, _) => Some(id),
                // The visitor's panel took focus: the page has none.
                Spot::Ui | Spot::Unknown => None,
            }
        } else {
            // Focus moving to another element is told by its focusin.
            let to = e
                .dyn_ref::<web_sys::FocusEvent>()
                .and_then(web_sys::FocusEvent::related_target);
            if to.is_some() {
                return;
            }
            None
        };
        let Some(live) = self.live.as_mut() else {
            return;
        };
        if live.pointer.focus == Some(target) {
            return;
        }
        live.pointer.focus = Some(target);
        self.send_event(&Event::Focus { target });
    }
}

/// How long a burst of selection changes (a drag) waits before it is sent.
const SELECTION_SETTLE_MS: u32 = 120;

impl Inner {
    fn on_selection_change(&mut self) {
        let me = self.me.clone();
        let Some(live) = self.live.as_mut() else {
            return;
        };
        live.pointer.selection_timer = Some(Timeout::new(SELECTION_SETTLE_MS, move || {
            with(&me, Inner::send_selection);
        }));
    }

    /// Sends the visitor's selection if it changed; never one in the
    /// visitor's own panel.
    fn send_selection(&mut self) {
        // Mutations first: the selected text may be new.
        self.flush();
        let range = match selection::read(&self.document, &self.capture.ids) {
            Reading::Range(range) => range,
            Reading::Ui | Reading::Unknown => return,
        };
        let Some(live) = self.live.as_mut() else {
            return;
        };
        live.pointer.selection_timer = None;
        if !selection::changed(live.pointer.selection, range) {
            return;
        }
        live.pointer.selection = Some(range);
        self.send_event(&Event::Selection(range));
    }

    fn replace_selections(&mut self) {
        let (ids, document) = (&self.capture.ids, &self.document.clone());
        let Some(presence) = self.presence.as_mut() else {
            return;
        };
        if presence.selections.is_empty() {
            return;
        }
        let find = |id| selection::find_node(ids, document, id);
        if let Err(e) = presence.selections.replace(&find) {
            warn(&e.to_string());
        }
    }
}

fn unknown(id: NodeId) {
    web_sys::console::debug_2(
        &JsValue::from_str("cobrowse: an agent points at an unknown node"),
        &JsValue::from(id.0),
    );
}
