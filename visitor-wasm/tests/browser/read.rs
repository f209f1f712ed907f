//! An element's attributes read in one crossing (`src/read.rs`): odd names
//! and values arrive byte for byte as the DOM holds them, and masking and
//! URL rewriting apply to them exactly as to attributes read one by one.

use protocol::{Attr, Node};
use visitor_wasm::{snapshot, Capture};
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::Element;

use crate::util::*;

/// The attributes as the DOM gives them, one call per name and value.
fn dom_attrs(el: &Element) -> Vec<Attr> {
    let map = el.attributes();
    (0..map.length())
        .filter_map(|i| map.item(i))
        .map(|a| Attr {
            name: a.name(),
            value: a.value(),
        })
        .collect()
}

fn attrs_of<'a>(root: &'a Node, id: &str) -> &'a [Attr] {
    match find_id(root, id) {
        Node::Element { attrs, .. } => attrs,
        _ => panic!("#{id} is not an element"),
    }
}

#[wasm_bindgen_test]
fn odd_attribute_names_and_values_arrive_byte_for_byte() {
    let f = Fixture::new(
        "odd-attrs",
        "<div id='plain'></div><div id='nul'></div><svg id='svg'></svg>",
    );
    let plain = f.get("#plain");
    let values = [
        ("title", ""),
        ("data-emoji", "a 😀 b 𝄞 c"),
        ("data-ctl", "\u{1}\u{2}\u{7f}\u{ffff}\u{fffd}"),
        ("data-sep", "@\\0:;=\"'<>\n\t end"),
        ("data-long", &"é".repeat(5000)),
        ("ÿ-latin", "ß"),
        ("data-😀", "非"),
    ];
    for (name, value) in values {
        plain.set_attribute(name, value).unwrap();
    }
    plain
        .set_attribute_ns(Some("urn:x"), "x:odd", "namespaced")
        .unwrap();
    plain
        .set_attribute_ns(Some("http://www.w3.org/1999/xlink"), "xlink:title", "")
        .unwrap();
    // A NUL can't be told from the separator: that element is read one
    // attribute at a time, with the same result.
    let nul = f.get("#nul");
    nul.set_attribute("data-a", "before\0after").unwrap();
    nul.set_attribute("data-b", "\0").unwrap();
    let svg = f.get("#svg");
    svg.set_attribute("viewBox", "0 0 😀 1").unwrap();
    svg.set_attribute("data-x", "").unwrap();

    let mut cap = Capture::new("[data-cobrowse-mask]".into());
    let snap = snapshot(&document(), &mut cap).unwrap();
    for id in ["plain", "nul", "svg"] {
        let el = f.get(&format!("#{id}"));
        assert_eq!(attrs_of(&snap.root, id), dom_attrs(&el), "#{id}");
    }
    assert!(attrs_of(&snap.root, "plain")
        .iter()
        .any(|a| a.name == "data-emoji" && a.value == "a 😀 b 𝄞 c"));
}

#[wasm_bindgen_test]
fn names_that_do_not_find_their_own_value_by_name_arrive_as_the_dom_holds_them() {
    // Read by name, these would answer with another attribute's value:
    // `getAttribute` lower-cases a name on an HTML element, and finds the
    // first of two attributes that share a qualified name.
    let f = Fixture::new(
        "name-lookups",
        "<div id='case' dataupper='lower one'></div><div id='twins'></div>",
    );
    let case = f.get("#case");
    case.set_attribute_ns(None, "dataUpper", "upper one")
        .unwrap();
    let twins = f.get("#twins");
    twins
        .set_attribute_ns(Some("urn:a"), "p:x", "first")
        .unwrap();
    twins
        .set_attribute_ns(Some("urn:b"), "p:x", "second")
        .unwrap();
    let mut cap = Capture::new("[data-cobrowse-mask]".into());
    let snap = snapshot(&document(), &mut cap).unwrap();
    for id in ["case", "twins"] {
        let el = f.get(&format!("#{id}"));
        assert_eq!(attrs_of(&snap.root, id), dom_attrs(&el), "#{id}");
    }
    assert!(attrs_of(&snap.root, "twins")
        .iter()
        .any(|a| a.name == "p:x" && a.value == "second"));
}

