//! Two people on one page, the console's side, in a real browser: the
//! visitor's cursor drawn over the element it points at, the agent's click in
//! the mirror turned into pointing (always) and control (shared mode only),
//! the visitor's text selection shown in the mirror and the agent's sent.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use agent_viewer::console::Console;
use agent_viewer::mirror::dom::WebDom;
use agent_viewer::pointing::Pointing;
use protocol::{
    AgentId, AgentMsg, Control, Event, EventFrame, Mode, Node, NodeId, Point, PointerKind,
    PointerPos, Seq, SessionId, Snapshot, TextRange, ToAgent, Viewport,
};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{HtmlElement, HtmlIFrameElement, MouseEvent, MouseEventInit};

wasm_bindgen_test_configure!(run_in_browser);

mod common;
use common::*;

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
                        vec![
                            el(
                                5,
                                "div",
                                &[("id", "box"), ("style", "position: absolute; left: 50px; top: 40px; width: 200px; height: 100px")],
                                vec![],
                            ),
                            el(
                                6,
                                "p",
                                &[("id", "words"), ("style", "position: absolute; left: 10px; top: 200px; margin: 0")],
                                vec![Node::Text {
                                    id: NodeId(7),
                                    text: "hello world".into(),
                                }],
                            ),
                        ],
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

/// The text of each range in the mirror's `cobrowse-visitor` highlight
/// (empty: no such highlight).
fn visitor_highlight(frame: &HtmlIFrameElement) -> Vec<String> {
    use js_sys::Reflect;
    let window = frame.content_window().unwrap();
    let css = Reflect::get(&window, &"CSS".into()).unwrap();
    let registry = Reflect::get(&css, &"highlights".into()).unwrap();
    let get: js_sys::Function = Reflect::get(&registry, &"get".into())
        .unwrap()
        .unchecked_into();
    let highlight = get.call1(&registry, &"cobrowse-visitor".into()).unwrap();
    if highlight.is_undefined() {
        return Vec::new();
    }
    js_sys::Array::from(&highlight)
        .iter()
        .map(|range| {
            let to_string: js_sys::Function = Reflect::get(&range, &"toString".into())
                .unwrap()
                .unchecked_into();
            to_string.call0(&range).unwrap().as_string().unwrap()
        })
        .collect()
}

fn range(anchor_offset: u32, focus_offset: u32) -> TextRange {
    TextRange {
        anchor: NodeId(7),
        anchor_offset,
        focus: NodeId(7),
        focus_offset,
    }
}

#[wasm_bindgen_test]
fn the_visitors_selection_shows_as_a_highlight_over_the_same_text() {
    let (mut console, _pointing, _fit, frame) = live();
    visitor_event(&mut console, 2, Event::Selection(Some(range(6, 11))));
    assert_eq!(visitor_highlight(&frame), ["world"]);
    // Selected right to left: the focus comes first.
    visitor_event(&mut console, 3, Event::Selection(Some(range(5, 0))));
    assert_eq!(visitor_highlight(&frame), ["hello"]);
    // The agent's own selection is theirs: the highlight is not it.
    let selection = frame.content_document().unwrap().get_selection().unwrap();
    assert!(selection.is_none_or(|s| s.is_collapsed()));
    visitor_event(&mut console, 4, Event::Selection(None));
    assert!(visitor_highlight(&frame).is_empty(), "cleared");
}

fn mouse_at(kind: &str, x: i32, y: i32) -> web_sys::Event {
    let init = MouseEventInit::new();
    init.set_bubbles(true);
    init.set_client_x(x);
    init.set_client_y(y);
    MouseEvent::new_with_mouse_event_init_dict(kind, &init)
        .unwrap()
        .into()
}

#[wasm_bindgen_test]
fn the_agents_selection_goes_by_node_ids_when_the_drag_ends_and_is_no_click() {
    let (mut console, mut pointing, _fit, frame) = live();
    console.on_message(ToAgent::Mode(Mode::Shared), 0.0);
    let doc = frame.content_document().unwrap();
    let text = doc
        .get_element_by_id("words")
        .unwrap()
        .first_child()
        .unwrap();
    let selection = doc.get_selection().unwrap().unwrap();
    let changed = web_sys::Event::new("selectionchange").unwrap();

    pointing.on_frame_event(&mut console, &mouse_at("pointerdown", 12, 205), 0.0);
    selection.set_base_and_extent(&text, 0, &text, 5).unwrap();
    pointing.on_frame_event(&mut console, &changed, 0.0);
    assert!(console.take_outbox().is_empty(), "nothing while dragging");
    pointing.on_frame_event(&mut console, &mouse_at("pointerup", 60, 205), 0.0);
    assert_eq!(
        console.take_outbox(),
        [AgentMsg::Point(Point::Selection(Some(range(0, 5))))]
    );
    // The browser's click after a drag: no circle, no click on the page.
    pointing.on_frame_event(&mut console, &mouse_at("click", 60, 205), 0.0);
    assert!(console.take_outbox().is_empty(), "a drag is not a click");

    // Extended from the keyboard, backwards: sent as it changes, once.
    selection.set_base_and_extent(&text, 11, &text, 6).unwrap();
    pointing.on_frame_event(&mut console, &changed, 0.0);
    pointing.on_frame_event(&mut console, &changed, 0.0);
    assert_eq!(
        console.take_outbox(),
        [AgentMsg::Point(Point::Selection(Some(range(11, 6))))]
    );
    selection.remove_all_ranges().unwrap();
    pointing.on_frame_event(&mut console, &changed, 0.0);
    assert_eq!(
        console.take_outbox(),
        [AgentMsg::Point(Point::Selection(None))]
    );

    // A press and release on the same spot is still a click.
    pointing.on_frame_event(&mut console, &mouse_at("pointerdown", 150, 65), 0.0);
    pointing.on_frame_event(&mut console, &mouse_at("pointerup", 150, 65), 0.0);
    assert!(
        console.take_outbox().is_empty(),
        "no selection, nothing new"
    );
    pointing.on_frame_event(&mut console, &click_box(&frame, false), 0.0);
    assert_eq!(console.take_outbox().len(), 2, "the circle and the click");
}
