//! Roots besides the visitor's document: open shadow roots and the
//! documents of same-origin `<iframe>`s, observed and listened to like the
//! document itself.
//!
//! Owns: [`Nested`] (the tracker's part that observes each root met, listens
//! there for input, scroll and frame loads, wraps `attachShadow` in every
//! captured realm, and queues what the mutation records cannot say: a root
//! attached, a frame that loaded a new document), reading a frame's
//! content document, and scroll positions of any realm's nodes. Does not own:
//! serializing (`serialize.rs`), the batch order (`plan.rs`), the top
//! document's own listeners (`session/capture.rs`).
//!
//! A frame's nodes come from another realm: `instanceof` this window's
//! classes fails on them, so nothing here uses `dyn_ref`; the node type
//! decides and casts are unchecked.
//!
//! Cross-origin frames (and sandboxed ones without `allow-same-origin`)
//! have no readable document: they go without children, and the console
//! draws a labelled placeholder of their size. Pointer and focus inside
//! frames are not followed yet.

use std::cell::RefCell;
use std::rc::Rc;

use crate::dom::Listener as EventListener;
use gloo_events::EventListenerOptions;
use js_sys::Reflect;
use protocol::ScrollPos;
use wasm_bindgen::{intern, JsCast, JsValue};
use web_sys::{Document, Element, EventTarget, MutationObserver, MutationObserverInit};

use crate::ids::Ids;
use crate::plan::{Changes, Removed};
use crate::serialize::Capture;
use crate::shadow::ShadowHook;

/// The content document of a same-origin `<iframe>`, if readable.
pub(crate) fn content_document(frame: &Element) -> Option<Document> {
    Reflect::get(frame, &JsValue::from_str(intern("contentDocument")))
        .ok()
        .filter(JsValue::is_object)
        .map(JsCast::unchecked_into)
}

/// The `<iframe>` a document is shown in, seen from its parent.
pub(crate) fn frame_of(document: &web_sys::Node) -> Option<Element> {
    let doc: &Document = document.unchecked_ref();
    let window = crate::dom::default_view(doc)?;
    Reflect::get(&window, &JsValue::from_str(intern("frameElement")))
        .ok()
        .filter(JsValue::is_object)
        .map(JsCast::unchecked_into)
}

/// Whether the element shows a document of its own that we capture.
pub fn is_frame(tag: &str) -> bool {
    tag == "iframe" || tag == "frame"
}

/// `node` as an element, whatever realm it comes from.
pub(crate) fn as_element(node: &web_sys::Node) -> Option<&Element> {
    (crate::dom::node_type(&node) == web_sys::Node::ELEMENT_NODE).then(|| node.unchecked_ref())
}

/// The base URL nodes added under `node` resolve against: its own
/// document's, when that is a frame's.
pub(crate) fn base_for(node: &web_sys::Node, top: &Document, top_base: &str) -> Option<String> {
    let doc = match crate::dom::node_type(&node) {
        web_sys::Node::DOCUMENT_NODE => node.unchecked_ref::<Document>().clone(),
        _ => crate::dom::owner_document(&node)?,
    };
    (doc != *top)
        .then(|| crate::snapshot::base_url(&doc))
        .filter(|_| !top_base.is_empty())
}

/// Where a `scroll` event's target is now: an element's offsets, or a
/// document's window (reported against the document's id).
pub(crate) fn scroll_pos(ids: &Ids, target: &EventTarget) -> Option<ScrollPos> {
    let node: &web_sys::Node = target.unchecked_ref();
    if !Reflect::has(target, &JsValue::from_str(intern("nodeType"))).unwrap_or(false) {
        return None;
    }
    match crate::dom::node_type(&node) {
        web_sys::Node::DOCUMENT_NODE => {
            let id = ids.get(node)?;
            let window = crate::dom::default_view(node.unchecked_ref::<Document>())?;
            Some(crate::snapshot::window_scroll(&window, id))
        }
        web_sys::Node::ELEMENT_NODE => {
            let el: &Element = node.unchecked_ref();
            Some(ScrollPos {
                target: ids.get(node)?,
                x: f64::from(crate::dom::scroll_left(el)),
                y: f64::from(crate::dom::scroll_top(el)),
            })
        }
        _ => None,
    }
}

/// What a nested root's listeners report to the session.
pub enum RootEvent {
    /// `input` or `change` on a control inside a shadow root or a frame.
    Input(Element),
    /// `scroll` inside one (or of a frame's window: the target is its
    /// document).
    Scroll(EventTarget),
}

/// Where the session takes root events.
type OnEvent = Rc<dyn Fn(RootEvent)>;

