//! Shadow roots and frame documents in the mirror's bookkeeping: built in
//! place, mutated by their ids, re-sent, removed, scrolled; frames never
//! get the visitor's address and show a placeholder when not shared.

use protocol::{AttrChange, Event, MutationBatch, Node, NodeId, ScrollPos, Snapshot, TextChange};

use super::*;
use crate::mirror::frames::PLACEHOLDER_TEXT;

fn shadow(id: u32, children: Vec<Node>) -> Node {
    Node::ShadowRoot {
        id: NodeId(id),
        children,
    }
}

fn doc(id: u32, children: Vec<Node>) -> Node {
    Node::Document {
        id: NodeId(id),
        quirks: false,
        children,
    }
}

fn frame_page() -> Event {
    page_with(vec![el(
        10,
        "iframe",
        &[
            ("src", "https://shop.example/frame.html"),
            ("sandbox", "allow-scripts"),
            ("title", "f"),
        ],
        vec![doc(
            11,
            vec![
                doctype(12),
                el(
                    13,
                    "html",
                    &[],
                    vec![el(
                        14,
                        "body",
                        &[],
                        vec![
                            el(15, "p", &[], vec![text(16, "in frame")]),
                            el(
                                17,
                                "iframe",
                                &[],
                                vec![doc(18, vec![el(19, "html", &[], vec![])])],
                            ),
                        ],
                    )],
                ),
            ],
        )],
    )])
}

#[test]
fn a_shadow_root_is_attached_to_its_host_with_its_children() {
    let mut mirror = Mirror::new(FakeDom::default());
    mirror
        .apply(&page_with(vec![el(
            6,
            "fancy-card",
            &[("title", "t")],
            vec![
                shadow(
                    7,
                    vec![
                        el(8, "b", &[], vec![text(9, "shadow")]),
                        el(10, "slot", &[], vec![]),
                    ],
                ),
                text(11, "light"),
            ],
        )]))
        .expect("snapshot");
    assert!(
        html(&mirror).contains(
            "<fancy-card title=\"t\">#shadow(<b>shadow</b><slot></slot>)light</fancy-card>"
        ),
        "{}",
        html(&mirror)
    );
    assert!(mirror.node(NodeId(7)).is_some() && mirror.node(NodeId(9)).is_some());
}

#[test]
fn mutations_name_a_shadow_root_as_parent_and_a_late_root_is_an_add() {
    let mut mirror = Mirror::new(FakeDom::default());
    mirror
        .apply(&page_with(vec![el(6, "div", &[], vec![text(7, "light")])]))
        .expect("snapshot");
    mirror
        .apply(&batch(MutationBatch {
            adds: vec![add(
                6,
                None,
                shadow(20, vec![el(21, "style", &[], vec![text(22, "b{}")])]),
            )],
            ..MutationBatch::default()
        }))
        .expect("a late root");
    mirror
        .apply(&batch(MutationBatch {
            adds: vec![add(20, None, el(23, "i", &[], vec![text(24, "x")]))],
            texts: vec![TextChange {
                id: NodeId(22),
                text: "i{}".into(),
            }],
            attrs: vec![AttrChange {
                id: NodeId(23),
                name: "class".into(),
                value: Some("on".into()),
            }],
            ..MutationBatch::default()
        }))
        .expect("adds into the root");
    assert!(
        html(&mirror).contains("<div>#shadow(<style>i{}</style><i class=\"on\">x</i>)light</div>"),
        "{}",
        html(&mirror)
    );
    // Removing the root empties it; sending it again fills it afresh.
    mirror
        .apply(&batch(MutationBatch {
            removes: vec![NodeId(20)],
            ..MutationBatch::default()
        }))
        .expect("remove");
    assert!(
        html(&mirror).contains("<div>#shadow()light</div>"),
        "{}",
        html(&mirror)
    );
    assert!(mirror.node(NodeId(23)).is_none());
    mirror
        .apply(&batch(MutationBatch {
            adds: vec![add(6, None, shadow(20, vec![text(25, "again")]))],
            ..MutationBatch::default()
        }))
        .expect("re-sent");
    assert!(
        html(&mirror).contains("<div>#shadow(again)light</div>"),
        "{}",
        html(&mirror)
    );
}

