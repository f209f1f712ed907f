//! The WebSocket to the relay: binary frames in and out, every handler
//! removed and the socket closed on drop.
//!
//! Owns: the socket and its listeners. Does not own: what the bytes mean
//! (`session.rs` encodes and decodes with `protocol`).

use std::rc::Rc;

use gloo_events::EventListener;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use crate::error::{warn, VisitorError};

pub enum SocketEvent {
    Open,
    Message(Vec<u8>),
    Closed { reason: String },
}

pub struct Socket {
    ws: WebSocket,
    _listeners: [EventListener; 3],
}

/// Sends on the socket without owning it: for the resource service's
/// offers, which go out from its own tasks. Sending after the session's
/// `Socket` closed the socket does nothing.
#[derive(Clone)]
pub struct Sender(WebSocket);

impl Sender {
    pub fn send(&self, bytes: &[u8]) -> bool {
        self.0.ready_state() == WebSocket::OPEN && self.0.send_with_u8_array(bytes).is_ok()
    }
}

impl Socket {
    pub fn sender(&self) -> Sender {
        Sender(self.ws.clone())
    }

    /// Opens `url`; every event goes to `on_event`.
    pub fn connect(url: &str, on_event: Rc<dyn Fn(SocketEvent)>) -> Result<Socket, VisitorError> {
        let ws = WebSocket::new(url).map_err(VisitorError::js)?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let on_open = Rc::clone(&on_event);
        let open = EventListener::new(&ws, "open", move |_| on_open(SocketEvent::Open));
        let on_message = Rc::clone(&on_event);
        let message = EventListener::new(&ws, "message", move |event| {
            let Some(data) = event.dyn_ref::<MessageEvent>().map(MessageEvent::data) else {
                return;
            };
            match data.dyn_into::<js_sys::ArrayBuffer>() {
                Ok(buf) => on_message(SocketEvent::Message(js_sys::Uint8Array::new(&buf).to_vec())),
                Err(_) => warn("cobrowse: ignoring a text frame from the relay"),
            }
        });
        // An `error` event is always followed by `close`, which carries more.
        let close = EventListener::new(&ws, "close", move |event| {
            let reason = event
                .dyn_ref::<CloseEvent>()
                .map(CloseEvent::reason)
                .unwrap_or_default();
            on_event(SocketEvent::Closed { reason });
        });
        Ok(Socket {
            ws,
            _listeners: [open, message, close],
        })
    }

    /// Sends one binary frame; false if the socket is not open.
    pub fn send(&self, bytes: &[u8]) -> bool {
        self.sender().send(bytes)
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        // Listeners go with `_listeners`; closing a closed socket is a no-op.
        let _ = self.ws.close();
    }
}
