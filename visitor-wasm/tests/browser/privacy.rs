//! Every leak path of a masked or blocked element, through the crate's seams
//! (`Capture`, `snapshot`, `MutationTracker`): a unique canary is planted in
//! each place, and the encoded messages must never contain it.

use protocol::{Event, MutationBatch, Node};
use visitor_wasm::{snapshot, Capture};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::util::*;

fn snap_bytes(cap: &mut Capture) -> (Vec<u8>, Node) {
    let snap = snapshot(&document(), cap).unwrap();
    let root = snap.root.clone();
    (protocol::encode(&Event::Snapshot(snap)).unwrap(), root)
}

fn batch_bytes(batch: &MutationBatch) -> Vec<u8> {
    protocol::encode(&Event::Mutations(batch.clone())).unwrap()
}

fn assert_absent(bytes: &[u8], canaries: &[&str]) {
    for c in canaries {
        assert!(!contains(bytes, c), "{c} left the page");
    }
}

const MASKED_HTML: &str = r##"<div data-cobrowse-mask id="box">
  <p id="t">cnry-text one</p>
  <input id="i" value="cnry-value" placeholder="cnry-placeholder" title="cnry-title"
         aria-label="cnry-aria" data-who="cnry-data" name="field">
  <img id="im" alt="cnry-alt" src="/pic.png?u=cnry-src#cnry-frag"
       srcset="/a.png?u=cnry-srcset 1x">
  <a id="ln" href="/acct/statement?acct=cnry-href" aria-expanded="false">x</a>
  <a id="ml" href="mailto:cnry-mail@example.com">m</a>
  <input id="cb" type="checkbox" checked>
  <!-- cnry-comment -->
</div>"##;

const CANARIES: [&str; 12] = [
    "cnry-text",
    "cnry-value",
    "cnry-placeholder",
    "cnry-title",
    "cnry-aria",
    "cnry-data",
    "cnry-alt",
    "cnry-src",
    "cnry-frag",
    "cnry-srcset",
    "cnry-href",
    "cnry-mail",
];

#[wasm_bindgen_test]
fn a_masked_subtree_sends_placeholders_for_every_content_carrying_place() {
    let (f, mut cap, _t) = observed("priv-snap", MASKED_HTML, capture_with(&[], &[], false));
    let (bytes, root) = snap_bytes(&mut cap);
    assert_absent(&bytes, &CANARIES);
    assert!(!contains(&bytes, "cnry-comment"));
    assert_eq!(
        text(find_id(&root, "t")),
        "********* ***",
        "same length, spaces kept"
    );
    let input = find_id(&root, "i");
    assert_eq!(attr(input, "placeholder"), Some("****************"));
    assert_eq!(attr(input, "value"), Some("**********"));
    assert_eq!(attr(input, "name"), Some("field"), "structure stays");
    let o = origin();
    assert_eq!(
        attr(find_id(&root, "ln"), "href"),
        Some(format!("{o}/acct/statement").as_str()),
        "origin and path stay"
    );
    assert_eq!(attr(find_id(&root, "ln"), "aria-expanded"), Some("false"));
    assert_eq!(
        attr(find_id(&root, "im"), "src"),
        Some(format!("{o}/pic.png").as_str())
    );
    assert_eq!(attr(find_id(&root, "ml"), "href"), Some(""));
    let cb = find_id(&root, "cb");
    assert_eq!(attr(cb, "checked"), None, "a masked tick is not sent");
    assert!(matches!(cb, Node::Element { state: None, .. }));
    drop(f);
}