#[wasm_bindgen_test]
async fn every_scrolled_box_has_its_offsets_in_the_snapshot_and_only_those() {
    // Only a box whose overflow is not `visible` is asked for its offsets:
    // a textarea (auto), a text field (clip), a div scrolled by script
    // under `overflow: hidden`, one scrolled sideways only.
    let f = Fixture::new(
        "scrolled",
        &format!(
            "<textarea id='ta' rows='2'>{lines}</textarea>\
             <input id='in' style='width:40px' value='{wide}'>\
             <div id='hid' style='height:20px;overflow:hidden'>{brs}</div>\
             <div id='side' style='width:40px;overflow:auto;white-space:nowrap'>{wide}</div>\
             <div id='plain' style='height:20px'>{brs}</div>\
             <div id='still' style='height:20px;overflow:auto'>{brs}</div>",
            lines = "line\n".repeat(40),
            wide = "x".repeat(300),
            brs = "text<br>".repeat(20),
        ),
    );
    for id in ["ta", "hid", "plain"] {
        f.get(&format!("#{id}")).set_scroll_top(30);
    }
    for id in ["in", "side"] {
        f.get(&format!("#{id}")).set_scroll_left(25);
    }
    sleep(50).await;
    let mut cap = Capture::new("[data-cobrowse-mask]".into());
    let snap = snapshot(&document(), &mut cap).unwrap();
    let at = |id: &str| {
        let target = find_id(&snap.root, id).id();
        snap.scrolls
            .iter()
            .find(|s| s.target == target)
            .map(|s| (s.x, s.y))
    };
    assert_eq!(at("ta"), Some((0.0, 30.0)));
    assert_eq!(at("hid"), Some((0.0, 30.0)));
    assert_eq!(at("in"), Some((25.0, 0.0)));
    assert_eq!(at("side"), Some((25.0, 0.0)));
    // `overflow: visible` cannot scroll (its setter did nothing); a
    // scroller left at the top is not listed.
    assert_eq!(at("plain"), None);
    assert_eq!(at("still"), None);
    drop(f);
}

#[wasm_bindgen_test]
fn a_lone_surrogate_reads_as_it_does_one_attribute_at_a_time() {
    let f = Fixture::new("surrogates", "<p id='s'></p>");
    let el = f.get("#s");
    // Set from JS: Rust strings cannot hold a lone surrogate.
    let set = js_sys::Function::new_with_args(
        "el",
        "el.setAttribute('data-hi', 'a\\uD83D'); el.setAttribute('data-lo', '\\uDE00b');",
    );
    set.call1(&wasm_bindgen::JsValue::NULL, &el).unwrap();
    let mut cap = Capture::new("[data-cobrowse-mask]".into());
    let snap = snapshot(&document(), &mut cap).unwrap();
    let got = attrs_of(&snap.root, "s");
    // Each stays its own replacement character, never one joined emoji.
    assert_eq!(got, dom_attrs(&el));
    assert_eq!(got[1].value, "a\u{fffd}");
    assert_eq!(got[2].value, "\u{fffd}b");
}

#[wasm_bindgen_test]
fn masked_attributes_read_in_one_go_stay_masked() {
    let f = Fixture::new(
        "masked-attrs",
        r#"<div data-cobrowse-mask id="m" title="Jane Doe" data-user="jane@example.com"
             style="background:url(/avatar.png?user=jane)">
             <a id="ml" href="/profile?user=jane">x</a>
             <input id="mi" value="hunter2-typed">
             <textarea id="mt">textarea-secret</textarea>
           </div>
           <input id="pw" type="password" value="pw-secret-value">
           <a id="open" href="/page?q=1" title="Open title">y</a>"#,
    );
    let mut cap = Capture::new("[data-cobrowse-mask]".into());
    let snap = snapshot(&document(), &mut cap).unwrap();
    let get = |id: &str, name: &str| {
        attrs_of(&snap.root, id)
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.clone())
    };
    assert_eq!(get("m", "title").as_deref(), Some("**** ***"));
    assert_eq!(get("m", "data-user").as_deref(), Some("****************"));
    let style = get("m", "style").unwrap_or_default();
    assert!(
        style.contains(&format!("{}/avatar.png", origin())) && !style.contains("jane"),
        "a masked style keeps the URL's origin and path only: {style}"
    );
    assert_eq!(
        get("ml", "href"),
        Some(format!("{}/profile", origin())),
        "a masked URL keeps origin and path"
    );
    assert_eq!(get("mi", "value").as_deref(), Some("*************"));
    assert_eq!(get("pw", "value").as_deref(), Some("***************"));
    assert_eq!(get("open", "href"), Some(format!("{}/page?q=1", origin())));
    assert_eq!(get("open", "title").as_deref(), Some("Open title"));
    let bytes = visitor_wasm::wire::encode_event(
        protocol::Seq(1),
        &protocol::Event::Snapshot(snap.clone()),
    );
    for secret in [
        "Jane",
        "jane@example.com",
        "user=jane",
        "hunter2",
        "textarea-secret",
        "pw-secret",
    ] {
        assert!(!contains(&bytes, secret), "{secret} left the page");
    }
    drop(f);
}

#[wasm_bindgen_test]
fn a_form_whose_controls_are_named_like_element_members_is_read_as_a_form() {
    // A form's controls shadow its members by name (`form.matches` is the
    // control named "matches"): the read must ask the element itself.
    let f = Fixture::new(
        "clobbered-form",
        r#"<form id="cf" class="secret-form" data-x="kept">
             <input name="matches"><input name="localName">
             <input name="attributes"><input name="namespaceURI">
             <p id="cft">clobber-secret-text</p>
           </form>"#,
    );
    let mut cap = Capture::new(".secret-form".into());
    let snap = snapshot(&document(), &mut cap).unwrap();
    assert_eq!(tag(find_id(&snap.root, "cf")), Some("form"));
    // Its attributes are read (masked, as the form is).
    assert!(attrs_of(&snap.root, "cf")
        .iter()
        .any(|a| a.name == "data-x" && a.value == "****"));
    let shown = text(find_id(&snap.root, "cft"));
    assert!(!shown.contains("clobber-secret"), "masked: {shown}");
    drop(f);
}
