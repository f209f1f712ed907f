//! `cargo xtask fidelity [FOLDER ...] [--threshold PCT] [--only NAME]`:
//! builds what the comparison runs (the browser artifacts, the relay, the
//! static server), then runs the driver (`tests/src/bin/fidelity.rs`, in the
//! e2e crate so it shares the end-to-end test's comparison) over every
//! `*.html` of each folder — by default rrweb's record and snapshot fixtures
//! in `../shared/corpus` — and prints a table of per-page differences.
//!
//! Owns: the build steps before a run. Does not own: comparing (the driver
//! and `e2e::fidelity`).

use std::path::Path;

use anyhow::Result;

use crate::{dist, setup, util};

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    // Chromium as the end-to-end tests need it.
    setup::all(root, setup::Need::Everything)?;
    util::step("build the browser artifacts (cargo xtask dist)");
    dist::build(root)?;
    util::step("build the relay and the static server the comparison starts");
    util::cargo(&["build", "-p", "relay", "-p", "demo-site"])?;
    util::step("fidelity: each page directly and through the console, in pixels");
    let mut cmd = vec!["run", "-p", "e2e", "--bin", "fidelity", "--"];
    cmd.extend(args.iter().map(String::as_str));
    util::cargo(&cmd)
}
