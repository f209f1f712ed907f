//! Remote control on the visitor's page (shared mode), done the way a
//! browser does it so the page's scripts and frameworks see what a person's
//! hands would make: pointer and mouse events and a click at the spot,
//! values set through the native prototype setters (React and Vue keep a
//! per-instance value tracker that a plain `el.value = v` would fool) then
//! `input` and `change`, `requestSubmit()`, same-origin navigation.
//!
//! Owns: carrying out one [`Control`] on its element, in two steps: [`prepare`]
//! finds the element and decides (while the session's state is borrowed),
//! [`Action::run`] acts (after it is released: the page's handlers, and the
//! capture's own listeners that report the new value, run synchronously
//! inside `dispatchEvent`). Does not own: whether
//! the agent may control at all (`policy::Roster`, checked by `session.rs`
//! first); the refusals that hold in any mode are decided in
//! `policy::refusal` from the facts gathered here.

use js_sys::{Function, Object, Reflect};
use protocol::{Control, Navigation, NodeId, PointerPos};
use wasm_bindgen::{intern, JsCast, JsValue};
use web_sys::{Document, Element, HtmlElement, Window};

use crate::mask::UI_TAG;
use crate::pointer::rect_of;
use crate::pointing;
use crate::policy::{self, Act, Target};
use crate::serialize::Capture;

/// What became of a control.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// No element of the page has this id (gone, or never sent).
    Unknown(NodeId),
    /// Refused, with what the element was.
    Refused(&'static str),
    /// The element is not the kind the control needs, or the browser threw.
    Failed(&'static str),
}

/// The page a control acts on.
pub struct Page<'a> {
    pub window: &'a Window,
    pub document: &'a Document,
    pub capture: &'a Capture,
}

/// A control that passed every check, ready to act.
pub enum Action {
    Click {
        el: Element,
        window: Window,
        x: f64,
        y: f64,
    },
    Fill {
        el: Element,
        set: Fill,
    },
    Submit {
        form: Element,
    },
    Go {
        window: Window,
        to: Navigation,
    },
}

pub enum Fill {
    Value(String),
    Checked(bool),
    Options(Vec<u32>),
}

/// The kinds of form field a control fills.
#[derive(PartialEq, Eq)]
enum Field {
    /// A text-like `<input>`, `<textarea>` or a single `<select>`.
    Value,
    /// A checkbox or radio button.
    Checkable,
    Select,
}

impl Page<'_> {
    fn element(&self, id: NodeId) -> Result<Element, Outcome> {
        self.capture
            .ids
            .find(self.document, id)
            .and_then(|n| n.dyn_into::<Element>().ok())
            .ok_or(Outcome::Unknown(id))
    }

    fn facts(&self, el: &Element) -> Target {
        Target {
            inside_ui: matches!(crate::dom::closest(el, UI_TAG), Ok(Some(_))),
            password: self.capture.is_password(el),
            masked: self.capture.is_masked(el),
            blocked: self.capture.in_block(el),
            foreign_link: false,
        }
    }

    /// Whether a URL (relative to the page) stays on the page's origin.
    fn same_origin(&self, url: &str) -> bool {
        let base = crate::dom::url(self.document);
        let origin = self.window.location().origin().unwrap_or_default();
        web_sys::Url::new_with_base(url, &base)
            .is_ok_and(|u| policy::may_navigate(&origin, &u.origin()))
    }
}

fn refuse(act: Act, t: Target) -> Result<(), Outcome> {
    match policy::refusal(act, t) {
        Some(why) => Err(Outcome::Refused(why)),
        None => Ok(()),
    }
}

