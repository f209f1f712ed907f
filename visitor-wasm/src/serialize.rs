//! Reading DOM nodes into protocol nodes: tags, namespaces, attributes (URLs
//! made absolute, secrets masked), form state, text, blocked boxes, and ids.
//!
//! Owns: [`Capture`], the state every serialization needs (ids, the mask
//! rules, which inputs were ever passwords, which elements were last sent
//! masked or blocked), and applying the rules to live nodes. Does not own:
//! the decisions themselves (`mask.rs`), the order of mutations (`plan.rs`).
//!
//! One node is read at a time ([`Capture::open`]); the order, depth and
//! slicing of a walk are `walk.rs`'s. The shadow roots and frame documents
//! met are kept for the tracker to observe. Not
//! captured: closed shadow roots, CSS `content:` and canvas pixels.
//!
//! A password's value is never read into Rust: its length is read in JS
//! (`JsString::length`) and only that number crosses over.

use protocol::{Attr, FormState, Node, NodeId, Ns, ScrollPos};
use wasm_bindgen::{intern, JsCast, JsValue};
use web_sys::Element;

use crate::attr_value::{apply_rule, apply_rule_to};
use crate::ids::Ids;
use crate::mask::{self, Control, Marker, Rules};
use crate::read::{ElementRead, Selectors};
use crate::walk::{DocCtx, Walker};
use crate::{frames, shadow};

/// What every serialization of this page shares.
pub struct Capture {
    pub ids: Ids,
    rules: Rules,
    /// The rules' selectors as JS strings, for [`ElementRead`].
    selectors: Selectors,
    /// Inputs that were `type=password` when we looked: a "show password"
    /// toggle must not unmask them.
    was_password: js_sys::WeakSet,
    /// Elements whose last serialization was masked / a blocked box: when a
    /// later attribute change alters that, the element is sent again.
    sent_masked: js_sys::WeakSet,
    sent_blocked: js_sys::WeakSet,
    /// Shadow roots and frame documents serialized since the tracker last
    /// looked (it observes them).
    found: Vec<web_sys::Node>,
    /// Nodes one snapshot carries at most (`maxNodes`).
    max_nodes: u32,
    /// During a snapshot: how many more nodes it may carry, and whether a
    /// node was left out for want of room.
    budget: Option<u32>,
    cut_short: bool,
    /// The attribute names that can change what the rules match
    /// (`cover_deps.rs`); `None`: any may.
    cover_names: Option<Vec<String>>,
    /// The class names the rules name, when only `.name` selectors name
    /// them (`cover_deps::classes`); `None`: any class change may matter.
    cover_classes: Option<Vec<String>>,
    /// Bumped when the rules change; `sent_epoch` is the rules' epoch the
    /// sent masked/blocked states were last all read under (a complete
    /// snapshot that began under it), `walk_epoch` the epoch the snapshot
    /// in progress began under.
    rules_epoch: u32,
    sent_epoch: u32,
    walk_epoch: Option<u32>,
}

/// One serialization's settings.
pub(crate) struct Walk<'a> {
    base: &'a str,
    /// Collects scrolled elements during a snapshot.
    scrolls: Option<&'a mut Vec<ScrollPos>>,
    /// The element whose scroll is the window's (not reported twice).
    scrolling_element: Option<Element>,
}

impl<'a> Walk<'a> {
    pub(crate) fn new(base: &'a str) -> Self {
        Walk {
            base,
            scrolls: None,
            scrolling_element: None,
        }
    }

    pub(crate) fn with_scrolls(
        base: &'a str,
        scrolls: &'a mut Vec<ScrollPos>,
        scrolling_element: Option<Element>,
    ) -> Self {
        Walk {
            base,
            scrolls: Some(scrolls),
            scrolling_element,
        }
    }
}

/// What one node becomes before its children are read (`walk.rs`).
pub(crate) enum Opened {
    Leaf(Node),
    Parent { node: Node, children: Children },
}

/// Where a node's children come from.
pub(crate) struct Children {
    /// Read first: a host's open shadow root.
    pub shadow: Option<web_sys::Node>,
    pub first: Option<web_sys::Node>,
    /// Whether a mask covers them.
    pub masked: bool,
}

impl Children {
    fn of(first: Option<web_sys::Node>, masked: bool) -> Children {
        Children {
            shadow: None,
            first,
            masked,
        }
    }
}

