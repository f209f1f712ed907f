//! The mirror's bookkeeping against the fake DOM: snapshots, every mutation
//! kind, moves, namespaces, templates, and the failures that must
//! end in a resync rather than a wrong page.

use protocol::{
    AddedNode, Attr, AttrChange, Event, MutationBatch, Node, NodeId, Ns, ScrollPos, Snapshot,
    TextChange, Viewport,
};

use super::fake::{FakeDom, FakeId};
use super::{Applied, Mirror};
use crate::ViewerError;

mod content;
mod presence;
mod resources;
mod shadow;
mod sheets;
mod toplayer;

pub(super) fn el(id: u32, tag: &str, attrs: &[(&str, &str)], children: Vec<Node>) -> Node {
    el_ns(id, tag, Ns::Html, attrs, children)
}

pub(super) fn el_ns(
    id: u32,
    tag: &str,
    ns: Ns,
    attrs: &[(&str, &str)],
    children: Vec<Node>,
) -> Node {
    Node::Element {
        id: NodeId(id),
        tag: tag.into(),
        ns,
        attrs: attrs.iter().map(|(n, v)| Attr::new(*n, *v)).collect(),
        state: None,
        children,
    }
}

pub(super) fn text(id: u32, t: &str) -> Node {
    Node::Text {
        id: NodeId(id),
        text: t.into(),
    }
}

pub(super) fn doctype(id: u32) -> Node {
    Node::Doctype {
        id: NodeId(id),
        name: "html".into(),
        public_id: String::new(),
        system_id: String::new(),
    }
}

pub(super) const VIEWPORT: Viewport = Viewport {
    width: 1280,
    height: 720,
    device_pixel_ratio: 1.0,
};

pub(super) fn snapshot_of(quirks: bool, children: Vec<Node>) -> Event {
    Event::Snapshot(Snapshot {
        url: "https://shop.example/cart".into(),
        base_url: "https://shop.example/".into(),
        viewport: VIEWPORT,
        root: Node::Document {
            id: NodeId(1),
            quirks,
            children,
        },
        scrolls: vec![],
    })
}

/// `<!DOCTYPE html><html><head></head><body id="b"><p>hello</p></body></html>`
/// with ids 2 (doctype), 3 html, 4 head, 5 body, 6 p, 7 text.
pub(super) fn page() -> Event {
    page_with(vec![el(6, "p", &[], vec![text(7, "hello")])])
}

/// The same page with `children` in its body (ids from 6 on are theirs).
pub(super) fn page_with(children: Vec<Node>) -> Event {
    snapshot_of(
        false,
        vec![
            doctype(2),
            el(
                3,
                "html",
                &[],
                vec![
                    el(4, "head", &[], vec![]),
                    el(5, "body", &[("id", "b")], children),
                ],
            ),
        ],
    )
}

pub(super) fn mirror_with_page() -> Mirror<FakeDom> {
    let mut mirror = Mirror::new(FakeDom::default());
    assert_eq!(mirror.apply(&page()).expect("snapshot"), Applied::Snapshot);
    mirror
}

pub(super) fn html(mirror: &Mirror<FakeDom>) -> String {
    mirror.backend().html()
}

pub(super) fn node(mirror: &Mirror<FakeDom>, id: u32) -> FakeId {
    *mirror.node(NodeId(id)).expect("known node")
}

pub(super) fn batch(b: MutationBatch) -> Event {
    Event::Mutations(b)
}

pub(super) fn add(parent: u32, next: Option<u32>, node: Node) -> AddedNode {
    AddedNode {
        parent: NodeId(parent),
        next_sibling: next.map(NodeId),
        node,
    }
}

#[test]
fn a_snapshot_builds_the_page_in_standards_mode() {
    let mirror = mirror_with_page();
    assert_eq!(
        html(&mirror),
        "<!DOCTYPE html><html><head></head><body id=\"b\"><p>hello</p></body></html>"
    );
    assert_eq!(mirror.backend().quirks, Some(false));
    assert_eq!(
        mirror.backend().doctype_markup.as_deref(),
        Some("<!DOCTYPE html>")
    );
    assert_eq!(mirror.len(), 7, "every id is known, the doctype too");
    assert_eq!(mirror.url(), Some("https://shop.example/cart"));
    assert_eq!(mirror.viewport(), Some(VIEWPORT));
    assert_eq!(mirror.backend().viewport, Some(VIEWPORT));
}

#[test]
fn a_snapshot_without_doctype_builds_a_quirks_document() {
    let mut mirror = Mirror::new(FakeDom::default());
    mirror
        .apply(&snapshot_of(true, vec![el(3, "html", &[], vec![])]))
        .expect("snapshot");
    assert_eq!(mirror.backend().quirks, Some(true));
    assert_eq!(html(&mirror), "<html></html>");
}

