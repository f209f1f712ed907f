//! Agent-initiated sessions: an agent's invitation, the integrator API that
//! creates and cancels it, and the inviting agent waiting on its socket for
//! the visitor's page to take the invitation up.
//!
//! Owns: [`InvitationSecret`], [`Inviter`], the [`InvitationStore`] trait
//! (every [`SessionStore`] is one), the routes `POST /api/invitations` and
//! `DELETE /api/invitations/{secret}`, and [`before_join`] (the inviting
//! agent's wait). Does not own: the store's records (`memory/invitations.rs`,
//! `redis_backend/store/invitations.rs`), the visitor's connection
//! (`visitor/` calls [`SessionStore`]'s `take_invitation`) or the join
//! that follows the wait (`agent/`).
//!
//! # The flow
//!
//! 1. The integrator's backend `POST`s with the agent's token: the relay
//!    draws a join code (reserved in the session codes' namespace for the
//!    session it will start, so no visitor gets it meanwhile) and a 256-bit
//!    secret. An agent (a signed token's subject; everyone on the dev token
//!    counts as one) has at most one open invitation, and none while it is
//!    in a live session.
//! 2. The agent's console joins with the code. Before the visitor came, it
//!    gets `ToAgent::Invited` and waits on its socket, listening on the
//!    session's agent topic 0 (agent ids start at 1, so no agent is ever
//!    there).
//! 3. The visitor's page starts with the secret: the session is created
//!    under the invitation's code, and the visitor's relay wakes the waiting
//!    agent (on any relay), which then joins as any agent does. Nothing is
//!    seen before the visitor accepts it.
//!
//! Only the inviting agent may use the code; anyone else gets the answer a
//! wrong code gets. An unknown, used or expired secret in a visitor's hello
//! is refused (and counted like a wrong code), never a new session.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use futures_util::Stream;
use protocol::{AgentId, AgentMsg, EndReason, JoinCode, Mode, SessionId, ToAgent};
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::auth::AgentSubject;
use crate::bus::{Bus, Delivery, Topic};
use crate::connection::{next_frame, Conn, Inbound};
use crate::metrics::Role;
use crate::server::App;
use crate::sessions::{NewSession, SessionStore};
use crate::shutdown::Shutdown;
use crate::RelayError;

/// Random bytes in a secret: 256 bits.
const SECRET_BYTES: usize = 32;

/// What the integrator hands the visitor's page: `base64url(32 random
/// bytes)`. The relay keeps only its SHA-256 ([`InvitationSecret::digest`]),
/// so a look at Redis does not give anyone a usable invitation.
#[derive(Clone, PartialEq, Eq)]
pub struct InvitationSecret(String);

impl std::fmt::Debug for InvitationSecret {
    // Never in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InvitationSecret(…)")
    }
}

impl InvitationSecret {
    pub fn new() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        InvitationSecret(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// `None` unless `text` has a secret's shape (so junk is refused before
    /// any store is asked).
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        (bytes.len() == SECRET_BYTES).then(|| InvitationSecret(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name the relay files the invitation under (hex SHA-256).
    pub fn digest(&self) -> InvitationDigest {
        let hash = Sha256::digest(self.0.as_bytes());
        InvitationDigest(hash.iter().map(|b| format!("{b:02x}")).collect())
    }
}

impl Default for InvitationSecret {
    fn default() -> Self {
        Self::new()
    }
}

/// An invitation's name in the store: the hex SHA-256 of its secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InvitationDigest(pub String);

/// Who an invitation belongs to: a signed token's subject, or everyone on
/// the development token as one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Inviter(pub String);

impl Inviter {
    pub fn of(subject: &AgentSubject) -> Inviter {
        match subject {
            AgentSubject::Signed(sub) => Inviter(format!("sub:{sub}")),
            AgentSubject::Dev => Inviter("dev".into()),
        }
    }

    /// The subject whose one-session claim also blocks a new invitation
    /// (none for the dev token, which is never limited to one session).
    pub fn claim_subject(subject: &AgentSubject) -> Option<&str> {
        match subject {
            AgentSubject::Signed(sub) => Some(sub),
            AgentSubject::Dev => None,
        }
    }
}

/// A new invitation, as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub secret: InvitationSecret,
    pub code: JoinCode,
    /// The session the visitor's page will start (its id drawn now).
    pub session: SessionId,
    pub expires_in: Duration,
}

/// An open invitation, as found by its code or its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invited {
    pub digest: InvitationDigest,
    pub inviter: Inviter,
    pub code: JoinCode,
    pub session: SessionId,
    /// The mode the integrator invited the agent in; its join asks for it.
    pub mode: Mode,
    /// The visitor's page took it up: the session exists.
    pub taken: bool,
    pub expires_in: Duration,
}

/// What a cancellation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancelled {
    /// Gone now; a waiting agent must be told if the visitor had not come.
    Cancelled { session: SessionId, taken: bool },
    /// No open invitation of this agent has this secret.
    Unknown,
}

