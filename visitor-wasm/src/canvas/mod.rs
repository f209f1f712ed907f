//! Canvas capture: which canvases are read and when, reading their pixels,
//! and handing changed tiles to the browser's own image encoders.
//!
//! Owns: [`Canvases`] (the per-canvas memory of what was last sent, the
//! scheduling timers, the budget, reading pixels and cutting changed
//! areas). Does not own: the change detection and the budget arithmetic
//! (`diff.rs`, `budget.rs`, plain Rust), encoding (`encode.rs`), finding
//! canvases (`find.rs`), node ids and masking decisions (`serialize.rs` via
//! [`Capture`]), sending (`session/canvas.rs`).
//!
//! How a capture runs, and why:
//! - A timer fires when the budget allows the next capture; it asks for an
//!   animation frame. The request is made from a timer task, not from inside
//!   a frame callback, so ours is queued *after* the callback the page's
//!   animation loop registered in the previous frame: we read a WebGL canvas
//!   in the same frame, right after the page drew it, before the browser
//!   presents and clears a buffer made without `preserveDrawingBuffer`.
//!   (No patching of the page's `requestAnimationFrame` or `getContext`.)
//! - In that frame, visible canvases (bounding box inside the viewport, not
//!   masked or blocked) are copied into one scratch `OffscreenCanvas`, read
//!   with `getImageData`, and hashed tile by tile; reading stops once
//!   [`READ_BUDGET_MS`] is spent, the rest go first next time (round robin).
//!   Canvases over [`BIG_PIXELS`] are compared at half size. Nothing is
//!   encoded in the frame.
//! - Changed areas are copied into small `OffscreenCanvas`es and encoded with
//!   `convertToBlob` (the encoder runs off the main thread; no encoder ships
//!   in our wasm). One batch is in flight at a time; its bytes are paid to
//!   the budget before the next capture.
//! - A canvas with cross-origin pixels throws on `getImageData`: it is
//!   reported once as unreadable and never read again.

pub mod budget;
pub mod diff;
mod encode;
mod find;

pub(crate) use encode::encode;
pub use encode::encode_one;

use std::rc::Rc;

use gloo_timers::callback::Timeout;
use protocol::{CanvasFrame, NodeId};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    Document, Element, HtmlCanvasElement, OffscreenCanvas, OffscreenCanvasRenderingContext2d,
    Window,
};

use self::budget::{Budget, Limits};
use self::diff::{Grid, Plan, Rect};
use self::encode::flat;
use self::find::{kind_of, visible, Kind};
use crate::serialize::Capture;

/// Pixel reading per frame stops after this much time (a 60 Hz frame is
/// 16.7 ms, and the page needs most of it).
pub const READ_BUDGET_MS: f64 = 8.0;
/// Canvases above this many pixels (1.5 MP: above 1440×1040) are compared
/// at half size. The cost: a change of a pixel or two whose average with
/// its neighbours moves by less than a level is missed until something
/// bigger changes there. Measured in headless Chromium, reading a 1080p
/// canvas (drawImage + getImageData) is ~130 ms of main thread at full size.
const BIG_PIXELS: u64 = 1_500_000;
/// Bigger canvases are not read at all: a 4K canvas already copies 33 MB.
const MAX_PIXELS: u64 = 3840 * 2160;
/// The canvas list is refreshed this long after the page changed at the
/// earliest, and this often anyway (a safety net for a change the
/// mutation tracker does not report).
const LIST_EVERY_MS: f64 = 1000.0;
const LIST_AT_LEAST_EVERY_MS: f64 = 5000.0;
#[derive(Default)]
struct Tracked {
    /// The grid of the last frame sent since the last snapshot.
    sent: Option<Grid>,
    unreadable: bool,
    unreadable_sent: bool,
    kind: Option<Kind>,
}

/// One canvas's changed areas, copied out and waiting to be encoded.
pub(crate) struct Job {
    id: NodeId,
    /// The canvas's bitmap size (the grid may be of a half-size copy).
    width: u32,
    height: u32,
    grid: Grid,
    /// Each area, its copy, and whether it is flat content (PNG first).
    crops: Vec<(Rect, OffscreenCanvas, bool)>,
}