#[test]
fn a_second_snapshot_replaces_everything() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&snapshot_of(
            false,
            vec![doctype(20), el(21, "html", &[], vec![])],
        ))
        .expect("snapshot");
    assert_eq!(html(&mirror), "<!DOCTYPE html><html></html>");
    assert!(mirror.node(NodeId(6)).is_none(), "old ids are forgotten");
    assert_eq!(mirror.backend().resets, 2);
}

#[test]
fn snapshot_scrolls_are_applied_after_the_tree_is_built() {
    let mut mirror = Mirror::new(FakeDom::default());
    let Event::Snapshot(mut snap) = page() else {
        unreachable!()
    };
    snap.scrolls = vec![
        ScrollPos {
            target: NodeId(1),
            x: 0.0,
            y: 400.0,
        },
        ScrollPos {
            target: NodeId(6),
            x: 5.0,
            y: 6.0,
        },
    ];
    mirror.apply(&Event::Snapshot(snap)).expect("snapshot");
    assert_eq!(mirror.backend().window_scroll, Some((0.0, 400.0)));
    assert_eq!(
        mirror.backend().get(node(&mirror, 6)).scroll,
        Some((5.0, 6.0))
    );
}

#[test]
fn mutations_before_any_snapshot_need_one() {
    let mut mirror = Mirror::new(FakeDom::default());
    let err = mirror.apply(&batch(MutationBatch::default())).unwrap_err();
    assert!(matches!(err, ViewerError::NoDocument));
}

#[test]
fn adds_go_before_their_next_sibling_or_last() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&batch(MutationBatch {
            adds: vec![
                add(5, None, el(8, "footer", &[], vec![text(9, "end")])),
                add(5, Some(6), el(10, "h1", &[], vec![text(11, "Title")])),
            ],
            ..Default::default()
        }))
        .expect("batch");
    assert_eq!(
        html(&mirror),
        "<!DOCTYPE html><html><head></head><body id=\"b\"><h1>Title</h1><p>hello</p><footer>end</footer></body></html>"
    );
    assert_eq!(mirror.len(), 11);
}

#[test]
fn removes_forget_the_whole_subtree_and_unknown_removes_are_ignored() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&batch(MutationBatch {
            removes: vec![NodeId(6), NodeId(999)],
            ..Default::default()
        }))
        .expect("batch");
    assert_eq!(
        html(&mirror),
        "<!DOCTYPE html><html><head></head><body id=\"b\"></body></html>"
    );
    assert!(mirror.node(NodeId(6)).is_none());
    assert!(mirror.node(NodeId(7)).is_none(), "the text under it too");
    assert_eq!(mirror.len(), 5);
}

#[test]
fn a_move_is_a_remove_and_an_add_of_the_same_id() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&batch(MutationBatch {
            removes: vec![NodeId(6)],
            adds: vec![add(4, None, el(6, "p", &[], vec![text(7, "hello")]))],
            ..Default::default()
        }))
        .expect("batch");
    assert_eq!(
        html(&mirror),
        "<!DOCTYPE html><html><head><p>hello</p></head><body id=\"b\"></body></html>"
    );
    // A later text change reaches the moved node.
    mirror
        .apply(&batch(MutationBatch {
            texts: vec![TextChange {
                id: NodeId(7),
                text: "moved".into(),
            }],
            ..Default::default()
        }))
        .expect("batch");
    assert!(html(&mirror).contains("<head><p>moved</p></head>"));
}

#[test]
fn an_add_of_a_node_still_present_moves_it_instead_of_duplicating() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&batch(MutationBatch {
            adds: vec![add(4, None, el(6, "p", &[], vec![text(7, "hello")]))],
            ..Default::default()
        }))
        .expect("batch");
    assert_eq!(html(&mirror).matches("<p>").count(), 1, "{}", html(&mirror));
    assert!(html(&mirror).contains("<head><p>hello</p></head>"));
}

#[test]
fn an_add_under_an_unknown_parent_asks_for_a_resync() {
    let mut mirror = mirror_with_page();
    let err = mirror
        .apply(&batch(MutationBatch {
            adds: vec![add(404, None, text(8, "lost"))],
            ..Default::default()
        }))
        .unwrap_err();
    assert!(matches!(err, ViewerError::UnknownParent(NodeId(404))));
    let err = mirror
        .apply(&batch(MutationBatch {
            adds: vec![add(5, Some(405), text(8, "lost"))],
            ..Default::default()
        }))
        .unwrap_err();
    assert!(matches!(err, ViewerError::UnknownSibling(NodeId(405))));
}

