//! The snapshot in slices through whole sessions against the fake relay:
//! nothing goes before the snapshot while it is walked, what waited
//! follows it, a cancelled walk sends nothing, and no task runs long.

use protocol::{AgentId, Event, Mode, Node, Snapshot, ToVisitor};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::session::{started_with, Relay};
use crate::util::*;

#[wasm_bindgen(module = "/tests/browser/support.js")]
extern "C" {
    type LongTasks;
    fn watch_long_tasks() -> LongTasks;
    #[wasm_bindgen(method)]
    fn longest(this: &LongTasks, since: f64) -> f64;
    #[wasm_bindgen(method)]
    fn stop(this: &LongTasks);
}

const AGENT: AgentId = AgentId(4);

async fn admitted(relay: &Relay) -> visitor_wasm::Session {
    let session = started_with(relay, "").await;
    relay.say(&ToVisitor::AgentJoined {
        agent: AGENT,
        name: "Ann".into(),
        mode: Mode::ViewOnly,
    });
    ui_button("data-cobrowse-accept").unwrap().click();
    session
}

fn snapshots(relay: &Relay) -> Vec<Snapshot> {
    relay
        .events()
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::Snapshot(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// Waits (up to ~10 s) until `n` snapshots were sent.
async fn until_snapshots(relay: &Relay, n: usize) {
    for _ in 0..200 {
        if snapshots(relay).len() >= n {
            return;
        }
        sleep(50).await;
    }
    panic!("no snapshot sent");
}

fn rows(n: usize) -> String {
    (0..n)
        .map(|i| format!("<p class='row'>row {i}</p>"))
        .collect()
}

#[wasm_bindgen_test]
async fn while_a_snapshot_is_walked_nothing_goes_before_it_and_what_waited_follows() {
    let relay = Relay::install();
    let f = Fixture::new(
        "walked-live",
        &format!(
            "{}<input id='typed' value='before'><ul id='list'></ul>",
            rows(600)
        ),
    );
    let session = admitted(&relay).await;
    let _tiny = TinySlices::on();
    relay.say(&ToVisitor::SnapshotNeeded);
    assert!(
        relay.events().is_empty(),
        "a page past one slice is not sent in the first task"
    );

    // The page runs between slices: it changes, the visitor types.
    let li = document().create_element("li").unwrap();
    li.set_text_content(Some("added mid-walk"));
    f.get("#list").append_child(&li).unwrap();
    set_value(&f.get("#typed"), "typed mid-walk");
    fire(&f.get("#typed"), "input");
    sleep(0).await;
    f.get(".row").set_attribute("title", "edited").unwrap();
    until_snapshots(&relay, 1).await;
    sleep(150).await;

    let events = relay.events();
    let seqs: Vec<u64> = events.iter().map(|(s, _)| s.0).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "no gaps");
    assert!(matches!(events[0].1, Event::Snapshot(_)), "snapshot first");
    let Event::Snapshot(snap) = &events[0].1 else {
        unreachable!()
    };
    let fixture = find_id(&snap.root, "walked-live");
    assert_eq!(text(find_id(fixture, "list")), "added mid-walk");
    let Node::Element { state, .. } = find_id(fixture, "typed") else {
        panic!("no input");
    };
    assert_eq!(
        state.as_ref().and_then(|s| s.value.as_deref()),
        Some("typed mid-walk")
    );
    assert_eq!(attr(&fixture.children()[0], "title"), Some("edited"));
    // What the snapshot shows is not sent again after it.
    for (_, e) in &events[1..] {
        match e {
            Event::Mutations(b) => assert!(
                b.adds.is_empty() && b.attrs.is_empty(),
                "changes shown by the snapshot were sent again: {b:?}"
            ),
            Event::Input { .. } => panic!("the typed value was sent again"),
            _ => {}
        }
    }
    session.end();
}

#[wasm_bindgen_test]
async fn a_second_request_restarts_the_walk_and_a_walk_nobody_watches_any_more_sends_nothing() {
    let relay = Relay::install();
    let _f = Fixture::new("restarted", &rows(600));
    let session = admitted(&relay).await;
    let _tiny = TinySlices::on();
    relay.say(&ToVisitor::SnapshotNeeded);
    relay.say(&ToVisitor::SnapshotNeeded);
    until_snapshots(&relay, 1).await;
    sleep(300).await;
    assert_eq!(snapshots(&relay).len(), 1, "the replaced walk sent nothing");

    let before = relay.events().len();
    relay.say(&ToVisitor::SnapshotNeeded);
    relay.say(&ToVisitor::AgentLeft { agent: AGENT });
    sleep(600).await;
    assert_eq!(
        relay.events().len(),
        before,
        "a cancelled walk sends nothing"
    );
    session.end();
}

#[wasm_bindgen_test]
async fn a_snapshot_of_twenty_thousand_nodes_runs_in_short_tasks() {
    let relay = Relay::install();
    let cells: String = (0..3000)
        .map(|i| format!("<tr><td>{i}</td><td class='c'>b</td><td>c</td></tr>"))
        .collect();
    let _f = Fixture::new("big", &format!("<table><tbody>{cells}</tbody></table>"));
    let session = admitted(&relay).await;
    sleep(100).await;
    let tasks = watch_long_tasks();
    let now = || web_sys::window().unwrap().performance().unwrap().now();
    let sent = relay.frames().len();
    let start = now();
    relay.say(&ToVisitor::SnapshotNeeded);
    assert_eq!(relay.frames().len(), sent, "sliced, not sent in one task");
    // Polled without decoding: a test's own long task would count.
    for _ in 0..200 {
        if relay.frames().len() > sent {
            break;
        }
        sleep(20).await;
    }
    let took = now() - start;
    sleep(200).await;
    let longest = tasks.longest(start);
    tasks.stop();
    let nodes = snapshots(&relay)[0].root.count();
    web_sys::console::log_1(
        &format!("sliced snapshot: {nodes} nodes in {took:.0} ms, longest task {longest:.0} ms")
            .into(),
    );
    assert!(nodes > 20_000, "{nodes} nodes");
    // The walk's slices are ~8 ms; the last task (mending, encoding and
    // sending the frame) is the longest. In a debug build on a shared
    // machine absolute times mean little: the page got the main thread
    // back many times, no task took a third of the whole.
    assert!(
        longest * 3.0 < took,
        "longest task {longest:.0} ms of {took:.0} ms"
    );
    session.end();
}

#[wasm_bindgen_test]
async fn what_follows_a_sliced_snapshot_comes_after_it_in_order_each_part_once() {
    let relay = Relay::install();
    let f = Fixture::new(
        "after-parts",
        &format!(
            "<style id='sheet'></style><dialog id='d'>modal</dialog>{}",
            rows(600)
        ),
    );
    // A rule the markup does not show: sent right after the snapshot.
    js_sys::Function::new_with_args("s", "s.sheet.insertRule('.row { margin: 1px }', 0)")
        .call1(&JsValue::NULL, &f.get("#sheet"))
        .unwrap();
    let session = admitted(&relay).await;
    relay.say(&ToVisitor::SnapshotNeeded);
    until_snapshots(&relay, 1).await;
    sleep(200).await;
    f.get("#d")
        .unchecked_into::<web_sys::HtmlDialogElement>()
        .show_modal()
        .unwrap();
    sleep(200).await;
    let before = relay.events().len();
    let _tiny = TinySlices::on();
    relay.say(&ToVisitor::SnapshotNeeded);
    assert_eq!(
        relay.events().len(),
        before,
        "a page past one slice is not sent in the first task"
    );
    until_snapshots(&relay, 2).await;
    sleep(300).await;

    let kinds: Vec<&str> = relay.events()[before..]
        .iter()
        .map(|(_, e)| match e {
            Event::Snapshot(_) => "snapshot",
            Event::Sheet(_) => "sheet",
            Event::TopLayer(_) => "top layer",
            _ => "other",
        })
        .filter(|k| *k != "other")
        .collect();
    assert_eq!(kinds, ["snapshot", "sheet", "top layer"]);
    session.end();
}

#[wasm_bindgen_test]
async fn a_page_read_within_one_slice_is_sent_with_what_follows_it_in_the_same_task() {
    let relay = Relay::install();
    let _f = Fixture::new(
        "one-slice",
        "<dialog id='d'>modal</dialog><p>small page</p>",
    );
    let session = admitted(&relay).await;
    document()
        .get_element_by_id("d")
        .unwrap()
        .unchecked_into::<web_sys::HtmlDialogElement>()
        .show_modal()
        .unwrap();
    // A budget no test page reaches, even in a debug build.
    visitor_wasm::set_slice_budget_ms(10_000.0);
    let before = relay.events().len();
    relay.say(&ToVisitor::SnapshotNeeded);
    let events = relay.events();
    visitor_wasm::set_slice_budget_ms(8.0);
    assert!(
        matches!(events.get(before), Some((_, Event::Snapshot(_)))),
        "the snapshot went out in the message's own task"
    );
    assert!(
        events[before..]
            .iter()
            .any(|(_, e)| matches!(e, Event::TopLayer(_))),
        "and the top layer right after it, in the same task"
    );
    session.end();
}

/// The items of `#list` a node shows (their texts).
fn items(node: &Node) -> Vec<String> {
    let mut out = Vec::new();
    if tag(node) == Some("li") {
        out.push(text(node));
    }
    for c in node.children() {
        out.extend(items(c));
    }
    out
}

#[wasm_bindgen_test]
async fn a_change_made_while_the_snapshot_is_encoded_arrives_once_after_it() {
    let relay = Relay::install();
    let f = Fixture::new(
        "encoded-live",
        &format!("{}<ul id='list'></ul>", rows(3000)),
    );
    let session = admitted(&relay).await;
    sleep(100).await;
    let _tiny = TinySlices::on();
    let sent = relay.frames().len();
    relay.say(&ToVisitor::SnapshotNeeded);
    // At every turn the page gets until the snapshot is on the wire: the
    // walk's slices, then the encoding's.
    let list = f.get("#list");
    let row = f.get(".row");
    let mut added = 0;
    while relay.frames().len() == sent && added < 5000 {
        let li = document().create_element("li").unwrap();
        li.set_text_content(Some(&format!("item {added}")));
        list.append_child(&li).unwrap();
        row.set_attribute("title", &format!("t{added}")).unwrap();
        added += 1;
        sleep(0).await;
    }
    sleep(300).await;

    let events = relay.events();
    let Some((_, Event::Snapshot(snap))) = events.first() else {
        panic!("the snapshot comes first");
    };
    let list_id = match find_id(&snap.root, "list") {
        Node::Element { id, .. } => *id,
        _ => panic!("no list"),
    };
    let mut seen = items(find_id(&snap.root, "list"));
    let in_snapshot = seen.len();
    let mut title =
        attr(&find_id(&snap.root, "encoded-live").children()[0], "title").map(str::to_owned);
    for (_, e) in &events[1..] {
        if let Event::Mutations(b) = e {
            // Adds are listed later siblings first.
            for add in b.adds.iter().rev() {
                if add.parent == list_id {
                    seen.extend(items(&add.node));
                }
            }
            for change in &b.attrs {
                if change.name == "title" {
                    title = change.value.clone();
                }
            }
        }
    }
    let expected: Vec<String> = (0..added).map(|i| format!("item {i}")).collect();
    assert_eq!(seen, expected, "every item once, in order");
    assert!(
        in_snapshot < added,
        "items added while the snapshot was encoded (before it was sent) follow it: {in_snapshot} of {added} in it"
    );
    assert_eq!(
        title,
        Some(format!("t{}", added - 1)),
        "the last title wins"
    );
    session.end();
}
