//! All end-to-end tests, one binary (run one at a time: they share 2 cores
//! with a browser, a relay and a site). Each starts its own relay, demo site
//! and Chromium on free ports.

mod canvas;
mod clobber;
mod corpus;
mod ending;
mod fidelity;
mod foundation;
mod fullscreen;
mod invitations;
mod modal;
mod privacy;
mod rejoin;
mod resources;
mod resume;
mod selection;
mod two_way;
