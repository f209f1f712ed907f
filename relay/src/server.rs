//! The HTTP side: routes, the upgrade checks that happen before a socket
//! exists, `run` and graceful shutdown.
//!
//! Owns: [`run`], [`serve`], the shared [`App`] state, the upgrade handlers,
//! `/healthz` and `/metrics`, and reading a connection's hello. Does not own:
//! what happens on a socket after the hello (`visitor/`, `agent/`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::header::{CONTENT_TYPE, ORIGIN};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::{stream, Sink, Stream, StreamExt};
use protocol::Hello;
use tokio::net::TcpListener;

use crate::admission::Admission;
use crate::bus::Bus;
use crate::config::{Backend, Config, OriginPolicy};
use crate::connection::{next_frame, Conn, Inbound};
use crate::drain::{self, DrainEnd, Peers};
use crate::guesses::CodeGuesses;
use crate::memory::{MemoryBus, MemoryStore};
use crate::metrics::{Metrics, Role};
use crate::redis_backend::{self, RedisBus, RedisStore};
use crate::resources::{self, Resources};
use crate::sessions::SessionStore;
use crate::shutdown::{Coordinator, Shutdown};
use crate::{agent, invitations, static_files, visitor, RelayError};

/// How long connections get to say goodbye once shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// The same after a second stop signal: "now" means now.
const HURRIED_GRACE: Duration = Duration::from_millis(500);

/// What every handler and connection shares.
pub struct App<S, B> {
    pub store: S,
    pub bus: B,
    pub config: Config,
    pub metrics: Arc<Metrics>,
    /// Wrong join codes by address and agent (this relay's count).
    pub guesses: CodeGuesses,
    /// Failed resume attempts by address (this relay's count).
    pub resume_guesses: CodeGuesses,
    /// The resource service (its store comes with `store`).
    pub resources: Resources,
    /// The bucket of new sessions (`admission.rs`).
    pub admission: Admission,
    /// Connected peers, which a drain waits for.
    pub peers: Arc<Peers>,
    shutdown: Shutdown,
}

impl<S, B> App<S, B> {
    pub fn start_conn<Si>(&self, sink: Si, role: Role, peer: SocketAddr) -> Conn
    where
        Si: Sink<Message, Error = axum::Error> + Unpin + Send + 'static,
    {
        Conn::start(
            sink,
            role,
            peer,
            self.config.limits.agent_queue_frames,
            self.config.ping_interval,
            Arc::clone(&self.metrics),
        )
    }

    /// A peer silent (not even answering pings) for this long is dead.
    pub fn idle_limit(&self) -> Duration {
        self.config.ping_interval.saturating_mul(3)
    }
}

/// Serves until `shutdown` resolves, with the backend the config names.
/// The caller binds `listener` (port 0 is fine) and reads its address.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    let backend = Connected::connect_with(&config.backend, config.redis.clone()).await?;
    run_connected(listener, config, backend, shutdown).await
}

/// A backend that answered at start-up.
pub enum Connected {
    Memory,
    Redis(RedisStore, RedisBus),
}

impl Connected {
    /// Reaches the backend `backend` names. An unreachable Redis is a
    /// [`RelayError::Config`] that says where it was looked for.
    pub async fn connect(backend: &Backend) -> Result<Connected, RelayError> {
        Connected::connect_with(backend, redis_backend::Settings::default()).await
    }

    /// [`Connected::connect`] with the Redis backend's tunables.
    pub async fn connect_with(
        backend: &Backend,
        settings: redis_backend::Settings,
    ) -> Result<Connected, RelayError> {
        match backend {
            Backend::Memory => Ok(Connected::Memory),
            Backend::Redis(url) => {
                let (store, bus) = redis_backend::connect_with(url, settings).await?;
                Ok(Connected::Redis(store, bus))
            }
        }
    }
}

/// [`run`] with a backend connected beforehand, so a binary can refuse to
/// start (before it announces an address) when Redis does not answer.
pub async fn run_connected(
    listener: TcpListener,
    config: Config,
    backend: Connected,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    run_signalled(listener, config, backend, stream::once(shutdown)).await
}

/// [`run_connected`] stopped by a stream of signals: the first one begins
/// the stop (a drain, on a shared backend: `drain.rs`), a second one cuts a
/// drain short.
pub async fn run_signalled(
    listener: TcpListener,
    config: Config,
    backend: Connected,
    signals: impl Stream<Item = ()> + Send + 'static,
) -> Result<(), RelayError> {
    match backend {
        Connected::Memory => {
            serve_signalled(
                listener,
                config,
                MemoryStore::new(),
                MemoryBus::new(),
                signals,
            )
            .await
        }
        Connected::Redis(store, bus) => {
            bus.check_limits(config.limits.max_frame_bytes).await;
            serve_signalled(listener, config, store, bus, signals).await
        }
    }
}

