//! A relay started in-process on 127.0.0.1:0 (or two sharing a Redis), and
//! small WebSocket / HTTP clients that speak to it the way the visitor's page
//! and the agent console do. Helpers panic with context: they only run in
//! tests.
//!
//! Owns: starting and stopping in-process relays, and the steps of a session
//! a test takes (open, join, admit). The socket peer is `peer.rs`, the bare
//! HTTP client `http_client.rs`; relays as separate processes are
//! `processes.rs`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use protocol::{
    AgentHello, AgentId, Hello, JoinCode, Mode, SessionId, ToAgent, ToVisitor, VisitorHello,
    VisitorMsg,
};
use relay::{AgentAuth, Backend, Config, RelayError};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::redis_server::RedisServer;

mod http_client;
mod peer;

use http_client::http_get;
pub use http_client::{http_request, HttpResponse};
pub use peer::Peer;

pub const TOKEN: &str = "test-dev-token";
pub const PAGE: &str = "https://shop.example/cart";
/// Long enough for a loaded CI machine, short enough to fail fast.
pub const WAIT: Duration = Duration::from_secs(10);

/// An agent's hello joining with `code` by `token`, asking for `mode`.
pub fn join_hello(token: &str, code: &JoinCode, mode: Mode) -> Hello {
    Hello::Agent(AgentHello {
        token: token.into(),
        code: code.clone(),
        mode,
    })
}

/// A page's hello from [`PAGE`] with the default resource policy: a new
/// session, or resuming one with `resume`.
pub fn visitor_hello(resume: Option<String>) -> Hello {
    Hello::Visitor(VisitorHello {
        page_url: PAGE.into(),
        resources: protocol::ResourcePolicy::default(),
        resume,
        invitation: None,
    })
}

/// Where a test's sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// One relay, the in-process backend.
    Memory,
    /// One relay with a Redis of its own.
    Redis,
    /// Two relays sharing one Redis: visitors connect to the first, agents
    /// to the second, so every frame between them crosses Redis.
    TwoRelays,
}

pub struct Relay {
    /// Where visitors (and plain HTTP requests) go.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), RelayError>>>,
    static_dir: PathBuf,
    /// With [`Setup::TwoRelays`], the relay agents connect to.
    agent_relay: Option<Box<Relay>>,
    /// Declared last: dropped after the relays that use it.
    pub redis: Option<RedisServer>,
}

impl Relay {
    /// Development settings: the dev token [`TOKEN`] is accepted, any origin.
    pub async fn start() -> Relay {
        Relay::with(|_| {}).await
    }

    pub async fn with(tweak: impl Fn(&mut Config)) -> Relay {
        Relay::on_with(Setup::Memory, tweak).await
    }

    pub async fn on(setup: Setup) -> Relay {
        Relay::on_with(setup, |_| {}).await
    }

    /// `tweak` applies to every relay of the setup.
    pub async fn on_with(setup: Setup, tweak: impl Fn(&mut Config)) -> Relay {
        let redis = match setup {
            Setup::Memory => None,
            Setup::Redis | Setup::TwoRelays => Some(RedisServer::start().await),
        };
        let config = |tweak: &dyn Fn(&mut Config)| {
            let fixture = static_fixture();
            let mut config = Config::new(&fixture);
            config.auth = AgentAuth::dev_token(TOKEN.into()).expect("token");
            if let Some(redis) = &redis {
                config.backend = Backend::from_redis_flag(Some(&redis.url())).expect("url");
            }
            tweak(&mut config);
            (config, fixture)
        };
        let agent_relay = match setup {
            Setup::TwoRelays => {
                let (config, fixture) = config(&tweak);
                Some(Box::new(Relay::run(config, fixture).await))
            }
            Setup::Memory | Setup::Redis => None,
        };
        let (config, fixture) = config(&tweak);
        let mut relay = Relay::run(config, fixture).await;
        relay.agent_relay = agent_relay;
        relay.redis = redis;
        relay
    }

