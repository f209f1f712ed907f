//! DOM clobbering in the mirror: the console rebuilds the visitor's markup,
//! forms and named images included, so a mirrored form's controls shadow
//! the form's members (`form.appendChild` is the `<input
//! name="appendChild">` once it is in) and `<img name="createElement">`
//! shadows the mirror document's. The mirror is built whole all the same.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use protocol::{AddedNode, AttrChange, Event, MutationBatch, Node, NodeId};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::HtmlIFrameElement;

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::*;

/// Names of the members a builder calls on a parent or a document.
const NAMES: &[&str] = &[
    "appendChild",
    "insertBefore",
    "removeChild",
    "setAttribute",
    "setAttributeNS",
    "removeAttribute",
    "firstChild",
    "parentNode",
    "nodeType",
    "childNodes",
    "matches",
];

/// Ids: 2 html, 3 head, 4 body, 5.. the named images, 20 the form, 21..
/// its controls, 40 a paragraph in the form (41 its text), 42 the paragraph
/// after the form (43 its text).
fn page() -> Event {
    let images: Vec<Node> = [
        "body",
        "createElement",
        "createElementNS",
        "createTextNode",
        "createComment",
        "documentElement",
    ]
    .iter()
    .enumerate()
    .map(|(i, n)| el(5 + i as u32, "img", &[("name", n)], vec![]))
    .collect();
    let mut controls: Vec<Node> = NAMES
        .iter()
        .enumerate()
        .map(|(i, n)| {
            el(
                21 + i as u32,
                "input",
                &[("name", n), ("value", "v")],
                vec![],
            )
        })
        .collect();
    controls.push(el(
        40,
        "p",
        &[("id", "inside")],
        vec![text(41, "inside the form")],
    ));
    let mut body = images;
    body.push(el(20, "form", &[("id", "f"), ("action", "/pay")], controls));
    body.push(el(
        42,
        "p",
        &[("id", "after")],
        vec![text(43, "after the form")],
    ));
    snapshot(
        false,
        vec![el(
            2,
            "html",
            &[],
            vec![el(3, "head", &[], vec![]), el(4, "body", &[], body)],
        )],
    )
}

/// `selector`'s matches in the mirror, through `Document.prototype` (the
/// mirror's own `document.querySelectorAll` could be shadowed too).
fn count(frame: &HtmlIFrameElement, selector: &str) -> u32 {
    let d = doc(frame);
    let proto = js_sys::Reflect::get(&js_sys::global(), &"Document".into()).unwrap();
    let proto = js_sys::Reflect::get(&proto, &"prototype".into()).unwrap();
    let qsa: js_sys::Function = js_sys::Reflect::get(&proto, &"querySelectorAll".into())
        .unwrap()
        .unchecked_into();
    let list: web_sys::NodeList = qsa.call1(&d, &selector.into()).unwrap().unchecked_into();
    list.length()
}

fn names_in_form(frame: &HtmlIFrameElement) -> Vec<String> {
    let kids = js_sys::Reflect::get(&by_id(frame, "f"), &"children".into()).unwrap();
    js_sys::Array::from(&kids)
        .iter()
        .filter_map(|e| e.unchecked_into::<web_sys::Element>().get_attribute("name"))
        .collect()
}

#[wasm_bindgen_test]
fn a_snapshot_with_a_clobbering_form_and_named_images_builds_whole() {
    let (mut mirror, frame) = mirror();
    mirror.apply(&page()).expect("applies");
    assert_eq!(count(&frame, "body > img[name]"), 6);
    assert_eq!(count(&frame, "#f > input"), NAMES.len() as u32);
    assert_eq!(names_in_form(&frame), NAMES);
    assert_eq!(count(&frame, "#f > #inside"), 1);
    // What follows the form is after it, not lost or inside it.
    assert_eq!(count(&frame, "#f + #after"), 1);
    assert_eq!(
        by_id(&frame, "after").text_content().as_deref(),
        Some("after the form")
    );
    assert_eq!(by_id(&frame, "f").get_attribute("id").as_deref(), Some("f"));
}

#[wasm_bindgen_test]
fn changes_inside_a_clobbering_form_and_a_clobbered_document_apply() {
    let (mut mirror, frame) = mirror();
    mirror.apply(&page()).expect("applies");
    let batch = Event::Mutations(MutationBatch {
        removes: vec![NodeId(22)],
        adds: vec![
            AddedNode {
                parent: NodeId(20),
                next_sibling: Some(NodeId(40)),
                node: el(60, "input", &[("name", "late")], vec![]),
            },
            AddedNode {
                parent: NodeId(20),
                next_sibling: None,
                node: el(61, "textarea", &[("name", "note")], vec![text(62, "typed")]),
            },
            AddedNode {
                parent: NodeId(4),
                next_sibling: None,
                node: el(63, "img", &[("name", "createElement")], vec![]),
            },
            AddedNode {
                parent: NodeId(4),
                next_sibling: None,
                node: el(64, "p", &[("id", "last")], vec![text(65, "the end")]),
            },
        ],
        attrs: vec![
            AttrChange {
                id: NodeId(20),
                name: "data-step".into(),
                value: Some("2".into()),
            },
            AttrChange {
                id: NodeId(20),
                name: "action".into(),
                value: None,
            },
        ],
        texts: vec![],
    });
    mirror.apply(&batch).expect("applies");
    assert_eq!(count(&frame, "#f > input[name=insertBefore]"), 0, "removed");
    assert_eq!(count(&frame, "#f > input[name=late] + #inside"), 1);
    assert_eq!(count(&frame, "#f > #inside + textarea[name=note]"), 1);
    assert_eq!(count(&frame, "#f[data-step='2']:not([action])"), 1);
    assert_eq!(count(&frame, "body > img[name=createElement]"), 2);
    assert_eq!(
        by_id(&frame, "last").text_content().as_deref(),
        Some("the end")
    );
}
