//! The visitor's top layer in the mirror: shown bottom to top, hidden when
//! it leaves, re-shown when the order changes, forgotten with the document.

use protocol::{Event, NodeId, TopLayerEntry, TopLayerKind};
use TopLayerKind::{Fullscreen, ModalDialog, Popover};

use super::{el, mirror_with_page, node, page, page_with, text};
use crate::mirror::fake::FakeDom;
use crate::mirror::{Applied, Mirror};

fn top(entries: &[(u32, TopLayerKind)]) -> Event {
    Event::TopLayer(
        entries
            .iter()
            .map(|(id, kind)| TopLayerEntry {
                node: NodeId(*id),
                kind: *kind,
            })
            .collect(),
    )
}

/// A page with a dialog (6) and a popover (8).
fn page_with_dialog_and_popover() -> Mirror<FakeDom> {
    let mut mirror = Mirror::new(FakeDom::default());
    mirror
        .apply(&page_with(vec![
            el(6, "dialog", &[("open", "")], vec![text(7, "Sure?")]),
            el(8, "div", &[("popover", "")], vec![text(9, "Tip")]),
        ]))
        .expect("snapshot");
    mirror
}

#[test]
fn a_modal_dialog_and_a_popover_enter_the_iframes_top_layer_bottom_to_top() {
    let mut mirror = page_with_dialog_and_popover();
    let applied = mirror
        .apply(&top(&[(6, ModalDialog), (8, Popover)]))
        .expect("applies");
    assert_eq!(applied, Applied::Mutations);
    let (dialog, popover) = (node(&mirror, 6), node(&mirror, 8));
    assert_eq!(
        mirror.backend().top_layer,
        vec![(dialog, ModalDialog), (popover, Popover)]
    );
    // The same list again changes nothing.
    mirror
        .apply(&top(&[(6, ModalDialog), (8, Popover)]))
        .expect("applies");
    assert_eq!(mirror.backend().top_layer_calls.len(), 2);
}

#[test]
fn closing_takes_the_element_out_and_a_new_order_shows_them_again() {
    let mut mirror = page_with_dialog_and_popover();
    let (dialog, popover) = (node(&mirror, 6), node(&mirror, 8));
    mirror
        .apply(&top(&[(6, ModalDialog), (8, Popover)]))
        .expect("applies");
    mirror.apply(&top(&[(6, ModalDialog)])).expect("applies");
    assert_eq!(mirror.backend().top_layer, vec![(dialog, ModalDialog)]);
    // The popover opened first this time: the dialog must go above it.
    mirror
        .apply(&top(&[(8, Popover), (6, ModalDialog)]))
        .expect("applies");
    assert_eq!(
        mirror.backend().top_layer,
        vec![(popover, Popover), (dialog, ModalDialog)]
    );
    mirror.apply(&top(&[])).expect("applies");
    assert!(mirror.backend().top_layer.is_empty());
}

#[test]
fn unknown_nodes_and_fullscreen_are_skipped_and_a_snapshot_starts_empty() {
    let mut mirror = page_with_dialog_and_popover();
    mirror
        .apply(&top(&[
            (99, ModalDialog),
            (8, Fullscreen),
            (6, ModalDialog),
        ]))
        .expect("an unknown node is no reason to resync");
    assert_eq!(mirror.top_layer(), &[(NodeId(6), ModalDialog)]);
    mirror.apply(&page()).expect("snapshot");
    assert!(mirror.top_layer().is_empty());
    assert!(mirror.backend().top_layer.is_empty());
}

#[test]
fn an_element_that_cannot_enter_the_top_layer_is_logged_not_fatal() {
    let mut mirror = mirror_with_page();
    // A <p> is no dialog: the browser would refuse showModal().
    mirror
        .apply(&top(&[(6, ModalDialog)]))
        .expect("a refusal is no reason to resync");
    assert!(mirror.backend().top_layer.is_empty());
}
