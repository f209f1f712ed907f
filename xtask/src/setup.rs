//! Installs what the project needs on a fresh machine, and only what is
//! missing: the wasm32 target, wasm-bindgen-cli pinned to Cargo.lock's
//! wasm-bindgen, wasm-pack, the npm optimisers dist uses (`shrink.rs`), and
//! for tests Debian's Chromium, ChromeDriver and Redis. Where it cannot install (not root), it says what to run instead.

use std::{path::Path, process::Command};

use anyhow::{bail, Context, Result};

use crate::util::{self, output, run};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const REDIS: &str = "/usr/bin/redis-server";
const WASM_PACK_VERSION: &str = "0.15.1";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Enough to build the browser artifacts.
    Build,
    /// Everything the tests use too.
    Everything,
}

pub fn all(root: &Path, need: Need) -> Result<()> {
    wasm_target()?;
    wasm_bindgen_cli(root)?;
    // Optional: without the optimisers dist still builds, only larger.
    if let Err(e) = crate::shrink::install(root) {
        println!("note: {e:#}; `cargo xtask dist` will ship unoptimised files");
    }
    if need == Need::Everything {
        wasm_pack()?;
        debian_packages()?;
    }
    Ok(())
}

fn wasm_target() -> Result<()> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed
        .lines()
        .any(|l| l.trim() == "wasm32-unknown-unknown")
    {
        return Ok(());
    }
    util::step("installing the wasm32-unknown-unknown target");
    run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
        .context("rustup could not add wasm32-unknown-unknown; install it by hand")
}

/// The wasm-bindgen version in Cargo.lock: the CLI must match it exactly.
pub fn locked_wasm_bindgen(root: &Path) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))
        .context("Cargo.lock is missing: run `cargo generate-lockfile`")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_owned());
            }
        }
    }
    bail!("Cargo.lock does not name wasm-bindgen")
}

fn wasm_bindgen_cli(root: &Path) -> Result<()> {
    let want = locked_wasm_bindgen(root)?;
    let have = output("wasm-bindgen", &["--version"]).unwrap_or_default();
    if have.split_whitespace().nth(1) == Some(want.as_str()) {
        return Ok(());
    }
    util::step(&format!(
        "installing wasm-bindgen-cli {want} (matches Cargo.lock)"
    ));
    cargo_install(&["wasm-bindgen-cli", "--version", &want, "--force"])
}

/// `cargo install` with the crate's own lock file, and without it when that
/// lock names a version the registry no longer serves (a yanked dependency
/// makes `--locked` fail on a fresh machine for good).
fn cargo_install(args: &[&str]) -> Result<()> {
    let locked: Vec<&str> = ["install", "--locked"]
        .iter()
        .chain(args)
        .copied()
        .collect();
    if util::cargo(&locked).is_ok() {
        return Ok(());
    }
    util::step("the locked install failed; trying again with the newest compatible dependencies");
    let unlocked: Vec<&str> = ["install"].iter().chain(args).copied().collect();
    util::cargo(&unlocked)
}

fn wasm_pack() -> Result<()> {
    if output("wasm-pack", &["--version"]).is_some() {
        return Ok(());
    }
    util::step("installing wasm-pack");
    cargo_install(&["wasm-pack", "--version", WASM_PACK_VERSION])
}

fn debian_packages() -> Result<()> {
    let missing: Vec<&str> = [
        (CHROMIUM, "chromium"),
        (CHROMEDRIVER, "chromium-driver"),
        (REDIS, "redis-server"),
    ]
    .into_iter()
    .filter(|(path, _)| !Path::new(path).exists())
    .map(|(_, package)| package)
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = output("id", &["-u"]).as_deref() == Some("0");
    if !is_root {
        bail!(
            "the tests need {}; install them with:\n  sudo apt-get update && sudo apt-get install -y {}",
            missing.join(", "),
            missing.join(" ")
        );
    }
    util::step(&format!(
        "installing {} from Debian's packages",
        missing.join(", ")
    ));
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}
