//! `cargo xtask bench`: our recorder against rrweb in the same headless
//! Chromium, in the same run, printed as a table with a mark per target and
//! written to `bench/RESULTS.md` (by a run of every section) with the machine and the date.
//!
//! Owns: the order of the sections, the options, the machine description and
//! the results file. Does not own: the product (measured from outside only),
//! nor building it (xtask builds `target/dist` and the service binaries
//! first).
//!
//! Options: `--runs N` (default 3), `--only sizes,snapshot,storms,ttfv,latency,canvas,relay`.

#[cfg(test)]
mod bare;
mod canvas;
mod forwarding;
mod latency;
mod pages;
mod report;
mod sizes;
mod snapshot;
mod storms;
mod ttfv;
mod world;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{bail, Context, Result};
use e2e::services::Binaries;

const SECTIONS: [&str; 7] = [
    "sizes", "snapshot", "storms", "ttfv", "latency", "canvas", "relay",
];
const SNAPSHOT_PAGES: [(&str, usize); 3] = [("n10k", 10_000), ("n50k", 50_000), ("n100k", 100_000)];
const STORM_PAGE: &str = "n50k";
const LATENCY_PAGE: &str = "n10k";
const TTFV_MB: [f64; 3] = [0.5, 2.0, 8.0];

struct Options {
    runs: usize,
    only: Vec<String>,
}

fn options() -> Result<Options> {
    let mut opts = Options {
        runs: 3,
        only: SECTIONS.iter().map(|s| s.to_string()).collect(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => {
                opts.runs = args
                    .next()
                    .context("--runs needs a number")?
                    .parse()
                    .context("--runs needs a number")?;
                if opts.runs == 0 {
                    bail!("--runs must be at least 1");
                }
            }
            "--only" => {
                let list = args.next().context("--only needs a list")?;
                opts.only = list.split(',').map(str::to_owned).collect();
                for s in &opts.only {
                    if !SECTIONS.contains(&s.as_str()) {
                        bail!("unknown section {s:?} (known: {})", SECTIONS.join(","));
                    }
                }
            }
            other => bail!(
                "unknown option {other:?} (known: --runs N, --only {})",
                SECTIONS.join(",")
            ),
        }
    }
    Ok(opts)
}

fn root() -> Result<PathBuf> {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .context("tests/ has a parent")
}

/// The relay and demo-site binaries the browser sections start: the
/// release build (what a deployment runs), or those in
/// `$COBROWSE_BENCH_BINARIES` when set.
fn binaries() -> Result<Binaries> {
    match std::env::var_os("COBROWSE_BENCH_BINARIES") {
        Some(dir) => Binaries::in_target(Path::new(&dir)),
        None => release_binaries(),
    }
}

/// The release build of the relay and demo-site: `target/release` next to
/// this binary's `target/debug`, or `$COBROWSE_BENCH_RELEASE` when set.
fn release_binaries() -> Result<Binaries> {
    Binaries::in_target(&release_dir()?)
}

fn release_dir() -> Result<PathBuf> {
    match std::env::var_os("COBROWSE_BENCH_RELEASE") {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => {
            let exe = std::env::current_exe()?;
            let target = exe
                .parent()
                .and_then(Path::parent)
                .context("the bench binary has no target folder")?;
            Ok(target.join("release"))
        }
    }
}

