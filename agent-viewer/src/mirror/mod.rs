//! The mirror: rebuilds the visitor's page from snapshots and keeps it up to
//! date with mutation batches, input, scroll and viewport events. Owns: the
//! NodeId → node bookkeeping and the order in which changes are applied.
//! Does not own: the DOM itself — every write goes through [`DomBackend`]
//! (only `dom.rs` touches the real iframe), so this logic is tested natively
//! against a fake — nor the order of frames (see `sequencer`).

pub mod canvas;
#[cfg(target_arch = "wasm32")]
mod create_dom;
#[cfg(target_arch = "wasm32")]
pub mod dom;
#[cfg(test)]
pub(crate) mod fake;
pub mod frames;
pub mod presence;
#[cfg(target_arch = "wasm32")]
mod proto_dom;
pub mod selection;
#[cfg(target_arch = "wasm32")]
mod selection_dom;
mod shadow;
pub mod sheets;
#[cfg(target_arch = "wasm32")]
mod sheets_dom;
#[cfg(test)]
mod sheets_fake;
#[cfg(test)]
mod tests;
mod toplayer;
#[cfg(target_arch = "wasm32")]
mod toplayer_dom;
#[cfg(target_arch = "wasm32")]
mod writes_dom;

use std::collections::{HashMap, HashSet};

use protocol::{
    AttrChange, CanvasFrame, Event, FormState, MediaState, MutationBatch, Node, NodeId, Ns,
    ScrollPos, Snapshot, TopLayerKind, Viewport,
};

use crate::log;
use crate::resources::{ResourceUrls, Role};
use crate::sanitize::{
    attr_decision, attr_namespace, doctype_markup, masked_value, AttrDecision, ElementKind,
    INERT_SCRIPT_TYPE, PLACEHOLDER_TAG,
};
use crate::ViewerError;

/// The most nodes a snapshot may have for the console to build it: above
/// the visitor script's own cap (its `maxNodes` option, at most 1,000,000,
/// plus its notice), so only a script that ignores its cap meets it. Past
/// it the console would freeze the agent's tab for seconds and hold a copy
/// of a page nobody can read on screen anyway.
pub const MAX_SNAPSHOT_NODES: usize = 1_200_000;

/// Whether `root` has more than `cap` nodes; stops counting once it does.
/// Iterative: a snapshot's depth is the visitor's to choose.
pub fn more_nodes_than(root: &Node, cap: usize) -> bool {
    let mut count = 0usize;
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        count += 1;
        if count > cap {
            return true;
        }
        stack.extend(node.children());
    }
    false
}

/// A form control's state as the console shows it: a masked value is already
/// replaced by its placeholder characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormView {
    pub value: Option<String>,
    pub checked: Option<bool>,
    pub selected: Option<bool>,
}

impl From<&FormState> for FormView {
    fn from(state: &FormState) -> Self {
        FormView {
            value: match state.masked_len {
                Some(len) => Some(masked_value(len)),
                None => state.value.clone(),
            },
            checked: state.checked,
            selected: state.selected,
        }
    }
}

/// The freshly reset document and the doctype its markup created.
pub struct Reset<N> {
    pub document: N,
    pub doctype: Option<N>,
}

/// The seam between the mirror's bookkeeping and a DOM. Every method is a
/// single DOM operation; the browser's may fail (invalid names, a node in the
/// wrong place) and says so with [`ViewerError::Dom`].
pub trait DomBackend: sheets::SheetBackend<<Self as DomBackend>::Node> {
    type Node: Clone;