    /// A relay on a Redis the test owns (so it can outlive the relay).
    pub async fn with_redis(redis: &RedisServer, tweak: impl Fn(&mut Config)) -> Relay {
        let fixture = static_fixture();
        let mut config = Config::new(&fixture);
        config.auth = AgentAuth::dev_token(TOKEN.into()).expect("token");
        config.backend = Backend::from_redis_flag(Some(&redis.url())).expect("url");
        tweak(&mut config);
        Relay::run(config, fixture).await
    }

    /// Starts `relay::run` with `config`; `static_dir` is removed on drop.
    pub async fn run(config: Config, static_dir: PathBuf) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(relay::run(listener, config, async {
            let _ = stopped.await;
        }));
        Relay {
            addr,
            stop: Some(stop),
            task: Some(task),
            static_dir,
            agent_relay: None,
            redis: None,
        }
    }

    /// The relay agents connect to: the second one with
    /// [`Setup::TwoRelays`], else this one.
    pub fn agents(&self) -> &Relay {
        self.agent_relay.as_deref().unwrap_or(self)
    }

    /// Triggers graceful shutdown (of every relay of the setup) and waits
    /// for `run` to return.
    pub async fn stop(mut self) -> Result<(), RelayError> {
        let mut tasks = vec![self.begin_stop()];
        if let Some(other) = self.agent_relay.as_mut() {
            tasks.push(other.begin_stop());
        }
        let mut result = Ok(());
        for task in tasks {
            let stopped = tokio::time::timeout(WAIT, task)
                .await
                .expect("run returns after shutdown")
                .expect("run did not panic");
            result = result.and(stopped);
        }
        result
    }

    fn begin_stop(&mut self) -> JoinHandle<Result<(), RelayError>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.take().expect("running")
    }

    pub async fn socket(&self, path: &str) -> Peer {
        self.socket_with_origin(path, None).await.expect("upgrade")
    }

    /// Connects with an `Origin` header, as a browser would.
    pub async fn socket_with_origin(
        &self,
        path: &str,
        origin: Option<&str>,
    ) -> Result<Peer, tokio_tungstenite::tungstenite::Error> {
        let addr = if path.starts_with("/ws/agent") {
            self.agents().addr
        } else {
            self.addr
        };
        let mut request = format!("ws://{addr}{path}")
            .into_client_request()
            .expect("request");
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", HeaderValue::from_str(origin).expect("header"));
        }
        let tcp = TcpStream::connect(addr).await.expect("connect");
        self.socket_over(request, tcp).await
    }

    /// Upgrades over a TCP stream the test configured itself.
    pub async fn socket_over(
        &self,
        request: impl IntoClientRequest + Unpin,
        tcp: TcpStream,
    ) -> Result<Peer, tokio_tungstenite::tungstenite::Error> {
        let (ws, _) = tokio_tungstenite::client_async(request, tcp).await?;
        Ok(Peer { ws })
    }

    /// A visitor that said hello and got its welcome.
    pub async fn start_session(&self) -> (Peer, SessionId, JoinCode) {
        let mut visitor = self.socket("/ws/visitor").await;
        visitor.hello(visitor_hello(None)).await;
        match visitor.recv::<ToVisitor>().await {
            ToVisitor::Welcome { session, code, .. } => (visitor, session, code),
            other => panic!("expected Welcome, got {other:?}"),
        }
    }

    /// A visitor's socket to the relay at `addr` (either of a two-relay
    /// setup), after its hello: a new session, or resuming with `resume`.
    pub async fn visitor_at(&self, addr: SocketAddr, resume: Option<String>) -> Peer {
        let request = format!("ws://{addr}/ws/visitor")
            .into_client_request()
            .expect("request");
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let mut visitor = self.socket_over(request, tcp).await.expect("upgrade");
        visitor.hello(visitor_hello(resume)).await;
        visitor
    }

    /// A new session on the visitors' relay, with its whole Welcome.
    pub async fn welcomed(&self) -> (Peer, Welcome) {
        let mut visitor = self.visitor_at(self.addr, None).await;
        let welcome = Welcome::expect(&mut visitor).await;
        (visitor, welcome)
    }

    /// An agent socket to the relay at `addr`, whatever the setup routes.
    pub async fn agent_at(&self, addr: SocketAddr) -> Peer {
        let request = format!("ws://{addr}/ws/agent")
            .into_client_request()
            .expect("request");
        let tcp = TcpStream::connect(addr).await.expect("connect");
        self.socket_over(request, tcp).await.expect("upgrade")
    }

    /// An agent that sent its hello with `token`; nothing read yet.
    pub async fn agent_hello(&self, token: &str, code: &JoinCode, mode: Mode) -> Peer {
        let mut agent = self.socket("/ws/agent").await;
        agent.hello(join_hello(token, code, mode)).await;
        agent
    }

    /// An agent that joined (got `Joined`) and was announced to the visitor.
    /// Codes are single use: `code` becomes the fresh one the visitor was
    /// sent, for the next agent.
    pub async fn join(&self, visitor: &mut Peer, code: &mut JoinCode) -> (Peer, AgentId) {
        let agent = self.socket("/ws/agent").await;
        self.join_as(visitor, code, agent).await
    }

    /// [`Relay::join`] over a socket the test made itself.
    pub async fn join_as(
        &self,
        visitor: &mut Peer,
        code: &mut JoinCode,
        agent: Peer,
    ) -> (Peer, AgentId) {
        self.join_with(visitor, code, agent, TOKEN).await
    }

    /// [`Relay::join_as`] presenting `token`.
    pub async fn join_with(
        &self,
        visitor: &mut Peer,
        code: &mut JoinCode,
        agent: Peer,
        token: &str,
    ) -> (Peer, AgentId) {
        self.join_asking(visitor, code, agent, token, Mode::ViewOnly)
            .await
    }

    /// [`Relay::join_with`], asking for `mode`; the visitor is shown it.
    pub async fn join_asking(
        &self,
        visitor: &mut Peer,
        code: &mut JoinCode,
        mut agent: Peer,
        token: &str,
        mode: Mode,
    ) -> (Peer, AgentId) {
        agent.hello(join_hello(token, code, mode)).await;
        let id = match agent.recv::<ToAgent>().await {
            ToAgent::Joined {
                agent, page_url, ..
            } => {
                assert_eq!(page_url, PAGE);
                agent
            }
            other => panic!("expected Joined, got {other:?}"),
        };
        *code = expect_fresh_code(visitor, code).await;
        match visitor.recv::<ToVisitor>().await {
            ToVisitor::AgentJoined {
                agent, mode: shown, ..
            } => {
                assert_eq!(agent, id);
                assert_eq!(shown, mode);
            }
            other => panic!("expected AgentJoined, got {other:?}"),
        }
        (agent, id)
    }

    /// An agent the visitor admitted; the visitor has been asked for a snapshot.
    pub async fn admitted_agent(&self, visitor: &mut Peer, code: &mut JoinCode) -> (Peer, AgentId) {
        let (agent, id) = self.join(visitor, code).await;
        admit(visitor, agent, id).await
    }

    /// A value on `/metrics` (0 if the line is missing).
    pub async fn metric(&self, line_start: &str) -> u64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| l.strip_prefix(line_start)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    pub async fn get(&self, path: &str) -> HttpResponse {
        http_get(self.addr, path).await
    }

    pub async fn metrics(&self) -> String {
        let response = self.get("/metrics").await;
        assert_eq!(response.status, 200);
        String::from_utf8(response.body).expect("utf-8")
    }

    /// Waits until `/metrics` shows `line` (counters move asynchronously).
    pub async fn wait_for_metric(&self, line: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let text = self.metrics().await;
            if text.lines().any(|l| l == line) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "metric line {line:?} never appeared in:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A `ToVisitor::Welcome`, field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    pub session: SessionId,
    pub code: JoinCode,
    pub upload_token: String,
    pub resume_token: String,
    pub resume_secs: u32,
    pub masking: protocol::MaskRules,
}

