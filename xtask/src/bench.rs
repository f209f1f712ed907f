//! `cargo xtask bench`: builds what the benchmark measures (the browser
//! artifacts and the service binaries), then runs the benchmark driver
//! (`tests/src/bin/bench`, in the e2e crate so it reuses its Chromium and
//! service harness). Options after the verb go to the driver
//! (`--runs N`, `--only sizes,snapshot,storms,ttfv,latency,canvas,relay`).
//!
//! Owns: the build steps before a run. Does not own: measuring (the driver).

use std::path::Path;

use anyhow::Result;

use crate::{dist, setup, util};

/// Cargo's selection of the bare forwarder the relay section measures
/// against (its own binary, without the browser harness).
pub const FORWARDER: &[&str] = &[
    "-p",
    "e2e",
    "--no-default-features",
    "--features",
    "forwarder",
    "--bin",
    "bench-forwarder",
];

pub fn run(root: &Path, args: &[String]) -> Result<()> {
    // Everything: the benchmark needs Chromium as the end-to-end tests do.
    // (Node.js's npm, which installs rrweb, the driver asks for by name.)
    setup::all(root, setup::Need::Everything)?;
    util::step("build the browser artifacts (cargo xtask dist)");
    dist::build(root)?;
    // Every section measures the build a deployment runs: a debug relay
    // spends visible time forwarding a snapshot of megabytes. (The driver
    // looks in target/release; it needs both binaries there.)
    util::step("build the release relay and static server the benchmark starts");
    util::cargo(&["build", "--release", "-p", "relay", "-p", "demo-site"])?;
    if wants_relay_section(args) {
        // The bare forwarder the relay is held to, as optimised as the relay.
        util::cargo(&[&["build", "--release"][..], FORWARDER].concat())?;
    }
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

/// Whether the run includes the relay section: every section by default,
/// or `relay` named in `--only`.
fn wants_relay_section(args: &[String]) -> bool {
    match args.iter().position(|a| a == "--only") {
        None => true,
        Some(i) => args
            .get(i + 1)
            .is_some_and(|list| list.split(',').any(|s| s == "relay")),
    }
}

#[cfg(test)]
mod tests {
    use super::wants_relay_section;

    #[test]
    fn relay_section_follows_only() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(wants_relay_section(&args(&[])));
        assert!(wants_relay_section(&args(&["--runs", "3"])));
        assert!(wants_relay_section(&args(&["--only", "sizes,relay"])));
        assert!(!wants_relay_section(&args(&["--only", "latency"])));
    }
}
