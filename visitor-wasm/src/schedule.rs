//! The flush timer: the next animation frame, or ~100 ms, whichever comes
//! first (background tabs get no animation frames at all); and yielding to
//! the page between the slices of a long task.
//!
//! Owns: both timer registrations, cancelled on drop or disarm; the one
//! `MessageChannel` slices continue through; the slice budget. Does not
//! own: what a flush or a slice does (`session.rs`, `session/sliced.rs`).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
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
    static POSTER: RefCell<Option<Poster>> = const { RefCell::new(None) };
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

type Task = Box<dyn FnOnce()>;

/// A `MessageChannel` whose messages each run the oldest queued task.
/// Made once and kept for the page's life (a closure dropped while a
/// message is on its way would throw on the page); a task whose work was
/// cancelled meanwhile finds nothing to do.
struct Poster {
    port: JsValue,
    post: js_sys::Function,
    queue: Rc<RefCell<VecDeque<Task>>>,
    _closure: Closure<dyn FnMut()>,
}

impl Poster {
    fn new() -> Option<Poster> {
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
        let queue: Rc<RefCell<VecDeque<Task>>> = Rc::default();
        let tasks = Rc::clone(&queue);
        let closure = Closure::<dyn FnMut()>::new(move || {
            let task = tasks.try_borrow_mut().ok().and_then(|mut q| q.pop_front());
            if let Some(task) = task {
                task();
            }
        });
        // Setting `onmessage` starts the port.
        js_sys::Reflect::set(&receiver, &JsValue::from_str("onmessage"), closure.as_ref()).ok()?;
        Some(Poster {
            port,
            post,
            queue,
            _closure: closure,
        })
    }
}

/// Runs `task` in a task of its own as soon as the page's pending work
/// allows: after input, rendering and the page's own tasks queued before
/// it. A `MessageChannel` message rather than `setTimeout(0)`, which
/// browsers clamp to 4 ms once nested.
pub(crate) fn post_task(task: Task) {
    let posted = POSTER.with(|cell| {
        let Ok(mut poster) = cell.try_borrow_mut() else {
            return Err(task);
        };
        if poster.is_none() {
            *poster = Poster::new();
        }
        let Some(p) = poster.as_ref() else {
            return Err(task);
        };
        if let Ok(mut q) = p.queue.try_borrow_mut() {
            q.push_back(task);
        } else {
            return Err(task);
        }
        let _ = p.post.call1(&p.port, &JsValue::NULL);
        Ok(())
    });
    if let Err(task) = posted {
        // No channel in this browser: a timer still yields.
        Timeout::new(0, task).forget();
    }
}
