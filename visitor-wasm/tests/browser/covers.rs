//! A mutation flush re-checks masking and blocking only after an attribute
//! change a rule can match on, and trusts what was sent for the rest
//! (`cover_deps.rs`, `MutationTracker::flush`). Each test here would leak a
//! canary if that shortcut skipped a change that matters or trusted a
//! state that no longer holds.

use visitor_wasm::mask::Rules;
use visitor_wasm::{snapshot, Capture, MutationTracker};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::util::*;

#[wasm_bindgen_test]
fn a_class_on_an_ancestor_masks_a_deep_descendant_of_a_descendant_rule() {
    let (f, mut cap, t) = observed(
        "cv-deep",
        "<div id='a'><section><div><p id='deep' title='cnry-d-title'>cnry-d-text</p></div></section></div>",
        capture_with(&[".secret p"], &[], false),
    );
    f.get("#a").class_list().add_1("secret").unwrap();
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-d-text", "cnry-d-title"]);
    let deep = f.get("#deep");
    assert_eq!(text(&resent(&cap, &batch, &deep)), "***********");

    // Later changes to it stay masked, whatever attribute carries them.
    deep.set_attribute("title", "cnry-d-later").unwrap();
    deep.set_attribute("data-x", "cnry-d-data").unwrap();
    set_text(&deep, "cnry-d-text2");
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-d-later", "cnry-d-data", "cnry-d-text2"]);
    assert_eq!(batch.texts.len(), 1, "{batch:?}");
}

#[wasm_bindgen_test]
fn a_class_toggled_on_a_leaf_masks_it_and_toggled_off_unmasks_it() {
    let (f, mut cap, t) = observed(
        "cv-leaf",
        "<span id='leaf' title='t0'>cnry-l-text</span>",
        capture_with(&[".secret"], &[], false),
    );
    let leaf = f.get("#leaf");
    leaf.class_list().toggle("secret").unwrap();
    leaf.set_attribute("title", "cnry-l-title").unwrap();
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-l-text", "cnry-l-title"]);
    resent(&cap, &batch, &leaf);

    leaf.class_list().toggle("secret").unwrap();
    let batch = t.flush(&mut cap);
    let node = resent(&cap, &batch, &leaf);
    assert_eq!(text(&node), "cnry-l-text");
    assert_eq!(attr(&node, "class"), Some(""));
}

#[wasm_bindgen_test]
fn under_the_default_rules_a_class_change_is_sent_and_the_markers_still_mask() {
    let (f, mut cap, t) = observed(
        "cv-marker",
        "<p id='open' class='a'>open text</p>\
         <div data-cobrowse-mask><p id='in' class='a' title='cnry-m-title'>cnry-m-text</p></div>",
        Capture::with_rules(Rules::default()),
    );
    let open = f.get("#open");
    let inside = f.get("#in");
    open.class_list().toggle("on").unwrap();
    inside.class_list().toggle("on").unwrap();
    inside.set_attribute("title", "cnry-m-title2").unwrap();
    set_text(&inside, "cnry-m-text2");
    set_text(&open, "open text 2");
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-m-title", "cnry-m-text"]);
    assert!(batch.adds.is_empty(), "nothing is re-sent: {batch:?}");
    let open_id = cap.ids.get(&open).unwrap();
    assert!(batch
        .attrs
        .iter()
        .any(|a| a.id == open_id && a.name == "class" && a.value.as_deref() == Some("a on")));
    assert!(
        batch.texts.iter().any(|t| t.text == "open text 2"),
        "{batch:?}"
    );

    // The marker set on the open paragraph masks it, removed unmasks it.
    open.set_attribute("data-cobrowse-mask", "").unwrap();
    set_text(&open, "cnry-m-open");
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-m-open"]);
    resent(&cap, &batch, &open);
    open.remove_attribute("data-cobrowse-mask").unwrap();
    let batch = t.flush(&mut cap);
    assert_eq!(text(&resent(&cap, &batch, &open)), "cnry-m-open");
}

#[wasm_bindgen_test]
fn a_custom_attribute_selector_rule_masks_typed_values_once_its_attribute_is_set() {
    let (f, mut cap, t) = observed(
        "cv-attrsel",
        "<form id='fm'><input id='card' value='cnry-a-default'><p id='fp'>cnry-a-text</p></form>",
        capture_with(
            &["[data-private] input", "form[data-private] p"],
            &[],
            false,
        ),
    );
    let form = f.get("#fm");
    let card = f.get("#card");
    form.set_attribute("data-private", "").unwrap();
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-a-default", "cnry-a-text"]);
    resent(&cap, &batch, &card);
    resent(&cap, &batch, &f.get("#fp"));

    set_value(&card, "cnry-a-typed");
    let states = cap.input_states(&card);
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].1.value, None);
    assert_eq!(states[0].1.masked_len, Some(12));
    card.set_attribute("value", "cnry-a-attr").unwrap();
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-a-attr"]);
    assert_eq!(
        batch
            .attrs
            .iter()
            .find(|a| a.name == "value")
            .unwrap()
            .value,
        Some("***********".into())
    );
}

