//! A test's WebSocket peer: a visitor page or an agent console as the relay
//! sees it, sending protocol messages and expecting what comes back.
//!
//! Owns: sending, receiving and the expectations on a socket (a close, an
//! error frame, silence). Does not own: connecting (`Relay::socket` and
//! friends in `mod.rs`) or what a session's steps are.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::{ErrorFrame, Hello, ToAgent, ToVisitor};
use serde::{de::DeserializeOwned, Serialize};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::WAIT;

pub type Ws = WebSocketStream<TcpStream>;

pub struct Peer {
    pub ws: Ws,
}

impl Peer {
    pub async fn hello(&mut self, hello: Hello) {
        self.send_bytes(protocol::encode_hello(&hello).expect("encode"))
            .await;
    }

    pub async fn send<T: Serialize>(&mut self, msg: &T) {
        self.send_bytes(protocol::encode(msg).expect("encode"))
            .await;
    }

    pub async fn send_bytes(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(Message::Binary(bytes.into()))
            .await
            .expect("send");
    }

    /// The next frame that is not a ping or pong.
    pub async fn next_message(&mut self) -> Option<Message> {
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a message within the wait");
            match next {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(message)) => return Some(message),
                Some(Err(_)) | None => return None,
            }
        }
    }

    pub async fn recv<T: DeserializeOwned>(&mut self) -> T {
        match self.next_message().await {
            Some(Message::Binary(bytes)) => protocol::decode(&bytes).expect("decodes"),
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }

    /// The next frame must be a close; returns its code and reason.
    pub async fn expect_close(&mut self) -> (u16, String) {
        match self.next_message().await {
            Some(Message::Close(Some(frame))) => (frame.code.into(), frame.reason.to_string()),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }

    /// Nothing but pings for `quiet`.
    pub async fn expect_silence(&mut self, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(other) => panic!("expected silence, got {other:?}"),
            }
        }
    }

    /// An error frame for a visitor, then the close code that goes with it.
    pub async fn expect_visitor_error(&mut self) -> ErrorFrame {
        let frame = match self.recv::<ToVisitor>().await {
            ToVisitor::Error(frame) => frame,
            other => panic!("expected Error, got {other:?}"),
        };
        let (code, reason) = self.expect_close().await;
        assert_eq!(code, frame.code.close_code());
        assert!(frame.message.starts_with(&reason), "{reason:?} / {frame:?}");
        frame
    }

    pub async fn expect_agent_error(&mut self) -> ErrorFrame {
        let frame = match self.recv::<ToAgent>().await {
            ToAgent::Error(frame) => frame,
            other => panic!("expected Error, got {other:?}"),
        };
        let (code, reason) = self.expect_close().await;
        assert_eq!(code, frame.code.close_code());
        assert!(frame.message.starts_with(&reason), "{reason:?} / {frame:?}");
        frame
    }
}
