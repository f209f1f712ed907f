//! The snapshot's node cap (`maxNodes`): a page larger than the cap is sent
//! up to it, with a notice the agent sees, never silently cut.

use std::collections::HashSet;

use protocol::Node;
use visitor_wasm::{snapshot, Capture, Options};
use wasm_bindgen_test::wasm_bindgen_test;

use crate::util::*;

fn count(node: &Node) -> usize {
    1 + node.children().iter().map(count).sum::<usize>()
}

fn ids(node: &Node, out: &mut Vec<u32>) {
    out.push(node.id().0);
    for c in node.children() {
        ids(c, out);
    }
}

fn notice(root: &Node) -> Option<&Node> {
    find(root, &|n| attr(n, "data-cobrowse-truncated").is_some())
}

#[wasm_bindgen_test]
fn a_page_past_max_nodes_is_cut_there_with_a_notice_in_the_body() {
    let _big = Fixture::new("big-page", &"<p>row <b>bold</b></p>".repeat(400));
    let mut cap = Capture::new("[data-cobrowse-mask]".into()).max_nodes(150);
    let snap = snapshot(&document(), &mut cap).unwrap();
    // The cap, plus the notice and its text.
    assert!(count(&snap.root) <= 152, "{} nodes", count(&snap.root));
    let shown = notice(&snap.root).expect("a notice of the cut");
    assert_eq!(attr(shown, "data-cobrowse-truncated"), Some("150"));
    assert!(
        text(shown).contains("only its first 150 nodes are shown"),
        "{}",
        text(shown)
    );
    let body = find(&snap.root, &|n| tag(n) == Some("body")).expect("body");
    assert!(
        body.children().iter().any(|c| std::ptr::eq(c, shown)),
        "the notice is the body's own child, where the agent sees it"
    );
    // Its ids are nobody else's: the console keeps one node per id.
    let mut all = Vec::new();
    ids(&snap.root, &mut all);
    let unique: HashSet<u32> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "duplicate ids");
    // What was left out has no id, so its changes are never sent.
    let last = document()
        .get_element_by_id("big-page")
        .unwrap()
        .last_element_child()
        .unwrap();
    assert!(cap.ids.get(&last).is_none());
}

#[wasm_bindgen_test]
fn a_page_within_max_nodes_is_whole_and_has_no_notice() {
    let _page = Fixture::new("small-page", &"<p>row</p>".repeat(50));
    let mut cap = Capture::new("[data-cobrowse-mask]".into());
    let snap = snapshot(&document(), &mut cap).unwrap();
    assert!(notice(&snap.root).is_none());
    assert_eq!(text(find_id(&snap.root, "small-page")), "row".repeat(50));
    // The next snapshot counts afresh.
    let again = snapshot(&document(), &mut cap).unwrap();
    assert!(notice(&again.root).is_none());
}

#[wasm_bindgen_test]
fn the_max_nodes_option_is_read_bounded_and_checked() {
    let read = |js: &str| {
        let value = js_sys::eval(&format!("({js})")).unwrap();
        Options::from_js(&value)
    };
    let relay = "relay: 'https://relay.example'";
    assert_eq!(read(&format!("{{{relay}}}")).unwrap().max_nodes, 1_000_000);
    assert_eq!(
        read(&format!("{{{relay}, maxNodes: 5000}}"))
            .unwrap()
            .max_nodes,
        5000
    );
    assert_eq!(
        read(&format!("{{{relay}, maxNodes: 1e9}}"))
            .unwrap()
            .max_nodes,
        1_000_000,
        "at most what the console builds"
    );
    for bad in ["0", "-3", "'many'", "NaN"] {
        let err = read(&format!("{{{relay}, maxNodes: {bad}}}")).unwrap_err();
        assert!(err.to_string().contains("options.maxNodes"), "{bad}: {err}");
    }
}
