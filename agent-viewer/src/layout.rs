//! Fitting the visitor's window into the console's viewing area. Owns: the
//! arithmetic (scale to fit, keep the aspect ratio, never enlarge). Does not
//! own: applying it to the iframe (`app`).

use protocol::Viewport;

/// A visitor window larger than this (CSS px) is treated as this large: a
/// bogus size must not make the console lay out a mile-wide iframe.
pub const MAX_SIDE: u32 = 16_384;

/// Where the mirrored page goes in the viewing area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// The iframe's own size: the visitor's window in CSS px.
    pub page_width: u32,
    pub page_height: u32,
    /// The CSS transform scale, in (0, 1].
    pub scale: f64,
    /// The box the scaled iframe takes in the viewing area.
    pub box_width: f64,
    pub box_height: f64,
}

/// Fits `viewport` into an area of `area_width` × `area_height` CSS px.
pub fn fit(viewport: Viewport, area_width: f64, area_height: f64) -> Fit {
    let page_width = viewport.width.clamp(1, MAX_SIDE);
    let page_height = viewport.height.clamp(1, MAX_SIDE);
    let scale = (area_width / f64::from(page_width))
        .min(area_height / f64::from(page_height))
        .min(1.0);
    // A hidden or collapsed area (size 0, NaN) shows the page unscaled rather
    // than not at all.
    let scale = if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    };
    Fit {
        page_width,
        page_height,
        scale,
        box_width: f64::from(page_width) * scale,
        box_height: f64::from(page_height) * scale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vp(width: u32, height: u32) -> Viewport {
        Viewport {
            width,
            height,
            device_pixel_ratio: 2.0,
        }
    }

    #[test]
    fn a_large_page_is_scaled_down_keeping_its_aspect_ratio() {
        let f = fit(vp(1920, 1080), 960.0, 1000.0);
        assert_eq!(f.scale, 0.5);
        assert_eq!((f.box_width, f.box_height), (960.0, 540.0));
        assert_eq!((f.page_width, f.page_height), (1920, 1080));
        // The tighter side decides.
        let f = fit(vp(1000, 2000), 1000.0, 500.0);
        assert_eq!(f.scale, 0.25);
    }

    #[test]
    fn a_small_page_is_never_enlarged() {
        let f = fit(vp(390, 844), 1600.0, 1000.0);
        assert_eq!(f.scale, 1.0);
        assert_eq!((f.box_width, f.box_height), (390.0, 844.0));
    }

    #[test]
    fn degenerate_sizes_do_not_break_the_layout() {
        assert_eq!(fit(vp(0, 0), 800.0, 600.0).scale, 1.0);
        assert_eq!(fit(vp(1280, 720), 0.0, 0.0).scale, 1.0);
        assert_eq!(fit(vp(1280, 720), f64::NAN, f64::NAN).scale, 1.0);
        assert_eq!(fit(vp(u32::MAX, 10), 800.0, 600.0).page_width, MAX_SIDE);
    }
}