impl Capture {
    /// `mask_selector` matches every element whose text and values never
    /// leave the page; nothing is blocked beyond `data-cobrowse-block`.
    pub fn new(mask_selector: String) -> Capture {
        Capture::with_rules(Rules {
            mask: mask_selector,
            ..Rules::default()
        })
    }

    /// A capture applying `rules` (see [`crate::options::Options::rules`]).
    pub fn with_rules(rules: Rules) -> Capture {
        Capture {
            ids: Ids::new(),
            cover_names: crate::cover_deps::names(&rules),
            cover_classes: crate::cover_deps::classes(&rules),
            selectors: Selectors::new(&rules.mask, &rules.unmask, &rules.block),
            rules,
            was_password: js_sys::WeakSet::new(),
            sent_masked: js_sys::WeakSet::new(),
            sent_blocked: js_sys::WeakSet::new(),
            found: Vec::new(),
            max_nodes: crate::options::DEFAULT_MAX_NODES,
            budget: None,
            cut_short: false,
            rules_epoch: 0,
            sent_epoch: 0,
            walk_epoch: None,
        }
    }

    /// This capture's snapshots carry at most `max` nodes.
    pub fn max_nodes(mut self, max: u32) -> Capture {
        self.max_nodes = max.max(1);
        self
    }

    /// The node cap of a snapshot starts counting.
    pub(crate) fn begin_snapshot(&mut self) {
        self.budget = Some(self.max_nodes);
        self.cut_short = false;
        self.walk_epoch = Some(self.rules_epoch);
    }

    /// The snapshot begun last was read whole (nothing cut) and sent: every
    /// mirrored element's sent masked/blocked state is that of the rules it
    /// began under.
    pub(crate) fn snapshot_complete(&mut self) {
        if let Some(epoch) = self.walk_epoch.take() {
            self.sent_epoch = epoch;
        }
    }

    /// The snapshot's walk is over: `Some(cap)` if nodes were left out.
    /// Other walks (added subtrees) are not capped: they arrive a batch at
    /// a time, each bounded by the relay's frame size.
    pub(crate) fn end_snapshot(&mut self) -> Option<u32> {
        self.budget = None;
        std::mem::take(&mut self.cut_short).then_some(self.max_nodes)
    }

    /// Widens the rules (the relay's masking for this page arrived); the
    /// next walk applies them.
    pub(crate) fn set_rules(&mut self, rules: Rules) {
        if rules != self.rules {
            self.rules_epoch = self.rules_epoch.wrapping_add(1);
            self.cover_names = crate::cover_deps::names(&rules);
            self.cover_classes = crate::cover_deps::classes(&rules);
        }
        self.selectors = Selectors::new(&rules.mask, &rules.unmask, &rules.block);
        self.rules = rules;
    }

    /// Whether a mutation flush may trust the sent states: the rules are
    /// ones `cover_deps.rs` understands and every sent state was read under
    /// them. Then, once the flush has re-checked the elements whose changed
    /// attributes [`Capture::cover_may_change`], an element sent unmasked
    /// (unblocked) is unmasked (unblocked) now.
    pub(crate) fn sent_states_hold(&self) -> bool {
        self.cover_names.is_some() && self.sent_epoch == self.rules_epoch
    }

    /// Whether a change of the attribute `name` can change what a rule
    /// matches (always, unless [`Capture::sent_states_hold`]).
    pub(crate) fn cover_may_change(&self, name: &str) -> bool {
        match &self.cover_names {
            Some(names) if self.sent_epoch == self.rules_epoch => {
                crate::cover_deps::may_matter(names, name)
            }
            _ => true,
        }
    }

    /// The class names to compare a class change's tokens against, when
    /// the flush may (the sent states hold and the rules name classes only
    /// as `.name`, and some): then a change that adds or removes none of
    /// them cannot change a match ([`crate::cover_deps::class_change_matters`]).
    pub(crate) fn named_classes(&self) -> Option<&[String]> {
        self.cover_classes
            .as_deref()
            .filter(|c| !c.is_empty() && self.sent_states_hold())
    }

    /// Whether the element was last sent masked.
    pub(crate) fn sent_masked(&self, node: &JsValue) -> bool {
        self.sent_masked.has(node.unchecked_ref())
    }

