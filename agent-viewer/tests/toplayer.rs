//! The visitor's top layer in a real browser: the mirror's copies of a
//! modal dialog and a popover enter the sandboxed iframe's own top layer
//! (`:modal`, `:popover-open`, a `::backdrop`), although nothing runs in
//! the iframe, and leave it when the visitor's do.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use protocol::{
    AttrChange, Event, MutationBatch, Node, NodeId, Snapshot, TopLayerEntry, TopLayerKind, Viewport,
};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::Element;

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::*;

/// A dialog (6) the visitor opened with `showModal()` (so it has `open`)
/// and a popover (8).
fn page() -> Event {
    Event::Snapshot(Snapshot {
        url: "https://shop.example/".into(),
        base_url: "https://shop.example/".into(),
        viewport: Viewport {
            width: 800,
            height: 600,
            device_pixel_ratio: 1.0,
        },
        root: Node::Document {
            id: NodeId(1),
            quirks: false,
            children: vec![
                Node::Doctype {
                    id: NodeId(2),
                    name: "html".into(),
                    public_id: String::new(),
                    system_id: String::new(),
                },
                el(
                    3,
                    "html",
                    &[],
                    vec![
                        el(
                            4,
                            "head",
                            &[],
                            vec![el(
                                10,
                                "style",
                                &[],
                                vec![text(11, "dialog::backdrop { background: rgb(0, 128, 0); }")],
                            )],
                        ),
                        el(
                            5,
                            "body",
                            &[],
                            vec![
                                el(
                                    6,
                                    "dialog",
                                    &[("id", "d"), ("open", "")],
                                    vec![text(7, "Sure?")],
                                ),
                                el(
                                    8,
                                    "div",
                                    &[("id", "p"), ("popover", "")],
                                    vec![text(9, "Tip")],
                                ),
                            ],
                        ),
                    ],
                ),
            ],
        },
        scrolls: vec![],
    })
}

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

fn matches(el: &Element, selector: &str) -> bool {
    el.matches(selector).expect("a valid selector")
}

#[wasm_bindgen_test]
fn a_modal_dialog_is_modal_in_the_iframe_with_its_backdrop() {
    let (mut mirror, frame) = mirror();
    mirror.apply(&page()).expect("snapshot");
    let dialog = by_id(&frame, "d");
    assert!(!matches(&dialog, ":modal"), "`open` alone is not modal");
    mirror
        .apply(&top(&[(6, TopLayerKind::ModalDialog)]))
        .expect("top layer");
    assert!(matches(&dialog, ":modal"));
    assert!(dialog.has_attribute("open"));
    let window = frame.content_window().unwrap();
    let backdrop = window
        .get_computed_style_with_pseudo_elt(&dialog, "::backdrop")
        .unwrap()
        .unwrap()
        .get_property_value("background-color")
        .unwrap();
    assert_eq!(
        backdrop, "rgb(0, 128, 0)",
        "the page's ::backdrop rule applies"
    );
}

#[wasm_bindgen_test]
fn a_popover_opens_and_closes_with_the_visitors() {
    let (mut mirror, frame) = mirror();
    mirror.apply(&page()).expect("snapshot");
    let popover = by_id(&frame, "p");
    mirror
        .apply(&top(&[(8, TopLayerKind::Popover)]))
        .expect("top layer");
    assert!(matches(&popover, ":popover-open"));
    mirror.apply(&top(&[])).expect("top layer");
    assert!(!matches(&popover, ":popover-open"));
}

#[wasm_bindgen_test]
fn closing_the_visitors_dialog_leaves_the_mirror_not_modal() {
    let (mut mirror, frame) = mirror();
    mirror.apply(&page()).expect("snapshot");
    mirror
        .apply(&top(&[(6, TopLayerKind::ModalDialog)]))
        .expect("top layer");
    // The visitor's `close()`: the batch removes `open`, then the list empties.
    mirror
        .apply(&Event::Mutations(MutationBatch {
            attrs: vec![AttrChange {
                id: NodeId(6),
                name: "open".into(),
                value: None,
            }],
            ..Default::default()
        }))
        .expect("batch");
    mirror.apply(&top(&[])).expect("top layer");
    let dialog = by_id(&frame, "d");
    assert!(!matches(&dialog, ":modal"));
    assert!(!dialog.has_attribute("open"));
    // A new snapshot starts with an empty top layer, and the same list
    // puts the new copy there.
    mirror.apply(&page()).expect("snapshot");
    mirror
        .apply(&top(&[(6, TopLayerKind::ModalDialog)]))
        .expect("top layer");
    assert!(matches(&by_id(&frame, "d"), ":modal"));
}

/// Lets queued events (`toggle` is one) run.
async fn next_tasks() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 50);
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

fn call(el: &Element, method: &str) {
    let f: js_sys::Function = js_sys::Reflect::get(el, &method.into())
        .unwrap()
        .unchecked_into();
    f.call0(el).unwrap();
}

#[wasm_bindgen_test]
async fn the_agent_cannot_close_the_visitors_dialog_or_popover_in_the_console() {
    let (mut mirror, frame) = mirror();
    mirror.apply(&page()).expect("snapshot");
    mirror
        .apply(&top(&[
            (8, TopLayerKind::Popover),
            (6, TopLayerKind::ModalDialog),
        ]))
        .expect("top layer");
    let (dialog, popover) = (by_id(&frame, "d"), by_id(&frame, "p"));
    // Escape in the console asks the dialog to close: refused.
    call(&dialog, "requestClose");
    // A click outside an auto popover closes it (light dismiss): shown again.
    call(&popover, "hidePopover");
    next_tasks().await;
    assert!(matches(&dialog, ":modal"), "the dialog stays modal");
    assert!(matches(&popover, ":popover-open"), "the popover is back");
    // The visitor's own close still closes both.
    mirror.apply(&top(&[])).expect("top layer");
    next_tasks().await;
    assert!(!matches(&dialog, ":modal"));
    assert!(!matches(&popover, ":popover-open"));
}
