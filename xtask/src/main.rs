//! `cargo xtask`: every piece of automation, in Rust, from a fresh clone.
//!
//! Owns: installing what the project needs on a fresh machine (`setup`),
//! building the browser artifacts (`dist`), running the demo and every test.
//! Does not own: the test logic itself (crates' tests and `tests/`).

mod bench;
mod dist;
mod fidelity;
mod fuzz;
mod imports;
mod load;
mod setup;
mod shrink;
mod util;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

const USAGE: &str = "\
usage: cargo xtask <verb>

  demo    install what is missing, build everything, start the relay and the demo
          site, and print the two URLs to open (Ctrl-C stops both)
  test    install what is missing, then run every test: native, wasm-pack in
          headless Chromium, and end-to-end in headless Chromium
  dist    build the browser artifacts into target/dist (sdk/, agent/, npm/)
  setup   only install what is missing
  fuzz    run the libFuzzer targets in fuzz/ (options: --seconds N per target,
          default 300; target names to run only those)
  load    simulate visitors and agents against 1..N relays sharing a Redis and
          print sessions held, messages/s, latency, relay CPU and memory
          (options: --relays 1,2,3 --sessions N --seconds N)
  fidelity  compare each page of the folders given (default: rrweb's fixtures in
          ../shared/corpus) directly and through the console, in pixels and DOM;
          prints a table (options: --threshold PCT, --only NAME[,NAME])
  bench   measure ours against rrweb in headless Chromium; writes bench/RESULTS.md
          (options: --runs N, --only sizes,snapshot,storms,ttfv)
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root()?;
    // Where the command ran, for paths given on its command line.
    let cwd = std::env::current_dir()?;
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("setup") => setup::all(&root, setup::Need::Everything),
        Some("dist") => {
            setup::all(&root, setup::Need::Build)?;
            dist::build(&root)
        }
        Some("demo") => demo(&root, &args[1..]),
        Some("test") => test(&root),
        Some("bench") => bench::run(&root, &args[1..]),
        Some("fuzz") => fuzz::run(&root, &args[1..]),
        Some("load") => load::run(&root, &args[1..]),
        Some("fidelity") => fidelity::run(&root, &cwd, &args[1..]),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown verb {other:?}\n\n{USAGE}"),
    }
}

fn workspace_root() -> Result<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .context("xtask must live one level below the workspace root")
}

fn demo(root: &Path, args: &[String]) -> Result<()> {
    let token = "dev-token";
    let mut relay_port = 8080;
    let mut site_port = 8081;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut port = || -> Result<u16> {
            it.next()
                .context("a port number must follow")?
                .parse()
                .context("not a port number")
        };
        match arg.as_str() {
            "--relay-port" => relay_port = port()?,
            "--site-port" => site_port = port()?,
            other => bail!("unknown demo option {other:?} (known: --relay-port N, --site-port N)"),
        }
    }

    setup::all(root, setup::Need::Build)?;
    dist::build(root)?;
    util::cargo(&["build", "-p", "relay", "-p", "demo-site"])?;

    let bins = e2e::services::Binaries::in_target(&root.join("target/debug"))?;
    let mut relay = bins.start_relay(&e2e::services::RelayOptions {
        port: util::free_or_any(relay_port),
        static_dir: root.join("target/dist"),
        dev_agent_token: Some(token.to_owned()),
        ..Default::default()
    })?;
    let mut site = bins.start_site(
        util::free_or_any(site_port),
        &root.join("www/site"),
        relay.url(),
    )?;

    println!();
    println!("  Co-browsing demo is running.");
    println!();
    println!("  1. Visitor — open the demo site:   {}/", site.url());
    println!("     press \"Get live help\" and note the 6-digit code.");
    println!(
        "  2. Agent — open the console:        {}/agent/#token={token}",
        relay.url()
    );
    println!(
        "     enter the code (or open {}/agent/#token={token}&code=CODE).",
        relay.url()
    );
    println!("  3. Back on the visitor tab, accept. The agent now sees the page live.");
    println!();
    println!(
        "  Behind a login: {}/login.html signs in (any password) to pages whose images,",
        site.url()
    );
    println!("  stylesheets and fonts answer 401 without the cookie; the agent still sees them.");
    println!();
    println!("  The agent token \"{token}\" is a development token. Ctrl-C stops everything.");
    println!();
    e2e::services::Service::wait_until_one_exits(&mut [&mut relay, &mut site])
}

fn test(root: &Path) -> Result<()> {
    setup::all(root, setup::Need::Everything)?;

    util::step("native tests (cargo test --workspace)");
    util::cargo(&["test", "--workspace", "--exclude", "e2e"])?;
    // The benchmark is built only by `cargo xtask bench`: without this a
    // protocol change could leave it broken unnoticed (it once did).
    util::step("the benchmark's own tests, and its bare forwarder builds");
    util::cargo(&["test", "-p", "e2e", "--features", "bench", "--bin", "bench"])?;
    util::cargo(&[&["check"][..], bench::FORWARDER].concat())?;

    for krate in ["visitor-wasm", "agent-viewer"] {
        util::step(&format!(
            "browser tests: wasm-pack test --headless --chrome {krate}"
        ));
        util::wasm_pack_test(root, krate)?;
    }

    // A bounded run: long enough to catch a decoder that panics on
    // shallow input, short enough for CI; `cargo xtask fuzz` runs longer.
    fuzz::briefly(root, 20)?;

    util::step("build the browser artifacts (cargo xtask dist)");
    dist::build(root)?;
    util::cargo(&["build", "-p", "relay", "-p", "demo-site"])?;

    util::step("end-to-end tests in headless Chromium");
    util::cargo(&["test", "-p", "e2e", "--", "--test-threads=1"])?;
    println!("\nxtask test: every suite passed");
    Ok(())
}
