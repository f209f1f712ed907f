//! `modal.rs` in a real browser: whether the panel is usable is read the way
//! the browser decides it, by focusing its buttons (an inert element cannot
//! take the focus), not from our own flags.
// A failed expectation in a test is the point of the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::rc::Rc;

use protocol::{AgentId, Mode};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{Document, HtmlDialogElement, HtmlElement, ShadowRoot};

use crate::policy::Agent;
use crate::ui::{Ui, View};

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

fn document() -> Document {
    web_sys::window().unwrap().document().unwrap()
}

/// Lets the browser fire its queued `toggle` and `close` events.
async fn settle() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 30)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

/// A page dialog with a button, in the document, closed.
fn page_dialog(id: &str) -> (HtmlDialogElement, HtmlElement) {
    let d = document();
    let dialog: HtmlDialogElement = d.create_element("dialog").unwrap().unchecked_into();
    dialog.set_id(id);
    let button: HtmlElement = d.create_element("button").unwrap().unchecked_into();
    button.set_text_content(Some("OK"));
    dialog.append_child(&button).unwrap();
    d.body().unwrap().append_child(&dialog).unwrap();
    (dialog, button)
}

fn shadow() -> ShadowRoot {
    document()
        .query_selector("cobrowse-ui")
        .unwrap()
        .expect("<cobrowse-ui>")
        .shadow_root()
        .unwrap()
}

/// Whether the browser lets `el` take the focus (it does not if inert).
fn focusable(el: &HtmlElement) -> bool {
    el.focus().unwrap();
    let root = el.get_root_node();
    let active = match root.dyn_ref::<ShadowRoot>() {
        Some(shadow) => shadow.active_element(),
        None => document().active_element(),
    };
    active.is_some_and(|a| a == *el.unchecked_ref::<web_sys::Element>())
}

fn panel_button(attr: &str) -> HtmlElement {
    shadow()
        .query_selector(&format!("[{attr}]"))
        .unwrap()
        .expect(attr)
        .unchecked_into()
}

fn lifted() -> bool {
    shadow()
        .query_selector("dialog.lift")
        .unwrap()
        .expect("our dialog")
        .unchecked_into::<HtmlDialogElement>()
        .open()
}

/// A press at the middle of the panel, as the browser sends one that lands
/// on an inert panel: to the page under it.
fn press_panel() {
    let panel = shadow().query_selector(".panel").unwrap().unwrap();
    let r = panel.get_bounding_client_rect();
    let init = web_sys::PointerEventInit::new();
    init.set_bubbles(true);
    init.set_cancelable(true);
    init.set_client_x((r.left() + r.width() / 2.0) as i32);
    init.set_client_y((r.top() + r.height() / 2.0) as i32);
    let press = web_sys::PointerEvent::new_with_event_init_dict("pointerdown", &init).unwrap();
    document().body().unwrap().dispatch_event(&press).unwrap();
}

fn ui() -> Ui {
    Ui::create(&document(), Rc::new(|_| {})).unwrap()
}

fn ann() -> [Agent; 1] {
    [Agent {
        id: AgentId(1),
        name: "Ann".into(),
        mode: Mode::ViewOnly,
    }]
}

fn bob_asks() -> View<'static> {
    View::Asking {
        agent: AgentId(2),
        name: "Bob",
        mode: Mode::Shared,
    }
}

#[wasm_bindgen_test]
async fn a_question_comes_over_page_modals_and_goes_back_when_they_close() {
    let (page, _) = page_dialog("modal-a");
    let ui = ui();
    ui.render(&bob_asks(), false).unwrap();
    assert!(!lifted(), "no page modal: the panel stays where it is");
    assert!(focusable(&panel_button("data-cobrowse-accept")));

    page.show_modal().unwrap();
    settle().await;
    assert!(
        lifted(),
        "a page modal opened: the question is lifted over it"
    );
    assert!(focusable(&panel_button("data-cobrowse-accept")));
    assert!(page.open(), "the page's dialog stays open");

    // A second page modal opened after ours: ours goes on top again.
    let (later, _) = page_dialog("modal-b");
    later.show_modal().unwrap();
    settle().await;
    assert!(
        focusable(&panel_button("data-cobrowse-accept")),
        "the question is above the newer page modal"
    );
    later.close();
    page.close();
    settle().await;
    assert!(!lifted(), "no page modal left: the panel goes back");
    assert!(focusable(&panel_button("data-cobrowse-accept")));
    drop(ui);
    page.remove();
    later.remove();
}

