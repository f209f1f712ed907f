//! The top layer: modal dialogs (`showModal()`), open popovers and the
//! fullscreen element, which the browser draws above the page with a
//! `::backdrop` and which no attribute fully describes (a popover's
//! `showPopover()` changes none; a modal and a non-modal dialog both have
//! `open`). The console re-creates it by calling the same methods on its
//! copies, so it needs the list, bottom to top, as `Event::TopLayer`.
//!
//! Owns: reading which elements are in the top layer (`:modal`,
//! `:popover-open`, `document.fullscreenElement`), their order, and
//! deciding when the list is worth sending. Does not own: when to look
//! (the session's flush and its `beforetoggle`/`toggle`/`close`/
//! `fullscreenchange` listeners) nor the ids (`ids.rs`).
//!
//! The browser does not expose the top layer's order, but an element that
//! enters it goes on top, and `beforetoggle` fires as it does (for
//! popovers, and for dialogs in current browsers): [`Opened`] keeps that
//! sequence. Elements that entered before capture began (or in a browser
//! without those events) keep the order they were first seen in, in
//! document order among those seen together, below the sequenced ones.

use protocol::{NodeId, TopLayerEntry, TopLayerKind};

/// The list last sent.
#[derive(Debug, Default)]
pub struct TopLayer {
    sent: Vec<TopLayerEntry>,
}

/// An element in the top layer now, with its place in the sequence of
/// elements seen entering it (`None`: not seen, it was there before).
pub type Ranked = (TopLayerEntry, Option<usize>);

impl TopLayer {
    /// After a snapshot: the console's document is new, so a non-empty list
    /// goes again (an empty one is what a new document has).
    pub fn after_snapshot(&mut self, now: Vec<Ranked>) -> Option<Vec<TopLayerEntry>> {
        self.sent = order(&self.sent, now);
        (!self.sent.is_empty()).then(|| self.sent.clone())
    }

    /// The list to send if it differs from the one last sent.
    pub fn changed(&mut self, now: Vec<Ranked>) -> Option<Vec<TopLayerEntry>> {
        let now = order(&self.sent, now);
        if now == self.sent {
            return None;
        }
        self.sent = now;
        Some(self.sent.clone())
    }
}

/// `now` (in document order) bottom to top: entries never seen entering
/// (`None`) first, those already in `before` in its order, then the
/// sequenced ones by their place in the sequence.
fn order(before: &[TopLayerEntry], now: Vec<Ranked>) -> Vec<TopLayerEntry> {
    let (mut ranked, unranked): (Vec<Ranked>, Vec<Ranked>) =
        now.into_iter().partition(|(_, rank)| rank.is_some());
    let unranked: Vec<TopLayerEntry> = unranked.into_iter().map(|(e, _)| e).collect();
    let mut out: Vec<TopLayerEntry> = before
        .iter()
        .filter(|e| unranked.contains(e))
        .copied()
        .collect();
    for entry in unranked {
        if !out.contains(&entry) {
            out.push(entry);
        }
    }
    sort_small(&mut ranked, |(_, a), (_, b)| a < b);
    out.extend(ranked.into_iter().map(|(e, _)| e));
    out
}

/// Sorts `v` by `less`, keeping equal items in order (an insertion sort:
/// top-layer lists hold a handful of elements, and std's stable sort cost
/// ~4.5 KB of the shipped wasm for each of the two element types here).
fn sort_small<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && less(&v[j], &v[j - 1]) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// The elements seen entering the top layer, oldest first (bounded: only
/// the ones still there are kept at each look).
#[derive(Debug, Default)]
pub struct Opened {
    seen: Vec<web_sys::Element>,
}

impl Opened {
    /// `el` is entering the top layer now: above everything seen before.
    pub fn entering(&mut self, el: web_sys::Element) {
        self.seen.retain(|e| e != &el);
        self.seen.push(el);
        if self.seen.len() > 256 {
            self.seen.remove(0);
        }
    }
}