#[wasm_bindgen_test]
fn a_not_rule_reacts_to_the_attribute_it_names_inside() {
    let (f, mut cap, t) = observed(
        "cv-not",
        "<p id='np' data-show>cnry-n-text</p>",
        capture_with(&["p:not([data-show])"], &[], false),
    );
    let p = f.get("#np");
    p.remove_attribute("data-show").unwrap();
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-n-text"]);
    resent(&cap, &batch, &p);
    set_text(&p, "cnry-n-later");
    assert_absent_from_batch(&t.flush(&mut cap), &["cnry-n-later"]);
}

/// A rule that a change beside the element makes match: the element is sent
/// again masked in that change's flush (`recheck_trees`), and its next
/// attribute change stays masked.
#[wasm_bindgen_test]
fn under_a_sibling_rule_the_element_is_resent_masked_and_its_next_change_stays_masked() {
    let (f, mut cap, t) = observed(
        "cv-sib",
        "<div id='flag'></div><p id='sp'>cnry-s-text</p>",
        capture_with(&[".flag + p"], &[], false),
    );
    let p = f.get("#sp");
    f.get("#flag").class_list().add_1("flag").unwrap();
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-s-text"]);
    resent(&cap, &batch, &p);
    p.set_attribute("title", "cnry-s-title").unwrap();
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-s-text", "cnry-s-title"]);
}

#[wasm_bindgen_test]
fn a_block_rule_on_an_attribute_blocks_when_an_ancestor_gets_it() {
    let (f, mut cap, t) = observed(
        "cv-block",
        "<div id='bw'><ul><li id='bl' data-x='cnry-b-data'>cnry-b-text</li></ul></div>",
        capture_with(&[], &["[data-hide] li"], false),
    );
    f.get("#bw").set_attribute("data-hide", "1").unwrap();
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-b-data", "cnry-b-text"]);
    let node = resent(&cap, &batch, &f.get("#bl"));
    assert_eq!(attr(&node, "data-cobrowse-blocked"), Some(""));

    // Nothing of a blocked element follows, even attributes no rule names.
    f.get("#bl").set_attribute("title", "cnry-b-title").unwrap();
    assert_absent_from_batch(&t.flush(&mut cap), &["cnry-b-title"]);
}

#[wasm_bindgen_test]
fn private_by_default_masks_a_region_whose_unmask_marker_goes() {
    let (f, mut cap, t) = observed(
        "cv-private",
        "<div id='pub' data-cobrowse-unmask><p id='pp' title='cnry-p-title'>cnry-p-text</p></div>",
        capture_with(&[], &[], true),
    );
    f.get("#pub")
        .remove_attribute("data-cobrowse-unmask")
        .unwrap();
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-p-text", "cnry-p-title"]);
    resent(&cap, &batch, &f.get("#pub"));
    let pp = f.get("#pp");
    pp.class_list().add_1("x").unwrap();
    pp.set_attribute("title", "cnry-p-title2").unwrap();
    set_text(&pp, "cnry-p-text2");
    assert_absent_from_batch(&t.flush(&mut cap), &["cnry-p-title2", "cnry-p-text2"]);
}

#[wasm_bindgen_test]
fn inside_a_shadow_root_a_class_rule_and_a_host_marker_mask() {
    let (f, mut cap, t) = observed("cv-shadow", "<div id='sh'></div>", {
        capture_with(&[".secret"], &[], false)
    });
    let host = f.get("#sh");
    let root = host
        .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
        .unwrap();
    root.set_inner_html("<p id='sp' title='t'>cnry-h-text</p><b id='sb'>cnry-h-bold</b>");
    // The root attached after the snapshot comes in the next batch.
    let _ = t.flush(&mut cap);
    t.observe_found(&mut cap);
    let p = root.get_element_by_id("sp").unwrap();
    p.class_list().add_1("secret").unwrap();
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-h-text"]);
    resent(&cap, &batch, &p);

    host.set_attribute("data-cobrowse-mask", "").unwrap();
    let b = root.get_element_by_id("sb").unwrap();
    b.set_attribute("title", "cnry-h-title").unwrap();
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-h-bold", "cnry-h-title"]);
    set_text(&b, "cnry-h-later");
    assert_absent_from_batch(&t.flush(&mut cap), &["cnry-h-later"]);
}

