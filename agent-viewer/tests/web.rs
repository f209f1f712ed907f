//! The mirror's browser backend in a real browser: a sandboxed iframe in the
//! test page, snapshots and mutation batches applied through `WebDom`, and
//! the iframe's DOM checked (structure, namespaces, rendering mode, and that
//! nothing planted by a page can run or navigate).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use agent_viewer::mirror::dom::WebDom;
use agent_viewer::mirror::Mirror;
use agent_viewer::ViewerError;
use protocol::{
    AddedNode, AttrChange, Event, FormState, MutationBatch, Node, NodeId, Ns, TextChange,
};
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlIFrameElement};

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::*;

const XLINK: &str = "http://www.w3.org/1999/xlink";

fn body_html(frame: &HtmlIFrameElement) -> String {
    doc(frame).body().expect("body").inner_html()
}

fn doctype(id: u32, public_id: &str, system_id: &str) -> Node {
    Node::Doctype {
        id: NodeId(id),
        name: "html".into(),
        public_id: public_id.into(),
        system_id: system_id.into(),
    }
}

/// A page with a head, a paragraph, an SVG using xlink and a comment.
/// Ids: 2 doctype, 3 html, 4 head, 5 title, 6 text, 7 body, 8 p, 9 text,
/// 10 svg, 11 use, 12 comment.
fn page() -> Event {
    snapshot(
        false,
        vec![
            doctype(2, "", ""),
            el(
                3,
                "html",
                &[("lang", "en")],
                vec![
                    el(
                        4,
                        "head",
                        &[],
                        vec![el(5, "title", &[], vec![text(6, "Shop")])],
                    ),
                    el(
                        7,
                        "body",
                        &[("class", "home")],
                        vec![
                            el(8, "p", &[("id", "greeting")], vec![text(9, "Hello")]),
                            el_ns(
                                10,
                                "svg",
                                Ns::Svg,
                                &[("id", "icon"), ("viewBox", "0 0 10 10")],
                                vec![el_ns(11, "use", Ns::Svg, &[("xlink:href", "#dot")], vec![])],
                            ),
                            Node::Comment {
                                id: NodeId(12),
                                text: "end".into(),
                            },
                        ],
                    ),
                ],
            ),
        ],
    )
}

fn apply(mirror: &mut Mirror<WebDom>, event: Event) {
    mirror.apply(&event).expect("applies");
}

fn adds(adds: Vec<AddedNode>) -> Event {
    Event::Mutations(MutationBatch {
        adds,
        ..Default::default()
    })
}

fn add(parent: u32, next: Option<u32>, node: Node) -> AddedNode {
    AddedNode {
        parent: NodeId(parent),
        next_sibling: next.map(NodeId),
        node,
    }
}

#[wasm_bindgen_test]
fn a_snapshot_rebuilds_the_page_in_the_iframe() {
    let (mut mirror, frame) = mirror();
    apply(&mut mirror, page());
    let d = doc(&frame);
    assert_eq!(d.compat_mode(), "CSS1Compat");
    assert_eq!(d.doctype().expect("doctype").name(), "html");
    assert_eq!(d.title(), "Shop");
    let root = d.document_element().expect("root");
    assert_eq!(root.get_attribute("lang").as_deref(), Some("en"));
    assert_eq!(
        d.child_nodes().length(),
        2,
        "doctype and html, nothing else"
    );
    assert_eq!(
        body_html(&frame),
        "<p id=\"greeting\">Hello</p><svg id=\"icon\" viewBox=\"0 0 10 10\"><use xlink:href=\"#dot\"></use></svg><!--end-->"
    );
    let svg = by_id(&frame, "icon");
    assert_eq!(svg.namespace_uri().as_deref(), Some(Ns::SVG_URI));
    let used = svg.first_element_child().expect("use");
    assert_eq!(used.namespace_uri().as_deref(), Some(Ns::SVG_URI));
    assert_eq!(
        used.get_attribute_ns(Some(XLINK), "href").as_deref(),
        Some("#dot")
    );
    assert_eq!(frame.get_attribute("width").as_deref(), Some("1024"));
    assert_eq!(frame.get_attribute("height").as_deref(), Some("640"));
}

