//! A real `redis-server` for one test: on a free port, persisting nothing,
//! killed when dropped. A machine without it fails the test loudly (with
//! what to run), so the Redis tests can never pass by not running.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use redis::aio::MultiplexedConnection;

use crate::support::WAIT;

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
}

/// `$REDIS_SERVER`, else `redis-server` on the `PATH`, else Debian's.
fn binary() -> PathBuf {
    let binary = std::env::var_os("REDIS_SERVER")
        .map(PathBuf::from)
        .or_else(|| {
            let paths = std::env::var_os("PATH")?;
            std::env::split_paths(&paths)
                .map(|dir| dir.join("redis-server"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| "/usr/bin/redis-server".into());
    assert!(
        binary.is_file(),
        "{} not found, so the Redis backend cannot be tested. \
         Run `cargo xtask test`, which installs redis-server.",
        binary.display()
    );
    binary
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        let dir = std::env::temp_dir().join(format!(
            "cobrowse-redis-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        // A port found free may be taken before redis-server binds it.
        for _ in 0..5 {
            let mut server = RedisServer {
                child: None,
                port: free_port(),
                dir: dir.clone(),
            };
            if server.spawn().await {
                return server;
            }
        }
        panic!("redis-server did not start; see {}", dir.display());
    }

    /// Starts (again) on this server's port; `false` if it did not come up.
    async fn spawn(&mut self) -> bool {
        let log = std::fs::File::create(self.dir.join("redis.log")).expect("log file");
        let child = Command::new(binary())
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::time::Instant::now() < deadline {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return false;
            }
            if self.ping().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    async fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        match client.get_multiplexed_async_connection().await {
            Ok(mut conn) => redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .is_ok(),
            Err(_) => false,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server the hard way, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty: nothing was saved).
    pub async fn restart(&mut self) {
        self.kill();
        assert!(self.spawn().await, "redis-server did not come back");
    }

    pub async fn conn(&self) -> MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the test redis")
    }

    /// Every key the relay may own, sorted.
    pub async fn keys(&self) -> Vec<String> {
        let mut conn = self.conn().await;
        let mut keys = Vec::new();
        let mut cursor = 0u64;
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg("cobrowse:*")
                .query_async(&mut conn)
                .await
                .expect("scan");
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        keys.sort();
        keys
    }

    /// Waits until no `cobrowse:*` key but the shared cache's is left.
    pub async fn wait_for_no_keys_but_blobs(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let keys: Vec<String> = self
                .keys()
                .await
                .into_iter()
                .filter(|k| !k.starts_with("cobrowse:res:blob:"))
                .collect();
            if keys.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "keys left behind: {keys:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until no `cobrowse:*` key is left.
    pub async fn wait_for_no_keys(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let keys = self.keys().await;
            if keys.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "keys left behind: {keys:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
