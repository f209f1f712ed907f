//! What the visitor's page looks like on the wire: the node tree of a full
//! snapshot, mutation batches, and the small state events (input values,
//! scroll, viewport) that the DOM itself does not carry.

use serde::{Deserialize, Serialize};

use crate::{NodeId, Seq};

/// An element's namespace. HTML is by far the most common, so it costs one
/// byte on the wire (or none: see `node_wire.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ns {
    Html,
    Svg,
    MathMl,
    Other(String),
}

impl Ns {
    pub const SVG_URI: &'static str = "http://www.w3.org/2000/svg";
    pub const MATHML_URI: &'static str = "http://www.w3.org/1998/Math/MathML";
    pub const HTML_URI: &'static str = "http://www.w3.org/1999/xhtml";

    /// Maps a DOM `namespaceURI` (None for namespace-less nodes) to [`Ns`].
    pub fn from_uri(uri: Option<&str>) -> Ns {
        match uri {
            None | Some(Ns::HTML_URI) => Ns::Html,
            Some(Ns::SVG_URI) => Ns::Svg,
            Some(Ns::MATHML_URI) => Ns::MathMl,
            Some(other) => Ns::Other(other.to_owned()),
        }
    }

    pub fn uri(&self) -> &str {
        match self {
            Ns::Html => Ns::HTML_URI,
            Ns::Svg => Ns::SVG_URI,
            Ns::MathMl => Ns::MATHML_URI,
            Ns::Other(uri) => uri,
        }
    }
}

/// One attribute as the visitor's DOM has it, after the visitor has made URL
/// attributes absolute and masked what must not leave the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attr {
    pub name: String,
    pub value: String,
}

impl Attr {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Attr {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// The live state of a form control, which its attributes do not show
/// (`value` the user typed, `checked`, an option's `selected`).
/// A password field's value is always `None` and [`FormState::masked_len`]
/// carries only its length.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormState {
    pub value: Option<String>,
    pub checked: Option<bool>,
    pub selected: Option<bool>,
    /// Length of a masked value: the console shows that many placeholder
    /// characters, the value itself never leaves the page.
    pub masked_len: Option<u32>,
}

/// A node of the visitor's document. Children are in document order.
///
/// `<template>` elements carry their content's nodes as their children.
/// `<script>` elements carry no children: their source never leaves the page.
/// A same-origin `<iframe>` carries its content document as its only child
/// (a [`Node::Document`], with ids from the same session-wide space); a
/// cross-origin one has no children and the console shows a labelled
/// placeholder of its size.
///
/// Its wire shape is written by hand for size (`node_wire.rs`).
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Document {
        id: NodeId,
        /// The document renders in quirks mode (no or an old doctype).
        quirks: bool,
        children: Vec<Node>,
    },
    Doctype {
        id: NodeId,
        name: String,
        public_id: String,
        system_id: String,
    },
    Element {
        id: NodeId,
        /// Lower-case for HTML elements, as written for other namespaces.
        tag: String,
        ns: Ns,
        attrs: Vec<Attr>,
        state: Option<FormState>,
        children: Vec<Node>,
    },
    Text {
        id: NodeId,
        text: String,
    },
    Comment {
        id: NodeId,
        text: String,
    },
    /// An open shadow root. It is always the first child of its host
    /// element; the console attaches it as the host's shadow root, and the
    /// host's other children stay its light DOM. Mutations inside it name
    /// the shadow root's id as their parent.
    ShadowRoot {
        id: NodeId,
        children: Vec<Node>,
    },
}

impl Node {
    pub fn id(&self) -> NodeId {
        match self {
            Node::Document { id, .. }
            | Node::Doctype { id, .. }
            | Node::Element { id, .. }
            | Node::Text { id, .. }
            | Node::Comment { id, .. }
            | Node::ShadowRoot { id, .. } => *id,
        }
    }