#[wasm_bindgen_test]
fn a_snapshot_without_doctype_renders_in_quirks_mode() {
    let (mut mirror, frame) = mirror();
    apply(&mut mirror, page());
    apply(
        &mut mirror,
        snapshot(
            true,
            vec![el(20, "html", &[], vec![el(21, "body", &[], vec![])])],
        ),
    );
    let d = doc(&frame);
    assert_eq!(d.compat_mode(), "BackCompat");
    assert!(d.doctype().is_none());
    assert_eq!(
        d.document_element().expect("root").outer_html(),
        "<html><body></body></html>"
    );
}

#[wasm_bindgen_test]
fn an_old_doctype_keeps_its_ids_and_its_quirks_mode() {
    let (mut mirror, frame) = mirror();
    let public_id = "-//W3C//DTD HTML 4.01 Transitional//EN";
    apply(
        &mut mirror,
        snapshot(
            true,
            vec![doctype(2, public_id, ""), el(3, "html", &[], vec![])],
        ),
    );
    let d = doc(&frame);
    assert_eq!(d.compat_mode(), "BackCompat");
    assert_eq!(d.doctype().expect("doctype").public_id(), public_id);
}

#[wasm_bindgen_test]
fn mutation_batches_add_move_remove_and_change() {
    let (mut mirror, frame) = mirror();
    apply(&mut mirror, page());
    apply(
        &mut mirror,
        adds(vec![
            add(7, Some(8), el(30, "h1", &[], vec![text(31, "Title")])),
            add(7, None, el(32, "footer", &[], vec![])),
        ]),
    );
    assert!(body_html(&frame).starts_with("<h1>Title</h1><p id=\"greeting\">Hello</p>"));
    assert!(body_html(&frame).ends_with("<!--end--><footer></footer>"));

    // Move the paragraph into the footer, drop the svg, change attrs and text.
    apply(
        &mut mirror,
        Event::Mutations(MutationBatch {
            removes: vec![NodeId(8), NodeId(10), NodeId(999)],
            adds: vec![add(
                32,
                None,
                el(8, "p", &[("id", "greeting")], vec![text(9, "Hello")]),
            )],
            attrs: vec![
                AttrChange {
                    id: NodeId(7),
                    name: "class".into(),
                    value: None,
                },
                AttrChange {
                    id: NodeId(8),
                    name: "title".into(),
                    value: Some("moved".into()),
                },
            ],
            texts: vec![TextChange {
                id: NodeId(9),
                text: "Bye".into(),
            }],
        }),
    );
    assert_eq!(
        body_html(&frame),
        "<h1>Title</h1><!--end--><footer><p id=\"greeting\" title=\"moved\">Bye</p></footer>"
    );
    assert!(!doc(&frame).body().expect("body").has_attribute("class"));
}

#[wasm_bindgen_test]
fn an_add_under_an_unknown_parent_is_refused() {
    let (mut mirror, _frame) = mirror();
    apply(&mut mirror, page());
    let err = mirror
        .apply(&adds(vec![add(404, None, text(40, "x"))]))
        .unwrap_err();
    assert!(matches!(err, ViewerError::UnknownParent(NodeId(404))));
}