/// The invitations' records, kept by each session backend beside its
/// sessions (the code an invitation reserves is a session code).
pub trait InvitationStore: Send + Sync + 'static {
    /// Opens an invitation for `inviter`, valid `ttl`: a fresh code,
    /// reserved for a new session id, and a fresh secret. Fails with
    /// [`RelayError::InvitationBusy`] while `inviter` has an open invitation
    /// or `claim` (its subject) holds a session.
    fn invite(
        &self,
        inviter: &Inviter,
        claim: Option<&str>,
        mode: Mode,
        ttl: Duration,
    ) -> impl std::future::Future<Output = Result<Invitation, RelayError>> + Send;

    /// The open invitation whose code is `code`.
    fn invitation_for_code(
        &self,
        code: &JoinCode,
    ) -> impl std::future::Future<Output = Result<Option<Invited>, RelayError>> + Send;

    /// A visitor's page presents `secret`: if it names an open invitation
    /// not yet taken, it is taken and its session created (under its code,
    /// visitor present). `None` otherwise: unknown, used, expired or
    /// cancelled, indistinguishable on purpose.
    fn take_invitation(
        &self,
        secret: &InvitationSecret,
        page_url: String,
    ) -> impl std::future::Future<Output = Result<Option<(NewSession, Invited)>, RelayError>> + Send;

    /// The inviting agent joined its session: the invitation is closed (its
    /// code was spent by the join) and the agent may invite again later.
    fn close_invitation(
        &self,
        invited: &Invited,
    ) -> impl std::future::Future<Output = Result<(), RelayError>> + Send;

    /// `inviter` withdraws the invitation `secret` names.
    fn cancel_invitation(
        &self,
        inviter: &Inviter,
        secret: &InvitationSecret,
    ) -> impl std::future::Future<Output = Result<Cancelled, RelayError>> + Send;
}

/// Where an inviting agent waits: the session's agent topic 0, which no
/// agent ever has (ids start at 1).
pub fn waiting_topic(session: &SessionId) -> Topic {
    Topic::Agent(session.clone(), AgentId(0))
}

/// Published on [`waiting_topic`] when the visitor's page took the
/// invitation up; read by the waiting connection, never sent to a socket.
pub fn arrived() -> Delivery {
    Delivery::Agent(ToAgent::Invited { expires_secs: 0 })
}

/// Published on [`waiting_topic`] when the invitation was cancelled.
fn withdrawn() -> Delivery {
    Delivery::Agent(ToAgent::Ended {
        reason: EndReason::InvitationCancelled,
    })
}

fn whole_secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// What an agent's join code led to before the join itself.
pub(crate) enum BeforeJoin {
    /// Join as usual; `Some` when it is the inviter joining its invitation's
    /// session (the join asks for the invitation's mode, and closes it).
    Join(Option<Invited>),
    /// The wait ended without a session: say this (if anything) and close.
    Over(Option<Delivery>),
}

