//! `<video>` and `<audio>` playback state for the agent: play/pause, the
//! position, rate, volume, muted and loop.
//!
//! Owns: which media events are worth a message ([`worth_sending`], plain
//! Rust), reading an element's state, and the capture-phase listeners that
//! notice changes ([`MediaWatch`]). Does not own: node ids (`serialize.rs`)
//! or sending (`session/canvas.rs`).
//!
//! The agent's copy plays by itself from the same source; it only needs the
//! state at each discrete change (play, pause, seek, rate, volume) plus a
//! position now and then while playing, to correct drift. So `timeupdate`
//! (4–66 times a second) is sent at most every [`HEARTBEAT_MS`].

use std::rc::Rc;

use crate::dom::Listener as EventListener;
use gloo_events::EventListenerOptions;
use protocol::{MediaState, NodeId};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, HtmlMediaElement};

/// While playing, the position is sent this often (the console seeks only
/// when its copy drifts by more than half a second).
pub const HEARTBEAT_MS: f64 = 5_000.0;

/// Media events that change what the agent must see (media events do not
/// bubble, but a capturing listener on the document sees them all).
pub const EVENTS: &[&str] = &[
    "play",
    "pause",
    "seeked",
    "ratechange",
    "volumechange",
    "loadedmetadata",
    "ended",
    "timeupdate",
];

/// Whether an event of `kind` should send the state, given when this
/// element's state was last sent (`None`: never).
pub fn worth_sending(kind: &str, last_sent_ms: Option<f64>, now_ms: f64) -> bool {
    match kind {
        "timeupdate" => last_sent_ms.is_none_or(|t| now_ms - t >= HEARTBEAT_MS),
        _ => EVENTS.contains(&kind),
    }
}

/// The element's playback state. Cast unchecked: a media element of a
/// same-origin frame belongs to another realm (the tag is checked first).
pub fn state_of(el: &Element, id: NodeId) -> Option<MediaState> {
    if !matches!(crate::dom::local_name(el).as_str(), "video" | "audio") {
        return None;
    }
    let m: &HtmlMediaElement = el.unchecked_ref();
    let time = m.current_time();
    Some(MediaState {
        id,
        paused: m.paused(),
        time: if time.is_finite() { time } else { 0.0 },
        rate: m.playback_rate(),
        volume: m.volume() as f32,
        muted: m.muted(),
        looped: m.loop_(),
    })
}

/// The page's media elements (the main document's).
pub fn all(document: &Document) -> Vec<Element> {
    let Ok(list) = crate::dom::query_selector_all(&document, "video, audio") else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i))
        .map(|n| n.unchecked_into())
        .collect()
}

/// The listeners, and when each element's state was last sent.
pub(crate) struct MediaWatch {
    _listeners: Vec<EventListener>,
    /// A Vec, not a HashMap: few media elements, and no hasher shipped.
    last_sent: Vec<(NodeId, f64)>,
}

impl MediaWatch {
    /// Listens for media events on `document`; `on_event` gets the element
    /// and the event's type.
    pub fn start(document: &Document, on_event: Rc<dyn Fn(Element, String)>) -> MediaWatch {
        let options = EventListenerOptions::run_in_capture_phase();
        let listeners = EVENTS
            .iter()
            .map(|kind| {
                let on_event = Rc::clone(&on_event);
                EventListener::new_with_options(document, *kind, options, move |e| {
                    let target = e.target().map(JsValue::from);
                    if let Some(t) = target.filter(|t| t.has_type::<Element>()) {
                        on_event(t.unchecked_into(), e.type_());
                    }
                })
            })
            .collect();
        MediaWatch {
            _listeners: listeners,
            last_sent: Vec::new(),
        }
    }

    /// Whether to send now; if so, remembers the time.
    pub fn should_send(&mut self, id: NodeId, kind: &str, now_ms: f64) -> bool {
        let at = self.last_sent.iter().position(|(k, _)| *k == id);
        let send = worth_sending(kind, at.map(|i| self.last_sent[i].1), now_ms);
        if send {
            match at {
                Some(i) => self.last_sent[i].1 = now_ms,
                None => self.last_sent.push((id, now_ms)),
            }
        }
        send
    }

    /// A snapshot went out: the next heartbeat may come at once.
    pub fn reset(&mut self) {
        self.last_sent.clear();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail by panicking
mod tests {
    use super::*;

    #[test]
    fn discrete_changes_are_always_sent() {
        for kind in ["play", "pause", "seeked", "ratechange", "volumechange"] {
            assert!(worth_sending(kind, Some(1000.0), 1001.0), "{kind}");
        }
    }

    #[test]
    fn time_updates_are_a_heartbeat_only() {
        assert!(worth_sending("timeupdate", None, 0.0));
        assert!(!worth_sending("timeupdate", Some(1000.0), 1250.0));
        assert!(worth_sending("timeupdate", Some(1000.0), 6000.0));
    }

    #[test]
    fn other_events_are_not_sent() {
        assert!(!worth_sending("progress", None, 0.0));
        assert!(!worth_sending("click", None, 0.0));
    }
}
