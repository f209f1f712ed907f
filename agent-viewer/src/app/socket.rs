//! The console's socket and its measures: opening the agent socket (its
//! events queued as [`Msg`]s), sending the console's messages, the relay
//! round trip the quality badge shows, and the User Timing of large frames.

use std::rc::Weak;

use gloo_events::EventListener;
use js_sys::{ArrayBuffer, Uint8Array};
use protocol::AgentMsg;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket, Window};

use super::{dispatch, Msg, Shell};
use crate::log;

/// A User Timing measure (`cobrowse:large-frame`) around the handling of one
/// large frame — in practice a snapshot: its decoding and the mirror's
/// build. Operators and the benchmark read it from the console's
/// `performance` timeline (`performance.getEntriesByName(...)`) to split the
/// time to first view between the network and the console. Small frames are
/// not timed: a mark costs more than applying them.
pub(super) struct LargeFrameTiming {
    performance: web_sys::Performance,
}

impl LargeFrameTiming {
    const NAME: &'static str = "cobrowse:large-frame";
    const MIN_BYTES: usize = 256 * 1024;

    pub(super) fn start(window: &Window, bytes: usize) -> Option<LargeFrameTiming> {
        if bytes < Self::MIN_BYTES {
            return None;
        }
        let performance = window.performance()?;
        performance.mark("cobrowse:large-frame-start").ok()?;
        Some(LargeFrameTiming { performance })
    }

    pub(super) fn finish(self) {
        // Timing is an aid; a browser refusing it changes nothing else.
        let _ = self
            .performance
            .measure_with_start_mark(Self::NAME, "cobrowse:large-frame-start");
    }
}

/// Times a `GET /healthz` on the relay (a fresh URL each time, so no cache
/// answers it) and reports the round trip; a failure reports nothing (the
/// quality tracker counts a missing answer as slow).
pub(super) fn measure_round_trip(window: &Window, weak: Weak<Shell>, generation: u64) {
    let Some(performance) = window.performance() else {
        return;
    };
    let started = performance.now();
    let promise = window.fetch_with_str(&format!("/healthz?rtt={}", started.round()));
    wasm_bindgen_futures::spawn_local(async move {
        if wasm_bindgen_futures::JsFuture::from(promise).await.is_ok() {
            let ms = performance.now() - started;
            dispatch(&weak, Msg::RoundTrip(generation, ms));
        }
    });
}

/// Sends the console's messages; a socket that is not open drops them (the
/// session is over for it anyway).
pub(super) fn flush(socket: &WebSocket, messages: Vec<AgentMsg>) {
    for msg in messages {
        if socket.ready_state() != WebSocket::OPEN {
            log::debug(&format!("{msg:?} not sent: the socket is not open"));
            continue;
        }
        match protocol::encode(&msg) {
            Ok(bytes) => {
                if let Err(e) = socket.send_with_u8_array(&bytes) {
                    log::warn(&format!("could not send {msg:?}: {e:?}"));
                }
            }
            Err(e) => log::warn(&format!("could not encode {msg:?}: {e}")),
        }
    }
}

/// Opens the agent socket at `url`; its events reach `weak` tagged with
/// `generation`. Every listener goes with the returned guards.
pub(super) fn open_socket(
    url: &str,
    weak: &Weak<Shell>,
    generation: u64,
) -> Result<(WebSocket, Vec<EventListener>), String> {
    let socket = WebSocket::new(url).map_err(|e| format!("{e:?}"))?;
    socket.set_binary_type(BinaryType::Arraybuffer);
    let socket_listeners = vec![
        {
            let weak = weak.clone();
            EventListener::new(&socket, "open", move |_| {
                dispatch(&weak, Msg::Open(generation))
            })
        },
        {
            let weak = weak.clone();
            EventListener::new(&socket, "message", move |event| {
                let Some(data) = event.dyn_ref::<MessageEvent>().map(MessageEvent::data) else {
                    return;
                };
                match data.dyn_into::<ArrayBuffer>() {
                    Ok(buffer) => {
                        let bytes = Uint8Array::new(&buffer).to_vec();
                        dispatch(&weak, Msg::Bytes(generation, bytes));
                    }
                    Err(_) => log::warn("ignored a text frame from the relay"),
                }
            })
        },
        {
            let weak = weak.clone();
            EventListener::new(&socket, "close", move |event| {
                let (code, reason) = event
                    .dyn_ref::<CloseEvent>()
                    .map(|c| (c.code(), c.reason()))
                    .unwrap_or((1006, String::new()));
                dispatch(&weak, Msg::Closed(generation, code, reason));
            })
        },
    ];
    Ok((socket, socket_listeners))
}
