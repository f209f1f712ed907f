//! End-to-end harness: starts the real relay and demo site as processes on
//! free ports, and drives headless Chromium through the DevTools protocol.
//!
//! Owns: process lifetimes (killed on drop), the browser session, DOM
//! comparison between the visitor's page and the console's iframe.
//! Does not own: any product logic; it only uses the outer names of
//! CONTRACT.md (`data-cobrowse-*`, `iframe#cobrowse-frame`, the JS API).

pub mod services;

#[cfg(feature = "browser")]
pub mod browser;
#[cfg(feature = "browser")]
pub mod fidelity;
#[cfg(feature = "browser")]
pub mod pixels;
#[cfg(feature = "browser")]
pub mod proxy;
#[cfg(feature = "browser")]
pub mod scenario;
#[cfg(feature = "browser")]
pub mod tap;
