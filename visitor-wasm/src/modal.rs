//! The visitor's panel over the page's own modal dialog. While a page's
//! `<dialog>` is open with `showModal()`, the browser makes everything
//! outside it inert, `<cobrowse-ui>` too (and draws it under the dialog's
//! backdrop): the visitor could neither answer the consent question nor end
//! the session. So the panel can move into a `<dialog>` of our own in the
//! shadow root, shown with `showModal()`: the newest modal is the one the
//! browser leaves usable.
//!
//! Ours blocks the page's modal in turn, so it is lifted only when needed: a
//! question (an agent asks to join or for control) comes over the page's
//! modal at once; otherwise the panel stays under it, faded, and a press on
//! it lifts it (the next click reaches End), so a page whose modals open
//! during a session works as without us. The visitor sends a lifted panel
//! back with Escape or a click beside it (on the transparent backdrop); it
//! stays back until it asks a new question, is pressed again, or no page
//! modal is left. Closing ours never touches the page's dialog.
//!
//! Owns: our dialog, moving the panel in and out, and the listeners that
//! watch the page's dialogs (`toggle` and `close`, in the capture phase:
//! neither bubbles), all removed on drop. Does not own: the panel's content
//! (`ui.rs`). Never mirrored: it lives in `<cobrowse-ui>`'s shadow root, and
//! the page's top-layer capture (`toplayer.rs`) queries the document only.

use std::cell::Cell;
use std::rc::Rc;

use crate::dom::Listener as EventListener;
use gloo_events::{EventListenerOptions, EventListenerPhase};
use wasm_bindgen::{intern, JsCast};
use web_sys::{Document, Element, HtmlDialogElement, ShadowRoot};

use crate::error::{warn_js, VisitorError};

/// The CSS for our dialog: no box of its own (the panel inside keeps its
/// fixed place at the viewport's corner) and a transparent backdrop, so the
/// page looks the same whether the panel is lifted or not.
pub const CSS: &str = "\
dialog.lift{margin:0;padding:0;border:0;width:0;height:0;max-width:none;max-height:none;\
overflow:visible;background:none;outline:none}\
dialog.lift::backdrop{background:transparent}\
.panel[data-behind]{opacity:.6}";

/// Our dialog and the panel it lifts over the page's modals.
pub struct Lift {
    state: Rc<State>,
    _listeners: [EventListener; 5],
}

struct State {
    document: Document,
    root: ShadowRoot,
    dialog: HtmlDialogElement,
    panel: Element,
    /// The panel shows buttons (a question, End): worth lifting.
    actionable: Cell<bool>,
    /// The panel asks a question: lifted without being pressed.
    asking: Cell<bool>,
    /// The visitor pressed the panel under a page modal to reach it.
    summoned: Cell<bool>,
    /// When (`Event.timeStamp`) the visitor last pressed it.
    pressed_at: Cell<f64>,
    /// The visitor sent the panel back to use the page's modal.
    dismissed: Cell<bool>,
    /// We are closing our dialog ourselves: its `close` is no dismissal.
    closing: Cell<bool>,
}

impl Lift {
    /// Adds our (closed) dialog to `root`; `panel` stays where it is until
    /// it needs lifting.
    pub fn new(
        document: &Document,
        root: &ShadowRoot,
        panel: &Element,
    ) -> Result<Lift, VisitorError> {
        let dialog: HtmlDialogElement = crate::dom::create_element(document, intern("dialog"))
            .map_err(VisitorError::js)?
            .dyn_into()
            .map_err(|_| VisitorError::Js("<dialog> is no HTMLDialogElement".into()))?;
        dialog.set_class_name("lift");
        // The dialog itself takes the focus when shown, not the panel's
        // first button (Decline): a stray Enter must not answer for the
        // visitor.
        crate::dom::set_attribute(&dialog, intern("tabindex"), "-1").map_err(VisitorError::js)?;
        crate::dom::set_attribute(&dialog, intern("autofocus"), "").map_err(VisitorError::js)?;
        crate::dom::append_child(&root, &dialog).map_err(VisitorError::js)?;
        let state = Rc::new(State {
            document: document.clone(),
            root: root.clone(),
            dialog,
            panel: panel.clone(),
            actionable: Cell::new(false),
            asking: Cell::new(false),
            summoned: Cell::new(false),
            pressed_at: Cell::new(f64::NEG_INFINITY),
            dismissed: Cell::new(false),
            closing: Cell::new(false),
        });
        let capture = EventListenerOptions::run_in_capture_phase();
        let s = state.clone();
        // A page dialog opened (or a popover toggled): if a modal opened,
        // ours must be the newest again, and a dismissal is over.
        let toggle = EventListener::new_with_options(document, "toggle", capture, move |event| {
            let opened_modal = event
                .target()
                .and_then(|t| t.dyn_into::<Element>().ok())
                .is_some_and(|el| matches!(crate::dom::matches(&el, "dialog:modal"), Ok(true)));
            // The browser stamps a dialog's `toggle` when it queues it (at
            // `showModal()`) and fires it a task later: a press that came in
            // between was on the page as it already was, with that modal open.
            let opened_since_press = event.time_stamp() >= s.pressed_at.get();
            if opened_modal && opened_since_press {
                // The page's newest modal is the visitor's to use; only a
                // question comes over it again.
                s.dismissed.set(false);
                s.summoned.set(false);
            }
            s.update(opened_modal && opened_since_press);
        });
        let s = state.clone();
        let page_close = EventListener::new_with_options(document, "close", capture, move |_| {
            s.update(false);
        });
        let s = state.clone();
        // Ours closed: by us, or by the visitor (Escape, a backdrop click).
        let ours_close = EventListener::new(&state.dialog, "close", move |_| {
            if s.dialog.open() {
                return;
            }
            // Never leave the panel in a closed (hidden) dialog.
            s.put_back();
            if !s.closing.replace(false) {
                s.dismissed.set(true);
                s.summoned.set(false);
                s.update(false);
            }
        });
        let s = state.clone();
        // A click on the backdrop targets the dialog itself (the panel's own
        // clicks target what is inside it).
        let backdrop = EventListener::new(&state.dialog, "click", move |event| {
            let on_dialog = event
                .target()
                .and_then(|t| t.dyn_into::<Element>().ok())
                .is_some_and(|el| el == *s.dialog.unchecked_ref::<Element>());
            if on_dialog {
                s.dialog.close();
            }
        });
        let s = state.clone();
        // A press on the panel while it sits inert under a page modal (the
        // browser sends it to whatever is under the panel): lift it, so the
        // visitor's next click reaches its buttons; the press itself goes
        // nowhere else.
        let summon = EventListener::new_with_options(
            document,
            "pointerdown",
            EventListenerOptions {
                phase: EventListenerPhase::Capture,
                passive: false,
            },
            move |event| {
                let Some(pointer) = event.dyn_ref::<web_sys::PointerEvent>() else {
                    return;
                };
                if s.dialog.open() || !s.actionable.get() || !s.page_modal() {
                    return;
                }
                let r = crate::dom::get_bounding_client_rect(&s.panel);
                let (x, y) = (f64::from(pointer.client_x()), f64::from(pointer.client_y()));
                if r.width() > 0.0
                    && x >= r.left()
                    && x <= r.right()
                    && y >= r.top()
                    && y <= r.bottom()
                {
                    event.prevent_default();
                    event.stop_propagation();
                    s.dismissed.set(false);
                    s.summoned.set(true);
                    s.pressed_at.set(event.time_stamp());
                    s.update(true);
                }
            },
        );
        Ok(Lift {
            state,
            _listeners: [toggle, page_close, ours_close, backdrop, summon],
        })
    }