/// Finds `control`'s element and checks it may be acted on.
pub fn prepare(page: &Page<'_>, control: &Control) -> Result<Action, Outcome> {
    match control {
        Control::Click { target, fx, fy } => {
            let el = page.element(*target)?;
            let mut facts = page.facts(&el);
            // A dispatched click follows links like a real one: where to?
            if let Ok(Some(link)) = crate::dom::closest(&el, intern("a[href],area[href]")) {
                let href = Reflect::get(&link, &JsValue::from_str("href"))
                    .ok()
                    .and_then(|v| v.as_string())
                    .unwrap_or_default();
                facts.foreign_link = !page.same_origin(&href);
            }
            refuse(Act::Click, facts)?;
            let pos = PointerPos {
                target: Some(*target),
                fx: *fx,
                fy: *fy,
                x: 0.0,
                y: 0.0,
            };
            let v = crate::snapshot::viewport(page.window);
            let (x, y) = pointing::place(
                &pos,
                Some(rect_of(&el)),
                (f64::from(v.width), f64::from(v.height)),
            );
            Ok(Action::Click {
                el,
                window: page.window.clone(),
                x,
                y,
            })
        }
        Control::SetValue { target, value } => {
            let el = fillable(page, *target, Field::Value)?;
            Ok(Action::Fill {
                el,
                set: Fill::Value(value.clone()),
            })
        }
        Control::SetChecked { target, checked } => {
            let el = fillable(page, *target, Field::Checkable)?;
            Ok(Action::Fill {
                el,
                set: Fill::Checked(*checked),
            })
        }
        Control::SelectOptions { target, selected } => {
            let el = fillable(page, *target, Field::Select)?;
            Ok(Action::Fill {
                el,
                set: Fill::Options(selected.clone()),
            })
        }
        Control::Submit { form } => {
            let form = page.element(*form)?;
            refuse(Act::Submit, page.facts(&form))?;
            if crate::dom::local_name(&form) != "form" {
                return Err(Outcome::Failed("not a form"));
            }
            Ok(Action::Submit { form })
        }
        Control::Navigate(nav) => {
            if let Navigation::To(url) = nav {
                if !page.same_origin(url) {
                    return Err(Outcome::Refused("an address on another site"));
                }
            }
            Ok(Action::Go {
                window: page.window.clone(),
                to: nav.clone(),
            })
        }
    }
}

fn field_of(el: &Element) -> Option<Field> {
    match crate::dom::local_name(el).as_str() {
        "textarea" => Some(Field::Value),
        "select" => Some(Field::Select),
        "input" => {
            let ty = crate::dom::get_attribute(el, intern("type")).unwrap_or_default();
            let is = |t: &str| ty.eq_ignore_ascii_case(t);
            if is("checkbox") || is("radio") {
                Some(Field::Checkable)
            } else if is("file") {
                // A file input's value is the visitor's own choice of file.
                None
            } else {
                Some(Field::Value)
            }
        }
        _ => None,
    }
}

fn fillable(page: &Page<'_>, id: NodeId, wanted: Field) -> Result<Element, Outcome> {
    let el = page.element(id)?;
    refuse(Act::Fill, page.facts(&el))?;
    let fits = match field_of(&el) {
        // A single <select> takes a value like a text field.
        Some(Field::Select) => wanted != Field::Checkable,
        Some(field) => field == wanted,
        None => false,
    };
    if fits {
        Ok(el)
    } else {
        Err(Outcome::Failed("not a form field of that kind"))
    }
}

impl Action {
    /// Acts on the page. Must run with no borrow of the session held.
    pub fn run(self) -> Outcome {
        let result = match self {
            Action::Click { el, window, x, y } => click(&el, &window, x, y),
            Action::Fill { el, set } => fill(&el, &set),
            Action::Submit { form } => submit(&form),
            Action::Go { window, to } => go(&window, &to),
        };
        result.map_or_else(|o| o, |()| Outcome::Done)
    }
}

/// The events a mouse click makes, at `(x, y)`: over, down, (focus), up,
/// click. The click's own default action (follow a link, tick a box, submit
/// a form) runs for a dispatched click as for a real one.
fn click(el: &Element, window: &Window, x: f64, y: f64) -> Result<(), Outcome> {
    let init = web_sys::PointerEventInit::new();
    init.set_cancelable(true);
    init.set_composed(true);
    init.set_view(Some(window));
    init.set_client_x(x.round() as i32);
    init.set_client_y(y.round() as i32);
    init.set_button(0);
    init.set_pointer_id(1);
    init.set_pointer_type(intern("mouse"));
    init.set_is_primary(true);
    let pointer = |kind: &str, buttons: u16| {
        init.set_buttons(buttons);
        // enter/leave events do not bubble.
        init.set_bubbles(!kind.ends_with("enter"));
        web_sys::PointerEvent::new_with_event_init_dict(intern(kind), &init)
            .map(|e| e.unchecked_into::<web_sys::Event>())
    };
    let mouse = |kind: &str, buttons: u16| {
        init.set_buttons(buttons);
        init.set_bubbles(true);
        web_sys::MouseEvent::new_with_mouse_event_init_dict(intern(kind), init.unchecked_ref())
            .map(|e| e.unchecked_into::<web_sys::Event>())
    };
    dispatch_all(
        el,
        [
            pointer("pointerover", 0),
            pointer("pointerenter", 0),
            mouse("mouseover", 0),
            pointer("pointerdown", 1),
            mouse("mousedown", 1),
        ],
    )?;
    // What a mouse-down's default action does: focus what can take it.
    if let Some(html) = el.dyn_ref::<HtmlElement>() {
        let _ = html.focus();
    }
    dispatch_all(
        el,
        [
            pointer("pointerup", 0),
            mouse("mouseup", 0),
            mouse("click", 0),
        ],
    )
}

