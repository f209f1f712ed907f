//! Browser tests of the visitor capture, run in headless Chromium:
//! `CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome visitor-wasm`.
//!
//! `capture.rs` drives the snapshot and mutation seams directly on fixtures
//! built in the test page; `session.rs` runs whole sessions against a fake
//! WebSocket that stands in for the relay; `resources.rs` the resource
//! service against a fake `fetch`; `twoway.rs` pointing, modes and remote
//! control against the same fake relay; `resume.rs` sessions that survive
//! navigation (sessionStorage, resuming on load, reconnecting).
#![cfg(target_arch = "wasm32")]
// Tests fail by panicking; that is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod canvas;
mod capture;
mod clobber;
mod covers;
mod cssom;
mod limits;
mod privacy;
mod read;
mod resources;
mod resume;
mod session;
mod shadow;
mod sliced_session;
mod slices;
mod text_covers;
mod toplayer;
mod twoway;
mod util;
mod webgl;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
