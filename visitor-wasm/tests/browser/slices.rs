//! The snapshot walked in slices while the page changes between them,
//! through the crate's seams (`SlicedSnapshot`, `MutationTracker`): each
//! test stops the walk every few nodes, edits the page where the walk has
//! been or has yet to go, and checks that the mended snapshot equals a
//! fresh one-go serialization of the live DOM (the same capture, so the
//! same ids).

use protocol::{Node, Snapshot};
use visitor_wasm::{snapshot, Capture, MutationTracker, SlicedSnapshot};
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::Element;

use crate::util::*;

/// Nodes a slice reads in these tests: the test page has a few hundred.
const SLICE: u32 = 16;

fn capture() -> Capture {
    Capture::new("[data-cobrowse-mask]".into())
}

/// Whether the walk has read `el` yet.
fn walked(cap: &Capture, el: &Element) -> bool {
    cap.ids.get(el).is_some()
}

/// Walks the page `SLICE` nodes at a time; between slices `between(cap)`
/// runs (the page's turn). Returns the mended snapshot and a fresh one of
/// the page as it is at the end.
fn in_slices(
    cap: &mut Capture,
    touched: &[Element],
    mut between: impl FnMut(&Capture),
) -> (Snapshot, Snapshot, usize) {
    let tracker = MutationTracker::start(&document(), Box::new(|| {})).unwrap();
    let mut snap = SlicedSnapshot::begin(&document(), cap).unwrap();
    let mut slices = 0;
    loop {
        let mut read = 0;
        let done = snap.step(cap, &mut || {
            read += 1;
            read < SLICE
        });
        tracker.observe_found(cap);
        slices += 1;
        if done {
            break;
        }
        between(cap);
    }
    let mended = snap.finish_with(cap, &tracker, touched).unwrap();
    let fresh = snapshot(&document(), cap).unwrap();
    (mended, fresh, slices)
}

/// Where two trees first differ, briefly (a whole page's `Debug` is too
/// long to print in a failing test).
fn first_difference(a: &Node, b: &Node, path: &str) -> Option<String> {
    let here = format!(
        "{path}/{}#{}",
        tag(a).unwrap_or("-"),
        attr(a, "id").unwrap_or("")
    );
    let (ca, cb) = (a.children(), b.children());
    let mut shallow_a = a.clone();
    let mut shallow_b = b.clone();
    for n in [&mut shallow_a, &mut shallow_b] {
        if let Node::Element { children, .. }
        | Node::Document { children, .. }
        | Node::ShadowRoot { children, .. } = n
        {
            children.clear();
        }
    }
    if shallow_a != shallow_b {
        return Some(format!("{here}: {shallow_a:?} != {shallow_b:?}"));
    }
    if ca.len() != cb.len() {
        let ids = |c: &[Node]| c.iter().map(|n| n.id().0).collect::<Vec<_>>();
        return Some(format!("{here}: children {:?} != {:?}", ids(ca), ids(cb)));
    }
    ca.iter()
        .zip(cb)
        .find_map(|(x, y)| first_difference(x, y, &here))
}

fn assert_same(mended: &Snapshot, fresh: &Snapshot) {
    if let Some(diff) = first_difference(&mended.root, &fresh.root, "") {
        panic!("the mended snapshot differs from the page: {diff}");
    }
}

fn count_id(root: &Node, id: &str) -> usize {
    let own = usize::from(attr(root, "id") == Some(id));
    own + root
        .children()
        .iter()
        .map(|c| count_id(c, id))
        .sum::<usize>()
}

/// Two halves: the walk reads `#early` well before `#late`, and more
/// after it. `name` is the fixture's id (unique per test: a failed test
/// leaves its fixture behind).
fn halves(name: &str, late: &str) -> Fixture {
    let filler: String = (0..30).map(|i| format!("<i>f{i}</i>")).collect();
    Fixture::new(
        name,
        &format!(
            "<div id='early'><div id='e1'>first-one</div><p id='e2' title='t'>two</p><p id='e3'>three</p></div>\
             <div>{filler}</div><div id='late'>{late}</div><div>{filler}</div>"
        ),
    )
}

