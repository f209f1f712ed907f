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
