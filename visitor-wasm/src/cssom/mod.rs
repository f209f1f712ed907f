//! Stylesheets the DOM does not show, and fonts made in script: what the
//! page does through the CSS Object Model (`insertRule`, `deleteRule`,
//! `replace`, `setProperty` on a rule, constructed sheets and
//! `adoptedStyleSheets`) and the `FontFace` API.
//!
//! Owns: [`Cssom`], alive while an admitted agent watches: the wrappers
//! (RAII, removed on drop), what they heard since the last flush, which
//! constructed sheets the console has, and the fonts added so far. Map:
//! `log.rs` (coalescing, plain Rust), `text.rs` (URLs in rules, font bytes,
//! plain Rust), `read.rs` (reading sheets), `fonts.rs` (FontFace
//! arguments), `patch.rs` (the wrappers).
//! Does not own: when events go out or their numbers (`session/capture.rs`
//! calls [`Cssom::after_snapshot`] and [`Cssom::flush`]), node ids (`ids.rs`).
//!
//! Invariants: a wrapper calls the page's original first and never throws
//! into the page; nothing of the visitor's own `<cobrowse-ui>` is sent; a
//! hook only records (it never sends or borrows the session), so a page
//! calling the CSSOM from anywhere cannot re-enter the capture.

pub mod log;
pub mod text;

mod fonts;
mod patch;
mod read;
mod refs;

pub use refs::page_css;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::Array;
use protocol::{Event, FontFaceDesc, SheetChange, SheetRef};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Window};

use crate::ids::Ids;
use fonts::Faces;
use log::{Numbering, Op, Out, SheetLog};
use patch::{Hook, Patch};
use read::{get, Js};

/// What the wrappers heard, and what the console has.
struct State {
    document: Document,
    log: SheetLog<Js, Js>,
    /// Sheets changed through the CSSOM since capture began: resent whole
    /// after a snapshot (a `<link>`'s file no longer says what it holds).
    touched: js_sys::WeakSet,
    numbering: Numbering<Js>,
    /// Each root's adopted sheets as last sent.
    adopted: Vec<(Js, Vec<Js>)>,
    faces: Faces,
    /// Fonts added to `document.fonts` so far, sent again after every
    /// snapshot; `unsent` are the ones the next flush sends.
    fonts: Vec<(Js, FontFaceDesc)>,
    unsent: Vec<FontFaceDesc>,
}

impl State {
    fn base(&self) -> String {
        crate::snapshot::base_url(&self.document)
    }

    fn push(&mut self, sheet: &JsValue, op: Op<Js>) {
        self.touched.add(sheet.unchecked_ref());
        self.log.push(op);
    }
}

/// The CSSOM capture of one live session.
pub struct Cssom {
    state: Rc<RefCell<State>>,
    /// The page's own `replaceSync`, for parsing a `<style>`'s text.
    replace_sync: JsValue,
    _patches: Vec<Patch>,
}

impl Cssom {
    /// Wraps the CSSOM of `window`; `notify` is called (outside any
    /// borrow) whenever something was recorded, to schedule a flush.
    pub fn install(window: &Window, document: &Document, notify: Rc<dyn Fn()>) -> Cssom {
        let touched = js_sys::WeakSet::new();
        refs::REGISTRY.with(|r| {
            *r.borrow_mut() = Some(refs::Registry {
                touched: touched.clone(),
                fonts: Vec::new(),
            })
        });
        let state = Rc::new(RefCell::new(State {
            document: document.clone(),
            log: SheetLog::default(),
            touched,
            numbering: Numbering::default(),
            adopted: Vec::new(),
            faces: Faces::default(),
            fonts: Vec::new(),
            unsent: Vec::new(),
        }));
        let weak = Rc::downgrade(&state);
        let mut patches = Vec::new();
        let proto = |class: &str| get(&get(window, class), "prototype");
        let hook = |f: fn(&mut State, &JsValue, &Array, &JsValue) -> bool| -> Hook {
            recorder(&weak, &notify, f)
        };

        let sheet = proto("CSSStyleSheet");
        patches.extend(Patch::method(&sheet, "insertRule", hook(sheet_insert)));
        patches.extend(Patch::method(&sheet, "deleteRule", hook(sheet_delete)));
        patches.extend(Patch::method(&sheet, "addRule", hook(resend_this)));
        patches.extend(Patch::method(&sheet, "removeRule", hook(resend_this)));
        let replace_sync = Patch::method(&sheet, "replaceSync", hook(resend_this));
        let original_replace_sync = replace_sync
            .as_ref()
            .map_or(JsValue::UNDEFINED, Patch::original);
        patches.extend(replace_sync);
        patches.extend(Patch::method(
            &sheet,
            "replace",
            replace_hook(&weak, &notify),
        ));
        let group = proto("CSSGroupingRule");
        patches.extend(Patch::method(&group, "insertRule", hook(group_insert)));
        patches.extend(Patch::method(&group, "deleteRule", hook(group_delete)));
        let style = proto("CSSStyleDeclaration");
        patches.extend(Patch::method(&style, "setProperty", hook(declaration)));
        patches.extend(Patch::method(&style, "removeProperty", hook(declaration)));
        patches.extend(Patch::setter(&style, "cssText", hook(declaration)));
        let rule = proto("CSSStyleRule");
        patches.extend(Patch::setter(&rule, "selectorText", hook(rule_changed)));
        for root in ["Document", "ShadowRoot"] {
            patches.extend(Patch::setter(
                &proto(root),
                "adoptedStyleSheets",
                hook(adopt),
            ));
        }
        patches.extend(Patch::constructor(window, "FontFace", hook(font_made)));
        patches.extend(Patch::method(
            &proto("FontFaceSet"),
            "add",
            hook(font_added),
        ));
        Cssom {
            state,
            replace_sync: original_replace_sync,
            _patches: patches,
        }
    }

