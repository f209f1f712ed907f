//! Fonts the page makes with the `FontFace` API: a `FontFace` does not say
//! where its bytes came from, so the capture records what its constructor
//! was given, and describes it for the console when the page adds it to
//! `document.fonts`.
//!
//! Owns: turning constructor arguments into a [`FontFaceDesc`] (URL sources
//! made absolute, byte sources as `data:` URLs under [`MAX_FONT_BYTES`]) and
//! the bounded list of faces made but not yet added. Does not own: the
//! wrappers (`cssom/patch.rs`) or when fonts are sent (`cssom/mod.rs`).

use js_sys::{Array, Uint8Array};
use protocol::{Attr, FontFaceDesc};
use wasm_bindgen::{JsCast, JsValue};

use super::read::{get, Js};
use super::text::{absolute_urls, data_url};
use crate::error::warn;

/// A font made from bytes larger than this is not sent (a frame that big
/// would hold up every event behind it).
pub const MAX_FONT_BYTES: usize = 2 * 1024 * 1024;

/// Faces made but never added are forgotten past this many.
const MAX_PENDING: usize = 256;

/// The descriptors a `FontFace` takes, as its JS property and the CSS name
/// the console gets.
const DESCRIPTORS: &[(&str, &str)] = &[
    ("style", "style"),
    ("weight", "weight"),
    ("stretch", "stretch"),
    ("unicodeRange", "unicode-range"),
    ("variant", "variant"),
    ("featureSettings", "feature-settings"),
    ("variationSettings", "variation-settings"),
    ("display", "display"),
    ("ascentOverride", "ascent-override"),
    ("descentOverride", "descent-override"),
    ("lineGapOverride", "line-gap-override"),
    ("sizeAdjust", "size-adjust"),
];

/// Faces the page has made since the capture started, with what they are.
#[derive(Default)]
pub(crate) struct Faces {
    made: Vec<(Js, FontFaceDesc)>,
}

impl Faces {
    /// Records a face just constructed with `args`.
    pub(crate) fn made(&mut self, face: &JsValue, args: &Array, base: &str) {
        let Some(desc) = describe(face, args, base) else {
            return;
        };
        if self.made.len() >= MAX_PENDING {
            self.made.remove(0);
        }
        self.made.push((Js(face.clone()), desc));
    }

    /// What `face` is, if the capture saw it made.
    pub(crate) fn find(&self, face: &JsValue) -> Option<FontFaceDesc> {
        let face = Js(face.clone());
        self.made
            .iter()
            .find(|(f, _)| *f == face)
            .map(|(_, d)| d.clone())
    }
}

fn describe(face: &JsValue, args: &Array, base: &str) -> Option<FontFaceDesc> {
    // The page's own argument: the console's `FontFace` parses it exactly
    // as the page's did (`family` reads back serialized, quotes and all).
    let family = args
        .get(0)
        .as_string()
        .or_else(|| get(face, "family").as_string())?;
    let source = args.get(1);
    let source = if let Some(text) = source.as_string() {
        absolute_urls(&text, &mut |url| {
            web_sys::Url::new_with_base(url, base)
                .ok()
                .map(|u| u.href())
        })
    } else {
        let bytes = match bytes_of(&source)? {
            Ok(bytes) => bytes,
            Err(length) => {
                warn(&format!(
                    "cobrowse: the font \"{family}\" ({length} bytes) is too large to show the agent"
                ));
                return None;
            }
        };
        let url = data_url("application/octet-stream", &bytes, MAX_FONT_BYTES)?;
        format!("url(\"{url}\")")
    };
    let given = args.get(2);
    let descriptors = DESCRIPTORS
        .iter()
        .filter(|(js, _)| given.is_object() && !get(&given, js).is_undefined())
        .filter_map(|(js, css)| {
            let value = get(face, js)
                .as_string()
                .or_else(|| get(&given, js).as_string())?;
            Some(Attr {
                name: (*css).to_owned(),
                value,
            })
        })
        .collect();
    Some(FontFaceDesc {
        family,
        source,
        descriptors,
    })
}

/// The bytes of an `ArrayBuffer` or a typed array / `DataView`, unless
/// there are more than [`MAX_FONT_BYTES`] (then `Err(length)`, nothing
/// copied).
fn bytes_of(source: &JsValue) -> Option<Result<Vec<u8>, usize>> {
    let view = if source.is_instance_of::<js_sys::ArrayBuffer>() {
        Uint8Array::new(source)
    } else {
        let buffer = get(source, "buffer");
        if !buffer.is_instance_of::<js_sys::ArrayBuffer>() {
            return None;
        }
        let offset = get(source, "byteOffset").as_f64()? as u32;
        let length = get(source, "byteLength").as_f64()? as u32;
        Uint8Array::new_with_byte_offset_and_length(&buffer, offset, length)
    };
    let length = view.length() as usize;
    Some(if length > MAX_FONT_BYTES {
        Err(length)
    } else {
        Ok(view.to_vec())
    })
}