    /// Replaces the document with an empty one in the visitor's rendering
    /// mode (`quirks` decides) with the visitor's doctype (`doctype`, its
    /// markup) where that gives the same mode. The new document holds at
    /// most a doctype.
    fn reset_document(
        &mut self,
        quirks: bool,
        doctype: Option<&str>,
    ) -> Result<Reset<Self::Node>, ViewerError>;
    fn create_element(&mut self, tag: &str, ns: &Ns) -> Result<Self::Node, ViewerError>;
    fn create_text(&mut self, text: &str) -> Result<Self::Node, ViewerError>;
    fn create_comment(&mut self, text: &str) -> Result<Self::Node, ViewerError>;
    fn create_doctype(
        &mut self,
        name: &str,
        public_id: &str,
        system_id: &str,
    ) -> Result<Self::Node, ViewerError>;
    /// The fragment a `<template>` keeps its content in.
    fn template_content(&mut self, template: &Self::Node) -> Result<Self::Node, ViewerError>;
    fn set_attribute(
        &mut self,
        element: &Self::Node,
        ns: Option<&str>,
        name: &str,
        value: &str,
    ) -> Result<(), ViewerError>;
    fn remove_attribute(
        &mut self,
        element: &Self::Node,
        ns: Option<&str>,
        name: &str,
    ) -> Result<(), ViewerError>;
    /// Inserts `child` under `parent` before `before` (`None`: last).
    fn insert(
        &mut self,
        parent: &Self::Node,
        child: &Self::Node,
        before: Option<&Self::Node>,
    ) -> Result<(), ViewerError>;
    /// Appends `child`, just built and not a doctype, as the last child of
    /// `parent`, just built too (or its template content). Such an append
    /// cannot fail, so a backend may put it off (with its other writes)
    /// until a call that reads or places nodes, or [`DomBackend::flush`].
    fn append_built(&mut self, parent: &Self::Node, child: &Self::Node) -> Result<(), ViewerError> {
        self.insert(parent, child, None)
    }
    /// Says that the next nodes created are `root`'s subtree, about to be
    /// built, so a backend may make them ahead in one go.
    fn prepare_build(&mut self, _root: &Node) {}
    /// Carries out any writes the backend put off; the mirror calls it
    /// after every event, so the DOM is whole between events.
    fn flush(&mut self) {}
    /// Takes a node out of its parent (nothing if it has none).
    fn detach(&mut self, node: &Self::Node);
    fn set_text(&mut self, node: &Self::Node, text: &str);
    fn set_form_state(&mut self, element: &Self::Node, state: &FormView);
    fn scroll_document(&mut self, x: f64, y: f64);
    fn scroll_element(&mut self, element: &Self::Node, x: f64, y: f64);
    fn set_viewport(&mut self, viewport: &Viewport);
    /// `url` resolved against `base` as the browser resolves it (`None`:
    /// not a URL).
    fn resolve_url(&self, url: &str, base: &str) -> Option<String>;
    /// Remembers that `node` is the visitor's `id`, so an event in the
    /// mirror (the agent pointing) can name the node back.
    fn tag(&mut self, node: &Self::Node, id: NodeId);
    /// Draws a checked canvas frame's tiles on a mirrored `<canvas>`, after
    /// every frame given before it (see `mirror/canvas.rs`).
    fn draw_canvas(&mut self, _canvas: &Self::Node, _frame: &CanvasFrame) {}
    /// Shows a labelled placeholder on a canvas whose pixels the visitor
    /// cannot read.
    fn canvas_unreadable(&mut self, _canvas: &Self::Node) {}
    /// Makes a mirrored `<video>`/`<audio>` follow the visitor's playback.
    fn set_media(&mut self, _media: &Self::Node, _state: &MediaState) {}
    /// The open shadow root of `host`: attached, or (already there) emptied.
    fn attach_shadow(&mut self, host: &Self::Node) -> Result<Self::Node, ViewerError>;
    /// Like [`DomBackend::reset_document`], for the document shown in the
    /// mirrored frame `frame` (which is in the mirror's document).
    fn reset_frame(
        &mut self,
        frame: &Self::Node,
        quirks: bool,
        doctype: Option<&str>,
    ) -> Result<Reset<Self::Node>, ViewerError>;
    /// Shows, in `frame`, that its content is not shared.
    fn frame_placeholder(&mut self, frame: &Self::Node);
    /// Scrolls the window of the frame that shows `document`.
    fn scroll_frame(&mut self, document: &Self::Node, x: f64, y: f64);
    /// Shows the visitor's text selection between two mirrored nodes
    /// (anchor, focus: either may come first), beside the agent's own
    /// selection and without touching the page's nodes (`None`: clears it).
    fn show_visitor_selection(&mut self, ends: Option<selection::Ends<'_, Self::Node>>);
    /// Puts `element` into the document's top layer as `kind` (a modal
    /// dialog: `showModal()`; a popover: `showPopover()`), above what is
    /// there; nothing if it is there already.
    fn show_top_layer(
        &mut self,
        element: &Self::Node,
        kind: TopLayerKind,
    ) -> Result<(), ViewerError>;
    /// Takes `element` out of the top layer (nothing if it is not there).
    fn hide_top_layer(&mut self, element: &Self::Node, kind: TopLayerKind);
}

/// What kind of event was applied, so the console knows what to redraw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Snapshot,
    Mutations,
    Input,
    Scroll,
    Viewport,
    /// The visitor's pointer or focus moved.
    Presence,
    /// Canvas pixels or media playback.
    Pixels,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Document,
    Element(ElementKind, NsKind, Role),
    /// Text, comment, doctype.
    Leaf,
    /// An open shadow root (`shadow.rs`).
    Shadow,
    /// A frame's document (`frames.rs`).
    FrameDoc,
}

