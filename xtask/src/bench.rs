//! `cargo xtask bench`: builds what the benchmark measures (the browser
//! artifacts and the service binaries), then runs the benchmark driver
//! (`tests/src/bin/bench`, in the e2e crate so it reuses its Chromium and
//! service harness). Options after the verb go to the driver
//! (`--runs N`, `--only sizes,snapshot,storms,ttfv`).
//!
//! Owns: the build steps before a run. Does not own: measuring (the driver).

use std::path::Path;

use anyhow::Result;

use crate::{dist, setup, util};

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    // Everything: the benchmark needs Chromium as the end-to-end tests do.
    // (Node.js's npm, which installs rrweb, the driver asks for by name.)
    setup::all(root, setup::Need::Everything)?;
    util::step("build the browser artifacts (cargo xtask dist)");
    dist::build(root)?;
    util::step("build the relay and the static server the benchmark starts");
    util::cargo(&["build", "-p", "relay", "-p", "demo-site"])?;
    util::step("benchmark: ours against rrweb in headless Chromium");
    let mut cmd = vec![
        "run",
        "-p",
        "e2e",
        "--features",
        "bench",
        "--bin",
        "bench",
        "--",
    ];
    cmd.extend(args.iter().map(String::as_str));
    util::cargo(&cmd)
}
