//! The console's chrome as `index.html` writes it: every element the shell
//! reads or draws into, found once, and the small writes that skip a
//! redraw when nothing changed.

use protocol::Mode;
use wasm_bindgen::JsCast;
use web_sys::{
    Document, Element, HtmlElement, HtmlFormElement, HtmlInputElement, HtmlSelectElement, Window,
};

use crate::params;

/// The chrome written in `index.html`.
pub(super) struct Ui {
    pub(super) window: Window,
    pub(super) document: Document,
    pub(super) root: Element,
    pub(super) status: Element,
    pub(super) badge: Element,
    pub(super) page_url: Element,
    pub(super) leave: HtmlElement,
    pub(super) mode_state: Element,
    pub(super) quality: Element,
    pub(super) mode_switch: HtmlElement,
    pub(super) highlight: HtmlElement,
    pub(super) fullscreen: HtmlElement,
    pub(super) form: HtmlFormElement,
    pub(super) token: HtmlInputElement,
    pub(super) code: HtmlInputElement,
    pub(super) mode: HtmlSelectElement,
    pub(super) stage: HtmlElement,
    pub(super) fit_box: HtmlElement,
}

impl Ui {
    pub(super) fn find() -> Result<Option<Ui>, String> {
        let window = web_sys::window().ok_or("no window")?;
        let document = window.document().ok_or("no document")?;
        if document.get_element_by_id("cobrowse-console").is_none() {
            return Ok(None);
        }
        fn get<T: JsCast>(document: &Document, id: &str) -> Result<T, String> {
            document
                .get_element_by_id(id)
                .ok_or_else(|| format!("#{id} is missing"))?
                .dyn_into::<T>()
                .map_err(|_| format!("#{id} is not the expected element"))
        }
        Ok(Some(Ui {
            root: document.document_element().ok_or("no root element")?,
            status: get(&document, "cobrowse-status")?,
            badge: get(&document, "cobrowse-badge")?,
            page_url: get(&document, "cobrowse-page-url")?,
            leave: get(&document, "cobrowse-leave")?,
            mode_state: get(&document, "cobrowse-mode-state")?,
            quality: get(&document, "cobrowse-quality")?,
            mode_switch: get(&document, "cobrowse-mode-switch")?,
            highlight: get(&document, "cobrowse-highlight")?,
            fullscreen: get(&document, "cobrowse-fullscreen")?,
            form: get(&document, "cobrowse-login")?,
            token: get(&document, "cobrowse-token")?,
            code: get(&document, "cobrowse-code")?,
            mode: get(&document, "cobrowse-mode")?,
            stage: get(&document, "cobrowse-stage")?,
            fit_box: get(&document, "cobrowse-fit")?,
            window,
            document,
        }))
    }

    pub(super) fn fill_form(&self, token: &str, code: &str, mode: Mode) {
        if !token.is_empty() {
            self.token.set_value(token);
        }
        if !code.is_empty() {
            self.code.set_value(code);
        }
        self.mode.set_value(params::mode_name(mode));
    }
}

/// Writes only on change, so a redraw after every frame costs nothing.
pub(super) fn set_attr(element: &Element, name: &str, value: &str) {
    if element.get_attribute(name).as_deref() != Some(value) {
        let _ = element.set_attribute(name, value);
    }
}

pub(super) fn set_text(element: &Element, text: &str) {
    if element.text_content().as_deref() != Some(text) {
        element.set_text_content(Some(text));
    }
}
