//! The CSSOM capture in a real browser: what the snapshot's markup does not
//! carry, the wrappers' reports (paths through grouping rules, coalescing,
//! constructed sheets and adoption, fonts), and that the wrappers never
//! change what the page sees and leave with the capture.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Array, Function, Reflect};
use protocol::{Event, NodeId, SheetChange, SheetRef};
use visitor_wasm::{snapshot, Capture, Cssom};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::util::*;

fn window() -> web_sys::Window {
    web_sys::window().unwrap()
}

/// A capture with ids for the page, and the CSSOM wrappers installed;
/// `notified` counts the flushes they asked for.
fn live() -> (Capture, Cssom, Rc<Cell<u32>>) {
    let mut cap = Capture::new("[data-cobrowse-mask]".into());
    snapshot(&document(), &mut cap).unwrap();
    let notified = Rc::new(Cell::new(0));
    let count = Rc::clone(&notified);
    let cssom = Cssom::install(
        &window(),
        &document(),
        Rc::new(move || count.set(count.get() + 1)),
    );
    (cap, cssom, notified)
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &key.into()).unwrap()
}

fn call(obj: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f: Function = get(obj, method).dyn_into().unwrap();
    f.apply(obj, &args.iter().collect::<Array>())
}

fn sheet_of(el: &web_sys::Element) -> JsValue {
    get(el, "sheet")
}

fn id(cap: &Capture, el: &web_sys::Element) -> NodeId {
    cap.ids.get(el).expect("an id")
}

fn sheets(events: Vec<Event>) -> Vec<SheetChange> {
    events
        .into_iter()
        .filter_map(|e| match e {
            Event::Sheet(s) => Some(s),
            _ => None,
        })
        .collect()
}

fn new_sheet() -> JsValue {
    let class: Function = get(&window(), "CSSStyleSheet").dyn_into().unwrap();
    Reflect::construct(&class, &Array::new()).unwrap()
}

fn set_adopted(list: &[JsValue]) {
    let array: Array = list.iter().collect();
    Reflect::set(&document(), &"adoptedStyleSheets".into(), &array).unwrap();
}

#[wasm_bindgen_test]
fn rules_inserted_into_an_empty_style_are_sent_right_after_the_snapshot() {
    let f = Fixture::new(
        "cssom-empty",
        r#"<style id="speedy"></style><style id="plain">.p { color: red; }</style>"#,
    );
    let speedy = f.get("#speedy");
    call(
        &sheet_of(&speedy),
        "insertRule",
        &[".sc-a { margin: 3px; }".into(), 0.into()],
    )
    .unwrap();
    let (cap, cssom, _) = live();
    let changes = sheets(cssom.after_snapshot(&cap.ids));
    assert_eq!(
        changes,
        [SheetChange::Rules {
            sheet: SheetRef::Owner(id(&cap, &speedy)),
            rules: vec![".sc-a { margin: 3px; }".into()],
        }],
        "the plain <style> says what it holds: not sent"
    );
}

#[wasm_bindgen_test]
fn a_style_whose_rules_changed_since_its_text_is_sent_whole() {
    let f = Fixture::new(
        "cssom-changed",
        r#"<style id="s">.a { color: red; } .b { color: blue; }</style>"#,
    );
    let style = f.get("#s");
    call(&sheet_of(&style), "deleteRule", &[1.into()]).unwrap();
    let (cap, cssom, _) = live();
    let changes = sheets(cssom.after_snapshot(&cap.ids));
    assert_eq!(
        changes,
        [SheetChange::Rules {
            sheet: SheetRef::Owner(id(&cap, &style)),
            rules: vec![".a { color: red; }".into()],
        }]
    );
}

#[wasm_bindgen_test]
fn inserts_and_deletes_are_reported_in_order_with_paths_through_grouping_rules() {
    let f = Fixture::new(
        "cssom-paths",
        r#"<style id="s">@media screen { .m { color: red; } }</style>"#,
    );
    let style = f.get("#s");
    let (cap, cssom, notified) = live();
    assert!(sheets(cssom.after_snapshot(&cap.ids)).is_empty());
    let sheet = sheet_of(&style);
    call(
        &sheet,
        "insertRule",
        &[".top { color: blue; }".into(), 1.into()],
    )
    .unwrap();
    let media = Reflect::get_u32(&get(&sheet, "cssRules"), 0).unwrap();
    call(
        &media,
        "insertRule",
        &[".in { color: green; }".into(), 1.into()],
    )
    .unwrap();
    call(&media, "deleteRule", &[0.into()]).unwrap();
    assert!(notified.get() > 0, "the wrappers asked for a flush");
    let owner = SheetRef::Owner(id(&cap, &style));
    assert_eq!(
        sheets(cssom.flush(&cap.ids)),
        [
            SheetChange::Insert {
                sheet: owner,
                path: vec![1],
                rule: ".top { color: blue; }".into()
            },
            SheetChange::Insert {
                sheet: owner,
                path: vec![0, 1],
                rule: ".in { color: green; }".into()
            },
            SheetChange::Delete {
                sheet: owner,
                path: vec![0, 0]
            },
        ]
    );
    assert!(
        sheets(cssom.flush(&cap.ids)).is_empty(),
        "a flush empties the log"
    );
}

