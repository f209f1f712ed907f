//! Two people on one page: where each one points, what the agent asks the
//! visitor's page to do, and the mode that decides whether it may.
//!
//! Positions are element-relative ([`PointerPos`]): the visitor's and the
//! agent's windows differ in size, so a pointer is placed over the same
//! element at the same relative spot, not at the same raw pixel.

use serde::{Deserialize, Serialize};

use crate::{Mode, NodeId};

/// Where a pointer is: the element under it and the spot within that
/// element's border box, plus the sender's viewport coordinates for when the
/// element is unknown on the other side.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PointerPos {
    /// The element under the pointer (a mirrored node's id).
    pub target: Option<NodeId>,
    /// The spot within the target's box, as fractions of its width and
    /// height (0 = left/top edge, 1 = right/bottom edge).
    pub fx: f32,
    pub fy: f32,
    /// CSS px in the sender's viewport.
    pub x: f32,
    pub y: f32,
}

/// What a pointer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PointerKind {
    Move,
    /// A click (shown as a yellow circle on both screens).
    Click,
    /// The pointer left the page.
    Leave,
}

/// Pointing, which either mode allows: it never changes the visitor's page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Point {
    Pointer {
        pos: PointerPos,
        kind: PointerKind,
    },
    /// Outline an element on the visitor's page for a moment.
    Highlight {
        target: NodeId,
    },
    /// Make an element wiggle on the visitor's screen (Ctrl+click).
    Wiggle {
        target: NodeId,
    },
    /// Scroll the visitor's page (`target` = the document's id) or one of
    /// its elements, in CSS px (co-scrolling).
    Scroll {
        target: NodeId,
        x: f64,
        y: f64,
    },
    /// The agent's text selection, shown on the visitor's page
    /// (`None`: cleared).
    Selection(Option<crate::TextRange>),
}

/// What an agent in shared mode asks the visitor's page to do. The visitor's
/// script refuses all of it in view-only mode, and refuses typing into
/// masked or password fields in any mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Control {
    /// A click at a spot of an element, with the events a browser fires.
    Click { target: NodeId, fx: f32, fy: f32 },
    /// A field's whole new value (`<input>`, `<textarea>`, single
    /// `<select>`), set the way frameworks see it, with `input` and `change`.
    SetValue { target: NodeId, value: String },
    /// A checkbox or radio button ticked or not.
    SetChecked { target: NodeId, checked: bool },
    /// A multiple `<select>`'s chosen options, by index.
    SelectOptions { target: NodeId, selected: Vec<u32> },
    /// Submit a form (as its submit button would).
    Submit { form: NodeId },
    /// Go to an address of the same site, or back and forward.
    Navigate(Navigation),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Navigation {
    /// An absolute URL; the visitor's script refuses other origins.
    To(String),
    Back,
    Forward,
}

/// An agent's message for the visitor's page, as the relay passes it on
/// (with who sent it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromAgent {
    Point(Point),
    Control(Control),
    /// The agent asks for `mode`; shared mode needs the visitor's consent
    /// ([`crate::VisitorMsg::SetMode`]), view-only is immediate.
    ModeRequest(Mode),
}
