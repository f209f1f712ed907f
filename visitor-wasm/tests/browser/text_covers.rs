//! The text path of a mutation flush and the class-token shortcut
//! (`MutationTracker::flush`, `cover_deps::class_change_matters`): a text
//! change is masked by its parent's sent state when the sent states hold,
//! with the parent as the planner read it, and a class change that adds or
//! removes no class a rule names skips the re-check. Each test leaks a
//! canary if a shortcut trusted the wrong thing.

use protocol::Event;
use visitor_wasm::mask::Rules;
use visitor_wasm::{Capture, MutationTracker};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::util::*;

fn set_class(el: &web_sys::Element, value: &str) {
    el.set_attribute("class", value).unwrap();
}

#[wasm_bindgen_test]
fn a_text_changed_as_a_class_on_an_ancestor_masks_its_parent_is_masked() {
    let (f, mut cap, t) = observed(
        "tc-anc",
        "<div id='a' class='x'><section><p id='p'>plain</p></section></div>",
        capture_with(&[".secret p"], &[], false),
    );
    set_class(&f.get("#a"), "x secret");
    set_text(&f.get("#p"), "cnry-ta-text");
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-ta-text"]);
    assert_eq!(text(&resent(&cap, &batch, &f.get("#p"))), "************");
}

#[wasm_bindgen_test]
fn a_text_moved_into_a_masked_parent_and_changed_in_the_same_flush_is_masked() {
    let (f, mut cap, t) = observed(
        "tc-move",
        "<p id='open'>plain words</p><p id='shut' data-cobrowse-mask>x</p>",
        Capture::with_rules(Rules::default()),
    );
    let node = f.get("#open").first_child().unwrap();
    f.get("#shut").append_child(&node).unwrap();
    node.set_node_value(Some("cnry-tm-text"));
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-tm-text"]);
    assert!(!batch.adds.is_empty(), "the moved text is sent: {batch:?}");
}

#[wasm_bindgen_test]
fn a_text_right_under_the_shadow_root_of_a_masked_host_stays_masked() {
    let f = Fixture::new("tc-shadow", "<div id='h' data-cobrowse-mask></div>");
    let root = f
        .get("#h")
        .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
        .unwrap();
    root.set_inner_html("shadow words");
    let mut cap = Capture::with_rules(Rules::default());
    let t = MutationTracker::start(&document(), Box::new(|| {})).unwrap();
    visitor_wasm::snapshot(&document(), &mut cap).unwrap();
    t.observe_found(&mut cap);
    root.first_child()
        .unwrap()
        .set_node_value(Some("cnry-ts-text"));
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-ts-text"]);
    assert_eq!(batch.texts.len(), 1, "{batch:?}");
}

/// Removes a node of the document itself when the test ends.
struct Remove(web_sys::Node);

impl Drop for Remove {
    fn drop(&mut self) {
        if let Some(p) = self.0.parent_node() {
            let _ = p.remove_child(&self.0);
        }
    }
}

#[wasm_bindgen_test]
fn a_comment_of_the_document_itself_follows_private_by_default() {
    let doc = document();
    // (web_sys's `Comment` is not among the crate's features.)
    let create: js_sys::Function = js_sys::Reflect::get(&doc, &"createComment".into())
        .unwrap()
        .unchecked_into();
    let comment: web_sys::Node = create.call1(&doc, &"note".into()).unwrap().unchecked_into();
    doc.insert_before(&comment, doc.document_element().as_ref().map(AsRef::as_ref))
        .unwrap();
    let _guard = Remove(comment.clone());
    let (_f, mut cap, t) = observed("tc-doc", "<p>x</p>", capture_with(&[], &[], true));
    assert!(cap.ids.get(&comment).is_some(), "the comment was sent");
    comment.set_node_value(Some("cnry-td-text"));
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-td-text"]);
    assert_eq!(batch.texts.len(), 1, "{batch:?}");
}

#[wasm_bindgen_test]
fn a_text_storm_masks_exactly_the_cells_a_mask_covers() {
    let mut html = String::from("<table><tbody><tr>");
    for i in 0..300 {
        let marker = if i % 7 == 3 {
            " data-cobrowse-mask"
        } else {
            ""
        };
        html.push_str(&format!("<td{marker}>cell {i}</td>"));
        if i % 10 == 9 {
            html.push_str("</tr><tr>");
        }
    }
    html.push_str("</tr></tbody></table>");
    let (f, mut cap, t) = observed("tc-storm", &html, Capture::with_rules(Rules::default()));
    let cells = f.root.query_selector_all("td").unwrap();
    for i in 0..cells.length() {
        let td: web_sys::Element = cells.item(i).unwrap().unchecked_into();
        set_text(&td, &format!("cnry-s{i}-"));
    }
    let batch = t.flush(&mut cap);
    assert_eq!(batch.texts.len(), 300);
    let bytes = protocol::encode(&Event::Mutations(batch.clone())).unwrap();
    for i in 0..300 {
        let canary = format!("cnry-s{i}-");
        assert_eq!(contains(&bytes, &canary), i % 7 != 3, "{canary}");
    }
}

