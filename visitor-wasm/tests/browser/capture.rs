//! Snapshot and mutation capture on fixtures in the test page, through the
//! crate's seams (`Capture`, `snapshot`, `MutationTracker`), no relay.

use protocol::{Event, FormState, MutationBatch, Node, Ns};
use visitor_wasm::{snapshot, Capture, MutationTracker};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::util::*;

fn capture() -> Capture {
    Capture::new("[data-cobrowse-mask]".into())
}

fn tracker() -> MutationTracker {
    MutationTracker::start(&document(), Box::new(|| {})).unwrap()
}

fn id_of(cap: &Capture, el: &web_sys::Node) -> protocol::NodeId {
    cap.ids.get(el).expect("node has an id")
}

#[wasm_bindgen_test]
fn snapshot_mirrors_text_attributes_namespaces_template_script_and_doctype() {
    let f = Fixture::new(
        "snap",
        r##"<p id="lead" class="lead">Hello <b>world</b></p><!-- a comment -->
        <a id="link" href="/page?x=1">link</a>
        <img id="img" src="/img/a.png" srcset="/a.png 1x, /b.png 2x">
        <svg id="pic"><circle r="1"></circle><a id="svglink" xlink:href="/svg-target"></a></svg>
        <template id="tpl"><span>inside template</span></template>
        <script id="scr" type="text/x-test">var topSecretSource = 1;</script>
        <style id="sty">.x{color:red}</style>"##,
    );
    let mut cap = capture();
    let snap = snapshot(&document(), &mut cap).unwrap();
    let root = &snap.root;
    let Node::Document {
        quirks, children, ..
    } = root
    else {
        panic!("root is a document")
    };
    assert!(!quirks, "the test page has a doctype: standards mode");
    assert!(
        matches!(&children[0], Node::Doctype { name, .. } if name == "html"),
        "doctype first: {:?}",
        children[0]
    );

    let lead = find_id(root, "lead");
    assert_eq!(tag(lead), Some("p"));
    assert_eq!(attr(lead, "class"), Some("lead"));
    assert_eq!(text(lead), "Hello world");
    let container = find_id(root, "snap");
    assert!(container
        .children()
        .iter()
        .any(|c| matches!(c, Node::Comment { text, .. } if text == " a comment ")));

    let o = origin();
    assert_eq!(
        attr(find_id(root, "link"), "href"),
        Some(format!("{o}/page?x=1").as_str())
    );
    let img = find_id(root, "img");
    assert_eq!(attr(img, "src"), Some(format!("{o}/img/a.png").as_str()));
    assert_eq!(
        attr(img, "srcset"),
        Some(format!("{o}/a.png 1x, {o}/b.png 2x").as_str())
    );

    let svg = find_id(root, "pic");
    assert!(matches!(svg, Node::Element { ns: Ns::Svg, tag, .. } if tag == "svg"));
    assert!(
        matches!(&svg.children()[0], Node::Element { ns: Ns::Svg, tag, .. } if tag == "circle")
    );
    let svglink = find_id(root, "svglink");
    assert_eq!(
        attr(svglink, "xlink:href"),
        Some(format!("{o}/svg-target").as_str())
    );

    let tpl = find_id(root, "tpl");
    assert_eq!(text(tpl), "inside template", "template content is walked");

    let scr = find_id(root, "scr");
    assert_eq!(attr(scr, "type"), Some("text/x-test"));
    assert!(scr.children().is_empty(), "a script's source never leaves");
    assert_eq!(text(find_id(root, "sty")), ".x{color:red}");

    let bytes = protocol::encode(&Event::Snapshot(snap.clone())).unwrap();
    assert!(!contains(&bytes, "topSecretSource"));
    assert_eq!(snap.url, document().url().unwrap());
    assert!(snap.viewport.width > 0 && snap.viewport.height > 0);
    assert_eq!(snap.scrolls[0].target, root.id(), "window scroll first");
    drop(f);
}

#[wasm_bindgen_test]
fn a_second_snapshot_reuses_every_id() {
    let _f = Fixture::new("again", "<ul><li>a</li><li>b</li></ul>");
    let mut cap = capture();
    let first = snapshot(&document(), &mut cap).unwrap();
    let second = snapshot(&document(), &mut cap).unwrap();
    assert_eq!(
        find_id(&first.root, "again"),
        find_id(&second.root, "again")
    );
    assert_eq!(first.root.id(), second.root.id());
}