    /// Whether the element is masked now: the nearest mask or unmask marker
    /// on it or an ancestor decides, else the private-by-default option.
    pub fn is_masked(&self, el: &Element) -> bool {
        masked_by(&self.rules, el)
    }

    /// Whether a block rule names this element itself.
    pub fn is_blocked(&self, el: &Element) -> bool {
        matches(el, &self.rules.block)
    }

    /// Whether a block rule covers the element: it or an ancestor.
    pub(crate) fn in_block(&self, el: &Element) -> bool {
        self.sent_blocked(el.as_ref()) || shadow::composed_closest(el, &self.rules.block).is_some()
    }

    /// Whether the element is, or ever was, a password input.
    pub(crate) fn is_password(&self, el: &Element) -> bool {
        self.was_password.has(el.as_ref())
            || (crate::dom::local_name(el) == "input"
                && mask::is_password_type(
                    &crate::dom::get_attribute(el, intern("type")).unwrap_or_default(),
                ))
    }

    /// Whether a text (or an element) under this node's parent is masked:
    /// its parent element is, and is not a `<style>`. A node of the document
    /// itself follows the private-by-default option.
    pub fn is_parent_masked(&self, node: &web_sys::Node) -> bool {
        match shadow::containing_element(node) {
            Some(p) => !mask::text_is_code(&crate::dom::local_name(&p)) && self.is_masked(&p),
            None => self.rules.private_by_default,
        }
    }

    /// Whether the console holds this element as a blocked box.
    pub(crate) fn sent_blocked(&self, node: &JsValue) -> bool {
        self.sent_blocked.has(node.unchecked_ref())
    }

    /// Whether the element's masking or blocking differs from how it was
    /// last sent (an attribute or class that a rule matches changed).
    pub(crate) fn cover_changed(&self, el: &Element) -> bool {
        self.is_masked(el) != self.sent_masked.has(el.as_ref())
            || self.is_blocked(el) != self.sent_blocked.has(el.as_ref())
    }

    /// Elements inside `el`, already sent, that a mask or block rule covers
    /// now but did not when they were sent (a selector like `.secret p`
    /// starts matching when `.secret` is added above them).
    pub(crate) fn newly_covered_inside(&self, el: &Element) -> Vec<web_sys::Node> {
        // The queries below search the element's own tree only (not shadow
        // roots nor frames under it): with no element child they find nothing.
        if crate::dom::first_element_child(el).is_none() {
            return Vec::new();
        }
        self.covered_unsent(|selector| crate::dom::query_selector_all(&el, selector).ok())
    }

    /// Elements of the tree `root` (a document, a shadow root or an element,
    /// of any window) that a mask or block rule covers now but did not when
    /// they were sent: what a rule that a change beside or below an element
    /// makes match (`.flag + p`, `:has(…)`) starts covering.
    pub(crate) fn newly_covered_in_tree(&self, root: &web_sys::Node) -> Vec<web_sys::Node> {
        // By node type, not `instanceof`: a frame's document is of its own
        // window's classes.
        self.covered_unsent(|selector| match crate::dom::node_type(root) {
            web_sys::Node::DOCUMENT_NODE
            | web_sys::Node::DOCUMENT_FRAGMENT_NODE
            | web_sys::Node::ELEMENT_NODE => crate::dom::query_selector_all(root, selector).ok(),
            _ => None,
        })
    }

    /// What `query` finds for the mask and the block rules, sent, and not
    /// sent as covered although a rule covers it now.
    fn covered_unsent(
        &self,
        query: impl Fn(&str) -> Option<web_sys::NodeList>,
    ) -> Vec<web_sys::Node> {
        let mut out = Vec::new();
        for (selector, sent) in [
            (&self.rules.mask, &self.sent_masked),
            (&self.rules.block, &self.sent_blocked),
        ] {
            let Some(list) = query(selector) else {
                continue;
            };
            for i in 0..list.length() {
                let Some(node) = list.item(i) else { continue };
                if self.ids.get(&node).is_none() || sent.has(node.as_ref()) {
                    continue;
                }
                let still = node
                    .dyn_ref::<Element>()
                    .or_else(|| frames::as_element(&node))
                    .is_some_and(|e| self.is_blocked(e) || self.is_masked(e));
                if still {
                    out.push(node);
                }
            }
        }
        out
    }

