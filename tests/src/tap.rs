//! A recording TCP proxy in front of the relay: every byte the relay was
//! sent and sent back over HTTP — page loads of the SDK and the console,
//! resource uploads and downloads, WebSocket handshakes and frames — kept
//! per connection, so a test can prove what the relay saw.
//!
//! Owns: forwarding and recording. Does not own: what is searched for
//! (the privacy test decides). Client-to-server WebSocket frames are XOR
//! masked on the wire (RFC 6455, 5.3); [`Connection::to_relay_unmasked`]
//! undoes that, so a payload is searchable in both directions.

use std::sync::{Arc, Mutex};

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What one TCP connection carried, in each direction.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub to_relay: Vec<u8>,
    pub from_relay: Vec<u8>,
}

impl Connection {
    /// The request (or upgrade) head, lossily as text: for messages.
    pub fn head(&self) -> String {
        let end = find(&self.to_relay, b"\r\n\r\n").unwrap_or(self.to_relay.len().min(200));
        String::from_utf8_lossy(&self.to_relay[..end]).into_owned()
    }

    /// `to_relay` with the WebSocket frames after an upgrade unmasked (the
    /// HTTP part as it was). Bytes that do not parse as frames are kept as
    /// they are.
    pub fn to_relay_unmasked(&self) -> Vec<u8> {
        let bytes = &self.to_relay;
        let Some(head_end) = find(bytes, b"\r\n\r\n").map(|i| i + 4) else {
            return bytes.clone();
        };
        let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
        if !head.contains("upgrade: websocket") {
            return bytes.clone();
        }
        let mut out = bytes[..head_end].to_vec();
        let mut rest = &bytes[head_end..];
        while let Some((payload, used)) = unmask_frame(rest) {
            out.extend_from_slice(&payload);
            rest = &rest[used..];
        }
        out.extend_from_slice(rest);
        out
    }
}

/// One client frame: its unmasked payload and how many bytes it took.
fn unmask_frame(b: &[u8]) -> Option<(Vec<u8>, usize)> {
    let second = *b.get(1)?;
    let masked = second & 0x80 != 0;
    let (len, mut at) = match second & 0x7f {
        126 => (u16::from_be_bytes([*b.get(2)?, *b.get(3)?]) as usize, 4),
        127 => {
            let raw: [u8; 8] = b.get(2..10)?.try_into().ok()?;
            (usize::try_from(u64::from_be_bytes(raw)).ok()?, 10)
        }
        n => (n as usize, 2),
    };
    let key: [u8; 4] = if masked {
        let key = b.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        key
    } else {
        [0; 4]
    };
    let payload = b.get(at..at.checked_add(len)?)?;
    let plain = payload
        .iter()
        .enumerate()
        .map(|(i, byte)| byte ^ key[i % 4])
        .collect();
    Some((plain, at + len))
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The proxy; stops accepting when dropped.
pub struct Tap {
    url: String,
    connections: Arc<Mutex<Vec<Arc<Mutex<Connection>>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Tap {
    /// Listens on a free port of 127.0.0.1 and forwards to `target`
    /// (`host:port`).
    pub async fn start(target: &str) -> Result<Tap> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let connections: Arc<Mutex<Vec<Arc<Mutex<Connection>>>>> = Arc::default();
        let all = connections.clone();
        let target = target.to_owned();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(upstream) = TcpStream::connect(&target).await else {
                    continue;
                };
                let record = Arc::new(Mutex::new(Connection::default()));
                if let Ok(mut all) = all.lock() {
                    all.push(record.clone());
                }
                tokio::spawn(forward(client, upstream, record));
            }
        });
        Ok(Tap {
            url,
            connections,
            task,
        })
    }

    /// `http://127.0.0.1:port`: the address pages and consoles are given
    /// for the relay.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every connection so far, as recorded up to now.
    pub fn connections(&self) -> Vec<Connection> {
        self.connections
            .lock()
            .map(|all| {
                all.iter()
                    .filter_map(|c| c.lock().ok().map(|c| c.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(client: TcpStream, upstream: TcpStream, record: Arc<Mutex<Connection>>) {
    let (client_read, client_write) = client.into_split();
    let (up_read, up_write) = upstream.into_split();
    let up = copy(client_read, up_write, record.clone(), true);
    let down = copy(up_read, client_write, record, false);
    tokio::join!(up, down);
}

async fn copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    record: Arc<Mutex<Connection>>,
    to_relay: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Ok(mut r) = record.lock() {
            let side = if to_relay {
                &mut r.to_relay
            } else {
                &mut r.from_relay
            };
            side.extend_from_slice(&buf[..n]);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn masked_client_frames_are_unmasked_after_an_upgrade() {
        let key = [1u8, 2, 3, 4];
        let payload = b"hello, relay";
        let mut wire = b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n".to_vec();
        wire.extend_from_slice(&[0x82, 0x80 | payload.len() as u8]);
        wire.extend_from_slice(&key);
        wire.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        let conn = Connection {
            to_relay: wire,
            from_relay: Vec::new(),
        };
        assert!(find(&conn.to_relay, payload).is_none());
        assert!(find(&conn.to_relay_unmasked(), payload).is_some());
    }
}