struct Shared {
    observer: MutationObserver,
    /// Roots already observed, realms already hooked (by their
    /// `Element.prototype`).
    seen: js_sys::WeakSet,
    /// Open roots attached since the last flush.
    attached: RefCell<Vec<web_sys::Node>>,
    /// Frames that loaded since the last flush.
    loaded: RefCell<Vec<Element>>,
    on_records: Rc<dyn Fn()>,
    on_event: RefCell<Option<OnEvent>>,
}

/// The tracker's hold on every nested root (see the module docs). Dropping
/// it removes every listener and hook.
pub(crate) struct Nested {
    shared: Rc<Shared>,
    /// Each frame's document as last sent, to remove when it loads anew.
    sent_docs: js_sys::WeakMap,
    hooks: RefCell<Vec<ShadowHook>>,
    listeners: RefCell<Vec<EventListener>>,
    /// The open shadow roots observed, in the order met (outer before
    /// inner): what resource discovery reads sheets from, instead of asking
    /// every element of the page for one (~80 ms on a page of 100k nodes).
    shadow_roots: RefCell<Vec<web_sys::Node>>,
}

pub(crate) fn observe_init() -> MutationObserverInit {
    let init = MutationObserverInit::new();
    init.set_child_list(true);
    init.set_attributes(true);
    // A class change's old value: the flush compares its tokens with the
    // classes the rules name (`cover_deps::class_change_matters`). Every
    // root the tracker observes is observed with this, so a record's
    // missing old value means the attribute was absent.
    init.set_attribute_old_value(true);
    init.set_character_data(true);
    init.set_subtree(true);
    init
}

impl Nested {
    /// Starts on the visitor's `document`: hooks its realm's
    /// `attachShadow` and listens for frames loading in it.
    pub(crate) fn start(
        document: &Document,
        observer: &MutationObserver,
        on_records: Rc<dyn Fn()>,
    ) -> Nested {
        let nested = Nested {
            shared: Rc::new(Shared {
                observer: observer.clone(),
                seen: js_sys::WeakSet::new(),
                attached: RefCell::default(),
                loaded: RefCell::default(),
                on_records,
                on_event: RefCell::default(),
            }),
            sent_docs: js_sys::WeakMap::new(),
            hooks: RefCell::default(),
            listeners: RefCell::default(),
            shadow_roots: RefCell::default(),
        };
        nested.hook_realm(document);
        nested.listen(document.as_ref(), false);
        nested
    }

    /// Where input and scroll inside nested roots go.
    pub(crate) fn on_event(&self, f: OnEvent) {
        *self.shared.on_event.borrow_mut() = Some(f);
    }

    fn hook_realm(&self, document: &Document) {
        let Some(window) = crate::dom::default_view(document) else {
            return;
        };
        let window: JsValue = window.into();
        let proto = Reflect::get(&window, &JsValue::from_str("Element"))
            .and_then(|e| Reflect::get(&e, &JsValue::from_str("prototype")));
        let Ok(proto) = proto else { return };
        if !proto.is_object() || self.shared.seen.has(proto.unchecked_ref()) {
            return;
        }
        self.shared.seen.add(proto.unchecked_ref());
        let weak = Rc::downgrade(&self.shared);
        let on_open = Rc::new(move |root: web_sys::ShadowRoot| {
            let Some(shared) = weak.upgrade() else { return };
            let _ = shared.observer.observe_with_options(&root, &observe_init());
            if let Ok(mut attached) = shared.attached.try_borrow_mut() {
                attached.push(root.into());
            }
            (shared.on_records)();
        });
        if let Some(hook) = ShadowHook::install(&window, on_open) {
            if let Ok(mut hooks) = self.hooks.try_borrow_mut() {
                hooks.push(hook);
            }
        }
    }

    /// Capturing listeners on a root: input and scroll (`events`: not for
    /// the top document, whose own listeners the session keeps) and frame
    /// loads (always).
    fn listen(&self, root: &EventTarget, events: bool) {
        let options = EventListenerOptions::run_in_capture_phase();
        let mut made = Vec::with_capacity(4);
        let weak = Rc::downgrade(&self.shared);
        made.push(EventListener::new_with_options(
            root,
            "load",
            options,
            move |e| {
                let Some(shared) = weak.upgrade() else { return };
                let Some(target) = e.target() else { return };
                let node: &web_sys::Node = target.unchecked_ref();
                let is_frame = crate::dom::node_type(&node) == web_sys::Node::ELEMENT_NODE
                    && is_frame(&crate::dom::node_name(&node).to_ascii_lowercase());
                if is_frame {
                    if let Ok(mut loaded) = shared.loaded.try_borrow_mut() {
                        loaded.push(node.unchecked_ref::<Element>().clone());
                    }
                    (shared.on_records)();
                }
            },
        ));
        if events {
            for kind in ["input", "change", "scroll"] {
                let weak = Rc::downgrade(&self.shared);
                made.push(EventListener::new_with_options(
                    root,
                    kind,
                    options,
                    move |e| {
                        let Some(shared) = weak.upgrade() else { return };
                        let Some(target) = e.target() else { return };
                        let f = shared.on_event.borrow().clone();
                        let Some(f) = f else { return };
                        if kind == "scroll" {
                            f(RootEvent::Scroll(target));
                        } else if let Some(el) = as_element(target.unchecked_ref()) {
                            f(RootEvent::Input(el.clone()));
                        }
                    },
                ));
            }
        }
        if let Ok(mut listeners) = self.listeners.try_borrow_mut() {
            listeners.extend(made);
        }
    }