const LATE: &str = "<p id='l1'>four</p><p id='l2' title='t'>five</p><p id='l3'>six</p>";

#[wasm_bindgen_test]
fn appends_and_removals_on_both_sides_of_the_walk_are_in_the_snapshot() {
    let f = halves("h-append", LATE);
    let mut cap = capture();
    let mut done = false;
    let (mended, fresh, slices) = in_slices(&mut cap, &[], |cap| {
        if done || !walked(cap, &f.get("#e3")) || walked(cap, &f.get("#l1")) {
            return;
        }
        done = true;
        let doc = document();
        for (parent, id) in [("#early", "e-new"), ("#late", "l-new")] {
            let p = doc.create_element("p").unwrap();
            p.set_id(id);
            p.set_text_content(Some(id));
            f.get(parent).append_child(&p).unwrap();
        }
        f.get("#e1").remove();
        f.get("#l1").remove();
    });
    assert!(done, "the page changed between slices ({slices} slices)");
    assert_same(&mended, &fresh);
    let halves = find_id(&mended.root, "h-append");
    assert_eq!(count_id(halves, "e-new"), 1);
    assert_eq!(count_id(halves, "l-new"), 1);
    assert_eq!(count_id(halves, "e1") + count_id(halves, "l1"), 0);
}

#[wasm_bindgen_test]
fn a_node_moved_forward_past_the_walk_and_back_appears_exactly_once() {
    let f = halves("h-forward", LATE);
    let mut cap = capture();
    let mut step = 0;
    let (mended, fresh, _) = in_slices(&mut cap, &[], |cap| {
        // Read early, then moved to where the walk has yet to go.
        if step == 0 && walked(cap, &f.get("#e2")) && !walked(cap, &f.get("#l1")) {
            f.get("#late").append_child(&f.get("#e2")).unwrap();
            step = 1;
        }
        // A late node moved back behind the walk before it was read.
        if step == 1 && !walked(cap, &f.get("#l3")) {
            f.get("#early").append_child(&f.get("#l3")).unwrap();
            step = 2;
        }
    });
    assert_eq!(step, 2);
    assert_same(&mended, &fresh);
    let fixture = find_id(&mended.root, "h-forward");
    assert_eq!(count_id(fixture, "e2"), 1);
    assert_eq!(count_id(fixture, "l3"), 1);
    let late = find_id(&mended.root, "late");
    assert_eq!(count_id(late, "e2"), 1, "e2 is where it is now");
}

#[wasm_bindgen_test]
fn a_node_moved_back_and_forth_across_the_walk_appears_once_where_it_ends() {
    let f = halves("h-backforth", LATE);
    let mut cap = capture();
    let mut step = 0;
    let (mended, fresh, _) = in_slices(&mut cap, &[], |cap| match step {
        0 if walked(cap, &f.get("#e1")) && !walked(cap, &f.get("#l1")) => {
            f.get("#late")
                .insert_before(&f.get("#e1"), Some(&f.get("#l1")))
                .unwrap();
            step = 1;
        }
        1 if walked(cap, &f.get("#l1")) => {
            // Read twice by now (early, then late): back to its old place.
            f.get("#early")
                .insert_before(&f.get("#e1"), Some(&f.get("#e2")))
                .unwrap();
            step = 2;
        }
        _ => {}
    });
    assert_eq!(step, 2);
    assert_same(&mended, &fresh);
    let fixture = find_id(&mended.root, "h-backforth");
    assert_eq!(count_id(find_id(fixture, "early"), "e1"), 1);
    assert_eq!(count_id(fixture, "e1"), 1);
}

