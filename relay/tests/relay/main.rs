//! The relay's integration tests: one binary (as in ripgrep), one module per
//! area. Every test starts its own relay in-process on 127.0.0.1:0 through
//! `relay::run` and talks to it over real sockets. Tests that do not depend
//! on one relay's internals run on every backend (`on_every_backend!`),
//! including two relays sharing a real `redis-server`.

// Tests may panic and unwrap: a failed expectation is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Runs each `async fn name(setup: Setup)` as three tests,
/// `name::memory`, `name::redis` and `name::two_relays`.
macro_rules! on_every_backend {
    ($($test:ident),* $(,)?) => {
        $(
            mod $test {
                use crate::support::Setup;

                #[tokio::test]
                async fn memory() {
                    super::$test(Setup::Memory).await
                }

                #[tokio::test]
                async fn redis() {
                    super::$test(Setup::Redis).await
                }

                #[tokio::test]
                async fn two_relays() {
                    super::$test(Setup::TwoRelays).await
                }
            }
        )*
    };
}

mod access;
mod cli;
mod drain;
mod flow;
mod http;
mod invitations;
mod isolation;
mod lifecycle;
mod limits;
mod masking;
mod processes;
mod redis_server;
mod refusals;
mod replay;
mod resource_redis;
mod resource_serving;
mod resource_support;
mod resources;
mod resume;
mod scale_metrics;
mod scale_out;
mod shared_redis;
mod storm;
mod support;
mod two_way;