    /// The panel was redrawn: `actionable` if it has buttons, `asking` if
    /// it asks a question (which the visitor must see even after sending the
    /// panel back).
    pub fn rendered(&self, actionable: bool, asking: bool) {
        self.state.actionable.set(actionable);
        let newly_asking = asking && !self.state.asking.get();
        self.state.asking.set(asking);
        if newly_asking {
            self.state.dismissed.set(false);
        }
        self.state.update(false);
    }

    /// Closes our dialog if open (the panel is going): the page's modal is
    /// usable again and gets back the focus it had.
    pub fn close(&self) {
        if self.state.dialog.open() {
            self.state.put_back();
            self.state.closing.set(true);
            self.state.dialog.close();
        }
    }
}

impl State {
    /// Lifts or puts back the panel; `raise` shows ours again even if it is
    /// open, to be above a page modal that opened after it.
    fn page_modal(&self) -> bool {
        matches!(
            crate::dom::query_selector(&self.document, intern("dialog:modal")),
            Ok(Some(_))
        )
    }

    fn update(&self, raise: bool) {
        let page_modal = self.page_modal();
        if !page_modal {
            // Nothing to send the panel back from, or to lift it over.
            self.dismissed.set(false);
            self.summoned.set(false);
        }
        let want = page_modal
            && self.actionable.get()
            && !self.dismissed.get()
            && (self.asking.get() || self.summoned.get());
        // Under the page's modal the panel cannot be clicked until pressed:
        // it looks faded, so it does not pretend otherwise.
        let behind = page_modal && self.actionable.get() && !want;
        let _ = if behind {
            crate::dom::set_attribute(&self.panel, intern("data-behind"), "")
        } else {
            crate::dom::remove_attribute(&self.panel, intern("data-behind"))
        };
        if want {
            if self.dialog.open() {
                if !raise {
                    return;
                }
                // Only `showModal()` puts a dialog on top: close and show
                // again (`closing` keeps that from reading as a dismissal if
                // `close` fires at once; if it fires later, ours is open).
                self.closing.set(true);
                self.dialog.close();
                self.closing.set(false);
            }
            // Opening: a `close` still queued from an earlier close finds
            // ours open and is ignored, so no flag may outlive this.
            self.closing.set(false);
            if let Err(e) = crate::dom::append_child(&self.dialog, &self.panel) {
                warn_js("cobrowse: cannot lift the panel", &e);
                return;
            }
            if let Err(e) = self.dialog.show_modal() {
                warn_js("cobrowse: cannot show the panel over the page", &e);
                self.put_back();
            }
        } else if self.dialog.open() {
            self.put_back();
            self.closing.set(true);
            self.dialog.close();
        } else {
            self.put_back();
        }
    }

    /// The panel back in the shadow root (last, where it was), if lifted.
    fn put_back(&self) {
        let lifted = crate::dom::parent_node(&self.panel)
            .is_some_and(|p| p == *self.dialog.unchecked_ref::<web_sys::Node>());
        if lifted {
            if let Err(e) = crate::dom::append_child(&self.root, &self.panel) {
                warn_js("cobrowse: cannot put the panel back", &e);
            }
        }
    }
}

impl Drop for Lift {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(all(test, target_arch = "wasm32"))]
#[path = "modal_tests.rs"]
mod tests;