#[wasm_bindgen_test]
fn attribute_and_text_edits_on_both_sides_of_the_walk_are_in_the_snapshot() {
    let f = halves("h-attrs", LATE);
    let mut cap = capture();
    let mut done = false;
    let (mended, fresh, _) = in_slices(&mut cap, &[], |cap| {
        if done || !walked(cap, &f.get("#e3")) || walked(cap, &f.get("#l1")) {
            return;
        }
        done = true;
        for id in ["#e2", "#l2"] {
            f.get(id).set_attribute("title", "changed").unwrap();
            f.get(id).set_attribute("data-new", "1").unwrap();
            f.get(id)
                .first_child()
                .unwrap()
                .set_node_value(Some("edited"));
        }
        f.get("#e3").remove_attribute("id").unwrap();
    });
    assert!(done);
    assert_same(&mended, &fresh);
    let e2 = find_id(&mended.root, "e2");
    assert_eq!(attr(e2, "title"), Some("changed"));
    assert_eq!(text(e2), "edited");
}

#[wasm_bindgen_test]
fn a_value_typed_mid_walk_into_a_read_input_is_in_the_snapshot() {
    let f = halves("h-typed", "<input id='typed' value='start'>");
    let input = f.get("#typed");
    let mut cap = capture();
    let mut done = false;
    let (mended, fresh, _) = in_slices(&mut cap, std::slice::from_ref(&input), |cap| {
        if !done && walked(cap, &input) {
            set_value(&input, "typed meanwhile");
            done = true;
        }
    });
    assert!(done);
    assert_same(&mended, &fresh);
    let Node::Element { state, .. } = find_id(&mended.root, "typed") else {
        panic!("no input");
    };
    assert_eq!(
        state.as_ref().and_then(|s| s.value.as_deref()),
        Some("typed meanwhile")
    );
}

#[wasm_bindgen_test]
fn a_shadow_root_attached_mid_walk_to_a_read_host_is_in_the_snapshot() {
    let f = halves("h-shadow", LATE);
    let mut cap = capture();
    let mut done = false;
    let (mended, fresh, _) = in_slices(&mut cap, &[], |cap| {
        if done || !walked(cap, &f.get("#e1")) {
            return;
        }
        done = true;
        let root = f
            .get("#e1")
            .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
            .unwrap();
        root.set_inner_html("<b id='in-shadow'>inside</b>");
    });
    assert!(done);
    assert_same(&mended, &fresh);
    let host = find_id(&mended.root, "e1");
    assert!(matches!(host.children()[0], Node::ShadowRoot { .. }));
    assert_eq!(count_id(host, "in-shadow"), 1);
}

#[wasm_bindgen_test]
fn a_subtree_removed_while_the_walk_is_inside_it_is_gone_from_the_snapshot() {
    let deep: String = (0..20)
        .map(|i| format!("<section id='s{i}'><em>{i}</em>"))
        .collect();
    let close: String = "</section>".repeat(20);
    let f = Fixture::new(
        "h-nest",
        &format!("<div id='outer'>{deep}{close}</div><p id='after'>after</p>"),
    );
    let mut cap = capture();
    let mut done = false;
    let (mended, fresh, _) = in_slices(&mut cap, &[], |cap| {
        // Inside: some sections read, the innermost not yet.
        if !done && walked(cap, &f.get("#s3")) && !walked(cap, &f.get("#s19")) {
            f.get("#outer").remove();
            done = true;
        }
    });
    assert!(done);
    assert_same(&mended, &fresh);
    let nest = find_id(&mended.root, "h-nest");
    assert_eq!(count_id(nest, "outer") + count_id(nest, "s5"), 0);
    assert_eq!(count_id(nest, "after"), 1);
}