/// A capture's jobs, tagged with the snapshot generation they belong to.
pub(crate) struct Batch {
    generation: u32,
    jobs: Vec<Job>,
}

/// What a capture frame found.
#[derive(Default)]
pub(crate) struct Read {
    /// Canvases to report as unreadable now.
    pub unreadable: Vec<NodeId>,
    /// Areas to encode, if any changed.
    pub batch: Option<Batch>,
}

/// An encoded batch: the frames and what they mean for the next diff.
pub(crate) struct Encoded {
    generation: u32,
    frames: Vec<(CanvasFrame, Grid)>,
}

/// One `requestAnimationFrame`, cancelled on drop.
struct FrameRequest {
    window: Window,
    id: i32,
    _closure: Closure<dyn FnMut()>,
}

impl Drop for FrameRequest {
    fn drop(&mut self) {
        let _ = self.window.cancel_animation_frame(self.id);
    }
}

/// Every canvas of the page, as the capture knows it.
pub(crate) struct Canvases {
    window: Window,
    document: Document,
    budget: Budget,
    /// Per canvas, by id. A Vec, not a HashMap: pages have a handful of
    /// canvases, and the crate ships no hasher (script size).
    tracked: Vec<(NodeId, Tracked)>,
    list: Vec<HtmlCanvasElement>,
    listed_at: Option<f64>,
    /// The page changed since the list was made.
    dirty: bool,
    shadow_roots: Vec<JsValue>,
    /// Where the next round robin starts.
    cursor: usize,
    /// Bumped by every snapshot: frames encoded before it are dropped.
    generation: u32,
    in_flight: bool,
    scratch: Option<(OffscreenCanvas, OffscreenCanvasRenderingContext2d)>,
    /// The last read's pixels, kept to reuse the allocation (8 MB at 1080p).
    pixels: Vec<u8>,
    due: Rc<dyn Fn()>,
    on_frame: Rc<dyn Fn()>,
    timer: Option<Timeout>,
    frame: Option<FrameRequest>,
}

impl Canvases {
    /// Starts capturing: `due` runs when the budget allows a capture (call
    /// [`Canvases::due`]), `on_frame` in the animation frame that reads
    /// (call [`Canvases::read`]). `None` where the browser lacks
    /// `OffscreenCanvas` (canvases then simply stay blank for the agent).
    pub fn start(
        window: &Window,
        document: &Document,
        limits: Limits,
        due: Rc<dyn Fn()>,
        on_frame: Rc<dyn Fn()>,
    ) -> Option<Canvases> {
        let has_offscreen =
            js_sys::Reflect::has(window, &JsValue::from_str("OffscreenCanvas")).unwrap_or(false);
        if !has_offscreen {
            crate::error::warn(
                "cobrowse: this browser cannot capture canvases (no OffscreenCanvas)",
            );
            return None;
        }
        let mut canvases = Canvases {
            window: window.clone(),
            document: document.clone(),
            budget: Budget::new(limits),
            tracked: Vec::new(),
            list: Vec::new(),
            listed_at: None,
            dirty: false,
            shadow_roots: Vec::new(),
            cursor: 0,
            generation: 0,
            in_flight: false,
            scratch: None,
            pixels: Vec::new(),
            due,
            on_frame,
            timer: None,
            frame: None,
        };
        canvases.arm();
        Some(canvases)
    }

    fn now(&self) -> f64 {
        self.window.performance().map_or(0.0, |p| p.now())
    }

    /// A snapshot went out: every canvas is sent in full again (and an
    /// unreadable one reported again), and frames still being encoded are
    /// dropped (they were cut against the old state).
    pub fn reset(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        for (_, t) in &mut self.tracked {
            t.sent = None;
            t.unreadable_sent = false;
        }
        self.listed_at = None;
        self.arm();
    }

    /// The page changed: canvases may have come or gone.
    pub fn page_changed(&mut self) {
        self.dirty = true;
    }

