//! Graceful shutdown: telling every connection to end, and knowing when they
//! all have.
//!
//! Owns: the signal and the count of live connections. Does not own: what a
//! connection says on its way out (the role handlers send
//! `Ended{RelayShutdown}`).
//!
//! Same shape as mini-redis: a `watch` that flips once, and an mpsc sender
//! cloned into every connection, whose channel closes when the last clone
//! drops.

use std::time::Duration;

use tokio::sync::{mpsc, watch};

/// A connection's handle on the shutdown signal. Holding one keeps
/// [`Coordinator::wait_for_connections`] waiting.
#[derive(Debug, Clone)]
pub struct Shutdown {
    signal: watch::Receiver<bool>,
    /// Flips before `signal` when the relay drains (Redis backend): peers
    /// are told to move to another relay, and sessions outlive the stop.
    draining: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
}

impl Shutdown {
    /// Resolves once the relay drains (never, if it stops without one).
    /// Owns what it waits on, so a connection can hold it across a loop
    /// that also waits for [`Shutdown::wait`].
    pub fn draining(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut draining = self.draining.clone();
        async move {
            if draining.wait_for(|d| *d).await.is_err() {
                // The coordinator is gone without a drain: nothing to wait for.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Whether this relay drains: a stop that follows leaves sessions to
    /// the other relays instead of ending them.
    pub fn is_draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// Resolves once shutdown has begun (at once if it already has).
    pub async fn wait(&mut self) {
        // An error means the coordinator is gone, which also means "stop".
        let _ = self.signal.wait_for(|stopping| *stopping).await;
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.signal.borrow()
    }
}

/// The server's side.
#[derive(Debug)]
pub struct Coordinator {
    signal: watch::Sender<bool>,
    draining: watch::Sender<bool>,
    alive_tx: Option<mpsc::Sender<()>>,
    alive_rx: mpsc::Receiver<()>,
}

impl Coordinator {
    pub fn new() -> (Coordinator, Shutdown) {
        let (signal, signal_rx) = watch::channel(false);
        let (draining, draining_rx) = watch::channel(false);
        let (alive_tx, alive_rx) = mpsc::channel(1);
        let handle = Shutdown {
            signal: signal_rx,
            draining: draining_rx,
            _alive: alive_tx.clone(),
        };
        (
            Coordinator {
                signal,
                draining,
                alive_tx: Some(alive_tx),
                alive_rx,
            },
            handle,
        )
    }

    /// A sender that flips the signal; usable from the HTTP server's own
    /// graceful-shutdown future.
    pub fn trigger(&self) -> watch::Sender<bool> {
        self.signal.clone()
    }

    /// A sender that begins the drain (see [`Shutdown::draining`]).
    pub fn drain_trigger(&self) -> watch::Sender<bool> {
        self.draining.clone()
    }

    /// Flips the signal and waits up to `grace` for every connection to end.
    /// Returns how the wait went: `false` if some were still running.
    pub async fn wait_for_connections(mut self, grace: Duration) -> bool {
        self.signal.send_replace(true);
        self.alive_tx = None;
        tokio::time::timeout(grace, self.alive_rx.recv())
            .await
            .is_ok()
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_every_handle_to_drop() {
        let (coord, handle) = Coordinator::new();
        let mut conn = handle.clone();
        drop(handle);
        let task = tokio::spawn(async move {
            conn.wait().await;
            // The connection says goodbye, then lets go of its handle.
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(conn);
        });
        assert!(coord.wait_for_connections(Duration::from_secs(5)).await);
        task.await.expect("task");
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_grace_period() {
        let (coord, handle) = Coordinator::new();
        assert!(!coord.wait_for_connections(Duration::from_secs(1)).await);
        assert!(handle.is_shutting_down());
    }
}
