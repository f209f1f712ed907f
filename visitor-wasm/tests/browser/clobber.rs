//! DOM clobbering: a `<form>`'s controls shadow the form's members by name
//! (`<input name="firstChild">` makes `form.firstChild` that input), and
//! named `<img>`/`<form>`/`<embed>`/`<object>`/`<iframe>` shadow the
//! document's (`<img name="body">`). Whatever the page's markup, the capture
//! walks, follows, masks and starts as on any page.

use protocol::{Event, Node, ToVisitor};
use visitor_wasm::{dom, snapshot, MutationTracker};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::session::{started_with, Relay};
use crate::util::*;

/// Control names that shadow `Node`/`Element` members the capture reads.
const MEMBER_NAMES: &[&str] = &[
    "nodeType",
    "firstChild",
    "nextSibling",
    "childNodes",
    "parentNode",
    "parentElement",
    "appendChild",
    "insertBefore",
    "setAttribute",
    "getAttribute",
    "getAttributeNode",
    "hasAttribute",
    "removeAttribute",
    "nodeName",
    "ownerDocument",
    "getRootNode",
    "isConnected",
    "shadowRoot",
    "scrollTop",
    "scrollLeft",
    "firstElementChild",
    "querySelectorAll",
    "getBoundingClientRect",
    "contains",
    "style",
    "tagName",
    "textContent",
    "localName",
    "matches",
    "closest",
];

/// A form holding a text input named after each of [`MEMBER_NAMES`] (value
/// `v-NAME`), inside `<div id=...>`, followed by `<p id="after-ID">`.
fn clobbering_form(id: &str, form_attrs: &str, value_prefix: &str) -> String {
    let inputs: String = MEMBER_NAMES
        .iter()
        .map(|n| format!(r#"<input name="{n}" value="{value_prefix}{n}">"#))
        .collect();
    format!(
        r#"<form id="{id}" {form_attrs}>{inputs}<p id="in-{id}">inside the form</p></form><p id="after-{id}">after the form</p>"#
    )
}

fn count_tag(node: &Node, wanted: &str) -> usize {
    let here = usize::from(tag(node) == Some(wanted));
    here + node
        .children()
        .iter()
        .map(|c| count_tag(c, wanted))
        .sum::<usize>()
}

fn id_of(cap: &visitor_wasm::Capture, el: &web_sys::Node) -> protocol::NodeId {
    cap.ids.get(el).expect("the node was sent")
}

#[wasm_bindgen_test]
fn a_form_whose_controls_shadow_node_members_is_snapshotted_whole_with_what_follows_it() {
    let f = Fixture::new("clob-walk", &clobbering_form("cw", "", "v-"));
    let mut cap = capture_with(&[], &[], false);
    let snap = snapshot(&document(), &mut cap).unwrap();
    let fixture = find_id(&snap.root, "clob-walk");
    let form = find_id(fixture, "cw");
    assert_eq!(tag(form), Some("form"));
    assert_eq!(count_tag(form, "input"), MEMBER_NAMES.len(), "{form:?}");
    // Every control in document order, under the form.
    let names: Vec<&str> = form
        .children()
        .iter()
        .filter_map(|c| attr(c, "name"))
        .collect();
    assert_eq!(names, MEMBER_NAMES);
    assert_eq!(text(find_id(form, "in-cw")), "inside the form");
    // The form's next sibling is the paragraph, not a control named nextSibling.
    let kids = fixture.children();
    assert_eq!(kids.len(), 2, "{fixture:?}");
    assert_eq!(attr(&kids[1], "id"), Some("after-cw"));
    assert_eq!(text(&kids[1]), "after the form");
    // The form's own attributes are its attributes.
    assert_eq!(attr(form, "id"), Some("cw"));
    drop(f);
}

#[wasm_bindgen_test]
fn changes_inside_and_around_a_clobbering_form_are_followed() {
    let f = Fixture::new("clob-mut", &clobbering_form("cm", "", "v-"));
    let mut cap = capture_with(&[], &[], false);
    let t = MutationTracker::start(&document(), Box::new(|| {})).unwrap();
    snapshot(&document(), &mut cap).unwrap();
    t.observe_found(&mut cap);
    let form = f.get("#cm");
    let form_id = id_of(&cap, &form);

    // A control added at the end of the form, one removed, the form's own
    // attribute changed, a paragraph added after the form.
    let added = dom::create_element(&document(), "input").unwrap();
    added.set_attribute("name", "added").unwrap();
    dom::append_child(&form, &added).unwrap();
    let gone = f.get("input[name=nextSibling]");
    let gone_id = id_of(&cap, &gone);
    gone.remove();
    dom::set_attribute(&form, "data-state", "changed").unwrap();
    let tail = dom::create_element(&document(), "p").unwrap();
    tail.set_text_content(Some("added after"));
    f.root.append_child(&tail).unwrap();

    let batch = t.flush(&mut cap);
    let add = batch
        .adds
        .iter()
        .find(|a| attr(&a.node, "name") == Some("added"))
        .unwrap_or_else(|| panic!("the added control: {batch:?}"));
    assert_eq!(add.parent, form_id);
    assert!(batch.removes.contains(&gone_id), "{batch:?}");
    assert!(
        batch.attrs.iter().any(|a| a.id == form_id
            && a.name == "data-state"
            && a.value.as_deref() == Some("changed")),
        "{batch:?}"
    );
    let tail_add = batch
        .adds
        .iter()
        .find(|a| text(&a.node) == "added after")
        .unwrap_or_else(|| panic!("the paragraph after the form: {batch:?}"));
    assert_eq!(tail_add.parent, id_of(&cap, &f.root));

    // A whole clobbering form added later arrives whole, with its follower.
    let late = dom::create_element(&document(), "div").unwrap();
    late.set_inner_html(&clobbering_form("cl", "", "v-"));
    f.root.append_child(&late).unwrap();
    let batch = t.flush(&mut cap);
    let late_add = batch
        .adds
        .iter()
        .find(|a| a.node.id() == id_of(&cap, &late))
        .unwrap_or_else(|| panic!("the late form: {batch:?}"));
    assert_eq!(count_tag(&late_add.node, "input"), MEMBER_NAMES.len());
    assert_eq!(
        attr(&late_add.node.children()[1], "id"),
        Some("after-cl"),
        "{:?}",
        late_add.node
    );
    drop(f);
}

#[wasm_bindgen_test]
fn typing_into_a_clobbering_form_sends_the_control_state_and_masks_a_masked_form() {
    let html = format!(
        "{}{}",
        clobbering_form("ct", "", "v-"),
        clobbering_form("ctm", "data-cobrowse-mask", "cnry-typed-")
    );
    let f = Fixture::new("clob-type", &html);
    let mut cap = capture_with(&[], &[], false);
    snapshot(&document(), &mut cap).unwrap();

    let plain = f.get("#ct input[name=textContent]");
    set_value(&plain, "typed here");
    let states = cap.input_states(&plain);
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].1.value.as_deref(), Some("typed here"));

    for name in MEMBER_NAMES {
        let masked = f.get(&format!("#ctm input[name={name}]"));
        set_value(&masked, "cnry-typed-secret");
        let states = cap.input_states(&masked);
        assert_eq!(states.len(), 1, "{name}");
        assert_eq!(states[0].1.value, None, "{name}");
        assert_eq!(states[0].1.masked_len, Some(17), "{name}");
    }
    drop(f);
}

