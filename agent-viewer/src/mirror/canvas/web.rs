//! Drawing canvas frames and placeholders into the mirrored `<canvas>`
//! elements, and steering the mirrored media elements.
//!
//! Owns: the [`Painter`] queue (decoding is asynchronous; frames must land
//! in the order they came, or an older tile would overwrite a newer one),
//! tile decoding with this window's `createImageBitmap`, the placeholder
//! drawing, and applying a [`super::MediaPlan`]. Does not own: which frames
//! are valid or what the plan is (`canvas.rs`, plain Rust).
//!
//! The mirrored elements live in the iframe's realm: they are cast
//! unchecked (their methods are called through this realm's bindings, which
//! only need the right interface, not the same realm).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Array, Uint8Array};
use protocol::{CanvasFrame, MediaState};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, BlobPropertyBag, CanvasRenderingContext2d, HtmlCanvasElement, HtmlMediaElement,
    ImageBitmap, Node,
};

use super::{media_plan, UNREADABLE_LABEL};
use crate::log;

enum Job {
    Frame(Node, CanvasFrame),
    Unreadable(Node),
}

/// Draws frames one after another, off the event loop's current turn.
#[derive(Default)]
pub struct Painter {
    queue: Rc<RefCell<VecDeque<Job>>>,
    running: Rc<Cell<bool>>,
}

impl Painter {
    pub fn draw(&self, canvas: &Node, frame: &CanvasFrame) {
        self.push(Job::Frame(canvas.clone(), frame.clone()));
    }

    pub fn unreadable(&self, canvas: &Node) {
        self.push(Job::Unreadable(canvas.clone()));
    }

    fn push(&self, job: Job) {
        // Not bounded here: no frame may be skipped (the next one is only
        // the tiles that changed since it), and the visitor's byte budget
        // and frame-rate ceiling already bound how fast frames come.
        self.queue.borrow_mut().push_back(job);
        if self.running.replace(true) {
            return;
        }
        let (queue, running) = (Rc::clone(&self.queue), Rc::clone(&self.running));
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                let job = queue.borrow_mut().pop_front();
                match job {
                    Some(Job::Frame(node, frame)) => {
                        if let Err(e) = draw_frame(&node, &frame).await {
                            log::warn(&format!("a canvas frame was not drawn: {e:?}"));
                        }
                    }
                    Some(Job::Unreadable(node)) => placeholder(&node),
                    None => break,
                }
            }
            running.set(false);
        });
    }
}

fn context(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    canvas
        .get_context("2d")
        .ok()
        .flatten()
        .map(JsCast::unchecked_into)
}

/// Decodes every tile first, then draws them all in one go (no half-drawn
/// frame is ever shown).
async fn draw_frame(node: &Node, frame: &CanvasFrame) -> Result<(), JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let mut bitmaps = Vec::with_capacity(frame.tiles.len());
    for tile in &frame.tiles {
        let bytes = Uint8Array::from(tile.data.as_slice());
        let options = BlobPropertyBag::new();
        options.set_type(tile.format.mime());
        let blob = Blob::new_with_u8_array_sequence_and_options(&Array::of1(&bytes), &options)?;
        let bitmap: ImageBitmap = JsFuture::from(window.create_image_bitmap_with_blob(&blob)?)
            .await?
            .unchecked_into();
        bitmaps.push(bitmap);
    }
    let canvas: &HtmlCanvasElement = node.unchecked_ref();
    // Only on a change: setting a canvas's size clears it.
    if canvas.width() != frame.width {
        canvas.set_width(frame.width);
    }
    if canvas.height() != frame.height {
        canvas.set_height(frame.height);
    }
    let ctx = context(canvas).ok_or_else(|| JsValue::from_str("no 2d context"))?;
    for (tile, bitmap) in frame.tiles.iter().zip(&bitmaps) {
        let (x, y) = (f64::from(tile.x), f64::from(tile.y));
        // A tile replaces its pixels, transparent ones included.
        ctx.clear_rect(x, y, f64::from(tile.width), f64::from(tile.height));
        ctx.draw_image_with_image_bitmap(bitmap, x, y)?;
        bitmap.close();
    }
    Ok(())
}

/// A grey box with a dashed border and the label, at the canvas's own size.
fn placeholder(node: &Node) {
    let canvas: &HtmlCanvasElement = node.unchecked_ref();
    let Some(ctx) = context(canvas) else { return };
    let (w, h) = (f64::from(canvas.width()), f64::from(canvas.height()));
    ctx.clear_rect(0.0, 0.0, w, h);
    ctx.set_fill_style_str("#e5e7eb");
    ctx.fill_rect(0.0, 0.0, w, h);
    ctx.set_stroke_style_str("#6b7280");
    ctx.set_line_width(2.0);
    let _ = ctx.set_line_dash(&Array::of2(&JsValue::from(6), &JsValue::from(4)));
    ctx.stroke_rect(1.0, 1.0, (w - 2.0).max(0.0), (h - 2.0).max(0.0));
    let size = (w.min(h) / 10.0).clamp(10.0, 20.0);
    ctx.set_font(&format!("{size}px sans-serif"));
    ctx.set_fill_style_str("#374151");
    ctx.set_text_align("center");
    ctx.set_text_baseline("middle");
    let _ = ctx.fill_text_with_max_width(UNREADABLE_LABEL, w / 2.0, h / 2.0, (w - 12.0).max(1.0));
}

/// Makes the console's copy of a media element follow the visitor's.
pub fn set_media(node: &Node, state: &MediaState) {
    let media: &HtmlMediaElement = node.unchecked_ref();
    media.set_muted(true);
    let plan = media_plan(media.current_time(), media.paused(), state);
    media.set_loop(plan.looped);
    media.set_volume(plan.volume);
    if (media.playback_rate() - plan.rate).abs() > 1e-9 {
        media.set_playback_rate(plan.rate);
    }
    if let Some(t) = plan.seek_to {
        media.set_current_time(t);
    }
    match plan.play {
        Some(true) => {
            if let Ok(p) = media.play() {
                // A copy that cannot play (no source it can load) shows
                // its poster; the rejection says nothing new.
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = JsFuture::from(p).await;
                });
            }
        }
        Some(false) => {
            let _ = media.pause();
        }
        None => {}
    }
}
