//! Change detection for canvas pixels, in plain Rust: a fast hash of every
//! 64×64 tile of an RGBA buffer, and the decision what to send given the
//! hashes last sent (nothing, some tiles, or the whole canvas).
//!
//! Owns: the hash, the tile grid and that decision. Does not own: reading
//! pixels or encoding images (`canvas/mod.rs`, the browser's encoders).
//!
//! Why hash before encoding: encoding is the expensive step (and its bytes
//! are what the visitor's upstream pays for), while hashing a 1080p frame
//! is one linear pass over memory already copied into wasm. An unchanged
//! canvas therefore costs a read and a hash, never an encode or a byte.

/// Tile side in pixels. 64 keeps the grid small (510 tiles at 1080p) while
/// a moving cursor or a chart tooltip touches only a few tiles.
pub const TILE: u32 = 64;

/// When changed tiles cover more than this share of the canvas, one whole
/// frame is cheaper than many tiles: each tile is its own image with its own
/// header, and the encoder compresses one large image better.
const WHOLE_SHARE: f64 = 0.5;
/// More separate rectangles than this are sent as one whole frame too
/// (every rectangle is one encode, and encodes run one after another).
const MAX_RECTS: usize = 12;

/// A rectangle in bitmap pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// What changed since the last frame sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Same pixels: send nothing.
    Unchanged,
    /// Send the whole canvas as one tile (first frame, new size, or most
    /// of it changed).
    Whole,
    /// Send these rectangles, each drawn over the last image.
    Tiles(Vec<Rect>),
}

/// The hashes of one frame's tiles, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    pub width: u32,
    pub height: u32,
    cols: u32,
    rows: u32,
    hashes: Vec<u64>,
    /// Every byte was zero: a fully transparent canvas (also what a WebGL
    /// canvas reads as after its drawing buffer was presented and cleared).
    pub blank: bool,
}