#[wasm_bindgen_test]
fn planted_handlers_and_script_urls_are_neutralised() {
    let (mut mirror, frame) = mirror();
    apply(&mut mirror, page());
    apply(
        &mut mirror,
        adds(vec![
            add(
                7,
                None,
                el(
                    40,
                    "a",
                    &[
                        ("id", "link"),
                        ("href", " JaVaScRiPt:alert(1)"),
                        ("onclick", "alert(2)"),
                    ],
                    vec![],
                ),
            ),
            add(
                7,
                None,
                el(
                    41,
                    "img",
                    &[("id", "img"), ("src", "java\tscript:x"), ("onerror", "x()")],
                    vec![],
                ),
            ),
            add(
                7,
                None,
                el(
                    42,
                    "iframe",
                    &[("id", "inner"), ("srcdoc", "<script>x()</script>")],
                    vec![],
                ),
            ),
            add(
                4,
                None,
                el(
                    43,
                    "meta",
                    &[
                        ("id", "refresh"),
                        ("http-equiv", "refresh"),
                        ("content", "0;url=https://evil.example/"),
                    ],
                    vec![],
                ),
            ),
            add(
                4,
                None,
                el(
                    44,
                    "script",
                    &[("id", "code"), ("src", "https://evil.example/x.js")],
                    vec![text(45, "alert(3)")],
                ),
            ),
        ]),
    );
    let link = by_id(&frame, "link");
    assert_eq!(link.get_attribute("href").as_deref(), Some("about:blank"));
    assert!(!link.has_attribute("onclick"));
    let img = by_id(&frame, "img");
    assert_eq!(img.get_attribute("src").as_deref(), Some("about:blank"));
    assert!(!img.has_attribute("onerror"));
    assert!(!by_id(&frame, "inner").has_attribute("srcdoc"));
    assert!(!by_id(&frame, "refresh").has_attribute("http-equiv"));
    let script = by_id(&frame, "code");
    assert_eq!(
        script.get_attribute("type").as_deref(),
        Some("application/x-cobrowse-inert")
    );
    assert!(!script.has_attribute("src"));
    assert_eq!(script.child_nodes().length(), 0);
    // A handler set later by an attribute change is dropped too.
    apply(
        &mut mirror,
        Event::Mutations(MutationBatch {
            attrs: vec![AttrChange {
                id: NodeId(40),
                name: "onmouseover".into(),
                value: Some("x()".into()),
            }],
            ..Default::default()
        }),
    );
    assert!(!by_id(&frame, "link").has_attribute("onmouseover"));
}

#[wasm_bindgen_test]
fn guarded_clicks_and_submits_never_reach_their_default_action() {
    let (mut mirror, frame) = mirror();
    apply(&mut mirror, page());
    apply(
        &mut mirror,
        adds(vec![add(
            7,
            None,
            el(
                50,
                "a",
                &[("id", "away"), ("href", "https://elsewhere.example/")],
                vec![],
            ),
        )]),
    );
    let guards = mirror.backend().guard_interactions(true);
    let click = |target: &Element| {
        let init = web_sys::MouseEventInit::new();
        init.set_bubbles(true);
        init.set_cancelable(true);
        let event =
            web_sys::MouseEvent::new_with_mouse_event_init_dict("click", &init).expect("event");
        target.dispatch_event(&event).expect("dispatch")
    };
    // dispatchEvent returns false when the default action was prevented.
    assert!(!click(&by_id(&frame, "away")), "the guard cancels the link");
    assert!(
        !click(&by_id(&frame, "greeting")),
        "anywhere in the document"
    );
    // The guards are RAII: once dropped, nothing cancels clicks any more.
    drop(guards);
    assert!(click(&by_id(&frame, "greeting")));
}

#[wasm_bindgen_test]
fn template_children_live_in_its_content() {
    let (mut mirror, frame) = mirror();
    apply(&mut mirror, page());
    apply(
        &mut mirror,
        adds(vec![
            add(
                7,
                None,
                el(
                    60,
                    "template",
                    &[("id", "row")],
                    vec![el(61, "li", &[], vec![text(62, "item")])],
                ),
            ),
            add(60, None, el(63, "li", &[], vec![])),
        ]),
    );
    let template = by_id(&frame, "row");
    assert_eq!(template.child_nodes().length(), 0);
    assert_eq!(template.inner_html(), "<li>item</li><li></li>");
}

#[wasm_bindgen_test]
fn form_state_is_shown_and_masked_values_are_placeholders() {
    let (mut mirror, frame) = mirror();
    apply(&mut mirror, page());
    apply(
        &mut mirror,
        adds(vec![
            add(7, None, el(70, "input", &[("id", "name")], vec![])),
            add(
                7,
                None,
                el(71, "input", &[("id", "pw"), ("type", "password")], vec![]),
            ),
            add(
                7,
                None,
                el(72, "input", &[("id", "ok"), ("type", "checkbox")], vec![]),
            ),
        ]),
    );
    let input = |id: u32, state: FormState| Event::Input {
        id: NodeId(id),
        state,
    };
    apply(
        &mut mirror,
        input(
            70,
            FormState {
                value: Some("Ada".into()),
                ..Default::default()
            },
        ),
    );
    apply(
        &mut mirror,
        input(
            71,
            FormState {
                masked_len: Some(5),
                ..Default::default()
            },
        ),
    );
    apply(
        &mut mirror,
        input(
            72,
            FormState {
                checked: Some(true),
                ..Default::default()
            },
        ),
    );
    let prop = |id: &str, name: &str| {
        js_sys::Reflect::get(&by_id(&frame, id), &name.into()).expect("property")
    };
    assert_eq!(prop("name", "value").as_string().as_deref(), Some("Ada"));
    assert_eq!(prop("pw", "value").as_string().as_deref(), Some("•••••"));
    assert_eq!(prop("ok", "checked").as_bool(), Some(true));
    assert!(
        !by_id(&frame, "name").has_attribute("value"),
        "a property, not markup"
    );
}

