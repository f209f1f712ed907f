//! The arithmetic of pointing, as plain Rust: where a pointer is relative to
//! an element's box (sending), where to draw one from a [`PointerPos`]
//! (receiving), and when a pointer move may go out (≤ 20 a second).
//!
//! Owns: the decisions. Does not own: reading rects or timers from the
//! browser (`pointer.rs` captures, `presence.rs` draws).

use protocol::PointerPos;

/// Moves go out at most this often (20 a second); clicks and leaves always.
pub const MOVE_INTERVAL_MS: f64 = 50.0;

/// An element's border box in viewport CSS px (`getBoundingClientRect`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

impl Rect {
    fn is_empty(&self) -> bool {
        !(self.width > 0.0 && self.height > 0.0)
    }
}

/// The spot `(x, y)` as fractions of `rect`, clamped to the box (a pointer
/// event's target can report a spot just outside it, on its border or
/// after a layout shift). An empty box gives its top-left corner.
pub fn fractions(rect: Rect, x: f64, y: f64) -> (f32, f32) {
    let f = |at: f64, start: f64, len: f64| {
        if len > 0.0 && at.is_finite() {
            ((at - start) / len).clamp(0.0, 1.0) as f32
        } else {
            0.0
        }
    };
    (f(x, rect.left, rect.width), f(y, rect.top, rect.height))
}

/// The position a pointer is sent with.
pub fn pointer_pos(target: Option<(protocol::NodeId, Rect)>, x: f64, y: f64) -> PointerPos {
    let (target, (fx, fy)) = match target {
        Some((id, rect)) => (Some(id), fractions(rect, x, y)),
        None => (None, (0.0, 0.0)),
    };
    PointerPos {
        target,
        fx,
        fy,
        x: x as f32,
        y: y as f32,
    }
}

/// Where to draw a pointer in this window: over its target element's box
/// at the same relative spot when the target is here and has a box, else at
/// the sender's viewport coordinates, kept inside `viewport` (width,
/// height). The agent's mirror lays the page out at the visitor's viewport
/// size, so its coordinates need no scaling here.
pub fn place(pos: &PointerPos, target: Option<Rect>, viewport: (f64, f64)) -> (f64, f64) {
    let finite = |v: f32| if v.is_finite() { f64::from(v) } else { 0.0 };
    match target {
        Some(rect) if !rect.is_empty() => (
            rect.left + finite(pos.fx).clamp(0.0, 1.0) * rect.width,
            rect.top + finite(pos.fy).clamp(0.0, 1.0) * rect.height,
        ),
        // max/min, not clamp: clamp's panic path would bring the float
        // formatter into the shipped wasm.
        _ => (
            finite(pos.x).min(viewport.0).max(0.0),
            finite(pos.y).min(viewport.1).max(0.0),
        ),
    }
}

/// What to do with a pointer move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send it now.
    Send,
    /// Too soon: keep it as the pending move and arm a timer for this many
    /// ms (none is armed yet).
    Wait(u32),
    /// Too soon, and a timer is already armed: it replaces the pending move.
    Hold,
}

/// Spaces pointer moves at least [`MOVE_INTERVAL_MS`] apart, and makes
/// sure the last move of a burst still goes out (from the timer).
#[derive(Debug, Default)]
pub struct Throttle {
    last_sent: Option<f64>,
    pending: bool,
}

impl Throttle {
    /// A move at `now` (ms).
    pub fn on_move(&mut self, now: f64) -> Step {
        if self.pending {
            return Step::Hold;
        }
        match self.last_sent {
            Some(last) if now - last < MOVE_INTERVAL_MS && now >= last => {
                self.pending = true;
                Step::Wait((MOVE_INTERVAL_MS - (now - last)).ceil().max(1.0) as u32)
            }
            _ => {
                self.last_sent = Some(now);
                Step::Send
            }
        }
    }

    /// The timer fired at `now`: whether a pending move is to be sent.
    pub fn on_timer(&mut self, now: f64) -> bool {
        let send = std::mem::take(&mut self.pending);
        if send {
            self.last_sent = Some(now);
        }
        send
    }