#[wasm_bindgen_test]
fn the_visitor_ui_is_never_in_a_snapshot_or_a_batch() {
    let doc = document();
    let ui = doc.create_element("cobrowse-ui").unwrap();
    let shadow = ui
        .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
        .unwrap();
    shadow.set_inner_html("<p>ui-shadow-text</p>");
    ui.set_inner_html("<span>ui-light-text</span>");
    doc.document_element().unwrap().append_child(&ui).unwrap();

    let mut cap = capture();
    let t = tracker();
    let snap = snapshot(&doc, &mut cap).unwrap();
    assert!(find(&snap.root, &|n| tag(n) == Some("cobrowse-ui")).is_none());
    let bytes = protocol::encode(&Event::Snapshot(snap)).unwrap();
    assert!(!contains(&bytes, "ui-light-text") && !contains(&bytes, "ui-shadow-text"));

    ui.set_attribute("data-state", "live").unwrap();
    let extra = doc.create_element("b").unwrap();
    extra.set_text_content(Some("ui-added-text"));
    ui.append_child(&extra).unwrap();
    let batch = t.flush(&mut cap);
    let bytes = protocol::encode(&Event::Mutations(batch.clone())).unwrap();
    assert!(!contains(&bytes, "ui-added-text"));
    assert!(batch.attrs.iter().all(|a| a.name != "data-state"));
    assert_eq!(cap.ids.get(&ui), None, "the UI never gets an id");
    ui.remove();
    let batch = t.flush(&mut cap);
    assert!(
        batch.removes.is_empty(),
        "removing the UI is not a mirrored removal"
    );
}

/// Snapshot + tracker on a fixture, like the session does on admission.
fn observed(id: &str, html: &str) -> (Fixture, Capture, MutationTracker) {
    let f = Fixture::new(id, html);
    let mut cap = capture();
    let t = tracker();
    snapshot(&document(), &mut cap).unwrap();
    (f, cap, t)
}

#[wasm_bindgen_test]
fn appends_and_inserts_name_their_parent_and_next_sibling() {
    let (f, mut cap, t) = observed("adds", "<ul id='list'><li id='first'>1</li></ul>");
    let doc = document();
    let list = f.get("#list");
    let first = f.get("#first");
    let last = doc.create_element("li").unwrap();
    last.set_text_content(Some("last"));
    list.append_child(&last).unwrap();
    let zero = doc.create_element("li").unwrap();
    zero.set_text_content(Some("zero"));
    list.insert_before(&zero, Some(&first)).unwrap();

    let batch = t.flush(&mut cap);
    let list_id = id_of(&cap, &list);
    assert_eq!(batch.adds.len(), 2, "{batch:?}");
    let find_add = |word: &str| {
        batch
            .adds
            .iter()
            .find(|a| text(&a.node) == word)
            .unwrap_or_else(|| panic!("no add of {word}"))
    };
    assert_eq!(find_add("last").parent, list_id);
    assert_eq!(find_add("last").next_sibling, None);
    assert_eq!(find_add("zero").next_sibling, Some(id_of(&cap, &first)));
    assert_eq!(find_add("zero").node.id(), id_of(&cap, &zero));
}

#[wasm_bindgen_test]
fn a_batch_of_appended_siblings_lists_later_ones_first() {
    let (f, mut cap, t) = observed("order", "<div id='box'></div>");
    let doc = document();
    let boxed = f.get("#box");
    for word in ["a", "b", "c"] {
        let s = doc.create_element("span").unwrap();
        s.set_text_content(Some(word));
        boxed.append_child(&s).unwrap();
    }
    let batch = t.flush(&mut cap);
    let words: Vec<String> = batch.adds.iter().map(|a| text(&a.node)).collect();
    assert_eq!(words, ["c", "b", "a"]);
    assert_eq!(batch.adds[1].next_sibling, Some(batch.adds[0].node.id()));
}