#[wasm_bindgen_test]
fn reordering_the_classes_of_a_masked_element_keeps_it_masked_and_sends_the_class() {
    let (f, mut cap, t) = observed(
        "tc-order",
        "<p id='p' class='a secret'>cnry-to-text</p>",
        capture_with(&[".secret"], &[], false),
    );
    let p = f.get("#p");
    set_class(&p, "secret a");
    set_text(&p, "cnry-to-text2");
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-to-text"]);
    assert!(batch.adds.is_empty(), "nothing is re-sent: {batch:?}");
    assert!(
        batch
            .attrs
            .iter()
            .any(|a| a.name == "class" && a.value.as_deref() == Some("secret a")),
        "{batch:?}"
    );
}

#[wasm_bindgen_test]
fn adding_a_named_class_masks_and_removing_it_unmasks() {
    let (f, mut cap, t) = observed(
        "tc-add",
        "<p id='p' class='a'>cnry-tn-text</p>",
        capture_with(&[".secret"], &[], false),
    );
    let p = f.get("#p");
    set_class(&p, "a secret");
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-tn-text"]);
    resent(&cap, &batch, &p);

    // Reordered while masked: still masked, a later text too.
    set_class(&p, "secret a");
    set_text(&p, "cnry-tn-text2");
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-tn-text"]);

    set_class(&p, "a");
    let batch = t.flush(&mut cap);
    assert_eq!(text(&resent(&cap, &batch, &p)), "cnry-tn-text2");
}

#[wasm_bindgen_test]
fn a_named_class_added_and_removed_within_one_flush_needs_no_resend() {
    let (f, mut cap, t) = observed(
        "tc-flip",
        "<p id='p' class='a'>open</p>",
        capture_with(&[".secret"], &[], false),
    );
    let p = f.get("#p");
    set_class(&p, "a secret");
    set_class(&p, "a");
    set_text(&p, "still open");
    let batch = t.flush(&mut cap);
    assert!(
        batch.texts.iter().any(|t| t.text == "still open"),
        "{batch:?}"
    );
}

#[wasm_bindgen_test]
fn a_class_differing_only_in_case_is_re_checked() {
    // A standards-mode page matches `.secret` on `secret` only: going from
    // `Secret` to `secret` masks it (a quirks-mode page masked it already).
    let (f, mut cap, t) = observed(
        "tc-case",
        "<p id='p' class='Secret'>x</p>",
        capture_with(&[".secret"], &[], false),
    );
    let p = f.get("#p");
    set_class(&p, "secret");
    set_text(&p, "cnry-tk-text");
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-tk-text"]);
}

#[wasm_bindgen_test]
fn a_rule_on_the_class_attribute_text_re_checks_every_class_change() {
    // `[class^=sec]` matches the value's text, not a token.
    let (f, mut cap, t) = observed(
        "tc-attr",
        "<p id='p' class='x'>x</p>",
        capture_with(&[".other", "[class^=sec]"], &[], false),
    );
    let p = f.get("#p");
    set_class(&p, "secret x");
    set_text(&p, "cnry-tt-text");
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-tt-text"]);
    resent(&cap, &batch, &p);
}

#[wasm_bindgen_test]
fn an_escaped_class_name_in_a_rule_re_checks_every_class_change() {
    let (f, mut cap, t) = observed(
        "tc-esc",
        "<p id='p' class='x'>x</p>",
        capture_with(&[".a\\:b", ".sec\\72 et"], &[], false),
    );
    let p = f.get("#p");
    set_class(&p, "x a:b");
    set_text(&p, "cnry-te-text");
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-te-text"]);
    resent(&cap, &batch, &p);

    let (f, mut cap, t) = observed(
        "tc-esc2",
        "<p id='q' class='x'>x</p>",
        capture_with(&[".a\\:b", ".sec\\72 et"], &[], false),
    );
    let q = f.get("#q");
    set_class(&q, "x secret");
    set_text(&q, "cnry-te-text2");
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-te-text2"]);
}

#[wasm_bindgen_test]
fn a_namespaced_class_attribute_does_not_stand_in_for_the_class() {
    // An attribute `class` in another namespace comes first in the list,
    // so `getAttribute('class')` would read it; class selectors read the
    // one in no namespace.
    let f = Fixture::new("tc-ns", "<p id='p'>cnry-tx-text</p>");
    let p = f.get("#p");
    p.set_attribute_ns(Some("urn:x"), "class", "a").unwrap();
    p.set_attribute_ns(None, "class", "a").unwrap();
    let mut cap = capture_with(&[".secret"], &[], false);
    let t = MutationTracker::start(&document(), Box::new(|| {})).unwrap();
    visitor_wasm::snapshot(&document(), &mut cap).unwrap();
    t.observe_found(&mut cap);
    p.set_attribute_ns(None, "class", "a secret").unwrap();
    set_text(&p, "cnry-tx-text2");
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-tx-text"]);
}