    /// Serializes `node` and its subtree, assigning ids. `masked`: an
    /// ancestor is masked. `None` for nodes never mirrored (the visitor UI,
    /// processing instructions).
    pub(crate) fn serialize(
        &mut self,
        node: &web_sys::Node,
        walk: &mut Walk<'_>,
        masked: bool,
    ) -> Option<Node> {
        let ctx = DocCtx {
            base: walk.base.to_owned(),
            scrolling_element: walk.scrolling_element.clone(),
        };
        let mut walker = Walker::new(node, ctx, masked, walk.scrolls.is_some());
        walker.step(self, &mut || true);
        let (root, scrolls) = walker.finish();
        if let Some(out) = walk.scrolls.as_deref_mut() {
            out.extend(scrolls);
        }
        root
    }

    /// The shadow roots among the roots met since the tracker last looked.
    pub(crate) fn found_shadow_roots(&self) -> impl Iterator<Item = &web_sys::Node> {
        self.found
            .iter()
            .filter(|n| crate::dom::node_type(&n) == web_sys::Node::DOCUMENT_FRAGMENT_NODE)
    }

    /// The shadow roots and frame documents serialized since the last call.
    pub(crate) fn take_found(&mut self) -> Vec<web_sys::Node> {
        std::mem::take(&mut self.found)
    }

    /// During a snapshot: `n` nodes read earlier are read again (a stale
    /// subtree replaced by a fresh one) and count once.
    pub(crate) fn refund(&mut self, n: u32) {
        if let Some(left) = self.budget.as_mut() {
            *left = left.saturating_add(n);
        }
    }

    /// Reads one node, assigning its id; its children are the walk's to
    /// read. `None` for nodes never mirrored.
    pub(crate) fn open(
        &mut self,
        node: &web_sys::Node,
        ctx: &DocCtx,
        scrolls: Option<&mut Vec<ScrollPos>>,
        masked: bool,
    ) -> Option<Opened> {
        // Past the snapshot's cap nothing more is read, and what is left
        // out gets no id: its changes are not sent either (their parent is
        // unknown to the console), and a later snapshot tries again.
        if let Some(left) = self.budget {
            if left == 0 {
                self.cut_short = true;
                return None;
            }
            self.budget = Some(left - 1);
        }
        match crate::dom::node_type(&node) {
            web_sys::Node::ELEMENT_NODE => {
                let el = node.unchecked_ref::<Element>();
                self.open_element(el, ctx, scrolls, masked)
            }
            web_sys::Node::TEXT_NODE | web_sys::Node::CDATA_SECTION_NODE => {
                let id = self.ids.get_or_assign(node);
                Some(Opened::Leaf(Node::Text {
                    id,
                    text: text_of(node, masked),
                }))
            }
            web_sys::Node::COMMENT_NODE => {
                let id = self.ids.get_or_assign(node);
                Some(Opened::Leaf(Node::Comment {
                    id,
                    text: text_of(node, masked),
                }))
            }
            web_sys::Node::DOCUMENT_NODE => {
                let id = self.ids.get_or_assign(node);
                let doc = node.unchecked_ref::<web_sys::Document>();
                let quirks = crate::dom::compat_mode(doc) == "BackCompat";
                // A frame's document inherits its frame's masking.
                let top = masked || self.rules.private_by_default;
                if shadow::root_owner(node).is_some() {
                    self.found.push(node.clone());
                }
                Some(Opened::Parent {
                    node: Node::Document {
                        id,
                        quirks,
                        children: Vec::new(),
                    },
                    children: Children::of(crate::dom::first_child(&node), top),
                })
            }
            web_sys::Node::DOCUMENT_TYPE_NODE => {
                let id = self.ids.get_or_assign(node);
                let dt = node.unchecked_ref::<web_sys::DocumentType>();
                Some(Opened::Leaf(Node::Doctype {
                    id,
                    name: dt.name(),
                    public_id: dt.public_id(),
                    system_id: dt.system_id(),
                }))
            }
            web_sys::Node::DOCUMENT_FRAGMENT_NODE if shadow::host_of(node).is_some() => {
                let id = self.ids.get_or_assign(node);
                self.found.push(node.clone());
                Some(Opened::Parent {
                    node: Node::ShadowRoot {
                        id,
                        children: Vec::new(),
                    },
                    children: Children::of(crate::dom::first_child(&node), masked),
                })
            }
            _ => None,
        }
    }

