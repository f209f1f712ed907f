//! Canvas capture: which canvases are read and when, reading their pixels,
//! and handing changed tiles to the browser's own image encoders.
//!
//! Owns: [`Canvases`] (the per-canvas memory of what was last sent, the
//! scheduling timers, the budget) and [`encode`]. Does not own: the change
//! detection and the budget arithmetic (`diff.rs`, `budget.rs`, plain Rust),
//! node ids and masking decisions (`serialize.rs` via [`Capture`]), sending
//! (`session/canvas.rs`).
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
//!   Nothing is encoded in the frame.
//! - Changed areas are copied into small `OffscreenCanvas`es and encoded with
//!   `convertToBlob` (the encoder runs off the main thread; no encoder ships
//!   in our wasm). One batch is in flight at a time; its bytes are paid to
//!   the budget before the next capture.
//! - A canvas with cross-origin pixels throws on `getImageData`: it is
//!   reported once as unreadable and never read again.

pub mod budget;
pub mod diff;

use std::collections::HashMap;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use protocol::{CanvasFrame, CanvasTile, ImageFormat, NodeId};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Document, Element, HtmlCanvasElement, OffscreenCanvas, OffscreenCanvasRenderingContext2d,
    Window,
};

use self::budget::{Budget, Limits};
use self::diff::{Grid, Plan, Rect};
use crate::serialize::Capture;

/// Pixel reading per frame stops after this much time (a 60 Hz frame is
/// 16.7 ms, and the page needs most of it).
pub const READ_BUDGET_MS: f64 = 8.0;
/// Bigger canvases are not read at all: a 4K canvas already copies 33 MB.
const MAX_PIXELS: u64 = 3840 * 2160;
/// The canvas list is refreshed at most this often (it walks shadow roots
/// and same-origin frames).
const LIST_EVERY_MS: f64 = 1000.0;
/// A PNG smaller than this is kept without trying a lossy encoding.
const LOSSY_TRY_BYTES: f64 = 12_000.0;
/// A lossy image is used only when it is less than half the PNG: charts and
/// text stay sharp, photos and gradients get small.
const LOSSY_QUALITY: f64 = 0.8;