#[test]
fn frame_documents_are_built_once_the_frame_is_in_the_document() {
    let mut mirror = Mirror::new(FakeDom::default());
    mirror.apply(&frame_page()).expect("snapshot");
    let shown = html(&mirror);
    assert!(
        shown.contains(
            "<iframe title=\"f\" sandbox=\"allow-same-origin\">#doc(<!DOCTYPE html><html><body><p>in frame</p><iframe sandbox=\"allow-same-origin\">#doc(<!DOCTYPE html><html></html>)</iframe></body></html>)</iframe>"
        ),
        "{shown}"
    );
    assert!(!shown.contains("frame.html"), "never the visitor's address");
    assert!(!shown.contains("allow-scripts"));
    // A src change later is withheld too.
    mirror
        .apply(&batch(MutationBatch {
            attrs: vec![AttrChange {
                id: NodeId(10),
                name: "src".into(),
                value: Some("https://shop.example/other.html".into()),
            }],
            adds: vec![add(15, None, text(30, " more"))],
            ..MutationBatch::default()
        }))
        .expect("mutations in the frame");
    let shown = html(&mirror);
    assert!(!shown.contains("other.html"), "{shown}");
    assert!(shown.contains("<p>in frame more</p>"), "{shown}");
}

#[test]
fn a_frame_that_loads_anew_swaps_documents_and_a_cross_origin_one_shows_the_placeholder() {
    let mut mirror = Mirror::new(FakeDom::default());
    mirror.apply(&frame_page()).expect("snapshot");
    mirror
        .apply(&batch(MutationBatch {
            removes: vec![NodeId(11)],
            adds: vec![add(
                10,
                None,
                doc(40, vec![el(41, "html", &[], vec![text(42, "next page")])]),
            )],
            ..MutationBatch::default()
        }))
        .expect("reload");
    assert!(
        html(&mirror).contains("#doc(<!DOCTYPE html><html>next page</html>)"),
        "{}",
        html(&mirror)
    );
    assert!(
        mirror.node(NodeId(15)).is_none(),
        "the old document's ids are gone"
    );
    mirror
        .apply(&batch(MutationBatch {
            removes: vec![NodeId(40)],
            ..MutationBatch::default()
        }))
        .expect("went cross-origin");
    assert!(html(&mirror).contains("#placeholder"), "{}", html(&mirror));
    assert!(!PLACEHOLDER_TEXT.is_empty());
}

#[test]
fn a_frame_without_a_document_shows_the_placeholder_and_frames_scroll() {
    let mut mirror = Mirror::new(FakeDom::default());
    mirror
        .apply(&page_with(vec![el(
            6,
            "iframe",
            &[("src", "https://ads.example/")],
            vec![],
        )]))
        .expect("snapshot");
    assert!(
        html(&mirror).contains("<iframe sandbox=\"allow-same-origin\">#placeholder</iframe>"),
        "{}",
        html(&mirror)
    );

    let mut mirror = Mirror::new(FakeDom::default());
    let Event::Snapshot(mut snap) = frame_page() else {
        unreachable!()
    };
    snap.scrolls.push(ScrollPos {
        target: NodeId(11),
        x: 0.0,
        y: 120.0,
    });
    mirror
        .apply(&Event::Snapshot(Snapshot { ..snap }))
        .expect("snapshot");
    let frame_doc = node(&mirror, 11);
    assert_eq!(mirror.backend().get(frame_doc).scroll, Some((0.0, 120.0)));
    mirror
        .apply(&Event::Scroll(ScrollPos {
            target: NodeId(11),
            x: 0.0,
            y: 40.0,
        }))
        .expect("scroll");
    assert_eq!(mirror.backend().get(frame_doc).scroll, Some((0.0, 40.0)));
}

#[test]
fn a_frame_added_by_a_mutation_gets_its_document_after_insertion() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&batch(MutationBatch {
            adds: vec![add(
                5,
                None,
                el(
                    50,
                    "div",
                    &[],
                    vec![el(
                        51,
                        "iframe",
                        &[],
                        vec![doc(52, vec![el(53, "html", &[], vec![])])],
                    )],
                ),
            )],
            ..MutationBatch::default()
        }))
        .expect("add");
    assert!(
        html(&mirror).contains("<div><iframe sandbox=\"allow-same-origin\">#doc(<!DOCTYPE html><html></html>)</iframe></div>"),
        "{}",
        html(&mirror)
    );
}
