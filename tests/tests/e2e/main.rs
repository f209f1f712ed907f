//! All end-to-end tests, one binary (run one at a time: they share 2 cores
//! with a browser, a relay and a site). Each starts its own relay, demo site
//! and Chromium on free ports.

mod canvas;
mod corpus;
mod fidelity;
mod foundation;
mod privacy;
mod rejoin;
mod resources;
mod resume;
mod two_way;