#[wasm_bindgen_test]
fn inside_a_same_origin_frame_a_descendant_rule_masks_when_its_body_gets_the_class() {
    let f = Fixture::new("cv-frame", "<iframe id='cf'></iframe>");
    let doc: web_sys::Document = js_sys::Reflect::get(&f.get("#cf"), &"contentDocument".into())
        .unwrap()
        .unchecked_into();
    doc.body()
        .unwrap()
        .set_inner_html("<div><p id='fp' title='t'>cnry-f-text</p></div>");
    let mut cap = capture_with(&[".secret p"], &[], false);
    let t = MutationTracker::start(&document(), Box::new(|| {})).unwrap();
    snapshot(&document(), &mut cap).unwrap();
    t.observe_found(&mut cap);

    let p = doc.get_element_by_id("fp").unwrap();
    doc.body().unwrap().class_list().add_1("secret").unwrap();
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-f-text"]);
    resent(&cap, &batch, &p);
    p.set_attribute("title", "cnry-f-title").unwrap();
    set_text(&p, "cnry-f-later");
    assert_absent_from_batch(&t.flush(&mut cap), &["cnry-f-title", "cnry-f-later"]);
}

#[wasm_bindgen_test]
fn an_element_unmasked_by_a_removed_class_sends_its_changes_in_clear() {
    let (f, mut cap, t) = observed(
        "cv-unmask",
        "<div id='ua' class='secret'><p id='up' title='t0'>hidden</p></div>",
        capture_with(&[".secret p"], &[], false),
    );
    f.get("#ua").class_list().remove_1("secret").unwrap();
    let _ = t.flush(&mut cap);
    let p = f.get("#up");
    set_text(&p, "shown now");
    let batch = t.flush(&mut cap);
    assert!(
        batch.texts.iter().any(|t| t.text == "shown now"),
        "{batch:?}"
    );
}

#[wasm_bindgen_test]
fn only_a_change_that_can_move_a_url_or_a_cover_asks_for_a_resource_rescan() {
    let (f, mut cap, t) = observed(
        "cv-res",
        "<p id='rp'>text</p><img id='ri' src='/a.png'><style id='rs'>p{}</style>",
        Capture::with_rules(Rules::default()),
    );
    let p = f.get("#rp");
    p.class_list().toggle("on").unwrap();
    set_text(&p, "other text");
    let _ = t.flush(&mut cap);
    assert!(!t.resources_touched(), "a class and a paragraph's text");

    f.get("#ri").set_attribute("src", "/b.png").unwrap();
    let _ = t.flush(&mut cap);
    assert!(t.resources_touched(), "an image's source");

    set_text(&f.get("#rs"), "p{background:url(/c.png)}");
    let _ = t.flush(&mut cap);
    assert!(t.resources_touched(), "a style's text");

    p.append_child(&document().create_element("img").unwrap())
        .unwrap();
    let _ = t.flush(&mut cap);
    assert!(t.resources_touched(), "an added element");

    p.set_attribute("data-cobrowse-mask", "").unwrap();
    let _ = t.flush(&mut cap);
    assert!(t.resources_touched(), "a mask marker");
}

#[wasm_bindgen_test]
fn under_a_class_rule_only_a_change_of_a_named_class_asks_for_a_resource_rescan() {
    let (f, mut cap, t) = observed(
        "cv-res-class",
        "<p id='rc'>text</p>",
        capture_with(&[".secret"], &[], false),
    );
    f.get("#rc").class_list().toggle("on").unwrap();
    let _ = t.flush(&mut cap);
    assert!(!t.resources_touched(), "a class no rule names");
    f.get("#rc").class_list().toggle("secret").unwrap();
    let _ = t.flush(&mut cap);
    assert!(t.resources_touched(), "a class a rule names");
}

/// A rule that a change beside the element makes match: the element is sent
/// again masked in the same flush, though none of its own attributes changed.
#[wasm_bindgen_test]
fn a_sibling_rule_that_starts_matching_resends_the_element_masked_at_once() {
    let (f, mut cap, t) = observed(
        "cv-sib-now",
        "<div id='flag2'></div><p id='sp2' title='cnry-n-title'>cnry-n-text</p>",
        capture_with(&[".flag + p"], &[], false),
    );
    let p = f.get("#sp2");
    f.get("#flag2").class_list().add_1("flag").unwrap();
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-n-text", "cnry-n-title"]);
    assert_eq!(text(&resent(&cap, &batch, &p)), "***********");
}

/// `:has()`: a child added below an element makes a rule cover it.
#[wasm_bindgen_test]
fn a_has_rule_that_an_added_child_makes_match_resends_the_element_masked() {
    let (f, mut cap, t) = observed(
        "cv-has",
        "<div id='box'><p>cnry-h-text</p></div>",
        capture_with(&["div:has(> .card)"], &[], false),
    );
    let child = document().create_element("span").unwrap();
    child.set_class_name("card");
    child.set_text_content(Some("cnry-h-added"));
    f.get("#box").append_child(&child).unwrap();
    let batch = t.flush(&mut cap);
    assert_absent_from_batch(&batch, &["cnry-h-text", "cnry-h-added"]);
    resent(&cap, &batch, &f.get("#box"));
}