/// The element's namespace, small enough to copy: only HTML vs. not matters
/// for how attributes are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NsKind {
    Html,
    Foreign,
}

impl NsKind {
    fn ns(self) -> Ns {
        match self {
            NsKind::Html => Ns::Html,
            // Only used for `attr_namespace`, which treats every foreign
            // namespace alike.
            NsKind::Foreign => Ns::Svg,
        }
    }
}

struct Entry<N> {
    node: N,
    kind: Kind,
    /// Where children go: a template's content fragment, else `node`.
    container: Option<N>,
    parent: Option<NodeId>,
    children: HashSet<NodeId>,
}

pub struct Mirror<B: DomBackend> {
    backend: B,
    nodes: HashMap<NodeId, Entry<B::Node>>,
    document: Option<NodeId>,
    url: Option<String>,
    /// The visitor document's base URL, for relative URLs in CSS.
    base_url: String,
    viewport: Option<Viewport>,
    resources: ResourceUrls,
    presence: presence::Presence,
    /// The last scroll position the visitor sent per node, so the
    /// console's own scroll listener can tell the agent's scrolling from
    /// the mirror following the visitor.
    scrolls: HashMap<NodeId, (f64, f64)>,
    /// Constructed sheets, waiting adoptions, fonts (`sheets.rs`).
    sheets: sheets::MirrorSheets<B>,
    /// Mirrored `<iframe>`s, whose `src`/`sandbox` the mirror sets itself.
    frames: HashSet<NodeId>,
    /// What the mirror put into the iframe's top layer (`toplayer.rs`).
    top_layer: Vec<(NodeId, TopLayerKind)>,
}

impl<B: DomBackend> Mirror<B> {
    pub fn new(backend: B) -> Self {
        Mirror {
            backend,
            nodes: HashMap::new(),
            document: None,
            url: None,
            base_url: String::new(),
            viewport: None,
            resources: ResourceUrls::default(),
            presence: presence::Presence::default(),
            scrolls: HashMap::new(),
            sheets: Default::default(),
            frames: HashSet::new(),
            top_layer: Vec::new(),
        }
    }

