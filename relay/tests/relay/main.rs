//! The relay's integration tests: one binary (as in ripgrep), one module per
//! area. Every test starts its own relay in-process on 127.0.0.1:0 through
//! `relay::run` and talks to it over real sockets.

// Tests may panic and unwrap: a failed expectation is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod flow;
mod http;
mod isolation;
mod refusals;
mod support;
