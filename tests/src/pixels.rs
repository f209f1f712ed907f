//! Comparing what two screens show, pixel by pixel. Owns: decoding PNG
//! screenshots and measuring how far two same-sized regions differ. Does not
//! own: taking the screenshots (`browser`) or deciding where the regions are
//! (the scenario knows its page).

use anyhow::{bail, Context, Result};

/// An RGBA image.
pub struct Image {
    pub width: u32,
    pub height: u32,
    rgba: Vec<u8>,
}

impl Image {
    pub fn decode(png_bytes: &[u8]) -> Result<Image> {
        let mut decoder = png::Decoder::new(png_bytes);
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().context("reading a PNG header")?;
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).context("decoding a PNG")?;
        buf.truncate(info.buffer_size());
        let rgba = match info.color_type {
            png::ColorType::Rgba => buf,
            png::ColorType::Rgb => buf
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
            png::ColorType::Grayscale => buf.iter().flat_map(|g| [*g, *g, *g, 255]).collect(),
            png::ColorType::GrayscaleAlpha => buf
                .chunks_exact(2)
                .flat_map(|p| [p[0], p[0], p[0], p[1]])
                .collect(),
            other => bail!("unexpected PNG colour type {other:?}"),
        };
        Ok(Image {
            width: info.width,
            height: info.height,
            rgba,
        })
    }

    /// The RGBA of the pixel at `(x, y)`, if inside the image.
    pub fn pixel_at(&self, x: u32, y: u32) -> Option<[u8; 4]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let at = ((y * self.width + x) * 4) as usize;
        self.rgba.get(at..at + 4)?.try_into().ok()
    }

    /// Writes `[x, y, w, h]` of the image as a PNG, scaled up `zoom` times
    /// (to look at a difference).
    pub fn write_region(
        &self,
        path: &std::path::Path,
        [x, y, w, h]: [u32; 4],
        zoom: u32,
    ) -> Result<()> {
        let (w, h) = (w.min(self.width - x), h.min(self.height - y));
        let mut data = Vec::with_capacity((w * h * zoom * zoom * 4) as usize);
        for row in 0..h * zoom {
            for col in 0..w * zoom {
                data.extend_from_slice(&self.pixel(x + col / zoom, y + row / zoom));
            }
        }
        let file = std::fs::File::create(path)?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w * zoom, h * zoom);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()?.write_image_data(&data)?;
        Ok(())
    }

    fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let at = ((y * self.width + x) * 4) as usize;
        let mut p = [0; 4];
        p.copy_from_slice(&self.rgba[at..at + 4]);
        p
    }
}

/// How two images differ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Diff {
    pub pixels: u64,
    /// Pixels with no match within one pixel in the other image (see
    /// [`compare`]).
    pub differing: u64,
    /// The mean absolute channel difference over all pixels (0–255).
    pub mean: f64,
    /// Where the differing pixels are: `[left, top, right, bottom]`.
    pub bounds: Option<[u32; 4]>,
}

impl Diff {
    pub fn differing_share(&self) -> f64 {
        if self.pixels == 0 {
            return 1.0;
        }
        self.differing as f64 / self.pixels as f64
    }
}

/// Compares two images of the same size. A pixel differs when no pixel
/// within one pixel of it in the other image is within `tolerance` on every
/// channel, in either direction: text rasterised a fraction of a pixel apart
/// (antialiasing, composited scrolling) is not a difference, a missing image
/// or style is.
pub fn compare(a: &Image, b: &Image, tolerance: u8) -> Result<Diff> {
    if (a.width, a.height) != (b.width, b.height) {
        bail!(
            "the images differ in size: {}×{} and {}×{}",
            a.width,
            a.height,
            b.width,
            b.height
        );
    }
    let mut diff = Diff {
        pixels: u64::from(a.width) * u64::from(a.height),
        differing: 0,
        mean: 0.0,
        bounds: None,
    };
    let mut total: u64 = 0;
    for y in 0..a.height {
        for x in 0..a.width {
            total += u64::from(distance(a.pixel(x, y), b.pixel(x, y)));
            if !near(a, b, x, y, tolerance) || !near(b, a, x, y, tolerance) {
                diff.differing += 1;
                let r = diff.bounds.get_or_insert([x, y, x, y]);
                *r = [r[0].min(x), r[1].min(y), r[2].max(x), r[3].max(y)];
            }
        }
    }
    diff.mean = total as f64 / diff.pixels.max(1) as f64;
    Ok(diff)
}

/// The largest channel difference between two pixels.
fn distance(p: [u8; 4], q: [u8; 4]) -> u8 {
    p.iter()
        .zip(q)
        .map(|(u, v)| u.abs_diff(v))
        .max()
        .unwrap_or(0)
}

/// Whether `from`'s pixel at (x, y) has a match within one pixel in `to`.
fn near(from: &Image, to: &Image, x: u32, y: u32, tolerance: u8) -> bool {
    let p = from.pixel(x, y);
    let xs = x.saturating_sub(1)..=(x + 1).min(to.width - 1);
    xs.flat_map(|nx| (y.saturating_sub(1)..=(y + 1).min(to.height - 1)).map(move |ny| (nx, ny)))
        .any(|(nx, ny)| distance(p, to.pixel(nx, ny)) <= tolerance)
}

#[cfg(test)]
#[allow(clippy::expect_used)] // a failed expectation fails the test
mod tests {
    use super::*;

    fn image(width: u32, height: u32, f: impl Fn(u32, u32) -> [u8; 4]) -> Image {
        let rgba = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .flat_map(|(x, y)| f(x, y))
            .collect();
        Image {
            width,
            height,
            rgba,
        }
    }

    #[test]
    fn identical_images_do_not_differ_and_changes_are_counted() {
        let a = image(4, 4, |x, y| [x as u8 * 10, y as u8 * 10, 0, 255]);
        let same = compare(
            &a,
            &image(4, 4, |x, y| [x as u8 * 10, y as u8 * 10, 0, 255]),
            0,
        )
        .expect("same size");
        assert_eq!(same.differing, 0);
        assert_eq!(same.mean, 0.0);
        let b = image(4, 4, |x, y| {
            if x == 0 {
                [255, 255, 255, 255]
            } else {
                [x as u8 * 10 + 2, y as u8 * 10, 0, 255]
            }
        });
        let d = compare(&a, &b, 3).expect("same size");
        assert_eq!(
            d.differing, 4,
            "one column is white; the rest is within tolerance"
        );
        assert!((d.differing_share() - 0.25).abs() < 1e-9);
        assert!(compare(&a, &image(3, 4, |_, _| [0; 4]), 0).is_err());
    }

    #[test]
    fn png_round_trip() {
        let mut bytes = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut bytes, 2, 1);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header().expect("header");
            w.write_image_data(&[1, 2, 3, 4, 5, 6]).expect("data");
        }
        let img = Image::decode(&bytes).expect("decodes");
        assert_eq!((img.width, img.height), (2, 1));
        assert_eq!(img.pixel(1, 0), [4, 5, 6, 255]);
    }
}
