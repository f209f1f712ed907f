//! The crate's one error type. Owns: every way applying the visitor's page or
//! talking to the relay can fail. Does not own: how a failure is shown (the
//! console turns these into a Resync or an "Ended: …" status line).

use protocol::NodeId;

#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    /// A mutation arrived before any snapshot built a document to apply it to.
    #[error("no snapshot has been applied yet")]
    NoDocument,
    #[error("a snapshot's root is not a document node")]
    NotADocument,
    /// A snapshot with more nodes than the console builds
    /// ([`crate::mirror::MAX_SNAPSHOT_NODES`]): refused whole, before the
    /// shown page is touched.
    #[error("the visitor's page has more than {cap} nodes, more than this console builds")]
    TooManyNodes { cap: usize },
    /// An add named a parent the console does not know: the mirror has lost
    /// its place and needs a fresh snapshot.
    #[error("unknown parent node {0:?}")]
    UnknownParent(NodeId),
    #[error("unknown next sibling {0:?}")]
    UnknownSibling(NodeId),
    /// The DOM refused an operation (a node in the wrong place, a document
    /// that went away).
    #[error("the DOM refused: {0}")]
    Dom(String),
    #[error(transparent)]
    Protocol(#[from] protocol::ProtocolError),
}