    fn open_element(
        &mut self,
        el: &Element,
        ctx: &DocCtx,
        scrolls: Option<&mut Vec<ScrollPos>>,
        masked: bool,
    ) -> Option<Opened> {
        // One crossing for the name, the rules and the attributes.
        let read = ElementRead::of(el, &self.selectors, scrolls.is_some())
            .unwrap_or_else(|| self.read_slowly(el));
        let local = read.local_name();
        if local.eq_ignore_ascii_case(mask::UI_TAG) {
            return None;
        }
        let ns = Ns::from_uri(read.namespace_uri());
        let tag = if ns == Ns::Html {
            lower(local.to_owned())
        } else {
            local.to_owned()
        };
        let id = self.ids.get_or_assign(el);
        let marker = if read.matches_mask() {
            Some(Marker::Mask)
        } else if read.matches_unmask() {
            Some(Marker::Unmask)
        } else {
            None
        };
        let masked = mask::masked_here(masked, marker);
        remember(&self.sent_masked, el, masked);
        let blocked = read.matches_block();
        remember(&self.sent_blocked, el, blocked);
        if blocked {
            return Some(Opened::Leaf(blocked_box(el, id, tag, ns)));
        }
        let control = if ns == Ns::Html {
            self.control(el, &tag, masked)
        } else {
            Control::None
        };
        let star_value = mask::masks_value_attr(&tag, control);
        let attrs = match read.attrs().filter(|_| !star_value) {
            Some(packed) => {
                let svg = ns == Ns::Svg;
                packed
                    .filter_map(|(name, value)| {
                        let rule = mask::attr_rule(name, star_value, masked);
                        let value = apply_rule_to(rule, value.to_owned(), svg, &ctx.base)?;
                        Some(Attr {
                            name: name.to_owned(),
                            value,
                        })
                    })
                    .collect()
            }
            // A masked field's value never enters Rust: one by one.
            None => self.attrs(el, &tag, control, masked, &ctx.base),
        };
        let state = form_state(el, control);
        if let Some(scrolls) = scrolls.filter(|_| read.may_scroll()) {
            push_scroll(scrolls, el, id, ctx);
        }
        self.element_children(el, id, tag, ns, masked, attrs, state)
    }

    /// What [`ElementRead::of`] gives, one call at a time (never needed on
    /// a live element; the attributes are then read one by one too).
    fn read_slowly(&self, el: &Element) -> ElementRead {
        let mask = matches(el, &self.rules.mask);
        let unmask = !mask && matches(el, &self.rules.unmask);
        ElementRead::unpacked(
            &crate::dom::local_name(el),
            crate::dom::namespace_uri(el).as_deref(),
            [mask, unmask, self.is_blocked(el)],
        )
    }

    /// What an element read so far becomes, and where its children are.
    #[allow(clippy::too_many_arguments)]
    fn element_children(
        &mut self,
        el: &Element,
        id: NodeId,
        tag: String,
        ns: Ns,
        masked: bool,
        attrs: Vec<Attr>,
        state: Option<FormState>,
    ) -> Option<Opened> {
        let children = if tag == "script" {
            // A script's source never leaves the page.
            None
        } else if ns == Ns::Html && tag == "template" {
            // Unchecked: a frame's template is not this realm's class.
            let content = crate::dom::first_child(
                &el.unchecked_ref::<web_sys::HtmlTemplateElement>().content(),
            );
            Some(Children::of(content, masked))
        } else if ns == Ns::Html && frames::is_frame(&tag) {
            // The frame's document is its only child (none if cross-origin).
            let doc = frames::content_document(el).map(web_sys::Node::from);
            Some(Children::of(doc, masked))
        } else {
            let masked = masked && !mask::text_is_code(&tag);
            let shadow = if ns == Ns::Html {
                shadow::open_root(el, &tag).map(web_sys::Node::from)
            } else {
                None
            };
            Some(Children {
                shadow,
                first: crate::dom::first_child(&el),
                masked,
            })
        };
        let node = Node::Element {
            id,
            tag,
            ns,
            attrs,
            state,
            children: Vec::new(),
        };
        Some(match children {
            Some(children) => Opened::Parent { node, children },
            None => Opened::Leaf(node),
        })
    }