    /// Observes and listens to the roots the last serialization met (each
    /// once), hooking the realm of every frame document.
    pub(crate) fn observe_found(&self, capture: &mut Capture) {
        for root in capture.take_found() {
            if crate::dom::node_type(&root) == web_sys::Node::DOCUMENT_NODE {
                if let Some(frame) = frame_of(&root) {
                    self.sent_docs.set(frame.as_ref(), &root);
                }
            }
            if self.shared.seen.has(root.as_ref()) {
                continue;
            }
            self.shared.seen.add(root.as_ref());
            let _ = self
                .shared
                .observer
                .observe_with_options(&root, &observe_init());
            if crate::dom::node_type(&root) == web_sys::Node::DOCUMENT_NODE {
                self.hook_realm(root.unchecked_ref());
            } else if let Ok(mut roots) = self.shadow_roots.try_borrow_mut() {
                roots.push(root.clone());
            }
            self.listen(root.as_ref(), true);
        }
    }

    /// The open shadow roots observed in `document`'s own tree (not in its
    /// frames) that are still in it. Those whose host left the page are
    /// forgotten (a root that comes back is met again when its host is
    /// sent).
    pub(crate) fn shadow_roots_in(&self, document: &Document) -> Vec<JsValue> {
        let own: &web_sys::Node = document.as_ref();
        self.connected_shadow_roots(|r| {
            crate::dom::owner_document(&r)
                .is_some_and(|d| AsRef::<web_sys::Node>::as_ref(&d) == own)
        })
    }

    /// Every open shadow root observed, in the document and its frames,
    /// still on the page.
    pub(crate) fn all_shadow_roots(&self) -> Vec<JsValue> {
        self.connected_shadow_roots(|_| true)
    }

    fn connected_shadow_roots(&self, keep: impl Fn(&web_sys::Node) -> bool) -> Vec<JsValue> {
        let Ok(mut roots) = self.shadow_roots.try_borrow_mut() else {
            return Vec::new();
        };
        roots.retain(|r| crate::dom::is_connected(&r));
        roots
            .iter()
            .filter(|r| keep(r))
            .map(|r| r.clone().into())
            .collect()
    }

    /// Forgets attached roots and loaded frames: a snapshot shows them.
    pub(crate) fn clear(&self) {
        if let Ok(mut a) = self.shared.attached.try_borrow_mut() {
            a.clear();
        }
        if let Ok(mut l) = self.shared.loaded.try_borrow_mut() {
            l.clear();
        }
    }

    /// Whether a root was attached or a frame loaded since the last flush.
    pub(crate) fn has_changes(&self) -> bool {
        self.shared
            .attached
            .try_borrow()
            .is_ok_and(|a| !a.is_empty())
            || self.shared.loaded.try_borrow().is_ok_and(|l| !l.is_empty())
    }

    /// Adds to `changes` what the records cannot say: each root attached
    /// (an add under its host) and each frame's new document (the old one
    /// removed, the new one added under the frame).
    pub(crate) fn take_changes(&self, ids: &Ids, changes: &mut Changes<web_sys::Node>) {
        let attached = self
            .shared
            .attached
            .try_borrow_mut()
            .map(|mut a| std::mem::take(&mut *a))
            .unwrap_or_default();
        changes.added.extend(attached);
        let loaded = self
            .shared
            .loaded
            .try_borrow_mut()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        for frame in loaded {
            let old = self.sent_docs.get(frame.as_ref());
            let new = content_document(&frame);
            let old_node: Option<&web_sys::Node> = old.is_object().then(|| old.unchecked_ref());
            if let (Some(old), Some(new)) = (old_node, &new) {
                if old == AsRef::<web_sys::Node>::as_ref(new) {
                    continue;
                }
            }
            if let Some(old) = old_node.filter(|o| ids.get(o).is_some()) {
                changes.removed.push(Removed {
                    node: old.clone(),
                    old_parent: frame.clone().into(),
                });
                self.sent_docs.delete(frame.as_ref());
            }
            if let Some(new) = new {
                changes.added.push(new.into());
            }
        }
    }
}