    /// Sets the timer for the next capture (nothing while a batch is being
    /// encoded or a frame is already asked for).
    pub fn arm(&mut self) {
        if self.in_flight || self.frame.is_some() || self.timer.is_some() {
            return;
        }
        let now = self.now();
        // At least one frame's time between tries: an overdrawn budget or a
        // page with no canvas must not spin.
        let wait = self.budget.wait_ms(now).clamp(16.0, 10_000.0);
        let due = Rc::clone(&self.due);
        self.timer = Some(Timeout::new(wait as u32, move || due()));
    }

    /// The timer fired: ask for the frame to read in, if the budget allows.
    pub fn due(&mut self) {
        self.timer = None;
        if self.in_flight || self.frame.is_some() {
            return;
        }
        let now = self.now();
        if !self.budget.may_capture(now) {
            return self.arm();
        }
        let on_frame = Rc::clone(&self.on_frame);
        let closure = Closure::<dyn FnMut()>::new(move || on_frame());
        match self
            .window
            .request_animation_frame(closure.as_ref().unchecked_ref())
        {
            Ok(id) => {
                self.frame = Some(FrameRequest {
                    window: self.window.clone(),
                    id,
                    _closure: closure,
                })
            }
            Err(_) => self.arm(),
        }
    }

    /// In the animation frame: reads visible canvases and returns what to
    /// report and encode. Call [`Canvases::finished`] with the encoded batch
    /// (or `arm` if there is none).
    pub fn read(&mut self, capture: &Capture, shadow_roots: &dyn Fn() -> Vec<JsValue>) -> Read {
        self.frame = None;
        let start = self.now();
        self.budget.captured(start);
        self.refresh_list(start, shadow_roots);
        let mut out = Read::default();
        let mut jobs = Vec::new();
        let n = self.list.len();
        let mut seen = 0;
        while seen < n {
            let el = self.list[(self.cursor + seen) % n].clone();
            seen += 1;
            if let Some(found) = self.read_one(&el, capture) {
                match found {
                    Found::Unreadable(id) => out.unreadable.push(id),
                    Found::Job(job) => jobs.push(job),
                }
            }
            if self.now() - start > READ_BUDGET_MS {
                break;
            }
        }
        if n > 0 {
            self.cursor = (self.cursor + seen) % n;
        }
        if !jobs.is_empty() {
            self.in_flight = true;
            out.batch = Some(Batch {
                generation: self.generation,
                jobs,
            });
        }
        out
    }

    /// An encoded batch came back: the frames still valid to send. Pays
    /// their bytes to the budget and schedules the next capture.
    pub fn finished(&mut self, encoded: Encoded) -> Vec<CanvasFrame> {
        self.in_flight = false;
        let mut out = Vec::new();
        if encoded.generation == self.generation {
            let bytes: usize = encoded
                .frames
                .iter()
                .flat_map(|(f, _)| &f.tiles)
                .map(|t| t.data.len())
                .sum();
            let now = self.now();
            self.budget.spent(bytes, now);
            for (frame, grid) in encoded.frames {
                entry(&mut self.tracked, frame.id).sent = Some(grid);
                out.push(frame);
            }
        }
        self.arm();
        out
    }

    /// `shadow_roots`: the open ones the capture observed (kept by the
    /// mutation tracker, so no walk over every element is needed here).
    fn refresh_list(&mut self, now: f64, shadow_roots: &dyn Fn() -> Vec<JsValue>) {
        let due = match self.listed_at {
            None => true,
            Some(t) => {
                (self.dirty && now - t >= LIST_EVERY_MS) || now - t >= LIST_AT_LEAST_EVERY_MS
            }
        };
        if !due {
            return;
        }
        self.listed_at = Some(now);
        self.dirty = false;
        self.shadow_roots = shadow_roots();
        self.list.clear();
        find::canvases(&self.document, &mut self.list, 0);
        for root in &self.shadow_roots {
            find::canvases(root, &mut self.list, 0);
        }
    }