/// Runs before an agent's join: an invitation's code is the inviter's
/// alone (anyone else gets [`RelayError::UnknownCode`], which the caller
/// counts like any wrong code); before the visitor came, the inviter is
/// told so and waits here, reading only `Leave` from its socket.
pub(crate) async fn before_join<S, B, St>(
    app: &App<S, B>,
    conn: &mut Conn,
    stream: &mut St,
    shutdown: &mut Shutdown,
    subject: &AgentSubject,
    code: &JoinCode,
) -> Result<BeforeJoin, RelayError>
where
    S: SessionStore,
    B: Bus,
    St: Stream<Item = Result<axum::extract::ws::Message, axum::Error>> + Unpin,
{
    let Some(found) = app.store.invitation_for_code(code).await? else {
        return Ok(BeforeJoin::Join(None));
    };
    if found.inviter != Inviter::of(subject) {
        tracing::info!(session = %found.session, "refused another agent the code of an invitation");
        return Err(RelayError::UnknownCode);
    }
    if found.taken {
        return Ok(BeforeJoin::Join(Some(found)));
    }
    // Subscribed before looking again, so a visitor arriving in between is
    // either seen by the second look or heard on the topic.
    let (mailbox, mut waking) = crate::bus::mailbox(4);
    let _subscription = app
        .bus
        .subscribe(waiting_topic(&found.session), mailbox)
        .await?;
    let expires_in = match app.store.invitation_for_code(code).await? {
        Some(again) if again.taken => return Ok(BeforeJoin::Join(Some(again))),
        Some(again) => again.expires_in,
        None => {
            let ended = Delivery::Agent(ToAgent::Ended {
                reason: EndReason::InvitationExpired,
            });
            return Ok(BeforeJoin::Over(Some(ended)));
        }
    };
    conn.send(Delivery::Agent(ToAgent::Invited {
        expires_secs: whole_secs(expires_in),
    }));
    tracing::info!(session = %found.session, "inviting agent waits for the visitor");
    let deadline = tokio::time::sleep(expires_in);
    tokio::pin!(deadline);
    let ended = |reason| {
        Ok(BeforeJoin::Over(Some(Delivery::Agent(ToAgent::Ended {
            reason,
        }))))
    };
    // A draining relay sends the inviter on: its invitation is in the
    // shared store, so it waits just as well on another relay.
    let draining = shutdown.draining();
    tokio::pin!(draining);
    let mut told_to_move = false;
    loop {
        tokio::select! {
            () = shutdown.wait() => {
                if shutdown.is_draining() {
                    let reason = "The relay is restarting: reconnect to keep waiting.".to_owned();
                    return Ok(BeforeJoin::Over(Some(Delivery::Close { reason })));
                }
                return ended(EndReason::RelayShutdown);
            }
            () = &mut draining, if !told_to_move => {
                told_to_move = true;
                let within_ms = app.config.drain.within_ms();
                conn.send(Delivery::Agent(ToAgent::Reconnect { within_ms }));
                app.metrics.scale.reconnect_sent(Role::Agent);
            }
            _ = conn.writer_finished() => return Ok(BeforeJoin::Over(None)),
            () = &mut deadline => {
                tracing::info!(session = %found.session, "invitation expired while its agent waited");
                return ended(EndReason::InvitationExpired);
            }
            woken = waking.recv() => match woken {
                Some(Delivery::Agent(ToAgent::Invited { .. })) => {
                    let mut found = found;
                    found.taken = true;
                    return Ok(BeforeJoin::Join(Some(found)));
                }
                Some(Delivery::Agent(ToAgent::Ended { reason })) => return ended(reason),
                Some(Delivery::Agent(ToAgent::Error(err))) => {
                    return Ok(BeforeJoin::Over(Some(Delivery::Agent(ToAgent::Error(err)))));
                }
                Some(_) => {}
                None => return Err(RelayError::Internal("invitation wait lost its topic".into())),
            },
            inbound = next_frame(stream, Role::Agent, app.config.limits.max_frame_bytes, app.idle_limit(), &app.metrics) => {
                match inbound? {
                    Inbound::Closed => return Ok(BeforeJoin::Over(None)),
                    Inbound::Frame(bytes) => {
                        // Pointing or asking for a mode before a session
                        // exists is harmless noise; only leaving matters.
                        if let Ok(AgentMsg::Leave) = protocol::decode::<AgentMsg>(&bytes) {
                            return ended(EndReason::AgentLeft);
                        }
                    }
                }
            }
        }
    }
}

/// The visitor's page took the invitation up: wakes the waiting inviter
/// (on whichever relay). Nobody listening is fine: the inviter comes later.
pub(crate) async fn wake_inviter<B: Bus>(bus: &B, session: &SessionId) {
    if let Err(err) = bus.publish(&waiting_topic(session), arrived()).await {
        tracing::error!(%session, "could not wake the inviting agent: {err}");
    }
}

/// `POST /api/invitations` and `DELETE /api/invitations/{secret}`.
pub fn routes<S: SessionStore, B: Bus>(app: Arc<App<S, B>>) -> Router {
    Router::new()
        .route("/api/invitations", post(create::<S, B>))
        .route("/api/invitations/{secret}", delete(cancel::<S, B>))
        .with_state(app)
}

/// The optional body of a `POST`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    #[serde(default)]
    mode: Option<String>,
}

fn parse_mode(text: Option<&str>) -> Result<Mode, String> {
    match text {
        None | Some("view") => Ok(Mode::ViewOnly),
        Some("shared") => Ok(Mode::Shared),
        Some(other) => Err(format!(
            "mode {other:?} is unknown: use \"view\" (the default) or \"shared\""
        )),
    }
}

