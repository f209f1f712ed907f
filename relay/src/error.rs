//! The relay's one error type, and the one place where it becomes what a peer
//! sees: an [`ErrorFrame`] plus a WebSocket close code, an HTTP status, or a
//! metric label.
//!
//! Resource requests (`/res/...`) are refused with a status and a JSON body
//! `{"error": "<a sentence>"}` ([`RelayError::json_response`]), counted by
//! [`RefusalReason`].
//!
//! Owns: [`RelayError`] and its mappings. Does not own: deciding *when* to
//! fail a connection (the role handlers do) or writing the frame (the writer
//! task in `connection.rs` does).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::{ErrorCode, ErrorFrame, ProtocolError};

/// Everything that can refuse a request, a connection or a frame.
///
/// Messages are written for the person who reads them in a console or a log:
/// they say what happened and what to do, and never leak internals.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("the peer speaks protocol version {theirs}, this relay speaks {ours}")]
    VersionMismatch { ours: u16, theirs: u16 },
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("text frame received; this protocol only uses binary frames")]
    TextFrame,
    #[error("frame larger than the relay's limit of {limit} bytes")]
    FrameTooLarge { limit: usize },
    #[error("no hello within {seconds} s of connecting")]
    HelloTimeout { seconds: u64 },
    #[error("this endpoint is for {expected}s, but the hello came from another role")]
    WrongRole { expected: &'static str },
    #[error("frame out of turn: {0}")]
    OutOfTurn(String),
    #[error("no live session has this join code")]
    UnknownCode,
    #[error("too many wrong join codes from this address or agent; wait {seconds} s before trying again")]
    TooManyGuesses { seconds: u64 },
    /// A resume the relay will not grant: no session in its grace window
    /// or live has the token (wrong, ended, expired; indistinguishable on
    /// purpose), or resuming is off.
    /// A new session over the relay's `[admission]` bucket (a reconnect
    /// storm, or a flood). Resumes never get this.
    #[error("this relay is opening too many new sessions at once; try again in {seconds} s (Retry-After: {seconds})")]
    NewSessionsLimited { seconds: u64 },
    #[error("the session to resume has ended")]
    ResumeRefused,
    #[error("{0}")]
    Unauthorized(String),
    #[error("the session already has its limit of {limit} agents")]
    TooManyAgents { limit: usize },
    /// The agent's identity is admitted or waiting in another live session
    /// (one session at a time per agent).
    #[error("you are already in a co-browsing session; leave it first")]
    AgentBusy,
    /// An agent asked for a second invitation (one at a time) or invited
    /// while in a live session.
    #[error("you already have an open invitation or a live session; cancel or end it first")]
    InvitationBusy,
    /// A visitor's page presented an invitation that is unknown, used,
    /// cancelled or expired (indistinguishable on purpose).
    #[error("this invitation is no longer valid (it was used, cancelled or has expired); ask the agent for a new one")]
    InvitationRefused,
    /// The page's origin already has `max_sessions_per_origin` live
    /// sessions.
    #[error("this site already has {limit} live co-browsing sessions, the relay's limit; try again later")]
    TooManySessions { limit: usize },
    /// A visitor connection sent more than `visitor_messages_per_second`.
    #[error("more than {limit} messages a second from this page; the relay closed the connection")]
    TooManyMessages { limit: u32 },
    #[error("the connection could not keep up and its queue of {capacity} frames filled")]
    TooSlow { capacity: usize },
    #[error("origin {origin:?} is not allowed to start a session")]
    OriginNotAllowed { origin: String },
    /// A bad flag or config file; the text is the whole message.
    #[error("{0}")]
    Config(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// The shared backend (Redis) failed or could not be reached; the text
    /// is for the relay's log, never for a peer.
    #[error("session backend: {0}")]
    Backend(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// An upload without the session's token (or with a wrong one).
    #[error("this upload needs the session's upload token as `Authorization: Bearer <token>`")]
    UploadUnauthorized,
    #[error("this session did not offer a resource with hash {hash}; offer it first")]
    NotOffered { hash: String },
    #[error("the uploaded bytes do not hash to {hash}: a visitor cannot store bytes under another file's hash")]
    HashMismatch { hash: String },
    #[error("the resource is {size} bytes, over the relay's limit of {limit} bytes per resource")]
    ResourceTooLarge { size: u64, limit: u64 },
    #[error("an upload chunk may be at most {limit} bytes")]
    ChunkTooLarge { limit: usize },
    #[error("the session's upload budget of {budget} bytes is used up ({used} bytes uploaded)")]
    OverBudget { budget: u64, used: u64 },
    #[error("content type {content_type:?} is refused: the relay serves only images, fonts, stylesheets and media")]
    RefusedType { content_type: String },
    #[error("the bytes offered as {content_type:?} are an HTML document; the relay never serves HTML as a resource")]
    DisguisedHtml { content_type: String },
    /// A malformed resource request; the text says what was wrong.
    #[error("{0}")]
    BadResourceRequest(String),
    /// An upload chunk that does not start where the held bytes end.
    #[error("this chunk starts at byte {offset}, but the relay holds {received} bytes of this upload; resume from {received}")]
    WrongOffset { offset: u64, received: u64 },
    /// No such resource for this key; the text says which part was unknown.
    #[error("{0}")]
    NoSuchResource(String),
}

/// The label of `resource_refusals_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    Unauthorized,
    Origin,
    BadRequest,
    NotOffered,
    NotFound,
    HashMismatch,
    TooLarge,
    OverBudget,
    RefusedType,
    Internal,
}

impl RefusalReason {
    pub const ALL: [RefusalReason; 10] = [
        RefusalReason::Unauthorized,
        RefusalReason::Origin,
        RefusalReason::BadRequest,
        RefusalReason::NotOffered,
        RefusalReason::NotFound,
        RefusalReason::HashMismatch,
        RefusalReason::TooLarge,
        RefusalReason::OverBudget,
        RefusalReason::RefusedType,
        RefusalReason::Internal,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RefusalReason::Unauthorized => "unauthorized",
            RefusalReason::Origin => "origin",
            RefusalReason::BadRequest => "bad_request",
            RefusalReason::NotOffered => "not_offered",
            RefusalReason::NotFound => "not_found",
            RefusalReason::HashMismatch => "hash_mismatch",
            RefusalReason::TooLarge => "too_large",
            RefusalReason::OverBudget => "over_budget",
            RefusalReason::RefusedType => "refused_type",
            RefusalReason::Internal => "internal",
        }
    }
}

