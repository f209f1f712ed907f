//! CSSOM changes and FontFace fonts applied to a real iframe through
//! `WebDom`: rules reach a mirrored `<style>`'s sheet (rewritten, the DOM
//! untouched), paths through grouping rules, constructed sheets made in the
//! iframe's realm and adopted there next to the console's own, bad rules
//! skipped, fonts added and removed by the next snapshot.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use js_sys::Reflect;
use protocol::{
    Attr, Event, FontFaceDesc, Node, NodeId, SheetChange, SheetRef, Snapshot, Viewport,
};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlIFrameElement};

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::*;

/// `<html><head><style id=s></style></head><body><div id=box class=box>`
/// with ids 2 html, 3 head, 4 style, 5 body, 6 div.
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
            children: vec![el(
                2,
                "html",
                &[],
                vec![
                    el(3, "head", &[], vec![el(4, "style", &[("id", "s")], vec![])]),
                    el(
                        5,
                        "body",
                        &[],
                        vec![el(6, "div", &[("id", "box"), ("class", "box")], vec![])],
                    ),
                ],
            )],
        },
        scrolls: vec![],
    })
}

fn computed(frame: &HtmlIFrameElement, id: &str, property: &str) -> String {
    let el: Element = doc(frame).get_element_by_id(id).unwrap();
    frame
        .content_window()
        .unwrap()
        .get_computed_style(&el)
        .unwrap()
        .unwrap()
        .get_property_value(property)
        .unwrap()
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &key.into()).unwrap()
}

fn sheet(change: SheetChange) -> Event {
    Event::Sheet(change)
}

fn rules(sheet_ref: SheetRef, rules: &[&str]) -> Event {
    sheet(SheetChange::Rules {
        sheet: sheet_ref,
        rules: rules.iter().map(|r| (*r).to_owned()).collect(),
    })
}

#[wasm_bindgen_test]
fn rules_reach_the_mirrored_styles_sheet_and_not_its_text() {
    let (mut mirror, frame) = mirror();
    mirror.apply(&page()).unwrap();
    mirror
        .apply(&rules(
            SheetRef::Owner(NodeId(4)),
            &[".box { width: 123px; }", ".box:hover { color: red; }"],
        ))
        .unwrap();
    assert_eq!(computed(&frame, "box", "width"), "123px");
    let style = doc(&frame).get_element_by_id("s").unwrap();
    assert_eq!(
        style.text_content().unwrap(),
        "",
        "the DOM stays the visitor's"
    );
    let list = get(&get(&style, "sheet"), "cssRules");
    let hover = get(&Reflect::get_u32(&list, 1).unwrap(), "selectorText");
    assert!(
        hover.as_string().unwrap().contains("data-cobrowse-hover"),
        "{hover:?}"
    );
}

#[wasm_bindgen_test]
fn inserts_and_deletes_follow_paths_through_grouping_rules_and_bad_rules_are_skipped() {
    let (mut mirror, frame) = mirror();
    mirror.apply(&page()).unwrap();
    let owner = SheetRef::Owner(NodeId(4));
    let applied = mirror.apply(&rules(
        owner,
        &[
            "@media (min-width: 1px) { .box { width: 10px; } }",
            "@@@ nonsense {",
            ".box { height: 7px; }",
        ],
    ));
    assert!(applied.is_ok(), "a refused rule asks for nothing");
    assert_eq!(computed(&frame, "box", "height"), "7px");
    mirror
        .apply(&sheet(SheetChange::Insert {
            sheet: owner,
            path: vec![0, 1],
            rule: ".box { width: 44px; }".into(),
        }))
        .unwrap();
    assert_eq!(computed(&frame, "box", "width"), "44px");
    mirror
        .apply(&sheet(SheetChange::Delete {
            sheet: owner,
            path: vec![0, 1],
        }))
        .unwrap();
    assert_eq!(computed(&frame, "box", "width"), "10px");
    // A path to nowhere is logged and skipped, not an error.
    assert!(mirror
        .apply(&sheet(SheetChange::Delete {
            sheet: owner,
            path: vec![9, 9],
        }))
        .is_ok());
}

#[wasm_bindgen_test]
fn constructed_sheets_are_adopted_in_the_iframe_next_to_the_consoles_own() {
    let (mut mirror, frame) = mirror();
    mirror.apply(&page()).unwrap();
    let before = get(&doc(&frame), "adoptedStyleSheets");
    let console_sheets = get(&before, "length").as_f64().unwrap();
    mirror
        .apply(&rules(SheetRef::Constructed(3), &[".box { width: 55px; }"]))
        .unwrap();
    mirror
        .apply(&sheet(SheetChange::Adopted {
            root: NodeId(1),
            sheets: vec![3],
        }))
        .unwrap();
    assert_eq!(computed(&frame, "box", "width"), "55px");
    let adopted = get(&doc(&frame), "adoptedStyleSheets");
    assert_eq!(
        get(&adopted, "length").as_f64().unwrap(),
        console_sheets + 1.0
    );
    mirror
        .apply(&sheet(SheetChange::Adopted {
            root: NodeId(1),
            sheets: vec![],
        }))
        .unwrap();
    assert_ne!(computed(&frame, "box", "width"), "55px");
    let adopted = get(&doc(&frame), "adoptedStyleSheets");
    assert_eq!(
        get(&adopted, "length").as_f64().unwrap(),
        console_sheets,
        "the console's own sheet stays"
    );
}

#[wasm_bindgen_test]
fn fonts_are_added_to_the_iframes_document_until_the_next_snapshot() {
    let (mut mirror, frame) = mirror();
    mirror.apply(&page()).unwrap();
    mirror
        .apply(&Event::Font(FontFaceDesc {
            family: "Brand".into(),
            source: "url(\"data:application/octet-stream;base64,AAAA\")".into(),
            descriptors: vec![
                Attr::new("weight", "700"),
                Attr::new("unicode-range", "U+0-7F"),
            ],
        }))
        .unwrap();
    let has_brand = |frame: &HtmlIFrameElement| {
        let fonts = js_sys::Array::from(&get(&doc(frame), "fonts"));
        fonts.iter().any(|f| {
            get(&f, "family").as_string().as_deref() == Some("Brand")
                && get(&f, "weight").as_string().as_deref() == Some("700")
                && get(&f, "unicodeRange").as_string().as_deref() == Some("U+0-7F")
        })
    };
    assert!(has_brand(&frame));
    mirror.apply(&page()).unwrap();
    assert!(!has_brand(&frame), "a snapshot starts the fonts afresh");
}