/// [`run`] with an explicit backend: the seam where the Redis store and bus
/// plug in, and where tests can inspect the memory ones.
pub async fn serve<S: SessionStore, B: Bus>(
    listener: TcpListener,
    config: Config,
    store: S,
    bus: B,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    serve_signalled(listener, config, store, bus, stream::once(shutdown)).await
}

/// [`serve`] stopped by a stream of signals (see [`run_signalled`]).
pub async fn serve_signalled<S: SessionStore, B: Bus>(
    listener: TcpListener,
    config: Config,
    store: S,
    bus: B,
    signals: impl Stream<Item = ()> + Send + 'static,
) -> Result<(), RelayError> {
    log_start_up(&config);
    let (coordinator, handle) = Coordinator::new();
    let guesses = CodeGuesses::new(config.limits.code_guesses_per_minute);
    let resume_guesses = CodeGuesses::new(config.limits.resume_failures_per_minute);
    let metrics = Arc::new(Metrics::default());
    let resources = Resources::new(config.resources.clone(), Arc::clone(&metrics));
    // Only a relay whose sessions another relay can carry on drains.
    let drains = matches!(config.backend, Backend::Redis(_)) && !config.drain.grace.is_zero();
    let drain_settings = config.drain.clone();
    let admission = Admission::new(config.admission.clone());
    let peers = Arc::new(Peers::default());
    let app = Arc::new(App {
        store,
        bus,
        config,
        metrics: Arc::clone(&metrics),
        guesses,
        resume_guesses,
        resources,
        admission,
        peers: Arc::clone(&peers),
        shutdown: handle,
    });
    let router = router(Arc::clone(&app));
    let trigger = coordinator.trigger();
    let begin_drain = coordinator.drain_trigger();
    // Connections hold clones of the handle; ours must not keep the final
    // wait waiting.
    drop(app);
    // Frames are small and latency matters more than packing: with Nagle on,
    // a burst (typing, scrolling) waits for the peer's delayed ACK, which the
    // bench measured as a ~40 ms p99 at one event per millisecond.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!("could not set TCP_NODELAY: {err}");
        }
    });
    let hurried = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hurried_flag = Arc::clone(&hurried);
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let mut signals = std::pin::pin!(signals);
        // A stream that ends without a signal never stops the relay.
        if signals.next().await.is_none() {
            std::future::pending::<()>().await;
        }
        if drains {
            let hurry = async {
                if signals.next().await.is_none() {
                    std::future::pending::<()>().await;
                }
            };
            let end = drain::drain(&begin_drain, &peers, &metrics, &drain_settings, hurry).await;
            hurried_flag.store(
                end == DrainEnd::Hurried,
                std::sync::atomic::Ordering::SeqCst,
            );
        }
        tracing::info!("shutting down: telling every peer");
        // Upgraded sockets are not HTTP requests any more, so the server's
        // own graceful shutdown does not wait for them; this tells them.
        trigger.send_replace(true);
    })
    .await;
    // After a second signal the goodbyes get a moment, not the full grace.
    let grace = if hurried.load(std::sync::atomic::Ordering::SeqCst) {
        HURRIED_GRACE
    } else {
        SHUTDOWN_GRACE
    };
    if !coordinator.wait_for_connections(grace).await {
        tracing::warn!("some connections did not end within {grace:?}");
    }
    served.map_err(RelayError::Io)
}

fn log_start_up(config: &Config) {
    match &config.backend {
        Backend::Memory => tracing::info!(
            "sessions kept in this process (pass --redis to share them between relays)"
        ),
        backend => tracing::info!("sessions and their messages go through {backend}"),
    }
    if config.auth.is_dev() {
        tracing::warn!(
            "DEVELOPMENT ONLY: agents are accepted with the shared --dev-agent-token; \
             never run this on a network anyone else can reach"
        );
    }
    match &config.origins {
        OriginPolicy::Any => tracing::info!(
            "visitor sessions accepted from any origin (pass --allowed-origin to restrict)"
        ),
        OriginPolicy::Only(list) => {
            tracing::info!(origins = ?list, "visitor sessions accepted only from these origins");
        }
    }
    let res = &config.resources;
    tracing::info!(
        ttl = ?res.cache_ttl,
        local_max_bytes = res.local_max_bytes,
        strict = res.strict,
        allowed_external_domains = res.allowed_external_domains.len(),
        "resource cache: local level for {:?}, shared level {}",
        res.local_ttl(),
        match config.backend {
            Backend::Memory => "off (no --redis)",
            Backend::Redis(_) => "in Redis",
        }
    );
    if !config.static_dir.is_dir() {
        tracing::warn!(
            dir = %config.static_dir.display(),
            "static directory missing: /sdk/ and /agent/ will answer 404 (run `cargo xtask dist`)"
        );
    }
}

