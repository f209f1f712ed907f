//! css-sync's integration tests, one binary: golden files (`tests/golden/`), behaviour by rule,
//! charsets, and robustness on broken, random and huge input. `support` holds what they share.

// Tests fail by panicking; a missing golden file should stop them loudly.
#![allow(clippy::expect_used, clippy::panic)]

mod behaviour;
mod charset;
mod golden;
mod robustness;
mod support;
