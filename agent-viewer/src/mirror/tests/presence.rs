//! The visitor's pointer and focus in the mirror: state attributes on the
//! right elements (and off the ones left), the pointer and its clicks for
//! the console to draw.

use protocol::{Event, NodeId, PointerKind, PointerPos};

use super::*;
use crate::mirror::presence::{FOCUS, FOCUS_WITHIN, HOVER};

fn pointer(target: Option<u32>, kind: PointerKind) -> Event {
    Event::Pointer {
        pos: PointerPos {
            target: target.map(NodeId),
            fx: 0.5,
            fy: 0.5,
            x: 10.0,
            y: 20.0,
        },
        kind,
    }
}

fn marked(mirror: &crate::mirror::Mirror<crate::mirror::fake::FakeDom>, attr: &str) -> Vec<u32> {
    let mut ids: Vec<u32> = [3, 4, 5, 6]
        .into_iter()
        .filter(|id| mirror.backend().attr(node(mirror, *id), attr).is_some())
        .collect();
    ids.sort_unstable();
    ids
}

#[test]
fn hover_follows_the_pointer_over_the_element_and_its_ancestors() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&pointer(Some(6), PointerKind::Move))
        .expect("pointer");
    assert_eq!(marked(&mirror, HOVER), [3, 5, 6], "p, body, html");
    mirror
        .apply(&pointer(Some(4), PointerKind::Move))
        .expect("pointer");
    assert_eq!(
        marked(&mirror, HOVER),
        [3, 4],
        "head and html; p and body left"
    );
    // A text node's parent element is what the pointer is over.
    mirror
        .apply(&pointer(Some(7), PointerKind::Move))
        .expect("pointer");
    assert_eq!(marked(&mirror, HOVER), [3, 5, 6]);
    mirror
        .apply(&pointer(None, PointerKind::Leave))
        .expect("pointer");
    assert!(marked(&mirror, HOVER).is_empty());
    assert_eq!(mirror.visitor_pointer(), None);
}

#[test]
fn focus_marks_the_element_and_focus_within_its_ancestors() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&Event::Focus {
            target: Some(NodeId(6)),
        })
        .expect("focus");
    assert_eq!(marked(&mirror, FOCUS), [6]);
    assert_eq!(marked(&mirror, FOCUS_WITHIN), [3, 5, 6]);
    mirror.apply(&Event::Focus { target: None }).expect("focus");
    assert!(marked(&mirror, FOCUS).is_empty());
    assert!(marked(&mirror, FOCUS_WITHIN).is_empty());
}

#[test]
fn clicks_are_kept_for_the_console_and_a_snapshot_starts_afresh() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&pointer(Some(6), PointerKind::Click))
        .expect("click");
    mirror
        .apply(&pointer(Some(6), PointerKind::Move))
        .expect("move");
    assert_eq!(
        mirror.visitor_pointer().and_then(|p| p.target),
        Some(NodeId(6))
    );
    let clicks = mirror.take_visitor_clicks();
    assert_eq!(clicks.len(), 1);
    assert!(mirror.take_visitor_clicks().is_empty(), "drained");
    // Unknown targets mark nothing and never fail.
    mirror
        .apply(&pointer(Some(999), PointerKind::Move))
        .expect("unknown target");
    assert!(marked(&mirror, HOVER).is_empty());
    mirror
        .apply(&pointer(Some(6), PointerKind::Move))
        .expect("pointer");
    mirror.apply(&page()).expect("snapshot");
    assert!(
        marked(&mirror, HOVER).is_empty(),
        "a new document has no hover"
    );
    assert_eq!(mirror.visitor_pointer(), None);
}

fn mirror_of(body: Vec<protocol::Node>) -> crate::mirror::Mirror<crate::mirror::fake::FakeDom> {
    let mut mirror = crate::mirror::Mirror::new(crate::mirror::fake::FakeDom::default());
    mirror.apply(&page_with(body)).expect("snapshot");
    mirror
}

fn selection(anchor: u32, anchor_offset: u32, focus: u32, focus_offset: u32) -> Event {
    Event::Selection(Some(protocol::TextRange {
        anchor: NodeId(anchor),
        anchor_offset,
        focus: NodeId(focus),
        focus_offset,
    }))
}

#[test]
fn the_visitors_selection_is_shown_on_the_mirrored_nodes_and_cleared() {
    let mut mirror = mirror_of(vec![
        el(6, "p", &[], vec![text(7, "hello")]),
        el(8, "p", &[], vec![text(9, "world")]),
    ]);
    // Backwards (focus before anchor), as a drag to the left sends it: the
    // ends are passed as they are, the backend orders them.
    mirror.apply(&selection(9, 3, 7, 1)).expect("selection");
    let (t7, t9) = (node(&mirror, 7), node(&mirror, 9));
    assert_eq!(mirror.backend().selection, Some(((t9, 3), (t7, 1))));
    assert!(mirror.visitor_selection().is_some());
    mirror
        .apply(&Event::Selection(None))
        .expect("cleared selection");
    assert_eq!(mirror.backend().selection, None);
    assert_eq!(mirror.visitor_selection(), None);
}

#[test]
fn a_selection_naming_an_unknown_node_shows_nothing_and_a_snapshot_clears_it() {
    let mut mirror = mirror_with_page();
    mirror.apply(&selection(7, 0, 7, 5)).expect("selection");
    assert!(mirror.backend().selection.is_some());
    mirror
        .apply(&selection(7, 0, 999, 2))
        .expect("an unknown node is not an error");
    assert_eq!(
        mirror.backend().selection,
        None,
        "not a stale or half range"
    );
    mirror.apply(&selection(7, 0, 7, 5)).expect("selection");
    mirror.apply(&page()).expect("snapshot");
    assert_eq!(mirror.backend().selection, None, "the old page's selection");
    assert_eq!(mirror.visitor_selection(), None);
}

#[test]
fn a_text_node_is_named_back_through_its_parent() {
    let mirror = mirror_of(vec![
        el(6, "p", &[], vec![text(7, "hello"), text(10, "there")]),
        el(8, "p", &[], vec![text(9, "world")]),
    ]);
    let wanted = node(&mirror, 10);
    assert_eq!(
        mirror.child_id(NodeId(6), |n| *n == wanted),
        Some(NodeId(10))
    );
    assert_eq!(
        mirror.child_id(NodeId(8), |n| *n == wanted),
        None,
        "only among that parent's children"
    );
    assert_eq!(mirror.child_id(NodeId(999), |_| true), None);
}