/// The elements of `document` in the top layer now, in document order,
/// with the ids the console knows them by (elements it does not know are
/// left out) and their place in `opened`'s sequence. A browser without
/// `:modal` or `:popover-open` reports none of that kind.
pub fn read(
    document: &web_sys::Document,
    ids: &crate::ids::Ids,
    opened: &mut Opened,
) -> Vec<Ranked> {
    let mut out: Vec<(web_sys::Element, TopLayerKind)> = Vec::new();
    for (selector, kind) in [
        ("dialog:modal", TopLayerKind::ModalDialog),
        (":popover-open", TopLayerKind::Popover),
    ] {
        let Ok(list) = crate::dom::query_selector_all(&document, selector) else {
            continue;
        };
        for node in (0..list.length()).filter_map(|i| list.item(i)) {
            if let Ok(el) = wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(node) {
                out.push((el, kind));
            }
        }
    }
    if let Some(el) = crate::dom::fullscreen_element(document) {
        out.push((el, TopLayerKind::Fullscreen));
    }
    // Document order: the two queries each are; merged, they are sorted.
    sort_small(&mut out, |(a, _), (b, _)| {
        !a.is_same_node(Some(b))
            && a.compare_document_position(b) & web_sys::Node::DOCUMENT_POSITION_FOLLOWING != 0
    });
    // Forget what left the top layer: it goes on top again when it returns.
    opened
        .seen
        .retain(|seen| out.iter().any(|(el, _)| el == seen));
    out.into_iter()
        .filter_map(|(el, kind)| {
            let rank = opened.seen.iter().position(|seen| seen == &el);
            let node: &web_sys::Node = el.as_ref();
            ids.get(node).map(|node| (entry(node, kind), rank))
        })
        .collect()
}

fn entry(node: NodeId, kind: TopLayerKind) -> TopLayerEntry {
    TopLayerEntry { node, kind }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modal(id: u32) -> TopLayerEntry {
        entry(NodeId(id), TopLayerKind::ModalDialog)
    }
    fn popover(id: u32) -> TopLayerEntry {
        entry(NodeId(id), TopLayerKind::Popover)
    }

    fn unseen(entries: &[TopLayerEntry]) -> Vec<Ranked> {
        entries.iter().map(|e| (*e, None)).collect()
    }

    #[test]
    fn an_empty_top_layer_is_not_sent_after_a_snapshot_but_an_open_modal_is() {
        let mut t = TopLayer::default();
        assert_eq!(t.after_snapshot(vec![]), None);
        assert_eq!(t.after_snapshot(unseen(&[modal(4)])), Some(vec![modal(4)]));
        // Already sent: the same list is not sent again.
        assert_eq!(t.changed(unseen(&[modal(4)])), None);
    }

    #[test]
    fn a_change_is_sent_once_and_closing_sends_the_empty_list() {
        let mut t = TopLayer::default();
        assert_eq!(t.changed(vec![]), None);
        assert_eq!(t.changed(unseen(&[popover(2)])), Some(vec![popover(2)]));
        assert_eq!(t.changed(unseen(&[popover(2)])), None);
        assert_eq!(t.changed(vec![]), Some(vec![]));
    }

    #[test]
    fn an_element_seen_later_is_above_earlier_ones_whatever_the_document_order() {
        let mut t = TopLayer::default();
        t.changed(unseen(&[modal(9)]));
        // A popover earlier in the document appeared over the modal.
        assert_eq!(
            t.changed(unseen(&[popover(3), modal(9)])),
            Some(vec![modal(9), popover(3)])
        );
        // The modal closes; the popover stays.
        assert_eq!(t.changed(unseen(&[popover(3)])), Some(vec![popover(3)]));
        // The same element as another kind is a change.
        assert_eq!(t.changed(unseen(&[modal(3)])), Some(vec![modal(3)]));
    }

    #[test]
    fn the_sequence_they_entered_in_decides_when_they_entered_together() {
        let mut t = TopLayer::default();
        // In document order the dialog (5) comes first, but the popover (8)
        // was shown first, then the dialog; the modal (2) was open before.
        assert_eq!(
            t.changed(vec![
                (modal(2), None),
                (modal(5), Some(1)),
                (popover(8), Some(0))
            ]),
            Some(vec![modal(2), popover(8), modal(5)])
        );
        // The popover entered again, on top.
        assert_eq!(
            t.changed(vec![
                (modal(2), None),
                (modal(5), Some(0)),
                (popover(8), Some(1))
            ]),
            Some(vec![modal(2), modal(5), popover(8)])
        );
    }

    #[test]
    fn the_small_sort_orders_and_keeps_equal_items_in_their_order() {
        let mut v = [(3, 'a'), (1, 'b'), (3, 'c'), (0, 'd'), (1, 'e')];
        sort_small(&mut v, |a, b| a.0 < b.0);
        assert_eq!(v, [(0, 'd'), (1, 'b'), (1, 'e'), (3, 'a'), (3, 'c')]);
        let mut empty: [u8; 0] = [];
        sort_small(&mut empty, |a, b| a < b);
    }
}