#[wasm_bindgen_test]
fn later_additions_and_changes_inside_a_masked_subtree_stay_masked() {
    let (f, mut cap, t) = observed("priv-later", MASKED_HTML, capture_with(&[], &[], false));
    let doc = document();
    let input = f.get("#i");
    for (name, value) in [
        ("placeholder", "cnry-l-placeholder"),
        ("title", "cnry-l-title"),
        ("aria-label", "cnry-l-aria"),
        ("data-later", "cnry-l-data"),
        ("value", "cnry-l-value"),
    ] {
        input.set_attribute(name, value).unwrap();
    }
    f.get("#ln")
        .set_attribute("href", "/x?q=cnry-l-href")
        .unwrap();
    f.get("#t")
        .first_child()
        .unwrap()
        .set_node_value(Some("cnry-l-text"));
    let added = doc.create_element("span").unwrap();
    added.set_inner_html("<b title='cnry-l-addtitle'>cnry-l-added</b>");
    f.get("#box").append_child(&added).unwrap();
    let batch = t.flush(&mut cap);
    let bytes = batch_bytes(&batch);
    assert_absent(
        &bytes,
        &[
            "cnry-l-placeholder",
            "cnry-l-title",
            "cnry-l-aria",
            "cnry-l-data",
            "cnry-l-value",
            "cnry-l-href",
            "cnry-l-text",
            "cnry-l-addtitle",
            "cnry-l-added",
        ],
    );
    assert!(batch.texts.iter().any(|c| c.text == "***********"));
    assert!(batch
        .attrs
        .iter()
        .any(|a| a.name == "placeholder" && a.value.as_deref() == Some("******************")));
    set_value(&input, "cnry-l-typed");
    let states = cap.input_states(&input);
    assert_eq!(states[0].1.value, None);
    assert_eq!(states[0].1.masked_len, Some(12));
}

#[wasm_bindgen_test]
fn a_text_moved_into_a_masked_parent_is_resent_masked_and_in_clear_when_moved_out() {
    let (f, mut cap, t) = observed(
        "priv-move",
        "<p id='open'>cnry-mover</p><div id='vault' data-cobrowse-mask></div>",
        capture_with(&[], &[], false),
    );
    let (open, vault) = (f.get("#open"), f.get("#vault"));
    let mover = open.first_child().unwrap();
    vault.append_child(&mover).unwrap();
    let batch = t.flush(&mut cap);
    assert_absent(&batch_bytes(&batch), &["cnry-mover"]);
    let add = batch
        .adds
        .iter()
        .find(|a| a.node.id() == cap.ids.get(&mover).unwrap());
    assert!(matches!(add.map(|a| &a.node), Some(Node::Text { text, .. }) if text == "**********"));

    open.append_child(&mover).unwrap();
    let batch = t.flush(&mut cap);
    assert!(batch
        .adds
        .iter()
        .any(|a| matches!(&a.node, Node::Text { text, .. } if text == "cnry-mover")));
}

#[wasm_bindgen_test]
fn a_marker_or_class_set_later_resends_the_subtree_masked() {
    let (f, mut cap, t) = observed(
        "priv-marker",
        "<div id='a'><p>cnry-a</p></div><div id='b'><p id='bp'>cnry-b</p></div>",
        capture_with(&[".secret p"], &[], false),
    );
    f.get("#a").set_attribute("data-cobrowse-mask", "").unwrap();
    f.get("#b").set_attribute("class", "secret").unwrap();
    let batch = t.flush(&mut cap);
    let bytes = batch_bytes(&batch);
    assert_absent(&bytes, &["cnry-a", "cnry-b"]);
    let a_id = cap.ids.get(&f.get("#a")).unwrap();
    let bp_id = cap.ids.get(&f.get("#bp")).unwrap();
    assert!(batch.removes.contains(&a_id) && batch.removes.contains(&bp_id));
    let a = batch.adds.iter().find(|x| x.node.id() == a_id).unwrap();
    assert_eq!(text(&a.node), "******");
    let bp = batch.adds.iter().find(|x| x.node.id() == bp_id).unwrap();
    assert_eq!(text(&bp.node), "******");
}