fn dispatch_all<const N: usize>(
    el: &Element,
    events: [Result<web_sys::Event, JsValue>; N],
) -> Result<(), Outcome> {
    for e in events {
        let e = e.map_err(|_| Outcome::Failed("could not create an event"))?;
        // A page handler that throws does not stop the sequence (the
        // browser reports it; dispatchEvent itself does not throw).
        let _ = el.dispatch_event(&e);
    }
    Ok(())
}

/// Sets a form control's state, then fires `input` and `change` as typing
/// or choosing would.
fn fill(el: &Element, set: &Fill) -> Result<(), Outcome> {
    if let Some(html) = el.dyn_ref::<HtmlElement>() {
        let _ = html.focus();
    }
    let ok = match set {
        Fill::Value(v) => native_set(el, "value", &JsValue::from_str(v)),
        Fill::Checked(c) => native_set(el, "checked", &JsValue::from_bool(*c)),
        Fill::Options(selected) => choose(el, selected),
    };
    if !ok {
        return Err(Outcome::Failed("the field refused the value"));
    }
    let input = web_sys::InputEventInit::new();
    input.set_bubbles(true);
    input.set_composed(true);
    input.set_input_type(intern("insertReplacementText"));
    let change = web_sys::EventInit::new();
    change.set_bubbles(true);
    dispatch_all(
        el,
        [
            web_sys::InputEvent::new_with_event_init_dict(intern("input"), &input)
                .map(|e| e.unchecked_into()),
            web_sys::Event::new_with_event_init_dict(intern("change"), &change),
        ],
    )
}

/// A `<select>`'s options: exactly those at `selected` chosen.
fn choose(select: &Element, selected: &[u32]) -> bool {
    let Ok(options) = crate::dom::query_selector_all(&select, intern("option")) else {
        return false;
    };
    let mut ok = true;
    for i in 0..options.length() {
        if let Some(opt) = options.item(i) {
            ok &= native_set(&opt, "selected", &JsValue::from_bool(selected.contains(&i)));
        }
    }
    ok
}

/// Sets `prop` through the setter the element's prototype chain defines,
/// skipping any property defined on the instance itself: that is where
/// React keeps its value tracker, and going around it is what makes React
/// see the change as the user's (its `input` handler compares the tracked
/// value with the node's real one).
fn native_set(el: &JsValue, prop: &str, value: &JsValue) -> bool {
    let key = JsValue::from_str(prop);
    let mut proto = Object::get_prototype_of(el);
    while !proto.is_null() && !proto.is_undefined() {
        let desc = Object::get_own_property_descriptor(&proto, &key);
        if !desc.is_undefined() {
            let setter = Reflect::get(&desc, &JsValue::from_str(intern("set")))
                .ok()
                .and_then(|s| s.dyn_into::<Function>().ok());
            return setter.is_some_and(|set| set.call1(el, value).is_ok());
        }
        proto = Object::get_prototype_of(&proto);
    }
    Reflect::set(el, &key, value).unwrap_or(false)
}

/// `requestSubmit()` runs validation and the page's submit handlers, as the
/// form's submit button would; old browsers only have `submit()`. Both are
/// read from the form's prototype: a control named `submit` (the usual
/// `<input type=submit name=submit>`) shadows them on the form itself.
fn submit(form: &Element) -> Result<(), Outcome> {
    let proto = Object::get_prototype_of(form);
    for name in ["requestSubmit", "submit"] {
        let f = Reflect::get(&proto, &JsValue::from_str(name))
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok());
        if let Some(f) = f {
            return f
                .call0(form)
                .map(drop)
                .map_err(|_| Outcome::Failed("the form refused to submit"));
        }
    }
    Err(Outcome::Failed("not a form"))
}

fn go(window: &Window, to: &Navigation) -> Result<(), Outcome> {
    let done = match to {
        Navigation::To(url) => window.location().assign(url),
        Navigation::Back => window.history().and_then(|h| h.back()),
        Navigation::Forward => window.history().and_then(|h| h.forward()),
    };
    done.map_err(|_| Outcome::Failed("the browser refused to navigate"))
}