    fn read_one(&mut self, el: &HtmlCanvasElement, capture: &Capture) -> Option<Found> {
        let id = capture.ids.get(el)?;
        let element: &Element = el.unchecked_ref();
        // The mask module's decision: a masked or blocked canvas is never read.
        if capture.is_masked(element) || capture.in_block(element) {
            return None;
        }
        let tracked = entry(&mut self.tracked, id);
        if tracked.unreadable {
            if tracked.unreadable_sent {
                return None;
            }
            tracked.unreadable_sent = true;
            return Some(Found::Unreadable(id));
        }
        if !visible(&self.window, element) {
            return None;
        }
        let (w, h) = (el.width(), el.height());
        if w == 0 || h == 0 || u64::from(w) * u64::from(h) > MAX_PIXELS {
            return None;
        }
        // Big canvases are compared at half size: a quarter of the pixels
        // to copy, move into wasm and hash (see BIG_PIXELS); the images
        // sent are cut from the canvas itself, at full size.
        let half = u64::from(w) * u64::from(h) > BIG_PIXELS;
        let (sw, sh) = if half {
            (w.div_ceil(2), h.div_ceil(2))
        } else {
            (w, h)
        };
        let (scratch, grid) = match self.read_pixels(el, id, sw, sh)? {
            Ok(read) => read,
            Err(unreadable) => return Some(unreadable),
        };
        // A WebGL buffer the browser cleared once shown reads blank; the
        // loader's copy (made right after the page last drew) holds what
        // the canvas shows. Read only then: a canvas drawn since the last
        // frame is fresher than any copy.
        let kept = if grid.blank {
            find::kept_copy(&self.window, el)
        } else {
            None
        };
        let (source, scratch, grid) = match &kept {
            Some(copy) => match self.read_pixels(copy, id, sw, sh)? {
                Ok((scratch, grid)) => (copy, scratch, grid),
                Err(unreadable) => return Some(unreadable),
            },
            None => (el, scratch, grid),
        };
        let tracked = entry(&mut self.tracked, id);
        if grid.blank && kept.is_none() && tracked.sent.as_ref().is_some_and(|g| !g.blank) {
            // Blank after content: a WebGL buffer read after it was shown
            // keeps its last image; a 2D canvas (or a kept copy) really
            // was cleared.
            if *tracked.kind.get_or_insert_with(|| kind_of(el)) == Kind::Cleared {
                return None;
            }
        }
        let plan = diff::plan(tracked.sent.as_ref(), &grid);
        let rects = match plan {
            Plan::Unchanged => return None,
            Plan::Whole => vec![Rect {
                x: 0,
                y: 0,
                width: sw,
                height: sh,
            }],
            Plan::Tiles(rects) => rects,
        };
        let mut crops = Vec::with_capacity(rects.len());
        for r in rects {
            let is_flat = flat(&self.pixels, sw, r);
            let (full, copy) = if half {
                let full = scale_up(r, w, h);
                (full, crop_canvas(source, full)?)
            } else if r.width == w && r.height == h {
                // The scratch itself becomes the image; a new one is made
                // for the next read.
                (r, self.scratch.take()?.0)
            } else {
                (r, crop(&scratch, r)?)
            };
            crops.push((full, copy, is_flat));
        }
        Some(Found::Job(Job {
            id,
            width: w,
            height: h,
            grid,
            crops,
        }))
    }

    /// Draws `src` into the scratch at `sw`×`sh` and hashes its pixels
    /// (kept in `self.pixels`). `None` when it cannot be drawn (e.g. its
    /// control was transferred to a worker: it stays as it was); `Err` when
    /// cross-origin pixels make it unreadable.
    fn read_pixels(
        &mut self,
        src: &HtmlCanvasElement,
        id: NodeId,
        sw: u32,
        sh: u32,
    ) -> Option<Result<(OffscreenCanvas, Grid), Found>> {
        let (scratch, ctx) = self.scratch_of(sw, sh)?;
        ctx.clear_rect(0.0, 0.0, f64::from(sw), f64::from(sh));
        ctx.draw_image_with_html_canvas_element_and_dw_and_dh(
            src,
            0.0,
            0.0,
            f64::from(sw),
            f64::from(sh),
        )
        .ok()?;
        let data = match ctx.get_image_data(0.0, 0.0, f64::from(sw), f64::from(sh)) {
            Ok(d) => d,
            Err(_) => {
                // Cross-origin pixels: the scratch is tainted now, too.
                self.scratch = None;
                let t = entry(&mut self.tracked, id);
                t.unreadable = true;
                t.unreadable_sent = true;
                return Some(Err(Found::Unreadable(id)));
            }
        };
        // Copied into a buffer kept between reads rather than a fresh Vec.
        let array: js_sys::Uint8ClampedArray =
            js_sys::Reflect::get(&data, &JsValue::from_str("data"))
                .ok()?
                .dyn_into()
                .ok()?;
        self.pixels.resize(array.length() as usize, 0);
        array.copy_to(&mut self.pixels);
        let grid = Grid::of_rgba(&self.pixels, sw, sh)?;
        Some(Ok((scratch, grid)))
    }

