//! Agents on the visitor's page: their cursors (an arrow and a name), yellow
//! circles where they click, highlight outlines and wiggles, all drawn in
//! `<cobrowse-ui>`'s presence layer (never mirrored, never captured; the
//! page's own elements are never touched).
//!
//! Owns: those elements and the timers that fade them, all removed on drop.
//! Does not own: where to draw (`pointing.rs` decides, `session.rs` finds
//! the elements), the shadow root (`ui.rs`).

use gloo_timers::callback::Timeout;
use protocol::AgentId;
use wasm_bindgen::intern;
use web_sys::{Document, Element};

use crate::error::VisitorError;
use crate::pointing::Rect;

/// How long the drawn marks stay (the click circle's CSS fade is 600 ms).
const CLICK_MS: u32 = 700;
const HIGHLIGHT_MS: u32 = 2000;
const WIGGLE_MS: u32 = 1200;

const ARROW: &str = "<svg width=\"18\" height=\"24\" viewBox=\"0 0 18 24\" aria-hidden=\"true\">\
<path d=\"M1 1v19l5-5 4 8 3-1.5-4-8h7z\" fill=\"#2563eb\" stroke=\"#fff\" stroke-width=\"1.5\"/></svg>";

struct Cursor {
    agent: AgentId,
    el: Element,
}

/// A mark that removes itself when its timer fires (or when dropped).
struct Mark {
    el: Element,
    _timer: Timeout,
}

pub struct Presence {
    layer: Element,
    document: Document,
    cursors: Vec<Cursor>,
    marks: Vec<Mark>,
    /// The agents' text selections (`selection.rs`).
    pub selections: crate::selection::Marks,
}

impl Presence {
    pub fn new(document: &Document, layer: &Element) -> Presence {
        Presence {
            layer: layer.clone(),
            document: document.clone(),
            cursors: Vec::new(),
            marks: Vec::new(),
            selections: crate::selection::Marks::new(document, layer),
        }
    }

    /// Moves the agent's cursor to `(x, y)` (viewport px), creating it with
    /// the agent's name the first time.
    pub fn move_cursor(
        &mut self,
        agent: AgentId,
        name: &str,
        (x, y): (f64, f64),
    ) -> Result<(), VisitorError> {
        let el = match self.cursors.iter().find(|c| c.agent == agent) {
            Some(c) => c.el.clone(),
            None => {
                let el = self.element("div")?;
                set(&el, "data-cobrowse-cursor", "agent")?;
                set(&el, "data-cobrowse-agent", &agent.0.to_string())?;
                el.set_inner_html(ARROW);
                let label = self.element("span")?;
                label.set_text_content(Some(name));
                crate::dom::append_child(&el, &label).map_err(VisitorError::js)?;
                crate::dom::append_child(&self.layer, &el).map_err(VisitorError::js)?;
                self.cursors.push(Cursor {
                    agent,
                    el: el.clone(),
                });
                el
            }
        };
        let _ = crate::dom::remove_attribute(&el, "hidden");
        // The arrow's tip is the element's top-left corner.
        style(&el, &translate(x, y))
    }

    /// The agent's pointer left the page: its cursor hides until it moves.
    pub fn hide_cursor(&self, agent: AgentId) {
        if let Some(c) = self.cursors.iter().find(|c| c.agent == agent) {
            let _ = crate::dom::set_attribute(&c.el, intern("hidden"), "");
        }
    }

    /// The agent left: its cursor goes.
    pub fn remove_agent(&mut self, agent: AgentId) {
        self.selections.remove_agent(agent);
        self.cursors.retain(|c| {
            if c.agent == agent {
                c.el.remove();
            }
            c.agent != agent
        });
    }

    /// A yellow circle at `(x, y)`, fading out.
    pub fn click(&mut self, (x, y): (f64, f64)) -> Result<(), VisitorError> {
        let el = self.element("div")?;
        set(&el, "data-cobrowse-click", "")?;
        // Placed by left/top: the fade animates `transform`.
        style(&el, &left_top(x, y))?;
        self.mark(el, CLICK_MS)
    }

    /// An outline over `rect` for a moment; `wiggle` shakes it.
    pub fn highlight(&mut self, rect: Rect, wiggle: bool) -> Result<(), VisitorError> {
        let el = self.element("div")?;
        set(&el, "data-cobrowse-highlight", "")?;
        if wiggle {
            set(&el, "data-cobrowse-wiggle", "")?;
        }
        // The outline sits just outside the element's box; placed by
        // left/top, as the wiggle animates `transform`.
        let mut css = left_top(rect.left - 4.0, rect.top - 4.0);
        css.push_str("width:");
        css.push_str(&px(rect.width.max(0.0) + 8.0));
        css.push_str(";height:");
        css.push_str(&px(rect.height.max(0.0) + 8.0));
        style(&el, &css)?;
        self.mark(el, if wiggle { WIGGLE_MS } else { HIGHLIGHT_MS })
    }

    fn mark(&mut self, el: Element, ms: u32) -> Result<(), VisitorError> {
        // Marks whose timer fired have removed themselves already.
        self.marks.retain(|m| crate::dom::is_connected(&m.el));
        crate::dom::append_child(&self.layer, &el).map_err(VisitorError::js)?;
        let gone = el.clone();
        self.marks.push(Mark {
            el,
            _timer: Timeout::new(ms, move || gone.remove()),
        });
        Ok(())
    }

    fn element(&self, tag: &str) -> Result<Element, VisitorError> {
        crate::dom::create_element(&self.document, intern(tag)).map_err(VisitorError::js)
    }
}

impl Drop for Presence {
    fn drop(&mut self) {
        for c in &self.cursors {
            c.el.remove();
        }
        for m in &self.marks {
            m.el.remove();
        }
    }
}

/// Whole CSS px: enough for a pointer, and integer formatting keeps the
/// float formatter out of the shipped wasm.
fn px(v: f64) -> String {
    let mut s = (v.round().clamp(-1e9, 1e9) as i32).to_string();
    s.push_str("px");
    s
}

fn translate(x: f64, y: f64) -> String {
    let mut s = String::from("transform:translate(");
    s.push_str(&px(x));
    s.push(',');
    s.push_str(&px(y));
    s.push_str(");");
    s
}

fn left_top(x: f64, y: f64) -> String {
    let mut s = String::from("left:");
    s.push_str(&px(x));
    s.push_str(";top:");
    s.push_str(&px(y));
    s.push(';');
    s
}

fn set(el: &Element, name: &str, value: &str) -> Result<(), VisitorError> {
    crate::dom::set_attribute(el, intern(name), value).map_err(VisitorError::js)
}

fn style(el: &Element, css: &str) -> Result<(), VisitorError> {
    set(el, "style", css)
}