    /// Where the session's resources are served (`{relay}/res/s/{key}/`),
    /// from the moment the agent is admitted: every resource URL built
    /// after this points at the relay.
    pub fn set_resources(&mut self, base: Option<String>) {
        self.resources = ResourceUrls::new(base);
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    /// The visitor page's address, from the last snapshot.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The visitor's window size, from the last snapshot or viewport event.
    pub fn viewport(&self) -> Option<Viewport> {
        self.viewport
    }

    /// The document's id (the target of a whole-page scroll).
    pub fn document_id(&self) -> Option<NodeId> {
        self.document
    }

    /// The scroll position the visitor last sent for `id`.
    pub fn visitor_scroll(&self, id: NodeId) -> Option<(f64, f64)> {
        self.scrolls.get(&id).copied()
    }

    /// The node the mirror holds for `id`, if any.
    pub fn node(&self, id: NodeId) -> Option<&B::Node> {
        self.nodes.get(&id).map(|e| &e.node)
    }

    /// How many of the visitor's nodes the mirror holds.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Applies one event. An error means the mirror no longer matches the
    /// visitor's page and needs a fresh snapshot.
    pub fn apply(&mut self, event: &Event) -> Result<Applied, ViewerError> {
        let applied = self.apply_event(event);
        self.backend.flush();
        applied
    }

    fn apply_event(&mut self, event: &Event) -> Result<Applied, ViewerError> {
        match event {
            Event::Snapshot(snapshot) => self.apply_snapshot(snapshot).map(|()| Applied::Snapshot),
            Event::Mutations(batch) => self.apply_mutations(batch).map(|()| {
                self.retry_adoptions();
                Applied::Mutations
            }),
            Event::Input { id, state } => {
                match self.element(*id) {
                    Some(node) => self.backend.set_form_state(&node, &FormView::from(state)),
                    None => log::debug(&format!("input for unknown node {id:?} ignored")),
                }
                Ok(Applied::Input)
            }
            Event::Scroll(pos) => {
                self.apply_scroll(pos);
                Ok(Applied::Scroll)
            }
            Event::Viewport(viewport) => {
                self.backend.set_viewport(viewport);
                self.viewport = Some(*viewport);
                Ok(Applied::Viewport)
            }
            Event::Pointer { pos, kind } => {
                self.apply_pointer(pos, *kind);
                Ok(Applied::Presence)
            }
            Event::Focus { target } => {
                self.apply_focus(*target);
                Ok(Applied::Presence)
            }
            Event::TopLayer(entries) => {
                self.apply_top_layer(entries);
                Ok(Applied::Mutations)
            }
            Event::Canvas(frame) => {
                self.apply_canvas(frame);
                Ok(Applied::Pixels)
            }
            Event::CanvasUnreadable { id } => {
                self.apply_unreadable(*id);
                Ok(Applied::Pixels)
            }
            Event::Media(state) => {
                self.apply_media(state);
                Ok(Applied::Pixels)
            }
            Event::Sheet(change) => {
                self.apply_sheet(change);
                Ok(Applied::Mutations)
            }
            Event::Font(font) => {
                self.apply_font(font);
                Ok(Applied::Mutations)
            }
            Event::Selection(range) => {
                self.apply_selection(*range);
                Ok(Applied::Presence)
            }
        }
    }

    fn apply_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), ViewerError> {
        if more_nodes_than(&snapshot.root, MAX_SNAPSHOT_NODES) {
            return Err(ViewerError::TooManyNodes {
                cap: MAX_SNAPSHOT_NODES,
            });
        }
        let Node::Document {
            id,
            quirks,
            children,
        } = &snapshot.root
        else {
            return Err(ViewerError::NotADocument);
        };
        self.nodes.clear();
        self.document = None;
        self.reset_sheets();
        self.presence = presence::Presence::default();
        // The old page's nodes are gone, and so is what was selected on it.
        self.backend.show_visitor_selection(None);
        self.scrolls.clear();
        // A new document has an empty top layer.
        self.top_layer.clear();
        // The size first, so that the scroll positions below land.
        self.backend.set_viewport(&snapshot.viewport);
        self.viewport = Some(snapshot.viewport);
        self.url = Some(snapshot.url.clone());
        self.base_url.clone_from(&snapshot.base_url);

        let doctype = children.iter().find_map(|child| match child {
            Node::Doctype {
                id,
                name,
                public_id,
                system_id,
            } => Some((*id, doctype_markup(name, public_id, system_id))),
            _ => None,
        });
        let markup = doctype.as_ref().map(|(_, m)| m.as_str());
        let reset = self.backend.reset_document(*quirks, markup)?;
        self.register(*id, reset.document.clone(), Kind::Document, None, None);
        self.document = Some(*id);
        let mut doctype_node = reset.doctype;

        for child in children {
            // The reset already made the visitor's doctype: map it, don't add another.
            if let (Node::Doctype { id: child_id, .. }, Some(made)) = (child, &doctype_node) {
                self.register(*child_id, made.clone(), Kind::Leaf, None, Some(*id));
                doctype_node = None;
                continue;
            }
            if let Err(e) = self.add_child(*id, child, None) {
                // A snapshot is applied as far as it goes: asking again would
                // bring the same page back.
                log::warn(&format!("part of the snapshot was skipped: {e}"));
            }
        }
        for pos in &snapshot.scrolls {
            self.apply_scroll(pos);
        }
        Ok(())
    }