/// The label of `rejected_total{reason}`; one per way a peer can be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    VersionMismatch,
    BadFrame,
    FrameTooLarge,
    UnknownCode,
    Unauthorized,
    NotAllowed,
    TooSlow,
    RateLimited,
    Origin,
    Internal,
}

impl RejectReason {
    pub const ALL: [RejectReason; 10] = [
        RejectReason::VersionMismatch,
        RejectReason::BadFrame,
        RejectReason::FrameTooLarge,
        RejectReason::UnknownCode,
        RejectReason::Unauthorized,
        RejectReason::NotAllowed,
        RejectReason::TooSlow,
        RejectReason::RateLimited,
        RejectReason::Origin,
        RejectReason::Internal,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RejectReason::VersionMismatch => "version_mismatch",
            RejectReason::BadFrame => "bad_frame",
            RejectReason::FrameTooLarge => "frame_too_large",
            RejectReason::UnknownCode => "unknown_code",
            RejectReason::Unauthorized => "unauthorized",
            RejectReason::NotAllowed => "not_allowed",
            RejectReason::TooSlow => "too_slow",
            RejectReason::RateLimited => "rate_limited",
            RejectReason::Origin => "origin",
            RejectReason::Internal => "internal",
        }
    }
}

impl RelayError {
    /// The wire error code; its `close_code()` closes the socket.
    pub fn code(&self) -> ErrorCode {
        match self {
            RelayError::VersionMismatch { .. } => ErrorCode::VersionMismatch,
            RelayError::Malformed(_)
            | RelayError::TextFrame
            | RelayError::HelloTimeout { .. }
            | RelayError::WrongRole { .. }
            | RelayError::OutOfTurn(_) => ErrorCode::BadFrame,
            RelayError::FrameTooLarge { .. } => ErrorCode::FrameTooLarge,
            RelayError::UnknownCode => ErrorCode::UnknownCode,
            RelayError::Unauthorized(_) => ErrorCode::Unauthorized,
            RelayError::TooManyAgents { .. }
            | RelayError::AgentBusy
            | RelayError::InvitationBusy
            | RelayError::InvitationRefused
            | RelayError::OriginNotAllowed { .. }
            | RelayError::ResumeRefused => ErrorCode::NotAllowed,
            RelayError::TooSlow { .. }
            | RelayError::TooManyGuesses { .. }
            | RelayError::TooManySessions { .. }
            | RelayError::TooManyMessages { .. }
            | RelayError::NewSessionsLimited { .. } => ErrorCode::RateLimited,
            RelayError::Config(_)
            | RelayError::Internal(_)
            | RelayError::Backend(_)
            | RelayError::Io(_) => ErrorCode::Internal,
            // Resource refusals are HTTP answers, never frames; these
            // codes only keep the match whole.
            RelayError::UploadUnauthorized => ErrorCode::Unauthorized,
            RelayError::NotOffered { .. }
            | RelayError::HashMismatch { .. }
            | RelayError::ResourceTooLarge { .. }
            | RelayError::ChunkTooLarge { .. }
            | RelayError::OverBudget { .. }
            | RelayError::RefusedType { .. }
            | RelayError::DisguisedHtml { .. }
            | RelayError::BadResourceRequest(_)
            | RelayError::WrongOffset { .. }
            | RelayError::NoSuchResource(_) => ErrorCode::NotAllowed,
        }
    }

