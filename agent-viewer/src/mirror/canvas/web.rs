//! Showing canvas pictures in the mirror, and steering mirrored media.
//!
//! Owns: the [`Painter`] (frames drawn in the order they came, onto one
//! composition canvas per mirrored `<canvas>`), how the picture is shown,
//! the placeholder, and applying a [`super::MediaPlan`]. Does not own:
//! which frames are valid or what the plan is (`canvas.rs`, plain Rust).
//!
//! Why a picture and not the canvas's own bitmap: the mirror iframe is
//! sandboxed without scripts, and in a document without scripting a
//! `<canvas>` is not a canvas at all, it renders its fallback content (an
//! empty inline box). So each mirrored canvas gets `content: url(...)`:
//! an element whose `content` is one image becomes a replaced element of
//! that image's size, which is exactly how a canvas of that bitmap size
//! lays out, and the page's own rules for `canvas` still match it. Until
//! pixels arrive, a transparent SVG of the bitmap size (from the `width`
//! and `height` attributes, defaults 300×150) keeps the layout right.
//!
//! The composition canvases and picture URLs live in `WeakMap`s keyed by
//! the mirrored node, so a node that leaves the mirror takes them along
//! (its last blob URL is revoked only when replaced: a small, bounded leak
//! per removed canvas).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use js_sys::{Array, Uint8Array, WeakMap};
use protocol::{CanvasFrame, MediaState};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Blob, BlobPropertyBag, Element, HtmlElement, HtmlMediaElement, ImageBitmap, Node,
    OffscreenCanvas, OffscreenCanvasRenderingContext2d, Url,
};

use super::{media_plan, UNREADABLE_LABEL};
use crate::log;

enum Job {
    Frame(Node, CanvasFrame),
    Unreadable(Node),
}

#[derive(Default)]
struct Pictures {
    /// Mirrored canvas → its composition `OffscreenCanvas`.
    composed: Option<WeakMap>,
    /// Mirrored canvas → the blob URL it shows now.
    urls: Option<WeakMap>,
}

impl Pictures {
    fn composed(&mut self) -> &WeakMap {
        self.composed.get_or_insert_with(WeakMap::new)
    }
    fn urls(&mut self) -> &WeakMap {
        self.urls.get_or_insert_with(WeakMap::new)
    }
}

/// Draws frames one after another, off the event loop's current turn.
#[derive(Default)]
pub struct Painter {
    queue: Rc<RefCell<VecDeque<Job>>>,
    running: Rc<Cell<bool>>,
    pictures: Rc<RefCell<Pictures>>,
}

impl Painter {
    pub fn draw(&self, canvas: &Node, frame: &CanvasFrame) {
        self.push(Job::Frame(canvas.clone(), frame.clone()));
    }

    pub fn unreadable(&self, canvas: &Node) {
        self.push(Job::Unreadable(canvas.clone()));
    }

    /// A mirrored canvas was made or its size attributes changed: it shows
    /// a transparent box of its bitmap size until the next frame (the
    /// visitor's canvas was cleared by the resize too).
    pub fn blank(&self, canvas: &Node) {
        let mut p = self.pictures.borrow_mut();
        let _ = p.composed().delete(canvas.unchecked_ref());
        let old = p.urls().get(canvas.unchecked_ref()).as_string();
        let _ = p.urls().delete(canvas.unchecked_ref());
        if let Some(old) = old {
            let _ = Url::revoke_object_url(&old);
        }
        let (w, h) = bitmap_size(canvas);
        show(
            canvas,
            &format!(
                "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}'/%3E"
            ),
        );
    }

    /// The canvas's `style` attribute was rewritten (which drops the
    /// `content` we set): show the current picture again.
    pub fn restyle(&self, canvas: &Node) {
        let url = self
            .pictures
            .borrow_mut()
            .urls()
            .get(canvas.unchecked_ref())
            .as_string();
        match url {
            Some(url) => show(canvas, &url),
            None => self.blank(canvas),
        }
    }

    fn push(&self, job: Job) {
        // Not bounded here: no frame may be skipped (the next one is only
        // the tiles that changed since it), and the visitor's byte budget
        // and frame-rate ceiling already bound how fast frames come.
        self.queue.borrow_mut().push_back(job);
        if self.running.replace(true) {
            return;
        }
        let (queue, running, pictures) = (
            Rc::clone(&self.queue),
            Rc::clone(&self.running),
            Rc::clone(&self.pictures),
        );
        wasm_bindgen_futures::spawn_local(async move {
            loop {
                let job = queue.borrow_mut().pop_front();
                let done = match job {
                    Some(Job::Frame(node, frame)) => draw_frame(&pictures, &node, &frame).await,
                    Some(Job::Unreadable(node)) => placeholder(&pictures, &node).await,
                    None => break,
                };
                if let Err(e) = done {
                    log::warn(&format!("a canvas picture was not shown: {e:?}"));
                }
            }
            running.set(false);
        });
    }
}

/// The bitmap size a canvas element has from its attributes (the HTML
/// rules: a non-negative integer, else 300×150).
fn bitmap_size(canvas: &Node) -> (u32, u32) {
    let el: &Element = canvas.unchecked_ref();
    let read = |name: &str, default: u32| {
        el.get_attribute(name)
            .and_then(|v| v.trim().parse::<u32>().ok())
            .unwrap_or(default)
    };
    (read("width", 300), read("height", 150))
}

