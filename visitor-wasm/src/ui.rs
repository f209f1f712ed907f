//! The visitor's own UI: `<cobrowse-ui>` with an open shadow root holding a
//! small panel (the code, the consent and control questions, who watches in
//! which mode, the Stop control and End buttons, and for a few seconds after
//! the relay ended the session, why), a thin frame around the viewport while
//! an agent watches, and the layer agents' cursors and highlights are drawn
//! in.
//!
//! Owns: the element (removed on drop, or [`FAREWELL_MS`] after a farewell),
//! its rendering, the visitor's sentence for each [`EndReason`], and turning
//! clicks into [`UiAction`]s. Does not own: what the actions do (`session.rs`),
//! what is drawn in the presence layer (`presence.rs`).
//! The capture never mirrors this element (`mask::UI_TAG`). Over a page's
//! modal dialog the panel is lifted into a modal of its own (`modal.rs`).

use std::cell::RefCell;
use std::rc::Rc;

use crate::dom::Listener as EventListener;
use gloo_timers::callback::Timeout;
use protocol::{AgentId, EndReason, Mode};
use wasm_bindgen::{intern, JsCast};
use web_sys::{Document, Element, ShadowRootInit, ShadowRootMode};

use crate::error::VisitorError;
use crate::fullscreen::AboveFullscreen;
use crate::mask::UI_TAG;
use crate::modal::Lift;
use crate::policy::Agent;

/// What the visitor clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiAction {
    Accept(AgentId),
    Decline(AgentId),
    /// Allow the agent's request for control.
    AllowControl(AgentId),
    /// Keep the agent view-only (answering its request).
    DenyControl(AgentId),
    /// Take control back from the agent.
    ViewOnly(AgentId),
    End,
}

/// What the panel shows.
pub enum View<'a> {
    Connecting,
    Waiting {
        code: &'a str,
    },
    Asking {
        agent: AgentId,
        name: &'a str,
        mode: Mode,
    },
    /// An admitted agent asks to control the page.
    AskingControl {
        agent: AgentId,
        name: &'a str,
    },
    Live {
        agents: &'a [Agent],
    },
    /// The connection dropped; the session waits for this page to return.
    Reconnecting,
    /// The session is over (not by the visitor's own hand): why.
    Ended {
        sentence: &'a str,
    },
}

/// What the panel says when the relay ends the session: the visitor's side
/// of each reason (the console says the agent's). `None` for the ends the
/// visitor brought about themselves, which need no explanation.
pub fn ended_sentence(reason: EndReason) -> Option<&'static str> {
    match reason {
        EndReason::VisitorEnded | EndReason::VisitorDeclined => None,
        EndReason::VisitorDisconnected => {
            Some("Co-browsing ended: this page lost its connection for too long.")
        }
        EndReason::AgentLeft => Some("The agent left. Co-browsing has ended."),
        EndReason::RelayShutdown => Some("Co-browsing ended: the service is restarting."),
        EndReason::Error => Some("Co-browsing ended after an error."),
        EndReason::Idle => Some("Co-browsing ended after a long time without activity."),
        EndReason::InvitationExpired => Some("The co-browsing invitation has expired."),
        EndReason::InvitationCancelled => Some("The agent cancelled the co-browsing invitation."),
    }
}

/// How long the panel says why a session ended before it goes.
pub const FAREWELL_MS: u32 = 10_000;

thread_local! {
    /// The panel of an ended session while it says why, and the timer that
    /// removes it. Kept apart: the timer's own callback drops only the panel
    /// (a timer must not drop itself while it runs).
    static FAREWELL: RefCell<Option<Ui>> = const { RefCell::new(None) };
    static FAREWELL_TIMER: RefCell<Option<Timeout>> = const { RefCell::new(None) };
}

/// Removes an ended session's panel at once (a new session is starting).
pub fn clear_farewell() {
    let ui = FAREWELL.with(|f| f.borrow_mut().take());
    let timer = FAREWELL_TIMER.with(|t| t.borrow_mut().take());
    drop((ui, timer));
}