    /// The CSSOM state the snapshot just sent does not carry, as the events
    /// to send right after it: the rules of every sheet whose rules differ
    /// from its markup, every adopted constructed sheet and each root's
    /// adoption, and the fonts added so far.
    pub fn after_snapshot(&self, ids: &Ids) -> Vec<Event> {
        self.after_snapshot_in(ids, None)
    }

    /// [`Cssom::after_snapshot`], given the open shadow roots the snapshot
    /// met (`None`: every element is searched for them, one crossing into
    /// the page each, ~70 ms on a page of 100k nodes).
    pub fn after_snapshot_in(&self, ids: &Ids, shadow_roots: Option<Vec<JsValue>>) -> Vec<Event> {
        let Ok(mut st) = self.state.try_borrow_mut() else {
            return Vec::new();
        };
        st.log.clear();
        st.adopted.clear();
        st.numbering.forget_sent();
        st.unsent.clear();
        let base = st.base();
        let mut events = Vec::new();
        let roots = match shadow_roots {
            Some(mut roots) => {
                roots.insert(0, st.document.clone().into());
                roots
            }
            None => read::roots(&st.document),
        };
        for root in roots {
            for (sheet, owner) in read::owned_sheets(&root) {
                let Some(id) = ids.get(&owner) else { continue };
                let changed = st.touched.has(sheet.unchecked_ref())
                    || (crate::dom::local_name(&owner) == "style"
                        && read::differs_from_text(&sheet, &owner, &self.replace_sync));
                if !changed {
                    continue;
                }
                if let Some(rules) = read::rules_of(&sheet, &base) {
                    events.push(Event::Sheet(SheetChange::Rules {
                        sheet: SheetRef::Owner(id),
                        rules,
                    }));
                }
            }
            adoption(&mut st, &Js(root), ids, &base, &mut events);
        }
        let fonts = get(&st.document, "fonts");
        let has = get(&fonts, "has").dyn_into::<js_sys::Function>().ok();
        for (face, desc) in &st.fonts {
            let present = has
                .as_ref()
                .and_then(|f| f.call1(&fonts, &face.0).ok())
                .is_some_and(|v| v.is_truthy());
            if present {
                events.push(Event::Font(desc.clone()));
            }
        }
        events
    }

