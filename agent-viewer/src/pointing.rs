//! Two people on one page, the console's side: the visitor's cursor and
//! clicks drawn over the mirror, and the agent's pointing, scrolling, text
//! selection and (in shared mode) clicks and typing in the iframe turned
//! into messages for the visitor's page. Owns: the overlay elements
//! (`data-cobrowse-cursor="visitor"`, `data-cobrowse-click`) and reading the
//! iframe's events. Does not own: whether a control may be sent
//! (`Console::control` decides), the `:hover` state attributes
//! (`mirror::presence`), or showing the visitor's selection
//! (`mirror::selection`).

use std::collections::VecDeque;

use gloo_events::{EventListener, EventListenerOptions, EventListenerPhase};
use gloo_timers::callback::Timeout;
use js_sys::Reflect;
use protocol::{Control, NodeId, Point, PointerKind, PointerPos, TextRange};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, Event, HtmlElement, MouseEvent};

use crate::console::{Console, ConsoleState};
use crate::mirror::dom::WebDom;

/// Pointer moves sent at most this often (ms): 20 a second.
const MOVE_EVERY_MS: f64 = 50.0;
/// Scrolls sent at most this often (ms).
const SCROLL_EVERY_MS: f64 = 100.0;
/// A scroll within this many px of where the visitor last was is the mirror
/// following the visitor, not the agent scrolling.
const SCROLL_SLACK: f64 = 2.0;
/// How long a click circle shows (ms); matches the CSS animation.
const CLICK_MS: u32 = 700;
/// A press that moved further than this (CSS px of the page) before its
/// click was a drag (selecting text), not a click.
const DRAG_PX: f64 = 4.0;

/// The iframe's events the console listens to.
const FRAME_EVENTS: [&str; 9] = [
    "pointermove",
    "pointerdown",
    "pointerup",
    "pointerout",
    "click",
    "input",
    "change",
    "scroll",
    "selectionchange",
];

pub struct Pointing {
    fit_box: HtmlElement,
    cursor: HtmlElement,
    circles: VecDeque<(Element, Timeout)>,
    last_move_ms: f64,
    last_scroll_ms: f64,
    /// Where the last press started (the page's CSS px), to tell a drag
    /// from a click.
    press: Option<(f64, f64)>,
    /// A button is down: a selection may still be dragged out, and is sent
    /// once it is let go.
    pressing: bool,
    /// The agent's selection as last sent (`None`: nothing selected, what
    /// the visitor's page assumes at first).
    selection: Option<TextRange>,
    /// The highlight tool is armed: the next click outlines an element.
    pub highlight_armed: bool,
}

impl Pointing {
    pub fn new(document: &Document, fit_box: &HtmlElement) -> Result<Pointing, JsValue> {
        let cursor: HtmlElement = document.create_element("div")?.unchecked_into();
        cursor.set_class_name("cobrowse-cursor");
        cursor.set_attribute("data-cobrowse-cursor", "visitor")?;
        cursor.set_attribute("aria-hidden", "true")?;
        let label = document.create_element("span")?;
        label.set_text_content(Some("Visitor"));
        cursor.append_child(&label)?;
        cursor.set_hidden(true);
        fit_box.append_child(&cursor)?;
        Ok(Pointing {
            fit_box: fit_box.clone(),
            cursor,
            circles: VecDeque::new(),
            last_move_ms: f64::NEG_INFINITY,
            last_scroll_ms: f64::NEG_INFINITY,
            press: None,
            pressing: false,
            selection: None,
            highlight_armed: false,
        })
    }

    /// Listeners on the iframe's current document (`document.open()` drops
    /// them: attach again after every snapshot), each handing the event to
    /// `on_event`.
    pub fn attach(dom: &WebDom, on_event: impl Fn(Event) + Clone + 'static) -> Vec<EventListener> {
        let Some(doc) = dom.frame().content_document() else {
            return Vec::new();
        };
        let options = EventListenerOptions {
            phase: EventListenerPhase::Capture,
            passive: true,
        };
        FRAME_EVENTS
            .iter()
            .map(|kind| {
                let on_event = on_event.clone();
                EventListener::new_with_options(&doc, *kind, options, move |e| on_event(e.clone()))
            })
            .collect()
    }

