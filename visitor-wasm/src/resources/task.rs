//! The resource service's async plumbing: spawned tasks that are all
//! cancelled when their owner is dropped, a fetch abort that fires on drop,
//! and a sleep whose timer is cleared on drop.
//!
//! Owns: cancellation. A task is a future in the browser's microtask queue;
//! dropping [`Tasks`] wakes every task, each then drops its future at once
//! (which aborts its request and clears its timer) and ends. So `end()`
//! leaves no fetch, upload or timer behind. Does not own: what the tasks do.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use gloo_timers::callback::Timeout;
use wasm_bindgen::JsValue;
use web_sys::{AbortController, AbortSignal};

type Slot = Rc<RefCell<Option<Waker>>>;

#[derive(Default)]
struct Shared {
    cancelled: Cell<bool>,
    /// One waker slot per running task.
    slots: RefCell<Vec<Weak<RefCell<Option<Waker>>>>>,
}

/// Owns every task spawned through its [`Spawner`]s: dropping it cancels
/// them all.
#[must_use]
#[derive(Default)]
pub(crate) struct Tasks {
    shared: Rc<Shared>,
}

/// Spawns tasks owned by a [`Tasks`].
#[derive(Clone)]
pub(crate) struct Spawner {
    shared: Rc<Shared>,
}

impl Tasks {
    pub fn spawner(&self) -> Spawner {
        Spawner {
            shared: Rc::clone(&self.shared),
        }
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.shared.cancelled.set(true);
        let slots = std::mem::take(&mut *self.shared.slots.borrow_mut());
        for slot in slots.iter().filter_map(Weak::upgrade) {
            let waker = slot.borrow_mut().take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl Spawner {
    /// Runs `fut` in the microtask queue until it ends or the owner drops.
    pub fn spawn(&self, fut: impl Future<Output = ()> + 'static) {
        if self.shared.cancelled.get() {
            return;
        }
        let slot: Slot = Rc::default();
        {
            let mut slots = self.shared.slots.borrow_mut();
            slots.retain(|s| s.strong_count() > 0);
            slots.push(Rc::downgrade(&slot));
        }
        wasm_bindgen_futures::spawn_local(Cancellable {
            fut: Some(Box::pin(fut)),
            shared: Rc::clone(&self.shared),
            slot,
        });
    }
}

struct Cancellable {
    fut: Option<Pin<Box<dyn Future<Output = ()>>>>,
    shared: Rc<Shared>,
    slot: Slot,
}

impl Future for Cancellable {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.shared.cancelled.get() {
            // Dropping the future drops its abort guards and timers.
            this.fut = None;
            return Poll::Ready(());
        }
        let Some(fut) = this.fut.as_mut() else {
            return Poll::Ready(());
        };
        match fut.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.fut = None;
                Poll::Ready(())
            }
            Poll::Pending => {
                *this.slot.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// An `AbortController` whose request is aborted when this is dropped (a
/// finished request ignores the abort), or after `timeout_ms`.
pub(crate) struct AbortOnDrop {
    controller: AbortController,
    _timeout: Timeout,
}

impl AbortOnDrop {
    pub fn new(timeout_ms: u32) -> Option<AbortOnDrop> {
        let controller = AbortController::new().ok()?;
        let on_timeout = controller.clone();
        Some(AbortOnDrop {
            controller,
            _timeout: Timeout::new(timeout_ms, move || on_timeout.abort()),
        })
    }

    pub fn signal(&self) -> AbortSignal {
        self.controller.signal()
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.controller.abort();
    }
}

/// Waits `ms`; dropping the future clears the timer.
pub(crate) async fn sleep(ms: u32) {
    let mut resolve = None;
    let promise = js_sys::Promise::new(&mut |r, _| resolve = Some(r));
    let Some(resolve) = resolve else { return };
    let _timer = Timeout::new(ms, move || {
        let _ = resolve.call0(&JsValue::UNDEFINED);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}