fn machine(chromium: &str) -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or("unknown".into(), |kb| {
            format!("{:.1} GiB", kb / 1024.0 / 1024.0)
        });
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores ({cpu}), {memory} memory, {chromium}")
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> Result<()> {
    let opts = options()?;
    // The services' per-connection logs would drown the progress lines.
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "warn");
    }
    let started = Instant::now();
    let root = root()?;
    let dist = root.join("target/dist");
    if !dist.join("sdk/cobrowse.js").is_file() || !dist.join("agent/index.html").is_file() {
        bail!("target/dist is incomplete: run `cargo xtask dist` (cargo xtask bench does)");
    }
    let cache = root.join("target/bench-cache");
    let rrweb = sizes::install_rrweb(&cache)?;
    let want = |s: &str| opts.only.iter().any(|o| o == s);

    let mut sections = Vec::new();
    if want("sizes") {
        sections.push(sizes::section(&dist, &rrweb)?);
    }

    let browser_sections = ["snapshot", "storms", "ttfv", "latency", "canvas"]
        .iter()
        .any(|s| want(s));
    let chromium = command_output(e2e::browser::CHROMIUM, &["--version"]);
    if browser_sections {
        // Pages by serialized size: scale from the generator's bytes per node.
        let (sample, sample_nodes) = pages::body(10_000);
        let per_node = sample.len() as f64 / sample_nodes as f64;
        let mut all: Vec<(String, usize)> = SNAPSHOT_PAGES
            .iter()
            .map(|(n, c)| (n.to_string(), *c))
            .collect();
        let ttfv_pages: Vec<(String, f64)> =
            TTFV_MB.iter().map(|mb| (format!("mb{mb}"), *mb)).collect();
        for (name, mb) in &ttfv_pages {
            all.push((name.clone(), (mb * 1_000_000.0 / per_node) as usize));
        }
        let pages_dir = cache.join("pages");
        pages::write_all(&pages_dir, &all, &rrweb.full)?;
        canvas::write_pages(&pages_dir)?;

        let world = world::World::start(&binaries()?, &dist, &pages_dir).await?;
        let result = async {
            let snapshot_pages: Vec<(String, usize)> = all[..SNAPSHOT_PAGES.len()].to_vec();
            if want("snapshot") {
                sections.push(snapshot::section(&world, &snapshot_pages, opts.runs).await?);
            }
            if want("storms") {
                sections.push(storms::section(&world, STORM_PAGE, opts.runs).await?);
            }
            if want("ttfv") {
                sections.push(ttfv::section(&world, &ttfv_pages, opts.runs).await?);
            }
            if want("latency") {
                sections.push(latency::section(&world, LATENCY_PAGE, opts.runs).await?);
            }
            if want("canvas") {
                sections.push(canvas::section(&world, opts.runs).await?);
            }
            anyhow::Ok(())
        }
        .await;
        world.stop().await;
        result?;
    }

    if want("relay") {
        // The release relay, on its own: no browser competes with it here.
        let bins = release_binaries()?;
        // The per-visitor flood limit (300 messages a second by default, a
        // guard against a runaway page) would cap what this section
        // measures: the forwarding itself. Raised for this relay only.
        let config = cache.join("relay-forwarding.toml");
        std::fs::write(&config, "visitor_messages_per_second = 1000000\n")
            .with_context(|| format!("writing {}", config.display()))?;
        let relay = bins.start_relay(&e2e::services::RelayOptions {
            static_dir: dist.clone(),
            dev_agent_token: Some(e2e::scenario::TOKEN.into()),
            extra_args: vec!["--config".into(), config.display().to_string()],
            ..Default::default()
        })?;
        let base = relay.url().replace("http://", "ws://");
        let forwarder = release_dir()?.join("bench-forwarder");
        if !forwarder.is_file() {
            bail!("{} is missing: build it with `cargo build --release -p e2e --no-default-features --features forwarder --bin bench-forwarder` (cargo xtask bench does)", forwarder.display());
        }
        sections
            .push(forwarding::section(&base, e2e::scenario::TOKEN, &forwarder, opts.runs).await?);
    }

    let table = report::terminal(&sections);
    println!("{table}");
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let commit = command_output("git", &["rev-parse", "--short", "HEAD"]);
    let verdicts: Vec<bool> = sections
        .iter()
        .flat_map(|s| &s.rows)
        .filter_map(report::Row::pass)
        .collect();
    let passed = verdicts.iter().filter(|p| **p).count();
    let md = format!(
        "# Benchmark results\n\n\
         `cargo xtask bench` ({} runs per figure; median [min–max]; ratios are ours ÷ rrweb taken run by run).\n\n\
         - date: {date}\n- commit: {commit} (plus any uncommitted changes)\n- machine: {}\n- rrweb: 2.2.2 (`record()` from `rrweb.umd.min.cjs`), @rrweb/record 2.1.6 for the bundle size\n- targets met: {passed} of {}\n- wall time of this run: {:.0} s\n{}\n{}",
        opts.runs,
        machine(&chromium),
        verdicts.len(),
        started.elapsed().as_secs_f64(),
        report::markdown(&sections),
        ANALYSIS,
    );
    // Only a run of every section replaces the committed results; a
    // partial run (`--only`) is kept beside the cache for a look.
    let complete = SECTIONS.iter().all(|s| want(s));
    let out = if complete {
        root.join("bench/RESULTS.md")
    } else {
        cache.join("RESULTS-partial.md")
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, md).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "targets met: {passed} of {}; written to {} ({:.0} s)",
        verdicts.len(),
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Kept in the results file under the tables: read `bench/ANALYSIS.md`.
const ANALYSIS: &str = include_str!("../../../../bench/ANALYSIS.md");
