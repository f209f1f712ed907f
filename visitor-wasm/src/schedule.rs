//! The flush timer: the next animation frame, or ~100 ms, whichever comes
//! first (background tabs get no animation frames at all); and yielding to
//! the page between the slices of a long task.
//!
//! Owns: both timer registrations, cancelled on drop or disarm; the
//! `MessageChannel` a sliced task continues through; the slice budget. Does not
//! own: what a flush or a slice does (`session.rs`, `session/sliced.rs`).

use std::cell::Cell;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Window;

/// Fallback delay when no animation frame comes.
const FALLBACK_MS: u32 = 100;

/// One `requestAnimationFrame`, cancelled on drop.
struct Frame {
    window: Window,
    id: i32,
    _closure: Closure<dyn FnMut()>,
}

impl Drop for Frame {
    fn drop(&mut self) {
        // Cancelling a frame that already fired is a harmless no-op.
        let _ = self.window.cancel_animation_frame(self.id);
    }
}

#[derive(Default)]
pub struct FlushTimer {
    frame: Option<Frame>,
    timeout: Option<Timeout>,
}

impl FlushTimer {
    pub fn is_armed(&self) -> bool {
        self.frame.is_some() || self.timeout.is_some()
    }

    /// Runs `fire` once, at the next frame or after the fallback delay;
    /// does nothing if already armed. `fire` must call [`FlushTimer::disarm`].
    pub fn arm(&mut self, window: &Window, fire: Rc<dyn Fn()>) {
        if self.is_armed() {
            return;
        }
        let on_frame = Rc::clone(&fire);
        let closure = Closure::<dyn FnMut()>::new(move || on_frame());
        if let Ok(id) = window.request_animation_frame(closure.as_ref().unchecked_ref()) {
            self.frame = Some(Frame {
                window: window.clone(),
                id,
                _closure: closure,
            });
        }
        self.timeout = Some(Timeout::new(FALLBACK_MS, move || fire()));
    }

    /// Cancels whichever of the two has not fired.
    pub fn disarm(&mut self) {
        self.frame = None;
        self.timeout = None;
    }
}

/// How long one slice of a long task may run before the page gets the
/// main thread back: well under a 16 ms frame, and the 50 ms a task counts
/// as long from.
const SLICE_MS: f64 = 8.0;

thread_local! {
    static BUDGET_MS: Cell<f64> = const { Cell::new(SLICE_MS) };
}

/// The slice budget in milliseconds.
pub(crate) fn slice_ms() -> f64 {
    BUDGET_MS.with(Cell::get)
}

/// Sets the slice budget (tests force tiny slices on small pages with 0).
#[doc(hidden)]
pub fn set_slice_budget_ms(ms: f64) {
    BUDGET_MS.with(|b| b.set(ms.max(0.0)));
}

/// Milliseconds on the page's clock.
pub(crate) fn now(window: &Window) -> f64 {
    window
        .performance()
        .map_or_else(js_sys::Date::now, |p| p.now())
}

/// A `MessageChannel` whose every message runs one callback: how a long
/// task gives the page the main thread and comes back as soon as the
/// page's pending work allows (after input, rendering and the page's own
/// tasks queued before it). Not `setTimeout(0)`, which browsers clamp to
/// 4 ms once nested. Dropped, it detaches its handler first, so a message
/// still on its way calls nothing.
pub(crate) struct Yielder {
    receiver: JsValue,
    port: JsValue,
    post: js_sys::Function,
    _closure: Closure<dyn FnMut()>,
}

impl Yielder {
    /// `None` where the browser has no `MessageChannel`.
    pub(crate) fn new(callback: Rc<dyn Fn()>) -> Option<Yielder> {
        let get = |obj: &JsValue, key: &str| js_sys::Reflect::get(obj, &JsValue::from_str(key));
        let ctor = get(&js_sys::global(), "MessageChannel")
            .ok()?
            .dyn_into::<js_sys::Function>()
            .ok()?;
        let channel = js_sys::Reflect::construct(&ctor, &js_sys::Array::new()).ok()?;
        let (receiver, port) = (get(&channel, "port1").ok()?, get(&channel, "port2").ok()?);
        let post = get(&port, "postMessage")
            .ok()?
            .dyn_into::<js_sys::Function>()
            .ok()?;
        let closure = Closure::<dyn FnMut()>::new(move || callback());
        // Setting `onmessage` starts the port.
        js_sys::Reflect::set(&receiver, &JsValue::from_str("onmessage"), closure.as_ref()).ok()?;
        Some(Yielder {
            receiver,
            port,
            post,
            _closure: closure,
        })
    }

    /// The callback runs once more, in a task of its own.
    pub(crate) fn post(&self) {
        let _ = self.post.call1(&self.port, &JsValue::NULL);
    }
}

impl Drop for Yielder {
    fn drop(&mut self) {
        let _ = js_sys::Reflect::set(
            &self.receiver,
            &JsValue::from_str("onmessage"),
            &JsValue::NULL,
        );
        for port in [&self.receiver, &self.port] {
            if let Ok(close) = js_sys::Reflect::get(port, &JsValue::from_str("close")) {
                if let Some(close) = close.dyn_ref::<js_sys::Function>() {
                    let _ = close.call0(port);
                }
            }
        }
    }
}