/// How a canvas draws, learnt only when it matters (see [`Canvases::read`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    TwoD,
    /// WebGL (or another context) whose buffer is cleared once shown: a
    /// blank read means "read too late", not "the page cleared it".
    Cleared,
}

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
    grid: Grid,
    crops: Vec<(Rect, OffscreenCanvas)>,
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
    tracked: HashMap<NodeId, Tracked>,
    list: Vec<HtmlCanvasElement>,
    listed_at: Option<f64>,
    /// Where the next round robin starts.
    cursor: usize,
    /// Bumped by every snapshot: frames encoded before it are dropped.
    generation: u32,
    in_flight: bool,
    scratch: Option<(OffscreenCanvas, OffscreenCanvasRenderingContext2d)>,
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
            tracked: HashMap::new(),
            list: Vec::new(),
            listed_at: None,
            cursor: 0,
            generation: 0,
            in_flight: false,
            scratch: None,
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
        for t in self.tracked.values_mut() {
            t.sent = None;
            t.unreadable_sent = false;
        }
        self.listed_at = None;
        self.arm();
    }

    /// The page changed: canvases may have come or gone.
    pub fn page_changed(&mut self) {
        self.listed_at = None;
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
    pub fn read(&mut self, capture: &Capture) -> Read {
        self.frame = None;
        let start = self.now();
        self.budget.captured(start);
        self.refresh_list(start);
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
                self.tracked.entry(frame.id).or_default().sent = Some(grid);
                out.push(frame);
            }
        }
        self.arm();
        out
    }

    fn refresh_list(&mut self, now: f64) {
        if self.listed_at.is_some_and(|t| now - t < LIST_EVERY_MS) {
            return;
        }
        self.listed_at = Some(now);
        self.list.clear();
        collect(&self.document, &mut self.list, 0);
    }

    fn read_one(&mut self, el: &HtmlCanvasElement, capture: &Capture) -> Option<Found> {
        let id = capture.ids.get(el)?;
        let element: &Element = el.unchecked_ref();
        // The mask module's decision: a masked or blocked canvas is never read.
        if capture.is_masked(element) || capture.in_block(element) {
            return None;
        }
        let tracked = self.tracked.entry(id).or_default();
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
        let (scratch, ctx) = self.scratch_of(w, h)?;
        ctx.clear_rect(0.0, 0.0, f64::from(w), f64::from(h));
        // Throws for a canvas in a state that cannot be drawn (e.g. its
        // control was transferred to a worker): skip it, it stays as it was.
        ctx.draw_image_with_html_canvas_element(el, 0.0, 0.0).ok()?;
        let data = match ctx.get_image_data(0.0, 0.0, f64::from(w), f64::from(h)) {
            Ok(d) => d,
            Err(_) => {
                // Cross-origin pixels: the scratch is tainted now, too.
                self.scratch = None;
                let t = self.tracked.entry(id).or_default();
                t.unreadable = true;
                t.unreadable_sent = true;
                return Some(Found::Unreadable(id));
            }
        };
        let grid = Grid::of_rgba(&data.data(), w, h)?;
        let tracked = self.tracked.entry(id).or_default();
        if grid.blank && tracked.sent.as_ref().is_some_and(|g| !g.blank) {
            // Blank after content: a WebGL buffer read after it was shown
            // keeps its last image; a 2D canvas really was cleared.
            if *tracked.kind.get_or_insert_with(|| kind_of(el)) == Kind::Cleared {
                return None;
            }
        }
        let plan = diff::plan(tracked.sent.as_ref(), &grid);
        let crops = match plan {
            Plan::Unchanged => return None,
            Plan::Whole => {
                let whole = Rect {
                    x: 0,
                    y: 0,
                    width: w,
                    height: h,
                };
                // The scratch itself becomes the image; a new one is made
                // for the next read.
                let (canvas, _) = self.scratch.take()?;
                vec![(whole, canvas)]
            }
            Plan::Tiles(rects) => rects
                .into_iter()
                .filter_map(|r| crop(&scratch, r).map(|c| (r, c)))
                .collect(),
        };
        Some(Found::Job(Job { id, grid, crops }))
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

/// A copy of one area of the scratch, to be encoded on its own.
fn crop(scratch: &OffscreenCanvas, r: Rect) -> Option<OffscreenCanvas> {
    let (canvas, ctx) = context_2d(r.width, r.height, false)?;
    let (x, y, w, h) = (
        f64::from(r.x),
        f64::from(r.y),
        f64::from(r.width),
        f64::from(r.height),
    );
    ctx.draw_image_with_offscreen_canvas_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
        scratch, x, y, w, h, 0.0, 0.0, w, h,
    )
    .ok()?;
    Some(canvas)
}

/// Whether a canvas that read blank after showing content is one whose
/// buffer is cleared once presented. Only asked of a canvas that already
/// has a context (it showed content), so `getContext` creates nothing: it
/// returns the existing context of that kind, or null for another kind.
fn kind_of(el: &HtmlCanvasElement) -> Kind {
    if matches!(el.get_context("2d"), Ok(Some(_))) {
        return Kind::TwoD;
    }
    for name in ["webgl2", "webgl", "experimental-webgl"] {
        if let Ok(Some(ctx)) = el.get_context(name) {
            let preserved = js_sys::Reflect::get(&ctx, &JsValue::from_str("getContextAttributes"))
                .ok()
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
                .and_then(|f| f.call0(&ctx).ok())
                .and_then(|a| {
                    js_sys::Reflect::get(&a, &JsValue::from_str("preserveDrawingBuffer")).ok()
                })
                .and_then(|p| p.as_bool())
                .unwrap_or(false);
            return if preserved { Kind::TwoD } else { Kind::Cleared };
        }
    }
    // A bitmaprenderer or a transferred canvas: never take blank for news.
    Kind::Cleared
}

/// On screen: a box of some size that overlaps the viewport. Checked on
/// the element's box, so `display: none` (an empty box) and scrolled-away
/// canvases are skipped without a style query.
fn visible(window: &Window, el: &Element) -> bool {
    let r = el.get_bounding_client_rect();
    let vw = window
        .inner_width()
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    let vh = window
        .inner_height()
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    r.width() > 0.0
        && r.height() > 0.0
        && r.bottom() > 0.0
        && r.right() > 0.0
        && r.top() < vh
        && r.left() < vw
}