/// The canaries of a masked form among clobbering controls never leave:
/// on main, `form.nextSibling` read the control named `nextSibling` and the
/// walk sent it (and its value) as the form's unmasked sibling.
#[wasm_bindgen_test]
fn a_masked_form_among_clobbering_controls_sends_no_canary_in_the_snapshot_or_a_batch() {
    let html = format!(
        r#"{}<div class="secret"><form id="cs2" name="pay"><input name="nextSibling" value="cnry-cls-ns">
             <input name="matches" value="cnry-cls-m"><input name="closest" value="cnry-cls-c">
             <input name="parentNode" value="cnry-cls-pn"><textarea name="firstChild">cnry-cls-ta</textarea>
           </form></div><p id="after-cs2">after</p>"#,
        clobbering_form(
            "cs",
            r#"data-cobrowse-mask title="cnry-form-title" data-x="cnry-form-data""#,
            "cnry-val-"
        )
    );
    let f = Fixture::new("clob-secret", &html);
    let mut cap = capture_with(&[".secret"], &[], false);
    let t = MutationTracker::start(&document(), Box::new(|| {})).unwrap();
    let snap = snapshot(&document(), &mut cap).unwrap();
    t.observe_found(&mut cap);
    let fixture = find_id(&snap.root, "clob-secret");
    assert_eq!(count_tag(fixture, "input"), MEMBER_NAMES.len() + 4);
    assert_eq!(text(find_id(fixture, "after-cs")), "after the form");
    let bytes = protocol::encode(&Event::Snapshot(snap)).unwrap();
    let canaries = [
        "cnry-val-",
        "cnry-form-title",
        "cnry-form-data",
        "cnry-cls-",
        "inside the form",
        "cnry-new",
    ];
    for c in canaries {
        assert!(!contains(&bytes, c), "{c} left the page in the snapshot");
    }

    // Changes inside the masked forms: values, text, attributes, added
    // controls, a moved control.
    let form = f.get("#cs");
    dom::set_attribute(&form, "data-y", "cnry-new-attr").unwrap();
    f.get("#cs input[name=getAttribute]")
        .set_attribute("value", "cnry-new-value2")
        .unwrap();
    set_text(&f.get("#in-cs"), "cnry-new-text");
    let added = dom::create_element(&document(), "input").unwrap();
    added.set_attribute("name", "nodeType").unwrap();
    added.set_attribute("value", "cnry-new-input").unwrap();
    dom::append_child(&form, &added).unwrap();
    let other = f.get("#cs2");
    let moved = f.get("#cs input[name=childNodes]");
    dom::append_child(&other, &moved).unwrap();
    let batch = t.flush(&mut cap);
    assert!(!batch.adds.is_empty(), "{batch:?}");
    assert_absent_from_batch(&batch, &canaries);
    drop(f);
}