    fn apply_mutations(&mut self, batch: &MutationBatch) -> Result<(), ViewerError> {
        if self.document.is_none() {
            return Err(ViewerError::NoDocument);
        }
        for id in &batch.removes {
            match self.nodes.get(id) {
                Some(_) => self.unmount(*id),
                None => log::debug(&format!("remove of unknown node {id:?} ignored")),
            }
        }
        for add in &batch.adds {
            // A node that is still here moved without a remove: take it out first.
            let moved = add.node.id();
            if self.nodes.contains_key(&moved) {
                self.unmount(moved);
            }
            let parent = self
                .nodes
                .get(&add.parent)
                .ok_or(ViewerError::UnknownParent(add.parent))?;
            if let Kind::Element(kind, ..) = parent.kind {
                if !kind.keeps_children() {
                    log::debug("child of a script ignored");
                    continue;
                }
            }
            let before = match add.next_sibling {
                Some(sibling) => Some(
                    self.nodes
                        .get(&sibling)
                        .ok_or(ViewerError::UnknownSibling(sibling))?
                        .node
                        .clone(),
                ),
                None => None,
            };
            self.add_child(add.parent, &add.node, before.as_ref())?;
        }
        for change in &batch.attrs {
            self.apply_attr_change(change);
        }
        for change in &batch.texts {
            match self.nodes.get(&change.id) {
                Some(entry) if entry.kind == Kind::Leaf => {
                    let node = entry.node.clone();
                    let styled = entry
                        .parent
                        .and_then(|parent| self.style_text(parent, &change.text));
                    self.backend
                        .set_text(&node, styled.as_deref().unwrap_or(&change.text));
                }
                _ => log::debug(&format!("text of unknown node {:?} ignored", change.id)),
            }
        }
        Ok(())
    }

    fn apply_attr_change(&mut self, change: &AttrChange) {
        let Some(entry) = self.nodes.get(&change.id) else {
            log::debug(&format!(
                "attribute of unknown node {:?} ignored",
                change.id
            ));
            return;
        };
        let Kind::Element(kind, ns, role) = entry.kind else {
            return;
        };
        if self.frames.contains(&change.id) && frames::is_withheld(&change.name) {
            return;
        }
        let node = entry.node.clone();
        self.set_attr(
            &node,
            (kind, ns, role),
            &change.name,
            change.value.as_deref(),
        );
    }

    fn apply_scroll(&mut self, pos: &ScrollPos) {
        self.scrolls.insert(pos.target, (pos.x, pos.y));
        if Some(pos.target) == self.document {
            self.backend.scroll_document(pos.x, pos.y);
        } else if let Some(node) = self.element(pos.target) {
            self.backend.scroll_element(&node, pos.x, pos.y);
        } else if !self.scroll_frame(pos.target, pos.x, pos.y) {
            log::debug(&format!("scroll of unknown node {:?} ignored", pos.target));
        }
    }

    fn element(&self, id: NodeId) -> Option<B::Node> {
        self.nodes
            .get(&id)
            .filter(|e| matches!(e.kind, Kind::Element(..)))
            .map(|e| e.node.clone())
    }