/// Every canvas under `root` (a document or a shadow root), through open
/// shadow roots and same-origin frames. Elements of a frame belong to
/// another realm, hence the unchecked casts (the tag is checked instead).
fn collect(root: &JsValue, out: &mut Vec<HtmlCanvasElement>, depth: u32) {
    if depth > 8 {
        return;
    }
    let Ok(all) = query_all(root, "*") else {
        return;
    };
    for i in 0..all.length() {
        let Some(node) = all.item(i) else { continue };
        let el: &Element = node.unchecked_ref();
        match el.local_name().as_str() {
            "canvas" => out.push(node.clone().unchecked_into()),
            "iframe" | "frame" => {
                // Null for a cross-origin frame: its canvases are not ours.
                if let Ok(doc) = js_sys::Reflect::get(el, &JsValue::from_str("contentDocument")) {
                    if doc.is_object() {
                        collect(&doc, out, depth + 1);
                    }
                }
            }
            _ => {}
        }
        if let Some(shadow) = el.shadow_root() {
            collect(&shadow, out, depth + 1);
        }
    }
}

fn query_all(root: &JsValue, selector: &str) -> Result<web_sys::NodeList, JsValue> {
    let f = js_sys::Reflect::get(root, &JsValue::from_str("querySelectorAll"))?
        .dyn_into::<js_sys::Function>()?;
    Ok(f.call1(root, &JsValue::from_str(selector))?
        .unchecked_into())
}

/// Encodes a batch with the browser's encoders (off the main thread). A
/// job whose encode fails is dropped; its canvas is diffed against what
/// was sent before and tried again next time.
pub(crate) async fn encode(batch: Batch) -> Encoded {
    let mut frames = Vec::with_capacity(batch.jobs.len());
    for job in batch.jobs {
        let mut tiles = Vec::with_capacity(job.crops.len());
        for (r, canvas) in &job.crops {
            match encode_one(canvas).await {
                Ok((format, data)) => tiles.push(CanvasTile {
                    x: r.x,
                    y: r.y,
                    width: r.width,
                    height: r.height,
                    format,
                    data,
                }),
                Err(e) => {
                    crate::error::warn_js("cobrowse: a canvas frame could not be encoded:", &e);
                    tiles.clear();
                    break;
                }
            }
        }
        if tiles.is_empty() {
            continue;
        }
        frames.push((
            CanvasFrame {
                id: job.id,
                width: job.grid.width,
                height: job.grid.height,
                tiles,
            },
            job.grid,
        ));
    }
    Encoded {
        generation: batch.generation,
        frames,
    }
}

/// PNG, or WebP when that is less than half the size.
pub async fn encode_one(canvas: &OffscreenCanvas) -> Result<(ImageFormat, Vec<u8>), JsValue> {
    let png = to_blob(canvas, "image/png", None).await?;
    if png.size() > LOSSY_TRY_BYTES {
        // A browser without a WebP encoder answers with a PNG: ignored.
        if let Ok(lossy) = to_blob(canvas, "image/webp", Some(LOSSY_QUALITY)).await {
            if lossy.type_() == "image/webp" && lossy.size() * 2.0 < png.size() {
                return Ok((ImageFormat::Webp, bytes_of(&lossy).await?));
            }
        }
    }
    Ok((ImageFormat::Png, bytes_of(&png).await?))
}

async fn to_blob(
    canvas: &OffscreenCanvas,
    mime: &str,
    quality: Option<f64>,
) -> Result<web_sys::Blob, JsValue> {
    let options = web_sys::ImageEncodeOptions::new();
    options.set_type(mime);
    if let Some(q) = quality {
        options.set_quality(q);
    }
    let blob = JsFuture::from(canvas.convert_to_blob_with_options(&options)?).await?;
    blob.dyn_into::<web_sys::Blob>()
}

async fn bytes_of(blob: &web_sys::Blob) -> Result<Vec<u8>, JsValue> {
    let buffer = JsFuture::from(blob.array_buffer()).await?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}