/// Named elements that shadow the document's members (the document's own
/// and `<img name>`, `<form name>`, `<embed name>`, `<object name>`,
/// `<iframe name>`).
const DOCUMENT_NAMES: &str = r#"
  <img name="createElement"><img name="body"><img name="documentElement">
  <img name="addEventListener"><img name="removeEventListener"><img name="URL">
  <img name="defaultView"><img name="scrollingElement"><img name="compatMode">
  <img name="getSelection"><img name="baseURI"><img name="nodeType">
  <img name="firstChild"><img name="childNodes"><img name="getRootNode">
  <form name="querySelectorAll"><input name="x" value="in a named form"></form>
  <form name="querySelector"></form><embed name="fullscreenElement">
  <object name="createDocumentFragment"></object><iframe name="activeElement"></iframe>
  <p id="doc-clob-text">the page goes on</p>"#;

#[wasm_bindgen_test]
fn a_document_whose_members_are_shadowed_by_named_elements_still_snapshots() {
    let f = Fixture::new("doc-clob", DOCUMENT_NAMES);
    // The page really is clobbered.
    let shadowed = js_sys::Reflect::get(&document(), &"createElement".into()).unwrap();
    assert!(shadowed.is_instance_of::<web_sys::HtmlImageElement>());
    let mut cap = capture_with(&[], &[], false);
    let snap = snapshot(&document(), &mut cap).unwrap();
    assert!(matches!(snap.root, Node::Document { .. }));
    let fixture = find_id(&snap.root, "doc-clob");
    assert_eq!(count_tag(fixture, "img"), 15);
    assert_eq!(text(find_id(fixture, "doc-clob-text")), "the page goes on");
    // `document.body`, `document.documentElement` misread would lose them.
    let html = find(&snap.root, &|n| tag(n) == Some("html")).unwrap();
    let parts: Vec<&str> = html.children().iter().filter_map(tag).collect();
    assert_eq!(parts, ["head", "body"]);
    drop(f);
}

#[wasm_bindgen_test]
async fn a_session_starts_snapshots_and_follows_a_document_shadowed_by_named_elements() {
    // Held across awaits, so the test runner's own page script runs while
    // the document is shadowed: it reads its output with
    // `document.querySelector`, which this one name would break (the
    // snapshot test above keeps it: it gives the document back before the
    // runner can look).
    let names = DOCUMENT_NAMES.replace(r#"<form name="querySelector"></form>"#, "");
    assert_ne!(names, DOCUMENT_NAMES);
    let f = Fixture::new("doc-clob-session", &names);
    let relay = Relay::install();
    let session = started_with(&relay, "").await;
    relay.say(&ToVisitor::AgentJoined {
        agent: protocol::AgentId(3),
        name: "Ann".into(),
        mode: protocol::Mode::ViewOnly,
    });
    ui_button("data-cobrowse-accept").unwrap().click();
    relay.say(&ToVisitor::SnapshotNeeded);
    sleep(100).await;
    let p = dom::create_element(&document(), "p").unwrap();
    p.set_text_content(Some("added while clobbered"));
    f.root.append_child(&p).unwrap();
    let input = f.root.query_selector("input[name=x]").unwrap().unwrap();
    set_value(&input, "typed while clobbered");
    fire(&input, "input");
    sleep(150).await;

    let events = relay.events();
    let snap = events
        .iter()
        .find_map(|(_, e)| match e {
            Event::Snapshot(s) => Some(s),
            _ => None,
        })
        .unwrap_or_else(|| panic!("a snapshot: {events:?}"));
    let fixture = find_id(&snap.root, "doc-clob-session");
    assert_eq!(text(find_id(fixture, "doc-clob-text")), "the page goes on");
    assert!(
        events.iter().any(|(_, e)| matches!(e,
            Event::Mutations(b) if b.adds.iter().any(|a| text(&a.node) == "added while clobbered"))),
        "{events:?}"
    );
    assert!(
        events.iter().any(|(_, e)| matches!(e,
            Event::Input { state, .. } if state.value.as_deref() == Some("typed while clobbered"))),
        "{events:?}"
    );
    session.end();
    drop(relay);
    drop(f);
    // The UI went with the session, through the shadowed document too.
    assert!(dom::query_selector(&document(), "cobrowse-ui")
        .unwrap()
        .is_none());
}
