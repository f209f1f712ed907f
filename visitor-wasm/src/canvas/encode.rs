//! Encoding changed canvas areas with the browser's own encoders
//! (`OffscreenCanvas.convertToBlob`): no image encoder ships in our wasm.
//!
//! Owns: the choice between PNG and WebP per area, and turning a read
//! batch into [`CanvasFrame`]s. Does not own: what changed (`diff.rs`) or
//! reading pixels (`mod.rs`).

use protocol::{CanvasFrame, CanvasTile, ImageFormat};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::OffscreenCanvas;

use super::diff::{self, Rect};
use super::{Batch, Encoded};

/// A PNG smaller than this is kept without trying a lossy encoding.
const LOSSY_TRY_BYTES: f64 = 12_000.0;
/// A lossy image is used only when it is less than half the PNG: charts and
/// text stay sharp, photos and gradients get small.
const LOSSY_QUALITY: f64 = 0.8;

/// Flat content (charts, text, drawings) is encoded as PNG first; the
/// rest goes straight to WebP: a 1080p photo-like frame is ~1.2 MB of PNG,
/// ~100 ms of encoding partly on the main thread, against ~50 KB of WebP
/// encoded off it (measured in headless Chromium).
const FLAT_SHARE: f64 = 0.6;

pub(super) fn flat(pixels: &[u8], width: u32, r: Rect) -> bool {
    diff::flat_share(pixels, width, r) >= FLAT_SHARE
}

/// Encodes a batch with the browser's encoders (off the main thread). A
/// job whose encode fails is dropped; its canvas is diffed against what
/// was sent before and tried again next time.
pub(crate) async fn encode(batch: Batch) -> Encoded {
    let mut frames = Vec::with_capacity(batch.jobs.len());
    for job in batch.jobs {
        let mut tiles = Vec::with_capacity(job.crops.len());
        for (r, canvas, flat) in &job.crops {
            match encode_one(canvas, *flat).await {
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
                width: job.width,
                height: job.height,
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

/// Flat content: PNG, or WebP when that is less than half the size.
/// Other content: WebP, or PNG where the browser has no WebP encoder.
pub async fn encode_one(
    canvas: &OffscreenCanvas,
    flat: bool,
) -> Result<(ImageFormat, Vec<u8>), JsValue> {
    if !flat {
        let lossy = to_blob(canvas, "image/webp", Some(LOSSY_QUALITY)).await?;
        if lossy.type_() == "image/webp" {
            return Ok((ImageFormat::Webp, bytes_of(&lossy).await?));
        }
    }
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