    /// An element's attributes and live form state, as sent (`masked`: a
    /// mask covers it).
    pub(crate) fn shell(
        &self,
        el: &Element,
        tag: &str,
        ns: &Ns,
        masked: bool,
        base: &str,
    ) -> (Vec<Attr>, Option<FormState>) {
        let control = if *ns == Ns::Html {
            self.control(el, tag, masked)
        } else {
            Control::None
        };
        let attrs = self.attrs(el, tag, control, masked, base);
        (attrs, form_state(el, control))
    }
    /// What to read from an HTML element's live state. Remembers password
    /// inputs, so they stay masked whatever their `type` becomes.
    pub(crate) fn control(&self, el: &Element, tag: &str, masked: bool) -> Control {
        if tag != "input" {
            return mask::control_kind(tag, "", false, masked);
        }
        let ty = crate::dom::get_attribute(el, intern("type")).unwrap_or_default();
        let mut password = self.was_password.has(el.as_ref());
        if !password && mask::is_password_type(&ty) {
            self.was_password.add(el.as_ref());
            password = true;
        }
        mask::control_kind(tag, &ty, password, masked)
    }

    fn attrs(
        &self,
        el: &Element,
        tag: &str,
        control: Control,
        masked: bool,
        base: &str,
    ) -> Vec<Attr> {
        let map = crate::dom::attributes(el);
        let star_value = mask::masks_value_attr(tag, control);
        let mut out = Vec::with_capacity(map.length() as usize);
        for i in 0..map.length() {
            let Some(attr) = map.item(i) else { continue };
            let name = attr.name();
            let rule = mask::attr_rule(&name, star_value, masked);
            if let Some(value) = apply_rule(rule, el, &attr, base) {
                out.push(Attr { name, value });
            }
        }
        out
    }

    /// An attribute's current value as the console must see it (`None`:
    /// removed, or never sent), for mutation batches. `masked`: a mask
    /// covers the element now; `base` resolves its document's base URL,
    /// asked only for a URL-carrying attribute.
    pub(crate) fn attr_value(
        &self,
        el: &Element,
        name: &str,
        masked: bool,
        base: impl FnOnce() -> String,
    ) -> Option<String> {
        // Only a `value`'s rule depends on the element's kind; a `type`
        // change is read too, as it may make the input a password one,
        // which `control` remembers.
        let star_value = if name == "value" || name.eq_ignore_ascii_case("type") {
            let tag = lower(crate::dom::local_name(el));
            let control = if Ns::from_uri(crate::dom::namespace_uri(el).as_deref()) == Ns::Html {
                self.control(el, &tag, masked)
            } else {
                Control::None
            };
            mask::masks_value_attr(&tag, control)
        } else {
            false
        };
        match mask::attr_rule(name, star_value, masked) {
            // One crossing instead of the `Attr` node and its value.
            mask::AttrRule::Keep => crate::dom::get_attribute(el, name),
            mask::AttrRule::Drop => None,
            rule => {
                let attr = crate::dom::get_attribute_node(el, name)?;
                apply_rule(rule, el, &attr, &base())
            }
        }
    }

    /// The live states an `input`/`change` event on `target` changed: the
    /// control's own, or every option's for a multiple `<select>`.
    pub fn input_states(&self, target: &Element) -> Vec<(NodeId, FormState)> {
        let Some(id) = self.ids.get(target) else {
            return Vec::new();
        };
        // A blocked element (or one inside it) says nothing, typed or not.
        if self.sent_blocked(target)
            || shadow::composed_closest(target, &self.rules.block).is_some()
        {
            return Vec::new();
        }
        let tag = lower(crate::dom::local_name(target));
        let masked = self.is_masked(target);
        if tag == "select" && !masked && reflect(target, "multiple").as_bool() == Some(true) {
            let mut out = Vec::new();
            if let Ok(options) = crate::dom::query_selector_all(&target, intern("option")) {
                for i in 0..options.length() {
                    let Some(opt) = options.item(i) else { continue };
                    let (Some(oid), Some(el)) = (self.ids.get(&opt), frames::as_element(&opt))
                    else {
                        continue;
                    };
                    if let Some(state) = form_state(el, Control::Selected) {
                        out.push((oid, state));
                    }
                }
            }
            return out;
        }
        let control = self.control(target, &tag, masked);
        form_state(target, control)
            .map(|state| vec![(id, state)])
            .unwrap_or_default()
    }
}