const CSS: &str = "\
:host{all:initial}\
.panel{position:fixed;right:16px;bottom:16px;z-index:2147483647;box-sizing:border-box;\
max-width:340px;padding:14px 16px;border-radius:10px;background:#1f2937;color:#f9fafb;\
font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;\
box-shadow:0 8px 28px rgba(0,0,0,.35)}\
p{margin:0}\
.code{font:700 22px/1.3 ui-monospace,Menlo,Consolas,monospace;letter-spacing:.12em;color:#fde68a}\
.row{display:flex;gap:8px;margin-top:12px;justify-content:flex-end}\
button{font:inherit;font-weight:600;padding:6px 14px;border:0;border-radius:6px;cursor:pointer}\
button:focus-visible{outline:2px solid #93c5fd;outline-offset:2px}\
.accept{background:#22c55e;color:#052e16}\
.decline{background:#e5e7eb;color:#111827}\
.end{background:#ef4444;color:#fff}\
.allow{background:#f59e0b;color:#1f2937}\
.frame{position:fixed;inset:0;z-index:2147483646;border:3px solid #f59e0b;pointer-events:none}\
.presence{position:fixed;inset:0;z-index:2147483646;pointer-events:none;overflow:hidden}\
.presence>*{position:fixed;left:0;top:0;pointer-events:none}\
[data-cobrowse-cursor]{will-change:transform}\
[data-cobrowse-cursor] svg{display:block;filter:drop-shadow(0 1px 1px rgba(0,0,0,.4))}\
[data-cobrowse-cursor] span{position:absolute;left:14px;top:18px;white-space:nowrap;padding:1px 6px;\
border-radius:4px;background:#2563eb;color:#fff;font:600 12px/1.4 system-ui,sans-serif}\
[data-cobrowse-click]{width:28px;height:28px;margin:-14px 0 0 -14px;border-radius:50%;\
background:rgba(250,204,21,.55);border:2px solid #eab308;box-sizing:border-box;\
animation:cb-fade .6s ease-out forwards}\
@keyframes cb-fade{from{opacity:1;transform:scale(.6)}to{opacity:0;transform:scale(1.6)}}\
[data-cobrowse-highlight]{box-sizing:border-box;border:3px solid #2563eb;border-radius:4px;\
box-shadow:0 0 0 4px rgba(37,99,235,.25)}\
[data-cobrowse-wiggle]{border-color:#f59e0b;animation:cb-wiggle .15s ease-in-out 6 alternate}\
@keyframes cb-wiggle{from{transform:rotate(-3deg) scale(1.04)}to{transform:rotate(3deg) scale(1.04)}}\
[hidden]{display:none}";

pub struct Ui {
    host: Element,
    panel: Element,
    frame: Element,
    layer: Element,
    document: Document,
    /// The panel's own modal over the page's (`modal.rs`).
    lift: Lift,
    /// The whole host over a fullscreen page (`fullscreen.rs`).
    _above: AboveFullscreen,
    _click: EventListener,
}

