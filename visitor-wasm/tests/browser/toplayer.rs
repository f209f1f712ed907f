//! The top layer in a real browser: a dialog opened with `showModal()` and
//! a popover opened with `showPopover()` (which changes no attribute) are
//! sent as `Event::TopLayer`, right after the snapshot and on every change,
//! bottom to top in the order they opened.

use js_sys::{Array, Function, Reflect};
use protocol::{AgentId, Event, Mode, NodeId, ToVisitor, TopLayerEntry, TopLayerKind};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;

use crate::session::{started_with, Relay};
use crate::util::*;

fn call(el: &web_sys::Element, method: &str) {
    let f: Function = Reflect::get(el, &method.into())
        .unwrap()
        .dyn_into()
        .unwrap();
    f.apply(el, &Array::new()).unwrap();
}

fn top_layers(relay: &Relay) -> Vec<Vec<TopLayerEntry>> {
    relay
        .events()
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::TopLayer(entries) => Some(entries),
            _ => None,
        })
        .collect()
}

#[wasm_bindgen_test]
async fn modal_dialogs_and_popovers_are_sent_as_the_top_layer_in_the_order_they_opened() {
    let relay = Relay::install();
    let f = Fixture::new(
        "top-layer",
        "<dialog id='tl-dialog'>Sure?</dialog><div id='tl-pop' popover>Tip</div>\
         <dialog id='tl-plain'>Not modal</dialog>",
    );
    let session = started_with(&relay, "").await;
    relay.say(&ToVisitor::AgentJoined {
        agent: AgentId(1),
        name: "Ann".into(),
        mode: Mode::ViewOnly,
    });
    ui_button("data-cobrowse-accept").unwrap().click();
    // Opened before the snapshot: the snapshot's `open` says only "open".
    call(&f.get("#tl-dialog"), "showModal");
    call(&f.get("#tl-plain"), "show");
    relay.say(&ToVisitor::SnapshotNeeded);
    sleep(150).await;
    let events = relay.events();
    let Some((_, Event::Snapshot(snap))) = events.first() else {
        panic!("a snapshot first: {events:?}");
    };
    let dialog = find_id(&snap.root, "tl-dialog").id();
    let popover = find_id(&snap.root, "tl-pop").id();
    let modal = |node: NodeId| TopLayerEntry {
        node,
        kind: TopLayerKind::ModalDialog,
    };
    let open = |node: NodeId| TopLayerEntry {
        node,
        kind: TopLayerKind::Popover,
    };
    assert!(
        matches!(&events[1].1, Event::TopLayer(e) if e == &[modal(dialog)]),
        "the top layer right after the snapshot, without the non-modal dialog: {:?}",
        events[1]
    );

    // The popover opens above the dialog though it comes later in the page.
    call(&f.get("#tl-pop"), "showPopover");
    sleep(150).await;
    assert_eq!(
        top_layers(&relay).last(),
        Some(&vec![modal(dialog), open(popover)])
    );
    call(&f.get("#tl-dialog"), "close");
    sleep(150).await;
    assert_eq!(top_layers(&relay).last(), Some(&vec![open(popover)]));
    call(&f.get("#tl-pop"), "hidePopover");
    sleep(150).await;
    let sent = top_layers(&relay);
    assert_eq!(sent.last(), Some(&vec![]), "closing everything says so");
    assert_eq!(sent.len(), 4, "each change once: {sent:?}");
    session.end();
}