    pub fn children(&self) -> &[Node] {
        match self {
            Node::Document { children, .. }
            | Node::Element { children, .. }
            | Node::ShadowRoot { children, .. } => children,
            _ => &[],
        }
    }

    /// Number of nodes in this subtree, itself included.
    pub fn count(&self) -> usize {
        1 + self.children().iter().map(Node::count).sum::<usize>()
    }
}

/// A subtree that joined the document, with where it goes: under `parent`,
/// before `next_sibling` (`None`: as the last child).
///
/// Within a batch, adds are ordered so that `parent` and `next_sibling` are
/// already known to the console when each add is applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddedNode {
    pub parent: NodeId,
    pub next_sibling: Option<NodeId>,
    pub node: Node,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttrChange {
    pub id: NodeId,
    pub name: String,
    /// `None`: the attribute was removed.
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextChange {
    pub id: NodeId,
    pub text: String,
}

/// Every DOM change observed during one animation frame, coalesced.
///
/// The console applies it in field order: `removes`, then `adds` (in list
/// order), then `attrs`, then `texts`. A moved node appears as a remove and
/// an add of the same id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MutationBatch {
    pub removes: Vec<NodeId>,
    pub adds: Vec<AddedNode>,
    pub attrs: Vec<AttrChange>,
    pub texts: Vec<TextChange>,
}

impl MutationBatch {
    pub fn is_empty(&self) -> bool {
        self.removes.is_empty()
            && self.adds.is_empty()
            && self.attrs.is_empty()
            && self.texts.is_empty()
    }
}

/// The visitor's window, in CSS pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Viewport {
    pub width: u32,
    pub height: u32,
    pub device_pixel_ratio: f32,
}

/// A scroll position. `target` is the document's id for the window itself.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScrollPos {
    pub target: NodeId,
    pub x: f64,
    pub y: f64,
}

/// The whole page at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The page's address (`location.href`), for the console's address line.
    pub url: String,
    /// The document's base URL, which every URL attribute was resolved
    /// against.
    pub base_url: String,
    pub viewport: Viewport,
    /// The root is always a [`Node::Document`].
    pub root: Node,
    /// The window's and every scrolled element's position.
    pub scrolls: Vec<ScrollPos>,
}

/// Something the agent must see, in the order it happened on the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    /// Replaces everything the console shows.
    Snapshot(Snapshot),
    Mutations(MutationBatch),
    /// A form control's live state changed (typing, ticking, choosing).
    Input {
        id: NodeId,
        state: FormState,
    },
    Scroll(ScrollPos),
    Viewport(Viewport),
    /// The visitor's pointer (the console draws it and shows `:hover`
    /// rules for the element under it).
    Pointer {
        pos: crate::PointerPos,
        kind: crate::PointerKind,
    },
    /// The element that has the visitor's focus, if any (for `:focus`).
    Focus {
        target: Option<NodeId>,
    },
    /// A change to a stylesheet made through the CSS Object Model, which
    /// the DOM does not show (see [`SheetChange`]). After a snapshot the
    /// visitor sends the CSSOM state that differs from the markup.
    Sheet(SheetChange),
    /// A font the page added through the `FontFace` API.
    Font(FontFaceDesc),
    /// New pixels of a canvas (see [`CanvasFrame`]). After a snapshot the
    /// visitor sends every visible canvas in full.
    Canvas(CanvasFrame),
    /// A canvas whose pixels cannot be read (tainted by a cross-origin
    /// image): the console shows a labelled placeholder of its size.
    CanvasUnreadable {
        id: NodeId,
    },
    /// A `<video>`'s or `<audio>`'s playback state.
    Media(MediaState),
    /// The visitor's text selection (`None`: nothing selected).
    Selection(Option<TextRange>),
    /// The elements in the visitor's top layer, bottom to top (modal
    /// dialogs, open popovers, a fullscreen element): the DOM shows none of
    /// it (`showModal()` and `showPopover()` set no attribute). Sent after a
    /// snapshot when not empty and whenever it changes.
    TopLayer(Vec<TopLayerEntry>),
}