#[wasm_bindgen_test]
fn a_blocked_element_is_an_empty_box_of_its_size_and_nothing_inside_leaves() {
    let (f, mut cap, t) = observed(
        "priv-block",
        "<div id='blk' class='card' title='cnry-b-title' style='width:123px;height:45px'>\
           <p>cnry-b-text</p><input id='bi' value='cnry-b-value'></div>\
         <span id='ssn' data-x='cnry-b-data'>cnry-b-span</span>",
        capture_with(&[], &["#ssn"], false),
    );
    f.get("#blk")
        .set_attribute("data-cobrowse-block", "")
        .unwrap();
    let _ = t.flush(&mut cap);
    let (bytes, root) = snap_bytes(&mut cap);
    let canaries = [
        "cnry-b-title",
        "cnry-b-text",
        "cnry-b-value",
        "cnry-b-data",
        "cnry-b-span",
    ];
    assert_absent(&bytes, &canaries);
    let blk = find_id(&root, "blk");
    assert_eq!(tag(blk), Some("div"));
    assert!(blk.children().is_empty());
    assert_eq!(attr(blk, "class"), Some("card"));
    assert_eq!(attr(blk, "data-cobrowse-blocked"), Some(""));
    let style = attr(blk, "style").unwrap();
    assert!(
        style.starts_with("width:123px!important;height:45px!important"),
        "{style}"
    );
    let ssn = find_id(&root, "ssn");
    assert!(attr(ssn, "style").unwrap().contains("display:inline-block"));

    // Changes inside, to it, and typing into it: nothing follows.
    let bi = f.get("#bi");
    bi.set_attribute("value", "cnry-b-later").unwrap();
    f.get("#blk")
        .set_attribute("title", "cnry-b-title2")
        .unwrap();
    let p = document().create_element("p").unwrap();
    p.set_text_content(Some("cnry-b-added"));
    f.get("#blk").append_child(&p).unwrap();
    let batch = t.flush(&mut cap);
    assert_absent(
        &batch_bytes(&batch),
        &["cnry-b-later", "cnry-b-title2", "cnry-b-added"],
    );
    set_value(&bi, "cnry-b-typed");
    assert!(cap.input_states(&bi).is_empty());
    assert!(cap.input_states(&f.get("#blk")).is_empty());
}

#[wasm_bindgen_test]
fn an_element_blocked_after_it_was_sent_is_replaced_by_its_box() {
    let (f, mut cap, t) = observed(
        "priv-block-later",
        "<section id='sec'><p>cnry-bl-text</p></section>",
        capture_with(&[], &[".hide"], false),
    );
    f.get("#sec").set_attribute("class", "hide").unwrap();
    let batch = t.flush(&mut cap);
    assert_absent(&batch_bytes(&batch), &["cnry-bl-text"]);
    let id = cap.ids.get(&f.get("#sec")).unwrap();
    assert!(batch.removes.contains(&id));
    let add = batch.adds.iter().find(|a| a.node.id() == id).unwrap();
    assert!(add.node.children().is_empty());
    assert_eq!(attr(&add.node, "data-cobrowse-blocked"), Some(""));
}

#[wasm_bindgen_test]
fn private_by_default_masks_everything_but_unmasked_regions_and_keeps_styles() {
    let (f, mut cap, t) = observed(
        "priv-default",
        "<style id='sty'>.cnry-css-kept{color:red}</style>\
         <p id='p'>cnry-pd-text</p><input id='in' value='cnry-pd-value'>\
         <div id='open' data-cobrowse-unmask><p id='shown'>shown words</p>\
           <p id='re' data-cobrowse-mask>cnry-pd-remasked</p></div>\
         <div id='both' data-cobrowse-mask data-cobrowse-unmask>cnry-pd-both</div>",
        capture_with(&[], &[], true),
    );
    let (bytes, root) = snap_bytes(&mut cap);
    assert_absent(
        &bytes,
        &[
            "cnry-pd-text",
            "cnry-pd-value",
            "cnry-pd-remasked",
            "cnry-pd-both",
        ],
    );
    assert_eq!(text(find_id(&root, "shown")), "shown words");
    assert_eq!(text(find_id(&root, "sty")), ".cnry-css-kept{color:red}");
    let input = f.get("#in");
    set_value(&input, "cnry-pd-typed");
    assert_eq!(cap.input_states(&input)[0].1.masked_len, Some(13));
    let shown = f.get("#shown");
    let added = document().create_text_node("more shown");
    shown.append_child(&added).unwrap();
    let later = document().create_element("p").unwrap();
    later.set_text_content(Some("cnry-pd-later"));
    f.get("#p").append_child(&later).unwrap();
    let batch = t.flush(&mut cap);
    let bytes = batch_bytes(&batch);
    assert!(contains(&bytes, "more shown"));
    assert_absent(&bytes, &["cnry-pd-later"]);
    let _ = f.root.unchecked_ref::<web_sys::Node>();
}

