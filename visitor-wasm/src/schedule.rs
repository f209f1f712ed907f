//! The flush timer: the next animation frame, or ~100 ms, whichever comes
//! first (background tabs get no animation frames at all).
//!
//! Owns: both registrations, cancelled on drop or disarm. Does not own: what
//! a flush does (`session.rs`).

use std::rc::Rc;

use gloo_timers::callback::Timeout;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
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