#[wasm_bindgen_test]
fn an_invalid_tag_becomes_a_placeholder_and_an_invalid_attribute_is_skipped() {
    let (mut mirror, frame) = mirror();
    apply(&mut mirror, page());
    apply(
        &mut mirror,
        adds(vec![add(
            7,
            None,
            el(
                80,
                "bad tag",
                &[("id", "ph"), ("bad name", "1")],
                vec![text(81, "still here")],
            ),
        )]),
    );
    let placeholder = by_id(&frame, "ph");
    assert_eq!(placeholder.local_name(), "cobrowse-placeholder");
    assert_eq!(placeholder.text_content().as_deref(), Some("still here"));
    assert_eq!(placeholder.attributes().length(), 1);
}

#[wasm_bindgen_test]
fn a_snapshot_past_the_console_cap_is_refused_and_the_shown_page_stays() {
    let (mut m, frame) = mirror();
    apply(&mut m, page());
    let before = body_html(&frame);
    let rows = (0..agent_viewer::mirror::MAX_SNAPSHOT_NODES as u32)
        .map(|i| text(100 + i, ""))
        .collect();
    let huge = snapshot(
        false,
        vec![el(3, "html", &[], vec![el(7, "body", &[], rows)])],
    );
    match m.apply(&huge) {
        Err(ViewerError::TooManyNodes { cap }) => {
            assert_eq!(cap, agent_viewer::mirror::MAX_SNAPSHOT_NODES)
        }
        other => panic!("expected TooManyNodes, got {other:?}"),
    }
    assert_eq!(body_html(&frame), before, "nothing of it was built");
    assert_eq!(
        by_id(&frame, "greeting").text_content().as_deref(),
        Some("Hello")
    );
}

/// `WebDom` puts a build's attribute writes, appends and id tags off to one
/// call into the browser: after `apply` they are all there, in order, with
/// non-ASCII text whole and a refused attribute skipped alone.
#[wasm_bindgen_test]
fn a_built_page_has_every_attribute_child_and_id_in_order_once_applied() {
    let (mut mirror, frame) = mirror();
    let title = "é ☃ 𝄞 end";
    apply(
        &mut mirror,
        snapshot(
            false,
            vec![el(
                3,
                "html",
                &[],
                vec![el(
                    7,
                    "body",
                    &[],
                    vec![el(
                        20,
                        "div",
                        &[
                            ("id", "d"),
                            ("data-a", "1"),
                            ("bad name", "x"),
                            ("title", title),
                            ("data-z", "𝄞"),
                        ],
                        vec![
                            text(21, "a𝄞"),
                            el(22, "span", &[("id", "s")], vec![text(23, "b")]),
                            text(24, "c"),
                        ],
                    )],
                )],
            )],
        ),
    );
    let div = by_id(&frame, "d");
    let names: Vec<String> = div
        .get_attribute_names()
        .iter()
        .filter_map(|n| n.as_string())
        .collect();
    assert_eq!(names, ["id", "data-a", "title", "data-z"]);
    assert_eq!(div.get_attribute("title").as_deref(), Some(title));
    assert_eq!(div.get_attribute("data-z").as_deref(), Some("𝄞"));
    assert_eq!(div.inner_html(), "a𝄞<span id=\"s\">b</span>c");
    let span = by_id(&frame, "s");
    let (_, id) = mirror.backend().tagged(&span.into()).expect("tagged");
    assert_eq!(id, NodeId(22));
    assert_eq!(mirror.backend().id(&div.into()), Some(NodeId(20)));
}