fn router<S: SessionStore, B: Bus>(app: Arc<App<S, B>>) -> Router {
    let static_routes = static_files::routes(&app.config.static_dir);
    let uploads = resources::upload::routes(Arc::clone(&app));
    let served = resources::serve::routes(Arc::clone(&app));
    let invitations = invitations::routes(Arc::clone(&app));
    Router::new()
        .route("/ws/visitor", get(visitor_upgrade::<S, B>))
        .route("/ws/agent", get(agent_upgrade::<S, B>))
        .route("/healthz", get(healthz::<S, B>))
        .route("/metrics", get(metrics::<S, B>))
        .with_state(app)
        .merge(uploads)
        .merge(served)
        .merge(invitations)
        .merge(static_routes)
}

/// 503 once the relay drains or stops, so a load balancer sends no one new.
async fn healthz<S, B>(State(app): State<Arc<App<S, B>>>) -> Response {
    if app.shutdown.is_draining() || app.shutdown.is_shutting_down() {
        return drain::unavailable();
    }
    "ok".into_response()
}

async fn metrics<S, B>(State(app): State<Arc<App<S, B>>>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        app.metrics.render(),
    )
        .into_response()
}

fn limit_upgrade<S, B>(app: &App<S, B>, ws: WebSocketUpgrade) -> WebSocketUpgrade {
    let limit = app.config.limits.max_frame_bytes;
    ws.max_message_size(limit).max_frame_size(limit)
}

async fn visitor_upgrade<S: SessionStore, B: Bus>(
    State(app): State<Arc<App<S, B>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if app.shutdown.is_draining() || app.shutdown.is_shutting_down() {
        app.metrics.scale.refused_while_draining();
        return drain::unavailable();
    }
    let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    if !app.config.origins.allows(origin) {
        let err = RelayError::OriginNotAllowed {
            origin: origin.unwrap_or("(none)").to_owned(),
        };
        tracing::warn!(%peer, reason = err.reject_reason().label(), "refusing visitor upgrade: {err}");
        app.metrics.rejected(err.reject_reason());
        return err.into_response();
    }
    let origin = crate::origins::OriginKey::new(origin);
    let shutdown = app.shutdown.clone();
    let here = app.peers.enter();
    limit_upgrade(&app, ws)
        .on_upgrade(move |socket| async move {
            let metrics = Arc::clone(&app.metrics);
            metrics.scale.peer(Role::Visitor, true);
            visitor::serve(app, socket, (peer, origin), shutdown).await;
            metrics.scale.peer(Role::Visitor, false);
            drop(here);
        })
        .into_response()
}

async fn agent_upgrade<S: SessionStore, B: Bus>(
    State(app): State<Arc<App<S, B>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    if app.shutdown.is_draining() || app.shutdown.is_shutting_down() {
        app.metrics.scale.refused_while_draining();
        return drain::unavailable();
    }
    let shutdown = app.shutdown.clone();
    let here = app.peers.enter();
    limit_upgrade(&app, ws)
        .on_upgrade(move |socket| async move {
            let metrics = Arc::clone(&app.metrics);
            metrics.scale.peer(Role::Agent, true);
            agent::serve(app, socket, peer, shutdown).await;
            metrics.scale.peer(Role::Agent, false);
            drop(here);
        })
        .into_response()
}

/// Waits for the first frame and checks its version. `Ok(None)` when the
/// peer left (or the relay is stopping) before saying anything.
pub async fn read_hello<S, B, St>(
    app: &App<S, B>,
    conn: &mut Conn,
    stream: &mut St,
    shutdown: &mut Shutdown,
) -> Result<Option<Hello>, RelayError>
where
    St: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let limits = &app.config.limits;
    let timeout = app.config.hello_timeout;
    let role = conn.role();
    let first = tokio::select! {
        () = shutdown.wait() => return Ok(None),
        _ = conn.writer_finished() => return Ok(None),
        first = tokio::time::timeout(timeout, next_frame(stream, role, limits.max_frame_bytes, app.idle_limit(), &app.metrics)) => first,
    };
    match first {
        Err(_) => Err(RelayError::HelloTimeout {
            seconds: timeout.as_secs(),
        }),
        Ok(Ok(Inbound::Frame(bytes))) => Ok(Some(protocol::decode_hello(&bytes)?)),
        Ok(Ok(Inbound::Closed)) => Ok(None),
        Ok(Err(err)) => Err(err),
    }
}
