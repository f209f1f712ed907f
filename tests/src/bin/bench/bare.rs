//! The bare forwarder: the limit the relay-forwarding section holds the
//! relay to. Compiled into the driver (its unit test) and, on its own, into
//! the `bench-forwarder` binary the driver starts in its release build, so
//! it runs as optimised and as separate from the clients as the relay.
//!
//! Owns: that forwarder. Does not own: the clients or the figures
//! (`forwarding.rs`).

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use anyhow::Result;
use futures_util::{SinkExt, StreamExt};
use protocol::{AgentId, Hello, JoinCode, Mode, SessionId, ToAgent, ToVisitor, VisitorMsg};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{mpsc, Notify},
};
use tokio_tungstenite::tungstenite::Message;

/// The limit: the same handshake and the same per-event work the relay
/// must do (decode the visitor's message, encode `ToAgent::Event` once,
/// hand it to every admitted agent's writer), and nothing else: no bus, no
/// queue limits, no metrics, no checks.
pub struct Bare {
    pub addr: SocketAddr,
    thread: Option<std::thread::JoinHandle<()>>,
    stop: Arc<Notify>,
}

#[derive(Default)]
struct BareSession {
    visitor: Option<mpsc::UnboundedSender<Message>>,
    agents: Vec<(AgentId, mpsc::UnboundedSender<Message>, bool)>,
}

type Shared = Arc<Mutex<BareSession>>;

fn encoded<T: serde::Serialize>(msg: &T) -> Option<Message> {
    protocol::encode(msg).ok().map(Message::binary)
}

impl Bare {
    /// Starts it on its own runtime of two worker threads (as the relay
    /// has on this machine), on a free port.
    pub fn start() -> Result<Bare> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        // Bound here (not in the runtime: the caller may be async itself).
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let stop = Arc::new(Notify::new());
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                let Ok(listener) = TcpListener::from_std(std_listener) else {
                    return;
                };
                let shared = Shared::default();
                loop {
                    tokio::select! {
                        _ = stopped.notified() => break,
                        accepted = listener.accept() => {
                            let Ok((tcp, _)) = accepted else { continue };
                            let _ = tcp.set_nodelay(true);
                            tokio::spawn(bare_conn(tcp, Arc::clone(&shared)));
                        }
                    }
                }
            });
        });
        Ok(Bare {
            addr,
            thread: Some(thread),
            stop,
        })
    }

    pub fn stop(mut self) {
        self.stop.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn bare_conn(tcp: TcpStream, shared: Shared) {
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let writer = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            if sink.send(m).await.is_err() {
                break;
            }
        }
    });
    let Some(Ok(Message::Binary(first))) = stream.next().await else {
        return;
    };
    match protocol::decode_hello(&first) {
        Ok(Hello::Visitor(_)) => {
            if let Ok(mut s) = shared.lock() {
                *s = BareSession {
                    visitor: Some(tx.clone()),
                    agents: Vec::new(),
                };
            }
            let welcome = JoinCode::from_number(123_456).map(|code| ToVisitor::Welcome {
                session: SessionId("bare".into()),
                code,
                upload_token: String::new(),
                resume_token: String::new(),
                resume_secs: 0,
                masking: protocol::MaskRules::default(),
            });
            if let Some(m) = welcome.ok().as_ref().and_then(encoded) {
                let _ = tx.send(m);
            }
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Binary(bytes) = msg else {
                    continue;
                };
                match protocol::decode::<VisitorMsg>(&bytes) {
                    Ok(VisitorMsg::Event(frame)) => {
                        let Some(out) = encoded(&ToAgent::Event(frame)) else {
                            continue;
                        };
                        if let Ok(s) = shared.lock() {
                            for (_, agent, admitted) in &s.agents {
                                if *admitted {
                                    let _ = agent.send(out.clone());
                                }
                            }
                        }
                    }
                    Ok(VisitorMsg::Consent { agent, .. }) => {
                        if let Ok(mut s) = shared.lock() {
                            if let Some(a) = s.agents.iter_mut().find(|a| a.0 == agent) {
                                a.2 = true;
                                if let Some(m) = encoded(&ToAgent::Admitted {
                                    resources: String::new(),
                                }) {
                                    let _ = a.1.send(m);
                                }
                            }
                        }
                        if let Some(m) = encoded(&ToVisitor::SnapshotNeeded) {
                            let _ = tx.send(m);
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(Hello::Agent(_)) => {
            let visitor = shared.lock().ok().and_then(|mut s| {
                let id = AgentId(s.agents.len() as u32 + 1);
                s.agents.push((id, tx.clone(), false));
                s.visitor.clone().map(|v| (id, v))
            });
            let Some((id, visitor)) = visitor else { return };
            let joined = ToAgent::Joined {
                session: SessionId("bare".into()),
                agent: id,
                page_url: String::new(),
            };
            if let Some(m) = encoded(&joined) {
                let _ = tx.send(m);
            }
            let announce = ToVisitor::AgentJoined {
                agent: id,
                name: "bench".into(),
                mode: Mode::ViewOnly,
            };
            if let Some(m) = encoded(&announce) {
                let _ = visitor.send(m);
            }
            while let Some(Ok(_)) = stream.next().await {}
        }
        // The bare forwarder has no rejoin: a rejoining agent is dropped.
        Ok(Hello::AgentRejoin(_)) | Err(_) => {}
    }
    drop(tx);
    let _ = writer.await;
}