    /// An event in the iframe: the agent points, scrolls, or acts.
    pub fn on_frame_event(&mut self, console: &mut Console<WebDom>, event: &Event, now_ms: f64) {
        match event.type_().as_str() {
            "pointermove" => {
                if self.pressing && mouse(event).buttons() == 0 {
                    // Let go outside the page: the drag is over.
                    self.pressing = false;
                    self.send_selection(console);
                }
                if now_ms - self.last_move_ms < MOVE_EVERY_MS {
                    return;
                }
                if let Some(pos) = locate(console.mirror().backend(), event) {
                    self.last_move_ms = now_ms;
                    console.point(Point::Pointer {
                        pos,
                        kind: PointerKind::Move,
                    });
                }
            }
            "pointerout" => {
                let left = mouse(event).related_target().is_none();
                if left {
                    let pos = PointerPos {
                        target: None,
                        fx: 0.0,
                        fy: 0.0,
                        x: 0.0,
                        y: 0.0,
                    };
                    console.point(Point::Pointer {
                        pos,
                        kind: PointerKind::Leave,
                    });
                }
            }
            "pointerdown" => {
                let mouse = mouse(event);
                self.press = Some((f64::from(mouse.client_x()), f64::from(mouse.client_y())));
                self.pressing = true;
            }
            "pointerup" => {
                self.pressing = false;
                self.send_selection(console);
            }
            // Mid-drag a selection changes with every move: it goes once
            // the button is let go. Keyboard selection goes as it changes.
            "selectionchange" if !self.pressing => self.send_selection(console),
            "click" => self.on_click(console, event),
            "input" | "change" => {
                if let Some(control) = field_control(console.mirror().backend(), event) {
                    console.control(control);
                }
            }
            "scroll" => {
                if now_ms - self.last_scroll_ms < SCROLL_EVERY_MS {
                    return;
                }
                if let Some(point) = scroll_point(console, event) {
                    self.last_scroll_ms = now_ms;
                    console.point(point);
                }
            }
            _ => {}
        }
    }

    fn on_click(&mut self, console: &mut Console<WebDom>, event: &Event) {
        let mouse = mouse(event);
        let (x, y) = (f64::from(mouse.client_x()), f64::from(mouse.client_y()));
        let dragged = self
            .press
            .take()
            .is_some_and(|(px, py)| (x - px).hypot(y - py) > DRAG_PX);
        if dragged {
            // The browser calls a press and release over different spots
            // a click on their common ancestor; the agent was selecting
            // text, which must not click on the visitor's page.
            return;
        }
        let Some(pos) = locate(console.mirror().backend(), event) else {
            return;
        };
        let Some(target) = pos.target else {
            return;
        };
        if mouse.ctrl_key() || mouse.meta_key() {
            console.point(Point::Wiggle { target });
        } else if self.highlight_armed {
            self.highlight_armed = false;
            console.point(Point::Highlight { target });
        } else {
            console.point(Point::Pointer {
                pos,
                kind: PointerKind::Click,
            });
            // Fields are filled by typing (input events), not by clicks.
            console.control(Control::Click {
                target,
                fx: pos.fx,
                fy: pos.fy,
            });
        }
    }

    /// The iframe shows a new document (a snapshot): the agent's selection
    /// went with the old one, so the visitor's page stops showing it.
    pub fn page_replaced(&mut self, console: &mut Console<WebDom>) {
        self.press = None;
        self.pressing = false;
        if self.selection.take().is_some() {
            console.point(Point::Selection(None));
        }
    }

    /// Sends the agent's selection in the iframe if it changed. One whose
    /// ends the mirror cannot name (inside a mirrored frame, say) is not
    /// sent at all rather than sent wrong.
    fn send_selection(&mut self, console: &mut Console<WebDom>) {
        if console.state() != ConsoleState::Live {
            return;
        }
        let Some(now) = agent_selection(console) else {
            return;
        };
        if now != self.selection {
            self.selection = now;
            console.point(Point::Selection(now));
        }
    }