impl Welcome {
    pub async fn expect(visitor: &mut Peer) -> Welcome {
        match visitor.recv::<ToVisitor>().await {
            ToVisitor::Welcome {
                session,
                code,
                upload_token,
                resume_token,
                resume_secs,
                masking,
            } => Welcome {
                session,
                code,
                upload_token,
                resume_token,
                resume_secs,
                masking,
            },
            other => panic!("expected Welcome, got {other:?}"),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
        let _ = std::fs::remove_dir_all(&self.static_dir);
    }
}

/// After an agent joined with `used`: the visitor's second Welcome, with a
/// fresh code for the next agent.
pub async fn expect_fresh_code(visitor: &mut Peer, used: &JoinCode) -> JoinCode {
    match visitor.recv::<ToVisitor>().await {
        ToVisitor::Welcome { code, .. } => {
            assert_ne!(&code, used, "a used code is never handed out again at once");
            code
        }
        other => panic!("expected a Welcome with a fresh code, got {other:?}"),
    }
}

/// The visitor accepts `agent` (which asked for view-only); both see the
/// consequences.
pub async fn admit(visitor: &mut Peer, agent: Peer, id: AgentId) -> (Peer, AgentId) {
    admit_in(visitor, agent, id, Mode::ViewOnly).await
}

/// The visitor accepts `agent`, which asked for `mode`: it is admitted and
/// told its mode at once; the visitor is asked for a snapshot.
pub async fn admit_in(visitor: &mut Peer, agent: Peer, id: AgentId, mode: Mode) -> (Peer, AgentId) {
    let (agent, id, _) = admit_keeping_token(visitor, agent, id, mode).await;
    (agent, id)
}

/// [`admit_in`], and the rejoin token the admitted agent was sent.
pub async fn admit_keeping_token(
    visitor: &mut Peer,
    mut agent: Peer,
    id: AgentId,
    mode: Mode,
) -> (Peer, AgentId, String) {
    visitor
        .send(&VisitorMsg::Consent {
            agent: id,
            accepted: true,
        })
        .await;
    assert!(matches!(
        agent.recv::<ToAgent>().await,
        ToAgent::Admitted { .. }
    ));
    assert_eq!(agent.recv::<ToAgent>().await, ToAgent::Mode(mode));
    assert_eq!(visitor.recv::<ToVisitor>().await, ToVisitor::SnapshotNeeded);
    let token = expect_rejoin_token(&mut agent).await;
    (agent, id, token)
}

/// The secret an admitted agent is sent right after its mode, to rejoin
/// its place if its connection breaks.
pub async fn expect_rejoin_token(agent: &mut Peer) -> String {
    match agent.recv::<ToAgent>().await {
        ToAgent::RejoinToken(token) => token,
        other => panic!("expected RejoinToken, got {other:?}"),
    }
}

/// The fixture console's inline bootstrap (the real one's shape).
pub const CONSOLE_BOOT: &str = "import init from \"./agent_viewer.js\"; init();";

/// What `cargo xtask dist` would leave in `target/dist`, in miniature.
fn static_fixture() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "cobrowse-relay-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(dir.join("sdk")).expect("mkdir");
    std::fs::create_dir_all(dir.join("agent")).expect("mkdir");
    std::fs::write(dir.join("sdk/cobrowse.js"), "export const loaded = true;\n").expect("write");
    std::fs::write(dir.join("sdk/visitor_wasm_bg.wasm"), b"\0asm\x01\0\0\0").expect("write");
    // Stand-ins for the compressed copies dist writes (only the names matter).
    std::fs::write(dir.join("sdk/visitor_wasm_bg.wasm.br"), b"brotli bytes").expect("write");
    std::fs::write(dir.join("sdk/visitor_wasm_bg.wasm.gz"), b"gzip bytes").expect("write");
    std::fs::write(
        dir.join("agent/index.html"),
        format!(
            "<!doctype html><title>console</title><script type=\"module\">{CONSOLE_BOOT}</script>"
        ),
    )
    .expect("write");
    dir
}