/// `el.matches(selector)`; a selector the browser refuses matches nothing
/// (the options' selectors were checked when the session started).
/// Whether `rules` mask the element now (see [`Capture::is_masked`]).
/// Markers above a shadow root or a frame count: a masked host masks its
/// shadow content, a masked `<iframe>` its document.
pub(crate) fn masked_by(rules: &Rules, el: &Element) -> bool {
    let (mask, unmask, unmask_is_nearer) = shadow::nearest_pair(el, &rules.mask, &rules.unmask);
    mask::masked_from_nearest(mask, unmask, unmask_is_nearer, rules.private_by_default)
}

/// Records `el`'s scroll position, unless it is zero or the window's.
fn push_scroll(scrolls: &mut Vec<ScrollPos>, el: &Element, id: NodeId, ctx: &DocCtx) {
    let (x, y) = (crate::dom::scroll_left(el), crate::dom::scroll_top(el));
    if (x != 0 || y != 0) && ctx.scrolling_element.as_ref() != Some(el) {
        scrolls.push(ScrollPos {
            target: id,
            x: f64::from(x),
            y: f64::from(y),
        });
    }
}

fn matches(el: &Element, selector: &str) -> bool {
    matches!(crate::dom::matches(el, selector), Ok(true))
}

fn remember(set: &js_sys::WeakSet, el: &Element, yes: bool) {
    if yes {
        set.add(el.as_ref());
    } else {
        set.delete(el.as_ref());
    }
}

/// The empty box that stands in for a blocked element: its layout
/// attributes and its current size, nothing it contains.
fn blocked_box(el: &Element, id: NodeId, tag: String, ns: Ns) -> Node {
    let rect = crate::dom::get_bounding_client_rect(el);
    let inline = crate::dom::owner_document(&el)
        .and_then(|d| crate::dom::default_view(&d))
        .and_then(|w| w.get_computed_style(el).ok().flatten())
        .and_then(|s| s.get_property_value(intern("display")).ok())
        .is_some_and(|d| d == "inline");
    let own: Vec<(&str, String)> = ["id", "class"]
        .into_iter()
        .filter_map(|n| crate::dom::get_attribute(el, intern(n)).map(|v| (n, v)))
        .collect();
    let attrs = mask::blocked_box_attrs(
        own.iter().map(|(n, v)| (*n, v.as_str())),
        rect.width(),
        rect.height(),
        inline,
    )
    .into_iter()
    .map(|(name, value)| Attr { name, value })
    .collect();
    Node::Element {
        id,
        tag,
        ns,
        attrs,
        state: None,
        children: Vec::new(),
    }
}

fn reflect(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &JsValue::from_str(intern(key))).unwrap_or(JsValue::UNDEFINED)
}

/// Length of a string property, read in JS so the string itself never
/// enters Rust's memory.
pub(crate) fn js_len(obj: &JsValue, key: &str) -> u32 {
    reflect(obj, key)
        .dyn_ref::<js_sys::JsString>()
        .map_or(0, |s| s.length())
}

pub(crate) fn form_state(el: &Element, control: Control) -> Option<FormState> {
    let mut state = FormState::default();
    match control {
        Control::None => return None,
        Control::Value => state.value = Some(reflect(el, "value").as_string().unwrap_or_default()),
        Control::MaskedValue => state.masked_len = Some(js_len(el, "value")),
        Control::Checked => state.checked = reflect(el, "checked").as_bool(),
        Control::Selected => state.selected = reflect(el, "selected").as_bool(),
    }
    Some(state)
}

/// A text or comment node's data, masked when a mask rule covers it (see
/// [`Capture::is_parent_masked`] for nodes met outside a walk).
pub(crate) fn text_of(node: &web_sys::Node, masked: bool) -> String {
    let text = node.node_value().unwrap_or_default();
    if masked {
        mask::mask_text(&text)
    } else {
        text
    }
}

fn lower(s: String) -> String {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        s.to_ascii_lowercase()
    } else {
        s
    }
}