/// A JSON refusal: `{"error": "<a sentence>"}`.
fn refuse(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message });
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The one place an API refusal becomes a status.
fn refusal(err: &RelayError) -> Response {
    let status = match err {
        RelayError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        RelayError::InvitationBusy => StatusCode::CONFLICT,
        RelayError::TooManyGuesses { .. } => StatusCode::TOO_MANY_REQUESTS,
        RelayError::Backend(_) => StatusCode::SERVICE_UNAVAILABLE,
        RelayError::Config(_) | RelayError::Internal(_) | RelayError::Io(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    if status.is_server_error() {
        tracing::error!("invitation API: {err}");
    }
    refuse(status, &err.frame().message)
}

/// The agent's token from `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Result<&str, RelayError> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            RelayError::Unauthorized(
                "this API needs the agent's token as `Authorization: Bearer <token>`".into(),
            )
        })
}

async fn create<S: SessionStore, B: Bus>(
    State(app): State<Arc<App<S, B>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let identity = match bearer(&headers).and_then(|t| app.config.auth.verify(t)) {
        Ok(identity) => identity,
        Err(err) => return refusal(&err),
    };
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        Request::default()
    } else {
        match serde_json::from_slice::<Request>(&body) {
            Ok(request) => request,
            Err(err) => {
                let message = format!("the body must be JSON like {{\"mode\":\"view\"}}: {err}");
                return refuse(StatusCode::BAD_REQUEST, &message);
            }
        }
    };
    let mode = match parse_mode(request.mode.as_deref()) {
        Ok(mode) => mode,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    let inviter = Inviter::of(&identity.subject);
    let claim = Inviter::claim_subject(&identity.subject);
    let ttl = app.config.limits.code_ttl;
    match app.store.invite(&inviter, claim, mode, ttl).await {
        Ok(invitation) => {
            tracing::info!(session = %invitation.session, ?mode, "invitation created");
            let body = serde_json::json!({
                "invitation": invitation.secret.as_str(),
                "code": invitation.code.as_str(),
                "expires_in": invitation.expires_in.as_secs(),
            });
            (
                StatusCode::CREATED,
                [(CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
        Err(err) => refusal(&err),
    }
}

async fn cancel<S: SessionStore, B: Bus>(
    State(app): State<Arc<App<S, B>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(secret): Path<String>,
) -> Response {
    let identity = match bearer(&headers).and_then(|t| app.config.auth.verify(t)) {
        Ok(identity) => identity,
        Err(err) => return refusal(&err),
    };
    if let Err(err) = app.guesses.check_addr(peer.ip()) {
        return refusal(&err);
    }
    let unknown = || {
        refuse(
            StatusCode::NOT_FOUND,
            "you have no open invitation with this secret (it was used, cancelled or expired)",
        )
    };
    let Some(secret) = InvitationSecret::parse(&secret) else {
        app.guesses.miss_addr(peer.ip());
        return unknown();
    };
    let inviter = Inviter::of(&identity.subject);
    match app.store.cancel_invitation(&inviter, &secret).await {
        Ok(Cancelled::Cancelled { session, taken }) => {
            tracing::info!(%session, taken, "invitation cancelled");
            if !taken {
                if let Err(err) = app.bus.publish(&waiting_topic(&session), withdrawn()).await {
                    tracing::error!(%session, "could not tell the waiting agent: {err}");
                }
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Cancelled::Unknown) => {
            app.guesses.miss_addr(peer.ip());
            unknown()
        }
        Err(err) => refusal(&err),
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_256_bit_url_safe_and_parse_back() {
        let a = InvitationSecret::new();
        let b = InvitationSecret::new();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 43);
        assert_eq!(InvitationSecret::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.digest(), a.clone().digest());
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest().0.len(), 64);
    }

    #[test]
    fn junk_is_not_a_secret() {
        for junk in ["", "abc", "123456", &"A".repeat(44), "!!!!"] {
            assert!(InvitationSecret::parse(junk).is_none(), "{junk:?}");
        }
    }

    #[test]
    fn the_dev_token_is_one_inviter_and_signed_subjects_are_their_own() {
        let dev = Inviter::of(&AgentSubject::Dev);
        let ann = Inviter::of(&AgentSubject::Signed("ann".into()));
        assert_ne!(dev, ann);
        // A subject literally named "dev" is not the dev token.
        assert_ne!(dev, Inviter::of(&AgentSubject::Signed("dev".into())));
        assert_eq!(Inviter::claim_subject(&AgentSubject::Dev), None);
    }

    #[test]
    fn modes_parse_with_view_as_the_default() {
        assert_eq!(parse_mode(None), Ok(Mode::ViewOnly));
        assert_eq!(parse_mode(Some("shared")), Ok(Mode::Shared));
        assert!(parse_mode(Some("admin")).is_err());
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let s = InvitationSecret::new();
        assert!(!format!("{s:?}").contains(s.as_str()));
    }
}