/// Shows `url` as the canvas's content, over anything the page's styles say.
fn show(canvas: &Node, url: &str) {
    let el: &HtmlElement = canvas.unchecked_ref();
    let _ =
        el.style()
            .set_property_with_priority("content", &format!("url(\"{url}\")"), "important");
}

/// Replaces the picture a canvas shows with `blob`.
fn set_picture(
    pictures: &Rc<RefCell<Pictures>>,
    canvas: &Node,
    blob: &Blob,
) -> Result<(), JsValue> {
    let url = Url::create_object_url_with_blob(blob)?;
    let old = {
        let mut p = pictures.borrow_mut();
        let old = p.urls().get(canvas.unchecked_ref()).as_string();
        p.urls()
            .set(canvas.unchecked_ref(), &JsValue::from_str(&url));
        old
    };
    show(canvas, &url);
    // An image already decoded stays shown after its URL is revoked.
    if let Some(old) = old {
        let _ = Url::revoke_object_url(&old);
    }
    Ok(())
}

/// The composition canvas of `node` at `w`×`h` (a new, cleared one when
/// the size changed).
fn composition(
    pictures: &Rc<RefCell<Pictures>>,
    node: &Node,
    w: u32,
    h: u32,
) -> Result<(OffscreenCanvas, OffscreenCanvasRenderingContext2d), JsValue> {
    let mut p = pictures.borrow_mut();
    let existing = p.composed().get(node.unchecked_ref());
    let canvas = match existing.dyn_into::<OffscreenCanvas>() {
        Ok(c) if c.width() == w && c.height() == h => c,
        _ => {
            let c = OffscreenCanvas::new(w, h)?;
            p.composed().set(node.unchecked_ref(), &c);
            c
        }
    };
    let ctx = canvas
        .get_context("2d")?
        .ok_or_else(|| JsValue::from_str("no 2d context"))?
        .unchecked_into();
    Ok((canvas, ctx))
}

fn blob_of(bytes: &[u8], mime: &str) -> Result<Blob, JsValue> {
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    Blob::new_with_u8_array_sequence_and_options(&Array::of1(&Uint8Array::from(bytes)), &options)
}

/// Decodes every tile, draws them over the composition in order, and shows
/// the result. A frame that is one whole tile is shown as it came, without
/// encoding it again.
async fn draw_frame(
    pictures: &Rc<RefCell<Pictures>>,
    node: &Node,
    frame: &CanvasFrame,
) -> Result<(), JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let mut tiles = Vec::with_capacity(frame.tiles.len());
    for tile in &frame.tiles {
        let blob = blob_of(&tile.data, tile.format.mime())?;
        let bitmap: ImageBitmap = JsFuture::from(window.create_image_bitmap_with_blob(&blob)?)
            .await?
            .unchecked_into();
        tiles.push((blob, bitmap));
    }
    let (canvas, ctx) = composition(pictures, node, frame.width, frame.height)?;
    for (tile, (_, bitmap)) in frame.tiles.iter().zip(&tiles) {
        let (x, y) = (f64::from(tile.x), f64::from(tile.y));
        // A tile replaces its pixels, transparent ones included.
        ctx.clear_rect(x, y, f64::from(tile.width), f64::from(tile.height));
        ctx.draw_image_with_image_bitmap(bitmap, x, y)?;
        bitmap.close();
    }
    let whole = frame.tiles.len() == 1
        && frame.tiles[0].x == 0
        && frame.tiles[0].y == 0
        && frame.tiles[0].width == frame.width
        && frame.tiles[0].height == frame.height;
    let blob = match tiles.into_iter().next() {
        Some((blob, _)) if whole => blob,
        _ => encode_png(&canvas).await?,
    };
    set_picture(pictures, node, &blob)
}

async fn encode_png(canvas: &OffscreenCanvas) -> Result<Blob, JsValue> {
    let options = web_sys::ImageEncodeOptions::new();
    options.set_type("image/png");
    JsFuture::from(canvas.convert_to_blob_with_options(&options)?)
        .await?
        .dyn_into()
}

/// A grey box with a dashed border and the label, at the canvas's size.
async fn placeholder(pictures: &Rc<RefCell<Pictures>>, node: &Node) -> Result<(), JsValue> {
    let (w, h) = bitmap_size(node);
    if w == 0 || h == 0 {
        return Ok(());
    }
    let (canvas, ctx) = composition(pictures, node, w, h)?;
    let (w, h) = (f64::from(w), f64::from(h));
    ctx.clear_rect(0.0, 0.0, w, h);
    ctx.set_fill_style_str("#e5e7eb");
    ctx.fill_rect(0.0, 0.0, w, h);
    ctx.set_stroke_style_str("#6b7280");
    ctx.set_line_width(2.0);
    ctx.set_line_dash(&Array::of2(&JsValue::from(6), &JsValue::from(4)))?;
    ctx.stroke_rect(1.0, 1.0, (w - 2.0).max(0.0), (h - 2.0).max(0.0));
    let size = (w.min(h) / 10.0).clamp(10.0, 20.0);
    ctx.set_font(&format!("{size}px sans-serif"));
    ctx.set_fill_style_str("#374151");
    ctx.set_text_align("center");
    ctx.set_text_baseline("middle");
    ctx.fill_text_with_max_width(UNREADABLE_LABEL, w / 2.0, h / 2.0, (w - 12.0).max(1.0))?;
    let blob = encode_png(&canvas).await?;
    set_picture(pictures, node, &blob)
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