impl Ui {
    /// Appends `<cobrowse-ui>` to the document element.
    pub fn create(
        document: &Document,
        on_action: Rc<dyn Fn(UiAction)>,
    ) -> Result<Ui, VisitorError> {
        let host =
            crate::dom::create_element(document, intern(UI_TAG)).map_err(VisitorError::js)?;
        let root = host
            .attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))
            .map_err(VisitorError::js)?;
        let mut css = String::from(CSS);
        css.push_str(crate::modal::CSS);
        let style = element(document, "style", Some(&css))?;
        let frame = element(document, "div", None)?;
        frame.set_class_name("frame");
        set(&frame, "hidden", "")?;
        let panel = element(document, "div", None)?;
        panel.set_class_name("panel");
        set(&panel, "role", "status")?;
        let layer = element(document, "div", None)?;
        layer.set_class_name("presence");
        for child in [&style, &frame, &layer, &panel] {
            crate::dom::append_child(&root, child).map_err(VisitorError::js)?;
        }
        let lift = Lift::new(document, &root, &panel)?;
        let click = EventListener::new(&root, "click", move |event| {
            let target = event.target().and_then(|t| t.dyn_into::<Element>().ok());
            if let Some(action) = target.and_then(|t| action_of(&t)) {
                on_action(action);
            }
        });
        let parent = crate::dom::document_element(document).ok_or(VisitorError::NoDocument)?;
        crate::dom::append_child(&parent, &host).map_err(VisitorError::js)?;
        let above = AboveFullscreen::new(document, &host);
        Ok(Ui {
            _above: above,
            host,
            panel,
            frame,
            layer,
            document: document.clone(),
            lift,
            _click: click,
        })
    }

    /// Keeps the panel for [`FAREWELL_MS`] after the session ended, saying
    /// why (its buttons are gone; its click listener reaches an ended
    /// session, which ignores it). A new `start()` removes it at once.
    pub fn farewell(self, sentence: &str) {
        if let Err(e) = self.render(&View::Ended { sentence }, false) {
            crate::error::warn(&e.to_string());
            return;
        }
        clear_farewell();
        FAREWELL.with(|f| *f.borrow_mut() = Some(self));
        let timer = Timeout::new(FAREWELL_MS, || {
            let ui = FAREWELL.with(|f| f.borrow_mut().take());
            drop(ui);
        });
        FAREWELL_TIMER.with(|t| *t.borrow_mut() = Some(timer));
    }

    /// Where agents' cursors and highlights are drawn: a fixed, click-through
    /// layer over the page, under the panel.
    pub fn layer(&self) -> &Element {
        &self.layer
    }

    /// Redraws the panel; `watched` shows the frame around the viewport.
    pub fn render(&self, view: &View<'_>, watched: bool) -> Result<(), VisitorError> {
        if watched {
            let _ = crate::dom::remove_attribute(&self.frame, "hidden");
        } else {
            set(&self.frame, "hidden", "")?;
        }
        self.panel.set_text_content(None);
        let d = &self.document;
        let text = element(d, "p", None)?;
        let row = element(d, "div", None)?;
        row.set_class_name("row");
        match view {
            View::Connecting => {
                text.set_text_content(Some("Connecting to co-browsing…"));
            }
            View::Waiting { code } => {
                let code_el = element(d, "strong", Some(code))?;
                code_el.set_class_name("code");
                set(&code_el, "data-cobrowse-code", code)?;
                append_text(d, &text, "Your co-browsing code: ")?;
                crate::dom::append_child(&text, &code_el).map_err(VisitorError::js)?;
                append_text(d, &text, " — read it to the agent")?;
                add(&row, &button(d, "end", "data-cobrowse-end", "", "End")?)?;
            }
            View::Ended { sentence } => {
                text.set_text_content(Some(sentence));
                set(&text, "data-cobrowse-ended", "")?;
            }
            View::Reconnecting => {
                text.set_text_content(Some("Reconnecting to co-browsing…"));
                add(&row, &button(d, "end", "data-cobrowse-end", "", "End")?)?;
            }
            View::Asking { agent, name, mode } => {
                // The relay sends a display name ("Agent 1", "Ann Smith").
                let mut s = String::from(*name);
                s.push_str(match mode {
                    Mode::ViewOnly => " wants to see this page (view only)",
                    Mode::Shared => " wants to see and control this page",
                });
                text.set_text_content(Some(&s));
                let id = agent.0.to_string();
                add(
                    &row,
                    &button(d, "decline", "data-cobrowse-decline", &id, "Decline")?,
                )?;
                add(
                    &row,
                    &button(d, "accept", "data-cobrowse-accept", &id, "Accept")?,
                )?;
            }
            View::AskingControl { agent, name } => {
                let mut s = String::from(*name);
                s.push_str(" asks to control this page");
                text.set_text_content(Some(&s));
                let id = agent.0.to_string();
                add(
                    &row,
                    &button(
                        d,
                        "decline",
                        "data-cobrowse-deny-control",
                        &id,
                        "Keep view-only",
                    )?,
                )?;
                add(
                    &row,
                    &button(d, "allow", "data-cobrowse-allow-control", &id, "Allow")?,
                )?;
            }
            View::Live { agents } => {
                let viewers: Vec<&str> = agents
                    .iter()
                    .filter(|a| a.mode == Mode::ViewOnly)
                    .map(|a| a.name.as_str())
                    .collect();
                let mut s = viewers.join(", ");
                if !viewers.is_empty() {
                    s.push_str(if viewers.len() > 1 {
                        " are viewing this page. "
                    } else {
                        " is viewing this page. "
                    });
                }
                for a in agents.iter().filter(|a| a.mode == Mode::Shared) {
                    s.push_str(&a.name);
                    s.push_str(" can control this page. ");
                    let id = a.id.0.to_string();
                    let mut label = String::from("Stop control");
                    if agents.len() > 1 {
                        label.push_str(" (");
                        label.push_str(&a.name);
                        label.push(')');
                    }
                    add(
                        &row,
                        &button(d, "allow", "data-cobrowse-view-only", &id, &label)?,
                    )?;
                }
                text.set_text_content(Some(s.trim_end()));
                add(&row, &button(d, "end", "data-cobrowse-end", "", "End")?)?;
            }
        }
        crate::dom::append_child(&self.panel, &text).map_err(VisitorError::js)?;
        let actionable = row.child_element_count() > 0;
        if actionable {
            crate::dom::append_child(&self.panel, &row).map_err(VisitorError::js)?;
        }
        let asking = matches!(view, View::Asking { .. } | View::AskingControl { .. });
        self.lift.rendered(actionable, asking);
        Ok(())
    }
}

