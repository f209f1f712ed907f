//! Canvas pixels and media playback in the mirror: which frames are drawn,
//! what an unreadable canvas shows, and how the console's copy of a video
//! follows the visitor's.
//!
//! Owns: the checks on a canvas frame before anything is decoded, the media
//! plan (muted always, seek only past [`DRIFT_S`]), the `apply` arms for
//! `Event::Canvas`, `Event::CanvasUnreadable` and `Event::Media`, and (on
//! wasm32, in [`web`]) decoding tiles with `createImageBitmap` and drawing
//! them in order. Does not own: the mirrored `<canvas>`/`<video>` elements
//! themselves (built by `mirror/mod.rs` like any element, so their CSS size
//! is the page's own attributes and styles).

use protocol::{CanvasFrame, MediaState, NodeId};

use super::{DomBackend, Mirror};
use crate::log;

/// The console seeks its copy of a playing media element only when it is
/// this far from the visitor's position: closer than that, seeking would
/// stutter more than the drift shows.
pub const DRIFT_S: f64 = 0.5;
/// Larger bitmaps are refused (a bad peer must not make the console
/// allocate gigabytes).
pub const MAX_SIDE: u32 = 16_384;
/// What an unreadable canvas shows instead of its pixels.
pub const UNREADABLE_LABEL: &str = "Canvas not shared: it shows another site's content";

/// Why a frame is not drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    Size,
    TileOutside,
    Empty,
}

/// Whether a frame can be drawn: a sane bitmap size, at least one tile, and
/// every tile non-empty and inside the bitmap.
pub fn check_frame(frame: &CanvasFrame) -> Result<(), Refused> {
    if frame.width == 0 || frame.height == 0 || frame.width > MAX_SIDE || frame.height > MAX_SIDE {
        return Err(Refused::Size);
    }
    if frame.tiles.is_empty() {
        return Err(Refused::Empty);
    }
    for t in &frame.tiles {
        let inside = t.width > 0
            && t.height > 0
            && t.x.checked_add(t.width).is_some_and(|r| r <= frame.width)
            && t.y.checked_add(t.height).is_some_and(|b| b <= frame.height);
        if !inside || t.data.is_empty() {
            return Err(Refused::TileOutside);
        }
    }
    Ok(())
}

/// What the console's copy of a media element should do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MediaPlan {
    /// `Some(true)`: play; `Some(false)`: pause; `None`: as it is.
    pub play: Option<bool>,
    pub seek_to: Option<f64>,
    pub rate: f64,
    pub looped: bool,
    /// The visitor's volume, for the controls; the copy stays muted.
    pub volume: f64,
}

/// The plan for a copy now at `local_time`, `local_paused`, given the
/// visitor's state. The agent's copy is always muted (sound from two
/// places would be confusing, and an unmuted autoplay would be blocked).
pub fn media_plan(local_time: f64, local_paused: bool, remote: &MediaState) -> MediaPlan {
    let drift = (local_time - remote.time).abs();
    let play = match (local_paused, remote.paused) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    };
    // A paused copy is put exactly where the visitor stopped; a playing
    // one only when it drifted.
    let seek_to = if (remote.paused && drift > 0.05) || drift > DRIFT_S {
        Some(remote.time.max(0.0))
    } else {
        None
    };
    MediaPlan {
        play,
        seek_to,
        rate: if remote.rate.is_finite() && remote.rate > 0.0 {
            remote.rate.clamp(0.0625, 16.0)
        } else {
            1.0
        },
        looped: remote.looped,
        volume: f64::from(remote.volume).clamp(0.0, 1.0),
    }
}

impl<B: DomBackend> Mirror<B> {
    pub(super) fn apply_canvas(&mut self, frame: &CanvasFrame) {
        if let Err(why) = check_frame(frame) {
            log::warn(&format!("canvas frame for {:?} refused: {why:?}", frame.id));
            return;
        }
        match self.element(frame.id) {
            Some(node) => self.backend.draw_canvas(&node, frame),
            None => log::debug(&format!("canvas frame for unknown node {:?}", frame.id)),
        }
    }

    pub(super) fn apply_unreadable(&mut self, id: NodeId) {
        match self.element(id) {
            Some(node) => self.backend.canvas_unreadable(&node),
            None => log::debug(&format!("unreadable canvas {id:?} unknown")),
        }
    }

