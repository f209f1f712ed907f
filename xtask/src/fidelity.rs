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

/// `args` with each folder made absolute against `cwd`, where the command
/// was run (the driver runs in the project's root).
fn folders_from(cwd: &Path, args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut value_follows = false;
    for arg in args {
        let folder = !value_follows && !arg.starts_with('-');
        value_follows = matches!(arg.as_str(), "--threshold" | "--only");
        out.push(if folder {
            cwd.join(arg).to_string_lossy().into_owned()
        } else {
            arg.clone()
        });
    }
    out
}

pub fn run(root: &Path, cwd: &Path, args: &[String]) -> Result<()> {
    let args = folders_from(cwd, args);
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

#[cfg(test)]
mod tests {
    use super::folders_from;
    use std::path::Path;

    #[test]
    fn folders_are_taken_from_where_the_command_ran_and_option_values_are_left_alone() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            folders_from(
                Path::new("/home/me"),
                &args(&["pages", "--only", "a,b", "/abs", "--threshold", "1"])
            ),
            args(&[
                "/home/me/pages",
                "--only",
                "a,b",
                "/abs",
                "--threshold",
                "1"
            ])
        );
    }
}