#[wasm_bindgen_test]
fn removals_moves_attributes_and_text_become_one_batch() {
    let (f, mut cap, t) = observed(
        "mix",
        "<ul id='one'><li id='mover'>m</li><li id='gone'>g</li></ul><ul id='two'></ul>\
         <a id='ln' href='/x'>t</a><p id='para'>old text</p>",
    );
    let (one, two, mover, gone) = (
        f.get("#one"),
        f.get("#two"),
        f.get("#mover"),
        f.get("#gone"),
    );
    let (ln, para) = (f.get("#ln"), f.get("#para"));
    let para_text = para.first_child().unwrap();
    let mover_id = id_of(&cap, &mover);
    let gone_id = id_of(&cap, &gone);

    two.append_child(&mover).unwrap();
    one.remove_child(&gone).unwrap();
    ln.set_attribute("href", "/y").unwrap();
    ln.set_attribute("class", "c").unwrap();
    ln.remove_attribute("class").unwrap();
    para_text.set_node_value(Some("new text"));

    let MutationBatch {
        removes,
        adds,
        attrs,
        texts,
    } = t.flush(&mut cap);
    assert!(
        removes.contains(&mover_id) && removes.contains(&gone_id),
        "{removes:?}"
    );
    assert_eq!(adds.len(), 1);
    assert_eq!(adds[0].node.id(), mover_id, "a moved node keeps its id");
    assert_eq!(adds[0].parent, id_of(&cap, &two));
    let ln_id = id_of(&cap, &ln);
    let href = attrs
        .iter()
        .find(|a| a.id == ln_id && a.name == "href")
        .unwrap();
    assert_eq!(
        href.value.as_deref(),
        Some(format!("{}/y", origin()).as_str())
    );
    let class = attrs
        .iter()
        .find(|a| a.id == ln_id && a.name == "class")
        .unwrap();
    assert_eq!(class.value, None, "a removed attribute is None");
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0].id, id_of(&cap, &para_text));
    assert_eq!(texts[0].text, "new text");
}

#[wasm_bindgen_test]
fn a_node_added_and_removed_before_the_flush_leaves_no_trace() {
    let (f, mut cap, t) = observed("flash", "<div id='host'></div>");
    let temp = document().create_element("div").unwrap();
    temp.set_text_content(Some("flash-of-content"));
    f.get("#host").append_child(&temp).unwrap();
    temp.remove();
    let batch = t.flush(&mut cap);
    let bytes = protocol::encode(&Event::Mutations(batch)).unwrap();
    assert!(!contains(&bytes, "flash-of-content"));
    assert_eq!(cap.ids.get(&temp), None);
}

const PASSWORDS: [&str; 4] = [
    "attr-secret-1",
    "typed-secret-2",
    "attr-secret-3",
    "typed-secret-4",
];

#[wasm_bindgen_test]
fn passwords_never_appear_in_any_encoded_message() {
    let (f, mut cap, t) = observed(
        "pw",
        "<input id='pw1' type='PassWord' value='attr-secret-1'><input id='pw2' type='password'>",
    );
    let (pw1, pw2) = (f.get("#pw1"), f.get("#pw2"));
    let mut sent: Vec<Vec<u8>> = Vec::new();

    // Typed values, with the events a page would see.
    set_value(&pw2, PASSWORDS[1]);
    fire(&pw2, "input");
    let states = cap.input_states(&pw2);
    assert_eq!(
        states,
        [(
            id_of(&cap, &pw2),
            FormState {
                masked_len: Some(PASSWORDS[1].len() as u32),
                ..FormState::default()
            }
        )]
    );
    for (id, state) in states {
        sent.push(protocol::encode(&Event::Input { id, state }).unwrap());
    }

    // A value attribute set later, and a "show password" toggle.
    pw1.set_attribute("value", PASSWORDS[2]).unwrap();
    pw2.set_attribute("type", "text").unwrap();
    set_value(&pw2, PASSWORDS[3]);
    fire(&pw2, "input");
    let batch = t.flush(&mut cap);
    let value_attr = batch.attrs.iter().find(|a| a.name == "value").unwrap();
    assert_eq!(value_attr.value.as_deref(), Some("*************"));
    sent.push(protocol::encode(&Event::Mutations(batch)).unwrap());
    for (id, state) in cap.input_states(&pw2) {
        assert_eq!(state.value, None, "a former password stays masked");
        sent.push(protocol::encode(&Event::Input { id, state }).unwrap());
    }

    // And a fresh snapshot of all of it.
    let snap = snapshot(&document(), &mut cap).unwrap();
    let pw1_node = find_id(&snap.root, "pw1");
    assert_eq!(attr(pw1_node, "value"), Some("*************"));
    assert!(matches!(
        pw1_node,
        Node::Element {
            state: Some(FormState {
                value: None,
                masked_len: Some(13),
                ..
            }),
            ..
        }
    ));
    sent.push(protocol::encode(&Event::Snapshot(snap)).unwrap());

    for bytes in &sent {
        for secret in PASSWORDS {
            assert!(!contains(bytes, secret), "{secret} leaked");
        }
    }
}