#[test]
fn a_next_sibling_under_another_parent_asks_for_a_resync() {
    let mut mirror = mirror_with_page();
    // 6 lives under body (5), not head (4): the DOM refuses.
    let err = mirror
        .apply(&batch(MutationBatch {
            adds: vec![add(4, Some(6), text(8, "x"))],
            ..Default::default()
        }))
        .unwrap_err();
    assert!(matches!(err, ViewerError::Dom(_)), "{err:?}");
    assert!(
        mirror.node(NodeId(8)).is_none(),
        "the failed add is forgotten"
    );
}

#[test]
fn attribute_changes_set_and_remove() {
    let mut mirror = mirror_with_page();
    let change = |name: &str, value: Option<&str>| AttrChange {
        id: NodeId(5),
        name: name.into(),
        value: value.map(str::to_owned),
    };
    mirror
        .apply(&batch(MutationBatch {
            attrs: vec![
                change("class", Some("dark")),
                change("id", None),
                change("onclick", Some("steal()")),
                AttrChange {
                    id: NodeId(999),
                    name: "x".into(),
                    value: Some("y".into()),
                },
            ],
            ..Default::default()
        }))
        .expect("batch");
    let body = node(&mirror, 5);
    assert_eq!(mirror.backend().attr(body, "class"), Some("dark"));
    assert_eq!(mirror.backend().attr(body, "id"), None);
    assert_eq!(mirror.backend().attr(body, "onclick"), None);
}

#[test]
fn text_changes_update_text_nodes() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&batch(MutationBatch {
            texts: vec![
                TextChange {
                    id: NodeId(7),
                    text: "bye".into(),
                },
                TextChange {
                    id: NodeId(999),
                    text: "ignored".into(),
                },
            ],
            ..Default::default()
        }))
        .expect("batch");
    assert!(html(&mirror).contains("<p>bye</p>"));
}

#[test]
fn a_batch_applies_removes_then_adds_then_attrs_then_texts() {
    let mut mirror = mirror_with_page();
    // The attr and text changes name nodes that only the adds create.
    mirror
        .apply(&batch(MutationBatch {
            removes: vec![NodeId(6)],
            adds: vec![add(5, None, el(8, "span", &[], vec![text(9, "a")]))],
            attrs: vec![AttrChange {
                id: NodeId(8),
                name: "class".into(),
                value: Some("new".into()),
            }],
            texts: vec![TextChange {
                id: NodeId(9),
                text: "b".into(),
            }],
        }))
        .expect("batch");
    assert!(html(&mirror).contains("<body id=\"b\"><span class=\"new\">b</span></body>"));
}

#[test]
fn svg_and_mathml_keep_their_namespaces_and_xlink_attributes() {
    let mut mirror = Mirror::new(FakeDom::default());
    mirror
        .apply(&snapshot_of(
            false,
            vec![el(
                3,
                "html",
                &[],
                vec![el(
                    4,
                    "body",
                    &[],
                    vec![
                        el_ns(
                            5,
                            "svg",
                            Ns::Svg,
                            &[("viewBox", "0 0 10 10")],
                            vec![el_ns(6, "use", Ns::Svg, &[("xlink:href", "#dot")], vec![])],
                        ),
                        el_ns(7, "math", Ns::MathMl, &[], vec![]),
                        el_ns(8, "thing", Ns::Other("urn:x".into()), &[], vec![]),
                    ],
                )],
            )],
        ))
        .expect("snapshot");
    assert!(html(&mirror).contains(
        "<svg:svg viewBox=\"0 0 10 10\"><svg:use xlink:href=\"#dot\"></svg:use></svg:svg><math:math></math:math><other:thing></other:thing>"
    ));
    assert_eq!(
        mirror.backend().attr_ns(node(&mirror, 6), "xlink:href"),
        Some("http://www.w3.org/1999/xlink")
    );
}

#[test]
fn template_children_go_into_its_content() {
    let mut mirror = mirror_with_page();
    mirror
        .apply(&batch(MutationBatch {
            adds: vec![
                add(
                    5,
                    None,
                    el(8, "template", &[], vec![el(9, "li", &[], vec![])]),
                ),
                add(8, None, text(10, "later")),
            ],
            ..Default::default()
        }))
        .expect("batch");
    let template = node(&mirror, 8);
    assert!(mirror.backend().get(template).children.is_empty());
    assert_eq!(
        mirror.backend().markup(template),
        "<template>#content(<li></li>later)</template>"
    );
}

#[test]
fn a_snapshot_whose_root_is_not_a_document_is_refused() {
    let mut mirror = Mirror::new(FakeDom::default());
    let Event::Snapshot(mut snap) = page() else {
        unreachable!()
    };
    snap.root = text(1, "nope");
    assert!(matches!(
        mirror.apply(&Event::Snapshot(snap)),
        Err(ViewerError::NotADocument)
    ));
}