#[wasm_bindgen_test]
fn pasted_autofilled_and_scripted_password_values_send_only_their_length() {
    let (f, mut cap, t) = observed(
        "priv-pw",
        "<input id='pw' type='password'><input id='later' type='text'>",
        capture_with(&[], &[], false),
    );
    let pw = f.get("#pw");
    // Autofill and scripts set the property; paste fires an input event.
    set_value(&pw, "cnry-pw-autofill");
    fire(&pw, "paste");
    fire(&pw, "input");
    let states = cap.input_states(&pw);
    assert_eq!(states[0].1.masked_len, Some(16));
    // A text field turned into a password after load: its value attribute
    // (set later) is starred from then on.
    let later = f.get("#later");
    later.set_attribute("type", "password").unwrap();
    later.set_attribute("value", "cnry-pw-attr").unwrap();
    let batch = t.flush(&mut cap);
    let (bytes, _) = snap_bytes(&mut cap);
    for b in [batch_bytes(&batch), bytes] {
        assert_absent(&b, &["cnry-pw-autofill", "cnry-pw-attr"]);
    }
    for (_, state) in states.into_iter().chain(cap.input_states(&later)) {
        let bytes = protocol::encode(&Event::Input {
            id: protocol::NodeId(1),
            state,
        })
        .unwrap();
        assert_absent(&bytes, &["cnry-pw-autofill"]);
    }
}

/// Regression (found by the end-to-end canary test): a masked element's
/// `style` attribute went out as written, so a background's query string
/// (`url(/avatar.png?user=…)`) left the page — and the agent's iframe then
/// asked the relay for that URL.
#[wasm_bindgen_test]
fn a_masked_elements_style_sends_no_url_query_or_string_before_or_after_the_snapshot() {
    let (f, mut cap, t) = observed(
        "priv-style",
        r#"<div data-cobrowse-mask><span id="av" style="display:inline-block;width:8px;background-image:url(/avatar.png?user=cnry-s-query);--who:'cnry-s-string';font-family:'Open Sans'">x</span></div>
           <span id="open" style="background-image:url(/open.png?v=2)">y</span>"#,
        capture_with(&[], &[], false),
    );
    let (bytes, root) = snap_bytes(&mut cap);
    assert_absent(&bytes, &["cnry-s-query", "cnry-s-string"]);
    let style = attr(find_id(&root, "av"), "style").unwrap_or_default();
    assert!(
        style.contains("width:8px") && style.contains("'Open Sans'"),
        "the layout and fonts stay: {style}"
    );
    assert!(
        style.contains(&format!("url(\"{}/avatar.png\")", origin())),
        "origin and path stay: {style}"
    );
    let open = attr(find_id(&root, "open"), "style").unwrap_or_default();
    assert!(
        open.contains("/open.png?v=2"),
        "unmasked styles are untouched: {open}"
    );

    f.get("#av")
        .set_attribute("style", "background:url(/b.png?user=cnry-s-later)")
        .unwrap();
    let batch = t.flush(&mut cap);
    assert_absent(&batch_bytes(&batch), &["cnry-s-later"]);
    assert!(batch
        .attrs
        .iter()
        .any(|a| a.name == "style" && a.value.as_deref().is_some_and(|v| v.contains("/b.png"))));
}

/// A form's controls shadow the form's own members by name (`form.matches`
/// is the control named "matches"): the capture must ask the element
/// itself, or the form reads as unmasked, or as no element at all.
#[wasm_bindgen_test]
fn a_form_whose_controls_are_named_like_element_members_is_read_and_masked_as_a_form() {
    let f = Fixture::new(
        "clobbered-form",
        r#"<form id="cf" class="secret-form" data-x="cnry-form-data" title="cnry-form-title"
                 action="/submit?u=cnry-action">
             <input name="matches" value="cnry-v1"><input name="localName" value="cnry-v2">
             <input name="attributes" value="cnry-v3"><input name="namespaceURI">
             <input name="closest">
             <p id="cft">cnry-form-text</p>
           </form>"#,
    );
    let mut cap = capture_with(&[".secret-form"], &[], false);
    let (bytes, root) = snap_bytes(&mut cap);
    assert_eq!(tag(find_id(&root, "cf")), Some("form"));
    assert_absent(
        &bytes,
        &[
            "cnry-form-data",
            "cnry-form-title",
            "cnry-action",
            "cnry-v1",
            "cnry-v2",
            "cnry-v3",
            "cnry-form-text",
        ],
    );
    drop(f);
}