#[wasm_bindgen_test]
fn masked_elements_send_stars_for_text_and_values() {
    let (f, mut cap, t) = observed(
        "masked",
        "<div data-cobrowse-mask><p id='m'>Jane Secretname</p><input id='mi' value='mask-attr'></div>\
         <p id='plain'>visible</p>",
    );
    let mi = f.get("#mi");
    set_value(&mi, "mask-typed");
    let states = cap.input_states(&mi);
    assert_eq!(states[0].1.value, None);
    assert_eq!(states[0].1.masked_len, Some(10));

    let added = document().create_element("span").unwrap();
    added.set_text_content(Some("added-secret"));
    f.get("#m").append_child(&added).unwrap();
    let batch = t.flush(&mut cap);
    let snap = snapshot(&document(), &mut cap).unwrap();
    assert_eq!(
        text(find_id(&snap.root, "m")),
        "**** **********************"
    );
    assert_eq!(text(find_id(&snap.root, "plain")), "visible");
    for bytes in [
        protocol::encode(&Event::Snapshot(snap)).unwrap(),
        protocol::encode(&Event::Mutations(batch)).unwrap(),
    ] {
        for secret in ["Secretname", "mask-attr", "mask-typed", "added-secret"] {
            assert!(!contains(&bytes, secret), "{secret} leaked");
        }
    }
}

#[wasm_bindgen_test]
fn checkboxes_options_and_text_inputs_carry_their_live_state() {
    let (f, cap, _t) = observed(
        "forms",
        "<input id='cb' type='checkbox'><input id='tx' value='a'>\
         <select id='sel'><option id='o1'>1</option><option id='o2'>2</option></select>",
    );
    let cb = f.get("#cb");
    js_sys::Reflect::set(&cb, &"checked".into(), &true.into()).unwrap();
    assert_eq!(cap.input_states(&cb)[0].1.checked, Some(true));
    let tx = f.get("#tx");
    set_value(&tx, "typed");
    assert_eq!(cap.input_states(&tx)[0].1.value.as_deref(), Some("typed"));
    let sel = f.get("#sel");
    set_value(&sel, "2");
    assert_eq!(cap.input_states(&sel)[0].1.value.as_deref(), Some("2"));
    let _ = sel.unchecked_ref::<web_sys::Node>();
}

/// Some frameworks replace `window.MutationObserver` (rrweb's corpus has
/// such a page); capture must still see changes, and leave nothing behind.
#[wasm_bindgen_test]
fn a_page_that_hijacks_mutation_observer_is_still_followed() {
    let window = js_sys::global();
    let key = wasm_bindgen::JsValue::from_str("MutationObserver");
    let original = js_sys::Reflect::get(&window, &key).unwrap();
    let hijack = js_sys::Function::new_no_args("throw new Error('hijacked by framework')");
    js_sys::Reflect::set(&window, &key, &hijack).unwrap();

    let f = Fixture::new("hijacked", "<ul id='list'></ul>");
    let mut cap = capture();
    let started = MutationTracker::start(&document(), Box::new(|| {}));
    js_sys::Reflect::set(&window, &key, &original).unwrap();
    let t = started.expect("a pristine observer is used instead of the page's");
    snapshot(&document(), &mut cap).unwrap();

    let li = document().create_element("li").unwrap();
    li.set_text_content(Some("seen"));
    f.get("#list").append_child(&li).unwrap();
    let batch = t.flush(&mut cap);
    assert_eq!(batch.adds.len(), 1, "{batch:?}");
    assert_eq!(text(&batch.adds[0].node), "seen");

    let helpers = document()
        .query_selector_all("cobrowse-ui")
        .unwrap()
        .length();
    drop(t);
    let after = document()
        .query_selector_all("cobrowse-ui")
        .unwrap()
        .length();
    assert_eq!(
        after + 1,
        helpers,
        "the private frame's host is removed with the tracker"
    );
}

#[wasm_bindgen_test]
fn svg_references_into_the_page_stay_fragments_and_html_links_become_absolute() {
    // rrweb's svg.html: a `<use>` of a path on the page drew nothing in
    // the console once its `#fragment` was made absolute.
    let _f = Fixture::new(
        "svg-refs",
        r##"<svg><defs><path id="ref-path" d="M0 0h9v9z"></path></defs>
        <use id="ref-use" href="#ref-path"></use><use id="ref-xlink" xlink:href="#ref-path"></use></svg>
        <a id="ref-top" href="#top">top</a>"##,
    );
    let snap = snapshot(&document(), &mut capture()).unwrap();
    assert_eq!(
        attr(find_id(&snap.root, "ref-use"), "href"),
        Some("#ref-path")
    );
    assert_eq!(
        attr(find_id(&snap.root, "ref-xlink"), "xlink:href"),
        Some("#ref-path")
    );
    let link = attr(find_id(&snap.root, "ref-top"), "href").unwrap();
    assert!(link.starts_with("http") && link.ends_with("#top"), "{link}");
}
