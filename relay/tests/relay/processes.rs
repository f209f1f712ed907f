//! Relays as real `cobrowse-relay` processes on one test Redis, as a load
//! balancer would have them: started on free ports, stopped with real
//! signals (SIGTERM, SIGKILL). And the small clients the scale-out tests
//! drive them with: a visitor that opens or resumes a session, an agent
//! that joins by code and is admitted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use protocol::{AgentId, JoinCode, Mode, ToAgent, ToVisitor};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdout, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::redis_server::RedisServer;
use crate::support::{admit_keeping_token, join_hello, visitor_hello, Peer, TOKEN, WAIT};

pub const BIN: &str = env!("CARGO_BIN_EXE_cobrowse-relay");

/// What a relay prints on stdout, before its address, once it listens.
const LISTENING: &str = "cobrowse-relay listening on http://";

/// The relay binary: this build's, or `$COBROWSE_RELAY_BIN` (e.g. the
/// release build, to see the storm at a deployment's speed).
fn binary() -> std::ffi::OsString {
    std::env::var_os("COBROWSE_RELAY_BIN").unwrap_or_else(|| BIN.into())
}

pub struct RelayProcess {
    pub addr: SocketAddr,
    child: Child,
    dir: PathBuf,
}

impl RelayProcess {
    /// A relay on `redis` with `config` as its `--config` file; its log
    /// goes to a file (a full pipe would stall it), named on failure.
    pub async fn start(redis: &RedisServer, name: &str, config: &str) -> RelayProcess {
        let dir = std::env::temp_dir().join(format!(
            "cobrowse-scale-{}-{}-{name}",
            std::process::id(),
            redis.port
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let config_path = dir.join("relay.toml");
        std::fs::write(&config_path, config).expect("write config");
        let log = std::fs::File::create(dir.join("relay.log")).expect("log");
        let mut child = Command::new(binary())
            .args(["--listen", "127.0.0.1:0", "--static", "/nonexistent"])
            .args(["--dev-agent-token", TOKEN, "--redis", &redis.url()])
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn cobrowse-relay");
        let (addr, _) = listening(&mut child).await;
        let addr = addr.unwrap_or_else(|| panic!("relay {name} exited; see {}", dir.display()));
        RelayProcess { addr, child, dir }
    }

    pub async fn signal(&self, signal: &str) {
        self::signal(&self.child, signal).await;
    }

    /// Waits up to `within` for the process to exit; its status.
    pub async fn exits_within(&mut self, within: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "relay did not exit within {within:?}; see {}",
                    self.dir.display()
                )
            })
            .expect("wait")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("relay.log")).unwrap_or_default()
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Waits (up to [`WAIT`]) for `child`'s first line on stdout, the one a
/// relay prints once it listens, and returns the address in it with the
/// rest of its stdout; `None` if stdout ended first (the relay exited).
pub async fn listening(child: &mut Child) -> (Option<SocketAddr>, Lines<BufReader<ChildStdout>>) {
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("the listening line in time")
        .expect("read stdout");
    let addr = line.map(|line| {
        line.strip_prefix(LISTENING)
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("an address")
    });
    (addr, lines)
}

/// Sends `signal` (`-TERM`, `-KILL`) to the running `child`.
pub async fn signal(child: &Child, signal: &str) {
    let pid = child.id().expect("running").to_string();
    let status = Command::new("kill")
        .args([signal, &pid])
        .status()
        .await
        .expect("kill");
    assert!(status.success(), "kill {signal}");
}

/// A WebSocket to `path` on `addr`; the upgrade's error if refused.
pub async fn socket(
    addr: SocketAddr,
    path: &str,
) -> Result<Peer, tokio_tungstenite::tungstenite::Error> {
    let request = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("request");
    let tcp = TcpStream::connect(addr).await?;
    let (ws, _) = tokio_tungstenite::client_async(request, tcp).await?;
    Ok(Peer { ws })
}

/// A visitor's hello on `addr`: a new session, or a resume with `resume`.
pub async fn visitor(addr: SocketAddr, resume: Option<String>) -> Peer {
    let mut visitor = socket(addr, "/ws/visitor").await.expect("upgrade");
    visitor.hello(visitor_hello(resume)).await;
    visitor
}

/// A new session on `addr`: the visitor, its code and its resume token.
pub async fn session(addr: SocketAddr) -> (Peer, JoinCode, String) {
    let mut peer = visitor(addr, None).await;
    match peer.recv::<ToVisitor>().await {
        ToVisitor::Welcome {
            code, resume_token, ..
        } => (peer, code, resume_token),
        other => panic!("expected Welcome, got {other:?}"),
    }
}

/// An agent on `addr` that joined with `code` and was admitted by
/// `visitor`, with its rejoin token; `code` becomes the session's fresh one.
pub async fn admitted_agent(
    addr: SocketAddr,
    visitor: &mut Peer,
    code: &mut JoinCode,
) -> (Peer, AgentId, String) {
    let mut agent = socket(addr, "/ws/agent").await.expect("upgrade");
    agent.hello(join_hello(TOKEN, code, Mode::ViewOnly)).await;
    let id = match agent.recv::<ToAgent>().await {
        ToAgent::Joined { agent, .. } => agent,
        other => panic!("expected Joined, got {other:?}"),
    };
    // The fresh code, then the announcement (either order across relays).
    for _ in 0..2 {
        match visitor.recv::<ToVisitor>().await {
            ToVisitor::Welcome { code: fresh, .. } => *code = fresh,
            ToVisitor::AgentJoined { .. } => {}
            other => panic!("expected the join's news, got {other:?}"),
        }
    }
    admit_keeping_token(visitor, agent, id, Mode::ViewOnly).await
}

/// A plain GET's status line and body.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = crate::support::http_request(addr, "GET", path, &[], &[]).await;
    (
        response.status,
        String::from_utf8_lossy(&response.body).into_owned(),
    )
}

/// A value on `addr`'s `/metrics` (0 if the line is missing).
pub async fn metric(addr: SocketAddr, line_start: &str) -> u64 {
    let (_, text) = get(addr, "/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(line_start)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