    /// Draws the visitor's cursor and new clicks over the mirror.
    pub fn draw(&mut self, console: &mut Console<WebDom>) {
        let clicks = console.mirror_mut().take_visitor_clicks();
        let dom = console.mirror().backend();
        let frame = dom.frame();
        let scale =
            frame.get_bounding_client_rect().width() / f64::from(frame.offset_width().max(1));
        let place = |pos: &PointerPos| -> (f64, f64) {
            let at = pos
                .target
                .and_then(|id| console.mirror().node(id))
                .filter(|node| node.node_type() == web_sys::Node::ELEMENT_NODE)
                .map(|node| node.unchecked_ref::<Element>().get_bounding_client_rect())
                .filter(|r| r.width() > 0.0 || r.height() > 0.0);
            let (x, y) = match at {
                Some(r) => (
                    r.left() + f64::from(pos.fx) * r.width(),
                    r.top() + f64::from(pos.fy) * r.height(),
                ),
                None => (f64::from(pos.x), f64::from(pos.y)),
            };
            (x * scale, y * scale)
        };
        match console.mirror().visitor_pointer() {
            Some(pos) => {
                let (x, y) = place(&pos);
                let style = self.cursor.style();
                let _ = style.set_property("transform", &format!("translate({x:.1}px, {y:.1}px)"));
                self.cursor.set_hidden(false);
            }
            None => self.cursor.set_hidden(true),
        }
        let circles: Vec<(f64, f64)> = clicks.iter().map(place).collect();
        for (x, y) in circles {
            self.circle(x, y);
        }
    }

    fn circle(&mut self, x: f64, y: f64) {
        let Some(doc) = self.fit_box.owner_document() else {
            return;
        };
        let Ok(circle) = doc.create_element("div") else {
            return;
        };
        circle.set_class_name("cobrowse-click");
        let _ = circle.set_attribute("data-cobrowse-click", "visitor");
        let _ = circle.set_attribute("style", &format!("left: {x:.1}px; top: {y:.1}px"));
        let _ = self.fit_box.append_child(&circle);
        let gone = circle.clone();
        let timeout = Timeout::new(CLICK_MS, move || gone.remove());
        self.circles.push_back((circle, timeout));
        // At most a handful at once; older ones are already gone.
        while self.circles.len() > 8 {
            if let Some((old, _)) = self.circles.pop_front() {
                old.remove();
            }
        }
    }
}

impl Drop for Pointing {
    fn drop(&mut self) {
        self.cursor.remove();
        for (circle, _) in self.circles.drain(..) {
            circle.remove();
        }
    }
}

/// The agent's pointer as the visitor's page will place it: the mirrored
/// element under it and the spot within its box.
/// The iframe's events come from its own realm: `dyn_ref` (an `instanceof`
/// against this window's classes) would never match, and the listeners only
/// hear mouse events under the names that have them.
fn mouse(event: &Event) -> &MouseEvent {
    event.unchecked_ref()
}

fn locate(dom: &WebDom, event: &Event) -> Option<PointerPos> {
    if !matches!(
        event.type_().as_str(),
        "pointermove" | "pointerout" | "click"
    ) {
        return None;
    }
    let mouse = mouse(event);
    let (x, y) = (f64::from(mouse.client_x()), f64::from(mouse.client_y()));
    let found = event.target().and_then(|t| dom.tagged(&t.into()));
    let (target, fx, fy) = match found {
        Some((element, id)) => {
            let r = element.get_bounding_client_rect();
            let fraction = |v: f64, start: f64, size: f64| {
                if size > 0.0 {
                    ((v - start) / size).clamp(0.0, 1.0) as f32
                } else {
                    0.5
                }
            };
            (
                Some(id),
                fraction(x, r.left(), r.width()),
                fraction(y, r.top(), r.height()),
            )
        }
        None => (None, 0.0, 0.0),
    };
    Some(PointerPos {
        target,
        fx,
        fy,
        x: x as f32,
        y: y as f32,
    })
}