#[wasm_bindgen_test]
fn a_masked_field_stays_masked_in_a_subtree_read_again() {
    let f = halves(
        "h-mask",
        "<div id='secret' data-cobrowse-mask><p>old secret</p></div>",
    );
    let mut cap = capture();
    let mut done = false;
    let (mended, fresh, _) = in_slices(&mut cap, &[], |cap| {
        if done || !walked(cap, &f.get("#secret")) {
            return;
        }
        done = true;
        f.get("#secret")
            .set_inner_html("<p>card 4111 1111</p><input id='pin' value='9876'>");
        // And a mask added to a read element: its text goes masked too.
        f.get("#e1")
            .set_attribute("data-cobrowse-mask", "")
            .unwrap();
    });
    assert!(done);
    assert_same(&mended, &fresh);
    let bytes = protocol::encode(&protocol::Event::Snapshot(mended)).unwrap();
    for secret in ["4111", "9876", "first-one"] {
        assert!(!contains(&bytes, secret), "{secret} leaked");
    }
}

#[wasm_bindgen_test]
fn an_unchanged_page_in_slices_equals_the_page_in_one_go() {
    let f = halves("h-still", LATE);
    let template = document().create_element("template").unwrap();
    template.set_inner_html("<p>in a template</p>");
    f.root.append_child(&template).unwrap();
    let host = document().create_element("div").unwrap();
    f.root.append_child(&host).unwrap();
    host.attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
        .unwrap()
        .set_inner_html("<i>shadow text</i>");
    let mut cap = capture();
    let (mended, fresh, slices) = in_slices(&mut cap, &[], |_| {});
    assert!(slices > 3, "{slices} slices");
    assert_eq!(mended, fresh);
}

#[wasm_bindgen_test]
async fn changes_inside_a_read_shadow_root_and_a_read_frame_document_are_in_the_snapshot() {
    let f = halves(
        "h-roots",
        "<iframe id='frame' srcdoc=\"<p id='in-frame'>frame text</p>\"></iframe>",
    );
    let host = f.get("#e1");
    let root = host
        .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
        .unwrap();
    root.set_inner_html("<b id='in-shadow'>shadow text</b>");
    // The frame's document loads on its own.
    let frame = f.get("#frame");
    // Another realm's document: `instanceof` this window's classes fails.
    let frame_doc = || {
        js_sys::Reflect::get(&frame, &"contentDocument".into())
            .ok()
            .filter(wasm_bindgen::JsValue::is_object)
            .map(wasm_bindgen::JsCast::unchecked_into::<web_sys::Document>)
    };
    for _ in 0..100 {
        if frame_doc()
            .and_then(|d| d.get_element_by_id("in-frame"))
            .is_some()
        {
            break;
        }
        sleep(20).await;
    }
    let inner = frame_doc().unwrap().get_element_by_id("in-frame").unwrap();
    let in_shadow = root.get_element_by_id("in-shadow").unwrap();
    let mut cap = capture();
    let (mut shadow_done, mut frame_done) = (false, false);
    let (mended, fresh, _) = in_slices(&mut cap, &[], |cap| {
        // Read in an earlier slice: observed since that slice ended.
        if !shadow_done && walked(cap, &in_shadow) {
            in_shadow.set_text_content(Some("shadow edited"));
            root.append_with_str_1("shadow appended").unwrap();
            shadow_done = true;
        }
        if !frame_done && walked(cap, &inner) {
            inner.set_attribute("title", "frame attr").unwrap();
            inner.set_text_content(Some("frame edited"));
            frame_done = true;
        }
    });
    assert!(shadow_done && frame_done);
    assert_same(&mended, &fresh);
    let fixture = find_id(&mended.root, "h-roots");
    assert_eq!(text(find_id(fixture, "in-shadow")), "shadow edited");
    assert!(text(find_id(fixture, "e1")).contains("shadow appended"));
    let p = find_id(fixture, "in-frame");
    assert_eq!(
        (attr(p, "title"), text(p).as_str()),
        (Some("frame attr"), "frame edited")
    );
}

