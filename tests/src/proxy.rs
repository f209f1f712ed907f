//! A TCP proxy between the visitor's browser and the relay that a test can
//! cut, to drop the visitor's network the way a real one drops: the
//! browser's side of every connection closes, while the relay's side stays
//! open and silent (the relay sees nothing until its ping timeout — a
//! half-open socket).

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    url: String,
    cut: watch::Sender<u64>,
    /// Relay-side halves of cut connections, kept open on purpose.
    stranded: Arc<Mutex<Vec<TcpStream>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `target`
    /// (`host:port`).
    pub async fn start(target: &str) -> Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (cut, cuts) = watch::channel(0u64);
        let stranded = Arc::new(Mutex::new(Vec::new()));
        let target = target.to_owned();
        let keep = stranded.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(upstream) = TcpStream::connect(&target).await else {
                    continue;
                };
                tokio::spawn(pipe(client, upstream, cuts.clone(), keep.clone()));
            }
        });
        Ok(Proxy {
            url,
            cut,
            stranded,
            task,
        })
    }

    /// `http://127.0.0.1:port` — what the visitor's page is told the relay is.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops every connection open now: the browser's side closes, the
    /// relay's stays open and hears nothing more.
    pub fn drop_network(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// How many relay-side sockets were left hanging by cuts.
    pub fn stranded(&self) -> usize {
        self.stranded.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// Cuts the network, then waits until `tab` sent a first frame that
    /// `is_hello` recognises (its reconnect), and checks the cut left the
    /// relay's side of the old socket hanging, as a real drop does.
    pub async fn cut_until_reconnected(
        &self,
        tab: &crate::browser::Tab,
        is_hello: fn(&[u8]) -> bool,
        who: &str,
    ) -> anyhow::Result<()> {
        self.drop_network();
        let deadline = tokio::time::Instant::now() + crate::scenario::WAIT;
        while !tab.frames().iter().any(|f| f.sent && is_hello(&f.bytes)) {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "{who} never reconnected after the cut"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        anyhow::ensure!(
            self.stranded() >= 1,
            "the cut left no relay-side socket open"
        );
        Ok(())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(
    mut client: TcpStream,
    upstream: TcpStream,
    mut cuts: watch::Receiver<u64>,
    stranded: Arc<Mutex<Vec<TcpStream>>>,
) {
    let seen = *cuts.borrow_and_update();
    let (mut up_read, mut up_write) = upstream.into_split();
    let (mut client_read, mut client_write) = client.split();
    let cut = async {
        while cuts.changed().await.is_ok() {
            if *cuts.borrow() != seen {
                return;
            }
        }
        std::future::pending::<()>().await;
    };
    let forwarded = async {
        tokio::select! {
            _ = tokio::io::copy(&mut client_read, &mut up_write) => {}
            _ = tokio::io::copy(&mut up_read, &mut client_write) => {}
        }
    };
    let was_cut = tokio::select! {
        () = cut => true,
        () = forwarded => false,
    };
    if was_cut {
        let _ = client.shutdown().await;
        if let Ok(upstream) = up_read.reunite(up_write).context("halves") {
            if let Ok(mut s) = stranded.lock() {
                s.push(upstream);
            }
        }
    }
}
