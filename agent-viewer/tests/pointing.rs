//! Two people on one page, the console's side, in a real browser: the
//! visitor's cursor drawn over the element it points at, the agent's click in
//! the mirror turned into pointing (always) and control (shared mode only).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use agent_viewer::console::Console;
use agent_viewer::mirror::dom::WebDom;
use agent_viewer::pointing::Pointing;
use protocol::{
    AgentId, AgentMsg, Attr, Control, Event, EventFrame, Mode, Node, NodeId, Ns, Point,
    PointerKind, PointerPos, Seq, SessionId, Snapshot, ToAgent, Viewport,
};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{HtmlElement, HtmlIFrameElement, MouseEvent, MouseEventInit};

wasm_bindgen_test_configure!(run_in_browser);

fn el(id: u32, tag: &str, attrs: &[(&str, &str)], children: Vec<Node>) -> Node {
    Node::Element {
        id: NodeId(id),
        tag: tag.into(),
        ns: Ns::Html,
        attrs: attrs.iter().map(|(n, v)| Attr::new(*n, *v)).collect(),
        state: None,
        children,
    }
}

/// A console, live on a page with a 200×100 box at (50, 40), in an iframe
/// inside a fit box, with the visitor's cursor overlay.
fn live() -> (Console<WebDom>, Pointing, HtmlElement, HtmlIFrameElement) {
    let document = web_sys::window().unwrap().document().unwrap();
    let fit: HtmlElement = document.create_element("div").unwrap().unchecked_into();
    fit.set_attribute("style", "position: relative; width: 400px; height: 300px")
        .unwrap();
    document.body().unwrap().append_child(&fit).unwrap();
    let frame: HtmlIFrameElement = document.create_element("iframe").unwrap().unchecked_into();
    frame.set_attribute("sandbox", "allow-same-origin").unwrap();
    frame.set_attribute("style", "border: 0").unwrap();
    fit.append_child(&frame).unwrap();
    let mut console = Console::new(WebDom::new(frame.clone()));
    let pointing = Pointing::new(&document, &fit).unwrap();
    console.on_message(
        ToAgent::Joined {
            session: SessionId("s".into()),
            agent: AgentId(1),
            page_url: "https://shop.example/".into(),
        },
        0.0,
    );
    console.on_message(
        ToAgent::Admitted {
            resources: String::new(),
        },
        0.0,
    );
    let page = Event::Snapshot(Snapshot {
        url: "https://shop.example/".into(),
        base_url: "https://shop.example/".into(),
        viewport: Viewport {
            width: 400,
            height: 300,
            device_pixel_ratio: 1.0,
        },
        root: Node::Document {
            id: NodeId(1),
            quirks: false,
            children: vec![el(
                2,
                "html",
                &[],
                vec![
                    el(3, "head", &[], vec![]),
                    el(
                        4,
                        "body",
                        &[("style", "margin: 0")],
                        vec![el(
                            5,
                            "div",
                            &[("id", "box"), ("style", "position: absolute; left: 50px; top: 40px; width: 200px; height: 100px")],
                            vec![],
                        )],
                    ),
                ],
            )],
        },
        scrolls: vec![],
    });
    console.on_message(ToAgent::Event(EventFrame::new(Seq(1), &page).unwrap()), 0.0);
    (console, pointing, fit, frame)
}

fn visitor_event(console: &mut Console<WebDom>, seq: u64, event: Event) {
    console.on_message(
        ToAgent::Event(EventFrame::new(Seq(seq), &event).unwrap()),
        0.0,
    );
}

#[wasm_bindgen_test]
fn the_visitors_cursor_is_drawn_over_the_same_spot_of_the_same_element() {
    let (mut console, mut pointing, fit, _frame) = live();
    visitor_event(
        &mut console,
        2,
        Event::Pointer {
            pos: PointerPos {
                target: Some(NodeId(5)),
                fx: 0.25,
                fy: 0.5,
                // Raw coordinates from a differently sized window: ignored
                // when the element is known.
                x: 999.0,
                y: 999.0,
            },
            kind: PointerKind::Click,
        },
    );
    pointing.draw(&mut console);
    let cursor = fit
        .query_selector("[data-cobrowse-cursor=\"visitor\"]")
        .unwrap()
        .expect("cursor");
    assert!(!cursor.has_attribute("hidden"));
    let transform = cursor
        .unchecked_ref::<HtmlElement>()
        .style()
        .get_property_value("transform")
        .unwrap();
    // 50 + 0.25 × 200 = 100, 40 + 0.5 × 100 = 90.
    assert_eq!(transform, "translate(100px, 90px)");
    let circle = fit
        .query_selector("[data-cobrowse-click]")
        .unwrap()
        .expect("click circle");
    assert!(circle
        .get_attribute("style")
        .unwrap()
        .contains("left: 100.0px; top: 90.0px"));
    // The element under the visitor's pointer shows its :hover rules.
    let doc = _frame.content_document().unwrap();
    assert!(doc
        .get_element_by_id("box")
        .unwrap()
        .has_attribute("data-cobrowse-hover"));
}

fn click_box(frame: &HtmlIFrameElement, ctrl: bool) -> web_sys::Event {
    let init = MouseEventInit::new();
    init.set_bubbles(true);
    init.set_client_x(150);
    init.set_client_y(65);
    init.set_ctrl_key(ctrl);
    let event = MouseEvent::new_with_mouse_event_init_dict("click", &init).unwrap();
    frame
        .content_document()
        .unwrap()
        .get_element_by_id("box")
        .unwrap()
        .dispatch_event(&event)
        .unwrap();
    event.into()
}

#[wasm_bindgen_test]
fn an_agents_click_points_always_and_controls_only_in_shared_mode() {
    let (mut console, mut pointing, _fit, frame) = live();
    console.on_message(ToAgent::Mode(Mode::ViewOnly), 0.0);
    let click = click_box(&frame, false);
    pointing.on_frame_event(&mut console, &click, 0.0);
    let pos = PointerPos {
        target: Some(NodeId(5)),
        fx: 0.5,
        fy: 0.25,
        x: 150.0,
        y: 65.0,
    };
    assert_eq!(
        console.take_outbox(),
        [AgentMsg::Point(Point::Pointer {
            pos,
            kind: PointerKind::Click
        })],
        "view-only: a yellow circle for the visitor, no control"
    );
    console.on_message(ToAgent::Mode(Mode::Shared), 0.0);
    pointing.on_frame_event(&mut console, &click, 0.0);
    assert_eq!(
        console.take_outbox(),
        [
            AgentMsg::Point(Point::Pointer {
                pos,
                kind: PointerKind::Click
            }),
            AgentMsg::Control(Control::Click {
                target: NodeId(5),
                fx: 0.5,
                fy: 0.25
            })
        ]
    );
    // Ctrl+click wiggles; the armed highlight tool outlines, once.
    let ctrl = click_box(&frame, true);
    pointing.on_frame_event(&mut console, &ctrl, 0.0);
    pointing.highlight_armed = true;
    pointing.on_frame_event(&mut console, &click, 0.0);
    assert_eq!(
        console.take_outbox(),
        [
            AgentMsg::Point(Point::Wiggle { target: NodeId(5) }),
            AgentMsg::Point(Point::Highlight { target: NodeId(5) })
        ]
    );
    assert!(!pointing.highlight_armed);
}