    /// The scratch canvas at `w`×`h`, made once and reused while the size
    /// holds. `willReadFrequently` keeps it in memory, where
    /// `getImageData` does not wait on the GPU.
    fn scratch_of(
        &mut self,
        w: u32,
        h: u32,
    ) -> Option<(OffscreenCanvas, OffscreenCanvasRenderingContext2d)> {
        if let Some((c, ctx)) = &self.scratch {
            if c.width() == w && c.height() == h {
                return Some((c.clone(), ctx.clone()));
            }
        }
        let made = context_2d(w, h, true)?;
        self.scratch = Some(made.clone());
        Some(made)
    }
}

/// The entry for `id`, made on first use.
fn entry(list: &mut Vec<(NodeId, Tracked)>, id: NodeId) -> &mut Tracked {
    let at = match list.iter().position(|(k, _)| *k == id) {
        Some(at) => at,
        None => {
            list.push((id, Tracked::default()));
            list.len() - 1
        }
    };
    &mut list[at].1
}

enum Found {
    Unreadable(NodeId),
    Job(Job),
}

fn context_2d(
    w: u32,
    h: u32,
    read_often: bool,
) -> Option<(OffscreenCanvas, OffscreenCanvasRenderingContext2d)> {
    let canvas = OffscreenCanvas::new(w, h).ok()?;
    let options = js_sys::Object::new();
    if read_often {
        let _ = js_sys::Reflect::set(
            &options,
            &JsValue::from_str("willReadFrequently"),
            &JsValue::TRUE,
        );
    }
    let ctx = canvas
        .get_context_with_context_options("2d", &options)
        .ok()??
        .unchecked_into::<OffscreenCanvasRenderingContext2d>();
    Some((canvas, ctx))
}

/// A half-size rectangle at full size, clipped to the bitmap.
fn scale_up(r: Rect, w: u32, h: u32) -> Rect {
    let x = (r.x * 2).min(w);
    let y = (r.y * 2).min(h);
    Rect {
        x,
        y,
        width: (r.width * 2).min(w - x),
        height: (r.height * 2).min(h - y),
    }
}

/// A copy of one area of the page's canvas itself (same frame as the read,
/// so a WebGL buffer still holds the picture).
fn crop_canvas(el: &HtmlCanvasElement, r: Rect) -> Option<OffscreenCanvas> {
    crop_with(r, |ctx, x, y, w, h| {
        ctx.draw_image_with_html_canvas_element_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
            el, x, y, w, h, 0.0, 0.0, w, h,
        )
    })
}

/// A copy of one area of the scratch, to be encoded on its own.
fn crop(scratch: &OffscreenCanvas, r: Rect) -> Option<OffscreenCanvas> {
    crop_with(r, |ctx, x, y, w, h| {
        ctx.draw_image_with_offscreen_canvas_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
            scratch, x, y, w, h, 0.0, 0.0, w, h,
        )
    })
}

/// A new canvas the size of `r`, with `draw(ctx, x, y, w, h)` copying that
/// area of some source into it (web-sys has one method per source type).
fn crop_with(
    r: Rect,
    draw: impl FnOnce(
        &web_sys::OffscreenCanvasRenderingContext2d,
        f64,
        f64,
        f64,
        f64,
    ) -> Result<(), wasm_bindgen::JsValue>,
) -> Option<OffscreenCanvas> {
    let (canvas, ctx) = context_2d(r.width, r.height, false)?;
    draw(
        &ctx,
        f64::from(r.x),
        f64::from(r.y),
        f64::from(r.width),
        f64::from(r.height),
    )
    .ok()?;
    Some(canvas)
}