    /// Builds `node`'s subtree and inserts it under `parent` before `before`.
    fn add_child(
        &mut self,
        parent: NodeId,
        node: &Node,
        before: Option<&B::Node>,
    ) -> Result<(), ViewerError> {
        if let Some(added) = self.add_root(parent, node) {
            return added;
        }
        let container = {
            let entry = self
                .nodes
                .get(&parent)
                .ok_or(ViewerError::UnknownParent(parent))?;
            entry
                .container
                .clone()
                .unwrap_or_else(|| entry.node.clone())
        };
        self.backend.prepare_build(node);
        let child = self.build(node, parent)?;
        if let Err(e) = self.backend.insert(&container, &child, before) {
            self.forget(node.id());
            return Err(e);
        }
        // Frames have documents only once they are in the document.
        self.fill_frames(node);
        Ok(())
    }

    /// Creates `node`'s subtree, detached, and records every id in it as a
    /// child of `parent`.
    fn build(&mut self, node: &Node, parent: NodeId) -> Result<B::Node, ViewerError> {
        match node {
            Node::Document { .. } => Err(ViewerError::Dom("a document inside a document".into())),
            Node::ShadowRoot { .. } => {
                Err(ViewerError::Dom("shadow roots are not mirrored".into()))
            }
            Node::Doctype {
                id,
                name,
                public_id,
                system_id,
            } => {
                let made = self.backend.create_doctype(name, public_id, system_id)?;
                self.register(*id, made.clone(), Kind::Leaf, None, Some(parent));
                Ok(made)
            }
            Node::Text { id, text } => {
                let styled = self.style_text(parent, text);
                let made = self
                    .backend
                    .create_text(styled.as_deref().unwrap_or(text))?;
                self.register(*id, made.clone(), Kind::Leaf, None, Some(parent));
                Ok(made)
            }
            Node::Comment { id, text } => {
                let made = self.backend.create_comment(text)?;
                self.register(*id, made.clone(), Kind::Leaf, None, Some(parent));
                Ok(made)
            }
            Node::Element {
                id,
                tag,
                ns,
                attrs,
                state,
                children,
            } => {
                let (element, kind) = match self.backend.create_element(tag, ns) {
                    Ok(element) => (element, ElementKind::of(tag, ns)),
                    Err(e) => {
                        log::warn(&format!("element <{tag}> replaced by a placeholder: {e}"));
                        let element = self.backend.create_element(PLACEHOLDER_TAG, &Ns::Html)?;
                        (element, ElementKind::Other)
                    }
                };
                let ns_kind = if *ns == Ns::Html {
                    NsKind::Html
                } else {
                    NsKind::Foreign
                };
                let role = Role::of(tag, ns);
                let what = (kind, ns_kind, role);
                let frame = frames::is_frame(tag, ns);
                for attr in attrs {
                    if frame && frames::is_withheld(&attr.name) {
                        continue;
                    }
                    self.set_attr(&element, what, &attr.name, Some(&attr.value));
                }
                if frame {
                    self.frames.insert(*id);
                    if let Err(e) =
                        self.backend
                            .set_attribute(&element, None, "sandbox", frames::FRAME_SANDBOX)
                    {
                        log::warn(&format!("a frame was left unsandboxed: {e}"));
                    }
                }
                if kind == ElementKind::Script {
                    self.set_attr(&element, what, "type", Some(INERT_SCRIPT_TYPE));
                }
                let container = if kind == ElementKind::Template {
                    Some(self.backend.template_content(&element)?)
                } else {
                    None
                };
                self.register(
                    *id,
                    element.clone(),
                    Kind::Element(kind, ns_kind, role),
                    container.clone(),
                    Some(parent),
                );
                if kind.keeps_children() {
                    let target = container.unwrap_or_else(|| element.clone());
                    for child in children {
                        match child {
                            Node::ShadowRoot { .. } => {
                                if let Err(e) = self.build_shadow(*id, &element, child) {
                                    log::warn(&format!(
                                        "a shadow root of <{tag}> was skipped: {e}"
                                    ));
                                }
                                continue;
                            }
                            // Built once the frame is in the document (`frames.rs`).
                            Node::Document { .. } => continue,
                            _ => {}
                        }
                        // A child that cannot be built is skipped, not the
                        // whole subtree: the rest of the page still shows.
                        let inserted = match self.build(child, *id) {
                            Ok(made) if matches!(child, Node::Doctype { .. }) => {
                                self.backend.insert(&target, &made, None)
                            }
                            Ok(made) => self.backend.append_built(&target, &made),
                            Err(e) => Err(e),
                        };
                        if let Err(e) = inserted {
                            self.forget(child.id());
                            log::warn(&format!("a child of <{tag}> was skipped: {e}"));
                        }
                    }
                }
                if let Some(state) = state {
                    // After the children: a select's value needs its options.
                    self.backend
                        .set_form_state(&element, &FormView::from(state));
                }
                Ok(element)
            }
        }
    }