#[wasm_bindgen_test]
fn an_append_to_the_body_mid_walk_reads_only_the_new_child_again() {
    let f = halves("h-body", "<input id='quiet' value='as read'>");
    let input = f.get("#quiet");
    let mut cap = capture();
    let mut added = None;
    let (mended, _, _) = in_slices(&mut cap, &[], |cap| {
        if added.is_none() && walked(cap, &input) {
            // Changed with no record and no event: only a read of the
            // input itself could see it.
            set_value(&input, "never read");
            let div = document().create_element("div").unwrap();
            div.set_id("appended-to-body");
            document().body().unwrap().append_child(&div).unwrap();
            added = Some(div);
        }
    });
    let div = added.expect("appended between slices");
    assert_eq!(count_id(&mended.root, "appended-to-body"), 1);
    let Node::Element { state, .. } = find_id(find_id(&mended.root, "h-body"), "quiet") else {
        panic!("no input");
    };
    assert_eq!(
        state.as_ref().and_then(|s| s.value.as_deref()),
        Some("as read"),
        "the body's other children keep what was read of them"
    );
    div.remove();
}

#[wasm_bindgen_test]
fn a_radio_checked_and_options_picked_mid_walk_show_their_whole_group() {
    let f = halves(
        "h-group",
        "<input type='radio' name='h-pick' id='ra' checked><input type='radio' name='h-pick' id='rb'>\
         <select id='sel' multiple><option id='o1' selected>1</option><option id='o2'>2</option></select>",
    );
    let (rb, sel) = (f.get("#rb"), f.get("#sel"));
    let mut cap = capture();
    let mut done = false;
    let touched = [rb.clone(), sel];
    let (mended, fresh, _) = in_slices(&mut cap, &touched, |cap| {
        if !done && walked(cap, &f.get("#o2")) {
            // As a click does: the group's other radio unchecks itself.
            js_sys::Reflect::set(&rb, &"checked".into(), &true.into()).unwrap();
            js_sys::Reflect::set(&f.get("#o1"), &"selected".into(), &false.into()).unwrap();
            js_sys::Reflect::set(&f.get("#o2"), &"selected".into(), &true.into()).unwrap();
            done = true;
        }
    });
    assert!(done);
    assert_same(&mended, &fresh);
    let checked = |id: &str| match find_id(&mended.root, id) {
        Node::Element { state, .. } => state.as_ref().and_then(|s| s.checked.or(s.selected)),
        _ => None,
    };
    assert_eq!(
        [checked("ra"), checked("rb"), checked("o1"), checked("o2")],
        [Some(false), Some(true), Some(false), Some(true)]
    );
}

#[wasm_bindgen_test]
fn a_capped_page_in_slices_is_cut_where_one_go_cuts_it_with_the_notice() {
    let _f = halves("h-capped", LATE);
    let mut cap = capture().max_nodes(60);
    let mut appended = false;
    let (mended, fresh, slices) = in_slices(&mut cap, &[], |_| {});
    assert!(slices > 2, "{slices} slices");
    // Ids of the notice differ (fresh ones each time); the rest is equal.
    let notice = |s: &Snapshot| {
        find(&s.root, &|n| {
            attr(n, visitor_wasm::snapshot::CUT_NOTICE_ATTR).is_some()
        })
        .map(text)
    };
    assert!(notice(&mended).is_some_and(|t| t.contains("60")));
    assert_eq!(notice(&mended), notice(&fresh));
    assert_eq!(mended.root.count(), fresh.root.count());
    // Changes between slices keep it within the cap.
    let mut cap = capture().max_nodes(60);
    let (mended, _, _) = in_slices(&mut cap, &[], |_| {
        if !appended {
            let body = document().body().unwrap();
            body.insert_adjacent_html(
                "afterbegin",
                "<div id='h-capped-extra'><i>a</i><i>b</i></div>",
            )
            .unwrap();
            appended = true;
        }
    });
    assert!(appended);
    assert!(
        mended.root.count() <= 60 + 2,
        "{} nodes",
        mended.root.count()
    );
    document()
        .get_element_by_id("h-capped-extra")
        .unwrap()
        .remove();
}