/// One step of the hash: FxHash's rotate-xor-multiply, on 8-byte words.
/// Not cryptographic, on purpose: it only has to tell "same pixels" from
/// "different pixels" for content nobody chose to collide, and it runs at
/// memory speed in wasm (no 128-bit multiply, no tables).
#[inline]
fn mix(h: u64, word: u64) -> u64 {
    (h.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
}

/// The hash of a byte slice (the tile hashes use the same steps).
pub fn hash_bytes(data: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325;
    h = feed(h, data);
    // The length last, so "abc" and "abc\0" differ.
    mix(h, data.len() as u64)
}

fn feed(h: u64, data: &[u8]) -> u64 {
    feed_or(h, data, &mut 0)
}

/// [`feed`], also OR-ing every word into `any` (a blank check for free,
/// on words the loop already holds).
#[inline]
fn feed_or(mut h: u64, data: &[u8], any: &mut u64) -> u64 {
    let mut words = data.chunks_exact(8);
    for w in words.by_ref() {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let word = u64::from_le_bytes(b);
        *any |= word;
        h = mix(h, word);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        let word = u64::from_le_bytes(b);
        *any |= word;
        h = mix(h, word);
    }
    h
}

impl Grid {
    /// Hashes every tile of an RGBA buffer of `width`×`height` pixels, in
    /// one pass over the rows. `None` when the buffer is not that size (a
    /// canvas resized between the read and the hash).
    pub fn of_rgba(pixels: &[u8], width: u32, height: u32) -> Option<Grid> {
        let row_bytes = (width as usize).checked_mul(4)?;
        if width == 0 || height == 0 || pixels.len() != row_bytes.checked_mul(height as usize)? {
            return None;
        }
        let cols = width.div_ceil(TILE);
        let rows = height.div_ceil(TILE);
        let mut hashes = vec![0u64; (cols * rows) as usize];
        let tile_bytes = TILE as usize * 4;
        let mut any = 0u64;
        for (y, row) in pixels.chunks_exact(row_bytes).enumerate() {
            let tile_row = y / TILE as usize * cols as usize;
            for (col, part) in row.chunks(tile_bytes).enumerate() {
                let slot = &mut hashes[tile_row + col];
                *slot = feed_or(*slot, part, &mut any);
            }
        }
        Some(Grid {
            width,
            height,
            cols,
            rows,
            hashes,
            blank: any == 0,
        })
    }

    fn tile_rect(&self, col: u32, row: u32, span: u32) -> Rect {
        let x = col * TILE;
        let y = row * TILE;
        Rect {
            x,
            y,
            width: (span * TILE).min(self.width - x),
            height: TILE.min(self.height - y),
        }
    }
}

/// The share of pixels in `r` equal to their left neighbour, sampled on
/// every eighth row: high for charts, text, UI and line drawings (flat
/// areas, which PNG compresses well and a lossy encoder would smudge), low
/// for photos, gradients and 3D scenes (where PNG is many times larger
/// than WebP and slow to encode). `pixels` is RGBA, `width` pixels a row.
pub fn flat_share(pixels: &[u8], width: u32, r: Rect) -> f64 {
    let (mut same, mut seen) = (0u64, 0u64);
    let stride = width as usize * 4;
    for y in (r.y..r.y + r.height).step_by(8) {
        let start = y as usize * stride + r.x as usize * 4;
        let Some(row) = pixels.get(start..start + r.width as usize * 4) else {
            break;
        };
        let mut prev: Option<&[u8]> = None;
        for px in row.chunks_exact(4) {
            if let Some(q) = prev {
                seen += 1;
                same += u64::from(px == q);
            }
            prev = Some(px);
        }
    }
    if seen == 0 {
        return 1.0;
    }
    same as f64 / seen as f64
}

/// What to send for `now`, given the grid of the last frame sent (`None`:
/// nothing sent since the last snapshot). Changed tiles next to each other
/// in a row are merged into one rectangle.
pub fn plan(sent: Option<&Grid>, now: &Grid) -> Plan {
    let Some(sent) = sent else {
        return Plan::Whole;
    };
    if sent.width != now.width || sent.height != now.height {
        return Plan::Whole;
    }
    let mut rects = Vec::new();
    let mut changed_px: u64 = 0;
    for row in 0..now.rows {
        let mut col = 0;
        while col < now.cols {
            let i = (row * now.cols + col) as usize;
            if sent.hashes[i] == now.hashes[i] {
                col += 1;
                continue;
            }
            let start = col;
            while col < now.cols {
                let j = (row * now.cols + col) as usize;
                if sent.hashes[j] == now.hashes[j] {
                    break;
                }
                col += 1;
            }
            let r = now.tile_rect(start, row, col - start);
            changed_px += u64::from(r.width) * u64::from(r.height);
            rects.push(r);
        }
    }
    if rects.is_empty() {
        return Plan::Unchanged;
    }
    let total = u64::from(now.width) * u64::from(now.height);
    if rects.len() > MAX_RECTS || changed_px as f64 > total as f64 * WHOLE_SHARE {
        return Plan::Whole;
    }
    Plan::Tiles(merge_rows(rects))
}

/// Merges rectangles that are the same columns in consecutive tile rows
/// (a changed vertical band is one image, not one per row).
fn merge_rows(rects: Vec<Rect>) -> Vec<Rect> {
    let mut out: Vec<Rect> = Vec::with_capacity(rects.len());
    for r in rects {
        let below = out
            .iter_mut()
            .find(|o| o.x == r.x && o.width == r.width && o.y + o.height == r.y);
        match below {
            Some(o) => o.height += r.height,
            None => out.push(r),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail by panicking
mod tests {
    use super::*;

    fn image(w: u32, h: u32, fill: [u8; 4]) -> Vec<u8> {
        fill.iter()
            .copied()
            .cycle()
            .take((w * h * 4) as usize)
            .collect()
    }

    fn paint(px: &mut [u8], w: u32, x: u32, y: u32, c: [u8; 4]) {
        let i = ((y * w + x) * 4) as usize;
        px[i..i + 4].copy_from_slice(&c);
    }

    #[test]
    fn an_unchanged_canvas_plans_nothing() {
        let a = image(300, 200, [10, 20, 30, 255]);
        let g1 = Grid::of_rgba(&a, 300, 200).unwrap();
        let g2 = Grid::of_rgba(&a.clone(), 300, 200).unwrap();
        assert_eq!(plan(Some(&g1), &g2), Plan::Unchanged);
    }

    #[test]
    fn the_first_frame_and_a_resize_are_whole() {
        let a = image(300, 200, [1, 2, 3, 255]);
        let g = Grid::of_rgba(&a, 300, 200).unwrap();
        assert_eq!(plan(None, &g), Plan::Whole);
        let b = image(200, 300, [1, 2, 3, 255]);
        let g2 = Grid::of_rgba(&b, 200, 300).unwrap();
        assert_eq!(plan(Some(&g), &g2), Plan::Whole);
    }

    #[test]
    fn one_changed_pixel_sends_only_its_tile_clipped_to_the_edge() {
        let (w, h) = (300, 200);
        let a = image(w, h, [0, 0, 0, 255]);
        let mut b = a.clone();
        paint(&mut b, w, 299, 199, [255, 0, 0, 255]);
        let ga = Grid::of_rgba(&a, w, h).unwrap();
        let gb = Grid::of_rgba(&b, w, h).unwrap();
        assert_eq!(
            plan(Some(&ga), &gb),
            Plan::Tiles(vec![Rect {
                x: 256,
                y: 192,
                width: 44,
                height: 8
            }])
        );
    }

    #[test]
    fn neighbouring_changed_tiles_merge_into_one_rectangle() {
        let (w, h) = (640, 640);
        let a = image(w, h, [0, 0, 0, 255]);
        let mut b = a.clone();
        // Tiles (1,1), (2,1), (1,2), (2,2): one 128×128 block.
        for (x, y) in [(70, 70), (150, 70), (70, 150), (150, 150)] {
            paint(&mut b, w, x, y, [9, 9, 9, 255]);
        }
        let ga = Grid::of_rgba(&a, w, h).unwrap();
        let gb = Grid::of_rgba(&b, w, h).unwrap();
        assert_eq!(
            plan(Some(&ga), &gb),
            Plan::Tiles(vec![Rect {
                x: 64,
                y: 64,
                width: 128,
                height: 128
            }])
        );
    }

    #[test]
    fn mostly_changed_or_scattered_changes_send_the_whole_canvas() {
        let (w, h) = (640, 640);
        let a = image(w, h, [0, 0, 0, 255]);
        let ga = Grid::of_rgba(&a, w, h).unwrap();
        let b = image(w, h, [1, 0, 0, 255]);
        let gb = Grid::of_rgba(&b, w, h).unwrap();
        assert_eq!(plan(Some(&ga), &gb), Plan::Whole);
        // A checkerboard of single changed tiles: too many rectangles.
        let mut c = a.clone();
        for ty in 0..10 {
            for tx in (ty % 2..10).step_by(2) {
                paint(&mut c, w, tx * 64, ty * 64, [5, 5, 5, 255]);
            }
        }
        let gc = Grid::of_rgba(&c, w, h).unwrap();
        assert_eq!(plan(Some(&ga), &gc), Plan::Whole);
    }

    #[test]
    fn a_change_in_any_byte_of_a_tile_changes_its_hash() {
        let (w, h) = (64, 64);
        let a = image(w, h, [7, 7, 7, 7]);
        let ga = Grid::of_rgba(&a, w, h).unwrap();
        for i in [0usize, 1, 2, 3, 4095, 8191, 16383] {
            let mut b = a.clone();
            b[i] ^= 1;
            let gb = Grid::of_rgba(&b, w, h).unwrap();
            assert_ne!(ga, gb, "byte {i}");
        }
    }

    #[test]
    fn transparent_canvases_are_blank_and_wrong_sizes_are_refused() {
        let z = vec![0u8; 32 * 32 * 4];
        assert!(Grid::of_rgba(&z, 32, 32).unwrap().blank);
        let mut n = z.clone();
        n[17] = 1;
        assert!(!Grid::of_rgba(&n, 32, 32).unwrap().blank);
        assert!(Grid::of_rgba(&z, 33, 32).is_none());
        assert!(Grid::of_rgba(&[], 0, 0).is_none());
    }

    #[test]
    fn flat_content_is_told_from_photo_like_content() {
        let (w, h) = (128, 64);
        let whole = Rect {
            x: 0,
            y: 0,
            width: w,
            height: h,
        };
        let flat = image(w, h, [255, 255, 255, 255]);
        assert!(flat_share(&flat, w, whole) > 0.99);
        let noisy: Vec<u8> = (0..w * h * 4).map(|i| (i * 7919 % 251) as u8).collect();
        assert!(flat_share(&noisy, w, whole) < 0.05);
        // A rectangle past the buffer reads what exists, never panics.
        let past = Rect {
            x: 0,
            y: 60,
            width: w,
            height: 40,
        };
        assert!(flat_share(&flat, w, past) > 0.99);
    }

    #[test]
    fn hash_bytes_sees_length_and_tail() {
        assert_ne!(hash_bytes(b"abc"), hash_bytes(b"abc\0"));
        assert_ne!(hash_bytes(b"abcdefgh1"), hash_bytes(b"abcdefgh2"));
        assert_eq!(hash_bytes(b"same"), hash_bytes(b"same"));
    }
}