    /// The pointer left or the capture paused: a pending move is stale.
    pub fn cancel(&mut self) {
        self.pending = false;
    }
}

#[cfg(test)]
// Tests fail by panicking; that is their job.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use protocol::NodeId;

    const BOX: Rect = Rect {
        left: 100.0,
        top: 50.0,
        width: 200.0,
        height: 40.0,
    };

    #[test]
    fn a_spot_is_sent_as_fractions_of_its_elements_box() {
        assert_eq!(fractions(BOX, 150.0, 60.0), (0.25, 0.25));
        assert_eq!(fractions(BOX, 300.0, 90.0), (1.0, 1.0));
        // Just outside (a border, a shifted layout) stays on the box.
        assert_eq!(fractions(BOX, 90.0, 200.0), (0.0, 1.0));
        let empty = Rect { width: 0.0, ..BOX };
        assert_eq!(fractions(empty, 150.0, 70.0), (0.0, 0.5));
        assert_eq!(fractions(BOX, f64::NAN, 70.0), (0.0, 0.5));
        let pos = pointer_pos(Some((NodeId(4), BOX)), 250.0, 80.0);
        assert_eq!(
            pos,
            PointerPos {
                target: Some(NodeId(4)),
                fx: 0.75,
                fy: 0.75,
                x: 250.0,
                y: 80.0
            }
        );
        assert_eq!(pointer_pos(None, 5.0, 6.0).target, None);
    }

    #[test]
    fn a_pointer_is_drawn_over_its_target_wherever_that_is_here() {
        let pos = PointerPos {
            target: Some(NodeId(4)),
            fx: 0.5,
            fy: 0.25,
            x: 9999.0,
            y: 9999.0,
        };
        // The same element sits elsewhere and is wider in this window.
        let here = Rect {
            left: 10.0,
            top: 500.0,
            width: 400.0,
            height: 80.0,
        };
        assert_eq!(place(&pos, Some(here), (800.0, 600.0)), (210.0, 520.0));
        // Unknown or box-less target: the sender's coordinates, kept inside.
        assert_eq!(place(&pos, None, (800.0, 600.0)), (800.0, 600.0));
        let hidden = Rect {
            height: 0.0,
            ..here
        };
        let at = PointerPos {
            x: 30.0,
            y: 40.0,
            ..pos
        };
        assert_eq!(place(&at, Some(hidden), (800.0, 600.0)), (30.0, 40.0));
        let wild = PointerPos {
            fx: f32::NAN,
            fy: 7.0,
            ..pos
        };
        assert_eq!(place(&wild, Some(here), (800.0, 600.0)), (10.0, 580.0));
    }

    #[test]
    fn moves_go_out_at_most_twenty_a_second_and_the_last_one_always() {
        let mut t = Throttle::default();
        assert_eq!(t.on_move(1000.0), Step::Send);
        assert_eq!(t.on_move(1010.0), Step::Wait(40));
        assert_eq!(t.on_move(1020.0), Step::Hold);
        assert_eq!(t.on_move(1049.0), Step::Hold);
        assert!(t.on_timer(1050.0), "the burst's last move goes out");
        assert!(!t.on_timer(1051.0), "only once");
        assert_eq!(t.on_move(1060.0), Step::Wait(40));
        t.cancel();
        assert!(!t.on_timer(1100.0), "a cancelled move stays home");
        assert_eq!(t.on_move(1200.0), Step::Send);
        // A clock that went backwards (a new time origin) does not stall.
        assert_eq!(t.on_move(5.0), Step::Send);
        // Over a simulated second of moves every 5 ms: at most 20 sent.
        let mut t = Throttle::default();
        let mut sent = 0;
        let mut timer_at = None;
        for ms in (0..1000).step_by(5) {
            let now = f64::from(ms);
            if timer_at.is_some_and(|at| now >= at) {
                timer_at = None;
                sent += usize::from(t.on_timer(now));
            }
            match t.on_move(now) {
                Step::Send => sent += 1,
                Step::Wait(d) => timer_at = Some(now + f64::from(d)),
                Step::Hold => {}
            }
        }
        assert!((19..=20).contains(&sent), "{sent} moves in a second");
    }
}
