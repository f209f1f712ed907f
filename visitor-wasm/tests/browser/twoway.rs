//! Two-way co-browsing through whole sessions against the fake relay: the
//! visitor's pointer and focus sent with element-relative positions, agents'
//! cursors and marks drawn in the visitor UI, the modes the visitor grants
//! and takes back, and remote control done the way frameworks notice —
//! never into secrets, the visitor's panel, or another site.

use protocol::{
    AgentId, Control, Event, FromAgent, Mode, Navigation, NodeId, Point, PointerKind, PointerPos,
    Snapshot, ToVisitor, VisitorMsg,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::Element;

use crate::session::{started_with, Relay};
use crate::util::*;

#[wasm_bindgen(module = "/tests/browser/support.js")]
extern "C" {
    fn pointer(el: &Element, kind: &str, x: f64, y: f64);
    fn react_like(input: &Element) -> js_sys::Array;
    fn record(el: &Element, types: Vec<JsValue>) -> js_sys::Array;
}

const ANN: AgentId = AgentId(7);

fn from(msg: FromAgent) -> ToVisitor {
    ToVisitor::FromAgent { agent: ANN, msg }
}

fn strings(a: &js_sys::Array) -> Vec<String> {
    a.iter().filter_map(|v| v.as_string()).collect()
}

/// A session with Ann admitted in `mode` and the first snapshot sent.
async fn watched(relay: &Relay, mode: Mode) -> (visitor_wasm::Session, Snapshot) {
    let session = started_with(relay, "").await;
    relay.say(&ToVisitor::AgentJoined {
        agent: ANN,
        name: "Ann".into(),
        mode,
    });
    ui_button("data-cobrowse-accept").unwrap().click();
    relay.say(&ToVisitor::SnapshotNeeded);
    let Some((_, Event::Snapshot(snap))) = relay.events().into_iter().next() else {
        panic!("no snapshot")
    };
    (session, snap)
}

fn id_of(snap: &Snapshot, html_id: &str) -> NodeId {
    find_id(&snap.root, html_id).id()
}

/// Pointer and focus events sent since `from` (an index into events).
fn pointing_since(relay: &Relay, from: usize) -> Vec<Event> {
    relay
        .events()
        .into_iter()
        .skip(from)
        .map(|(_, e)| e)
        .filter(|e| matches!(e, Event::Pointer { .. } | Event::Focus { .. }))
        .collect()
}

fn shadow(selector: &str) -> Option<Element> {
    let host = document().query_selector("cobrowse-ui").unwrap()?;
    host.shadow_root()?.query_selector(selector).unwrap()
}

fn ui_text() -> String {
    let host = document().query_selector("cobrowse-ui").unwrap().unwrap();
    host.shadow_root()
        .unwrap()
        .text_content()
        .unwrap_or_default()
}

const PAD: &str = "<div id='pad' style='position:fixed;left:100px;top:100px;width:200px;height:100px'></div>\
    <div id='secret' data-cobrowse-block style='position:fixed;left:400px;top:100px;width:100px;height:100px'>\
    <span id='inner'>card</span></div><input id='field'>";

#[wasm_bindgen_test]
async fn the_visitors_pointer_and_focus_reach_the_agent_relative_to_the_element_under_it() {
    let relay = Relay::install();
    let f = Fixture::new("pointing", PAD);
    let pad = f.get("#pad");
    // Before anyone is admitted, nothing is sent.
    let session = started_with(&relay, "").await;
    pointer(&pad, "pointermove", 150.0, 125.0);
    pointer(&pad, "pointerdown", 150.0, 125.0);
    sleep(80).await;
    assert!(relay.messages().is_empty(), "{:?}", relay.messages());
    session.end();

    let relay = Relay::install();
    let (session, snap) = watched(&relay, Mode::ViewOnly).await;
    let start = relay.events().len();
    pointer(&pad, "pointermove", 150.0, 125.0);
    let sent = pointing_since(&relay, start);
    assert_eq!(
        sent,
        [Event::Pointer {
            pos: PointerPos {
                target: Some(id_of(&snap, "pad")),
                fx: 0.25,
                fy: 0.25,
                x: 150.0,
                y: 125.0
            },
            kind: PointerKind::Move
        }]
    );

    // A burst of moves: throttled, and the last one still arrives.
    for i in 0..10 {
        pointer(&pad, "pointermove", 110.0 + f64::from(i) * 10.0, 150.0);
    }
    assert!(pointing_since(&relay, start).len() <= 2, "throttled");
    sleep(120).await;
    let sent = pointing_since(&relay, start);
    assert!(sent.len() <= 3, "{sent:?}");
    let Some(Event::Pointer { pos, .. }) = sent.last() else {
        panic!("{sent:?}")
    };
    assert_eq!((pos.fx, pos.fy, pos.x), (0.5, 0.5, 200.0));

    // A press always goes out at once; a blocked element's inside is the box.
    let n = pointing_since(&relay, start).len();
    pointer(&f.get("#inner"), "pointerdown", 425.0, 175.0);
    let sent = pointing_since(&relay, start);
    assert_eq!(sent.len(), n + 1);
    assert!(matches!(
        sent.last(),
        Some(Event::Pointer { pos, kind: PointerKind::Click })
            if pos.target == Some(id_of(&snap, "secret")) && pos.fx == 0.25 && pos.fy == 0.75
    ));

    // The visitor's own panel is never reported.
    let n = pointing_since(&relay, start).len();
    let end_button: Element = ui_button("data-cobrowse-end").unwrap().into();
    sleep(60).await;
    pointer(&end_button, "pointermove", 5.0, 5.0);
    pointer(&end_button, "pointerdown", 5.0, 5.0);
    sleep(80).await;
    assert_eq!(pointing_since(&relay, start).len(), n, "panel is private");

    // Leaving the window.
    pointer(&pad, "pointerout", 0.0, 40.0);
    assert!(matches!(
        pointing_since(&relay, start).last(),
        Some(Event::Pointer { pos, kind: PointerKind::Leave }) if pos.target.is_none()
    ));

    // Focus in and out.
    let field: web_sys::HtmlElement = f.get("#field").unchecked_into();
    field.focus().unwrap();
    field.blur().unwrap();
    let sent = pointing_since(&relay, start);
    let focus = &sent[sent.len() - 2..];
    assert_eq!(
        focus,
        [
            Event::Focus {
                target: Some(id_of(&snap, "field"))
            },
            Event::Focus { target: None }
        ]
    );

    // Nothing after end().
    session.end();
    let before = relay.frames().len();
    pointer(&pad, "pointermove", 150.0, 125.0);
    pointer(&pad, "pointerdown", 150.0, 125.0);
    field.focus().unwrap();
    sleep(80).await;
    assert_eq!(relay.frames().len(), before);
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1.5
}

#[wasm_bindgen_test]
async fn agents_cursor_clicks_highlights_and_scrolls_show_on_the_visitors_page() {
    let relay = Relay::install();
    let f = Fixture::new(
        "presence",
        "<div id='box' style='position:fixed;left:40px;top:60px;width:200px;height:100px'></div>\
         <div id='sc' style='height:40px;overflow:auto'><div style='height:400px'>tall</div></div>",
    );
    let (session, snap) = watched(&relay, Mode::ViewOnly).await;
    let box_id = id_of(&snap, "box");
    let style_before = f.get("#box").get_attribute("style");

    // Not from an admitted agent: nothing drawn.
    relay.say(&ToVisitor::FromAgent {
        agent: AgentId(99),
        msg: FromAgent::Point(Point::Highlight { target: box_id }),
    });
    assert!(shadow("[data-cobrowse-highlight]").is_none());

    let at = |fx, fy, kind| {
        from(FromAgent::Point(Point::Pointer {
            pos: PointerPos {
                target: Some(box_id),
                fx,
                fy,
                x: 5.0,
                y: 6.0,
            },
            kind,
        }))
    };
    relay.say(&at(0.5, 0.5, PointerKind::Move));
    let cursor = shadow("[data-cobrowse-cursor=\"agent\"]").expect("a cursor");
    assert!(cursor.text_content().unwrap().contains("Ann"));
    let r = cursor.get_bounding_client_rect();
    assert!(close(r.left(), 140.0) && close(r.top(), 110.0), "{r:?}");

    // An unknown element: the agent's own coordinates.
    relay.say(&from(FromAgent::Point(Point::Pointer {
        pos: PointerPos {
            target: Some(NodeId(999_999)),
            fx: 0.5,
            fy: 0.5,
            x: 30.0,
            y: 20.0,
        },
        kind: PointerKind::Move,
    })));
    let r = cursor.get_bounding_client_rect();
    assert!(close(r.left(), 30.0) && close(r.top(), 20.0), "{r:?}");

    relay.say(&at(0.0, 1.0, PointerKind::Click));
    let circle = shadow("[data-cobrowse-click]").expect("a click circle");
    let r = circle.get_bounding_client_rect();
    // The circle is centred on the spot (it scales while it fades).
    let (cx, cy) = (r.left() + r.width() / 2.0, r.top() + r.height() / 2.0);
    assert!(close(cx, 40.0) && close(cy, 160.0), "{r:?}");

    relay.say(&from(FromAgent::Point(Point::Highlight { target: box_id })));
    let hl = shadow("[data-cobrowse-highlight]").expect("a highlight");
    let r = hl.get_bounding_client_rect();
    assert!(close(r.left(), 36.0) && close(r.top(), 56.0) && close(r.width(), 208.0));
    relay.say(&from(FromAgent::Point(Point::Wiggle { target: box_id })));
    let wiggle = shadow("[data-cobrowse-wiggle]").expect("a wiggle");
    let animation = web_sys::window()
        .unwrap()
        .get_computed_style(&wiggle)
        .unwrap()
        .unwrap()
        .get_property_value("animation-name")
        .unwrap();
    assert!(animation.contains("cb-wiggle"), "{animation}");
    assert_eq!(f.get("#box").get_attribute("style"), style_before);

    // Co-scrolling an element.
    relay.say(&from(FromAgent::Point(Point::Scroll {
        target: id_of(&snap, "sc"),
        x: 0.0,
        y: 30.0,
    })));
    assert_eq!(f.get("#sc").scroll_top(), 30);

    // The click circle fades and goes; the highlight stays ~2 s.
    sleep(800).await;
    assert!(shadow("[data-cobrowse-click]").is_none());
    assert!(shadow("[data-cobrowse-highlight]:not([data-cobrowse-wiggle])").is_some());

    // Leave hides the cursor; none of it was ever sent to the agent.
    relay.say(&at(0.5, 0.5, PointerKind::Leave));
    assert!(cursor.has_attribute("hidden"));
    for frame in relay.frames() {
        assert!(!contains(&frame, "data-cobrowse-cursor"));
        assert!(!contains(&frame, "data-cobrowse-highlight"));
    }
    relay.say(&ToVisitor::AgentLeft { agent: ANN });
    assert!(shadow("[data-cobrowse-cursor]").is_none());
    session.end();
}

fn set_value(target: NodeId, value: &str) -> ToVisitor {
    from(FromAgent::Control(Control::SetValue {
        target,
        value: value.into(),
    }))
}

fn field_value(el: &Element) -> String {
    js_sys::Reflect::get(el, &"value".into())
        .unwrap()
        .as_string()
        .unwrap()
}

#[wasm_bindgen_test]
async fn control_acts_only_after_the_visitor_allows_it_and_stops_when_taken_back() {
    let relay = Relay::install();
    let f = Fixture::new("control", "<input id='name' value='orig'>");
    let (session, snap) = watched(&relay, Mode::ViewOnly).await;
    let name = f.get("#name");
    let name_id = id_of(&snap, "name");

    // View-only: refused, whatever the relay forwarded.
    relay.say(&set_value(name_id, "typed by agent"));
    assert_eq!(field_value(&name), "orig");

    // Asked; kept view-only: nothing sent, still refused.
    relay.say(&from(FromAgent::ModeRequest(Mode::Shared)));
    assert!(
        ui_text().contains("Ann asks to control this page"),
        "{}",
        ui_text()
    );
    ui_button("data-cobrowse-deny-control").unwrap().click();
    assert!(!relay
        .messages()
        .iter()
        .any(|m| matches!(m, VisitorMsg::SetMode { .. })));
    relay.say(&set_value(name_id, "typed by agent"));
    assert_eq!(field_value(&name), "orig");

    // Asked; allowed: the relay hears it and control works.
    relay.say(&from(FromAgent::ModeRequest(Mode::Shared)));
    ui_button("data-cobrowse-allow-control").unwrap().click();
    assert_eq!(
        relay.messages().last(),
        Some(&VisitorMsg::SetMode {
            agent: ANN,
            mode: Mode::Shared
        })
    );
    assert!(
        ui_text().contains("Ann can control this page"),
        "{}",
        ui_text()
    );
    relay.say(&set_value(name_id, "typed by agent"));
    assert_eq!(field_value(&name), "typed by agent");
    sleep(50).await;
    // The capture reported the new value like typing.
    assert!(relay.events().iter().any(|(_, e)| matches!(
        e,
        Event::Input { id, state } if *id == name_id && state.value.as_deref() == Some("typed by agent")
    )));

    // The visitor takes control back: refused again.
    ui_button("data-cobrowse-view-only").unwrap().click();
    assert_eq!(
        relay.messages().last(),
        Some(&VisitorMsg::SetMode {
            agent: ANN,
            mode: Mode::ViewOnly
        })
    );
    relay.say(&set_value(name_id, "after stop"));
    assert_eq!(field_value(&name), "typed by agent");

    // Granted again, then the agent drops back itself: refused at once.
    relay.say(&from(FromAgent::ModeRequest(Mode::Shared)));
    ui_button("data-cobrowse-allow-control").unwrap().click();
    relay.say(&from(FromAgent::ModeRequest(Mode::ViewOnly)));
    assert!(ui_button("data-cobrowse-view-only").is_none());
    relay.say(&set_value(name_id, "after drop"));
    assert_eq!(field_value(&name), "typed by agent");
    session.end();
}

#[wasm_bindgen_test]
async fn shared_control_types_like_a_person_but_never_into_secrets_the_panel_or_elsewhere() {
    let relay = Relay::install();
    let f = Fixture::new(
        "shared",
        "<input id='react'>\
         <select id='one'><option>a</option><option>b</option><option>c</option></select>\
         <select id='many' multiple><option>x</option><option>y</option><option>z</option></select>\
         <input id='tick' type='checkbox'>\
         <button id='go' style='position:fixed;left:10px;top:300px;width:80px;height:30px'>go</button>\
         <input id='pw' type='password' value='pw-orig'>\
         <input id='masked' data-cobrowse-mask value='m-orig'>\
         <input id='blocked' data-cobrowse-block value='b-orig'>",
    );
    let (session, snap) = watched(&relay, Mode::Shared).await;
    let ctl = |c: Control| relay.say(&from(FromAgent::Control(c)));

    // A React-controlled input sees the value through its own tracker.
    let react = f.get("#react");
    let changes = react_like(&react);
    ctl(Control::SetValue {
        target: id_of(&snap, "react"),
        value: "Ada".into(),
    });
    assert_eq!(strings(&changes), ["Ada"], "React's onChange saw it");
    assert_eq!(
        document().active_element().map(|e| e.id()),
        Some("react".into())
    );

    ctl(Control::SetValue {
        target: id_of(&snap, "one"),
        value: "c".into(),
    });
    assert_eq!(field_value(&f.get("#one")), "c");
    ctl(Control::SelectOptions {
        target: id_of(&snap, "many"),
        selected: vec![0, 2],
    });
    let chosen: Vec<bool> = (0..3)
        .map(|i| {
            let sel = format!("#many option:nth-child({})", i + 1);
            js_sys::Reflect::get(&f.get(&sel), &"selected".into())
                .unwrap()
                .is_truthy()
        })
        .collect();
    assert_eq!(chosen, [true, false, true]);
    ctl(Control::SetChecked {
        target: id_of(&snap, "tick"),
        checked: true,
    });
    assert!(js_sys::Reflect::get(&f.get("#tick"), &"checked".into())
        .unwrap()
        .is_truthy());

    // A click is the whole sequence a mouse makes, at the spot.
    let go = f.get("#go");
    let seen = record(
        &go,
        ["pointerdown", "mousedown", "pointerup", "mouseup", "click"]
            .map(JsValue::from)
            .to_vec(),
    );
    ctl(Control::Click {
        target: id_of(&snap, "go"),
        fx: 0.5,
        fy: 0.5,
    });
    assert_eq!(
        strings(&seen),
        ["pointerdown", "mousedown", "pointerup", "mouseup", "click"]
    );

    // Secrets refuse typing in any mode.
    for (id, orig) in [
        ("pw", "pw-orig"),
        ("masked", "m-orig"),
        ("blocked", "b-orig"),
    ] {
        let target = find_id(&snap.root, id).id();
        ctl(Control::SetValue {
            target,
            value: "agent".into(),
        });
        assert_eq!(field_value(&f.get(&format!("#{id}"))), orig, "#{id}");
    }
    // An element the page does not have: ignored.
    ctl(Control::SetValue {
        target: NodeId(4_000_000),
        value: "x".into(),
    });

    // A click where the visitor's panel sits lands on the page element
    // under it, never on the panel's buttons: no mode change is sent.
    relay.say(&from(FromAgent::ModeRequest(Mode::Shared))); // already shared: ignored
    let stop = ui_button("data-cobrowse-view-only").expect("Stop control");
    let r = stop.get_bounding_client_rect();
    let html = document().document_element().unwrap();
    let hr = html.get_bounding_client_rect();
    let sent = relay.messages().len();
    ctl(Control::Click {
        target: find(&snap.root, &|n| tag(n) == Some("html")).unwrap().id(),
        fx: ((r.left() + r.width() / 2.0 - hr.left()) / hr.width()) as f32,
        fy: ((r.top() + r.height() / 2.0 - hr.top()) / hr.height()).clamp(0.0, 1.0) as f32,
    });
    sleep(20).await;
    assert!(!relay.messages()[sent..]
        .iter()
        .any(|m| matches!(m, VisitorMsg::SetMode { .. })));
    assert!(ui_text().contains("Ann can control this page"));

    // Another site: refused; the same page: followed.
    let href = web_sys::window().unwrap().location().href().unwrap();
    ctl(Control::Navigate(Navigation::To(
        "https://elsewhere.example/".into(),
    )));
    ctl(Control::Navigate(Navigation::To(
        "javascript:alert(1)".into(),
    )));
    sleep(50).await;
    assert_eq!(web_sys::window().unwrap().location().href().unwrap(), href);
    let here = href.split('#').next().unwrap().to_owned() + "#cobrowse-nav";
    ctl(Control::Navigate(Navigation::To(here.clone())));
    assert_eq!(web_sys::window().unwrap().location().href().unwrap(), here);
    session.end();
}