#[wasm_bindgen_test]
fn set_property_on_a_rule_resends_its_sheet_once_per_flush() {
    let f = Fixture::new("cssom-prop", r#"<style id="s">.a { color: red; }</style>"#);
    let style = f.get("#s");
    let (cap, cssom, _) = live();
    cssom.after_snapshot(&cap.ids);
    let rule = Reflect::get_u32(&get(&sheet_of(&style), "cssRules"), 0).unwrap();
    let declaration = get(&rule, "style");
    call(
        &declaration,
        "setProperty",
        &["color".into(), "blue".into()],
    )
    .unwrap();
    call(
        &declaration,
        "setProperty",
        &["margin".into(), "2px".into()],
    )
    .unwrap();
    call(&declaration, "removeProperty", &["margin".into()]).unwrap();
    // An element's own style is an attribute mutation, not a sheet change.
    let inline = get(&f.root, "style");
    call(&inline, "setProperty", &["color".into(), "red".into()]).unwrap();
    assert_eq!(
        sheets(cssom.flush(&cap.ids)),
        [SheetChange::Rules {
            sheet: SheetRef::Owner(id(&cap, &style)),
            rules: vec![".a { color: blue; }".into()],
        }]
    );
}

#[wasm_bindgen_test]
fn constructed_sheets_are_sent_before_the_adoption_that_names_them() {
    let (cap, cssom, _) = live();
    cssom.after_snapshot(&cap.ids);
    let sheet = new_sheet();
    call(&sheet, "replaceSync", &[".k { color: teal; }".into()]).unwrap();
    assert!(
        sheets(cssom.flush(&cap.ids)).is_empty(),
        "a sheet nobody adopted is not the console's business"
    );
    set_adopted(&[sheet.clone()]);
    let doc = cap.ids.get(&document()).unwrap();
    let changes = sheets(cssom.flush(&cap.ids));
    let SheetChange::Rules {
        sheet: SheetRef::Constructed(n),
        rules,
    } = &changes[0]
    else {
        panic!("rules first: {changes:?}")
    };
    assert_eq!(rules, &[".k { color: teal; }".to_owned()]);
    assert_eq!(
        changes[1],
        SheetChange::Adopted {
            root: doc,
            sheets: vec![*n]
        }
    );
    call(
        &sheet,
        "insertRule",
        &[".j { color: navy; }".into(), 1.into()],
    )
    .unwrap();
    assert_eq!(
        sheets(cssom.flush(&cap.ids)),
        [SheetChange::Insert {
            sheet: SheetRef::Constructed(*n),
            path: vec![1],
            rule: ".j { color: navy; }".into()
        }]
    );
    // After a snapshot the console has no constructed sheet: all again.
    let again = sheets(cssom.after_snapshot(&cap.ids));
    assert!(
        matches!(&again[..], [SheetChange::Rules { sheet: SheetRef::Constructed(m), rules }, SheetChange::Adopted { .. }] if m == n && rules.len() == 2),
        "{again:?}"
    );
    set_adopted(&[]);
    assert_eq!(
        sheets(cssom.flush(&cap.ids)),
        [SheetChange::Adopted {
            root: doc,
            sheets: vec![]
        }]
    );
}

#[wasm_bindgen_test]
fn urls_in_inserted_rules_are_made_absolute() {
    let f = Fixture::new("cssom-url", r#"<style id="s"></style>"#);
    let style = f.get("#s");
    let (cap, cssom, _) = live();
    cssom.after_snapshot(&cap.ids);
    call(
        &sheet_of(&style),
        "insertRule",
        &[".u { background: url(img/a.png); }".into(), 0.into()],
    )
    .unwrap();
    let base = document().base_uri().unwrap().unwrap();
    let expected = web_sys::Url::new_with_base("img/a.png", &base)
        .unwrap()
        .href();
    let changes = sheets(cssom.flush(&cap.ids));
    let SheetChange::Insert { rule, .. } = &changes[0] else {
        panic!("{changes:?}")
    };
    assert_eq!(rule, &format!(".u {{ background: url(\"{expected}\"); }}"));
}

#[wasm_bindgen_test]
fn the_page_sees_the_originals_results_and_errors_and_the_wrappers_leave_with_the_capture() {
    let proto = get(&get(&window(), "CSSStyleSheet"), "prototype");
    let original = get(&proto, "insertRule");
    let f = Fixture::new("cssom-errors", r#"<style id="s"></style>"#);
    let sheet = sheet_of(&f.get("#s"));
    let (cap, cssom, _) = live();
    assert!(
        !js_sys::Object::is(&get(&proto, "insertRule"), &original),
        "wrapped"
    );
    let at = call(&sheet, "insertRule", &[".a {}".into(), 0.into()]).unwrap();
    assert_eq!(at.as_f64(), Some(0.0), "the original's result");
    let err = call(&sheet, "insertRule", &["@@@ not a rule {".into(), 0.into()]).unwrap_err();
    assert_eq!(
        get(&err, "name").as_string().as_deref(),
        Some("SyntaxError")
    );
    assert_eq!(
        sheets(cssom.flush(&cap.ids)).len(),
        1,
        "a refused rule is not reported"
    );
    drop(cssom);
    assert!(
        js_sys::Object::is(&get(&proto, "insertRule"), &original),
        "restored"
    );
}

#[wasm_bindgen_test]
fn a_wrapper_the_page_wrapped_in_turn_goes_quiet_instead_of_breaking_the_page() {
    let proto = get(&get(&window(), "CSSStyleSheet"), "prototype");
    let original = get(&proto, "deleteRule");
    let f = Fixture::new("cssom-rewrapped", r#"<style id="s">.a {} .b {}</style>"#);
    let sheet = sheet_of(&f.get("#s"));
    let (_cap, cssom, notified) = live();
    // The page wraps our wrapper (as monitoring scripts do).
    let ours = get(&proto, "deleteRule");
    let page_wrapper = Function::new_with_args("i", "return this.__ours.call(this, i);");
    Reflect::set(&sheet, &"__ours".into(), &ours).unwrap();
    Reflect::set(&proto, &"deleteRule".into(), &page_wrapper).unwrap();
    drop(cssom);
    let before = notified.get();
    call(&sheet, "deleteRule", &[0.into()]).unwrap();
    assert_eq!(
        notified.get(),
        before,
        "no hook runs after the capture ended"
    );
    assert_eq!(get(&get(&sheet, "cssRules"), "length").as_f64(), Some(1.0));
    Reflect::set(&proto, &"deleteRule".into(), &original).unwrap();
}

#[wasm_bindgen_test]
async fn fonts_made_and_added_in_script_are_sent_with_absolute_or_data_sources() {
    let (cap, cssom, _) = live();
    cssom.after_snapshot(&cap.ids);
    let class: Function = get(&window(), "FontFace").dyn_into().unwrap();
    let descriptors = js_sys::Object::new();
    Reflect::set(&descriptors, &"weight".into(), &"700".into()).unwrap();
    let by_url = Reflect::construct(
        &class,
        &Array::of3(
            &"Brand".into(),
            &"url(fonts/b.woff2) format(\"woff2\")".into(),
            &descriptors,
        ),
    )
    .unwrap();
    let bytes = js_sys::Uint8Array::from(&b"Man"[..]);
    let by_bytes = Reflect::construct(&class, &Array::of2(&"Raw".into(), &bytes.buffer())).unwrap();
    let fonts = get(&document(), "fonts");
    call(&fonts, "add", &[by_url.clone()]).unwrap();
    call(&fonts, "add", &[by_bytes.clone()]).unwrap();
    let sent: Vec<_> = cssom
        .flush(&cap.ids)
        .into_iter()
        .filter_map(|e| match e {
            Event::Font(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let base = document().base_uri().unwrap().unwrap();
    let abs = web_sys::Url::new_with_base("fonts/b.woff2", &base)
        .unwrap()
        .href();
    assert_eq!(sent[0].family, "Brand");
    assert_eq!(sent[0].source, format!("url(\"{abs}\") format(\"woff2\")"));
    assert_eq!(sent[0].descriptors, [protocol::Attr::new("weight", "700")]);
    assert_eq!(
        sent[1].source,
        "url(\"data:application/octet-stream;base64,TWFu\")"
    );
    let again = cssom.after_snapshot(&cap.ids);
    assert_eq!(
        again.iter().filter(|e| matches!(e, Event::Font(_))).count(),
        2,
        "every snapshot is followed by the fonts added so far"
    );
    call(&fonts, "delete", &[by_url]).unwrap();
    call(&fonts, "delete", &[by_bytes]).unwrap();
}

#[wasm_bindgen_test]
fn the_visitor_uis_own_sheets_are_never_sent() {
    let ui = document().create_element("cobrowse-ui").unwrap();
    let root = ui
        .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
        .unwrap();
    root.set_inner_html("<style>.panel { color: red; }</style>");
    document().body().unwrap().append_child(&ui).unwrap();
    let (cap, cssom, _) = live();
    cssom.after_snapshot(&cap.ids);
    let style = root.query_selector("style").unwrap().unwrap();
    call(&sheet_of(&style), "insertRule", &[".x {}".into(), 0.into()]).unwrap();
    let own = new_sheet();
    Reflect::set(&root, &"adoptedStyleSheets".into(), &Array::of1(&own)).unwrap();
    assert!(sheets(cssom.flush(&cap.ids)).is_empty());
    ui.remove();
}
