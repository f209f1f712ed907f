//! The mirror's browser backend: the one place that writes into the
//! sandboxed iframe's document. Owns: turning [`DomBackend`] calls into DOM
//! calls on `iframe.contentDocument`, and the listeners that keep the mirror
//! from navigating. Does not own: any decision (what to create, which
//! attributes are safe: `mirror` and `sanitize` decide).
//!
//! The iframe's nodes belong to another realm (its own window), so nothing
//! here uses `dyn_into`/`dyn_ref` on them: `instanceof` against this
//! window's constructors would fail. Casts are unchecked and the node kind is
//! known from the mirror's bookkeeping; properties go through `Reflect`.

use gloo_events::{EventListener, EventListenerOptions, EventListenerPhase};
use js_sys::{Array, Reflect};
use protocol::{Ns, TopLayerKind, Viewport};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, HtmlDocument, HtmlIFrameElement, Node};

use std::cell::RefCell;

use super::create_dom::Pool;
use super::proto_dom as proto;
use super::writes_dom::Writes;
use super::{DomBackend, FormView, Reset};
use crate::layout::MAX_SIDE;
use crate::ViewerError;

/// Turns a thrown JS value into an error with the exception's message.
pub fn js_error(e: JsValue) -> ViewerError {
    let message = Reflect::get(&e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"));
    ViewerError::Dom(message)
}

/// Writes the mirror into one iframe.
pub struct WebDom {
    frame: HtmlIFrameElement,
    /// Mirrored node → the visitor's id (weak: a removed node goes).
    ids: js_sys::WeakMap,
    /// Draws canvas frames in order (`mirror/canvas/web.rs`).
    painter: super::canvas::web::Painter,
    /// The navigation guards of the visitor's frames' documents (their
    /// events do not reach the mirror document's guards).
    frame_guards: Vec<EventListener>,
    /// What the mirror put into the iframe's top layer, held there
    /// (`toplayer_dom.rs`).
    top_layer: super::toplayer_dom::Held,
    /// The iframe's document since the last reset: asking the frame for it
    /// on every node created was a call into the browser each.
    doc: Option<Document>,
    /// Writes put off to the next flush (`writes_dom.rs`). In a cell so
    /// that the `&self` readers (`tagged`, `id`) can flush first.
    writes: RefCell<Writes>,
    /// Whether this mirror ever made a `<canvas>`: until it has, no
    /// attribute write can change a canvas's picture, so none needs the
    /// element's tag (a call into the browser) before it is queued.
    made_canvas: bool,
    /// Nodes made ahead for the subtree being built (`create_dom.rs`).
    pool: Pool,
}

impl WebDom {
    pub fn new(frame: HtmlIFrameElement) -> Self {
        WebDom {
            frame,
            ids: js_sys::WeakMap::new(),
            painter: Default::default(),
            frame_guards: Vec::new(),
            top_layer: Default::default(),
            doc: None,
            writes: Default::default(),
            made_canvas: false,
            pool: Default::default(),
        }
    }

    /// Carries the queued writes into the document. Called before anything
    /// that reads or places nodes, and by the mirror after every event, so
    /// no one outside sees the queue.
    pub fn flush(&self) {
        self.writes.borrow_mut().flush(&self.ids);
    }

    /// The nearest mirrored element at or above `node` (an event's target
    /// in the iframe) and the visitor's id for it.
    pub fn tagged(&self, node: &JsValue) -> Option<(Element, protocol::NodeId)> {
        self.flush();
        let mut at = node.clone();
        for _ in 0..4096 {
            if !at.is_object() {
                return None;
            }
            let is_element = Reflect::get(&at, &JsValue::from_str("nodeType"))
                .ok()
                .and_then(|t| t.as_f64())
                == Some(f64::from(Node::ELEMENT_NODE));
            if is_element {
                if let Some(id) = self.ids.get(at.unchecked_ref()).as_f64() {
                    return Some((at.unchecked_into(), protocol::NodeId(id as u32)));
                }
            }
            at = Reflect::get(&at, &JsValue::from_str("parentNode")).ok()?;
        }
        None
    }

    /// The visitor's id for exactly `node` (an element or the document:
    /// text nodes are not tagged, see `Mirror::child_id`).
    pub fn id(&self, node: &JsValue) -> Option<protocol::NodeId> {
        if !node.is_object() {
            return None;
        }
        self.flush();
        self.ids
            .get(node.unchecked_ref())
            .as_f64()
            .map(|id| protocol::NodeId(id as u32))
    }

    pub fn frame(&self) -> &HtmlIFrameElement {
        &self.frame
    }

    fn document(&self) -> Result<Document, ViewerError> {
        if let Some(doc) = &self.doc {
            return Ok(doc.clone());
        }
        self.frame
            .content_document()
            .ok_or_else(|| ViewerError::Dom("the iframe has no document".into()))
    }

    /// Capturing listeners on the iframe's document that cancel what would
    /// navigate or change the mirror locally: link clicks, form submits and,
    /// in view-only mode, typing. `document.open()` erases a document's
    /// listeners, so call this again after every snapshot.
    pub fn guard_interactions(&self, view_only: bool) -> Vec<EventListener> {
        self.flush();
        let Ok(doc) = self.document() else {
            return Vec::new();
        };
        let options = EventListenerOptions {
            phase: EventListenerPhase::Capture,
            passive: false,
        };
        let mut kinds = vec!["click", "auxclick", "submit", "dragstart"];
        if view_only {
            kinds.extend(["beforeinput", "paste", "drop"]);
        }
        kinds
            .into_iter()
            .map(|kind| {
                EventListener::new_with_options(&doc, kind, options, |event| {
                    event.prevent_default();
                })
            })
            .collect()
    }

    /// Empties `doc` into the visitor's rendering mode with the visitor's
    /// doctype where that gives the same mode (the mode wins: it is what
    /// changes the page's layout).
    fn reset(doc: &Document, quirks: bool, doctype: Option<&str>) -> Result<(), ViewerError> {
        let mode_only = if quirks { "" } else { "<!DOCTYPE html>" };
        let got_quirks = Self::rewrite(doc, doctype.unwrap_or(mode_only))?;
        if got_quirks != quirks {
            Self::rewrite(doc, mode_only)?;
        }
        if let Some(root) = proto::document_element(doc) {
            root.remove();
        }
        Ok(())
    }

    /// Rewrites the document with `markup` (a doctype or nothing) and returns
    /// its rendering mode: true for quirks.
    fn rewrite(doc: &Document, markup: &str) -> Result<bool, ViewerError> {
        let html: &HtmlDocument = doc.unchecked_ref();
        html.open().map_err(js_error)?;
        if !markup.is_empty() {
            html.write(&Array::of1(&JsValue::from_str(markup)))
                .map_err(js_error)?;
        }
        html.close().map_err(js_error)?;
        Ok(doc.compat_mode() == "BackCompat")
    }
}

/// The console's own rules for the mirrored document, as a constructed
/// stylesheet: it is in no node, so the page's DOM stays the visitor's.
/// Scroll anchoring is off because scroll positions are the visitor's, set
/// by the mirror: when a stylesheet or font arrives after a scroll was
/// applied, anchoring would move it.
///
/// The agent's own focus in the mirror (from clicking into it) gets no
/// browser focus ring: the page shows the visitor's focus
/// (`[data-cobrowse-focus]`), not the agent's.
///
/// The visitor's text selection is a custom highlight
/// (`mirror/selection_dom.rs`), in the visitor's colour (their cursor's red).
const CONSOLE_SHEET: &str = "*, ::before, ::after { overflow-anchor: none !important; } \
    :focus-visible:not([data-cobrowse-focus]) { outline: none !important; } \
    ::highlight(cobrowse-visitor) { background-color: rgba(229, 72, 77, 0.3); }";

impl WebDom {
    fn console_sheet(&self, doc: &Document) {
        let built = (|| -> Result<(), JsValue> {
            // The sheet must come from the document's realm to be adopted there.
            let window = Reflect::get(doc, &"defaultView".into())?;
            if !window.is_object() {
                return Err(JsValue::from_str("no window"));
            }
            let class = function(Reflect::get(&window, &"CSSStyleSheet".into())?)?;
            let sheet = Reflect::construct(&class, &Array::new())?;
            let replace = function(Reflect::get(&sheet, &"replaceSync".into())?)?;
            replace.call1(&sheet, &CONSOLE_SHEET.into())?;
            Reflect::set(doc, &"adoptedStyleSheets".into(), &Array::of1(&sheet))?;
            Ok(())
        })();
        if let Err(e) = built {
            crate::log::warn(&format!("the console's own styles were not applied: {e:?}"));
        }
    }
}

impl WebDom {
    /// A canvas's size attributes set its picture's size, and its `style`
    /// attribute carries the picture (see `canvas/web.rs`).
    fn canvas_attribute_changed(&self, node: &Node, name: &str) {
        let name = name.to_ascii_lowercase();
        // The name first: most attributes are none of these, and asking
        // the element its tag is a call into the browser.
        if !matches!(name.as_str(), "width" | "height" | "style")
            || element(node).local_name() != "canvas"
        {
            return;
        }
        if name == "style" {
            self.painter.restyle(node);
        } else {
            self.painter.blank(node);
        }
    }
}

/// The attributes that change a canvas's picture (`canvas/web.rs`).
fn is_canvas_attribute(name: &str) -> bool {
    ["width", "height", "style"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
}

/// A function of any realm (`dyn_into` would check against this realm's
/// `Function`).
pub(super) fn function(value: JsValue) -> Result<js_sys::Function, JsValue> {
    if value.is_function() {
        Ok(value.unchecked_into())
    } else {
        Err(JsValue::from_str("not a function"))
    }
}

pub(super) fn element(node: &Node) -> &Element {
    node.unchecked_ref()
}

impl DomBackend for WebDom {
    type Node = Node;

    fn reset_document(
        &mut self,
        quirks: bool,
        doctype: Option<&str>,
    ) -> Result<Reset<Node>, ViewerError> {
        self.flush();
        self.pool.clear();
        // Asked afresh: the frame may have been given a new document.
        self.doc = None;
        let doc = self.document()?;
        self.doc = Some(doc.clone());
        self.frame_guards.clear();
        self.top_layer = Default::default();
        Self::reset(&doc, quirks, doctype)?;
        self.console_sheet(&doc);
        Ok(Reset {
            doctype: doc.doctype().map(Node::from),
            document: doc.into(),
        })
    }

    fn create_element(&mut self, tag: &str, ns: &Ns) -> Result<Node, ViewerError> {
        let made = match self.pool.element(tag, ns) {
            Some(made) => made,
            None => {
                let doc = self.document()?;
                match ns {
                    Ns::Html => proto::create_element(&doc, tag),
                    other => proto::create_element_ns(&doc, Some(other.uri()), tag),
                }
                .map(Node::from)
                .map_err(js_error)?
            }
        };
        if matches!(tag, "video" | "audio") {
            // Muted from birth: an `autoplay` copy must not sound before
            // the visitor's state arrives (see `mirror/canvas.rs`).
            let _ = Reflect::set(&made, &JsValue::from_str("muted"), &JsValue::TRUE);
        }
        if tag == "canvas" {
            self.made_canvas = true;
        }
        if tag == "canvas" && *ns == Ns::Html {
            // Lays out as a canvas even before any pixels (see canvas/web.rs).
            self.painter.blank(&made);
        }
        Ok(made)
    }

    fn create_text(&mut self, text: &str) -> Result<Node, ViewerError> {
        if let Some(made) = self.pool.text(text) {
            return Ok(made);
        }
        Ok(proto::create_text_node(&self.document()?, text).into())
    }

    fn create_comment(&mut self, text: &str) -> Result<Node, ViewerError> {
        if let Some(made) = self.pool.comment(text) {
            return Ok(made);
        }
        Ok(proto::create_comment(&self.document()?, text).into())
    }

    fn create_doctype(
        &mut self,
        name: &str,
        public_id: &str,
        system_id: &str,
    ) -> Result<Node, ViewerError> {
        self.document()?
            .implementation()
            .and_then(|i| i.create_document_type(name, public_id, system_id))
            .map(Node::from)
            .map_err(js_error)
    }

    fn template_content(&mut self, template: &Node) -> Result<Node, ViewerError> {
        let content = Reflect::get(template, &JsValue::from_str("content")).map_err(js_error)?;
        if content.is_object() {
            Ok(content.unchecked_into())
        } else {
            Err(ViewerError::Dom("a template without content".into()))
        }
    }

    fn set_attribute(
        &mut self,
        node: &Node,
        ns: Option<&str>,
        name: &str,
        value: &str,
    ) -> Result<(), ViewerError> {
        if !(self.made_canvas && is_canvas_attribute(name)) {
            // A refused name is reported by the flush, not here.
            self.writes
                .borrow_mut()
                .set_attribute(node, ns, name, value);
            return Ok(());
        }
        // A canvas's picture reads its attributes: write this one now.
        self.flush();
        let el = element(node);
        match ns {
            Some(ns) => proto::set_attribute_ns(el, Some(ns), name, value),
            None => proto::set_attribute(el, name, value),
        }
        .map_err(js_error)?;
        self.canvas_attribute_changed(node, name);
        Ok(())
    }

    fn remove_attribute(
        &mut self,
        node: &Node,
        _ns: Option<&str>,
        name: &str,
    ) -> Result<(), ViewerError> {
        self.flush();
        // By qualified name: finds `xlink:href` whatever its namespace.
        proto::remove_attribute(element(node), name).map_err(js_error)?;
        self.canvas_attribute_changed(node, name);
        Ok(())
    }

    fn insert(
        &mut self,
        parent: &Node,
        child: &Node,
        before: Option<&Node>,
    ) -> Result<(), ViewerError> {
        self.flush();
        // The subtree being built is whole: what is left in the pool is
        // what the build skipped.
        self.pool.clear();
        proto::insert_before(parent, child, before)
            .map(drop)
            .map_err(js_error)
    }

    fn append_built(&mut self, parent: &Node, child: &Node) -> Result<(), ViewerError> {
        self.writes.borrow_mut().append(parent, child);
        Ok(())
    }

    fn flush(&mut self) {
        WebDom::flush(self);
    }

    fn prepare_build(&mut self, root: &protocol::Node) {
        if let Ok(doc) = self.document() {
            self.pool.fill(&doc, root);
        }
    }

    fn detach(&mut self, node: &Node) {
        self.flush();
        if let Some(parent) = proto::parent_node(node) {
            // Only fails if `node` is not `parent`'s child, which it is.
            let _ = proto::remove_child(&parent, node);
        }
    }

    fn set_text(&mut self, node: &Node, text: &str) {
        self.flush();
        node.set_node_value(Some(text));
    }

    fn set_form_state(&mut self, node: &Node, state: &FormView) {
        self.flush();
        let set = |prop: &str, value: JsValue| {
            let key = JsValue::from_str(prop);
            // Only controls have these properties: no expandos elsewhere.
            if Reflect::has(node, &key).unwrap_or(false) {
                let _ = Reflect::set(node, &key, &value);
            }
        };
        // A multiple select's value names one option; setting it would
        // deselect the others. Its options carry their own `selected`.
        // (Read as a property: the iframe's elements are not instances of
        // this window's classes, so `dyn_ref` would never match.)
        let multiple = element(node).local_name() == "select"
            && Reflect::get(node, &JsValue::from_str("multiple"))
                .is_ok_and(|m| m.as_bool() == Some(true));
        if let Some(value) = state.value.as_ref().filter(|_| !multiple) {
            set("value", JsValue::from_str(value));
        }
        if let Some(checked) = state.checked {
            set("checked", JsValue::from_bool(checked));
        }
        if let Some(selected) = state.selected {
            set("selected", JsValue::from_bool(selected));
        }
    }

    fn scroll_document(&mut self, x: f64, y: f64) {
        self.flush();
        if let Some(window) = self.frame.content_window() {
            window.scroll_to_with_x_and_y(x, y);
        }
    }

    fn scroll_element(&mut self, node: &Node, x: f64, y: f64) {
        self.flush();
        element(node).scroll_to_with_x_and_y(x, y);
    }

    fn set_viewport(&mut self, viewport: &Viewport) {
        let width = viewport.width.clamp(1, MAX_SIDE).to_string();
        let height = viewport.height.clamp(1, MAX_SIDE).to_string();
        self.frame.set_width(&width);
        self.frame.set_height(&height);
        let style = self.frame.style();
        let _ = style.set_property("width", &format!("{width}px"));
        let _ = style.set_property("height", &format!("{height}px"));
    }

    fn tag(&mut self, node: &Node, id: protocol::NodeId) {
        self.writes.borrow_mut().tag(node, id.0);
    }

    fn resolve_url(&self, url: &str, base: &str) -> Option<String> {
        web_sys::Url::new_with_base(url, base)
            .ok()
            .map(|u| u.href())
    }

    fn draw_canvas(&mut self, canvas: &Node, frame: &protocol::CanvasFrame) {
        self.flush();
        self.painter.draw(canvas, frame);
    }

    fn canvas_unreadable(&mut self, canvas: &Node) {
        self.flush();
        self.painter.unreadable(canvas);
    }

    fn set_media(&mut self, media: &Node, state: &protocol::MediaState) {
        self.flush();
        super::canvas::web::set_media(media, state);
    }

    fn attach_shadow(&mut self, host: &Node) -> Result<Node, ViewerError> {
        self.flush();
        let existing = Reflect::get(host, &"shadowRoot".into()).map_err(js_error)?;
        if existing.is_object() {
            let root: Node = existing.unchecked_into();
            while let Some(child) = proto::first_child(&root) {
                proto::remove_child(&root, &child).map_err(js_error)?;
            }
            return Ok(root);
        }
        // Through the host's own realm: the mirror's elements are not this
        // window's.
        let attach = function(Reflect::get(host, &"attachShadow".into()).map_err(js_error)?)
            .map_err(js_error)?;
        let init = js_sys::Object::new();
        Reflect::set(&init, &"mode".into(), &"open".into()).map_err(js_error)?;
        let root = attach.call1(host, &init).map_err(js_error)?;
        Ok(root.unchecked_into())
    }

    fn reset_frame(
        &mut self,
        frame: &Node,
        quirks: bool,
        doctype: Option<&str>,
    ) -> Result<Reset<Node>, ViewerError> {
        self.flush();
        self.pool.clear();
        let doc = frame_document(frame)?;
        Self::reset(&doc, quirks, doctype)?;
        self.console_sheet(&doc);
        self.guard_frame(&doc);
        Ok(Reset {
            doctype: doc.doctype().map(Node::from),
            document: doc.into(),
        })
    }

    fn frame_placeholder(&mut self, frame: &Node) {
        self.flush();
        let shown = (|| -> Result<(), ViewerError> {
            let doc = frame_document(frame)?;
            Self::reset(&doc, false, None)?;
            let html = doc.create_element("html").map_err(js_error)?;
            let body = doc.create_element("body").map_err(js_error)?;
            body.set_attribute("style", PLACEHOLDER_BODY)
                .map_err(js_error)?;
            let label = doc.create_element("div").map_err(js_error)?;
            label
                .set_attribute("style", PLACEHOLDER_LABEL)
                .map_err(js_error)?;
            label.set_text_content(Some(super::frames::PLACEHOLDER_TEXT));
            body.append_child(&label).map_err(js_error)?;
            html.append_child(&body).map_err(js_error)?;
            doc.append_child(&html).map_err(js_error)?;
            Ok(())
        })();
        if let Err(e) = shown {
            crate::log::debug(&format!("a frame placeholder was not drawn: {e}"));
        }
    }

    fn scroll_frame(&mut self, document: &Node, x: f64, y: f64) {
        self.flush();
        let window = Reflect::get(document, &"defaultView".into()).unwrap_or(JsValue::NULL);
        if window.is_object() {
            window
                .unchecked_ref::<web_sys::Window>()
                .scroll_to_with_x_and_y(x, y);
        }
    }

    fn show_visitor_selection(&mut self, ends: Option<super::selection::Ends<'_, Node>>) {
        self.flush();
        let shown = self
            .document()
            .and_then(|doc| super::selection_dom::show(&doc, ends).map_err(js_error));
        if let Err(e) = shown {
            crate::log::warn(&format!("the visitor's selection is not shown: {e}"));
        }
    }

    fn show_top_layer(&mut self, node: &Node, kind: TopLayerKind) -> Result<(), ViewerError> {
        self.flush();
        self.top_layer.show(node, kind)
    }

    fn hide_top_layer(&mut self, node: &Node, kind: TopLayerKind) {
        self.flush();
        self.top_layer.hide(node, kind);
    }
}

/// The console's own look for a frame whose content is not shared: the
/// frame's whole box, neutral, labelled.
const PLACEHOLDER_BODY: &str = "margin:0;height:100vh;display:flex;align-items:center;\
    justify-content:center;background:#f1f3f5;color:#5f6b7a;\
    font:13px/1.4 system-ui,sans-serif;box-sizing:border-box;border:1px dashed #b6bfca;";
const PLACEHOLDER_LABEL: &str = "padding:8px;text-align:center;";

/// A mirrored frame's document (it has one once in the document).
fn frame_document(frame: &Node) -> Result<Document, ViewerError> {
    let doc = Reflect::get(frame, &"contentDocument".into()).map_err(js_error)?;
    if doc.is_object() {
        Ok(doc.unchecked_into())
    } else {
        Err(ViewerError::Dom("the frame has no document".into()))
    }
}

impl WebDom {
    /// A frame document's own navigation guards (see
    /// [`WebDom::guard_interactions`]); the agent's clicks in frames are not
    /// forwarded yet, so every click is held.
    fn guard_frame(&mut self, doc: &Document) {
        let options = EventListenerOptions {
            phase: EventListenerPhase::Capture,
            passive: false,
        };
        for kind in ["click", "auxclick", "submit", "dragstart"] {
            self.frame_guards.push(EventListener::new_with_options(
                doc,
                kind,
                options,
                |event| event.prevent_default(),
            ));
        }
    }
}