    /// What changed since the last flush, in order; call after the
    /// mutation batch went out (its nodes have ids by then).
    pub fn flush(&self, ids: &Ids) -> Vec<Event> {
        let Ok(mut st) = self.state.try_borrow_mut() else {
            return Vec::new();
        };
        let base = st.base();
        let (outs, mut roots) = st.log.drain();
        let mut events = Vec::new();
        for out in outs {
            let change = match out {
                Out::Insert { sheet, path, rule } => sheet_ref(&st, &sheet, ids)
                    .map(|sheet| SheetChange::Insert { sheet, path, rule }),
                Out::Delete { sheet, path } => {
                    sheet_ref(&st, &sheet, ids).map(|sheet| SheetChange::Delete { sheet, path })
                }
                Out::Rules(sheet) => sheet_ref(&st, &sheet, ids).and_then(|r| {
                    let rules = read::rules_of(&sheet.0, &base)?;
                    Some(SheetChange::Rules { sheet: r, rules })
                }),
            };
            events.extend(change.map(Event::Sheet));
        }
        // `adoptedStyleSheets.push()` calls no setter: every root that ever
        // adopted, and the document, are looked at again.
        let document = Js(st.document.clone().into());
        for root in st.adopted.iter().map(|(r, _)| r.clone()).chain([document]) {
            if !roots.contains(&root) {
                roots.push(root);
            }
        }
        for root in roots {
            adoption(&mut st, &root, ids, &base, &mut events);
        }
        events.extend(st.unsent.drain(..).map(Event::Font));
        events
    }
}

impl Drop for Cssom {
    fn drop(&mut self) {
        refs::REGISTRY.with(|r| *r.borrow_mut() = None);
    }
}

/// How the console knows `sheet`: its element's id, or its number if the
/// console has it. `None`: the console does not show it (the visitor's own
/// UI, a sheet not yet adopted anywhere, an element never sent).
fn sheet_ref(st: &State, sheet: &Js, ids: &Ids) -> Option<SheetRef> {
    let owner = get(&sheet.0, "ownerNode");
    if owner.is_object() {
        if read::in_ui(&owner) {
            return None;
        }
        return ids.get(owner.unchecked_ref()).map(SheetRef::Owner);
    }
    st.numbering.sent(sheet).map(SheetRef::Constructed)
}

/// Sends `root`'s adopted sheets if they changed since last sent, each
/// constructed sheet's rules first where the console does not have it.
fn adoption(st: &mut State, root: &Js, ids: &Ids, base: &str, events: &mut Vec<Event>) {
    let current = read::adopted_of(&root.0);
    let last = st.adopted.iter().position(|(r, _)| r == root);
    match last {
        Some(at) if st.adopted[at].1 == current => return,
        None if current.is_empty() => return,
        _ => {}
    }
    if read::in_ui(&root.0) {
        return;
    }
    let Some(id) = ids.get(root.0.unchecked_ref()) else {
        return;
    };
    let mut numbers = Vec::with_capacity(current.len());
    for sheet in &current {
        let (n, fresh) = st.numbering.assign(sheet.clone());
        if fresh {
            events.push(Event::Sheet(SheetChange::Rules {
                sheet: SheetRef::Constructed(n),
                rules: read::rules_of(&sheet.0, base).unwrap_or_default(),
            }));
        }
        numbers.push(n);
    }
    events.push(Event::Sheet(SheetChange::Adopted {
        root: id,
        sheets: numbers,
    }));
    match last {
        Some(at) => st.adopted[at].1 = current,
        None => st.adopted.push((root.clone(), current)),
    }
}

/// A hook that runs `f` on the state (if free) and notifies when `f` says
/// it recorded something.
fn recorder(
    state: &Weak<RefCell<State>>,
    notify: &Rc<dyn Fn()>,
    f: fn(&mut State, &JsValue, &Array, &JsValue) -> bool,
) -> Hook {
    let (state, notify) = (state.clone(), Rc::clone(notify));
    Rc::new(move |this, args, result| {
        let Some(state) = state.upgrade() else { return };
        // Busy: the capture itself is reading the CSSOM; not the page.
        let recorded = match state.try_borrow_mut() {
            Ok(mut st) => f(&mut st, this, args, result),
            Err(_) => false,
        };
        if recorded {
            notify();
        }
    })
}

fn index(value: &JsValue) -> Option<u32> {
    value
        .as_f64()
        .filter(|n| *n >= 0.0 && n.fract() == 0.0 && *n <= f64::from(u32::MAX))
        .map(|n| n as u32)
}

fn sheet_insert(st: &mut State, this: &JsValue, _: &Array, result: &JsValue) -> bool {
    let Some(at) = index(result) else {
        return false;
    };
    if !st.log.wants_detail(&Js(this.clone())) {
        st.push(this, Op::Resend(Js(this.clone())));
        return true;
    }
    let base = read::base_of(this, &st.base());
    let Some(rule) = read::rule_at(this, at, &base) else {
        return false;
    };
    let op = Op::Insert {
        sheet: Js(this.clone()),
        path: vec![at],
        rule,
    };
    st.push(this, op);
    true
}