    fn set_attr(
        &mut self,
        element: &B::Node,
        (kind, ns, role): (ElementKind, NsKind, Role),
        name: &str,
        value: Option<&str>,
    ) {
        let attr_ns = attr_namespace(&ns.ns(), name);
        let result = match value {
            // A script stays inert whatever happens to its type.
            None if kind == ElementKind::Script && name.eq_ignore_ascii_case("type") => Ok(()),
            None => self.backend.remove_attribute(element, attr_ns, name),
            Some(value) => match attr_decision(kind, name, value) {
                AttrDecision::Keep => {
                    let relayed = self.relayed(role, name, value);
                    let value = relayed.as_deref().unwrap_or(value);
                    self.backend.set_attribute(element, attr_ns, name, value)
                }
                AttrDecision::Replace(safe) => {
                    self.backend.set_attribute(element, attr_ns, name, safe)
                }
                AttrDecision::Drop => Ok(()),
            },
        };
        if let Err(e) = result {
            log::warn(&format!("attribute {name:?} skipped: {e}"));
        }
    }

    /// A resource attribute's value pointing at the relay's copies, or
    /// `None` to keep it as it is.
    fn relayed(&self, role: Role, name: &str, value: &str) -> Option<String> {
        let (backend, base) = (&self.backend, self.base_url.as_str());
        let mut resolve = |url: &str| backend.resolve_url(url, base);
        if name.eq_ignore_ascii_case("style") {
            return self.resources.declarations(value, &mut resolve);
        }
        let form = role.attr(name)?;
        self.resources.attr_value(form, value, &mut resolve)
    }

    /// The text of a `<style>` element's child as the console shows it, or
    /// `None` when `parent` is not a `<style>` or nothing changes.
    fn style_text(&self, parent: NodeId, text: &str) -> Option<String> {
        let entry = self.nodes.get(&parent)?;
        if !matches!(entry.kind, Kind::Element(_, _, Role::Style)) {
            return None;
        }
        let (backend, base) = (&self.backend, self.base_url.as_str());
        self.resources
            .stylesheet(text, &mut |url| backend.resolve_url(url, base))
    }

    fn register(
        &mut self,
        id: NodeId,
        node: B::Node,
        kind: Kind,
        container: Option<B::Node>,
        parent: Option<NodeId>,
    ) {
        // A duplicate id in bad input: the newer node wins, the older is forgotten.
        if self.nodes.contains_key(&id) {
            self.forget(id);
        }
        if let Some(parent_entry) = parent.and_then(|p| self.nodes.get_mut(&p)) {
            parent_entry.children.insert(id);
        }
        if matches!(kind, Kind::Element(..) | Kind::Document) {
            self.backend.tag(&node, id);
        }
        self.nodes.insert(
            id,
            Entry {
                node,
                kind,
                container,
                parent,
                children: HashSet::new(),
            },
        );
    }

    /// Forgets a node and everything under it (the DOM nodes go with their
    /// detached root).
    fn forget(&mut self, id: NodeId) {
        let Some(entry) = self.nodes.remove(&id) else {
            return;
        };
        if let Some(parent) = entry.parent.and_then(|p| self.nodes.get_mut(&p)) {
            parent.children.remove(&id);
        }
        let mut stack: Vec<NodeId> = entry.children.into_iter().collect();
        while let Some(child) = stack.pop() {
            if let Some(e) = self.nodes.remove(&child) {
                stack.extend(e.children);
            }
        }
    }
}