    pub(super) fn apply_media(&mut self, state: &MediaState) {
        match self.element(state.id) {
            Some(node) => self.backend.set_media(&node, state),
            None => log::debug(&format!("media state for unknown node {:?}", state.id)),
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub mod web;

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{CanvasTile, ImageFormat};

    fn tile(x: u32, y: u32, w: u32, h: u32) -> CanvasTile {
        CanvasTile {
            x,
            y,
            width: w,
            height: h,
            format: ImageFormat::Png,
            data: vec![1],
        }
    }

    fn frame(tiles: Vec<CanvasTile>) -> CanvasFrame {
        CanvasFrame {
            id: NodeId(3),
            width: 100,
            height: 50,
            tiles,
        }
    }

    #[test]
    fn frames_inside_the_bitmap_are_drawn_others_refused() {
        assert_eq!(check_frame(&frame(vec![tile(0, 0, 100, 50)])), Ok(()));
        assert_eq!(check_frame(&frame(vec![tile(64, 0, 36, 50)])), Ok(()));
        assert_eq!(
            check_frame(&frame(vec![tile(64, 0, 37, 50)])),
            Err(Refused::TileOutside)
        );
        assert_eq!(
            check_frame(&frame(vec![tile(u32::MAX, 0, 2, 2)])),
            Err(Refused::TileOutside)
        );
        assert_eq!(check_frame(&frame(vec![])), Err(Refused::Empty));
        let mut huge = frame(vec![tile(0, 0, 1, 1)]);
        huge.width = MAX_SIDE + 1;
        assert_eq!(check_frame(&huge), Err(Refused::Size));
    }

    fn state(paused: bool, time: f64) -> MediaState {
        MediaState {
            id: NodeId(9),
            paused,
            time,
            rate: 1.5,
            volume: 0.4,
            muted: false,
            looped: true,
        }
    }

    #[test]
    fn a_playing_copy_seeks_only_past_half_a_second_of_drift() {
        let p = media_plan(10.3, false, &state(false, 10.0));
        assert_eq!(p.seek_to, None);
        assert_eq!(p.play, None);
        let p = media_plan(10.6, false, &state(false, 10.0));
        assert_eq!(p.seek_to, Some(10.0));
        assert_eq!((p.rate, p.looped), (1.5, true));
    }

    #[test]
    fn play_and_pause_follow_the_visitor_and_a_pause_lands_exactly() {
        let p = media_plan(3.0, true, &state(false, 3.0));
        assert_eq!(p.play, Some(true));
        let p = media_plan(3.2, false, &state(true, 3.0));
        assert_eq!(p.play, Some(false));
        assert_eq!(p.seek_to, Some(3.0));
    }

    fn mirror_with_canvas() -> Mirror<crate::mirror::fake::FakeDom> {
        use protocol::{Event, Node, Ns, Snapshot, Viewport};
        let el = |id, tag: &str, children| Node::Element {
            id: NodeId(id),
            tag: tag.into(),
            ns: Ns::Html,
            attrs: vec![],
            state: None,
            children,
        };
        let root = Node::Document {
            id: NodeId(1),
            quirks: false,
            children: vec![el(
                2,
                "html",
                vec![el(
                    4,
                    "body",
                    vec![el(3, "canvas", vec![]), el(9, "video", vec![])],
                )],
            )],
        };
        let mut m = Mirror::new(crate::mirror::fake::FakeDom::default());
        m.apply(&Event::Snapshot(Snapshot {
            url: "https://example.test/".into(),
            base_url: "https://example.test/".into(),
            viewport: Viewport {
                width: 800,
                height: 600,
                device_pixel_ratio: 1.0,
            },
            root,
            scrolls: vec![],
        }))
        .expect("snapshot");
        m
    }

    #[test]
    fn canvas_and_media_events_reach_their_mirrored_elements_only_when_valid() {
        use protocol::Event;
        let mut m = mirror_with_canvas();
        let applied = m.apply(&Event::Canvas(frame(vec![tile(0, 0, 100, 50)])));
        assert_eq!(applied.expect("frame"), super::super::Applied::Pixels);
        // Outside the bitmap: refused, nothing drawn, the mirror stays.
        m.apply(&Event::Canvas(frame(vec![tile(90, 0, 20, 50)])))
            .expect("a bad frame is not an error");
        let mut unknown = frame(vec![tile(0, 0, 1, 1)]);
        unknown.id = NodeId(77);
        m.apply(&Event::Canvas(unknown)).expect("unknown id");
        m.apply(&Event::CanvasUnreadable { id: NodeId(3) })
            .expect("unreadable");
        m.apply(&Event::Media(state(false, 2.0))).expect("media");
        let canvas = *m.node(NodeId(3)).expect("canvas");
        let video = *m.node(NodeId(9)).expect("video");
        let dom = m.backend();
        assert_eq!(dom.canvas_draws.len(), 1);
        assert_eq!(dom.canvas_draws[0].0, canvas);
        assert_eq!(dom.unreadable, vec![canvas]);
        assert_eq!(dom.media.len(), 1);
        assert_eq!(dom.media[0].0, video);
    }

    #[test]
    fn nonsense_rates_fall_back_to_normal_speed() {
        let mut s = state(false, 0.0);
        s.rate = f64::NAN;
        assert_eq!(media_plan(0.0, false, &s).rate, 1.0);
        s.rate = 1e9;
        assert_eq!(media_plan(0.0, false, &s).rate, 16.0);
    }
}