/// One element of [`Event::TopLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopLayerEntry {
    pub node: NodeId,
    pub kind: TopLayerKind,
}

/// How an element got into the top layer (which decides how the console
/// puts its mirror there: a modal dialog also makes the rest inert).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TopLayerKind {
    ModalDialog,
    Popover,
    Fullscreen,
}

/// Which stylesheet a [`SheetChange`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SheetRef {
    /// The sheet of a `<style>` or `<link rel=stylesheet>` element.
    Owner(NodeId),
    /// A constructed stylesheet (`new CSSStyleSheet()`), numbered by the
    /// visitor in the order it first saw them.
    Constructed(u32),
}

/// A stylesheet change the markup does not carry. Rule texts are CSS as
/// `CSSRule.cssText` gives it, with URLs made absolute; the console rewrites
/// them as it rewrites every stylesheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SheetChange {
    /// The sheet's whole rule list (a constructed sheet's first sight,
    /// `replace`/`replaceSync`, or a sheet whose rules the visitor resends
    /// rather than describe change by change).
    Rules { sheet: SheetRef, rules: Vec<String> },
    /// `insertRule`: `path` is the rule's index, through grouping rules
    /// (`@media`, `@supports`) from the sheet down.
    Insert {
        sheet: SheetRef,
        path: Vec<u32>,
        rule: String,
    },
    /// `deleteRule` at `path`.
    Delete { sheet: SheetRef, path: Vec<u32> },
    /// The `adoptedStyleSheets` of a document or a shadow root (`root` is
    /// the [`Node::Document`]'s or [`Node::ShadowRoot`]'s id), in order.
    Adopted { root: NodeId, sheets: Vec<u32> },
}

/// A font added with `new FontFace(family, source, descriptors)` and
/// `document.fonts.add`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FontFaceDesc {
    pub family: String,
    /// A CSS `src` value with absolute URLs (a font made from bytes comes
    /// as a `data:` URL).
    pub source: String,
    /// `style`, `weight`, `stretch`, `unicode-range`, `display`... as CSS
    /// descriptor names and values.
    pub descriptors: Vec<Attr>,
}

/// Changed pixels of a canvas. A frame with one tile covering the whole
/// canvas replaces it; otherwise each tile is drawn over the last image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanvasFrame {
    pub id: NodeId,
    /// The canvas's bitmap size in pixels (its `width`/`height`), not its
    /// CSS size.
    pub width: u32,
    pub height: u32,
    pub tiles: Vec<CanvasTile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanvasTile {
    /// The tile's place and size in bitmap pixels.
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub format: ImageFormat,
    /// The encoded image.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Webp,
}

impl ImageFormat {
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Webp => "image/webp",
        }
    }
}

/// What a media element is doing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MediaState {
    pub id: NodeId,
    pub paused: bool,
    /// `currentTime`, in seconds.
    pub time: f64,
    pub rate: f64,
    pub volume: f32,
    pub muted: bool,
    pub looped: bool,
}

/// A selected range of text, between two mirrored nodes (offsets as the DOM
/// counts them: characters in a text node, children in an element).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextRange {
    pub anchor: NodeId,
    pub anchor_offset: u32,
    pub focus: NodeId,
    pub focus_offset: u32,
}

/// An [`Event`] with its place in the session's order. The payload is the
/// encoded event, kept opaque so the relay forwards it without decoding the
/// page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFrame {
    pub seq: Seq,
    /// The payload is a [`Event::Snapshot`]: a console that lost its place
    /// can start again from here.
    pub snapshot: bool,
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

impl EventFrame {
    pub fn new(seq: Seq, event: &Event) -> Result<Self, crate::ProtocolError> {
        Ok(EventFrame {
            seq,
            snapshot: matches!(event, Event::Snapshot(_)),
            payload: crate::encode(event)?,
        })
    }

    pub fn event(&self) -> Result<Event, crate::ProtocolError> {
        crate::decode(&self.payload)
    }
}