impl Drop for Ui {
    fn drop(&mut self) {
        // Closed before the host goes: a closing dialog gives the focus back
        // to where it was on the page (a removed one does not).
        self.lift.close();
        self.host.remove();
    }
}

/// The action a click on `target` (or the button around it) asks for.
fn action_of(target: &Element) -> Option<UiAction> {
    let button = target
        .closest(
            "[data-cobrowse-accept],[data-cobrowse-decline],[data-cobrowse-end],\
             [data-cobrowse-allow-control],[data-cobrowse-deny-control],[data-cobrowse-view-only]",
        )
        .ok()??;
    let agent = |attr: &str| {
        crate::dom::get_attribute(&button, attr)
            .and_then(|v| v.parse().ok())
            .map(AgentId)
    };
    if let Some(a) = agent("data-cobrowse-accept") {
        Some(UiAction::Accept(a))
    } else if let Some(a) = agent("data-cobrowse-decline") {
        Some(UiAction::Decline(a))
    } else if let Some(a) = agent("data-cobrowse-allow-control") {
        Some(UiAction::AllowControl(a))
    } else if let Some(a) = agent("data-cobrowse-deny-control") {
        Some(UiAction::DenyControl(a))
    } else if let Some(a) = agent("data-cobrowse-view-only") {
        Some(UiAction::ViewOnly(a))
    } else if crate::dom::has_attribute(&button, "data-cobrowse-end") {
        Some(UiAction::End)
    } else {
        None
    }
}

fn element(d: &Document, tag: &str, text: Option<&str>) -> Result<Element, VisitorError> {
    let el = crate::dom::create_element(d, intern(tag)).map_err(VisitorError::js)?;
    if text.is_some() {
        el.set_text_content(text);
    }
    Ok(el)
}

fn add(parent: &Element, child: &Element) -> Result<(), VisitorError> {
    crate::dom::append_child(&parent, child)
        .map(drop)
        .map_err(VisitorError::js)
}

fn set(el: &Element, name: &str, value: &str) -> Result<(), VisitorError> {
    crate::dom::set_attribute(el, intern(name), value).map_err(VisitorError::js)
}

fn append_text(d: &Document, parent: &Element, text: &str) -> Result<(), VisitorError> {
    crate::dom::append_child(&parent, &crate::dom::create_text_node(d, text))
        .map(drop)
        .map_err(VisitorError::js)
}

fn button(
    d: &Document,
    class: &str,
    attr: &str,
    value: &str,
    label: &str,
) -> Result<Element, VisitorError> {
    let b = element(d, "button", Some(label))?;
    set(&b, "type", "button")?;
    b.set_class_name(class);
    set(&b, attr, value)?;
    Ok(b)
}