/// Typing, ticking or choosing in a mirrored field, as a control message.
fn field_control(dom: &WebDom, event: &Event) -> Option<Control> {
    let target: JsValue = event.target()?.into();
    let (element, id) = dom.tagged(&target)?;
    let get = |key: &str| Reflect::get(&element, &JsValue::from_str(key)).ok();
    match element.local_name().as_str() {
        "input" => {
            let kind = get("type")?.as_string().unwrap_or_default();
            if kind == "checkbox" || kind == "radio" {
                // A click carries it (the visitor's page toggles it).
                return None;
            }
            (event.type_() == "input").then(|| Control::SetValue {
                target: id,
                value: get("value").and_then(|v| v.as_string()).unwrap_or_default(),
            })
        }
        "textarea" => (event.type_() == "input").then(|| Control::SetValue {
            target: id,
            value: get("value").and_then(|v| v.as_string()).unwrap_or_default(),
        }),
        "select" if event.type_() == "change" => {
            if get("multiple")?.as_bool() == Some(true) {
                let options: js_sys::Array = js_sys::Array::from(&get("options")?);
                let selected = options
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| {
                        Reflect::get(o, &JsValue::from_str("selected"))
                            .ok()
                            .and_then(|s| s.as_bool())
                            == Some(true)
                    })
                    .map(|(i, _)| i as u32)
                    .collect();
                Some(Control::SelectOptions {
                    target: id,
                    selected,
                })
            } else {
                Some(Control::SetValue {
                    target: id,
                    value: get("value")?.as_string().unwrap_or_default(),
                })
            }
        }
        _ => None,
    }
}

/// The agent scrolled the page or an element (not the mirror following the
/// visitor).
fn scroll_point(console: &Console<WebDom>, event: &Event) -> Option<Point> {
    let mirror = console.mirror();
    let dom = mirror.backend();
    let target: JsValue = event.target()?.into();
    let is_document = Reflect::get(&target, &JsValue::from_str("nodeType"))
        .ok()
        .and_then(|t| t.as_f64())
        == Some(f64::from(web_sys::Node::DOCUMENT_NODE));
    let (id, x, y) = if is_document {
        let window = dom.frame().content_window()?;
        (
            mirror.document_id()?,
            window.scroll_x().ok()?,
            window.scroll_y().ok()?,
        )
    } else {
        let (element, id) = dom.tagged(&target)?;
        (
            id,
            f64::from(element.scroll_left()),
            f64::from(element.scroll_top()),
        )
    };
    if let Some((vx, vy)) = mirror.visitor_scroll(id) {
        if (vx - x).abs() <= SCROLL_SLACK && (vy - y).abs() <= SCROLL_SLACK {
            return None;
        }
    }
    Some(Point::Scroll { target: id, x, y })
}

/// The agent's selection in the iframe: `Some(None)` for nothing selected,
/// `None` when an end is a node the mirror cannot name.
fn agent_selection(console: &Console<WebDom>) -> Option<Option<TextRange>> {
    let doc = console.mirror().backend().frame().content_document()?;
    let Ok(Some(selection)) = doc.get_selection() else {
        return Some(None);
    };
    if selection.range_count() == 0 || selection.is_collapsed() {
        return Some(None);
    }
    let anchor = node_id(console, &selection.anchor_node()?)?;
    let focus = node_id(console, &selection.focus_node()?)?;
    Some(Some(TextRange {
        anchor,
        anchor_offset: selection.anchor_offset(),
        focus,
        focus_offset: selection.focus_offset(),
    }))
}

/// The visitor's id for a node of the iframe: elements by their tag, text
/// nodes through their parent's children in the mirror.
fn node_id(console: &Console<WebDom>, node: &web_sys::Node) -> Option<NodeId> {
    let dom = console.mirror().backend();
    if let Some(id) = dom.id(node) {
        return Some(id);
    }
    let parent = node.parent_node()?;
    let parent = dom.id(&parent)?;
    console
        .mirror()
        .child_id(parent, |n| n.is_same_node(Some(node)))
}