fn sheet_delete(st: &mut State, this: &JsValue, args: &Array, _: &JsValue) -> bool {
    let at = index(&args.get(0)).unwrap_or(0);
    let op = Op::Delete {
        sheet: Js(this.clone()),
        path: vec![at],
    };
    st.push(this, op);
    true
}

fn resend_this(st: &mut State, this: &JsValue, _: &Array, _: &JsValue) -> bool {
    st.push(this, Op::Resend(Js(this.clone())));
    true
}

fn group_insert(st: &mut State, this: &JsValue, _: &Array, result: &JsValue) -> bool {
    let (Some(at), Some((sheet, ancestors))) = (index(result), read::path_of(this)) else {
        return false;
    };
    let base = read::base_of(&sheet, &st.base());
    let Some(rule) = read::rule_at(this, at, &base) else {
        return false;
    };
    let op = Op::Insert {
        sheet: Js(sheet.clone()),
        path: log::rule_path(&ancestors, at),
        rule,
    };
    st.push(&sheet, op);
    true
}

fn group_delete(st: &mut State, this: &JsValue, args: &Array, _: &JsValue) -> bool {
    let at = index(&args.get(0)).unwrap_or(0);
    let Some((sheet, ancestors)) = read::path_of(this) else {
        return false;
    };
    let op = Op::Delete {
        sheet: Js(sheet.clone()),
        path: log::rule_path(&ancestors, at),
    };
    st.push(&sheet, op);
    true
}

/// `setProperty`/`removeProperty` on a rule's declarations (an element's
/// `style` has no parent rule: that is an attribute mutation).
fn declaration(st: &mut State, this: &JsValue, _: &Array, _: &JsValue) -> bool {
    let rule = get(this, "parentRule");
    if !rule.is_object() {
        return false;
    }
    let sheet = get(&rule, "parentStyleSheet");
    if !sheet.is_object() {
        return false;
    }
    st.push(&sheet, Op::Resend(Js(sheet.clone())));
    true
}

/// `selectorText` set on a rule: its sheet is resent.
fn rule_changed(st: &mut State, this: &JsValue, _: &Array, _: &JsValue) -> bool {
    let sheet = get(this, "parentStyleSheet");
    if !sheet.is_object() {
        return false;
    }
    st.push(&sheet, Op::Resend(Js(sheet.clone())));
    true
}

fn adopt(st: &mut State, this: &JsValue, _: &Array, _: &JsValue) -> bool {
    st.log.adopted(Js(this.clone()));
    true
}

fn font_made(st: &mut State, face: &JsValue, args: &Array, _: &JsValue) -> bool {
    let base = st.base();
    st.faces.made(face, args, &base);
    false
}

fn font_added(st: &mut State, this: &JsValue, args: &Array, _: &JsValue) -> bool {
    if !js_sys::Object::is(this, &get(&st.document, "fonts")) {
        return false;
    }
    let face = Js(args.get(0));
    if st.fonts.iter().any(|(f, _)| *f == face) {
        return false;
    }
    let Some(desc) = st.faces.find(&face.0) else {
        crate::error::warn(
            "cobrowse: a font made before co-browsing started is not shown to the agent",
        );
        return false;
    };
    refs::REGISTRY.with(|r| {
        if let Some(r) = r.borrow_mut().as_mut() {
            r.fonts.push(desc.source.clone());
        }
    });
    st.unsent.push(desc.clone());
    st.fonts.push((face, desc));
    true
}

/// `replace()` changes the rules when its promise settles: resend then too.
fn replace_hook(state: &Weak<RefCell<State>>, notify: &Rc<dyn Fn()>) -> Hook {
    let now = recorder(state, notify, resend_this);
    let (state, notify) = (state.clone(), Rc::clone(notify));
    Rc::new(move |this, args, result| {
        now(this, args, result);
        let Ok(promise) = result.clone().dyn_into::<js_sys::Promise>() else {
            return;
        };
        let (state, notify, sheet) = (state.clone(), Rc::clone(&notify), this.clone());
        wasm_bindgen_futures::spawn_local(async move {
            if wasm_bindgen_futures::JsFuture::from(promise).await.is_err() {
                return;
            }
            let Some(state) = state.upgrade() else { return };
            let recorded = match state.try_borrow_mut() {
                Ok(mut st) => resend_this(&mut st, &sheet, &Array::new(), &JsValue::UNDEFINED),
                Err(_) => false,
            };
            if recorded {
                notify();
            }
        });
    })
}
