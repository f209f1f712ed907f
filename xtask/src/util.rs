//! Small helpers for running commands with clear failures.

use std::{
    net::TcpListener,
    path::Path,
    process::{Command, Stdio},
};

use anyhow::{bail, Context, Result};

pub fn step(what: &str) {
    println!("\n==> {what}");
}

/// Runs a command with inherited output; a non-zero exit is an error naming it.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

/// Runs a command and returns its trimmed stdout, or None if it cannot run.
pub fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub fn cargo(args: &[&str]) -> Result<()> {
    run(Command::new(cargo_bin()).args(args))
}

pub fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// `wasm-pack test --headless --chrome` on Debian's Chromium and ChromeDriver.
/// Each crate's `webdriver.json` carries the flags Chromium needs here.
pub fn wasm_pack_test(root: &Path, krate: &str) -> Result<()> {
    run(Command::new("wasm-pack")
        .args(["test", "--headless", "--chrome"])
        .arg(root.join(krate))
        .env("CHROMEDRIVER", crate::setup::CHROMEDRIVER)
        // The whole suite's limit, not a test's: the visitor's passed 20 s
        // on a loaded 2-core machine once the sliced snapshot tests came.
        .env("WASM_BINDGEN_TEST_TIMEOUT", "300"))
}

/// The preferred port if nothing listens on it, else 0 (any free port).
pub fn free_or_any(port: u16) -> u16 {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(_) => port,
        Err(_) => {
            println!("port {port} is busy; using a free one instead");
            0
        }
    }
}