#[wasm_bindgen_test]
async fn a_live_panel_leaves_page_modals_usable_until_pressed_and_end_frees_the_page() {
    let (page, page_button) = page_dialog("modal-c");
    page.show_modal().unwrap();
    // Its `toggle` fires before the panel exists.
    settle().await;
    let ui = ui();
    let agents = ann();
    ui.render(&View::Live { agents: &agents }, true).unwrap();
    assert!(
        !lifted(),
        "no question: the page's modal stays the visitor's"
    );
    assert!(focusable(&page_button), "the page's modal is usable");
    let panel = shadow().query_selector(".panel").unwrap().unwrap();
    assert!(
        panel.has_attribute("data-behind"),
        "and the panel looks inert"
    );

    press_panel();
    settle().await;
    assert!(lifted(), "pressed, the panel comes over the page's modal");
    assert!(!panel.has_attribute("data-behind"));
    assert!(
        focusable(&panel_button("data-cobrowse-end")),
        "End is usable"
    );
    assert!(!focusable(&page_button), "ours is the modal on top");

    // Escape (or a click on the backdrop) closes our dialog.
    shadow()
        .query_selector("dialog.lift")
        .unwrap()
        .unwrap()
        .unchecked_into::<HtmlDialogElement>()
        .close();
    settle().await;
    assert!(!lifted(), "sent back");
    assert!(panel.has_attribute("data-behind"), "and looks it");
    assert!(focusable(&page_button), "the page's modal is usable again");
    ui.render(&View::Live { agents: &agents }, true).unwrap();
    assert!(!lifted(), "a redraw does not bring it back");

    ui.render(&bob_asks(), true).unwrap();
    assert!(lifted(), "a new question comes over the page's modal");
    assert!(!panel.has_attribute("data-behind"));
    assert!(focusable(&panel_button("data-cobrowse-accept")));

    ui.render(&View::Ended { sentence: "Over." }, false)
        .unwrap();
    assert!(!lifted(), "nothing to click: not lifted");

    ui.render(&View::Live { agents: &agents }, true).unwrap();
    press_panel();
    settle().await;
    assert!(lifted());
    drop(ui);
    assert!(document().query_selector("cobrowse-ui").unwrap().is_none());
    assert!(
        document()
            .active_element()
            .is_some_and(|a| a == *page_button.unchecked_ref::<web_sys::Element>()),
        "the focus is back on the page's dialog, where it was"
    );
    assert!(
        page.matches(":modal").unwrap(),
        "the page's dialog stays modal"
    );
    assert!(focusable(&page_button), "and usable");
    page.close();
    page.remove();
}

#[wasm_bindgen_test]
async fn a_press_right_after_the_page_reopens_its_modal_still_lifts_the_panel() {
    let (page, page_button) = page_dialog("modal-d");
    page.show_modal().unwrap();
    settle().await;
    let ui = ui();
    let agents = ann();
    ui.render(&View::Live { agents: &agents }, true).unwrap();
    assert!(!lifted());

    // The page closes and reopens its modal and the visitor presses the
    // panel before the browser has fired that reopening's `toggle`.
    page.close();
    page.show_modal().unwrap();
    press_panel();
    assert!(lifted(), "the press lifts the panel at once");
    settle().await;
    assert!(
        lifted(),
        "the late `toggle` of the modal the visitor pressed over does not undo the press"
    );
    assert!(
        focusable(&panel_button("data-cobrowse-end")),
        "End is usable"
    );

    // A modal the page opens after the press is the visitor's to use again.
    page.close();
    page.show_modal().unwrap();
    settle().await;
    assert!(
        !lifted(),
        "a modal opened after the press puts the panel back"
    );
    assert!(focusable(&page_button), "the page's modal is usable");
    drop(ui);
    page.close();
    page.remove();
}