    /// The label a refused resource request is counted under.
    pub fn refusal_reason(&self) -> RefusalReason {
        match self {
            RelayError::UploadUnauthorized | RelayError::Unauthorized(_) => {
                RefusalReason::Unauthorized
            }
            RelayError::OriginNotAllowed { .. } => RefusalReason::Origin,
            RelayError::NotOffered { .. } => RefusalReason::NotOffered,
            RelayError::NoSuchResource(_) => RefusalReason::NotFound,
            RelayError::HashMismatch { .. } => RefusalReason::HashMismatch,
            RelayError::ResourceTooLarge { .. } | RelayError::ChunkTooLarge { .. } => {
                RefusalReason::TooLarge
            }
            RelayError::OverBudget { .. } => RefusalReason::OverBudget,
            RelayError::RefusedType { .. } | RelayError::DisguisedHtml { .. } => {
                RefusalReason::RefusedType
            }
            RelayError::Config(_)
            | RelayError::Internal(_)
            | RelayError::Backend(_)
            | RelayError::Io(_) => RefusalReason::Internal,
            _ => RefusalReason::BadRequest,
        }
    }

    /// The HTTP status of a refused resource request.
    pub fn http_status(&self) -> StatusCode {
        match self.refusal_reason() {
            RefusalReason::Unauthorized => StatusCode::UNAUTHORIZED,
            RefusalReason::Origin => StatusCode::FORBIDDEN,
            RefusalReason::BadRequest => StatusCode::BAD_REQUEST,
            RefusalReason::NotOffered | RefusalReason::NotFound => StatusCode::NOT_FOUND,
            RefusalReason::HashMismatch => StatusCode::CONFLICT,
            RefusalReason::TooLarge | RefusalReason::OverBudget => StatusCode::PAYLOAD_TOO_LARGE,
            RefusalReason::RefusedType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RefusalReason::Internal => match self {
                RelayError::Backend(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// A resource request's refusal: the status and `{"error": "..."}`
    /// (plus `"received"` when a chunk came at the wrong offset, so the
    /// uploader can resume).
    pub fn json_response(&self) -> Response {
        let mut body = serde_json::json!({ "error": self.frame().message });
        if let RelayError::WrongOffset { received, .. } = self {
            body["received"] = serde_json::json!(received);
        }
        (
            self.http_status(),
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }

    pub fn reject_reason(&self) -> RejectReason {
        match self {
            RelayError::VersionMismatch { .. } => RejectReason::VersionMismatch,
            RelayError::Malformed(_)
            | RelayError::TextFrame
            | RelayError::HelloTimeout { .. }
            | RelayError::WrongRole { .. }
            | RelayError::OutOfTurn(_) => RejectReason::BadFrame,
            RelayError::FrameTooLarge { .. } => RejectReason::FrameTooLarge,
            RelayError::UnknownCode => RejectReason::UnknownCode,
            RelayError::Unauthorized(_) => RejectReason::Unauthorized,
            RelayError::TooManyAgents { .. }
            | RelayError::AgentBusy
            | RelayError::InvitationBusy
            | RelayError::InvitationRefused
            | RelayError::ResumeRefused => RejectReason::NotAllowed,
            RelayError::TooSlow { .. } => RejectReason::TooSlow,
            RelayError::TooManyGuesses { .. }
            | RelayError::TooManySessions { .. }
            | RelayError::TooManyMessages { .. }
            | RelayError::NewSessionsLimited { .. } => RejectReason::RateLimited,
            RelayError::OriginNotAllowed { .. } => RejectReason::Origin,
            RelayError::Config(_)
            | RelayError::Internal(_)
            | RelayError::Backend(_)
            | RelayError::Io(_) => RejectReason::Internal,
            RelayError::UploadUnauthorized => RejectReason::Unauthorized,
            RelayError::NotOffered { .. }
            | RelayError::HashMismatch { .. }
            | RelayError::ResourceTooLarge { .. }
            | RelayError::ChunkTooLarge { .. }
            | RelayError::OverBudget { .. }
            | RelayError::RefusedType { .. }
            | RelayError::DisguisedHtml { .. }
            | RelayError::BadResourceRequest(_)
            | RelayError::WrongOffset { .. }
            | RelayError::NoSuchResource(_) => RejectReason::NotAllowed,
        }
    }

    /// What the peer reads. Internal details stay in the relay's log.
    pub fn frame(&self) -> ErrorFrame {
        let message = match self {
            RelayError::VersionMismatch { ours, theirs } => format!(
                "This relay speaks protocol version {ours}, but your client speaks version \
                 {theirs}. Reload the page or update the client so both match."
            ),
            RelayError::Config(_) | RelayError::Internal(_) | RelayError::Io(_) => {
                "The relay had an internal error; please try again.".to_owned()
            }
            RelayError::Backend(_) => "The relay lost contact with its session store; \
                 please try again in a moment."
                .to_owned(),
            RelayError::UnknownCode => {
                "No live session has this code. Check the 6 digits with the visitor; a code \
                 admits one agent, expires when unused for a while, and stops working when \
                 the visitor's session ends."
                    .to_owned()
            }
            other => {
                let mut text = other.to_string();
                if let Some(first) = text.get_mut(..1) {
                    first.make_ascii_uppercase();
                }
                text.push('.');
                text
            }
        };
        ErrorFrame {
            code: self.code(),
            message,
        }
    }
}

impl From<ProtocolError> for RelayError {
    fn from(err: ProtocolError) -> Self {
        match err {
            ProtocolError::VersionMismatch { ours, theirs } => {
                RelayError::VersionMismatch { ours, theirs }
            }
            ProtocolError::Malformed(m) => RelayError::Malformed(m),
            ProtocolError::InvalidJoinCode => {
                RelayError::Malformed("invalid join code: expected 6 digits".to_owned())
            }
            // Only the relay's own messages are encoded here, so this is our bug.
            ProtocolError::Encode(m) => RelayError::Internal(m),
        }
    }
}

/// Refusals that happen before a WebSocket upgrade are plain HTTP answers.
impl IntoResponse for RelayError {
    fn into_response(self) -> Response {
        let status = match self.reject_reason() {
            RejectReason::Origin | RejectReason::Unauthorized => StatusCode::FORBIDDEN,
            RejectReason::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        (status, self.frame().message).into_response()
    }
}

#[cfg(test)]
// A failed expectation in a test is the point of the test.
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn version_mismatch_names_both_versions() {
        let err = RelayError::from(ProtocolError::VersionMismatch { ours: 1, theirs: 7 });
        let frame = err.frame();
        assert_eq!(frame.code, ErrorCode::VersionMismatch);
        assert!(frame.message.contains("version 1"), "{}", frame.message);
        assert!(frame.message.contains("version 7"), "{}", frame.message);
    }

    #[test]
    fn internal_details_do_not_reach_the_peer() {
        let frame = RelayError::Internal("mutex poisoned at memory.rs:42".into()).frame();
        assert_eq!(frame.code, ErrorCode::Internal);
        assert!(!frame.message.contains("memory.rs"));
        let frame = RelayError::Backend("redis://:hunter2@db: refused".into()).frame();
        assert_eq!(frame.code, ErrorCode::Internal);
        assert!(!frame.message.contains("hunter2"), "{}", frame.message);
        assert!(frame.message.contains("session store"), "{}", frame.message);
    }

    #[test]
    fn messages_read_as_sentences() {
        let frame = RelayError::TooManyAgents { limit: 8 }.frame();
        assert_eq!(
            frame.message,
            "The session already has its limit of 8 agents."
        );
        assert_eq!(frame.code.close_code(), 4006);
    }

    #[test]
    fn resource_refusals_are_json_sentences_with_their_status() {
        let err = RelayError::HashMismatch {
            hash: "ab".repeat(32),
        };
        assert_eq!(err.http_status(), StatusCode::CONFLICT);
        assert!(err.frame().message.contains("another file's hash"));
        assert_eq!(
            RelayError::UploadUnauthorized.http_status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            RelayError::OverBudget { budget: 1, used: 1 }.http_status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            RelayError::DisguisedHtml {
                content_type: "image/png".into()
            }
            .http_status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            RelayError::Backend("down".into()).http_status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let mut labels: Vec<_> = RefusalReason::ALL.iter().map(|r| r.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), RefusalReason::ALL.len());
    }

    #[test]
    fn every_reason_has_a_distinct_label() {
        let mut labels: Vec<_> = RejectReason::ALL.iter().map(|r| r.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), RejectReason::ALL.len());
    }
}
